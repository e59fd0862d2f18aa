/*
 * dkim_opendkim.c - OpenDKIM (libopendkim) verifying one signed message,
 * the key answered from a file (DKIM_QUERY_FILE through DKIM_OPTS_QUERYMETHOD
 * and DKIM_OPTS_QUERYINFO), so no DNS.  Note: that method opens and scans the
 * file on every verification, a small cost a DNS cache would not have.
 *
 * The message goes in as a milter would hand it: one dkim_header() per
 * field (folded lines kept, no final CRLF), dkim_eoh(), the body in 64 KB
 * dkim_body() chunks, dkim_eom().
 *
 * usage: dkim_opendkim check|bench SECONDS MESSAGE KEYFILE
 */
#include <stdbool.h>
#include <opendkim/dkim.h>
#include "bench.h"

#define CHUNK 65536

typedef struct {
	DKIM_LIB *lib;
	unsigned char *msg;
	size_t len;
	DKIM_STAT last;
} ctx;

static DKIM_STAT verify(ctx *x)
{
	DKIM_STAT st;
	DKIM *d = dkim_verify(x->lib, (const unsigned char *)"bench", NULL, &st);
	unsigned char *p = x->msg, *end = x->msg + x->len;

	if (d == NULL)
		return st;
	/* Header fields: a field ends at a CRLF not followed by WSP. */
	while (p < end && !(p + 1 < end && p[0] == '\r' && p[1] == '\n')) {
		unsigned char *f = p;

		while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n' &&
					(p + 2 >= end || (p[2] != ' ' && p[2] != '\t'))))
			p++;
		st = dkim_header(d, f, (size_t)(p - f));
		if (st != DKIM_STAT_OK)
			goto out;
		p += 2;
	}
	p += 2;			/* the empty line */
	st = dkim_eoh(d);
	if (st != DKIM_STAT_OK)
		goto out;
	while (p < end) {
		size_t n = (size_t)(end - p) < CHUNK ? (size_t)(end - p) : CHUNK;

		st = dkim_body(d, p, n);
		if (st != DKIM_STAT_OK)
			goto out;
		p += n;
	}
	st = dkim_eom(d, NULL);
out:
	dkim_free(d);
	return st;
}

static long pass(void *p)
{
	ctx *x = p;

	x->last = verify(x);
	if (x->last != DKIM_STAT_OK)
		die("opendkim: verification failed", dkim_getresultstr(x->last));
	return 1;
}

int main(int argc, char **argv)
{
	dkim_query_t method = DKIM_QUERY_FILE;
	int bench = argc > 1 && strcmp(argv[1], "bench") == 0;
	const char *keyfile;
	ctx x;

	if (argc != (bench ? 5 : 4))
		die("usage", "dkim_opendkim check|bench SECONDS MESSAGE KEYFILE");
	x.msg = (unsigned char *)slurp(argv[bench ? 3 : 2], &x.len);
	keyfile = argv[bench ? 4 : 3];
	x.lib = dkim_init(NULL, NULL);
	if (x.lib == NULL)
		die("opendkim", "dkim_init");
	if (dkim_options(x.lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method,
			 sizeof method) != DKIM_STAT_OK ||
	    dkim_options(x.lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO,
			 (void *)keyfile, strlen(keyfile)) != DKIM_STAT_OK)
		die("opendkim", "dkim_options");
	if (bench) {
		bench_run(atof(argv[2]), pass, &x);
	} else {
		x.last = verify(&x);
		printf("%s\n", x.last == DKIM_STAT_OK ? "pass" :
		       dkim_getresultstr(x.last));
	}
	dkim_close(x.lib);
	return 0;
}
