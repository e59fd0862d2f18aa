/*
 * util.c - reading options, DNS names, answer blocks, the names of codes
 * and hex digits.
 */
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

/* The member of v named by key[0..len): a map's field or a list's 1-based index. */
static const mauth_value *member(const mauth_value *v, const char *key,
				 size_t len)
{
	const mauth_value *m;

	if (v->kind == MAUTH_V_MAP) {
		/* the first-byte test spares most memcmp calls */
		for (m = v->child; m != NULL; m = m->next)
			if (m->key != NULL && m->key[0] == key[0] &&
			    strncmp(m->key, key, len) == 0 && m->key[len] == '\0')
				return m;
		return NULL;
	}
	if (v->kind == MAUTH_V_LIST) {
		size_t i, n = 0;

		for (i = 0; i < len; i++) {
			if (key[i] < '0' || key[i] > '9' || n > 100000)
				return NULL;
			n = n * 10 + (size_t)(key[i] - '0');
		}
		for (m = v->child; m != NULL && n > 1; m = m->next)
			n--;
		return n == 1 ? m : NULL;
	}
	return NULL;
}

const mauth_value *param_value(const params *p, const char *key)
{
	const mauth_value *v = p->map, *m;

	if (v == NULL)
		return NULL;
	/* Most names are top-level: one pass, no parsing of the key. */
	for (m = v->child; m != NULL; m = m->next)
		if (m->key != NULL && m->key[0] == key[0] && strcmp(m->key, key) == 0)
			return m;
	if (strchr(key, '.') == NULL)
		return NULL;
	while (v != NULL) {
		const char *dot = strchr(key, '.');
		size_t len = dot != NULL ? (size_t)(dot - key) : strlen(key);

		v = member(v, key, len);
		if (dot == NULL)
			return v;
		key = dot + 1;
	}
	return NULL;
}

const char *param_get(const params *p, const char *key, size_t *len)
{
	const mauth_value *v = param_value(p, key);

	if (v == NULL || v->kind != MAUTH_V_STR || v->str == NULL)
		return NULL;
	if (len != NULL)
		*len = v->len;
	return v->str;
}

int param_long(const params *p, const char *key, long min, long max, long *out)
{
	const mauth_value *v = param_value(p, key);

	if (v == NULL)
		return 0;
	if (v->kind != MAUTH_V_INT || v->num < min || v->num > max)
		return -1;
	*out = (long)v->num;
	return 1;
}

int param_bool(const params *p, const char *key, int *out)
{
	const mauth_value *v = param_value(p, key);

	if (v == NULL)
		return 0;
	if (v->kind != MAUTH_V_BOOL)
		return -1;
	*out = v->num != 0;
	return 1;
}

const mauth_value *param_list(const params *p, const char *key, size_t *n)
{
	const mauth_value *v = param_value(p, key), *m;

	*n = 0;
	if (v == NULL || (v->kind != MAUTH_V_LIST && v->kind != MAUTH_V_MAP))
		return NULL;
	for (m = v->child; m != NULL; m = m->next)
		(*n)++;
	return v->child;
}

size_t name_strip_dot(const char *s, size_t len)
{
	size_t slashes = 0;

	if (len == 0 || s[len - 1] != '.')
		return len;
	/* "a\\." ends in a dot, "a\." in an escaped one: count backslashes. */
	while (slashes + 1 < len && s[len - 2 - slashes] == '\\')
		slashes++;
	return slashes % 2 == 0 ? len - 1 : len;
}

int name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return ascii_ieq(a, name_strip_dot(a, alen), b, name_strip_dot(b, blen));
}

int record_name(char out[RECORD_NAME_SIZE], const char *head, const char *tag,
		const char *domain)
{
	size_t hl = head != NULL ? strlen(head) : 0, tl = strlen(tag);
	size_t dl = strlen(domain), dn = name_strip_dot(domain, dl);
	size_t n = 0, i, label = 0;

	out[0] = '\0';
	/* the domain's final dot (a d= may end in the root's) is not counted */
	if (hl > NAME_MAX_TEXT || tl > NAME_MAX_TEXT || dn > NAME_MAX_TEXT ||
	    (head != NULL ? hl + 1 : 0) + tl + 1 + dn > NAME_MAX_TEXT)
		return NAME_TOO_LONG;
	if (head != NULL) {
		memcpy(out, head, hl);
		out[hl] = '.';
		n = hl + 1;
	}
	memcpy(out + n, tag, tl);
	out[n + tl] = '.';
	n += tl + 1;
	memcpy(out + n, domain, dl + 1);
	for (i = 0; i <= n + dn; i++) {
		if (i < n + dn && out[i] == '\\')
			return NAME_BAD_LABEL;	/* no part has escapes */
		if (i < n + dn && out[i] != '.') {
			label++;
			continue;
		}
		if (label == 0 || label > LABEL_MAX)
			return NAME_BAD_LABEL;
		label = 0;
	}
	return (int)(n + dl);
}

