/*
 * internal.h - what the protocol files share: the arena, the result
 * builder, the job machinery behind mauth_check, parameters, names and
 * addresses.  Nothing here does I/O.
 */
#if !defined(MAUTH_INTERNAL_H)
#define MAUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "mailauth.h"

#define MAUTH_HIDDEN __attribute__((visibility("hidden")))

/* ---- arena: one block list per check, freed at once ---- */
typedef struct arena_chunk arena_chunk;
typedef struct {
	arena_chunk *head;
	int failed;		/* an allocation failed since init */
	/* the member val_add appended last, and to what: results are built
	 * field after field, so the next one goes right after it */
	mauth_value *tail_parent, *tail;
} arena;

void arena_init(arena *a);
/*
 * Starts with the caller's 16-aligned block (size bytes, not freed by
 * arena_free): a check embeds its first block, saving a malloc per check.
 */
void arena_init_inline(arena *a, void *block, size_t size);
void *arena_alloc(arena *a, size_t n);		/* zeroed, 16-aligned */
void *arena_alloc_raw(arena *a, size_t n);	/* the same, not zeroed */
char *arena_strndup(arena *a, const char *s, size_t n);	/* NUL-terminated */
void arena_free(arena *a);

/* ---- result trees (see mauth_value); all storage in the arena ---- */
mauth_value *val_new(arena *a, mauth_vkind kind);
/* Appends a member to a list (key NULL) or map; returns it or NULL. */
mauth_value *val_add(arena *a, mauth_value *parent, const char *key,
		     mauth_vkind kind);
void val_str(arena *a, mauth_value *parent, const char *key,
	     const char *s, size_t len);
void val_cstr(arena *a, mauth_value *parent, const char *key, const char *s);
/*
 * Like val_str without the copy: s[len] must be NUL and s must live as long
 * as the result (a static string, or one already in the same arena).
 */
void val_ref(arena *a, mauth_value *parent, const char *key,
	     const char *s, size_t len);
#define VAL_LITERAL(a, parent, key, lit) \
	val_ref((a), (parent), (key), (lit), sizeof(lit) - 1)
void val_int(arena *a, mauth_value *parent, const char *key, long long n);
void val_bool(arena *a, mauth_value *parent, const char *key, int b);
/*
 * A result's reason, twice: "problem", text for people, and "code", a
 * stable lower-case word for policy to match on (code must be a static
 * string from the list in doc/codes.md: "key_revoked", "too_many_lookups").
 */
void val_problem(arena *a, mauth_value *r, const char *code,
		 const char *text);

/* ---- parameters: the options tree, checked against the kind's table ---- */
typedef struct {
	const mauth_value *map;	/* MAP, or NULL for none */
} params;

/*
 * By name; "headers.2" and "spf.domain" reach into lists (1-based) and
 * maps.  param_get: a STR's text (NULL when absent or not a string).
 */
const char *param_get(const params *p, const char *key, size_t *len);
const mauth_value *param_value(const params *p, const char *key);
/* 1 when present and valid, 0 when absent; -1 when malformed or out of range. */
int param_long(const params *p, const char *key, long min, long max, long *out);
int param_bool(const params *p, const char *key, int *out);
/* The members of a LIST option (NULL when absent), their number in *n. */
const mauth_value *param_list(const params *p, const char *key, size_t *n);

/*
 * Entries of a kind's option table (mauth_option): def is what applies
 * when the option is absent, in words for people (the init code applies it).
 */
#define OPT_STR(name, req, def, aliases) \
	{ (name), MAUTH_V_STR, MAUTH_V_STR, 0, 0, (req), (def), (aliases), NULL }
/* A string that is one of the space-separated words. */
#define OPT_WORD(name, words, def, aliases) \
	{ (name), MAUTH_V_STR, MAUTH_V_STR, 0, 0, 0, (def), (aliases), (words) }
#define OPT_INT(name, min, max, def) \
	{ (name), MAUTH_V_INT, MAUTH_V_INT, (min), (max), 0, (def), NULL, NULL }
#define OPT_BOOL(name, def) \
	{ (name), MAUTH_V_BOOL, MAUTH_V_BOOL, 0, 0, 0, (def), NULL, NULL }
#define OPT_LIST(name, member, def, aliases) \
	{ (name), MAUTH_V_LIST, (member), 0, 0, 0, (def), (aliases), NULL }
#define OPT_MAP(name, def, aliases) \
	{ (name), MAUTH_V_MAP, MAUTH_V_MAP, 0, 0, 0, (def), (aliases), NULL }
#define OPT_END { NULL, MAUTH_V_STR, MAUTH_V_STR, 0, 0, 0, NULL, NULL, NULL }

/* options.c: the one validator, run before a kind's init. */
int options_check(const mauth_option *decl, const mauth_value *opts,
		  char *err, size_t errlen);

