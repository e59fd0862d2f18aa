/*
 * dmarc.c - DMARC policy evaluation: RFC 7489 with the Public Suffix List
 * (org_domain = "psl", the default; np= as RFC 9091), or RFC 9989 with the
 * DNS tree walk (org_domain = "tree"), and the Organizational Domain on
 * its own.  Section numbers of RFC 9989 are those of
 * draft-ietf-dmarc-dmarcbis-41, the text it was published from.
 *
 * Inputs are results of earlier checks, not the message: the RFC5322.From
 * domain ("from", or "from_domains.N" with "from_count"; "author_problem",
 * with "author_code", when the From field could not be read exactly:
 * permerror), the SPF result
 * ("spf.result", "spf.domain") and the DKIM results ("dkim.N.result",
 * "dkim.N.domain").  Options: org_domain = "psl" (default) | "tree",
 * org_domain_compare (both methods' Organizational Domain of From in the
 * result), psl_file, pct_roll (0..99: which pct sample this message falls
 * in; RFC 7489 mode only, RFC 9989 has no pct),
 * shared_domains.N (names the operator knows to hold many independent
 * organisations).
 *
 * Shared parents: onmicrosoft.com (every Microsoft 365 tenant's initial
 * domain is <tenant>.onmicrosoft.com; in the other clouds onmicrosoft.us,
 * onmicrosoft.de, partner.onmschina.cn) is not in the public suffix list, so
 * by RFC 7489 §3.2 alone all tenants would be one organisation and
 * d=evil.onmicrosoft.com would align with From: ceo@contoso.onmicrosoft.com.
 * Each of them and every shared_domains entry counts as a public suffix for the
 * Organizational Domain in both modes (the name one label below it is the
 * organisation); the result names it as shared_parent.
 *
 * Steps (DNS):
 *   1  psl:  _dmarc.<from> and _dmarc.<org> together (§6.6.3 steps 1 and 3
 *            do not depend on each other once the org domain is known);
 *      tree: every name of the tree walk of the From domain (at most 8,
 *            RFC 9989 §4.10) and of each passing identifier that may align
 *            (its own walk, §4.10.2), all at once, at most LOOKUP_MAX.
 *   2  only when the chosen record has np= and the From domain is below
 *      the policy domain: A, AAAA and MX of the From domain, to learn
 *      whether it exists (RFC 9091 §2.1; under RFC 9989 §3.2.13 only an
 *      NXDOMAIN says it does not).
 *
 * Every problem carries its code (doc/codes.md, "DMARC"); an
 * author_problem's is the caller's author_code (message_info's).
 */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "core/author.h"
#include "authres/authres.h"

#define DMARC_RECORD_MAX 4096	/* bytes of one TXT record we parse */
#define DMARC_DKIM_MAX 32	/* passing DKIM results considered */
#define DMARC_DKIM_SCAN 1024	/* DKIM results read at all */
#define DMARC_FROM_MAX 16	/* From domains looked at (all must be equal) */
#define TREE_MAX_QUERIES 8	/* RFC 9989 §4.10 */
#define LOOKUP_MAX 96		/* tree walks of From + identifiers */
#define SHARED_MAX 64		/* shared_domains entries read */

/*
 * The built-in shared parents: the initial-domain parents of Microsoft 365
 * in each of its clouds (worldwide, US Government GCC High/DoD, Germany,
 * 21Vianet China).  None is in the public suffix list, so each would make
 * every tenant of that cloud one organisation, as onmicrosoft.com would.
 */
static const char *const builtin_shared[] = {
	"onmicrosoft.com", "onmicrosoft.us", "onmicrosoft.de",
	"partner.onmschina.cn",
};
#define SHARED_BUILTIN (sizeof builtin_shared / sizeof builtin_shared[0])

enum { POL_ABSENT = -1, POL_INVALID = -2, POL_NONE = 0, POL_QUARANTINE,
       POL_REJECT };
static const char *const policy_names[] = { "none", "quarantine", "reject" };

enum { REC_EMPTY, REC_ONE, REC_MULTI, REC_TEMP, REC_TOOLONG };

typedef struct {
	char *name;		/* the domain below _dmarc. */
	unsigned id;
	int status;		/* REC_* */
	int rcode;		/* REC_TEMP: the answer's rcode */
	char *record;		/* the one v=DMARC1 record (REC_ONE) */
	int psd;		/* -1 absent, 0 "n", 1 "y", 2 "u" */
} lookup;

typedef struct {
	int p, sp, np;		/* POL_* */
	int adkim_strict, aspf_strict;
	long pct;
	int testing;		/* t=y (RFC 9989) */
	int psd;
	const char *fo;		/* a valid fo= value (fo_valid), or NULL */
	const char *rua, *ruf;	/* raw values, NUL-terminated in the arena */
	int rua_valid;		/* at least one syntactically valid URI */
} record;

/* What one tree walk (RFC 9989 §4.10, §4.10.2) found. */
enum { WALK_OK, WALK_TEMP, WALK_UNREAD, WALK_MISSING };

typedef struct {
	const char *org;	/* the Organizational Domain (WALK_OK) */
	const lookup *psd;	/* the psd=y record the walk stopped at, not
				 * the starting name's; else NULL */
	int status;		/* WALK_* */
	int rcode;		/* WALK_TEMP: the failed answer's rcode */
	int multi;		/* a level held several records (discarded) */
} walk_result;

typedef struct {
	int tree;
	int compare;		/* org_domain_compare: both methods' org domain */
	int have_roll;
	long roll;
	const void *psl;
	char *from;
	const char *org;	/* org: PSL mode, computed at init */
	const char *spf_result, *spf_domain;
	size_t ndkim;
	const char *dkim_result[DMARC_DKIM_MAX], *dkim_domain[DMARC_DKIM_MAX];
	/* tree: 1 when the identifier's own walk fit in the DNS budget */
	unsigned char spf_walked, dkim_walked[DMARC_DKIM_MAX];
	walk_result from_walk;	/* tree (or compare): the From domain's walk */
	int walked_answers;	/* from_walk is read (records_step) */
	lookup q[LOOKUP_MAX];
	size_t nq;
	int phase;		/* 0 records, 1 existence */
	unsigned exist_id[3];
	/* kept for phase 1 */
	const lookup *policy_at;
	record rec;
	const char *from_org;	/* NULL: the walk could not settle it */
	/* public suffixes by operator decision: onmicrosoft.com + shared_domains */
	const char *shared[SHARED_MAX + SHARED_BUILTIN];
	size_t nshared;
	const char *from_shared;	/* the one From's org domain sits under */
} dmarc_state;

