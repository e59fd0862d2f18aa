/*
 * authres_capi.c - a C host of the header writers (mailauth.h:
 * mauth_authres_format, mauth_received_spf_format), built and run by
 * spec/authres_capi_spec.lua, which compares what it prints with what the
 * Lua binding writes for the same input.
 *
 *   authres_capi parse      each stdin line: an Authentication-Results
 *                           value, parsed (kind authres_parse) and written
 *                           back unfolded: one line out per line in
 *   authres_capi spf        RFC 7208 §9.1's example, checked over a zone:
 *                           the result's received_spf, the same written by
 *                           mauth_received_spf_format, and its A-R field
 *   authres_capi bounds N   N DKIM results built by hand, the one at N/2
 *                           a pass: the field, then a 10-byte cut of it
 *   authres_capi misuse     the errors: a method that is no keyword, no
 *                           authserv-id
 * Every field is printed on its own line with CR LF shown as "\r\n".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailauth.h"

static void show(const char *s)
{
	for (; *s; s++) {
		if (*s == '\r')
			fputs("\\r", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('\n');
}

/* Writes the field of n results into a buffer of its size; prints it. */
static int print_authres(const mauth_value *const *rv, size_t n,
			 const mauth_authres_opts *o)
{
	char err[200];
	long len = mauth_authres_format(rv, n, o, NULL, 0, err, sizeof err);
	char *buf;

	if (len < 0) {
		printf("error %ld: %s\n", len, err);
		return 1;
	}
	buf = malloc((size_t)len + 1);
	if (buf == NULL ||
	    mauth_authres_format(rv, n, o, buf, (size_t)len + 1, err,
				 sizeof err) != len) {
		free(buf);
		return 1;
	}
	show(buf);
	free(buf);
	return 0;
}

static int run_parse(void)
{
	char line[70000];

	while (fgets(line, sizeof line, stdin) != NULL) {
		mauth_opts *p = mauth_opts_new();
		mauth_check *c;
		const mauth_value *r, *id, *ver, *inst;
		mauth_authres_opts o;
		char err[200];

		line[strcspn(line, "\n")] = '\0';
		mauth_opts_ref(p, "text", line, strlen(line));
		mauth_opts_bool(p, "lenient", 0);
		if (mauth_opts_tree(p) == NULL ||
		    mauth_check_new(&c, "authres_parse", mauth_opts_tree(p), err,
				    sizeof err) < 0 ||
		    mauth_check_step(c) != MAUTH_DONE)
			return 1;
		mauth_opts_free(p);
		r = mauth_check_result(c);
		id = mauth_value_get(r, "authserv_id");
		ver = mauth_value_get(r, "version");
		inst = mauth_value_get(r, "instance");
		memset(&o, 0, sizeof o);
		o.no_fold = 1;
		o.authserv_id = id != NULL ? id->str : NULL;
		o.version = ver != NULL ? ver->num : 0;
		o.instance = inst != NULL ? inst->num : 0;
		if (id == NULL)
			puts("invalid");
		else if (print_authres(&r, 1, &o) != 0)
			return 1;
		mauth_check_free(c);
	}
	return 0;
}

static int run_spf(void)
{
	/* RFC 7208 §9.1's example: myname@example.com from 192.0.2.1 */
	static const char zone[] =
		"example.com. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n";
	const char *texts[1] = { zone };
	size_t lens[1] = { sizeof zone - 1 };
	mauth_opts *p = mauth_opts_new();
	mauth_resolver *res;
	mauth_check *c;
	const mauth_value *r, *rs;
	mauth_authres_opts o;
	char err[200], buf[1024];

	mauth_opts_str(p, "ip", "192.0.2.1");
	mauth_opts_str(p, "sender", "myname@example.com");
	mauth_opts_str(p, "helo", "foo.example.com");
	mauth_opts_str(p, "receiver", "mybox.example.org");
	if (mauth_opts_tree(p) == NULL ||
	    mauth_resolver_new_zone(&res, texts, lens, 1, err, sizeof err) < 0 ||
	    mauth_check_new(&c, "spf", mauth_opts_tree(p), err, sizeof err) < 0 ||
	    mauth_check_run(c, res, 0) != MAUTH_DONE)
		return 1;
	r = mauth_check_result(c);
	rs = mauth_value_get(r, "received_spf");
	if (rs == NULL)
		return 1;
	show(rs->str);
	if (mauth_received_spf_format(r, "mybox.example.org", buf, sizeof buf) < 0)
		return 1;
	show(buf);
	memset(&o, 0, sizeof o);
	o.authserv_id = "mybox.example.org";
	if (print_authres(&r, 1, &o) != 0)
		return 1;
	mauth_check_free(c);
	mauth_resolver_free(res);
	mauth_opts_free(p);
	return 0;
}

