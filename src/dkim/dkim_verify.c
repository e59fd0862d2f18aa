/*
 * dkim_verify.c - DKIM signature verification (RFC 6376), with Ed25519 (RFC 8463)
 * and the RFC 8301 rules (no rsa-sha1 pass, RSA keys of 1024 bits or more).
 *
 * All the work that needs the message happens in init(), while the caller's
 * buffer is still ours to read: every DKIM-Signature is parsed, each
 * distinct (body canonicalisation, hash, l=) body hash is computed once in
 * one streaming pass, and each signature's header hash is computed.  Then
 * the keys of every signature are asked in one step (a driver may ask them
 * in parallel) and step() only checks signatures.  No copy of the message
 * is kept.
 *
 * Results (RFC 8601 §2.7.1 words):
 *   pass       the signature verifies
 *   fail       it does not (bad signature, body hash mismatch)
 *   neutral    the DKIM-Signature cannot be parsed (tag-list syntax)
 *   policy     it verifies but is not acceptable: rsa-sha1 (RFC 8301 §3.1)
 *   temperror  the key could not be fetched for now (DNS failure)
 *   permerror  it can never verify: missing/invalid tags, unsupported
 *              algorithm, expired, no key, revoked, bad or too small key
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

#define DKIM_MAX_SIGS 20	/* signatures checked; more are reported only */
/*
 * Body passes: one per distinct (c=, a=, l=).  Without l= there are at
 * most four (two canonicalisations, two hashes); the l= ones are bounded
 * so junk signatures cannot multiply the work, nor crowd out the rest.
 */
#define DKIM_MAX_L_BODIES 4
#define MIN_KEY_BITS 1024	/* RFC 8301 §3.2 */
#define B_PREFIX_MIN 8		/* RFC 6008 §4: header.b, at least 8 chars */
#define PROBLEM_MAX 400

typedef struct {
	int relaxed, alg;
	unsigned long long limit;
	unsigned char digest[HASH_MAX];
	unsigned long long total;
} body_hash;

typedef struct {
	const char *result;	/* NULL while undecided */
	char problem[PROBLEM_MAX];
	char *domain, *selector, *identity, *algorithm, *canon, *b64;
	char **h;
	size_t *hlen;		/* strlen of each h[i] */
	size_t nh;
	int alg, keytype, hc, bc;
	long long l, t, x;	/* -1 when absent */
	unsigned long long body_total;
	unsigned char *b;
	size_t blen;
	unsigned char hdigest[HASH_MAX];
	unsigned char bh[HASH_MAX];	/* bh= decoded */
	size_t b_from, b_to;	/* the b= value in the raw field */
	const msg_field *field;	/* valid during init only */
	size_t hdlen;
	unsigned qid;
	int key_bits, testing, canon_bad;
	const char *bh_fail;	/* body hash problem, decided after the key */
	const char *bh_code;	/* its code */
	const char *code;	/* the problem's code (doc/codes.md) */
	char *unsigned_fields;	/* "from, subject" or NULL */
	int oversigned;		/* DKIM_OVER_* (dkim_evidence.c) */
	int body_known;		/* body_total computed */
} dkim_sig;

typedef struct {
	dkim_sig *sig;
	size_t n;
	long long now;		/* -1 when not given */
	int allow_sha1;
	int legacy_versions;	/* accept pre-RFC 4871 drafts: no v=, v=0.5 */
	long min_bits;
	const char *msg_problem;
	dkim_rcpts rcpts;	/* option recipients (replay evidence) */
} dkim_state;

/* Appends a problem to s's text ("; " between). */
static void add_problem(dkim_sig *s, const char *fmt, const char *a)
{
	size_t n = strlen(s->problem);
	char buf[PROBLEM_MAX];

	snprintf(buf, sizeof buf, fmt, a);
	if (n > 0 && n + 2 < sizeof s->problem) {
		memcpy(s->problem + n, "; ", 3);
		n += 2;
	}
	snprintf(s->problem + n, sizeof s->problem - n, "%s", buf);
}

/*
 * A note on s that does not decide it (an unsigned copy of a field, body
 * bytes past l=).  Notes come before the decision; the first one's code
 * (a word of doc/codes.md) stands until a decision brings its own.
 */
static void add_note(dkim_sig *s, const char *code, const char *fmt,
		     const char *a)
{
	add_problem(s, fmt, a);
	if (s->code == NULL)
		s->code = code;
}

/* Decides s (the first decision stays), with the problem's code. */
static void decide(dkim_sig *s, const char *result, const char *code,
		   const char *problem, const char *arg)
{
	if (s->result != NULL)
		return;
	s->result = result;
	if (problem != NULL) {
		add_problem(s, problem, arg ? arg : "");
		s->code = code;
	}
}

