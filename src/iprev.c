/*
 * iprev.c - reverse DNS and its forward confirmation (RFC 8601 §3,
 * result words from §2.7.3).
 *
 * Step 1 asks the PTR of the client address.  Step 2 asks the A (or AAAA)
 * records of every PTR name at once, up to max_names of them, so that all
 * names that map back are reported, not just the first.
 *
 *   pass       a PTR name has an address record equal to the client address
 *   fail       PTR names exist, none maps back (other addresses, no data)
 *   permerror  no PTR data is published (NXDOMAIN or NODATA)
 *   temperror  a DNS failure kept us from deciding
 * Each problem carries its code (doc/codes.md, "iprev"): no_record,
 * not_confirmed, too_many_ptr_names, dns_*.
 */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "authres/authres.h"

#define IPREV_MAX_NAMES 10	/* the bound RFC 7208 §4.6.4 sets for PTR too */

typedef struct {
	int forward;		/* 0 for the plain "ptr" kind */
	long max_names;
	ipaddr ip;
	char iptext[48];
	unsigned ptr_id;
	size_t nptr;		/* names asked forward */
	unsigned *fwd_id;
	const char **fwd_name;
} iprev_state;

static int iprev_init_common(mauth_check *c, iprev_state *st, const params *p,
			     char *err, size_t errlen, int forward)
{
	char rev[80];
	size_t len;
	const char *ip = param_get(p, "ip", &len);
	int rc;

	st->forward = forward;
	if (ip == NULL || ip_parse(ip, len, &st->ip) != 0) {
		snprintf(err, errlen, "ip: not an IP address");
		return MAUTH_EINVAL;
	}
	st->max_names = IPREV_MAX_NAMES;
	rc = param_long(p, "max_names", 1, 100, &st->max_names);
	if (rc < 0) {
		snprintf(err, errlen, "max_names: want an integer 1..100");
		return MAUTH_EINVAL;
	}
	ip_format(&st->ip, st->iptext, sizeof st->iptext);
	ip_reverse_name(&st->ip, rev, sizeof rev);
	st->ptr_id = check_ask(c, MAUTH_T_PTR, rev);
	return 0;
}

static int iprev_init(mauth_check *c, void *st, const params *p,
		      char *err, size_t errlen)
{
	return iprev_init_common(c, st, p, err, errlen, 1);
}

static int ptr_init(mauth_check *c, void *st, const params *p,
		    char *err, size_t errlen)
{
	return iprev_init_common(c, st, p, err, errlen, 0);
}

static void finish(mauth_check *c, iprev_state *st, const char *result,
		   const char *code, const char *problem, const mauth_answer *ptr)
{
	arena *a = check_arena(c);
	mauth_value *r = check_result(c), *list;
	size_t i;

	val_cstr(a, r, "result", result);
	val_cstr(a, r, "ip", st->iptext);
	/* iprev's names is a list whatever the outcome: {} when none confirmed */
	if (st->forward && mauth_value_get(r, "names") == NULL)
		val_add(a, r, "names", MAUTH_V_LIST);
	if (ptr != NULL) {
		list = val_add(a, r, "ptr", MAUTH_V_LIST);
		for (i = 0; i < ptr->n; i++)
			val_str(a, list, NULL, ptr->rr[i].data, ptr->rr[i].len);
	}
	if (problem != NULL)
		val_problem(a, r, code, problem);
}

static int forward_step(mauth_check *c, iprev_state *st);

