/*
 * fuzz_dmarc.c - a DMARC check driven through the job protocol with its
 * parameters and every DNS answer decoded from the fuzz input, and the
 * record parser of dmarc.c fed directly.
 *
 * An input starting with "v" is a DMARC record: it goes straight to the
 * record parser (parse_record, is_dmarc_record; dmarc.c is included here
 * for its static functions, its two exported tables renamed), and the
 * parsed tags must be in range.
 *
 * Any other input drives a check (all fields optional; a short input reads
 * as zeros):
 *   byte 0   bit 0: org_domain tree; bit 1: pct_roll; bit 2: From as a
 *            from_domains list; bit 3: answer questions in reverse order;
 *            bit 4: no spf.result; bit 5: org_domain_compare
 *   byte     pct_roll (% 100, when bit 1)
 *   byte     from_count % 20 (when bit 2), then that many domains
 *   domain   from (when not bit 2)
 *   domain   spf.domain; byte: spf.result word
 *   byte     number of DKIM results % 8, then per result a word byte and
 *            a domain
 *   then per question (in step order): rcode byte, ttl byte, record count
 *   byte, and per record a kind byte and what that kind needs (record()).
 * A domain is a byte: < 0x80 picks from domains[], else (b & 0x7f) raw bytes
 * (0xff: 127 + the next byte).
 * Whatever the answers, the check ends within two DNS steps with `result`
 * one of pass, fail, none, temperror, permerror, and the fields that go
 * with it.
 *
 * The Public Suffix List is the PSL project's copy in the team's test data,
 * read in place (../shared/testdata/dmarc/psl/, relative to the top
 * directory where fuzz/run.sh runs; $MAILAUTH_TESTDATA names another test
 * data folder), else Debian's publicsuffix package's file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "fuzz_answer.h"
#include "core/internal.h"

/* The record parser is static in dmarc.c: take the file in whole. */
#define mauth_dmarc_vt fuzz_dmarc_copy_vt
#define mauth_org_domain_vt fuzz_org_domain_copy_vt
#include "../src/dmarc/dmarc.c"
#undef mauth_dmarc_vt
#undef mauth_org_domain_vt

#define PSL_TESTDATA "dmarc/psl/public_suffix_list.dat"
#define PSL_SYSTEM "/usr/share/publicsuffix/public_suffix_list.dat"
#define MAX_RECORDS 8
#define MAX_STEPS 8
#define HUGE_MAX 70000

static const char *const domains[] = {
	"example.com", "mail.example.com", "a.b.mail.example.com",
	"example.org", "nop.example.org", "example.net", "sub.example.net",
	"example.co.uk", "mail.example.co.uk", "co.uk", "com", "gov",
	"agency.gov", "example.biz", "x.y.z.example.biz",
	"a.b.c.d.e.f.g.h.i.j.example.com", "EXAMPLE.COM.", "user@example.com",
	" example.com ", "xn--bcher-kva.example", "_sub.example.com",
	"-bad.example.com", "example..com", "", "blogspot.com",
	"foo.blogspot.com", "s3.amazonaws.com", "b.s3.amazonaws.com",
};
#define NDOMAINS (sizeof domains / sizeof domains[0])

static const char *const words[] = {
	"pass", "fail", "none", "softfail", "neutral", "temperror",
	"permerror", "PASS", "policy", "",
};
#define NWORDS (sizeof words / sizeof words[0])

/* Records from RFC 7489 appendix B and the authheaders fixture. */
static const char *const records[] = {
	"v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
	"v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; "
	"ruf=mailto:auth-reports@example.com",
	"v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
	"mailto:tld-test@thirdparty.example.net!10m; pct=25",
	"v=DMARC1; p=reject; rua=mailto:dmarc.reports@valimail.com,"
	"mailto:dmarc_agg@vali.email; ruf=mailto:dmarc.reports@valimail.com",
	"v=DMARC1; p=none; sp=reject",
	"v=DMARC1; p=none; sp=quarantine; np=reject",
	"v=DMARC1; sp=quarantine; np=reject",
	"v=DMARC1; p=none; reject",
	"v=DMARC1; p=reject; sp=none; np=reject; "
	"rua=mailto:dotgov_dmarc@cisa.dhs.gov; psd=y",
	"v=DMARC1; p=reject; adkim=s; aspf=s",
	"v=DMARC1; p=quarantine; psd=n; t=y",
	"v=DMARC1; p=bogus; rua=mailto:r@example.com",
	"v=DMARC1 p=reject",
	"v=spf1 -all",
	"V=DMARC1; p=reject",
	"v = DMARC1 ; p = reject ; pct = 0",
	"v=DMARC1; psd=u; p=reject",
	"v=DMARC1",
};
#define NRECORDS (sizeof records / sizeof records[0])

