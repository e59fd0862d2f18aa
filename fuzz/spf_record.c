/*
 * libFuzzer target: the SPF record parser and the macro expander.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc fuzz/spf_record.c \
 *     src/spfrecord.c src/macro.c src/arena.c src/util.c src/ip.c -o fuzz-spf
 * The first byte picks the target: record parse, or macro expansion of the
 * rest as a domain-spec or as explanation text.
 */
#include <stdint.h>
#include <string.h>
#include "macro.h"
#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[8192];
	const char *s = (const char *)data + 1;
	size_t len = size - 1, n;
	spf_macro_env e;
	ipaddr ip;
	arena a;
	spf_record rec;
	char err[200];
	int uses_p;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		arena_init(&a);
		spf_record_parse(s, len, &rec, &a, err, sizeof err);
		arena_free(&a);
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
