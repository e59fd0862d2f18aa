/*
 * fuzz_check_iprev.c - an iprev (or ptr) check driven through the job
 * protocol with answers decoded from the fuzz input: rcodes, record
 * counts, record bytes, answer order.  Whatever the answers, the check
 * must end in a few steps with a `result` field holding an RFC 8601 word.
 *
 * Input layout (all optional; a short input reads as zeros):
 *   byte 0         bit 0: kind ptr instead of iprev; bit 1: IPv6;
 *                  bit 2: set max_names; bit 3: answer in reverse order
 *   4 or 16 bytes  the client address
 *   1 byte         max_names - 1 (when bit 2)
 *   then per question: rcode byte, ttl byte, record count byte, and per
 *   record a kind byte followed by what that kind needs (see record()).
 */
#include <string.h>
#include "fuzz.h"
#include "fuzz_answer.h"
#include "core/internal.h"

#define MAX_RECORDS 24
#define MAX_STEPS 8

static const int rcodes[] = {
	MAUTH_RC_NOERROR, MAUTH_RC_NOERROR, MAUTH_RC_NXDOMAIN,
	MAUTH_RC_SERVFAIL, MAUTH_RC_TIMEOUT, MAUTH_RC_BADNAME,
	MAUTH_RC_REFUSED, MAUTH_RC_FORMERR,
};

/* One record into text[]: the client address, another address, a valid
 * synthetic name, the question's own name, or raw bytes. */
static size_t record(fuzz_reader *in, const ipaddr *client,
		     const mauth_question *q, char *text, size_t cap)
{
	unsigned kind = fuzz_byte(in);
	const uint8_t *raw;
	ipaddr other;
	size_t n;

	switch (kind % 5) {
	case 0:
		return ip_format(client, text, cap);
	case 1:
		memset(&other, 0, sizeof other);
		other.family = kind & 8 ? 6 : 4;
		n = fuzz_bytes(in, &raw, other.family == 4 ? 4 : 16);
		memcpy(other.b, raw, n);
		return ip_format(&other, text, cap);
	case 2:
		return (size_t)snprintf(text, cap, "h%u.example", fuzz_byte(in));
	case 3:
		n = strlen(q->name);
		memcpy(text, q->name, n);
		return n;
	default:
		/* Sizes past 255 too: a TXT-like blob where a name belongs. */
		n = fuzz_byte(in);
		if (kind & 0x80)
			n *= 4;
		n = fuzz_bytes(in, &raw, n < cap ? n : cap);
		memcpy(text, raw, n);
		return n;
	}
}

/* A record for fuzz_answer: record()'s text, no preference. */
static void fill(fuzz_reader *in, const mauth_question *q, const void *client,
		 char *text, size_t cap, mauth_rr *rr)
{
	rr->len = record(in, client, q, text, cap);
	rr->data = text;
	rr->pref = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader in = { data, size };
	unsigned flags = fuzz_byte(&in);
	int ptr_kind = flags & 1, rc = MAUTH_WANT_DNS, steps;
	mauth_opts *o = mauth_opts_new();
	size_t n, i;
	char iptext[64], err[256];
	const mauth_question *qv;
	const mauth_value *res, *word;
	const uint8_t *raw;
	ipaddr ip;
	mauth_check *c;

	memset(&ip, 0, sizeof ip);
	ip.family = flags & 2 ? 6 : 4;
	n = fuzz_bytes(&in, &raw, ip.family == 4 ? 4 : 16);
	memcpy(ip.b, raw, n);
	ip_format(&ip, iptext, sizeof iptext);
	mauth_opts_str(o, "ip", iptext);
	if (flags & 4)
		mauth_opts_int(o, "max_names", fuzz_byte(&in) % 100 + 1);
	FUZZ_ASSERT(mauth_check_new(&c, ptr_kind ? "ptr" : "iprev",
				    mauth_opts_tree(o), err, sizeof err) == 0);
	mauth_opts_free(o);
	for (steps = 0; steps < MAX_STEPS; steps++) {
		rc = mauth_check_step(c);
		if (rc != MAUTH_WANT_DNS)
			break;
		n = mauth_check_questions(c, &qv);
		FUZZ_ASSERT(n > 0);
		for (i = 0; i < n; i++) {
			const mauth_question *q = &qv[flags & 8 ? n - 1 - i : i];

			FUZZ_ASSERT(name_is_valid(q->name, strlen(q->name)));
			fuzz_answer(c, &in, q, rcodes, MAX_RECORDS, fill, &ip);
		}
	}
	FUZZ_ASSERT(rc == MAUTH_DONE);
	FUZZ_ASSERT(mauth_check_answer(c, 12345, &(mauth_answer){ 0 }) ==
		    MAUTH_ESTATE);
	res = mauth_check_result(c);
	FUZZ_ASSERT(res != NULL);
	word = mauth_value_get(res, "result");
	FUZZ_ASSERT(word != NULL && word->kind == MAUTH_V_STR);
	FUZZ_ASSERT(strcmp(word->str, "pass") == 0 ||
		    strcmp(word->str, "permerror") == 0 ||
		    strcmp(word->str, "temperror") == 0 ||
		    (!ptr_kind && strcmp(word->str, "fail") == 0));
	FUZZ_ASSERT(mauth_value_get(res, "ip") != NULL);
	mauth_check_free(c);
	return 0;
}