static const int rcodes[] = {
	MAUTH_RC_NOERROR, MAUTH_RC_NOERROR, MAUTH_RC_NOERROR,
	MAUTH_RC_NXDOMAIN, MAUTH_RC_SERVFAIL, MAUTH_RC_TIMEOUT,
	MAUTH_RC_BADNAME, MAUTH_RC_REFUSED,
};

static char huge[HUGE_MAX];

/*
 * A domain value: from the table or raw bytes (NUL bytes and all, copied
 * NUL-terminated into slot, as an options STR must be).
 */
static mauth_value domain(fuzz_reader *in, char *slot)
{
	unsigned b = fuzz_byte(in);
	const uint8_t *raw;
	mauth_value v;

	memset(&v, 0, sizeof v);
	v.kind = MAUTH_V_STR;
	if (b < 0x80) {
		v.str = domains[b % NDOMAINS];
		v.len = strlen(v.str);
		return v;
	}
	/* 0xff: longer than a name may be (up to 382 bytes) */
	v.len = fuzz_bytes(in, &raw, b == 0xff ? 127 + fuzz_byte(in) : b & 0x7f);
	memcpy(slot, raw, v.len);
	slot[v.len] = '\0';
	v.str = slot;
	return v;
}

/* One record into text[] (cap bytes): see the kinds below. */
static size_t record_text(fuzz_reader *in, const mauth_question *q,
			  char *text, size_t cap, const char **data)
{
	unsigned kind = fuzz_byte(in), b;
	const char *known;
	const uint8_t *raw;
	size_t n, k;

	*data = text;
	switch (kind % 8) {
	case 0:		/* a known record */
		known = records[fuzz_byte(in) % NRECORDS];
		n = strlen(known);
		memcpy(text, known, n);
		return n;
	case 1:		/* "v=DMARC1;" then raw tags */
		memcpy(text, "v=DMARC1;", 9);
		n = fuzz_bytes(in, &raw, fuzz_byte(in));
		memcpy(text + 9, raw, n);
		return n + 9;
	case 2:		/* raw bytes */
		n = fuzz_bytes(in, &raw, fuzz_byte(in));
		memcpy(text, raw, n);
		return n;
	case 3:		/* huge: around the 4096-byte limit, or far past it */
		b = fuzz_byte(in);
		n = b & 0x80 ? (b & 0x7f) * 540u + 100 : 4090 + b % 12;
		if (n > HUGE_MAX)
			n = HUGE_MAX;
		memset(huge, 'x', n);
		memcpy(huge, "v=DMARC1; p=reject; rua=mailto:a@", 34);
		if (kind & 8)
			huge[n - 1] = ';';
		*data = huge;
		return n;
	case 4:		/* a known record with a NUL byte inside or at its end */
		known = records[fuzz_byte(in) % NRECORDS];
		n = strlen(known);
		memcpy(text, known, n);
		text[n++] = '\0';
		k = fuzz_byte(in) % n;
		text[k] = '\0';
		return n;
	case 5:		/* an address */
		if (kind & 8)
			return (size_t)snprintf(text, cap, "2001:db8::%x",
						fuzz_byte(in));
		return (size_t)snprintf(text, cap, "192.0.2.%u", fuzz_byte(in));
	case 6:		/* a known record with raw bytes appended */
		known = records[fuzz_byte(in) % NRECORDS];
		n = strlen(known);
		memcpy(text, known, n);
		k = fuzz_bytes(in, &raw, fuzz_byte(in));
		memcpy(text + n, raw, k);
		return n + k;
	default:	/* the question's own name (an MX pointing at itself) */
		n = strlen(q->name);
		memcpy(text, q->name, n);
		return n;
	}
}

/* A record for fuzz_answer: record_text()'s, then its preference. */
static void fill(fuzz_reader *in, const mauth_question *q, const void *ctx,
		 char *text, size_t cap, mauth_rr *rr)
{
	(void)ctx;
	rr->len = record_text(in, q, text, cap, &rr->data);
	rr->pref = fuzz_byte(in);
}

