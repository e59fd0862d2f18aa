/*
 * spfcache_threads.c - SPF checks from several threads at once while the
 * main thread keeps emptying the process-wide cache of parsed records
 * (mauth_caches_clear).  Every result must equal the one found before the
 * threads started.  Run by spec/spf_cache_spec.lua, which writes the inputs.
 *
 * usage: spfcache_threads DIR THREADS PASSES
 *   DIR/zone.txt    master-file text with the SPF (and A, MX, exp) records
 *   DIR/cases.txt   "<ip>\t<sender>\t<expected>" lines, where expected is
 *                   "<result>|<mechanism>|<explanation>" (empty when absent)
 * First, in this thread, each case is checked once with the cache emptied
 * just before: that is the reference, and it must equal the expected text
 * the spec derived from the data (exit 3 otherwise).  Then each worker,
 * with its own zone resolver, checks every case PASSES times in its own
 * order, while this thread empties the cache every 0.1 ms (a pause, so
 * entries live long enough to be hit).  Prints "ok <checks> <clears>" and
 * exits 0, or describes the first wrong result on stderr and exits 1
 * (2: bad usage or input).
 */
#define STRESS_NAME "spfcache_threads"
#include "stress.h"

#define MAX_CASES 8192

typedef struct {
	const char *ip, *sender, *expected;
	char *reference;	/* the single-threaded result */
	char label[300];
} test_case;

static test_case cases[MAX_CASES];
static size_t ncases;

/* One "ip<TAB>sender<TAB>expected" line of cases.txt; the case points into it. */
static void read_case(const char *dir, char *line)
{
	char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	test_case *c = &cases[ncases];

	(void)dir;
	if (t2 == NULL || ncases == MAX_CASES)
		fail_input("bad cases.txt line", line);
	*t1 = *t2 = '\0';
	c->ip = line;
	c->sender = t1 + 1;
	c->expected = t2 + 1;
	ncases++;
}

static void field(const mauth_value *r, const char *key, char **p, char *end)
{
	const mauth_value *v = r != NULL ? mauth_value_get(r, key) : NULL;
	size_t n = 0;

	if (v != NULL && v->kind == MAUTH_V_STR) {
		n = v->len < (size_t)(end - *p) - 2 ? v->len : (size_t)(end - *p) - 2;
		memcpy(*p, v->str, n);
	}
	*p += n;	/* room is left for the separator and the NUL */
}

/* "<result>|<mechanism>|<explanation>" of one check into out. */
static void check(mauth_resolver *res, const test_case *tc, char *out)
{
	mauth_opts *o = mauth_opts_new();
	mauth_check *c;
	const mauth_value *r;
	char err[256] = "out of memory", *p = out, *end = out + STRESS_SUMMARY;
	int rc;

	mauth_opts_str(o, "ip", tc->ip);
	mauth_opts_str(o, "sender", tc->sender);
	mauth_opts_str(o, "helo", "helo.example");
	mauth_opts_str(o, "default_explanation", "DEFAULT");
	rc = mauth_opts_tree(o) != NULL ?
	     mauth_check_new(&c, "spf", mauth_opts_tree(o), err, sizeof err) : -1;
	mauth_opts_free(o);
	if (rc != 0) {
		snprintf(out, STRESS_SUMMARY, "check_new: %s", err);
		return;
	}
	if (mauth_check_run(c, res, 0) < 0) {
		mauth_check_free(c);
		snprintf(out, STRESS_SUMMARY, "check_run failed");
		return;
	}
	r = mauth_check_result(c);
	field(r, "result", &p, end);
	*p++ = '|';
	field(r, "mechanism", &p, end);
	*p++ = '|';
	field(r, "explanation", &p, end);
	*p = '\0';
	mauth_check_free(c);
}

static void stress_check(mauth_resolver *res, size_t k, char *got, size_t cap)
{
	(void)cap;	/* STRESS_SUMMARY, as check() writes */
	check(res, &cases[k], got);
}

static const char *stress_want(size_t k)
{
	return cases[k].reference;
}

static const char *stress_label(size_t k)
{
	return cases[k].label;
}

int main(int argc, char **argv)
{
	mauth_resolver *res;
	size_t k;

	if (argc != 4)
		fail_input("usage", "spfcache_threads DIR THREADS PASSES");
	stress_read_zone(argv[1]);
	(void)stress_read_cases(argv[1], read_case);	/* kept: the cases point into it */
	/* the reference results: one thread, nothing cached before a check */
	res = stress_resolver();
	for (k = 0; k < ncases; k++) {
		char got[STRESS_SUMMARY];

		mauth_caches_clear();
		check(res, &cases[k], got);
		snprintf(cases[k].label, sizeof cases[k].label, "%s %s",
			 cases[k].ip, cases[k].sender);
		cases[k].reference = strdup(got);
		if (cases[k].reference == NULL)
			fail_input("out of memory", "reference");
		if (strcmp(cases[k].reference, cases[k].expected) != 0) {
			fprintf(stderr, "reference %s: expected %s, got %s\n",
				cases[k].label, cases[k].expected,
				cases[k].reference);
			return 3;
		}
	}
	mauth_resolver_free(res);
	/* clears 0.1 ms apart: entries live long enough to be hit */
	return stress_main(argv[1], argv[2], argv[3], ncases, 100000);
}
