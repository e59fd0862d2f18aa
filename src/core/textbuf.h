/*
 * textbuf.h - a growing, NUL-terminated text buffer in plain memory, with
 * the column of the current line: what the DKIM and ARC signers build their
 * header fields in before folding decisions are made.
 */
#if !defined(MAUTH_TEXTBUF_H)
#define MAUTH_TEXTBUF_H

#include <stddef.h>

typedef struct {
	char *p;		/* NULL until something is put; free() it */
	size_t n, cap;
	size_t line;		/* bytes on the current line */
	int failed;		/* an allocation failed: the text is incomplete */
} textbuf;

/* Appends n bytes (keeps a NUL after them). */
void text_put(textbuf *t, const char *s, size_t n);
void text_puts(textbuf *t, const char *s);

#endif