/* Splits the compacted h= value in place into s->h; 0 or -1 (bad list). */
static int split_h(arena *a, dkim_sig *s, char *hv)
{
	size_t n = 1, i;
	char *p;

	for (p = hv; *p; p++)
		n += *p == ':';
	if (n > DKIM_MAX_H)
		return -1;
	s->h = arena_alloc(a, n * sizeof *s->h);
	s->hlen = arena_alloc(a, n * sizeof *s->hlen);
	if (s->h == NULL || s->hlen == NULL)
		return -1;
	for (i = 0, p = hv; i < n; i++) {
		char *e = strchr(p, ':');

		if (e != NULL)
			*e = '\0';
		s->hlen[i] = e != NULL ? (size_t)(e - p) : strlen(p);
		if (!msg_name_ok(p, s->hlen[i]))
			return -1;
		s->h[i] = p;
		p += s->hlen[i] + (e != NULL);
	}
	s->nh = n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* dkim-quoted-printable (RFC 6376 §2.11), in place; -1 when malformed. */
static int qp_decode(char *s)
{
	char *out = s;

	while (*s) {
		if (*s != '=') {
			*out++ = *s++;
			continue;
		}
		if (hexval(s[1]) < 0 || hexval(s[2]) < 0)
			return -1;
		*out = (char)(hexval(s[1]) * 16 + hexval(s[2]));
		if (*out == '\0')
			return -1;
		out++;
		s += 3;
	}
	*out = '\0';
	return 0;
}

/*
 * name in A-labels (RFC 8616 §4: U-labels are looked up, reported and
 * aligned as their A-labels) into *ace.  0; -1 on ENOMEM; 1 with the
 * signature decided permerror idn_invalid, problem its text.
 */
static int to_alabels(arena *a, dkim_sig *s, const char *name,
		      const char *problem, const char **ace, size_t *acelen)
{
	int rc = name_to_alabels(a, name, strlen(name), ace, acelen);

	if (rc == MAUTH_ENOMEM)
		return -1;
	if (rc != 0) {
		decide(s, "permerror", "idn_invalid", problem, "");
		return 1;
	}
	return 0;
}

/*
 * The domain of i= in A-labels, as d= is (RFC 8616 §4), so that "i= is
 * within d=" compares like with like.  0; -1 on ENOMEM; 1 with the
 * signature decided when it does not convert.
 */
static int identity_to_alabels(arena *a, dkim_sig *s)
{
	char *at = strrchr(s->identity, '@'), *joined;
	const char *ace;
	size_t acelen, local;
	int rc;

	if (at == NULL)
		return 0;
	rc = to_alabels(a, s, at + 1, "the domain of i= does not convert "
			"to A-labels (UTS #46, RFC 8616 §4)%s", &ace, &acelen);
	if (rc != 0)
		return rc;
	if (ace == at + 1)
		return 0;
	local = (size_t)(at + 1 - s->identity);
	joined = arena_alloc(a, local + acelen + 1);
	if (joined == NULL)
		return -1;
	memcpy(joined, s->identity, local);
	memcpy(joined + local, ace, acelen);
	joined[local + acelen] = '\0';
	s->identity = joined;
	return 0;
}

/*
 * Parsing one DKIM-Signature (RFC 6376 §3.5).  Each helper reads one tag
 * or group and returns 0 to go on, 1 when it decided the signature (stop
 * there) or -1 on ENOMEM.  A decision taken earlier stays (decide() keeps
 * the first), so the later helpers only fill what a report shows.
 */

/* i=: dkim-quoted-printable, its domain in A-labels (RFC 8616 §4). */
static int read_identity(arena *a, const tag *t, dkim_sig *s)
{
	if ((s->identity = tag_dup(a, t)) == NULL)
		return -1;
	if (qp_decode(s->identity) != 0) {
		decide(s, "permerror", "tag_malformed",
		       "i= is not valid quoted-printable%s", "");
		return 1;
	}
	switch (identity_to_alabels(a, s)) {
	case 0:
		return 0;
	case 1:
		return 1;	/* decided: permerror */
	default:
		return -1;
	}
}

/* The tags useful in reports, read first, even if the signature is broken. */
static int read_report_tags(arena *a, const tag_list *tl, dkim_sig *s)
{
	const tag *t;
	char *v;
	int rc;

	if ((t = tags_get(tl, "d")) != NULL && (s->domain = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "s")) != NULL && (s->selector = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "a")) != NULL && (s->algorithm = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "b")) != NULL && (s->b64 = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "i")) != NULL && (rc = read_identity(a, t, s)) != 0)
		return rc;
	if ((t = tags_get(tl, "c")) != NULL && (s->canon = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(tl, "h")) != NULL) {
		if ((v = tag_dup(a, t)) == NULL)
			return -1;
		if (split_h(a, s, v) != 0) {
			s->nh = 0;
			decide(s, "permerror", "tag_malformed",
			       "h= is not a list of field names%s", "");
		}
	}
	return 0;
}

