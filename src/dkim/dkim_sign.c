/*
 * dkim_sign.c - making a DKIM-Signature (RFC 6376 §5; Ed25519 RFC 8463).
 * Pure: no DNS.  Everything is done in init() while the message is ours
 * to read, the result too (step is check_step_none):
 *   { header = "DKIM-Signature: ..." }  or  { problem = "why not", code }
 * The header text is folded with CRLF TAB and has no final CRLF.  What
 * ARC's sealer does the same way (arguments, default fields, key checks,
 * hashing, signing) is in dkim_signer.c.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/internal.h"
#include "core/textbuf.h"
#include "core/message.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define FOLD_AT 76		/* RFC 5322 §2.1.1: lines SHOULD stay under 78 */
#define SIGN_MAX_EXPIRE 315360000L	/* ten years */

typedef struct {
	int unused;	/* init writes the result: there is nothing to keep */
} sign_state;

/* What only DKIM signs with: i=, c=, x=. */
typedef struct {
	const char *identity;
	int relaxed_h, relaxed_b;
	long expire;
	int has_expire;
} sign_opts;

static void fold(textbuf *t)
{
	text_put(t, "\r\n\t", 3);
	t->line = 1;
}

/* Adds " tag=value;" folding before it when the line would grow too long. */
static void put_tag(textbuf *t, const char *tagv, int last)
{
	size_t n = strlen(tagv) + (last ? 0 : 1);

	if (t->line + 1 + n > FOLD_AT)
		fold(t);
	else
		text_put(t, " ", 1);
	text_put(t, tagv, strlen(tagv));
	if (!last)
		text_put(t, ";", 1);
}

/* c= as given: simple|relaxed[/simple|relaxed] (RFC 6376 §3.4). */
static int read_canon(const char *canon, sign_opts *o)
{
	const char *slash;
	size_t cl;

	o->relaxed_h = o->relaxed_b = 1;
	if (canon == NULL)
		return 0;
	slash = strchr(canon, '/');
	cl = slash ? (size_t)(slash - canon) : strlen(canon);
	o->relaxed_h = ascii_ieq(canon, cl, "relaxed", 7);
	o->relaxed_b = slash && ascii_ieq(slash + 1, strlen(slash + 1),
					  "relaxed", 7);
	if ((!o->relaxed_h && !ascii_ieq(canon, cl, "simple", 6)) ||
	    (slash && !o->relaxed_b &&
	     !ascii_ieq(slash + 1, strlen(slash + 1), "simple", 6)))
		return -1;
	return 0;
}

/* The arguments only DKIM takes: identity, canonicalization, expire. */
static int read_opts(const params *p, const dkim_signer *sg, sign_opts *o,
		     char *err, size_t errlen)
{
	o->identity = param_get(p, "identity", NULL);
	if (o->identity != NULL && (strchr(o->identity, ';') ||
				    strchr(o->identity, ' ') ||
				    strchr(o->identity, '@') == NULL)) {
		snprintf(err, errlen, "identity: want local@domain");
		return MAUTH_EINVAL;
	}
	if (read_canon(param_get(p, "canonicalization", NULL), o) != 0) {
		snprintf(err, errlen, "canonicalization: want "
			 "simple|relaxed[/simple|relaxed]");
		return MAUTH_EINVAL;
	}
	o->expire = 0;
	o->has_expire = param_long(p, "expire", 1, SIGN_MAX_EXPIRE, &o->expire);
	if (o->has_expire < 0 || (o->has_expire > 0 && sg->has_now == 0)) {
		snprintf(err, errlen, o->has_expire < 0 ? "expire: want seconds "
			 "(1 .. ten years)" : "expire needs now");
		return MAUTH_EINVAL;
	}
	return 0;
}

/* h= (RFC 6376 §5.4): the names given must sign From. */
static int check_names(const dkim_signer *sg, char *err, size_t errlen)
{
	size_t i;
	int from = 0;

	for (i = 0; i < sg->nh; i++)
		from |= ascii_ieq(sg->names[i], sg->lens[i], "from", 4);
	if (from)
		return 0;
	snprintf(err, errlen, "headers: must include From (RFC 6376 5.4)");
	return MAUTH_EINVAL;
}

/* h= may be long: broken after a colon (FWS is allowed there). */
static void put_h(textbuf *t, const dkim_signer *sg)
{
	size_t i;

	if (t->line + 4 > FOLD_AT)
		fold(t);
	else
		text_put(t, " ", 1);
	text_put(t, "h=", 2);
	for (i = 0; i < sg->nh; i++) {
		if (i > 0) {
			text_put(t, ":", 1);
			if (t->line + sg->lens[i] + 1 > FOLD_AT)
				fold(t);
		}
		text_put(t, sg->names[i], sg->lens[i]);
	}
	text_put(t, ";", 1);
}

