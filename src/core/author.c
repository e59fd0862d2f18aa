/*
 * author.c - the author of a message: its From field read strictly
 * (RFC 5322 §3.6.2), for DMARC (RFC 7489 §6.6.1), trust and message_info.
 *
 * Grammar read (RFC 5322):
 *   from         = "From:" mailbox-list CRLF                     §3.6.2
 *   mailbox-list = mailbox *("," mailbox) / obs-mbox-list        §3.4, §4.4
 *   mailbox      = name-addr / addr-spec                         §3.4
 *   name-addr    = [display-name] angle-addr; display-name = phrase (or
 *                  obs-phrase: words and "."), angle-addr = "<" addr-spec ">"
 *   addr-spec    = local-part "@" domain                         §3.4.1
 *   local-part   = dot-atom / quoted-string / obs-local-part (words and
 *                  dots, CFWS between them, §4.4)
 *   domain       = dot-atom / domain-literal / obs-domain
 * with CFWS (§3.2.2: FWS and comments, nested, with quoted-pairs) between
 * the tokens, quoted strings (§3.2.4) and atoms (§3.2.3; RFC 6532 §3.2
 * adds UTF-8 to atext, qtext, ctext and dtext).  Null members of the list
 * ("a@x, , b@y") are obsolete syntax that §4.4 asks us to read.
 *
 * Refused, each with its own problem, because mail readers disagree on
 * them and the one that shows the author may not be the one DMARC used
 * (the attack catalogue of Chen et al., "Composition Kills", USENIX
 * Security 2020, and its tool espoofer):
 *  - zero or several From fields (§3.6: exactly one; RFC 7489 §6.6.1);
 *  - a line that is not a field but starts "From" (" From:", "From\r\n :"),
 *    which some readers take for a From field;
 *  - groups ("name: a@x;").  §3.6.2 makes From a mailbox-list, where a
 *    group cannot appear.  RFC 6854 later allows group syntax in From for
 *    limited use (an empty group when there is no author mailbox): such
 *    a From names no author DMARC could check, and a client may show the
 *    group name instead of the members, so it is refused, not read;
 *  - an obsolete route in an angle-addr ("<@x,@y:a@z>", §4.4): readers
 *    differ on which domain is the author's (espoofer's "route portion");
 *  - an encoded-word (RFC 2047) that holds or decodes to "@", "<" or ">",
 *    or that stands in an addr-spec (RFC 2047 §5 forbids that);
 *  - two angle-addrs in one mailbox, text after the angle-addr, a second
 *    unquoted "@", an "@" inside a quoted local-part, a backslash outside
 *    a quoted string or comment (espoofer's "quoted pair");
 *  - NUL and every other control byte but HTAB; malformed UTF-8;
 *  - an unbalanced quote, comment, bracket or angle bracket;
 *  - a domain that is not a dot-atom of RFC 5321 §4.1.2 sub-domains (or
 *    RFC 6531 U-labels), and a domain-literal: it has no DNS domain;
 *  - a bare CR, or a bare LF in a header section of CRLF lines
 *    (message.c flags them: readers end lines differently);
 *  - header limits reached (the From fields may lie past them), a From line
 *    or an address over 998 bytes (§2.1.1), more than 64 mailboxes.
 * Everything is bounded: no recursion, output at most 64 addresses of
 * at most 998 bytes, one pass over each field plus one for encoded-words.
 */
#include <stdio.h>
#include <string.h>
#include "core/author.h"

enum { T_END, T_ATOM, T_QSTR, T_DLIT, T_CHAR, T_ERR };

typedef struct {
	int type;
	char ch;		/* T_CHAR: one of < > @ , : ; . */
	const char *s;		/* T_ATOM, T_QSTR (quotes included), T_DLIT */
	size_t len;
} token;

typedef struct {
	arena *a;
	author *out;
	size_t field;		/* 1-based From field being read */
	char why[320];		/* the first problem, formatted */
	const char *why_code;	/* its code: "author_syntax", ... */
	int have_why;
	int failed;		/* the field being read has failed */
	/* the mailbox being read */
	char local[AUTHOR_MAX_TEXT + 1];
	size_t llen;
	char dom[AUTHOR_MAX_TEXT + 1];
	size_t dlen;
} reader;

