/*
 * message.c - header fields and body of an RFC 5322 message, in place.
 *
 * The header section ends at the first empty line.  A field starts at a
 * line that does not begin with WSP and runs over the continuation lines
 * that do (folding, RFC 5322 §2.2.3).  Its name is the text before the
 * first ":" (obsolete syntax allows WSP before the colon, RFC 5322 §4.5).
 * A line with no ":" is kept as a field without a name, so it is never
 * selected by name but a problem is reported; so is a continuation line
 * at the very top (RFC 4409 §8 style "broken" input from scripts).
 */
#include <stdlib.h>
#include <string.h>
#include "core/message.h"

/* Counted for the parse-once spec; a relaxed atomic: checks run in threads. */
static unsigned long parses;

unsigned long msg_parse_count(void)
{
	return __atomic_load_n(&parses, __ATOMIC_RELAXED);
}

static int is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/*
 * Line ends of the header section buf[0..end): a CR not before an LF, or
 * LFs both with and without a CR before them (see message.h).
 */
static const char *line_ends(const char *buf, size_t end, const char **code)
{
	const char *p = buf, *stop = buf + end;
	int crlf = 0, lf = 0;

	while (p < stop && (p = memchr(p, '\r', (size_t)(stop - p))) != NULL) {
		if (p + 1 >= stop || p[1] != '\n') {
			*code = "bare_cr";
			return "a bare CR in the header section";
		}
		p += 2;
	}
	for (p = buf; p < stop && (p = memchr(p, '\n', (size_t)(stop - p))) != NULL; p++) {
		if (p > buf && p[-1] == '\r')
			crlf = 1;
		else
			lf = 1;
		if (crlf && lf) {
			*code = "bare_lf";
			return "a bare LF among CRLF line ends in the header section";
		}
	}
	return NULL;
}

/* Sets the line-end flag for a header section that ends at end. */
static void flag_line_ends(msg *out, const char *buf, size_t end)
{
	out->line_problem = line_ends(buf, end, &out->line_code);
	if (out->line_problem != NULL && !out->truncated) {
		out->problem = out->line_problem;
		out->code = out->line_code;
	}
}

int msg_parse(arena *a, const char *buf, size_t len, const msg_limits *lim,
	      msg *out)
{
	size_t max_fields = lim && lim->max_fields ? lim->max_fields : MSG_MAX_FIELDS;
	size_t max_header = lim && lim->max_header ? lim->max_header : MSG_MAX_HEADER;
	size_t i = 0, cap = 0;

	__atomic_add_fetch(&parses, 1, __ATOMIC_RELAXED);
	memset(out, 0, sizeof *out);
	while (i < len) {
		size_t start = i, end, le, k;
		msg_field *f;

		le = msg_line_end(buf, len, i);
		if (le > 0) {		/* the empty line */
			out->body = buf + i + le;
			out->body_len = len - i - le;
			flag_line_ends(out, buf, i + le);
			return 0;
		}
		/* Find the end of the field: a line end not followed by WSP. */
		for (;;) {
			const char *nl = memchr(buf + i, '\n', len - i);

			if (nl == NULL) {
				end = i = len;
				break;
			}
			k = (size_t)(nl - buf);
			end = k > start && buf[k - 1] == '\r' ? k - 1 : k;
			i = k + 1;
			if (i < len && (buf[i] == ' ' || buf[i] == '\t'))
				continue;
			break;
		}
		if (i > max_header || out->n >= max_fields) {
			out->problem = i > max_header ?
				       "header section larger than the limit" :
				       "more header fields than the limit";
			out->truncated = i > max_header ? MSG_TRUNC_BYTES :
					 MSG_TRUNC_FIELDS;
			out->code = "header_limit";
			flag_line_ends(out, buf, start);
			return 0;
		}
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			msg_field *nf = arena_alloc(a, ncap * sizeof *nf);

			if (nf == NULL)
				return -1;
			if (cap > 0)
				memcpy(nf, out->f, cap * sizeof *nf);
			out->f = nf;
			cap = ncap;
		}
		f = &out->f[out->n++];
		f->raw = buf + start;
		f->len = end - start;
		for (k = 0; k < f->len && is_ftext((unsigned char)f->raw[k]); k++)
			;
		f->nlen = k;
		while (k < f->len && (f->raw[k] == ' ' || f->raw[k] == '\t'))
			k++;
		if (f->nlen == 0 || k >= f->len || f->raw[k] != ':') {
			f->nlen = 0;
			f->value = f->raw;
			f->vlen = f->len;
			if (out->problem == NULL) {
				out->problem = "a header line is not a field";
				out->code = "not_a_field";
			}
			continue;
		}
		f->value = f->raw + k + 1;
		f->vlen = f->len - k - 1;
	}
	/* No empty line: all header, no body. */
	flag_line_ends(out, buf, len);
	return 0;
}

size_t msg_count(const msg *m, const char *name, size_t nlen)
{
	size_t i, n = 0;

	for (i = 0; i < m->n; i++)
		n += msg_field_is(&m->f[i], name, nlen);
	return n;
}

int msg_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 ||
		    s[i] == ':')
			return 0;
	return 1;
}

int mauth_message_parse(mauth_message **out, const char *text, size_t len)
{
	mauth_message *h;
	char *copy;

	*out = NULL;
	if (text == NULL && len > 0)
		return MAUTH_EINVAL;
	h = malloc(sizeof *h);
	if (h == NULL)
		return MAUTH_ENOMEM;
	arena_init(&h->mem);
	copy = arena_strndup(&h->mem, text != NULL ? text : "", len);
	if (copy == NULL || msg_parse(&h->mem, copy, len, NULL, &h->m) != 0) {
		mauth_message_free(h);
		return MAUTH_ENOMEM;
	}
	*out = h;
	return 0;
}

void mauth_message_free(mauth_message *m)
{
	if (m == NULL)
		return;
	arena_free(&m->mem);
	free(m);
}