/* A tag the signature must have; NULL with the signature decided. */
static const tag *required(const tag_list *tl, dkim_sig *s, const char *name)
{
	const tag *t = tags_get(tl, name);

	if (t == NULL)
		decide(s, "permerror", "tag_missing", "signature has no %s= tag",
		       name);
	return t;
}

/* v=1 (or, with legacy_versions, none or the draft 0.5). */
static int check_version(const dkim_state *st, const tag_list *tl,
			 dkim_sig *s)
{
	const tag *t = tags_get(tl, "v");
	char vbuf[24];

	if (t == NULL && !st->legacy_versions) {
		decide(s, "permerror", "tag_missing", "signature has no %s= tag",
		       "v");
		return 1;
	}
	if (t == NULL || (t->vlen == 1 && t->val[0] == '1') ||
	    (st->legacy_versions && t->vlen == 3 && memcmp(t->val, "0.5", 3) == 0))
		return 0;
	snprintf(vbuf, sizeof vbuf, "%.*s", (int)(t->vlen > 20 ? 20 : t->vlen),
		 t->val);
	decide(s, "permerror", "version_unsupported",
	       "unsupported signature version v=%s", vbuf);
	return 1;
}

/* a= (RFC 6376 §3.3, RFC 8463 §3). */
static int read_algorithm(const tag_list *tl, dkim_sig *s)
{
	const tag *t = required(tl, s, "a");

	if (t == NULL)
		return 1;
	if (tag_ieq(t, "rsa-sha256")) {
		s->alg = HASH_SHA256;
		s->keytype = KEY_RSA;
	} else if (tag_ieq(t, "ed25519-sha256")) {
		s->alg = HASH_SHA256;
		s->keytype = KEY_ED25519;
	} else if (tag_ieq(t, "rsa-sha1")) {
		s->alg = HASH_SHA1;
		s->keytype = KEY_RSA;
	} else {
		decide(s, "permerror", "algorithm_unsupported",
		       "unsupported algorithm a=%.40s",
		       s->algorithm ? s->algorithm : "");
		return 1;
	}
	return 0;
}

/* b= (where it stands in the field, decoded) and bh= (decoded). */
static int read_hashes(arena *a, const msg_field *f, const tag_list *tl,
		       dkim_sig *s)
{
	unsigned char bh[HASH_MAX * 2 + 3];
	const tag *t = required(tl, s, "b");
	size_t n;

	if (t == NULL)
		return 1;
	s->b_from = (size_t)(f->value - f->raw) + t->raw_start;
	s->b_to = (size_t)(f->value - f->raw) + t->raw_end;
	if (s->b64 == NULL || strlen(s->b64) == 0) {
		decide(s, "permerror", "tag_malformed", "empty b= tag%s", "");
		return 1;
	}
	s->b = arena_alloc(a, strlen(s->b64) + 3);
	if (s->b == NULL)
		return -1;
	s->blen = b64_decode(s->b64, strlen(s->b64), s->b);
	if (s->blen == (size_t)-1 || s->blen == 0 || s->blen > SIG_MAX) {
		decide(s, "permerror", "tag_malformed", "b= is not valid base64%s",
		       "");
		return 1;
	}
	if ((t = required(tl, s, "bh")) == NULL)
		return 1;
	n = t->vlen < (size_t)HASH_MAX * 2 ? b64_decode(t->val, t->vlen, bh)
					   : (size_t)-1;
	if (n == (size_t)-1 || n != crypto_hash_len(s->alg)) {
		decide(s, "permerror", "tag_malformed", "bh= is not a base64 %s hash",
		       s->alg == HASH_SHA1 ? "SHA-1" : "SHA-256");
		return 1;
	}
	memcpy(s->bh, bh, n);
	return 0;
}

/* d= and s=: names that can be asked. */
static int check_names(arena *a, const tag_list *tl, dkim_sig *s)
{
	if (required(tl, s, "d") == NULL)
		return 1;
	if (s->domain != NULL) {
		/* RFC 8616 §4: a d= in U-labels is looked up (and reported,
		 * and aligned by DMARC) as its A-labels */
		const char *ace;
		size_t acelen;
		int rc = to_alabels(a, s, s->domain, "d= U-labels do not convert "
				    "to A-labels (UTS #46, RFC 8616 §4)%s", &ace,
				    &acelen);

		if (rc != 0)
			return rc;
		s->domain = (char *)ace;
	}
	if (s->domain == NULL || !name_is_valid(s->domain, strlen(s->domain)) ||
	    strchr(s->domain, '\\') != NULL) {
		decide(s, "permerror", "tag_malformed", "d= is not a domain name%s",
		       "");
		return 1;
	}
	if (required(tl, s, "s") == NULL)
		return 1;
	if (s->selector == NULL || s->selector[0] == '\0' ||
	    !name_is_valid(s->selector, strlen(s->selector)) ||
	    strchr(s->selector, '\\') != NULL) {
		decide(s, "permerror", "tag_malformed", "s= is not a selector%s", "");
		return 1;
	}
	return 0;
}