/* Keeps the first problem only: it is the one the reader met first, with
 * its code (doc/codes.md).  A macro, so that snprintf checks each format
 * against its arguments. */
#define fail(r, code, ...) do { \
	(r)->failed = 1; \
	if (!(r)->have_why) { \
		(r)->have_why = 1; \
		(r)->why_code = (code); \
		snprintf((r)->why, sizeof (r)->why, __VA_ARGS__); \
	} \
} while (0)

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* atext (RFC 5322 §3.2.3) plus UTF-8 (RFC 6532 §3.2; checked apart). */
static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 §4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/*
 * Byte-level checks of one field's raw text (name included): control
 * bytes, UTF-8, line length.  Line ends inside a field are folds (the
 * message reader ends a field at a line end not followed by WSP).
 */
static void check_bytes(reader *r, const char *raw, size_t len)
{
	size_t i = 0, line = 0;

	while (i < len) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '\r' && i + 1 < len && raw[i + 1] == '\n') {
			i += 2;
			line = 0;
			continue;
		}
		if (c == '\n') {
			i++;
			line = 0;
			continue;
		}
		if (++line > AUTHOR_MAX_TEXT) {
			fail(r, "author_limit", "From field %zu: a line longer than %d bytes "
			     "(RFC 5322 §2.1.1; readers cut it differently)",
			     r->field, AUTHOR_MAX_TEXT);
			return;
		}
		if (c == 0) {
			fail(r, "author_ambiguous", "From field %zu: a NUL byte (readers stop at it or not)",
			     r->field);
			return;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			fail(r, "author_syntax", "From field %zu: control byte 0x%02x", r->field, c);
			return;
		}
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)raw + i, len - i);

			if (n == 0) {
				fail(r, "author_syntax", "From field %zu: malformed UTF-8 (RFC 6532 §3.2)",
				     r->field);
				return;
			}
			i += n;
			line += n - 1;
			continue;
		}
		i++;
	}
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)(c | 32);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int is_addr_char(int c)
{
	return c == '@' || c == '<' || c == '>';
}

/*
 * 1 when encoded-text t (encoding enc, RFC 2047 §4) decodes to text with
 * "@", "<" or ">".  Decoded a byte at a time: nothing is stored.  Bad
 * encodings decode as far as they go (a lenient client would show that).
 */
static int decodes_to_address(char enc, const char *t, size_t n)
{
	size_t i;

	if (enc == 'b' || enc == 'B') {
		unsigned bits = 0, nbits = 0;

		for (i = 0; i < n; i++) {
			int v = b64_value((unsigned char)t[i]);

			if (v < 0)
				continue;	/* "=" padding, junk */
			bits = ((bits << 6) | (unsigned)v) & 0xffffU;
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				if (is_addr_char((int)((bits >> nbits) & 0xff)))
					return 1;
			}
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		int c = (unsigned char)t[i];

		if (c == '=' && i + 2 < n && hex_value((unsigned char)t[i + 1]) >= 0 &&
		    hex_value((unsigned char)t[i + 2]) >= 0) {
			c = hex_value((unsigned char)t[i + 1]) * 16 +
			    hex_value((unsigned char)t[i + 2]);
			i += 2;
		}
		if (is_addr_char(c))
			return 1;
	}
	return 0;
}

/*
 * Encoded-words anywhere in the field (clients decode them in quoted
 * strings and comments too, whatever RFC 2047 §5 says): "=?" charset "?"
 * encoding "?" text "?=", read leniently (spaces allowed) because a
 * lenient client is the one being fooled.
 */
