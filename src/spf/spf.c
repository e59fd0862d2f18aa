/*
 * spf.c - SPF check_host() (RFC 7208) as a job.
 *
 * The evaluator is a step machine over an explicit stack of frames, one per
 * record being evaluated (the checked domain, then each include), so an
 * include chain never recurses on the C stack.  Each record is parsed once
 * (spf_record.c) and kept parsed for the whole process (spf_cache.c).  A
 * term that needs DNS asks and returns; the next step() resumes it with
 * the answers.  Questions that do not depend on each other
 * (the address records of all MX names, the forward lookups of all PTR
 * names) are asked in one step.
 *
 * Limits (§4.6.4), each a permerror naming its option:
 *   max_lookups (10)       terms that query DNS: include a mx ptr exists redirect
 *   max_void_lookups (2)   terms whose lookup returned NXDOMAIN or no records
 *   max_mx_names (10)      MX records of one mx mechanism
 *   max_ptr_names (10)     PTR names examined by ptr and %{p} (the rest ignored)
 * The overall time budget is the driver's (answers become TIMEOUT).
 * Every problem carries its code (doc/codes.md, "SPF"): finish_problem.
 */
#include <stdio.h>
#include <string.h>
#include "spf/spf_macro.h"
#include "spf/spf.h"
#include "authres/authres.h"

#define EXPAND_MAX 2048		/* scratch: a longer domain expansion keeps its tail */
#define EXPLAIN_MAX 1024	/* explanation text kept */

typedef struct {
	const char *domain;	/* arena copy, no final dot */
	size_t domain_len;
	const char *text;	/* the record, arena copy */
	size_t text_len;
	spf_record rec;
	size_t pos;		/* next term */
	int has_rec;
	int via_redirect;	/* none here is a permerror, not none */
} frame;

enum phase {
	PH_RUN,			/* no question outstanding */
	PH_RECORD,		/* TXT of the top frame's domain */
	PH_ADDR,		/* a / exists: one address query */
	PH_MX,			/* MX of the target */
	PH_MX_ADDR,		/* addresses of the MX names */
	PH_PTR,			/* PTR of the client for the ptr mechanism */
	PH_PTR_ADDR,		/* forward lookups of the PTR names */
	PH_PMACRO_PTR,		/* PTR for %{p} */
	PH_PMACRO_ADDR,		/* forward lookups for %{p} */
	PH_EXP			/* TXT of the exp= domain */
};

typedef struct {
	/* inputs */
	ipaddr ip;
	char iptext[48];
	const char *local, *sdomain, *helo, *receiver, *default_exp, *full;
	size_t local_len, sdomain_len, helo_len, receiver_len, default_exp_len,
	       full_len;		/* full: <sender> as local "@" domain, %{s} */
	const char *identity;	/* smtp.mailfrom / smtp.helo value */
	int receiver_given;	/* Received-SPF names the receiver */
	const char *sender;	/* MAIL FROM as given */
	int scope_helo;
	int idn_bad;		/* <domain> has U-labels that do not convert */
	long long now;
	long max_lookups, max_void, max_mx, max_ptr;

	/* machine */
	frame *stack;
	size_t depth, cap;
	enum phase phase;
	unsigned qid;		/* the single question of a phase */
	unsigned *qids;		/* several (MX / PTR names) */
	const char **qnames;
	size_t nq;
	char target[NAME_MAX_TEXT + 2];	/* the current term's domain */
	size_t target_len;
	long lookups, voids;

	/* %{p}: PTR names of the client and whether each validated */
	int pmacro;		/* 0 not yet, 1 done */
	const char **pnames;
	unsigned char *pvalid;
	size_t npnames;

	char *buf;		/* EXPAND_MAX scratch */
	const spf_term *final_term;	/* the match that decided */
	int explaining;		/* fail decided; fetching the explanation */
	const char *exp_text;	/* explanation waiting for %{p} */
	size_t exp_len;
	int done;
	const char *bad_input;	/* MAIL FROM/HELO unusable: none, with this */
	const char *bad_code;	/* and this code */

	/* cached records this check reads (frames and result point into
	 * them), given back when the check is freed (spf_free) */
	spf_cached **held;
	size_t nheld;
} spf_state;

/* A §4.6.4 limit option (gathered in the one walk of the options). */
static int opt_limit(const mauth_value *v, const char *key, long min, long max,
		     long *out, char *err, size_t errlen)
{
	if (v == NULL)
		return 0;
	if (v->kind != MAUTH_V_INT || v->num < min || v->num > max) {
		snprintf(err, errlen, "%s: want an integer %ld..%ld", key, min, max);
		return -1;
	}
	*out = (long)v->num;
	return 0;
}

/*
 * MAIL FROM and HELO come from the SMTP client: what they hold is an
 * outcome, never an error.  No length limit here: an over-long domain is
 * malformed, so none (§4.3).  A NUL cannot be in a mailbox or a name
 * (RFC 5321 §4.1.2), so such an identity is none as well; the text up to
 * the NUL is what the result shows.
 */
static void cut_at_nul(spf_state *st, const char *s, size_t *len,
		       const char *problem)
{
	if (memchr(s, '\0', *len) == NULL)
		return;
	if (st->bad_input == NULL) {
		st->bad_input = problem;
		st->bad_code = "identity_invalid";
	}
	*len = strlen(s);
}

/* §2.3 / §2.4: the HELO identity, as postmaster@helo. */
static void helo_identity(arena *a, spf_state *st, const char *helo,
			  size_t hlen)
{
	if (hlen == 0 && st->bad_input == NULL) {
		st->bad_input = st->scope_helo ?
			"no HELO name to check (RFC 7208 §2.3)" :
			"MAIL FROM empty and no HELO name to check instead (RFC 7208 §2.4)";
		st->bad_code = "identity_missing";
	}
	st->local = "postmaster";
	st->local_len = 10;
	st->sdomain = st->helo;
	st->sdomain_len = hlen;
	if (st->scope_helo) {
		st->identity = st->helo;
	} else {
		char *id = arena_alloc(a, hlen + 12);

		/* The arena zeroes: id ends with a NUL after helo. */
		if (id != NULL) {
			memcpy(id, "postmaster@", 12);	/* with its NUL */
			memcpy(id + 11, helo, hlen);
			id[11 + hlen] = '\0';
		}
		st->identity = id;
	}
}

