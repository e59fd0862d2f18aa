/*
 * arc_seal.c - adding an ARC set to a message (RFC 8617 §5.1).  Pure: the
 * chain validation status (cv=) comes from the caller, either as the
 * "cv" parameter or as the arc= result in the Authentication-Results text
 * the set carries (as the ValiMail suite and dkimpy take it).
 *
 * Result: { seal, message_signature, authentication_results (the three
 * header fields, each without a final CRLF), instance, cv }, or
 * { problem } when no set can be added.
 *
 * Layout: tags in alphabetical order, one space after each ";", folded
 * only between tags, never inside b= (whitespace inside b= would change
 * the relaxed form the next seal covers).
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/internal.h"
#include "core/textbuf.h"
#include "core/message.h"
#include "core/tags.h"
#include "core/canon.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define ARC_MAX_INSTANCES 50	/* RFC 8617 §4.2.1 */
#define FOLD_AT 78
#define AR_TEXT_MAX 16384	/* bytes of Authentication-Results carried */

/* RFC 6376 §5.4.1's fields worth signing, plus DKIM-Signature. */
static const char *const default_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date",
	"resent-from", "resent-to", "resent-cc", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive", "message-id",
	"mime-version", "content-type", "content-transfer-encoding",
	"dkim-signature",
};

enum { CV_NONE = 1, CV_PASS, CV_FAIL };
static const char *const cv_word[] = { "", "none", "pass", "fail" };

typedef struct {
	const char *seal, *ams, *aar, *problem;
	int instance, cv;
} seal_state;

/* "; " before the next item, or ";" CRLF SP when the line would grow long. */
static void sep(textbuf *t, size_t next)
{
	if (t->line + 2 + next > FOLD_AT) {
		text_put(t, ";\r\n ", 4);
		t->line = 1;
	} else {
		text_put(t, "; ", 2);
	}
}

static int is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* i= of an ARC-Seal/AMS (1..50) or 0; the AAR's leading "i=N;" too. */
static int instance_of(const msg_field *f, int aar)
{
	tag_list tl;
	const tag *t;
	const char *why, *s = f->value;
	size_t n = f->vlen, i = 0;
	int v = 0;

	if (aar) {
		while (i < n && is_fws(s[i]))
			i++;
		if (i + 2 > n || s[i] != 'i' || s[i + 1] != '=')
			return 0;
		for (i += 2; i < n && s[i] >= '0' && s[i] <= '9' && v <= 50; i++)
			v = v * 10 + (s[i] - '0');
		return v <= ARC_MAX_INSTANCES ? v : 0;
	}
	if (tags_parse(s, n, &tl, &why) != 0 || (t = tags_get(&tl, "i")) == NULL)
		return 0;
	for (i = 0; i < t->vlen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9' || v > 50)
			return 0;
		v = v * 10 + (t->val[i] - '0');
	}
	return v <= ARC_MAX_INSTANCES ? v : 0;
}

static int seal_cv(const msg_field *f)
{
	tag_list tl;
	const tag *t;
	const char *why;

	if (tags_parse(f->value, f->vlen, &tl, &why) != 0 ||
	    (t = tags_get(&tl, "cv")) == NULL)
		return 0;
	if (tag_ieq(t, "fail"))
		return CV_FAIL;
	if (tag_ieq(t, "pass"))
		return CV_PASS;
	return tag_ieq(t, "none") ? CV_NONE : 0;
}

/*
 * The A-R text unfolded into out (NUL-terminated), without a leading
 * "Authentication-Results:" name.  0, or -1 when too long.
 */
