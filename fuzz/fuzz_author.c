/*
 * fuzz_author.c - the strict From reader (author.c) against what it must
 * never do: accept a From value that readers could take differently.
 *
 * Input: a From field body; or "M" then a whole message (message reader
 * and author_read together).  When the strict reader accepts a value:
 *  (a) the canonical form "<local@domain>,\r\n <...>" of its mailboxes
 *      reads back to the same addresses, cleanly;
 *  (b) an independent simple reader (below: split at top-level commas,
 *      drop comments, take the text between the last "<" and its ">" or
 *      the whole piece, the domain after the last "@") finds the same
 *      domains, in order.
 * Any disagreement is an ambiguity the strict reader should have refused:
 * abort().  Always: at most 64 mailboxes of at most 998 bytes, non-empty
 * lower-case domains, distinct domains listed once, a problem whenever
 * there is not exactly one From field.
 */
#include <string.h>
#include "fuzz.h"
#include "core/internal.h"
#include "core/message.h"
#include "core/author.h"

#define SIMPLE_MAX 80

typedef struct {
	char d[SIMPLE_MAX][AUTHOR_MAX_TEXT + 1];
	size_t n;
} simple_domains;

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One list member s[0..n): its domain, or nothing for an empty member. */
static void simple_member(const char *s, size_t n, simple_domains *out)
{
	char text[4096];
	size_t i, t = 0, lt = (size_t)-1, at = (size_t)-1, from, to, k = 0;
	int quoted = 0, depth = 0;
	char *d;

	/* Comments out (quotes kept), whitespace out. */
	for (i = 0; i < n && t + 1 < sizeof text; i++) {
		char c = s[i];

		if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (!quoted && c == '(') {
			depth = 1;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		if (quoted && c == '\\' && i + 1 < n) {
			text[t++] = c;
			c = s[++i];
		} else if (!quoted && is_space(c))
			continue;
		if (!quoted && c == '<')
			lt = t;
		text[t++] = c;
	}
	text[t] = '\0';
	if (t == 0)
		return;
	from = 0;
	to = t;
	if (lt != (size_t)-1) {
		from = lt + 1;
		for (to = from; to < t && text[to] != '>'; to++)
			;
	}
	for (i = from, quoted = 0; i < to; i++) {
		if (text[i] == '"')
			quoted = !quoted;
		else if (text[i] == '\\' && quoted)
			i++;
		else if (text[i] == '@' && !quoted)
			at = i;
	}
	FUZZ_ASSERT(out->n < SIMPLE_MAX);
	d = out->d[out->n++];
	if (at != (size_t)-1)
		for (i = at + 1; i < to && k < AUTHOR_MAX_TEXT; i++)
			d[k++] = (char)(text[i] >= 'A' && text[i] <= 'Z' ?
					text[i] + 32 : text[i]);
	d[k] = '\0';
}

/* The simple reader: split at commas outside quotes, comments, angles. */
static void simple_read(const char *v, size_t len, simple_domains *out)
{
	size_t i, start = 0;
	int quoted = 0, depth = 0, angle = 0;

	out->n = 0;
	for (i = 0; i <= len; i++) {
		char c = i < len ? v[i] : ',';

		if (i < len && c == '\\' && (quoted || depth > 0)) {
			i++;
			continue;
		}
		if (depth > 0) {
			depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (quoted) {
			quoted = c != '"';
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (c == '(')
			depth = 1;
		else if (c == '<')
			angle = 1;
		else if (c == '>')
			angle = 0;
		else if (c == ',' && !angle) {
			simple_member(v + start, i - start, out);
			start = i + 1;
		}
	}
}

static void check_shape(const author *au)
{
	size_t i, j;

	FUZZ_ASSERT(au->n <= AUTHOR_MAX_MAILBOXES);
	FUZZ_ASSERT(au->ndomains <= au->n);
	for (i = 0; i < au->n; i++) {
		const char *d = au->box[i].domain;

		FUZZ_ASSERT(strlen(au->box[i].addr) <= AUTHOR_MAX_TEXT);
		FUZZ_ASSERT(d > au->box[i].addr && d[-1] == '@' && d[0] != '\0');
		for (j = 0; d[j] != '\0'; j++)
			FUZZ_ASSERT(!(d[j] >= 'A' && d[j] <= 'Z'));
	}
	for (i = 0; i < au->ndomains; i++)
		for (j = i + 1; j < au->ndomains; j++)
			FUZZ_ASSERT(strcmp(au->domain[i], au->domain[j]) != 0);
	if (au->fields != 1)
		FUZZ_ASSERT(au->problem != NULL);
	/* a problem always has its code, one of doc/codes.md's author codes */
	FUZZ_ASSERT((au->problem == NULL) == (au->code == NULL));
	if (au->code != NULL)
		FUZZ_ASSERT(author_code_find(au->code, strlen(au->code)) == au->code);
}

/* The canonical form of an accepted author reads back the same. */
static void check_canonical(const author *au)
{
	static char buf[AUTHOR_MAX_MAILBOXES * (AUTHOR_MAX_TEXT + 8)];
	size_t i, n = 0;
	author again;
	arena a;

	for (i = 0; i < au->n; i++) {
		size_t l = strlen(au->box[i].addr);

		/* "<" addr ">," on one line must fit in 998 bytes */
		if (l > AUTHOR_MAX_TEXT - 4)
			return;
		if (i > 0) {
			memcpy(buf + n, ",\r\n ", 4);
			n += 4;
		}
		buf[n++] = '<';
		memcpy(buf + n, au->box[i].addr, l);
		n += l;
		buf[n++] = '>';
	}
	arena_init(&a);
	FUZZ_ASSERT(author_read_value(&a, buf, n, &again) == 0);
	if (again.problem != NULL) {
		fprintf(stderr, "canonical form refused: %s\n%.*s\n", again.problem,
			(int)n, buf);
		abort();
	}
	FUZZ_ASSERT(again.n == au->n);
	for (i = 0; i < au->n; i++)
		FUZZ_ASSERT(strcmp(again.box[i].addr, au->box[i].addr) == 0);
	arena_free(&a);
}

static void check_simple(const author *au, const char *v, size_t len)
{
	static simple_domains sd;
	size_t i, k = 0;

	simple_read(v, len, &sd);
	/* Every non-empty member, in order (an empty one is no mailbox for
	 * either reader; one without "@" has an empty domain here). */
	for (i = 0; i < sd.n; i++) {
		if (k >= au->n || strcmp(sd.d[i], au->box[k].domain) != 0) {
			fprintf(stderr, "readers disagree on mailbox %zu: strict %s, "
				"simple %s\n%.*s\n", k + 1,
				k < au->n ? au->box[k].domain : "(none)", sd.d[i],
				(int)len, v);
			abort();
		}
		k++;
	}
	if (k != au->n) {
		fprintf(stderr, "readers disagree: strict %zu mailboxes, simple %zu\n"
			"%.*s\n", au->n, k, (int)len, v);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	author au;
	arena a;

	arena_init(&a);
	if (size > 0 && s[0] == 'M') {
		msg_limits lim = { 50, 8192 };
		msg m;

		if (msg_parse(&a, s + 1, size - 1, &lim, &m) == 0 &&
		    author_read(&a, &m, &au) == 0) {
			check_shape(&au);
			if (m.truncated || m.line_problem != NULL)
				FUZZ_ASSERT(au.problem != NULL);
			if (au.problem == NULL)
				check_canonical(&au);
		}
		arena_free(&a);
		return 0;
	}
	if (author_read_value(&a, s, size, &au) == 0) {
		check_shape(&au);
		if (au.problem == NULL) {
			check_canonical(&au);
			check_simple(&au, s, size);
		}
	}
	arena_free(&a);
	return 0;
}
