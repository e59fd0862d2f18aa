/*
 * fuzz_parse_wire.c - mauth_wire_parse on arbitrary bytes: the path every
 * reply from the network (or from a HAProxy cosocket) takes.  When it
 * parses, every record and CNAME chain name is read to its end and the
 * answer is copied, so a bad length or a missing terminator shows up
 * under ASan.
 */
#include <string.h>
#include "fuzz.h"
#include "core/internal.h"

static volatile unsigned sink;

static void touch(const mauth_answer *a)
{
	unsigned sum = 0;
	size_t i, j;

	FUZZ_ASSERT(a->n == 0 || a->rr != NULL);
	for (i = 0; i < a->n; i++) {
		const mauth_rr *rr = &a->rr[i];

		FUZZ_ASSERT(rr->data != NULL);
		for (j = 0; j < rr->len; j++)
			sum += (unsigned char)rr->data[j];
		/* Records are NUL-terminated for C callers. */
		FUZZ_ASSERT(rr->data[rr->len] == '\0');
		FUZZ_ASSERT(rr->pref <= 65535);
	}
	/* The CNAME chain: bounded, each name NUL-terminated and lowercase. */
	FUZZ_ASSERT(a->ncnames <= CNAME_CHAIN_MAX);
	FUZZ_ASSERT(a->ncnames == 0 || a->cnames != NULL);
	for (i = 0; i < a->ncnames; i++)
		for (j = 0; a->cnames[i][j] != '\0'; j++) {
			FUZZ_ASSERT(a->cnames[i][j] < 'A' || a->cnames[i][j] > 'Z');
			sum += (unsigned char)a->cnames[i][j];
		}
	sink = sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mauth_answer *a = NULL, *copy;
	unsigned id = 0;
	int tc = -1;
	char err[256];
	size_t i;

	if (mauth_wire_parse(data, size, &a, &id, &tc, err, sizeof err) != 0) {
		FUZZ_ASSERT(a == NULL);
		FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
		return 0;
	}
	FUZZ_ASSERT(a != NULL);
	FUZZ_ASSERT(id <= 65535 && (tc == 0 || tc == 1));
	FUZZ_ASSERT(a->rcode >= 0 && a->rcode <= 15);
	FUZZ_ASSERT(a->ttl <= 86400);
	touch(a);
	copy = mauth_answer_dup(a);
	FUZZ_ASSERT(copy != NULL && copy->n == a->n && copy->rcode == a->rcode);
	FUZZ_ASSERT(copy->ncnames == a->ncnames);
	for (i = 0; i < a->ncnames; i++)
		FUZZ_ASSERT(strcmp(copy->cnames[i], a->cnames[i]) == 0);
	for (i = 0; i < a->n; i++)
		FUZZ_ASSERT(copy->rr[i].len == a->rr[i].len &&
			    memcmp(copy->rr[i].data, a->rr[i].data,
				   a->rr[i].len) == 0);
	touch(copy);
	mauth_answer_free(copy);
	mauth_answer_free(a);
	return 0;
}
