/*
 * arena.c - block allocation for a check's lifetime, and the result tree
 * built in it.  A check allocates many small strings and values and frees
 * them all at once, so one list of blocks beats a malloc per field.
 */
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

#define CHUNK_MIN 4000

struct arena_chunk {
	arena_chunk *next;
	size_t used, size;
	int owned;		/* malloc'd here, so freed by arena_free */
	_Alignas(16) unsigned char data[];
};

void arena_init(arena *a)
{
	a->head = NULL;
	a->failed = 0;
	a->tail_parent = a->tail = NULL;
}

void arena_init_inline(arena *a, void *block, size_t size)
{
	arena_chunk *first = block;

	first->next = NULL;
	first->used = 0;
	first->size = size - sizeof *first;
	first->owned = 0;
	a->head = first;
	a->failed = 0;
	a->tail_parent = a->tail = NULL;
}

/* A new chunk for n bytes (16-rounded) when the open one has no room. */
static void *arena_grow(arena *a, size_t n)
{
	arena_chunk *c;
	size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;

	c = malloc(sizeof *c + size);
	if (c == NULL) {
		a->failed = 1;
		return NULL;
	}
	c->size = size;
	c->used = n;
	c->owned = 1;
	/* A big block goes second so the open chunk stays in use. */
	if (a->head != NULL && size > CHUNK_MIN) {
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->data;
}

/* n bytes, 16-aligned, not zeroed.  Inline: a check takes about sixty. */
static inline void *arena_take(arena *a, size_t n)
{
	arena_chunk *c = a->head;
	void *p;

	n = n == 0 ? 16 : (n + 15) & ~(size_t)15;
	if (c == NULL || c->size - c->used < n)
		return arena_grow(a, n);
	p = c->data + c->used;
	c->used += n;
	return p;
}

void *arena_alloc_raw(arena *a, size_t n)
{
	return arena_take(a, n);
}

void *arena_alloc(arena *a, size_t n)
{
	void *p = arena_take(a, n);

	if (p != NULL)
		memset(p, 0, n);
	return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
	char *p = arena_take(a, n + 1);	/* every byte is written below */

	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void arena_free(arena *a)
{
	arena_chunk *c = a->head;

	while (c != NULL) {
		arena_chunk *next = c->next;

		if (c->owned)
			free(c);
		c = next;
	}
	a->head = NULL;
}

/* A value with every field set (no memset call: results have ~20). */
static inline mauth_value *new_value(arena *a, mauth_vkind kind,
				     const char *key, const char *str,
				     size_t len, long long num)
{
	mauth_value *v = arena_take(a, sizeof *v);

	if (v != NULL) {
		v->kind = kind;
		v->key = key;
		v->str = str;
		v->len = len;
		v->num = num;
		v->child = NULL;
		v->next = NULL;
	}
	return v;
}

mauth_value *val_new(arena *a, mauth_vkind kind)
{
	return new_value(a, kind, NULL, NULL, 0, 0);
}

/*
 * The new last member of parent, its fields set at once: inline in each
 * val_* (a result's members cost a call chain of three each before).
 */
static inline mauth_value *add_member(arena *a, mauth_value *parent,
				      const char *key, mauth_vkind kind,
				      const char *str, size_t len,
				      long long num)
{
	mauth_value *v;

	if (parent == NULL)
		return NULL;
	v = new_value(a, kind, key, str, len, num);
	if (v == NULL)
		return NULL;
	/* The remembered tail is used only while it still ends parent's list
	 * (a caller may have cut the list: authres drops a half-built tree). */
	if (parent == a->tail_parent && parent->child != NULL &&
	    a->tail->next == NULL) {
		a->tail->next = v;
	} else {
		mauth_value **tail;

		for (tail = &parent->child; *tail != NULL; tail = &(*tail)->next)
			;
		*tail = v;
	}
	a->tail_parent = parent;
	a->tail = v;
	return v;
}

mauth_value *val_add(arena *a, mauth_value *parent, const char *key,
		     mauth_vkind kind)
{
	return add_member(a, parent, key, kind, NULL, 0, 0);
}

void val_str(arena *a, mauth_value *parent, const char *key,
	     const char *s, size_t len)
{
	char *copy;

	if (parent == NULL)
		return;
	copy = arena_strndup(a, s, len);
	(void)add_member(a, parent, key, MAUTH_V_STR, copy != NULL ? copy : "",
			 copy != NULL ? len : 0, 0);
}

void val_ref(arena *a, mauth_value *parent, const char *key,
	     const char *s, size_t len)
{
	(void)add_member(a, parent, key, MAUTH_V_STR, s, len, 0);
}

void val_cstr(arena *a, mauth_value *parent, const char *key, const char *s)
{
	if (s != NULL)
		val_str(a, parent, key, s, strlen(s));
}

void val_int(arena *a, mauth_value *parent, const char *key, long long n)
{
	(void)add_member(a, parent, key, MAUTH_V_INT, NULL, 0, n);
}

void val_bool(arena *a, mauth_value *parent, const char *key, int b)
{
	(void)add_member(a, parent, key, MAUTH_V_BOOL, NULL, 0, b != 0);
}

void val_problem(arena *a, mauth_value *r, const char *code,
		 const char *text)
{
	val_cstr(a, r, "problem", text);
	val_ref(a, r, "code", code, strlen(code));
}

const mauth_value *mauth_value_get(const mauth_value *map, const char *key)
{
	const mauth_value *v;

	if (map == NULL || map->kind != MAUTH_V_MAP)
		return NULL;
	/* the first byte tested inline: most members differ there, and a
	 * result is read by key many times (DMARC, the A-R writer) */
	for (v = map->child; v != NULL; v = v->next)
		if (v->key != NULL && v->key[0] == key[0] &&
		    strcmp(v->key, key) == 0)
			return v;
	return NULL;
}
