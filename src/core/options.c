/*
 * options.c - the options of a check: the one validator, its words, and
 * the builder C hosts make option trees with.
 *
 * Every kind declares its options beside its check_vt (name, kind, range,
 * required, default).  mauth_check_new runs options_check before the
 * kind's init, so a misspelt name is an error instead of an option quietly
 * ignored (a "mail_from" once ran SPF on postmaster@HELO), and every
 * protocol's init may trust the kinds and ranges it reads.  The messages
 * have one form, which the Lua layer uses for its own options too:
 *	option 'x' is unknown (did you mean 'y'?)
 *	option 'x' must be <rule>
 *	option 'x' is required
 *	option 'x' is given twice
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

const mauth_option *mauth_check_options(const char *kind)
{
	const check_vt *vt = check_kind_find(kind);

	return vt != NULL ? vt->options : NULL;
}

static const char *kind_word(mauth_vkind k, int plural)
{
	switch (k) {
	case MAUTH_V_STR: return plural ? "strings" : "a string";
	case MAUTH_V_INT: return plural ? "integers" : "an integer";
	case MAUTH_V_BOOL: return plural ? "booleans" : "a boolean";
	case MAUTH_V_LIST: return plural ? "lists" : "a list";
	default: return plural ? "maps" : "a map";
	}
}

const char *mauth_option_rule(const mauth_option *o, char *buf, size_t len)
{
	if (o->kind == MAUTH_V_INT)
		snprintf(buf, len, "an integer from %lld to %lld", o->min, o->max);
	else if (o->kind == MAUTH_V_STR && o->words != NULL)
		snprintf(buf, len, "one of: %s", o->words);
	else if (o->kind == MAUTH_V_LIST)
		snprintf(buf, len, "a list of %s", kind_word(o->member, 1));
	else
		snprintf(buf, len, "%s", kind_word(o->kind, 0));
	return buf;
}

/*
 * Optimal string alignment distance (Levenshtein with transpositions:
 * "domian" is one step from "domain"), for names up to 63 bytes; three
 * rows of the table are enough (a transposition looks two rows back).
 */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned char row[3][64];	/* i - 2, i - 1, i (mod 3) */

	if (la > 63 || lb > 63)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[0][j] = (unsigned char)j;
	for (i = 1; i <= la; i++) {
		unsigned char *cur = row[i % 3], *up = row[(i - 1) % 3],
			      *up2 = row[(i + 1) % 3];

		cur[0] = (unsigned char)i;
		for (j = 1; j <= lb; j++) {
			unsigned best = up[j - 1] + (a[i - 1] != b[j - 1]);

			if (up[j] + 1U < best)
				best = up[j] + 1U;
			if (cur[j - 1] + 1U < best)
				best = cur[j - 1] + 1U;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && up2[j - 2] + 1U < best)
				best = up2[j - 2] + 1U;
			cur[j] = (unsigned char)best;
		}
	}
	return row[la % 3][lb];
}

/* 1 when name is one of the space-separated words of list. */
static int in_words(const char *list, const char *name)
{
	size_t n = strlen(name);

	while (list != NULL && *list != '\0') {
		size_t w = strcspn(list, " ");

		if (w == n && strncmp(list, name, n) == 0)
			return 1;
		list += w;
		list += strspn(list, " ");
	}
	return 0;
}

/* The declared name closest to an unknown one (an alias first), or NULL. */
static const char *suggest(const mauth_option *decl, const char *name)
{
	const mauth_option *o, *best = NULL;
	size_t bestd = (size_t)-1, limit = strlen(name) / 3;

	for (o = decl; o->name != NULL; o++)
		if (in_words(o->aliases, name))
			return o->name;
	if (limit < 2)
		limit = 2;
	for (o = decl; o->name != NULL; o++) {
		size_t d = distance(name, o->name);

		if (d <= limit && d < bestd) {
			bestd = d;
			best = o;
		}
	}
	return best != NULL ? best->name : NULL;
}

