/*
 * fuzz_wire_fast.c - differential: mauth_wire_parse_typed (which reads
 * the common replies straight from the bytes, dnswire.c's wire_fast)
 * against wire_parse_ldns (ldns_wire2pkt for every reply) on arbitrary
 * bytes.  Both must accept or refuse alike and, when they accept, give
 * the very same answer: rcode, TTL, AD, every record's text, length and
 * MX preference, the CNAME chain, the id, TC and the question's type.
 * An input "N" + text compares the query name writers instead:
 * wire_name_from_text against ldns (dname_from_text) for every name
 * name_is_valid accepts.
 */
#include <string.h>
#include "fuzz.h"
#include "dns/dnswire.h"

static void same_answer(const mauth_answer *a, const mauth_answer *b)
{
	size_t i;

	FUZZ_ASSERT(a->rcode == b->rcode && a->ttl == b->ttl &&
		    a->secure == b->secure && a->n == b->n &&
		    a->ncnames == b->ncnames);
	for (i = 0; i < a->n; i++) {
		FUZZ_ASSERT(a->rr[i].len == b->rr[i].len &&
			    a->rr[i].pref == b->rr[i].pref);
		FUZZ_ASSERT(memcmp(a->rr[i].data, b->rr[i].data,
				   a->rr[i].len + 1) == 0);
	}
	for (i = 0; i < a->ncnames; i++)
		FUZZ_ASSERT(strcmp(a->cnames[i], b->cnames[i]) == 0);
}

static void same_name(const uint8_t *data, size_t size)
{
	char name[1100];
	uint8_t wire[256];
	ldns_rdf *d;
	size_t n;

	if (size >= sizeof name || memchr(data, '\0', size) != NULL)
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	if (!name_is_valid(name, size))
		return;
	d = dname_from_text(name);
	n = wire_name_from_text(name, wire);
	FUZZ_ASSERT(d != NULL && n > 0);
	FUZZ_ASSERT(n == ldns_rdf_size(d) && memcmp(wire, ldns_rdf_data(d), n) == 0);
	ldns_rdf_deep_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mauth_answer *a = NULL, *b = NULL;
	unsigned ida = 0, idb = 0;
	int tca = -1, tcb = -1, ta = -1, tb = -1, ra, rb;
	char err[256];

	if (size > 0 && data[0] == 'N') {
		same_name(data + 1, size - 1);
		return 0;
	}
	ra = mauth_wire_parse_typed(data, size, &a, &ida, &tca, &ta, err,
				    sizeof err);
	rb = wire_parse_ldns(data, size, &b, &idb, &tcb, &tb, err, sizeof err);
	FUZZ_ASSERT(ra == rb);
	FUZZ_ASSERT((a == NULL) == (b == NULL));
	if (a != NULL) {
		FUZZ_ASSERT(ida == idb && tca == tcb && ta == tb);
		same_answer(a, b);
	}
	mauth_answer_free(a);
	mauth_answer_free(b);
	return 0;
}
