/*
 * macro.h - SPF macro strings (RFC 7208 §7): syntax check and expansion.
 *
 * Pure functions over caller-given buffers: no allocation, no DNS.  The
 * "p" macro needs DNS work first, so the caller resolves the validated
 * name and passes it in (spf_macro_uses_p() says when that is needed).
 */
#if !defined(MAUTH_MACRO_H)
#define MAUTH_MACRO_H

#include <stddef.h>
#include "core/internal.h"

typedef struct {
	const char *sender;	size_t sender_len;	/* s: <sender>, local "@" domain */
	const char *local;	size_t local_len;	/* l: local-part of <sender> */
	const char *sdomain;	size_t sdomain_len;	/* o: domain of <sender> */
	const char *domain;	size_t domain_len;	/* d: current <domain> */
	const char *helo;	size_t helo_len;	/* h: HELO/EHLO name */
	const char *receiver;	size_t receiver_len;	/* r: receiving host */
	const char *ptr;	size_t ptr_len;		/* p: validated name or "unknown" */
	const ipaddr *ip;				/* i, c, v */
	long long now;					/* t */
} spf_macro_env;

enum {
	MACRO_OK = 0,
	MACRO_SYNTAX = -1,	/* not a valid macro-string (a permerror) */
	MACRO_TOOBIG = -2	/* the expansion does not fit the buffer */
};

/* Flags: explanation text allows c, r, t and spaces (§7.2, §6.2). */
#define MACRO_EXPLAIN 1
/* An expansion longer than the buffer keeps its right-hand end (domain names, §4.8). */
#define MACRO_TAIL 2

/*
 * Checks the syntax of a macro-string; *uses_p (may be NULL) is set when a
 * %{p} occurs.  Returns MACRO_OK or MACRO_SYNTAX.
 */
int spf_macro_check(const char *s, size_t len, int flags, int *uses_p);

/*
 * Expands s into out (cap bytes, NUL-terminated on success); *outlen gets
 * the length.  Returns MACRO_OK, MACRO_SYNTAX or MACRO_TOOBIG (never with
 * MACRO_TAIL: the walk then costs two passes, each bounded by len times
 * the longest macro value).
 */
int spf_macro_expand(const char *s, size_t len, const spf_macro_env *env,
		     int flags, char *out, size_t cap, size_t *outlen);

#endif
