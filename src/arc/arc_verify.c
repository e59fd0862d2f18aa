/*
 * arc_verify.c - Authenticated Received Chain validation (RFC 8617 §5.2).
 *
 * As with DKIM, everything that needs the message happens in init():
 * the ARC header fields are collected and parsed, the chain structure is
 * checked (§4.2.2: sets i=1..N, one field of each kind per set, N <= 50;
 * §5.2 step 2: the newest seal's cv=), and every AMS and AS digest is
 * computed.  Then the keys of all AMS and AS selectors are asked in one
 * step, and step() only checks signatures and decides:
 *
 *   none   no ARC header field at all
 *   pass   structure sound, cv= values right (i=1 none, later pass),
 *          the newest AMS and every AS validate
 *   fail   anything else (problem says what); older AMS failures are
 *          recorded in the chain and in oldest_pass (§5.2 step 5), not fatal
 *
 * Result: { result, instances, chain = { { instance, domain, selector, cv,
 * seal_result, ams_result, ams_domain, ams_selector,
 * authentication_results, seal_problem, ams_problem, aar_problem,
 * ams_headers, ams_unsigned_headers, ams_body_length,
 * ams_unsigned_body_bytes, ams_timestamp }, ... oldest first },
 * oldest_pass (with pass), problem }.
 *
 * authentication_results is the AAR value, whole: one longer than
 * AAR_TEXT_MAX (65536 bytes, authres.c's AUTHRES_MAX_LEN, so whatever the
 * parser can read is reported) is not reported at all and the entry gets
 * aar_problem instead.  A cut copy would be worse than none: cut inside
 * "header.d=contoso.com.attacker.example" it reads "header.d=contoso.com".
 *
 * What a trust policy needs about the AMS's coverage, with DKIM's meaning
 * (dkim_verify.c, note_unsigned; RFC 6376 §8.15): ams_headers, the h= names
 * lower-cased in order; ams_unsigned_headers, "from, subject", the signed
 * names that occur more often in the message than h= covers (an added
 * copy nobody signed), absent when none; ams_body_length (l=) and
 * ams_unsigned_body_bytes (canonical body bytes past l=) when l= is there;
 * ams_timestamp (t=) when present.  These are reported for every set that
 * has a readable h=, also when the chain fails.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/internal.h"
#include "core/message.h"
#include "core/tags.h"
#include "core/canon.h"
#include "core/crypto.h"
#include "dkim/dkim.h"
#include "authres/authres.h"

#define ARC_MAX_INSTANCES 50	/* RFC 8617 §4.2.1 */
#define ARC_MAX_FIELDS 150	/* 3 * ARC_MAX_INSTANCES */
#define ARC_MAX_BODIES 4	/* distinct (c=, l=) body hashes computed */
#define MIN_KEY_BITS 1024	/* RFC 8301 §3.2 */
#define PROBLEM_MAX 300
#define AAR_TEXT_MAX 65536	/* bytes of an AAR value reported, or none */

enum { CV_BAD = 0, CV_NONE, CV_PASS, CV_FAIL };

/* One signature (AMS or AS) of a set. */
typedef struct {
	const char *result;		/* NULL while undecided */
	char problem[PROBLEM_MAX];
	char *domain, *selector;
	int alg, keytype;
	unsigned char digest[HASH_MAX];
	size_t dlen;
	unsigned char *b;
	size_t blen;
	const char *bh_fail, *bh_code;	/* body hash problem, its code */
	const char *code;		/* the problem's (doc/codes.md) */
	unsigned qid;
	size_t b_from, b_to;		/* b= value in the raw field */
	int key_bits;
	long long t;			/* t=, when has_t */
	int has_t;
} arc_sig;

typedef struct {
	const msg_field *aar, *ams, *as;	/* valid during init only */
	int cv;
	char *aar_text;
	int aar_over;			/* longer than AAR_TEXT_MAX: not kept */
	char *unsigned_fields;		/* "from, subject", or NULL */
	unsigned long long body_total;	/* canonical body bytes, with l= */
	int have_total;
	arc_sig ams_sig, as_sig;
	/* AMS only */
	char **h;
	size_t nh;
	int hc, bc;
	long long l;
	unsigned char bh[HASH_MAX];
} arc_set;

typedef struct {
	arc_set *set;			/* set[0] is instance 1 */
	size_t n;
	long long now;
	long min_bits;
	const char *result;
	const char *code;		/* the problem's (doc/codes.md) */
	char problem[PROBLEM_MAX];
	int oldest_pass;
} arc_state;

/* Decides s (the first decision stays); code is a word of doc/codes.md. */
static void sig_decide(arc_sig *s, const char *result, const char *code,
		       const char *fmt, const char *arg)
{
	if (s->result != NULL)
		return;
	s->result = result;
	s->code = code;
	if (fmt != NULL)
		snprintf(s->problem, sizeof s->problem, fmt, arg ? arg : "");
}

