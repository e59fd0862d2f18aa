/*
 * dkim_evidence.c - replay evidence on a DKIM signature result: facts a
 * receiver (or its report store) weighs to tell a message sent to it from
 * a signed message replayed to it (RFC 6376 §8.6, §8.15; the DKIM replay
 * problem statement, draft-ietf-dkim-replay-problem).  None of it decides
 * the signature: pass stays pass.  Kept apart from dkim_verify.c so that
 * the verifier's own path stays as it is, and so that ARC's AMS could
 * take the same fields.
 *
 *   fingerprint  the first 16 bytes of SHA-256 over
 *                lower(d=) NUL lower(s=) NUL decoded b=, 32 hex digits:
 *                the same signature seen twice has the same one, whatever
 *                the folding of b= (the bytes are hashed, not the text)
 *   age, expired now - t=; x= before now (only with a clock)
 *   oversigned   From / Subject named in h= more often than the message
 *                has them, so that a prepended copy breaks the signature
 *                (§8.15)
 *   body_bytes, body_covered   with l=: the canonical body length and
 *                whether l= covers it (§8.2)
 *   recipients_in_to_cc        for each envelope recipient given, whether
 *                To or Cc names it (a replay goes to recipients the
 *                signed header never named)
 */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "core/message.h"
#include "core/author.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define FP_BYTES 16		/* 128 bits: collisions are not a concern */

/* Lower-cased s fed to h, then a NUL (the separator no name can hold). */
static void hash_lower(crypto_hash *h, const char *s)
{
	char buf[64];
	size_t n = 0;

	for (; *s; s++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		buf[n++] = c;
		if (n == sizeof buf) {
			crypto_hash_update(h, buf, n);
			n = 0;
		}
	}
	buf[n++] = '\0';
	crypto_hash_update(h, buf, n);
}

int dkim_fingerprint(const char *d, const char *s, const unsigned char *b,
		     size_t blen, char out[DKIM_FP_HEX + 1])
{
	unsigned char md[HASH_MAX];
	crypto_hash *h;

	if (d == NULL || s == NULL || b == NULL || blen == 0)
		return -1;
	if ((h = crypto_hash_new(HASH_SHA256)) == NULL)
		return -1;
	hash_lower(h, d);
	hash_lower(h, s);
	crypto_hash_update(h, b, blen);
	if (crypto_hash_final(h, md) < FP_BYTES) {
		crypto_hash_free(h);
		return -1;
	}
	crypto_hash_free(h);
	hex_encode(md, FP_BYTES, out);	/* DKIM_FP_HEX digits */
	return 0;
}

/* Times name occurs in the h= list. */
static size_t h_count(char *const *h, const size_t *hlen, size_t nh,
		      const char *name, size_t nlen)
{
	size_t i, n = 0;

	for (i = 0; i < nh; i++)
		n += ascii_ieq(h[i], hlen[i], name, nlen);
	return n;
}

int dkim_oversigned(const msg *m, char *const *h, const size_t *hlen,
		    size_t nh)
{
	int bits = 0;

	if (h_count(h, hlen, nh, "from", 4) > msg_count(m, "from", 4))
		bits |= DKIM_OVER_FROM;
	if (h_count(h, hlen, nh, "subject", 7) > msg_count(m, "subject", 7))
		bits |= DKIM_OVER_SUBJECT;
	return bits;
}

/*
 * A forward-path (RFC 5321 §4.1.2: "<" Mailbox ">", the brackets
 * optional here) as the From reader normalises a mailbox (domain
 * lower-cased), or NULL when it is not exactly one addr-spec: a display
 * name or comment is no envelope address, nor is an empty path.
 */
static const char *recipient_addr(arena *a, const char *v, size_t len,
				  int *enomem)
{
	author au;

	if (len >= 2 && v[0] == '<' && v[len - 1] == '>') {
		v++;
		len -= 2;
	}
	if (len == 0 || len > AUTHOR_MAX_TEXT || memchr(v, '<', len) != NULL ||
	    memchr(v, '(', len) != NULL || memchr(v, '\0', len) != NULL)
		return NULL;
	if (author_read_value(a, v, len, &au) != 0) {
		*enomem = 1;
		return NULL;
	}
	return au.problem == NULL && au.n == 1 ? au.box[0].addr : NULL;
}