/* h= is there, readable, and signs From (RFC 6376 §5.4). */
static int check_from_signed(const tag_list *tl, dkim_sig *s)
{
	size_t i;
	int from = 0;

	if (required(tl, s, "h") == NULL || s->result != NULL)
		return 1;
	for (i = 0; i < s->nh; i++)
		from |= ascii_ieq(s->h[i], s->hlen[i], "from", 4);
	if (!from) {
		decide(s, "permerror", "from_not_signed",
		       "From field not signed (h=)%s", "");
		return 1;
	}
	return 0;
}

/* c= (RFC 6376 §3.4): simple unless named; header/body. */
static int read_canon(dkim_sig *s)
{
	char *slash;
	size_t hl;
	int ok = 1;

	s->hc = s->bc = CANON_SIMPLE;
	if (s->canon == NULL)
		return 0;
	slash = strchr(s->canon, '/');
	hl = slash ? (size_t)(slash - s->canon) : strlen(s->canon);
	if (ascii_ieq(s->canon, hl, "relaxed", 7))
		s->hc = CANON_RELAXED;
	else if (!ascii_ieq(s->canon, hl, "simple", 6))
		ok = 0;
	if (slash != NULL) {
		if (ascii_ieq(slash + 1, strlen(slash + 1), "relaxed", 7))
			s->bc = CANON_RELAXED;
		else if (!ascii_ieq(slash + 1, strlen(slash + 1), "simple", 6))
			ok = 0;
	}
	if (ok)
		return 0;
	s->canon_bad = 1;
	decide(s, "permerror", "canonicalization_unsupported",
	       "unsupported canonicalization c=%.40s", s->canon);
	return 1;
}

/* q= (RFC 6376 §3.5): dns/txt, the only method. */
static int check_query(arena *a, const dkim_state *st, const tag_list *tl,
		       dkim_sig *s)
{
	const tag *t = tags_get(tl, "q");
	char *q;

	if (t == NULL)
		return 0;
	if ((q = tag_dup(a, t)) == NULL)
		return -1;
	if (!dkim_list_has(q, "dns/txt") &&
	    !(st->legacy_versions && dkim_list_has(q, "dns"))) {
		decide(s, "permerror", "query_method_unsupported",
		       "unsupported query method q=%.40s", q);
		return 1;
	}
	return 0;
}

/* l=, t= and x= (RFC 6376 §3.5), x= against t= and the clock. */
static int read_numbers(const dkim_state *st, const tag_list *tl, dkim_sig *s)
{
	const tag *t;

	if ((t = tags_get(tl, "l")) != NULL &&
	    (s->l = tag_number(t, 18)) < 0) {	/* RFC: 1*76DIGIT; we bound it */
		decide(s, "permerror", "tag_malformed",
		       "l= is not a usable length%s", "");
		return 1;
	}
	if ((t = tags_get(tl, "t")) != NULL && (s->t = tag_number(t, 18)) < 0) {
		decide(s, "permerror", "tag_malformed", "t= is not a timestamp%s", "");
		return 1;
	}
	if ((t = tags_get(tl, "x")) == NULL)
		return 0;
	if ((s->x = tag_number(t, 18)) < 0) {
		decide(s, "permerror", "tag_malformed", "x= is not a timestamp%s", "");
		return 1;
	}
	if (s->t >= 0 && s->x < s->t) {
		decide(s, "permerror", "expiry_before_timestamp",
		       "x= is before t=%s", "");
		return 1;
	}
	if (st->now >= 0 && s->x < st->now) {
		decide(s, "permerror", "expired", "signature expired (x=)%s", "");
		return 1;
	}
	return 0;
}

/* Parses one DKIM-Signature field into s (result set when unusable). */
static int parse_sig(arena *a, const dkim_state *st, const msg_field *f,
		     dkim_sig *s)
{
	tag_list tl;
	const char *why = NULL;
	int rc;

	s->l = s->t = s->x = -1;
	if (tags_parse(f->value, f->vlen, &tl, &why) != 0) {
		decide(s, "neutral", "signature_syntax",
		       "DKIM-Signature syntax error: %s", why);
		return 0;
	}
	if ((rc = read_report_tags(a, &tl, s)) != 0 ||
	    (rc = check_version(st, &tl, s)) != 0 ||
	    (rc = read_algorithm(&tl, s)) != 0 ||
	    (rc = read_hashes(a, f, &tl, s)) != 0 ||
	    (rc = check_names(a, &tl, s)) != 0 ||
	    (rc = check_from_signed(&tl, s)) != 0 ||
	    (rc = read_canon(s)) != 0 ||
	    (rc = check_query(a, st, &tl, s)) != 0 ||
	    (rc = read_numbers(st, &tl, s)) != 0)
		return rc < 0 ? -1 : 0;
	if (s->identity != NULL &&
	    !dkim_identity_in_domain(s->identity, s->domain, 0))
		decide(s, "permerror", "identity_mismatch", "i= is not within d=%s",
		       "");
	return 0;
}