static void check_encoded_words(reader *r, const char *v, size_t len)
{
	size_t i, last_close = 0;

	/* the last "?=": a word opened after it never closes (and no scan
	 * runs to the end twice) */
	for (i = len; i >= 2; i--)
		if (v[i - 2] == '?' && v[i - 1] == '=') {
			last_close = i - 2;
			break;
		}
	for (i = 0; i + 1 < len && !r->failed; i++) {
		size_t k = i + 2, q[2] = { 0, 0 }, part = 0, end;

		if (v[i] != '=' || v[i + 1] != '?')
			continue;
		/* the two "?" after charset and encoding, then the closing "?=" */
		while (k < len && part < 2) {
			if (v[k] == '?')
				q[part++] = k;
			else if (v[k] == '\r' || v[k] == '\n')
				break;
			k++;
		}
		if (part < 2 || q[1] + 1 > last_close)
			continue;
		end = q[1] + 1;
		while (end + 1 < len && !(v[end] == '?' && v[end + 1] == '='))
			end++;
		if (end + 1 >= len)
			continue;
		/* the whole word, charset and encoding included */
		for (k = i; k < end + 2; k++)
			if (is_addr_char((unsigned char)v[k]))
				break;
		if (k < end + 2 ||
		    (q[1] == q[0] + 2 &&
		     decodes_to_address(v[q[0] + 1], v + q[1] + 1, end - q[1] - 1))) {
			fail(r, "author_ambiguous", "From field %zu: an encoded-word (RFC 2047) holds an "
			     "address (\"@\", \"<\" or \">\"): a client may show it as "
			     "the author (Composition Kills: email address encoding)",
			     r->field);
			return;
		}
		i = end + 1;
	}
}

/* Skips FWS and comments (nested, bounded) at *pos.  0, or -1 (failed). */
static int skip_cfws(reader *r, const char *v, size_t len, size_t *pos)
{
	size_t i = *pos;
	int depth = 0;

	while (i < len) {
		char c = v[i];

		if (depth == 0 && !is_wsp(c) && c != '\r' && c != '\n' && c != '(')
			break;
		if (c == '\\' && depth > 0) {
			if (i + 1 >= len) {
				fail(r, "author_syntax", "From field %zu: a comment ends in a backslash",
				     r->field);
				return -1;
			}
			i += 2;
			continue;
		}
		if (c == '(') {
			if (++depth > AUTHOR_COMMENT_DEPTH) {
				fail(r, "author_limit", "From field %zu: comments nested deeper than %d",
				     r->field, AUTHOR_COMMENT_DEPTH);
				return -1;
			}
		} else if (c == ')' && depth > 0)
			depth--;
		i++;
	}
	if (depth > 0) {
		fail(r, "author_syntax", "From field %zu: an unbalanced comment \"(\" (RFC 5322 §3.2.2)",
		     r->field);
		return -1;
	}
	*pos = i;
	return 0;
}

/* The next token after CFWS. */
static void next_token(reader *r, const char *v, size_t len, size_t *pos,
		       token *t)
{
	size_t i;
	char c;

	t->type = T_ERR;
	t->ch = 0;
	t->s = v + *pos;
	t->len = 0;
	if (skip_cfws(r, v, len, pos) < 0)
		return;
	i = *pos;
	if (i >= len) {
		t->type = T_END;
		return;
	}
	c = v[i];
	t->s = v + i;
	if (is_atext((unsigned char)c)) {
		while (i < len && is_atext((unsigned char)v[i]))
			i++;
		t->type = T_ATOM;
	} else if (c == '"') {
		for (i++; i < len && v[i] != '"'; i++)
			if (v[i] == '\\')
				i++;
		if (i >= len) {
			fail(r, "author_syntax", "From field %zu: an unbalanced quote '\"' (RFC 5322 §3.2.4)",
			     r->field);
			return;
		}
		i++;
		t->type = T_QSTR;
	} else if (c == '[') {
		for (i++; i < len && v[i] != ']'; i++) {
			if (v[i] == '[' || v[i] == '\\') {
				fail(r, "author_syntax", "From field %zu: \"%c\" inside a domain-literal "
				     "(RFC 5322 §3.4.1 dtext)", r->field, v[i]);
				return;
			}
		}
		if (i >= len) {
			fail(r, "author_syntax", "From field %zu: an unbalanced \"[\" (RFC 5322 §3.4.1)",
			     r->field);
			return;
		}
		i++;
		t->type = T_DLIT;
	} else if (strchr("<>@,:;.", c) != NULL) {
		i++;
		t->type = T_CHAR;
		t->ch = c;
	} else if (c == '\\') {
		fail(r, "author_ambiguous", "From field %zu: a backslash outside a quoted string or comment "
		     "(Composition Kills: quoted pair)", r->field);
		return;
	} else if (c == ')') {
		fail(r, "author_syntax", "From field %zu: an unbalanced \")\" (RFC 5322 §3.2.2)", r->field);
		return;
	} else {
		fail(r, "author_syntax", "From field %zu: \"%c\" outside a quoted string (RFC 5322 §3.2.3 "
		     "specials)", r->field, c);
		return;
	}
	t->len = (size_t)(v + i - t->s);
	*pos = i;
}