static int unknown(const mauth_option *decl, const char *name, char *err,
		   size_t errlen)
{
	const char *near = suggest(decl, name);

	if (near != NULL)
		snprintf(err, errlen, "option '%.64s' is unknown (did you mean '%s'?)",
			 name, near);
	else
		snprintf(err, errlen, "option '%.64s' is unknown", name);
	return MAUTH_EINVAL;
}

/* An empty list and an empty map look alike (a Lua {}): either will do. */
static int kind_fits(const mauth_value *v, mauth_vkind want)
{
	if (v->kind == want)
		return 1;
	return v->child == NULL &&
	       ((v->kind == MAUTH_V_LIST && want == MAUTH_V_MAP) ||
		(v->kind == MAUTH_V_MAP && want == MAUTH_V_LIST));
}

static int fits(const mauth_option *o, const mauth_value *v)
{
	const mauth_value *m;

	if (!kind_fits(v, o->kind))
		return 0;
	if (o->kind == MAUTH_V_STR)
		return v->str != NULL && (o->words == NULL ||
					  (memchr(v->str, ' ', v->len) == NULL &&
					   strlen(v->str) == v->len && in_words(o->words, v->str)));
	if (o->kind == MAUTH_V_INT)
		return v->num >= o->min && v->num <= o->max;
	if (o->kind == MAUTH_V_LIST)
		for (m = v->child; m != NULL; m = m->next)
			if (!kind_fits(m, o->member) ||
			    (m->kind == MAUTH_V_STR && m->str == NULL))
				return 0;
	return 1;
}

int options_check(const mauth_option *decl, const mauth_value *opts,
		  char *err, size_t errlen)
{
	const mauth_value *v, *w;
	const mauth_option *o;
	char rule[64];

	if (err == NULL)
		errlen = 0;	/* snprintf(NULL, 0, ...) writes nothing */
	if (opts != NULL && !kind_fits(opts, MAUTH_V_MAP)) {
		snprintf(err, errlen, "options must be a map");
		return MAUTH_EINVAL;
	}
	if (decl == NULL)
		return 0;
	for (v = opts != NULL ? opts->child : NULL; v != NULL; v = v->next) {
		if (v->key == NULL) {
			snprintf(err, errlen, "options must be a map of names");
			return MAUTH_EINVAL;
		}
		for (o = decl; o->name != NULL; o++)
			if (o->name[0] == v->key[0] && strcmp(o->name, v->key) == 0)
				break;
		if (o->name == NULL)
			return unknown(decl, v->key, err, errlen);
		if (!fits(o, v)) {
			snprintf(err, errlen, "option '%s' must be %s", o->name,
				 mauth_option_rule(o, rule, sizeof rule));
			return MAUTH_EINVAL;
		}
		for (w = opts->child; w != v; w = w->next)
			if (w->key[0] == v->key[0] && strcmp(w->key, v->key) == 0) {
				snprintf(err, errlen, "option '%s' is given twice", o->name);
				return MAUTH_EINVAL;
			}
	}
	for (o = decl; o->name != NULL; o++) {
		if (!o->required)
			continue;
		for (v = opts != NULL ? opts->child : NULL; v != NULL; v = v->next)
			if (strcmp(v->key, o->name) == 0)
				break;
		if (v == NULL) {
			snprintf(err, errlen, "option '%s' is required", o->name);
			return MAUTH_EINVAL;
		}
	}
	return 0;
}

/* ---- the builder ---- */

/*
 * The whole builder in 1 KiB: glibc's per-thread cache (tcache) serves
 * blocks up to 1032 bytes from a list in a few instructions, a larger one
 * costs a bin search (about 450 instructions, as much as validating the
 * options).  first holds the root and about eight options; more go to a
 * chunk of their own.
 */
#define OPTS_INLINE (1024 - 64)

