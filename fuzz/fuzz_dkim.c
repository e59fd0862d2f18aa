/*
 * fuzz_dkim.c - libFuzzer target for the message reader, the tag parser,
 * canonicalisation and DKIM verification.  The input is split at the
 * first NUL-free "\n=====\n" into a message and a key record (the answer
 * to every key question), so both sides are fuzzed.  Envelope recipients
 * are given, so that the To/Cc reading of the replay evidence runs too.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -D_DEFAULT_SOURCE \
 *     fuzz/fuzz_dkim.c $(make -s print-srcs) $(make -s print-libs) \
 *     -o build/fuzz_dkim && build/fuzz_dkim -max_total_time=60   (or: sh fuzz/run.sh 60 dkim)
 */
#include <stdint.h>
#include <string.h>
#include "mailauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n=====\n";
	static const char *const rcpts[] = { "bob@example.net", "<Alice@Example.COM>" };
	const char *text = (const char *)data, *key = "v=DKIM1; p=";
	size_t mlen = size, klen = strlen(key), i;
	mauth_opts *o = mauth_opts_new();
	mauth_check *c;
	int rc;

	for (i = 0; i + sizeof sep - 1 <= size; i++)
		if (memcmp(text + i, sep, sizeof sep - 1) == 0) {
			mlen = i;
			key = text + i + sizeof sep - 1;
			klen = size - i - (sizeof sep - 1);
			break;
		}
	mauth_opts_ref(o, "message", text, mlen);
	mauth_opts_int(o, "now", 1667843664);
	mauth_opts_list(o, "recipients", rcpts, 2);
	rc = mauth_check_new(&c, "dkim_verify", mauth_opts_tree(o), NULL, 0);
	mauth_opts_free(o);
	if (rc != 0)
		return 0;
	while (mauth_check_step(c) == MAUTH_WANT_DNS) {
		const mauth_question *qv;
		size_t n = mauth_check_questions(c, &qv);
		mauth_rr rr = { key, klen, 0 };
		mauth_answer a = { MAUTH_RC_NOERROR, 300, 0, 1, &rr, NULL, 0 };

		for (i = 0; i < n; i++)
			mauth_check_answer(c, qv[i].id, &a);
	}
	mauth_check_result(c);
	mauth_check_free(c);
	return 0;
}
