/*
 * libFuzzer target: the SPF record parser and the macro expander.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_spf.c (sh fuzz/run.sh 600 spf) \
 *     src/spf/spf_record.c src/spf/spf_macro.c src/core/{arena,util,ip}.c -o fuzz-spf
 * The first byte picks the target: record parse, or macro expansion of the
 * rest as a domain-spec or as explanation text.  A record is parsed three
 * times: directly and twice through the process-wide cache (a miss, then
 * a hit from a different copy of the text); all three must agree, the
 * cached ones pointing into their own copy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "spf/spf_macro.h"
#include "spf/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* p in text a, and q at the same offset of text b (or both NULL). */
static int same_place(const char *p, const char *a, const char *q, const char *b)
{
	return p == NULL ? q == NULL : q != NULL && p - a == q - b;
}

static void same_record(const spf_record *x, const char *tx,
			const spf_record *y, const char *ty)
{
	size_t i;

	CHECK(x->n == y->n);
	CHECK(same_place(x->redirect, tx, y->redirect, ty));
	CHECK(x->redirect_len == y->redirect_len);
	CHECK(same_place(x->exp, tx, y->exp, ty));
	CHECK(x->exp_len == y->exp_len);
	CHECK(x->redirect_uses_p == y->redirect_uses_p && x->exp_uses_p == y->exp_uses_p);
	for (i = 0; i < x->n; i++) {
		const spf_term *s = &x->terms[i], *t = &y->terms[i];

		CHECK(s->mech == t->mech && s->result == t->result);
		CHECK(s->cidr4 == t->cidr4 && s->cidr6 == t->cidr6);
		CHECK(s->uses_p == t->uses_p);
		CHECK(same_place(s->spec, tx, t->spec, ty) && s->spec_len == t->spec_len);
		CHECK(same_place(s->text, tx, t->text, ty) && s->text_len == t->text_len);
		CHECK(memcmp(&s->net, &t->net, sizeof s->net) == 0);
	}
}

static void record_case(const char *s, size_t len)
{
	spf_record direct, miss, hit;
	char err[200], err2[200];
	char *copy1 = malloc(len + 1), *copy2 = malloc(len + 1);
	const char *text1 = NULL, *text2 = NULL;
	spf_cached *held1 = NULL, *held2 = NULL;
	arena a;
	int rc, rc1, rc2;

	CHECK(copy1 != NULL && copy2 != NULL);
	memcpy(copy1, s, len);
	memcpy(copy2, s, len);
	arena_init(&a);
	rc = spf_record_parse(s, len, &direct, &a, err, sizeof err);
	/* the first through the cache a miss (or a hit of an earlier input),
	 * the second a hit; each record points into the text it is given */
	rc1 = spf_record_get(copy1, len, &miss, &text1, &held1, &a, err2, sizeof err2);
	rc2 = spf_record_get(copy2, len, &hit, &text2, &held2, &a, err2, sizeof err2);
	CHECK(rc == rc1 && rc == rc2);
	if (rc == 0) {
		same_record(&direct, s, &miss, text1);
		same_record(&direct, s, &hit, text2);
	}
	spf_cache_release(held1);
	spf_cache_release(held2);
	arena_free(&a);
	free(copy1);
	free(copy2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[8192];
	const char *s = (const char *)data + 1;
	size_t len = size - 1, n;
	spf_macro_env e;
	ipaddr ip;
	int uses_p;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		record_case(s, len);
		break;
	case 1:
		spf_domain_spec_ok(s, len, &uses_p);
		break;
	default:
		memset(&e, 0, sizeof e);
		ip_parse(data[0] & 4 ? "2001:db8::1" : "192.0.2.1", data[0] & 4 ? 11 : 9, &ip);
		e.ip = &ip;
		e.sender = "a.b-c+d@example.com"; e.sender_len = 19;
		e.local = "a.b-c+d"; e.local_len = 7;
		e.sdomain = "example.com"; e.sdomain_len = 11;
		e.domain = "sub.example.com"; e.domain_len = 15;
		e.helo = "mx.example.com"; e.helo_len = 14;
		e.receiver = "unknown"; e.receiver_len = 7;
		e.ptr = "unknown"; e.ptr_len = 7;
		e.now = 1700000000;
		spf_macro_expand(s, len, &e, data[0] % 4 == 2 ? MACRO_TAIL : MACRO_EXPLAIN,
				 out, data[0] & 8 ? 64 : sizeof out, &n);
		break;
	}
	return 0;
}