/* ---- small text helpers ---- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t count_labels(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '.';
	return n;
}

/* The suffix of s made of its last k labels. */
static const char *last_labels(const char *s, size_t k)
{
	size_t n = count_labels(s);
	const char *p = s;

	while (n > k) {
		p = strchr(p, '.') + 1;
		n--;
	}
	return p;
}

/* Takes a domain from a parameter: lower case, no final dot, valid name. */
static char *domain_param(arena *a, const char *s, size_t len)
{
	const char *at;

	if (s == NULL)
		return NULL;
	/* A mailbox was passed (spf.domain = "user@example.com"): keep the domain. */
	at = memchr(s, '@', len);
	if (at != NULL) {
		len -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	while (len > 0 && is_wsp((unsigned char)s[len - 1]))
		len--;
	while (len > 0 && is_wsp((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len > 0 && s[len - 1] == '.')
		len--;
	/* U-labels are compared and looked up as A-labels (RFC 8616 §4);
	 * one that does not convert is not usable, as other bad names */
	if (name_to_alabels(a, s, len, &s, &len) != 0)
		return NULL;
	if (len == 0 || !name_is_valid(s, len) || !name_is_ldh(s, len, 1))
		return NULL;
	return pslcache_lower(a, s, len);
}

/* ---- the record (RFC 7489 §6.3, §6.4) ---- */

/* 1 when rec starts with the version tag "v=DMARC1" (§6.6.3 step 2). */
static int is_dmarc_record(const char *s, size_t len)
{
	size_t i = 0;

	if (len < 1 || s[0] != 'v')
		return 0;
	for (i = 1; i < len && is_wsp((unsigned char)s[i]); i++)
		;
	if (i >= len || s[i] != '=')
		return 0;
	for (i++; i < len && is_wsp((unsigned char)s[i]); i++)
		;
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return 0;
	for (i += 6; i < len && is_wsp((unsigned char)s[i]); i++)
		;
	return i == len || s[i] == ';';
}

static int policy_word(const char *v, size_t n)
{
	if (ascii_ieq(v, n, "none", 4))
		return POL_NONE;
	if (ascii_ieq(v, n, "quarantine", 10))
		return POL_QUARANTINE;
	if (ascii_ieq(v, n, "reject", 6))
		return POL_REJECT;
	return POL_INVALID;
}

/* A reporting URI (§6.4 dmarc-uri): scheme ":" something, optional "!size". */
static int uri_list_has_valid(const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end, j;

		while (i < n && is_wsp((unsigned char)v[i]))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && is_wsp((unsigned char)v[end - 1]))
			end--;
		i++;
		if (end <= start)
			continue;
		if (!((v[start] | 32) >= 'a' && (v[start] | 32) <= 'z'))
			continue;
		for (j = start + 1; j < end; j++) {
			char c = v[j];

			if (c == ':')
				break;
			if (!(((c | 32) >= 'a' && (c | 32) <= 'z') ||
			      (c >= '0' && c <= '9') || c == '+' || c == '-' ||
			      c == '.'))
				break;
		}
		if (j < end && v[j] == ':' && j + 1 < end)
			return 1;
	}
	return 0;
}

/* A fo= option: 1 "0", 2 "1", 4 "d", 8 "s" (ABNF strings are case-
 * insensitive, RFC 5234 §2.3), 0 for anything else. */
static int fo_bit(char c)
{
	switch (c) {
	case '0':
		return 1;
	case '1':
		return 2;
	case 'd':
	case 'D':
		return 4;
	case 's':
	case 'S':
		return 8;
	default:
		return 0;
	}
}

static size_t skip_sp_tab(const char *v, size_t i, size_t n)
{
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i;
}

/*
 * fo= by the grammar of the mode; v is trimmed (parse_record).  RFC 7489
 * §6.4: dmarc-fo = ( "0" / "1" / "d" / "s" ) *(*WSP ":" *WSP ( "0" / "1" /
 * "d" / "s" )), §6.3 "a colon-separated list": any of the four, repeated
 * or not, "0" with "1" too, space or tab around a colon.  RFC 9989 §4.8
 * (draft-ietf-dmarc-dmarcbis-41): "d" and "s" each at most once, "0" and
 * "1" not both (§4.7: "mutually exclusive"), any order, no space: the
 * alternatives of its dmarc-fo rule.
 */
static int fo_valid(const char *v, size_t n, int rfc9989)
{
	int seen = 0;	/* fo_bit()s */
	size_t i = 0;

	for (;;) {
		int bit = i < n ? fo_bit(v[i]) : 0;

		if (bit == 0 || (rfc9989 && (seen & bit)))
			return 0;
		seen |= bit;
		i++;
		if (!rfc9989)
			i = skip_sp_tab(v, i, n);
		if (i == n)
			return !rfc9989 || (seen & 3) != 3;
		if (v[i] != ':')
			return 0;
		i++;
		if (!rfc9989)
			i = skip_sp_tab(v, i, n);
	}
}

/*
 * Parses a record already known to start with v=DMARC1.  Unknown tags are
 * ignored; a value that does not parse falls back to the default (§6.3:
 * "syntax errors in the remainder of the record SHOULD be discarded in
 * favor of default values"), except p and sp, which §6.6.3 step 6 handles.
 * rfc9989: org_domain = "tree", where a tag's grammar differs (fo=).
 */
static void parse_record(arena *a, const char *s, int rfc9989, record *r)
{
	size_t len = strlen(s), i = 0;

	memset(r, 0, sizeof *r);
	r->p = r->sp = r->np = POL_ABSENT;
	r->pct = 100;
	r->psd = -1;
	while (i < len) {
		size_t ts, te, vs, ve, end;
		char tag[8];

		end = i;
		while (end < len && s[end] != ';')
			end++;
		while (i < end && is_wsp((unsigned char)s[i]))
			i++;
		ts = i;
		while (i < end && s[i] != '=' && !is_wsp((unsigned char)s[i]))
			i++;
		te = i;
		while (i < end && is_wsp((unsigned char)s[i]))
			i++;
		if (i >= end || s[i] != '=' || te == ts || te - ts >= sizeof tag) {
			i = end + 1;	/* not tag=value: ignored */
			continue;
		}
		for (i++; i < end && is_wsp((unsigned char)s[i]); i++)
			;
		vs = i;
		ve = end;
		while (ve > vs && is_wsp((unsigned char)s[ve - 1]))
			ve--;
		memcpy(tag, s + ts, te - ts);
		tag[te - ts] = '\0';
		i = end + 1;
		/* The first occurrence of a tag counts. */
		if (strcmp(tag, "p") == 0 && r->p == POL_ABSENT)
			r->p = policy_word(s + vs, ve - vs);
		else if (strcmp(tag, "sp") == 0 && r->sp == POL_ABSENT)
			r->sp = policy_word(s + vs, ve - vs);
		else if (strcmp(tag, "np") == 0 && r->np == POL_ABSENT) {
			r->np = policy_word(s + vs, ve - vs);
			if (r->np == POL_INVALID)
				r->np = POL_ABSENT;	/* ignored, not fatal */
		} else if (strcmp(tag, "adkim") == 0 && ve - vs == 1)
			r->adkim_strict = (s[vs] | 32) == 's';
		else if (strcmp(tag, "aspf") == 0 && ve - vs == 1)
			r->aspf_strict = (s[vs] | 32) == 's';
		else if (strcmp(tag, "pct") == 0 && ve > vs && ve - vs <= 3) {
			long n = 0;
			size_t k;

			for (k = vs; k < ve && s[k] >= '0' && s[k] <= '9'; k++)
				n = n * 10 + (s[k] - '0');
			if (k == ve && n <= 100)
				r->pct = n;
		} else if (strcmp(tag, "t") == 0 && ve - vs == 1)
			r->testing = (s[vs] | 32) == 'y';
		else if (strcmp(tag, "psd") == 0 && ve - vs == 1 && r->psd < 0) {
			char c = (char)(s[vs] | 32);

			r->psd = c == 'y' ? 1 : c == 'n' ? 0 : c == 'u' ? 2 : -1;
		} else if (strcmp(tag, "rua") == 0 && r->rua == NULL) {
			r->rua = arena_strndup(a, s + vs, ve - vs);
			r->rua_valid = uri_list_has_valid(s + vs, ve - vs);
		} else if (strcmp(tag, "ruf") == 0 && r->ruf == NULL)
			r->ruf = arena_strndup(a, s + vs, ve - vs);
		else if (strcmp(tag, "fo") == 0 && r->fo == NULL &&
			 fo_valid(s + vs, ve - vs, rfc9989))
			r->fo = arena_strndup(a, s + vs, ve - vs);
	}
}

/* Only the psd tag, for the tree walk. */
static int record_psd(arena *a, const char *s)
{
	record r;

	parse_record(a, s, 1, &r);
	return r.psd;
}

/* ---- DNS: lookups of _dmarc.<name> ---- */

static const lookup *find_lookup(const dmarc_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nq; i++)
		if (strcmp(st->q[i].name, name) == 0)
			return &st->q[i];
	return NULL;
}

