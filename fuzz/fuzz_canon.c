/*
 * fuzz_canon.c - DKIM body canonicalisation (RFC 6376 §3.4.3, §3.4.4),
 * differential: every vector path canon.c can take (AVX-512, SSSE3, none;
 * those the CPU lacks fall back) must give the digest, length and hashed
 * count of a slow reference written line by line from the RFC here.
 *
 * Input: a mode byte (bit 0: relaxed; bit 1: an l= limit from the next
 * two bytes), then the body.  A body byte 0xff stands for a run of
 * whitespace whose length and mix come from the next byte, so runs that
 * straddle the 16- and 64-byte blocks are common.
 */
#include <string.h>
#include "fuzz.h"
#include "canon.h"

/* Bare LF counts as CRLF (canon.c's rule: an MTA would have converted). */
static size_t line_end(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

/* The canonical body, straight from the RFC's wording; *n its length. */
static char *reference(int relaxed, const char *b, size_t len, size_t *n)
{
	char *out = malloc(2 * len + 3);
	const char *p = b, *end = b + len;
	size_t o = 0, keep = 0;	/* keep: length up to the last non-empty line */

	FUZZ_ASSERT(out != NULL);
	while (p < end) {
		const char *s = p;
		size_t le, start = o;

		while (p < end && line_end(p, end) == 0)
			p++;
		le = line_end(p, end);
		if (relaxed) {
			/* WSP runs to one SP, then none at the end of the line */
			const char *q;

			for (q = s; q < p; q++) {
				if (*q == ' ' || *q == '\t') {
					if (q == s || (q[-1] != ' ' && q[-1] != '\t'))
						out[o++] = ' ';
				} else {
					out[o++] = *q;
				}
			}
			while (o > start && out[o - 1] == ' ')
				o--;
		} else {
			memcpy(out + o, s, (size_t)(p - s));
			o += (size_t)(p - s);
		}
		out[o++] = '\r';
		out[o++] = '\n';
		if (o - start > 2)
			keep = o;
		p += le;
	}
	/* Empty lines at the end go; simple makes an empty body one CRLF. */
	o = keep;
	if (o == 0 && !relaxed) {
		out[0] = '\r';
		out[1] = '\n';
		o = 2;
	}
	*n = o;
	return out;
}

static void digest(int relaxed, int simd, unsigned long long limit,
		   const char *b, size_t len, unsigned char *md,
		   unsigned long long *total, unsigned long long *hashed)
{
	static canon_body_state st;	/* 16 KB: not on the stack */

	memset(&st, 0, CANON_BODY_CLEAR);
	st.relaxed = relaxed;
	st.limit = limit;
	st.h = crypto_hash_new(HASH_SHA256);
	FUZZ_ASSERT(st.h != NULL);
	canon_simd = simd;
	canon_body(&st, len > 0 ? b : NULL, len);
	canon_simd = CANON_SIMD_AVX512 | CANON_SIMD_SSSE3;
	FUZZ_ASSERT(crypto_hash_final(st.h, md) == 32);
	crypto_hash_free(st.h);
	*total = st.total;
	*hashed = st.hashed;
}

/* Expands 0xff escapes into whitespace runs. */
static char *make_body(fuzz_reader *r, size_t *len)
{
	char *b = malloc(r->left * 80 + 1);
	size_t n = 0;

	FUZZ_ASSERT(b != NULL);
	while (r->left > 0) {
		unsigned c = fuzz_byte(r);

		if (c == 0xff) {
			unsigned k = fuzz_byte(r), i, run = 1 + (k & 63);

			for (i = 0; i < run; i++)	/* SP/TAB, mostly SP */
				b[n++] = (k & 64) && (i * 7 + k) % 5 == 0 ?
					 '\t' : ' ';
			if (k & 128) {		/* then CRLF, or a bare LF */
				if (k % 3 != 0)
					b[n++] = '\r';
				b[n++] = '\n';
			}
		} else {
			b[n++] = (char)c;
		}
	}
	*len = n;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int modes[] = {
		CANON_SIMD_AVX512 | CANON_SIMD_SSSE3, CANON_SIMD_SSSE3, 0,
	};
	fuzz_reader r = { data, size };
	unsigned mode = fuzz_byte(&r), i;
	int relaxed = mode & 1;
	unsigned long long limit = CANON_NO_LIMIT;
	unsigned char want[32], got[32];
	unsigned long long total, hashed;
	size_t len, rlen;
	char *body, *ref;
	crypto_hash *h;

	if (mode & 2) {
		limit = fuzz_byte(&r) << 8;
		limit |= fuzz_byte(&r);
	}
	body = make_body(&r, &len);
	ref = reference(relaxed, body, len, &rlen);
	h = crypto_hash_new(HASH_SHA256);
	FUZZ_ASSERT(h != NULL);
	crypto_hash_update(h, ref, rlen < limit ? rlen : (size_t)limit);
	FUZZ_ASSERT(crypto_hash_final(h, want) == 32);
	crypto_hash_free(h);
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		digest(relaxed, modes[i], limit, body, len, got, &total, &hashed);
		if (total != rlen || memcmp(got, want, 32) != 0)
			fprintf(stderr, "mode %d relaxed %d: length %llu, want %zu\n",
				modes[i], relaxed, total, rlen);
		FUZZ_ASSERT(total == rlen);
		FUZZ_ASSERT(hashed == (rlen < limit ? rlen : limit));
		FUZZ_ASSERT(memcmp(got, want, 32) == 0);
	}
	free(ref);
	free(body);
	return 0;
}
