/*
 * check_capi.c - what mailauth.check does for one message, composed by a C
 * host through the C API: message_info (the From domains), iprev, SPF for
 * MAIL FROM and for HELO, dkim_verify and arc_verify, then DMARC from
 * their results (RFC 7489 §4.1: MAIL FROM's SPF, every DKIM signature).
 * Every DNS answer comes from the offline zone (mauth_resolver_new_zone)
 * of spec/fixtures/zones, the messages are the interop fixtures, as
 * check_mailauth.lua, so the two differ only by the Lua layer.  The
 * message is read once (mauth_message_parse), as mailauth.check does, and
 * the Authentication-Results field is written by the C writer.
 * Links the core and driver objects of build/lua5.4/obj (not lmailauth.o).
 *
 * usage: check_capi check|bench SECONDS ZONELIST MESSAGES NOW
 * ZONELIST: one zone file a line; MESSAGES: id, file, ip, helo, sender
 * (TAB-separated).  check: "id spf dkim dmarc" a line.
 */
#include "mailauth.h"
#include "bench.h"

typedef struct {
	char *id, *text, *ip, *helo, *sender;
	size_t len;
} message;

typedef struct {
	mauth_resolver *res;
	message *msgs;
	size_t nmsgs;
	long long now;
	int print;
} ctx;

static mauth_opts *opts_new(void)
{
	mauth_opts *o = mauth_opts_new();

	if (o == NULL)
		die("mauth_opts_new", "out of memory");
	return o;
}

/*
 * Creates a check from o (freed here; the check keeps what it needs),
 * on the message read once when msg is given, and runs it to its end.
 */
static mauth_check *run(ctx *x, const char *kind, const mauth_message *msg,
			mauth_opts *o)
{
	const mauth_value *t = mauth_opts_tree(o);
	mauth_check *c;
	char err[256];
	int rc;

	if (t == NULL)
		die(kind, "out of memory");
	rc = msg != NULL ? mauth_check_new_message(&c, kind, msg, t, err, sizeof err) :
			   mauth_check_new(&c, kind, t, err, sizeof err);
	if (rc != 0)
		die(kind, err);
	mauth_opts_free(o);
	if (mauth_check_run(c, x->res, 0) < 0)
		die("mauth_check_run", kind);
	return c;
}

static const char *text_of(const mauth_value *map, const char *key, size_t *len)
{
	const mauth_value *v = map != NULL ? mauth_value_get(map, key) : NULL;

	if (v == NULL || v->kind != MAUTH_V_STR) {
		*len = 4;
		return "none";
	}
	*len = v->len;
	return v->str;
}

/* A HELO name worth an SPF check: a domain, not an address literal. */
static int helo_domain(const char *h)
{
	return strchr(h, '.') != NULL && h[0] != '[' &&
	       strspn(h, "0123456789.") != strlen(h);
}