/* 0 asked (now or before), 1 over the DNS budget (not asked), -1 error. */
static int ask_dmarc(mauth_check *c, dmarc_state *st, const char *name)
{
	char q[RECORD_NAME_SIZE];
	lookup *l;

	if (find_lookup(st, name) != NULL)
		return 0;
	if (st->nq == LOOKUP_MAX)
		return 1;	/* bounded: the walk needing it is incomplete */
	l = &st->q[st->nq];
	l->name = arena_strndup(check_arena(c), name, strlen(name));
	if (l->name == NULL)
		return -1;
	l->id = 0;
	/* _dmarc.<name> over 253 octets is no name: it holds no record, and
	 * id 0 (never a question's) gets no answer, which reads as none */
	if (record_name(q, NULL, "_dmarc", name) > 0 &&
	    (l->id = check_ask(c, MAUTH_T_TXT, q)) == 0)
		return -1;
	st->nq++;
	return 0;
}

/* The names of the tree walk of d, most specific first (RFC 9989 §4.10). */
static size_t walk_names(const char *d, const char *out[TREE_MAX_QUERIES])
{
	size_t x = count_labels(d), n = 0, k;

	out[n++] = d;
	k = x >= TREE_MAX_QUERIES ? TREE_MAX_QUERIES - 1 : x - 1;
	for (; k >= 1 && n < TREE_MAX_QUERIES; k--)
		out[n++] = last_labels(d, k);
	return n;
}

/* Asks every name of d's walk: 0 all asked, 1 some over the budget, -1. */
static int ask_walk(mauth_check *c, dmarc_state *st, const char *d)
{
	const char *names[TREE_MAX_QUERIES];
	size_t i, n = walk_names(d, names);
	int over = 0;

	for (i = 0; i < n; i++) {
		int rc = ask_dmarc(c, st, names[i]);

		if (rc < 0)
			return -1;
		over |= rc;
	}
	return over;
}

/* Reads the answers of step 1 into the lookups. */
static void take_answers(mauth_check *c, dmarc_state *st)
{
	size_t i, j;

	for (i = 0; i < st->nq; i++) {
		lookup *l = &st->q[i];
		const mauth_answer *a = check_got(c, l->id);
		size_t found = 0, at = 0;

		l->psd = -1;
		l->status = REC_EMPTY;
		if (a == NULL || a->rcode == MAUTH_RC_BADNAME)
			continue;
		if (answer_is_temporary(a)) {
			l->status = REC_TEMP;
			l->rcode = a->rcode;
			continue;
		}
		for (j = 0; j < a->n; j++)
			if (is_dmarc_record(a->rr[j].data, a->rr[j].len)) {
				found++;
				at = j;
			}
		if (found > 1) {
			l->status = REC_MULTI;
		} else if (found == 1) {
			const mauth_rr *rr = &a->rr[at];

			if (rr->len > DMARC_RECORD_MAX ||
			    memchr(rr->data, '\0', rr->len) != NULL) {
				l->status = REC_TOOLONG;
				continue;
			}
			l->record = arena_strndup(check_arena(c), rr->data, rr->len);
			l->status = REC_ONE;
			l->psd = record_psd(check_arena(c), l->record);
		}
	}
}

/*
 * The tree walk of d (RFC 9989 §4.10) over the answers, and the
 * Organizational Domain it selects (§4.10.2).  The walk stops at the first
 * level holding a single record with psd=n or psd=y (steps 2 and 6); a
 * level with several records is a level with none.  Of the records found,
 * longest name first: psd=n names the Organizational Domain; psd=y, at a
 * name other than d, names the domain one label below it (and is the
 * Public Suffix Domain's record, kept in w->psd for policy discovery);
 * otherwise the record with the fewest labels; with no record, d itself.
 * A level that failed (temporary DNS error), could not be read (over our
 * size limit) or was not asked (DNS budget) before the walk stopped
 * leaves the Organizational Domain unknown: w->status says why.
 */
