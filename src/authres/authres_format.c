/*
 * authres_format.c - the writer of Authentication-Results (RFC 8601 §2.2)
 * and Received-SPF (RFC 7208 §9.1) header fields, from result trees: what
 * the checks return (each result has "method" and "properties", see
 * authres.h) or what the parser (authres.c) returns, so that
 * format(parse(h)) parses back to the same tree.
 *
 *   authres-header = "Authentication-Results:" [CFWS] authserv-id
 *                    [ CFWS authres-version ] ( no-result / 1*resinfo ) CRLF
 *   resinfo   = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
 *   pvalue    = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
 *   value     = token / quoted-string            (RFC 2045 §5.1)
 *
 * A value that is a token, or [local-part]@domain (RFC 8601 §2.2), is
 * written as it is; any other is a quoted-string with "\" and '"' escaped
 * (RFC 5322 §3.2.4).  Control bytes in values and comments become spaces,
 * so no text can end the field or start another (header injection).
 * Keywords (method, result, ptype, property) must be keywords: else the
 * call fails (MAUTH_EINVAL), the field is never written half-valid.
 *
 * Bounds: 990 DKIM signatures once made a 152 KB field.  Per method at
 * most max_per_method (16) results are written, passes first (a later
 * filter looks for dkim=pass), and the resinfo part at most max_bytes
 * (8192); what is left out is counted in a trailing comment ("(974 more
 * dkim results not shown)", RFC 8601 §2.2 allows CFWS there), never
 * dropped silently.
 *
 * Received-SPF (RFC 7208 §9.1): result, a comment in the words of the
 * RFC's examples, then the key=value pairs client-ip, envelope-from, helo,
 * receiver, mechanism, problem (its first 200 bytes) and identity, each
 * a dot-atom or a quoted-string (RFC 5322 §3.2.3, §3.2.4).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "authres/authres.h"

#define AR_MAX_PER_METHOD 16
#define AR_MAX_BYTES 8192
#define SPF_PROBLEM_MAX 200	/* bytes of problem= in Received-SPF */

/* ---- the result shape (authres.h) ---- */

mauth_value *authres_begin(arena *a, mauth_value *r, const char *method)
{
	if (r == NULL)
		return NULL;
	val_ref(a, r, "method", method, strlen(method));
	return val_add(a, r, "properties", MAUTH_V_LIST);
}

void authres_prop(arena *a, mauth_value *props, const char *ptype,
		  const char *property, const char *value, size_t len)
{
	mauth_value *p;

	if (props == NULL || value == NULL || len == 0)
		return;
	p = val_add(a, props, NULL, MAUTH_V_MAP);
	if (p == NULL)
		return;
	val_ref(a, p, "ptype", ptype, strlen(ptype));
	val_ref(a, p, "property", property, strlen(property));
	val_ref(a, p, "value", value, len);
}

void authres_prop_of(arena *a, mauth_value *props, const char *ptype,
		     const char *property, const mauth_value *r,
		     const char *field)
{
	const mauth_value *v = mauth_value_get(r, field);

	if (v != NULL && v->kind == MAUTH_V_STR)
		authres_prop(a, props, ptype, property, v->str, v->len);
}

void authres_finish_one(mauth_check *c, mauth_value *r, const char *method,
			const char *ptype, const char *property,
			const char *field)
{
	arena *a = check_arena(c);

	authres_prop_of(a, authres_begin(a, r, method), ptype, property, r, field);
}

void authres_prop_int(arena *a, mauth_value *props, const char *ptype,
		      const char *property, long long n)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof tmp, "%lld", n);
	char *copy = len > 0 ? arena_strndup(a, tmp, (size_t)len) : NULL;

	if (copy != NULL)
		authres_prop(a, props, ptype, property, copy, (size_t)len);
}

/* ---- output: counts what does not fit, like snprintf ---- */

typedef struct {
	char *buf;
	size_t cap, len;
} out;

/* What fits of s when it does not all fit (or nothing is written). */
static void put_cut(out *o, const char *s, size_t n)
{
	if (n > 0 && o->len < o->cap) {
		size_t k = o->cap - o->len < n ? o->cap - o->len : n;

		memcpy(o->buf + o->len, s, k);
	}
}

/*
 * Inline, so that a literal's copy is a few moves: a header field is
 * mostly short pieces.
 */
static inline void put(out *o, const char *s, size_t n)
{
	if (o->len <= o->cap && n <= o->cap - o->len)
		memcpy(o->buf + o->len, s, n);
	else
		put_cut(o, s, n);
	o->len += n;
}

