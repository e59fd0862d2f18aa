/*
 * dkim.c - DKIM signature verification (RFC 6376), with Ed25519 (RFC 8463)
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

#define DKIM_MAX_SIGS 20	/* signatures checked; more are reported only */
/*
 * Body passes: one per distinct (c=, a=, l=).  Without l= there are at
 * most four (two canonicalisations, two hashes); the l= ones are bounded
 * so junk signatures cannot multiply the work, nor crowd out the rest.
 */
#define DKIM_MAX_L_BODIES 4
#define MIN_KEY_BITS 1024	/* RFC 8301 §3.2 */
#define KEY_RECORD_MAX 8192	/* bytes of a key record we read */
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
	int key_bits, testing, strict, checked, canon_bad;
	const char *bh_fail;	/* body hash problem, decided after the key */
	char *unsigned_fields;	/* "from, subject" or NULL */
} dkim_sig;

typedef struct {
	dkim_sig *sig;
	size_t n;
	long long now;		/* -1 when not given */
	int allow_sha1;
	int legacy_versions;	/* accept pre-RFC 4871 drafts: no v=, v=0.5 */
	long min_bits;
	const char *msg_problem;
} dkim_state;

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

static void decide(dkim_sig *s, const char *result, const char *problem,
		   const char *arg)
{
	if (s->result != NULL)
		return;
	s->result = result;
	if (problem != NULL)
		add_problem(s, problem, arg ? arg : "");
}

/* Is list (colon-separated, compacted) holding word (case-insensitive)? */
static int list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);

	while (*list) {
		const char *e = strchr(list, ':');
		size_t n = e ? (size_t)(e - list) : strlen(list);

		if (ascii_ieq(list, n, word, wl))
			return 1;
		list += n;
		if (*list == ':')
			list++;
	}
	return 0;
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

