/*
 * fuzz_arc.c - libFuzzer target for ARC: chain validation (arc_verify) of
 * any message, with a fuzzed key record and rcode as the answer to every
 * key question, and sealing (arc_seal) followed by validation.
 *
 * Input: one mode byte, then the message, optionally followed by
 * "\n=====\n" and the key record.  Mode bit 0: also seal the message
 * (Ed25519, RFC 8032 §7.1 test key) and validate the result with the
 * matching key; bits 1-2: rcode of the key answers (NOERROR, NXDOMAIN,
 * SERVFAIL, NOERROR with no record).
 *
 * Checks: both end with a defined result; a seal of a message without ARC
 * fields (and a clean header) validates as pass.
 */
#include <string.h>
#include "fuzz.h"
#include "core/internal.h"

static const char ed_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIHy/uVfRKrgmQKLyopN6QOi5Pc8As6BLYyLiKivWVxxw\n"
	"-----END PRIVATE KEY-----\n";
static const char ed_record[] =
	"v=DKIM1; k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=";

static const mauth_value *get(const mauth_value *m, const char *key)
{
	return m ? mauth_value_get(m, key) : NULL;
}

/* Runs arc_verify; returns the result word (static storage) or NULL. */
static const char *verify(const char *msg, size_t mlen, const char *key,
			  size_t klen, int rcode, int empty)
{
	static char word[8];
	mauth_opts *o = mauth_opts_new();
	const mauth_value *r, *res;
	mauth_check *c;
	int rc;

	word[0] = '\0';
	mauth_opts_ref(o, "message", msg, mlen);
	mauth_opts_int(o, "now", 1700000000);
	rc = mauth_check_new(&c, "arc_verify", mauth_opts_tree(o), NULL, 0);
	mauth_opts_free(o);
	if (rc != 0)
		return NULL;
	while (mauth_check_step(c) == MAUTH_WANT_DNS) {
		const mauth_question *qv;
		size_t n = mauth_check_questions(c, &qv), i;
		mauth_rr rr = { key, klen, 0 };
		mauth_answer a = { rcode, 300, 0, empty ? 0 : 1, &rr, NULL, 0 };

		FUZZ_ASSERT(n > 0 && n <= 100);
		for (i = 0; i < n; i++)
			mauth_check_answer(c, qv[i].id, &a);
	}
	r = mauth_check_result(c);
	res = get(r, "result");
	FUZZ_ASSERT(res != NULL && res->kind == MAUTH_V_STR);
	FUZZ_ASSERT(strcmp(res->str, "none") == 0 || strcmp(res->str, "pass") == 0 ||
		    strcmp(res->str, "fail") == 0);
	snprintf(word, sizeof word, "%s", res->str);
	mauth_check_free(c);
	return word;
}

static int starts_clean(const char *s, size_t n)
{
	return n > 0 && ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n=====\n";
	static const int rcodes[] = {
		MAUTH_RC_NOERROR, MAUTH_RC_NXDOMAIN, MAUTH_RC_SERVFAIL, MAUTH_RC_NOERROR
	};
	const char *text, *key = ed_record;
	size_t mlen, klen = strlen(ed_record), i;
	unsigned mode;

	if (size == 0)
		return 0;
	mode = data[0];
	text = (const char *)data + 1;
	mlen = size - 1;
	for (i = 0; i + sizeof sep - 1 <= mlen; i++)
		if (memcmp(text + i, sep, sizeof sep - 1) == 0) {
			key = text + i + sizeof sep - 1;
			klen = mlen - i - (sizeof sep - 1);
			mlen = i;
			break;
		}
	verify(text, mlen, key, klen, rcodes[(mode >> 1) & 3], ((mode >> 1) & 3) == 3);

	if (mode & 1) {
		mauth_opts *o = mauth_opts_new();
		const mauth_value *r, *seal, *ams, *aar, *inst, *cv;
		mauth_check *c;
		int rc;

		mauth_opts_ref(o, "message", text, mlen);
		mauth_opts_str(o, "domain", "example.com");
		mauth_opts_str(o, "selector", "ed");
		mauth_opts_str(o, "key", ed_pem);
		mauth_opts_str(o, "algorithm", "ed25519-sha256");
		mauth_opts_str(o, "authserv_id", "mx.example");
		mauth_opts_ref(o, "authentication_results", key, klen);
		mauth_opts_int(o, "now", 1700000000);
		rc = mauth_check_new(&c, "arc_seal", mauth_opts_tree(o), NULL, 0);
		mauth_opts_free(o);
		if (rc != 0)
			return 0;
		FUZZ_ASSERT(mauth_check_step(c) == MAUTH_DONE);
		r = mauth_check_result(c);
		seal = get(r, "seal");
		ams = get(r, "message_signature");
		aar = get(r, "authentication_results");
		inst = get(r, "instance");
		cv = get(r, "cv");
		FUZZ_ASSERT(seal != NULL || get(r, "problem") != NULL);
		if (seal != NULL && inst != NULL && inst->num == 1 && cv != NULL &&
		    strcmp(cv->str, "none") == 0 && starts_clean(text, mlen) &&
		    memchr(text, '\0', mlen) == NULL) {
			size_t n = seal->len + ams->len + aar->len + 6 + mlen;
			char *m = malloc(n);
			const char *w;

			FUZZ_ASSERT(m != NULL);
			memcpy(m, seal->str, seal->len);
			memcpy(m + seal->len, "\r\n", 2);
			memcpy(m + seal->len + 2, ams->str, ams->len);
			memcpy(m + seal->len + 2 + ams->len, "\r\n", 2);
			memcpy(m + seal->len + 4 + ams->len, aar->str, aar->len);
			memcpy(m + seal->len + 4 + ams->len + aar->len, "\r\n", 2);
			memcpy(m + n - mlen, text, mlen);
			w = verify(m, n, ed_record, strlen(ed_record),
				   MAUTH_RC_NOERROR, 0);
			FUZZ_ASSERT(w != NULL && strcmp(w, "pass") == 0);
			free(m);
		}
		mauth_check_free(c);
	}
	return 0;
}
