/*
 * msginfo.c - what DMARC needs to know of a message's From: the domains of
 * its author addresses (RFC 5322 §3.4, §3.6.2), kind "message_info".
 *
 * A From field holds a mailbox-list: display names, comments (nested),
 * quoted strings, angle addresses, groups ("team: a@x, b@y;"), obsolete
 * routes ("<@relay:a@x>").  Only the domain of each addr-spec matters
 * here; DMARC itself (RFC 7489 §6.6.1) decides what several, or none, mean.
 */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "message.h"

#define MAX_MAILBOXES 64
#define ADDR_MAX 998		/* RFC 5322 §2.1.1 line length */
#define COMMENT_DEPTH 32

typedef struct {
	int from_fields;
	const char *message;	/* borrowed during init only */
	size_t len;
} info_state;

typedef struct {
	char buf[ADDR_MAX + 1];
	size_t n;
	int angle;		/* an angle-addr was seen: it is the address */
	char addr[ADDR_MAX + 1];
	size_t alen;
} mailbox;

static void put(char *buf, size_t *n, char ch)
{
	if (*n < ADDR_MAX)
		buf[(*n)++] = ch;
}

/* The domain of addr-spec s (after the last '@' outside quotes), lowercased. */
static int addr_domain(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, at = (size_t)-1, n = 0;
	int quoted = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && quoted) {
			i++;
			continue;
		}
		if (s[i] == '"')
			quoted = !quoted;
		else if (s[i] == '@' && !quoted)
			at = i;
	}
	if (at == (size_t)-1)
		return -1;
	for (i = at + 1; i < len && n + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		/* NUL and other controls: no domain (a NUL would also cut it short) */
		if (ch < 0x20 || ch == 0x7f)
			return -1;
		out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

static void add_domain(arena *a, mauth_value *list, const char *d)
{
	const mauth_value *v;

	for (v = list->child; v != NULL; v = v->next)
		if (strcmp(v->str, d) == 0)
			return;
	val_cstr(a, list, NULL, d);
}

/* One mailbox ended: record its address and domain. */
static void emit(arena *a, mauth_value *addrs, mauth_value *domains,
		 mailbox *mb, int *bad, size_t *count)
{
	const char *s = mb->angle ? mb->addr : mb->buf;
	size_t len = mb->angle ? mb->alen : mb->n;
	char domain[ADDR_MAX + 1];
	const char *colon;

	while (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	/* obs-route: "@relay1,@relay2:user@domain" */
	if (mb->angle && len > 0 && s[0] == '@' &&
	    (colon = memchr(s, ':', len)) != NULL) {
		len -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	if (len > 0 && *count < MAX_MAILBOXES) {
		(*count)++;
		val_str(a, addrs, NULL, s, len);
		if (addr_domain(s, len, domain, sizeof domain) == 0)
			add_domain(a, domains, domain);
		else
			*bad = 1;
	}
	mb->n = mb->alen = 0;
	mb->angle = 0;
}

/* Reads one From field value into addresses and domains. */
static void read_from(arena *a, const char *v, size_t len, mauth_value *addrs,
		      mauth_value *domains, int *bad, size_t *count)
{
	mailbox mb;
	size_t i;
	int depth = 0, quoted = 0, in_angle = 0;

	memset(&mb, 0, sizeof mb);
	for (i = 0; i < len; i++) {
		char ch = v[i];
		char *buf = in_angle ? mb.addr : mb.buf;
		size_t *n = in_angle ? &mb.alen : &mb.n;

		if (quoted) {
			put(buf, n, ch);
			if (ch == '\\' && i + 1 < len)
				put(buf, n, v[++i]);
			else if (ch == '"')
				quoted = 0;
			continue;
		}
		if (depth > 0) {
			if (ch == '\\')
				i++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			continue;
		}
		switch (ch) {
		case '(':
			if (++depth > COMMENT_DEPTH) {
				*bad = 1;
				return;
			}
			break;
		case '"':
			quoted = 1;
			put(buf, n, ch);
			break;
		case '<':
			if (!in_angle) {
				in_angle = 1;
				mb.angle = 1;
				mb.alen = 0;
			}
			break;
		case '>':
			in_angle = 0;
			break;
		case ',':
			if (in_angle)
				put(buf, n, ch);	/* inside an obs-route */
			else
				emit(a, addrs, domains, &mb, bad, count);
			break;
		case ':':
			if (in_angle)
				put(buf, n, ch);
			else
				mb.n = 0;	/* a group's display name */
			break;
		case ';':
			if (!in_angle)
				emit(a, addrs, domains, &mb, bad, count);
			break;
		default:
			put(buf, n, ch);
		}
	}
	if (quoted || depth > 0 || in_angle)
		*bad = 1;
	emit(a, addrs, domains, &mb, bad, count);
}

static int info_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	info_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *r, *addrs, *domains;
	msg m;
	size_t i, count = 0;
	int bad = 0;

	st->message = param_get(p, "message", &st->len);
	if (st->message == NULL) {
		snprintf(err, errlen, "message: missing");
		return MAUTH_EINVAL;
	}
	/* The message is borrowed only now: do all the work here. */
	if (msg_parse(a, st->message, st->len, NULL, &m) != 0)
		return MAUTH_ENOMEM;
	r = check_result(c);
	addrs = val_add(a, r, "from_addresses", MAUTH_V_LIST);
	domains = val_add(a, r, "from_domains", MAUTH_V_LIST);
	if (addrs == NULL || domains == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < m.n; i++)
		if (msg_field_is(&m.f[i], "from", 4)) {
			st->from_fields++;
			read_from(a, m.f[i].value, m.f[i].vlen, addrs, domains,
				  &bad, &count);
		}
	val_int(a, r, "from_fields", st->from_fields);
	val_int(a, r, "fields", (long long)m.n);
	if (m.problem != NULL)
		val_cstr(a, r, "problem", m.problem);
	else if (bad)
		val_cstr(a, r, "problem", "a From address cannot be read");
	return 0;
}

static int info_step(mauth_check *c, void *st)
{
	(void)c;
	(void)st;
	return 0;	/* everything happened in init */
}

const check_vt mauth_message_info_vt = {
	"message_info", sizeof(info_state), info_init, info_step, NULL
};
