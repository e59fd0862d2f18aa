/*
 * dkim_opendkim_bench.c - the same verification through libopendkim
 * (Debian libopendkim-dev 2.11), keys from a file (DKIM_QUERY_FILE), so
 * neither side does DNS.  Feed it the message dkim_bench.c writes:
 *   gcc -O2 bench/dkim_opendkim_bench.c -I/usr/include/opendkim -lopendkim -o /tmp/od_bench
 *   /tmp/dkim_bench 4 relaxed/relaxed /tmp/m4.eml && /tmp/od_bench /tmp/m4.eml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <opendkim/dkim.h>

#define KEY_LINE "test._domainkey.football.example.com v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	FILE *f;
	unsigned char *msg;
	size_t len, i, n;
	DKIM_LIB *lib;
	int qm = DKIM_QUERY_FILE;
	const char *keyfile = "/tmp/od_bench_keys.txt";
	double t0, dt;

	if (argc < 2 || (f = fopen(argv[1], "rb")) == NULL)
		return 1;
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	msg = malloc(len);
	if (fread(msg, 1, len, f) != len)
		return 1;
	fclose(f);
	f = fopen(keyfile, "w");
	fputs(KEY_LINE, f);
	fclose(f);
	lib = dkim_init(NULL, NULL);
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm, sizeof qm);
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void *)keyfile, strlen(keyfile));
	n = len > 1048576 ? 20 : len > 65536 ? 2000 : 20000;
	t0 = now();
	for (i = 0; i < n; i++) {
		DKIM_STAT st;
		DKIM *d = dkim_verify(lib, (const unsigned char *)"bench", NULL, &st);

		dkim_chunk(d, msg, len);
		dkim_chunk(d, NULL, 0);
		st = dkim_eom(d, NULL);
		if (st != DKIM_STAT_OK) {
			fprintf(stderr, "opendkim: status %d (%s)\n", st, dkim_getresultstr(st));
			return 1;
		}
		dkim_free(d);
	}
	dt = (now() - t0) / n;
	printf("opendkim %zu KB message: %.1f us/verify (%.0f/s)\n", len / 1024, dt * 1e6, 1 / dt);
	dkim_close(lib);
	free(msg);
	return 0;
}