/*
 * The MAIL FROM identity: local-part and domain split at the last "@",
 * both read in place in st->sender (the check's copy; the domain is its
 * NUL-terminated tail, the local-part is read by length only).
 */
static void sender_identity(spf_state *st, size_t slen)
{
	const char *sender = st->sender;
	size_t at;

	for (at = slen; at > 0 && sender[at - 1] != '@'; at--)
		;
	if (at <= 1) {
		/* §4.3: no local-part: "postmaster" */
		st->local = "postmaster";
		st->local_len = 10;
	} else {
		st->local = sender;
		st->local_len = at - 1;
	}
	st->sdomain = sender + at;
	st->sdomain_len = slen - at;
	st->identity = sender;
}

/*
 * <domain> and <sender> (%{s}) of check_host().  RFC 8616 §4: a <domain>
 * in U-labels is looked up (and expanded by macros) as A-labels.  One
 * that cannot be converted is malformed: "none" at start (RFC 7208 §4.3),
 * with the reason.
 */
static int domain_and_sender(arena *a, spf_state *st)
{
	const char *given = st->sdomain;
	int rc;

	if (st->sdomain != NULL) {
		rc = name_to_alabels(a, st->sdomain, st->sdomain_len,
				     &st->sdomain, &st->sdomain_len);
		if (rc == MAUTH_ENOMEM)
			return MAUTH_ENOMEM;
		if (rc == 1)
			st->idn_bad = 1;
	}
	st->full_len = st->local_len + 1 + st->sdomain_len;
	if (st->local == st->sender && st->sdomain == given && given != NULL &&
	    given == st->sender + st->local_len + 1) {
		/* local "@" domain is MAIL FROM itself, already in the arena */
		st->full = st->sender;
		return 0;
	}
	st->full = arena_alloc(a, st->full_len + 1);
	if (st->full == NULL || st->local == NULL || st->sdomain == NULL)
		return MAUTH_ENOMEM;
	memcpy((char *)st->full, st->local, st->local_len);
	((char *)st->full)[st->local_len] = '@';
	memcpy((char *)st->full + st->local_len + 1, st->sdomain, st->sdomain_len);
	return 0;
}

/*
 * The options spf_init reads by name, found in one pass over the map
 * (a param_get per name scanned it once each).  options_check has checked
 * names and kinds before init; the first of a name wins, as in param_get.
 */
typedef struct {
	const mauth_value *ip, *sender, *helo, *scope, *receiver, *dexp, *now;
	const mauth_value *max[4];	/* max_lookups, _void_lookups, _mx_names, _ptr_names */
} spf_params;

static const char *const limit_names[4] = {
	"max_lookups", "max_void_lookups", "max_mx_names", "max_ptr_names"
};

static void gather_params(const params *p, spf_params *o)
{
	const mauth_value *v;

	memset(o, 0, sizeof *o);
	for (v = p->map != NULL ? p->map->child : NULL; v != NULL; v = v->next) {
		const char *k = v->key;
		const mauth_value **slot = NULL;

		if (k == NULL)
			continue;
		switch (k[0]) {
		case 'i':
			slot = strcmp(k, "ip") == 0 ? &o->ip : NULL;
			break;
		case 's':
			slot = strcmp(k, "sender") == 0 ? &o->sender :
			       strcmp(k, "scope") == 0 ? &o->scope : NULL;
			break;
		case 'h':
			slot = strcmp(k, "helo") == 0 ? &o->helo : NULL;
			break;
		case 'r':
			slot = strcmp(k, "receiver") == 0 ? &o->receiver : NULL;
			break;
		case 'd':
			slot = strcmp(k, "default_explanation") == 0 ? &o->dexp : NULL;
			break;
		case 'n':
			slot = strcmp(k, "now") == 0 ? &o->now : NULL;
			break;
		case 'm': {
			size_t i;

			for (i = 0; i < 4 && slot == NULL; i++)
				if (strcmp(k, limit_names[i]) == 0)
					slot = &o->max[i];
			break;
		}
		default:
			break;
		}
		if (slot != NULL && *slot == NULL)
			*slot = v;
	}
}

/* A string option's text, as param_get reads it (NULL: absent). */
static const char *param_str(const mauth_value *v, size_t *len)
{
	if (v == NULL || v->kind != MAUTH_V_STR || v->str == NULL)
		return NULL;
	if (len != NULL)
		*len = v->len;
	return v->str;
}

/* ip, sender, helo and scope: the identity checked (§2.3, §2.4, §4.3). */
static int read_identity(mauth_check *c, spf_state *st, const spf_params *p,
			 char *err, size_t errlen)
{
	arena *a = check_arena(c);
	size_t len = 0, slen = 0, hlen = 0;
	const char *ip = param_str(p->ip, &len);
	const char *sender = param_str(p->sender, &slen);
	const char *helo = param_str(p->helo, &hlen);
	const char *scope = param_str(p->scope, NULL);

	if (ip == NULL || ip_parse(ip, len, &st->ip) != 0) {
		snprintf(err, errlen, "ip: not an IP address");
		return MAUTH_EINVAL;
	}
	if (st->ip.family == 4 && len < 16 && memchr(ip, ':', len) == NULL) {
		/* a dotted quad as ip_parse_v4 takes it is its own text form */
		memcpy(st->iptext, ip, len);
		st->iptext[len] = '\0';
	} else {
		ip_format(&st->ip, st->iptext, sizeof st->iptext);
	}
	if (sender == NULL)
		sender = "", slen = 0;
	if (helo == NULL)
		helo = "", hlen = 0;
	cut_at_nul(st, sender, &slen,
		   "MAIL FROM holds a NUL byte: no usable identity (RFC 7208 §4.3)");
	cut_at_nul(st, helo, &hlen,
		   "HELO holds a NUL byte: no usable identity (RFC 7208 §4.3)");
	if (scope != NULL && strcmp(scope, "helo") != 0 && strcmp(scope, "mfrom") != 0) {
		snprintf(err, errlen, "scope: want \"mfrom\" or \"helo\"");
		return MAUTH_EINVAL;
	}
	st->scope_helo = scope != NULL && strcmp(scope, "helo") == 0;
	st->sender = arena_strndup(a, sender, slen);
	st->helo = arena_strndup(a, helo, hlen);
	st->helo_len = hlen;
	if (st->sender == NULL || st->helo == NULL)
		return MAUTH_ENOMEM;
	if (st->scope_helo || slen == 0)
		helo_identity(a, st, helo, hlen);
	else
		sender_identity(st, slen);
	return domain_and_sender(a, st);
}

