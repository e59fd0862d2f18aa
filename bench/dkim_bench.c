/*
 * dkim_bench.c - DKIM verification through the C API, against the raw
 * SHA-256 floor (one EVP digest over the same body bytes, via crypto.h).
 *   make LUA=lua5.4 && gcc -O2 -Isrc bench/dkim_bench.c $(ls build/lua5.4/obj/*.o | grep -v lmailauth) \
 *     -lldns -lcrypto -lpsl -o /tmp/dkim_bench
 *   /tmp/dkim_bench KB CANON [OUT.eml]     e.g. 4 relaxed/relaxed, 10240 simple/simple
 * The message (text lines, RFC 8463 appendix A RSA key, rsa-sha256) is
 * signed by mailauth and written to OUT.eml for the OpenDKIM bench.  The
 * key is read in place from the team's test data: run from the repository
 * root with ../shared/testdata/ beside it ($MAILAUTH_TESTDATA overrides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mailauth.h"
#include "core/crypto.h"

#define KEY_RECORD "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(*len + 1);
	if (fread(p, 1, *len, f) != *len)
		*len = 0;
	fclose(f);
	return p;
}

/* The RFC 8463 appendix A RSA key from the test data folder. */
static char *rfc8463_key(size_t *len)
{
	const char *dir = getenv("MAILAUTH_TESTDATA");
	char path[4096];

	snprintf(path, sizeof path, "%s/dkim/rfc8463/rsa-test.private.pem",
		 dir != NULL ? dir : "../shared/testdata");
	return slurp(path, len);
}

static const char *get(const mauth_value *map, const char *key)
{
	const mauth_value *v = mauth_value_get(map, key);

	return v && v->kind == MAUTH_V_STR ? v->str : "";
}

int main(int argc, char **argv)
{
	static const char *lines[] = {
		"The quick brown fox jumps over the lazy dog, again and again.\r\n",
		"  Indented line with  two spaces and a tab\there, then more text\r\n",
		"> quoted reply text that goes on for a while without anything odd\r\n",
		"\r\n",
	};
	size_t kb = argc > 1 ? strtoul(argv[1], 0, 10) : 4, body_len = 0, klen, hlen;
	const char *canon = argc > 2 ? argv[2] : "relaxed/relaxed";
	const char *head = "From: Joe <joe@football.example.com>\r\nTo: a@b.example\r\n"
		"Subject: bench\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
		"Message-ID: <bench@football.example.com>\r\n\r\n";
	char *key = rfc8463_key(&klen);
	char *msg, *signed_msg, err[200];
	size_t i, n, mlen;
	mauth_check *c;
	mauth_resolver *r;
	double t0, dt, floor_dt;
	char zone[1024];
	const char *zp = zone;
	size_t zl;

	if (key == NULL) {
		fprintf(stderr, "no RFC 8463 key: run from the repository root, with ../shared/testdata/ beside it\n");
		return 1;
	}
	hlen = strlen(head);
	msg = malloc(hlen + kb * 1024 + 200);
	memcpy(msg, head, hlen);
	for (i = 0; body_len < kb * 1024; i++) {
		const char *l = lines[i % 4];

		memcpy(msg + hlen + body_len, l, strlen(l));
		body_len += strlen(l);
	}
	mlen = hlen + body_len;
	{
		mauth_opts *o = mauth_opts_new();
		const char *h;
		int rc;

		mauth_opts_ref(o, "message", msg, mlen);
		mauth_opts_str(o, "domain", "football.example.com");
		mauth_opts_str(o, "selector", "test");
		mauth_opts_ref(o, "key", key, klen);
		mauth_opts_str(o, "canonicalization", canon);
		rc = mauth_check_new(&c, "dkim_sign", mauth_opts_tree(o), err, sizeof err);
		mauth_opts_free(o);
		if (rc ||
		    mauth_check_step(c) != MAUTH_DONE) {
			fprintf(stderr, "sign: %s\n", err);
			return 1;
		}
		h = get(mauth_check_result(c), "header");
		signed_msg = malloc(strlen(h) + 2 + mlen);
		memcpy(signed_msg, h, strlen(h));
		memcpy(signed_msg + strlen(h), "\r\n", 2);
		memcpy(signed_msg + strlen(h) + 2, msg, mlen);
		mlen += strlen(h) + 2;
		mauth_check_free(c);
	}
	if (argc > 3) {
		FILE *f = fopen(argv[3], "wb");

		fwrite(signed_msg, 1, mlen, f);
		fclose(f);
	}
	snprintf(zone, sizeof zone, "$ORIGIN football.example.com.\n$TTL 300\n"
		 "@ IN SOA ns hm 1 2 3 4 5\ntest._domainkey IN TXT \"%.200s\" \"%s\"\n",
		 KEY_RECORD, KEY_RECORD + 200);
	zl = strlen(zone);
	if (mauth_resolver_new_zone(&r, &zp, &zl, 1, err, sizeof err)) {
		fprintf(stderr, "zone: %s\n", err);
		return 1;
	}
	n = kb >= 1024 ? 20 : kb >= 64 ? 2000 : 20000;
	t0 = now();
	for (i = 0; i < n; i++) {
		mauth_opts *o = mauth_opts_new();
		const mauth_value *sigs, *s;

		mauth_opts_ref(o, "message", signed_msg, mlen);
		mauth_check_new(&c, "dkim_verify", mauth_opts_tree(o), err, sizeof err);
		mauth_opts_free(o);
		mauth_check_run(c, r, 0);
		sigs = mauth_value_get(mauth_check_result(c), "signatures");
		s = sigs ? sigs->child : NULL;
		if (s == NULL || strcmp(get(s, "result"), "pass") != 0) {
			fprintf(stderr, "verify: %s %s\n", s ? get(s, "result") : "-",
				s ? get(s, "problem") : "");
			return 1;
		}
		mauth_check_free(c);
	}
	dt = (now() - t0) / n;
	/* The floor: SHA-256 of the body bytes, once, as one EVP update. */
	t0 = now();
	for (i = 0; i < n; i++) {
		unsigned char d[HASH_MAX];
		crypto_hash *h = crypto_hash_new(HASH_SHA256);

		crypto_hash_update(h, msg + hlen, body_len);
		crypto_hash_final(h, d);
		crypto_hash_free(h);
	}
	floor_dt = (now() - t0) / n;
	printf("mailauth %s %zu KB: %.1f us/verify (%.0f/s), %.0f MB/s; "
	       "SHA-256 floor %.1f us -> %.2fx\n", canon, kb, dt * 1e6, 1 / dt,
	       body_len / dt / 1048576, floor_dt * 1e6, dt / floor_dt);
	mauth_resolver_free(r);
	free(msg);
	free(signed_msg);
	free(key);
	return 0;
}
