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
#include "dns/dnswire.h"

#define TYPE_NODE 0		/* marks a name that exists (empty non-terminal) */

typedef struct {
	char *owner;		/* lowercase, no final dot */
	int type;
	unsigned ttl;
	mauth_rr rr;
	mauth_answer *ans;	/* first of an rrset: its answer, built once */
} entry;

typedef struct {
	char *name;
	size_t len;
	unsigned negttl;
	mauth_answer *nodata, *nxdomain;	/* built once, negttl */
} apex;

/* The entries of one owner name: e[first..end), sorted by type. */
typedef struct {
	const char *owner;
	size_t len;
	uint32_t hash;
	size_t first, end;
	size_t records;		/* the first entry past the TYPE_NODE marks */
	int valid;		/* name_is_valid(owner): a name equal to it is too */
	const apex *ap;		/* find_apex(owner), found once */
} node;

typedef struct {
	mauth_resolver base;
	entry *e;
	size_t n, cap;
	apex *apexes;
	size_t napex;
	/* built once the zone is loaded: a hash table of owner names */
	node *nodes;
	size_t nnodes;
	uint32_t *slots;	/* node index + 1, 0 = empty; open addressing */
	size_t nslots;		/* a power of two */
	/* the answers with no records and no chain that need no apex */
	mauth_answer *badname, *refused, *nodata0, *nxdomain0;
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

/* The eight bytes at src lowered into dst (the step lower_copy repeats). */
static inline void lower8(char *dst, const char *src)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t w, low, ge_a, gt_z;

	memcpy(&w, src, 8);
	low = w & ~high;
	ge_a = low + ones * (0x80 - 'A');
	gt_z = low + ones * (0x7f - 'Z');
	w |= ((ge_a ^ gt_z) & ~w & high) >> 2;
	memcpy(dst, &w, 8);
}

/*
 * dst = src[0..len) with ASCII capitals lowered, eight bytes a step: each
 * byte's high bit of (b + 0x3f) and (b + 0x25) over its low seven bits
 * says b >= 'A' and b > 'Z'; bytes with the high bit set are left alone.
 * A byte-at-a-time loop was a fifth of every zone lookup.
 */