static const char *str_field(const mauth_value *res, const char *key)
{
	const mauth_value *v = mauth_value_get(res, key);

	if (v == NULL)
		return NULL;
	FUZZ_ASSERT(v->kind == MAUTH_V_STR);
	return v->str;
}

static int is_policy(const char *s)
{
	return s != NULL && (strcmp(s, "none") == 0 ||
			     strcmp(s, "quarantine") == 0 ||
			     strcmp(s, "reject") == 0);
}

static void check_result_map(const mauth_value *res)
{
	const char *word = str_field(res, "result");
	const mauth_value *pct, *pub;
	int tree;

	FUZZ_ASSERT(res != NULL && res->kind == MAUTH_V_MAP);
	fuzz_strings_terminated(res->child, 4);
	FUZZ_ASSERT(word != NULL);
	/* a problem always comes with its code (doc/codes.md) */
	FUZZ_ASSERT((str_field(res, "problem") == NULL) ==
		    (str_field(res, "code") == NULL));
	if (strcmp(word, "pass") == 0 || strcmp(word, "fail") == 0) {
		int spf = mauth_value_get(res, "spf_aligned")->num;
		int dkim = mauth_value_get(res, "dkim_aligned")->num;

		FUZZ_ASSERT((strcmp(word, "pass") == 0) == (spf || dkim));
		FUZZ_ASSERT(is_policy(str_field(res, "policy")));
		FUZZ_ASSERT(is_policy(str_field(res, "disposition")));
		FUZZ_ASSERT(strcmp(word, "fail") == 0 ||
			    strcmp(str_field(res, "disposition"), "none") == 0);
		FUZZ_ASSERT(str_field(res, "policy_domain") != NULL);
		FUZZ_ASSERT(str_field(res, "domain") != NULL);
		FUZZ_ASSERT(str_field(res, "record") != NULL);
		FUZZ_ASSERT(strlen(str_field(res, "record")) <= DMARC_RECORD_MAX);
		/* pct exists in RFC 7489 mode only (RFC 9989 removed it) */
		pct = mauth_value_get(res, "pct");
		tree = strcmp(str_field(res, "discovery_method"), "treewalk") == 0;
		FUZZ_ASSERT(tree ? pct == NULL :
			    pct != NULL && pct->num >= 0 && pct->num <= 100);
		pub = mauth_value_get(res, "policy_published");
		FUZZ_ASSERT(pub != NULL && pub->kind == MAUTH_V_MAP);
		FUZZ_ASSERT(is_policy(str_field(pub, "p")) &&
			    is_policy(str_field(pub, "sp")) &&
			    is_policy(str_field(pub, "np")));
		FUZZ_ASSERT((mauth_value_get(pub, "pct") == NULL) == tree);
	} else if (strcmp(word, "none") == 0) {
		FUZZ_ASSERT(strcmp(str_field(res, "disposition"), "none") == 0);
		FUZZ_ASSERT(str_field(res, "problem") != NULL);
	} else {
		FUZZ_ASSERT(strcmp(word, "temperror") == 0 ||
			    strcmp(word, "permerror") == 0);
		FUZZ_ASSERT(str_field(res, "problem") != NULL);
	}
}

/* The record parser alone: whatever the text, tags come out in range. */
/* The list file, chosen once (see the head of this file). */
static const char *psl_path(void)
{
	static char path[4096];
	const char *dir;
	FILE *f;

	if (path[0] != '\0')
		return path;
	dir = getenv("MAILAUTH_TESTDATA");
	snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "../shared/testdata", PSL_TESTDATA);
	f = fopen(path, "rb");
	if (f != NULL)
		fclose(f);
	else
		snprintf(path, sizeof path, "%s", PSL_SYSTEM);
	return path;
}

/* Both grammars (psl and tree org_domain modes) on every record: a stored
 * fo= must satisfy the grammar of the mode that stored it. */
