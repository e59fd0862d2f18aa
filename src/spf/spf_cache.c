/*
 * spfcache.c - parsed SPF records, shared by the whole process.  The same
 * few thousand records (the big senders' includes above all) come back
 * message after message, and parsing one (terms, domain-specs, networks)
 * costs more than evaluating it against an address.
 *
 * A parse is a pure function of the record text, so the cache cannot
 * change a result.  Direct-mapped by a hash of the text (a collision
 * evicts), the text compared in full on a hit.  A hit copies the terms
 * into the check's arena, their pointers moved from the cached copy of
 * the text to the caller's (the same bytes), so nothing a check holds
 * points into the cache and an entry may go at any time.  One mutex.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "spf/spf.h"

#define SPFCACHE_SLOTS 1024
#define SPFCACHE_MAX_TEXT 1024	/* longer records are parsed every time */
#define SPFCACHE_MAX_TERMS 64

typedef struct {
	spf_record rec;		/* pointers into text */
	size_t len;
	char *text;		/* the record; the terms follow it */
} spfcache_entry;

static spfcache_entry *spfcache[SPFCACHE_SLOTS];
static pthread_mutex_t spfcache_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned spfcache_slot(const char *txt, size_t len)
{
	return (unsigned)(text_hash(txt, len) % SPFCACHE_SLOTS);
}

/* p, a pointer into the text at from, moved to the same offset at to. */
static const char *rebase(const char *p, const char *from, const char *to)
{
	return p != NULL ? to + (p - from) : NULL;
}

/* rec from src, its pointers moved from the text at from to the one at to;
 * terms in the arena (NULL: the caller's array, already sized). */
static int copy_record(spf_record *rec, const spf_record *src,
		       const char *from, const char *to, arena *a)
{
	spf_term *terms = rec->terms;
	size_t i;

	if (a != NULL) {
		terms = arena_alloc(a, (src->n ? src->n : 1) * sizeof *terms);
		if (terms == NULL)
			return MAUTH_ENOMEM;
	}
	*rec = *src;
	rec->terms = terms;
	if (src->n > 0)		/* one copy, then only the pointers moved */
		memcpy(terms, src->terms, src->n * sizeof *terms);
	for (i = 0; i < src->n; i++) {
		terms[i].spec = rebase(terms[i].spec, from, to);
		terms[i].text = to + (terms[i].text - from);	/* never NULL */
	}
	rec->redirect = rebase(src->redirect, from, to);
	rec->exp = rebase(src->exp, from, to);
	return 0;
}

/* 1 and rec filled (terms in a) when the slot holds this text. */
static int spfcache_get(unsigned at, const char *txt, size_t len,
			spf_record *rec, arena *a, int *rc)
{
	const spfcache_entry *e;
	int hit = 0;

	pthread_mutex_lock(&spfcache_lock);
	e = spfcache[at];
	if (e != NULL && e->len == len && memcmp(e->text, txt, len) == 0) {
		*rc = copy_record(rec, &e->rec, e->text, txt, a);
		hit = 1;
	}
	pthread_mutex_unlock(&spfcache_lock);
	return hit;
}

/* How terms must be aligned, in C99. */
struct term_align {
	char c;
	spf_term t;
};
#define TERM_ALIGN offsetof(struct term_align, t)

static void spfcache_put(unsigned at, const char *txt, size_t len,
			 const spf_record *rec)
{
	spfcache_entry *e, *old;
	size_t off = (sizeof *e + len + 1 + TERM_ALIGN - 1) / TERM_ALIGN * TERM_ALIGN;

	if (rec->n > SPFCACHE_MAX_TERMS)
		return;
	/* one block: the entry, the text, the terms */
	e = malloc(off + (rec->n ? rec->n : 1) * sizeof(spf_term));
	if (e == NULL)
		return;		/* only a cache: the check goes on */
	e->len = len;
	e->text = (char *)(e + 1);
	memcpy(e->text, txt, len);
	e->text[len] = '\0';
	e->rec.terms = (spf_term *)(void *)((char *)e + off);
	copy_record(&e->rec, rec, txt, e->text, NULL);
	pthread_mutex_lock(&spfcache_lock);
	old = spfcache[at];
	spfcache[at] = e;
	pthread_mutex_unlock(&spfcache_lock);
	free(old);
}

int spf_record_parse_cached(const char *txt, size_t len, spf_record *rec,
			    arena *a, char *err, size_t errlen)
{
	unsigned at;
	int rc;

	if (len > SPFCACHE_MAX_TEXT)
		return spf_record_parse(txt, len, rec, a, err, errlen);
	at = spfcache_slot(txt, len);
	if (spfcache_get(at, txt, len, rec, a, &rc))
		return rc;
	rc = spf_record_parse(txt, len, rec, a, err, errlen);
	if (rc == 0)		/* a permerror is cheap to find again */
		spfcache_put(at, txt, len, rec);
	return rc;
}

void spf_cache_clear(void)
{
	unsigned i;

	for (i = 0; i < SPFCACHE_SLOTS; i++) {
		spfcache_entry *old;

		pthread_mutex_lock(&spfcache_lock);
		old = spfcache[i];
		spfcache[i] = NULL;
		pthread_mutex_unlock(&spfcache_lock);
		free(old);
	}
}
