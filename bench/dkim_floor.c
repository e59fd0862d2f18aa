/*
 * dkim_floor.c - the least work any rsa-sha256 DKIM verifier must do for a
 * message, done with OpenSSL directly: SHA-256 over the canonical body
 * (compared with bh=), then one EVP_DigestVerify (SHA-256 of the canonical
 * header block + the RSA-2048 public operation).  The canonical forms are
 * prepared once, before timing, so the floor has no parsing and no
 * canonicalisation in it: a verifier that is "1.25x the floor" spends a
 * quarter of the crypto time on everything else.  With "parse-key" the key
 * is also decoded from DER (d2i_PUBKEY) on every verification, as a
 * verifier without a key cache must; with "parse-pkcs1" the key is decoded
 * on every verification too, but the cheap way: the RSAPublicKey inside
 * the SubjectPublicKeyInfo is found by a short DER walk and handed to
 * d2i_PublicKey(EVP_PKEY_RSA) (about 1 us, where d2i_PUBKEY costs ~80 us
 * in OpenSSL 3.0 because it goes through the provider decoder chain).
 * With "reuse-ctx" the key is decoded once and its verification context
 * (padding, digest) is set up once too, and each verification is two
 * EVP_Digest calls and one EVP_PKEY_verify: the least OpenSSL work there
 * is, below what a verifier that initialises per message pays.
 *
 * The relaxed canonicalisation here (RFC 6376 §3.4.2, §3.4.4) only prepares
 * the floor's input; the bench messages are signed by dkimpy.
 *
 * usage: dkim_floor check|bench SECONDS MESSAGE TXTFILE [parse-key|parse-pkcs1|reuse-ctx]
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include "bench.h"

typedef struct {
	unsigned char *body, *hdrs, *der;
	size_t body_len, hdrs_len, der_len;
	unsigned char bh[32], sig[1024];
	size_t sig_len;
	EVP_PKEY *key;
	int parse_key;		/* 0: once; 1: d2i_PUBKEY; 2: DER walk + d2i_PublicKey */
	EVP_PKEY_CTX *vctx;	/* reuse-ctx: set up once */
	const unsigned char *pkcs1;
	size_t pkcs1_len;
} ctx;

typedef struct {
	char *p;
	size_t len, cap;
} buf;

static void put(buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			die("out of memory", "put");
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* p..end with each run of WSP as one SP and none at the end, relaxed's
 * rule for a header value and a body line alike; unfold: CR and LF go. */
static void put_relaxed(buf *out, const char *p, const char *end, int unfold)
{
	int space = 0;

	for (; p < end; p++) {
		if (unfold && (*p == '\r' || *p == '\n'))
			continue;
		if (wsp(*p)) {
			space = 1;
			continue;
		}
		if (space)
			put(out, " ", 1);
		space = 0;
		put(out, p, 1);
	}
}

/* Relaxed header field (§3.4.2): name lowercased, value unfolded, runs of
 * WSP to one SP, no WSP around the colon or at the end; with CRLF. */
static void canon_header(buf *out, const char *f, size_t n, int crlf)
{
	const char *colon = memchr(f, ':', n), *p, *end = f + n;
	size_t start = out->len;

	for (p = f; p < colon; p++)
		if (!wsp(*p)) {
			char c = (char)tolower((unsigned char)*p);

			put(out, &c, 1);
		}
	while (out->len > start && out->p[out->len - 1] == ' ')
		out->len--;
	put(out, ":", 1);
	for (p = colon + 1; p < end && (wsp(*p) || *p == '\r' || *p == '\n'); p++)
		;
	put_relaxed(out, p, end, 1);
	if (crlf)
		put(out, "\r\n", 2);
}

/* Relaxed body (§3.4.4). */
static void canon_body(buf *out, const char *p, const char *end)
{
	size_t keep = 0;

	while (p < end) {
		const char *eol = p;

		while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		if (eol + 1 >= end)
			eol = end;
		put_relaxed(out, p, eol, 0);
		put(out, "\r\n", 2);
		if (out->len > 2 && !(out->len >= 4 && memcmp(out->p + out->len - 4, "\r\n\r\n", 4) == 0))
			keep = out->len;
		else if (out->len == 2)
			keep = 0;
		p = eol + 2;
	}
	out->len = keep;	/* no empty lines at the end */
}

/* Header fields as (start, length) pairs, in order. */
static size_t fields(const char *m, size_t len, const char **fv, size_t *lv,
		     size_t max, const char **body)
{
	const char *p = m, *end = m + len;
	size_t n = 0;

	while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n') && n < max) {
		const char *f = p;

		while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n' &&
					(p + 2 >= end || !wsp(p[2]))))
			p++;
		fv[n] = f;
		lv[n++] = (size_t)(p - f);
		p += 2;
	}
	*body = p + 2;
	return n;
}

