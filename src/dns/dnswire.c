/*
 * dnswire.c - DNS messages to and from bytes, through ldns.  Used by the
 * network resolver and by hosts that carry DNS bytes themselves (HAProxy
 * has TCP sockets but no resolver of its own); and the making of a
 * driver object, which both drivers share.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dns/dnswire.h"

#define EDNS_SIZE 4096
#define TTL_MAX 86400		/* keep nothing longer than a day */

void *resolver_alloc(size_t size, mauth_resolver **out,
		     int (*query)(mauth_resolver *, const mauth_question *,
				  size_t, mauth_answer **),
		     void (*free_fn)(mauth_resolver *))
{
	mauth_resolver *r = calloc(1, size);

	*out = NULL;
	if (r != NULL) {
		r->query = query;
		r->free = free_fn;
	}
	return r;
}

size_t dname_to_text(const ldns_rdf *dname, char *buf, size_t buflen)
{
	const uint8_t *d = ldns_rdf_data(dname);
	size_t size = ldns_rdf_size(dname), pos = 0, n = 0;

	if (buflen == 0)
		return 0;
	while (pos < size && d[pos] != 0) {
		size_t len = d[pos++], i;

		if (len > 63 || pos + len > size)
			break;
		if (n > 0 && n + 1 < buflen)
			buf[n++] = '.';
		for (i = 0; i < len; i++) {
			unsigned ch = d[pos + i];

			if (n + 5 >= buflen)
				break;
			if (ch == '.' || ch == '\\') {
				buf[n++] = '\\';
				buf[n++] = (char)ch;
			} else if (ch < 33 || ch > 126) {
				n += (size_t)snprintf(buf + n, buflen - n,
						      "\\%03u", ch);
			} else {
				buf[n++] = (char)ch;
			}
		}
		pos += len;
	}
	buf[n] = '\0';
	return n;
}

static long text_dup(const char *s, size_t len, char **buf)
{
	*buf = malloc(len + 1);
	if (*buf == NULL)
		return -1;
	memcpy(*buf, s, len);
	(*buf)[len] = '\0';
	return (long)len;
}

long rr_to_text(const ldns_rr *rr, char **buf, unsigned *pref)
{
	char tmp[1100];
	size_t i, n;

	*pref = 0;
	*buf = NULL;
	switch ((int)ldns_rr_get_type(rr)) {
	case MAUTH_T_A:
	case MAUTH_T_AAAA: {
		const ldns_rdf *f = ldns_rr_rdf(rr, 0);
		size_t want = ldns_rr_get_type(rr) == LDNS_RR_TYPE_A ? 4 : 16;

		if (f == NULL || ldns_rdf_size(f) != want)
			return -1;
		if (inet_ntop(want == 4 ? AF_INET : AF_INET6, ldns_rdf_data(f),
			      tmp, sizeof tmp) == NULL)
			return -1;
		return text_dup(tmp, strlen(tmp), buf);
	}
	case MAUTH_T_TXT: {
		size_t total = 0;
		char *out;

		for (i = 0; i < ldns_rr_rd_count(rr); i++)
			total += ldns_rdf_size(ldns_rr_rdf(rr, i));
		out = malloc(total + 1);
		if (out == NULL)
			return -1;
		n = 0;
		/* Each character-string is a length byte and its octets. */
		for (i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			const uint8_t *d = ldns_rdf_data(f);
			size_t size = ldns_rdf_size(f);

			if (size == 0)
				continue;
			if (d[0] > size - 1) {
				free(out);
				return -1;
			}
			memcpy(out + n, d + 1, d[0]);
			n += d[0];
		}
		out[n] = '\0';
		*buf = out;
		return (long)n;
	}
	case MAUTH_T_PTR:
	case MAUTH_T_CNAME:
	case MAUTH_T_NS:
		if (ldns_rr_rdf(rr, 0) == NULL)
			return -1;
		n = dname_to_text(ldns_rr_rdf(rr, 0), tmp, sizeof tmp);
		return text_dup(tmp, n, buf);
	case MAUTH_T_MX:
		if (ldns_rr_rdf(rr, 0) == NULL || ldns_rr_rdf(rr, 1) == NULL)
			return -1;
		*pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		n = dname_to_text(ldns_rr_rdf(rr, 1), tmp, sizeof tmp);
		return text_dup(tmp, n, buf);
	default: {
		/* Anything else goes out in presentation format. */
		ldns_buffer *b = ldns_buffer_new(256);
		long len = -1;

		if (b == NULL)
			return -1;
		for (i = 0; i < ldns_rr_rd_count(rr); i++) {
			if (i > 0)
				ldns_buffer_printf(b, " ");
			ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
		}
		if (ldns_buffer_status_ok(b))
			len = text_dup((const char *)ldns_buffer_begin(b),
				       ldns_buffer_position(b), buf);
		ldns_buffer_free(b);
		return len;
	}
	}
}

