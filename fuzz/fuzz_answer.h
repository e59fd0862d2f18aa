/*
 * fuzz_answer.h - the head of a DNS answer read from fuzz input, as the
 * targets that answer a check's questions themselves (fuzz_check_iprev.c,
 * fuzz_dmarc.c) read it: three bytes give the rcode, DNSSEC's secure flag,
 * the TTL and how many records follow (RFC 1035 §4.1.1 rcodes, plus
 * mailauth's own timeout); each target then fills the records its way,
 * and fuzz_answer gives the whole answer to the check.
 */
#if !defined(MAUTH_FUZZ_ANSWER_H)
#define MAUTH_FUZZ_ANSWER_H

#include <string.h>
#include "fuzz.h"
#include "mailauth.h"

/*
 * A zeroed answer with rcode (the first byte's low four bits when its top
 * bit is set, else rcodes[byte % 8]: each target weights its own eight),
 * secure (that byte's bit 6), ttl (the second byte, in thousands of
 * seconds) and n (the third byte, at most max).
 */
static inline void fuzz_answer_head(fuzz_reader *in, const int rcodes[8],
				    size_t max, mauth_answer *a)
{
	unsigned b = fuzz_byte(in);

	memset(a, 0, sizeof *a);
	a->rcode = b & 0x80 ? (int)(b & 15) : rcodes[b % 8];
	a->ttl = fuzz_byte(in) * 1000u;
	a->secure = (int)(b >> 6 & 1);
	a->n = fuzz_byte(in) % (max + 1);
}

/*
 * Fills one record, rr, from the input; text (cap bytes) is there for its
 * data.  ctx: what the target passed to fuzz_answer.
 */
typedef void fuzz_record_fn(fuzz_reader *in, const mauth_question *q,
			    const void *ctx, char *text, size_t cap,
			    mauth_rr *rr);

#define FUZZ_ANSWER_MAX 24	/* records an answer may have, at most */

/*
 * Answers question q of c from the input: the head (fuzz_answer_head,
 * at most max records), then each record by fill.  The check takes it
 * once; a second answer to the same question is refused.
 */
static inline void fuzz_answer(mauth_check *c, fuzz_reader *in,
			       const mauth_question *q, const int rcodes[8],
			       size_t max, fuzz_record_fn *fill,
			       const void *ctx)
{
	static char text[FUZZ_ANSWER_MAX][1024];
	mauth_rr rr[FUZZ_ANSWER_MAX];
	mauth_answer a;
	size_t i;

	FUZZ_ASSERT(max <= FUZZ_ANSWER_MAX);
	fuzz_answer_head(in, rcodes, max, &a);
	for (i = 0; i < a.n; i++)
		fill(in, q, ctx, text[i], sizeof text[i], &rr[i]);
	a.rr = a.n > 0 ? rr : NULL;
	FUZZ_ASSERT(mauth_check_answer(c, q->id, &a) == 0);
	FUZZ_ASSERT(mauth_check_answer(c, q->id, &a) == MAUTH_ESTATE);
}

#endif
