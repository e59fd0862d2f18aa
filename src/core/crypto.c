/*
 * crypto.c - OpenSSL libcrypto (EVP) behind the small API of crypto.h.
 * The only file that includes OpenSSL headers.  No algorithm is written
 * here: digests, RSA and Ed25519 are OpenSSL's.
 */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include "core/crypto.h"
#include "core/texthash.h"

/* Small updates (a header field at a time) are gathered in buf: one
 * EVP call per few fields instead of one per field.  The size keeps the
 * struct in malloc's per-thread cache (under 1 KB). */
struct crypto_hash {
	EVP_MD_CTX *ctx;
	size_t n;
	unsigned char buf[496];
};

struct crypto_key {
	EVP_PKEY *pkey;
	int type;
	int slot;		/* its key cache slot, -1 for none */
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
	crypto_hash *h = OPENSSL_malloc(sizeof *h);

	if (h == NULL)
		return NULL;
	h->n = 0;
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
	if (h->n + n <= sizeof h->buf) {
		memcpy(h->buf + h->n, p, n);
		h->n += n;
		return;
	}
	if (h->n > 0)
		EVP_DigestUpdate(h->ctx, h->buf, h->n);
	h->n = 0;
	if (n >= sizeof h->buf) {
		EVP_DigestUpdate(h->ctx, p, n);
	} else {
		memcpy(h->buf, p, n);
		h->n = n;
	}
}

size_t crypto_hash_final(crypto_hash *h, unsigned char *out)
{
	unsigned int n = 0;

	if (h->n > 0)
		EVP_DigestUpdate(h->ctx, h->buf, h->n);
	h->n = 0;
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
	k->slot = -1;
	return k;
}

/*
 * RSA public keys: OpenSSL 3's generic decoders (d2i_PUBKEY) cost about
 * 150 us a key, more than the whole rest of a verification, so the DER is
 * taken apart with OpenSSL's ASN.1 primitives and the key is built from n
 * and e with EVP_PKEY_fromdata (about 12 us).
 */
static ASN1_SEQUENCE_ANY *der_sequence(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);

	if (seq != NULL && p != der + len) {	/* trailing bytes */
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		seq = NULL;
	}
	return seq;
}

/* The RSA key params describe (selection: EVP_PKEY_PUBLIC_KEY or _KEYPAIR), or NULL. */
static EVP_PKEY *rsa_fromdata(OSSL_PARAM *params, int selection)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* The same from the parameters pushed on bld (bld stays the caller's). */
static EVP_PKEY *rsa_from_params(OSSL_PARAM_BLD *bld, int selection)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY *pkey = params != NULL ? rsa_fromdata(params, selection) : NULL;

	OSSL_PARAM_free(params);
	return pkey;
}

/* Copies the big-endian magnitude of an INTEGER into out, least
 * significant byte first (the native order OSSL_PARAM BNs have here). */
static int int_to_native(const ASN1_INTEGER *i, unsigned char *out, size_t cap,
			 size_t *len)
{
	const unsigned char *d = ASN1_STRING_get0_data(i);
	int n = ASN1_STRING_length(i), k;

	if (n <= 0 || (size_t)n > cap || d[0] == 0)
		return 0;
	for (k = 0; k < n; k++)
		out[k] = d[n - 1 - k];
	*len = (size_t)n;
	return 1;
}

/*
 * n and e straight from their bytes into the key, without BIGNUMs and a
 * param builder in between, on little-endian hosts; 0 = not done (the
 * general path then builds the same key).
 */
static int rsa_fromdata_direct(const ASN1_INTEGER *n, const ASN1_INTEGER *e,
			       EVP_PKEY **pkey)
{
	static const unsigned short one = 1;
	unsigned char nb[1024], eb[64];
	size_t nl, el;
	OSSL_PARAM params[3];

	if (*(const unsigned char *)&one != 1 ||
	    !int_to_native(n, nb, sizeof nb, &nl) ||
	    !int_to_native(e, eb, sizeof eb, &el))
		return 0;
	params[0] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, nb, nl);
	params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, eb, el);
	params[2] = OSSL_PARAM_construct_end();
	*pkey = rsa_fromdata(params, EVP_PKEY_PUBLIC_KEY);
	return 1;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