int pkt_question(const ldns_pkt *pkt, char *name, size_t namelen, int *type)
{
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	const ldns_rr *rr;
	size_t i, n;

	if (q == NULL || ldns_rr_list_rr_count(q) != 1)
		return -1;
	rr = ldns_rr_list_rr(q, 0);
	n = dname_to_text(ldns_rr_owner(rr), name, namelen);
	for (i = 0; i < n; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] + 32);
	*type = (int)ldns_rr_get_type(rr);
	return 0;
}

static unsigned negative_ttl(const ldns_pkt *pkt)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);
	size_t i;

	/* RFC 2308 §5: the lesser of the SOA's TTL and its MINIMUM field. */
	for (i = 0; auth != NULL && i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
		    ldns_rr_rd_count(rr) >= 7) {
			uint32_t min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
			uint32_t ttl = ldns_rr_ttl(rr);

			if (ttl > min)
				ttl = min;
			return ttl < TTL_MAX ? ttl : TTL_MAX;
		}
	}
	return 0;
}

static int is_in(const ldns_rr *rr)
{
	return ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN;
}

/* The first IN CNAME of the answer section owned by name, or NULL. */
static const ldns_rr *cname_of(const ldns_rr_list *ans, size_t count,
			       const ldns_rdf *name)
{
	size_t i;

	for (i = 0; i < count; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && is_in(rr) &&
		    ldns_rr_rd_count(rr) >= 1 &&
		    ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) == LDNS_RDF_TYPE_DNAME &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			return rr;
	}
	return NULL;
}

/*
 * Follows the CNAME chain from the question's name through the answer
 * section (RFC 1034 §4.3.2 step 3a: a server that follows an alias puts
 * the CNAME before the data).  chain[] gets the targets, in order, and
 * their count is returned; *broken is set for a loop or a chain longer
 * than CNAME_CHAIN_MAX (chain[] then holds the links before the fault).
 * *ttl is lowered to the least TTL along the chain: the answer holds only
 * as long as every link does.
 */
static int follow_chain(const ldns_rr_list *ans, size_t count,
			const ldns_rdf *qname, const ldns_rdf **chain,
			unsigned *ttl, int *broken)
{
	const ldns_rdf *at = qname;
	const ldns_rr *rr;
	int n = 0, k;

	*broken = 0;
	while ((rr = cname_of(ans, count, at)) != NULL) {
		const ldns_rdf *target = ldns_rr_rdf(rr, 0);

		*broken = n == CNAME_CHAIN_MAX ||
			  ldns_dname_compare(target, qname) == 0;
		for (k = 0; k < n && !*broken; k++)
			*broken = ldns_dname_compare(target, chain[k]) == 0;
		if (*broken)
			break;
		if (ldns_rr_ttl(rr) < *ttl)
			*ttl = ldns_rr_ttl(rr);
		chain[n++] = target;
		at = target;
	}
	return n;
}

/*
 * RFC 2181 §5.4.1: only records owned by the asked name, or by the name
 * its CNAME chain ends at, answer the question; anything else in the
 * answer section (an attacker's TXT for another name, say) is ignored.
 */