const char *record_name_problem(int err)
{
	return err == NAME_TOO_LONG ?
	       "is over 253 octets (RFC 1035 §2.3.4)" :
	       "has a label empty or over 63 octets (RFC 1035 §2.3.4)";
}

/*
 * Counts wire octets the way a resolver will encode the text: "\." and
 * "\DDD" are one octet.  Rejects empty labels, labels over 63 octets,
 * names over 255 octets on the wire, and NUL bytes.
 */
int name_is_ldh(const char *s, size_t len, int underscore)
{
	size_t i, label = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9') ||
		      (c == '_' && underscore) || (c == '-' && label > 0)))
			return 0;
		label++;
	}
	return label > 0 && s[len - 1] != '-';
}

/*
 * name_is_valid for a name without "\\" or NUL (nearly all): only label
 * lengths to check, found with memchr, a word at a time.
 */
static int plain_name_is_valid(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	if (len > 253)
		return 0;	/* 255 octets in the wire form (RFC 1035 §3.1) */
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t label = (size_t)((dot != NULL ? dot : end) - p);

		if (label == 0 || label > LABEL_MAX)
			return 0;
		if (dot == NULL)
			return 1;
		p = dot + 1;
	}
}

int name_is_valid(const char *s, size_t len)
{
	size_t i, label = 0, wire = 1;

	len = name_strip_dot(s, len);
	if (len == 0)
		return 0;
	if (memchr(s, '\\', len) == NULL && memchr(s, '\0', len) == NULL)
		return plain_name_is_valid(s, len);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* letters, digits and most else: one test (all are above '.') */
		if (ch > '.' && ch != '\\') {
			if (++label > LABEL_MAX)
				return 0;
			continue;
		}
		if (ch == '\0')
			return 0;
		if (ch == '.') {
			if (label == 0)
				return 0;
			wire += label + 1;
			label = 0;
			continue;
		}
		if (ch == '\\') {
			if (i + 1 >= len)
				return 0;
			if (s[i + 1] >= '0' && s[i + 1] <= '9') {
				int v;

				if (i + 3 >= len)
					return 0;
				if (s[i + 2] < '0' || s[i + 2] > '9' ||
				    s[i + 3] < '0' || s[i + 3] > '9')
					return 0;
				v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 +
				    (s[i + 3] - '0');
				if (v > 255 || v == 0)
					return 0;
				i += 3;
			} else {
				i += 1;
			}
		}
		if (++label > LABEL_MAX)
			return 0;
	}
	if (label == 0)
		return 0;	/* "a.." ends in an empty label */
	wire += label + 1;
	return wire <= 255;
}

