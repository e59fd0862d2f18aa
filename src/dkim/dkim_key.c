/*
 * dkim_key.c - does a DKIM key record fit a signature?  One check for the
 * DKIM verifier (DKIM-Signature) and the ARC verifier (ARC-Message-Signature
 * and ARC-Seal use DKIM keys: RFC 8617 §4.1.2, §4.1.3).
 *
 * The DNS answer for <s>._domainkey.<d> (RFC 6376 §3.6.2) gives the key
 * record; its tags are read as RFC 6376 §3.6.1 defines them:
 *   v=  DKIM1, and first when present
 *   k=  rsa (the default) or ed25519 (RFC 8463 §4), the type a= names
 *   h=  the hashes allowed: the signature's must be among them
 *   s=  service types: "*" or "email"
 *   t=  flags: y (testing, reported), s (i= must be in d= itself)
 *   p=  the key, base64; empty means revoked (§3.6.1, §6.1.2)
 * and RSA keys below the caller's minimum are refused (RFC 8301 §3.2).
 * The checks run in that order; the first that fails is the result.
 * dkim_key_judge then checks the body hash and the signature with the key
 * (RFC 6376 §6.1.3), so that both verifiers decide a signature alike.
 */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "core/tags.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define KEY_RECORD_MAX 8192	/* bytes of a key record we read */

int dkim_list_has(const char *list, const char *word)
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

int dkim_identity_in_domain(const char *i, const char *d, int strict)
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

/* Ends the check with a permerror (or temperror) and a stable code. */
static void refuse(dkim_key *out, const char *result, const char *code,
		   const char *fmt, const char *arg)
{
	out->result = result;
	out->code = code;
	snprintf(out->problem, sizeof out->problem, fmt, arg);
}

/* k= (RFC 6376 §3.6.1, RFC 8463 §4): 0 when it is the type a= names. */
static int check_type(const tag_list *tl, const dkim_key_need *need,
		      dkim_key *out)
{
	const tag *t = tags_get(tl, "k");
	int keytype = KEY_RSA;

	if (t != NULL) {
		if (tag_ieq(t, "rsa"))
			keytype = KEY_RSA;
		else if (tag_ieq(t, "ed25519"))
			keytype = KEY_ED25519;
		else {
			refuse(out, "permerror", "key_type_unsupported",
			       "key type k= not supported%s", "");
			return -1;
		}
	}
	if (keytype != need->keytype) {
		refuse(out, "permerror", "key_type_mismatch",
		       "key type k= does not match a=%s", "");
		return -1;
	}
	return 0;
}

/* h=, s= and t= (RFC 6376 §3.6.1): 0 when they allow this signature. */
static int check_uses(const tag_list *tl, const dkim_key_need *need,
		      dkim_key *out)
{
	char buf[KEY_RECORD_MAX];
	const tag *t;

	if ((t = tags_get(tl, "h")) != NULL &&
	    (tag_compact(t, buf, sizeof buf) == (size_t)-1 ||
	     !dkim_list_has(buf, need->alg == HASH_SHA1 ? "sha1" : "sha256"))) {
		refuse(out, "permerror", "key_hash_excluded", "key h= does not "
		       "allow the signature's hash%s", "");
		return -1;
	}
	if ((t = tags_get(tl, "s")) != NULL &&
	    (tag_compact(t, buf, sizeof buf) == (size_t)-1 ||
	     !(dkim_list_has(buf, "*") || dkim_list_has(buf, "email")))) {
		refuse(out, "permerror", "key_service_excluded",
		       "key service type s= excludes email%s", "");
		return -1;
	}
	if ((t = tags_get(tl, "t")) != NULL &&
	    tag_compact(t, buf, sizeof buf) != (size_t)-1) {
		out->testing = dkim_list_has(buf, "y");
		out->strict = dkim_list_has(buf, "s");
	}
	if (out->strict && need->identity != NULL &&
	    !dkim_identity_in_domain(need->identity, need->domain, 1)) {
		refuse(out, "permerror", "identity_mismatch",
		       "key t=s: i= domain must equal d=%s", "");
		return -1;
	}
	return 0;
}

