/*
 * fuzz_zone.c - the offline resolver on arbitrary master-file text, then
 * questions against it.
 *
 * Input: zone text, optionally followed by a NUL byte and question lines
 * "TYPE name" (TYPE a name such as TXT or a number).  Byte 0x01 inside the
 * zone text separates zones (the resolver takes several).  Without
 * questions a fixed set is asked.  Then an iprev check runs over the zones
 * for one IPv4 and one IPv6 address.
 */
#include <string.h>
#include "fuzz.h"
#include "core/internal.h"

#define MAX_ZONES 4
#define MAX_QUESTIONS 32

static const char *const default_names[] = {
	"example.com", "www.example.com", "a.b.example.com", "*.example.com",
	"nothere.example.com", "example.org", "1.2.0.192.in-addr.arpa",
	"x.y.z", "\\046.example.com",
};
static const int default_types[] = {
	MAUTH_T_A, MAUTH_T_TXT, MAUTH_T_MX, MAUTH_T_CNAME, MAUTH_T_PTR,
	MAUTH_T_AAAA, MAUTH_T_SOA, MAUTH_T_NS,
};

static void check_answer(const mauth_answer *a)
{
	size_t i;

	FUZZ_ASSERT(a != NULL);
	FUZZ_ASSERT(a->rcode == MAUTH_RC_NOERROR ||
		    a->rcode == MAUTH_RC_NXDOMAIN ||
		    a->rcode == MAUTH_RC_SERVFAIL ||
		    a->rcode == MAUTH_RC_REFUSED ||
		    a->rcode == MAUTH_RC_BADNAME);
	FUZZ_ASSERT(a->n == 0 || a->rcode == MAUTH_RC_NOERROR);
	for (i = 0; i < a->n; i++)
		FUZZ_ASSERT(a->rr[i].data[a->rr[i].len] == '\0');
	FUZZ_ASSERT(a->ncnames <= CNAME_CHAIN_MAX);
	for (i = 0; i < a->ncnames; i++)
		FUZZ_ASSERT(strlen(a->cnames[i]) < NAME_TEXT_MAX);
}

static void check_iprev(mauth_resolver *r, const char *ip)
{
	mauth_opts *o = mauth_opts_new();
	const mauth_value *res, *word;
	mauth_check *c;
	char err[128];

	mauth_opts_str(o, "ip", ip);
	FUZZ_ASSERT(mauth_check_new(&c, "iprev", mauth_opts_tree(o), err, sizeof err) == 0);
	mauth_opts_free(o);
	FUZZ_ASSERT(mauth_check_run(c, r, 0) == MAUTH_DONE);
	res = mauth_check_result(c);
	word = mauth_value_get(res, "result");
	FUZZ_ASSERT(word != NULL && word->kind == MAUTH_V_STR);
	mauth_check_free(c);
}

/* Splits "TYPE name" lines into questions; names point into buf. */
static size_t parse_questions(char *buf, mauth_question *qv)
{
	size_t n = 0;
	char *line = buf, *next, *sp;

	for (; line != NULL && *line != '\0' && n < MAX_QUESTIONS; line = next) {
		int type;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		type = qtype_from_name(line);
		if (type < 0)
			type = atoi(line) & 0xffff;
		qv[n].id = (unsigned)n + 1;
		qv[n].type = type;
		qv[n].name = sp + 1;
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *texts[MAX_ZONES];
	size_t lens[MAX_ZONES], nz = 0, zlen, nq = 0, i, j;
	mauth_question qv[MAX_QUESTIONS];
	const mauth_answer *av[MAX_QUESTIONS];
	const char *z = (const char *)data, *nul, *sep;
	mauth_resolver *r = NULL;
	char err[256], *qbuf = NULL;

	if (size > 65536)
		return 0;
	nul = memchr(z, '\0', size);
	zlen = nul != NULL ? (size_t)(nul - z) : size;
	while (nz < MAX_ZONES) {
		sep = memchr(z, '\1', zlen);
		texts[nz] = z;
		lens[nz] = sep != NULL && nz + 1 < MAX_ZONES ?
			   (size_t)(sep - z) : zlen;
		zlen -= lens[nz];
		z += lens[nz];
		nz++;
		if (zlen == 0)
			break;
		z++;		/* the separator */
		zlen--;
	}
	if (mauth_resolver_new_zone(&r, texts, lens, nz, err, sizeof err) != 0) {
		FUZZ_ASSERT(r == NULL);
		return 0;
	}
	if (nul != NULL) {
		size_t qlen = size - (size_t)(nul - (const char *)data) - 1;

		qbuf = malloc(qlen + 1);
		if (qbuf == NULL)
			goto out;
		memcpy(qbuf, nul + 1, qlen);
		qbuf[qlen] = '\0';
		nq = parse_questions(qbuf, qv);
	}
	if (nq == 0)
		for (i = 0; i < sizeof default_names / sizeof *default_names; i++)
			for (j = 0; j < sizeof default_types / sizeof *default_types &&
			     nq < MAX_QUESTIONS; j++) {
				qv[nq].id = (unsigned)nq + 1;
				qv[nq].type = default_types[(i + j) %
					(sizeof default_types / sizeof *default_types)];
				qv[nq].name = default_names[i];
				nq++;
				j += 3;	/* two or three types per name */
			}
	FUZZ_ASSERT(mauth_resolver_query(r, qv, nq, av) == 0);
	for (i = 0; i < nq; i++)
		check_answer(av[i]);
	check_iprev(r, "192.0.2.1");
	check_iprev(r, "2001:db8::1");
out:
	free(qbuf);
	mauth_resolver_free(r);
	return 0;
}