/* A map member; the caller links them. */
static mauth_value *node(mauth_value *v, mauth_vkind kind, const char *key,
			 const char *str)
{
	memset(v, 0, sizeof *v);
	v->kind = kind;
	v->key = key;
	v->str = str;
	v->len = str != NULL ? strlen(str) : 0;
	return v;
}

/* One DKIM signature result: method, result, problem, header.d. */
typedef struct {
	mauth_value map, method, result, problem, props, prop, ptype,
		    property, value;
	char domain[32];
} dkim_result;

static void build_dkim(dkim_result *d, size_t i, int pass)
{
	snprintf(d->domain, sizeof d->domain, "d%zu.example", i + 1);
	node(&d->map, MAUTH_V_MAP, NULL, NULL)->child = &d->method;
	node(&d->method, MAUTH_V_STR, "method", "dkim")->next = &d->result;
	node(&d->result, MAUTH_V_STR, "result", pass ? "pass" : "fail")->next =
		&d->problem;
	node(&d->problem, MAUTH_V_STR, "problem", "signature did not verify")
		->next = &d->props;
	node(&d->props, MAUTH_V_LIST, "properties", NULL)->child = &d->prop;
	node(&d->prop, MAUTH_V_MAP, NULL, NULL)->child = &d->ptype;
	node(&d->ptype, MAUTH_V_STR, "ptype", "header")->next = &d->property;
	node(&d->property, MAUTH_V_STR, "property", "d")->next = &d->value;
	node(&d->value, MAUTH_V_STR, "value", d->domain);
}

static int run_bounds(size_t n)
{
	dkim_result *d = calloc(n, sizeof *d);
	const mauth_value **rv = calloc(n, sizeof *rv);
	mauth_authres_opts o;
	char cut[10];
	long len;
	size_t i;
	int rc = 1;

	if (d == NULL || rv == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		build_dkim(&d[i], i, i == n / 2);
		rv[i] = &d[i].map;
	}
	memset(&o, 0, sizeof o);
	o.authserv_id = "mx.example";
	if (print_authres(rv, n, &o) != 0)
		goto done;
	/* a buffer too small: the length of the whole field, a cut text */
	len = mauth_authres_format(rv, n, &o, cut, sizeof cut, NULL, 0);
	printf("%ld %s\n", len, cut);
	rc = 0;
done:
	free(d);
	free(rv);
	return rc;
}

static int run_misuse(void)
{
	mauth_value map, method, result;
	const mauth_value *rv[1] = { &map };
	mauth_authres_opts o;
	char err[200], buf[256];
	long rc;

	node(&map, MAUTH_V_MAP, NULL, NULL)->child = &method;
	node(&method, MAUTH_V_STR, "method", "a b")->next = &result;
	node(&result, MAUTH_V_STR, "result", "pass");
	memset(&o, 0, sizeof o);
	o.authserv_id = "mx.example";
	rc = mauth_authres_format(rv, 1, &o, buf, sizeof buf, err, sizeof err);
	printf("%ld %s\n", rc, err);
	o.authserv_id = NULL;
	rc = mauth_authres_format(rv, 1, &o, buf, sizeof buf, err, sizeof err);
	printf("%ld %s\n", rc, err);
	rc = mauth_received_spf_format(NULL, NULL, buf, sizeof buf);
	printf("%ld\n", rc);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc >= 2 && strcmp(argv[1], "parse") == 0)
		rc = run_parse();
	else if (argc >= 2 && strcmp(argv[1], "spf") == 0)
		rc = run_spf();
	else if (argc >= 3 && strcmp(argv[1], "bounds") == 0)
		rc = run_bounds((size_t)atoi(argv[2]));
	else if (argc >= 2 && strcmp(argv[1], "misuse") == 0)
		rc = run_misuse();
	mauth_caches_clear();
	return rc;
}
