/*
 * mailauth.h - the public C API of mailauth.
 *
 * Every check (iprev, SPF, DKIM, DMARC, ARC) is a *job*: an object that never
 * touches the network or the clock.  It asks DNS questions and takes answers:
 *
 *	mauth_opts *o = mauth_opts_new();
 *	mauth_opts_str(o, "ip", "192.0.2.1");
 *	mauth_check *c;
 *	mauth_check_new(&c, "iprev", mauth_opts_tree(o), err, sizeof err);
 *	mauth_opts_free(o);	(the check keeps what it needs)
 *	while (mauth_check_step(c) == MAUTH_WANT_DNS) {
 *		n = mauth_check_questions(c, &qv);
 *		for (i = 0; i < n; i++)   ... resolve qv[i], then
 *			mauth_check_answer(c, qv[i].id, &answer);
 *	}
 *	result = mauth_check_result(c);
 *	mauth_check_free(c);
 *
 * Questions of one step do not depend on each other, so a driver may ask
 * them in parallel and answer them in any order.  mauth_check_run() is the
 * blocking driver over a mauth_resolver (ldns or an offline zone).
 *
 * Ownership: strings handed in are copied; pointers handed out are borrowed
 * from the check (or resolver) and stay valid until the next call that
 * changes it, or its free.
 */
#if !defined(MAILAUTH_H)
#define MAILAUTH_H

#include <stddef.h>

/*
 * The release: the one place the version is written.  The Makefile (make
 * dist, mailauth.pc, the library's file name), the rockspec's name (make
 * check-sources compares them) and mailauth._VERSION all read it here.
 */
#define MAUTH_VERSION "0.2.0"

#if defined(__GNUC__)
#define MAUTH_API __attribute__((visibility("default")))
#else
#define MAUTH_API
#endif

/* Return codes of the calls below: >= 0 is progress, < 0 an error. */
enum {
	MAUTH_DONE = 0,		/* result() is ready */
	MAUTH_WANT_DNS = 1,	/* answer every question of questions() */
	MAUTH_ENOMEM = -1,
	MAUTH_EINVAL = -2,	/* bad argument: see the err text */
	MAUTH_ESTATE = -3	/* call out of order (answer after DONE, unknown id) */
};

/* Record types a check may ask for (the IANA numbers). */
enum {
	MAUTH_T_A = 1, MAUTH_T_NS = 2, MAUTH_T_CNAME = 5, MAUTH_T_SOA = 6,
	MAUTH_T_PTR = 12, MAUTH_T_MX = 15, MAUTH_T_TXT = 16, MAUTH_T_AAAA = 28
};

/* Answer codes: the DNS RCODEs, plus pseudo-codes for "no usable reply". */
enum {
	MAUTH_RC_NOERROR = 0, MAUTH_RC_FORMERR = 1, MAUTH_RC_SERVFAIL = 2,
	MAUTH_RC_NXDOMAIN = 3, MAUTH_RC_NOTIMP = 4, MAUTH_RC_REFUSED = 5,
	MAUTH_RC_TIMEOUT = 256,	/* no reply in time (or network error) */
	MAUTH_RC_BADNAME = 257	/* the name cannot be asked (too long, bad label) */
};

typedef struct mauth_check mauth_check;
typedef struct mauth_resolver mauth_resolver;
typedef struct mauth_message mauth_message;

/* One question: name is presentation text without the trailing dot. */
typedef struct {
	unsigned id;
	int type;
	const char *name;
} mauth_question;

/*
 * One record of an answer, decoded: TXT is the record's character-strings
 * joined; A/AAAA the address text; PTR/CNAME/NS the name (no trailing dot,
 * RFC 1035 escapes for odd bytes); MX the exchange with pref set.
 */
typedef struct {
	const char *data;
	size_t len;
	unsigned pref;
} mauth_rr;

/*
 * An answer.  cnames is the CNAME chain followed from the asked name, in
 * order (lowercase, no trailing dot; empty when the name was answered
 * directly): the records are those owned by its last name, or by the asked
 * name when there is no chain (RFC 1034 §3.6.2, RFC 2181 §5.4.1).  A chain
 * that loops or runs past 8 links is SERVFAIL.
 */
typedef struct {
	int rcode;		/* MAUTH_RC_* */
	unsigned ttl;		/* seconds the answer may be kept */
	int secure;		/* validated by DNSSEC (as the driver says) */
	size_t n;
	const mauth_rr *rr;
	const char *const *cnames;
	size_t ncnames;
} mauth_answer;