/* Fails the chain (the first reason stays), with its code. */
static void chain_fail(arc_state *st, const char *code, const char *fmt,
		       long a, const char *b)
{
	if (st->result != NULL)
		return;
	st->result = "fail";
	st->code = code;
	snprintf(st->problem, sizeof st->problem, fmt, a, b ? b : "");
}

/* An instance number 1..50 from text, or 0. */
static int instance_of(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	if (!is_digits(s, n) || n > 2)
		return 0;
	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v >= 1 && v <= ARC_MAX_INSTANCES ? v : 0;
}

static int is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The instance of an AAR: "i=" N ";" first (RFC 8617 §4.1.1), or 0. */
static int aar_instance(const msg_field *f)
{
	const char *s = f->value;
	size_t n = f->vlen, i = 0, d;

	while (i < n && is_fws(s[i]))
		i++;
	if (i + 1 >= n || s[i] != 'i')
		return 0;
	for (i++; i < n && is_fws(s[i]); i++)
		;
	if (i >= n || s[i] != '=')
		return 0;
	for (i++; i < n && is_fws(s[i]); i++)
		;
	for (d = i; d < n && s[d] >= '0' && s[d] <= '9'; d++)
		;
	{
		int v = instance_of(s + i, d - i);

		for (i = d; i < n && is_fws(s[i]); i++)
			;
		return i < n && s[i] == ';' ? v : 0;
	}
}

/* The i= of an AMS/AS, or 0 when missing or not 1..50. */
static int sig_instance(const msg_field *f)
{
	tag_list tl;
	const tag *t;
	const char *why;

	if (tags_parse(f->value, f->vlen, &tl, &why) != 0)
		return 0;
	t = tags_get(&tl, "i");
	return t == NULL ? 0 : instance_of(t->val, t->vlen);
}

/* t= and x= of an AMS/AS: timestamps, x= not past (RFC 6376 §3.5). */
static int read_times(const arc_state *st, const tag_list *tl, arc_sig *s)
{
	const tag *t;
	long long ts = -1;

	if ((t = tags_get(tl, "t")) != NULL) {
		if ((ts = tag_number(t, 18)) < 0) {
			sig_decide(s, "permerror", "tag_malformed",
				   "t= is not a timestamp%s", "");
			return 0;
		}
		s->t = ts;
		s->has_t = 1;
	}
	if ((t = tags_get(tl, "x")) != NULL) {
		long long x;

		if ((x = tag_number(t, 18)) < 0) {
			sig_decide(s, "permerror", "tag_malformed",
				   "x= is not a timestamp%s", "");
			return 0;
		}
		if ((ts >= 0 && x < ts) || (st->now >= 0 && x < st->now)) {
			sig_decide(s, "permerror", "expired",
				   "signature expired (x=)%s", "");
			return 0;
		}
	}
	return 0;
}

/* The tag list of an AMS/AS; 1 with s decided when it is not one. */
static int read_tags(const msg_field *f, tag_list *tl, arc_sig *s)
{
	const char *why = NULL;

	if (tags_parse(f->value, f->vlen, tl, &why) == 0)
		return 0;
	sig_decide(s, "permerror", "signature_syntax", "syntax error: %s", why);
	return 1;
}

/*
 * The tags AMS and AS share: a=, b=, d=, s=, t=, x=.  Returns 0 (s->result
 * set when unusable) or -1 on ENOMEM.
 */