/* receiver, default_explanation, now and the §4.6.4 limits. */
static int read_options(mauth_check *c, spf_state *st, const spf_params *sp,
			char *err, size_t errlen)
{
	arena *a = check_arena(c);
	size_t len = 0;
	const char *s;

	s = param_str(sp->receiver, &len);
	st->receiver_given = s != NULL;
	if (s == NULL)
		s = "unknown", len = 7;
	st->receiver = arena_strndup(a, s, len);
	st->receiver_len = len;
	s = param_str(sp->dexp, &len);
	if (s != NULL) {
		st->default_exp = arena_strndup(a, s, len);
		st->default_exp_len = len;
	}
	if (sp->now != NULL && (sp->now->kind != MAUTH_V_INT || sp->now->num < 0 ||
				sp->now->num > 0x7fffffffL)) {
		snprintf(err, errlen, "now: want seconds since the epoch");
		return MAUTH_EINVAL;
	}
	st->now = sp->now != NULL ? sp->now->num : 0;
	st->max_lookups = 10;
	st->max_void = 2;
	st->max_mx = 10;
	st->max_ptr = 10;
	if (opt_limit(sp->max[0], limit_names[0], 1, 100, &st->max_lookups, err, errlen) ||
	    opt_limit(sp->max[1], limit_names[1], 0, 100, &st->max_void, err, errlen) ||
	    opt_limit(sp->max[2], limit_names[2], 1, 100, &st->max_mx, err, errlen) ||
	    opt_limit(sp->max[3], limit_names[3], 1, 100, &st->max_ptr, err, errlen))
		return MAUTH_EINVAL;
	return 0;
}

static int spf_init(mauth_check *c, void *vst, const params *p,
		    char *err, size_t errlen)
{
	spf_state *st = vst;
	arena *a = check_arena(c);
	spf_params sp;
	size_t len;
	int rc;

	gather_params(p, &sp);
	rc = read_identity(c, st, &sp, err, errlen);
	if (rc == 0)
		rc = read_options(c, st, &sp, err, errlen);
	if (rc != 0)
		return rc;
	/* Each include costs a lookup, so the stack never grows past this.
	 * Not zeroed: push_frame clears a frame, and held, qids and qnames
	 * are written before they are read (nheld, nq). */
	st->cap = (size_t)st->max_lookups + 2;
	st->stack = arena_alloc_raw(a, st->cap * sizeof *st->stack);
	/* a record per lookup (include, redirect) and the first: below cap */
	st->held = arena_alloc_raw(a, st->cap * sizeof *st->held);
	len = (size_t)(st->max_mx > st->max_ptr ? st->max_mx : st->max_ptr);
	st->qids = arena_alloc_raw(a, len * sizeof *st->qids);
	st->qnames = arena_alloc_raw(a, len * sizeof *st->qnames);
	if (st->stack == NULL || st->held == NULL || st->qids == NULL ||
	    st->qnames == NULL || st->helo == NULL || st->sdomain == NULL ||
	    st->local == NULL || st->receiver == NULL || st->identity == NULL)
		return MAUTH_ENOMEM;
	return 0;
}

/* ---- finishing ---- */

/*
 * The strings here are static or already in the check's arena (and NUL
 * terminated), so they go into the result without a copy.
 */
static void put_common(mauth_check *c, spf_state *st, mauth_value *r)
{
	arena *a = check_arena(c);

	if (st->scope_helo)
		VAL_LITERAL(a, r, "scope", "helo");
	else
		VAL_LITERAL(a, r, "scope", "mfrom");
	val_ref(a, r, "domain", st->sdomain, st->sdomain_len);
	if (st->sender != NULL && st->sender[0] != '\0')
		val_ref(a, r, "sender", st->sender, strlen(st->sender));
	val_ref(a, r, "ip", st->iptext, strlen(st->iptext));
	if (st->helo_len > 0)
		val_ref(a, r, "helo", st->helo, st->helo_len);
	val_int(a, r, "lookups", st->lookups);
	val_int(a, r, "void_lookups", st->voids);
}

static void finish(mauth_check *c, spf_state *st, int result,
		   const spf_term *mech, const char *explanation, size_t exp_len)
{
	arena *a = check_arena(c);
	mauth_value *r = check_result(c);
	frame *top = st->depth > 0 ? &st->stack[0] : NULL;
	const char *name = spf_result_name(result);

	if (r == NULL || st->done)
		return;
	val_ref(a, r, "result", name, strlen(name));
	put_common(c, st, r);
	if (top != NULL && top->has_rec)
		val_ref(a, r, "record", top->text, top->text_len);
	if (mech != NULL)	/* a term inside the record text: copied */
		val_str(a, r, "mechanism", mech->text, mech->text_len);
	else if (result == SPF_R_NEUTRAL && top != NULL && top->has_rec)
		VAL_LITERAL(a, r, "mechanism", "default");
	if (explanation != NULL)
		val_str(a, r, "explanation", explanation, exp_len);
	st->phase = PH_RUN;
	st->done = 1;
}