static void lower_copy(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8)
		lower8(dst + i, src + i);
	if (i < len && len >= 8) {
		/* the tail as the last eight bytes, again from src (lowering
		 * twice changes nothing): no byte loop */
		lower8(dst + len - 8, src + len - 8);
		return;
	}
	for (; i < len; i++) {
		char ch = src[i];

		dst[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
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
	e->ans = NULL;
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
		a[z->napex].len = strlen(a[z->napex].name);
		a[z->napex].negttl = min < ldns_rr_ttl(rr) ? min : ldns_rr_ttl(rr);
		a[z->napex].nodata = a[z->napex].nxdomain = NULL;
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

/* The slot hash of a lowercase name: text_hash, eight bytes a step (a
 * byte-at-a-time hash waits on a multiply per byte). */
static uint32_t name_hash(const char *s, size_t len)
{
	return (uint32_t)text_hash(s, len);
}

static const node *node_find(const zone_resolver *z, const char *name,
			     size_t len, uint32_t hash)
{
	size_t mask = z->nslots - 1, i;

	if (z->nslots == 0)
		return NULL;
	for (i = hash & mask; z->slots[i] != 0; i = (i + 1) & mask) {
		const node *nd = &z->nodes[z->slots[i] - 1];

		if (nd->hash == hash && nd->len == len &&
		    memcmp(nd->owner, name, len) == 0)
			return nd;
	}
	return NULL;
}

static const apex *find_apex(const zone_resolver *z, const char *name,
			     size_t nl);

/* Groups the sorted entries by owner and indexes the groups by name. */
static int build_index(zone_resolver *z)
{
	size_t i, k;

	if (z->n == 0)
		return 0;
	z->nodes = malloc(z->n * sizeof *z->nodes);
	if (z->nodes == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < z->n; i++) {
		node *nd;

		if (i > 0 && strcmp(z->e[i].owner, z->e[i - 1].owner) == 0) {
			nd = &z->nodes[z->nnodes - 1];
			nd->end = i + 1;
			if (z->e[i].type == TYPE_NODE)
				nd->records = i + 1;
			continue;
		}
		nd = &z->nodes[z->nnodes++];
		nd->owner = z->e[i].owner;
		nd->len = strlen(nd->owner);
		nd->hash = name_hash(nd->owner, nd->len);
		nd->first = i;
		nd->end = i + 1;
		nd->records = z->e[i].type == TYPE_NODE ? i + 1 : i;
		nd->valid = name_is_valid(nd->owner, nd->len);
		nd->ap = find_apex(z, nd->owner, nd->len);
	}
	for (z->nslots = 16; z->nslots < 2 * z->nnodes; z->nslots *= 2)
		;
	z->slots = calloc(z->nslots, sizeof *z->slots);
	if (z->slots == NULL)
		return MAUTH_ENOMEM;
	for (k = 0; k < z->nnodes; k++) {
		size_t j = z->nodes[k].hash & (z->nslots - 1);

		while (z->slots[j] != 0)
			j = (j + 1) & (z->nslots - 1);
		z->slots[j] = (uint32_t)(k + 1);
	}
	return 0;
}

/*
 * Every answer a lookup gives without a CNAME chain, built once (the
 * zone never changes after loading): each rrset's, each apex's NODATA and
 * NXDOMAIN, and those that need no apex.  lookup lends them, so an
 * answer costs a check no copy, malloc or free (zone_lend).
 */
static int build_answers(zone_resolver *z)
{
	size_t i, k;

	z->badname = answer_build(MAUTH_RC_BADNAME, 0, 0, NULL, 0);
	z->refused = answer_build(MAUTH_RC_REFUSED, 0, 0, NULL, 0);
	z->nodata0 = answer_build(MAUTH_RC_NOERROR, 0, 0, NULL, 0);
	z->nxdomain0 = answer_build(MAUTH_RC_NXDOMAIN, 0, 0, NULL, 0);
	if (z->badname == NULL || z->refused == NULL || z->nodata0 == NULL ||
	    z->nxdomain0 == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < z->napex; i++) {
		apex *ap = &z->apexes[i];

		ap->nodata = answer_build(MAUTH_RC_NOERROR, ap->negttl, 0, NULL, 0);
		ap->nxdomain = answer_build(MAUTH_RC_NXDOMAIN, ap->negttl, 0,
					    NULL, 0);
		if (ap->nodata == NULL || ap->nxdomain == NULL)
			return MAUTH_ENOMEM;
	}
	/* the entries are sorted by owner, then type: an rrset is a run */
	for (i = 0; i < z->n; i = k) {
		unsigned ttl = 86400;	/* as lookup's hop 0 */
		mauth_rr *rrs;
		size_t j;

		for (k = i + 1; k < z->n && z->e[k].type == z->e[i].type &&
		     strcmp(z->e[k].owner, z->e[i].owner) == 0; k++)
			;
		if (z->e[i].type == TYPE_NODE)
			continue;	/* no records: never lent */
		rrs = malloc((k - i) * sizeof *rrs);
		if (rrs == NULL)
			return MAUTH_ENOMEM;
		for (j = i; j < k; j++) {
			rrs[j - i] = z->e[j].rr;
			if (z->e[j].ttl < ttl)
				ttl = z->e[j].ttl;
		}
		z->e[i].ans = answer_build(MAUTH_RC_NOERROR, ttl, 0, rrs, k - i);
		free(rrs);
		if (z->e[i].ans == NULL)
			return MAUTH_ENOMEM;
	}
	return 0;
}

static const node *name_node(const zone_resolver *z, const char *name)
{
	size_t len = strlen(name);

	return node_find(z, name, len, name_hash(name, len));
}

/* The entries of type at nd: *at is the first, the count is returned. */
static size_t node_rrset(const zone_resolver *z, const node *nd, int type,
			 size_t *at)
{
	/* an ancestor has a TYPE_NODE mark per name below it: skipped */
	size_t i = type > TYPE_NODE ? nd->records : nd->first, n = 0;

	while (i < nd->end && z->e[i].type < type)
		i++;
	*at = i;
	while (i + n < nd->end && z->e[i + n].type == type)
		n++;
	return n;
}

static const apex *find_apex(const zone_resolver *z, const char *name,
			     size_t nl)
{
	const apex *best = NULL;
	size_t i;

	for (i = 0; i < z->napex; i++) {
		const char *a = z->apexes[i].name;
		size_t al = z->apexes[i].len;

		if (al == 0 || (nl == al && memcmp(name, a, al) == 0) ||
		    (nl > al && name[nl - al - 1] == '.' &&
		     memcmp(name + nl - al, a, al) == 0))
			if (best == NULL || al > best->len)
				best = &z->apexes[i];
	}
	return best;
}

/* The node whose records answer name: itself or a wildcard. */
static const node *answer_node(const zone_resolver *z, const char *name,
			       size_t len, uint32_t hash, char *wild,
			       size_t wildlen)
{
	const node *nd = node_find(z, name, len, hash);
	const char *p;

	if (nd != NULL)
		return nd;
	/* RFC 4592 §3.3.1: the wildcard below the closest encloser. */
	for (p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.')) {
		if (name_node(z, p + 1) == NULL)
			continue;
		snprintf(wild, wildlen, "*.%s", p + 1);
		return name_node(z, wild);
	}
	return name_node(z, "*");
}

static mauth_answer *rrset_answer(const zone_resolver *z, size_t at, size_t n,
				  unsigned ttl, const char *const *cv, size_t nc)
{
	mauth_rr few[16], *rrs = n <= 16 ? few : malloc(n * sizeof *rrs);
	mauth_answer *out;
	size_t i;

	if (rrs == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		rrs[i] = z->e[at + i].rr;
		if (z->e[at + i].ttl < ttl)
			ttl = z->e[at + i].ttl;
	}
	out = answer_build_chain(MAUTH_RC_NOERROR, ttl, 0, rrs, n, cv, nc);
	if (rrs != few)
		free(rrs);
	return out;
}

/* Has the chain (or the asked name) been at name already?  Then it loops. */
static int chain_has(const char *name, const char *asked,
		     const char *const *cv, size_t nc)
{
	size_t i;

	if (strcmp(name, asked) == 0)
		return 1;
	for (i = 0; i < nc; i++)
		if (strcmp(name, cv[i]) == 0)
			return 1;
	return 0;
}

/*
 * Answers as a recursive server would (RFC 1034 §4.3.2, §5.3.3): through
 * at most CNAME_CHAIN_MAX aliases, reporting each name it went to; a loop
 * (back to a name already visited) or a longer chain is SERVFAIL, with the
 * links before it.  An answer without a chain is one built at load time
 * (build_answers), lent: *lent is set, and the caller must not free it.
 */
static mauth_answer *lookup(const zone_resolver *z, const char *qname, int type,
			    unsigned char *lent)
{
	char name[NAME_TEXT_MAX], wild[NAME_TEXT_MAX + 2];
	char chain[CNAME_CHAIN_MAX][NAME_TEXT_MAX], asked[NAME_TEXT_MAX];
	const char *cv[CNAME_CHAIN_MAX];
	const apex *ap;
	const node *nd;
	size_t len, qlen, n, nc = 0;
	unsigned ttl = 86400;
	uint32_t hash;
	int hops;

	*lent = 1;
	qlen = strlen(qname);
	len = name_strip_dot(qname, qlen);
	if (len >= sizeof name)
		return z->badname;
	lower_copy(name, qname, len);
	name[len] = '\0';
	hash = name_hash(name, len);
	nd = node_find(z, name, len, hash);
	/* A name spelled as an owner is as valid as the owner (checked at load). */
	if (nd != NULL ? !nd->valid : !name_is_valid(qname, qlen))
		return z->badname;
	ap = nd != NULL ? nd->ap : find_apex(z, name, len);
	if (z->napex > 0 && ap == NULL)
		return z->refused;
	for (hops = 0; hops <= CNAME_CHAIN_MAX; hops++) {
		size_t at;

		if (nd == NULL)
			nd = answer_node(z, name, len, hash, wild, sizeof wild);
		if (nd == NULL && nc == 0)
			return ap != NULL ? ap->nxdomain : z->nxdomain0;
		*lent = 0;
		if (nd == NULL)
			return answer_build_chain(MAUTH_RC_NXDOMAIN,
						  ap ? ap->negttl : 0, 0,
						  NULL, 0, cv, nc);
		n = node_rrset(z, nd, type, &at);
		if (n > 0 && nc == 0 && z->e[at].ans != NULL) {
			*lent = 1;	/* the ttl of hop 0 is the rrset's own */
			return z->e[at].ans;
		}
		if (n > 0)
			return rrset_answer(z, at, n, ttl, cv, nc);
		if (type == MAUTH_T_CNAME ||
		    node_rrset(z, nd, MAUTH_T_CNAME, &at) == 0) {
			if (nc == 0) {
				*lent = 1;
				return ap != NULL ? ap->nodata : z->nodata0;
			}
			return answer_build_chain(MAUTH_RC_NOERROR,
						  ap ? ap->negttl : 0, 0,
						  NULL, 0, cv, nc);
		}
		if (hops == CNAME_CHAIN_MAX)
			break;
		if (hops == 0)	/* name is about to become the alias */
			memcpy(asked, name, strlen(name) + 1);
		if (z->e[at].ttl < ttl)
			ttl = z->e[at].ttl;
		len = z->e[at].rr.len < sizeof name - 1 ? z->e[at].rr.len :
		      sizeof name - 1;
		memcpy(name, z->e[at].rr.data, len);
		name[len] = '\0';
		lowercase(name);
		len = strlen(name);
		if (chain_has(name, asked, cv, nc))
			break;
		memcpy(chain[nc], name, len + 1);
		cv[nc] = chain[nc];
		nc++;
		hash = name_hash(name, len);
		nd = NULL;
		ap = find_apex(z, name, len);
		if (z->napex > 0 && ap == NULL)
			return answer_build_chain(MAUTH_RC_NOERROR, 0, 0, NULL, 0,
						  cv, nc);
	}
	/* a loop, or more links than a resolver follows */
	return answer_build_chain(MAUTH_RC_SERVFAIL, 0, 0, NULL, 0, cv, nc);
}

/* The owned way (mauth_resolver_query): a lent answer is copied. */
static int zone_query(mauth_resolver *r, const mauth_question *qv, size_t n,
		      mauth_answer **out)
{
	const zone_resolver *z = (const zone_resolver *)r;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char lent;

		out[i] = lookup(z, qv[i].name, qv[i].type, &lent);
		if (out[i] != NULL && lent)
			out[i] = mauth_answer_dup(out[i]);
		if (out[i] == NULL)
			return MAUTH_ENOMEM;
		r->stats.queries++;
	}
	return 0;
}

/* mauth_check_run's way: the built answers lent as they are. */
static int zone_lend(mauth_resolver *r, const mauth_question *qv, size_t n,
		     mauth_answer **out, unsigned char *lent)
{
	const zone_resolver *z = (const zone_resolver *)r;
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = lookup(z, qv[i].name, qv[i].type, &lent[i]);
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
		mauth_answer_free(z->e[i].ans);
	}
	for (i = 0; i < z->napex; i++) {
		free(z->apexes[i].name);
		mauth_answer_free(z->apexes[i].nodata);
		mauth_answer_free(z->apexes[i].nxdomain);
	}
	mauth_answer_free(z->badname);
	mauth_answer_free(z->refused);
	mauth_answer_free(z->nodata0);
	mauth_answer_free(z->nxdomain0);
	free(z->apexes);
	free(z->nodes);
	free(z->slots);
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
	zone_resolver *z = resolver_alloc(sizeof *z, out, zone_query, zone_free);
	size_t i;
	int rc = 0;

	if (z == NULL)
		return MAUTH_ENOMEM;
	z->base.lend = zone_lend;
	for (i = 0; i < n && rc == 0; i++)
		rc = load_text(z, texts[i], lens[i], err, errlen);
	if (rc == 0 && z->n > 0)
		qsort(z->e, z->n, sizeof *z->e, entry_cmp);
	if (rc == 0 && build_index(z) != 0)
		rc = MAUTH_ENOMEM;
	if (rc == 0 && build_answers(z) != 0)
		rc = MAUTH_ENOMEM;
	if (rc != 0) {	/* one way out for every failure */
		zone_free(&z->base);
		return rc;
	}
	*out = &z->base;
	return 0;
}
