/*
 * authres_tree.h - what the two Authentication-Results fuzz targets
 * (fuzz_authres.c: strict and lenient; fuzz_authres_dialect.c: strict and
 * Microsoft's dialect) check of a parse result tree alike: lower-case
 * keywords, NUL-terminated strings, and tree equality.
 */
#if !defined(MAUTH_FUZZ_AUTHRES_TREE_H)
#define MAUTH_FUZZ_AUTHRES_TREE_H

#include <string.h>
#include <sanitizer/allocator_interface.h>
#include "fuzz.h"
#include "mailauth.h"

/* A keyword as the parser returns it: lower-case (empty only if allowed). */
static int is_lower_word(const mauth_value *v, int may_be_empty)
{
	size_t i;

	if (v == NULL || v->kind != MAUTH_V_STR)
		return 0;
	if (v->len == 0)
		return may_be_empty;
	for (i = 0; i < v->len; i++)
		if (v->str[i] >= 'A' && v->str[i] <= 'Z')
			return 0;
	return 1;
}

/* Every string of the tree ends in a NUL, as mauth_value promises. */
static void strings_terminated(const mauth_value *v, int depth)
{
	FUZZ_ASSERT(depth < 6);
	for (; v != NULL; v = v->next) {
		if (v->kind == MAUTH_V_STR)
			FUZZ_ASSERT(v->str != NULL && v->str[v->len] == '\0');
		if (v->kind == MAUTH_V_LIST || v->kind == MAUTH_V_MAP)
			strings_terminated(v->child, depth + 1);
	}
}

/* The same values, keys and order, depth first. */
static int same_tree(const mauth_value *a, const mauth_value *b)
{
	for (; a != NULL && b != NULL; a = a->next, b = b->next) {
		if (a->kind != b->kind)
			return 0;
		if ((a->key == NULL) != (b->key == NULL) ||
		    (a->key != NULL && strcmp(a->key, b->key) != 0))
			return 0;
		switch (a->kind) {
		case MAUTH_V_STR:
			if (a->len != b->len || memcmp(a->str, b->str, a->len) != 0)
				return 0;
			break;
		case MAUTH_V_INT:
		case MAUTH_V_BOOL:
			if (a->num != b->num)
				return 0;
			break;
		default:
			if (!same_tree(a->child, b->child))
				return 0;
		}
	}
	return a == NULL && b == NULL;
}

/*
 * One authres_parse check of text with one option (key = val; "lenient"
 * is a boolean, "1" or "0"), run to the end; the parser's memory must stay
 * linear in the text.
 */
static mauth_check *authres_run(const char *text, size_t len, const char *key,
				const char *val)
{
	mauth_opts *o = mauth_opts_new();
	mauth_check *c;
	char err[128];
	size_t before = __sanitizer_get_current_allocated_bytes(), used;

	mauth_opts_ref(o, "text", text, len);
	if (strcmp(key, "lenient") == 0)
		mauth_opts_bool(o, key, val[0] == '1');
	else
		mauth_opts_str(o, key, val);
	FUZZ_ASSERT(mauth_check_new(&c, "authres_parse", mauth_opts_tree(o), err,
				    sizeof err) == 0);
	mauth_opts_free(o);
	FUZZ_ASSERT(mauth_check_step(c) == MAUTH_DONE);
	used = __sanitizer_get_current_allocated_bytes() - before;
	if (used > 256 * len + 256 * 1024)
		fprintf(stderr, "%zu bytes allocated for %zu bytes of text\n",
			used, len);
	FUZZ_ASSERT(used <= 256 * len + 256 * 1024);
	return c;
}

#define AUTHRES_BIG_MAX 140000
static char authres_big[AUTHRES_BIG_MAX];

/*
 * The text to parse: the input itself, or, when it starts with 0xff N,
 * the rest repeated to N * 512 + 1 bytes (long fields).  0: nothing to do.
 */
static int authres_input(const uint8_t *data, size_t size, const char **text,
			 size_t *len)
{
	*text = (const char *)data;
	*len = size;
	if (size >= 2 && data[0] == 0xff) {
		size_t want = (size_t)data[1] * 512 + 1, o = 0;

		if (size == 2)
			return 0;
		while (o < want && o + size - 2 <= AUTHRES_BIG_MAX) {
			memcpy(authres_big + o, data + 2, size - 2);
			o += size - 2;
		}
		*text = authres_big;
		*len = o;
	}
	return 1;
}

#endif
