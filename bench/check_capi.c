/*
 * check_capi.c - what mailauth.check does for one message, composed by a C
 * host through the C API: message_info (the From domains), iprev, SPF for
 * MAIL FROM and for HELO, dkim_verify and arc_verify, then DMARC from
 * their results (RFC 7489 §4.1: MAIL FROM's SPF, every DKIM signature).
 * Every DNS answer comes from the offline zone (mauth_resolver_new_zone)
 * of spec/fixtures/zones, the messages are the interop fixtures, as
 * check_mailauth.lua, so the two differ only by the Lua layer.  It does
 * not write Authentication-Results (no C formatter yet).
 * Links the core and driver objects of build/lua5.4/obj (not lmailauth.o).
 *
 * usage: check_capi check|bench SECONDS ZONELIST MESSAGES NOW
 * ZONELIST: one zone file a line; MESSAGES: id, file, ip, helo, sender
 * (TAB-separated).  check: "id spf dkim dmarc" a line.
 */
#include "mailauth.h"
#include "bench.h"

#define MAX_PARAMS 48

typedef struct {
	char *id, *text, *ip, *helo, *sender;
	size_t len;
} message;

typedef struct {
	mauth_resolver *res;
	message *msgs;
	size_t nmsgs;
	const char *now;
	int print;
} ctx;

typedef struct {
	mauth_param v[MAX_PARAMS];
	size_t n;
	char keys[MAX_PARAMS][32];
} params;

static void put(params *p, const char *key, const char *val, size_t len)
{
	if (p->n == MAX_PARAMS)
		die("check_capi", "too many params");
	snprintf(p->keys[p->n], sizeof p->keys[p->n], "%s", key);
	p->v[p->n].key = p->keys[p->n];
	p->v[p->n].val = val;
	p->v[p->n].len = len;
	p->n++;
}

static void put_s(params *p, const char *key, const char *val)
{
	put(p, key, val, strlen(val));
}

/*
 * The one place that creates a check (mauth_check_new's parameters are
 * about to become a value tree: this is what adapts to it).
 */
static mauth_check *new_check(const char *kind, const params *p)
{
	mauth_check *c;
	char err[256];

	if (mauth_check_new(&c, kind, p->v, p->n, err, sizeof err) != 0)
		die(kind, err);
	return c;
}

/* Runs a check to its end; the caller frees it after reading the result. */
static mauth_check *run(ctx *x, const char *kind, const params *p)
{
	mauth_check *c = new_check(kind, p);

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
	params p;
	mauth_check *info, *iprev, *spf, *helo = NULL, *dkim, *arc, *dmarc;
	const mauth_value *ir, *sr, *dr, *sig, *from;
	char keys[2][32];
	size_t n, l1, l2, l3, i;
	const char *s1, *s2, *s3;

	p.n = 0;
	put(&p, "message", m->text, m->len);
	info = run(x, "message_info", &p);
	p.n = 0;
	put_s(&p, "ip", m->ip);
	iprev = run(x, "iprev", &p);
	p.n = 0;
	put_s(&p, "ip", m->ip);
	put_s(&p, "sender", m->sender);
	put_s(&p, "helo", m->helo);
	put_s(&p, "now", x->now);
	put_s(&p, "receiver", "mx.interop.example");
	spf = run(x, "spf", &p);
	if (helo_domain(m->helo)) {
		p.n = 0;
		put_s(&p, "ip", m->ip);
		put_s(&p, "helo", m->helo);
		put_s(&p, "scope", "helo");
		put_s(&p, "now", x->now);
		put_s(&p, "receiver", "mx.interop.example");
		helo = run(x, "spf", &p);
	}
	p.n = 0;
	put(&p, "message", m->text, m->len);
	put_s(&p, "now", x->now);
	dkim = run(x, "dkim_verify", &p);
	arc = run(x, "arc_verify", &p);

	/* DMARC: the From domains, MAIL FROM's SPF, every DKIM signature */
	p.n = 0;
	ir = mauth_check_result(info);
	from = ir != NULL ? mauth_value_get(ir, "from_domains") : NULL;
	n = 0;
	for (sig = from != NULL ? from->child : NULL; sig != NULL; sig = sig->next) {
		snprintf(keys[0], sizeof keys[0], "from_domains.%zu", ++n);
		put(&p, keys[0], sig->str, sig->len);
	}
	snprintf(keys[1], sizeof keys[1], "%zu", n);
	put_s(&p, "from_count", keys[1]);
	sr = mauth_check_result(spf);
	s1 = text_of(sr, "result", &l1);
	put(&p, "spf.result", s1, l1);
	s1 = text_of(sr, "domain", &l1);
	put(&p, "spf.domain", s1, l1);
	dr = mauth_check_result(dkim);
	dr = dr != NULL ? mauth_value_get(dr, "signatures") : NULL;
	i = 0;
	for (sig = dr != NULL ? dr->child : NULL; sig != NULL; sig = sig->next) {
		char key[32];

		i++;
		s1 = text_of(sig, "result", &l1);
		snprintf(key, sizeof key, "dkim.%zu.result", i);
		put(&p, key, s1, l1);
		s1 = text_of(sig, "domain", &l1);
		snprintf(key, sizeof key, "dkim.%zu.domain", i);
		put(&p, key, s1, l1);
	}
	put_s(&p, "pct_roll", "0");
	dmarc = run(x, "dmarc", &p);
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
	x.now = argv[bench ? 5 : 4];
	x.print = !bench;
	if (bench)
		bench_run(seconds, pass, &x);
	else
		pass(&x);
	mauth_resolver_free(x.res);
	return 0;
}