/* The domain part of i= is d= or one of its subdomains (§3.5 "i="). */
static int identity_in_domain(const char *i, const char *d, int strict)
{
	const char *at = strrchr(i, '@');
	size_t il, dl = strlen(d);

	if (at == NULL)
		return 0;
	at++;
	il = strlen(at);
	if (name_eq(at, il, d, dl))
		return 1;
	if (strict)
		return 0;
	return il > dl + 1 && at[il - dl - 1] == '.' &&
	       name_eq(at + il - dl, dl, d, dl);
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
	rc = name_to_alabels(a, at + 1, strlen(at + 1), &ace, &acelen);
	if (rc == MAUTH_ENOMEM)
		return -1;
	if (rc != 0) {
		decide(s, "permerror", "the domain of i= does not convert to "
		       "A-labels (UTS #46, RFC 8616 §4)%s", "");
		return 1;
	}
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

/* Parses one DKIM-Signature field into s (result set when unusable). */
static int parse_sig(arena *a, dkim_state *st, const msg_field *f,
		     dkim_sig *s)
{
	tag_list tl;
	const tag *t;
	const char *why = NULL;
	char *v;

	s->l = s->t = s->x = -1;
	if (tags_parse(f->value, f->vlen, &tl, &why) != 0) {
		decide(s, "neutral", "DKIM-Signature syntax error: %s", why);
		return 0;
	}
#define REQUIRE(name) \
	if ((t = tags_get(&tl, name)) == NULL) { \
		decide(s, "permerror", "signature has no %s= tag", name); \
		return 0; \
	}
	/* Fields useful in reports first, even if the signature is broken. */
	if ((t = tags_get(&tl, "d")) != NULL && (s->domain = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(&tl, "s")) != NULL && (s->selector = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(&tl, "a")) != NULL && (s->algorithm = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(&tl, "b")) != NULL && (s->b64 = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(&tl, "i")) != NULL) {
		if ((s->identity = tag_dup(a, t)) == NULL)
			return -1;
		if (qp_decode(s->identity) != 0) {
			decide(s, "permerror", "i= is not valid quoted-printable%s", "");
			return 0;
		}
		switch (identity_to_alabels(a, s)) {
		case 0:
			break;
		case 1:
			return 0;	/* decided: permerror */
		default:
			return -1;
		}
	}
	if ((t = tags_get(&tl, "c")) != NULL && (s->canon = tag_dup(a, t)) == NULL)
		return -1;
	if ((t = tags_get(&tl, "h")) != NULL) {
		if ((v = tag_dup(a, t)) == NULL)
			return -1;
		if (split_h(a, s, v) != 0) {
			s->nh = 0;
			decide(s, "permerror", "h= is not a list of field names%s", "");
		}
	}

	t = tags_get(&tl, "v");
	if (t == NULL && !st->legacy_versions) {
		decide(s, "permerror", "signature has no %s= tag", "v");
		return 0;
	}
	if (t != NULL && !(t->vlen == 1 && t->val[0] == '1') &&
	    !(st->legacy_versions && t->vlen == 3 && memcmp(t->val, "0.5", 3) == 0)) {
		char vbuf[24];

		snprintf(vbuf, sizeof vbuf, "%.*s",
			 (int)(t->vlen > 20 ? 20 : t->vlen), t->val);
		decide(s, "permerror", "unsupported signature version v=%s", vbuf);
		return 0;
	}
	REQUIRE("a");
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
		decide(s, "permerror", "unsupported algorithm a=%.40s",
		       s->algorithm ? s->algorithm : "");
		return 0;
	}
	REQUIRE("b");
	s->b_from = (size_t)(f->value - f->raw) + t->raw_start;
	s->b_to = (size_t)(f->value - f->raw) + t->raw_end;
	if (s->b64 == NULL || strlen(s->b64) == 0) {
		decide(s, "permerror", "empty b= tag%s", "");
		return 0;
	}
	s->b = arena_alloc(a, strlen(s->b64) + 3);
	if (s->b == NULL)
		return -1;
	s->blen = b64_decode(s->b64, strlen(s->b64), s->b);
	if (s->blen == (size_t)-1 || s->blen == 0 || s->blen > SIG_MAX) {
		decide(s, "permerror", "b= is not valid base64%s", "");
		return 0;
	}
	REQUIRE("bh");
	{
		unsigned char bh[HASH_MAX * 2 + 3];
		size_t n = t->vlen < (size_t)HASH_MAX * 2 ? b64_decode(t->val, t->vlen, bh)
						  : (size_t)-1;

		if (n == (size_t)-1 || n != crypto_hash_len(s->alg)) {
			decide(s, "permerror", "bh= is not a base64 %s hash",
			       s->alg == HASH_SHA1 ? "SHA-1" : "SHA-256");
			return 0;
		}
		memcpy(s->bh, bh, n);
	}
	REQUIRE("d");
	if (s->domain != NULL) {
		/* RFC 8616 §4: a d= in U-labels is looked up (and reported,
		 * and aligned by DMARC) as its A-labels */
		const char *ace;
		size_t acelen;
		int rc = name_to_alabels(a, s->domain, strlen(s->domain), &ace,
					 &acelen);

		if (rc == MAUTH_ENOMEM)
			return -1;
		if (rc != 0) {
			decide(s, "permerror", "d= U-labels do not convert to "
			       "A-labels (UTS #46, RFC 8616 §4)%s", "");
			return 0;
		}
		s->domain = (char *)ace;
	}
	if (s->domain == NULL || !name_is_valid(s->domain, strlen(s->domain)) ||
	    strchr(s->domain, '\\') != NULL) {
		decide(s, "permerror", "d= is not a domain name%s", "");
		return 0;
	}
	REQUIRE("s");
	if (s->selector == NULL || s->selector[0] == '\0' ||
	    !name_is_valid(s->selector, strlen(s->selector)) ||
	    strchr(s->selector, '\\') != NULL) {
		decide(s, "permerror", "s= is not a selector%s", "");
		return 0;
	}
	REQUIRE("h");
	if (s->result != NULL)
		return 0;
	{
		size_t i;
		int from = 0;

		for (i = 0; i < s->nh; i++)
			from |= ascii_ieq(s->h[i], s->hlen[i], "from", 4);
		if (!from) {
			decide(s, "permerror", "From field not signed (h=)%s", "");
			return 0;
		}
	}
	s->hc = s->bc = CANON_SIMPLE;
	if (s->canon != NULL) {
		char *slash = strchr(s->canon, '/');
		size_t hl = slash ? (size_t)(slash - s->canon) : strlen(s->canon);
		int ok = 1;

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
		if (!ok) {
			s->canon_bad = 1;
			decide(s, "permerror", "unsupported canonicalization c=%.40s",
			       s->canon);
			return 0;
		}
	}
	if ((t = tags_get(&tl, "q")) != NULL) {
		char *q = tag_dup(a, t);

		if (q == NULL)
			return -1;
		if (!list_has(q, "dns/txt") &&
		    !(st->legacy_versions && list_has(q, "dns"))) {
			decide(s, "permerror", "unsupported query method q=%.40s", q);
			return 0;
		}
	}
	if ((t = tags_get(&tl, "l")) != NULL) {
		s->l = tag_number(t, 18);	/* RFC: 1*76DIGIT; we bound it */
		if (s->l < 0) {
			decide(s, "permerror", "l= is not a usable length%s", "");
			return 0;
		}
	}
	if ((t = tags_get(&tl, "t")) != NULL && (s->t = tag_number(t, 18)) < 0) {
		decide(s, "permerror", "t= is not a timestamp%s", "");
		return 0;
	}
	if ((t = tags_get(&tl, "x")) != NULL) {
		if ((s->x = tag_number(t, 18)) < 0) {
			decide(s, "permerror", "x= is not a timestamp%s", "");
			return 0;
		}
		if (s->t >= 0 && s->x < s->t) {
			decide(s, "permerror", "x= is before t=%s", "");
			return 0;
		}
		if (st->now >= 0 && s->x < st->now) {
			decide(s, "permerror", "signature expired (x=)%s", "");
			return 0;
		}
	}
	if (s->identity != NULL) {
		if (!identity_in_domain(s->identity, s->domain, 0)) {
			decide(s, "permerror", "i= is not within d=%s", "");
			return 0;
		}
	}
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
	add_problem(s, "unsigned instance of a signed field (added after "
		    "signing?): %s", list);
	return 0;
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
			decide(s, "permerror", "not checked: more than %s "
			       "distinct l= body hashes asked for", "4");
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
		if (s->l >= 0 && bh[j].total > (unsigned long long)s->l) {
			char n[32];

			snprintf(n, sizeof n, "%llu",
				 bh[j].total - (unsigned long long)s->l);
			add_problem(s, "l=: %s body bytes after the signed "
				    "length are not signed", n);
		}
		/* Decided after the key is checked, as RFC 6376 6.1 orders it. */
		if (s->l >= 0 && (unsigned long long)s->l > bh[j].total)
			s->bh_fail = "l= is longer than the body";
		else if (memcmp(s->bh, bh[j].digest, crypto_hash_len(s->alg)) != 0)
			s->bh_fail = "body hash did not verify";
	}
	free(bh);
	return 0;
}