/* Header fields occurring more often than h= signs them (added later?). */
static int note_unsigned(arena *a, const msg *m, dkim_sig *s)
{
	char list[200] = "";
	size_t i, j, len = 0;
	int cut = 0;

	for (i = 0; i < s->nh; i++) {
		size_t nl = s->hlen[i], in_h = 0, in_m;
		int seen = 0;

		for (j = 0; j < i; j++)
			seen |= ascii_ieq(s->h[j], s->hlen[j], s->h[i], nl);
		if (seen)
			continue;
		for (j = i; j < s->nh; j++)
			in_h += ascii_ieq(s->h[j], s->hlen[j], s->h[i], nl);
		in_m = msg_count(m, s->h[i], nl);
		if (in_m <= in_h || cut)
			continue;
		/* Room is kept for ", ...": a list that does not fit says so,
		 * so that a reader never takes a cut list for the whole one. */
		if (len + nl + 3 + 5 < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len,
						"%s%s", len ? ", " : "", s->h[i]);
		else {
			len += (size_t)snprintf(list + len, sizeof list - len,
						"%s...", len ? ", " : "");
			cut = 1;
		}
	}
	if (len == 0)
		return 0;
	s->unsigned_fields = arena_strndup(a, list, len);
	if (s->unsigned_fields == NULL)
		return -1;
	add_note(s, "unsigned_field_copy", "unsigned instance of a signed "
		 "field (added after signing?): %s", list);
	return 0;
}

const char *dkim_body_mismatch(long long l, unsigned long long total,
			       const unsigned char *want,
			       const unsigned char *got, size_t hlen,
			       const char **code)
{
	if (l >= 0 && (unsigned long long)l > total) {
		*code = "body_length_mismatch";
		return "l= is longer than the body";
	}
	if (memcmp(want, got, hlen) != 0) {
		*code = "body_hash_mismatch";
		return "body hash did not verify";
	}
	return NULL;
}

void dkim_hash_fields(const msg *m, const char *const *names,
		      const size_t *lens, size_t n, int relaxed,
		      unsigned char *used, crypto_hash *h)
{
	size_t i, j;

	memset(used, 0, m->n);
	for (i = 0; i < n; i++) {
		for (j = m->n; j-- > 0;) {
			const msg_field *f = &m->f[j];

			if (used[j] || !msg_field_is(f, names[i], lens[i]))
				continue;
			used[j] = 1;
			canon_header(relaxed, f->raw, f->len, f->nlen, 0, 0, 1, h);
			break;
		}
	}
}

/* Hashes the signed fields and the signature itself (b= emptied). */
static int header_hash(const msg *m, dkim_sig *s, unsigned char *used)
{
	const msg_field *f = s->field;
	crypto_hash *h = crypto_hash_new(s->alg);

	if (h == NULL)
		return -1;
	dkim_hash_fields(m, (const char *const *)s->h, s->hlen, s->nh, s->hc,
			 used, h);
	canon_header(s->hc, f->raw, f->len, f->nlen, s->b_from, s->b_to, 0, h);
	s->hdlen = crypto_hash_final(h, s->hdigest);
	crypto_hash_free(h);
	return s->hdlen > 0 ? 0 : -1;
}

