/*
 * arc_seal.c - adding an ARC set to a message (RFC 8617 §5.1).  Pure: the
 * chain validation status (cv=) comes from the caller, either as the
 * "cv" parameter or as the arc= result in the Authentication-Results text
 * the set carries (as the ValiMail suite and dkimpy take it).
 *
 * Result: { seal, message_signature, authentication_results (the three
 * header fields, each without a final CRLF), instance, cv }, or
 * { problem, code } when no set can be added.  What DKIM's signer does
 * the same way (arguments, default fields, key checks, hashing, signing)
 * is in dkim/dkim_signer.c.
 *
 * Layout: tags in alphabetical order, one space after each ";", folded
 * only between tags, never inside b= (whitespace inside b= would change
 * the relaxed form the next seal covers).
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/internal.h"
#include "core/textbuf.h"
#include "core/message.h"
#include "core/tags.h"
#include "core/canon.h"
#include "core/crypto.h"
#include "dkim/dkim.h"

#define ARC_MAX_INSTANCES 50	/* RFC 8617 §4.2.1 */
#define FOLD_AT 78
#define AR_TEXT_MAX 16384	/* bytes of Authentication-Results carried */

enum { CV_NONE = 1, CV_PASS, CV_FAIL };
static const char *const cv_word[] = { "", "none", "pass", "fail" };

typedef struct {
	const char *seal, *ams, *aar, *problem;
	const char *code;	/* the problem's (doc/codes.md) */
	int instance, cv;
} seal_state;

/* What only ARC seals with. */
typedef struct {
	const char *ar, *authserv;	/* the A-R text; authserv_id or NULL */
	size_t arlen;
	int cv;				/* given, or 0 */
} seal_opts;

/* The chain on the message: its fields by instance, AAR/AMS/AS. */
typedef struct {
	const msg_field *sets[ARC_MAX_INSTANCES + 1][3];
	int top;			/* the newest instance, 0: none */
} chain;

/* "; " before the next item, or ";" CRLF SP when the line would grow long. */
static void sep(textbuf *t, size_t next)
{
	if (t->line + 2 + next > FOLD_AT) {
		text_put(t, ";\r\n ", 4);
		t->line = 1;
	} else {
		text_put(t, "; ", 2);
	}
}

static int is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* i= of an ARC-Seal/AMS (1..50) or 0; the AAR's leading "i=N;" too. */
static int instance_of(const msg_field *f, int aar)
{
	tag_list tl;
	const tag *t;
	const char *why, *s = f->value;
	size_t n = f->vlen, i = 0;
	int v = 0;

	if (aar) {
		while (i < n && is_fws(s[i]))
			i++;
		if (i + 2 > n || s[i] != 'i' || s[i + 1] != '=')
			return 0;
		for (i += 2; i < n && s[i] >= '0' && s[i] <= '9' && v <= 50; i++)
			v = v * 10 + (s[i] - '0');
		return v <= ARC_MAX_INSTANCES ? v : 0;
	}
	if (tags_parse(s, n, &tl, &why) != 0 || (t = tags_get(&tl, "i")) == NULL)
		return 0;
	for (i = 0; i < t->vlen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9' || v > 50)
			return 0;
		v = v * 10 + (t->val[i] - '0');
	}
	return v <= ARC_MAX_INSTANCES ? v : 0;
}

static int seal_cv(const msg_field *f)
{
	tag_list tl;
	const tag *t;
	const char *why;

	if (tags_parse(f->value, f->vlen, &tl, &why) != 0 ||
	    (t = tags_get(&tl, "cv")) == NULL)
		return 0;
	if (tag_ieq(t, "fail"))
		return CV_FAIL;
	if (tag_ieq(t, "pass"))
		return CV_PASS;
	return tag_ieq(t, "none") ? CV_NONE : 0;
}

/*
 * The A-R text unfolded into out (NUL-terminated), without a leading
 * "Authentication-Results:" name.  0, or -1 when too long.
 */