/* ---- jobs ---- */
typedef struct check_vt {
	const char *kind;
	size_t state_size;
	/* Reads parameters; may ask the first questions. < 0 with err on misuse. */
	int (*init)(mauth_check *c, void *st, const params *p,
		    char *err, size_t errlen);
	/*
	 * Called when every question asked so far has its answer (and once
	 * after init).  Reads answers with check_got(), then asks more with
	 * check_ask() or ends with check_result().  Returns < 0 only on ENOMEM.
	 */
	int (*step)(mauth_check *c, void *st);
	void (*free)(void *st);			/* may be NULL */
	/*
	 * May be NULL.  Called once when the result is complete (a time
	 * budget's problem included): adds what derives from the whole
	 * result, such as RFC 8601 method and properties (authres/authres.h).
	 */
	void (*finish)(mauth_check *c, void *st, mauth_value *result);
	const mauth_option *options;		/* what init reads, NULL-name ended */
} check_vt;

/* The step of a job that finishes in init (pure, asks nothing): nothing. */
int check_step_none(mauth_check *c, void *st);

/* Gives a driver's freshly built answer to the check (always consumed). */
int check_take_answer(mauth_check *c, unsigned id, mauth_answer *a);
/*
 * Gives the check a driver's own answer, which it reads in place and never
 * frees: the driver keeps it unchanged until the check's next step has run
 * (mauth_check_run's loop, over the offline zone's built answers).
 */
int check_lend_answer(mauth_check *c, unsigned id, const mauth_answer *a);
/* Asks a question in this step; returns its id (0 when out of memory). */
unsigned check_ask(mauth_check *c, int type, const char *name);
/*
 * The same without a copy of name (len bytes before its NUL): the caller
 * keeps it, unchanged, until the check's next step begins.
 */
unsigned check_ask_kept(mauth_check *c, int type, const char *name, size_t len);
/* The answer to a question of the step just completed (NULL if unknown). */
const mauth_answer *check_got(const mauth_check *c, unsigned id);
/* The arena that lives as long as the check (results, copies of params). */
arena *check_arena(mauth_check *c);
/*
 * For the Lua binding: the host writes the header text a result may carry
 * (SPF's received_spf) itself, on first read, with the same writer
 * (mauth_received_spf_format), so finish() leaves it out; a C host never
 * calls this and always gets the text.  Before the check finishes.
 */
void check_host_formats(mauth_check *c);
int check_leaves_formatting(const mauth_check *c);
/* Starts the result map and marks the check done. */
mauth_value *check_result(mauth_check *c);
/*
 * For a driver: the first question of the open batch still without an
 * answer (NULL when none), without the copy mauth_check_questions makes
 * once some are answered.  Valid until the next call on c.
 */
const mauth_question *check_next_open(const mauth_check *c);
/* message.c: how many messages were read in this process (parse-once spec). */
unsigned long msg_parse_count(void);

/* kinds.c: the check kind named kind (NULL when unknown). */
const check_vt *check_kind_find(const char *kind);

extern const check_vt mauth_iprev_vt;
extern const check_vt mauth_ptr_vt;
extern const check_vt mauth_spf_vt;
extern const check_vt mauth_dmarc_vt;
extern const check_vt mauth_org_domain_vt;
extern const check_vt mauth_authres_parse_vt;
extern const check_vt mauth_dkim_verify_vt;
extern const check_vt mauth_dkim_sign_vt;
extern const check_vt mauth_message_info_vt;
extern const check_vt mauth_arc_verify_vt;
extern const check_vt mauth_arc_seal_vt;

/* ---- answers ---- */
/* Builds an owned answer (one malloc block) from records; NULL on ENOMEM. */
mauth_answer *answer_build(int rcode, unsigned ttl, int secure,
			   const mauth_rr *rr, size_t n);
/*
 * The same with the CNAME chain followed to the records: each name is
 * copied lowercased and without a trailing dot.
 */
mauth_answer *answer_build_chain(int rcode, unsigned ttl, int secure,
				 const mauth_rr *rr, size_t n,
				 const char *const *cnames, size_t ncnames);
#define CNAME_CHAIN_MAX 8	/* links followed before an answer is SERVFAIL */
const char *rcode_name(int rcode);
/* The stable code of a temporary answer's rcode: "dns_timeout", ... */
const char *rcode_code(int rcode);
int rcode_from_name(const char *s);		/* -1 when unknown */
const char *qtype_name(int type);
int qtype_from_name(const char *s);		/* -1 when unknown */
/* "NXDOMAIN or NOERROR with no record" */
#define ANSWER_EMPTY(a) ((a)->rcode == MAUTH_RC_NXDOMAIN || \
			 ((a)->rcode == MAUTH_RC_NOERROR && (a)->n == 0))
/* A failure that may heal: SERVFAIL, TIMEOUT, REFUSED, ... */
int answer_is_temporary(const mauth_answer *a);

/* ---- hex: the one table of digits (util.c) ---- */
extern const char hex_lower[17];	/* "0123456789abcdef": hex_lower[v & 15] */
/* The 2n lower-case hex digits of p[0..n) into out, then a NUL: 2n + 1 bytes. */
void hex_encode(const unsigned char *p, size_t n, char *out);