static EVP_PKEY *rsa_from_ints(const ASN1_SEQUENCE_ANY *ints)
{
	ASN1_TYPE *n, *e;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (sk_ASN1_TYPE_num(ints) != 2)
		return NULL;
	n = sk_ASN1_TYPE_value(ints, 0);
	e = sk_ASN1_TYPE_value(ints, 1);
	if (n->type != V_ASN1_INTEGER || e->type != V_ASN1_INTEGER)
		return NULL;	/* V_ASN1_NEG_INTEGER is another type */
	if (rsa_fromdata_direct(n->value.integer, e->value.integer, &pkey))
		return pkey;
	bn = ASN1_INTEGER_to_BN(n->value.integer, NULL);
	be = ASN1_INTEGER_to_BN(e->value.integer, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn != NULL && be != NULL && bld != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pkey = rsa_from_params(bld, EVP_PKEY_PUBLIC_KEY);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

/* SubjectPublicKeyInfo with rsaEncryption, or a bare RSAPublicKey. */
static EVP_PKEY *rsa_pubkey(const unsigned char *der, long len)
{
	ASN1_SEQUENCE_ANY *outer = der_sequence(der, len), *inner = NULL;
	EVP_PKEY *pkey = NULL;
	ASN1_TYPE *alg, *bits;

	if (outer == NULL)
		return NULL;
	if (sk_ASN1_TYPE_num(outer) == 2 &&
	    (alg = sk_ASN1_TYPE_value(outer, 0))->type == V_ASN1_SEQUENCE &&
	    (bits = sk_ASN1_TYPE_value(outer, 1))->type == V_ASN1_BIT_STRING) {
		const unsigned char *p = ASN1_STRING_get0_data(alg->value.sequence);
		X509_ALGOR *algor = d2i_X509_ALGOR(NULL, &p,
				ASN1_STRING_length(alg->value.sequence));
		const ASN1_BIT_STRING *bs = bits->value.bit_string;

		if (algor != NULL &&
		    OBJ_obj2nid(algor->algorithm) == NID_rsaEncryption &&
		    (bs->flags & 0x07) == 0)	/* no unused bits */
			inner = der_sequence(ASN1_STRING_get0_data(bs),
					     ASN1_STRING_length(bs));
		X509_ALGOR_free(algor);
		if (inner != NULL)
			pkey = rsa_from_ints(inner);
		sk_ASN1_TYPE_pop_free(inner, ASN1_TYPE_free);
	} else {
		pkey = rsa_from_ints(outer);
	}
	sk_ASN1_TYPE_pop_free(outer, ASN1_TYPE_free);
	return pkey;
}

static EVP_PKEY *pubkey_decode(int type, const unsigned char *der,
				size_t len, const char **why)
{
	EVP_PKEY *pkey = NULL;

	if (type == KEY_ED25519) {
		if (len != 32) {
			*why = "Ed25519 public key is not 32 bytes";
			return NULL;
		}
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   der, len);
	} else if (type == KEY_RSA && len <= 0x7fffffff) {
		pkey = rsa_pubkey(der, (long)len);
	}
	ERR_clear_error();
	if (pkey == NULL)
		*why = "p= is not a valid public key";
	return pkey;
}

/*
 * Decoded public keys, shared by the whole process.  A mail stream
 * meets the same few hundred keys again and again, and OpenSSL spends
 * more on turning a key's bytes into a usable key (building it, then
 * its Montgomery form on first use) than on the RSA operation itself.
 * The cache only remembers the output of a pure function of the p=
 * text, so results never depend on it.  Direct-mapped by a hash of the
 * text (a collision evicts), the text compared in full on a hit; keys
 * are reference-counted, so a key evicted while in use stays valid.
 * One mutex: a hit holds it for a hash, a compare and an up-ref.
 *
 * An RSA slot also keeps a verification context per digest, set up
 * (padding, digest) and reusable: setting one up costs OpenSSL a few
 * microseconds of lookups.  A verifier takes it out of the slot, so no
 * two threads share one, and puts it back when done.
 */
#define KEYCACHE_SLOTS 128
#define KEYCACHE_MAX_TEXT 1500	/* an 8192-bit key's p= (1.4 KB) fits */

typedef struct {
	EVP_PKEY *pkey;		/* NULL: empty */
	size_t len;
	EVP_PKEY_CTX *verify[3];	/* by HASH_*, each NULL or ready */
	int type;
	char text[KEYCACHE_MAX_TEXT];	/* the p= value, as published */
} keycache_slot;

static keycache_slot keycache[KEYCACHE_SLOTS];
static pthread_mutex_t keycache_lock = PTHREAD_MUTEX_INITIALIZER;

/* Moves what slot s holds (key, contexts) to old; under the lock. */
static void slot_take(keycache_slot *s, keycache_slot *old)
{
	old->pkey = s->pkey;
	memcpy(old->verify, s->verify, sizeof old->verify);
	s->pkey = NULL;
	memset(s->verify, 0, sizeof s->verify);
}

/* Frees what a slot (or a copy of one taken out under the lock) holds. */
static void slot_free(keycache_slot *s)
{
	size_t i;

	for (i = 0; i < sizeof s->verify / sizeof s->verify[0]; i++)
		EVP_PKEY_CTX_free(s->verify[i]);
	EVP_PKEY_free(s->pkey);
}

unsigned crypto_keycache_slot(int type, const char *text, size_t len)
{
	return (unsigned)((text_hash(text, len) ^ (unsigned)type) % KEYCACHE_SLOTS);
}

/* A new reference to the cached key for this text, or NULL. */
static EVP_PKEY *keycache_get(unsigned at, int type, const char *text,
			      size_t len)
{
	keycache_slot *s = &keycache[at];
	EVP_PKEY *pkey = NULL;

	pthread_mutex_lock(&keycache_lock);
	if (s->pkey != NULL && s->type == type && s->len == len &&
	    memcmp(s->text, text, len) == 0 && EVP_PKEY_up_ref(s->pkey) == 1)
		pkey = s->pkey;
	pthread_mutex_unlock(&keycache_lock);
	return pkey;
}

static void keycache_put(unsigned at, int type, const char *text, size_t len,
			 EVP_PKEY *pkey)
{
	keycache_slot *s = &keycache[at];
	keycache_slot old;

	if (len > KEYCACHE_MAX_TEXT || EVP_PKEY_up_ref(pkey) != 1)
		return;
	pthread_mutex_lock(&keycache_lock);
	slot_take(s, &old);
	s->pkey = pkey;
	s->type = type;
	s->len = len;
	memcpy(s->text, text, len);
	pthread_mutex_unlock(&keycache_lock);
	slot_free(&old);
}

/* The slot's ready context for k and alg, taken out of it; or NULL. */
static EVP_PKEY_CTX *keycache_take_verify(const crypto_key *k, int alg)
{
	EVP_PKEY_CTX *ctx = NULL;

	if (k->slot < 0)
		return NULL;
	pthread_mutex_lock(&keycache_lock);
	if (keycache[k->slot].pkey == k->pkey) {
		ctx = keycache[k->slot].verify[alg];
		keycache[k->slot].verify[alg] = NULL;
	}
	pthread_mutex_unlock(&keycache_lock);
	return ctx;
}

/* Gives ctx back to k's slot, or frees it when the slot moved on. */
static void keycache_give_verify(const crypto_key *k, int alg,
				 EVP_PKEY_CTX *ctx)
{
	if (k->slot >= 0) {
		pthread_mutex_lock(&keycache_lock);
		if (keycache[k->slot].pkey == k->pkey &&
		    keycache[k->slot].verify[alg] == NULL) {
			keycache[k->slot].verify[alg] = ctx;
			ctx = NULL;
		}
		pthread_mutex_unlock(&keycache_lock);
	}
	EVP_PKEY_CTX_free(ctx);
}

void crypto_keycache_clear(void)
{
	unsigned i;

	for (i = 0; i < KEYCACHE_SLOTS; i++) {
		keycache_slot old;

		pthread_mutex_lock(&keycache_lock);
		slot_take(&keycache[i], &old);
		pthread_mutex_unlock(&keycache_lock);
		slot_free(&old);
	}
}

crypto_key *crypto_pubkey_new(int type, const char *b64, size_t len,
			      const char **why)
{
	unsigned at = crypto_keycache_slot(type, b64, len);
	EVP_PKEY *pkey = len <= KEYCACHE_MAX_TEXT ?
			 keycache_get(at, type, b64, len) : NULL;
	crypto_key *k;

	if (pkey == NULL) {
		unsigned char *der = malloc(len / 4 * 3 + 3);
		size_t n = der != NULL ? b64_decode(b64, len, der) : 0;

		if (der == NULL) {
			*why = "out of memory";
			return NULL;
		}
		if (n == (size_t)-1)
			*why = "p= is not valid base64";
		else
			pkey = pubkey_decode(type, der, n, why);
		free(der);
		if (pkey == NULL)
			return NULL;
		keycache_put(at, type, b64, len, pkey);
	}
	k = key_wrap(pkey, why);
	if (k != NULL && len <= KEYCACHE_MAX_TEXT)
		k->slot = (int)at;
	return k;
}

/*
 * Private keys, for the same reason as public ones: the PEM armour is
 * removed with PEM_read_bio and the common forms are built directly:
 * "RSA PRIVATE KEY" (PKCS#1) and "PRIVATE KEY" (PKCS#8) holding RSA or
 * Ed25519 (RFC 8410).  Anything else goes to the generic decoder.
 */
static EVP_PKEY *rsa_private(const ASN1_SEQUENCE_ANY *v)
{
	/* RSAPrivateKey: version, n, e, d, p, q, dp, dq, qinv (RFC 8017 A.1.2) */
	static const char *const names[] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	BIGNUM *bn[8] = { NULL };
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;
	int i, ok;

	if (sk_ASN1_TYPE_num(v) != 9)
		return NULL;
	for (i = 0; i < 9; i++)
		if (sk_ASN1_TYPE_value(v, i)->type != V_ASN1_INTEGER)
			return NULL;
	bld = OSSL_PARAM_BLD_new();
	ok = bld != NULL;
	for (i = 0; ok && i < 8; i++) {
		bn[i] = ASN1_INTEGER_to_BN(sk_ASN1_TYPE_value(v, i + 1)->value.integer,
					   NULL);
		ok = bn[i] != NULL && OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]);
	}
	if (ok)
		pkey = rsa_from_params(bld, EVP_PKEY_KEYPAIR);
	OSSL_PARAM_BLD_free(bld);
	for (i = 0; i < 8; i++)
		BN_clear_free(bn[i]);
	return pkey;
}

/* PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING, ... } */
static EVP_PKEY *pkcs8_private(const ASN1_SEQUENCE_ANY *v)
{
	ASN1_TYPE *alg, *key;
	const unsigned char *p;
	X509_ALGOR *algor;
	EVP_PKEY *pkey = NULL;
	int nid;

	if (sk_ASN1_TYPE_num(v) < 3 ||
	    sk_ASN1_TYPE_value(v, 0)->type != V_ASN1_INTEGER ||
	    (alg = sk_ASN1_TYPE_value(v, 1))->type != V_ASN1_SEQUENCE ||
	    (key = sk_ASN1_TYPE_value(v, 2))->type != V_ASN1_OCTET_STRING)
		return NULL;
	p = ASN1_STRING_get0_data(alg->value.sequence);
	algor = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(alg->value.sequence));
	nid = algor != NULL ? OBJ_obj2nid(algor->algorithm) : NID_undef;
	X509_ALGOR_free(algor);
	if (nid == NID_rsaEncryption) {
		ASN1_SEQUENCE_ANY *inner = der_sequence(
			ASN1_STRING_get0_data(key->value.octet_string),
			ASN1_STRING_length(key->value.octet_string));

		if (inner != NULL)
			pkey = rsa_private(inner);
		sk_ASN1_TYPE_pop_free(inner, ASN1_TYPE_free);
	} else if (nid == NID_ED25519) {
		/* CurvePrivateKey ::= OCTET STRING (the 32-byte seed) */
		const unsigned char *q = ASN1_STRING_get0_data(key->value.octet_string);
		long qlen = ASN1_STRING_length(key->value.octet_string);
		ASN1_OCTET_STRING *seed = d2i_ASN1_OCTET_STRING(NULL, &q, qlen);

		if (seed != NULL && ASN1_STRING_length(seed) == 32 &&
		    q == ASN1_STRING_get0_data(key->value.octet_string) + qlen)
			pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
				ASN1_STRING_get0_data(seed), 32);
		ASN1_OCTET_STRING_free(seed);
	}
	return pkey;
}

