/*
 * canon_avx512.c - the relaxed body canonicalisation (RFC 6376 §3.4.4)
 * 64 bytes at a time, for CPUs with AVX-512 VBMI2 (VPCOMPRESSB).  Chosen
 * at run time by canon.c; the SSSE3 and scalar paths give the same bytes.
 *
 * Unlike the SSSE3 path it never leaves the loop for the usual quirks of
 * text: trailing WSP before a line end and bare LFs are handled in the
 * block.  The trick is to work on the block byte-reversed: a WSP run's
 * fate depends on the byte after it (a line end: dropped; anything else:
 * one SP), and in reversed bit order "after" is the lower bit, so a carry
 * from an addition can carry that fact through the run.  For each run the
 * byte kept is its last (lowest reversed bit), turned into SP.
 *
 * Invariant on entry and between blocks: p is not inside a WSP run (the
 * byte before p is not a WSP of a run that goes on at p).  A run reaching
 * the end of the block and going on past it ends the block early, at the
 * run's start; a run as long as a block goes back to the caller.
 */
#include "core/canon.h"

#if defined(CANON_AVX512)
#include <immintrin.h>

#define TARGET __attribute__((target( \
	"avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,bmi,bmi2,lzcnt")))

int canon_avx512_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vbmi") &&
	       __builtin_cpu_supports("avx512vbmi2") &&
	       __builtin_cpu_supports("popcnt") &&
	       __builtin_cpu_supports("bmi") &&
	       __builtin_cpu_supports("bmi2");
}

TARGET
const char *canon_relaxed_avx512(const char *p, const char *cut, char **op,
				 const char *olim)
{
	const __m512i sp = _mm512_set1_epi8(' '), tab = _mm512_set1_epi8('\t');
	const __m512i cr = _mm512_set1_epi8('\r'), lf = _mm512_set1_epi8('\n');
	const __m512i iota = _mm512_set_epi8(
		63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48,
		47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
		31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
		15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	const __m512i rev = _mm512_sub_epi8(_mm512_set1_epi8(63), iota);
	char *o = *op;

	/* p[64] and p[65] are looked at: the byte after the block, and
	 * whether it starts a CRLF. */
	while (cut - p >= 66 && o <= olim) {
		/* r: the block reversed, bit j of a mask = byte 63 - j. */
		__m512i r = _mm512_permutexvar_epi8(rev,
			_mm512_loadu_si512((const void *)p));
		__m512i rn = _mm512_permutexvar_epi8(rev,
			_mm512_loadu_si512((const void *)(p + 1)));
		unsigned long long ws, lfm, crm, nlf, nws, eol, bare, seeds, drop,
				   keep, eol64;
		unsigned lim = 64, k;
		int bare_end = 0;

		ws = _mm512_cmpeq_epi8_mask(r, sp) | _mm512_cmpeq_epi8_mask(r, tab);
		if (ws == ~0ULL)
			break;		/* a run as long as the block */
		lfm = _mm512_cmpeq_epi8_mask(r, lf);
		crm = _mm512_cmpeq_epi8_mask(r, cr);
		/* the same of the next byte (bit 0: the byte after the block) */
		nlf = _mm512_cmpeq_epi8_mask(rn, lf);
		nws = _mm512_cmpeq_epi8_mask(rn, sp) | _mm512_cmpeq_epi8_mask(rn, tab);
		bare = nlf & ~crm;	/* the byte after this one is a bare LF */
		if (__builtin_expect(bare != 0, 0)) {
			/* the first bare LF, at byte lim: the block ends there */
			lim = (unsigned)__builtin_clzll(bare) + 1;
			bare_end = 1;
		} else if (__builtin_expect((ws & nws & 1) != 0, 0)) {
			/* the last run goes on: end the block at its start */
			lim = 64 - (unsigned)__builtin_ctzll(~ws);
		}
		/* Runs followed by a line end are dropped: seed each at its
		 * last byte (the bit above a line end's first byte; bit 0 for
		 * the byte after the block) and let the carry run through it.
		 * No branch on the bytes here: they are text, unpredictable. */
		eol = lfm | (crm & nlf);
		eol64 = (nlf & 1) | ((unsigned long long)(p[64] == '\r') &
				     (unsigned long long)(p[65] == '\n'));
		seeds = ((eol << 1) | eol64) & ws;
		drop = ws & ~(ws + seeds);
		/* Keep non-WSP bytes and one byte of each other run, before lim. */
		keep = (~ws | (ws & ~(ws << 1))) & ~drop;
		keep &= ~0ULL << (64 - lim);
		k = (unsigned)__builtin_popcountll(keep);
		{
			__m512i out = _mm512_mask_mov_epi8(r, ws, sp);
			__m512i packed = _mm512_maskz_compress_epi8(keep, out);
			/* packed holds the kept bytes last-first: put them back */
			__m512i back = _mm512_sub_epi8(_mm512_set1_epi8((char)(k - 1)),
						       iota);

			_mm512_storeu_si512((void *)o,
					    _mm512_permutexvar_epi8(back, packed));
		}
		o += k;
		p += lim;
		if (bare_end) {
			*o++ = '\r';
			*o++ = '\n';
			p++;
			if (*p == '\n')
				break;	/* another bare LF: the caller's */
		}
	}
	*op = o;
	return p;
}
#else
int canon_avx512_usable(void)
{
	return 0;
}

const char *canon_relaxed_avx512(const char *p, const char *cut, char **op,
				 const char *olim)
{
	(void)cut;
	(void)op;
	(void)olim;
	return p;
}
#endif
