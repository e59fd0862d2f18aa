/*
 * spf.h - the SPF record parser (RFC 7208 §4.6, §5, §6, §12), callable on
 * its own (fuzzing, record checkers).  The evaluator is in spf.c.
 */
#if !defined(MAUTH_SPF_H)
#define MAUTH_SPF_H

#include <stddef.h>
#include "core/internal.h"

#define SPF_RECORD_MAX 4096	/* longer records are a permerror (bounded work) */

enum spf_mech {
	SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6,
	SPF_EXISTS
};

typedef struct {
	unsigned char mech;	/* enum spf_mech */
	unsigned char result;	/* enum spf_result of the qualifier */
	unsigned char cidr4;	/* 0..32, default 32 */
	unsigned char cidr6;	/* 0..128, default 128 */
	unsigned char uses_p;	/* the domain-spec holds %{p} */
	unsigned char spec_name;	/* SPF_NAME_*: what spec names, when it has no macro */
	const char *spec;	/* domain-spec as written (NULL: none) */
	size_t spec_len;
	const char *text;	/* the whole term, for result.mechanism */
	size_t text_len;
	ipaddr net;		/* ip4 / ip6 */
} spf_term;

typedef struct {
	spf_term *terms;
	size_t n;
	const char *redirect;	/* domain-spec or NULL */
	size_t redirect_len;
	const char *exp;	/* domain-spec or NULL */
	size_t exp_len;
	unsigned char redirect_uses_p, exp_uses_p;
	unsigned char redirect_name;	/* SPF_NAME_* of redirect */
} spf_record;

/*
 * A domain-spec without a macro names the same target in every check, so
 * the parser (whose records are cached) judges that name once: the
 * evaluator then skips the validity scan per term.
 */
enum { SPF_NAME_MACRO, SPF_NAME_INVALID, SPF_NAME_VALID };

/*
 * The name a domain-spec's expansion s[0..*n) stands for (§4.8, §7.3): no
 * final dot, labels cut from the left while longer than 253 octets.
 */
const char *spf_target_cut(const char *s, size_t *n);
/* 1 when the cut target s[0..n) can be asked: a valid name, no escape. */
int spf_target_valid(const char *s, size_t n);

enum spf_result {
	SPF_R_NONE, SPF_R_NEUTRAL, SPF_R_PASS, SPF_R_FAIL, SPF_R_SOFTFAIL,
	SPF_R_TEMPERROR, SPF_R_PERMERROR
};

/* 1 when txt starts a SPF version 1 record: "v=spf1" then SP or end (§4.5). */
int spf_is_record(const char *txt, size_t len);

/*
 * Parses a record (with its "v=spf1").  The terms point into txt, which
 * must outlive rec.  Returns 0, MAUTH_EINVAL with a reason in err (a
 * permerror), or MAUTH_ENOMEM.
 */
int spf_record_parse(const char *txt, size_t len, spf_record *rec,
		     arena *a, char *err, size_t errlen);

/*
 * spf_record_parse through a process-wide cache of parsed records
 * (spf_cache.c): the same result.  *text is the record text rec points
 * into: the cache's copy when *held is set (a reference the caller gives
 * back with spf_cache_release once done with rec and text), else a copy
 * in a.  txt need not outlive the call.
 */
typedef struct spf_cached spf_cached;
int spf_record_get(const char *txt, size_t len, spf_record *rec,
		   const char **text, spf_cached **held, arena *a,
		   char *err, size_t errlen);
void spf_cache_release(spf_cached *e);	/* NULL: nothing */
void spf_cache_clear(void);

/* Checks a domain-spec (§7.1): macro syntax and how it must end. */
int spf_domain_spec_ok(const char *s, size_t len, int *uses_p);

const char *spf_result_name(int r);

#endif
