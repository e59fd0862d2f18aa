/*
 * authres.c - parser of Authentication-Results header fields (RFC 8601 §2.2)
 * and of ARC-Authentication-Results values (RFC 8617 §4.1.1: "i=" N ";"
 * first).  Pure: kind "authres_parse", params "text", "lenient" and
 * "dialect" ("strict", the default, or "microsoft").
 *
 *   authres-payload = [CFWS] authserv-id [ CFWS authres-version ]
 *                     ( no-result / 1*resinfo ) [CFWS] CRLF
 *   resinfo    = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
 *   methodspec = [CFWS] method [CFWS] "=" [CFWS] result
 *   method     = Keyword [ [CFWS] "/" [CFWS] method-version ]
 *   propspec   = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
 *   pvalue     = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
 *
 * Result: { authserv_id, version, instance, results = { { method,
 * method_version, result, comment, reason, properties = { { ptype, property,
 * value } } } } } or, for "none", result = "none" and an empty results list.
 * Keywords (method, result, ptype, property) are lower-cased; they are
 * case-insensitive.  A text that does not parse gives { invalid = reason }.
 *
 * lenient = 1 also accepts what real servers write outside the grammar:
 * a trailing ";", no resinfo after the authserv-id, properties without a
 * "ptype.", unquoted values holding "/", "=", "+" or ":" inside a base64 or
 * IP-free run, "_" in keywords, and a missing authserv-id.
 *
 * dialect = "microsoft" reads what Exchange Online writes in its
 * Authentication-Results and ARC-Authentication-Results, and nothing else
 * outside the grammar (each extension sits where the strict grammar has no
 * alternative, so a strictly valid field parses to the same tree):
 *   - no authserv-id when the text starts with "method=" (inbound
 *     Authentication-Results, never an ARC one: those keep "i=N; id");
 *     authserv_id is then absent;
 *   - "action=none" in a dmarc result: the one property Microsoft writes
 *     without a ptype; it gets ptype "" (any other bare name, or action in
 *     another method's result, still fails);
 *   - an empty value right before ";" or the end ("header.from=;");
 *   - a bare domain-name between results ("header.d=none;contoso.com;
 *     dmarc=..."), the authserv-id repeated per result: skipped;
 *   - one ";" at the end.
 * Values keep the strict pvalue rule (no lenient base64 runs, no skipping
 * to the next ";"), so "header.d=contoso.com.attacker.example" is read
 * whole and "header.d=contoso.com attacker.example" is rejected.  Repeated
 * properties (two header.d in one result) are kept, both, in order, as the
 * strict grammar (1*propspec) allows: the caller must refuse them.
 *
 * Comments nest to any depth: they are skipped with a counter, never by
 * recursion.  Sizes are bounded (AUTHRES_MAX_*).
 */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"

#define AUTHRES_MAX_LEN 65536	/* bytes of one header field */
#define AUTHRES_MAX_RESULTS 256
#define AUTHRES_MAX_PROPS 64	/* per result */

typedef struct {
	const char *s;
	size_t n, i;
	int lenient;
	int microsoft;	/* dialect = "microsoft" */
	arena *a;
	char err[160];
	/* text of the first comment skipped by the last cfws(), if asked */
	char *comment;
	size_t comment_len;
} parser;

static int fail(parser *p, const char *what)
{
	if (p->err[0] == '\0')
		snprintf(p->err, sizeof p->err, "%s at byte %zu", what, p->i);
	return -1;
}