static void puts_(out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(out *o, char ch)
{
	if (o->len < o->cap)
		o->buf[o->len] = ch;
	o->len++;
}

static void put_int(out *o, long long n)
{
	char tmp[32];

	snprintf(tmp, sizeof tmp, "%lld", n);
	puts_(o, tmp);
}

/* Ends the text: NUL at len (or at the last byte when cut). */
static long finish_out(out *o)
{
	if (o->cap > 0)
		o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return (long)o->len;
}

/* ---- words and values ---- */

static int is_alnum(int c)
{
	return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

static int is_ctl(int c)
{
	return c < 32 || c == 127;
}

/*
 * Byte classes, one table lookup per byte written: 1 RFC 5322 §3.2.3
 * atext, 2 RFC 2045 §5.1 token byte (no SPACE, CTL or tspecial), 4 an
 * ASCII letter or digit; 8 a byte a quoted-string cannot hold as it is
 * (CTL, '"', '\\'), 16 one a comment cannot ('(', ')', '\\', CTL).
 */
#define C_ATEXT 1
#define C_TOKEN 2
#define C_QUOTE 8
#define C_COMMENT 16
static const unsigned char byte_class[256] = {
	24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
	24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
	0, 3, 8, 3, 3, 3, 3, 3, 16, 16, 3, 3, 0, 3, 2, 1,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 1, 0, 1,
	0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 24, 0, 3, 3,
	3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 3, 3, 3, 3, 24,
};

/* RFC 2045 §5.1 token: CHAR except SPACE, CTLs and tspecials. */
static int is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(byte_class[c] & C_TOKEN))
			return 0;
	}
	return 1;
}

/* A domain-name of LDH labels (RFC 8601 §2.2 pvalue, RFC 5321 Domain). */
static int is_domain(const char *s, size_t n)
{
	size_t i, start = 0;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		/* a label: not empty, starts alphanumeric, ends not with '-' */
		if (i == start || !is_alnum((unsigned char)s[start]) ||
		    s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

/* RFC 5322 §3.2.3 atext, and the dot-atom made of it. */
static int is_atext(int c)
{
	return byte_class[(unsigned char)c] & C_ATEXT;
}

static int is_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/*
 * Text with the bytes of class special (C_QUOTE or C_COMMENT) escaped
 * with "\\" and control bytes as spaces (ctl_space) or left out; plain
 * runs are copied whole.
 */
static void put_escaped(out *o, const char *s, size_t n, unsigned special,
			int ctl_space)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(byte_class[c] & special))
			continue;	/* written with its run */
		put(o, s + run, i - run);
		if (!is_ctl(c)) {
			putc_(o, '\\');
			putc_(o, (char)c);
		} else if (ctl_space) {
			putc_(o, ' ');
		}
		run = i + 1;
	}
	put(o, s + run, n - run);
}

/* Text with control bytes as spaces; special: the bytes to escape with "\\". */
static void put_clean(out *o, const char *s, size_t n, unsigned special)
{
	put_escaped(o, s, n, special, 1);
}

/*
 * value (RFC 2045): a token, else a quoted-string.  A control byte is no
 * token byte, and no token byte once cleaned to a space, so the test on
 * the raw text is the test on the cleaned one.
 */
static void put_value(out *o, const char *s, size_t n)
{
	if (is_token(s, n)) {
		put(o, s, n);
		return;
	}
	putc_(o, '"');
	put_clean(o, s, n, C_QUOTE);
	putc_(o, '"');
}

/* pvalue (RFC 8601 §2.2): a token, [local-part]@domain, else quoted. */
static void put_pvalue(out *o, const char *s, size_t n)
{
	size_t at = n;

	while (at > 0 && s[at - 1] != '@')
		at--;
	if (!is_token(s, n) && at > 0 &&
	    is_domain(s + at, n - at) &&
	    (at == 1 || is_dot_atom(s, at - 1))) {
		put(o, s, n);
		return;
	}
	put_value(o, s, n);
}

/* ---- reading a result map ---- */