/* A result is a small tree of values; maps keep their fields in order. */
typedef enum {
	MAUTH_V_STR, MAUTH_V_INT, MAUTH_V_BOOL, MAUTH_V_LIST, MAUTH_V_MAP
} mauth_vkind;

typedef struct mauth_value mauth_value;
struct mauth_value {
	mauth_vkind kind;
	const char *key;	/* field name inside a map, else NULL */
	const char *str;	/* STR */
	size_t len;
	long long num;		/* INT; BOOL is 0 or 1 */
	mauth_value *child;	/* LIST and MAP: first member */
	mauth_value *next;	/* next member of the parent */
};

/*
 * Options of a check are a value tree of the same shape: a MAP whose
 * members are the options by name (NULL: no options).  Each kind declares
 * what it takes (mauth_check_options); mauth_check_new rejects, before the
 * check reads anything, a name it does not declare, a value of another
 * kind or out of range, a required option missing, a name given twice:
 *	option 'policy_domian' is unknown (did you mean 'policy_domain'?)
 *	option 'max_lookups' must be an integer from 1 to 100
 *	option 'ip' is required
 * A result may be an option as it is: a dkim_verify result's "signatures"
 * LIST is dmarc's "dkim", an spf result MAP is dmarc's "spf".  Every STR
 * has str[len] == '\0' (as results, Lua strings and the builder's copies
 * do), but for "message", "text" and "authentication_results", which are
 * read by their length only.  The tree is read during mauth_check_new
 * only: the check copies what it keeps.
 * kind: "iprev", "ptr", "spf", ... (mauth_check_kinds() lists them).
 * err (may be NULL) receives a reason when MAUTH_EINVAL is returned.
 */
MAUTH_API int mauth_check_new(mauth_check **out, const char *kind,
			      const mauth_value *opts,
			      char *err, size_t errlen);
/* One option a kind declares. */
typedef struct {
	const char *name;
	mauth_vkind kind;	/* what its value must be */
	mauth_vkind member;	/* LIST: what each member must be */
	long long min, max;	/* INT: the range */
	int required;
	const char *def;	/* what applies when absent, for people; NULL: nothing */
	const char *aliases;	/* names people try for it, suggested: "mail_from" */
	const char *words;	/* STR: the values allowed, "mfrom helo"; NULL: any */
} mauth_option;
/* The options of a kind, ended by a NULL name; NULL for an unknown kind. */
MAUTH_API const mauth_option *mauth_check_options(const char *kind);
/*
 * The rule of o as the validator words it ("an integer from 1 to 100", "a
 * list of strings"), NUL-terminated in buf; returns buf.
 */
MAUTH_API const char *mauth_option_rule(const mauth_option *o, char *buf,
					size_t len);

/*
 * An options tree built by hand.  Strings are copied, except the bytes of
 * mauth_opts_ref (a message: they must outlive mauth_check_new) and the
 * trees of mauth_opts_add (borrowed the same way: a result of another
 * check, or another builder's mauth_opts_tree for a nested map).  Each
 * call returns 0 or MAUTH_ENOMEM; after a failure mauth_opts_tree is NULL.
 *	mauth_opts_add(o, "dkim", mauth_value_get(dkim_result, "signatures"));
 */
typedef struct mauth_opts mauth_opts;
MAUTH_API mauth_opts *mauth_opts_new(void);
MAUTH_API int mauth_opts_str(mauth_opts *o, const char *name, const char *s);
MAUTH_API int mauth_opts_ref(mauth_opts *o, const char *name, const char *s,
			     size_t len);
MAUTH_API int mauth_opts_int(mauth_opts *o, const char *name, long long n);
MAUTH_API int mauth_opts_bool(mauth_opts *o, const char *name, int b);
/* A LIST of n strings (copied). */
MAUTH_API int mauth_opts_list(mauth_opts *o, const char *name,
			      const char *const *strs, size_t n);
MAUTH_API int mauth_opts_add(mauth_opts *o, const char *name,
			     const mauth_value *v);
/*
 * Appends v (borrowed) to the LIST option name, made on first use: a DKIM
 * result of the host's own verifier for dmarc's "dkim", as a builder's map:
 *	mauth_opts_str(sig, "result", "pass"); mauth_opts_str(sig, "domain", d);
 *	mauth_opts_append(o, "dkim", mauth_opts_tree(sig));
 */
MAUTH_API int mauth_opts_append(mauth_opts *o, const char *name,
				const mauth_value *v);
MAUTH_API const mauth_value *mauth_opts_tree(const mauth_opts *o);
MAUTH_API void mauth_opts_free(mauth_opts *o);	/* NULL is a no-op */
MAUTH_API const char *const *mauth_check_kinds(void);