static int parse_common(arena *a, const arc_state *st, const msg_field *f,
			const tag_list *tl, arc_sig *s)
{
	const tag *t;

	if ((t = tags_get(tl, "d")) != NULL && (s->domain = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "s")) != NULL && (s->selector = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "a")) == NULL) {
		sig_decide(s, "permerror", "tag_missing", "no a= tag%s", "");
		return 0;
	}
	/* RFC 8617 §4.1.3 names rsa-sha256; Ed25519 (RFC 8463) is used too. */
	if (t->vlen == 10 && memcmp(t->val, "rsa-sha256", 10) == 0) {
		s->alg = HASH_SHA256;
		s->keytype = KEY_RSA;
	} else if (t->vlen == 14 && memcmp(t->val, "ed25519-sha256", 14) == 0) {
		s->alg = HASH_SHA256;
		s->keytype = KEY_ED25519;
	} else {
		sig_decide(s, "permerror", "algorithm_unsupported",
			   "unsupported algorithm a=%s", "");
		return 0;
	}
	if ((t = tags_get(tl, "b")) == NULL) {
		sig_decide(s, "permerror", "tag_missing", "no b= tag%s", "");
		return 0;
	}
	s->b_from = (size_t)(f->value - f->raw) + t->raw_start;
	s->b_to = (size_t)(f->value - f->raw) + t->raw_end;
	s->b = arena_alloc(a, t->vlen + 3);
	if (s->b == NULL)
		return -1;
	s->blen = b64_decode(t->val, t->vlen, s->b);
	if (s->blen == (size_t)-1 || s->blen == 0 || s->blen > SIG_MAX) {
		sig_decide(s, "permerror", "tag_malformed",
			   "b= is empty or not base64%s", "");
		return 0;
	}
	if (s->domain == NULL || !name_is_valid(s->domain, strlen(s->domain)) ||
	    strchr(s->domain, '\\') != NULL || strchr(s->domain, '.') == NULL) {
		sig_decide(s, "permerror", s->domain == NULL ? "tag_missing" :
			   "tag_malformed", "d= is missing or not a domain "
			   "name%s", "");
		return 0;
	}
	if (s->selector == NULL || s->selector[0] == '\0' ||
	    !name_is_valid(s->selector, strlen(s->selector)) ||
	    strchr(s->selector, '\\') != NULL) {
		sig_decide(s, "permerror", s->selector == NULL ? "tag_missing" :
			   "tag_malformed", "s= is missing or not a "
			   "selector%s", "");
		return 0;
	}
	return read_times(st, tl, s);
}

/* bh= of an AMS: a base64 SHA-256 hash (RFC 8617 §4.1.2, as DKIM's). */
static int read_ams_bh(const tag_list *tl, arc_set *set)
{
	arc_sig *s = &set->ams_sig;
	unsigned char bh[HASH_MAX * 2 + 3];
	const tag *t = tags_get(tl, "bh");
	size_t n;

	if (t == NULL) {
		sig_decide(s, "permerror", "tag_missing", "no bh= tag%s", "");
		return 1;
	}
	n = t->vlen < (size_t)HASH_MAX * 2 ? b64_decode(t->val, t->vlen, bh)
					   : (size_t)-1;
	if (n != crypto_hash_len(s->alg)) {
		sig_decide(s, "permerror", "tag_malformed",
			   "bh= is not a base64 SHA-256 hash%s", "");
		return 1;
	}
	memcpy(set->bh, bh, n);
	return 0;
}

/*
 * c= of an AMS.  None: relaxed/relaxed, as dkimpy and the ValiMail suite
 * (ams_fields_c_na) take it; RFC 8617 is silent, RFC 6376 would say
 * simple/simple.  ARC signers write c= in practice.
 */
static int read_ams_canon(const tag_list *tl, arc_set *set)
{
	const tag *t = tags_get(tl, "c");
	const char *c, *slash;
	size_t hl, bl;
	int ok = 1;

	set->hc = set->bc = CANON_RELAXED;
	if (t == NULL)
		return 0;
	set->hc = set->bc = CANON_SIMPLE;
	c = t->val;
	slash = memchr(c, '/', t->vlen);
	hl = slash ? (size_t)(slash - c) : t->vlen;
	bl = slash ? t->vlen - hl - 1 : 0;
	if (hl == 7 && memcmp(c, "relaxed", 7) == 0)
		set->hc = CANON_RELAXED;
	else if (!(hl == 6 && memcmp(c, "simple", 6) == 0))
		ok = 0;
	if (slash != NULL) {
		if (bl == 7 && memcmp(slash + 1, "relaxed", 7) == 0)
			set->bc = CANON_RELAXED;
		else if (!(bl == 6 && memcmp(slash + 1, "simple", 6) == 0))
			ok = 0;
	}
	if (ok)
		return 0;
	sig_decide(&set->ams_sig, "permerror", "canonicalization_unsupported",
		   "unsupported canonicalization c=%s", "");
	return 1;
}

/* h= of an AMS, split in place into set->h; never ARC-Seal (§4.1.2). */
static int read_ams_headers(arena *a, const tag_list *tl, arc_set *set)
{
	arc_sig *s = &set->ams_sig;
	const tag *t = tags_get(tl, "h");
	char *hv, *p;
	size_t n, i;

	if (t == NULL) {
		sig_decide(s, "permerror", "tag_missing", "no h= tag%s", "");
		return 1;
	}
	if ((hv = tag_dup(a, t)) == NULL)
		return -1;
	n = hv[0] ? 1 : 0;
	for (p = hv; *p; p++)
		n += *p == ':';
	if (n > DKIM_MAX_H) {
		sig_decide(s, "permerror", "header_limit",
			   "h= names too many fields%s", "");
		return 1;
	}
	set->h = arena_alloc(a, (n ? n : 1) * sizeof *set->h);
	if (set->h == NULL)
		return -1;
	for (i = 0, p = hv; i < n; i++) {
		char *e = strchr(p, ':');

		if (e != NULL)
			*e = '\0';
		/* "a::b": an empty name signs nothing (ams_fields_h_mis_hdr). */
		if (*p != '\0' && !msg_name_ok(p, strlen(p))) {
			sig_decide(s, "permerror", "tag_malformed",
				   "h= is not a list of field names%s", "");
			return 1;
		}
		if (ascii_ieq(p, strlen(p), "ARC-Seal", 8)) {
			sig_decide(s, "permerror", "arc_seal_signed",
				   "h= includes ARC-Seal%s", "");
			return 1;
		}
		set->h[i] = p;
		p = e ? e + 1 : p + strlen(p);
	}
	set->nh = n;
	return 0;
}