/* "_" and "." come only from lenient parses of real-world fields. */
static int is_keyword(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !is_alnum((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

typedef struct {
	char *err;
	size_t errlen;
} errbuf;

static int not_keyword(errbuf *e, const char *what, const char *s, size_t n)
{
	if (e->err != NULL && e->errlen > 0)
		snprintf(e->err, e->errlen, "%s \"%.*s\" is not a keyword", what,
			 (int)(n > 64 ? 64 : n), s);
	return MAUTH_EINVAL;
}

static int put_keyword(out *o, errbuf *e, const char *what, const char *s,
		       size_t n)
{
	if (s == NULL || !is_keyword(s, n))
		return not_keyword(e, what, s ? s : "", s ? n : 0);
	put(o, s, n);
	return 0;
}

/* A string field (s NULL when absent). */
typedef struct {
	const char *s;
	size_t n;
} strref;

/*
 * The fields of a result map the writers read, found in one pass: the
 * Authentication-Results writer's (method ... problem, version, props)
 * and the Received-SPF writer's (problem ... scope, props, and identity,
 * which it takes from the properties).
 */
typedef struct {
	strref method, comment, name, policy, disposition, reason, problem;
	strref result, ip, sender, helo, mechanism, scope, identity;
	const mauth_value *version, *props;
} resfields;

static void take(strref *t, const mauth_value *v)
{
	if (t->s == NULL) {	/* the first of a key, as mauth_value_get */
		t->s = v->str;
		t->n = v->len;
	}
}

/* A string key of a result map and where its field lives in the struct. */
typedef struct {
	const char *key;
	size_t at;	/* offsetof the strref */
} named_field;

/*
 * The keys the Authentication-Results writer looks up (Received-SPF's
 * are read_spf's, by a switch: its writer runs once per message).  A key
 * is its field's name, so the two cannot disagree.
 */
#define KEY(field) { #field, offsetof(resfields, field) }
static const named_field resfield_keys[] = {
	KEY(method), KEY(comment), KEY(name), KEY(policy), KEY(disposition),
	KEY(reason), KEY(problem),
};
#undef KEY
#define AR_KEYS (sizeof resfield_keys / sizeof resfield_keys[0])

/* The string v into the field of fields that keys names for v's key, if any. */
static void take_named(void *fields, const named_field *keys, size_t n,
		       const mauth_value *v)
{
	size_t i;

	/* the first byte first: a result has many more keys than these */
	for (i = 0; i < n; i++)
		if (v->key[0] == keys[i].key[0] && strcmp(v->key, keys[i].key) == 0) {
			take((strref *)(void *)((char *)fields + keys[i].at), v);
			return;
		}
}

/*
 * One pass over a result map r: its strings into fields (keys names
 * where), its first "properties" list into *props and its first integer
 * "method_version" into *version (version NULL: not read).  The fields
 * and pointers start zeroed by the caller.
 */
static void read_map(const mauth_value *r, void *fields, const named_field *keys,
		     size_t n, const mauth_value **props, const mauth_value **version)
{
	const mauth_value *v;

	for (v = r->child; v != NULL; v = v->next) {
		const char *k = v->key;

		if (k == NULL)
			continue;
		if (v->kind == MAUTH_V_LIST && strcmp(k, "properties") == 0)
			*props = *props ? *props : v;
		else if (version != NULL && v->kind == MAUTH_V_INT &&
			 strcmp(k, "method_version") == 0)
			*version = *version ? *version : v;
		else if (v->kind == MAUTH_V_STR)
			take_named(fields, keys, n, v);
	}
}

static void read_fields(const mauth_value *r, resfields *f)
{
	memset(f, 0, sizeof *f);
	read_map(r, f, resfield_keys, AR_KEYS, &f->props, &f->version);
}

/*
 * The comment of a result: its "comment", else what the checks' results
 * hold for it (iprev: the PTR name, RFC 8601 §2.7.3; dmarc: the policy
 * and disposition, as RFC 7489 §11.2's example writes them).
 */
static void put_comment(out *o, const resfields *f)
{
	strref c = f->comment;

	if (c.s == NULL && strcmp(f->method.s, "iprev") == 0)
		c = f->name;
	if (c.s != NULL) {
		puts_(o, " (");
		put_clean(o, c.s, c.n, C_COMMENT);
		putc_(o, ')');
		return;
	}
	if (strcmp(f->method.s, "dmarc") != 0 || f->policy.s == NULL)
		return;
	puts_(o, " (p=");
	put_clean(o, f->policy.s, f->policy.n, C_COMMENT);
	puts_(o, " dis=");
	if (f->disposition.s != NULL)
		put_clean(o, f->disposition.s, f->disposition.n, C_COMMENT);
	else
		puts_(o, "none");
	putc_(o, ')');
}

/*
 * The ptype, property and value of a property map in one pass over its
 * members (the first of each key, as mauth_value_get finds it); num: the
 * "value" member when it is not a string (an integer is written as one).
 */
static void prop_fields(const mauth_value *p, const char **pt, size_t *ptn,
			const char **pr, size_t *prn, const char **v,
			size_t *vn, const mauth_value **num)
{
	const mauth_value *c;
	int seen_pt = 0, seen_pr = 0, seen_v = 0;

	*pt = *pr = *v = NULL;
	*num = NULL;
	if (p == NULL || p->kind != MAUTH_V_MAP)
		return;
	for (c = p->child; c != NULL; c = c->next) {
		const char *k = c->key;
		int is_str = c->kind == MAUTH_V_STR;

		if (k == NULL)
			continue;
		if (!seen_pt && strcmp(k, "ptype") == 0) {
			seen_pt = 1;
			if (is_str)
				*pt = c->str, *ptn = c->len;
		} else if (!seen_pr && strcmp(k, "property") == 0) {
			seen_pr = 1;
			if (is_str)
				*pr = c->str, *prn = c->len;
		} else if (!seen_v && strcmp(k, "value") == 0) {
			seen_v = 1;
			*num = c;
			if (is_str)
				*v = c->str, *vn = c->len;
		}
	}
}

static int put_props(out *o, errbuf *e, const mauth_value *props)
{
	const mauth_value *p;

	if (props == NULL || props->kind != MAUTH_V_LIST)
		return 0;
	for (p = props->child; p != NULL; p = p->next) {
		const char *pt, *pr, *v;
		size_t ptn = 0, prn = 0, vn = 0;
		const mauth_value *num;

		prop_fields(p, &pt, &ptn, &pr, &prn, &v, &vn, &num);
		putc_(o, ' ');
		/* ptype "" is Microsoft's bare "action=" (the parser's dialect) */
		if (pt != NULL && ptn > 0) {
			if (put_keyword(o, e, "ptype", pt, ptn) < 0)
				return MAUTH_EINVAL;
			putc_(o, '.');
		}
		if (put_keyword(o, e, "property", pr, prn) < 0)
			return MAUTH_EINVAL;
		putc_(o, '=');
		if (num != NULL && num->kind == MAUTH_V_INT)
			put_int(o, num->num);
		else
			put_pvalue(o, v != NULL ? v : "", vn);
	}
	return 0;
}

/* One resinfo without its ";": method[/version]=result (comment) reason props. */
static int put_resinfo(out *o, errbuf *e, const resfields *f,
		       const char *result, size_t result_len)
{
	strref reason = f->reason;

	if (put_keyword(o, e, "method", f->method.s, f->method.n) < 0)
		return MAUTH_EINVAL;
	if (f->version != NULL) {
		putc_(o, '/');
		put_int(o, f->version->num);
	}
	putc_(o, '=');
	if (put_keyword(o, e, "result", result, result_len) < 0)
		return MAUTH_EINVAL;
	put_comment(o, f);
	/* a check's problem is the reason of a result other than pass */
	if (reason.s == NULL && strcmp(result, "pass") != 0)
		reason = f->problem;
	if (reason.s != NULL) {
		puts_(o, " reason=");
		put_value(o, reason.s, reason.n);
	}
	return put_props(o, e, f->props);
}

/* ---- the results to write ---- */

typedef struct {
	const mauth_value *r;
	resfields f;
	const char *result;	/* "none" for a DKIM check without signatures */
	size_t result_len;
	size_t len;		/* bytes of its resinfo */
	size_t method;		/* index into the method table */
	int chosen;
} item;

typedef struct {
	const char *name;	/* lower-cased on output */
	size_t len;
	size_t count, left;
} method_count;

typedef struct {
	item *items;
	size_t n, cap;
	method_count *methods;
	size_t nmethods;
} plan;

/* Results most fields hold fit in the plan on the stack (no malloc). */
#define PLAN_FEW 24

static int add_item(plan *p, const mauth_value *r, const char *result,
		    size_t result_len)
{
	if (p->n < p->cap) {	/* past cap only counted (then a bigger plan) */
		item *it = &p->items[p->n];

		it->r = r;
		it->result = result;
		it->result_len = result_len;
		it->chosen = 0;
	}
	p->n++;
	return 0;
}

/*
 * What collect reads of a map, in one pass over its members (the first of
 * each key, as mauth_value_get finds it): the "signatures" member, else
 * the "results" one (returned), the "result" string, whether "method" is
 * there.
 */
static const mauth_value *map_members(const mauth_value *v, const char **result,
				      size_t *n, int *has_method)
{
	const mauth_value *c, *sigs = NULL, *results = NULL, *res = NULL;

	*has_method = 0;
	for (c = v->child; c != NULL; c = c->next) {
		const char *k = c->key;

		if (k == NULL)
			continue;
		if (k[0] == 'r') {
			if (res == NULL && strcmp(k, "result") == 0)
				res = c;
			else if (results == NULL && strcmp(k, "results") == 0)
				results = c;
		} else if (k[0] == 's' && sigs == NULL &&
			   strcmp(k, "signatures") == 0) {
			sigs = c;
		} else if (k[0] == 'm' && strcmp(k, "method") == 0) {
			*has_method = 1;
		}
	}
	*result = NULL;
	if (res != NULL && res->kind == MAUTH_V_STR) {
		*result = res->str;
		*n = res->len;
	}
	return sigs != NULL ? sigs : results;
}

/*
 * Walks a value given to the formatter: a result map, a list of them, a
 * dkim_verify result (its signatures; a check without any is "dkim=none",
 * RFC 8601 §2.7.1) or an authres_parse result (its results).  Maps without
 * a result are not written.  Depth is bounded: a list in a list at most.
 */
static void collect(plan *p, const mauth_value *v, int depth)
{
	const mauth_value *c, *inner;
	const char *result;
	size_t n = 0;
	int has_method;

	if (v == NULL || depth > 2)
		return;
	if (v->kind == MAUTH_V_LIST) {
		for (c = v->child; c != NULL; c = c->next)
			collect(p, c, depth + 1);
		return;
	}
	if (v->kind != MAUTH_V_MAP)
		return;
	inner = map_members(v, &result, &n, &has_method);
	if (inner != NULL && inner->kind == MAUTH_V_LIST) {
		if (inner->child != NULL)
			collect(p, inner, depth + 1);
		else if (has_method)
			add_item(p, v, "none", 4);
		return;
	}
	if (result != NULL)
		add_item(p, v, result, n);
}

static int same_word(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if ((a[i] | 32) != (b[i] | 32))
			return 0;
	return 1;
}

static size_t method_index(plan *p, const resfields *f)
{
	const char *m = f->method.s;
	size_t i, n = f->method.n;

	for (i = 0; i < p->nmethods; i++)
		if (same_word(p->methods[i].name, p->methods[i].len, m, n))
			return i;
	p->methods[i].name = m;
	p->methods[i].len = n;
	p->methods[i].count = p->methods[i].left = 0;
	p->nmethods++;
	return i;
}

/*
 * Which results to write (chosen), in order: per method up to per_method,
 * passes first; then, in order, as long as the bytes fit.  Counts what is
 * left out per method.
 */
static void choose(plan *p, size_t per_method, size_t max_bytes,
		   size_t seplen)
{
	size_t i, pass, bytes = 0;

	for (pass = 1; pass <= 2; pass++)
		for (i = 0; i < p->n; i++) {
			item *it = &p->items[i];
			int is_pass = same_word(it->result, it->result_len,
						"pass", 4);

			if ((pass == 1) != is_pass)
				continue;
			if (++p->methods[it->method].count <= per_method)
				it->chosen = 1;
		}
	for (i = 0; i < p->n; i++) {
		item *it = &p->items[i];

		if (it->chosen && bytes + it->len + seplen <= max_bytes) {
			bytes += it->len + seplen;
		} else {
			it->chosen = 0;
			p->methods[it->method].left++;
		}
	}
}

/* The trailing comment: "(3 more dkim results, 1 more spf result not shown)". */
static void put_left_out(out *o, const plan *p, const char *space)
{
	size_t i, k, notes = 0;

	for (i = 0; i < p->n; i++) {
		const method_count *m = &p->methods[p->items[i].method];

		/* in the order of each method's first result left out */
		if (p->items[i].chosen || m->left == 0)
			continue;
		for (k = 0; k < i; k++)
			if (!p->items[k].chosen &&
			    p->items[k].method == p->items[i].method)
				break;
		if (k < i)
			continue;
		puts_(o, notes++ == 0 ? space : ", ");
		if (notes == 1)
			putc_(o, '(');
		put_int(o, (long long)m->left);
		puts_(o, " more ");
		for (k = 0; k < m->len; k++)
			putc_(o, (char)((m->name[k] >= 'A' && m->name[k] <= 'Z') ?
					m->name[k] | 32 : m->name[k]));
		puts_(o, m->left == 1 ? " result" : " results");
	}
	if (notes > 0)
		puts_(o, " not shown)");
}

static void put_head(out *o, const mauth_authres_opts *opt)
{
	if (opt->instance > 0) {
		puts_(o, "ARC-Authentication-Results: i=");
		put_int(o, opt->instance);
		puts_(o, "; ");
	} else {
		puts_(o, "Authentication-Results: ");
	}
	put_value(o, opt->authserv_id, strlen(opt->authserv_id));
	if (opt->version > 0) {
		putc_(o, ' ');
		put_int(o, opt->version);
	}
}

/*
 * Measures every resinfo (and checks its keywords) before choosing, by
 * writing each into o after sep, as the field holds them when every one
 * is kept (the usual case: then nothing is written twice).
 */
static int measure(plan *p, errbuf *e, out *o, const char *sep, size_t seplen)
{
	size_t i, start;

	for (i = 0; i < p->n; i++) {
		item *it = &p->items[i];

		read_fields(it->r, &it->f);
		put(o, sep, seplen);
		start = o->len;
		if (put_resinfo(o, e, &it->f, it->result, it->result_len) < 0)
			return MAUTH_EINVAL;
		it->len = o->len - start;
		it->method = method_index(p, &it->f);
	}
	return 0;
}

/* Whether choose kept every result: the text measure wrote is the field. */
static int all_chosen(const plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!p->items[i].chosen)
			return 0;
	return 1;
}

long mauth_authres_format(const mauth_value *const *results, size_t n,
			  const mauth_authres_opts *opt, char *buf, size_t len,
			  char *err, size_t errlen)
{
	plan p;
	item few_items[PLAN_FEW];
	method_count few_methods[PLAN_FEW];
	errbuf e = { err, errlen };
	out o = { buf, len, 0 };
	const char *sep;
	size_t i, kept = 0, head, seplen;
	long rc = MAUTH_EINVAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf != NULL && len > 0)
		buf[0] = '\0';	/* an empty text on error */
	if (opt == NULL || opt->authserv_id == NULL || opt->authserv_id[0] == '\0' ||
	    (results == NULL && n > 0) || (buf == NULL && len > 0)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "authserv-id required");
		return MAUTH_EINVAL;
	}
	memset(&p, 0, sizeof p);
	p.items = few_items;
	p.methods = few_methods;
	p.cap = PLAN_FEW;
	for (i = 0; i < n; i++)		/* into the stack plan, or counted */
		collect(&p, results[i], 0);
	if (p.n > PLAN_FEW) {		/* more: a plan of their number */
		p.cap = p.n;
		p.items = calloc(p.n + 1, sizeof *p.items);
		p.methods = calloc(p.n + 1, sizeof *p.methods);
		if (p.items == NULL || p.methods == NULL) {
			rc = MAUTH_ENOMEM;
			goto done;
		}
		p.n = 0;
		for (i = 0; i < n; i++)
			collect(&p, results[i], 0);
	}
	put_head(&o, opt);
	head = o.len;
	sep = opt->no_fold ? "; " : ";\r\n\t";
	seplen = strlen(sep);
	if (measure(&p, &e, &o, sep, seplen) < 0) {
		if (buf != NULL && len > 0)
			buf[0] = '\0';	/* an empty text on error */
		goto done;
	}
	if (p.n == 0) {
		puts_(&o, "; none");
		rc = finish_out(&o);
		goto done;
	}
	choose(&p, opt->max_per_method ? opt->max_per_method : AR_MAX_PER_METHOD,
	       opt->max_bytes ? opt->max_bytes : AR_MAX_BYTES, seplen);
	if (all_chosen(&p)) {		/* measure wrote the field */
		rc = finish_out(&o);
		goto done;
	}
	o.len = head;			/* some left out: written again */
	for (i = 0; i < p.n; i++) {
		if (!p.items[i].chosen)
			continue;
		puts_(&o, sep);
		put_resinfo(&o, &e, &p.items[i].f, p.items[i].result,
			    p.items[i].result_len);
		kept++;
	}
	if (kept == 0) {	/* nothing fits: the no-result form */
		puts_(&o, sep);
		puts_(&o, "none");
	}
	put_left_out(&o, &p, opt->no_fold ? " " : "\r\n\t");
	rc = finish_out(&o);
done:
	if (p.items != few_items)
		free(p.items);
	if (p.methods != few_methods)
		free(p.methods);
	return rc;
}

