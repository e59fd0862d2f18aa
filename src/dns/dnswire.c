/*
 * dnswire.c - DNS messages to and from bytes, through ldns.  Used by the
 * network resolver and by hosts that carry DNS bytes themselves (HAProxy
 * has TCP sockets but no resolver of its own).
 *
 * A reply of the common shapes (one question; A, AAAA, NS, CNAME, PTR,
 * MX, TXT and SOA records, an empty OPT) is read straight from the bytes
 * (wire_fast); anything else, and anything it finds the least defect in,
 * goes through ldns_wire2pkt as before.  Both give the very same answer
 * (fuzz/fuzz_wire_fast.c compares them): the direct read exists because
 * ldns builds and frees a packet, an RR list and an rdf per field, about
 * 10 000 instructions a reply, most of a cold query's user CPU.
 *
 * It also makes the driver object both drivers share (resolver_alloc).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dns/dnswire.h"

#define EDNS_SIZE 4096
#define TTL_MAX 86400		/* keep nothing longer than a day */

/* Here, not in resolver.c: the binding calls it whichever network
 * driver is linked (bench/run.sh links an older one, which waits for all). */
int resolver_query_need(mauth_resolver *r, const mauth_question *qv, size_t n,
			size_t need, const mauth_answer **out, long long deadline_ms)
{
	int rc;

	r->need = need;
	rc = mauth_resolver_query_until(r, qv, n, out, deadline_ms);
	r->need = 0;
	return rc;
}

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