static int parse_ams(arena *a, const arc_state *st, arc_set *set)
{
	const msg_field *f = set->ams;
	arc_sig *s = &set->ams_sig;
	tag_list tl;
	const tag *t;
	int rc;

	set->l = -1;
	if (read_tags(f, &tl, s) != 0)
		return 0;
	if (parse_common(a, st, f, &tl, s) != 0)
		return -1;
	if (s->result != NULL || read_ams_bh(&tl, set) != 0 ||
	    read_ams_canon(&tl, set) != 0)
		return 0;
	if ((t = tags_get(&tl, "l")) != NULL &&
	    (set->l = tag_number(t, 18)) < 0) {
		sig_decide(s, "permerror", "tag_malformed", "l= is not a length%s",
			   "");
		return 0;
	}
	rc = read_ams_headers(a, &tl, set);
	return rc < 0 ? -1 : 0;
}

static int parse_as(arena *a, const arc_state *st, arc_set *set)
{
	const msg_field *f = set->as;
	arc_sig *s = &set->as_sig;
	tag_list tl;
	const tag *t;

	set->cv = CV_BAD;
	if (read_tags(f, &tl, s) != 0)
		return 0;
	if ((t = tags_get(&tl, "cv")) != NULL) {
		if (t->vlen == 4 && memcmp(t->val, "none", 4) == 0)
			set->cv = CV_NONE;
		else if (t->vlen == 4 && memcmp(t->val, "pass", 4) == 0)
			set->cv = CV_PASS;
		else if (t->vlen == 4 && memcmp(t->val, "fail", 4) == 0)
			set->cv = CV_FAIL;
	}
	if (parse_common(a, st, f, &tl, s) != 0)
		return -1;
	if (set->cv == CV_BAD)
		sig_decide(s, "permerror", "arc_cv_invalid",
			   "cv= missing or not none/pass/fail%s", "");
	/* §4.1.3: the seal's coverage is fixed; an h= tag is an error. */
	if (tags_get(&tl, "h") != NULL)
		sig_decide(s, "permerror", "arc_seal_has_h",
			   "h= is not allowed in ARC-Seal%s", "");
	return 0;
}

typedef struct {
	int relaxed;
	long long l;
	unsigned char digest[HASH_MAX];
	unsigned long long total;
} body_hash;

/* The AMS body hash check, each distinct (c=, l=) computed once. */
static int ams_body(const msg *m, arc_set *set, body_hash *bh, size_t *nb)
{
	size_t j;

	for (j = 0; j < *nb; j++)
		if (bh[j].relaxed == set->bc && bh[j].l == set->l)
			break;
	if (j == *nb) {
		canon_body_state cb;

		if (*nb == ARC_MAX_BODIES) {
			sig_decide(&set->ams_sig, "permerror", "body_hash_limit",
				   "not checked: too many distinct body "
				   "hashes%s", "");
			return 0;
		}
		memset(&cb, 0, CANON_BODY_CLEAR);
		cb.relaxed = set->bc;
		cb.limit = set->l >= 0 ? (unsigned long long)set->l : CANON_NO_LIMIT;
		cb.h = crypto_hash_new(HASH_SHA256);
		if (cb.h == NULL)
			return -1;
		canon_body(&cb, m->body, m->body_len);
		bh[j].relaxed = set->bc;
		bh[j].l = set->l;
		bh[j].total = cb.total;
		crypto_hash_final(cb.h, bh[j].digest);
		crypto_hash_free(cb.h);
		(*nb)++;
	}
	set->body_total = bh[j].total;
	set->have_total = 1;
	set->ams_sig.bh_fail = dkim_body_mismatch(set->l, bh[j].total, set->bh,
						  bh[j].digest, 32,
						  &set->ams_sig.bh_code);
	return 0;
}