static EVP_PKEY *private_fast(BIO *bio)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	ASN1_SEQUENCE_ANY *seq = NULL;
	EVP_PKEY *pkey = NULL;

	if (PEM_read_bio(bio, &name, &header, &der, &len) == 1 &&
	    header != NULL && header[0] == '\0' &&	/* not encrypted */
	    (seq = der_sequence(der, len)) != NULL) {
		if (strcmp(name, "RSA PRIVATE KEY") == 0)
			pkey = rsa_private(seq);
		else if (strcmp(name, "PRIVATE KEY") == 0)
			pkey = pkcs8_private(seq);
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)len);
	return pkey;
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
	pkey = private_fast(bio);
	if (pkey == NULL && BIO_reset(bio) == 1)
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

int crypto_verify(crypto_key *k, int alg, const unsigned char *tbs,
		  size_t tbslen, const unsigned char *sig, size_t siglen)
{
	int rc = -1;

	if (k->type == KEY_ED25519) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		if (ctx != NULL &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1)
			rc = EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1;
		EVP_MD_CTX_free(ctx);
	} else if (md_of(alg) != NULL) {
		EVP_PKEY_CTX *ctx = keycache_take_verify(k, alg);

		if (ctx == NULL) {
			ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
			if (ctx != NULL && (EVP_PKEY_verify_init(ctx) != 1 ||
			    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_signature_md(ctx, md_of(alg)) != 1)) {
				EVP_PKEY_CTX_free(ctx);
				ctx = NULL;
			}
		}
		if (ctx != NULL) {
			rc = EVP_PKEY_verify(ctx, sig, siglen, tbs, tbslen) == 1;
			keycache_give_verify(k, alg, ctx);
		}
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

/* Base64 digit values (0-63); B64_WSP skipped (FWS), B64_PAD '=', X others. */
enum { B64_WSP = 64, B64_PAD = 65, B64_BAD = 255 };

#define X B64_BAD
#define W B64_WSP
static const unsigned char b64_tab[256] = {
	X, X, X, X, X, X, X, X, X, W, W, X, X, W, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	W, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, B64_PAD, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef W
#undef X

size_t b64_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned long acc = 0;
	size_t i, n = 0, pad = 0, bits = 0;

	for (i = 0; i < len; i++) {
		unsigned v = b64_tab[(unsigned char)in[i]];

		/* Four digits at a time while no padding has been seen. */
		if (v < 64 && pad == 0 && bits == 0 && i + 4 <= len) {
			unsigned v1 = b64_tab[(unsigned char)in[i + 1]];
			unsigned v2 = b64_tab[(unsigned char)in[i + 2]];
			unsigned v3 = b64_tab[(unsigned char)in[i + 3]];

			if ((v1 | v2 | v3) < 64) {
				unsigned long w = (unsigned long)v << 18 |
					(unsigned long)v1 << 12 |
					(unsigned long)v2 << 6 | (unsigned long)v3;

				out[n] = (unsigned char)(w >> 16);
				out[n + 1] = (unsigned char)(w >> 8);
				out[n + 2] = (unsigned char)w;
				n += 3;
				i += 3;
				continue;
			}
		}
		if (v == B64_WSP)
			continue;
		if (v == B64_PAD) {
			pad++;
			continue;
		}
		if (pad > 0)		/* data after padding */
			return (size_t)-1;
		if (v >= 64)
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
		size_t chunk = len > (size_t)3 * 4096 ? (size_t)3 * 4096 : len;

		n += (size_t)EVP_EncodeBlock((unsigned char *)out + n, in,
					     (int)chunk);
		in += chunk;
		len -= chunk;
	}
	out[n] = '\0';
	return n;
}