mauth_answer *answer_from_pkt(const ldns_pkt *pkt, int qtype)
{
	const ldns_rr_list *ans = ldns_pkt_answer(pkt);
	const ldns_rr_list *ql = ldns_pkt_question(pkt);
	size_t i, n = 0, count = ans ? ldns_rr_list_rr_count(ans) : 0;
	mauth_rr *rrs = calloc(count ? count : 1, sizeof *rrs);
	const ldns_rdf *chain[CNAME_CHAIN_MAX], *owner;
	char names[CNAME_CHAIN_MAX][NAME_TEXT_MAX];
	const char *cv[CNAME_CHAIN_MAX];
	mauth_answer *out = NULL;
	unsigned ttl = TTL_MAX, chain_ttl = TTL_MAX;
	int rcode = (int)ldns_pkt_get_rcode(pkt), nc = 0, broken = 0, k;

	if (rrs == NULL)
		return NULL;
	owner = ql != NULL && ldns_rr_list_rr_count(ql) == 1 ?
		ldns_rr_owner(ldns_rr_list_rr(ql, 0)) : NULL;
	/* A question for the CNAME itself is answered by it, not through it. */
	if (owner != NULL && qtype != MAUTH_T_CNAME)
		nc = follow_chain(ans, count, owner, chain, &chain_ttl, &broken);
	if (nc > 0)
		owner = chain[nc - 1];
	/*
	 * RFC 1034 §3.6.2: a loop is an error, not an answer; as a resolver
	 * would, it is SERVFAIL (never kept), with the links it went through.
	 */
	if (broken) {
		rcode = MAUTH_RC_SERVFAIL;
		owner = NULL;
	}
	for (i = 0; owner != NULL && i < count; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		char *text;
		long len;

		if ((int)ldns_rr_get_type(rr) != qtype || !is_in(rr) ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		len = rr_to_text(rr, &text, &rrs[n].pref);
		if (len < 0) {
			free(text);	/* NULL: rr_to_text keeps nothing on failure */
			continue;	/* a record we cannot read is no record */
		}
		rrs[n].data = text;
		rrs[n].len = (size_t)len;
		if (ldns_rr_ttl(rr) < ttl)
			ttl = ldns_rr_ttl(rr);
		n++;
	}
	if (n == 0)
		ttl = rcode == MAUTH_RC_NOERROR || rcode == MAUTH_RC_NXDOMAIN ?
		      negative_ttl(pkt) : 0;
	if (chain_ttl < ttl)
		ttl = chain_ttl;
	for (k = 0; k < nc; k++) {
		dname_to_text(chain[k], names[k], sizeof names[k]);
		cv[k] = names[k];
	}
	out = answer_build_chain(rcode, ttl, ldns_pkt_ad(pkt) ? 1 : 0, rrs, n,
				 cv, (size_t)nc);
	for (i = 0; i < n; i++)
		free((char *)rrs[i].data);
	free(rrs);
	return out;
}

ldns_rdf *dname_from_text(const char *name)
{
	char buf[NAME_MAX_TEXT * 4 + 8];
	size_t len = strlen(name);
	ldns_rdf *d = NULL;

	if (!name_is_valid(name, len) || len + 2 > sizeof buf)
		return NULL;
	memcpy(buf, name, len);
	/* Without the final dot ldns would make a relative name. */
	if (name_strip_dot(buf, len) == len)
		buf[len++] = '.';
	buf[len] = '\0';
	if (ldns_str2rdf_dname(&d, buf) != LDNS_STATUS_OK)
		return NULL;
	return d;
}

int mauth_wire_query(const char *name, int type, unsigned id,
		     unsigned char *buf, size_t buflen)
{
	ldns_rdf *dname = NULL;
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL;
	size_t size = 0;
	int rc = MAUTH_EINVAL;

	if (name == NULL || type <= 0 || type > 65535 ||
	    (dname = dname_from_text(name)) == NULL)
		goto out;
	pkt = ldns_pkt_query_new(dname, (ldns_rr_type)type,
				 LDNS_RR_CLASS_IN, LDNS_RD);
	dname = NULL;	/* the packet owns it now */
	if (pkt == NULL) {
		rc = MAUTH_ENOMEM;
		goto out;
	}
	ldns_pkt_set_id(pkt, (uint16_t)id);
	ldns_pkt_set_edns_udp_size(pkt, EDNS_SIZE);
	if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK) {
		rc = MAUTH_ENOMEM;
		goto out;
	}
	if (size > buflen) {
		rc = MAUTH_EINVAL;
		goto out;
	}
	memcpy(buf, wire, size);
	rc = (int)size;
out:
	ldns_rdf_deep_free(dname);
	ldns_pkt_free(pkt);
	free(wire);
	return rc;
}

int mauth_wire_parse(const unsigned char *buf, size_t len, mauth_answer **out,
		     unsigned *id, int *tc, char *err, size_t errlen)
{
	return mauth_wire_parse_typed(buf, len, out, id, tc, NULL, err, errlen);
}

int mauth_wire_parse_typed(const unsigned char *buf, size_t len,
			   mauth_answer **out, unsigned *id, int *tc,
			   int *type, char *err, size_t errlen)
{
	ldns_pkt *pkt = NULL;
	ldns_status st;
	char qname[1100];
	int qtype;

	*out = NULL;
	if (buf == NULL || len < 12) {
		snprintf(err, errlen, "DNS message too short");
		return MAUTH_EINVAL;
	}
	st = ldns_wire2pkt(&pkt, buf, len);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "malformed DNS message: %s",
			 ldns_get_errorstr_by_id(st));
		return MAUTH_EINVAL;
	}
	if (!ldns_pkt_qr(pkt) || pkt_question(pkt, qname, sizeof qname, &qtype) != 0) {
		snprintf(err, errlen, "not a reply to one question");
		ldns_pkt_free(pkt);
		return MAUTH_EINVAL;
	}
	if (id != NULL)
		*id = ldns_pkt_id(pkt);
	if (tc != NULL)
		*tc = ldns_pkt_tc(pkt) ? 1 : 0;
	if (type != NULL)
		*type = qtype;
	*out = answer_from_pkt(pkt, qtype);
	ldns_pkt_free(pkt);
	return *out != NULL ? 0 : MAUTH_ENOMEM;
}