/* Ends the check with a problem and its code (doc/codes.md, "SPF"). */
static void finish_problem(mauth_check *c, spf_state *st, int result,
			   const char *code, const char *problem)
{
	if (st->done || check_result(c) == NULL)
		return;
	finish(c, st, result, NULL, NULL, 0);
	val_problem(check_arena(c), check_result(c), code, problem);
}

static void fail_with(mauth_check *c, spf_state *st, int result,
		      const char *code, const char *fmt, const char *arg)
{
	char problem[400];

	snprintf(problem, sizeof problem, fmt, arg);
	finish_problem(c, st, result, code, problem);
}

/* ---- macros and targets ---- */

/* The expansion buffer, allocated on first use (most records need none). */
static char *scratch(mauth_check *c, spf_state *st)
{
	if (st->buf == NULL)
		st->buf = arena_alloc(check_arena(c), EXPAND_MAX);
	return st->buf;
}

static void macro_env(spf_state *st, const frame *f, spf_macro_env *e)
{
	size_t i, best = (size_t)-1;

	e->sender = st->full;
	e->sender_len = st->full_len;
	e->local = st->local;
	e->local_len = st->local_len;
	e->sdomain = st->sdomain;
	e->sdomain_len = st->sdomain_len;
	e->domain = f->domain;
	e->domain_len = f->domain_len;
	e->helo = st->helo;
	e->helo_len = st->helo_len;
	e->receiver = st->receiver;
	e->receiver_len = st->receiver_len;
	e->ip = &st->ip;
	e->now = st->now;
	e->ptr = "unknown";
	e->ptr_len = 7;
	/* §7.3: a validated name equal to or under <domain> is preferred */
	for (i = 0; i < st->npnames; i++) {
		size_t n = strlen(st->pnames[i]);

		if (!st->pvalid[i])
			continue;
		if (best == (size_t)-1)
			best = i;
		if (name_eq(st->pnames[i], n, f->domain, f->domain_len) ||
		    (n > f->domain_len && st->pnames[i][n - f->domain_len - 1] == '.' &&
		     name_eq(st->pnames[i] + n - f->domain_len, f->domain_len,
			     f->domain, f->domain_len))) {
			best = i;
			break;
		}
	}
	if (best != (size_t)-1) {
		e->ptr = st->pnames[best];
		e->ptr_len = strlen(e->ptr);
	}
}

/*
 * Expands a domain-spec (or takes <domain> when spec is NULL) into
 * st->target: final dot removed, cut from the left to 253 (§4.8, §7.3).
 * Returns 0, or -1 after finishing with a permerror.  *valid tells whether
 * the name can be asked at all.
 */
static int expand_target(mauth_check *c, spf_state *st, const frame *f,
			 const char *spec, size_t len, int name, int *valid)
{
	spf_macro_env e;
	size_t n;
	const char *s;
	int rc;

	if (spec == NULL) {
		s = f->domain;
		n = f->domain_len;
	} else {
		if (name != SPF_NAME_MACRO || memchr(spec, '%', len) == NULL) {
			/* no macro: the domain-spec is the name as written */
			s = spec;
			n = len;
		} else {
			if (scratch(c, st) == NULL)
				return -1;
			macro_env(st, f, &e);
			rc = spf_macro_expand(spec, len, &e, MACRO_TAIL, st->buf,
					      EXPAND_MAX, &n);
			if (rc != MACRO_OK) {
				fail_with(c, st, SPF_R_PERMERROR,
					  rc == MACRO_TOOBIG ? "macro_too_long" :
					  "record_syntax", "%s",
					  rc == MACRO_TOOBIG ? "macro expansion too large" :
					  "bad macro in domain-spec");
				return -1;
			}
			s = st->buf;
		}
		s = spf_target_cut(s, &n);
	}
	if (n > NAME_MAX_TEXT)
		n = NAME_MAX_TEXT + 1;
	memmove(st->target, s, n);
	st->target[n] = '\0';
	st->target_len = n;
	/* judged by the parser when the spec has no macro (spf_record.c) */
	*valid = spec != NULL && name != SPF_NAME_MACRO ? name == SPF_NAME_VALID :
		 spf_target_valid(st->target, n);
	return 0;
}

/* ---- frames ---- */

static int push_frame(mauth_check *c, spf_state *st, const char *domain,
		      size_t len)
{
	frame *f;

	if (st->depth == st->cap) {
		fail_with(c, st, SPF_R_PERMERROR, "include_depth", "%s",
			  "include nesting too deep");
		return -1;
	}
	f = &st->stack[st->depth++];
	memset(f, 0, sizeof *f);
	f->domain = arena_strndup(check_arena(c), domain, len);
	f->domain_len = len;
	return f->domain != NULL ? 0 : -1;
}

static void ask_record(mauth_check *c, spf_state *st)
{
	frame *f = &st->stack[st->depth - 1];

	/* f->domain, an arena copy, stays until the check is freed */
	st->qid = check_ask_kept(c, MAUTH_T_TXT, f->domain, f->domain_len);
	st->phase = PH_RECORD;
}

/* Counts a DNS-querying term; 0 when within max_lookups. */
static int count_lookup(mauth_check *c, spf_state *st)
{
	char problem[120];

	if (++st->lookups <= st->max_lookups)
		return 0;
	snprintf(problem, sizeof problem,
		 "more than %ld DNS-querying terms (max_lookups)", st->max_lookups);
	st->lookups--;
	finish_problem(c, st, SPF_R_PERMERROR, "too_many_lookups", problem);
	return -1;
}

/* Counts a void lookup (§4.6.4); 0 when within max_void_lookups. */
static int count_void(mauth_check *c, spf_state *st)
{
	char problem[120];

	if (++st->voids <= st->max_void)
		return 0;
	snprintf(problem, sizeof problem,
		 "more than %ld void lookups (max_void_lookups)", st->max_void);
	finish_problem(c, st, SPF_R_PERMERROR, "too_many_void_lookups", problem);
	return -1;
}

static int temp_problem(mauth_check *c, spf_state *st, const mauth_answer *a,
			const char *what)
{
	char problem[400];

	snprintf(problem, sizeof problem, "DNS %s lookup of %s failed: %s",
		 what, st->target, rcode_name(a->rcode));
	finish_problem(c, st, SPF_R_TEMPERROR, rcode_code(a->rcode), problem);
	return 0;
}