static int unfold_ar(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int space = 0;

	if (n >= 23 && ascii_ieq(s, 23, "Authentication-Results:", 23)) {
		s += 23;
		n -= 23;
	}
	for (i = 0; i < n; i++) {
		if (is_fws(s[i]) || s[i] == '\0') {
			space = 1;
			continue;
		}
		if (space && o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = ' ';
		}
		space = 0;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return 0;
}

/* The arc= result among the resinfos of an A-R text, or 0 when none. */
static int ar_arc_result(const char *s)
{
	int found = 0;

	while (*s) {
		const char *e;

		while (*s == ' ' || *s == ';')
			s++;
		e = s;
		while (*e && *e != ';')
			e++;
		if ((size_t)(e - s) > 4 && ascii_ieq(s, 4, "arc=", 4)) {
			const char *w = s + 4;
			size_t wl = 0;

			while (w + wl < e && w[wl] != ' ' && w[wl] != '(')
				wl++;
			if (found)
				return CV_FAIL;	/* two arc= results: §5.1 not met */
			found = ascii_ieq(w, wl, "pass", 4) ? CV_PASS :
				ascii_ieq(w, wl, "none", 4) ? CV_NONE : CV_FAIL;
		}
		s = e;
	}
	return found;
}

/* Signs the hash state h; the base64 signature, malloc'd, or NULL. */
static char *sign_b64(crypto_key *k, crypto_hash *h, const char **why)
{
	unsigned char digest[HASH_MAX], sig[SIG_MAX];
	size_t dlen = crypto_hash_final(h, digest), slen;
	char *out;

	slen = dlen ? crypto_sign(k, HASH_SHA256, digest, dlen, sig) : 0;
	if (slen == 0) {
		*why = "signing failed";
		return NULL;
	}
	out = malloc(4 * ((slen + 2) / 3) + 1);
	if (out != NULL)
		b64_encode(sig, slen, out);
	return out;
}

typedef struct {
	const char *domain, *selector, *alg, *ar;
	long now;
	int has_now;
} seal_opts;

/*
 * Builds "Name: a=..; b=" + sig + rest, where items[bi] is "b=".  With
 * sig NULL the b= value is empty (what gets hashed).
 */
static void build(textbuf *t, const char *name, const char *const *items,
		  size_t n, size_t bi, const char *sig)
{
	size_t i;

	t->n = t->line = 0;
	text_puts(t, name);
	text_put(t, " ", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sep(t, i == bi && sig ? 2 + strlen(sig) : strlen(items[i]));
		text_puts(t, items[i]);
		if (i == bi && sig != NULL)
			text_puts(t, sig);
	}
}

static int seal_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	seal_state *st = vst;
	arena *a = check_arena(c);
	size_t mlen, klen, arlen, i, nh = 0;
	long given;
	const char *message = param_get(p, "message", &mlen);
	const char *keypem = param_get(p, "key", &klen);
	const char *ar = param_get(p, "authentication_results", &arlen);
	const char *authserv = param_get(p, "authserv_id", NULL);
	const char *cvp = param_get(p, "cv", NULL);
	const char *domain = param_get(p, "domain", NULL);
	const char *selector = param_get(p, "selector", NULL);
	const char *alg = param_get(p, "algorithm", NULL);
	const msg_field *sets[ARC_MAX_INSTANCES + 1][3];
	const char **names = NULL, *why = NULL;
	size_t *lens = NULL;
	char *artext = NULL, *aar = NULL, *ams_b = NULL, *as_b = NULL;
	char buf[4][600], bhb64[HASH_MAX * 2];
	const char *items[10];
	unsigned char digest[HASH_MAX], *used = NULL;
	int keytype, top = 0, rc = MAUTH_ENOMEM, k, cv = 0;
	long now = 0;
	crypto_key *pk = NULL;
	crypto_hash *h = NULL;
	canon_body_state cb;
	textbuf t = { NULL, 0, 0, 0, 0 }, hl = { NULL, 0, 0, 0, 0 };
	msg m;

	if (message == NULL || domain == NULL || selector == NULL ||
	    keypem == NULL || ar == NULL) {
		snprintf(err, errlen, "%s: required", message == NULL ? "message" :
			 domain == NULL ? "domain" : selector == NULL ? "selector" :
			 keypem == NULL ? "key" : "authentication_results");
		return MAUTH_EINVAL;
	}
	if (!name_is_valid(domain, strlen(domain)) || strpbrk(domain, "; \\")) {
		snprintf(err, errlen, "domain: not a domain name");
		return MAUTH_EINVAL;
	}
	if (!name_is_valid(selector, strlen(selector)) || strpbrk(selector, "; \\")) {
		snprintf(err, errlen, "selector: not a selector");
		return MAUTH_EINVAL;
	}
	if (authserv != NULL && (authserv[0] == '\0' || strpbrk(authserv, "; \t\r\n"))) {
		snprintf(err, errlen, "authserv_id: want a token");
		return MAUTH_EINVAL;
	}
	if (alg == NULL || strcmp(alg, "rsa-sha256") == 0) {
		keytype = KEY_RSA;
		alg = "rsa-sha256";
	} else if (strcmp(alg, "ed25519-sha256") == 0) {
		keytype = KEY_ED25519;
	} else {
		snprintf(err, errlen, "algorithm: rsa-sha256 or ed25519-sha256");
		return MAUTH_EINVAL;
	}
	if (cvp != NULL) {
		for (cv = CV_NONE; cv <= CV_FAIL; cv++)
			if (strcmp(cvp, cv_word[cv]) == 0)
				break;
		if (cv > CV_FAIL) {
			snprintf(err, errlen, "cv: want none, pass or fail");
			return MAUTH_EINVAL;
		}
	}
	if (param_long(p, "now", 0, 0x7fffffffffffL, &now) < 0) {
		snprintf(err, errlen, "now: want seconds since the epoch");
		return MAUTH_EINVAL;
	}
	given = dkim_sign_names(a, p, &names, &lens, err, errlen);
	if (given < 0)
		return (int)given;
	nh = (size_t)given;
	for (i = 0; i < nh; i++)
		if (ascii_ieq(names[i], lens[i], "ARC-Seal", 8)) {
			/* §4.1.2: the AMS must not sign ARC-Seal fields */
			snprintf(err, errlen, "headers[%zu]: ARC-Seal may not be "
				 "signed", i + 1);
			return MAUTH_EINVAL;
		}
	if (msg_parse(a, message, mlen, NULL, &m) != 0)
		return MAUTH_ENOMEM;
	if (m.truncated) {
		st->problem = m.problem;
		return 0;
	}

	/* The existing chain: fields by instance (first of each kind). */
	memset(sets, 0, sizeof sets);
	for (i = 0; i < m.n; i++) {
		int kind = msg_field_is(&m.f[i], "ARC-Authentication-Results", 26) ? 0 :
			   msg_field_is(&m.f[i], "ARC-Message-Signature", 21) ? 1 :
			   msg_field_is(&m.f[i], "ARC-Seal", 8) ? 2 : -1;
		int inst;

		if (kind < 0)
			continue;
		inst = instance_of(&m.f[i], kind == 0);
		if (inst == 0) {
			st->problem = "an ARC field of the message has no valid i=";
			return 0;
		}
		if (sets[inst][kind] == NULL)
			sets[inst][kind] = &m.f[i];
		if (inst > top)
			top = inst;
	}
	st->instance = top + 1;
	if (st->instance > ARC_MAX_INSTANCES) {
		st->problem = "the chain already has 50 ARC sets (RFC 8617 4.2.1)";
		return 0;
	}
	/* §5.1: a chain its last sealer found failed gets no more sets. */
	if (top > 0 && sets[top][2] != NULL && seal_cv(sets[top][2]) == CV_FAIL) {
		st->problem = "the newest ARC-Seal says cv=fail: no set is added";
		return 0;
	}

	/* The Authentication-Results text the AAR carries. */
	artext = malloc(arlen + 1 > AR_TEXT_MAX ? AR_TEXT_MAX : arlen + 1);
	if (artext == NULL)
		return MAUTH_ENOMEM;
	if (unfold_ar(ar, arlen, artext, AR_TEXT_MAX) != 0) {
		st->problem = "authentication_results: too long";
		rc = 0;
		goto done;
	}
	if (cv == 0)
		cv = ar_arc_result(artext);
	if (cv == 0)
		cv = CV_NONE;
	if (top == 0 && cv != CV_NONE) {
		st->problem = "no ARC set on the message, so cv must be none";
		rc = 0;
		goto done;
	}
	if (top > 0 && cv == CV_NONE) {
		st->problem = "the message has an ARC chain: its validation (cv "
			      "or arc= in authentication_results) is needed";
		rc = 0;
		goto done;
	}
	if (cv == CV_PASS)
		for (k = 1; k <= top; k++)
			if (!sets[k][0] || !sets[k][1] || !sets[k][2]) {
				st->problem = "cv=pass but an ARC set is incomplete";
				rc = 0;
				goto done;
			}
	st->cv = cv;
	{
		/* "i=N; authserv-id; results", the id added when not there. */
		size_t al = authserv ? strlen(authserv) : 0;
		int has_id = authserv == NULL ||
			     (strncmp(artext, authserv, al) == 0 &&
			      (artext[al] == ';' || artext[al] == ' ' || artext[al] == '\0'));
		size_t need = strlen(artext) + al + 40;

		if (!has_id && authserv == NULL) {
			st->problem = "authserv_id: required";
			rc = 0;
			goto done;
		}
		aar = malloc(need);
		if (aar == NULL)
			goto done;
		if (has_id)
			snprintf(aar, need, "%s", artext);
		else if (artext[0] == '\0')
			snprintf(aar, need, "%s; none", authserv);
		else
			snprintf(aar, need, "%s; %s", authserv, artext);
	}
	/* Fold the AAR between resinfos. */
	{
		char prefix[16];
		const char *s = aar;

		snprintf(prefix, sizeof prefix, "i=%d", st->instance);
		text_puts(&t, "ARC-Authentication-Results: ");
		text_puts(&t, prefix);
		while (*s) {
			/* A ";" then a space ends a resinfo (one in a comment may not). */
			const char *e = strstr(s, "; ");
			size_t n = e ? (size_t)(e - s) : strlen(s);

			while (n > 0 && *s == ' ') {
				s++;
				n--;
			}
			sep(&t, n);
			text_put(&t, s, n);
			s += n;
			if (*s == ';')
				s++;
		}
		if (t.failed)
			goto done;
		st->aar = arena_strndup(a, t.p, t.n);
		if (st->aar == NULL)
			goto done;
	}

	/* Header names for the AMS. */
	if (nh == 0) {
		size_t cap = 64;

		names = arena_alloc(a, cap * sizeof *names);
		lens = arena_alloc(a, cap * sizeof *lens);
		if (names == NULL || lens == NULL)
			goto done;
		for (i = 0; i < sizeof default_fields / sizeof *default_fields; i++) {
			size_t n = msg_count(&m, default_fields[i],
					     strlen(default_fields[i])), j;

			for (j = 0; j < n && nh < cap; j++) {
				names[nh] = default_fields[i];
				lens[nh++] = strlen(default_fields[i]);
			}
		}
	}

	pk = crypto_privkey_pem(keypem, klen, &why);
	if (pk == NULL) {
		st->problem = why;
		rc = 0;
		goto done;
	}
	if (crypto_key_type(pk) != keytype ||
	    (keytype == KEY_RSA && crypto_key_bits(pk) < 1024)) {
		st->problem = crypto_key_type(pk) != keytype ?
			      "key does not match the algorithm" :
			      "RSA key below 1024 bits (RFC 8301 3.2)";
		rc = 0;
		goto done;
	}

	/* AMS: body relaxed, headers relaxed (§4.1.2, as DKIM). */
	memset(&cb, 0, CANON_BODY_CLEAR);
	cb.relaxed = 1;
	cb.limit = CANON_NO_LIMIT;
	cb.h = crypto_hash_new(HASH_SHA256);
	if (cb.h == NULL)
		goto done;
	canon_body(&cb, m.body, m.body_len);
	crypto_hash_final(cb.h, digest);
	crypto_hash_free(cb.h);
	b64_encode(digest, 32, bhb64);
	for (i = 0; i < nh; i++) {
		text_put(&hl, i ? ":" : "h=", i ? 1 : 2);
		text_put(&hl, names[i], lens[i]);
	}
	if (nh == 0)
		text_puts(&hl, "h=");
	if (hl.failed)
		goto done;
	snprintf(buf[0], sizeof buf[0], "a=%s", alg);
	snprintf(buf[1], sizeof buf[1], "bh=%s", bhb64);
	snprintf(buf[2], sizeof buf[2], "d=%s", domain);
	snprintf(buf[3], sizeof buf[3], "i=%d", st->instance);
	items[0] = buf[0];
	items[1] = "b=";
	items[2] = buf[1];
	items[3] = "c=relaxed/relaxed";
	items[4] = buf[2];
	items[5] = hl.p;
	items[6] = buf[3];
	{
		char sbuf[300], tbuf[40];
		size_t n = 7;

		snprintf(sbuf, sizeof sbuf, "s=%s", selector);
		items[n++] = sbuf;
		if (now > 0) {
			snprintf(tbuf, sizeof tbuf, "t=%ld", now);
			items[n++] = tbuf;
		}
		used = malloc(m.n ? m.n : 1);
		h = crypto_hash_new(HASH_SHA256);
		if (used == NULL || h == NULL)
			goto done;
		build(&t, "ARC-Message-Signature:", items, n, 1, NULL);
		if (t.failed)
			goto done;
		dkim_hash_fields(&m, names, lens, nh, 1, used, h);
		canon_header(1, t.p, t.n, 21, 0, 0, 0, h);
		if ((ams_b = sign_b64(pk, h, &why)) == NULL) {
			st->problem = why;
			rc = why ? 0 : MAUTH_ENOMEM;
			goto done;
		}
		build(&t, "ARC-Message-Signature:", items, n, 1, ams_b);
		if (t.failed || (st->ams = arena_strndup(a, t.p, t.n)) == NULL)
			goto done;

		/* AS: a, b, cv, d, i, s, t. */
		snprintf(buf[1], sizeof buf[1], "cv=%s", cv_word[cv]);
		items[0] = buf[0];
		items[1] = "b=";
		items[2] = buf[1];
		items[3] = buf[2];
		items[4] = buf[3];
		items[5] = sbuf;
		n = 6;
		if (now > 0)
			items[n++] = tbuf;
		crypto_hash_free(h);
		h = crypto_hash_new(HASH_SHA256);
		if (h == NULL)
			goto done;
		/*
		 * §5.1.1: the sets before, oldest first.  With cv=fail only the
		 * new set, as the ValiMail suite (i1_base_fail, i2_base_fail)
		 * and dkimpy have it: a failed chain is not vouched for.
		 */
		for (k = 1; cv != CV_FAIL && k <= top; k++) {
			int j;

			for (j = 0; j < 3; j++)
				canon_header(1, sets[k][j]->raw, sets[k][j]->len,
					     sets[k][j]->nlen, 0, 0, 1, h);
		}
		canon_header(1, st->aar, strlen(st->aar), 26, 0, 0, 1, h);
		canon_header(1, st->ams, strlen(st->ams), 21, 0, 0, 1, h);
		build(&t, "ARC-Seal:", items, n, 1, NULL);
		if (t.failed)
			goto done;
		canon_header(1, t.p, t.n, 8, 0, 0, 0, h);
		if ((as_b = sign_b64(pk, h, &why)) == NULL) {
			st->problem = why;
			rc = why ? 0 : MAUTH_ENOMEM;
			goto done;
		}
		build(&t, "ARC-Seal:", items, n, 1, as_b);
		if (t.failed || (st->seal = arena_strndup(a, t.p, t.n)) == NULL)
			goto done;
	}
	rc = 0;
done:
	crypto_key_free(pk);
	crypto_hash_free(h);
	free(used);
	free(artext);
	free(aar);
	free(ams_b);
	free(as_b);
	free(t.p);
	free(hl.p);
	return rc;
}

