/*
 * macro.c - SPF macro expansion (RFC 7208 §7).
 *
 *   macro-string = *( macro-expand / macro-literal )
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                  / "%%" / "%_" / "%-"
 *   transformers = *DIGIT [ "r" ];  delimiter = "." / "-" / "+" / "," /
 *                  "/" / "_" / "="
 *
 * One walker serves both the syntax check (out == NULL) and the expansion,
 * so the two can never disagree about what is valid.
 */
#include <stdio.h>
#include <string.h>
#include "spf/spf_macro.h"

#define MAX_PARTS 128		/* a value split finer than this keeps the rest whole */
#define TOTAL_MAX (1u << 20)	/* no expansion may produce more (macro bombs) */

typedef struct {
	int expand;		/* 0: syntax check only */
	char *out;		/* NULL: count only */
	size_t cap, n;
	size_t total;		/* bytes the expansion produces */
	size_t skip;		/* leading bytes to drop (keeping the tail) */
	int full;
} sink;

static void put(sink *k, const char *s, size_t len)
{
	k->total += len;
	if (k->out == NULL)
		return;
	if (k->skip > 0) {
		size_t drop = len < k->skip ? len : k->skip;

		k->skip -= drop;
		s += drop;
		len -= drop;
	}
	if (k->full || len > k->cap - k->n - 1) {
		k->full = 1;
		return;
	}
	memcpy(k->out + k->n, s, len);
	k->n += len;
}

static int is_delim(int ch)
{
	return ch == '.' || ch == '-' || ch == '+' || ch == ',' ||
	       ch == '/' || ch == '_' || ch == '=';
}

static int is_literal(int ch, int flags)
{
	/* macro-literal = %x21-24 / %x26-7E; explain-string also allows SP */
	if (ch == ' ')
		return (flags & MACRO_EXPLAIN) != 0;
	return ch >= 0x21 && ch <= 0x7e && ch != '%';
}

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* Appends value, URL-escaped when asked (§7.3: unreserved kept). */
static void put_value(sink *k, const char *s, size_t len, int escape)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	if (!escape) {
		put(k, s, len);
		return;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[3];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			put(k, (const char *)&s[i], 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[ch >> 4];
		esc[2] = hex[ch & 15];
		put(k, esc, 3);
	}
}

/* The raw value of a macro letter, in buf when it must be built. */
static int letter_value(int letter, const spf_macro_env *e, char *buf,
			size_t bufsize, const char **v, size_t *vlen)
{
	size_t n = 0;
	int i;

	switch (letter) {
	case 's': *v = e->sender; *vlen = e->sender_len; return 0;
	case 'l': *v = e->local; *vlen = e->local_len; return 0;
	case 'o': *v = e->sdomain; *vlen = e->sdomain_len; return 0;
	case 'd': *v = e->domain; *vlen = e->domain_len; return 0;
	case 'h': *v = e->helo; *vlen = e->helo_len; return 0;
	case 'r': *v = e->receiver; *vlen = e->receiver_len; return 0;
	case 'p': *v = e->ptr; *vlen = e->ptr_len; return 0;
	case 'v':
		*v = e->ip->family == 4 ? "in-addr" : "ip6";
		*vlen = strlen(*v);
		return 0;
	case 'c':
		*vlen = ip_format(e->ip, buf, bufsize);
		*v = buf;
		return 0;
	case 'i':
		if (e->ip->family == 4) {
			*vlen = ip_format(e->ip, buf, bufsize);
		} else {
			/* §7.3: IPv6 as dot-separated nibbles */
			for (i = 0; i < 16; i++) {
				buf[n++] = hex_lower[e->ip->b[i] >> 4];
				buf[n++] = '.';
				buf[n++] = hex_lower[e->ip->b[i] & 15];
				buf[n++] = '.';
			}
			*vlen = n - 1;
		}
		*v = buf;
		return 0;
	case 't':
		*vlen = (size_t)snprintf(buf, bufsize, "%lld", e->now);
		*v = buf;
		return 0;
	}
	return -1;
}