static int dkim_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	dkim_state *st = vst;
	arena *a = check_arena(c);
	unsigned char *used;
	size_t len, i, nsig = 0, checked = 0;
	const char *text = param_get(p, "message", &len);
	msg m;
	int b;

	if (text == NULL) {
		snprintf(err, errlen, "message: required");
		return MAUTH_EINVAL;
	}
	if (dkim_verify_opts(p, &st->now, &st->min_bits, err, errlen) < 0)
		return MAUTH_EINVAL;
	b = 0;
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
	if (msg_parse(a, text, len, NULL, &m) != 0)
		return MAUTH_ENOMEM;
	st->msg_problem = m.truncated ? m.problem : NULL;
	for (i = 0; i < m.n; i++)
		nsig += msg_field_is(&m.f[i], "DKIM-Signature", 14);
	st->sig = arena_alloc(a, (nsig ? nsig : 1) * sizeof *st->sig);
	used = malloc(m.n ? m.n : 1);
	if (st->sig == NULL || used == NULL) {
		free(used);
		return MAUTH_ENOMEM;
	}
	for (i = 0; i < m.n; i++) {
		dkim_sig *s;

		if (!msg_field_is(&m.f[i], "DKIM-Signature", 14))
			continue;
		s = &st->sig[st->n];
		s->field = &m.f[i];
		st->n++;
		if (parse_sig(a, st, &m.f[i], s) != 0)
			goto nomem;
		/*
		 * Only signatures that would cost a lookup count (RFC 6376
		 * 8.4).  §6.1: "A Verifier MAY limit the number of signatures
		 * it tries" (OpenDKIM #271: no limit was a CPU sink).  One not
		 * tried is "policy" (RFC 8601 §2.7.1: signed, but not
		 * acceptable to the ADMD), not an error of the signature.
		 */
		if (s->result == NULL && ++checked > DKIM_MAX_SIGS)
			decide(s, "policy", "not checked: signature limit "
			       "(%s) reached, more than 20 signatures to check",
			       "20");
		if (st->msg_problem != NULL)
			decide(s, "permerror", "message: %s", st->msg_problem);
		if (s->result == NULL && note_unsigned(a, &m, s) != 0)
			goto nomem;
	}
	if (body_hashes(&m, st) != 0)
		goto nomem;
	for (i = 0; i < st->n; i++) {
		dkim_sig *s = &st->sig[i];
		char name[NAME_MAX_TEXT + 2];
		int n;

		if (s->result != NULL)
			continue;
		if (header_hash(&m, s, used) != 0)
			goto nomem;
		n = snprintf(name, sizeof name, "%s._domainkey.%s",
			     s->selector, s->domain);
		if (n < 0 || (size_t)n >= sizeof name ||
		    !name_is_valid(name, (size_t)n)) {
			decide(s, "permerror", "key name %s._domainkey... is too "
			       "long", s->selector);
			continue;
		}
		s->qid = check_ask(c, MAUTH_T_TXT, name);
	}
	/* The message is the caller's again after init. */
	for (i = 0; i < st->n; i++)
		st->sig[i].field = NULL;
	free(used);
	return 0;
