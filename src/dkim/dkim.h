/*
 * dkim.h - pieces of DKIM shared by the verifier (dkim.c), the signer
 * (dkim_sign.c) and later ARC.
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

/*
 * Checks sig over digest (made with keytype/alg) with the key record of a
 * DNS answer, as a DKIM verifier would (RFC 6376 §3.6.1, RFC 8301 sizes):
 * "pass", "fail" (bad signature, or bh_fail when not NULL), "permerror"
 * or "temperror", with the reason in problem.  Used by ARC.
 */
const char *dkim_check_answer(const mauth_answer *a, int keytype, int alg,
			      const unsigned char *digest, size_t dlen,
			      const unsigned char *sig, size_t slen,
			      const char *bh_fail, long min_bits,
			      char *problem, size_t plen, int *key_bits);

/*
 * The header names a signer was asked to sign (params headers.1, 2, ...),
 * copied into the arena: each must be a field name (RFC 5322 ftext) with
 * no ";".  Returns how many (0: none given, use the defaults), or
 * MAUTH_EINVAL / MAUTH_ENOMEM.
 */
long dkim_sign_names(arena *a, const params *p, const char ***names,
		     size_t **lens, char *err, size_t errlen);

/*
 * The verifier options DKIM and ARC share: now (seconds since the epoch,
 * -1 when not given: no expiry check) and min_key_bits (RFC 8301: 1024
 * unless the caller lowers it).  < 0 with err on a bad value.
 */
int dkim_verify_opts(const params *p, long long *now, long *min_bits,
		     char *err, size_t errlen);

#endif