static int ptr_step(mauth_check *c, iprev_state *st)
{
	const mauth_answer *a = check_got(c, st->ptr_id);
	char problem[160];
	size_t i, n;

	if (a == NULL)
		return -1;
	if (answer_is_temporary(a)) {
		snprintf(problem, sizeof problem, "PTR lookup failed: %s",
			 rcode_name(a->rcode));
		finish(c, st, "temperror", rcode_code(a->rcode), problem, NULL);
		return 0;
	}
	if (ANSWER_EMPTY(a)) {
		finish(c, st, "permerror", "no_record",
		       a->rcode == MAUTH_RC_NXDOMAIN ?
		       "no PTR record (NXDOMAIN)" : "no PTR record (NODATA)",
		       NULL);
		return 0;
	}
	if (!st->forward) {
		finish(c, st, "pass", NULL, NULL, a);
		return 0;
	}
	n = a->n < (size_t)st->max_names ? a->n : (size_t)st->max_names;
	st->fwd_id = arena_alloc(check_arena(c), n * sizeof *st->fwd_id);
	st->fwd_name = arena_alloc(check_arena(c), n * sizeof *st->fwd_name);
	if (st->fwd_id == NULL || st->fwd_name == NULL)
		return -1;
	/* The names outlive this step's answers: keep copies. */
	for (i = 0; i < n; i++) {
		const mauth_rr *rr = &a->rr[i];

		st->fwd_name[i] = arena_strndup(check_arena(c), rr->data, rr->len);
		if (st->fwd_name[i] == NULL)
			return -1;
		if (!name_is_valid(rr->data, rr->len) ||
		    memchr(rr->data, '\0', rr->len) != NULL)
			continue;
		st->fwd_id[i] = check_ask(c, st->ip.family == 4 ?
					  MAUTH_T_A : MAUTH_T_AAAA,
					  st->fwd_name[i]);
	}
	st->nptr = n;
	{
		arena *m = check_arena(c);
		mauth_value *r = check_result(c);
		mauth_value *list = val_add(m, r, "ptr", MAUTH_V_LIST);
		int asked = 0;

		/* Record the PTR names now: the answer is gone by the next step. */
		for (i = 0; i < a->n; i++)
			val_str(m, list, NULL, a->rr[i].data, a->rr[i].len);
		if (a->n > n) {
			snprintf(problem, sizeof problem,
				 "only the first %zu of %zu PTR names examined",
				 n, a->n);
			val_problem(m, r, "too_many_ptr_names", problem);
		}
		for (i = 0; i < n; i++)
			asked |= st->fwd_id[i] != 0;
		if (!asked)
			return forward_step(c, st);
	}
	return 0;
}

static int forward_step(mauth_check *c, iprev_state *st)
{
	arena *m = check_arena(c);
	mauth_value *r = check_result(c), *names;
	const char *first = NULL, *tempfail = NULL;
	int temp_rcode = 0;
	size_t i, j;
	char problem[160];

	names = val_add(m, r, "names", MAUTH_V_LIST);
	for (i = 0; i < st->nptr; i++) {
		const mauth_answer *a = st->fwd_id[i] ?
					check_got(c, st->fwd_id[i]) : NULL;

		if (a == NULL)
			continue;	/* a name that cannot be asked */
		if (answer_is_temporary(a)) {
			if (tempfail == NULL) {
				tempfail = st->fwd_name[i];
				temp_rcode = a->rcode;
			}
			continue;
		}
		for (j = 0; j < a->n; j++)
			if (ip_equal_text(&st->ip, a->rr[j].data, a->rr[j].len))
				break;
		if (j < a->n) {
			val_cstr(m, names, NULL, st->fwd_name[i]);
			if (first == NULL)
				first = st->fwd_name[i];
		}
	}
	if (first != NULL) {
		val_cstr(m, r, "result", "pass");
		val_cstr(m, r, "name", first);
	} else if (tempfail != NULL) {
		val_cstr(m, r, "result", "temperror");
		snprintf(problem, sizeof problem,
			 "forward lookup of %.100s failed", tempfail);
		if (mauth_value_get(r, "problem") == NULL)
			val_problem(m, r, rcode_code(temp_rcode), problem);
	} else {
		val_cstr(m, r, "result", "fail");
		if (mauth_value_get(r, "problem") == NULL)
			val_problem(m, r, "not_confirmed",
				    "no PTR name resolves back to the address");
	}
	val_cstr(m, r, "ip", st->iptext);
	return 0;
}

/* RFC 8601 §2.7.3: iprev's property is policy.iprev, the address. */
static void iprev_finish(mauth_check *c, void *vst, mauth_value *r)
{
	(void)vst;
	authres_finish_one(c, r, "iprev", "policy", "iprev", "ip");
}

static int iprev_step(mauth_check *c, void *vst)
{
	iprev_state *st = vst;

	if (st->nptr == 0)
		return ptr_step(c, st);
	return forward_step(c, st);
}

/* What iprev_init_common reads, for both kinds. */
static const mauth_option iprev_options[] = {
	OPT_STR("ip", 1, NULL, "client_ip address addr"),
	OPT_INT("max_names", 1, 100, "10"),
	OPT_END
};

const check_vt mauth_iprev_vt = {
	"iprev", sizeof(iprev_state), iprev_init, iprev_step, NULL,
	iprev_finish, iprev_options
};

const check_vt mauth_ptr_vt = {
	"ptr", sizeof(iprev_state), ptr_init, iprev_step, NULL, NULL, iprev_options
};