/* ---- Received-SPF (RFC 7208 §9.1) ---- */

/*
 * A key=value pair's value: a dot-atom, else a quoted-string without CTLs.
 * One scan tells both whether it is a dot-atom (is_dot_atom's test) and
 * whether a quoted-string needs an escape: most values need none, and
 * are copied whole.
 */
static void put_kv_value(out *o, const char *s, size_t n)
{
	unsigned any = 0;
	int atom = n > 0 && s[0] != '.' && s[n - 1] != '.';
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned c = byte_class[(unsigned char)s[i]];

		any |= c;
		/* a dot only between atext (the ends are tested above) */
		if (!(c & C_ATEXT) && (s[i] != '.' || s[i + 1] == '.'))
			atom = 0;
	}
	if (atom) {
		put(o, s, n);
		return;
	}
	putc_(o, '"');
	if (any & C_QUOTE)
		put_escaped(o, s, n, C_QUOTE, 0);
	else
		put(o, s, n);
	putc_(o, '"');
}

static void put_pair(out *o, int *first, const char *key, size_t klen,
		     const char *v, size_t n)
{
	if (v == NULL || n == 0)
		return;
	if (!*first)
		put(o, "; ", 2);
	*first = 0;
	put(o, key, klen);
	putc_(o, '=');
	put_kv_value(o, v, n);
}