static void one(ctx *x, const message *m)
{
	mauth_check *info, *iprev, *spf, *helo = NULL, *dkim, *arc, *dmarc;
	const mauth_value *sr, *dr, *sig, *from, *results[7];
	mauth_message *parsed;
	mauth_authres_opts ao = { "mx.interop.example", 0, 0, 0, 0, 0 };
	mauth_opts *o, *so;
	char ar[8192];
	size_t l1, l2, l3, nr = 0;
	const char *s1, *s2, *s3;

	if (mauth_message_parse(&parsed, m->text, m->len) != 0)
		die("mauth_message_parse", m->id);
	info = run(x, "message_info", parsed, opts_new());
	o = opts_new();
	mauth_opts_str(o, "ip", m->ip);
	iprev = run(x, "iprev", NULL, o);
	o = opts_new();
	mauth_opts_str(o, "ip", m->ip);
	mauth_opts_str(o, "sender", m->sender);
	mauth_opts_str(o, "helo", m->helo);
	mauth_opts_int(o, "now", x->now);
	mauth_opts_str(o, "receiver", "mx.interop.example");
	spf = run(x, "spf", NULL, o);
	if (helo_domain(m->helo)) {
		o = opts_new();
		mauth_opts_str(o, "ip", m->ip);
		mauth_opts_str(o, "helo", m->helo);
		mauth_opts_str(o, "scope", "helo");
		mauth_opts_int(o, "now", x->now);
		mauth_opts_str(o, "receiver", "mx.interop.example");
		helo = run(x, "spf", NULL, o);
	}
	o = opts_new();
	mauth_opts_int(o, "now", x->now);
	dkim = run(x, "dkim_verify", parsed, o);
	o = opts_new();
	mauth_opts_int(o, "now", x->now);
	arc = run(x, "arc_verify", parsed, o);
	mauth_message_free(parsed);

	/* DMARC: the From domains, MAIL FROM's SPF, every DKIM signature,
	 * the results handed over as they are (no copy, no text) */
	from = mauth_value_get(mauth_check_result(info), "from_domains");
	sr = mauth_check_result(spf);
	dr = mauth_value_get(mauth_check_result(dkim), "signatures");
	o = opts_new();
	so = opts_new();
	mauth_opts_add(o, "from_domains", from);
	s1 = text_of(sr, "result", &l1);
	mauth_opts_ref(so, "result", s1, l1);
	s1 = text_of(sr, "domain", &l1);
	mauth_opts_ref(so, "domain", s1, l1);
	mauth_opts_add(o, "spf", mauth_opts_tree(so));
	if (dr != NULL)
		mauth_opts_add(o, "dkim", dr);
	mauth_opts_int(o, "pct_roll", 0);
	dmarc = run(x, "dmarc", NULL, o);
	mauth_opts_free(so);

	/* the header mailauth.check writes, through the C writer */
	results[nr++] = mauth_check_result(iprev);
	results[nr++] = sr;
	if (helo != NULL)
		results[nr++] = mauth_check_result(helo);
	results[nr++] = mauth_check_result(dkim);
	results[nr++] = mauth_check_result(dmarc);
	results[nr++] = mauth_check_result(arc);
	if (mauth_authres_format(results, nr, &ao, ar, sizeof ar, NULL, 0) < 0)
		die("mauth_authres_format", m->id);
	if (x->print) {
		sig = dr != NULL ? dr->child : NULL;
		s1 = text_of(sr, "result", &l1);
		s2 = text_of(sig, "result", &l2);
		s3 = text_of(mauth_check_result(dmarc), "result", &l3);
		printf("%s\t%.*s\t%.*s\t%.*s\n", m->id, (int)l1, s1, (int)l2, s2,
		       (int)l3, s3);
	}
	mauth_check_free(info);
	mauth_check_free(iprev);
	mauth_check_free(spf);
	mauth_check_free(helo);
	mauth_check_free(dkim);
	mauth_check_free(arc);
	mauth_check_free(dmarc);
}

static long pass(void *p)
{
	ctx *x = p;
	size_t i;

	for (i = 0; i < x->nmsgs; i++)
		one(x, &x->msgs[i]);
	return (long)x->nmsgs;
}

int main(int argc, char **argv)
{
	char **zl, **ml, err[256];
	const char *texts[64];
	size_t lens[64], nz, i;
	double seconds = 0;
	int bench = argc > 1 && strcmp(argv[1], "bench") == 0;
	ctx x;

	if (argc != (bench ? 6 : 5))
		die("usage", "check_capi check|bench SECONDS ZONELIST MESSAGES NOW");
	if (bench)
		seconds = atof(argv[2]);
	nz = split_tsv(slurp(argv[bench ? 3 : 2], NULL), 1, &zl);
	if (nz > 64)
		die("check_capi", "too many zones");
	for (i = 0; i < nz; i++)
		texts[i] = slurp(zl[i], &lens[i]);
	if (mauth_resolver_new_zone(&x.res, texts, lens, nz, err, sizeof err) != 0)
		die("mauth_resolver_new_zone", err);
	x.nmsgs = split_tsv(slurp(argv[bench ? 4 : 3], NULL), 5, &ml);
	x.msgs = calloc(x.nmsgs, sizeof *x.msgs);
	if (x.msgs == NULL)
		die("check_capi", "out of memory");
	for (i = 0; i < x.nmsgs; i++) {
		message *m = &x.msgs[i];

		m->id = ml[i * 5];
		m->text = slurp(ml[i * 5 + 1], &m->len);
		m->ip = ml[i * 5 + 2];
		m->helo = ml[i * 5 + 3];
		m->sender = ml[i * 5 + 4];
	}
	x.now = strtoll(argv[bench ? 5 : 4], NULL, 10);
	x.print = !bench;
	bench_or_check(bench, seconds, pass, &x);
	mauth_resolver_free(x.res);
	return 0;
}
