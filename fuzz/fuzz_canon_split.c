/*
 * fuzz_canon_split.c - split invariance of the streaming body
 * canonicaliser (canon_stream.c; RFC 6376 §3.4.3, §3.4.4): the same body
 * fed in pieces gives the digest, canonical length and hashed count that
 * canon_body gives over the whole body at once (postalsys mailauth #115: a
 * body hash that changed with how the input was split).  abort() otherwise.
 *
 * Input: a mode byte (bit 0 relaxed; bit 1 an l= limit from the next two
 * bytes; bits 2-3 how piece lengths are read), a count byte n, then n
 * piece lengths (one byte each, or two with mode bit 2; bit 3 makes them
 * small, 0-7, so CR/LF/WSP boundaries are cut everywhere), then the body.
 * A body byte 0xff stands for a run of WSP and line ends chosen by the
 * next byte, so trailing empty lines and WSP runs straddle the cuts.
 * Header fields are hashed whole by canon_header (message.c hands over
 * whole fields), so there is no header split to test here.
 */
#include <string.h>
#include "fuzz.h"
#include "core/canon.h"

/* An escape for fuzz_expand: a WSP run of 0-15, then a line end or not. */
static size_t wsp_lines(unsigned k, char *b)
{
	unsigned i, run = k & 15;
	size_t n = 0;

	for (i = 0; i < run; i++)
		b[n++] = (k >> 4) & 1 && i % 3 == 0 ? '\t' : ' ';
	switch ((k >> 5) & 7) {	/* then a line end, or not */
	case 0: case 1: b[n++] = '\r'; b[n++] = '\n'; break;
	case 2: b[n++] = '\n'; break;
	case 3: b[n++] = '\r'; break;
	case 4: b[n++] = '\r'; b[n++] = '\n';
		b[n++] = '\r'; b[n++] = '\n'; break;
	default: break;
	}
	return n;
}

static void setup(canon_body_state *st, int relaxed, unsigned long long limit)
{
	memset(st, 0, CANON_BODY_CLEAR);
	st->relaxed = relaxed;
	st->limit = limit;
	st->h = crypto_hash_new(HASH_SHA256);
	FUZZ_ASSERT(st->h != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static canon_body_state whole, split;	/* 16 KB each: not on the stack */
	fuzz_reader r = { data, size };
	unsigned mode = fuzz_byte(&r), npieces, i;
	unsigned long long limit = CANON_NO_LIMIT;
	size_t pieces[256], len, at;
	unsigned char want[32], got[32];
	canon_stream cs;
	char *body;

	if (mode & 2) {
		limit = (unsigned long long)fuzz_byte(&r) << 8;
		limit |= fuzz_byte(&r);
	}
	npieces = fuzz_byte(&r);
	for (i = 0; i < npieces; i++) {
		size_t p = fuzz_byte(&r);

		if (mode & 4)
			p = p << 8 | fuzz_byte(&r);
		if (mode & 8)
			p &= 7;
		pieces[i] = p;
	}
	body = fuzz_expand(&r, &len, wsp_lines);

	setup(&whole, mode & 1, limit);
	canon_body(&whole, len > 0 ? body : NULL, len);
	FUZZ_ASSERT(crypto_hash_final(whole.h, want) == 32);
	crypto_hash_free(whole.h);

	setup(&split, mode & 1, limit);
	canon_stream_begin(&cs, &split);
	for (i = 0, at = 0; i < npieces && at < len; i++) {
		size_t n = pieces[i] < len - at ? pieces[i] : len - at;

		FUZZ_ASSERT(canon_stream_feed(&cs, body + at, n) == 0);
		at += n;
	}
	FUZZ_ASSERT(canon_stream_feed(&cs, body + at, len - at) == 0);
	FUZZ_ASSERT(canon_stream_end(&cs) == 0);
	FUZZ_ASSERT(crypto_hash_final(split.h, got) == 32);
	crypto_hash_free(split.h);

	if (split.total != whole.total || split.hashed != whole.hashed ||
	    memcmp(got, want, 32) != 0)
		fprintf(stderr, "relaxed %u: split total %llu hashed %llu, "
			"whole total %llu hashed %llu\n", mode & 1,
			split.total, split.hashed, whole.total, whole.hashed);
	FUZZ_ASSERT(split.total == whole.total);
	FUZZ_ASSERT(split.hashed == whole.hashed);
	FUZZ_ASSERT(memcmp(got, want, 32) == 0);
	free(body);
	return 0;
}