/* Computes each distinct (canon, alg, l) body hash once; checks bh=. */
static int body_hashes(const msg *m, dkim_state *st)
{
	body_hash *bh;
	size_t nb = 0, nl = 0, i, j;

	bh = calloc(st->n ? st->n : 1, sizeof *bh);
	if (bh == NULL)
		return -1;
	for (i = 0; i < st->n; i++) {
		dkim_sig *s = &st->sig[i];
		unsigned long long lim = s->l >= 0 ? (unsigned long long)s->l :
					 CANON_NO_LIMIT;
		if (s->result != NULL)
			continue;
		for (j = 0; j < nb; j++)
			if (bh[j].relaxed == s->bc && bh[j].alg == s->alg &&
			    bh[j].limit == lim)
				break;
		if (j == nb && s->l >= 0 && nl == DKIM_MAX_L_BODIES) {
			decide(s, "permerror", "body_hash_limit", "not checked: "
			       "more than %s distinct l= body hashes asked for",
			       "4");
			continue;
		}
		if (j == nb) {
			canon_body_state cb;

			nl += s->l >= 0;

			memset(&cb, 0, CANON_BODY_CLEAR);
			cb.relaxed = s->bc;
			cb.limit = lim;
			cb.h = crypto_hash_new(s->alg);
			if (cb.h == NULL) {
				free(bh);
				return -1;
			}
			canon_body(&cb, m->body, m->body_len);
			bh[nb].relaxed = s->bc;
			bh[nb].alg = s->alg;
			bh[nb].limit = lim;
			bh[nb].total = cb.total;
			crypto_hash_final(cb.h, bh[nb].digest);
			crypto_hash_free(cb.h);
			nb++;
		}
		s->body_total = bh[j].total;
		s->body_known = 1;
		if (s->l >= 0 && bh[j].total > (unsigned long long)s->l) {
			char n[32];

			snprintf(n, sizeof n, "%llu",
				 bh[j].total - (unsigned long long)s->l);
			add_note(s, "body_partially_signed", "l=: %s body "
				 "bytes after the signed length are not signed", n);
		}
		/* Decided after the key is checked, as RFC 6376 6.1 orders it. */
		s->bh_fail = dkim_body_mismatch(s->l, bh[j].total, s->bh,
						bh[j].digest,
						crypto_hash_len(s->alg),
						&s->bh_code);
	}
	free(bh);
	return 0;
}

/* The options DKIM verification reads (see the Lua API for defaults). */
static int read_options(dkim_state *st, const params *p, char *err,
			size_t errlen)
{
	int b = 0;

	if (dkim_verify_opts(p, &st->now, &st->min_bits, err, errlen) < 0)
		return MAUTH_EINVAL;
	if (param_bool(p, "allow_sha1", &b) < 0) {
		snprintf(err, errlen, "allow_sha1: want a boolean");
		return MAUTH_EINVAL;
	}
	st->allow_sha1 = b;
	b = 0;
	if (param_bool(p, "legacy_versions", &b) < 0) {
		snprintf(err, errlen, "legacy_versions: want a boolean");
		return MAUTH_EINVAL;
	}
	st->legacy_versions = b;
	return 0;
}

/* Parses every DKIM-Signature of m into st->sig, in header order. */
static int parse_sigs(arena *a, dkim_state *st, const msg *m)
{
	size_t i, nsig = 0, checked = 0;

	for (i = 0; i < m->n; i++)
		nsig += msg_field_is(&m->f[i], "DKIM-Signature", 14);
	st->sig = arena_alloc(a, (nsig ? nsig : 1) * sizeof *st->sig);
	if (st->sig == NULL)
		return -1;
	for (i = 0; i < m->n; i++) {
		dkim_sig *s;

		if (!msg_field_is(&m->f[i], "DKIM-Signature", 14))
			continue;
		s = &st->sig[st->n];
		s->field = &m->f[i];
		st->n++;
		if (parse_sig(a, st, &m->f[i], s) != 0)
			return -1;
		if (s->nh > 0)
			s->oversigned = dkim_oversigned(m, s->h, s->hlen, s->nh);
		/*
		 * Only signatures that would cost a lookup count (RFC 6376
		 * 8.4).  §6.1: "A Verifier MAY limit the number of signatures
		 * it tries" (OpenDKIM #271: no limit was a CPU sink).  One not
		 * tried is "policy" (RFC 8601 §2.7.1: signed, but not
		 * acceptable to the ADMD), not an error of the signature.
		 */
		if (s->result == NULL && ++checked > DKIM_MAX_SIGS)
			decide(s, "policy", "signature_limit", "not checked: "
			       "signature limit (%s) reached, more than 20 "
			       "signatures to check", "20");
		if (st->msg_problem != NULL)
			decide(s, "permerror", "message_limit", "message: %s",
			       st->msg_problem);
		if (s->result == NULL && note_unsigned(a, m, s) != 0)
			return -1;
	}
	return 0;
}

/* Hashes the header of each signature still undecided; asks for its key. */
static int ask_keys(mauth_check *c, dkim_state *st, const msg *m)
{
	unsigned char *used = malloc(m->n ? m->n : 1);
	size_t i;

	if (used == NULL)
		return -1;
	for (i = 0; i < st->n; i++) {
		dkim_sig *s = &st->sig[i];
		char name[RECORD_NAME_SIZE];
		int n;

		if (s->result != NULL)
			continue;
		if (header_hash(m, s, used) != 0) {
			free(used);
			return -1;
		}
		n = record_name(name, s->selector, "_domainkey", s->domain);
		if (n < 0) {
			decide(s, "permerror", "key_name_invalid", "key name "
			       "<s>._domainkey.<d> %s", record_name_problem(n));
			continue;
		}
		s->qid = check_ask(c, MAUTH_T_TXT, name);
	}
	free(used);
	return 0;
}