static void tree_walk(const dmarc_state *st, const char *d, walk_result *w)
{
	const char *names[TREE_MAX_QUERIES], *last = NULL;
	size_t i, n = walk_names(d, names);

	memset(w, 0, sizeof *w);
	for (i = 0; i < n; i++) {
		const lookup *l = find_lookup(st, names[i]);

		if (l == NULL) {
			w->status = WALK_MISSING;
			return;
		}
		if (l->status == REC_TEMP || l->status == REC_TOOLONG) {
			w->status = l->status == REC_TEMP ? WALK_TEMP : WALK_UNREAD;
			w->rcode = l->rcode;
			return;
		}
		w->multi |= l->status == REC_MULTI;
		if (l->status != REC_ONE)
			continue;
		if (l->psd == 0) {
			w->org = names[i];
			return;
		}
		if (l->psd == 1 && i > 0) {
			w->org = last_labels(d, count_labels(names[i]) + 1);
			w->psd = l;
			return;
		}
		last = names[i];
		if (l->psd == 1)
			break;	/* psd=y at d itself: the walk stops, d is the org */
	}
	w->org = last != NULL ? last : d;
}

/*
 * The longest shared parent that d is equal to or below, or NULL.  Names
 * are lower case without a final dot (domain_param).
 */
static const char *shared_parent(const dmarc_state *st, const char *d)
{
	size_t i, dl = strlen(d), best_len = 0;
	const char *best = NULL;

	for (i = 0; i < st->nshared; i++) {
		const char *p = st->shared[i];
		size_t pl = strlen(p);

		if (pl <= best_len || pl > dl)
			continue;
		if (strcmp(d + dl - pl, p) != 0)
			continue;
		if (dl > pl && d[dl - pl - 1] != '.')
			continue;
		best = p;
		best_len = pl;
	}
	return best;
}

/*
 * The Organizational Domain of d when it sits under a shared parent, as
 * for a public suffix: the parent plus one label of d (d itself when d is
 * the parent or one label below it).  NULL when no shared parent applies.
 */
static const char *shared_org(const dmarc_state *st, const char *d)
{
	const char *p = shared_parent(st, d);
	size_t pl, dl;

	if (p == NULL)
		return NULL;
	pl = strlen(p);
	dl = strlen(d);
	if (dl == pl)
		return d;
	return last_labels(d, count_labels(p) + 1);
}

/* The rcode of a walk's failed level (w->status is WALK_TEMP). */
static int walk_rcode(const walk_result *w)
{
	return w->rcode != 0 ? w->rcode : MAUTH_RC_SERVFAIL;
}

/* The Organizational Domain by the Public Suffix List (RFC 7489 §3.2). */
static const char *psl_org(const dmarc_state *st, const char *d)
{
	const char *r = pslcache_registrable(st->psl, d);

	return r != NULL ? r : d;
}

/*
 * The Organizational Domain of d by the configured method, or NULL when
 * the tree walk could not settle it (w->status says why).  Under the tree
 * walk w is d's walk: taken as it is when the caller already walked d
 * (walked = 1), else walked here, and only when no shared parent decides.
 */
static const char *org_of(const dmarc_state *st, const char *d,
			  walk_result *w, int walked)
{
	const char *r = shared_org(st, d);

	if (r != NULL)
		return r;
	if (!st->tree)
		return psl_org(st, d);
	if (!walked)
		tree_walk(st, d, w);
	return w->status == WALK_OK ? w->org : NULL;
}

/*
 * Identifier alignment (RFC 9989 §3.2.10, §4.10.2; RFC 7489 §3.1): 1 or
 * 0; *temp gets the rcode when relaxed alignment needed an Organizational
 * Domain that a temporary DNS failure left unknown.  Under the tree walk each
 * identifier's Organizational Domain comes from its own walk (§4.10.2:
 * walks start at the Author Domain and at each authenticated identifier),
 * never from the From domain's; an identifier whose walk did not fit in
 * the DNS budget (walked = 0) can align only by being the From domain.
 */
static int aligned(const dmarc_state *st, const char *id, int walked,
		   int strict, int *temp)
{
	const char *org;
	walk_result w;

	if (id == NULL)
		return 0;
	if (strcmp(id, st->from) == 0)
		return 1;
	if (strict || (st->tree && !walked))
		return 0;
	if (st->from_org == NULL) {
		if (st->from_walk.status == WALK_TEMP)
			*temp = walk_rcode(&st->from_walk);
		return 0;
	}
	org = org_of(st, id, &w, 0);
	if (org == NULL) {
		if (w.status == WALK_TEMP)
			*temp = walk_rcode(&w);
		return 0;
	}
	return strcmp(org, st->from_org) == 0;
}

/* ---- results ---- */

static void list_uris(arena *a, mauth_value *r, const char *key, const char *v)
{
	mauth_value *list = val_add(a, r, key, MAUTH_V_LIST);
	size_t i = 0, n = v != NULL ? strlen(v) : 0;

	while (i < n) {
		size_t s, e;

		while (i < n && is_wsp((unsigned char)v[i]))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i++;
		while (e > s && is_wsp((unsigned char)v[e - 1]))
			e--;
		if (e > s)
			val_str(a, list, NULL, v + s, e - s);
	}
}

/*
 * org_domain_compare: the From domain's Organizational Domain by each
 * method, so an operator sees where the Public Suffix List and the tree
 * walk disagree before switching (RFC 9989 §C.3).  A method that could
 * not settle it (list unreadable, walk failed) leaves its field out.
 */
static void put_compare(mauth_check *c, const dmarc_state *st)
{
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);
	const char *psl, *tree;

	if (!st->compare || st->from == NULL || !st->walked_answers)
		return;
	/* from_org is the configured method's (records_step), the shared
	 * parent's org when there is one: only the other method is new */
	if (st->tree) {
		tree = st->from_org;
		psl = st->psl == NULL ? NULL : st->from_shared != NULL ?
		      st->from_org : psl_org(st, st->from);
	} else {
		psl = st->from_org;
		tree = st->from_shared != NULL ? st->from_org :
		       st->from_walk.status == WALK_OK ? st->from_walk.org : NULL;
	}
	if (psl != NULL)
		val_cstr(a, r, "org_domain_psl", psl);
	if (tree != NULL)
		val_cstr(a, r, "org_domain_tree", tree);
	if (psl != NULL && tree != NULL)
		val_bool(a, r, "org_domain_differs", strcmp(psl, tree) != 0);
}

static void base_result(mauth_check *c, dmarc_state *st, const char *result,
			const char *code, const char *problem)
{
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);

	val_cstr(a, r, "result", result);
	/* RFC 9990's discovery_method: how the policy was looked for */
	val_cstr(a, r, "discovery_method", st->tree ? "treewalk" : "psl");
	if (st->from != NULL)
		val_cstr(a, r, "domain", st->from);
	if (st->from_org != NULL)
		val_cstr(a, r, "org_domain", st->from_org);
	put_compare(c, st);
	if (st->from_shared != NULL)
		val_cstr(a, r, "shared_parent", st->from_shared);
	if (problem != NULL)
		val_problem(a, r, code, problem);
}

