/*
 * dkim_sign.c - making a DKIM-Signature (RFC 6376 §5; Ed25519 RFC 8463).
 * Pure: no DNS.  Everything is done in init() while the message is ours
 * to read; step() only publishes the result:
 *   { header = "DKIM-Signature: ..." }  or  { problem = "why not" }
 * The header text is folded with CRLF TAB and has no final CRLF.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/internal.h"
#include "core/textbuf.h"
#include "core/message.h"
#include "core/canon.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define FOLD_AT 76		/* RFC 5322 §2.1.1: lines SHOULD stay under 78 */
#define SIGN_MAX_EXPIRE 315360000L	/* ten years */

/* RFC 6376 §5.4.1's list of fields worth signing, when present. */
static const char *const default_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date",
	"resent-from", "resent-to", "resent-cc", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive", "message-id",
	"mime-version", "content-type", "content-transfer-encoding",
};

typedef struct {
	const char *header;
	const char *problem;
} sign_state;

static void fold(textbuf *t)
{
	text_put(t, "\r\n\t", 3);
	t->line = 1;
}

/* Adds " tag=value;" folding before it when the line would grow too long. */
static void put_tag(textbuf *t, const char *tagv, int last)
{
	size_t n = strlen(tagv) + (last ? 0 : 1);

	if (t->line + 1 + n > FOLD_AT)
		fold(t);
	else
		text_put(t, " ", 1);
	text_put(t, tagv, strlen(tagv));
	if (!last)
		text_put(t, ";", 1);
}

static const char *list_param(const params *p, size_t i, char *key, size_t klen)
{
	snprintf(key, klen, "headers.%zu", i);
	return param_get(p, key, NULL);
}