/* A pair whose key is a string literal. */
#define PUT_PAIR(o, first, key, v, n) put_pair(o, first, key, sizeof(key) - 1, v, n)
/* A string literal. */
#define PUT_LIT(o, lit) put(o, lit, sizeof(lit) - 1)

/* Comment text: "()\" escaped, control bytes left out. */
static void put_comment_text(out *o, const char *s, size_t n)
{
	put_escaped(o, s, n, C_COMMENT, 0);
}

static void cputs(out *o, const char *s)
{
	put_comment_text(o, s, strlen(s));
}

/* The identity checked: the value of the result's smtp.* property. */
static void spf_identity(const mauth_value *props, strref *id)
{
	const mauth_value *p, *m;

	for (p = props->child; p != NULL; p = p->next) {
		const mauth_value *pt = NULL, *v = NULL;

		if (p->kind != MAUTH_V_MAP)
			continue;
		for (m = p->child; m != NULL; m = m->next) {
			if (m->key == NULL)
				continue;
			if (pt == NULL && strcmp(m->key, "ptype") == 0)
				pt = m;
			else if (v == NULL && strcmp(m->key, "value") == 0)
				v = m;
		}
		if (pt != NULL && pt->kind == MAUTH_V_STR && pt->str != NULL &&
		    v != NULL && v->kind == MAUTH_V_STR && v->str != NULL &&
		    same_word(pt->str, pt->len, "smtp", 4)) {
			id->s = v->str;
			id->n = v->len;
			return;
		}
	}
}