/* ---- record selection (§4.5) ---- */

static int take_record(mauth_check *c, spf_state *st)
{
	frame *f = &st->stack[st->depth - 1];
	const mauth_answer *a = check_got(c, st->qid);
	const mauth_rr *found = NULL;
	spf_cached *held;
	char err[200];
	size_t i;
	int rc, none_result;

	if (a == NULL)
		return -1;
	/* for problem texts; domains are at most NAME_MAX_TEXT here */
	memcpy(st->target, f->domain, f->domain_len + 1);
	none_result = st->depth == 1 && !f->via_redirect ? SPF_R_NONE : SPF_R_PERMERROR;
	if (answer_is_temporary(a))
		return temp_problem(c, st, a, "TXT");
	for (i = 0; i < a->n; i++) {
		if (!spf_is_record(a->rr[i].data, a->rr[i].len))
			continue;
		if (found != NULL) {
			fail_with(c, st, SPF_R_PERMERROR, "multiple_records",
				  "%s has more than one SPF record", f->domain);
			return 0;
		}
		found = &a->rr[i];
	}
	if (found == NULL) {
		fail_with(c, st, none_result, "no_record", "no SPF record at %s",
			  f->domain);
		return 0;
	}
	f->text_len = found->len > SPF_RECORD_MAX ? SPF_RECORD_MAX + 1 : found->len;
	/* the answer goes after this step: the text is the cache's or a copy */
	rc = spf_record_get(found->data, f->text_len, &f->rec, &f->text, &held,
			    check_arena(c), err, sizeof err);
	if (held != NULL) {
		/* one record per counted lookup and the first: below cap */
		if (st->nheld == st->cap) {
			spf_cache_release(held);
			return -1;
		}
		st->held[st->nheld++] = held;
	}
	if (rc == MAUTH_ENOMEM)
		return -1;
	f->has_rec = 1;
	f->pos = 0;
	if (rc != 0) {
		char problem[300];

		snprintf(problem, sizeof problem, "%.80s: %s", f->domain, err);
		finish_problem(c, st, SPF_R_PERMERROR,
			       f->text_len > SPF_RECORD_MAX ? "record_too_long" :
			       "record_syntax", problem);
	}
	return 0;
}

/* ---- %{p} ---- */

static void ask_pmacro_ptr(mauth_check *c, spf_state *st)
{
	char rev[80];

	ip_reverse_name(&st->ip, rev, sizeof rev);
	st->qid = check_ask(c, MAUTH_T_PTR, rev);
	st->phase = PH_PMACRO_PTR;
}

/* Takes PTR names (first max_ptr) and asks their forward lookups. */
static int take_ptr_names(mauth_check *c, spf_state *st, const mauth_answer *a,
			  const char *suffix, size_t suffix_len)
{
	size_t i;

	st->nq = 0;
	for (i = 0; i < a->n && i < (size_t)st->max_ptr; i++) {
		const mauth_rr *rr = &a->rr[i];
		size_t n = rr->len;
		const char *name;

		if (n > 0 && rr->data[n - 1] == '.')
			n--;
		if (!name_is_valid(rr->data, n) || memchr(rr->data, '\0', n))
			continue;
		/* ptr mechanism: only names in the target domain matter */
		if (suffix != NULL &&
		    !name_eq(rr->data, n, suffix, suffix_len) &&
		    !(n > suffix_len && rr->data[n - suffix_len - 1] == '.' &&
		      name_eq(rr->data + n - suffix_len, suffix_len, suffix, suffix_len)))
			continue;
		name = arena_strndup(check_arena(c), rr->data, n);
		if (name == NULL)
			return -1;
		st->qnames[st->nq] = name;
		st->qids[st->nq] = check_ask_kept(c, st->ip.family == 4 ?
						  MAUTH_T_A : MAUTH_T_AAAA,
						  name, n);
		st->nq++;
	}
	return 0;
}

static int answer_has_ip(const spf_state *st, const mauth_answer *a,
			 unsigned bits4, unsigned bits6)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		ipaddr got;

		if (ip_parse(a->rr[i].data, a->rr[i].len, &got) != 0 ||
		    got.family != st->ip.family)
			continue;
		if (ip_in_net(&st->ip, &got, st->ip.family == 4 ? bits4 : bits6))
			return 1;
	}
	return 0;
}

static int pmacro_step(mauth_check *c, spf_state *st)
{
	const mauth_answer *a;
	size_t i;

	if (st->phase == PH_PMACRO_PTR) {
		a = check_got(c, st->qid);
		if (a == NULL)
			return -1;
		if (answer_is_temporary(a) || ANSWER_EMPTY(a)) {
			st->pmacro = 1;
			st->phase = PH_RUN;
			return 0;
		}
		if (take_ptr_names(c, st, a, NULL, 0) != 0)
			return -1;
		if (st->nq == 0) {
			st->pmacro = 1;
			st->phase = PH_RUN;
			return 0;
		}
		st->phase = PH_PMACRO_ADDR;
		return 0;
	}
	st->pnames = arena_alloc(check_arena(c), st->nq * sizeof *st->pnames);
	st->pvalid = arena_alloc(check_arena(c), st->nq);
	if (st->pnames == NULL || st->pvalid == NULL)
		return -1;
	for (i = 0; i < st->nq; i++) {
		a = check_got(c, st->qids[i]);
		st->pnames[i] = st->qnames[i];
		st->pvalid[i] = a != NULL && !answer_is_temporary(a) &&
				answer_has_ip(st, a, 32, 128);
	}
	st->npnames = st->nq;
	st->pmacro = 1;
	st->phase = PH_RUN;
	return 0;
}

/* ---- terms ---- */

enum { T_NOMATCH, T_MATCH, T_WAIT, T_DONE };

