/*
 * authres_tree.h - what the two Authentication-Results fuzz targets
 * (fuzz_authres.c: strict and lenient; fuzz_authres_dialect.c: strict and
 * Microsoft's dialect) check of a parse result tree alike: lower-case
 * keywords, NUL-terminated strings, and tree equality.
 */
#if !defined(MAUTH_FUZZ_AUTHRES_TREE_H)
#define MAUTH_FUZZ_AUTHRES_TREE_H

#include <string.h>
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

#endif
