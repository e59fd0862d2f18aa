/*
 * dkim.h - pieces of DKIM shared by the verifier (dkim_verify.c), the
 * signer (dkim_sign.c) and ARC, which builds on DKIM (RFC 8617 §4.1.2,
 * §4.1.3): field hashing, the key check (dkim_key.c) and the signer
 * (dkim_signer.c).
 */
#if !defined(MAUTH_DKIM_H)
#define MAUTH_DKIM_H

#include "core/message.h"
#include "core/crypto.h"

#define DKIM_MAX_H 256		/* names in h= */

/*
 * Hashes the fields named in names (h= order, RFC 6376 §5.4.2): each name
 * takes the last field of that name not taken yet, counting from the
 * bottom; a name with no field left contributes nothing.  used is a
 * scratch array of m->n bytes.
 */
void dkim_hash_fields(const msg *m, const char *const *names,
		      const size_t *lens, size_t n, int relaxed,
		      unsigned char *used, crypto_hash *h);

/* ---- key records (dkim_key.c) ---- */

/* What a signature needs of its key (RFC 6376 §3.6.1). */
typedef struct {
	int keytype;		/* KEY_RSA or KEY_ED25519, as a= names */
	int alg;		/* HASH_SHA256 or HASH_SHA1, as a= names */
	const char *domain;	/* d= */
	const char *identity;	/* i=, for t=s; NULL when there is none (ARC) */
	long min_bits;		/* RSA keys below are refused (RFC 8301 §3.2) */
} dkim_key_need;

#define DKIM_KEY_PROBLEM_MAX 256
typedef struct {
	/* NULL: the key fits; else permerror or temperror (and, after
	 * dkim_key_judge, pass or fail) */
	const char *result;
	const char *code;	/* with result: its word in doc/codes.md */
	char problem[DKIM_KEY_PROBLEM_MAX];	/* with result: why, for people */
	crypto_key *key;	/* with result NULL: the key; crypto_key_free it */
	int bits;		/* the key's size once decoded (also too small) */
	int testing, strict;	/* t=y and t=s, once t= is read */
} dkim_key;

/*
 * Checks the key record of a DNS answer for <s>._domainkey.<d> against a
 * signature's needs: the answer itself (none, unaskable name, temporary
 * failure, no record), then the record's v=, p=, k=, h=, s=, t= and the
 * key's size, in that order.  Fills out, which is zeroed first.
 */
void dkim_key_check(const mauth_answer *a, const dkim_key_need *need,
		    dkim_key *out);

/* What is verified of a signature once its key fits. */
typedef struct {
	int alg;				/* HASH_SHA256 or HASH_SHA1 */
	const unsigned char *digest, *sig;	/* header hash; b= decoded */
	size_t dlen, slen;
	const char *bh_fail, *bh_code;		/* body verdict; NULL: it matched */
} dkim_signed;

/*
 * The verdict on a signature: dkim_key_check, then, when the key fits,
 * the body hash and the signature (RFC 6376 §6.1.3: the body hash is
 * judged once the key is known, so a key problem is reported first).  out
 * gets "pass", or the first failure with its code and problem (and the
 * key's size and t= flags whenever they were read); it holds no key after.
 */
void dkim_key_judge(const mauth_answer *a, const dkim_key_need *need,
		    const dkim_signed *sig, dkim_key *out);

/* Is list (colon-separated, compacted) holding word (case-insensitive)? */
int dkim_list_has(const char *list, const char *word);

/*
 * The domain part of identity i is d or, unless strict (key t=s), one of
 * its subdomains (RFC 6376 §3.5 "i=").
 */
int dkim_identity_in_domain(const char *i, const char *d, int strict);

/*
 * The body verdict of a signature (RFC 6376 §3.7, l= §3.5): NULL when bh=
 * (want) is the hash of the canonical body (got, hlen bytes, total bytes
 * long, l= of -1 when absent), else the problem with its code.
 */
const char *dkim_body_mismatch(long long l, unsigned long long total,
			       const unsigned char *want,
			       const unsigned char *got, size_t hlen,
			       const char **code);

/* ---- signing (dkim_signer.c): what dkim_sign and arc_seal share ---- */
typedef struct {
	const char *domain, *selector;	/* d=, s=: checked names */
	const char *algorithm;		/* "rsa-sha256" (default), "ed25519-sha256" */
	int keytype;			/* KEY_RSA or KEY_ED25519, as algorithm */
	long now;			/* params now, when has_now > 0 */
	int has_now;
	const char **names;		/* h=, in order (names are in the arena) */
	size_t *lens, nh;		/* nh 0: none given, take the defaults */
	msg m;				/* the message, parsed */
	crypto_key *key;		/* after dkim_signer_key; dkim_signer_free */
	const char *message, *keypem;	/* the params, as given */
	size_t mlen, klen;
} dkim_signer;

/*
 * Reads what every signer takes: message, domain, selector, key (all
 * required), algorithm, now and the header names (params headers.1, 2,
 * ...: each a field name, RFC 5322 ftext, with no ";"; at most
 * DKIM_MAX_H), then parses the message into the check's arena.  0, or
 * MAUTH_EINVAL with err, or MAUTH_ENOMEM.
 */
