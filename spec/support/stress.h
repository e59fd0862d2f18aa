/*
 * stress.h - what the cache stress programs share (keycache_threads.c,
 * spfcache_threads.c): reading their inputs, and running worker threads
 * over the cases, each thread in its own order and with its own zone
 * resolver, while the main thread keeps emptying the process-wide caches
 * (mauth_caches_clear).  A program defines STRESS_NAME and then:
 *   stress_check(res, k, got, cap): runs case k, writes the result summary
 *   stress_want(k): the summary case k must give
 *   stress_label(k): how to name case k in a message
 */
#if !defined(MAUTH_STRESS_H)
#define MAUTH_STRESS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mailauth.h"

#define MAX_THREADS 16
#define STRESS_SUMMARY 4096

static void stress_check(mauth_resolver *res, size_t k, char *got, size_t cap);
static const char *stress_want(size_t k);
static const char *stress_label(size_t k);

static void fail_input(const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s: %s\n", STRESS_NAME, what, detail);
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

static const char *stress_zone;		/* DIR/zone.txt */
static size_t stress_zone_len;

static mauth_resolver *stress_resolver(void)
{
	mauth_resolver *res;
	char err[256];

	if (mauth_resolver_new_zone(&res, &stress_zone, &stress_zone_len, 1, err,
				    sizeof err) != 0)
		fail_input("zone", err);
	return res;
}

typedef struct {
	int id;
	pthread_t tid;
	size_t ncases;
	long passes, checked, wrong;
	char first_wrong[600];
} worker;

static int stress_workers_done;		/* under stress_lock */
static pthread_mutex_t stress_lock = PTHREAD_MUTEX_INITIALIZER;

static void *stress_work(void *arg)
{
	worker *w = arg;
	mauth_resolver *res = stress_resolver();
	char got[STRESS_SUMMARY];
	/* a stride coprime with the case count: each thread its own order */
	size_t stride = 1 + 2 * (size_t)w->id, i, n = w->ncases;
	long p;

	while (n % stride == 0)
		stride += 2;
	for (p = 0; p < w->passes; p++) {
		for (i = 0; i < n; i++) {
			size_t k = (i * stride + (size_t)w->id * 7 + (size_t)p) % n;

			stress_check(res, k, got, sizeof got);
			w->checked++;
			if (strcmp(got, stress_want(k)) != 0 && w->wrong++ == 0)
				snprintf(w->first_wrong, sizeof w->first_wrong,
					 "%.100s: expected %.200s, got %.200s",
					 stress_label(k), stress_want(k), got);
		}
	}
	mauth_resolver_free(res);
	pthread_mutex_lock(&stress_lock);
	stress_workers_done++;
	pthread_mutex_unlock(&stress_lock);
	return NULL;
}

/*
 * Reads DIR/zone.txt, runs THREADS workers PASSES times over ncases cases
 * while emptying the caches (pausing pause_ns between two, so entries
 * live long enough to be hit), and reports: "ok <checks> <clears>" and 0,
 * or the first wrong result of each thread on stderr and 1.
 */
static int stress_main(const char *dir, const char *threads, const char *passes,
		       size_t ncases, long pause_ns)
{
	worker w[MAX_THREADS];
	int nthreads = atoi(threads), i, done = 0;
	long np = atol(passes), clears = 0, checked = 0, wrong = 0;

	if (nthreads < 1 || nthreads > MAX_THREADS || np < 1)
		fail_input("bad THREADS or PASSES", threads);
	mauth_caches_clear();
	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].id = i;
		w[i].ncases = ncases;
		w[i].passes = np;
		if (pthread_create(&w[i].tid, NULL, stress_work, &w[i]) != 0)
			fail_input("pthread_create", dir);
	}
	/* This thread is the one that keeps emptying the caches. */
	while (!done) {
		struct timespec pause = { 0, pause_ns };

		mauth_caches_clear();
		clears++;
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&stress_lock);
		done = stress_workers_done == nthreads;
		pthread_mutex_unlock(&stress_lock);
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

/* Reads DIR/zone.txt into the zone every worker's resolver serves. */
static void stress_read_zone(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/zone.txt", dir);
	stress_zone = slurp(path, &stress_zone_len);
}

/*
 * Calls read_line(dir, line) for every line of DIR/cases.txt, in order, and
 * returns the text (the caller frees it, or keeps it when its cases point
 * into it); no line at all is an input error.
 */
static char *stress_read_cases(const char *dir,
			      void (*read_line)(const char *dir, char *line))
{
	char path[4096], *list, *line, *save = NULL;
	size_t len, n = 0;

	snprintf(path, sizeof path, "%s/cases.txt", dir);
	list = slurp(path, &len);
	for (line = strtok_r(list, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), n++)
		read_line(dir, line);
	if (n == 0)
		fail_input("no cases in", dir);
	return list;
}

#endif