int dkim_rcpts_read(arena *a, const params *p, dkim_rcpts *r, char *err,
		    size_t errlen)
{
	const mauth_value *v = param_list(p, "recipients", &r->n);
	size_t i;

	r->addr = NULL;
	r->found = NULL;
	r->to_cc_code = NULL;
	if (v == NULL)
		return 0;
	if (r->n > DKIM_RCPT_MAX) {
		snprintf(err, errlen, "option 'recipients' must be a list of at "
			 "most %d addresses", DKIM_RCPT_MAX);
		return MAUTH_EINVAL;
	}
	r->addr = arena_alloc(a, r->n * sizeof *r->addr + 1);
	r->found = arena_alloc(a, r->n + 1);
	if (r->addr == NULL || r->found == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; v != NULL; v = v->next, i++) {
		int enomem = 0;

		if (v->kind == MAUTH_V_STR)
			r->addr[i] = recipient_addr(a, v->str, v->len, &enomem);
		if (enomem)
			return MAUTH_ENOMEM;
		if (v->kind != MAUTH_V_STR || r->addr[i] == NULL) {
			snprintf(err, errlen, "option 'recipients' must be a list "
				 "of addresses (local@domain): item %zu is not one",
				 i + 1);
			return MAUTH_EINVAL;
		}
	}
	return 0;
}

/* Marks the recipients the mailboxes of au name (local part case-blind:
 * receivers commonly fold it, and a wrong "no" is what would mislead). */
static void mark(dkim_rcpts *r, const author *au)
{
	size_t i, j;

	for (i = 0; i < au->n; i++)
		for (j = 0; j < r->n; j++)
			if (!r->found[j] &&
			    ascii_ieq(au->box[i].addr, strlen(au->box[i].addr),
				      r->addr[j], strlen(r->addr[j])))
				r->found[j] = 1;
}

int dkim_rcpts_match(arena *a, const msg *m, dkim_rcpts *r)
{
	size_t i;

	if (r->addr == NULL)
		return 0;
	for (i = 0; i < m->n; i++) {
		const msg_field *f = &m->f[i];
		author au;

		if (!msg_field_is(f, "to", 2) && !msg_field_is(f, "cc", 2))
			continue;
		if (author_read_value(a, f->value, f->vlen, &au) != 0)
			return -1;
		/* an unreadable field (a group, a limit) names nobody here:
		 * what it was is said, the recipients stay unfound */
		if (au.problem != NULL) {
			if (r->to_cc_code == NULL)
				r->to_cc_code = au.code;
			continue;
		}
		mark(r, &au);
	}
	return 0;
}

void dkim_put_evidence(arena *a, mauth_value *e, const dkim_evidence *ev)
{
	char fp[DKIM_FP_HEX + 1];
	mauth_value *o;
	size_t i;

	if (dkim_fingerprint(ev->domain, ev->selector, ev->b, ev->blen, fp) == 0)
		val_cstr(a, e, "fingerprint", fp);
	if (ev->now >= 0 && ev->t >= 0)
		val_int(a, e, "age", ev->now - ev->t);
	if (ev->now >= 0 && ev->x >= 0)
		val_bool(a, e, "expired", ev->x < ev->now);
	if (ev->nh > 0) {
		o = val_add(a, e, "oversigned", MAUTH_V_MAP);
		val_bool(a, o, "from", (ev->oversigned & DKIM_OVER_FROM) != 0);
		val_bool(a, o, "subject", (ev->oversigned & DKIM_OVER_SUBJECT) != 0);
	}
	if (ev->l >= 0 && ev->body_known) {
		val_int(a, e, "body_bytes", (long long)ev->body_total);
		val_bool(a, e, "body_covered",
			 ev->body_total <= (unsigned long long)ev->l);
	}
	if (ev->rcpts == NULL || ev->rcpts->addr == NULL)
		return;
	o = val_add(a, e, "recipients_in_to_cc", MAUTH_V_MAP);
	for (i = 0; i < ev->rcpts->n; i++)
		val_bool(a, o, ev->rcpts->addr[i], ev->rcpts->found[i]);
	if (ev->rcpts->to_cc_code != NULL)
		val_cstr(a, e, "to_cc_code", ev->rcpts->to_cc_code);
}
