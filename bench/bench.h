/*
 * bench.h - what the C drivers of `make bench` share: reading the input
 * files and the timing loop.  Every driver has two modes, so run.sh can
 * first compare answers and then time them:
 *	check                one result a line, in case order
 *	bench SECONDS        "BENCH best r1 r2 r3": operations per CPU second,
 *	                     best of 3 rounds of >= SECONDS each, after a warm-up
 * CPU time (not wall time) because the machine is shared: another job
 * stealing the core stretches wall time but not our CPU time.
 */
#if !defined(BENCH_H)
#define BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void die(const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s\n", what, detail != NULL ? detail : "");
	exit(2);
}

/* The whole file, NUL-terminated (binary safe: *len is the size). */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, got;
	char *buf = malloc(cap + 1);

	if (f == NULL || buf == NULL)
		die("cannot read", path);
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				die("out of memory", path);
		}
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/*
 * Splits text in place into lines and each line into up to nf TAB fields.
 * Returns the number of lines; fields[i * nf + k] is field k of line i.
 */
static inline size_t split_tsv(char *text, size_t nf, char ***fields)
{
	size_t n = 0, cap = 64;
	char **v = malloc(cap * nf * sizeof *v);
	char *line = text;

	while (v != NULL && *line != '\0') {
		char *end = strchr(line, '\n'), *p = line;
		size_t k;

		if (end != NULL)
			*end = '\0';
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * nf * sizeof *v);
			if (v == NULL)
				break;
		}
		for (k = 0; k < nf; k++) {
			char *tab = k + 1 < nf ? strchr(p, '\t') : NULL;

			v[n * nf + k] = p;
			if (tab != NULL) {
				*tab = '\0';
				p = tab + 1;
			} else {
				p += strlen(p);
			}
		}
		n++;
		if (end == NULL)
			break;
		line = end + 1;
	}
	if (v == NULL)
		die("out of memory", "split_tsv");
	*fields = v;
	return n;
}

/* One pass over all inputs; returns how many operations it did. */
typedef long (*bench_pass)(void *ctx);

static inline void bench_run(double seconds, bench_pass pass, void *ctx)
{
	double best = 0, rounds[3];
	int r;

	pass(ctx);		/* warm-up: caches, lazy init, page faults */
	for (r = 0; r < 3; r++) {
		double start = cpu_now(), last = start, now, used;
		long n = 0, batch = 1, i;

		/* The CPU clock is a system call (~0.7 us): read it once per
		 * batch, the batch doubling until one lasts >= 5 ms, so it
		 * weighs nothing in the rate of a fast operation. */
		do {
			for (i = 0; i < batch; i++)
				n += pass(ctx);
			now = cpu_now();
			used = now - start;
			if (now - last < 0.005)
				batch *= 2;
			last = now;
		} while (used < seconds);
		rounds[r] = (double)n / used;
		if (rounds[r] > best)
			best = rounds[r];
	}
	printf("BENCH %.1f %.1f %.1f %.1f\n", best, rounds[0], rounds[1],
	       rounds[2]);
}

/*
 * The two modes of a driver whose pass prints its results when not timed:
 * bench times pass (best of 3 rounds), check runs it once.
 */
static inline void bench_or_check(int bench, double seconds, bench_pass pass,
				  void *ctx)
{
	if (bench)
		bench_run(seconds, pass, ctx);
	else
		pass(ctx);
}

#if defined(MAILAUTH_H)
/* Whether this build of mailauth has the check kind (a build may leave one out). */
static inline int bench_has_kind(const char *kind)
{
	const char *const *k;

	for (k = mauth_check_kinds(); *k != NULL; k++)
		if (strcmp(*k, kind) == 0)
			return 1;
	return 0;
}
#endif

#endif
