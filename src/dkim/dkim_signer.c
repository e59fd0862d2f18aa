/*
 * dkim_signer.c - what the DKIM signer (dkim_sign.c) and the ARC sealer
 * (arc_seal.c) share: ARC builds on DKIM (RFC 8617 §4.1.2: the AMS is a
 * DKIM signature with i= for an identity; §4.1.3: the seal is signed as
 * DKIM signs).  Here are the arguments both take (message, domain,
 * selector, key, algorithm, now, headers), the fields signed by default
 * (RFC 6376 §5.4.1), the private key checks (type of a=, RFC 8301 §3.2
 * sizes, RFC 8463 Ed25519), the body hash, the header hash and signing,
 * and the cleanup.  Pure: no DNS, no clock (now is a parameter).
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/internal.h"
#include "core/message.h"
#include "core/canon.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define DEFAULT_NAMES_MAX 64	/* names a default h= takes at most */

/* RFC 6376 §5.4.1's list of fields worth signing, when present. */
static const char *const default_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date",
	"resent-from", "resent-to", "resent-cc", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive", "message-id",
	"mime-version", "content-type", "content-transfer-encoding",
};

/* d= or s=: a name that can be asked, with nothing a tag list breaks on. */
static int tag_name_ok(const char *s)
{
	return name_is_valid(s, strlen(s)) && strpbrk(s, "; \\") == NULL;
}

/* The names of params headers.1, 2, ... (see dkim.h). */
static long read_names(arena *a, const params *p, dkim_signer *s, char *err,
		       size_t errlen)
{
	char key[32];
	size_t i, n = 0;

	for (;;) {
		snprintf(key, sizeof key, "headers.%zu", n + 1);
		if (param_get(p, key, NULL) == NULL)
			break;
		n++;
	}
	if (n > DKIM_MAX_H) {
		snprintf(err, errlen, "headers: more than %d names", DKIM_MAX_H);
		return MAUTH_EINVAL;
	}
	if (n == 0)
		return 0;
	s->names = arena_alloc(a, n * sizeof *s->names);
	s->lens = arena_alloc(a, n * sizeof *s->lens);
	if (s->names == NULL || s->lens == NULL)
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
		if ((s->names[i] = arena_strndup(a, v, len)) == NULL)
			return MAUTH_ENOMEM;
		s->lens[i] = len;
	}
	return (long)n;
}

/* message, domain, selector and key are required; d= and s= are names. */
static int read_required(const params *p, dkim_signer *s, char *err,
			 size_t errlen)
{
	s->message = param_get(p, "message", &s->mlen);
	s->domain = param_get(p, "domain", NULL);
	s->selector = param_get(p, "selector", NULL);
	s->keypem = param_get(p, "key", &s->klen);
	if (s->message == NULL || s->domain == NULL || s->selector == NULL ||
	    s->keypem == NULL) {
		snprintf(err, errlen, "%s: required", s->message == NULL ?
			 "message" : s->domain == NULL ? "domain" :
			 s->selector == NULL ? "selector" : "key");
		return MAUTH_EINVAL;
	}
	if (!tag_name_ok(s->domain)) {
		snprintf(err, errlen, "domain: not a domain name");
		return MAUTH_EINVAL;
	}
	if (!tag_name_ok(s->selector)) {
		snprintf(err, errlen, "selector: not a selector");
		return MAUTH_EINVAL;
	}
	return 0;
}

int dkim_signer_args(mauth_check *c, const params *p, dkim_signer *s,
		     char *err, size_t errlen)
{
	arena *a = check_arena(c);
	long given;
	int rc;

	memset(s, 0, sizeof *s);
	if ((rc = read_required(p, s, err, errlen)) != 0)
		return rc;
	s->algorithm = param_get(p, "algorithm", NULL);
	if (s->algorithm == NULL || strcmp(s->algorithm, "rsa-sha256") == 0) {
		s->keytype = KEY_RSA;
		s->algorithm = "rsa-sha256";
	} else if (strcmp(s->algorithm, "ed25519-sha256") == 0) {
		s->keytype = KEY_ED25519;
	} else {
		snprintf(err, errlen, "algorithm: rsa-sha256 or ed25519-sha256");
		return MAUTH_EINVAL;
	}
	s->has_now = param_long(p, "now", 0, 0x7fffffffffffL, &s->now);
	if (s->has_now < 0) {
		snprintf(err, errlen, "now: want seconds since the epoch");
		return MAUTH_EINVAL;
	}
	if ((given = read_names(a, p, s, err, errlen)) < 0)
		return (int)given;
	s->nh = (size_t)given;
	return msg_parse(a, s->message, s->mlen, NULL, &s->m) != 0 ?
	       MAUTH_ENOMEM : 0;
}