static int unfold_ar(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int space = 0;

	if (n >= 23 && ascii_ieq(s, 23, "Authentication-Results:", 23)) {
		s += 23;
		n -= 23;
	}
	for (i = 0; i < n; i++) {
		if (is_fws(s[i]) || s[i] == '\0') {
			space = 1;
			continue;
		}
		if (space && o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = ' ';
		}
		space = 0;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return 0;
}

/* The arc= result among the resinfos of an A-R text, or 0 when none. */
static int ar_arc_result(const char *s)
{
	int found = 0;

	while (*s) {
		const char *e;

		while (*s == ' ' || *s == ';')
			s++;
		e = s;
		while (*e && *e != ';')
			e++;
		if ((size_t)(e - s) > 4 && ascii_ieq(s, 4, "arc=", 4)) {
			const char *w = s + 4;
			size_t wl = 0;

			while (w + wl < e && w[wl] != ' ' && w[wl] != '(')
				wl++;
			if (found)
				return CV_FAIL;	/* two arc= results: §5.1 not met */
			found = ascii_ieq(w, wl, "pass", 4) ? CV_PASS :
				ascii_ieq(w, wl, "none", 4) ? CV_NONE : CV_FAIL;
		}
		s = e;
	}
	return found;
}

/*
 * Builds "Name: a=..; b=" + sig + rest, where items[bi] is "b=".  With
 * sig NULL the b= value is empty (what gets hashed).
 */
static void build(textbuf *t, const char *name, const char *const *items,
		  size_t n, size_t bi, const char *sig)
{
	size_t i;

	t->n = t->line = 0;
	text_puts(t, name);
	text_put(t, " ", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sep(t, i == bi && sig ? 2 + strlen(sig) : strlen(items[i]));
		text_puts(t, items[i]);
		if (i == bi && sig != NULL)
			text_puts(t, sig);
	}
}

/* A problem that ends sealing: the result, not an error of the call. */
static int give_up(seal_state *st, const char *code, const char *problem)
{
	st->problem = problem;
	st->code = code;
	return 0;
}

/* The arguments only ARC takes: authentication_results, authserv_id, cv. */
static int read_opts(const params *p, seal_opts *o, char *err, size_t errlen)
{
	const char *cvp = param_get(p, "cv", NULL);

	o->ar = param_get(p, "authentication_results", &o->arlen);
	o->authserv = param_get(p, "authserv_id", NULL);
	if (o->ar == NULL) {
		snprintf(err, errlen, "authentication_results: required");
		return MAUTH_EINVAL;
	}
	if (o->authserv != NULL && (o->authserv[0] == '\0' ||
				    strpbrk(o->authserv, "; \t\r\n"))) {
		snprintf(err, errlen, "authserv_id: want a token");
		return MAUTH_EINVAL;
	}
	o->cv = 0;
	if (cvp == NULL)
		return 0;
	for (o->cv = CV_NONE; o->cv <= CV_FAIL; o->cv++)
		if (strcmp(cvp, cv_word[o->cv]) == 0)
			return 0;
	snprintf(err, errlen, "cv: want none, pass or fail");
	return MAUTH_EINVAL;
}

/* §4.1.2: the AMS must not sign ARC-Seal fields. */
static int check_names(const dkim_signer *sg, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < sg->nh; i++)
		if (ascii_ieq(sg->names[i], sg->lens[i], "ARC-Seal", 8)) {
			snprintf(err, errlen, "headers[%zu]: ARC-Seal may not be "
				 "signed", i + 1);
			return MAUTH_EINVAL;
		}
	return 0;
}

/*
 * The existing chain: fields by instance (first of each kind), and the
 * instance of the new set.  1 when no set may be added (st->problem).
 */
