/*
 * fuzz.h - what the libFuzzer targets share: a checked assertion that
 * survives -DNDEBUG, a reader that turns the fuzz input into choices, and
 * checks of what every result tree promises.
 *
 * A target is fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput; run.sh
 * finds it, links it with the core and driver sources, and runs it.
 */
#if !defined(MAUTH_FUZZ_H)
#define MAUTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "mailauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: assertion failed: %s\n", \
			__FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Consumes the input from the front; runs dry as zeros. */
typedef struct {
	const uint8_t *p;
	size_t left;
} fuzz_reader;

static inline unsigned fuzz_byte(fuzz_reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

/* Up to n bytes (fewer when the input runs out); returns how many. */
static inline size_t fuzz_bytes(fuzz_reader *r, const uint8_t **out, size_t n)
{
	if (n > r->left)
		n = r->left;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return n;
}

/*
 * Every string of the tree v ends in a NUL at its length, as mauth_value
 * promises; levels: how deep lists and maps may nest (each target knows
 * its tree's depth, so a deeper one is a bug too).
 */
static inline void fuzz_strings_terminated(const mauth_value *v, int levels)
{
	FUZZ_ASSERT(levels > 0);
	for (; v != NULL; v = v->next) {
		if (v->kind == MAUTH_V_STR)
			FUZZ_ASSERT(v->str != NULL && v->str[v->len] == '\0');
		if (v->kind == MAUTH_V_LIST || v->kind == MAUTH_V_MAP)
			fuzz_strings_terminated(v->child, levels - 1);
	}
}

/* The expansion of an escape's byte k into out (80 bytes at most); its length. */
typedef size_t fuzz_escape_fn(unsigned k, char *out);

/*
 * The rest of the input as text (malloc'd, *len bytes), each 0xff and the
 * byte k after it replaced by escape(k): short inputs then carry the long
 * runs of whitespace a target is after.
 */
static inline char *fuzz_expand(fuzz_reader *r, size_t *len,
				fuzz_escape_fn *escape)
{
	char *b = malloc(r->left * 80 + 1);
	size_t n = 0;

	FUZZ_ASSERT(b != NULL);
	while (r->left > 0) {
		unsigned c = fuzz_byte(r);

		if (c == 0xff)
			n += escape(fuzz_byte(r), b + n);
		else
			b[n++] = (char)c;
	}
	*len = n;
	return b;
}

#endif
