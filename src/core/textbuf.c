/*
 * textbuf.c - see textbuf.h.
 */
#include <stdlib.h>
#include <string.h>
#include "core/textbuf.h"

void text_put(textbuf *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->n + n + 1 > t->cap) {
		size_t cap = (t->n + n + 1) * 2;
		char *p = realloc(t->p, cap);

		if (p == NULL) {
			t->failed = 1;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = '\0';
	t->line += n;
}

void text_puts(textbuf *t, const char *s)
{
	text_put(t, s, strlen(s));
}
