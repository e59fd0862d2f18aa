/*
 * options_capi.c - what a C host (a milter) does with the options API:
 * builds options with mauth_opts_*, runs dkim_verify over an offline zone,
 * hands the result's "signatures" list to dmarc as its dkim option as it
 * is, and prints what came out; then shows the validator's words for a
 * misspelt name and an out-of-range value.  Driven by spec/options_spec.lua.
 *
 *	options_capi ZONEFILE MESSAGE NOW
 * prints "dkim RESULT DOMAIN" per signature, "dmarc RESULT POLICY
 * DKIM_DOMAIN", then "error TEXT" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailauth.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (s = malloc((size_t)n + 1)) == NULL) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	*len = fread(s, 1, (size_t)n, f);
	s[*len] = '\0';
	fclose(f);
	return s;
}

static const char *field(const mauth_value *map, const char *key)
{
	const mauth_value *v = mauth_value_get(map, key);

	return v != NULL && v->kind == MAUTH_V_STR ? v->str : "-";
}

/* Runs kind with o over r to the end; the check, or NULL with err printed. */
static mauth_check *run(const char *kind, mauth_opts *o, mauth_resolver *r)
{
	mauth_check *c;
	char err[256] = "out of memory";

	if (mauth_opts_tree(o) == NULL ||
	    mauth_check_new(&c, kind, mauth_opts_tree(o), err, sizeof err) != 0) {
		printf("error %s\n", err);
		return NULL;
	}
	if (mauth_check_run(c, r, 0) != MAUTH_DONE) {
		printf("error %s did not finish\n", kind);
		mauth_check_free(c);
		return NULL;
	}
	return c;
}

int main(int argc, char **argv)
{
	size_t zlen, mlen;
	char *zone, *message, err[256];
	const char *zp;
	mauth_resolver *r;
	mauth_check *dkim, *dmarc;
	mauth_opts *o, *spf;
	const mauth_value *sigs, *s, *res;

	if (argc != 4 || (zone = slurp(argv[1], &zlen)) == NULL ||
	    (message = slurp(argv[2], &mlen)) == NULL) {
		fprintf(stderr, "usage: options_capi ZONEFILE MESSAGE NOW\n");
		return 2;
	}
	zp = zone;
	if (mauth_resolver_new_zone(&r, &zp, &zlen, 1, err, sizeof err) != 0) {
		fprintf(stderr, "zone: %s\n", err);
		return 1;
	}
	o = mauth_opts_new();
	mauth_opts_ref(o, "message", message, mlen);	/* borrowed, not copied */
	mauth_opts_int(o, "now", strtoll(argv[3], NULL, 10));
	dkim = run("dkim_verify", o, r);
	mauth_opts_free(o);
	if (dkim == NULL)
		return 1;
	sigs = mauth_value_get(mauth_check_result(dkim), "signatures");
	for (s = sigs != NULL ? sigs->child : NULL; s != NULL; s = s->next)
		printf("dkim %s %s\n", field(s, "result"), field(s, "domain"));

	/* DMARC: the DKIM results as dkim_verify gave them; SPF a map built here. */
	spf = mauth_opts_new();
	mauth_opts_str(spf, "result", "none");
	o = mauth_opts_new();
	mauth_opts_str(o, "from", "football.example.com");
	mauth_opts_add(o, "dkim", sigs);
	mauth_opts_add(o, "spf", mauth_opts_tree(spf));
	mauth_opts_int(o, "pct_roll", 0);
	mauth_opts_str(o, "org_domain", "tree");	/* no PSL file needed */
	dmarc = run("dmarc", o, r);
	mauth_opts_free(o);
	mauth_opts_free(spf);
	if (dmarc != NULL) {
		res = mauth_check_result(dmarc);
		printf("dmarc %s %s %s\n", field(res, "result"), field(res, "policy"),
		       field(res, "dkim_domain"));
		mauth_check_free(dmarc);
	}
	mauth_check_free(dkim);

	/* The validator's words: a misspelt name, a value out of range. */
	o = mauth_opts_new();
	mauth_opts_str(o, "from", "football.example.com");
	mauth_opts_str(o, "org_domian", "tree");
	if ((dmarc = run("dmarc", o, r)) != NULL) {
		printf("accepted org_domian\n");
		mauth_check_free(dmarc);
	}
	mauth_opts_free(o);
	o = mauth_opts_new();
	mauth_opts_str(o, "ip", "192.0.2.1");
	mauth_opts_int(o, "max_lookups", 0);
	if ((dmarc = run("spf", o, r)) != NULL) {
		printf("accepted max_lookups 0\n");
		mauth_check_free(dmarc);
	}
	mauth_opts_free(o);
	mauth_resolver_free(r);
	mauth_caches_clear();
	free(zone);
	free(message);
	return 0;
}
