/*
 * zone.c - an offline resolver answering from master-file text (RFC 1035
 * §5, parsed by ldns): for tests, demos and benchmarks.  It answers as an
 * authoritative server would: NXDOMAIN versus NODATA (empty non-terminals
 * included), CNAME chains, wildcards (RFC 4592), and REFUSED for names
 * outside every zone that has an SOA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dnswire.h"

#define CNAME_CHAIN_MAX 8
#define TYPE_NODE 0		/* marks a name that exists (empty non-terminal) */

typedef struct {
	char *owner;		/* lowercase, no final dot */
	int type;
	unsigned ttl;
	mauth_rr rr;
} entry;

typedef struct {
	char *name;
	unsigned negttl;
} apex;

typedef struct {
	mauth_resolver base;
	entry *e;
	size_t n, cap;
	apex *apexes;
	size_t napex;
} zone_resolver;

static int entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int c = strcmp(x->owner, y->owner);

	return c != 0 ? c : x->type - y->type;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static int add_entry(zone_resolver *z, const char *owner, int type,
		     unsigned ttl, const char *data, size_t len, unsigned pref)
{
	entry *e;

	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 64;
		entry *v = realloc(z->e, cap * sizeof *v);

		if (v == NULL)
			return -1;
		z->e = v;
		z->cap = cap;
	}
	e = &z->e[z->n];
	e->owner = strdup(owner);
	if (e->owner == NULL)
		return -1;
	lowercase(e->owner);
	e->type = type;
	e->ttl = ttl;
	e->rr.data = data;
	e->rr.len = len;
	e->rr.pref = pref;
	z->n++;
	return 0;
}

