/*
 * canon.h - DKIM canonicalisation (RFC 6376 §3.4), fed straight into a
 * digest: nothing is copied per signature.  Shared with ARC.
 */
#if !defined(MAUTH_CANON_H)
#define MAUTH_CANON_H

#include <stddef.h>
#include "core/crypto.h"

enum { CANON_SIMPLE = 0, CANON_RELAXED = 1 };

/*
 * Hashes one header field (raw bytes, name first, folding included) in
 * canonical form.  The bytes [skip_from, skip_to) of raw are left out (the
 * b= value of the signature being checked; skip_from == skip_to for none).
 * crlf: append the CRLF that ends a field (not for the signature itself).
 */
void canon_header(int relaxed, const char *raw, size_t len, size_t nlen,
		  size_t skip_from, size_t skip_to, int crlf, crypto_hash *h);

#define CANON_NO_LIMIT ((unsigned long long)-1)

/* Body canonicalisation state; see canon_body. */
typedef struct {
	int relaxed;
	crypto_hash *h;
	unsigned long long limit;	/* bytes to hash (l=), or CANON_NO_LIMIT */
	unsigned long long hashed;	/* bytes hashed */
	unsigned long long total;	/* canonical body length */
	const char *span;		/* bytes waiting, contiguous in input */
	size_t span_len;
	size_t staged;
	/* Short runs (simple) or all output (relaxed) gathered here: one
	 * digest call per 16 KB.  Last: needs no zeroing. */
	char stage[16384];
} canon_body_state;

/* Bytes to zero before setting relaxed, h and limit: all but the stage. */
#define CANON_BODY_CLEAR offsetof(canon_body_state, stage)

/*
 * Canonicalises a whole body (NULL/0 for none) into st->h in one pass,
 * hashing at most st->limit bytes.  Contiguous runs of input are handed to
 * the digest in one call, so CRLF bodies go through almost at hash speed.
 */
void canon_body(canon_body_state *st, const char *body, size_t len);

/*
 * canon_body without resetting the counts: the text is one more piece of
 * the same body, starting at a line start (all earlier output flushed).
 * Trailing empty lines of the piece are dropped as at the body's end, so
 * a caller that is not at the end passes pieces ending in a non-empty line.
 */
void canon_body_more(canon_body_state *st, const char *body, size_t len);

/*
 * The body in pieces of any size, as a host receiving it in chunks has it
 * (canon_stream.c).  Set st's relaxed, h and limit (the rest zeroed, as for
 * canon_body), then begin, feed the pieces, end: the digest, total and
 * hashed equal those of canon_body over the whole body at once (the
 * split-invariance fuzz/fuzz_canon_split.c checks).  Held back between
 * pieces: the unfinished last line (copied) and a count of empty lines,
 * which count only if a non-empty line follows (§3.4.3, §3.4.4).
 */
typedef struct {
	canon_body_state *st;
	char *line;			/* the unfinished line */
	size_t line_len, line_cap;
	unsigned long long blank;	/* empty lines held back */
	int failed;			/* out of memory: the digest is wrong */
} canon_stream;

void canon_stream_begin(canon_stream *cs, canon_body_state *st);
/* Returns 0, or -1 when out of memory (then end reports it too). */
int canon_stream_feed(canon_stream *cs, const char *p, size_t n);
/* Finishes the body and frees what was held; 0, or -1 (out of memory). */
int canon_stream_end(canon_stream *cs);

/*
 * The vector paths the body canonicaliser may use when the CPU has them
 * (all by default).  Only tests change it, to compare the paths' output.
 */
enum { CANON_SIMD_AVX512 = 1, CANON_SIMD_SSSE3 = 2 };
extern int canon_simd;

/*
 * canon_avx512.c: relaxed body blocks of 64 bytes (x86-64 with AVX-512
 * VBMI2, checked at run time).  Canonicalises from p (not inside a WSP
 * run, not at a bare LF) towards cut into *op while *op <= olim (olim
 * leaves 96 bytes of room); returns where it stopped.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define CANON_AVX512 1
#endif
int canon_avx512_usable(void);
const char *canon_relaxed_avx512(const char *p, const char *cut, char **op,
				 const char *olim);

#endif