/* p=: decoded, not revoked, large enough (RFC 8301 §3.2). */
static void decode_key(const tag *p, const dkim_key_need *need, dkim_key *out)
{
	const char *why = NULL;
	crypto_key *key;

	if (p->vlen == 0) {
		refuse(out, "permerror", "key_revoked",
		       "key revoked (empty p=)%s", "");
		return;
	}
	key = crypto_pubkey_new(need->keytype, p->val, p->vlen, &why);
	if (key == NULL) {
		refuse(out, "permerror", "key_malformed", "key: %s", why);
		return;
	}
	out->bits = crypto_key_bits(key);
	if (need->keytype == KEY_RSA && out->bits < need->min_bits) {
		char text[120];

		snprintf(text, sizeof text, "%d-bit RSA key, below the %ld "
			 "bits of RFC 8301 3.2", out->bits, need->min_bits);
		crypto_key_free(key);
		refuse(out, "permerror", "key_too_small", "%s", text);
		return;
	}
	out->key = key;
}

/* One key record (RFC 6376 §3.6.1). */
static void check_record(const char *rec, size_t len,
			 const dkim_key_need *need, dkim_key *out)
{
	tag_list tl;
	const tag *t;
	const char *why = NULL;

	if (len > KEY_RECORD_MAX || memchr(rec, '\0', len) != NULL) {
		refuse(out, "permerror", "key_malformed",
		       "key record too long or with NUL bytes%s", "");
		return;
	}
	if (tags_parse(rec, len, &tl, &why) != 0) {
		refuse(out, "permerror", "key_malformed",
		       "key record syntax error: %s", why);
		return;
	}
	if ((t = tags_get(&tl, "v")) != NULL &&
	    (t != &tl.v[0] || !(t->vlen == 5 && memcmp(t->val, "DKIM1", 5) == 0))) {
		refuse(out, "permerror", "key_malformed",
		       "key record has a bad v= tag%s", "");
		return;
	}
	if ((t = tags_get(&tl, "p")) == NULL) {
		refuse(out, "permerror", "key_malformed",
		       "key record has no p= tag%s", "");
		return;
	}
	if (check_type(&tl, need, out) != 0 || check_uses(&tl, need, out) != 0)
		return;
	decode_key(t, need, out);
}

static int has_p_tag(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == 'p' && s[i + 1] == '=')
			return 1;
	return 0;
}

void dkim_key_check(const mauth_answer *a, const dkim_key_need *need,
		    dkim_key *out)
{
	size_t i;

	memset(out, 0, sizeof *out);
	if (a == NULL) {
		refuse(out, "temperror", "key_lookup_failed",
		       "no answer for the key%s", "");
	} else if (a->rcode == MAUTH_RC_BADNAME) {
		refuse(out, "permerror", "key_name_invalid",
		       "key name cannot be asked%s", "");
	} else if (answer_is_temporary(a)) {
		refuse(out, "temperror", "key_lookup_failed",
		       "key lookup failed: %s", rcode_name(a->rcode));
	} else if (ANSWER_EMPTY(a)) {
		refuse(out, "permerror", "key_missing", "no key for signature (%s)",
		       a->rcode == MAUTH_RC_NXDOMAIN ? "NXDOMAIN" : "no TXT record");
	} else {
		/* Several TXT records: the first that looks like a key wins. */
		for (i = 0; i + 1 < a->n; i++)
			if (has_p_tag(a->rr[i].data, a->rr[i].len))
				break;
		check_record(a->rr[i].data, a->rr[i].len, need, out);
	}
}

/*
 * The verdict once the key fits (k->result NULL): body hash, then the
 * signature.  Frees k->key.
 */
static void verify_signed(dkim_key *k, const dkim_signed *sig)
{
	int ok;

	if (sig->bh_fail != NULL) {
		crypto_key_free(k->key);
		k->key = NULL;
		refuse(k, "fail", sig->bh_code, "%s", sig->bh_fail);
		return;
	}
	ok = crypto_verify(k->key, sig->alg, sig->digest, sig->dlen, sig->sig,
			   sig->slen);
	crypto_key_free(k->key);
	k->key = NULL;
	if (ok != 1)
		refuse(k, "fail", "signature_mismatch",
		       "signature did not verify%s", "");
	else
		k->result = "pass";
}

void dkim_key_judge(const mauth_answer *a, const dkim_key_need *need,
		    const dkim_signed *sig, dkim_key *out)
{
	dkim_key_check(a, need, out);
	if (out->result == NULL)
		verify_signed(out, sig);
}