mauth_answer *answer_build_chain(int rcode, unsigned ttl, int secure,
				 const mauth_rr *rr, size_t n,
				 const char *const *cnames, size_t ncnames)
{
	size_t i, size = sizeof(mauth_answer) + n * sizeof(mauth_rr) +
			 ncnames * sizeof(char *);
	mauth_answer *a;
	mauth_rr *out;
	const char **names;
	char *data;

	if (ncnames > 255)
		return NULL;	/* no chain is that long: CNAME_CHAIN_MAX */
	for (i = 0; i < n; i++) {
		if (rr[i].len > (size_t)-1 / 2 - size)
			return NULL;
		size += rr[i].len + 1;
	}
	for (i = 0; i < ncnames; i++) {
		size_t len = strlen(cnames[i]);

		if (len > (size_t)-1 / 2 - size)
			return NULL;
		size += len + 1;
	}
	a = malloc(size);
	if (a == NULL)
		return NULL;
	/* header, records, chain pointers, then the bytes they point at */
	out = (mauth_rr *)(a + 1);
	names = (const char **)(out + n);
	data = (char *)(names + ncnames);
	for (i = 0; i < n; i++) {
		if (rr[i].len > 0)
			memcpy(data, rr[i].data, rr[i].len);
		data[rr[i].len] = '\0';
		out[i].data = data;
		out[i].len = rr[i].len;
		out[i].pref = rr[i].pref;
		data += rr[i].len + 1;
	}
	for (i = 0; i < ncnames; i++) {
		size_t k, len = strlen(cnames[i]);

		for (k = 0; k < len; k++) {
			char ch = cnames[i][k];

			data[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		/* "name." and "name" are one name; the root stays "." */
		if (len > 1)
			len = name_strip_dot(data, len);
		data[len] = '\0';
		names[i] = data;
		data += len + 1;
	}
	a->rcode = rcode;
	a->ttl = ttl;
	a->secure = secure;
	a->n = n;
	a->rr = n > 0 ? out : NULL;
	a->cnames = ncnames > 0 ? names : NULL;
	a->ncnames = ncnames;
	return a;
}

mauth_answer *answer_build(int rcode, unsigned ttl, int secure,
			   const mauth_rr *rr, size_t n)
{
	return answer_build_chain(rcode, ttl, secure, rr, n, NULL, 0);
}

mauth_answer *mauth_answer_dup(const mauth_answer *a)
{
	return answer_build_chain(a->rcode, a->ttl, a->secure, a->rr, a->n,
				  a->cnames, a->ncnames);
}

void mauth_answer_free(mauth_answer *a)
{
	free(a);
}

int answer_is_temporary(const mauth_answer *a)
{
	return a->rcode != MAUTH_RC_NOERROR && a->rcode != MAUTH_RC_NXDOMAIN;
}

static const struct {
	int code;
	const char *name;
} rcodes[] = {
	{ MAUTH_RC_NOERROR, "NOERROR" }, { MAUTH_RC_FORMERR, "FORMERR" },
	{ MAUTH_RC_SERVFAIL, "SERVFAIL" }, { MAUTH_RC_NXDOMAIN, "NXDOMAIN" },
	{ MAUTH_RC_NOTIMP, "NOTIMP" }, { MAUTH_RC_REFUSED, "REFUSED" },
	{ MAUTH_RC_TIMEOUT, "TIMEOUT" }, { MAUTH_RC_BADNAME, "BADNAME" },
}, qtypes[] = {
	{ MAUTH_T_A, "A" }, { MAUTH_T_NS, "NS" }, { MAUTH_T_CNAME, "CNAME" },
	{ MAUTH_T_SOA, "SOA" }, { MAUTH_T_PTR, "PTR" }, { MAUTH_T_MX, "MX" },
	{ MAUTH_T_TXT, "TXT" }, { MAUTH_T_AAAA, "AAAA" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *rcode_name(int rcode)
{
	size_t i;

	for (i = 0; i < NELEM(rcodes); i++)
		if (rcodes[i].code == rcode)
			return rcodes[i].name;
	return "SERVFAIL";
}

/*
 * One code per temporary DNS condition, the same in every protocol
 * (doc/codes.md): policy matches "dns_timeout", whichever check met it.
 */
const char *rcode_code(int rcode)
{
	switch (rcode) {
	case MAUTH_RC_TIMEOUT:
		return "dns_timeout";
	case MAUTH_RC_SERVFAIL:
		return "dns_servfail";
	case MAUTH_RC_REFUSED:
		return "dns_refused";
	case MAUTH_RC_BADNAME:
		return "dns_bad_name";
	default:
		return "dns_error";
	}
}

int rcode_from_name(const char *s)
{
	size_t i;

	for (i = 0; i < NELEM(rcodes); i++)
		if (strcmp(rcodes[i].name, s) == 0)
			return rcodes[i].code;
	return -1;
}

const char *qtype_name(int type)
{
	size_t i;

	for (i = 0; i < NELEM(qtypes); i++)
		if (qtypes[i].code == type)
			return qtypes[i].name;
	return NULL;
}

int qtype_from_name(const char *s)
{
	size_t i;

	for (i = 0; i < NELEM(qtypes); i++)
		if (ascii_ieq(qtypes[i].name, strlen(qtypes[i].name), s, strlen(s)))
			return qtypes[i].code;
	return -1;
}

unsigned long long text_hash(const char *s, size_t len)
{
	unsigned long long h = 0x9e3779b97f4a7c15ULL ^ len;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		unsigned long long w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

const char hex_lower[17] = "0123456789abcdef";

void hex_encode(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_lower[p[i] >> 4];
		out[2 * i + 1] = hex_lower[p[i] & 15];
	}
	out[2 * n] = '\0';
}
