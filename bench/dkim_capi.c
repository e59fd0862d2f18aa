/*
 * dkim_capi.c - mailauth's DKIM verification through its C API, without
 * Lua: the same message and offline zone as the Lua driver, so the
 * difference is the binding's cost (for 1 MB, mostly copying the message).
 *
 * usage: dkim_capi check|bench SECONDS MESSAGE ZONEFILE
 * Prints "UNAVAILABLE ..." when this build has no "dkim_verify" check kind.
 */
#include <stdlib.h>
#include "mailauth.h"
#include "bench.h"

typedef struct {
	mauth_resolver *res;
	const char *msg;
	size_t len;
	char now[32];
	char result[64];
} ctx;

/* The first signature's result ("signatures" list of maps). */
static void verify(ctx *x)
{
	mauth_opts *o = mauth_opts_new();
	mauth_check *c;
	const mauth_value *r, *sigs, *res = NULL;
	char err[256] = "out of memory";
	int rc;

	mauth_opts_ref(o, "message", x->msg, x->len);
	mauth_opts_int(o, "now", strtoll(x->now, NULL, 10));
	rc = mauth_check_new(&c, "dkim_verify", mauth_opts_tree(o), err, sizeof err);
	mauth_opts_free(o);
	if (rc != 0)
		die("mauth_check_new", err);
	if (mauth_check_run(c, x->res, 0) < 0)
		die("mauth_check_run", "dkim_verify");
	r = mauth_check_result(c);
	sigs = r != NULL ? mauth_value_get(r, "signatures") : NULL;
	if (sigs != NULL && sigs->child != NULL)
		res = mauth_value_get(sigs->child, "result");
	snprintf(x->result, sizeof x->result, "%.*s",
		 res != NULL ? (int)res->len : 4, res != NULL ? res->str : "none");
	mauth_check_free(c);
}

static long pass(void *p)
{
	ctx *x = p;

	verify(x);
	if (strcmp(x->result, "pass") != 0)
		die("mailauth: verification failed", x->result);
	return 1;
}

int main(int argc, char **argv)
{
	int bench = argc > 1 && strcmp(argv[1], "bench") == 0;
	const char *text;
	size_t len;
	char err[256];
	ctx x;

	if (argc != (bench ? 5 : 4))
		die("usage", "dkim_capi check|bench SECONDS MESSAGE ZONEFILE");
	if (!bench_has_kind("dkim_verify")) {
		printf("UNAVAILABLE no \"dkim_verify\" check kind in this build\n");
		return 0;
	}
	x.msg = slurp(argv[bench ? 3 : 2], &x.len);
	text = slurp(argv[bench ? 4 : 3], &len);
	if (mauth_resolver_new_zone(&x.res, &text, &len, 1, err, sizeof err) != 0)
		die("mauth_resolver_new_zone", err);
	snprintf(x.now, sizeof x.now, "%lld", (long long)time(NULL));
	if (bench) {
		bench_run(atof(argv[2]), pass, &x);
	} else {
		verify(&x);
		printf("%s\n", x.result);
	}
	mauth_resolver_free(x.res);
	return 0;
}