/*
 * Writes spf_aligned and dkim_aligned; 1 when either aligns.  *temp: the
 * rcode of a walk that left an identifier's alignment unknown (0: none).
 */
static int fill_alignment(mauth_check *c, dmarc_state *st, const record *rec,
			  int *temp)
{
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);
	int spf_ok = 0, dkim_ok = 0;
	size_t i;

	*temp = 0;
	if (st->spf_result != NULL && strcmp(st->spf_result, "pass") == 0)
		spf_ok = aligned(st, st->spf_domain, st->spf_walked,
				 rec->aspf_strict, temp);
	for (i = 0; i < st->ndkim && !dkim_ok; i++)
		if (st->dkim_result[i] != NULL &&
		    strcmp(st->dkim_result[i], "pass") == 0 &&
		    aligned(st, st->dkim_domain[i], st->dkim_walked[i],
			    rec->adkim_strict, temp)) {
			dkim_ok = 1;
			val_cstr(a, r, "dkim_domain", st->dkim_domain[i]);
		}
	if (spf_ok && st->spf_domain != NULL)
		val_cstr(a, r, "spf_domain", st->spf_domain);
	val_bool(a, r, "spf_aligned", spf_ok);
	val_bool(a, r, "dkim_aligned", dkim_ok);
	return spf_ok || dkim_ok;
}

/*
 * policy_published: the record's tags as evaluated, defaults filled in
 * (RFC 9990's policy_published: "Unspecified tags have their default
 * values"): sp defaults to p, np to sp (RFC 9989 §4.7).  pct only in the
 * RFC 7489 mode; RFC 9989 removed it (§C.5.2, Appendix A.6).
 */
static void put_published(mauth_check *c, const dmarc_state *st,
			  const record *rec)
{
	arena *a = check_arena(c);
	mauth_value *m = val_add(a, check_result(c), "policy_published",
				 MAUTH_V_MAP);
	int sp = rec->sp >= 0 ? rec->sp : rec->p;
	int np = rec->np >= 0 ? rec->np : sp;

	val_cstr(a, m, "p", policy_names[rec->p]);
	val_cstr(a, m, "sp", policy_names[sp]);
	val_cstr(a, m, "np", policy_names[np]);
	val_cstr(a, m, "adkim", rec->adkim_strict ? "s" : "r");
	val_cstr(a, m, "aspf", rec->aspf_strict ? "s" : "r");
	val_cstr(a, m, "psd", rec->psd == 1 ? "y" : rec->psd == 0 ? "n" : "u");
	val_cstr(a, m, "t", rec->testing ? "y" : "n");
	val_cstr(a, m, "fo", rec->fo != NULL ? rec->fo : "0");
	if (!st->tree)
		val_int(a, m, "pct", rec->pct);
}

static int lower_policy(int p)
{
	return p > POL_NONE ? p - 1 : POL_NONE;
}

/* The outcome once the policy record and the policy tag are known. */
static void finish_policy(mauth_check *c, dmarc_state *st, int exists)
{
	arena *a = check_arena(c);
	const record *rec = &st->rec;
	const lookup *l = st->policy_at;
	mauth_value *r;
	const char *tag = "p";
	int policy = rec->p, pass, disp, temp;

	if (strcmp(l->name, st->from) != 0) {
		if (!exists && rec->np >= 0) {
			policy = rec->np;
			tag = "np";
		} else if (rec->sp >= 0) {
			policy = rec->sp;
			tag = "sp";
		}
	}
	pass = fill_alignment(c, st, rec, &temp);
	r = check_result(c);
	if (!pass && temp) {
		/* no identifier aligned, and one might have: no verdict */
		base_result(c, st, "temperror", rcode_code(temp),
			    "an identifier's Organizational Domain lookup failed "
			    "(RFC 9989 §4.10.2)");
		val_cstr(a, r, "policy_domain", l->name);
		put_published(c, st, rec);
		return;
	}
	disp = POL_NONE;
	if (!pass) {
		/* RFC 7489 §6.6.4: pct; RFC 9989 has none, and t=y asks for
		 * the policy one level below (§4.7 "t") */
		int selected = st->tree ? !rec->testing :
			       !st->have_roll || st->roll < rec->pct;

		disp = selected ? policy : lower_policy(policy);
	}
	base_result(c, st, pass ? "pass" : "fail", NULL, NULL);
	val_cstr(a, r, "policy_domain", l->name);
	val_cstr(a, r, "policy", policy_names[policy]);
	val_cstr(a, r, "policy_tag", tag);
	val_cstr(a, r, "disposition", policy_names[disp]);
	if (!st->tree)
		val_int(a, r, "pct", rec->pct);
	val_cstr(a, r, "adkim", rec->adkim_strict ? "s" : "r");
	val_cstr(a, r, "aspf", rec->aspf_strict ? "s" : "r");
	val_cstr(a, r, "record", l->record);
	list_uris(a, r, "rua", rec->rua);
	list_uris(a, r, "ruf", rec->ruf);
	put_published(c, st, rec);
}

static void finish_none(mauth_check *c, dmarc_state *st, const char *code,
			const char *problem, const lookup *l)
{
	record defaults;
	arena *a = check_arena(c);
	mauth_value *r;
	int temp;

	memset(&defaults, 0, sizeof defaults);
	(void)fill_alignment(c, st, &defaults, &temp);
	base_result(c, st, "none", code, problem);
	r = check_result(c);
	val_cstr(a, r, "disposition", "none");
	if (l != NULL && l->record != NULL) {
		val_cstr(a, r, "policy_domain", l->name);
		val_cstr(a, r, "record", l->record);
	}
	/* no report address: the lists are there, and empty */
	list_uris(a, r, "rua", NULL);
	list_uris(a, r, "ruf", NULL);
}

/* ---- steps ---- */

/* A lookup status's problem text, its code into *code (doc/codes.md, "DMARC"). */
static const char *status_problem(int status, const char **code)
{
	switch (status) {
	case REC_MULTI:
		*code = "multiple_records";
		return "several DMARC records published (RFC 7489 §6.6.3)";
	case REC_TOOLONG:
		*code = "record_unreadable";
		return "DMARC record too long or holds a NUL byte";
	default:
		*code = "no_record";
		return "no DMARC record published";
	}
}