static int ams_digest(const msg *m, arc_set *set, unsigned char *used)
{
	crypto_hash *h = crypto_hash_new(set->ams_sig.alg);
	size_t lens[DKIM_MAX_H], i;
	const msg_field *f = set->ams;

	if (h == NULL)
		return -1;
	for (i = 0; i < set->nh; i++)
		lens[i] = strlen(set->h[i]);
	dkim_hash_fields(m, (const char *const *)set->h, lens, set->nh, set->hc,
			 used, h);
	canon_header(set->hc, f->raw, f->len, f->nlen, set->ams_sig.b_from,
		     set->ams_sig.b_to, 0, h);
	set->ams_sig.dlen = crypto_hash_final(h, set->ams_sig.digest);
	crypto_hash_free(h);
	return set->ams_sig.dlen > 0 ? 0 : -1;
}

/* §5.1.1 / §5.2: AS(k) signs sets 1..k, each AAR, AMS, AS, relaxed. */
static int as_digest(arc_state *st, size_t k)
{
	arc_sig *s = &st->set[k].as_sig;
	crypto_hash *h = crypto_hash_new(s->alg);
	size_t j;

	if (h == NULL)
		return -1;
	for (j = 0; j <= k; j++) {
		const arc_set *x = &st->set[j];

		canon_header(1, x->aar->raw, x->aar->len, x->aar->nlen, 0, 0, 1, h);
		canon_header(1, x->ams->raw, x->ams->len, x->ams->nlen, 0, 0, 1, h);
		if (j < k)
			canon_header(1, x->as->raw, x->as->len, x->as->nlen, 0, 0, 1, h);
		else
			canon_header(1, x->as->raw, x->as->len, x->as->nlen,
				     s->b_from, s->b_to, 0, h);
	}
	s->dlen = crypto_hash_final(h, s->digest);
	crypto_hash_free(h);
	return s->dlen > 0 ? 0 : -1;
}

/* Asks for the key of s, sharing one question per name. */
static int ask_key(mauth_check *c, arc_sig *s, char (*names)[RECORD_NAME_SIZE],
		   unsigned *ids, size_t *nq)
{
	char name[RECORD_NAME_SIZE];
	size_t i;
	int n = record_name(name, s->selector, "_domainkey", s->domain);

	if (n < 0) {
		sig_decide(s, "permerror", "key_name_invalid",
			   "key name <s>._domainkey.<d> %s", record_name_problem(n));
		return 0;
	}
	for (i = 0; i < *nq; i++)
		if (strcmp(names[i], name) == 0) {
			s->qid = ids[i];
			return 0;
		}
	s->qid = check_ask(c, MAUTH_T_TXT, name);
	if (s->qid == 0)
		return -1;
	memcpy(names[*nq], name, (size_t)n + 1);
	ids[(*nq)++] = s->qid;
	return 0;
}

