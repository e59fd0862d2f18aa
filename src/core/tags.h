/*
 * tags.h - tag=value lists (RFC 6376 §3.2), used by DKIM signatures and
 * key records, and later by DMARC records and ARC header fields.
 *
 *   tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  = ALPHA *ALNUMPUNC                 (ALNUMPUNC: alnum or "_")
 *   tag-value = [ tval *( 1*(WSP / FWS) tval ) ]  (tval: 1*(%x21-3A / %x3C-7E))
 *
 * Values point into the parsed text (nothing is copied); they exclude the
 * FWS around them but keep FWS inside (b=, h=, p= may be folded).
 */
#if !defined(MAUTH_TAGS_H)
#define MAUTH_TAGS_H

#include <stddef.h>
#include <string.h>
#include "core/internal.h"

#define TAGS_MAX 64		/* more tags than any record has a use for */

typedef struct {
	const char *name;
	size_t nlen;
	const char *val;	/* value without surrounding FWS */
	size_t vlen;
	size_t raw_start;	/* offset just after "=" */
	size_t raw_end;		/* offset of the ";" that ends it (or the end) */
} tag;

typedef struct {
	tag v[TAGS_MAX];
	size_t n;
} tag_list;

/*
 * Parses s.  Returns 0, or -1 with *why: a syntax error, a duplicate tag,
 * or more than TAGS_MAX tags.
 */
int tags_parse(const char *s, size_t len, tag_list *out, const char **why);
/*
 * The tag named name (case-sensitive, as RFC 6376 §3.2 says), or NULL.
 * Inline: callers ask for a score of literal names per signature, whose
 * lengths the compiler then knows.
 */
static inline const tag *tags_get(const tag_list *t, const char *name)
{
	size_t i, k, n = strlen(name);

	for (i = 0; i < t->n; i++) {
		const tag *g = &t->v[i];

		if (g->nlen != n)
			continue;
		for (k = 0; k < n && g->name[k] == name[k]; k++)
			;
		if (k == n)
			return g;
	}
	return NULL;
}
/* 1 when the value equals s ignoring ASCII case. */
int tag_ieq(const tag *t, const char *s);
/*
 * Copies the value without any FWS into out (outlen bytes, NUL-terminated);
 * returns the length, or (size_t)-1 when it does not fit.
 */
size_t tag_compact(const tag *t, char *out, size_t outlen);

/* The value without FWS, copied into the arena; NULL if too long or ENOMEM. */
char *tag_dup(arena *a, const tag *t);
/* 1 when s is one or more ASCII digits. */
int is_digits(const char *s, size_t n);
/* A decimal tag value of at most maxd digits (maxd <= 18), or -1. */
long long tag_number(const tag *t, size_t maxd);

#endif