static int sign_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	sign_state *st = vst;
	arena *a = check_arena(c);
	size_t mlen, klen, i, nh = 0;
	long given;
	const char *message = param_get(p, "message", &mlen);
	const char *domain = param_get(p, "domain", NULL);
	const char *selector = param_get(p, "selector", NULL);
	const char *keypem = param_get(p, "key", &klen);
	const char *alg = param_get(p, "algorithm", NULL);
	const char *canon = param_get(p, "canonicalization", NULL);
	const char *identity = param_get(p, "identity", NULL);
	const char *why = NULL, **names = NULL;
	size_t *lens = NULL;
	int relaxed_h = 1, relaxed_b = 1, keytype, rc = MAUTH_ENOMEM;
	long now = 0, expire = 0;
	int has_now, has_expire;
	unsigned char digest[HASH_MAX], sig[SIG_MAX], *used = NULL;
	char buf[600], b64[HASH_MAX * 2], *sig64 = NULL;
	crypto_key *k = NULL;
	crypto_hash *h = NULL;
	canon_body_state cb;
	textbuf t = { NULL, 0, 0, 0, 0 };
	msg m;

	if (message == NULL || domain == NULL || selector == NULL || keypem == NULL) {
		snprintf(err, errlen, "%s: required", message == NULL ? "message" :
			 domain == NULL ? "domain" : selector == NULL ?
			 "selector" : "key");
		return MAUTH_EINVAL;
	}
	if (!name_is_valid(domain, strlen(domain)) || strchr(domain, ';') ||
	    strchr(domain, '\\') || strchr(domain, ' ')) {
		snprintf(err, errlen, "domain: not a domain name");
		return MAUTH_EINVAL;
	}
	if (!name_is_valid(selector, strlen(selector)) || strchr(selector, ';') ||
	    strchr(selector, '\\') || strchr(selector, ' ')) {
		snprintf(err, errlen, "selector: not a selector");
		return MAUTH_EINVAL;
	}
	if (identity != NULL && (strchr(identity, ';') || strchr(identity, ' ') ||
				 strchr(identity, '@') == NULL)) {
		snprintf(err, errlen, "identity: want local@domain");
		return MAUTH_EINVAL;
	}
	if (alg == NULL || strcmp(alg, "rsa-sha256") == 0)
		keytype = KEY_RSA;
	else if (strcmp(alg, "ed25519-sha256") == 0)
		keytype = KEY_ED25519;
	else {
		snprintf(err, errlen, "algorithm: rsa-sha256 or ed25519-sha256");
		return MAUTH_EINVAL;
	}
	if (canon != NULL) {
		const char *slash = strchr(canon, '/');
		size_t cl = slash ? (size_t)(slash - canon) : strlen(canon);

		relaxed_h = ascii_ieq(canon, cl, "relaxed", 7);
		relaxed_b = slash && ascii_ieq(slash + 1, strlen(slash + 1),
					       "relaxed", 7);
		if ((!relaxed_h && !ascii_ieq(canon, cl, "simple", 6)) ||
		    (slash && !relaxed_b &&
		     !ascii_ieq(slash + 1, strlen(slash + 1), "simple", 6))) {
			snprintf(err, errlen, "canonicalization: want "
				 "simple|relaxed[/simple|relaxed]");
			return MAUTH_EINVAL;
		}
	}
	has_now = param_long(p, "now", 0, 0x7fffffffffffL, &now);
	has_expire = param_long(p, "expire", 1, SIGN_MAX_EXPIRE, &expire);
	if (has_now < 0 || has_expire < 0 || (has_expire > 0 && has_now == 0)) {
		snprintf(err, errlen, has_now < 0 ? "now: want seconds since "
			 "the epoch" : has_expire < 0 ? "expire: want seconds "
			 "(1 .. ten years)" : "expire needs now");
		return MAUTH_EINVAL;
	}
	/* The header list: given, or the default with From signed once more. */
	given = dkim_sign_names(a, p, &names, &lens, err, errlen);
	if (given < 0)
		return (int)given;
	nh = (size_t)given;
	if (msg_parse(a, message, mlen, NULL, &m) != 0)
		return MAUTH_ENOMEM;
	if (nh > 0) {
		int from = 0;

		for (i = 0; i < nh; i++)
			from |= ascii_ieq(names[i], lens[i], "from", 4);
		if (!from) {
			snprintf(err, errlen, "headers: must include From "
				 "(RFC 6376 5.4)");
			return MAUTH_EINVAL;
		}
	} else {
		size_t cap = 64;

		names = arena_alloc(a, cap * sizeof *names);
		lens = arena_alloc(a, cap * sizeof *lens);
		if (names == NULL || lens == NULL)
			return MAUTH_ENOMEM;
		for (i = 0; i < sizeof default_fields / sizeof *default_fields; i++) {
			size_t n = msg_count(&m, default_fields[i],
					     strlen(default_fields[i]));
			size_t j, want = n + (i == 0);	/* oversign From */

			for (j = 0; j < want && nh < cap; j++) {
				names[nh] = default_fields[i];
				lens[nh++] = strlen(default_fields[i]);
			}
		}
	}
	if (msg_count(&m, "from", 4) == 0) {
		st->problem = "message has no From field";
		return 0;
	}
	if (m.truncated) {
		st->problem = m.problem;
		return 0;
	}
	k = crypto_privkey_pem(keypem, klen, &why);
	if (k == NULL) {
		st->problem = why;
		return 0;
	}
	if (crypto_key_type(k) != keytype) {
		st->problem = keytype == KEY_RSA ? "key is not an RSA key" :
			      "key is not an Ed25519 key";
		goto done;
	}
	if (keytype == KEY_RSA && crypto_key_bits(k) < 1024) {
		st->problem = "RSA key below 1024 bits (RFC 8301 3.2)";
		goto done;
	}
	/* Body hash: one streaming pass. */
	memset(&cb, 0, CANON_BODY_CLEAR);
	cb.relaxed = relaxed_b;
	cb.limit = CANON_NO_LIMIT;
	cb.h = crypto_hash_new(HASH_SHA256);
	if (cb.h == NULL)
		goto done;
	canon_body(&cb, m.body, m.body_len);
	crypto_hash_final(cb.h, digest);
	crypto_hash_free(cb.h);
	b64_encode(digest, 32, b64);

	/* The field up to "b=", folded; it is what gets signed. */
	text_put(&t, "DKIM-Signature:", 15);
	put_tag(&t, "v=1", 0);
	snprintf(buf, sizeof buf, "a=%s", keytype == KEY_RSA ? "rsa-sha256" :
		 "ed25519-sha256");
	put_tag(&t, buf, 0);
	snprintf(buf, sizeof buf, "c=%s/%s", relaxed_h ? "relaxed" : "simple",
		 relaxed_b ? "relaxed" : "simple");
	put_tag(&t, buf, 0);
	snprintf(buf, sizeof buf, "d=%s", domain);
	put_tag(&t, buf, 0);
	snprintf(buf, sizeof buf, "s=%s", selector);
	put_tag(&t, buf, 0);
	if (identity != NULL) {
		snprintf(buf, sizeof buf, "i=%s", identity);
		put_tag(&t, buf, 0);
	}
	if (has_now > 0) {
		snprintf(buf, sizeof buf, "t=%ld", now);
		put_tag(&t, buf, 0);
	}
	if (has_expire > 0) {
		snprintf(buf, sizeof buf, "x=%ld", now + expire);
		put_tag(&t, buf, 0);
	}
	/* h= may be long: break it after a colon (FWS is allowed there). */
	if (t.line + 4 > FOLD_AT)
		fold(&t);
	else
		text_put(&t, " ", 1);
	text_put(&t, "h=", 2);
	for (i = 0; i < nh; i++) {
		if (i > 0) {
			text_put(&t, ":", 1);
			if (t.line + lens[i] + 1 > FOLD_AT)
				fold(&t);
		}
		text_put(&t, names[i], lens[i]);
	}
	text_put(&t, ";", 1);
	snprintf(buf, sizeof buf, "bh=%s", b64);
	put_tag(&t, buf, 0);
	if (t.line + 3 > FOLD_AT)
		fold(&t);
	else
		text_put(&t, " ", 1);
	text_put(&t, "b=", 2);
	if (t.failed)
		goto done;

	h = crypto_hash_new(HASH_SHA256);
	used = malloc(m.n ? m.n : 1);
	if (h == NULL || used == NULL)
		goto done;
	dkim_hash_fields(&m, names, lens, nh, relaxed_h, used, h);
	canon_header(relaxed_h, t.p, t.n, 14, 0, 0, 0, h);
	crypto_hash_final(h, digest);
	{
		size_t slen = crypto_sign(k, HASH_SHA256, digest, 32, sig);
		size_t n, off;

		if (slen == 0) {
			st->problem = "signing failed";
			goto done;
		}
		sig64 = malloc(4 * ((slen + 2) / 3) + 1);
		if (sig64 == NULL)
			goto done;
		n = b64_encode(sig, slen, sig64);
		/* b= folded in pieces that fill the lines. */
		for (off = 0; off < n;) {
			size_t room = t.line < FOLD_AT ? FOLD_AT - t.line : 0;
			size_t take = n - off < room ? n - off : room;

			if (take == 0) {
				fold(&t);
				continue;
			}
			text_put(&t, sig64 + off, take);
			off += take;
		}
	}
	if (t.failed)
		goto done;
	st->header = arena_strndup(a, t.p, t.n);
	if (st->header == NULL)
		goto done;
	rc = 0;
