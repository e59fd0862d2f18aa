/*
 * spf_cache.c - parsed SPF records, shared by the whole process.  The same
 * few thousand records (the big senders' includes above all) come back
 * message after message, and parsing one (terms, domain-specs, networks)
 * costs more than evaluating it against an address.
 *
 * A parse is a pure function of the record text, so the cache cannot
 * change a result.  A slot per hash of the text holds two entries, the
 * last used first (a third text of the slot evicts the older one), the
 * text compared in full on a hit.  One block per entry: the
 * entry, its copy of the text, the terms pointing into that copy.
 *
 * A check holds the entries it evaluates: a hit hands out the entry's own
 * text and terms, with a reference (no copy of either into the check), and
 * the check gives it back when it is freed (spf_cache_release).  An entry
 * evicted or cleared while held leaves the table at once and is freed by
 * its last holder, so what a check reads never changes under it.  One
 * mutex guards the table; the counts are atomic, the table's place in an
 * entry being one of them, so that a release takes no lock: a count can
 * reach 0 only once the entry has left the table (under the mutex), after
 * which nobody can find it to raise it again.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "spf/spf.h"

#define SPFCACHE_SLOTS 1024
#define SPFCACHE_WAYS 2		/* one way: 1 in 6 of 400 records collided */
#define SPFCACHE_MAX_TEXT 1024	/* longer records are parsed every time */
#define SPFCACHE_MAX_TERMS 64

struct spf_cached {
	spf_record rec;		/* pointers into text */
	size_t len;
	char *text;		/* the record; the terms follow it */
	unsigned refs;		/* checks holding it, + 1 while in the table */
};

static spf_cached *spfcache[SPFCACHE_SLOTS][SPFCACHE_WAYS];
static pthread_mutex_t spfcache_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The slot of a text: a short one hashed whole, a longer one by its length
 * and eight of its 8-byte words, spread evenly past "v=spf1" (hashing all
 * of a 150-byte record was a tenth of a cached evaluation).  Texts equal
 * in all of those share a slot, which costs at most a miss: a hit compares
 * the whole text.  As text_hash, not keyed: a publisher who makes many
 * texts meet in one slot only evicts its own.
 */
#define SLOT_SAMPLES 8

static unsigned spfcache_slot(const char *txt, size_t len)
{
	unsigned long long h = 0x9e3779b97f4a7c15ULL ^ len, w;
	size_t i, step;

	if (len < 6 + 8 * SLOT_SAMPLES)
		return (unsigned)(text_hash(txt, len) % SPFCACHE_SLOTS);
	step = (len - 6 - 8) / (SLOT_SAMPLES - 1);	/* the last word ends by len */
	for (i = 0; i < SLOT_SAMPLES; i++) {
		memcpy(&w, txt + 6 + i * step, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	return (unsigned)((h ^ (h >> 32)) % SPFCACHE_SLOTS);
}

/* p, a pointer into the text at from, moved to the same offset at to. */
static const char *rebase(const char *p, const char *from, const char *to)
{
	return p != NULL ? to + (p - from) : NULL;
}

/* rec from src into terms (sized), its pointers moved from from to to. */
static void copy_record(spf_record *rec, spf_term *terms, const spf_record *src,
			const char *from, const char *to)
{
	size_t i;

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
}

static int same_text(const spf_cached *e, const char *txt, size_t len)
{
	return e != NULL && e->len == len && memcmp(e->text, txt, len) == 0;
}

/* The entry of this text, held (its count raised) and first in its slot,
 * or NULL. */
static spf_cached *spfcache_get(unsigned at, const char *txt, size_t len)
{
	spf_cached **way = spfcache[at], *e = NULL;

	pthread_mutex_lock(&spfcache_lock);
	if (same_text(way[0], txt, len)) {
		e = way[0];
	} else if (same_text(way[1], txt, len)) {
		e = way[1];
		way[1] = way[0];
		way[0] = e;
	}
	if (e != NULL)	/* in the table: its count is at least 1 */
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&spfcache_lock);
	return e;
}

/* A reference given back: the last one frees e. */
static void spfcache_unref(spf_cached *e)
{
	if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(e);
}

/* Called with the lock: e leaves the table, freed now if nobody holds it. */
static void spfcache_drop(spf_cached *e)
{
	if (e != NULL)
		spfcache_unref(e);
}

/* How terms must be aligned, in C99. */
struct term_align {
	char c;
	spf_term t;
};
#define TERM_ALIGN offsetof(struct term_align, t)

/* A new entry for rec (parsed from txt), held once, in the table. */
static spf_cached *spfcache_put(unsigned at, const char *txt, size_t len,
				const spf_record *rec)
{
	spf_cached *e;
	size_t off = (sizeof *e + len + 1 + TERM_ALIGN - 1) / TERM_ALIGN * TERM_ALIGN;

	if (rec->n > SPFCACHE_MAX_TERMS)
		return NULL;
	e = malloc(off + (rec->n ? rec->n : 1) * sizeof(spf_term));
	if (e == NULL)
		return NULL;	/* only a cache: the check goes on */
	e->len = len;
	e->text = (char *)(e + 1);
	memcpy(e->text, txt, len);
	e->text[len] = '\0';
	copy_record(&e->rec, (spf_term *)(void *)((char *)e + off), rec, txt,
		    e->text);
	e->refs = 2;	/* the caller's and the table's */
	pthread_mutex_lock(&spfcache_lock);
	spfcache_drop(spfcache[at][1]);
	spfcache[at][1] = spfcache[at][0];
	spfcache[at][0] = e;
	pthread_mutex_unlock(&spfcache_lock);
	return e;
}

/* The uncached way: the text copied into a, parsed there. */
static int parse_in_arena(const char *txt, size_t len, spf_record *rec,
			  const char **text, arena *a, char *err, size_t errlen)
{
	char *copy = arena_strndup(a, txt, len);

	if (copy == NULL)
		return MAUTH_ENOMEM;
	*text = copy;
	return spf_record_parse(copy, len, rec, a, err, errlen);
}

int spf_record_get(const char *txt, size_t len, spf_record *rec,
		   const char **text, spf_cached **held, arena *a,
		   char *err, size_t errlen)
{
	spf_cached *e;
	unsigned at;
	int rc;

	*held = NULL;
	if (len > SPFCACHE_MAX_TEXT)
		return parse_in_arena(txt, len, rec, text, a, err, errlen);
	at = spfcache_slot(txt, len);
	e = spfcache_get(at, txt, len);
	if (e == NULL) {
		/* parsed from txt (the caller's until this returns), then
		 * kept: a permerror is cheap to find again, so not cached */
		rc = spf_record_parse(txt, len, rec, a, err, errlen);
		if (rc != 0)
			return rc == MAUTH_ENOMEM ? rc :
			       parse_in_arena(txt, len, rec, text, a, err, errlen);
		e = spfcache_put(at, txt, len, rec);
		if (e == NULL)
			return parse_in_arena(txt, len, rec, text, a, err, errlen);
	}
	*rec = e->rec;
	*text = e->text;
	*held = e;
	return 0;
}

void spf_cache_release(spf_cached *e)
{
	if (e != NULL)
		spfcache_unref(e);
}

void spf_cache_clear(void)
{
	unsigned i;

	for (i = 0; i < SPFCACHE_SLOTS; i++) {
		pthread_mutex_lock(&spfcache_lock);
		spfcache_drop(spfcache[i][0]);
		spfcache_drop(spfcache[i][1]);
		spfcache[i][0] = spfcache[i][1] = NULL;
		pthread_mutex_unlock(&spfcache_lock);
	}
}