static int read_chain(seal_state *st, const msg *m, chain *ch)
{
	size_t i;

	memset(ch, 0, sizeof *ch);
	for (i = 0; i < m->n; i++) {
		int kind = msg_field_is(&m->f[i], "ARC-Authentication-Results", 26) ? 0 :
			   msg_field_is(&m->f[i], "ARC-Message-Signature", 21) ? 1 :
			   msg_field_is(&m->f[i], "ARC-Seal", 8) ? 2 : -1;
		int inst;

		if (kind < 0)
			continue;
		inst = instance_of(&m->f[i], kind == 0);
		if (inst == 0)
			return give_up(st, "arc_instance_invalid", "an ARC field "
				       "of the message has no valid i=") + 1;
		if (ch->sets[inst][kind] == NULL)
			ch->sets[inst][kind] = &m->f[i];
		if (inst > ch->top)
			ch->top = inst;
	}
	st->instance = ch->top + 1;
	if (st->instance > ARC_MAX_INSTANCES)
		return give_up(st, "arc_instance_limit", "the chain already has "
			       "50 ARC sets (RFC 8617 4.2.1)") + 1;
	/* §5.1: a chain its last sealer found failed gets no more sets. */
	if (ch->top > 0 && ch->sets[ch->top][2] != NULL &&
	    seal_cv(ch->sets[ch->top][2]) == CV_FAIL)
		return give_up(st, "arc_chain_failed", "the newest ARC-Seal says "
			       "cv=fail: no set is added") + 1;
	return 0;
}

/*
 * cv= of the new set (§5.1.1): given, or the arc= result the
 * Authentication-Results text carries, else none; it must fit the chain.
 * 1 when it does not (st->problem).
 */
static int choose_cv(seal_state *st, const chain *ch, const char *artext,
		     int cv)
{
	int k;

	if (cv == 0)
		cv = ar_arc_result(artext);
	if (cv == 0)
		cv = CV_NONE;
	if (ch->top == 0 && cv != CV_NONE)
		return give_up(st, "arc_cv_invalid", "no ARC set on the message, "
			       "so cv must be none") + 1;
	if (ch->top > 0 && cv == CV_NONE)
		return give_up(st, "arc_cv_missing", "the message has an ARC "
			       "chain: its validation (cv or arc= in "
			       "authentication_results) is needed") + 1;
	if (cv == CV_PASS)
		for (k = 1; k <= ch->top; k++)
			if (!ch->sets[k][0] || !ch->sets[k][1] || !ch->sets[k][2])
				return give_up(st, "arc_set_incomplete", "cv=pass "
					       "but an ARC set is incomplete") + 1;
	st->cv = cv;
	return 0;
}

/*
 * The AAR (§4.1.1): "i=N; authserv-id; results", the id added when not
 * there, folded between resinfos.  0 or MAUTH_ENOMEM.
 */
static int make_aar(arena *a, seal_state *st, const char *artext,
		    const char *authserv, textbuf *t)
{
	size_t al = authserv ? strlen(authserv) : 0;
	int has_id = authserv == NULL ||
		     (strncmp(artext, authserv, al) == 0 &&
		      (artext[al] == ';' || artext[al] == ' ' || artext[al] == '\0'));
	size_t need = strlen(artext) + al + 40;
	char *aar = malloc(need), prefix[16];
	const char *s = aar;

	if (aar == NULL)
		return MAUTH_ENOMEM;
	if (has_id)
		snprintf(aar, need, "%s", artext);
	else if (artext[0] == '\0')
		snprintf(aar, need, "%s; none", authserv);
	else
		snprintf(aar, need, "%s; %s", authserv, artext);
	snprintf(prefix, sizeof prefix, "i=%d", st->instance);
	text_puts(t, "ARC-Authentication-Results: ");
	text_puts(t, prefix);
	while (*s) {
		/* A ";" then a space ends a resinfo (one in a comment may not). */
		const char *e = strstr(s, "; ");
		size_t n = e ? (size_t)(e - s) : strlen(s);

		while (n > 0 && *s == ' ') {
			s++;
			n--;
		}
		sep(t, n);
		text_put(t, s, n);
		s += n;
		if (*s == ';')
			s++;
	}
	free(aar);
	if (t->failed || (st->aar = arena_strndup(a, t->p, t->n)) == NULL)
		return MAUTH_ENOMEM;
	return 0;
}

/* The tags the AMS and the seal both carry: a=, d=, i=, s=, t=. */
typedef struct {
	char a[40], d[NAME_TEXT_MAX + 4], i[16], s[NAME_TEXT_MAX + 4], t[40];
} seal_tags;

