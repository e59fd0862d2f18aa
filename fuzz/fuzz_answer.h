/*
 * fuzz_answer.h - the head of a DNS answer read from fuzz input, as the
 * targets that answer a check's questions themselves (fuzz_check_iprev.c,
 * fuzz_dmarc.c) read it: three bytes give the rcode, DNSSEC's secure flag,
 * the TTL and how many records follow (RFC 1035 §4.1.1 rcodes, plus
 * mailauth's own timeout); each target then fills the records its way.
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

#endif