static int eval_term(mauth_check *c, spf_state *st, frame *f, const spf_term *t)
{
	int valid = 1;

	if (t->mech == SPF_ALL)
		return T_MATCH;
	if (t->mech == SPF_IP4 || t->mech == SPF_IP6)
		return ip_in_net(&st->ip, &t->net,
				 t->mech == SPF_IP4 ? t->cidr4 : t->cidr6) ?
		       T_MATCH : T_NOMATCH;
	if (t->uses_p && !st->pmacro) {
		ask_pmacro_ptr(c, st);
		return T_WAIT;
	}
	if (count_lookup(c, st) != 0)
		return T_DONE;
	if (expand_target(c, st, f, t->spec, t->spec_len, t->spec_name, &valid) != 0)
		return T_DONE;
	switch (t->mech) {
	case SPF_INCLUDE:
		if (push_frame(c, st, st->target, st->target_len) != 0)
			return T_DONE;
		if (!valid) {
			fail_with(c, st, SPF_R_PERMERROR, "invalid_target",
				  "include of an invalid name: %.260s", st->target);
			return T_DONE;
		}
		ask_record(c, st);
		return T_WAIT;
	case SPF_A:
	case SPF_EXISTS:
		if (!valid)
			return T_NOMATCH;
		/* st->target changes in a later step only: kept, not copied */
		st->qid = check_ask_kept(c, t->mech == SPF_EXISTS ||
					 st->ip.family == 4 ? MAUTH_T_A : MAUTH_T_AAAA,
					 st->target, st->target_len);
		st->phase = PH_ADDR;
		return T_WAIT;
	case SPF_MX:
		if (!valid)
			return T_NOMATCH;
		st->qid = check_ask_kept(c, MAUTH_T_MX, st->target,
					 st->target_len);
		st->phase = PH_MX;
		return T_WAIT;
	case SPF_PTR: {
		char rev[80];

		if (!valid)
			return T_NOMATCH;
		ip_reverse_name(&st->ip, rev, sizeof rev);
		st->qid = check_ask(c, MAUTH_T_PTR, rev);
		st->phase = PH_PTR;
		return T_WAIT;
	}
	}
	return T_NOMATCH;
}

/* a / exists: the one address answer. */
static int addr_answer(mauth_check *c, spf_state *st, const spf_term *t)
{
	const mauth_answer *a = check_got(c, st->qid);

	if (a == NULL)
		return -1;
	if (answer_is_temporary(a))
		return temp_problem(c, st, a, t->mech == SPF_EXISTS ||
				    st->ip.family == 4 ? "A" : "AAAA"), T_DONE;
	if (ANSWER_EMPTY(a))
		return count_void(c, st) ? T_DONE : T_NOMATCH;
	if (t->mech == SPF_EXISTS)
		return T_MATCH;
	return answer_has_ip(st, a, t->cidr4, t->cidr6) ? T_MATCH : T_NOMATCH;
}

/* mx: the MX answer; asks the address records of all its names at once. */
static int mx_answer(mauth_check *c, spf_state *st)
{
	const mauth_answer *a = check_got(c, st->qid);
	size_t i;

	if (a == NULL)
		return -1;
	if (answer_is_temporary(a))
		return temp_problem(c, st, a, "MX"), T_DONE;
	if (ANSWER_EMPTY(a))
		return count_void(c, st) ? T_DONE : T_NOMATCH;
	if (a->n > (size_t)st->max_mx) {
		char problem[400];

		snprintf(problem, sizeof problem,
			 "%s has more than %ld MX records (max_mx_names)",
			 st->target, st->max_mx);
		finish_problem(c, st, SPF_R_PERMERROR, "too_many_mx_names",
			       problem);
		return T_DONE;
	}
	st->nq = 0;
	for (i = 0; i < a->n; i++) {
		const mauth_rr *rr = &a->rr[i];
		size_t n = rr->len;
		const char *name;

		if (n > 0 && rr->data[n - 1] == '.')
			n--;
		if (!name_is_valid(rr->data, n))
			continue;	/* includes RFC 7505's null MX "." */
		name = arena_strndup(check_arena(c), rr->data, n);
		if (name == NULL)
			return -1;
		st->qnames[st->nq] = name;
		st->qids[st->nq++] = check_ask_kept(c, st->ip.family == 4 ?
						    MAUTH_T_A : MAUTH_T_AAAA,
						    name, n);
	}
	if (st->nq == 0)
		return T_NOMATCH;
	st->phase = PH_MX_ADDR;
	return T_WAIT;
}

/* mx: the address answers of the MX names. */
static int mx_addr_answers(mauth_check *c, spf_state *st, const spf_term *t)
{
	const mauth_answer *a;
	const char *temp = NULL;
	int matched = 0, temp_rcode = 0;
	size_t i;

	for (i = 0; i < st->nq; i++) {
		a = check_got(c, st->qids[i]);
		if (a == NULL)
			continue;
		if (answer_is_temporary(a)) {
			if (temp == NULL) {
				temp = st->qnames[i];
				temp_rcode = a->rcode;
			}
			continue;
		}
		if (answer_has_ip(st, a, t->cidr4, t->cidr6))
			matched = 1;
	}
	if (temp != NULL) {
		/* §5: a lookup error ends check_host() with temperror */
		char problem[400];

		snprintf(st->target, sizeof st->target, "%s", temp);
		snprintf(problem, sizeof problem,
			 "DNS address lookup of MX host %s failed", st->target);
		finish_problem(c, st, SPF_R_TEMPERROR, rcode_code(temp_rcode),
			       problem);
		return T_DONE;
	}
	return matched ? T_MATCH : T_NOMATCH;
}

/* ptr: the client's PTR answer; asks the forward lookups of its names. */
static int ptr_answer(mauth_check *c, spf_state *st)
{
	const mauth_answer *a = check_got(c, st->qid);

	if (a == NULL)
		return -1;
	/* §5.5: a PTR lookup error means no match */
	if (answer_is_temporary(a))
		return T_NOMATCH;
	if (ANSWER_EMPTY(a))
		return count_void(c, st) ? T_DONE : T_NOMATCH;
	if (take_ptr_names(c, st, a, st->target, strlen(st->target)) != 0)
		return -1;
	if (st->nq == 0)
		return T_NOMATCH;
	st->phase = PH_PTR_ADDR;
	return T_WAIT;
}