/* Builds the field with b= empty, signs it, builds it with the signature. */
static int sign_field(arena *a, seal_state *st, textbuf *t, const char *name,
		      const char *const *items, size_t n, char *sig,
		      const char *why, const char **out)
{
	int rc = MAUTH_ENOMEM;

	if (sig == NULL)
		return why != NULL ? give_up(st, "signing_failed", why) : rc;
	build(t, name, items, n, 1, sig);
	if (!t->failed && (*out = arena_strndup(a, t->p, t->n)) != NULL)
		rc = 0;
	free(sig);
	return rc;
}

/* The AMS (§4.1.2): body and header relaxed, as DKIM. */
static int make_ams(arena *a, seal_state *st, const dkim_signer *sg,
		    const seal_tags *tg, textbuf *t)
{
	char bh64[HASH_MAX * 2], bh[HASH_MAX * 2 + 8], *sig = NULL;
	const char *items[9], *why = NULL;
	textbuf hl = { NULL, 0, 0, 0, 0 };
	size_t i, n = 0;
	int rc = MAUTH_ENOMEM;

	if (dkim_signer_body_hash(sg, 1, bh64) != 0)
		return MAUTH_ENOMEM;
	for (i = 0; i < sg->nh; i++) {
		text_put(&hl, i ? ":" : "h=", i ? 1 : 2);
		text_put(&hl, sg->names[i], sg->lens[i]);
	}
	if (sg->nh == 0)
		text_puts(&hl, "h=");
	snprintf(bh, sizeof bh, "bh=%s", bh64);
	items[n++] = tg->a;
	items[n++] = "b=";
	items[n++] = bh;
	items[n++] = "c=relaxed/relaxed";
	items[n++] = tg->d;
	items[n++] = hl.p;
	items[n++] = tg->i;
	items[n++] = tg->s;
	if (tg->t[0])
		items[n++] = tg->t;
	if (!hl.failed) {
		build(t, "ARC-Message-Signature:", items, n, 1, NULL);
		if (!t->failed) {
			sig = dkim_signer_sign_fields(sg, 1, t->p, t->n, 21, &why);
			rc = sign_field(a, st, t, "ARC-Message-Signature:", items,
					n, sig, why, &st->ams);
		}
	}
	free(hl.p);
	return rc;
}

/*
 * The seal (§5.1.1): the sets before, oldest first, then the new AAR, AMS
 * and the seal itself.  With cv=fail only the new set, as the ValiMail
 * suite (i1_base_fail, i2_base_fail) and dkimpy have it: a failed chain
 * is not vouched for.
 */
static int make_seal(arena *a, seal_state *st, const dkim_signer *sg,
		     const chain *ch, const seal_tags *tg, textbuf *t)
{
	char cvt[16], *sig;
	const char *items[7], *why = NULL;
	crypto_hash *h = crypto_hash_new(HASH_SHA256);
	size_t n = 0;
	int k, j, rc = MAUTH_ENOMEM;

	if (h == NULL)
		return MAUTH_ENOMEM;
	snprintf(cvt, sizeof cvt, "cv=%s", cv_word[st->cv]);
	items[n++] = tg->a;
	items[n++] = "b=";
	items[n++] = cvt;
	items[n++] = tg->d;
	items[n++] = tg->i;
	items[n++] = tg->s;
	if (tg->t[0])
		items[n++] = tg->t;
	for (k = 1; st->cv != CV_FAIL && k <= ch->top; k++)
		for (j = 0; j < 3; j++)
			canon_header(1, ch->sets[k][j]->raw, ch->sets[k][j]->len,
				     ch->sets[k][j]->nlen, 0, 0, 1, h);
	canon_header(1, st->aar, strlen(st->aar), 26, 0, 0, 1, h);
	canon_header(1, st->ams, strlen(st->ams), 21, 0, 0, 1, h);
	build(t, "ARC-Seal:", items, n, 1, NULL);
	if (!t->failed) {
		canon_header(1, t->p, t->n, 8, 0, 0, 0, h);
		sig = dkim_signer_sign(sg, h, &why);
		rc = sign_field(a, st, t, "ARC-Seal:", items, n, sig, why,
				&st->seal);
	}
	crypto_hash_free(h);
	return rc;
}

