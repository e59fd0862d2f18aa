/*
 * message.h - an RFC 5322 message read in place: header fields (with
 * their raw bytes, folding included, for canonicalisation) and the body.
 * Nothing is copied: fields point into the caller's buffer, which must
 * outlive the msg.  Used by DKIM, and by DMARC (From) and ARC.
 *
 * Line ends: CRLF, or a bare LF as an MTA would read it (it is treated
 * as CRLF by every consumer: see msg_line_end).  A bare CR is data.
 * That one rule holds for this reader, the DKIM canonicaliser (canon.c)
 * and the From reader (author.c), but other readers end lines at a bare
 * CR, or ignore a bare LF among CRLF lines (RFC 5322 §2.2 allows CR and
 * LF only together): so a header section with a bare CR, or with a bare
 * LF where its other lines end in CRLF, is flagged in line_problem (and
 * problem), and the author read from it is unusable.  DKIM still
 * verifies what the signer hashed: the flag decides only the author.
 */
#if !defined(MAUTH_MESSAGE_H)
#define MAUTH_MESSAGE_H

#include <stddef.h>
#include "core/internal.h"

#define MSG_MAX_FIELDS 1000		/* header fields read */
#define MSG_MAX_HEADER ((size_t)1024 * 1024)	/* bytes of the header section */

typedef struct {
	const char *raw;	/* the whole field, folded lines included */
	size_t len;		/* without the final line end */
	size_t nlen;		/* name length (raw starts with the name); 0: no name */
	const char *value;	/* after the ":" */
	size_t vlen;
} msg_field;

typedef struct {
	msg_field *f;
	size_t n;
	const char *body;	/* after the empty line; NULL when there is none */
	size_t body_len;
	/* Set when a limit was hit or a line is not a field; NULL when clean.
	 * code: its stable word (doc/codes.md): "header_limit", "not_a_field",
	 * "bare_cr", "bare_lf". */
	const char *problem;
	const char *code;
	int truncated;		/* fields beyond the limits were not read:
				 * MSG_TRUNC_FIELDS or MSG_TRUNC_BYTES */
	/* A bare CR, or a bare LF among CRLF line ends, in the header section
	 * (its empty line included); NULL when the line ends agree. */
	const char *line_problem;
	const char *line_code;	/* "bare_cr" or "bare_lf" with line_problem */
} msg;

#define MSG_TRUNC_FIELDS 1
#define MSG_TRUNC_BYTES 2

typedef struct {
	size_t max_fields;	/* 0: MSG_MAX_FIELDS */
	size_t max_header;	/* 0: MSG_MAX_HEADER */
} msg_limits;

/* Reads buf.  Field array in the arena.  0, or -1 on ENOMEM. */
int msg_parse(arena *a, const char *buf, size_t len, const msg_limits *lim,
	      msg *out);

/* The public handle (mauth_message_parse): a copy of the text, read once. */
struct mauth_message {
	arena mem;		/* the copy and the field array */
	msg m;
};

/*
 * The message a check's init reads: the handle it was made with
 * (mauth_check_new_message), else its "message" parameter read now.
 * MAUTH_EINVAL with err when there is none or both; MAUTH_ENOMEM.
 */
int check_message(mauth_check *c, const params *p, msg *out,
		  char *err, size_t errlen);
/* 1 when field f is named name (ASCII case-insensitive).  Inline: the
 * DKIM signers and verifiers ask it for every (h= name, field) pair. */
static inline int msg_field_is(const msg_field *f, const char *name,
			       size_t nlen)
{
	return f->nlen > 0 && ascii_ieq(f->raw, f->nlen, name, nlen);
}
/* 1 when s is a possible field name: 1*ftext (RFC 5322 §3.6.8). */
int msg_name_ok(const char *s, size_t n);
/* Number of fields named name. */
size_t msg_count(const msg *m, const char *name, size_t nlen);
/*
 * If s[i] starts a line end (CRLF or a bare LF), its length (2 or 1);
 * else 0.
 */
static inline size_t msg_line_end(const char *s, size_t len, size_t i)
{
	if (s[i] == '\n')
		return 1;
	if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
		return 2;
	return 0;
}

#endif