/*
 * A message read once (RFC 5322 header fields and body), for the checks
 * that read a message (dkim_verify, arc_verify, message_info): several of
 * them may be made from one parse.  The text is copied; the handle never
 * changes after mauth_message_parse, so checks made from it in any thread
 * share it.  It is the caller's: checks read it only inside
 * mauth_check_new_message, so it may be freed right after (NULL is a
 * no-op).
 */
MAUTH_API int mauth_message_parse(mauth_message **out, const char *text,
				  size_t len);
MAUTH_API void mauth_message_free(mauth_message *m);
/*
 * mauth_check_new with the message already read: opts must then hold no
 * "message" option, and a kind that reads no message is MAUTH_EINVAL.
 */
MAUTH_API int mauth_check_new_message(mauth_check **out, const char *kind,
				      const mauth_message *msg,
				      const mauth_value *opts,
				      char *err, size_t errlen);
MAUTH_API int mauth_check_step(mauth_check *c);
MAUTH_API size_t mauth_check_questions(const mauth_check *c,
				       const mauth_question **qv);
MAUTH_API int mauth_check_answer(mauth_check *c, unsigned id,
				 const mauth_answer *a);
MAUTH_API const mauth_value *mauth_check_result(const mauth_check *c);
MAUTH_API void mauth_check_free(mauth_check *c);	/* NULL is a no-op */

/*
 * Checks keep decoded DKIM/ARC public keys and parsed SPF records in small
 * process-wide caches (thread-safe; results never depend on them).  This
 * empties them: call it before unloading the library or exiting if a leak
 * checker should see nothing left.  The Lua module calls it when its
 * state closes.
 */
MAUTH_API void mauth_caches_clear(void);

/* Looks up a field of a map result (NULL when absent). */
MAUTH_API const mauth_value *mauth_value_get(const mauth_value *map,
					     const char *key);

/*
 * Which of the networks ("192.0.2.0/24", "2001:db8::/32", bare addresses)
 * holds ip: the 1-based index of the first, 0 for none, MAUTH_EINVAL when
 * ip is not an address.  Networks that do not parse are skipped.
 */
MAUTH_API int mauth_ip_match(const char *ip, size_t iplen,
			     const char *const *nets, const size_t *lens,
			     size_t n);

/* ---- header fields: Authentication-Results and Received-SPF ---- */

/*
 * Every result of iprev, spf, dkim_verify (each signature), dmarc and
 * arc_verify carries "method" (the RFC 8601 method name) and "properties",
 * a list of { ptype, property, value } maps (RFC 8601 §2.3, §2.7), the
 * shape the authres_parse kind returns.
 */
typedef struct {
	const char *authserv_id;	/* required (RFC 8601 §2.5) */
	long long version;		/* > 0: written after the authserv-id */
	long long instance;		/* > 0: "ARC-Authentication-Results: i=N;" */
	int no_fold;			/* 1: "; " between results, else ";\r\n\t" */
	size_t max_per_method;		/* results per method; 0: 16 */
	size_t max_bytes;		/* bytes of all results; 0: 8192 */
} mauth_authres_opts;

/*
 * Writes an Authentication-Results field (name included, no final CRLF)
 * of the results, in order.  Each of results[0..n) is a result map of
 * the checks above, a list of them, a dkim_verify result (its signatures;
 * none: "dkim=none") or an authres_parse result (its results).  A map's
 * "reason" (else its "problem", unless the result is pass) is the
 * reasonspec; "comment" (iprev: "name"; dmarc: p= and dis= from "policy"
 * and "disposition") the comment.  Per method at most max_per_method
 * results are written, passes first, and at most max_bytes of them; a
 * comment counts the rest ("(974 more dkim results not shown)").
 * Returns the field's length (written whole, NUL-terminated, when below
 * len; call with len 0 to measure), MAUTH_EINVAL (err says why: a method,
 * result, ptype or property that is no keyword) or MAUTH_ENOMEM.
 */
MAUTH_API long mauth_authres_format(const mauth_value *const *results,
				    size_t n, const mauth_authres_opts *o,
				    char *buf, size_t len,
				    char *err, size_t errlen);
/*
 * Writes the Received-SPF field (RFC 7208 §9.1) of an spf result, as its
 * "received_spf" field holds it; receiver (may be NULL) is named in the
 * comment and as receiver=.  Returns the length as above, or < 0.
 */
MAUTH_API long mauth_received_spf_format(const mauth_value *spf,
					 const char *receiver,
					 char *buf, size_t len);

