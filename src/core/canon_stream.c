/*
 * canon_stream.c - DKIM body canonicalisation (RFC 6376 §3.4.3, §3.4.4) fed
 * in pieces.  A body cut into chunks must hash as the whole body does
 * (postalsys mailauth #115 was a body hash that changed with the split):
 * the two things that depend on what follows are held back here,
 *   - the unfinished last line (its end, a CR before a LF in the next
 *     piece, trailing WSP), copied until its LF arrives;
 *   - empty lines (relaxed: WSP-only), which "ignore all empty lines at
 *     the end of the message body" drops only when nothing follows, kept
 *     as a count and written out as CRLFs once a non-empty line comes.
 * Everything else goes to canon_body_more in whole lines, in place.
 */
#include <stdlib.h>
#include <string.h>
#include "core/canon.h"

static const char CRLF[] = "\r\n";

/* Is the line [s, e) (its LF, if any, not included) empty as §3.4 counts? */
static int line_is_blank(int relaxed, const char *s, const char *e, int has_lf)
{
	if (has_lf && e > s && e[-1] == '\r')
		e--;		/* CRLF; a CR alone at the very end is content */
	if (!relaxed)
		return e == s;
	for (; s < e; s++)
		if (*s != ' ' && *s != '\t')
			return 0;
	return 1;
}

/* Writes the held-back empty lines: a non-empty line follows them. */
static void release_blanks(canon_stream *cs)
{
	canon_body_state *st = cs->st;

	for (; cs->blank > 0; cs->blank--) {
		/* emit-like accounting, through canon_body_more's flushing
		 * path: a lone CRLF is one empty line of a body */
		st->total += 2;
		if (st->hashed < st->limit) {
			size_t n = st->limit - st->hashed < 2 ? 1 : 2;

			crypto_hash_update(st->h, CRLF, n);
			st->hashed += n;
		}
	}
}

/* Whole lines [p, p + n), n > 0, ending in a LF. */
static void whole_lines(canon_stream *cs, const char *p, size_t n)
{
	const char *q = p + n;
	unsigned long long trailing = 0;
	int relaxed = cs->st->relaxed;

	/* The empty lines at the end of the piece wait for what follows. */
	while (q > p) {
		const char *ls = q - 1;	/* q[-1] is this line's LF */

		while (ls > p && ls[-1] != '\n')
			ls--;
		if (!line_is_blank(relaxed, ls, q - 1, 1))
			break;
		trailing++;
		q = ls;
	}
	if (q > p) {
		release_blanks(cs);
		canon_body_more(cs->st, p, (size_t)(q - p));
		cs->blank = trailing;
	} else {
		cs->blank += trailing;
	}
}

static int hold(canon_stream *cs, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (cs->line_len + n > cs->line_cap) {
		size_t cap = cs->line_cap ? cs->line_cap : 256;
		char *line;

		while (cap < cs->line_len + n)
			cap *= 2;
		line = realloc(cs->line, cap);
		if (line == NULL) {
			cs->failed = 1;
			return -1;
		}
		cs->line = line;
		cs->line_cap = cap;
	}
	memcpy(cs->line + cs->line_len, p, n);
	cs->line_len += n;
	return 0;
}

void canon_stream_begin(canon_stream *cs, canon_body_state *st)
{
	memset(cs, 0, sizeof *cs);
	cs->st = st;
	st->hashed = st->total = 0;
	st->span_len = 0;
	st->staged = 0;
}

int canon_stream_feed(canon_stream *cs, const char *p, size_t n)
{
	const char *lf, *last;

	if (cs->failed)
		return -1;
	if (n == 0)
		return 0;
	if (cs->line_len > 0) {
		/* finish the held line first */
		lf = memchr(p, '\n', n);
		if (lf == NULL)
			return hold(cs, p, n);
		if (hold(cs, p, (size_t)(lf + 1 - p)) != 0)
			return -1;
		whole_lines(cs, cs->line, cs->line_len);
		cs->line_len = 0;
		n -= (size_t)(lf + 1 - p);
		p = lf + 1;
	}
	for (last = p + n; last > p && last[-1] != '\n'; last--)
		;
	if (last > p)
		whole_lines(cs, p, (size_t)(last - p));
	return hold(cs, last, (size_t)(p + n - last));
}

int canon_stream_end(canon_stream *cs)
{
	canon_body_state *st = cs->st;
	int rc = cs->failed ? -1 : 0;

	if (!cs->failed && cs->line_len > 0 &&
	    !line_is_blank(st->relaxed, cs->line, cs->line + cs->line_len, 0)) {
		release_blanks(cs);
		canon_body_more(st, cs->line, cs->line_len);
	}
	if (!cs->failed && st->total == 0 && !st->relaxed)
		canon_body_more(st, NULL, 0);	/* empty body: one CRLF */
	free(cs->line);
	cs->line = NULL;
	cs->line_len = cs->line_cap = 0;
	return rc;
}