int dkim_signer_args(mauth_check *c, const params *p, dkim_signer *s,
		     char *err, size_t errlen);

/*
 * The entries of a signer's option table (core/internal.h's OPT_*) for
 * what dkim_signer_args reads: the required four, which open the table,
 * algorithm and now.  Each signer declares headers itself: their
 * defaults differ.
 */
#define DKIM_SIGNER_REQUIRED_OPTIONS \
	OPT_STR("message", 1, NULL, "msg text"), \
	OPT_STR("domain", 1, NULL, "d"), \
	OPT_STR("selector", 1, NULL, "s"), \
	OPT_STR("key", 1, NULL, "private_key pem")
#define DKIM_SIGNER_ALGORITHM_OPTION \
	OPT_WORD("algorithm", "rsa-sha256 ed25519-sha256", "rsa-sha256", "a alg")
#define DKIM_SIGNER_NOW_OPTION OPT_INT("now", 0, 0x7fffffffffffLL, "no t=")

/*
 * h= when none was given: each field of RFC 6376 §5.4.1's list as often as
 * the message has it, From once more when oversign_from (so none can be
 * added), then also (NULL: nothing more) likewise.  0 or MAUTH_ENOMEM.
 */
int dkim_signer_default_names(arena *a, dkim_signer *s, const char *also,
			      int oversign_from);

/*
 * Loads the private key and checks it fits: its type is the algorithm's
 * (mismatch: the text when not; NULL: "key is not an RSA key" ...), an
 * RSA key has 1024 bits or more (RFC 8301 §3.2).  NULL, or the problem
 * with its code (doc/codes.md).
 */
const char *dkim_signer_key(dkim_signer *s, const char *mismatch,
			    const char **code);

/* bh=: the base64 SHA-256 of the canonical body.  0 or MAUTH_ENOMEM. */
int dkim_signer_body_hash(const dkim_signer *s, int relaxed,
			  char b64[HASH_MAX * 2]);

/*
 * Signs the hash state h (SHA-256) with the key: the base64 signature,
 * malloc'd; NULL with *why when signing failed, NULL with *why NULL when
 * out of memory.
 */
char *dkim_signer_sign(const dkim_signer *s, crypto_hash *h, const char **why);

/*
 * The same over the fields of h= (dkim_hash_fields) and then the signature
 * field itself (field, len bytes, its name nlen; b= empty, RFC 6376 §3.7).
 */
char *dkim_signer_sign_fields(const dkim_signer *s, int relaxed,
			      const char *field, size_t len, size_t nlen,
			      const char **why);

/* Frees what the signer holds (the key); the rest is in the arena. */
void dkim_signer_free(dkim_signer *s);

/*
 * The verifier options DKIM and ARC share: now (seconds since the epoch,
 * -1 when not given: no expiry check) and min_key_bits (RFC 8301: 1024
 * unless the caller lowers it).  < 0 with err on a bad value.
 */
int dkim_verify_opts(const params *p, long long *now, long *min_bits,
		     char *err, size_t errlen);

/* ---- replay evidence on a signature result (dkim_evidence.c) ---- */

#define DKIM_FP_HEX 32		/* fingerprint: 16 bytes of SHA-256, hex */
#define DKIM_RCPT_MAX 1000	/* recipients read (RFC 5321 §4.5.3.1.8: 100+) */
#define DKIM_OVER_FROM 1
#define DKIM_OVER_SUBJECT 2

/* The envelope recipients given (option recipients), normalised. */
typedef struct {
	size_t n;
	const char **addr;	/* "local@domain", domain lower-cased; NULL: none given */
	unsigned char *found;	/* addr[i] is named by To or Cc */
	const char *to_cc_code;	/* a To/Cc field unreadable: the reader's code */
} dkim_rcpts;

/* What dkim_put_evidence reads of one signature. */
typedef struct {
	const char *domain, *selector;
	const unsigned char *b;	/* b= decoded */
	size_t blen, nh;	/* nh: names in h= (0: h= unread) */
	long long now, t, x, l;	/* -1 when absent */
	int oversigned;		/* DKIM_OVER_* bits */
	int body_known;		/* body_total was computed */
	unsigned long long body_total;
	const dkim_rcpts *rcpts;	/* NULL: none given */
} dkim_evidence;

/* The fingerprint of d=, s= and decoded b= into out; -1 when one is
 * missing (or on ENOMEM). */
int dkim_fingerprint(const char *d, const char *s, const unsigned char *b,
		     size_t blen, char out[DKIM_FP_HEX + 1]);
/* DKIM_OVER_* for the fields h= names more often than m has them. */
int dkim_oversigned(const msg *m, char *const *h, const size_t *hlen,
		    size_t nh);
/* Reads and checks option recipients; 0, MAUTH_EINVAL with err, or
 * MAUTH_ENOMEM.  No recipients: r->addr NULL. */
int dkim_rcpts_read(arena *a, const params *p, dkim_rcpts *r, char *err,
		    size_t errlen);
/* Marks the recipients To or Cc of m name; 0 or -1 on ENOMEM. */
int dkim_rcpts_match(arena *a, const msg *m, dkim_rcpts *r);
/* Adds the evidence fields to the signature result e. */
void dkim_put_evidence(arena *a, mauth_value *e, const dkim_evidence *ev);

#endif
