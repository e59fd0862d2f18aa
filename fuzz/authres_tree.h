/*
 * authres_tree.h - what the two Authentication-Results fuzz targets
 * (fuzz_authres.c: strict and lenient; fuzz_authres_dialect.c: strict and
 * Microsoft's dialect) check of a parse result tree alike: lower-case
 * keywords, NUL-terminated strings, the documented shape (each target
 * then checks its own deviations), tree equality, and how the input is
 * read and parsed.
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

/*
 * The head of a parse tree: a map, every string terminated, and either
 * { invalid = reason } alone (then 0: nothing more to check) or the
 * documented fields with their kinds (then 1).  Whether authserv_id may be
 * absent is each target's own rule.
 */
static inline int authres_tree_head(const mauth_value *r)
{
	const mauth_value *f;

	FUZZ_ASSERT(r != NULL && r->kind == MAUTH_V_MAP);
	fuzz_strings_terminated(r->child, 6);
	f = mauth_value_get(r, "invalid");
	if (f != NULL) {
		FUZZ_ASSERT(f->kind == MAUTH_V_STR && f->len > 0);
		FUZZ_ASSERT(r->child == f && f->next == NULL);
		return 0;
	}
	f = mauth_value_get(r, "authserv_id");
	FUZZ_ASSERT(f == NULL || f->kind == MAUTH_V_STR);
	f = mauth_value_get(r, "version");
	FUZZ_ASSERT(f == NULL || (f->kind == MAUTH_V_INT && f->num >= 0));
	f = mauth_value_get(r, "instance");
	FUZZ_ASSERT(f == NULL || (f->kind == MAUTH_V_INT && f->num >= 0));
	return 1;
}

/*
 * The results list of a valid tree: empty exactly when result = "none"
 * stands beside it, or (may_be_empty: lenient) when the field had none.
 */
static inline const mauth_value *authres_results(const mauth_value *r,
						 int may_be_empty)
{
	const mauth_value *list = mauth_value_get(r, "results"), *f;

	FUZZ_ASSERT(list != NULL && list->kind == MAUTH_V_LIST);
	f = mauth_value_get(r, "result");
	if (f != NULL) {
		FUZZ_ASSERT(f->kind == MAUTH_V_STR && strcmp(f->str, "none") == 0);
		FUZZ_ASSERT(list->child == NULL);
	} else {
		FUZZ_ASSERT(list->child != NULL || may_be_empty);
	}
	return list;
}

/*
 * One result of the list, the *n-th counted (256 at most): lower-case
 * method and result ("" allowed with empty_words), the optional fields'
 * kinds; returns its properties list.
 */
static inline const mauth_value *authres_result(const mauth_value *res,
						size_t *n, int empty_words)
{
	const mauth_value *f;

	FUZZ_ASSERT(res->kind == MAUTH_V_MAP && res->key == NULL);
	FUZZ_ASSERT(++*n <= 256);
	FUZZ_ASSERT(is_lower_word(mauth_value_get(res, "method"), empty_words));
	FUZZ_ASSERT(is_lower_word(mauth_value_get(res, "result"), empty_words));
	f = mauth_value_get(res, "method_version");
	FUZZ_ASSERT(f == NULL || (f->kind == MAUTH_V_INT && f->num >= 0));
	f = mauth_value_get(res, "comment");
	FUZZ_ASSERT(f == NULL || f->kind == MAUTH_V_STR);
	f = mauth_value_get(res, "reason");
	FUZZ_ASSERT(f == NULL || f->kind == MAUTH_V_STR);
	f = mauth_value_get(res, "properties");
	FUZZ_ASSERT(f != NULL && f->kind == MAUTH_V_LIST);
	return f;
}

/*
 * One property of a result, the *n-th counted (64 at most): a lower-case
 * property ("" allowed with empty_words) and a string value, which may be
 * empty even strictly (pvalue is RFC 2045's token / quoted-string, and ""
 * is a quoted-string).  The ptype is each target's own rule.
 */
static inline void authres_prop(const mauth_value *pv, size_t *n,
				int empty_words)
{
	const mauth_value *f;

	FUZZ_ASSERT(pv->kind == MAUTH_V_MAP && pv->key == NULL);
	FUZZ_ASSERT(++*n <= 64);
	FUZZ_ASSERT(is_lower_word(mauth_value_get(pv, "property"), empty_words));
	f = mauth_value_get(pv, "value");
	FUZZ_ASSERT(f != NULL && f->kind == MAUTH_V_STR);
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

/*
 * Reads the input (authres_input) and parses it twice, with key = a and
 * key = b, each tree checked by check(tree, 0 resp. 1) as it comes; the
 * two checks in c[0] and c[1], for the caller to free.  0: nothing to do.
 */
static inline int authres_parse_two(const uint8_t *data, size_t size,
				    const char *key, const char *a,
				    const char *b,
				    void (*check)(const mauth_value *, int),
				    mauth_check *c[2])
{
	const char *text;
	size_t len;

	if (!authres_input(data, size, &text, &len))
		return 0;
	c[0] = authres_run(text, len, key, a);
	check(mauth_check_result(c[0]), 0);
	c[1] = authres_run(text, len, key, b);
	check(mauth_check_result(c[1]), 1);
	return 1;
}

#endif
