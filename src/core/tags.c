/*
 * tags.c - the tag=value list parser of RFC 6376 §3.2 (see tags.h).
 * Strict: a syntax error makes the whole list unusable, because a
 * signature or record that parses differently in different verifiers is
 * an attack surface.
 */
#include <string.h>
#include "core/tags.h"

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Skips FWS (WSP, and CRLF or LF followed by WSP); returns the new offset. */
static size_t skip_fws(const char *s, size_t len, size_t i)
{
	for (;;) {
		if (i < len && is_wsp(s[i])) {
			i++;
		} else if (i + 1 < len && s[i] == '\n' && is_wsp(s[i + 1])) {
			i += 1;
		} else if (i + 2 < len && s[i] == '\r' && s[i + 1] == '\n' &&
			   is_wsp(s[i + 2])) {
			i += 2;
		} else {
			return i;
		}
	}
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnumpunc(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/*
 * VALCHAR (RFC 6376 §3.2) plus UTF8-non-ascii octets: RFC 8616 §4 lets
 * d= and i= carry U-labels.  Which tags may hold them is for each tag's
 * own syntax to say (base64, numbers and names still refuse them).
 */
static int is_valchar(unsigned char c)
{
	return (c >= 0x21 && c <= 0x7e && c != ';') || c >= 0x80;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The end of the run of value characters at i.  Values are long (b=, bh=,
 * p= are base64 of hundreds of bytes) and folded only now and then, so
 * 16 bytes are checked at once where SSE2 is there (every x86-64).
 */
static size_t valchars_end(const char *s, size_t len, size_t i)
{
#if defined(__SSE2__)
	const __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7f);
	const __m128i semi = _mm_set1_epi8(';');

	while (len - i >= 16) {
		/* signed compares: bytes >= 0x80 are negative, so they are
		 * taken by the second test (UTF-8 octets, see is_valchar) */
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i ok = _mm_or_si128(
			_mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi)),
			_mm_cmplt_epi8(v, _mm_setzero_si128()));
		unsigned bad = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(
			_mm_cmpeq_epi8(v, semi), ok)) ^ 0xffffU;

		if (bad != 0)
			return i + (unsigned)__builtin_ctz(bad);
		i += 16;
	}
#endif
	while (i < len && is_valchar((unsigned char)s[i]))
		i++;
	return i;
}

int tags_parse(const char *s, size_t len, tag_list *out, const char **why)
{
	size_t i = 0, j;

	out->n = 0;
	for (;;) {
		tag *t;
		size_t end;

		i = skip_fws(s, len, i);
		if (i == len)
			return 0;	/* empty list, or a trailing ";" */
		if (!is_alpha(s[i])) {
			*why = "tag name expected";
			return -1;
		}
		if (out->n == TAGS_MAX) {
			*why = "too many tags";
			return -1;
		}
		t = &out->v[out->n];
		t->name = s + i;
		while (i < len && is_alnumpunc(s[i]))
			i++;
		t->nlen = (size_t)(s + i - t->name);
		i = skip_fws(s, len, i);
		if (i == len || s[i] != '=') {
			*why = "\"=\" expected after tag name";
			return -1;
		}
		i++;
		t->raw_start = i;
		i = skip_fws(s, len, i);
		t->val = s + i;
		end = i;
		/* tval *( FWS tval ): stop at ";" or at the end. */
		while (i < len && s[i] != ';') {
			if (is_valchar((unsigned char)s[i])) {
				i = valchars_end(s, len, i + 1);
				end = i;
				continue;
			}
			j = skip_fws(s, len, i);
			if (j == i) {
				*why = "invalid character in tag value";
				return -1;
			}
			i = j;
		}
		t->vlen = (size_t)(s + end - t->val);
		t->raw_end = i;
		for (j = 0; j < out->n; j++)
			if (out->v[j].nlen == t->nlen &&
			    out->v[j].name[0] == t->name[0] &&
			    memcmp(out->v[j].name, t->name, t->nlen) == 0) {
				*why = "duplicate tag";
				return -1;
			}
		out->n++;
		if (i == len)
			return 0;
		i++;		/* the ";" */
	}
}

int tag_ieq(const tag *t, const char *s)
{
	size_t i, n = strlen(s);

	if (t->vlen != n)
		return 0;
	for (i = 0; i < n; i++) {
		char a = t->val[i], b = s[i];

		if (a >= 'A' && a <= 'Z')
			a = (char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (char)(b + 32);
		if (a != b)
			return 0;
	}
	return 1;
}

size_t tag_compact(const tag *t, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < t->vlen;) {
		char c = t->val[i];
		size_t e;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		/* a run of value characters (the parser allowed nothing
		 * else but FWS inside a value) */
		e = valchars_end(t->val, t->vlen, i + 1);
		if (n + (e - i) >= outlen)
			return (size_t)-1;
		memcpy(out + n, t->val + i, e - i);
		n += e - i;
		i = e;
	}
	if (outlen == 0)
		return (size_t)-1;
	out[n] = '\0';
	return n;
}

int is_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

long long tag_number(const tag *t, size_t maxd)
{
	long long v = 0;
	size_t i;

	if (!is_digits(t->val, t->vlen) || t->vlen > maxd)
		return -1;
	for (i = 0; i < t->vlen; i++)
		v = v * 10 + (t->val[i] - '0');
	return v;
}

char *tag_dup(arena *a, const tag *t)
{
	char *out = arena_alloc(a, t->vlen + 1);

	if (out == NULL || tag_compact(t, out, t->vlen + 1) == (size_t)-1)
		return NULL;
	return out;
}
