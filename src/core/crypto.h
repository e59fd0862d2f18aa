/*
 * crypto.h - the little of OpenSSL that DKIM and ARC need: streaming
 * digests, public keys from DNS, private keys from PEM, signature check and
 * creation over a precomputed digest, and base64.  crypto.c is the only
 * file that includes OpenSSL headers; everything here is libcrypto EVP.
 */
#if !defined(MAUTH_CRYPTO_H)
#define MAUTH_CRYPTO_H

#include <stddef.h>

enum { HASH_SHA1 = 1, HASH_SHA256 = 2 };
enum { KEY_RSA = 1, KEY_ED25519 = 2 };

#define HASH_MAX 32		/* bytes of the largest digest we use */
#define SIG_MAX 1024		/* bytes of an 8192-bit RSA signature */

typedef struct crypto_hash crypto_hash;
typedef struct crypto_key crypto_key;

crypto_hash *crypto_hash_new(int alg);		/* NULL on ENOMEM */
void crypto_hash_update(crypto_hash *h, const void *p, size_t n);
/* Writes the digest to out (>= HASH_MAX bytes); returns its length, 0 on error. */
size_t crypto_hash_final(crypto_hash *h, unsigned char *out);
void crypto_hash_free(crypto_hash *h);		/* NULL is a no-op */
size_t crypto_hash_len(int alg);

/*
 * The public key of a DKIM key record's p= value (base64, FWS allowed):
 * for RSA the DER of a SubjectPublicKeyInfo (or, as some publish, a bare
 * PKCS#1 RSAPublicKey); for Ed25519 the 32 raw bytes (RFC 8463 §4).
 * NULL with *why set ("p= is not valid base64", ...).
 */
crypto_key *crypto_pubkey_new(int type, const char *b64, size_t len,
			      const char **why);
/*
 * Decoded public keys are kept in a small process-wide cache (thread-safe);
 * this empties it (the Lua module does when its state closes).
 */
void crypto_keycache_clear(void);
/* The slot a key's p= text goes to (tests use it to make slots collide). */
unsigned crypto_keycache_slot(int type, const char *text, size_t len);
/* A private key in PEM (PKCS#1, PKCS#8, or SEC1-less Ed25519 PKCS#8). */
crypto_key *crypto_privkey_pem(const char *pem, size_t len, const char **why);
int crypto_key_type(const crypto_key *k);	/* KEY_RSA / KEY_ED25519 / 0 */
int crypto_key_bits(const crypto_key *k);
void crypto_key_free(crypto_key *k);

/*
 * Checks sig over tbs, the digest of the signed data.  RSA: PKCS#1 v1.5
 * with the hash alg's DigestInfo; Ed25519: PureEdDSA over the digest bytes
 * (RFC 8463 §3).  1 good, 0 bad, -1 unusable input.
 */
int crypto_verify(crypto_key *k, int alg, const unsigned char *tbs,
		  size_t tbslen, const unsigned char *sig, size_t siglen);
/* Signs digest; sig has SIG_MAX bytes.  Returns the length, 0 on error. */
size_t crypto_sign(crypto_key *k, int alg, const unsigned char *digest,
		   size_t dlen, unsigned char *sig);

/*
 * Strict base64 (RFC 4648 §4) ignoring whitespace (FWS inside DKIM tags).
 * out needs 3 * (len / 4) + 3 bytes.  Returns the length or (size_t)-1.
 */
size_t b64_decode(const char *in, size_t len, unsigned char *out);
/* out needs 4 * ((len + 2) / 3) + 1 bytes; NUL-terminated; returns length. */
size_t b64_encode(const unsigned char *in, size_t len, char *out);

#endif