/* ---- drivers: the only code that does I/O ---- */

typedef struct {
	const char *const *nameservers;	/* "127.0.0.1", "::1@5353"; NULL: system */
	size_t n_nameservers;
	const char *resolv_conf;	/* used when no nameservers; NULL: /etc/resolv.conf */
	double timeout;			/* seconds per try; 0: 5 */
	int retries;			/* extra tries per server; < 0: 1 */
	size_t cache_size;		/* answers kept; 0: no cache */
	size_t cache_bytes;		/* bytes they may hold; 0: 16 MiB.  An
					 * answer over 1/16 of it is not kept */
} mauth_resolver_opts;

typedef struct {
	unsigned long queries;		/* sent over the network (UDP and TCP) */
	unsigned long tcp;		/* of them, over TCP after truncation */
	unsigned long cache_hits;
	unsigned long cache_misses;
	unsigned long timeouts;
	unsigned long cache_entries;	/* answers in the cache now */
	unsigned long cache_bytes;	/* bytes they hold, as the bound counts */
} mauth_resolver_stats;

MAUTH_API int mauth_resolver_new(mauth_resolver **out,
				 const mauth_resolver_opts *o,
				 char *err, size_t errlen);
/* An offline resolver answering from master-file text (RFC 1035 §5). */
MAUTH_API int mauth_resolver_new_zone(mauth_resolver **out,
				      const char *const *texts,
				      const size_t *lens, size_t n,
				      char *err, size_t errlen);
/*
 * Answers several questions, in parallel where the driver can.  out[i] is
 * valid until the next call on r or its free.
 */
MAUTH_API int mauth_resolver_query(mauth_resolver *r,
				   const mauth_question *qv, size_t n,
				   const mauth_answer **out);
/*
 * The same, bounded by deadline_ms (on the mauth_clock_ms clock; 0: only
 * the resolver's own timeout and retries bound it): what is unanswered
 * then is TIMEOUT, even in the middle of a try.
 */
MAUTH_API int mauth_resolver_query_until(mauth_resolver *r,
					 const mauth_question *qv, size_t n,
					 const mauth_answer **out,
					 long long deadline_ms);
MAUTH_API void mauth_resolver_stats_get(const mauth_resolver *r,
					mauth_resolver_stats *s);
MAUTH_API void mauth_resolver_free(mauth_resolver *r);

/*
 * Milliseconds on a monotonic clock (CLOCK_MONOTONIC): the clock of every
 * deadline below.  A time budget of b seconds is the deadline
 * mauth_clock_ms() + b * 1000, taken once per call to bound.
 */
MAUTH_API long long mauth_clock_ms(void);
/*
 * Runs a check to the end over r.  deadline_ms (absolute, on the
 * mauth_clock_ms clock; 0: no bound) bounds the whole run, a DNS try in
 * flight included: questions still open then are answered TIMEOUT
 * (mauth_check_expire), so the check ends temperror naming one of them.
 */
MAUTH_API int mauth_check_run(mauth_check *c, mauth_resolver *r,
			      long long deadline_ms);
/*
 * For a driver whose time budget ran out (RFC 7208 §4.6.4) with question
 * id open: answers it TIMEOUT, and the result's problem names the first
 * question so cut ("time budget ran out waiting for TXT example.com").
 */
MAUTH_API int mauth_check_expire(mauth_check *c, unsigned id);

/* ---- DNS wire helpers, for hosts that move DNS bytes themselves ---- */

/* Writes a query (RD set, EDNS0 4096) into buf; returns its length or < 0. */
MAUTH_API int mauth_wire_query(const char *name, int type, unsigned id,
			       unsigned char *buf, size_t buflen);
/*
 * Parses a reply.  *out (free with mauth_answer_free) holds the records of
 * the question's type owned by the question's name or by the end of the
 * CNAME chain the answer section gives from it (records owned by any other
 * name are ignored), and that chain; id and tc (truncated) are set when
 * not NULL.
 */
MAUTH_API int mauth_wire_parse(const unsigned char *buf, size_t len,
			       mauth_answer **out, unsigned *id, int *tc,
			       char *err, size_t errlen);
/* The same, and the question's record type (how its records read). */
MAUTH_API int mauth_wire_parse_typed(const unsigned char *buf, size_t len,
				     mauth_answer **out, unsigned *id, int *tc,
				     int *qtype, char *err, size_t errlen);
MAUTH_API mauth_answer *mauth_answer_dup(const mauth_answer *a);
MAUTH_API void mauth_answer_free(mauth_answer *a);

#endif
