/*
 * canon.c - "simple" and "relaxed" canonicalisation (RFC 6376 §3.4.1-4).
 * A bare LF counts as CRLF everywhere (an MTA would have converted it).
 */
#include <string.h>
#include "canon.h"

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

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

			out_c(&o, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
		}
		/* Past the name: WSP, then the colon (obsolete syntax). */
		while (i < len && raw[i] != ':')
			i++;
		out_c(&o, ':');
		for (i++; i < len; i++) {
			char c = raw[i];

			if (i == skip_from && skip_to > skip_from) {
				i = skip_to - 1;
				continue;
			}
			if (c == '\r' && i + 1 < len && raw[i + 1] == '\n')
				continue;	/* unfold */
			if (c == '\n')
				continue;
			if (is_wsp(c)) {
				space = 1;
				continue;
			}
			if (space && any)
				out_c(&o, ' ');
			space = 0;
			any = 1;
			out_c(&o, c);
		}
	}
	if (crlf) {
		out_c(&o, '\r');
		out_c(&o, '\n');
	}
	out_flush(&o);
}

/* ---- bodies ---- */

static void span_flush(canon_body_state *st)
{
	if (st->span_len > 0)
		crypto_hash_update(st->h, st->span, st->span_len);
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

static void emit_blank_lines(canon_body_state *st, size_t n)
{
	while (n-- > 0)
		emit(st, CRLF, 2);
}

/* One line of a relaxed body, without its line end; 0 when it is blank. */
static int relaxed_line(canon_body_state *st, const char *a, const char *b,
			size_t *blank)
{
	static const char SP[] = " ";

	while (b > a && is_wsp(b[-1]))
		b--;
	if (a == b)
		return 0;
	emit_blank_lines(st, *blank);
	*blank = 0;
	while (a < b) {
		const char *j = a, *k;

		while (j < b && !is_wsp(*j))
			j++;
		if (j > a)
			emit(st, a, (size_t)(j - a));
		if (j == b)
			break;
		for (k = j; k < b && is_wsp(*k); k++)
			;
		if (k - j == 1 && *j == ' ')
			emit(st, j, 1);
		else
			emit(st, SP, 1);
		a = k;
	}
	return 1;
}

void canon_body(canon_body_state *st, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	size_t blank = 0;	/* empty lines held back: dropped at the end */

	st->hashed = st->total = 0;
	st->span_len = 0;
	while (body != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *ce = nl ? nl : end;	/* content end */
		const char *le;			/* line end bytes, if CRLF */

		if (nl != NULL && ce > p && ce[-1] == '\r')
			ce--;
		le = nl != NULL && ce < nl ? ce : NULL;
		if (st->relaxed) {
			if (relaxed_line(st, p, ce, &blank))
				emit(st, le ? le : CRLF, 2);
			else
				blank++;
		} else if (ce == p && nl != NULL) {
			blank++;
		} else {
			emit_blank_lines(st, blank);
			blank = 0;
			emit(st, p, (size_t)(ce - p));
			emit(st, le ? le : CRLF, 2);
		}
		p = nl ? nl + 1 : end;
	}
	/* A final blank "line" without a line end is not a line. */
	if (!st->relaxed && st->total == 0)
		emit(st, CRLF, 2);	/* empty body: one CRLF (§3.4.3) */
	span_flush(st);
}