/* Split on delimiters, reverse, keep the right-most keep parts, join with ".". */
static void put_transformed(sink *k, const char *v, size_t vlen,
			    const char *delims, size_t ndelims, unsigned long keep,
			    int reverse, int escape)
{
	const char *start[MAX_PARTS];
	size_t plen[MAX_PARTS];
	size_t nparts = 0, i, first, pos = 0;

	if (ndelims == 0 && keep == 0 && !reverse) {
		put_value(k, v, vlen, escape);
		return;
	}
	while (1) {
		size_t j = pos;

		if (nparts == MAX_PARTS - 1) {
			j = vlen;	/* the rest as one part */
		} else {
			while (j < vlen) {
				int d = ndelims == 0 ? v[j] == '.' :
					memchr(delims, v[j], ndelims) != NULL;

				if (d)
					break;
				j++;
			}
		}
		start[nparts] = v + pos;
		plen[nparts] = j - pos;
		nparts++;
		if (j >= vlen)
			break;
		pos = j + 1;
	}
	if (reverse)
		for (i = 0; i < nparts / 2; i++) {
			const char *ts = start[i];
			size_t tl = plen[i];

			start[i] = start[nparts - 1 - i];
			plen[i] = plen[nparts - 1 - i];
			start[nparts - 1 - i] = ts;
			plen[nparts - 1 - i] = tl;
		}
	first = keep != 0 && keep < nparts ? nparts - keep : 0;
	for (i = first; i < nparts; i++) {
		if (i > first)
			put_value(k, ".", 1, 0);
		put_value(k, start[i], plen[i], escape);
	}
}

static int walk(const char *s, size_t len, const spf_macro_env *env,
		int flags, sink *k, int *uses_p)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)s[i];
		int letter, escape, reverse = 0;
		unsigned long keep = 0;
		int have_digits = 0;
		const char *delims;
		size_t ndelims;

		if (k->total > TOTAL_MAX)
			return MACRO_TOOBIG;
		if (ch != '%') {
			size_t start = i;

			/* a run of literal characters goes out in one piece */
			while (i < len && s[i] != '%') {
				if (!is_literal((unsigned char)s[i], flags))
					return MACRO_SYNTAX;
				i++;
			}
			put(k, s + start, i - start);
			continue;
		}
		if (i + 1 >= len)
			return MACRO_SYNTAX;
		switch (s[i + 1]) {
		case '%': put(k, "%", 1); i += 2; continue;
		case '_': put(k, " ", 1); i += 2; continue;
		case '-': put(k, "%20", 3); i += 2; continue;
		case '{': break;
		default: return MACRO_SYNTAX;
		}
		i += 2;
		if (i >= len)
			return MACRO_SYNTAX;
		letter = lower((unsigned char)s[i]);
		escape = s[i] >= 'A' && s[i] <= 'Z';
		if (strchr("slodiphv", letter) == NULL || letter == '\0') {
			if (!(flags & MACRO_EXPLAIN) || letter == '\0' ||
			    strchr("crt", letter) == NULL)
				return MACRO_SYNTAX;
		}
		if (letter == 'p' && uses_p != NULL)
			*uses_p = 1;
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			have_digits = 1;
			if (keep < 1000)
				keep = keep * 10 + (unsigned long)(s[i] - '0');
			i++;
		}
		if (have_digits && keep == 0)
			return MACRO_SYNTAX;	/* §7.1: the DIGIT must be nonzero */
		if (i < len && (s[i] == 'r' || s[i] == 'R')) {
			reverse = 1;
			i++;
		}
		delims = s + i;
		while (i < len && is_delim((unsigned char)s[i]))
			i++;
		ndelims = (size_t)(s + i - delims);
		if (i >= len || s[i] != '}')
			return MACRO_SYNTAX;
		i++;
		if (k->expand) {
			char buf[80];
			const char *v;
			size_t vlen;
			if (letter_value(letter, env, buf, sizeof buf, &v, &vlen) != 0)
				return MACRO_SYNTAX;
			if (v == NULL)
				v = "", vlen = 0;
			put_transformed(k, v, vlen, delims, ndelims, keep, reverse,
					escape);
		}
	}
	return MACRO_OK;
}

int spf_macro_check(const char *s, size_t len, int flags, int *uses_p)
{
	sink k;

	memset(&k, 0, sizeof k);
	if (uses_p != NULL)
		*uses_p = 0;
	return walk(s, len, NULL, flags, &k, uses_p);
}

int spf_macro_expand(const char *s, size_t len, const spf_macro_env *env,
		     int flags, char *out, size_t cap, size_t *outlen)
{
	sink k;
	int rc;

	*outlen = 0;
	if (cap == 0)
		return MACRO_TOOBIG;
	memset(&k, 0, sizeof k);
	k.expand = 1;
	k.out = out;
	k.cap = cap;
	rc = walk(s, len, env, flags, &k, NULL);
	if (rc != MACRO_OK)
		return rc;
	if (k.full && (flags & MACRO_TAIL)) {
		/* Longer than cap (k.total counted it all): written again, only
		 * the tail (§4.8 cuts from the left).  Rare, so not counted
		 * first on every expansion. */
		size_t total = k.total;

		memset(&k, 0, sizeof k);
		k.expand = 1;
		k.out = out;
		k.cap = cap;
		k.skip = total - (cap - 1);
		rc = walk(s, len, env, flags, &k, NULL);
		if (rc != MACRO_OK)
			return rc;
	}
	if (k.full)
		return MACRO_TOOBIG;
	out[k.n] = '\0';
	*outlen = k.n;
	return MACRO_OK;
}