/* The value of tag t in a tag list, FWS removed (for bh=, b=, h=). */
static size_t tag(const char *sig, size_t n, const char *t, char *out, size_t outlen)
{
	const char *p = memchr(sig, ':', n) + 1, *end = sig + n;
	size_t tl = strlen(t), k = 0;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p)), *q = p;

		if (semi == NULL)
			semi = end;
		while (q < semi && (wsp(*q) || *q == '\r' || *q == '\n'))
			q++;
		if ((size_t)(semi - q) > tl && memcmp(q, t, tl) == 0 &&
		    (q[tl] == '=' || wsp(q[tl]))) {
			const char *v = q + tl;

			while (v < semi && *v != '=')
				v++;
			for (v++; v < semi && k + 1 < outlen; v++)
				if (!wsp(*v) && *v != '\r' && *v != '\n')
					out[k++] = *v;
			out[k] = '\0';
			return k;
		}
		p = semi + 1;
	}
	die("floor: tag not found", t);
	return 0;
}

static size_t b64(const char *in, unsigned char *out)
{
	size_t n = strlen(in);
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);

	if (len < 0)
		die("floor: bad base64", in);
	while (n > 0 && in[n - 1] == '=') {
		n--;
		len--;
	}
	return (size_t)len;
}

static void prepare(ctx *x, const char *msg, size_t len, const char *txt)
{
	const char *fv[256], *body, *sigf = NULL;
	size_t lv[256], nf, i, sigl = 0;
	char h[2048], v[4096], *name, *save;
	buf hb = { 0 }, bb = { 0 };
	unsigned char used[256] = { 0 };
	const char *p = strstr(txt, "p=");
	const unsigned char *d;

	nf = fields(msg, len, fv, lv, 256, &body);
	for (i = 0; i < nf && sigf == NULL; i++)
		if (lv[i] > 15 && strncasecmp(fv[i], "dkim-signature:", 15) == 0) {
			sigf = fv[i];
			sigl = lv[i];
			used[i] = 1;
		}
	if (sigf == NULL)
		die("floor", "no DKIM-Signature");
	tag(sigf, sigl, "bh", v, sizeof v);
	if (b64(v, x->bh) != 32)
		die("floor", "bh is not 32 bytes");
	tag(sigf, sigl, "b", v, sizeof v);
	x->sig_len = b64(v, x->sig);
	tag(sigf, sigl, "h", h, sizeof h);
	/* §5.4.2: each name takes the last instance not yet used. */
	for (name = strtok_r(h, ":", &save); name != NULL; name = strtok_r(NULL, ":", &save)) {
		size_t nl = strlen(name), k;

		for (k = nf; k-- > 0;)
			if (!used[k] && lv[k] > nl && fv[k][nl] == ':' &&
			    strncasecmp(fv[k], name, nl) == 0) {
				used[k] = 1;
				canon_header(&hb, fv[k], lv[k], 1);
				break;
			}
	}
	{
		/* The signature field itself, b= emptied, without CRLF. */
		buf s = { 0 };
		const char *b = sigf;

		for (;;) {
			b = strstr(b, "b=");
			if (b == NULL)
				die("floor", "no b=");
			if (b[-1] == ';' || wsp(b[-1]) || b[-1] == '\n')
				break;
			b++;
		}
		put(&s, sigf, (size_t)(b - sigf) + 2);
		b += 2;
		while (b < sigf + sigl && *b != ';')
			b++;
		put(&s, b, (size_t)(sigf + sigl - b));
		canon_header(&hb, s.p, s.len, 0);
		free(s.p);
	}
	canon_body(&bb, body, msg + len);
	x->hdrs = (unsigned char *)hb.p;
	x->hdrs_len = hb.len;
	x->body = (unsigned char *)bb.p;
	x->body_len = bb.len;
	if (p == NULL)
		die("floor", "no p= in the key record");
	x->der = malloc(strlen(p));
	snprintf(v, sizeof v, "%s", p + 2);
	v[strcspn(v, "; \r\n")] = '\0';
	x->der_len = b64(v, x->der);
	d = x->der;
	x->key = d2i_PUBKEY(NULL, &d, (long)x->der_len);
	if (x->key == NULL)
		die("floor", "bad public key");
}

