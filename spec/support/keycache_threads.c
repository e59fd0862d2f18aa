/*
 * keycache_threads.c - DKIM verification from several threads at once
 * while another thread keeps emptying the process-wide key cache
 * (mauth_caches_clear).  Every result must equal the expected one.
 * Run by spec/dkim_keycache_threads_spec.lua, which writes the inputs.
 *
 * usage: keycache_threads DIR THREADS PASSES
 *        keycache_threads slots TYPE < texts   (TYPE 1 rsa, 2 ed25519)
 *   DIR/zone.txt    master-file text with the key records
 *   DIR/cases.txt   "<message file>\t<expected result>" lines
 * Each worker has its own zone resolver and verifies every case PASSES
 * times, in its own order (so threads meet on different slots).  Prints
 * "ok <verifications> <clears>" and exits 0, or describes the first wrong
 * result on stderr and exits 1 (2: bad usage or input).
 *
 * "slots" prints, for each p= text read (one a line), the cache slot
 * src/crypto.c gives it (crypto_keycache_slot): the spec uses it to
 * publish texts of different keys that compete for the same slot.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include "mailauth.h"
#include "crypto.h"

#define MAX_CASES 4096
#define MAX_THREADS 16

typedef struct {
	char *msg;
	size_t len;
	char expected[32];
	char name[128];
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
	long verified;
	long wrong;
	char first_wrong[256];
} worker;

static void fail_input(const char *what, const char *detail)
{
	fprintf(stderr, "keycache_threads: %s: %s\n", what, detail);
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
	list = slurp(path, &len);
	for (line = strtok_r(list, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		test_case *c = &cases[ncases];

		if (tab == NULL || ncases == MAX_CASES)
			fail_input("bad cases.txt line", line);
		*tab = '\0';
		snprintf(c->name, sizeof c->name, "%s", line);
		snprintf(c->expected, sizeof c->expected, "%s", tab + 1);
		snprintf(path, sizeof path, "%s/%s", dir, line);
		c->msg = slurp(path, &c->len);
		ncases++;
	}
	free(list);
	if (ncases == 0)
		fail_input("no cases in", dir);
}

/* The first signature's result into out. */
static int verify(mauth_resolver *res, const test_case *tc, char *out,
		  size_t outlen)
{
	static const char now[] = "1700000000";
	mauth_param pv[4] = {
		{ "message", tc->msg, tc->len },
		{ "now", now, sizeof now - 1 },
		{ "allow_sha1", "1", 1 },	/* the Mail::DKIM rsa-sha1 cases */
		{ "legacy_versions", "1", 1 },	/* their signatures have no v= */
	};
	mauth_check *c;
	const mauth_value *r, *sigs, *v = NULL;
	char err[256];

	if (mauth_check_new(&c, "dkim_verify", pv, 4, err, sizeof err) != 0) {
		snprintf(out, outlen, "check_new: %s", err);
		return -1;
	}
	if (mauth_check_run(c, res, 0) < 0) {
		mauth_check_free(c);
		snprintf(out, outlen, "check_run failed");
		return -1;
	}
	r = mauth_check_result(c);
	sigs = r != NULL ? mauth_value_get(r, "signatures") : NULL;
	if (sigs != NULL && sigs->child != NULL)
		v = mauth_value_get(sigs->child, "result");
	snprintf(out, outlen, "%.*s", v != NULL ? (int)v->len : 4,
		 v != NULL ? v->str : "none");
	mauth_check_free(c);
	return 0;
}

static void *work(void *arg)
{
	worker *w = arg;
	mauth_resolver *res;
	char err[256], got[300];
	/* a stride coprime with the case count: each thread its own order */
	size_t stride = 1 + 2 * (size_t)w->id, i;
	long p;

	if (mauth_resolver_new_zone(&res, &zone_text, &zone_len, 1, err,
				    sizeof err) != 0)
		fail_input("zone", err);
	while (ncases % stride == 0)
		stride += 2;
	for (p = 0; p < passes; p++) {
		for (i = 0; i < ncases; i++) {
			const test_case *tc = &cases[(i * stride + (size_t)w->id * 7 +
						      (size_t)p) % ncases];

			verify(res, tc, got, sizeof got);
			w->verified++;
			if (strcmp(got, tc->expected) != 0 && w->wrong++ == 0)
				snprintf(w->first_wrong, sizeof w->first_wrong,
					 "%s: expected %s, got %.150s", tc->name,
					 tc->expected, got);
		}
	}
	mauth_resolver_free(res);
	pthread_mutex_lock(&done_lock);
	workers_done++;
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

static int print_slots(int type)
{
	char line[4096];

	while (fgets(line, sizeof line, stdin) != NULL) {
		size_t n = strcspn(line, "\n");

		printf("%u\n", crypto_keycache_slot(type, line, n));
	}
	return 0;
}

int main(int argc, char **argv)
{
	worker w[MAX_THREADS];
	int nthreads, i, done = 0;
	long clears = 0, verified = 0, wrong = 0;
	char path[4096];

	if (argc == 3 && strcmp(argv[1], "slots") == 0)
		return print_slots(atoi(argv[2]));
	if (argc != 4)
		fail_input("usage", "keycache_threads DIR THREADS PASSES");
	nthreads = atoi(argv[2]);
	passes = atol(argv[3]);
	if (nthreads < 1 || nthreads > MAX_THREADS || passes < 1)
		fail_input("bad THREADS or PASSES", argv[2]);
	snprintf(path, sizeof path, "%s/zone.txt", argv[1]);
	zone_text = slurp(path, &zone_len);
	read_cases(argv[1]);
	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
			fail_input("pthread_create", "worker");
	}
	/* This thread is the one that keeps clearing the cache. */
	while (!done) {
		mauth_caches_clear();
		clears++;
		sched_yield();
		pthread_mutex_lock(&done_lock);
		done = workers_done == nthreads;
		pthread_mutex_unlock(&done_lock);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		verified += w[i].verified;
		wrong += w[i].wrong;
		if (w[i].wrong > 0)
			fprintf(stderr, "thread %d: %ld wrong of %ld; first: %s\n",
				i, w[i].wrong, w[i].verified, w[i].first_wrong);
	}
	mauth_caches_clear();
	if (wrong > 0)
		return 1;
	printf("ok %ld %ld\n", verified, clears);
	return 0;
}