/* Appends to the local part or domain being built; -1 past the limit. */
static int put(reader *r, char *buf, size_t *n, const char *s, size_t len)
{
	if (*n + len > AUTHOR_MAX_TEXT) {
		fail(r, "author_limit", "From field %zu: an address longer than %d bytes "
		     "(no reader may cut it)", r->field, AUTHOR_MAX_TEXT);
		return -1;
	}
	memcpy(buf + *n, s, len);
	*n += len;
	buf[*n] = '\0';
	return 0;
}

/*
 * Before an "@" or "<" a word may be a local part or a display name: keep
 * it while it may be the former; past the limit only note it (a long
 * display name is no problem; a long local part is, at the "@").
 */
static void put_word(reader *r, const char *s, size_t len, int dotted,
		     int *toolong)
{
	if (!dotted || *toolong)
		return;
	if (r->llen + len > AUTHOR_MAX_TEXT) {
		*toolong = 1;
		return;
	}
	memcpy(r->local + r->llen, s, len);
	r->llen += len;
	r->local[r->llen] = '\0';
}

/*
 * A domain label: an RFC 5321 §4.1.2 sub-domain (letters, digits, inner
 * hyphens, at most 63), or a U-label (RFC 6531 §3.3) left to DMARC.
 */
static int label_ok(const char *s, size_t n)
{
	size_t i;
	int utf8 = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			utf8 = 1;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	if (utf8)
		return 1;
	return n >= 1 && n <= LABEL_MAX && s[0] != '-' && s[n - 1] != '-';
}

/* Local part: "@" in a quoted one or an encoded-word is refused. */
static int local_ok(reader *r)
{
	if (r->llen > 0 && r->local[0] == '"' && memchr(r->local, '@', r->llen)) {
		fail(r, "author_ambiguous", "From field %zu: an \"@\" inside a quoted local-part "
		     "(readers disagree where the domain starts)", r->field);
		return 0;
	}
	if (memchr(r->local, '\r', r->llen) || memchr(r->local, '\n', r->llen)) {
		fail(r, "author_syntax", "From field %zu: a folded quoted local-part", r->field);
		return 0;
	}
	if (strstr(r->local, "=?") != NULL) {
		fail(r, "author_ambiguous", "From field %zu: an encoded-word in an address "
		     "(RFC 2047 §5: never in an addr-spec)", r->field);
		return 0;
	}
	return 1;
}