/*
 * RFC 9989 §4.10.1: the policy record is the Author Domain's, else its
 * Organizational Domain's, else its Public Suffix Domain's (the psd=y
 * record the walk stopped at).  Steps 2 and 6 discard a level with
 * several records ("If multiple DMARC Policy Records are returned for a
 * single target, they are all discarded"): such a level holds none, the
 * walk goes on, and a name whose own records were discarded can still be
 * the Organizational Domain found from above.  A record over our size
 * limit is not discarded by the RFC, only unread by us: where it could
 * decide the policy or the Organizational Domain the result is "none"
 * with record_unreadable (fail closed), never a parent's policy the
 * domain did not choose.  l: the Author Domain's lookup.
 */
static const lookup *discover_tree(dmarc_state *st, const lookup *l,
				   int *temp, const char **why,
				   const char **code)
{
	const walk_result *w = &st->from_walk;
	const lookup *o;

	if (l->status == REC_ONE)
		return l;
	if (l->status == REC_TOOLONG || w->status == WALK_UNREAD) {
		*why = status_problem(REC_TOOLONG, code);
		return NULL;
	}
	if (w->status == WALK_TEMP) {
		*temp = walk_rcode(w);
		return NULL;
	}
	if (w->status != WALK_OK) {	/* the From walk is asked first */
		*temp = MAUTH_RC_SERVFAIL;
		return NULL;
	}
	o = find_lookup(st, st->from_org);
	if (o != NULL && o->status == REC_ONE)
		return o;
	if (w->psd != NULL)
		return w->psd;
	*why = status_problem(w->multi ? REC_MULTI : REC_EMPTY, code);
	if (w->multi)
		*why = "several DMARC records at one level, all discarded "
		       "(RFC 9989 §4.10 steps 2 and 6), and no single record "
		       "at the Organizational or Public Suffix Domain";
	return NULL;
}

/*
 * The lookup holding the policy record, or NULL with *why (its code in
 * *code) or, for a temperror, *temp set to the failed answer's rcode
 * (never 0: NOERROR is not temporary).
 */
static const lookup *discover(dmarc_state *st, int *temp, const char **why,
			      const char **code)
{
	const lookup *l = find_lookup(st, st->from);

	*temp = 0;
	*why = NULL;
	(void)status_problem(REC_EMPTY, code);
	if (l == NULL)
		return NULL;
	if (l->status == REC_TEMP) {
		*temp = l->rcode;
		return NULL;
	}
	if (!st->tree) {
		/* §6.6.3 steps 1-5: the org domain only when From has none. */
		if (l->status != REC_EMPTY) {
			*why = status_problem(l->status, code);
			return l->status == REC_ONE ? l : NULL;
		}
		if (strcmp(st->org, st->from) == 0) {
			*why = status_problem(REC_EMPTY, code);
			return NULL;
		}
		l = find_lookup(st, st->org);
		if (l == NULL || l->status == REC_EMPTY) {
			*why = status_problem(REC_EMPTY, code);
			return NULL;
		}
		if (l->status == REC_TEMP) {
			*temp = l->rcode;
			return NULL;
		}
		*why = status_problem(l->status, code);
		return l->status == REC_ONE ? l : NULL;
	}
	return discover_tree(st, l, temp, why, code);
}

static int records_step(mauth_check *c, dmarc_state *st)
{
	const lookup *l;
	const char *why, *code;
	int temp;
	record *rec = &st->rec;

	take_answers(c, st);
	st->walked_answers = 1;
	/* the From walk, whatever decides the org: discover_tree reads it */
	if (st->tree || st->compare)
		tree_walk(st, st->from, &st->from_walk);
	st->from_shared = shared_parent(st, st->from);
	/* psl: the org ask_all asked for (org_of at init) */
	st->from_org = st->tree ? org_of(st, st->from, &st->from_walk, 1) :
		       st->org;
	l = discover(st, &temp, &why, &code);
	if (temp) {
		base_result(c, st, "temperror", rcode_code(temp),
			    "DMARC record lookup failed");
		return 0;
	}
	if (l == NULL) {
		finish_none(c, st, code, why, NULL);
		return 0;
	}
	parse_record(check_arena(c), l->record, st->tree, rec);
	/* §6.6.3 step 6: no valid p (or a bad sp) is p=none if rua is usable. */
	if (rec->p < 0 || rec->sp == POL_INVALID) {
		if (!rec->rua_valid) {
			finish_none(c, st, rec->p == POL_ABSENT ? "no_policy" :
				    "record_syntax", rec->p == POL_ABSENT ?
				    "DMARC record has no p= tag and no valid rua=" :
				    "DMARC record has an invalid p= or sp= and no valid rua=",
				    l);
			return 0;
		}
		rec->p = POL_NONE;
		rec->sp = POL_ABSENT;
		rec->np = POL_ABSENT;
	}
	st->policy_at = l;
	if (strcmp(l->name, st->from) != 0 && rec->np >= 0) {
		st->phase = 1;
		st->exist_id[0] = check_ask(c, MAUTH_T_A, st->from);
		st->exist_id[1] = check_ask(c, MAUTH_T_AAAA, st->from);
		st->exist_id[2] = check_ask(c, MAUTH_T_MX, st->from);
		if (!st->exist_id[0] || !st->exist_id[1] || !st->exist_id[2])
			return -1;
		return 0;
	}
	finish_policy(c, st, 1);
	return 0;
}

/*
 * Whether the Author Domain exists, for np=.  RFC 7489 mode (with RFC
 * 9091 §2.1): non-existent is NXDOMAIN or NODATA for A, AAAA and MX.
 * RFC 9989 §3.2.13 and Appendix A.4: only NXDOMAIN (RFC 8020) makes a
 * name non-existent; NODATA means it exists with other types.  A failed
 * lookup proves nothing: the name is taken to exist (sp applies).
 */
static int exists_step(mauth_check *c, dmarc_state *st)
{
	int i, exists = 0, nx = 0;

	for (i = 0; i < 3; i++) {
		const mauth_answer *a = check_got(c, st->exist_id[i]);

		if (a == NULL || answer_is_temporary(a) || !ANSWER_EMPTY(a))
			exists = 1;
		else if (a->rcode == MAUTH_RC_NXDOMAIN)
			nx = 1;
	}
	if (st->tree && !nx)
		exists = 1;
	finish_policy(c, st, exists);
	return 0;
}

/* RFC 7489 §11.2: DMARC's property is header.from, the Author Domain. */
static void dmarc_finish(mauth_check *c, void *vst, mauth_value *r)
{
	(void)vst;
	authres_finish_one(c, r, "dmarc", "header", "from", "domain");
}