/* The AAR value without surrounding FWS; 0 with aar_over when too long. */
static int aar_copy(arena *a, arc_set *set)
{
	const char *s = set->aar->value;
	size_t n = set->aar->vlen;

	while (n > 0 && is_fws(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_fws(s[n - 1]))
		n--;
	if (n > AAR_TEXT_MAX) {
		set->aar_over = 1;
		return 0;
	}
	set->aar_text = arena_strndup(a, s, n);
	return set->aar_text != NULL ? 0 : -1;
}

/*
 * ams_unsigned_headers: each h= name (once) that the message holds more
 * often than h= lists it, lower-cased, ", "-joined; as dkim_verify.c's
 * note_unsigned, but sized to the names so that nothing is cut.
 */
static int note_ams_unsigned(arena *a, const msg *m, arc_set *set)
{
	size_t i, j, cap = 1, len = 0;
	char *list;

	for (i = 0; i < set->nh; i++)
		cap += strlen(set->h[i]) + 2;
	list = arena_alloc(a, cap);
	if (list == NULL)
		return -1;
	for (i = 0; i < set->nh; i++) {
		size_t nl = strlen(set->h[i]), in_h = 0, k;
		int seen = 0;

		if (nl == 0)
			continue;
		for (j = 0; j < i; j++)
			seen |= ascii_ieq(set->h[j], strlen(set->h[j]), set->h[i], nl);
		if (seen)
			continue;
		for (j = i; j < set->nh; j++)
			in_h += ascii_ieq(set->h[j], strlen(set->h[j]), set->h[i], nl);
		if (msg_count(m, set->h[i], nl) <= in_h)
			continue;
		if (len > 0) {
			memcpy(list + len, ", ", 2);
			len += 2;
		}
		for (k = 0; k < nl; k++) {
			char c = set->h[i][k];

			list[len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	}
	list[len] = '\0';
	if (len > 0)
		set->unsigned_fields = list;
	return 0;
}

static const char *const field_kinds[3] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"
};

/* Which ARC field f is (0 AAR, 1 AMS, 2 AS, -1 none) and its instance. */
static int field_kind(const msg_field *f, int *inst)
{
	if (msg_field_is(f, "ARC-Authentication-Results", 26)) {
		*inst = aar_instance(f);
		return 0;
	}
	if (msg_field_is(f, "ARC-Message-Signature", 21)) {
		*inst = sig_instance(f);
		return 1;
	}
	if (msg_field_is(f, "ARC-Seal", 8)) {
		*inst = sig_instance(f);
		return 2;
	}
	return -1;
}

/*
 * Sets 1..top for the report, even when the structure is broken: each
 * field read, the AMS's coverage noted; an incomplete set fails the chain
 * (§4.2.2: sets 1..N, each with all three fields).
 */
static int build_sets(arena *a, arc_state *st, const msg *m,
		      const msg_field *slot[3][ARC_MAX_INSTANCES + 1], int top)
{
	int k;

	st->n = (size_t)top;
	st->set = arena_alloc(a, (st->n ? st->n : 1) * sizeof *st->set);
	if (st->set == NULL)
		return -1;
	for (k = 1; k <= top; k++) {
		arc_set *set = &st->set[k - 1];

		set->aar = slot[0][k];
		set->ams = slot[1][k];
		set->as = slot[2][k];
		if (set->aar != NULL && aar_copy(a, set) != 0)
			return -1;
		if (set->ams != NULL && parse_ams(a, st, set) != 0)
			return -1;
		if (set->h != NULL && note_ams_unsigned(a, m, set) != 0)
			return -1;
		if (set->as != NULL && parse_as(a, st, set) != 0)
			return -1;
		if (set->aar == NULL || set->ams == NULL || set->as == NULL)
			chain_fail(st, set->aar == NULL && set->ams == NULL &&
				   set->as == NULL ? "arc_instance_gap" :
				   "arc_set_incomplete",
				   "ARC set %ld is incomplete (missing %s)", k,
				   set->aar == NULL ? field_kinds[0] :
				   set->ams == NULL ? field_kinds[1] :
				   field_kinds[2]);
	}
	return 0;
}

/* Collects the sets; 0 with st->result set on a structural fault. */
static int collect(arena *a, arc_state *st, const msg *m, int *ok)
{
	const msg_field *slot[3][ARC_MAX_INSTANCES + 1];
	size_t i, nf = 0;
	int top = 0;

	*ok = 0;
	memset(slot, 0, sizeof slot);
	for (i = 0; i < m->n; i++) {
		const msg_field *f = &m->f[i];
		int inst = 0, kind = field_kind(f, &inst);

		if (kind < 0)
			continue;
		if (++nf > ARC_MAX_FIELDS) {
			st->result = "fail";
			st->code = "arc_field_limit";
			snprintf(st->problem, sizeof st->problem,
				 "more than %d ARC header fields", ARC_MAX_FIELDS);
			return 0;
		}
		if (inst == 0) {
			chain_fail(st, "arc_instance_invalid", "ARC field #%ld (%s) "
				   "has no valid i= (1..50)", (long)nf,
				   field_kinds[kind]);
			continue;
		}
		if (slot[kind][inst] != NULL) {
			chain_fail(st, "arc_instance_duplicate", "two ARC fields "
				   "for instance %ld (%s)", inst, field_kinds[kind]);
			continue;
		}
		slot[kind][inst] = f;
		if (inst > top)
			top = inst;
	}
	if (nf == 0) {
		st->result = "none";
		return 0;
	}
	if (build_sets(a, st, m, slot, top) != 0)
		return -1;
	if (st->result == NULL)
		*ok = 1;
	return 0;
}

/* §5.2 steps 2 and 3: the cv= values the chain must have; 0 when right. */
static int check_cv(arc_state *st)
{
	size_t k;

	/* Step 2: a chain its newest sealer called failed stays failed. */
	if (st->set[st->n - 1].cv == CV_FAIL) {
		chain_fail(st, "arc_chain_failed", "ARC-Seal i=%ld says cv=fail%s",
			   (long)st->n, NULL);
		return -1;
	}
	/* Step 3 / §4.1.3: cv= of i=1 is none, of later sets pass. */
	for (k = 0; k < st->n; k++) {
		int want = k == 0 ? CV_NONE : CV_PASS;

		if (st->set[k].cv != want && st->set[k].as_sig.result == NULL) {
			chain_fail(st, "arc_cv_invalid", "ARC-Seal i=%ld: cv= must "
				   "be %s", (long)k + 1, k == 0 ? "none" : "pass");
			return -1;
		}
	}
	return 0;
}

/* Every AMS and AS digest, and one key question per distinct name. */
static int hash_and_ask(mauth_check *c, arc_state *st, const msg *m,
			body_hash *bh, size_t *nb)
{
	unsigned char *used = malloc(m->n ? m->n : 1);
	char (*names)[RECORD_NAME_SIZE] = malloc((2 * st->n + 1) * sizeof *names);
	unsigned *ids = malloc((2 * st->n + 1) * sizeof *ids);
	size_t k, nq = 0;
	int rc = used && names && ids ? 0 : -1;

	for (k = 0; rc == 0 && k < st->n; k++) {
		arc_set *set = &st->set[k];

		if (set->ams_sig.result == NULL &&
		    (ams_body(m, set, bh, nb) != 0 ||
		     (set->ams_sig.result == NULL && ams_digest(m, set, used) != 0) ||
		     (set->ams_sig.result == NULL &&
		      ask_key(c, &set->ams_sig, names, ids, &nq) != 0)))
			rc = -1;
		if (rc == 0 && set->as_sig.result == NULL &&
		    (as_digest(st, k) != 0 ||
		     ask_key(c, &set->as_sig, names, ids, &nq) != 0))
			rc = -1;
	}
	free(used);
	free(names);
	free(ids);
	return rc;
}

static int arc_init(mauth_check *c, void *vst, const params *p,
		    char *err, size_t errlen)
{
	arc_state *st = vst;
	arena *a = check_arena(c);
	size_t k, nb = 0;
	body_hash bh[ARC_MAX_BODIES];
	int ok, rc = 0;
	msg m;

	if (dkim_verify_opts(p, &st->now, &st->min_bits, err, errlen) < 0)
		return MAUTH_EINVAL;
	ok = check_message(c, p, &m, err, errlen);	/* the one read of the message */
	if (ok < 0)
		return ok;
	if (collect(a, st, &m, &ok) != 0)
		return MAUTH_ENOMEM;
	/*
	 * ams_unsigned_body_bytes needs the body length under each AMS with
	 * l=, whatever becomes of the chain (a policy may read older sets).
	 */
	for (k = 0; k < st->n; k++)
		if (st->set[k].ams != NULL && st->set[k].h != NULL &&
		    st->set[k].l >= 0 && st->set[k].ams_sig.result == NULL &&
		    ams_body(&m, &st->set[k], bh, &nb) != 0)
			return MAUTH_ENOMEM;
	if (ok && m.truncated) {
		st->result = "fail";
		st->code = "message_limit";
		snprintf(st->problem, sizeof st->problem, "message: %s", m.problem);
	} else if (ok && check_cv(st) == 0 &&
		   hash_and_ask(c, st, &m, bh, &nb) != 0) {
		rc = MAUTH_ENOMEM;
	}
	/* The message is the caller's again after init. */
	for (k = 0; k < st->n; k++)
		st->set[k].aar = st->set[k].ams = st->set[k].as = NULL;
	return rc;
}

/* Checks s with its key, body hash and signature (dkim_key_judge). */
static void check_sig(mauth_check *c, const arc_state *st, arc_sig *s)
{
	/* ARC signatures have no i= identity: no t=s check */
	const dkim_key_need need = { .keytype = s->keytype, .alg = s->alg,
		.domain = s->domain, .identity = NULL, .min_bits = st->min_bits };
	const dkim_signed sd = { .alg = s->alg, .digest = s->digest,
		.dlen = s->dlen, .sig = s->b, .slen = s->blen,
		.bh_fail = s->bh_fail, .bh_code = s->bh_code };
	dkim_key k;

	if (s->result != NULL || s->qid == 0)
		return;
	dkim_key_judge(check_got(c, s->qid), &need, &sd, &k);
	s->key_bits = k.bits;
	if (strcmp(k.result, "pass") != 0)
		sig_decide(s, k.result, k.code, "%s", k.problem);
	else
		sig_decide(s, "pass", NULL, NULL, NULL);
}

static void put_set(arena *a, mauth_value *list, const arc_set *set, size_t k)
{
	mauth_value *e = val_add(a, list, NULL, MAUTH_V_MAP);
	static const char *const cv_names[] = { NULL, "none", "pass", "fail" };

	val_int(a, e, "instance", (long long)k + 1);
	val_cstr(a, e, "domain", set->as_sig.domain);
	val_cstr(a, e, "selector", set->as_sig.selector);
	val_cstr(a, e, "cv", cv_names[set->cv]);
	val_cstr(a, e, "seal_result", set->as_sig.result);
	if (set->as_sig.problem[0]) {
		val_cstr(a, e, "seal_problem", set->as_sig.problem);
		val_cstr(a, e, "seal_code", set->as_sig.code);
	}
	val_cstr(a, e, "ams_result", set->ams_sig.result);
	val_cstr(a, e, "ams_domain", set->ams_sig.domain);
	val_cstr(a, e, "ams_selector", set->ams_sig.selector);
	if (set->ams_sig.problem[0]) {
		val_cstr(a, e, "ams_problem", set->ams_sig.problem);
		val_cstr(a, e, "ams_code", set->ams_sig.code);
	}
	val_cstr(a, e, "authentication_results", set->aar_text);
	if (set->aar_over) {
		char why[96];

		snprintf(why, sizeof why, "ARC-Authentication-Results i=%ld is "
			 "over the %d-byte limit", (long)k + 1, AAR_TEXT_MAX);
		val_cstr(a, e, "aar_problem", why);
		VAL_LITERAL(a, e, "aar_code", "arc_aar_too_long");
	}
	if (set->h != NULL) {
		mauth_value *hl = val_add(a, e, "ams_headers", MAUTH_V_LIST);
		size_t i;

		for (i = 0; hl != NULL && i < set->nh; i++) {
			size_t nl = strlen(set->h[i]), j;
			char *low;

			if (nl == 0)
				continue;	/* "a::b": signs nothing */
			low = arena_strndup(a, set->h[i], nl);
			if (low == NULL)
				break;
			for (j = 0; j < nl; j++)
				if (low[j] >= 'A' && low[j] <= 'Z')
					low[j] = (char)(low[j] + 32);
			val_cstr(a, hl, NULL, low);
		}
		val_cstr(a, e, "ams_unsigned_headers", set->unsigned_fields);
	}
	if (set->l >= 0 && set->h != NULL) {
		val_int(a, e, "ams_body_length", set->l);
		if (set->have_total && set->body_total >= (unsigned long long)set->l)
			val_int(a, e, "ams_unsigned_body_bytes",
				(long long)(set->body_total -
					    (unsigned long long)set->l));
	}
	if (set->ams_sig.has_t)
		val_int(a, e, "ams_timestamp", set->ams_sig.t);
}

/* RFC 8617 §7.2: ARC's property is header.oldest-pass (§5.2 step 5). */
static void arc_finish(mauth_check *c, void *vst, mauth_value *r)
{
	arena *a = check_arena(c);
	const mauth_value *oldest = mauth_value_get(r, "oldest_pass");
	mauth_value *props = authres_begin(a, r, "arc");

	(void)vst;
	if (oldest != NULL && oldest->kind == MAUTH_V_INT)
		authres_prop_int(a, props, "header", "oldest-pass", oldest->num);
}

static int arc_step(mauth_check *c, void *vst)
{
	arc_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *r, *list;
	size_t k;

	if (st->result == NULL) {
		for (k = 0; k < st->n; k++) {
			check_sig(c, st, &st->set[k].ams_sig);
			check_sig(c, st, &st->set[k].as_sig);
		}
		/* §5.2 step 4: the newest AMS must validate. */
		k = st->n - 1;
		if (strcmp(st->set[k].ams_sig.result, "pass") != 0)
			chain_fail(st, "arc_ams_failed",
				   "ARC-Message-Signature i=%ld: %.200s", (long)k + 1,
				   st->set[k].ams_sig.problem);
		/* Step 5: oldest-pass, the oldest AMS that still validates. */
		st->oldest_pass = 0;
		for (k = st->n - 1; k-- > 0;)
			if (strcmp(st->set[k].ams_sig.result, "pass") != 0) {
				st->oldest_pass = (int)k + 2;
				break;
			}
		/* Step 6: every seal, newest first. */
		for (k = st->n; k-- > 0;)
			if (strcmp(st->set[k].as_sig.result, "pass") != 0)
				chain_fail(st, "arc_seal_failed",
					   "ARC-Seal i=%ld: %.200s", (long)k + 1,
					   st->set[k].as_sig.problem);
		if (st->result == NULL)
			st->result = "pass";
	}
	r = check_result(c);
	val_cstr(a, r, "result", st->result);
	val_int(a, r, "instances", (long long)st->n);
	list = val_add(a, r, "chain", MAUTH_V_LIST);
	for (k = 0; k < st->n; k++)
		put_set(a, list, &st->set[k], k);
	if (strcmp(st->result, "pass") == 0)
		val_int(a, r, "oldest_pass", st->oldest_pass);
	if (st->problem[0])
		val_problem(a, r, st->code, st->problem);
	return 0;
}

/* What arc_init and dkim_verify_opts read. */
static const mauth_option arc_options[] = {
	/* required: checked by check_message, which also takes a parsed one */
	OPT_STR("message", 0, "required, unless a parsed message is given", "msg text"),
	OPT_INT("now", 0, 0x7fffffffffffffffLL, "no time checks"),
	OPT_INT("min_key_bits", 512, 16384, "1024"),
	OPT_END
};

const check_vt mauth_arc_verify_vt = {
	"arc_verify", sizeof(arc_state), arc_init, arc_step, NULL, arc_finish,
	arc_options
};