/* Reads the answers of a term's lookups: T_MATCH, T_NOMATCH, T_WAIT or T_DONE. */
static int term_answers(mauth_check *c, spf_state *st, const spf_term *t)
{
	const mauth_answer *a;
	size_t i;

	switch (st->phase) {
	case PH_ADDR:
		return addr_answer(c, st, t);
	case PH_MX:
		return mx_answer(c, st);
	case PH_MX_ADDR:
		return mx_addr_answers(c, st, t);
	case PH_PTR:
		return ptr_answer(c, st);
	case PH_PTR_ADDR:
		/* §5.5: names whose forward lookup fails are skipped */
		for (i = 0; i < st->nq; i++) {
			a = check_got(c, st->qids[i]);
			if (a != NULL && !answer_is_temporary(a) &&
			    answer_has_ip(st, a, 32, 128))
				return T_MATCH;
		}
		return T_NOMATCH;
	default:
		break;
	}
	return T_NOMATCH;
}

/* ---- explanation (§6.2) ---- */

/* Asks for the exp= text; 0 when there is nothing to ask (no usable exp). */
static int start_explanation(mauth_check *c, spf_state *st)
{
	frame *f = &st->stack[0];
	int valid;

	if (f->rec.exp_uses_p && !st->pmacro) {
		ask_pmacro_ptr(c, st);
		return 1;
	}
	if (expand_target(c, st, f, f->rec.exp, f->rec.exp_len,
			  SPF_NAME_MACRO, &valid) != 0)
		return 1;	/* already finished (expansion too large) */
	if (!valid)
		return 0;
	st->qid = check_ask_kept(c, MAUTH_T_TXT, st->target, st->target_len);
	st->phase = PH_EXP;
	return 1;
}

/* exp_text: the one TXT record of the exp= domain, or NULL. */
static void finish_fail(mauth_check *c, spf_state *st, const char *exp_text,
			size_t exp_len)
{
	frame *f = &st->stack[0];
	spf_macro_env e;
	size_t n = 0;
	const char *text = NULL;

	macro_env(st, f, &e);
	if (scratch(c, st) == NULL)
		return;
	if (exp_text != NULL &&
	    spf_macro_expand(exp_text, exp_len, &e, MACRO_EXPLAIN,
			     st->buf, EXPLAIN_MAX, &n) == MACRO_OK)
		text = st->buf;
	if (text == NULL && st->default_exp != NULL) {
		if (spf_macro_expand(st->default_exp, st->default_exp_len, &e,
				     MACRO_EXPLAIN, st->buf, EXPLAIN_MAX, &n) == MACRO_OK)
			text = st->buf;
		else
			text = st->default_exp, n = st->default_exp_len;
	}
	finish(c, st, SPF_R_FAIL, st->final_term, text, n);
}

/* The TXT answer for exp=: §6.2 wants exactly one record. */
static int take_explanation(mauth_check *c, spf_state *st, const mauth_answer *a)
{
	int uses_p = 0;

	if (a == NULL || a->rcode != MAUTH_RC_NOERROR || a->n != 1 ||
	    a->rr[0].len > EXPLAIN_MAX ||
	    spf_macro_check(a->rr[0].data, a->rr[0].len, MACRO_EXPLAIN,
			    &uses_p) != MACRO_OK) {
		finish_fail(c, st, NULL, 0);
		return 0;
	}
	if (uses_p && !st->pmacro) {
		/* the text names %{p}: validate the client's names first */
		st->exp_text = arena_strndup(check_arena(c), a->rr[0].data,
					     a->rr[0].len);
		if (st->exp_text == NULL)
			return -1;
		st->exp_len = a->rr[0].len;
		ask_pmacro_ptr(c, st);
		return 0;
	}
	finish_fail(c, st, a->rr[0].data, a->rr[0].len);
	return 0;
}

/* ---- the machine ---- */

/*
 * The top frame reached result through term t (NULL: no match, §4.7).
 * Pops frames: an include that passed is a match in its parent (§5.2),
 * anything else lets the parent go on.  Returns 1 when run() should go on.
 */
static int frame_done(mauth_check *c, spf_state *st, int result,
		      const spf_term *t)
{
	for (;;) {
		frame *f;

		if (st->depth == 1) {
			st->final_term = t;
			if (result != SPF_R_FAIL) {
				finish(c, st, result, t, NULL, 0);
				return 0;
			}
			st->explaining = 1;
			if (st->stack[0].rec.exp == NULL || !start_explanation(c, st))
				finish_fail(c, st, NULL, 0);
			return 0;
		}
		st->depth--;
		f = &st->stack[st->depth - 1];
		t = &f->rec.terms[f->pos];
		if (result != SPF_R_PASS) {
			f->pos++;
			return 1;
		}
		result = t->result;
	}
}

/* Runs terms until a question is asked or the check ends. */
static int run(mauth_check *c, spf_state *st)
{
	for (;;) {
		frame *f = &st->stack[st->depth - 1];
		const spf_term *t;
		int rc, valid;

		if (f->pos < f->rec.n) {
			t = &f->rec.terms[f->pos];
			rc = eval_term(c, st, f, t);
			if (rc == T_WAIT || rc == T_DONE)
				return 0;
			if (rc == T_NOMATCH) {
				f->pos++;
				continue;
			}
			if (!frame_done(c, st, t->result, t))
				return 0;
			continue;
		}
		if (f->rec.redirect == NULL) {
			if (!frame_done(c, st, SPF_R_NEUTRAL, NULL))
				return 0;
			continue;
		}
		/* §6.1: the record of the target replaces this one */
		if (f->rec.redirect_uses_p && !st->pmacro) {
			ask_pmacro_ptr(c, st);
			return 0;
		}
		if (count_lookup(c, st) != 0 ||
		    expand_target(c, st, f, f->rec.redirect, f->rec.redirect_len,
				  f->rec.redirect_name, &valid) != 0)
			return 0;
		if (!valid) {
			fail_with(c, st, SPF_R_PERMERROR, "invalid_target",
				  "redirect to an invalid name: %.260s", st->target);
			return 0;
		}
		f->domain = arena_strndup(check_arena(c), st->target,
					  st->target_len);
		if (f->domain == NULL)
			return -1;
		f->domain_len = st->target_len;
		f->via_redirect = 1;
		f->has_rec = 0;
		ask_record(c, st);
		return 0;
	}
}