static int dmarc_step(mauth_check *c, void *vst)
{
	dmarc_state *st = vst;

	if (st->from == NULL)
		return 0;	/* finished in init */
	if (st->phase == 0)
		return records_step(c, st);
	return exists_step(c, st);
}

/* ---- init ---- */

static const void *load_psl(const params *p, char *err, size_t errlen)
{
	const char *path = param_get(p, "psl_file", NULL), *why;
	const void *ctx;

	if (path == NULL || path[0] == '\0')
		path = PSL_DEFAULT_FILE;
	ctx = pslcache_get(path, &why);
	if (ctx == NULL)
		snprintf(err, errlen, "psl_file: %s: %.200s", why, path);
	return ctx;
}

/*
 * A caller that read the From field and found it ambiguous passes why as
 * author_problem, with the reader's author_code (message_info's; without
 * one the code is author_ambiguous).  1 when given, 0 when not.
 */
static int read_author_problem(mauth_check *c, const params *p,
			       const char **problem, const char **code,
			       char *err, size_t errlen)
{
	size_t len, clen;
	const char *s = param_get(p, "author_problem", &len);
	const char *k = param_get(p, "author_code", &clen);

	if (s == NULL)
		return 0;
	*code = k != NULL ? author_code_find(k, clen) : "author_ambiguous";
	if (*code == NULL) {
		snprintf(err, errlen, "author_code: not an author code of doc/codes.md");
		return MAUTH_EINVAL;
	}
	*problem = len > 0 ? arena_strndup(check_arena(c), s, len < 512 ? len : 512) :
		   "the RFC5322.From author is not usable";
	return *problem != NULL ? 1 : MAUTH_ENOMEM;
}

/*
 * From domains: exactly one distinct domain is required (§6.6.1).  An
 * author_problem is a permerror whatever domains were read, so no policy
 * is ever evaluated on part of an author.
 */
static int read_from(mauth_check *c, dmarc_state *st, const params *p,
		     const char **problem, const char **code, char *err,
		     size_t errlen)
{
	arena *a = check_arena(c);
	size_t len;
	const char *s;
	long n = -1, i;
	int rc;

	*problem = NULL;
	rc = read_author_problem(c, p, problem, code, err, errlen);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (param_value(p, "from_domains") != NULL) {
		size_t count;

		param_list(p, "from_domains", &count);
		n = count > 1000000 ? 1000000 : (long)count;
	}
	if (n < 0) {
		s = param_get(p, "from", &len);
		if (s == NULL) {
			snprintf(err, errlen, "option 'from' is required (or from_domains)");
			return MAUTH_EINVAL;
		}
		st->from = domain_param(a, s, len);
		if (st->from == NULL) {
			*problem = "no usable RFC5322.From domain";
			*code = "author_bad_domain";
		}
		return 0;
	}
	if (n == 0) {
		*problem = "no RFC5322.From domain (RFC 7489 §6.6.1)";
		*code = "author_missing";
		return 0;
	}
	for (i = 1; i <= n && i <= DMARC_FROM_MAX; i++) {
		char key[48];
		char *d;

		snprintf(key, sizeof key, "from_domains.%ld", i);
		s = param_get(p, key, &len);
		d = s != NULL ? domain_param(a, s, len) : NULL;
		if (d == NULL) {
			st->from = NULL;
			*problem = "an RFC5322.From domain is not usable";
			*code = "author_bad_domain";
			return 0;
		}
		if (st->from != NULL && strcmp(st->from, d) != 0) {
			st->from = NULL;
			*problem = "several distinct RFC5322.From domains (RFC 7489 §6.6.1)";
			*code = "author_multiple_domains";
			return 0;
		}
		st->from = d;
	}
	if (n > DMARC_FROM_MAX) {
		st->from = NULL;
		*problem = "too many RFC5322.From domains";
		*code = "author_limit";
	}
	return 0;
}

/* builtin_shared, then shared_domains.1, .2, ... (at most SHARED_MAX). */
static int read_shared(mauth_check *c, dmarc_state *st, const params *p,
		       char *err, size_t errlen)
{
	size_t i, len;

	for (st->nshared = 0; st->nshared < SHARED_BUILTIN; st->nshared++)
		st->shared[st->nshared] = builtin_shared[st->nshared];
	for (i = 1;; i++) {
		char key[48];
		const char *s;
		char *d;

		snprintf(key, sizeof key, "shared_domains.%zu", i);
		s = param_get(p, key, &len);
		if (s == NULL)
			return 0;
		if (i > SHARED_MAX) {
			snprintf(err, errlen, "shared_domains: at most %d names", SHARED_MAX);
			return -1;
		}
		d = domain_param(check_arena(c), s, len);
		if (d == NULL) {
			snprintf(err, errlen, "shared_domains[%zu]: not a domain name", i);
			return -1;
		}
		st->shared[st->nshared++] = d;
	}
}

/*
 * An Organizational Domain is always a suffix of its name, so an identifier
 * that does not even share the top label with From cannot align: no walk.
 */
static int may_align(const dmarc_state *st, const char *id)
{
	return id != NULL && strcmp(id, st->from) != 0 &&
	       strcmp(last_labels(id, 1), last_labels(st->from, 1)) == 0;
}

/*
 * Step 1's questions.  PSL: the From domain and its Organizational Domain
 * (with org_domain_compare, the From walk too).  Tree: the From domain's
 * walk and the own walk of each passing identifier that may align (RFC
 * 9989 §4.10.2), all at once; each walk is at most 8 names (§4.10), and
 * all of them together at most LOOKUP_MAX: an identifier whose walk does
 * not fit is marked unwalked and aligns only by equality.
 */
static int ask_all(mauth_check *c, dmarc_state *st)
{
	size_t i;
	int rc;

	if (!st->tree) {
		walk_result unused;	/* the PSL decides: no walk */

		st->org = org_of(st, st->from, &unused, 0);
		if (ask_dmarc(c, st, st->from) < 0 || ask_dmarc(c, st, st->org) < 0)
			return MAUTH_ENOMEM;
		if (st->compare && ask_walk(c, st, st->from) < 0)
			return MAUTH_ENOMEM;
		return 0;
	}
	if (ask_walk(c, st, st->from) < 0)
		return MAUTH_ENOMEM;
	if (st->spf_result != NULL && strcmp(st->spf_result, "pass") == 0 &&
	    may_align(st, st->spf_domain)) {
		if ((rc = ask_walk(c, st, st->spf_domain)) < 0)
			return MAUTH_ENOMEM;
		st->spf_walked = rc == 0;
	}
	for (i = 0; i < st->ndkim; i++)
		if (may_align(st, st->dkim_domain[i])) {
			if ((rc = ask_walk(c, st, st->dkim_domain[i])) < 0)
				return MAUTH_ENOMEM;
			st->dkim_walked[i] = rc == 0;
		}
	return 0;
}

