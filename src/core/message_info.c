/*
 * msginfo.c - what DMARC and trust need to know of a message's author,
 * kind "message_info", read without DNS by the one From reader (author.c,
 * RFC 5322 §3.6.2, §3.4).
 *
 * Result: from_fields (From fields), from_count (mailboxes read),
 * from_addresses, from_domains (distinct, lower case), author_problem
 * (absent when the author is exactly readable: then DMARC may use it),
 * fields, and problem (the message reader's: limits, lines that are not
 * fields, line ends).
 */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "core/message.h"
#include "core/author.h"

typedef struct {
	int unused;
} info_state;

static int info_init(mauth_check *c, void *vst, const params *p,
		     char *err, size_t errlen)
{
	arena *a = check_arena(c);
	mauth_value *r, *addrs, *domains;
	const char *message;
	size_t len, i;
	author au;
	msg m;

	(void)vst;
	message = param_get(p, "message", &len);
	if (message == NULL) {
		snprintf(err, errlen, "message: missing");
		return MAUTH_EINVAL;
	}
	/* The message is borrowed only now: do all the work here. */
	if (msg_parse(a, message, len, NULL, &m) != 0 ||
	    author_read(a, &m, &au) != 0)
		return MAUTH_ENOMEM;
	r = check_result(c);
	addrs = val_add(a, r, "from_addresses", MAUTH_V_LIST);
	domains = val_add(a, r, "from_domains", MAUTH_V_LIST);
	if (addrs == NULL || domains == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < au.n; i++)
		val_ref(a, addrs, NULL, au.box[i].addr, strlen(au.box[i].addr));
	for (i = 0; i < au.ndomains; i++)
		val_ref(a, domains, NULL, au.domain[i], strlen(au.domain[i]));
	val_int(a, r, "from_fields", (long long)au.fields);
	val_int(a, r, "from_count", (long long)au.n);
	val_int(a, r, "fields", (long long)m.n);
	if (au.problem != NULL)
		val_ref(a, r, "author_problem", au.problem, strlen(au.problem));
	if (m.problem != NULL)
		val_cstr(a, r, "problem", m.problem);
	return 0;
}

static int info_step(mauth_check *c, void *st)
{
	(void)c;
	(void)st;
	return 0;	/* everything happened in init */
}

static const mauth_option info_options[] = {
	OPT_STR("message", 1, NULL, "msg text"),
	OPT_END
};

const check_vt mauth_message_info_vt = {
	"message_info", sizeof(info_state), info_init, info_step, NULL,
	info_options
};