/* The field up to "b=", folded: what gets signed (RFC 6376 §3.7). */
static void put_field(textbuf *t, const dkim_signer *sg, const sign_opts *o,
		      const char *bh64)
{
	char buf[600];

	text_put(t, "DKIM-Signature:", 15);
	put_tag(t, "v=1", 0);
	snprintf(buf, sizeof buf, "a=%s", sg->algorithm);
	put_tag(t, buf, 0);
	snprintf(buf, sizeof buf, "c=%s/%s", o->relaxed_h ? "relaxed" : "simple",
		 o->relaxed_b ? "relaxed" : "simple");
	put_tag(t, buf, 0);
	snprintf(buf, sizeof buf, "d=%s", sg->domain);
	put_tag(t, buf, 0);
	snprintf(buf, sizeof buf, "s=%s", sg->selector);
	put_tag(t, buf, 0);
	if (o->identity != NULL) {
		snprintf(buf, sizeof buf, "i=%s", o->identity);
		put_tag(t, buf, 0);
	}
	if (sg->has_now > 0) {
		snprintf(buf, sizeof buf, "t=%ld", sg->now);
		put_tag(t, buf, 0);
	}
	if (o->has_expire > 0) {
		snprintf(buf, sizeof buf, "x=%ld", sg->now + o->expire);
		put_tag(t, buf, 0);
	}
	put_h(t, sg);
	snprintf(buf, sizeof buf, "bh=%s", bh64);
	put_tag(t, buf, 0);
	if (t->line + 3 > FOLD_AT)
		fold(t);
	else
		text_put(t, " ", 1);
	text_put(t, "b=", 2);
}

/* b= folded in pieces that fill the lines. */
static void put_b(textbuf *t, const char *sig64)
{
	size_t n = strlen(sig64), off;

	for (off = 0; off < n;) {
		size_t room = t->line < FOLD_AT ? FOLD_AT - t->line : 0;
		size_t take = n - off < room ? n - off : room;

		if (take == 0) {
			fold(t);
			continue;
		}
		text_put(t, sig64 + off, take);
		off += take;
	}
}

/*
 * Nothing is signed, and the result says why: problem and its code
 * (doc/codes.md).  The check's outcome, not an error of the call: returns
 * 0, for init to return.
 */
static int refuse(mauth_check *c, const char *code, const char *problem)
{
	val_problem(check_arena(c), check_result(c), code, problem);
	return 0;
}

/* Hashes, signs and assembles the field into the result's header. */
static int sign_message(mauth_check *c, const dkim_signer *sg,
			const sign_opts *o)
{
	arena *a = check_arena(c);
	char bh64[HASH_MAX * 2], *sig64 = NULL, *header;
	const char *why = NULL;
	textbuf t = { NULL, 0, 0, 0, 0 };
	int rc = MAUTH_ENOMEM;

	if (dkim_signer_body_hash(sg, o->relaxed_b, bh64) != 0)
		return MAUTH_ENOMEM;
	put_field(&t, sg, o, bh64);
	if (!t.failed)
		sig64 = dkim_signer_sign_fields(sg, o->relaxed_h, t.p, t.n, 14,
						&why);
	if (sig64 == NULL && why != NULL) {
		rc = refuse(c, "signing_failed", why);
	} else if (sig64 != NULL) {
		put_b(&t, sig64);
		if (!t.failed && (header = arena_strndup(a, t.p, t.n)) != NULL) {
			val_ref(a, check_result(c), "header", header, t.n);
			rc = 0;
		}
	}
	free(sig64);
	free(t.p);
	return rc;
}

static int sign_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	const char *problem, *code = NULL;
	dkim_signer sg;
	sign_opts o;
	int rc;

	(void)vst;
	if ((rc = dkim_signer_args(c, p, &sg, err, errlen)) != 0 ||
	    (rc = read_opts(p, &sg, &o, err, errlen)) != 0)
		return rc;
	/* The header list: given, or the default with From signed once more. */
	if (sg.nh > 0 && (rc = check_names(&sg, err, errlen)) != 0)
		return rc;
	if (sg.nh == 0 &&
	    dkim_signer_default_names(check_arena(c), &sg, NULL, 1) != 0)
		return MAUTH_ENOMEM;
	if (msg_count(&sg.m, "from", 4) == 0)
		return refuse(c, "from_missing",
			      "message has no From field");
	if (sg.m.truncated)
		return refuse(c, "message_limit", sg.m.problem);
	if ((problem = dkim_signer_key(&sg, NULL, &code)) != NULL)
		rc = refuse(c, code, problem);
	else
		rc = sign_message(c, &sg, &o);
	dkim_signer_free(&sg);
	return rc;
}

static const mauth_option sign_options[] = {
	DKIM_SIGNER_REQUIRED_OPTIONS,
	DKIM_SIGNER_ALGORITHM_OPTION,
	OPT_STR("canonicalization", 0, "relaxed/relaxed", "c canon"),
	OPT_LIST("headers", MAUTH_V_STR, "RFC 6376 §5.4.1 fields present, From once more",
		 "h fields signed_headers"),
	OPT_INT("expire", 1, SIGN_MAX_EXPIRE, "no x="),
	OPT_STR("identity", 0, NULL, "i auid"),
	DKIM_SIGNER_NOW_OPTION,
	OPT_END
};

const check_vt mauth_dkim_sign_vt = {
	"dkim_sign", sizeof(sign_state), sign_init, check_step_none, NULL, NULL,
	sign_options
};