/* A name in wire form (uncompressed, size octets) as text. */
static size_t wire_name_text(const uint8_t *d, size_t size, char *buf,
			     size_t buflen)
{
	size_t pos = 0, n = 0;

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

size_t dname_to_text(const ldns_rdf *dname, char *buf, size_t buflen)
{
	return wire_name_text(ldns_rdf_data(dname), ldns_rdf_size(dname), buf,
			      buflen);
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

/* The end of the name at pos (its pointer ends it), or 0 past the end. */
static size_t skip_wire_name(const unsigned char *m, size_t len, size_t pos)
{
	while (pos < len) {
		unsigned b = m[pos];

		if (b == 0)
			return pos + 1;
		if ((b & 0xC0) == 0xC0)
			return pos + 2 <= len ? pos + 2 : 0;
		if ((b & 0xC0) != 0)
			return 0;	/* an obsolete label type: ldns refuses it */
		pos += 1 + b;
	}
	return 0;
}

/*
 * What ldns_wire2pkt (1.8) would read wrongly in a message, or NULL.
 *
 * ldns stops reading an RDATA once its type's fields are read, and reads
 * a name in it past RDLENGTH: octets left after an MX's name become the
 * next records.  Such a record is malformed (RFC 1035 §4.1.3: RDLENGTH
 * is the length of RDATA), and the records ldns would find in it are
 * ones no other resolver sees, so a message with one is refused.
 *
 * TSIG records (RFC 8945): ldns keeps one and drops the rest unfreed, so
 * a reply with two leaks; we sign no query, so no reply to ours carries
 * one.  fuzz_parse_wire found both, two TSIG records hidden after an MX.
 *
 * The walk is ldns's own, record by record, with each record's end
 * checked against its RDLENGTH; it stops quietly at any defect ldns
 * itself reports.  Only replies the fast reader below declines get here,
 * so the second pass is rare.
 */
static const char *ldns_misreads(const unsigned char *m, size_t len)
{
	size_t pos = 12;
	unsigned i, qd = (unsigned)m[4] << 8 | m[5];
	unsigned rrs = ((unsigned)m[6] << 8 | m[7]) + ((unsigned)m[8] << 8 | m[9]) +
		       ((unsigned)m[10] << 8 | m[11]);

	for (i = 0; i < qd + rrs; i++) {
		ldns_pkt_section section = i < qd ? LDNS_SECTION_QUESTION :
						    LDNS_SECTION_ANSWER;
		size_t name_end = skip_wire_name(m, len, pos);
		ldns_rr *rr = NULL;
		int tsig;

		if (ldns_wire2rr(&rr, m, len, &pos, section) != LDNS_STATUS_OK)
			return NULL;
		tsig = ldns_rr_get_type(rr) == LDNS_RR_TYPE_TSIG;
		ldns_rr_free(rr);
		if (tsig)
			return "a TSIG record (we sign no query)";
		/* ldns read the fixed fields, so they are in the message. */
		if (i >= qd && (name_end == 0 || pos != name_end + 10 +
				((size_t)m[name_end + 8] << 8 | m[name_end + 9])))
			return "a record's data does not fill its RDLENGTH";
	}
	return NULL;
}

int wire_parse_ldns(const unsigned char *buf, size_t len, mauth_answer **out,
		    unsigned *id, int *tc, int *type, char *err, size_t errlen)
{
	ldns_pkt *pkt = NULL;
	ldns_status st;
	const char *misread;
	char qname[1100];
	int qtype;

	*out = NULL;
	if (buf == NULL || len < 12) {
		snprintf(err, errlen, "DNS message too short");
		return MAUTH_EINVAL;
	}
	if ((misread = ldns_misreads(buf, len)) != NULL) {
		snprintf(err, errlen, "malformed DNS message: %s", misread);
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

/* ---- the common replies read without ldns ---- */

#define FAST_RRS 64		/* more records than this: ldns reads it */
#define WIRE_NAME 255		/* RFC 1035 §3.1: octets of a name */

typedef struct {
	size_t owner;		/* where its name starts in the message */
	size_t rd, rdlen;	/* its rdata */
	unsigned type, class_;
	unsigned long ttl;
	int section;		/* 1 answer, 2 authority, 3 additional */
} fast_rr;

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static unsigned long get32(const uint8_t *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
	       (unsigned long)p[2] << 8 | p[3];
}

/*
 * The name at *pos, uncompressed into out (WIRE_NAME octets at most, the
 * root label included); *pos moves past it as it stands.  Compression
 * pointers must point backward, past the header (so every chain ends);
 * label types other than 0 and pointers are defects.  Returns its
 * length, 0 for a defect.
 */
static size_t fast_name(const uint8_t *m, size_t len, size_t *pos,
			uint8_t *out)
{
	size_t p = *pos, n = 0, end = 0;

	for (;;) {
		unsigned c;

		if (p >= len)
			return 0;
		c = m[p];
		if (c == 0)
			break;
		if ((c & 0xC0) == 0xC0) {
			size_t to;

			if (p + 1 >= len)
				return 0;
			to = (size_t)(c & 0x3F) << 8 | m[p + 1];
			if (end == 0)
				end = p + 2;
			if (to >= p || to < 12)
				return 0;
			p = to;
			continue;
		}
		if ((c & 0xC0) != 0 || p + 1 + c > len || n + 1 + c + 1 > WIRE_NAME)
			return 0;
		memcpy(out + n, m + p, 1 + c);
		n += 1 + c;
		p += 1 + c;
	}
	out[n++] = 0;
	*pos = end != 0 ? end : p + 1;
	return n;
}

/* Two names in wire form equal but for ASCII case (RFC 4343)? */
static int fast_name_eq(const uint8_t *a, size_t alen, const uint8_t *b,
			size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		unsigned x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return 0;
	}
	return 1;
}

/* A name that fills rdata from at to end exactly?  1 or 0. */
static int fast_rd_name(const uint8_t *m, size_t len, size_t *at, size_t end)
{
	uint8_t tmp[WIRE_NAME + 1];

	return fast_name(m, len, at, tmp) > 0 && *at <= end;
}

/*
 * Is rr's rdata exactly what its type holds (ldns would read it the same
 * way)?  Only the types this reader knows; OPT only empty, in the
 * additional section, owned by the root.
 */
static int fast_rdata_ok(const uint8_t *m, size_t len, const fast_rr *rr)
{
	size_t at = rr->rd, end = rr->rd + rr->rdlen;

	switch (rr->type) {
	case MAUTH_T_A:
		return rr->rdlen == 4;
	case MAUTH_T_AAAA:
		return rr->rdlen == 16;
	case MAUTH_T_NS:
	case MAUTH_T_CNAME:
	case MAUTH_T_PTR:
		return fast_rd_name(m, len, &at, end) && at == end;
	case MAUTH_T_MX:
		at += 2;
		return rr->rdlen > 2 && fast_rd_name(m, len, &at, end) && at == end;
	case MAUTH_T_SOA:	/* MNAME, RNAME, five 32-bit fields */
		if (!fast_rd_name(m, len, &at, end))
			return 0;
		return fast_rd_name(m, len, &at, end) && at + 20 == end;
	case MAUTH_T_TXT:
		if (rr->rdlen == 0)
			return 0;
		while (at < end)
			at += 1 + (size_t)m[at];
		return at == end;
	case 41:	/* OPT */
		return rr->section == 3 && rr->rdlen == 0 && m[rr->owner] == 0;
	default:
		return 0;
	}
}

/*
 * Every record of the message after the question at *pos, into rv; the
 * message must end with the last one.  Returns their count, -1 when this
 * reader leaves the message to ldns.
 */
static int fast_records(const uint8_t *m, size_t len, size_t pos,
			fast_rr *rv)
{
	unsigned counts[3] = { get16(m + 6), get16(m + 8), get16(m + 10) };
	uint8_t tmp[WIRE_NAME + 1];
	size_t k = 0;
	int sec, opts = 0;

	if ((unsigned long)counts[0] + counts[1] + counts[2] > FAST_RRS)
		return -1;
	for (sec = 0; sec < 3; sec++) {
		unsigned i;

		for (i = 0; i < counts[sec]; i++) {
			fast_rr *rr = &rv[k++];

			rr->owner = pos;
			if (fast_name(m, len, &pos, tmp) == 0 || pos + 10 > len)
				return -1;
			rr->type = get16(m + pos);
			rr->class_ = get16(m + pos + 2);
			rr->ttl = get32(m + pos + 4);
			rr->rdlen = get16(m + pos + 8);
			rr->rd = pos + 10;
			rr->section = sec + 1;
			pos = rr->rd + rr->rdlen;
			if (pos > len || !fast_rdata_ok(m, len, rr) ||
			    (rr->type == 41 && opts++ > 0))
				return -1;
		}
	}
	return pos == len ? (int)k : -1;
}

/* An IPv4 address as inet_ntop writes it (which goes through sprintf). */
static size_t ipv4_text(const uint8_t *a, char *out)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (i > 0)
			out[n++] = '.';
		if (v >= 100)
			out[n++] = (char)('0' + v / 100);
		if (v >= 10)
			out[n++] = (char)('0' + v / 10 % 10);
		out[n++] = (char)('0' + v % 10);
	}
	out[n] = '\0';
	return n;
}

/* rr's rdata as text, as rr_to_text writes it; returns the length. */
static size_t fast_rr_text(const uint8_t *m, size_t len, const fast_rr *rr,
			   char *out, size_t outlen, unsigned *pref)
{
	uint8_t name[WIRE_NAME + 1];
	size_t at = rr->rd, n = 0, end = rr->rd + rr->rdlen, nl;

	*pref = 0;
	switch (rr->type) {
	case MAUTH_T_A:
		return ipv4_text(m + rr->rd, out);
	case MAUTH_T_AAAA:
		if (inet_ntop(AF_INET6, m + rr->rd, out, (socklen_t)outlen) == NULL)
			out[0] = '\0';
		return strlen(out);
	case MAUTH_T_TXT:
		while (at < end) {
			size_t sl = m[at];

			memcpy(out + n, m + at + 1, sl);
			n += sl;
			at += 1 + sl;
		}
		out[n] = '\0';
		return n;
	case MAUTH_T_MX:
		*pref = get16(m + at);
		at += 2;
		break;
	default:
		break;
	}
	nl = fast_name(m, len, &at, name);
	return wire_name_text(name, nl, out, outlen);
}

/* The SOA of the authority section: RFC 2308 §5, as negative_ttl. */
static unsigned fast_negative_ttl(const uint8_t *m, size_t len,
				  const fast_rr *rv, size_t nrr)
{
	size_t i;

	for (i = 0; i < nrr; i++) {
		size_t at = rv[i].rd;
		unsigned long min, ttl = rv[i].ttl;

		if (rv[i].section != 2 || rv[i].type != MAUTH_T_SOA)
			continue;
		(void)fast_rd_name(m, len, &at, rv[i].rd + rv[i].rdlen);
		(void)fast_rd_name(m, len, &at, rv[i].rd + rv[i].rdlen);
		min = get32(m + at + 16);
		if (ttl > min)
			ttl = min;
		return ttl < TTL_MAX ? (unsigned)ttl : TTL_MAX;
	}
	return 0;
}

/* The first IN CNAME of the answer section owned by name (-1: none). */
static int fast_cname_of(const uint8_t *m, size_t len, const fast_rr *rv,
			 size_t nrr, const uint8_t *name, size_t nlen)
{
	uint8_t owner[WIRE_NAME + 1];
	size_t i;

	for (i = 0; i < nrr; i++) {
		size_t at = rv[i].owner, ol;

		if (rv[i].section != 1 || rv[i].type != MAUTH_T_CNAME ||
		    rv[i].class_ != 1)
			continue;
		ol = fast_name(m, len, &at, owner);
		if (fast_name_eq(owner, ol, name, nlen))
			return (int)i;
	}
	return -1;
}

/* What the reply's records give: answer_from_pkt over the bytes. */
static mauth_answer *fast_answer(const uint8_t *m, size_t len,
				 const uint8_t *qname, size_t qlen, int qtype,
				 const fast_rr *rv, size_t nrr)
{
	uint8_t chain[CNAME_CHAIN_MAX][WIRE_NAME + 1], owner[WIRE_NAME + 1];
	uint8_t target[WIRE_NAME + 1];
	size_t chain_len[CNAME_CHAIN_MAX], i, n = 0, olen = qlen;
	const uint8_t *at = qname;
	char names[CNAME_CHAIN_MAX][NAME_TEXT_MAX], few[4096], *text = few;
	const char *cv[CNAME_CHAIN_MAX];
	mauth_rr rrs[FAST_RRS];
	mauth_answer *out;
	unsigned ttl = TTL_MAX, chain_ttl = TTL_MAX;
	int rcode = m[3] & 0x0F, nc = 0, broken = 0, k, c;
	size_t need = 0, used = 0;

	/* The chain, as follow_chain: a loop or too long a chain is broken. */
	while (qtype != MAUTH_T_CNAME &&
	       (c = fast_cname_of(m, len, rv, nrr, at, olen)) >= 0) {
		size_t p = rv[c].rd, tl = fast_name(m, len, &p, target);

		broken = nc == CNAME_CHAIN_MAX || fast_name_eq(target, tl, qname, qlen);
		for (k = 0; k < nc && !broken; k++)
			broken = fast_name_eq(target, tl, chain[k], chain_len[k]);
		if (broken)
			break;
		if (rv[c].ttl < chain_ttl)
			chain_ttl = (unsigned)rv[c].ttl;
		memcpy(chain[nc], target, tl);
		chain_len[nc] = tl;
		at = chain[nc++];
		olen = tl;
	}
	if (broken)
		rcode = MAUTH_RC_SERVFAIL;
	for (i = 0; i < nrr; i++)
		need += rv[i].rdlen + NAME_TEXT_MAX + 64;
	if (need > sizeof few && (text = malloc(need)) == NULL)
		return NULL;
	for (i = 0; !broken && i < nrr; i++) {
		size_t p = rv[i].owner, ol;

		if (rv[i].section != 1 || (int)rv[i].type != qtype ||
		    rv[i].class_ != 1)
			continue;
		ol = fast_name(m, len, &p, owner);
		if (!fast_name_eq(owner, ol, at, olen))
			continue;
		rrs[n].data = text + used;
		rrs[n].len = fast_rr_text(m, len, &rv[i], text + used,
					  rv[i].rdlen + NAME_TEXT_MAX + 64,
					  &rrs[n].pref);
		used += rrs[n].len + 1;
		if (rv[i].ttl < ttl)
			ttl = (unsigned)rv[i].ttl;
		n++;
	}
	if (n == 0)
		ttl = rcode == MAUTH_RC_NOERROR || rcode == MAUTH_RC_NXDOMAIN ?
		      fast_negative_ttl(m, len, rv, nrr) : 0;
	if (chain_ttl < ttl)
		ttl = chain_ttl;
	for (k = 0; k < nc; k++) {
		wire_name_text(chain[k], chain_len[k], names[k], sizeof names[k]);
		cv[k] = names[k];
	}
	out = answer_build_chain(rcode, ttl, (m[3] & 0x20) ? 1 : 0, rrs, n, cv,
				 (size_t)nc);
	if (text != few)
		free(text);
	return out;
}

/*
 * The reply read straight from the bytes: 1 with *out set, 0 when ldns
 * must read it (a shape or a defect this reader leaves alone), or
 * MAUTH_ENOMEM.
 */
static int wire_fast(const uint8_t *m, size_t len, mauth_answer **out,
		     unsigned *id, int *tc, int *type)
{
	fast_rr rv[FAST_RRS];
	uint8_t qname[WIRE_NAME + 1];
	size_t pos = 12, qlen;
	int nrr, qtype;

	if ((m[2] & 0x80) == 0 || get16(m + 4) != 1 ||
	    (qlen = fast_name(m, len, &pos, qname)) == 0 || pos + 4 > len)
		return 0;
	qtype = (int)get16(m + pos);
	pos += 4;
	switch (qtype) {
	case MAUTH_T_A: case MAUTH_T_AAAA: case MAUTH_T_NS: case MAUTH_T_CNAME:
	case MAUTH_T_PTR: case MAUTH_T_MX: case MAUTH_T_TXT:
		break;
	default:
		return 0;	/* other types are written by ldns */
	}
	if ((nrr = fast_records(m, len, pos, rv)) < 0)
		return 0;
	*out = fast_answer(m, len, qname, qlen, qtype, rv, (size_t)nrr);
	if (*out == NULL)
		return MAUTH_ENOMEM;
	if (id != NULL)
		*id = get16(m);
	if (tc != NULL)
		*tc = (m[2] & 0x02) ? 1 : 0;
	if (type != NULL)
		*type = qtype;
	return 1;
}

int mauth_wire_parse_typed(const unsigned char *buf, size_t len,
			   mauth_answer **out, unsigned *id, int *tc,
			   int *type, char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	if (buf != NULL && len >= 12 &&
	    (rc = wire_fast(buf, len, out, id, tc, type)) != 0)
		return rc > 0 ? 0 : rc;
	return wire_parse_ldns(buf, len, out, id, tc, type, err, errlen);
}

/*
 * A name as text in wire form, without ldns: for every name that
 * name_is_valid accepts, the octets ldns_str2rdf_dname gives ("\." and
 * "\DDD" are one octet, "\X" is X, a final unescaped dot is optional).
 * out has room for 255 octets; returns the length, 0 for a name that
 * does not fit (an empty or too long label, over 255 octets).
 */
size_t wire_name_from_text(const char *name, uint8_t *out)
{
	const char *s = name;
	size_t i, len = name_strip_dot(s, strlen(s)), n = 1, lab = 0;

	for (i = 0; i < len; i++) {
		unsigned ch = (unsigned char)s[i];

		if (ch == '.') {
			if (n - lab - 1 == 0)
				return 0;
			out[lab] = (uint8_t)(n - lab - 1);
			lab = n++;
			if (n >= WIRE_NAME)
				return 0;
			continue;
		}
		if (ch == '\\' && i + 1 < len) {
			ch = (unsigned char)s[++i];
			if (ch >= '0' && ch <= '9' && i + 2 < len) {
				ch = (ch - '0') * 100 + (unsigned)(s[i + 1] - '0') * 10 +
				     (unsigned)(s[i + 2] - '0');
				i += 2;
			}
		}
		if (n - lab > LABEL_MAX || n + 1 >= WIRE_NAME)
			return 0;
		out[n++] = (uint8_t)ch;
	}
	if (n - lab - 1 == 0)
		return 0;
	out[lab] = (uint8_t)(n - lab - 1);
	out[n++] = 0;
	return n;
}
