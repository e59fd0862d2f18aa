/*
 * dnswire.h - what the drivers share: the resolver object behind the
 * public mauth_resolver calls, and the ldns-based record decoding.
 */
#if !defined(MAUTH_DNSWIRE_H)
#define MAUTH_DNSWIRE_H

#include <ldns/ldns.h>
#include "core/internal.h"

struct mauth_resolver {
	/* Fills out[i] with an owned answer for every question. */
	int (*query)(mauth_resolver *r, const mauth_question *qv, size_t n,
		     mauth_answer **out);
	void (*free)(mauth_resolver *r);
	/*
	 * The absolute bound (mauth_clock_ms) of the query in progress, 0 for
	 * none: set by the caller of query() just before it, read by drivers
	 * that wait (an offline one answers at once and ignores it).  A field,
	 * not an argument, so a driver that never waits need not know it.
	 */
	long long deadline_ms;
	/*
	 * Set likewise (0: all): the first need questions are the ones the
	 * caller waits for.  The others go out with them, but a driver that
	 * waits stops once those are answered and answers the rest TIMEOUT.
	 */
	size_t need;
	mauth_resolver_stats stats;
	mauth_answer **last;	/* answers handed out by the last query */
	size_t nlast;
	/*
	 * Optional (NULL: none): query, except that an out[i] with lent[i]
	 * set is the driver's own, unchanged until the driver is freed: the
	 * caller reads it in place and never frees it (mauth_check_run hands
	 * it to the check with check_lend_answer).  The offline zone builds
	 * its answers once, so a lookup costs no copy, malloc or free.
	 */
	int (*lend)(mauth_resolver *r, const mauth_question *qv, size_t n,
		    mauth_answer **out, unsigned char *lent);
};

/*
 * A new driver: size bytes zeroed (its struct begins with the
 * mauth_resolver) with query and free set, NULL when out of memory; *out
 * is NULL until its constructor hands it over.
 */
void *resolver_alloc(size_t size, mauth_resolver **out,
		     int (*query)(mauth_resolver *, const mauth_question *,
				  size_t, mauth_answer **),
		     void (*free_fn)(mauth_resolver *));

/*
 * Decodes the rdata of rr into text as mauth_rr describes.  *buf is
 * malloc'd; returns its length or -1.  pref gets the MX preference.
 */
long rr_to_text(const ldns_rr *rr, char **buf, unsigned *pref);
/* Writes a wire-format name as text (no final dot); returns the length. */
size_t dname_to_text(const ldns_rdf *dname, char *buf, size_t buflen);
/* The records of qtype in pkt's answer section, with rcode and TTL. */
mauth_answer *answer_from_pkt(const ldns_pkt *pkt, int qtype);
/* A valid name (name_is_valid) in wire form, as ldns would write it,
 * into out (255 octets); its length, 0 when it does not fit. */
size_t wire_name_from_text(const char *name, uint8_t *out);
/* An absolute ldns name from text (NULL when not a valid name). */
ldns_rdf *dname_from_text(const char *name);
/* mauth_wire_parse_typed through ldns only (what the direct read of the
 * common replies must agree with; fuzz/fuzz_wire_fast.c compares). */
int wire_parse_ldns(const unsigned char *buf, size_t len, mauth_answer **out,
		    unsigned *id, int *tc, int *type, char *err, size_t errlen);
/* The question of pkt (name lowercased text, type); 0 on success. */
int pkt_question(const ldns_pkt *pkt, char *name, size_t namelen, int *type);

#endif