static int is_alpha(int c)
{
	return (c | 32) >= 'a' && (c | 32) <= 'z';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 2045 token characters: CHAR except SPACE, CTLs and tspecials. */
static int is_tchar(int c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 5322 atext. */
static int is_atext(int c)
{
	return is_alpha(c) || is_digit(c) || (c > 32 && c < 127 &&
					      strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/*
 * The text of a comment: quoted-pairs resolved, folding removed, so that
 * the formatter can write it back escaped and get the same text again.
 */
static int comment_text(parser *p, size_t from, size_t to)
{
	char *out = arena_alloc(p->a, to - from + 1);
	size_t o = 0, k;

	if (out == NULL)
		return -1;
	for (k = from; k < to; k++) {
		if (p->s[k] == '\\' && k + 1 < to)
			k++;
		else if (p->s[k] == '\r' || p->s[k] == '\n')
			continue;
		out[o++] = p->s[k];
	}
	out[o] = '\0';
	p->comment = out;
	p->comment_len = o;
	return 0;
}

/*
 * [CFWS]: spaces, folding and comments.  With want_comment the first
 * comment's inner text is kept in p->comment.  Returns 1 when anything was
 * skipped, 0 when nothing, -1 on an unterminated comment.
 */
static int cfws(parser *p, int want_comment)
{
	size_t start = p->i;

	if (want_comment)
		p->comment = NULL;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p->i++;
			continue;
		}
		if (c == '(') {
			size_t depth = 1, open = p->i;

			p->i++;
			while (p->i < p->n && depth > 0) {
				c = (unsigned char)p->s[p->i];
				if (c == '\\' && p->i + 1 < p->n)
					p->i++;
				else if (c == '(')
					depth++;
				else if (c == ')')
					depth--;
				p->i++;
			}
			if (depth > 0) {
				p->i = open;
				return fail(p, "unterminated comment");
			}
			if (want_comment && p->comment == NULL &&
			    comment_text(p, open + 1, p->i - 1) < 0)
				return fail(p, "out of memory");
			continue;
		}
		break;
	}
	return p->i > start;
}

static int at_end(parser *p)
{
	return p->i >= p->n;
}

static int peek(parser *p)
{
	return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static char *quoted(parser *p, size_t *len);

static void lower_in_place(char *s)
{
	for (; s != NULL && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

/*
 * Keyword (RFC 5321 Ldh-str), lower-cased into the arena.  Lenient: "_" and
 * "." inside (Yahoo's "dkim_pass", Gmail's "gateway.spf"), and a keyword
 * written as a quoted-string.
 */
static char *keyword_ex(parser *p, const char *what, int dot)
{
	size_t start = p->i, len;
	char *out;

	if (p->lenient && p->i < p->n && p->s[p->i] == '"') {
		out = quoted(p, &len);
		lower_in_place(out);
		return out;
	}
	while (p->i < p->n) {
		int c = (unsigned char)p->s[p->i];

		if (is_alpha(c) || is_digit(c) || c == '-' ||
		    (p->lenient && (c == '_' || (c == '.' && dot))))
			p->i++;
		else
			break;
	}
	if (p->i == start || !(is_alpha((unsigned char)p->s[start]) ||
				is_digit((unsigned char)p->s[start])) ||
	    (p->s[p->i - 1] == '-' && !p->lenient)) {
		p->i = start;
		fail(p, what);
		return NULL;
	}
	out = arena_strndup(p->a, p->s + start, p->i - start);
	lower_in_place(out);
	return out;
}

static char *keyword(parser *p, const char *what)
{
	return keyword_ex(p, what, 0);
}

/*
 * quoted-string, unquoted (quoted-pairs resolved, folding removed).  The
 * closing quote is found first so that only the string's own length is
 * allocated: sizing by the rest of the field made a field of many short
 * quoted strings cost its length squared (600 MB for 64 KB).
 */
static char *quoted(parser *p, size_t *len)
{
	size_t end = p->i + 1, o = 0;
	char *out;

	while (end < p->n && p->s[end] != '"')
		end += p->s[end] == '\\' && end + 1 < p->n ? 2 : 1;
	if (end >= p->n) {
		fail(p, "unterminated quoted-string");
		return NULL;
	}
	p->i++;
	out = arena_alloc(p->a, end - p->i + 1);
	if (out == NULL)
		return NULL;
	while (p->i < end) {
		char c = p->s[p->i];

		if (c == '\\' && p->i + 1 < p->n) {
			out[o++] = p->s[p->i + 1];
			p->i += 2;
			continue;
		}
		if (c != '\r' && c != '\n')
			out[o++] = c;
		p->i++;
	}
	p->i++;
	out[o] = '\0';
	*len = o;
	return out;
}

/* value = token / quoted-string (RFC 2045). */
static char *value(parser *p, size_t *len, const char *what)
{
	size_t start = p->i;

	if (peek(p) == '"')
		return quoted(p, len);
	while (p->i < p->n && is_tchar((unsigned char)p->s[p->i]))
		p->i++;
	if (p->i == start) {
		fail(p, what);
		return NULL;
	}
	*len = p->i - start;
	return arena_strndup(p->a, p->s + start, *len);
}

/* domain-name (RFC 6376): sub-domains joined by dots, LDH labels. */
static int domain_ok(const char *s, size_t n)
{
	return name_is_ldh(s, n, 0);
}

/* dot-atom text (RFC 5322). */
static int is_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!(is_atext((unsigned char)s[i]) ||
		      (s[i] == '.' && s[i - 1] != '.')))
			return 0;
	return 1;
}

/*
 * pvalue: a value, or [ [ local-part ] "@" ] domain-name.  The run of
 * characters up to a space, ";" or "(" is taken and then judged.
 */
static char *pvalue(parser *p, size_t *len)
{
	size_t start, end, k, dstart;
	const char *at;

	if (cfws(p, 0) < 0)
		return NULL;
	start = p->i;
	if (peek(p) == '"') {
		char *q = quoted(p, len);

		if (q == NULL || peek(p) != '@')
			return q;
		/* "quoted local-part"@domain: kept as written */
		p->i++;
		dstart = p->i;
		while (p->i < p->n && (is_alpha(peek(p)) || is_digit(peek(p)) ||
				       peek(p) == '-' || peek(p) == '.'))
			p->i++;
		if (!domain_ok(p->s + dstart, p->i - dstart)) {
			fail(p, "bad domain after a quoted local-part");
			return NULL;
		}
		*len = p->i - start;
		return arena_strndup(p->a, p->s + start, *len);
	}
	while (p->i < p->n) {
		int c = (unsigned char)p->s[p->i];

		if (c <= 32 || c == 127 || c == ';' || c == '(' || c == '"' ||
		    c == ')')
			break;
		p->i++;
	}
	end = p->i;
	if (end == start && ((p->lenient && peek(p) == ';') ||
			     (p->microsoft && (at_end(p) || peek(p) == ';')))) {
		*len = 0;
		return arena_strndup(p->a, "", 0);
	}
	if (end == start) {
		fail(p, "missing property value");
		return NULL;
	}
	*len = end - start;
	for (k = start; k < end && is_tchar((unsigned char)p->s[k]); k++)
		;
	if (k == end)
		return arena_strndup(p->a, p->s + start, *len);
	at = memchr(p->s + start, '@', *len);
	if (at != NULL && memchr(at + 1, '@', (size_t)(p->s + end - at - 1)) == NULL &&
	    domain_ok(at + 1, (size_t)(p->s + end - at - 1)) &&
	    (at == p->s + start || is_dot_atom(p->s + start, (size_t)(at - p->s - start))))
		return arena_strndup(p->a, p->s + start, *len);
	/*
	 * Lenient: base64 (header.b=ab/c+d=) and the like.  A ":" still fails:
	 * an unquoted IPv6 address is the classic error the RFC's quoting rule
	 * exists for.
	 */
	if (p->lenient && memchr(p->s + start, ':', *len) == NULL &&
	    memchr(p->s + start, '\\', *len) == NULL &&
	    memchr(p->s + start, ',', *len) == NULL)
		return arena_strndup(p->a, p->s + start, *len);
	p->i = start;
	fail(p, "property value is neither a token nor [local-part]@domain: quote it");
	return NULL;
}

static int digits(parser *p, long *out)
{
	size_t start = p->i;
	long n = 0;

	while (p->i < p->n && is_digit(peek(p)) && p->i - start < 9) {
		n = n * 10 + (peek(p) - '0');
		p->i++;
	}
	if (p->i == start || is_digit(peek(p)))
		return fail(p, "bad version number");
	*out = n;
	return 0;
}

/*
 * methodspec (RFC 8601 §2.2: method [ "/" version ] "=" result) and the
 * comment after it; *had_sep: whether CFWS followed.
 */
static int methodspec(parser *p, mauth_value *r, char **method, int *had_sep)
{
	char *result;
	long ver;

	*method = keyword_ex(p, "expected a method", 1);
	if (*method == NULL)
		return -1;
	val_cstr(p->a, r, "method", *method);
	if (cfws(p, 0) < 0)
		return -1;
	if (peek(p) == '/') {
		p->i++;
		if (cfws(p, 0) < 0 || digits(p, &ver) < 0 || cfws(p, 0) < 0)
			return -1;
		val_int(p->a, r, "method_version", ver);
	}
	if (peek(p) != '=')
		return fail(p, "expected '=' after the method");
	p->i++;
	if (cfws(p, 0) < 0)
		return -1;
	if (p->lenient && peek(p) == ';')
		result = "";	/* "one=;" */
	else
		result = keyword_ex(p, "expected a result", 1);
	if (result == NULL)
		return -1;
	val_cstr(p->a, r, "result", result);
	*had_sep = cfws(p, 1);
	if (*had_sep < 0)
		return -1;
	if (p->comment != NULL)
		val_str(p->a, r, "comment", p->comment, p->comment_len);
	return 0;
}

/* reasonspec's value, "reason" read: "=" value (RFC 8601 §2.2). */
static int reasonspec(parser *p, mauth_value *r, int *had_sep)
{
	char *s;
	size_t len;

	p->i++;
	if (cfws(p, 0) < 0)
		return -1;
	s = value(p, &len, "expected a reason value");
	if (s == NULL)
		return -1;
	val_str(p->a, r, "reason", s, len);
	*had_sep = cfws(p, 0);
	return *had_sep < 0 ? -1 : 0;
}

/*
 * The rest of a propspec whose first keyword (ptype) was read at byte
 * save: "." property "=" pvalue, or a dialect's form without a ptype.
 */
static int propspec(parser *p, mauth_value *props, char *ptype,
		    const char *method, size_t save)
{
	char *prop, *s;
	size_t len;
	mauth_value *pv;

	if (p->lenient && peek(p) == '=' && strchr(ptype, '.') != NULL) {
		/* "smtp.mailfrom"="..." : a quoted ptype.property */
		prop = strchr(ptype, '.');
		*prop++ = '\0';
	} else if (peek(p) == '.') {
		p->i++;
		if (cfws(p, 0) < 0)
			return -1;
		prop = keyword(p, "expected a property name");
		if (prop == NULL || cfws(p, 0) < 0)
			return -1;
	} else if (p->lenient && peek(p) == '=') {
		prop = ptype;	/* "x-bits=1024": no ptype */
		ptype = NULL;
	} else if (p->microsoft && peek(p) == '=' &&
		   strcmp(ptype, "action") == 0 && strcmp(method, "dmarc") == 0) {
		prop = ptype;	/* Microsoft's "action=none" */
		ptype = "";
	} else {
		p->i = save;
		return fail(p, "expected ptype.property");
	}
	if (peek(p) != '=')
		return fail(p, "expected '=' after the property");
	p->i++;
	s = pvalue(p, &len);
	pv = s != NULL ? val_add(p->a, props, NULL, MAUTH_V_MAP) : NULL;
	if (pv == NULL)
		return -1;
	if (ptype != NULL)
		val_cstr(p->a, pv, "ptype", ptype);
	val_cstr(p->a, pv, "property", prop);
	val_str(p->a, pv, "value", s, len);
	return 0;
}

/* methodspec, reasonspec and propspecs of one resinfo (after its ";"). */
static int resinfo(parser *p, mauth_value *list)
{
	mauth_value *r = val_add(p->a, list, NULL, MAUTH_V_MAP), *props = NULL;
	char *method, *ptype;
	size_t nprops = 0, save;
	int had_sep = 0, first = 1;

	if (r == NULL || methodspec(p, r, &method, &had_sep) < 0)
		return -1;
	while (!at_end(p) && peek(p) != ';') {
		if (!had_sep && !p->lenient)
			return fail(p, "expected a space before a property");
		save = p->i;
		ptype = keyword(p, "expected a property");
		if (ptype == NULL || cfws(p, 0) < 0)
			return -1;
		if (first && strcmp(ptype, "reason") == 0 && peek(p) == '=') {
			first = 0;
			if (reasonspec(p, r, &had_sep) < 0)
				return -1;
			continue;
		}
		first = 0;
		if (props == NULL)
			props = val_add(p->a, r, "properties", MAUTH_V_LIST);
		if (++nprops > AUTHRES_MAX_PROPS)
			return fail(p, "too many properties");
		if (propspec(p, props, ptype, method, save) < 0)
			return -1;
		had_sep = cfws(p, 0);
		if (had_sep < 0)
			return -1;
	}
	if (props == NULL)
		props = val_add(p->a, r, "properties", MAUTH_V_LIST);
	return props != NULL ? 0 : -1;
}

static int prefix_ieq(parser *p, const char *word)
{
	size_t n = strlen(word);

	return p->n - p->i >= n && ascii_ieq(p->s + p->i, n, word, n);
}

/* Skips a leading field name, so a whole header line is accepted too. */
static void field_name(parser *p)
{
	static const char *const names[] = {
		"Authentication-Results", "ARC-Authentication-Results"
	};
	size_t k, save = p->i;

	for (k = 0; k < 2; k++) {
		if (!prefix_ieq(p, names[k]))
			continue;
		p->i += strlen(names[k]);
		while (p->i < p->n && (peek(p) == ' ' || peek(p) == '\t'))
			p->i++;
		if (peek(p) == ':') {
			p->i++;
			return;
		}
		p->i = save;
	}
}

/* Lenient recovery: on to the next ";" (outside comments and quotes). */
static void skip_to_semicolon(parser *p)
{
	while (p->i < p->n && p->s[p->i] != ';') {
		if (p->s[p->i] == '(') {
			if (cfws(p, 0) < 0) {
				p->err[0] = '\0';
				p->i++;
			}
			continue;
		}
		if (p->s[p->i] == '"') {
			size_t len;

			if (quoted(p, &len) == NULL) {
				p->err[0] = '\0';
				p->i++;
			}
			continue;
		}
		p->i++;
	}
}

/*
 * Lenient: words after the authserv-id, each "keyword" or "keyword=value"
 * with nothing around the "=" (Yahoo's "id  from=example.com;").
 */
static int lenient_words(parser *p)
{
	size_t len;

	while (!at_end(p) && peek(p) != ';') {
		if (keyword(p, "unexpected text after the authserv-id") == NULL)
			return -1;
		if (peek(p) == '=') {
			p->i++;
			if (pvalue(p, &len) == NULL)
				return -1;
		}
		if (cfws(p, 0) < 0)
			return -1;
	}
	return 0;
}

/* A resinfo that is only a domain, with no "=" after it (lenient mode). */
static int bare_token(parser *p)
{
	size_t save = p->i;
	int bare;

	if (peek(p) == ';')
		return 1;	/* ";;" */
	while (p->i < p->n && p->s[p->i] != '=' && p->s[p->i] != ';' &&
	       p->s[p->i] != '(' && p->s[p->i] != '/' && p->s[p->i] != '"' &&
	       !(p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
		 p->s[p->i] == '\r' || p->s[p->i] == '\n'))
		p->i++;
	if (cfws(p, 0) < 0)
		p->err[0] = '\0';
	bare = peek(p) == ';' && domain_ok(p->s + save, p->i - save);
	if (!bare) {
		/* "domain" then ";" only; trailing space already skipped */
		size_t e = p->i;

		while (e > save && (p->s[e - 1] == ' ' || p->s[e - 1] == '\t' ||
				    p->s[e - 1] == '\r' || p->s[e - 1] == '\n'))
			e--;
		bare = peek(p) == ';' && domain_ok(p->s + save, e - save);
	}
	p->i = save;
	return bare;
}

/*
 * Microsoft: does the text start with "method [CFWS] =" (an inbound
 * Authentication-Results without authserv-id)?  A strict authserv-id is a
 * value and cannot be followed by "=", so this never shadows one.
 */
static int ms_no_authserv_id(parser *p)
{
	size_t save = p->i;
	int yes;

	yes = keyword(p, "") != NULL && cfws(p, 0) >= 0 && peek(p) == '=';
	p->err[0] = '\0';
	p->i = save;
	return yes;
}

/*
 * Microsoft: a resinfo that is only a domain-name then [CFWS] ";"
 * ("header.d=none;contoso.com; dmarc=...").  Consumes it, leaving the ";",
 * and returns 1; else leaves p as it was and returns 0.
 */
static int ms_bare_domain(parser *p)
{
	size_t save = p->i, end;

	while (p->i < p->n && (is_alpha(peek(p)) || is_digit(peek(p)) ||
			       peek(p) == '-' || peek(p) == '.'))
		p->i++;
	end = p->i;
	if (memchr(p->s + save, '.', end - save) != NULL &&
	    domain_ok(p->s + save, end - save) && cfws(p, 0) >= 0 &&
	    peek(p) == ';')
		return 1;
	p->err[0] = '\0';
	p->i = save;
	return 0;
}

/* ARC-Authentication-Results: "i=" instance ";" first (RFC 8617 §4.1.1). */
static int instance(parser *p, mauth_value *r)
{
	size_t save = p->i;
	long n;

	if (peek(p) != 'i' && peek(p) != 'I')
		return 0;
	p->i++;
	if (cfws(p, 0) < 0 || peek(p) != '=') {
		p->err[0] = '\0';
		p->i = save;
		return 0;
	}
	p->i++;
	if (cfws(p, 0) < 0 || digits(p, &n) < 0 || cfws(p, 0) < 0)
		return -1;
	if (peek(p) != ';')
		return fail(p, "expected ';' after the instance");
	p->i++;
	val_int(p->a, r, "instance", n);
	return cfws(p, 0) < 0 ? -1 : 0;
}

/*
 * The dialects' fields without an authserv-id (never an ARC one): 1 when
 * results follow at once ("spf=pass ..."), 2 when the lenient field is
 * empty (then "none"), 0 when an authserv-id comes first.
 */
static int no_authserv_id(parser *p, mauth_value *r)
{
	size_t save = p->i;

	if (mauth_value_get(r, "instance") != NULL)
		return 0;
	if (p->lenient) {
		while (p->i < p->n && (is_alpha(peek(p)) || is_digit(peek(p)) ||
				       peek(p) == '-' || peek(p) == '_'))
			p->i++;
		cfws(p, 0);
		p->err[0] = '\0';
		if (peek(p) == '=' && p->i > save) {
			p->i = save;
			return 1;
		}
		p->i = save;
	}
	if (p->microsoft && ms_no_authserv_id(p))
		return 1;
	if (p->lenient && at_end(p)) {
		val_cstr(p->a, r, "authserv_id", "");
		return 2;
	}
	return 0;
}

/* no-result (RFC 8601 §2.2): "none" and nothing after it; 1 if so. */
static int no_result(parser *p)
{
	size_t save = p->i;
	int c;

	if (!prefix_ieq(p, "none"))
		return 0;
	p->i += 4;
	c = peek(p);
	if (c != -1 && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
	    c != '(' && c != ';') {
		p->i = save;	/* a method named "none..." */
		return 0;
	}
	if (cfws(p, 0) < 0)
		return -1;
	if (p->lenient && peek(p) == ';') {
		p->i++;
		if (cfws(p, 0) < 0)
			return -1;
	}
	if (!at_end(p))
		return fail(p, "nothing may follow \"none\"");
	return 1;
}

/*
 * authserv-id [ CFWS authres-version ] and the ";" after it; *list gets
 * the results list.  1 when results follow, 0 when there are none.
 */
static int authserv(parser *p, mauth_value *r, mauth_value **list)
{
	char *id;
	size_t len;
	long n;
	int rc;

	id = value(p, &len, "expected the authserv-id");
	if (id == NULL)
		return -1;
	val_str(p->a, r, "authserv_id", id, len);
	if (cfws(p, 0) < 0)
		return -1;
	if (is_digit(peek(p))) {
		if (digits(p, &n) < 0 || cfws(p, 0) < 0)
			return -1;
		val_int(p->a, r, "version", n);
	}
	*list = val_add(p->a, r, "results", MAUTH_V_LIST);
	if (*list == NULL)
		return -1;
	if (p->lenient && lenient_words(p) < 0)
		return -1;	/* Yahoo: "id  from=example.com;" */
	if (at_end(p)) {
		if (!p->lenient)
			return fail(p, "expected ';' and \"none\" or a result");
		return 0;
	}
	if (peek(p) != ';')
		return fail(p, "expected ';' after the authserv-id");
	p->i++;
	if (cfws(p, 0) < 0)
		return -1;
	if (at_end(p) && p->lenient)
		return 0;
	rc = no_result(p);
	return rc < 0 ? -1 : !rc;
}

/* 1*resinfo, with the dialects' skipped forms between results. */
static int results(parser *p, mauth_value *list)
{
	size_t nres = 0;

	for (;;) {
		if (++nres > AUTHRES_MAX_RESULTS)
			return fail(p, "too many results");
		if (p->lenient && bare_token(p)) {
			/* Office 365's "domain.com;" between results: skipped */
			skip_to_semicolon(p);
		} else if (p->microsoft && ms_bare_domain(p)) {
			/* its authserv-id repeated before a result: skipped */
		} else if (resinfo(p, list) < 0) {
			return -1;
		}
		if (at_end(p))
			break;
		/* peek is ';' */
		p->i++;
		if (cfws(p, 0) < 0)
			return -1;
		if (at_end(p)) {
			if (p->lenient || p->microsoft)
				break;	/* Microsoft ends with ";" */
			return fail(p, "expected a result after ';'");
		}
	}
	/* Microsoft: bare domains and ";" alone are no result. */
	if (p->microsoft && list->child == NULL)
		return fail(p, "no result");
	return 0;
}

static int payload(parser *p, mauth_value *r)
{
	mauth_value *list = NULL;
	int rc;

	field_name(p);
	if (cfws(p, 0) < 0 || instance(p, r) < 0)
		return -1;
	rc = no_authserv_id(p, r);
	if (rc == 0)
		rc = authserv(p, r, &list);
	else if ((list = val_add(p->a, r, "results", MAUTH_V_LIST)) == NULL)
		return -1;
	if (rc < 0)
		return -1;
	if (rc == 1)
		return results(p, list);
	val_cstr(p->a, r, "result", "none");
	return 0;
}

typedef struct {
	int unused;
} authres_state;

static int authres_init(mauth_check *c, void *vst, const params *prm,
			char *err, size_t errlen)
{
	parser p;
	mauth_value *r;
	int lenient = 0;
	const char *dialect;
	size_t dlen;

	(void)vst;
	memset(&p, 0, sizeof p);
	p.s = param_get(prm, "text", &p.n);
	if (p.s == NULL) {
		snprintf(err, errlen, "text: the header value is required");
		return MAUTH_EINVAL;
	}
	if (param_bool(prm, "lenient", &lenient) < 0) {
		snprintf(err, errlen, "lenient: want a boolean");
		return MAUTH_EINVAL;
	}
	p.lenient = lenient;
	dialect = param_get(prm, "dialect", &dlen);
	if (dialect != NULL) {
		if (dlen == 9 && memcmp(dialect, "microsoft", 9) == 0) {
			p.microsoft = 1;
		} else if (!(dlen == 6 && memcmp(dialect, "strict", 6) == 0)) {
			snprintf(err, errlen, "dialect: want \"microsoft\" or \"strict\"");
			return MAUTH_EINVAL;
		}
	}
	if (p.microsoft && lenient) {
		snprintf(err, errlen, "dialect: not together with lenient");
		return MAUTH_EINVAL;
	}
	p.a = check_arena(c);
	r = check_result(c);
	if (r == NULL)
		return MAUTH_ENOMEM;
	/* Trailing CRLF of a whole header line is not part of the value. */
	while (p.n > 0 && (p.s[p.n - 1] == '\r' || p.s[p.n - 1] == '\n'))
		p.n--;
	if (p.n > AUTHRES_MAX_LEN) {
		val_cstr(p.a, r, "invalid", "header longer than 65536 bytes");
		return 0;
	}
	if (memchr(p.s, '\0', p.n) != NULL) {
		val_cstr(p.a, r, "invalid", "NUL byte in the header");
		return 0;
	}
	if (payload(&p, r) < 0) {
		/* Drop the half-built tree: a failed parse gives only the reason. */
		r->child = NULL;
		if (p.err[0] == '\0')
			snprintf(p.err, sizeof p.err, "out of memory");
		val_cstr(p.a, r, "invalid", p.err);
	}
	return 0;
}

static const mauth_option authres_options[] = {
	OPT_STR("text", 1, NULL, "header value"),
	OPT_BOOL("lenient", "false"),
	OPT_WORD("dialect", "strict microsoft", "strict", NULL),
	OPT_END
};

const check_vt mauth_authres_parse_vt = {
	"authres_parse", sizeof(authres_state), authres_init, check_step_none,
	NULL, NULL, authres_options
};
