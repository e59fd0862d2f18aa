/*
 * crypto.c - OpenSSL libcrypto (EVP) behind the small API of crypto.h.
 * The only file that includes OpenSSL headers.  No algorithm is written
 * here: digests, RSA and Ed25519 are OpenSSL's.
 */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include "crypto.h"

struct crypto_hash {
	EVP_MD_CTX *ctx;
};

struct crypto_key {
	EVP_PKEY *pkey;
	int type;
};

static const EVP_MD *md_of(int alg)
{
	return alg == HASH_SHA1 ? EVP_sha1() : alg == HASH_SHA256 ?
	       EVP_sha256() : NULL;
}

size_t crypto_hash_len(int alg)
{
	return alg == HASH_SHA1 ? 20 : alg == HASH_SHA256 ? 32 : 0;
}

crypto_hash *crypto_hash_new(int alg)
{
	crypto_hash *h = OPENSSL_zalloc(sizeof *h);

	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || md_of(alg) == NULL ||
	    EVP_DigestInit_ex(h->ctx, md_of(alg), NULL) != 1) {
		crypto_hash_free(h);
		return NULL;
	}
	return h;
}

void crypto_hash_update(crypto_hash *h, const void *p, size_t n)
{
	if (n > 0)
		EVP_DigestUpdate(h->ctx, p, n);
}

size_t crypto_hash_final(crypto_hash *h, unsigned char *out)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
		return 0;
	return n;
}

void crypto_hash_free(crypto_hash *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	OPENSSL_free(h);
}

static crypto_key *key_wrap(EVP_PKEY *pkey, const char **why)
{
	crypto_key *k;
	int id = EVP_PKEY_get_base_id(pkey);

	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		*why = "key is neither RSA nor Ed25519";
		return NULL;
	}
	k = OPENSSL_zalloc(sizeof *k);
	if (k == NULL) {
		EVP_PKEY_free(pkey);
		*why = "out of memory";
		return NULL;
	}
	k->pkey = pkey;
	k->type = id == EVP_PKEY_RSA ? KEY_RSA : KEY_ED25519;
	return k;
}

crypto_key *crypto_pubkey_new(int type, const unsigned char *der, size_t len,
			      const char **why)
{
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = der;

	if (type == KEY_ED25519) {
		if (len != 32) {
			*why = "Ed25519 public key is not 32 bytes";
			return NULL;
		}
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   der, len);
	} else if (type == KEY_RSA && len <= 0x7fffffff) {
		pkey = d2i_PUBKEY(NULL, &p, (long)len);
		if (pkey != NULL && p != der + len) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		if (pkey == NULL) {	/* bare PKCS#1 RSAPublicKey */
			p = der;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
			if (pkey != NULL && p != der + len) {
				EVP_PKEY_free(pkey);
				pkey = NULL;
			}
		}
		if (pkey != NULL && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pkey);
			*why = "k=rsa but p= holds another key type";
			ERR_clear_error();
			return NULL;
		}
	}
	ERR_clear_error();
	if (pkey == NULL) {
		*why = "p= is not a valid public key";
		return NULL;
	}
	return key_wrap(pkey, why);
}

crypto_key *crypto_privkey_pem(const char *pem, size_t len, const char **why)
{
	BIO *bio;
	EVP_PKEY *pkey;

	if (len > 0x7fffffff) {
		*why = "key too large";
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		*why = "out of memory";
		return NULL;
	}
	/* A NULL callback with "" as passphrase: never prompt on a tty. */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL) {
		*why = "key is not a readable PEM private key";
		return NULL;
	}
	return key_wrap(pkey, why);
}

int crypto_key_type(const crypto_key *k)
{
	return k != NULL ? k->type : 0;
}

int crypto_key_bits(const crypto_key *k)
{
	if (k->type == KEY_ED25519)
		return 256;
	return EVP_PKEY_get_bits(k->pkey);
}

void crypto_key_free(crypto_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	OPENSSL_free(k);
}

int crypto_verify(crypto_key *k, int alg, const unsigned char *digest,
		  size_t dlen, const unsigned char *sig, size_t slen)
{
	int rc = -1;

	if (k->type == KEY_ED25519) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		if (ctx != NULL &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1)
			rc = EVP_DigestVerify(ctx, sig, slen, digest, dlen) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);

		if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(ctx, md_of(alg)) == 1)
			rc = EVP_PKEY_verify(ctx, sig, slen, digest, dlen) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
	return rc;
}

size_t crypto_sign(crypto_key *k, int alg, const unsigned char *digest,
		   size_t dlen, unsigned char *sig)
{
	size_t n = SIG_MAX;
	int ok = 0;

	if (k->type == KEY_ED25519) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		ok = ctx != NULL &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(ctx, sig, &n, digest, dlen) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);

		ok = ctx != NULL && EVP_PKEY_get_size(k->pkey) <= SIG_MAX &&
		     EVP_PKEY_sign_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, md_of(alg)) == 1 &&
		     EVP_PKEY_sign(ctx, sig, &n, digest, dlen) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
	return ok ? n : 0;
}

/* ---- base64: an encoding, not cryptography; strict on purpose ---- */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t b64_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned long acc = 0;
	size_t i, n = 0, pad = 0, bits = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)		/* data after padding */
			return (size_t)-1;
		v = b64_val(c);
		if (v < 0)
			return (size_t)-1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	/* Leftover bits must be zero padding of a 2- or 3-char final group. */
	if (bits >= 6 || pad > 2 || acc != 0)
		return (size_t)-1;
	if (pad > 0 && (bits / 2) != pad)
		return (size_t)-1;
	return n;
}

size_t b64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t n = 0;

	/* EVP_EncodeBlock NUL-terminates and never adds newlines. */
	while (len > 0) {
		size_t chunk = len > 3 * 4096 ? 3 * 4096 : len;

		n += (size_t)EVP_EncodeBlock((unsigned char *)out + n, in,
					     (int)chunk);
		in += chunk;
		len -= chunk;
	}
	out[n] = '\0';
	return n;
}
