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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mailauth.h"

#define MAX_CASES 8192
#define MAX_THREADS 16
#define SUMMARY 4096	/* the spec keeps results far shorter */

typedef struct {
	const char *ip, *sender, *expected;
	char *reference;	/* the single-threaded result */
} test_case;

static test_case cases[MAX_CASES];
static size_t ncases;
static const char *zone_text;
static size_t zone_len;
static long passes;

static int workers_done;		/* under done_lock */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
	int id;
	pthread_t tid;
	long checked;
	long wrong;
	char first_wrong[600];
} worker;

static void fail_input(const char *what, const char *detail)
{
	fprintf(stderr, "spfcache_threads: %s: %s\n", what, detail);
	exit(2);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n = 0;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		fail_input("cannot read", path);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_input("cannot read", path);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void read_cases(const char *dir)
{
	char path[4096], *list, *line, *save = NULL;
	size_t len;

	snprintf(path, sizeof path, "%s/cases.txt", dir);
	list = slurp(path, &len);	/* kept: the cases point into it */
	for (line = strtok_r(list, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		test_case *c = &cases[ncases];

		if (t2 == NULL || ncases == MAX_CASES)
			fail_input("bad cases.txt line", line);
		*t1 = *t2 = '\0';
		c->ip = line;
		c->sender = t1 + 1;
		c->expected = t2 + 1;
		ncases++;
	}
	if (ncases == 0)
		fail_input("no cases in", dir);
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
	mauth_param pv[4] = {
		{ "ip", tc->ip, strlen(tc->ip) },
		{ "sender", tc->sender, strlen(tc->sender) },
		{ "helo", "helo.example", 12 },
		{ "default_explanation", "DEFAULT", 7 },
	};
	mauth_check *c;
	const mauth_value *r;
	char err[256], *p = out, *end = out + SUMMARY;

	if (mauth_check_new(&c, "spf", pv, 4, err, sizeof err) != 0) {
		snprintf(out, SUMMARY, "check_new: %s", err);
		return;
	}
	if (mauth_check_run(c, res, 0) < 0) {
		mauth_check_free(c);
		snprintf(out, SUMMARY, "check_run failed");
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

static mauth_resolver *new_resolver(void)
{
	mauth_resolver *res;
	char err[256];

	if (mauth_resolver_new_zone(&res, &zone_text, &zone_len, 1, err,
				    sizeof err) != 0)
		fail_input("zone", err);
	return res;
}

static void *work(void *arg)
{
	worker *w = arg;
	mauth_resolver *res = new_resolver();
	char got[SUMMARY];
	/* a stride coprime with the case count: each thread its own order */
	size_t stride = 1 + 2 * (size_t)w->id, i;
	long p;

	while (ncases % stride == 0)
		stride += 2;
	for (p = 0; p < passes; p++) {
		for (i = 0; i < ncases; i++) {
			const test_case *tc = &cases[(i * stride + (size_t)w->id * 11 +
						      (size_t)p) % ncases];

			check(res, tc, got);
			w->checked++;
			if (strcmp(got, tc->reference) != 0 && w->wrong++ == 0)
				snprintf(w->first_wrong, sizeof w->first_wrong,
					 "%s %s: expected %.250s, got %.250s", tc->ip,
					 tc->sender, tc->reference, got);
		}
	}
	mauth_resolver_free(res);
	pthread_mutex_lock(&done_lock);
	workers_done++;
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	worker w[MAX_THREADS];
	int nthreads, i, done = 0;
	long clears = 0, checked = 0, wrong = 0;
	char path[4096];
	mauth_resolver *res;
	size_t k;

	if (argc != 4)
		fail_input("usage", "spfcache_threads DIR THREADS PASSES");
	nthreads = atoi(argv[2]);
	passes = atol(argv[3]);
	if (nthreads < 1 || nthreads > MAX_THREADS || passes < 1)
		fail_input("bad THREADS or PASSES", argv[2]);
	snprintf(path, sizeof path, "%s/zone.txt", argv[1]);
	zone_text = slurp(path, &zone_len);
	read_cases(argv[1]);
	/* the reference results: one thread, nothing cached before a check */
	res = new_resolver();
	for (k = 0; k < ncases; k++) {
		char got[SUMMARY];

		mauth_caches_clear();
		check(res, &cases[k], got);
		cases[k].reference = strdup(got);
		if (cases[k].reference == NULL)
			fail_input("out of memory", "reference");
		if (strcmp(cases[k].reference, cases[k].expected) != 0) {
			fprintf(stderr, "reference %s %s: expected %s, got %s\n",
				cases[k].ip, cases[k].sender, cases[k].expected,
				cases[k].reference);
			return 3;
		}
	}
	mauth_resolver_free(res);
	mauth_caches_clear();
	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
			fail_input("pthread_create", "worker");
	}
	/* This thread is the one that keeps emptying the cache. */
	while (!done) {
		struct timespec pause = { 0, 100000 };	/* entries live a while: hits */

		mauth_caches_clear();
		clears++;
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&done_lock);
		done = workers_done == nthreads;
		pthread_mutex_unlock(&done_lock);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		checked += w[i].checked;
		wrong += w[i].wrong;
		if (w[i].wrong > 0)
			fprintf(stderr, "thread %d: %ld wrong of %ld; first: %s\n",
				i, w[i].wrong, w[i].checked, w[i].first_wrong);
	}
	mauth_caches_clear();
	if (wrong > 0)
		return 1;
	printf("ok %ld %ld\n", checked, clears);
	return 0;
}
