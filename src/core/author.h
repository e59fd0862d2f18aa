/*
 * author.h - the one reader of a message's author (RFC 5322 §3.6.2 From),
 * shared by DMARC, the trust policy and message_info.
 *
 * It reads strictly and fails closed: anything two mail readers could
 * take for different authors makes the whole author unusable, with a
 * problem naming what was wrong.  No mailbox is ever dropped silently,
 * nothing is cut: a limit reached is a problem too.
 */
#if !defined(MAUTH_AUTHOR_H)
#define MAUTH_AUTHOR_H

#include <stddef.h>
#include "core/internal.h"
#include "core/message.h"

#define AUTHOR_MAX_MAILBOXES 64	/* more is a problem, not a cut */
#define AUTHOR_MAX_TEXT 998	/* RFC 5322 §2.1.1: line; also an address */
#define AUTHOR_COMMENT_DEPTH 32	/* nested comments (§3.2.2) deeper: problem */

typedef struct {
	const char *addr;	/* "local@domain", domain lower-cased; arena */
	const char *domain;	/* inside addr, after the "@" */
	int literal;		/* the domain is a domain-literal "[...]" */
} author_mailbox;

typedef struct {
	size_t fields;		/* From fields in the message */
	size_t n;		/* mailboxes read (of every From field) */
	author_mailbox box[AUTHOR_MAX_MAILBOXES];
	size_t ndomains;	/* distinct domains, in order of appearance */
	const char *domain[AUTHOR_MAX_MAILBOXES];
	/* NULL when the author is exactly readable; else what was wrong, and
	 * code, its stable word (doc/codes.md, "Author and message"):
	 * author_missing, author_multiple, author_ambiguous, author_syntax,
	 * author_bad_domain, author_limit. */
	const char *problem;
	const char *code;
} author;

/* Reads the From fields of m.  0, or -1 on ENOMEM. */
int author_read(arena *a, const msg *m, author *out);
/*
 * Reads one From field body (the text after "From:", folding included) as
 * if it were the message's only From field.  0, or -1 on ENOMEM.  For the
 * fuzz target and for callers that hold a field, not a message.
 */
int author_read_value(arena *a, const char *v, size_t len, author *out);
/* The static string of the author code s[0..len), or NULL if s is none. */
const char *author_code_find(const char *s, size_t len);

#endif