static int dkim_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	dkim_state *st = vst;
	arena *a = check_arena(c);
	size_t i;
	int rc;
	msg m;

	if (read_options(st, p, err, errlen) < 0)
		return MAUTH_EINVAL;
	if ((rc = dkim_rcpts_read(a, p, &st->rcpts, err, errlen)) != 0)
		return rc;
	rc = check_message(c, p, &m, err, errlen);	/* the one read of the message */
	if (rc < 0)
		return rc;
	rc = 0;
	st->msg_problem = m.truncated ? m.problem : NULL;
	if (parse_sigs(a, st, &m) != 0 || body_hashes(&m, st) != 0 ||
	    ask_keys(c, st, &m) != 0 ||
	    (st->n > 0 && dkim_rcpts_match(a, &m, &st->rcpts) != 0))
		rc = MAUTH_ENOMEM;
	/* The message is the caller's again after init. */
	for (i = 0; i < st->n; i++)
		st->sig[i].field = NULL;
	return rc;
}

/*
 * Checks s with its key answer (RFC 6376 §6.1.2), then its body hash and
 * signature (§6.1.3: the body hash is decided once the key is known, so
 * that a key problem is reported first); decides its result.
 */
static void check_key(const dkim_state *st, dkim_sig *s, const mauth_answer *a)
{
	const dkim_key_need need = { .keytype = s->keytype, .alg = s->alg,
		.domain = s->domain, .identity = s->identity,
		.min_bits = st->min_bits };
	const dkim_signed sd = { .alg = s->alg, .digest = s->hdigest,
		.dlen = s->hdlen, .sig = s->b, .slen = s->blen,
		.bh_fail = s->bh_fail, .bh_code = s->bh_code };
	dkim_key k;

	dkim_key_judge(a, &need, &sd, &k);
	s->key_bits = k.bits;
	s->testing = k.testing;
	if (strcmp(k.result, "pass") != 0)
		decide(s, k.result, k.code, "%s", k.problem);
	else if (s->alg == HASH_SHA1 && !st->allow_sha1)
		decide(s, "policy", "sha1_forbidden", "rsa-sha1 verifies but is "
		       "not acceptable (RFC 8301 3.1)%s", "");
	else
		decide(s, "pass", NULL, NULL, NULL);
}

/* header.b: the shortest prefix (>= 8) no other signature shares. */
static size_t b_prefix(const dkim_state *st, size_t k)
{
	const char *b = st->sig[k].b64;
	size_t n = B_PREFIX_MIN, len = strlen(b), i;

	for (;;) {
		int clash = 0;

		if (n >= len)
			return len;
		for (i = 0; i < st->n; i++)
			if (i != k && st->sig[i].b64 != NULL &&
			    strncmp(st->sig[i].b64, b, n) == 0 &&
			    strcmp(st->sig[i].b64, b) != 0)
				clash = 1;
		if (!clash)
			return n;
		n++;
	}
}

/*
 * key_cnames: the CNAME chain that led from <selector>._domainkey.<d> to
 * the key record, from this signature's own answer (never from the key
 * cache, which is keyed by p= text and shared by every name publishing
 * it).  Microsoft 365 tenants publish their custom domain's selectors as
 * CNAMEs into <tenant>.onmicrosoft.com (or, since 2025, into
 * <prefix>.<x>-v1.dkim.mail.microsoft), so the chain names who holds the key.
 */
static void put_key_cnames(arena *a, mauth_value *e, const mauth_answer *key)
{
	mauth_value *l;
	size_t i;

	if (key == NULL || key->ncnames == 0)
		return;
	l = val_add(a, e, "key_cnames", MAUTH_V_LIST);
	for (i = 0; i < key->ncnames; i++)
		val_cstr(a, l, NULL, key->cnames[i]);
}

/* The replay evidence of s (dkim_evidence.c). */
static void put_evidence(arena *a, mauth_value *e, const dkim_state *st,
			 const dkim_sig *s)
{
	const dkim_evidence ev = { .domain = s->domain, .selector = s->selector,
		.b = s->b, .blen = s->blen != (size_t)-1 ? s->blen : 0,
		.nh = s->nh, .now = st->now, .t = s->t, .x = s->x, .l = s->l,
		.oversigned = s->oversigned, .body_known = s->body_known,
		.body_total = s->body_total,
		.rcpts = st->rcpts.addr != NULL ? &st->rcpts : NULL };

	dkim_put_evidence(a, e, &ev);
}