/* The AMS and the seal of the new set, once its AAR is made. */
static int sign_set(arena *a, seal_state *st, dkim_signer *sg,
		    const chain *ch, textbuf *t)
{
	const char *problem, *code = NULL;
	seal_tags tg;
	int rc;

	if (sg->nh == 0 &&
	    dkim_signer_default_names(a, sg, "dkim-signature", 0) != 0)
		return MAUTH_ENOMEM;
	problem = dkim_signer_key(sg, "key does not match the algorithm", &code);
	if (problem != NULL)
		return give_up(st, code, problem);
	snprintf(tg.a, sizeof tg.a, "a=%s", sg->algorithm);
	snprintf(tg.d, sizeof tg.d, "d=%s", sg->domain);
	snprintf(tg.i, sizeof tg.i, "i=%d", st->instance);
	snprintf(tg.s, sizeof tg.s, "s=%s", sg->selector);
	tg.t[0] = '\0';
	if (sg->now > 0)
		snprintf(tg.t, sizeof tg.t, "t=%ld", sg->now);
	if ((rc = make_ams(a, st, sg, &tg, t)) != 0 || st->ams == NULL)
		return rc;
	return make_seal(a, st, sg, ch, &tg, t);
}

/* The new set: AAR, AMS, seal; st->problem when none can be made. */
static int add_set(arena *a, seal_state *st, dkim_signer *sg,
		   const seal_opts *o, const chain *ch)
{
	char *artext = malloc(o->arlen + 1 > AR_TEXT_MAX ? AR_TEXT_MAX :
			      o->arlen + 1);
	textbuf t = { NULL, 0, 0, 0, 0 };
	int rc = 0;

	if (artext == NULL)
		return MAUTH_ENOMEM;
	if (unfold_ar(o->ar, o->arlen, artext, AR_TEXT_MAX) != 0)
		rc = give_up(st, "authres_too_long",
			     "authentication_results: too long");
	else if (choose_cv(st, ch, artext, o->cv) == 0 &&
		 (rc = make_aar(a, st, artext, o->authserv, &t)) == 0)
		rc = sign_set(a, st, sg, ch, &t);
	free(artext);
	free(t.p);
	return rc;
}

static int seal_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	seal_state *st = vst;
	dkim_signer sg;
	seal_opts o;
	chain ch;
	int rc;

	if ((rc = dkim_signer_args(c, p, &sg, err, errlen)) != 0 ||
	    (rc = read_opts(p, &o, err, errlen)) != 0 ||
	    (rc = check_names(&sg, err, errlen)) != 0)
		return rc;
	if (sg.m.truncated)
		return give_up(st, "message_limit", sg.m.problem);
	if (read_chain(st, &sg.m, &ch) != 0)
		return 0;
	rc = add_set(check_arena(c), st, &sg, &o, &ch);
	dkim_signer_free(&sg);
	return rc;
}

static int seal_step(mauth_check *c, void *vst)
{
	seal_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);

	if (st->seal != NULL) {
		val_cstr(a, r, "seal", st->seal);
		val_cstr(a, r, "message_signature", st->ams);
		val_cstr(a, r, "authentication_results", st->aar);
		val_int(a, r, "instance", st->instance);
		val_cstr(a, r, "cv", cv_word[st->cv]);
	} else {
		val_problem(a, r, st->problem ? st->code : "arc_set_not_made",
			    st->problem ? st->problem : "no ARC set made");
	}
	return 0;
}

static const mauth_option seal_options[] = {
	DKIM_SIGNER_REQUIRED_OPTIONS,
	OPT_STR("authentication_results", 1, NULL, "authres ar results"),
	OPT_STR("authserv_id", 0, NULL, "authserv"),
	OPT_WORD("cv", "none pass fail", "the arc= result in authentication_results, else none", NULL),
	DKIM_SIGNER_ALGORITHM_OPTION,
	OPT_LIST("headers", MAUTH_V_STR, "RFC 6376 §5.4.1 fields present, DKIM-Signature",
		 "h fields signed_headers"),
	DKIM_SIGNER_NOW_OPTION,
	OPT_END
};

const check_vt mauth_arc_seal_vt = {
	"arc_seal", sizeof(seal_state), seal_init, seal_step, NULL, NULL, seal_options
};
