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
 *
 * With mode bit 2 the same bytes are a header field instead (name up to
 * the first ':'; two more bytes pick a region to leave out, as the b=
 * value of the signature being checked is), and relaxed header
 * canonicalisation (§3.4.2) is compared with its reference.
 */
#include <string.h>
#include "fuzz.h"
#include "core/canon.h"

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

/* An escape for fuzz_expand: a SP/TAB run of 1-64, then CRLF, LF or none. */
static size_t wsp_run(unsigned k, char *b)
{
	unsigned i, run = 1 + (k & 63);
	size_t n = 0;

	for (i = 0; i < run; i++)	/* SP/TAB, mostly SP */
		b[n++] = (k & 64) && (i * 7 + k) % 5 == 0 ? '\t' : ' ';
	if (k & 128) {		/* then CRLF, or a bare LF */
		if (k % 3 != 0)
			b[n++] = '\r';
		b[n++] = '\n';
	}
	return n;
}

/* §3.4.2 on raw[0, len) without [skip_from, skip_to); *n its length. */
static char *header_reference(const char *raw, size_t len, size_t nlen,
			      size_t colon, size_t skip_from, size_t skip_to,
			      size_t *n)
{
	char *out = malloc(len + 3);
	size_t i, o = 0, start;

	FUZZ_ASSERT(out != NULL);
	for (i = 0; i < nlen; i++)	/* the name in lower case */
		out[o++] = raw[i] >= 'A' && raw[i] <= 'Z' ?
			   (char)(raw[i] + 32) : raw[i];
	out[o++] = ':';		/* no WSP before or after it */
	start = o;
	for (i = colon + 1; i < len; i++) {
		char c = raw[i];

		if (i >= skip_from && i < skip_to)
			continue;
		if (c == '\n' || (c == '\r' && i + 1 < len && raw[i + 1] == '\n' &&
				  !(i + 1 >= skip_from && i + 1 < skip_to)))
			continue;	/* unfolding */
		if (c == ' ' || c == '\t') {
			if (o > start && out[o - 1] != ' ')
				out[o++] = ' ';
			continue;
		}
		out[o++] = c;
	}
	if (o > start && out[o - 1] == ' ')
		o--;
	out[o++] = '\r';
	out[o++] = '\n';
	*n = o;
	return out;
}

static void header_case(fuzz_reader *r)
{
	unsigned a = fuzz_byte(r), b = fuzz_byte(r);
	size_t len, nlen, colon, rlen, from, to;
	char *raw = fuzz_expand(r, &len, wsp_run), *ref;
	unsigned char want[32], got[32];
	crypto_hash *h;

	/* As the message reader gives fields: a name of printable bytes,
	 * WSP, a colon. */
	for (nlen = 0; nlen < len && raw[nlen] > ' ' && raw[nlen] < 127 &&
	     raw[nlen] != ':'; nlen++)
		;
	for (colon = nlen; colon < len &&
	     (raw[colon] == ' ' || raw[colon] == '\t'); colon++)
		;
	if (nlen == 0 || colon == len || raw[colon] != ':') {
		free(raw);
		return;
	}
	/* a skipped region after the colon, or none */
	from = colon + 1 + a % (len - colon);
	to = from + b % (len - from + 1);
	if (b & 1)
		from = to = 0;
	/* like a b= value, the region never splits a CRLF */
	if (from > 0 && from < len && raw[from - 1] == '\r' && raw[from] == '\n')
		from++;
	if (to < from)
		to = from;
	if (to > 0 && to < len && raw[to - 1] == '\r' && raw[to] == '\n')
		to++;
	ref = header_reference(raw, len, nlen, colon, from, to, &rlen);
	h = crypto_hash_new(HASH_SHA256);
	FUZZ_ASSERT(h != NULL);
	crypto_hash_update(h, ref, rlen);
	FUZZ_ASSERT(crypto_hash_final(h, want) == 32);
	crypto_hash_free(h);
	h = crypto_hash_new(HASH_SHA256);
	FUZZ_ASSERT(h != NULL);
	canon_header(1, raw, len, nlen, from, to, 1, h);
	FUZZ_ASSERT(crypto_hash_final(h, got) == 32);
	crypto_hash_free(h);
	FUZZ_ASSERT(memcmp(got, want, 32) == 0);
	free(ref);
	free(raw);
}

static void body_case(fuzz_reader *r, int relaxed, int limited)
{
	static const int modes[] = {
		CANON_SIMD_AVX512 | CANON_SIMD_SSSE3, CANON_SIMD_SSSE3, 0,
	};
	unsigned long long limit = CANON_NO_LIMIT;
	unsigned char want[32], got[32];
	unsigned long long total, hashed;
	size_t len, rlen, i;
	char *body, *ref;
	crypto_hash *h;

	if (limited) {
		limit = fuzz_byte(r) << 8;
		limit |= fuzz_byte(r);
	}
	body = fuzz_expand(r, &len, wsp_run);
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader r = { data, size };
	unsigned mode = fuzz_byte(&r);

	if (mode & 4)
		header_case(&r);
	else
		body_case(&r, mode & 1, mode & 2);
	return 0;
}
