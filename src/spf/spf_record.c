/*
 * spfrecord.c - parses one SPF record into terms, once (RFC 7208 §4.6.1,
 * §5, §6 and the ABNF of §12).  Any syntax error makes the whole record a
 * permerror (§4.6), so the evaluator never meets a half-valid record.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "spf/spf_macro.h"
#include "spf/spf.h"

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int is_alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

int spf_is_record(const char *txt, size_t len)
{
	/* "v=spf1" in any case; | 0x20 lowercases exactly V, S, P, F here */
	return len >= 6 && (txt[0] | 0x20) == 'v' && txt[1] == '=' &&
	       (txt[2] | 0x20) == 's' && (txt[3] | 0x20) == 'p' &&
	       (txt[4] | 0x20) == 'f' && txt[5] == '1' &&
	       (len == 6 || txt[6] == ' ');
}

const char *spf_result_name(int r)
{
	static const char *const names[] = {
		"none", "neutral", "pass", "fail", "softfail", "temperror",
		"permerror"
	};

	return r >= 0 && r <= SPF_R_PERMERROR ? names[r] : "permerror";
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static int is_toplabel(const char *s, size_t len)
{
	size_t i;
	int alpha = 0, dash = 0;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (is_alpha((unsigned char)s[i]))
			alpha = 1;
		else if (s[i] == '-')
			dash = 1;
		else if (!is_digit((unsigned char)s[i]))
			return 0;
	}
	return alpha || dash;
}

const char *spf_target_cut(const char *s, size_t *n)
{
	if (*n > 0 && s[*n - 1] == '.')
		(*n)--;
	while (*n > NAME_MAX_TEXT) {
		const char *dot = memchr(s, '.', *n);

		if (dot == NULL)
			break;
		*n -= (size_t)(dot + 1 - s);
		s = dot + 1;
	}
	return s;
}

int spf_target_valid(const char *s, size_t n)
{
	return n <= NAME_MAX_TEXT && name_is_valid(s, n) &&
	       memchr(s, '\\', n) == NULL;
}

/* SPF_NAME_* of a domain-spec checked by spf_domain_spec_ok. */
static unsigned char spec_name(const char *s, size_t n, int uses_p)
{
	if (uses_p || memchr(s, '%', n) != NULL)
		return SPF_NAME_MACRO;
	s = spf_target_cut(s, &n);
	return spf_target_valid(s, n) ? SPF_NAME_VALID : SPF_NAME_INVALID;
}

/* domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand */
int spf_domain_spec_ok(const char *s, size_t len, int *uses_p)
{
	size_t i = 0, last_macro_end = (size_t)-1, dot;

	if (len == 0)
		return 0;
	if (memchr(s, '%', len) == NULL) {
		/* no macro (the usual case): visible characters only, %x21-7E */
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
				return 0;
		if (uses_p != NULL)
			*uses_p = 0;
		i = len;
	} else if (spf_macro_check(s, len, 0, uses_p) != MACRO_OK) {
		return 0;
	}
	/* The syntax is valid, so this scan only has to find the macros. */
	while (i < len) {
		if (s[i] != '%') {
			i++;
			continue;
		}
		if (s[i + 1] != '{') {
			i += 2;
			continue;
		}
		while (s[i] != '}')
			i++;
		last_macro_end = ++i;
	}
	if (last_macro_end == len)
		return 1;
	if (s[len - 1] == '.')
		len--;
	for (dot = len; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return 0;	/* a single label: not "." toplabel */
	return is_toplabel(s + dot, len - dot);
}

/* "/" followed by a decimal without leading zero, at most max; advances *p. */
static int cidr_number(const char *s, size_t len, size_t *p, unsigned max,
		       unsigned char *out)
{
	size_t i = *p, start;
	unsigned v = 0;

	if (i >= len || s[i] != '/')
		return -1;
	start = ++i;
	while (i < len && is_digit((unsigned char)s[i]) && i - start < 4)
		v = v * 10 + (unsigned)(s[i++] - '0');
	if (i == start || (s[start] == '0' && i - start > 1) || v > max)
		return -1;
	*out = (unsigned char)v;
	*p = i;
	return 0;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] */
static int dual_cidr(const char *s, size_t len, spf_term *t)
{
	size_t p = 0;

	if (len == 0)
		return 0;
	if (len >= 2 && s[0] == '/' && s[1] == '/') {
		p = 1;
		if (cidr_number(s, len, &p, 128, &t->cidr6) != 0)
			return -1;
		return p == len ? 0 : -1;
	}
	if (cidr_number(s, len, &p, 32, &t->cidr4) != 0)
		return -1;
	if (p == len)
		return 0;
	if (p + 1 < len && s[p] == '/' && s[p + 1] == '/') {
		p++;
		if (cidr_number(s, len, &p, 128, &t->cidr6) != 0)
			return -1;
	}
	return p == len ? 0 : -1;
}

/*
 * Where a trailing dual-cidr-length starts in "domain-spec dual-cidr":
 * a domain-spec may itself hold "/" (any visible char, §7.1), so the cidr
 * is taken from the end: [ "/" 1*DIGIT ] [ "//" 1*DIGIT ].
 */
static size_t cidr_start(const char *s, size_t len)
{
	size_t j = len, k;

	k = j;
	while (k > 0 && is_digit((unsigned char)s[k - 1]))
		k--;
	if (k < j && k >= 2 && s[k - 1] == '/' && s[k - 2] == '/') {
		j = k - 2;
		k = j;
		while (k > 0 && is_digit((unsigned char)s[k - 1]))
			k--;
	}
	if (k < j && k >= 1 && s[k - 1] == '/' && !(k >= 2 && s[k - 2] == '/'))
		j = k - 1;
	return j;
}

static int parse_ip(const char *s, size_t len, int family, ipaddr *out)
{
	char buf[64];

	memset(out, 0, sizeof *out);
	out->family = family;
	if (family == 4)	/* rejects NUL and any other stray byte itself */
		return ip_parse_v4(s, len, out->b);
	if (len == 0 || len >= sizeof buf || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* Not ip_parse(): an ip6: network stays IPv6 even when v4-mapped. */
	return inet_pton(AF_INET6, buf, out->b) == 1 ? 0 : -1;
}

static const struct {
	const char *name;
	size_t len;
	enum spf_mech mech;
} mechs[] = {
	{ "all", 3, SPF_ALL }, { "include", 7, SPF_INCLUDE }, { "a", 1, SPF_A },
	{ "mx", 2, SPF_MX }, { "ptr", 3, SPF_PTR }, { "ip4", 3, SPF_IP4 },
	{ "ip6", 3, SPF_IP6 }, { "exists", 6, SPF_EXISTS },
};

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return MAUTH_EINVAL; } while (0)

static int parse_mechanism(spf_term *t, const char *name, size_t nlen,
			   const char *rest, size_t rlen, char *err, size_t errlen)
{
	size_t i, cut;
	int uses_p = 0;

	for (i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
		if (nlen == mechs[i].len && lower((unsigned char)name[0]) == mechs[i].name[0] &&
		    ascii_ieq(name, nlen, mechs[i].name, nlen))
			break;
	if (i == sizeof mechs / sizeof mechs[0])
		FAIL("unknown mechanism '%.*s'", (int)(nlen > 40 ? 40 : nlen), name);
	t->mech = (unsigned char)mechs[i].mech;
	t->cidr4 = 32;
	t->cidr6 = 128;
	switch (t->mech) {
	case SPF_ALL:
		if (rlen != 0)
			FAIL("'all' takes no argument");
		return 0;
	case SPF_IP4:
	case SPF_IP6:
		if (rlen < 2 || rest[0] != ':')
			FAIL("'%s' needs an address", mechs[i].name);
		cut = 1;
		while (cut < rlen && rest[cut] != '/')
			cut++;
		if (parse_ip(rest + 1, cut - 1, t->mech == SPF_IP4 ? 4 : 6,
			     &t->net) != 0)
			FAIL("'%s': bad address", mechs[i].name);
		if (cut < rlen) {
			size_t p = cut;

			if (cidr_number(rest, rlen, &p, t->mech == SPF_IP4 ? 32 : 128,
					t->mech == SPF_IP4 ? &t->cidr4 : &t->cidr6) != 0 ||
			    p != rlen)
				FAIL("'%s': bad CIDR length", mechs[i].name);
		}
		return 0;
	default:
		break;
	}
	if (rlen > 0 && rest[0] == ':') {
		cut = (t->mech == SPF_A || t->mech == SPF_MX) ?
		      cidr_start(rest + 1, rlen - 1) + 1 : rlen;
		t->spec = rest + 1;
		t->spec_len = cut - 1;
		if (!spf_domain_spec_ok(t->spec, t->spec_len, &uses_p))
			FAIL("'%s': bad domain-spec", mechs[i].name);
		t->uses_p = (unsigned char)uses_p;
		t->spec_name = spec_name(t->spec, t->spec_len, uses_p);
		rest += cut;
		rlen -= cut;
	} else if (t->mech == SPF_INCLUDE || t->mech == SPF_EXISTS) {
		FAIL("'%s' needs a domain", mechs[i].name);
	}
	if (rlen == 0)
		return 0;
	if ((t->mech == SPF_A || t->mech == SPF_MX) && dual_cidr(rest, rlen, t) == 0)
		return 0;
	FAIL("'%s': bad argument", mechs[i].name);
}

/* Room for the terms: at most one per space (memchr beats a byte loop). */
static int alloc_terms(const char *txt, size_t len, spf_record *rec, arena *a)
{
	size_t i, max = 0;

	for (i = 6; i < len; i++) {
		const char *sp = memchr(txt + i, ' ', len - i);

		if (sp == NULL)
			break;
		max++;
		i = (size_t)(sp - txt);
	}
	rec->terms = arena_alloc(a, (max ? max : 1) * sizeof *rec->terms);
	return rec->terms != NULL ? 0 : MAUTH_ENOMEM;
}

/*
 * A term's qualifier (§4.6.2) and name: the mechanism or modifier name
 * ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), of length *nlen (0: none).
 */
static const char *term_name(const char *tok, size_t tlen, int *qual,
			     int *has_qual, size_t *nlen)
{
	const char *name = tok;

	*qual = SPF_R_PASS;
	*has_qual = 1;
	switch (*name) {
	case '+': *qual = SPF_R_PASS; break;
	case '-': *qual = SPF_R_FAIL; break;
	case '~': *qual = SPF_R_SOFTFAIL; break;
	case '?': *qual = SPF_R_NEUTRAL; break;
	default: *has_qual = 0; break;
	}
	name += *has_qual;
	*nlen = 0;
	if (name < tok + tlen && is_alpha((unsigned char)*name))
		while (name + *nlen < tok + tlen &&
		       (is_alpha((unsigned char)name[*nlen]) ||
			is_digit((unsigned char)name[*nlen]) ||
			name[*nlen] == '-' || name[*nlen] == '_' ||
			name[*nlen] == '.'))
			(*nlen)++;
	return name;
}

/* name=value (§6): redirect= and exp= once each; others must parse. */
static int parse_modifier(spf_record *rec, const char *name, size_t nlen,
			  const char *val, size_t vlen, char *err, size_t errlen)
{
	int uses_p = 0;

	if (ascii_ieq(name, nlen, "redirect", 8) || ascii_ieq(name, nlen, "exp", 3)) {
		int is_redirect = lower((unsigned char)name[0]) == 'r';

		if (is_redirect ? rec->redirect != NULL : rec->exp != NULL)
			FAIL("'%s=' appears twice", is_redirect ? "redirect" : "exp");
		if (!spf_domain_spec_ok(val, vlen, &uses_p))
			FAIL("'%s=': bad domain-spec", is_redirect ? "redirect" : "exp");
		if (is_redirect) {
			rec->redirect = val;
			rec->redirect_len = vlen;
			rec->redirect_uses_p = (unsigned char)uses_p;
			rec->redirect_name = spec_name(val, vlen, uses_p);
		} else {
			rec->exp = val;
			rec->exp_len = vlen;
			rec->exp_uses_p = (unsigned char)uses_p;
		}
	} else if (spf_macro_check(val, vlen, 0, NULL) != MACRO_OK) {
		/* §6: unknown modifiers are ignored, but must parse */
		FAIL("modifier '%.*s': bad macro-string",
		     (int)(nlen > 40 ? 40 : nlen), name);
	}
	return 0;
}

int spf_record_parse(const char *txt, size_t len, spf_record *rec,
		     arena *a, char *err, size_t errlen)
{
	size_t i = 6, n = 0;

	memset(rec, 0, sizeof *rec);
	if (!spf_is_record(txt, len))
		FAIL("not an SPF record");
	if (len > SPF_RECORD_MAX)
		FAIL("record longer than %d bytes", SPF_RECORD_MAX);
	if (alloc_terms(txt, len, rec, a) != 0)
		return MAUTH_ENOMEM;
	while (i < len) {
		const char *tok, *name, *sp;
		size_t tlen, nlen;
		spf_term *t;
		int qual, has_qual, rc;

		while (i < len && txt[i] == ' ')
			i++;
		if (i == len)
			break;
		tok = txt + i;
		sp = memchr(tok, ' ', len - i);
		i = sp != NULL ? (size_t)(sp - txt) : len;
		tlen = (size_t)(txt + i - tok);
		name = term_name(tok, tlen, &qual, &has_qual, &nlen);
		if (nlen == 0)
			FAIL("bad term '%.*s'", (int)(tlen > 40 ? 40 : tlen), tok);
		if (name + nlen < tok + tlen && name[nlen] == '=') {
			if (has_qual)
				FAIL("a modifier takes no qualifier");
			rc = parse_modifier(rec, name, nlen, name + nlen + 1,
					    (size_t)(tok + tlen - name - nlen - 1),
					    err, errlen);
			if (rc != 0)
				return rc;
			continue;
		}
		t = &rec->terms[n];
		memset(t, 0, sizeof *t);
		t->result = (unsigned char)qual;
		t->text = tok;
		t->text_len = tlen;
		rc = parse_mechanism(t, name, nlen, name + nlen,
				     (size_t)(tok + tlen - name - nlen), err, errlen);
		if (rc != 0)
			return rc;
		n++;
	}
	rec->n = n;
	return 0;
}