static void put_sig(arena *a, mauth_value *list, const dkim_state *st, size_t k,
		    const mauth_answer *key)
{
	const dkim_sig *s = &st->sig[k];
	mauth_value *e = val_add(a, list, NULL, MAUTH_V_MAP), *h, *pr;
	char idbuf[NAME_MAX_TEXT + 2];
	const char *identity = s->identity;
	size_t i, bn = s->b64 ? b_prefix(st, k) : 0;

	val_cstr(a, e, "result", s->result);
	val_cstr(a, e, "domain", s->domain);
	val_cstr(a, e, "selector", s->selector);
	if (identity == NULL && s->domain != NULL) {
		snprintf(idbuf, sizeof idbuf, "@%s", s->domain);
		identity = idbuf;
	}
	val_cstr(a, e, "identity", identity);
	val_cstr(a, e, "algorithm", s->algorithm);
	if (s->canon_bad) {
		val_cstr(a, e, "canonicalization", s->canon);
	} else if (s->alg != 0) {
		static const char *const names[2][2] = {
			{ "simple/simple", "simple/relaxed" },
			{ "relaxed/simple", "relaxed/relaxed" },
		};

		val_cstr(a, e, "canonicalization", names[s->hc != 0][s->bc != 0]);
	}
	h = val_add(a, e, "headers", MAUTH_V_LIST);
	for (i = 0; i < s->nh; i++)
		val_cstr(a, h, NULL, s->h[i]);
	if (s->l >= 0) {
		val_int(a, e, "body_length", s->l);
		if (s->body_total >= (unsigned long long)s->l)
			val_int(a, e, "unsigned_body_bytes",
				(long long)(s->body_total - (unsigned long long)s->l));
	}
	if (s->key_bits > 0)
		val_int(a, e, "key_bits", s->key_bits);
	put_key_cnames(a, e, key);
	val_bool(a, e, "testing", s->testing);
	if (s->t >= 0)
		val_int(a, e, "timestamp", s->t);
	if (s->x >= 0)
		val_int(a, e, "expiration", s->x);
	if (s->unsigned_fields != NULL)
		val_cstr(a, e, "unsigned_headers", s->unsigned_fields);
	if (s->problem[0])
		val_problem(a, e, s->code, s->problem);
	if (s->b64 != NULL)
		val_str(a, e, "b", s->b64, bn);
	put_evidence(a, e, st, s);
	/* RFC 8601 §2.7.1: the signature's header.d, i, s, a and b. */
	pr = authres_begin(a, e, "dkim");
	authres_prop_of(a, pr, "header", "d", e, "domain");
	authres_prop_of(a, pr, "header", "i", e, "identity");
	authres_prop_of(a, pr, "header", "s", e, "selector");
	authres_prop_of(a, pr, "header", "a", e, "algorithm");
	authres_prop_of(a, pr, "header", "b", e, "b");
}

static int dkim_step(mauth_check *c, void *vst)
{
	dkim_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *r, *list;
	size_t i;

	for (i = 0; i < st->n; i++) {
		dkim_sig *s = &st->sig[i];

		if (s->result == NULL)
			check_key(st, s, check_got(c, s->qid));
	}
	r = check_result(c);
	/* no signature at all is "dkim=none" (RFC 8601 §2.7.1) */
	VAL_LITERAL(a, r, "method", "dkim");
	list = val_add(a, r, "signatures", MAUTH_V_LIST);
	for (i = 0; i < st->n; i++)
		put_sig(a, list, st, i, st->sig[i].qid != 0 ?
			check_got(c, st->sig[i].qid) : NULL);
	if (st->msg_problem != NULL)
		val_problem(a, r, "message_limit", st->msg_problem);
	return 0;
}

/* What dkim_init and dkim_verify_opts read. */
static const mauth_option dkim_options[] = {
	/* required: checked by check_message, which also takes a parsed one */
	OPT_STR("message", 0, "required, unless a parsed message is given", "msg text"),
	OPT_INT("now", 0, 0x7fffffffffffffffLL, "no time checks"),
	OPT_BOOL("allow_sha1", "false"),
	OPT_INT("min_key_bits", 512, 16384, "1024"),
	OPT_BOOL("legacy_versions", "false"),
	/* RFC 5321 forward-paths, for recipients_in_to_cc (dkim_evidence.c) */
	OPT_LIST("recipients", MAUTH_V_STR, "none", "rcpt rcpt_to envelope_to"),
	OPT_END
};

const check_vt mauth_dkim_verify_vt = {
	"dkim_verify", sizeof(dkim_state), dkim_init, dkim_step, NULL, NULL,
	dkim_options
};

int dkim_verify_opts(const params *p, long long *now, long *min_bits,
		     char *err, size_t errlen)
{
	long v;
	int b = param_long(p, "now", 0, 0x7fffffffffffffffL, &v);

	if (b < 0) {
		snprintf(err, errlen, "now: want seconds since the epoch");
		return MAUTH_EINVAL;
	}
	*now = b > 0 ? v : -1;
	*min_bits = MIN_KEY_BITS;
	if (param_long(p, "min_key_bits", 512, 16384, min_bits) < 0) {
		snprintf(err, errlen, "min_key_bits: want 512..16384");
		return MAUTH_EINVAL;
	}
	return 0;
}
