/*
 * spf_capi.c - mailauth's SPF through its C API, without Lua: the same
 * offline zone (mauth_resolver_new_zone) and the same cases as the Lua
 * driver, so the difference between the two is the binding's overhead.
 * Links the core and driver objects of build/lua5.4/obj (not lmailauth.o).
 *
 * usage: spf_capi check|bench SECONDS ZONEFILE CASEFILE
 * Prints "UNAVAILABLE ..." when this build has no "spf" check kind yet.
 */
#include "mailauth.h"
#include "bench.h"

#define NOW 1764158400LL	/* fixed %{t}: 2025-11-26 12:00 UTC */

typedef struct {
	mauth_resolver *res;
	char **cases;
	size_t ncases;
	int print;
} ctx;

static long pass(void *p)
{
	ctx *x = p;
	size_t i;

	for (i = 0; i < x->ncases; i++) {
		mauth_opts *o = mauth_opts_new();
		mauth_check *c;
		const mauth_value *r, *res;
		char err[256] = "out of memory";
		int rc;

		/* options made per check, as a host makes them */
		mauth_opts_str(o, "ip", x->cases[i * 3]);
		mauth_opts_str(o, "sender", x->cases[i * 3 + 1]);
		mauth_opts_str(o, "helo", x->cases[i * 3 + 2]);
		mauth_opts_int(o, "now", NOW);
		rc = mauth_check_new(&c, "spf", mauth_opts_tree(o), err, sizeof err);
		mauth_opts_free(o);
		if (rc != 0)
			die("mauth_check_new", err);
		if (mauth_check_run(c, x->res, 0) < 0)
			die("mauth_check_run", x->cases[i * 3 + 1]);
		r = mauth_check_result(c);
		res = r != NULL ? mauth_value_get(r, "result") : NULL;
		if (x->print)
			printf("%.*s\n", res != NULL ? (int)res->len : 6,
			       res != NULL ? res->str : "(null)");
		mauth_check_free(c);
	}
	return (long)x->ncases;
}

int main(int argc, char **argv)
{
	const char *text;
	size_t len;
	char err[256];
	double seconds = 0;
	int bench = argc > 1 && strcmp(argv[1], "bench") == 0;
	ctx x;

	if (argc != (bench ? 5 : 4))
		die("usage", "spf_capi check|bench SECONDS ZONEFILE CASEFILE");
	if (!bench_has_kind("spf")) {
		printf("UNAVAILABLE no \"spf\" check kind in this build\n");
		return 0;
	}
	if (bench)
		seconds = atof(argv[2]);
	text = slurp(argv[bench ? 3 : 2], &len);
	if (mauth_resolver_new_zone(&x.res, &text, &len, 1, err, sizeof err) != 0)
		die("mauth_resolver_new_zone", err);
	x.ncases = split_tsv(slurp(argv[bench ? 4 : 3], NULL), 3, &x.cases);
	x.print = !bench;
	bench_or_check(bench, seconds, pass, &x);
	mauth_resolver_free(x.res);
	return 0;
}