nomem:
	free(used);
	return MAUTH_ENOMEM;
}

/* Checks s against one key record; decides its result. */
static void check_key(dkim_state *st, dkim_sig *s, const char *rec, size_t len)
{
	tag_list tl;
	const tag *t;
	const char *why = NULL;
	char buf[KEY_RECORD_MAX];
	crypto_key *key;
	int keytype = KEY_RSA, ok;

	if (len > KEY_RECORD_MAX || memchr(rec, '\0', len) != NULL) {
		decide(s, "permerror", "key record too long or with NUL bytes%s", "");
		return;
	}
	if (tags_parse(rec, len, &tl, &why) != 0) {
		decide(s, "permerror", "key record syntax error: %s", why);
		return;
	}
	if ((t = tags_get(&tl, "v")) != NULL &&
	    (t != &tl.v[0] || !(t->vlen == 5 && memcmp(t->val, "DKIM1", 5) == 0))) {
		decide(s, "permerror", "key record has a bad v= tag%s", "");
		return;
	}
	if (tags_get(&tl, "p") == NULL) {
		decide(s, "permerror", "key record has no p= tag%s", "");
		return;
	}
	if ((t = tags_get(&tl, "k")) != NULL) {
		if (tag_ieq(t, "rsa"))
			keytype = KEY_RSA;
		else if (tag_ieq(t, "ed25519"))
			keytype = KEY_ED25519;
		else {
			decide(s, "permerror", "key type k= not supported%s", "");
			return;
		}
	}
	if (keytype != s->keytype) {
		decide(s, "permerror", "key type k= does not match a=%s", "");
		return;
	}
	if ((t = tags_get(&tl, "h")) != NULL) {
		if (tag_compact(t, buf, sizeof buf) == (size_t)-1 ||
		    !list_has(buf, s->alg == HASH_SHA1 ? "sha1" : "sha256")) {
			decide(s, "permerror", "key h= does not allow the "
			       "signature's hash%s", "");
			return;
		}
	}
	if ((t = tags_get(&tl, "s")) != NULL) {
		if (tag_compact(t, buf, sizeof buf) == (size_t)-1 ||
		    !(list_has(buf, "*") || list_has(buf, "email"))) {
			decide(s, "permerror", "key service type s= excludes "
			       "email%s", "");
			return;
		}
	}
	if ((t = tags_get(&tl, "t")) != NULL &&
	    tag_compact(t, buf, sizeof buf) != (size_t)-1) {
		s->testing = list_has(buf, "y");
		s->strict = list_has(buf, "s");
	}
	if (s->strict && s->identity != NULL &&
	    !identity_in_domain(s->identity, s->domain, 1)) {
		decide(s, "permerror", "key t=s: i= domain must equal d=%s", "");
		return;
	}
	t = tags_get(&tl, "p");
	if (t->vlen == 0) {
		decide(s, "permerror", "key revoked (empty p=)%s", "");
		return;
	}
	key = crypto_pubkey_new(keytype, t->val, t->vlen, &why);
	if (key == NULL) {
		decide(s, "permerror", "key: %s", why);
		return;
	}
	s->key_bits = crypto_key_bits(key);
	if (keytype == KEY_RSA && s->key_bits < st->min_bits) {
		char text[120];

		snprintf(text, sizeof text, "%d-bit RSA key, below the %ld "
			 "bits of RFC 8301 3.2", s->key_bits, st->min_bits);
		crypto_key_free(key);
		decide(s, "permerror", "%s", text);
		return;
	}
	if (s->bh_fail != NULL) {
		crypto_key_free(key);
		decide(s, "fail", "%s", s->bh_fail);
		return;
	}
	ok = crypto_verify(key, s->alg, s->hdigest, s->hdlen, s->b, s->blen);
	crypto_key_free(key);
	s->checked = 1;
	if (ok != 1) {
		decide(s, "fail", "signature did not verify%s", "");
		return;
	}
	if (s->alg == HASH_SHA1 && !st->allow_sha1) {
		decide(s, "policy", "rsa-sha1 verifies but is not acceptable "
		       "(RFC 8301 3.1)%s", "");
		return;
	}
	decide(s, "pass", NULL, NULL);
}