/* A mailbox has been read: keep it. */
static int emit(reader *r, int literal)
{
	author *o = r->out;
	size_t i;
	char *addr;

	if (!local_ok(r))
		return 0;
	if (r->llen + 1 + r->dlen > AUTHOR_MAX_TEXT) {
		fail(r, "author_limit", "From field %zu: an address longer than %d bytes "
		     "(no reader may cut it)", r->field, AUTHOR_MAX_TEXT);
		return 0;
	}
	if (!literal && r->dlen > NAME_MAX_TEXT) {
		fail(r, "author_limit", "From field %zu: the domain is longer than %d bytes "
		     "(RFC 1035 §2.3.4)", r->field, NAME_MAX_TEXT);
		return 0;
	}
	if (o->n >= AUTHOR_MAX_MAILBOXES) {
		fail(r, "author_limit", "more than %d From mailboxes (none is dropped: the author "
		     "is not read)", AUTHOR_MAX_MAILBOXES);
		return 0;
	}
	addr = arena_alloc(r->a, r->llen + 1 + r->dlen + 1);
	if (addr == NULL)
		return -1;
	memcpy(addr, r->local, r->llen);
	addr[r->llen] = '@';
	for (i = 0; i < r->dlen; i++) {
		char c = r->dom[i];

		addr[r->llen + 1 + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	o->box[o->n].addr = addr;
	o->box[o->n].domain = addr + r->llen + 1;
	o->box[o->n].literal = literal;
	o->n++;
	if (literal) {
		fail(r, "author_bad_domain", "From field %zu: the domain-literal %s has no DNS domain "
		     "for DMARC (RFC 7489 §3.1)", r->field, addr + r->llen + 1);
		return 0;
	}
	for (i = 0; i < o->ndomains; i++)
		if (strcmp(o->domain[i], addr + r->llen + 1) == 0)
			return 0;
	o->domain[o->ndomains++] = addr + r->llen + 1;
	return 0;
}

enum {
	S_START,	/* a mailbox may start */
	S_WORDS,	/* display-name words or a local part */
	S_ANGLE,	/* right after "<" */
	S_ALOCAL,	/* local part inside "<" */
	S_DOMAIN,	/* after "@": a label or a domain-literal */
	S_DOMDOT,	/* after a label: "." or the end of the address */
	S_AFTER		/* after ">" */
};

static const char *tok_name(const token *t, char *buf, size_t n)
{
	if (t->type == T_END)
		return "the end of the field";
	if (t->type == T_CHAR) {
		snprintf(buf, n, "\"%c\"", t->ch);
		return buf;
	}
	return t->type == T_QSTR ? "a quoted string" :
	       t->type == T_DLIT ? "a domain-literal" : "a word";
}

/* Where the reader stands in the mailbox-list. */
typedef struct {
	int state;		/* S_* */
	size_t members;		/* mailboxes started in this field */
	int angle;		/* inside or after "<" */
	int words;		/* words before "@" or "<" */
	int dotted;		/* those words may be a dot-atom local part */
	int lastdot;		/* the last token was "." */
	int literal;		/* the domain is a domain-literal */
	int toolong;		/* the possible local part passed the limit */
} mbox_pos;

/* What a state did with a token. */
enum { TOOK, STOP, NOMEM, UNTAKEN };

static int on_start(reader *r, mbox_pos *m, const token *t)
{
	r->llen = r->dlen = 0;
	r->local[0] = r->dom[0] = '\0';
	m->angle = m->literal = m->words = m->lastdot = m->toolong = 0;
	m->dotted = 1;
	if (t->type == T_END) {
		if (m->members == 0)
			fail(r, "author_missing", "From field %zu: no mailbox (RFC 5322 "
			     "§3.6.2 needs at least one)", r->field);
		return STOP;
	}
	if (t->type == T_CHAR && t->ch == ',')
		return TOOK;	/* a null member, §4.4 */
	m->members++;
	if (t->type == T_CHAR && t->ch == '<') {
		m->state = S_ANGLE;
		m->angle = 1;
		return TOOK;
	}
	if (t->type == T_ATOM || t->type == T_QSTR) {
		put_word(r, t->s, t->len, 1, &m->toolong);
		m->words = 1;
		m->state = S_WORDS;
		return TOOK;
	}
	return UNTAKEN;
}

/* Words before "@" (a local part) or "<" (a display name). */
static int on_words(reader *r, mbox_pos *m, const token *t)
{
	if (t->type == T_ATOM || t->type == T_QSTR) {
		if (!m->lastdot)
			m->dotted = 0;	/* two words: a phrase */
		m->lastdot = 0;
		m->words++;
		put_word(r, t->s, t->len, m->dotted, &m->toolong);
		return TOOK;
	}
	if (t->type == T_CHAR && t->ch == '.') {
		if (m->lastdot)
			m->dotted = 0;
		m->lastdot = 1;
		put_word(r, ".", 1, m->dotted, &m->toolong);
		return TOOK;
	}
	if (t->type == T_CHAR && t->ch == '@') {
		if (m->dotted && !m->lastdot && m->toolong) {
			fail(r, "author_limit", "From field %zu: an address longer than %d "
			     "bytes (no reader may cut it)", r->field,
			     AUTHOR_MAX_TEXT);
			return STOP;
		}
		if (!m->dotted || m->lastdot) {
			fail(r, "author_ambiguous", "From field %zu: an unquoted \"@\" after a "
			     "display name with no angle brackets", r->field);
			return STOP;
		}
		m->state = S_DOMAIN;
		return TOOK;
	}
	if (t->type == T_CHAR && t->ch == '<') {
		r->llen = 0;	/* that was the display name */
		r->local[0] = '\0';
		m->state = S_ANGLE;
		m->angle = 1;
		return TOOK;
	}
	if (t->type == T_END || (t->type == T_CHAR && t->ch == ',')) {
		fail(r, "author_missing", "From field %zu: a mailbox with no address "
		     "(display name only)", r->field);
		return STOP;
	}
	return UNTAKEN;
}

/* Right after "<", and the local part inside it. */
static int on_angle(reader *r, mbox_pos *m, const token *t)
{
	if (m->state == S_ANGLE && t->type == T_CHAR && t->ch == '>') {
		fail(r, "author_missing", "From field %zu: an empty angle-addr \"<>\" (no "
		     "author address)", r->field);
		return STOP;
	}
	if (m->state == S_ANGLE && t->type == T_CHAR && t->ch == '@') {
		fail(r, "author_ambiguous", "From field %zu: an obsolete route in the angle-addr "
		     "(RFC 5322 §4.4; Composition Kills: route portion)",
		     r->field);
		return STOP;
	}
	if ((t->type == T_ATOM || t->type == T_QSTR) &&
	    (m->state == S_ANGLE || m->lastdot)) {
		if (put(r, r->local, &r->llen, t->s, t->len) < 0)
			return STOP;
		m->lastdot = 0;
		m->state = S_ALOCAL;
		return TOOK;
	}
	if (m->state == S_ALOCAL && t->type == T_CHAR && t->ch == '.' &&
	    !m->lastdot) {
		if (put(r, r->local, &r->llen, ".", 1) < 0)
			return STOP;
		m->lastdot = 1;
		return TOOK;
	}
	if (m->state == S_ALOCAL && t->type == T_CHAR && t->ch == '@' &&
	    !m->lastdot) {
		m->state = S_DOMAIN;
		return TOOK;
	}
	return UNTAKEN;
}

/* After "@" (dlen 0) or after a ".": a label or a domain-literal. */
static int on_domain(reader *r, mbox_pos *m, const token *t)
{
	if (t->type == T_DLIT && r->dlen == 0) {
		if (put(r, r->dom, &r->dlen, t->s, t->len) < 0)
			return STOP;
		m->literal = 1;
		m->state = S_DOMDOT;
		return TOOK;
	}
	if (t->type != T_ATOM)
		return UNTAKEN;
	if (!label_ok(t->s, t->len)) {
		fail(r, "author_syntax", "From field %zu: \"%.*s\" is not a domain label "
		     "(RFC 5321 §4.1.2)", r->field,
		     (int)(t->len > 64 ? 64 : t->len), t->s);
		return STOP;
	}
	if (put(r, r->dom, &r->dlen, t->s, t->len) < 0)
		return STOP;
	m->state = S_DOMDOT;
	return TOOK;
}

/* After a label: ".", or the end of the address. */
static int on_domdot(reader *r, mbox_pos *m, const token *t)
{
	if (t->type == T_CHAR && t->ch == '.' && !m->literal) {
		if (put(r, r->dom, &r->dlen, ".", 1) < 0)
			return STOP;
		m->state = S_DOMAIN;
		return TOOK;
	}
	if (t->type == T_CHAR && t->ch == '@') {
		fail(r, "author_ambiguous", "From field %zu: a second unquoted \"@\" in an "
		     "address", r->field);
		return STOP;
	}
	if (m->angle && t->type == T_CHAR && t->ch == '>') {
		if (emit(r, m->literal) < 0)
			return NOMEM;
		m->state = S_AFTER;
		return TOOK;
	}
	if (!m->angle && (t->type == T_END || (t->type == T_CHAR && t->ch == ','))) {
		if (emit(r, m->literal) < 0)
			return NOMEM;
		if (t->type == T_END || r->failed)
			return STOP;
		m->state = S_START;
		return TOOK;
	}
	if (!m->angle && t->type == T_CHAR && t->ch == '<') {
		fail(r, "author_ambiguous", "From field %zu: an angle-addr right after an "
		     "addr-spec (Composition Kills: display name and "
		     "real address)", r->field);
		return STOP;
	}
	if (!m->angle && (t->type == T_ATOM || t->type == T_QSTR)) {
		fail(r, "author_ambiguous", "From field %zu: text after the address", r->field);
		return STOP;
	}
	return UNTAKEN;
}

/* After ">": the end, or "," and the next mailbox. */
static int on_after(reader *r, mbox_pos *m, const token *t)
{
	if (t->type == T_END)
		return STOP;
	if (t->type == T_CHAR && t->ch == ',') {
		m->state = S_START;
		return TOOK;
	}
	if (t->type == T_CHAR && t->ch == '<') {
		fail(r, "author_ambiguous", "From field %zu: two angle-addrs in one mailbox",
		     r->field);
		return STOP;
	}
	if (t->type == T_ATOM || t->type == T_QSTR ||
	    (t->type == T_CHAR && (t->ch == '.' || t->ch == '@'))) {
		fail(r, "author_ambiguous", "From field %zu: display-name text after the "
		     "angle-addr (Composition Kills: display name and "
		     "real address)", r->field);
		return STOP;
	}
	return UNTAKEN;
}

/* A token no state took: the problem that names it best. */
static void untaken(reader *r, const mbox_pos *m, const token *t)
{
	char nb[8];

	if (m->state == S_DOMAIN && r->dlen > 0 && (t->type == T_END ||
	    (t->type == T_CHAR && (t->ch == '>' || t->ch == ','))))
		fail(r, "author_syntax", "From field %zu: a domain ending in \".\" (RFC 5322 "
		     "§3.4.1 dot-atom)", r->field);
	else if (t->type == T_CHAR && (t->ch == ':' || t->ch == ';'))
		fail(r, "author_ambiguous", "From field %zu: group syntax \"%c\" (RFC 5322 §3.6.2: "
		     "From is a mailbox-list, groups name no author)",
		     r->field, t->ch);
	else if (t->type == T_CHAR && t->ch == '<' && m->angle)
		fail(r, "author_ambiguous", "From field %zu: two angle-addrs in one mailbox", r->field);
	else if (t->type == T_CHAR && t->ch == '>')
		fail(r, "author_syntax", "From field %zu: an unbalanced \">\"", r->field);
	else if (m->angle && m->state != S_AFTER &&
		 (t->type == T_END || (t->type == T_CHAR && t->ch == ',')))
		fail(r, "author_syntax", "From field %zu: an unbalanced \"<\" (or an angle-addr "
		     "with no \"@\")", r->field);
	else if (m->state == S_DOMAIN)
		fail(r, "author_syntax", "From field %zu: %s where a domain label belongs "
		     "(RFC 5322 §3.4.1 dot-atom)", r->field,
		     tok_name(t, nb, sizeof nb));
	else
		fail(r, "author_syntax", "From field %zu: unexpected %s (RFC 5322 §3.4)",
		     r->field, tok_name(t, nb, sizeof nb));
}

/* Reads one From field body; mailboxes go to r->out. -1 on ENOMEM. */
static int read_value(reader *r, const char *v, size_t len)
{
	mbox_pos m;
	size_t pos = 0;
	token t;

	memset(&m, 0, sizeof m);
	m.state = S_START;
	m.dotted = 1;
	check_encoded_words(r, v, len);
	while (!r->failed) {
		int rc;

		next_token(r, v, len, &pos, &t);
		if (t.type == T_ERR)
			break;
		switch (m.state) {	/* a switch: cheaper than a table of pointers */
		case S_START:
			rc = on_start(r, &m, &t);
			break;
		case S_WORDS:
			rc = on_words(r, &m, &t);
			break;
		case S_ANGLE:
		case S_ALOCAL:
			rc = on_angle(r, &m, &t);
			break;
		case S_DOMAIN:
			rc = on_domain(r, &m, &t);
			break;
		case S_DOMDOT:
			rc = on_domdot(r, &m, &t);
			break;
		default:
			rc = on_after(r, &m, &t);
			break;
		}
		if (rc == STOP)
			return 0;
		if (rc == NOMEM)
			return -1;
		if (rc == UNTAKEN)
			untaken(r, &m, &t);
	}
	return 0;
}

static int finish(reader *r)
{
	if (r->have_why) {
		r->out->problem = arena_strndup(r->a, r->why, strlen(r->why));
		if (r->out->problem == NULL)
			return -1;
		r->out->code = r->why_code;
	}
	return 0;
}

/* A line that is not a field but begins (after WSP) with "From". */
static int looks_like_from(const msg_field *f)
{
	size_t k = 0;

	if (f->nlen != 0)
		return 0;
	while (k < f->len && (is_wsp(f->raw[k]) || f->raw[k] == '\r' ||
			      f->raw[k] == '\n'))
		k++;
	return f->len - k >= 4 && ascii_ieq(f->raw + k, 4, "from", 4);
}

int author_read(arena *a, const msg *m, author *out)
{
	reader *r = arena_alloc(a, sizeof *r);
	size_t i;

	memset(out, 0, sizeof *out);
	if (r == NULL)
		return -1;
	r->a = a;
	r->out = out;
	out->fields = msg_count(m, "from", 4);
	/* Problems of the whole header first: they decide before any field. */
	if (m->truncated == MSG_TRUNC_FIELDS)
		fail(r, "author_limit", "From fields may lie past the %d-field limit: the author "
		     "is not read", MSG_MAX_FIELDS);
	else if (m->truncated)
		fail(r, "author_limit", "From fields may lie past the %zu-byte header limit: the "
		     "author is not read", MSG_MAX_HEADER);
	if (m->line_problem != NULL)
		fail(r, "author_ambiguous", "%s: readers end lines differently, so the From fields "
		     "are ambiguous", m->line_problem);
	for (i = 0; i < m->n; i++)
		if (looks_like_from(&m->f[i])) {
			fail(r, "author_ambiguous", "a header line that is not a field starts with \"From\" "
			     "(Composition Kills: space-prefixed/folded From): "
			     "readers disagree whether it is one");
			break;
		}
	if (out->fields == 0)
		fail(r, "author_missing", "no From field (RFC 5322 §3.6: exactly one)");
	else if (out->fields > 1)
		fail(r, "author_multiple", "%zu From fields (RFC 5322 §3.6: exactly one; RFC 7489 "
		     "§6.6.1)", out->fields);
	for (i = 0; i < m->n; i++) {
		const msg_field *f = &m->f[i];

		if (!msg_field_is(f, "from", 4))
			continue;
		r->field++;
		r->failed = 0;	/* read every field, keep the first problem */
		check_bytes(r, f->raw, f->len);
		if (!r->failed && read_value(r, f->value, f->vlen) < 0)
			return -1;
	}
	return finish(r);
}

const char *author_code_find(const char *s, size_t len)
{
	static const char *const codes[] = {
		"author_missing", "author_multiple", "author_ambiguous",
		"author_syntax", "author_bad_domain", "author_limit"
	};
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strlen(codes[i]) == len && memcmp(codes[i], s, len) == 0)
			return codes[i];
	return NULL;
}

int author_read_value(arena *a, const char *v, size_t len, author *out)
{
	reader *r = arena_alloc(a, sizeof *r);

	memset(out, 0, sizeof *out);
	if (r == NULL)
		return -1;
	r->a = a;
	r->out = out;
	r->field = 1;
	out->fields = 1;
	check_bytes(r, v, len);
	if (!r->failed && read_value(r, v, len) < 0)
		return -1;
	return finish(r);
}