done:
	if (st->problem != NULL)
		rc = 0;
	crypto_key_free(k);
	crypto_hash_free(h);
	free(used);
	free(sig64);
	free(t.p);
	return rc;
}

static int sign_step(mauth_check *c, void *vst)
{
	sign_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);

	if (st->header != NULL)
		val_cstr(a, r, "header", st->header);
	else
		val_cstr(a, r, "problem", st->problem);
	return 0;
}

static const mauth_option sign_options[] = {
	OPT_STR("message", 1, NULL, "msg text"),
	OPT_STR("domain", 1, NULL, "d"),
	OPT_STR("selector", 1, NULL, "s"),
	OPT_STR("key", 1, NULL, "private_key pem"),
	OPT_WORD("algorithm", "rsa-sha256 ed25519-sha256", "rsa-sha256", "a alg"),
	OPT_STR("canonicalization", 0, "relaxed/relaxed", "c canon"),
	OPT_LIST("headers", MAUTH_V_STR, "RFC 6376 §5.4.1 fields present, From once more",
		 "h fields signed_headers"),
	OPT_INT("expire", 1, SIGN_MAX_EXPIRE, "no x="),
	OPT_STR("identity", 0, NULL, "i auid"),
	OPT_INT("now", 0, 0x7fffffffffffLL, "no t="),
	OPT_END
};

const check_vt mauth_dkim_sign_vt = {
	"dkim_sign", sizeof(sign_state), sign_init, sign_step, NULL,
	sign_options
};

long dkim_sign_names(arena *a, const params *p, const char ***names,
		     size_t **lens, char *err, size_t errlen)
{
	char key[32];
	size_t i, n = 0;

	while (list_param(p, n + 1, key, sizeof key) != NULL)
		n++;
	if (n > DKIM_MAX_H) {
		snprintf(err, errlen, "headers: more than %d names", DKIM_MAX_H);
		return MAUTH_EINVAL;
	}
	if (n == 0)
		return 0;
	*names = arena_alloc(a, n * sizeof **names);
	*lens = arena_alloc(a, n * sizeof **lens);
	if (*names == NULL || *lens == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < n; i++) {
		size_t len;
		const char *v;

		snprintf(key, sizeof key, "headers.%zu", i + 1);
		v = param_get(p, key, &len);
		if (!msg_name_ok(v, len) || memchr(v, ';', len) != NULL) {
			snprintf(err, errlen, "headers[%zu]: not a field name", i + 1);
			return MAUTH_EINVAL;
		}
		if (((*names)[i] = arena_strndup(a, v, len)) == NULL)
			return MAUTH_ENOMEM;
		(*lens)[i] = len;
	}
	return (long)n;
}