/* The strref of f for the Received-SPF key k, or NULL: by its first
 * byte, then one comparison (read_map's take_named compares each key). */
static strref *spf_field(resfields *f, const char *k)
{
	switch (k[0]) {
	case 'r':
		return strcmp(k, "result") == 0 ? &f->result : NULL;
	case 'i':
		return k[1] == 'p' && k[2] == '\0' ? &f->ip : NULL;
	case 's':
		if (strcmp(k, "sender") == 0)
			return &f->sender;
		return strcmp(k, "scope") == 0 ? &f->scope : NULL;
	case 'h':
		return strcmp(k, "helo") == 0 ? &f->helo : NULL;
	case 'm':
		return strcmp(k, "mechanism") == 0 ? &f->mechanism : NULL;
	case 'p':
		return strcmp(k, "problem") == 0 ? &f->problem : NULL;
	default:
		return NULL;
	}
}

/* read_map's pass over r, for the keys of Received-SPF. */
static void read_spf(const mauth_value *r, resfields *f)
{
	const mauth_value *v;
	strref *t;

	memset(f, 0, sizeof *f);
	for (v = r->child; v != NULL; v = v->next) {
		if (v->key == NULL)
			continue;
		if (v->kind == MAUTH_V_LIST) {
			if (f->props == NULL && strcmp(v->key, "properties") == 0)
				f->props = v;
		} else if (v->kind == MAUTH_V_STR &&
			   (t = spf_field(f, v->key)) != NULL) {
			take(t, v);
		}
	}
	if (f->props != NULL)
		spf_identity(f->props, &f->identity);
	if (f->result.s == NULL)
		f->result.s = "none", f->result.n = 4;
	if (f->identity.s == NULL)
		f->identity.s = "";
	if (f->ip.s == NULL)
		f->ip.s = "";
}