static int add_rr(zone_resolver *z, const ldns_rr *rr)
{
	char owner[1100], *text;
	unsigned pref;
	long len;
	const char *dot;

	dname_to_text(ldns_rr_owner(rr), owner, sizeof owner);
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
		apex *a = realloc(z->apexes, (z->napex + 1) * sizeof *a);
		uint32_t min = ldns_rr_rd_count(rr) >= 7 ?
			ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)) : 0;

		if (a == NULL)
			return -1;
		z->apexes = a;
		a[z->napex].name = strdup(owner);
		if (a[z->napex].name == NULL)
			return -1;
		lowercase(a[z->napex].name);
		a[z->napex].negttl = min < ldns_rr_ttl(rr) ? min : ldns_rr_ttl(rr);
		z->napex++;
	}
	len = rr_to_text(rr, &text, &pref);
	if (len < 0)
		return 0;	/* unreadable rdata: skip the record */
	if (add_entry(z, owner, (int)ldns_rr_get_type(rr), ldns_rr_ttl(rr),
		      text, (size_t)len, pref) != 0) {
		free(text);
		return -1;
	}
	/* Every ancestor exists too (RFC 4592 §2.2.2 empty non-terminals). */
	for (dot = strchr(owner, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
		if (add_entry(z, dot + 1, TYPE_NODE, 0, NULL, 0, 0) != 0)
			return -1;
	return 0;
}

/* First entry with this owner (and type >= type), or z->n. */
static size_t lower_bound(const zone_resolver *z, const char *owner, int type)
{
	size_t lo = 0, hi = z->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(z->e[mid].owner, owner);

		if (c < 0 || (c == 0 && z->e[mid].type < type))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int name_exists(const zone_resolver *z, const char *name)
{
	size_t i = lower_bound(z, name, TYPE_NODE);

	return i < z->n && strcmp(z->e[i].owner, name) == 0;
}

static const apex *find_apex(const zone_resolver *z, const char *name)
{
	const apex *best = NULL;
	size_t i, nl = strlen(name);

	for (i = 0; i < z->napex; i++) {
		const char *a = z->apexes[i].name;
		size_t al = strlen(a);

		if (al == 0 || (nl == al && strcmp(name, a) == 0) ||
		    (nl > al && name[nl - al - 1] == '.' &&
		     strcmp(name + nl - al, a) == 0))
			if (best == NULL || al > strlen(best->name))
				best = &z->apexes[i];
	}
	return best;
}

/* The owner whose records answer name: itself or a wildcard. */
static const char *answer_owner(const zone_resolver *z, const char *name,
				char *wild, size_t wildlen)
{
	const char *p;

	if (name_exists(z, name))
		return name;
	/* RFC 4592 §3.3.1: the wildcard below the closest encloser. */
	for (p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.')) {
		if (!name_exists(z, p + 1))
			continue;
		snprintf(wild, wildlen, "*.%s", p + 1);
		return name_exists(z, wild) ? wild : NULL;
	}
	snprintf(wild, wildlen, "*");
	return name_exists(z, wild) ? wild : NULL;
}

static mauth_answer *lookup(const zone_resolver *z, const char *qname, int type)
{
	char name[NAME_TEXT_MAX], wild[NAME_TEXT_MAX + 2];
	mauth_rr *rrs;
	mauth_answer *out;
	const apex *ap;
	size_t len, i, n = 0;
	unsigned ttl = 86400;
	int hops;

	len = strlen(qname);
	if (!name_is_valid(qname, len))
		return answer_build(MAUTH_RC_BADNAME, 0, 0, NULL, 0);
	len = name_strip_dot(qname, len);
	memcpy(name, qname, len);
	name[len] = '\0';
	lowercase(name);
	if (z->napex > 0 && find_apex(z, name) == NULL)
		return answer_build(MAUTH_RC_REFUSED, 0, 0, NULL, 0);
	ap = find_apex(z, name);
	for (hops = 0; hops <= CNAME_CHAIN_MAX; hops++) {
		const char *owner = answer_owner(z, name, wild, sizeof wild);
		size_t at;

		if (owner == NULL)
			return answer_build(MAUTH_RC_NXDOMAIN,
					    ap ? ap->negttl : 0, 0, NULL, 0);
		at = lower_bound(z, owner, type);
		while (at + n < z->n && z->e[at + n].type == type &&
		       strcmp(z->e[at + n].owner, owner) == 0)
			n++;
		if (n > 0) {
			rrs = malloc(n * sizeof *rrs);
			if (rrs == NULL)
				return NULL;
			for (i = 0; i < n; i++) {
				rrs[i] = z->e[at + i].rr;
				if (z->e[at + i].ttl < ttl)
					ttl = z->e[at + i].ttl;
			}
			out = answer_build(MAUTH_RC_NOERROR, ttl, 0, rrs, n);
			free(rrs);
			return out;
		}
		at = lower_bound(z, owner, MAUTH_T_CNAME);
		if (type == MAUTH_T_CNAME || at >= z->n ||
		    z->e[at].type != MAUTH_T_CNAME ||
		    strcmp(z->e[at].owner, owner) != 0)
			return answer_build(MAUTH_RC_NOERROR,
					    ap ? ap->negttl : 0, 0, NULL, 0);
		if (z->e[at].ttl < ttl)
			ttl = z->e[at].ttl;
		len = z->e[at].rr.len < sizeof name - 1 ? z->e[at].rr.len :
		      sizeof name - 1;
		memcpy(name, z->e[at].rr.data, len);
		name[len] = '\0';
		lowercase(name);
		ap = find_apex(z, name);
		if (z->napex > 0 && ap == NULL)
			return answer_build(MAUTH_RC_NOERROR, 0, 0, NULL, 0);
	}
	return answer_build(MAUTH_RC_SERVFAIL, 0, 0, NULL, 0);	/* a loop */
}

static int zone_query(mauth_resolver *r, const mauth_question *qv, size_t n,
		      mauth_answer **out)
{
	const zone_resolver *z = (const zone_resolver *)r;
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = lookup(z, qv[i].name, qv[i].type);
		if (out[i] == NULL)
			return MAUTH_ENOMEM;
		r->stats.queries++;
	}
	return 0;
}

static void zone_free(mauth_resolver *r)
{
	zone_resolver *z = (zone_resolver *)r;
	size_t i;

	for (i = 0; i < z->n; i++) {
		free(z->e[i].owner);
		free((char *)z->e[i].rr.data);
	}
	for (i = 0; i < z->napex; i++)
		free(z->apexes[i].name);
	free(z->apexes);
	free(z->e);
	free(z);
}

/*
 * Reads one master file record by record.  ldns_zone_new_frm_fp_l would do
 * the loop, but on a syntax error (and for a second SOA) it frees only the
 * list shell, leaking every record read so far (ldns 1.8.3): so the loop is
 * here, each record is copied into z and freed at once.  A record without
 * a TTL takes $TTL (RFC 2308 §4), or without one the previous record's
 * (RFC 1035 §5.1), as Knot does; ldns' loop always took the previous one.
 */
static int load_text(zone_resolver *z, const char *text, size_t len,
		     char *err, size_t errlen)
{
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 300;
	int line = 0, rc = 0, have_ttl = 0;
	FILE *f;

	if (len == 0)
		return 0;
	f = fmemopen((void *)text, len, "r");
	if (f == NULL)
		return MAUTH_ENOMEM;
	origin = ldns_dname_new_frm_str(".");
	prev = ldns_dname_new_frm_str(".");
	if (origin == NULL || prev == NULL)
		rc = MAUTH_ENOMEM;
	while (rc == 0 && !feof(f)) {
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin,
						      &prev, &line);

		switch (st) {
		case LDNS_STATUS_OK:
			if (add_rr(z, rr) != 0)
				rc = MAUTH_ENOMEM;
			if (!have_ttl)
				ttl = ldns_rr_ttl(rr);
			ldns_rr_free(rr);
			break;
		case LDNS_STATUS_SYNTAX_TTL:
			have_ttl = 1;	/* ldns has set ttl */
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			break;		/* a blank line or a directive */
		case LDNS_STATUS_SYNTAX_INCLUDE:
			st = LDNS_STATUS_SYNTAX_INCLUDE_ERR_NOTIMPL;
			/* fall through */
		default:
			ldns_rr_free(rr);
			snprintf(err, errlen, "zone line %d: %s", line,
				 ldns_get_errorstr_by_id(st));
			rc = MAUTH_EINVAL;
			break;
		}
	}
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
}

int mauth_resolver_new_zone(mauth_resolver **out, const char *const *texts,
			    const size_t *lens, size_t n,
			    char *err, size_t errlen)
{
	zone_resolver *z = calloc(1, sizeof *z);
	size_t i;
	int rc;

	*out = NULL;
	if (z == NULL)
		return MAUTH_ENOMEM;
	z->base.query = zone_query;
	z->base.free = zone_free;
	for (i = 0; i < n; i++) {
		rc = load_text(z, texts[i], lens[i], err, errlen);
		if (rc != 0) {
			zone_free(&z->base);
			return rc;
		}
	}
	if (z->n > 0)
		qsort(z->e, z->n, sizeof *z->e, entry_cmp);
	*out = &z->base;
	return 0;
}