/* ---- names ---- */
#define NAME_MAX_TEXT 253	/* RFC 1035 2.3.4: 255 octets on the wire */
#define LABEL_MAX 63
/* Room for the text of any valid name: every octet may be written "\DDD". */
#define NAME_TEXT_MAX (NAME_MAX_TEXT * 4 + 8)
/* 1 when s (with or without a final dot) is a name that can be asked. */
int name_is_valid(const char *s, size_t len);
/*
 * Whether s is a host name of LDH labels (RFC 1123 §2.1: letters, digits,
 * "-" not first or last in a label; with underscore, "_" too, as DNS names
 * of records such as _dmarc use), no empty label, no final dot.
 */
int name_is_ldh(const char *s, size_t len, int underscore);
/*
 * idn.c: s as A-labels (UTS #46 non-transitional, RFC 8616 §4): 0 with
 * *out = s itself when s is ASCII, else the converted name in a; 1 when
 * it cannot be converted; MAUTH_ENOMEM.
 */
int name_to_alabels(arena *a, const char *s, size_t len, const char **out,
		    size_t *outlen);
#include "core/texthash.h"

/* ASCII case-insensitive equality; inline: header names are compared a
 * hundred times per DKIM signature. */
static inline int ascii_ieq(const char *a, size_t alen, const char *b,
			    size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x != y && ((x | 32) != (y | 32) || (x | 32) < 'a' ||
			       (x | 32) > 'z'))
			return 0;
	}
	return 1;
}
/* The length of s without its final dot (an escaped "\\." is no final dot). */
size_t name_strip_dot(const char *s, size_t len);
/* Compares two names ignoring case and a final dot. */
int name_eq(const char *a, size_t alen, const char *b, size_t blen);
/*
 * The name of a record kept under a domain, the one way DKIM, ARC and
 * DMARC join it: "<head>.<tag>.<domain>" (keys: <selector>._domainkey.<d>,
 * RFC 6376 §3.6.2.1) or, head NULL, "<tag>.<domain>" (_dmarc.<d>, RFC
 * 7489 §6.1), into out, NUL-terminated.  Returns its length, or, never a
 * cut name, NAME_TOO_LONG past 253 octets (255 on the wire) or
 * NAME_BAD_LABEL for a label empty or over 63 octets, or a "\\" (the
 * parts are names without escapes).
 */
#define RECORD_NAME_SIZE (NAME_MAX_TEXT + 2)	/* a final dot, the NUL */
enum { NAME_TOO_LONG = -1, NAME_BAD_LABEL = -2 };
int record_name(char out[RECORD_NAME_SIZE], const char *head, const char *tag,
		const char *domain);
/* Words for a problem text after "name ": "is over 253 octets (...)". */
const char *record_name_problem(int err);
/*
 * mauth_resolver_query_until (src/dns/resolver.c) that waits only for the
 * first need questions: the others are asked with them, and those not
 * answered by then are TIMEOUT (the binding's questions asked ahead).
 */
int resolver_query_need(mauth_resolver *r, const mauth_question *qv, size_t n,
			size_t need, const mauth_answer **out, long long deadline_ms);

/* ---- addresses ---- */
typedef struct {
	int family;		/* 4 or 6 */
	unsigned char b[16];	/* 4 or 16 bytes in network order */
} ipaddr;

/* Dotted-quad IPv4 exactly as inet_pton(AF_INET) takes it; 0 on success. */
int ip_parse_v4(const char *s, size_t len, unsigned char out[4]);
/* 0 on success; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4. */
int ip_parse(const char *s, size_t len, ipaddr *out);
/* Text form (RFC 5952 for IPv6); returns the length. buf >= 46 bytes. */
size_t ip_format(const ipaddr *ip, char *buf, size_t buflen);
/* The in-addr.arpa / ip6.arpa name, no final dot. buf >= 74 bytes. */
size_t ip_reverse_name(const ipaddr *ip, char *buf, size_t buflen);
/* 1 when ip is inside net/bits (same family). */
int ip_in_net(const ipaddr *ip, const ipaddr *net, unsigned bits);
/* "192.0.2.0/24", "2001:db8::/32" or a bare address (all bits). */
int ip_parse_cidr(const char *s, size_t len, ipaddr *net, unsigned *bits);
/* Parses address text of an A/AAAA answer and compares. */
int ip_equal_text(const ipaddr *ip, const char *s, size_t len);

/* ---- public suffix list (psl.c: the one file the core reads) ---- */
#define PSL_DEFAULT_FILE "/usr/share/publicsuffix/public_suffix_list.dat"
/* Loads path once per process (cached); NULL with *why on failure. */
const void *pslcache_get(const char *path, const char **why);
/* Registrable domain of a lower-case name, a pointer into it, or NULL. */
const char *pslcache_registrable(const void *ctx, const char *name);
/* Lower-case copy of a name in the arena (UTF-8 aware). */
char *pslcache_lower(arena *a, const char *s, size_t len);

#endif