/*
 * The comment, in the words of RFC 7208 §9.1's examples; the names in it
 * are escaped (the fixed words need no escape).
 */
static void spf_comment(out *t, const char *res, const char *id, size_t idn,
			const char *ip, size_t ipn, const char *receiver)
{
	if (receiver != NULL) {
		cputs(t, receiver);
		PUT_LIT(t, ": ");
	}
	if (strcmp(res, "neutral") == 0) {
		put_comment_text(t, ip, ipn);
		PUT_LIT(t, " is neither permitted nor denied by domain of ");
		put_comment_text(t, id, idn);
	} else if (strcmp(res, "pass") == 0 || strcmp(res, "fail") == 0 ||
		   strcmp(res, "softfail") == 0) {
		if (res[0] == 's')
			PUT_LIT(t, "transitioning domain of ");
		else
			PUT_LIT(t, "domain of ");
		put_comment_text(t, id, idn);
		if (res[0] == 'p')
			PUT_LIT(t, " designates ");
		else
			PUT_LIT(t, " does not designate ");
		put_comment_text(t, ip, ipn);
		PUT_LIT(t, " as permitted sender");
	} else {
		/* an unknown result word is no result: permerror's words */
		puts_(t, strcmp(res, "none") == 0 ? "domain of " :
			 strcmp(res, "temperror") == 0 ?
			 "error in processing during lookup of " :
			 "permanent error in processing domain of ");
		put_comment_text(t, id, idn);
		if (strcmp(res, "none") == 0)
			PUT_LIT(t, " does not designate permitted sender hosts");
	}
}