static int dmarc_init(mauth_check *c, void *vst, const params *p,
		      char *err, size_t errlen)
{
	dmarc_state *st = vst;
	arena *a = check_arena(c);
	const char *mode = param_get(p, "org_domain", NULL), *problem, *code;
	const mauth_value *dkim;
	size_t len, i;
	const char *s;
	int rc;

	if (mode == NULL || strcmp(mode, "psl") == 0)
		st->tree = 0;
	else if (strcmp(mode, "tree") == 0)
		st->tree = 1;
	else {
		snprintf(err, errlen, "org_domain: want \"psl\" or \"tree\"");
		return MAUTH_EINVAL;
	}
	rc = param_long(p, "pct_roll", 0, 99, &st->roll);
	if (rc < 0) {
		snprintf(err, errlen, "pct_roll: want an integer 0..99");
		return MAUTH_EINVAL;
	}
	st->have_roll = rc == 1;
	if (param_bool(p, "org_domain_compare", &st->compare) < 0) {
		snprintf(err, errlen, "org_domain_compare: want a boolean");
		return MAUTH_EINVAL;
	}
	if (st->tree && st->compare) {
		/* only for the comparison: a list that cannot be read
		 * leaves org_domain_psl out, nothing else */
		st->psl = load_psl(p, err, errlen);
		err[0] = '\0';
	}
	if (!st->tree && (st->psl = load_psl(p, err, errlen)) == NULL) {
		/* A list that cannot be read is trouble of this host, not a
		 * mistake of the caller's nor the sender's: no policy can be
		 * found without it, and another try may find it. */
		st->from = NULL;
		base_result(c, st, "temperror", "psl_unavailable", err);
		err[0] = '\0';
		return 0;
	}
	if (read_shared(c, st, p, err, errlen) < 0)
		return MAUTH_EINVAL;
	rc = read_from(c, st, p, &problem, &code, err, errlen);
	if (rc < 0)
		return rc;
	if (problem != NULL) {
		st->from = NULL;
		base_result(c, st, "permerror", code, problem);
		return 0;
	}
	s = param_get(p, "spf.result", &len);
	st->spf_result = s != NULL ? pslcache_lower(a, s, len) : NULL;
	s = param_get(p, "spf.domain", &len);
	st->spf_domain = domain_param(a, s, len);
	/* Only passing signatures can align: keep those (bounded).  The
	 * list is dkim_verify's signatures as they are. */
	dkim = param_list(p, "dkim", &len);
	for (i = 0, st->ndkim = 0; dkim != NULL && i < DMARC_DKIM_SCAN &&
	     st->ndkim < DMARC_DKIM_MAX; i++, dkim = dkim->next) {
		const mauth_value *res = mauth_value_get(dkim, "result");
		const mauth_value *dom = mauth_value_get(dkim, "domain");

		if (res == NULL || res->kind != MAUTH_V_STR ||
		    !ascii_ieq(res->str, res->len, "pass", 4))
			continue;
		st->dkim_result[st->ndkim] = "pass";
		st->dkim_domain[st->ndkim] = dom != NULL && dom->kind == MAUTH_V_STR ?
					     domain_param(a, dom->str, dom->len) : NULL;
		st->ndkim++;
	}
	return ask_all(c, st);
}

/* What dmarc_init reads: dkim and spf take results as they are. */
static const mauth_option dmarc_options[] = {
	OPT_STR("from", 0, NULL, "from_domain author_domain domain"),
	OPT_LIST("from_domains", MAUTH_V_STR, NULL, "from_domain_list authors"),
	OPT_STR("author_problem", 0, NULL, NULL),
	OPT_STR("author_code", 0, "author_ambiguous (with author_problem)", NULL),
	OPT_MAP("spf", "no SPF result", "spf_result"),
	OPT_LIST("dkim", MAUTH_V_MAP, "no DKIM result", "dkim_results signatures dkim_result"),
	OPT_WORD("org_domain", "psl tree", "psl", NULL),
	OPT_BOOL("org_domain_compare", "false"),
	OPT_STR("psl_file", 0, PSL_DEFAULT_FILE, "psl"),
	OPT_INT("pct_roll", 0, 99, "none: pct=100 only"),
	OPT_LIST("shared_domains", MAUTH_V_STR,
		 "onmicrosoft.com, onmicrosoft.us, onmicrosoft.de, partner.onmschina.cn",
		 "shared"),
	OPT_END
};

const check_vt mauth_dmarc_vt = {
	"dmarc", sizeof(dmarc_state), dmarc_init, dmarc_step, NULL,
	dmarc_finish, dmarc_options
};

/* ---- org_domain: the PSL lookup alone (pure once the list is loaded) ---- */

typedef struct {
	int done;
} org_state;

static int org_init(mauth_check *c, void *vst, const params *p,
		    char *err, size_t errlen)
{
	arena *a = check_arena(c);
	const void *psl = load_psl(p, err, errlen);
	mauth_value *r;
	const char *s, *reg;
	char *d;
	size_t len;

	(void)vst;
	if (psl == NULL) {	/* a result, as in dmarc_init */
		val_problem(a, check_result(c), "psl_unavailable", err);
		err[0] = '\0';
		return 0;
	}
	s = param_get(p, "domain", &len);
	if (s == NULL) {
		snprintf(err, errlen, "domain: required");
		return MAUTH_EINVAL;
	}
	d = memchr(s, '\0', len) == NULL && len <= 1024 ?
	    pslcache_lower(a, s, len) : NULL;
	r = check_result(c);
	if (d == NULL)
		return 0;
	val_cstr(a, r, "domain", d);
	reg = pslcache_registrable(psl, d);
	if (reg != NULL) {
		val_cstr(a, r, "registrable", reg);
		val_cstr(a, r, "org_domain", reg);
	} else if (d[0] != '.' && strstr(d, "..") == NULL && d[0] != '\0') {
		/* A public suffix is its own Organizational Domain. */
		val_cstr(a, r, "org_domain", d);
	}
	return 0;
}

static const mauth_option org_options[] = {
	OPT_STR("domain", 1, NULL, "name"),
	OPT_STR("psl_file", 0, PSL_DEFAULT_FILE, "psl"),
	OPT_END
};

const check_vt mauth_org_domain_vt = {
	"org_domain", sizeof(org_state), org_init, check_step_none, NULL, NULL,
	org_options
};