static void fuzz_record_mode(const char *s, size_t size, int rfc9989)
{
	arena a;
	record r;

	arena_init(&a);
	parse_record(&a, s, rfc9989, &r);
	FUZZ_ASSERT(r.p >= POL_INVALID && r.p <= POL_REJECT);
	FUZZ_ASSERT(r.sp >= POL_INVALID && r.sp <= POL_REJECT);
	FUZZ_ASSERT(r.np >= POL_ABSENT && r.np <= POL_REJECT);
	FUZZ_ASSERT(r.pct >= 0 && r.pct <= 100);
	FUZZ_ASSERT(r.psd >= -1 && r.psd <= 2);
	FUZZ_ASSERT(r.rua == NULL || strlen(r.rua) <= size);
	FUZZ_ASSERT(r.ruf == NULL || strlen(r.ruf) <= size);
	FUZZ_ASSERT(!r.rua_valid || r.rua != NULL);
	FUZZ_ASSERT(r.fo == NULL || fo_valid(r.fo, strlen(r.fo), rfc9989));
	arena_free(&a);
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_ASSERT(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	(void)is_dmarc_record(s, size);
	fuzz_record_mode(s, size, 0);
	fuzz_record_mode(s, size, 1);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader in = { data, size };
	unsigned flags, n, i, nd;
	int rc = MAUTH_WANT_DNS, steps;
	static char slots[40][400];
	char err[256];
	mauth_opts *o, *spf, *sig[8];
	mauth_value v;
	size_t nq, k, ns = 0;
	const mauth_question *qv;
	mauth_check *c;

	if (size > 0 && data[0] == 'v') {
		fuzz_record(data, size);
		return 0;
	}
	o = mauth_opts_new();
	spf = mauth_opts_new();
	flags = fuzz_byte(&in);
	mauth_opts_str(o, "psl_file", psl_path());
	if (flags & 1)
		mauth_opts_str(o, "org_domain", "tree");
	if (flags & 32)
		mauth_opts_bool(o, "org_domain_compare", 1);
	if (flags & 2)
		mauth_opts_int(o, "pct_roll", fuzz_byte(&in) % 100);
	if (flags & 4) {
		n = fuzz_byte(&in) % 20;
		/* an empty list: the option given, with no domain in it */
		mauth_opts_list(o, "from_domains", NULL, 0);
		for (i = 0; i < n; i++) {
			v = domain(&in, slots[ns++]);
			mauth_opts_append(o, "from_domains", &v);
		}
	} else {
		v = domain(&in, slots[ns++]);
		mauth_opts_add(o, "from", &v);
	}
	v = domain(&in, slots[ns++]);
	mauth_opts_add(spf, "domain", &v);
	k = fuzz_byte(&in);
	if (!(flags & 16))
		mauth_opts_str(spf, "result", words[k % NWORDS]);
	mauth_opts_add(o, "spf", mauth_opts_tree(spf));
	nd = fuzz_byte(&in) % 8;
	for (i = 0; i < nd; i++) {
		sig[i] = mauth_opts_new();
		mauth_opts_str(sig[i], "result", words[fuzz_byte(&in) % NWORDS]);
		v = domain(&in, slots[ns++]);
		mauth_opts_add(sig[i], "domain", &v);
		mauth_opts_append(o, "dkim", mauth_opts_tree(sig[i]));
	}
	FUZZ_ASSERT(ns <= sizeof slots / sizeof slots[0]);
	rc = mauth_check_new(&c, "dmarc", mauth_opts_tree(o), err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "mauth_check_new: %s\n", err);
	FUZZ_ASSERT(rc == 0);
	for (i = 0; i < nd; i++)
		mauth_opts_free(sig[i]);
	mauth_opts_free(spf);
	mauth_opts_free(o);
	for (steps = 0; steps < MAX_STEPS; steps++) {
		rc = mauth_check_step(c);
		if (rc != MAUTH_WANT_DNS)
			break;
		FUZZ_ASSERT(steps < 2);
		nq = mauth_check_questions(c, &qv);
		FUZZ_ASSERT(nq > 0 && nq <= LOOKUP_MAX);
		for (k = 0; k < nq; k++) {
			const mauth_question *q = &qv[flags & 8 ? nq - 1 - k : k];

			FUZZ_ASSERT(steps == 0 ? q->type == MAUTH_T_TXT :
				    q->type != MAUTH_T_TXT);
			FUZZ_ASSERT(steps > 0 || strncmp(q->name, "_dmarc.", 7) == 0);
			fuzz_answer(c, &in, q, rcodes, MAX_RECORDS, fill, NULL);
		}
	}
	FUZZ_ASSERT(rc == MAUTH_DONE);
	check_result_map(mauth_check_result(c));
	mauth_check_free(c);
	return 0;
}