long mauth_received_spf_format(const mauth_value *r, const char *receiver,
			       char *buf, size_t len)
{
	out o = { buf, len, 0 };
	resfields f;
	int first = 1;

	if (buf != NULL && len > 0)
		buf[0] = '\0';	/* an empty text on error */
	if (r == NULL || r->kind != MAUTH_V_MAP || (buf == NULL && len > 0))
		return MAUTH_EINVAL;
	read_spf(r, &f);
	PUT_LIT(&o, "Received-SPF: ");
	put(&o, f.result.s, f.result.n);
	PUT_LIT(&o, " (");
	spf_comment(&o, f.result.s, f.identity.s, f.identity.n, f.ip.s, f.ip.n,
		    receiver);
	PUT_LIT(&o, ") ");
	PUT_PAIR(&o, &first, "client-ip", f.ip.s, f.ip.n);
	PUT_PAIR(&o, &first, "envelope-from", f.sender.s, f.sender.n);
	PUT_PAIR(&o, &first, "helo", f.helo.s, f.helo.n);
	PUT_PAIR(&o, &first, "receiver", receiver,
		 receiver != NULL ? strlen(receiver) : 0);
	PUT_PAIR(&o, &first, "mechanism", f.mechanism.s, f.mechanism.n);
	PUT_PAIR(&o, &first, "problem", f.problem.s,
		 f.problem.n > SPF_PROBLEM_MAX ? SPF_PROBLEM_MAX : f.problem.n);
	if (f.scope.n == 4 && memcmp(f.scope.s, "helo", 4) == 0)
		PUT_PAIR(&o, &first, "identity", "helo", 4);
	else
		PUT_PAIR(&o, &first, "identity", "mailfrom", 8);
	return finish_out(&o);
}

/* One pass into a guess of its size; a second only for longer fields. */
#define RECEIVED_SPF_GUESS 512

void authres_received_spf(arena *a, mauth_value *r, const char *receiver)
{
	char *text = arena_alloc(a, RECEIVED_SPF_GUESS);
	long n;

	if (text == NULL)
		return;
	n = mauth_received_spf_format(r, receiver, text, RECEIVED_SPF_GUESS);
	if (n >= RECEIVED_SPF_GUESS) {
		text = arena_alloc(a, (size_t)n + 1);
		if (text == NULL)
			return;
		n = mauth_received_spf_format(r, receiver, text, (size_t)n + 1);
	}
	if (n >= 0)
		val_ref(a, r, "received_spf", text, (size_t)n);
}