/* Reads a DER tag and length at *p; returns the content length or -1. */
static long der_item(const unsigned char **p, const unsigned char *end, int tag)
{
	const unsigned char *q = *p;
	long len = 0;
	int n;

	if (end - q < 2 || q[0] != tag)
		return -1;
	if (q[1] < 0x80) {
		len = q[1];
		q += 2;
	} else {
		n = q[1] & 0x7f;
		if (n < 1 || n > 3 || end - q < 2 + n)
			return -1;
		for (q += 2; n > 0; n--)
			len = len << 8 | *q++;
	}
	if (len > end - q)
		return -1;
	*p = q;
	return len;
}

/* SubjectPublicKeyInfo = SEQUENCE { SEQUENCE { algorithm }, BIT STRING }. */
static void find_pkcs1(ctx *x)
{
	const unsigned char *p = x->der, *end = x->der + x->der_len;
	long n;

	if (der_item(&p, end, 0x30) < 0 || (n = der_item(&p, end, 0x30)) < 0)
		die("floor", "bad SubjectPublicKeyInfo");
	p += n;
	n = der_item(&p, end, 0x03);
	if (n < 2 || p[0] != 0)
		die("floor", "bad public key BIT STRING");
	x->pkcs1 = p + 1;
	x->pkcs1_len = (size_t)n - 1;
}

/* reuse-ctx: the body hash, then the header hash checked by the ready context. */
static int verify_reusing(ctx *x)
{
	unsigned char md[32];

	return EVP_Digest(x->body, x->body_len, md, NULL, EVP_sha256(), NULL) == 1 &&
	       memcmp(md, x->bh, 32) == 0 &&
	       EVP_Digest(x->hdrs, x->hdrs_len, md, NULL, EVP_sha256(), NULL) == 1 &&
	       EVP_PKEY_verify(x->vctx, x->sig, x->sig_len, md, 32) == 1;
}

static int verify(ctx *x)
{
	unsigned char md[32];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY *key = x->key;
	int ok;

	if (x->parse_key == 1) {
		const unsigned char *d = x->der;

		key = d2i_PUBKEY(NULL, &d, (long)x->der_len);
	} else if (x->parse_key == 2) {
		const unsigned char *d = x->pkcs1;

		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &d, (long)x->pkcs1_len);
	}
	ok = m != NULL && key != NULL &&
		EVP_Digest(x->body, x->body_len, md, NULL, EVP_sha256(), NULL) == 1 &&
		memcmp(md, x->bh, 32) == 0 &&
		EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key) == 1 &&
		EVP_DigestVerify(m, x->sig, x->sig_len, x->hdrs, x->hdrs_len) == 1;
	EVP_MD_CTX_free(m);
	if (x->parse_key)
		EVP_PKEY_free(key);
	return ok;
}

static long pass(void *p)
{
	ctx *x = p;

	if (!(x->vctx != NULL ? verify_reusing(x) : verify(x)))
		die("floor", "verification failed");
	return 1;
}

int main(int argc, char **argv)
{
	int bench = argc > 1 && strcmp(argv[1], "bench") == 0;
	int base = bench ? 3 : 2;
	size_t len;
	char *msg;
	ctx x = { 0 };

	if (argc < base + 2)
		die("usage", "dkim_floor check|bench SECONDS MESSAGE TXTFILE [parse-key|parse-pkcs1]");
	if (argc > base + 2)
		x.parse_key = strcmp(argv[base + 2], "parse-key") == 0 ? 1 :
			strcmp(argv[base + 2], "parse-pkcs1") == 0 ? 2 : 0;
	msg = slurp(argv[base], &len);
	prepare(&x, msg, len, slurp(argv[base + 1], NULL));
	find_pkcs1(&x);
	if (argc > base + 2 && strcmp(argv[base + 2], "reuse-ctx") == 0) {
		x.vctx = EVP_PKEY_CTX_new(x.key, NULL);
		if (x.vctx == NULL || EVP_PKEY_verify_init(x.vctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(x.vctx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(x.vctx, EVP_sha256()) != 1)
			die("floor", "cannot set up a verification context");
	}
	if (bench)
		bench_run(atof(argv[2]), pass, &x);
	else
		printf("%s\n", (x.vctx != NULL ? verify_reusing(&x) : verify(&x)) ?
		       "pass" : "fail");
	return 0;
}
