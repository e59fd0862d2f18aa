/*
 * check.c - verify the DKIM signatures of a message through the C API of
 * libmailauth, as a milter or policy daemon would: read the message once,
 * make a dkim_verify check of it, run it over the ldns resolver, read the
 * result tree.
 *
 *	cc -o check check.c $(pkg-config --cflags --libs mailauth)
 *	./check -n 127.0.0.1@5353 message.eml
 *
 *   -n NS     ask this nameserver (127.0.0.1, ::1@5353; repeatable);
 *             without one, those of /etc/resolv.conf
 *   -z FILE   answer offline from a zone file instead (repeatable)
 *   -t NOW    the clock for signature times (seconds since the epoch)
 *
 * Prints one line per signature, "dkim=RESULT d=DOMAIN s=SELECTOR
 * [problem]", and exits 0 when one signature passes, 1 when none does,
 * 2 on a usage error, 3 when a key lookup failed for now (temperror).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mailauth.h>

#define MAX_SOURCES 8

/* The whole file (or stdin for "-") in a malloc'd buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (n + 1 >= cap) {	/* room for the NUL too */
			char *bigger = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (bigger == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (f != stdin)
		fclose(f);
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* A string field of a result map, or a default. */
static const char *field(const mauth_value *map, const char *key, const char *def)
{
	const mauth_value *v = mauth_value_get(map, key);
	return v != NULL && v->kind == MAUTH_V_STR ? v->str : def;
}

/* The resolver: the zone files when given, else ldns over nameservers. */
static mauth_resolver *resolver(const char **ns, size_t n_ns, const char **zones,
				size_t n_zones, char *err, size_t errlen)
{
	mauth_resolver *r = NULL;

	if (n_zones > 0) {
		char *texts[MAX_SOURCES];
		size_t lens[MAX_SOURCES], i;
		int rc;

		for (i = 0; i < n_zones; i++) {
			texts[i] = slurp(zones[i], &lens[i]);
			if (texts[i] == NULL) {
				snprintf(err, errlen, "cannot read zone file %s", zones[i]);
				while (i-- > 0)
					free(texts[i]);
				return NULL;
			}
		}
		rc = mauth_resolver_new_zone(&r, (const char *const *)texts, lens,
					     n_zones, err, errlen);
		for (i = 0; i < n_zones; i++)
			free(texts[i]);
		return rc == MAUTH_DONE ? r : NULL;
	} else {
		mauth_resolver_opts o;

		memset(&o, 0, sizeof o);
		o.nameservers = n_ns > 0 ? ns : NULL;
		o.n_nameservers = n_ns;
		o.retries = -1;
		return mauth_resolver_new(&r, &o, err, errlen) == MAUTH_DONE ? r : NULL;
	}
}

/* Prints each signature; returns the exit code. */
static int report(const mauth_value *result)
{
	const mauth_value *sigs = mauth_value_get(result, "signatures");
	const mauth_value *s;
	int pass = 0, temp = 0, n = 0;

	for (s = sigs != NULL ? sigs->child : NULL; s != NULL; s = s->next, n++) {
		const char *res = field(s, "result", "?");
		const char *problem = field(s, "problem", NULL);

		printf("dkim=%s d=%s s=%s%s%s\n", res, field(s, "domain", "-"),
		       field(s, "selector", "-"), problem ? " " : "", problem ? problem : "");
		pass |= strcmp(res, "pass") == 0;
		temp |= strcmp(res, "temperror") == 0;
	}
	if (n == 0)
		printf("dkim=none (no signature)\n");
	return pass ? 0 : temp ? 3 : 1;
}

int main(int argc, char **argv)
{
	const char *ns[MAX_SOURCES], *zones[MAX_SOURCES];
	size_t n_ns = 0, n_zones = 0, len = 0;
	long long now = 0;
	char err[256] = "";
	mauth_resolver *r;
	mauth_message *msg = NULL;
	mauth_check *c = NULL;
	mauth_opts *o;
	char *text;
	int opt, rc;

	while ((opt = getopt(argc, argv, "n:z:t:")) != -1) {
		if (opt == 'n' && n_ns < MAX_SOURCES)
			ns[n_ns++] = optarg;
		else if (opt == 'z' && n_zones < MAX_SOURCES)
			zones[n_zones++] = optarg;
		else if (opt == 't')
			now = strtoll(optarg, NULL, 10);
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	text = slurp(argv[optind], &len);
	if (text == NULL) {
		fprintf(stderr, "check: cannot read %s\n", argv[optind]);
		return 2;
	}
	r = resolver(ns, n_ns, zones, n_zones, err, sizeof err);
	if (r == NULL) {
		fprintf(stderr, "check: %s\n", err);
		free(text);
		return 2;
	}
	/* The message is read once; more checks could be made of msg. */
	rc = mauth_message_parse(&msg, text, len);
	free(text);
	o = mauth_opts_new();
	if (rc == MAUTH_DONE && o != NULL && now > 0)
		rc = mauth_opts_int(o, "now", now);
	if (rc == MAUTH_DONE && o != NULL)
		rc = mauth_check_new_message(&c, "dkim_verify", msg,
					     mauth_opts_tree(o), err, sizeof err);
	mauth_opts_free(o);
	mauth_message_free(msg);	/* the check keeps what it needs */
	if (rc == MAUTH_DONE)
		/* blocking, bounded by 20 s as RFC 7208 §4.6.4 bounds SPF */
		rc = mauth_check_run(c, r, mauth_clock_ms() + 20000);
	if (rc != MAUTH_DONE) {
		fprintf(stderr, "check: %s\n", err[0] ? err : "out of memory");
		mauth_check_free(c);
		mauth_resolver_free(r);
		return 2;
	}
	rc = report(mauth_check_result(c));
	mauth_check_free(c);
	mauth_resolver_free(r);
	mauth_caches_clear();
	return rc;
usage:
	fprintf(stderr, "usage: check [-n NAMESERVER]... [-z ZONEFILE]... [-t NOW] MESSAGE\n");
	return 2;
}