int dkim_signer_default_names(arena *a, dkim_signer *s, const char *also,
			      int oversign_from)
{
	size_t nd = sizeof default_fields / sizeof *default_fields, i;

	s->names = arena_alloc(a, DEFAULT_NAMES_MAX * sizeof *s->names);
	s->lens = arena_alloc(a, DEFAULT_NAMES_MAX * sizeof *s->lens);
	if (s->names == NULL || s->lens == NULL)
		return MAUTH_ENOMEM;
	s->nh = 0;
	for (i = 0; i < nd + (also != NULL); i++) {
		const char *name = i < nd ? default_fields[i] : also;
		size_t len = strlen(name), j;
		size_t want = msg_count(&s->m, name, len) +
			      (oversign_from && i == 0);	/* From is first */

		for (j = 0; j < want && s->nh < DEFAULT_NAMES_MAX; j++) {
			s->names[s->nh] = name;
			s->lens[s->nh++] = len;
		}
	}
	return 0;
}

const char *dkim_signer_key(dkim_signer *s, const char *mismatch,
			    const char **code)
{
	const char *why = NULL;

	s->key = crypto_privkey_pem(s->keypem, s->klen, &why);
	if (s->key == NULL) {
		*code = "signing_key_unreadable";
		return why;
	}
	if (crypto_key_type(s->key) != s->keytype) {
		*code = "signing_key_mismatch";
		return mismatch != NULL ? mismatch : s->keytype == KEY_RSA ?
		       "key is not an RSA key" : "key is not an Ed25519 key";
	}
	if (s->keytype == KEY_RSA && crypto_key_bits(s->key) < 1024) {
		*code = "key_too_small";
		return "RSA key below 1024 bits (RFC 8301 3.2)";
	}
	return NULL;
}

int dkim_signer_body_hash(const dkim_signer *s, int relaxed,
			  char b64[HASH_MAX * 2])
{
	unsigned char digest[HASH_MAX];
	canon_body_state cb;

	memset(&cb, 0, CANON_BODY_CLEAR);
	cb.relaxed = relaxed;
	cb.limit = CANON_NO_LIMIT;
	cb.h = crypto_hash_new(HASH_SHA256);
	if (cb.h == NULL)
		return MAUTH_ENOMEM;
	canon_body(&cb, s->m.body, s->m.body_len);
	crypto_hash_final(cb.h, digest);
	crypto_hash_free(cb.h);
	b64_encode(digest, 32, b64);
	return 0;
}

char *dkim_signer_sign(const dkim_signer *s, crypto_hash *h, const char **why)
{
	unsigned char digest[HASH_MAX], sig[SIG_MAX];
	size_t dlen = crypto_hash_final(h, digest), slen;
	char *out;

	*why = NULL;
	slen = dlen ? crypto_sign(s->key, HASH_SHA256, digest, dlen, sig) : 0;
	if (slen == 0) {
		*why = "signing failed";
		return NULL;
	}
	out = malloc(4 * ((slen + 2) / 3) + 1);
	if (out != NULL)
		b64_encode(sig, slen, out);
	return out;
}

char *dkim_signer_sign_fields(const dkim_signer *s, int relaxed,
			      const char *field, size_t len, size_t nlen,
			      const char **why)
{
	crypto_hash *h = crypto_hash_new(HASH_SHA256);
	unsigned char *used = malloc(s->m.n ? s->m.n : 1);
	char *out = NULL;

	*why = NULL;
	if (h != NULL && used != NULL) {
		dkim_hash_fields(&s->m, s->names, s->lens, s->nh, relaxed, used, h);
		canon_header(relaxed, field, len, nlen, 0, 0, 0, h);
		out = dkim_signer_sign(s, h, why);
	}
	crypto_hash_free(h);
	free(used);
	return out;
}

void dkim_signer_free(dkim_signer *s)
{
	crypto_key_free(s->key);
	s->key = NULL;
}
