/*
 * canon.c - "simple" and "relaxed" canonicalisation (RFC 6376 §3.4.1-4).
 * A bare LF counts as CRLF everywhere (an MTA would have converted it).
 */
#include <string.h>
#include "core/canon.h"

/* ---- header fields ---- */

typedef struct {
	crypto_hash *h;
	char buf[512];
	size_t n;
} outbuf;

static void out_c(outbuf *o, char c)
{
	if (o->n == sizeof o->buf) {
		crypto_hash_update(o->h, o->buf, o->n);
		o->n = 0;
	}
	o->buf[o->n++] = c;
}

static void out_flush(outbuf *o)
{
	crypto_hash_update(o->h, o->buf, o->n);
	o->n = 0;
}

static int is_hdr_special(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* 0xff where a byte of v is SP, TAB, CR or LF (whitespace or a line end). */
static __m128i wsp_or_eol16(__m128i v)
{
	return _mm_or_si128(
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
}

/*
 * How many bytes from p on are clean for the relaxed header form, up to
 * 16 (p[16] is readable): no TAB, CR or LF, and no SP followed by
 * WSP, CR or LF; such bytes are copied as they are.
 */
static unsigned header_clean16(const char *p)
{
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	__m128i cur = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i nxt = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
	__m128i nsp = wsp_or_eol16(nxt);
	__m128i bad = _mm_or_si128(
		_mm_or_si128(_mm_cmpeq_epi8(cur, tab), _mm_cmpeq_epi8(cur, cr)),
		_mm_or_si128(_mm_cmpeq_epi8(cur, lf),
			     _mm_and_si128(_mm_cmpeq_epi8(cur, sp), nsp)));
	unsigned m = (unsigned)_mm_movemask_epi8(bad);

	return m == 0 ? 16 : (unsigned)__builtin_ctz(m);
}
#endif

/*
 * Relaxed header value bytes [from, to) of raw (len: the whole field, for
 * looking past to): unfolded, WSP runs to one SP, none before the first
 * or after the last other byte.  space and any carry across calls.
 * Runs of clean bytes (text with single spaces) are copied 16 at a time;
 * the rest a byte at a time.
 */
static void relaxed_value(outbuf *o, const char *raw, size_t len, size_t from,
			  size_t to, int *space, int *any)
{
	size_t i = from;

	while (i < to) {
		char c = raw[i];

#if defined(__SSE2__)
		if (!*space && *any && to - i >= 17 && c != ' ') {
			unsigned k = header_clean16(raw + i);

			if (k > 0) {
				if (o->n + 16 > sizeof o->buf)
					out_flush(o);
				memcpy(o->buf + o->n, raw + i, 16);
				o->n += k;
				i += k;
				continue;
			}
		}
#endif
		i++;
		if (is_hdr_special(c)) {
			if (c == ' ' || c == '\t') {
				*space = 1;
				continue;
			}
			if (c == '\n' || (i < len && raw[i] == '\n'))
				continue;	/* unfold (a lone CR is kept) */
		}
		/* room for a SP and the byte */
		if (o->n + 2 > sizeof o->buf)
			out_flush(o);
		if (*space && *any)
			o->buf[o->n++] = ' ';
		*space = 0;
		*any = 1;
		o->buf[o->n++] = c;
	}
}

void canon_header(int relaxed, const char *raw, size_t len, size_t nlen,
		  size_t skip_from, size_t skip_to, int crlf, crypto_hash *h)
{
	outbuf o;
	size_t i;
	int space = 0, any = 0;

	o.h = h;
	o.n = 0;
	if (!relaxed) {
		for (i = 0; i < len; i++) {
			if (i == skip_from && skip_to > skip_from) {
				i = skip_to - 1;
				continue;
			}
			if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
				out_c(&o, '\r');
			out_c(&o, raw[i]);
		}
	} else {
		for (i = 0; i < nlen; i++) {
			char c = raw[i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			out_c(&o, c);
		}
		/* Past the name: WSP, then the colon (obsolete syntax). */
		while (i < len && raw[i] != ':')
			i++;
		out_c(&o, ':');
		/* The value, around the skipped bytes (only after the colon). */
		if (skip_to > skip_from && skip_from > i && skip_from < len) {
			relaxed_value(&o, raw, len, i + 1, skip_from, &space, &any);
			relaxed_value(&o, raw, len, skip_to, len, &space, &any);
		} else {
			relaxed_value(&o, raw, len, i + 1, len, &space, &any);
		}
	}
	if (crlf) {
		out_c(&o, '\r');
		out_c(&o, '\n');
	}
	out_flush(&o);
}

/* ---- bodies ---- */

int canon_simd = CANON_SIMD_AVX512 | CANON_SIMD_SSSE3;

#define STAGE_RUN 256	/* runs shorter than this are copied to the stage */

static void stage_flush(canon_body_state *st)
{
	if (st->staged > 0)
		crypto_hash_update(st->h, st->stage, st->staged);
	st->staged = 0;
}

static void span_flush(canon_body_state *st)
{
	if (st->span_len == 0)
		return;
	if (st->span_len < STAGE_RUN) {
		if (st->staged + st->span_len > sizeof st->stage)
			stage_flush(st);
		memcpy(st->stage + st->staged, st->span, st->span_len);
		st->staged += st->span_len;
	} else {
		stage_flush(st);	/* keep the order of the bytes */
		crypto_hash_update(st->h, st->span, st->span_len);
	}
	st->span_len = 0;
}

/* Emits n canonical bytes at p, merging runs that are adjacent in memory. */
static void emit(canon_body_state *st, const char *p, size_t n)
{
	unsigned long long room;

	st->total += n;
	if (st->hashed >= st->limit)
		return;
	room = st->limit - st->hashed;
	if (n > room)
		n = (size_t)room;
	st->hashed += n;
	if (st->span_len > 0 && st->span + st->span_len == p) {
		st->span_len += n;
		return;
	}
	span_flush(st);
	st->span = p;
	st->span_len = n;
}

static const char CRLF[] = "\r\n";

/*
 * The fast path.  Only the end of a body has lines to drop (trailing empty
 * or WSP-only lines), so the body is cut at its last byte that is not WSP
 * or a line end, and everything before that cut is copied to the digest
 * in contiguous runs, stopping only at "events":
 *   relaxed: a TAB, a SP followed by SP/TAB/CR/LF, a bare LF;
 *   simple:  a bare LF.
 * An event is handled on its own (WSP run -> one SP or nothing at a line
 * end; bare LF -> CRLF) and the copying resumes after it.
 */

static int is_space_or_eol(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Is there an event at p (p + 1 < end, or p is the last byte)? */
static int event_at(int relaxed, const char *p, const char *end)
{
	if (p + 1 < end && p[1] == '\n' && p[0] != '\r')
		return 1;	/* the next byte is a bare LF */
	if (!relaxed)
		return 0;
	if (*p == '\t')
		return 1;
	return *p == ' ' && p + 1 < end && is_space_or_eol(p[1]);
}

/*
 * The first p in [p, end) with an event, or end.  An event at p means:
 * p is TAB or a SP run start to rewrite, or p[1] is a bare LF.
 */
static const char *next_event(int relaxed, const char *p, const char *end)
{
#if defined(__SSE2__)
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');

	while (end - p >= 17) {
		__m128i cur = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i nxt = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i nlf = _mm_cmpeq_epi8(nxt, lf);
		__m128i ev = _mm_andnot_si128(_mm_cmpeq_epi8(cur, cr), nlf);
		int m;

		if (relaxed) {
			__m128i nws = wsp_or_eol16(nxt);

			ev = _mm_or_si128(ev, _mm_cmpeq_epi8(cur, tab));
			ev = _mm_or_si128(ev, _mm_and_si128(
				_mm_cmpeq_epi8(cur, sp), nws));
		}
		m = _mm_movemask_epi8(ev);
		if (m != 0)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (event_at(relaxed, p, end))
			return p;
	return end;
}

/* Length of a line end at p (CRLF 2, bare LF 1), else 0. */
static size_t eol_at(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

/*
 * Relaxed bodies are rewritten into the stage, not referenced: text has a
 * WSP event every dozen bytes or so, too often for per-run bookkeeping.
 * The stage is hashed (up to the l= limit) whenever it fills.
 */
static void relaxed_flush(canon_body_state *st, size_t n)
{
	unsigned long long room;

	st->total += n;
	if (st->hashed < st->limit) {
		room = st->limit - st->hashed;
		if (n > room)
			n = (size_t)room;
		crypto_hash_update(st->h, st->stage, n);
		st->hashed += n;
	}
}

/* Room kept free at the end of the stage: a 64-byte store and an event. */
#define STAGE_SLACK 96

/*
 * With SSSE3, blocks of 16 bytes with no line end to touch are rewritten
 * without a branch per WSP run: a byte is dropped when it is WSP after a
 * WSP, a TAB becomes SP, and the kept bytes are packed with PSHUFB, 8 at a
 * time.  A block goes back to relaxed_body's event code when it has WSP
 * before a CR or LF (trailing WSP), or a bare LF right after one of its
 * bytes.  p always moves by 16 (no dependency from one block's contents
 * to the next block's address); a WSP run across blocks is followed with
 * a carry bit, and given back whole to the event code when the fast loop
 * stops inside it, so the event code never starts in the middle of one.
 */
#if defined(__SSE2__) && defined(__GNUC__) && defined(__x86_64__)
#define CANON_SSSE3 1
#include <tmmintrin.h>

/* Entry m: the positions of the set bits of m, lowest first, then 0x80
 * (PSHUFB writes 0 there). */
static const unsigned long long compact_idx[256] = {
	0x8080808080808080ULL, 0x8080808080808000ULL, 0x8080808080808001ULL,
	0x8080808080800100ULL, 0x8080808080808002ULL, 0x8080808080800200ULL,
	0x8080808080800201ULL, 0x8080808080020100ULL, 0x8080808080808003ULL,
	0x8080808080800300ULL, 0x8080808080800301ULL, 0x8080808080030100ULL,
	0x8080808080800302ULL, 0x8080808080030200ULL, 0x8080808080030201ULL,
	0x8080808003020100ULL, 0x8080808080808004ULL, 0x8080808080800400ULL,
	0x8080808080800401ULL, 0x8080808080040100ULL, 0x8080808080800402ULL,
	0x8080808080040200ULL, 0x8080808080040201ULL, 0x8080808004020100ULL,
	0x8080808080800403ULL, 0x8080808080040300ULL, 0x8080808080040301ULL,
	0x8080808004030100ULL, 0x8080808080040302ULL, 0x8080808004030200ULL,
	0x8080808004030201ULL, 0x8080800403020100ULL, 0x8080808080808005ULL,
	0x8080808080800500ULL, 0x8080808080800501ULL, 0x8080808080050100ULL,
	0x8080808080800502ULL, 0x8080808080050200ULL, 0x8080808080050201ULL,
	0x8080808005020100ULL, 0x8080808080800503ULL, 0x8080808080050300ULL,
	0x8080808080050301ULL, 0x8080808005030100ULL, 0x8080808080050302ULL,
	0x8080808005030200ULL, 0x8080808005030201ULL, 0x8080800503020100ULL,
	0x8080808080800504ULL, 0x8080808080050400ULL, 0x8080808080050401ULL,
	0x8080808005040100ULL, 0x8080808080050402ULL, 0x8080808005040200ULL,
	0x8080808005040201ULL, 0x8080800504020100ULL, 0x8080808080050403ULL,
	0x8080808005040300ULL, 0x8080808005040301ULL, 0x8080800504030100ULL,
	0x8080808005040302ULL, 0x8080800504030200ULL, 0x8080800504030201ULL,
	0x8080050403020100ULL, 0x8080808080808006ULL, 0x8080808080800600ULL,
	0x8080808080800601ULL, 0x8080808080060100ULL, 0x8080808080800602ULL,
	0x8080808080060200ULL, 0x8080808080060201ULL, 0x8080808006020100ULL,
	0x8080808080800603ULL, 0x8080808080060300ULL, 0x8080808080060301ULL,
	0x8080808006030100ULL, 0x8080808080060302ULL, 0x8080808006030200ULL,
	0x8080808006030201ULL, 0x8080800603020100ULL, 0x8080808080800604ULL,
	0x8080808080060400ULL, 0x8080808080060401ULL, 0x8080808006040100ULL,
	0x8080808080060402ULL, 0x8080808006040200ULL, 0x8080808006040201ULL,
	0x8080800604020100ULL, 0x8080808080060403ULL, 0x8080808006040300ULL,
	0x8080808006040301ULL, 0x8080800604030100ULL, 0x8080808006040302ULL,
	0x8080800604030200ULL, 0x8080800604030201ULL, 0x8080060403020100ULL,
	0x8080808080800605ULL, 0x8080808080060500ULL, 0x8080808080060501ULL,
	0x8080808006050100ULL, 0x8080808080060502ULL, 0x8080808006050200ULL,
	0x8080808006050201ULL, 0x8080800605020100ULL, 0x8080808080060503ULL,
	0x8080808006050300ULL, 0x8080808006050301ULL, 0x8080800605030100ULL,
	0x8080808006050302ULL, 0x8080800605030200ULL, 0x8080800605030201ULL,
	0x8080060503020100ULL, 0x8080808080060504ULL, 0x8080808006050400ULL,
	0x8080808006050401ULL, 0x8080800605040100ULL, 0x8080808006050402ULL,
	0x8080800605040200ULL, 0x8080800605040201ULL, 0x8080060504020100ULL,
	0x8080808006050403ULL, 0x8080800605040300ULL, 0x8080800605040301ULL,
	0x8080060504030100ULL, 0x8080800605040302ULL, 0x8080060504030200ULL,
	0x8080060504030201ULL, 0x8006050403020100ULL, 0x8080808080808007ULL,
	0x8080808080800700ULL, 0x8080808080800701ULL, 0x8080808080070100ULL,
	0x8080808080800702ULL, 0x8080808080070200ULL, 0x8080808080070201ULL,
	0x8080808007020100ULL, 0x8080808080800703ULL, 0x8080808080070300ULL,
	0x8080808080070301ULL, 0x8080808007030100ULL, 0x8080808080070302ULL,
	0x8080808007030200ULL, 0x8080808007030201ULL, 0x8080800703020100ULL,
	0x8080808080800704ULL, 0x8080808080070400ULL, 0x8080808080070401ULL,
	0x8080808007040100ULL, 0x8080808080070402ULL, 0x8080808007040200ULL,
	0x8080808007040201ULL, 0x8080800704020100ULL, 0x8080808080070403ULL,
	0x8080808007040300ULL, 0x8080808007040301ULL, 0x8080800704030100ULL,
	0x8080808007040302ULL, 0x8080800704030200ULL, 0x8080800704030201ULL,
	0x8080070403020100ULL, 0x8080808080800705ULL, 0x8080808080070500ULL,
	0x8080808080070501ULL, 0x8080808007050100ULL, 0x8080808080070502ULL,
	0x8080808007050200ULL, 0x8080808007050201ULL, 0x8080800705020100ULL,
	0x8080808080070503ULL, 0x8080808007050300ULL, 0x8080808007050301ULL,
	0x8080800705030100ULL, 0x8080808007050302ULL, 0x8080800705030200ULL,
	0x8080800705030201ULL, 0x8080070503020100ULL, 0x8080808080070504ULL,
	0x8080808007050400ULL, 0x8080808007050401ULL, 0x8080800705040100ULL,
	0x8080808007050402ULL, 0x8080800705040200ULL, 0x8080800705040201ULL,
	0x8080070504020100ULL, 0x8080808007050403ULL, 0x8080800705040300ULL,
	0x8080800705040301ULL, 0x8080070504030100ULL, 0x8080800705040302ULL,
	0x8080070504030200ULL, 0x8080070504030201ULL, 0x8007050403020100ULL,
	0x8080808080800706ULL, 0x8080808080070600ULL, 0x8080808080070601ULL,
	0x8080808007060100ULL, 0x8080808080070602ULL, 0x8080808007060200ULL,
	0x8080808007060201ULL, 0x8080800706020100ULL, 0x8080808080070603ULL,
	0x8080808007060300ULL, 0x8080808007060301ULL, 0x8080800706030100ULL,
	0x8080808007060302ULL, 0x8080800706030200ULL, 0x8080800706030201ULL,
	0x8080070603020100ULL, 0x8080808080070604ULL, 0x8080808007060400ULL,
	0x8080808007060401ULL, 0x8080800706040100ULL, 0x8080808007060402ULL,
	0x8080800706040200ULL, 0x8080800706040201ULL, 0x8080070604020100ULL,
	0x8080808007060403ULL, 0x8080800706040300ULL, 0x8080800706040301ULL,
	0x8080070604030100ULL, 0x8080800706040302ULL, 0x8080070604030200ULL,
	0x8080070604030201ULL, 0x8007060403020100ULL, 0x8080808080070605ULL,
	0x8080808007060500ULL, 0x8080808007060501ULL, 0x8080800706050100ULL,
	0x8080808007060502ULL, 0x8080800706050200ULL, 0x8080800706050201ULL,
	0x8080070605020100ULL, 0x8080808007060503ULL, 0x8080800706050300ULL,
	0x8080800706050301ULL, 0x8080070605030100ULL, 0x8080800706050302ULL,
	0x8080070605030200ULL, 0x8080070605030201ULL, 0x8007060503020100ULL,
	0x8080808007060504ULL, 0x8080800706050400ULL, 0x8080800706050401ULL,
	0x8080070605040100ULL, 0x8080800706050402ULL, 0x8080070605040200ULL,
	0x8080070605040201ULL, 0x8007060504020100ULL, 0x8080800706050403ULL,
	0x8080070605040300ULL, 0x8080070605040301ULL, 0x8007060504030100ULL,
	0x8080070605040302ULL, 0x8007060504030200ULL, 0x8007060504030201ULL,
	0x0706050403020100ULL,
};

__attribute__((target("ssse3,popcnt")))
static const char *relaxed_fast(const char *p, const char *cut, char **op,
				const char *olim)
{
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	const __m128i flip = _mm_set1_epi8(' ' ^ '\t'), eight = _mm_set1_epi8(8);
	const char *start = p;
	char *o = *op;
	unsigned carry = 0;	/* the byte before p is WSP of a run begun here */

	while (cut - p >= 17 && o <= olim) {
		__m128i cur = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i nxt = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i ctab = _mm_cmpeq_epi8(cur, tab);
		__m128i ws = _mm_or_si128(_mm_cmpeq_epi8(cur, sp), ctab);
		__m128i nlf = _mm_cmpeq_epi8(nxt, lf);
		__m128i neol = _mm_or_si128(_mm_cmpeq_epi8(nxt, cr), nlf);
		__m128i hard = _mm_or_si128(_mm_and_si128(ws, neol),
			_mm_andnot_si128(_mm_cmpeq_epi8(cur, cr), nlf));
		unsigned wsm, keep, lo, hi;
		__m128i out, ilo, ihi;

		if (_mm_movemask_epi8(hard) != 0)
			break;
		wsm = (unsigned)_mm_movemask_epi8(ws);
		keep = ~(wsm & ((wsm << 1) | carry)) & 0xffff;
		carry = wsm >> 15;
		out = _mm_xor_si128(cur, _mm_and_si128(ctab, flip));
		lo = keep & 0xff;
		hi = keep >> 8;
		ilo = _mm_loadl_epi64((const __m128i *)(const void *)&compact_idx[lo]);
		ihi = _mm_add_epi8(_mm_loadl_epi64(
			(const __m128i *)(const void *)&compact_idx[hi]), eight);
		_mm_storel_epi64((__m128i *)(void *)o, _mm_shuffle_epi8(out, ilo));
		o += __builtin_popcount(lo);
		_mm_storel_epi64((__m128i *)(void *)o, _mm_shuffle_epi8(out, ihi));
		o += __builtin_popcount(hi);
		p += 16;
	}
	if (carry) {
		/* Stopped inside a WSP run: its one SP is the last byte out.
		 * Take it back and leave the whole run to the event code. */
		o--;
		while (p > start && (p[-1] == ' ' || p[-1] == '\t'))
			p--;
	}
	*op = o;
	return p;
}
#endif

/*
 * body < cut; everything before cut is canonicalised into the stage.
 *
 * Longer than 80 lines on purpose: this is the loop every byte of every
 * relaxed body goes through (RFC 6376 §3.4.4), and it keeps p, o, resume
 * and the SSE2 constants in registers across its fast paths (AVX-512,
 * SSSE3, the 16-byte SSE2 block, the scalar byte) and the event code
 * after them.  Split into functions, each path hands p and o back through
 * memory and the block path needs a third outcome ("event inside the
 * block") to be returned and tested; the fast paths that could stand
 * alone already do (canon_relaxed_avx512, relaxed_fast).  The parts are
 * marked in place instead: the bare-LF resume, the fast paths, the event.
 */
static void relaxed_body(canon_body_state *st, const char *p, const char *cut)
{
	char *o = st->stage;
	char *olim = st->stage + sizeof st->stage - STAGE_SLACK;
	int resume = 1;		/* at p, a LF follows no CR: a bare LF */
	int avx512 = (canon_simd & CANON_SIMD_AVX512) && canon_avx512_usable();
#if defined(CANON_SSSE3)
	int ssse3 = (canon_simd & CANON_SIMD_SSSE3) &&
		    __builtin_cpu_supports("ssse3") &&
		    __builtin_cpu_supports("popcnt");
#endif
#if defined(__SSE2__)
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
#endif

	while (p < cut) {
		const char *k;
		size_t le;
		int block = 0;	/* p is at an event found in a 16-byte block */

		if (o > olim) {
			relaxed_flush(st, (size_t)(o - st->stage));
			o = st->stage;
		}
		if (resume && *p == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			p++;
			continue;
		}
		resume = 0;
		if (avx512) {
			const char *q = canon_relaxed_avx512(p, cut, &o, olim);

			if (q != p) {
				resume = q[-1] != '\r';	/* a LF at q is bare */
				p = q;
				continue;
			}
		}
#if defined(CANON_SSSE3)
		if (ssse3) {
			const char *q = relaxed_fast(p, cut, &o, olim);

			if (q != p) {
				p = q;
				continue;
			}
		}
#endif
#if defined(__SSE2__)
		if (cut - p >= 17) {
			/* Same events as next_event(); the 16 bytes are stored
			 * whole and the output advances only over clean ones. */
			block = 1;
			__m128i cur = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i nxt = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
			__m128i nlf = _mm_cmpeq_epi8(nxt, lf);
			__m128i ev = _mm_andnot_si128(_mm_cmpeq_epi8(cur, cr), nlf);
			__m128i nws = wsp_or_eol16(nxt);
			__m128i csp = _mm_cmpeq_epi8(cur, sp);
			__m128i ctab = _mm_cmpeq_epi8(cur, tab);
			unsigned m, wsm, eolm, run;

			ev = _mm_or_si128(ev, ctab);
			ev = _mm_or_si128(ev, _mm_and_si128(csp, nws));
			m = (unsigned)_mm_movemask_epi8(ev);
			_mm_storeu_si128((__m128i *)(void *)o, cur);
			if (m == 0) {
				p += 16;
				o += 16;
				continue;
			}
			m = (unsigned)__builtin_ctz(m);
			p += m;
			o += m;
			/* The usual event, a WSP run inside a line, from the
			 * masks: the run and the byte after it are in the block. */
			wsm = (unsigned)_mm_movemask_epi8(_mm_or_si128(csp, ctab)) >> m;
			if (wsm & 1) {
				eolm = (unsigned)_mm_movemask_epi8(_mm_or_si128(
					_mm_cmpeq_epi8(cur, cr),
					_mm_cmpeq_epi8(cur, lf))) >> m;
				run = (unsigned)__builtin_ctz(~wsm);
				if (m + run < 16 && !((eolm >> run) & 1)) {
					*o++ = ' ';
					p += run;
					continue;
				}
			}
		}
#endif
		if (!block && !event_at(1, p, cut)) {
			*o++ = *p++;
			continue;
		}
		/* An event at p. */
		if (*p != ' ' && *p != '\t') {	/* p[1] is a bare LF */
			*o++ = *p;
			*o++ = '\r';
			*o++ = '\n';
			p += 2;
			resume = 1;
			continue;
		}
		for (k = p; k < cut && (*k == ' ' || *k == '\t'); k++)
			;
		le = eol_at(k, cut);
		if (le == 0) {			/* inside a line: one SP */
			*o++ = ' ';
			p = k;
		} else if (le == 1) {		/* trailing WSP, bare LF */
			*o++ = '\r';
			*o++ = '\n';
			p = k + 1;
			resume = 1;
		} else {			/* trailing WSP, CRLF */
			p = k;
		}
	}
	/* The last line's end. */
	*o++ = '\r';
	*o++ = '\n';
	relaxed_flush(st, (size_t)(o - st->stage));
}

void canon_body(canon_body_state *st, const char *body, size_t len)
{
	st->hashed = st->total = 0;
	st->span_len = 0;
	st->staged = 0;
	canon_body_more(st, body, len);
}

void canon_body_more(canon_body_state *st, const char *body, size_t len)
{
	static const char SP[] = " ";
	const char *p, *cut, *end;

	if (body == NULL) {		/* no body at all: as an empty one */
		body = CRLF;
		len = 0;
	}
	p = body;
	end = body + len;
	/* cut: just after the last byte that survives at the end. */
	cut = end;
	while (cut > body) {
		char c = cut[-1];

		if (c == '\n' || (c == '\r' && cut < end && *cut == '\n') ||
		    (st->relaxed && (c == ' ' || c == '\t')))
			cut--;
		else
			break;
	}
	if (cut == body) {
		if (!st->relaxed)
			emit(st, CRLF, 2);	/* empty body: one CRLF (§3.4.3) */
		span_flush(st);
		stage_flush(st);
		return;
	}
	if (st->relaxed) {
		relaxed_body(st, p, cut);
		return;
	}
	while (p < cut) {
		const char *q, *k;
		size_t le;

		/* Wherever we resume, a LF here follows no CR: a bare LF. */
		if (*p == '\n') {
			emit(st, CRLF, 2);
			p++;
			continue;
		}
		q = next_event(st->relaxed, p, cut);
		if (q == cut) {
			emit(st, p, (size_t)(cut - p));
			break;
		}
		if (!st->relaxed || (*q != ' ' && *q != '\t')) {
			/* q[1] is a bare LF */
			emit(st, p, (size_t)(q + 1 - p));
			emit(st, CRLF, 2);
			p = q + 2;
			continue;
		}
		emit(st, p, (size_t)(q - p));
		for (k = q; k < cut && (*k == ' ' || *k == '\t'); k++)
			;
		le = eol_at(k, cut);
		if (le == 0) {			/* inside a line: one SP */
			if (k - q == 1 && *q == ' ')
				emit(st, q, 1);
			else
				emit(st, SP, 1);
			p = k;
		} else if (le == 1) {		/* trailing WSP, bare LF */
			emit(st, CRLF, 2);
			p = k + 1;
		} else {			/* trailing WSP, CRLF */
			p = k;
		}
	}
	/* The last line's end: the input's CRLF when there is one. */
	if (cut + 1 < end && cut[0] == '\r' && cut[1] == '\n')
		emit(st, cut, 2);
	else
		emit(st, CRLF, 2);
	span_flush(st);
	stage_flush(st);
}