static int has_p_tag(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == 'p' && s[i + 1] == '=')
			return 1;
	return 0;
}

static void key_answer(dkim_state *st, dkim_sig *s, const mauth_answer *a)
{
	size_t i;

	if (a == NULL) {
		decide(s, "temperror", "no answer for the key%s", "");
	} else if (a->rcode == MAUTH_RC_BADNAME) {
		decide(s, "permerror", "key name cannot be asked%s", "");
	} else if (answer_is_temporary(a)) {
		decide(s, "temperror", "key lookup failed: %s", rcode_name(a->rcode));
	} else if (ANSWER_EMPTY(a)) {
		decide(s, "permerror", "no key for signature (%s)",
		       a->rcode == MAUTH_RC_NXDOMAIN ? "NXDOMAIN" : "no TXT record");
	} else {
		/* Several TXT records: the first that looks like a key wins. */
		for (i = 0; i + 1 < a->n; i++)
			if (has_p_tag(a->rr[i].data, a->rr[i].len))
				break;
		check_key(st, s, a->rr[i].data, a->rr[i].len);
	}
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
		val_cstr(a, e, "problem", s->problem);
	if (s->b64 != NULL)
		val_str(a, e, "b", s->b64, bn);
	/* RFC 8601 properties for Authentication-Results. */
	pr = val_add(a, e, "properties", MAUTH_V_MAP);
	val_cstr(a, pr, "header.d", s->domain);
	val_cstr(a, pr, "header.i", identity);
	val_cstr(a, pr, "header.s", s->selector);
	val_cstr(a, pr, "header.a", s->algorithm);
	if (s->b64 != NULL)
		val_str(a, pr, "header.b", s->b64, bn);
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
			key_answer(st, s, check_got(c, s->qid));
	}
	r = check_result(c);
	list = val_add(a, r, "signatures", MAUTH_V_LIST);
	for (i = 0; i < st->n; i++)
		put_sig(a, list, st, i, st->sig[i].qid != 0 ?
			check_got(c, st->sig[i].qid) : NULL);
	if (st->msg_problem != NULL)
		val_cstr(a, r, "problem", st->msg_problem);
	return 0;
}

/* What dkim_init and dkim_verify_opts read. */
static const mauth_option dkim_options[] = {
	OPT_STR("message", 1, NULL, "msg text"),
	OPT_INT("now", 0, 0x7fffffffffffffffLL, "no time checks"),
	OPT_BOOL("allow_sha1", "false"),
	OPT_INT("min_key_bits", 512, 16384, "1024"),
	OPT_BOOL("legacy_versions", "false"),
	OPT_END
};

const check_vt mauth_dkim_verify_vt = {
	"dkim_verify", sizeof(dkim_state), dkim_init, dkim_step, NULL,
	dkim_options
};

/*
 * For ARC (arc.c): the key record checks and signature check of
 * key_answer(), for a signature that is not a DKIM-Signature.
 */
const char *dkim_check_answer(const mauth_answer *a, int keytype, int alg,
			      const unsigned char *digest, size_t dlen,
			      const unsigned char *sig, size_t slen,
			      const char *bh_fail, long min_bits,
			      char *problem, size_t plen, int *key_bits)
{
	dkim_state st;
	dkim_sig *s = calloc(1, sizeof *s);
	const char *result;

	if (s == NULL) {
		snprintf(problem, plen, "out of memory");
		return "temperror";
	}
	memset(&st, 0, sizeof st);
	st.now = -1;
	st.min_bits = min_bits;
	s->keytype = keytype;
	s->alg = alg;
	s->hdlen = dlen < HASH_MAX ? dlen : HASH_MAX;
	memcpy(s->hdigest, digest, s->hdlen);
	s->b = (unsigned char *)sig;
	s->blen = slen;
	s->bh_fail = bh_fail;
	key_answer(&st, s, a);
	result = s->result;
	snprintf(problem, plen, "%s", s->problem);
	if (key_bits != NULL)
		*key_bits = s->key_bits;
	free(s);
	return result;
}

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
