/*
 * msginfo.c - what DMARC and trust need to know of a message's author,
 * kind "message_info", read without DNS by the one From reader (author.c,
 * RFC 5322 §3.6.2, §3.4).
 *
 * Result: from_fields (From fields), from_count (mailboxes read),
 * from_addresses, from_domains (distinct, lower case), author_problem
 * and author_code (absent when the author is exactly readable: then DMARC
 * may use it), fields, and problem with code (the message reader's:
 * limits, lines that are not fields, line ends; doc/codes.md).
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
	size_t i;
	author au;
	msg m;
	int rc;

	(void)vst;
	/* The message is borrowed only now: do all the work here. */
	rc = check_message(c, p, &m, err, errlen);
	if (rc < 0)
		return rc;
	if (author_read(a, &m, &au) != 0)
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
	if (au.problem != NULL) {
		val_ref(a, r, "author_problem", au.problem, strlen(au.problem));
		val_ref(a, r, "author_code", au.code, strlen(au.code));
	}
	if (m.problem != NULL)
		val_problem(a, r, m.code, m.problem);
	return 0;
}

static const mauth_option info_options[] = {
	/* required: checked by check_message, which also takes a parsed one */
	OPT_STR("message", 0, "required, unless a parsed message is given", "msg text"),
	OPT_END
};

const check_vt mauth_message_info_vt = {
	"message_info", sizeof(info_state), info_init, check_step_none, NULL, NULL,
	info_options
};