struct mauth_opts {
	arena mem;
	mauth_value *root;
	int failed;
	_Alignas(16) unsigned char first[OPTS_INLINE];	/* no second malloc */
};

mauth_opts *mauth_opts_new(void)
{
	mauth_opts *o = malloc(sizeof *o);

	if (o == NULL)
		return NULL;
	arena_init_inline(&o->mem, o->first, sizeof o->first);
	o->failed = 0;
	o->root = val_new(&o->mem, MAUTH_V_MAP);
	if (o->root == NULL) {
		mauth_opts_free(o);
		return NULL;
	}
	return o;
}

/* A new member, its name copied; NULL (and the builder failed) on ENOMEM. */
static mauth_value *add(mauth_opts *o, const char *name, mauth_vkind kind)
{
	mauth_value *v;
	char *key;

	if (o == NULL || o->failed)
		return NULL;
	key = arena_strndup(&o->mem, name, strlen(name));
	v = key != NULL ? val_add(&o->mem, o->root, key, kind) : NULL;
	if (v == NULL)
		o->failed = 1;
	return v;
}

static int done(const mauth_opts *o)
{
	return o == NULL || o->failed || o->mem.failed ? MAUTH_ENOMEM : 0;
}

int mauth_opts_str(mauth_opts *o, const char *name, const char *s)
{
	mauth_value *v = add(o, name, MAUTH_V_STR);

	if (v != NULL) {
		v->len = strlen(s);
		v->str = arena_strndup(&o->mem, s, v->len);
		if (v->str == NULL)
			o->failed = 1;
	}
	return done(o);
}

int mauth_opts_ref(mauth_opts *o, const char *name, const char *s, size_t len)
{
	mauth_value *v = add(o, name, MAUTH_V_STR);

	if (v != NULL) {
		v->str = s;
		v->len = len;
	}
	return done(o);
}

int mauth_opts_int(mauth_opts *o, const char *name, long long n)
{
	mauth_value *v = add(o, name, MAUTH_V_INT);

	if (v != NULL)
		v->num = n;
	return done(o);
}

int mauth_opts_bool(mauth_opts *o, const char *name, int b)
{
	mauth_value *v = add(o, name, MAUTH_V_BOOL);

	if (v != NULL)
		v->num = b != 0;
	return done(o);
}

int mauth_opts_list(mauth_opts *o, const char *name, const char *const *strs,
		    size_t n)
{
	mauth_value *v = add(o, name, MAUTH_V_LIST);
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		val_cstr(&o->mem, v, NULL, strs[i]);
	return done(o);
}

/* A member that shares v's members: nothing of v is copied or changed. */
int mauth_opts_add(mauth_opts *o, const char *name, const mauth_value *v)
{
	mauth_value *m;

	if (v == NULL)
		return done(o);
	m = add(o, name, v->kind);
	if (m != NULL) {
		m->str = v->str;
		m->len = v->len;
		m->num = v->num;
		m->child = v->child;
	}
	return done(o);
}

int mauth_opts_append(mauth_opts *o, const char *name, const mauth_value *v)
{
	mauth_value *list = NULL, *m;

	if (o == NULL || o->failed || v == NULL)
		return done(o);
	for (m = o->root->child; m != NULL; m = m->next)
		if (strcmp(m->key, name) == 0 && m->kind == MAUTH_V_LIST)
			list = m;
	if (list == NULL)
		list = add(o, name, MAUTH_V_LIST);
	m = list != NULL ? val_add(&o->mem, list, NULL, v->kind) : NULL;
	if (m == NULL) {
		o->failed = 1;
		return done(o);
	}
	m->str = v->str;
	m->len = v->len;
	m->num = v->num;
	m->child = v->child;
	return done(o);
}

const mauth_value *mauth_opts_tree(const mauth_opts *o)
{
	return done(o) == 0 ? o->root : NULL;
}

void mauth_opts_free(mauth_opts *o)
{
	if (o != NULL) {
		arena_free(&o->mem);
		free(o);
	}
}
