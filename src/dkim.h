/*
 * dkim.h - pieces of DKIM shared by the verifier (dkim.c), the signer
 * (dkim_sign.c) and later ARC.
 */
#if !defined(MAUTH_DKIM_H)
#define MAUTH_DKIM_H

#include "message.h"
#include "crypto.h"

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

#endif