static int seal_step(mauth_check *c, void *vst)
{
	seal_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);

	if (st->seal != NULL) {
		val_cstr(a, r, "seal", st->seal);
		val_cstr(a, r, "message_signature", st->ams);
		val_cstr(a, r, "authentication_results", st->aar);
		val_int(a, r, "instance", st->instance);
		val_cstr(a, r, "cv", cv_word[st->cv]);
	} else {
		val_cstr(a, r, "problem", st->problem ? st->problem :
			 "no ARC set made");
	}
	return 0;
}

static const mauth_option seal_options[] = {
	OPT_STR("message", 1, NULL, "msg text"),
	OPT_STR("domain", 1, NULL, "d"),
	OPT_STR("selector", 1, NULL, "s"),
	OPT_STR("key", 1, NULL, "private_key pem"),
	OPT_STR("authentication_results", 1, NULL, "authres ar results"),
	OPT_STR("authserv_id", 0, NULL, "authserv"),
	OPT_WORD("cv", "none pass fail", "the arc= result in authentication_results, else none", NULL),
	OPT_WORD("algorithm", "rsa-sha256 ed25519-sha256", "rsa-sha256", "a alg"),
	OPT_LIST("headers", MAUTH_V_STR, "RFC 6376 §5.4.1 fields present, DKIM-Signature",
		 "h fields signed_headers"),
	OPT_INT("now", 0, 0x7fffffffffffLL, "no t="),
	OPT_END
};

const check_vt mauth_arc_seal_vt = {
	"arc_seal", sizeof(seal_state), seal_init, seal_step, NULL, seal_options
};