static int start(mauth_check *c, spf_state *st)
{
	size_t n;

	if (st->bad_input != NULL) {
		finish_problem(c, st, SPF_R_NONE, st->bad_code, st->bad_input);
		return 0;
	}
	/*
	 * check_host(<ip>, <domain>, <sender>) (§4.3): a malformed <domain>
	 * is "none".  It is not a macro expansion, so §7.3's cut from the
	 * left does not apply: a name over 253 octets (after the root's dot)
	 * is judged whole, never shortened into another name.
	 */
	if (st->idn_bad) {
		finish_problem(c, st, SPF_R_NONE, "identity_invalid",
			       "the domain's U-labels do not convert "
			       "to A-labels (UTS #46, RFC 8616 §4)");
		return 0;
	}
	n = st->sdomain_len;
	if (n > 0 && st->sdomain[n - 1] == '.')
		n--;
	if (n > NAME_MAX_TEXT) {
		finish_problem(c, st, SPF_R_NONE, "identity_invalid",
			       "the domain is longer than 253 octets "
			       "(RFC 1035 §2.3.4), not a valid name (RFC 7208 §4.3)");
		return 0;
	}
	memcpy(st->target, st->sdomain, n);
	st->target[n] = '\0';
	if (!name_is_valid(st->target, n) ||
	    memchr(st->target, '.', n) == NULL ||
	    memchr(st->target, '\\', n) != NULL) {
		finish_problem(c, st, SPF_R_NONE, "identity_invalid",
			       "the domain is not a valid multi-label name");
		return 0;
	}
	if (push_frame(c, st, st->target, n) != 0)
		return -1;
	ask_record(c, st);
	return 0;
}

/*
 * RFC 8601 §2.7.2: SPF's property is the identity checked, smtp.mailfrom
 * (postmaster@HELO for an empty MAIL FROM, RFC 7208 §2.4) or smtp.helo;
 * and the RFC 7208 §9.1 Received-SPF field, written here once so that
 * reading it costs nothing (unless the host writes it on first read: the
 * Lua binding, see check_host_formats).
 */
static void spf_finish(mauth_check *c, void *vst, mauth_value *r)
{
	spf_state *st = vst;
	arena *a = check_arena(c);
	mauth_value *props = authres_begin(a, r, "spf");

	if (st->identity != NULL)
		authres_prop(a, props, "smtp", st->scope_helo ? "helo" : "mailfrom",
			     st->identity, strlen(st->identity));
	if (!check_leaves_formatting(c))
		authres_received_spf(a, r, st->receiver_given ? st->receiver : NULL);
}

static void spf_free(void *vst)
{
	spf_state *st = vst;
	size_t i;

	for (i = 0; i < st->nheld; i++)
		spf_cache_release(st->held[i]);
	st->nheld = 0;
}

static int spf_step(mauth_check *c, void *vst)
{
	spf_state *st = vst;
	frame *f;
	int rc;

	switch (st->phase) {
	case PH_RUN:
		return st->depth == 0 ? start(c, st) : run(c, st);
	case PH_RECORD:
		st->phase = PH_RUN;
		if (take_record(c, st) < 0)
			return -1;
		return st->done ? 0 : run(c, st);
	case PH_PMACRO_PTR:
	case PH_PMACRO_ADDR:
		if (pmacro_step(c, st) != 0)
			return -1;
		if (st->phase != PH_RUN)
			return 0;
		if (st->exp_text != NULL) {
			finish_fail(c, st, st->exp_text, st->exp_len);
			return 0;
		}
		if (st->explaining) {
			if (!start_explanation(c, st))
				finish_fail(c, st, NULL, 0);
			return 0;
		}
		return run(c, st);
	case PH_EXP:
		st->phase = PH_RUN;
		return take_explanation(c, st, check_got(c, st->qid));
	default:
		f = &st->stack[st->depth - 1];
		rc = term_answers(c, st, &f->rec.terms[f->pos]);
		if (rc < 0)
			return -1;
		if (rc == T_DONE || rc == T_WAIT)
			return 0;
		st->phase = PH_RUN;
		if (rc == T_NOMATCH) {
			f->pos++;
			return run(c, st);
		}
		if (!frame_done(c, st, f->rec.terms[f->pos].result,
				&f->rec.terms[f->pos]))
			return 0;
		return run(c, st);
	}
}

/* What spf_init reads (RFC 7208 §4.6.4 for the limits). */
static const mauth_option spf_options[] = {
	OPT_STR("ip", 1, NULL, "client_ip address addr"),
	OPT_STR("sender", 0, "\"\": postmaster@helo (§2.4)",
		"mail_from mailfrom envelope_from mfrom from"),
	OPT_STR("helo", 0, NULL, "ehlo helo_name heloname"),
	OPT_WORD("scope", "mfrom helo", "mfrom", "identity"),
	OPT_STR("receiver", 0, "unknown", NULL),
	OPT_STR("default_explanation", 0, NULL, "explanation exp"),
	OPT_INT("now", 0, 0x7fffffffLL, "no %{t} time"),
	OPT_INT("max_lookups", 1, 100, "10"),
	OPT_INT("max_void_lookups", 0, 100, "2"),
	OPT_INT("max_mx_names", 1, 100, "10"),
	OPT_INT("max_ptr_names", 1, 100, "10"),
	OPT_END
};

const check_vt mauth_spf_vt = {
	"spf", sizeof(spf_state), spf_init, spf_step, spf_free, spf_finish,
	spf_options
};
