/*
 * Unit tests for attest/ratls.c: the three real RA-TLS certificates of the
 * CCC interoperability tests (Gramine, Intel SGX SDK, rats-tls), one
 * negative test per reason code the parsers return, and round trips
 * through the encoders and kg_ratls_make_cert with P-256 and P-384 keys.
 *
 * KG_VECTORS points at shared/vectors; expected values are from
 * EXPECTED.md section 8 and cited where they are used.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../attest/ratls.h"
#include "../../common/cursor.h"
#include "../../common/util.h"

#define FILE_MAX (1 << 20)

/* A fixed clock for made certificates: 2025-01-01T00:00:00Z. */
#define NOW ((time_t)1735689600)

static const uint8_t HPKE_PK[32] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
};

/* ---- helpers ---------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len;
};

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

static struct buf read_vector(const char *name)
{
	const char *dir = getenv("KG_VECTORS");
	char path[4096];
	struct buf b = {NULL, 0};

	assert_non_null(dir);
	assert_true((size_t)snprintf(path, sizeof path, "%s/ratls/ccc-interop/%s", dir, name) < sizeof path);
	assert_int_equal(kg_file_read(path, FILE_MAX, &b.p, &b.len), KG_OK);
	return b;
}

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	assert_int_equal(kg_unhex(out, n, hex), KG_OK);
}

static void sha256(const uint8_t *p, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(p, len, out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
}

static EVP_PKEY *new_key(const char *curve)
{
	EVP_PKEY *k = EVP_EC_gen(curve);

	assert_non_null(k);
	return k;
}

static struct buf spki_of(EVP_PKEY *k)
{
	struct buf b = {NULL, 0};
	unsigned char *w;
	int n = i2d_PUBKEY(k, NULL);

	assert_true(n > 0);
	b.p = malloc((size_t)n);
	assert_non_null(b.p);
	w = b.p;
	assert_int_equal(i2d_PUBKEY(k, &w), n);
	b.len = (size_t)n;
	return b;
}

/* A certificate carrying ext as its 2.23.133.5.4.9 extension. */
static struct buf cert_with_ext(EVP_PKEY *k, const uint8_t *ext, size_t ext_len)
{
	struct buf b = {NULL, 0};

	assert_int_equal(kg_ratls_make_cert(k, ext, ext_len, NOW, 3600, &b.p, &b.len), KG_OK);
	return b;
}

static void expect_cert_err(EVP_PKEY *k, const uint8_t *ext, size_t ext_len, kg_err want)
{
	struct buf der = cert_with_ext(k, ext, ext_len);
	struct kg_ratls r;

	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), want);
	/* Outputs are cleared on failure. */
	assert_null(r.ext);
	assert_null(r.spki);
	kg_ratls_free(&r);
	buf_free(&der);
}

static void expect_claims_err(const uint8_t *cbor, size_t len, kg_err want)
{
	struct kg_ratls_claims c;

	assert_int_equal(kg_ratls_parse_claims(cbor, len, &c), want);
	if (want == KG_OK)
		return;
	/* Outputs are cleared on failure. */
	assert_int_equal(c.hash_alg, 0);
	assert_int_equal(c.pubkey_hash_len, 0);
	assert_int_equal(c.has_nonce, 0);
	assert_int_equal(c.has_hpke_pk, 0);
}

/*
 * REPORT_DATA of an SGX ECDSA quote v3 (Intel DCAP sgx_quote_3.h): a
 * 48-byte sgx_quote_header_t {u16 version, u16 att_key_type, u32 reserved,
 * u16 qe_svn, u16 pce_svn, u8 qe_vendor_id[16], u8 user_data[20]}, then the
 * 384-byte sgx_report_body_t, in which MRENCLAVE sits at offset 64 and
 * REPORT_DATA (64 bytes) at offset 320.  The offsets are checked against
 * the vectors by the MRENCLAVE values of EXPECTED.md section 8.
 */
static void sgx_quote_v3_fields(const uint8_t *q, size_t len, uint8_t mrenclave[32], uint8_t report_data[64])
{
	struct kg_cur c = kg_cur_init(q, len);
	struct kg_cur body;
	uint16_t version, att_key_type;

	assert_int_equal(kg_cur_u16le(&c, &version), KG_OK);
	assert_int_equal(version, 3);
	assert_int_equal(kg_cur_u16le(&c, &att_key_type), KG_OK);
	assert_int_equal(att_key_type, 2); /* ECDSA-P256 */
	assert_int_equal(kg_cur_skip(&c, 48 - 4), KG_OK);
	assert_int_equal(kg_cur_sub(&c, &body, 384), KG_OK);
	assert_int_equal(kg_cur_skip(&body, 64), KG_OK);
	assert_int_equal(kg_cur_copy(&body, mrenclave, 32), KG_OK);
	assert_int_equal(kg_cur_skip(&body, 320 - 64 - 32), KG_OK);
	assert_int_equal(kg_cur_copy(&body, report_data, 64), KG_OK);
	assert_int_equal(kg_cur_done(&body), KG_OK);
}

/* ---- fixtures --------------------------------------------------------- */

struct fixture {
	EVP_PKEY *p256;
	struct buf spki;
	struct buf claims; /* Keygate claims for p256, nonce "n0nce" */
	struct buf ext;    /* tag 60000 ([ "quote", claims ]) */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	static const uint8_t quote[] = "quote";

	assert_non_null(f);
	f->p256 = new_key("P-256");
	f->spki = spki_of(f->p256);
	assert_int_equal(kg_ratls_encode_claims(f->spki.p, f->spki.len, (const uint8_t *)"n0nce", 5, HPKE_PK,
						&f->claims.p, &f->claims.len),
			 KG_OK);
	assert_int_equal(kg_ratls_encode_evidence(KG_RATLS_TAG_INTEL_QUOTE, quote, sizeof quote - 1, f->claims.p,
						  f->claims.len, &f->ext.p, &f->ext.len),
			 KG_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->p256);
	buf_free(&f->spki);
	buf_free(&f->claims);
	buf_free(&f->ext);
	free(f);
	return 0;
}

/* ---- the three real certificates -------------------------------------- */

struct vector {
	const char *name;
	const char *spki_sha256; /* EXPECTED.md section 8, "SPKI SHA-256" */
	const char *mrenclave;   /* EXPECTED.md section 8, "Embedded quotes" */
	time_t not_before, not_after;
	size_t spki_len;
	int extra_claims; /* rats-tls carries key_0 / key_1 */
};

static const struct vector VECTORS[] = {
	{"gramine", "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851",
	 "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585", 978307200 /* 2001-01-01 */,
	 1924991999 /* 2030-12-31T23:59:59 */, 120 /* P-384 */, 0},
	{"intel-sgxsdk", "f306ed602985371e3b485102db1fcdd4f4738329ce58b2f8d1c5d2cc79752026",
	 "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a", 1617235200 /* 2021-04-01 */,
	 2556143999 /* 2050-12-31T23:59:59 */, 120, 0},
	{"rats-tls", "72c0b70c2092741a4cfda0c2465487faf132998617b0aad53118aa5d6e180006",
	 "38e1b40b8c68186f359c97ecb6a89965d9d8638f2df06fbe18e84d79a266c041",
	 1677082222 /* 2023-02-22T16:10:22 */, 1708621822 /* 2024-02-22T17:10:22 */, 91 /* P-256 */, 1},
};

static void check_vector(const struct vector *v)
{
	char name[128];
	struct buf der, quote, claims;
	struct kg_ratls r;
	struct kg_ratls_claims c;
	uint8_t want_spki_hash[32], h[32], mrenclave[32], want_mrenclave[32], report_data[64];
	static const uint8_t zeros[32];

	snprintf(name, sizeof name, "%s-cert.der", v->name);
	der = read_vector(name);
	snprintf(name, sizeof name, "%s-quote.bin", v->name);
	quote = read_vector(name);
	snprintf(name, sizeof name, "%s-claims-buffer.cbor", v->name);
	claims = read_vector(name);

	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	assert_int_equal(r.tag, KG_RATLS_TAG_INTEL_QUOTE);
	assert_int_equal(r.evidence_len, quote.len);
	assert_memory_equal(r.evidence, quote.p, quote.len);
	assert_int_equal(r.claims_len, claims.len);
	assert_memory_equal(r.claims, claims.p, claims.len);
	/* ext is the whole extension value: tag 60000 (d9 ea60), array(2). */
	assert_true(r.ext_len > 4);
	assert_memory_equal(r.ext, "\xd9\xea\x60\x82", 4);
	sha256(r.ext, r.ext_len, h);
	assert_memory_equal(r.ext_sha256, h, 32);
	assert_int_equal(r.not_before, v->not_before);
	assert_int_equal(r.not_after, v->not_after);

	/* SPKI: its SHA-256 is the value EXPECTED.md records. */
	assert_int_equal(r.spki_len, v->spki_len);
	unhex(want_spki_hash, 32, v->spki_sha256);
	sha256(r.spki, r.spki_len, h);
	assert_memory_equal(h, want_spki_hash, 32);

	/* Claims: pubkey-hash = [1, SHA-256(SPKI)], no nonce, no hpke-pk;
	 * rats-tls's key_0 / key_1 are ignored. */
	assert_int_equal(kg_ratls_parse_claims(r.claims, r.claims_len, &c), KG_OK);
	assert_int_equal(c.hash_alg, 1);
	assert_int_equal(c.pubkey_hash_len, 32);
	assert_memory_equal(c.pubkey_hash, want_spki_hash, 32);
	assert_int_equal(c.has_nonce, 0);
	assert_int_equal(c.has_hpke_pk, 0);
	assert_int_equal(kg_ratls_check_pubkey(&c, r.spki, r.spki_len), KG_OK);
	if (v->extra_claims)
		assert_non_null(memmem(r.claims, r.claims_len, "key_0", 5));

	/* The binding: REPORT_DATA = SHA-256(claims) || 32 zero bytes. */
	sgx_quote_v3_fields(r.evidence, r.evidence_len, mrenclave, report_data);
	unhex(want_mrenclave, 32, v->mrenclave);
	assert_memory_equal(mrenclave, want_mrenclave, 32);
	sha256(r.claims, r.claims_len, h);
	assert_memory_equal(report_data, h, 32);
	assert_memory_equal(report_data + 32, zeros, 32);

	kg_ratls_free(&r);
	buf_free(&der);
	buf_free(&quote);
	buf_free(&claims);
}

static void test_vector_gramine(void **state)
{
	(void)state;
	check_vector(&VECTORS[0]);
}

static void test_vector_intel_sgxsdk(void **state)
{
	(void)state;
	check_vector(&VECTORS[1]);
}

static void test_vector_rats_tls(void **state)
{
	(void)state;
	check_vector(&VECTORS[2]);
}

/* A changed SPKI no longer matches the claims' pubkey-hash. */
static void test_vector_modified_spki(void **state)
{
	struct buf der = read_vector("gramine-cert.der");
	struct kg_ratls r;
	struct kg_ratls_claims c;

	(void)state;
	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	assert_int_equal(kg_ratls_parse_claims(r.claims, r.claims_len, &c), KG_OK);
	r.spki[r.spki_len - 1] ^= 1;
	assert_int_equal(kg_ratls_check_pubkey(&c, r.spki, r.spki_len), KG_ERR_BINDING_PUBKEY);
	kg_ratls_free(&r);
	buf_free(&der);
}

/* ---- certificate-level reasons ----------------------------------------- */

static void test_oversize_cert(void **state)
{
	struct kg_ratls r;
	uint8_t *big = calloc(1, KG_RATLS_CERT_MAX + 1);

	(void)state;
	assert_non_null(big);
	assert_int_equal(kg_ratls_parse_cert(big, KG_RATLS_CERT_MAX + 1, &r), KG_ERR_TOO_LARGE);
	free(big);
}

static void test_bad_der(void **state)
{
	struct fixture *f = *state;
	struct buf der = cert_with_ext(f->p256, f->ext.p, f->ext.len);
	struct kg_ratls r;
	uint8_t *longer;
	static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x01};

	assert_int_equal(kg_ratls_parse_cert(garbage, sizeof garbage, &r), KG_ERR_BAD_CLIENT_CERT);
	assert_int_equal(kg_ratls_parse_cert(der.p, 0, &r), KG_ERR_BAD_CLIENT_CERT);
	assert_int_equal(kg_ratls_parse_cert(der.p, der.len - 1, &r), KG_ERR_BAD_CLIENT_CERT);
	/* A byte after the certificate. */
	longer = malloc(der.len + 1);
	assert_non_null(longer);
	memcpy(longer, der.p, der.len);
	longer[der.len] = 0;
	assert_int_equal(kg_ratls_parse_cert(longer, der.len + 1, &r), KG_ERR_BAD_CLIENT_CERT);
	assert_int_equal(kg_ratls_parse_cert(longer, der.len, &r), KG_OK);
	kg_ratls_free(&r);
	free(longer);
	buf_free(&der);
}

/* Re-signs a made certificate after dup (add a second copy of the
 * evidence extension) or delete (remove it). */
static struct buf edit_cert(EVP_PKEY *k, const struct buf *der, int dup)
{
	const unsigned char *p = der->p;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);
	ASN1_OBJECT *oid = OBJ_txt2obj(KG_RATLS_OID, 1);
	struct buf out = {NULL, 0};
	unsigned char *w;
	int idx, n;

	assert_non_null(x);
	assert_non_null(oid);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	if (dup) {
		assert_int_equal(X509_add_ext(x, X509_get_ext(x, idx), -1), 1);
	} else {
		X509_EXTENSION_free(X509_delete_ext(x, idx));
		assert_true(X509_get_ext_by_OBJ(x, oid, -1) < 0);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	n = i2d_X509(x, NULL);
	assert_true(n > 0);
	out.p = malloc((size_t)n);
	assert_non_null(out.p);
	w = out.p;
	assert_int_equal(i2d_X509(x, &w), n);
	out.len = (size_t)n;
	ASN1_OBJECT_free(oid);
	X509_free(x);
	return out;
}

static void test_no_extension(void **state)
{
	struct fixture *f = *state;
	struct buf der = cert_with_ext(f->p256, f->ext.p, f->ext.len);
	struct buf plain = edit_cert(f->p256, &der, 0);
	struct kg_ratls r;

	assert_int_equal(kg_ratls_parse_cert(plain.p, plain.len, &r), KG_ERR_RATLS_NO_EVIDENCE);
	buf_free(&plain);
	buf_free(&der);
}

static void test_duplicate_extension(void **state)
{
	struct fixture *f = *state;
	struct buf der = cert_with_ext(f->p256, f->ext.p, f->ext.len);
	struct buf twice = edit_cert(f->p256, &der, 1);
	struct kg_ratls r;

	assert_int_equal(kg_ratls_parse_cert(twice.p, twice.len, &r), KG_ERR_RATLS_DUP_EVIDENCE);
	buf_free(&twice);
	buf_free(&der);
}

/* ---- strict DER --------------------------------------------------------- */

/* OpenSSL's view of a certificate the reader accepted: the same key, the
 * same extension value, the same validity. */
static void same_as_openssl(const struct buf *der, const struct kg_ratls *r)
{
	const unsigned char *p = der->p;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);
	ASN1_OBJECT *oid = OBJ_txt2obj(KG_RATLS_OID, 1);
	const ASN1_OCTET_STRING *v;
	unsigned char *spki = NULL;
	int n, idx;
	time_t t;
	struct tm tm;

	assert_non_null(x);
	assert_non_null(oid);
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	assert_true(n > 0);
	assert_int_equal((size_t)n, r->spki_len);
	assert_memory_equal(spki, r->spki, r->spki_len);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
	assert_int_equal((size_t)ASN1_STRING_length(v), r->ext_len);
	assert_memory_equal(ASN1_STRING_get0_data(v), r->ext, r->ext_len);
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
	t = timegm(&tm);
	assert_int_equal(t, r->not_after);
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm), 1);
	t = timegm(&tm);
	assert_int_equal(t, r->not_before);
	OPENSSL_free(spki);
	ASN1_OBJECT_free(oid);
	X509_free(x);
}

/* The offset of the first UTCTime (17 0d) in der: notBefore. */
static size_t utctime_at(const struct buf *der)
{
	for (size_t i = 0; i + 15 <= der->len; i++)
		if (der->p[i] == 0x17 && der->p[i + 1] == 0x0d && der->p[i + 14] == 'Z')
			return i;
	fail_msg("no UTCTime");
	return 0;
}

static void expect_patched(const struct buf *der, size_t off, const char *bytes, kg_err want)
{
	struct buf b = {malloc(der->len), der->len};
	struct kg_ratls r;

	assert_non_null(b.p);
	memcpy(b.p, der->p, der->len);
	memcpy(b.p + off, bytes, strlen(bytes));
	assert_int_equal(kg_ratls_parse_cert(b.p, b.len, &r), want);
	buf_free(&b);
}

static void test_der_strict(void **state)
{
	struct fixture *f = *state;
	struct buf der = cert_with_ext(f->p256, f->ext.p, f->ext.len), b;
	struct kg_ratls r;
	size_t t;

	/* What OpenSSL reads, for Keygate's own certificates and for the
	 * three from other implementations. */
	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	same_as_openssl(&der, &r);
	assert_int_equal(r.not_before, NOW - 3600); /* kg_ratls_make_cert allows for skew */
	assert_int_equal(r.not_after, NOW + 3600);
	kg_ratls_free(&r);
	static const char *const names[] = {"gramine", "intel-sgxsdk", "rats-tls"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s-cert.der", names[i]);
		b = read_vector(name);
		assert_int_equal(kg_ratls_parse_cert(b.p, b.len, &r), KG_OK);
		same_as_openssl(&b, &r);
		kg_ratls_free(&r);
		buf_free(&b);
	}

	/* Lengths: the outer SEQUENCE's two length octets (30 82 hi lo) in a
	 * longer, non-minimal form, and in BER's indefinite form. */
	assert_int_equal(der.p[0], 0x30);
	assert_int_equal(der.p[1], 0x82);
	b.len = der.len + 1;
	assert_non_null(b.p = malloc(b.len));
	b.p[0] = 0x30;
	b.p[1] = 0x83;
	b.p[2] = 0x00;
	memcpy(b.p + 3, der.p + 2, der.len - 2);
	assert_int_equal(kg_ratls_parse_cert(b.p, b.len, &r), KG_ERR_BAD_CLIENT_CERT);
	buf_free(&b);
	b.len = der.len - 4 + 2 + 2;
	assert_non_null(b.p = malloc(b.len));
	b.p[0] = 0x30;
	b.p[1] = 0x80;
	memcpy(b.p + 2, der.p + 4, der.len - 4);
	b.p[b.len - 2] = b.p[b.len - 1] = 0;
	assert_int_equal(kg_ratls_parse_cert(b.p, b.len, &r), KG_ERR_BAD_CLIENT_CERT);
	buf_free(&b);
	/* The outer SEQUENCE as a SET. */
	expect_patched(&der, 0, "\x31", KG_ERR_BAD_CLIENT_CERT);

	/* Times: DER's one form only, real calendar dates. */
	t = utctime_at(&der);
	expect_patched(&der, t + 14, "+", KG_ERR_BAD_CLIENT_CERT);          /* not Z */
	expect_patched(&der, t + 12, "60", KG_ERR_BAD_CLIENT_CERT);         /* second 60 */
	expect_patched(&der, t + 4, "13", KG_ERR_BAD_CLIENT_CERT);          /* month 13 */
	expect_patched(&der, t + 4, "0230", KG_ERR_BAD_CLIENT_CERT);        /* 30 February */
	expect_patched(&der, t + 2, "0229", KG_ERR_BAD_CLIENT_CERT);        /* 29 Feb 20YY, not leap */
	expect_patched(&der, t + 2, "a", KG_ERR_BAD_CLIENT_CERT);           /* not a digit */
	expect_patched(&der, t, "\x18", KG_ERR_BAD_CLIENT_CERT);            /* 13 bytes as GeneralizedTime */
	b = (struct buf){malloc(der.len), der.len};
	assert_non_null(b.p);
	memcpy(b.p, der.p, der.len);
	memcpy(b.p + t + 2, "240229", 6); /* a leap day, in UTCTime's 2000s */
	assert_int_equal(kg_ratls_parse_cert(b.p, b.len, &r), KG_OK);
	same_as_openssl(&b, &r);
	kg_ratls_free(&r);
	memcpy(b.p + t + 2, "991231235959", 12); /* YY >= 50: 1999 */
	assert_int_equal(kg_ratls_parse_cert(b.p, b.len, &r), KG_OK);
	assert_int_equal(r.not_before, 946684799);
	same_as_openssl(&b, &r);
	kg_ratls_free(&r);
	buf_free(&b);
	buf_free(&der);

	/* After 2049, GeneralizedTime (RFC 5280 §4.1.2.5). */
	assert_int_equal(kg_ratls_make_cert(f->p256, f->ext.p, f->ext.len, NOW, 40L * 366 * 86400, &der.p, &der.len),
			 KG_OK);
	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	assert_true(r.not_after > 2524608000); /* 2050-01-01 */
	same_as_openssl(&der, &r);
	kg_ratls_free(&r);
	buf_free(&der);
}

/* ---- envelope CBOR: tag([bstr, bstr]) ---------------------------------- */

static void test_envelope_garbage(void **state)
{
	struct fixture *f = *state;
	static const uint8_t garbage[] = {0xff, 0x00, 0x13, 0x37};
	static const uint8_t reserved[] = {0xdc, 0x00};   /* additional info 28 */
	static const uint8_t truncated[] = {0xd9, 0xea}; /* tag head cut short */

	expect_cert_err(f->p256, garbage, sizeof garbage, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, reserved, sizeof reserved, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, truncated, sizeof truncated, KG_ERR_RATLS_CBOR);
	/* The whole valid envelope but one byte short. */
	expect_cert_err(f->p256, f->ext.p, f->ext.len - 1, KG_ERR_RATLS_CBOR);
}

static void test_envelope_shape(void **state)
{
	struct fixture *f = *state;
	/* [h'01', h'02'] without a tag */
	static const uint8_t untagged[] = {0x82, 0x41, 0x01, 0x41, 0x02};
	/* 60000(60000([h'01', h'02'])): two tags */
	static const uint8_t two_tags[] = {0xd9, 0xea, 0x60, 0xd9, 0xea, 0x60, 0x82, 0x41, 0x01, 0x41, 0x02};
	/* 60000(h'01') */
	static const uint8_t tag_bstr[] = {0xd9, 0xea, 0x60, 0x41, 0x01};
	/* 60000({h'01': h'02'}) */
	static const uint8_t tag_map[] = {0xd9, 0xea, 0x60, 0xa1, 0x41, 0x01, 0x41, 0x02};

	expect_cert_err(f->p256, untagged, sizeof untagged, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, two_tags, sizeof two_tags, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, tag_bstr, sizeof tag_bstr, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, tag_map, sizeof tag_map, KG_ERR_RATLS_CBOR);
}

static void test_envelope_array_len(void **state)
{
	struct fixture *f = *state;
	static const uint8_t three[] = {0xd9, 0xea, 0x60, 0x83, 0x41, 0x01, 0x41, 0x02, 0x41, 0x03};
	static const uint8_t one[] = {0xd9, 0xea, 0x60, 0x81, 0x41, 0x01};
	static const uint8_t empty[] = {0xd9, 0xea, 0x60, 0x80};

	expect_cert_err(f->p256, three, sizeof three, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, one, sizeof one, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, empty, sizeof empty, KG_ERR_RATLS_CBOR);
}

static void test_envelope_non_bstr(void **state)
{
	struct fixture *f = *state;
	/* 60000(["a", h'02']) */
	static const uint8_t text0[] = {0xd9, 0xea, 0x60, 0x82, 0x61, 0x61, 0x41, 0x02};
	/* 60000([h'01', 2]) */
	static const uint8_t uint1[] = {0xd9, 0xea, 0x60, 0x82, 0x41, 0x01, 0x02};
	/* 60000([h'01', [h'02']]) */
	static const uint8_t array1[] = {0xd9, 0xea, 0x60, 0x82, 0x41, 0x01, 0x81, 0x41, 0x02};

	expect_cert_err(f->p256, text0, sizeof text0, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, uint1, sizeof uint1, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, array1, sizeof array1, KG_ERR_RATLS_CBOR);
}

static void test_envelope_trailing(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = malloc(f->ext.len + 1);

	assert_non_null(p);
	memcpy(p, f->ext.p, f->ext.len);
	p[f->ext.len] = 0x00;
	expect_cert_err(f->p256, p, f->ext.len + 1, KG_ERR_RATLS_CBOR);
	free(p);
}

/* Indefinite lengths are refused (the CCC formats are definite-length). */
static void test_envelope_indefinite(void **state)
{
	struct fixture *f = *state;
	/* 60000([(_ h'01'), h'02']) */
	static const uint8_t ind_bstr[] = {0xd9, 0xea, 0x60, 0x82, 0x5f, 0x41, 0x01, 0xff, 0x41, 0x02};
	/* 60000([_ h'01', h'02']) */
	static const uint8_t ind_array[] = {0xd9, 0xea, 0x60, 0x9f, 0x41, 0x01, 0x41, 0x02, 0xff};

	expect_cert_err(f->p256, ind_bstr, sizeof ind_bstr, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, ind_array, sizeof ind_array, KG_ERR_RATLS_CBOR);
}

/* Declared counts that are not backed by bytes, and deep nesting, are
 * refused before libcbor allocates for them. */
static void test_envelope_limits(void **state)
{
	struct fixture *f = *state;
	/* 60000(array of 2^32-1 items): would be a 32 GiB allocation */
	static const uint8_t huge_array[] = {0xd9, 0xea, 0x60, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x41, 0x01};
	/* 60000([h'01', map of 2^63 pairs]) */
	static const uint8_t huge_map[] = {0xd9, 0xea, 0x60, 0x82, 0x41, 0x01, 0xbb, 0x80,
					   0,    0,    0,    0,    0,    0,    0,    0x00};
	/* 60000([h'01', bstr of 2^64-1 bytes]) */
	static const uint8_t huge_bstr[] = {0xd9, 0xea, 0x60, 0x82, 0x41, 0x01, 0x5b, 0xff,
					    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t deep[64];

	expect_cert_err(f->p256, huge_array, sizeof huge_array, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, huge_map, sizeof huge_map, KG_ERR_RATLS_CBOR);
	expect_cert_err(f->p256, huge_bstr, sizeof huge_bstr, KG_ERR_RATLS_CBOR);
	memset(deep, 0x81, sizeof deep); /* [[[[...]]]] */
	deep[sizeof deep - 1] = 0x00;
	expect_cert_err(f->p256, deep, sizeof deep, KG_ERR_RATLS_CBOR);
}

/* Any tag is accepted by the parser: judging it is kg_attest's job. */
static void test_envelope_other_tag(void **state)
{
	struct fixture *f = *state;
	struct buf ext, der;
	struct kg_ratls r;

	assert_int_equal(kg_ratls_encode_evidence(0x1a7599, (const uint8_t *)"x", 1, f->claims.p, f->claims.len,
						  &ext.p, &ext.len),
			 KG_OK);
	der = cert_with_ext(f->p256, ext.p, ext.len);
	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	assert_int_equal(r.tag, 0x1a7599);
	kg_ratls_free(&r);
	buf_free(&der);
	buf_free(&ext);
}

/* ---- claims ------------------------------------------------------------ */

/* A tiny CBOR writer for hand-made claims (shortest heads, RFC 8949 §3). */
struct w {
	uint8_t b[1024];
	size_t n;
};

static void w_raw(struct w *w, const void *p, size_t n)
{
	assert_true(n <= sizeof w->b - w->n);
	if (n)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w_head(struct w *w, uint8_t major, uint64_t v)
{
	uint8_t h[9];
	size_t n = 1;

	if (v < 24) {
		h[0] = (uint8_t)(major << 5 | v);
	} else if (v < 0x100) {
		h[0] = (uint8_t)(major << 5 | 24);
		h[n++] = (uint8_t)v;
	} else {
		assert_true(v < 0x10000);
		h[0] = (uint8_t)(major << 5 | 25);
		h[n++] = (uint8_t)(v >> 8);
		h[n++] = (uint8_t)v;
	}
	w_raw(w, h, n);
}

static void w_text(struct w *w, const char *s)
{
	w_head(w, 3, strlen(s));
	w_raw(w, s, strlen(s));
}

/* A bstr of n bytes of fill. */
static void w_fill(struct w *w, size_t n, uint8_t fill)
{
	uint8_t tmp[512];

	assert_true(n <= sizeof tmp);
	memset(tmp, fill, n);
	w_head(w, 2, n);
	w_raw(w, tmp, n);
}

/* The pubkey-hash value: bstr(CBOR [alg, bstr(hash_len bytes of fill)]). */
static void w_entry(struct w *w, uint64_t alg, size_t hash_len, uint8_t fill)
{
	struct w in = {.n = 0};

	w_head(&in, 4, 2);
	w_head(&in, 0, alg);
	w_fill(&in, hash_len, fill);
	w_head(w, 2, in.n);
	w_raw(w, in.b, in.n);
}

/* {"pubkey-hash": [alg, hash]} */
static struct w claims_hash(uint64_t alg, size_t hash_len)
{
	struct w w = {.n = 0};

	w_head(&w, 5, 1);
	w_text(&w, "pubkey-hash");
	w_entry(&w, alg, hash_len, 0x11);
	return w;
}

/* {"pubkey-hash": [1, h'11'*32], key: h'5a'*vlen} */
static struct w claims_plus(const char *key, size_t vlen)
{
	struct w w = {.n = 0};

	w_head(&w, 5, 2);
	w_text(&w, "pubkey-hash");
	w_entry(&w, 1, 32, 0x11);
	w_text(&w, key);
	w_fill(&w, vlen, 0x5a);
	return w;
}

/* {"pubkey-hash": bstr(inner)} with inner given raw. */
static struct w claims_raw_entry(const uint8_t *inner, size_t n)
{
	struct w w = {.n = 0};

	w_head(&w, 5, 1);
	w_text(&w, "pubkey-hash");
	w_head(&w, 2, n);
	w_raw(&w, inner, n);
	return w;
}

static void test_claims_not_map(void **state)
{
	static const uint8_t array[] = {0x82, 0x01, 0x02};
	static const uint8_t text[] = {0x65, 'n', 'o', 'n', 'c', 'e'};
	/* 24({"pubkey-hash": ...}) - a tagged map is not a map */
	struct w tagged = {.n = 0}, plain = claims_hash(1, 32);

	(void)state;
	expect_claims_err(array, sizeof array, KG_ERR_RATLS_CLAIMS);
	expect_claims_err(text, sizeof text, KG_ERR_RATLS_CLAIMS);
	expect_claims_err(NULL, 0, KG_ERR_RATLS_CLAIMS);
	w_head(&tagged, 6, 24);
	w_raw(&tagged, plain.b, plain.n);
	expect_claims_err(tagged.b, tagged.n, KG_ERR_RATLS_CLAIMS);
	expect_claims_err(plain.b, plain.n, KG_OK);
}

static void test_claims_garbage(void **state)
{
	struct fixture *f = *state;
	static const uint8_t garbage[] = {0xa1, 0xff};
	/* {_ "pubkey-hash": ...}: indefinite-length map */
	struct w ind = claims_hash(1, 32);
	uint8_t *p = malloc(f->claims.len + 1);

	expect_claims_err(garbage, sizeof garbage, KG_ERR_RATLS_CLAIMS);
	ind.b[0] = 0xbf;
	w_raw(&ind, "\xff", 1);
	expect_claims_err(ind.b, ind.n, KG_ERR_RATLS_CLAIMS);
	/* The valid Keygate map, truncated and with a trailing byte. */
	assert_non_null(p);
	memcpy(p, f->claims.p, f->claims.len);
	p[f->claims.len] = 0;
	expect_claims_err(p, f->claims.len, KG_OK);
	expect_claims_err(p, f->claims.len - 1, KG_ERR_RATLS_CLAIMS);
	expect_claims_err(p, f->claims.len + 1, KG_ERR_RATLS_CLAIMS);
	free(p);
}

static void test_claims_too_large(void **state)
{
	uint8_t *p = calloc(1, KG_RATLS_CLAIMS_MAX + 1);

	(void)state;
	assert_non_null(p);
	expect_claims_err(p, KG_RATLS_CLAIMS_MAX + 1, KG_ERR_TOO_LARGE);
	free(p);
}

static void test_claims_hash_alg(void **state)
{
	struct w w;

	(void)state;
	/* alg 2 (sha-256-128 in the IANA registry) is not one of 1/7/8 */
	w = claims_hash(2, 32);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_HASH_ALG);
	w = claims_hash(300, 32);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_HASH_ALG);
	/* wrong hash length for the algorithm */
	w = claims_hash(1, 48);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_hash(7, 32);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_hash(8, 48);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_hash(1, 0);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	/* the three supported ones */
	w = claims_hash(1, 32);
	expect_claims_err(w.b, w.n, KG_OK);
	w = claims_hash(7, 48);
	expect_claims_err(w.b, w.n, KG_OK);
	w = claims_hash(8, 64);
	expect_claims_err(w.b, w.n, KG_OK);
}

static void test_claims_hash_entry_shape(void **state)
{
	struct w w;
	/* [-1, h'00']: negative alg id */
	static const uint8_t neg[] = {0x82, 0x20, 0x41, 0x00};
	/* [1, h'00', 0] */
	static const uint8_t three[] = {0x83, 0x01, 0x41, 0x00, 0x00};
	/* [1, "x"] */
	static const uint8_t text[] = {0x82, 0x01, 0x61, 0x78};
	/* [1, h'00'] followed by a stray byte */
	static const uint8_t trailing[] = {0x82, 0x01, 0x41, 0x00, 0x00};
	/* {1: h'00'} */
	static const uint8_t map[] = {0xa1, 0x01, 0x41, 0x00};
	/* [1, (_ h'00')] */
	static const uint8_t ind[] = {0x82, 0x01, 0x5f, 0x41, 0x00, 0xff};
	/* "pubkey-hash": 1 (not a bstr) */
	static const uint8_t not_bstr[] = {0xa1, 0x6b, 'p', 'u', 'b', 'k', 'e', 'y', '-', 'h', 'a', 's', 'h', 0x01};

	(void)state;
	w = claims_raw_entry(neg, sizeof neg);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_raw_entry(three, sizeof three);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_raw_entry(text, sizeof text);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_raw_entry(trailing, sizeof trailing);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_raw_entry(map, sizeof map);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_raw_entry(ind, sizeof ind);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_raw_entry(neg, 0);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	expect_claims_err(not_bstr, sizeof not_bstr, KG_ERR_RATLS_CLAIMS);
}

static void test_claims_hpke_pk(void **state)
{
	struct w w;
	struct kg_ratls_claims c;

	(void)state;
	w = claims_plus("hpke-pk", 31);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_plus("hpke-pk", 33);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_plus("hpke-pk", 32);
	assert_int_equal(kg_ratls_parse_claims(w.b, w.n, &c), KG_OK);
	assert_int_equal(c.has_hpke_pk, 1);
	assert_int_equal(c.hpke_pk[0], 0x5a);
	assert_int_equal(c.hpke_pk[31], 0x5a);
}

static void test_claims_nonce(void **state)
{
	struct w w;
	struct kg_ratls_claims c;

	(void)state;
	w = claims_plus("nonce", KG_RATLS_NONCE_MAX + 1);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	w = claims_plus("nonce", KG_RATLS_NONCE_MAX);
	assert_int_equal(kg_ratls_parse_claims(w.b, w.n, &c), KG_OK);
	assert_int_equal(c.has_nonce, 1);
	assert_int_equal(c.nonce_len, KG_RATLS_NONCE_MAX);
	/* An empty nonce is a present nonce. */
	w = claims_plus("nonce", 0);
	assert_int_equal(kg_ratls_parse_claims(w.b, w.n, &c), KG_OK);
	assert_int_equal(c.has_nonce, 1);
	assert_int_equal(c.nonce_len, 0);
	/* A nonce that is not a bstr. */
	w = claims_hash(1, 32);
	w.b[0] = 0xa2;
	w_text(&w, "nonce");
	w_text(&w, "abc");
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
}

/* A known claim twice is an error, even with equal values. */
static void test_claims_duplicates(void **state)
{
	static const char *const keys[] = {"pubkey-hash", "nonce", "hpke-pk"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct w w = {.n = 0};

		w_head(&w, 5, i == 0 ? 2 : 3);
		w_text(&w, "pubkey-hash");
		w_entry(&w, 1, 32, 0x11);
		if (i == 0) {
			w_text(&w, "pubkey-hash");
			w_entry(&w, 1, 32, 0x11);
		} else {
			w_text(&w, keys[i]);
			w_fill(&w, 32, 0x22);
			w_text(&w, keys[i]);
			w_fill(&w, 32, 0x22);
		}
		expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	}
}

static void test_claims_keys(void **state)
{
	struct w w;
	struct kg_ratls_claims c;

	(void)state;
	/* pubkey-hash is required */
	w = (struct w){.n = 0};
	w_head(&w, 5, 1);
	w_text(&w, "nonce");
	w_fill(&w, 4, 0);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	expect_claims_err((const uint8_t *)"\xa0", 1, KG_ERR_RATLS_CLAIMS);

	/* claim names are text: {"pubkey-hash": ..., 1: h'00'} */
	w = claims_hash(1, 32);
	w.b[0] = 0xa2;
	w_head(&w, 0, 1);
	w_fill(&w, 1, 0);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
	/* ... and a byte-string key "nonce" is not the claim "nonce" */
	w = claims_hash(1, 32);
	w.b[0] = 0xa2;
	w_head(&w, 2, 5);
	w_raw(&w, "nonce", 5);
	w_fill(&w, 1, 0);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);

	/* near-miss names are unknown claims, ignored */
	w = claims_plus("Nonce", 3);
	assert_int_equal(kg_ratls_parse_claims(w.b, w.n, &c), KG_OK);
	assert_int_equal(c.has_nonce, 0);
	w = claims_plus("hpke-pk2", 3);
	assert_int_equal(kg_ratls_parse_claims(w.b, w.n, &c), KG_OK);
	assert_int_equal(c.has_hpke_pk, 0);
}

/* Unknown claims of any kind are skipped, as the CCC convention says;
 * deep nesting inside them is still refused. */
static void test_claims_unknown_ignored(void **state)
{
	struct w w;
	struct kg_ratls_claims c;
	/* {1: [1.5 (half float), -2, "t", 24(h'00'), true, null]} */
	static const uint8_t value[] = {0xa1, 0x01, 0x86, 0xf9, 0x3e, 0x00, 0x21, 0x61,
					't',  0xd8, 0x18, 0x41, 0x00, 0xf5, 0xf6};
	uint8_t deep[40];

	(void)state;
	w = claims_hash(1, 32);
	w.b[0] = 0xa2;
	w_text(&w, "zz");
	w_raw(&w, value, sizeof value);
	assert_int_equal(kg_ratls_parse_claims(w.b, w.n, &c), KG_OK);
	assert_int_equal(c.hash_alg, 1);
	assert_int_equal(c.pubkey_hash_len, 32);
	assert_int_equal(c.pubkey_hash[0], 0x11);

	memset(deep, 0x81, sizeof deep);
	deep[sizeof deep - 1] = 0x00;
	w = claims_hash(1, 32);
	w.b[0] = 0xa2;
	w_text(&w, "deep");
	w_raw(&w, deep, sizeof deep);
	expect_claims_err(w.b, w.n, KG_ERR_RATLS_CLAIMS);
}

static void test_check_pubkey(void **state)
{
	struct fixture *f = *state;
	struct kg_ratls_claims c;
	unsigned int n = 0;

	memset(&c, 0, sizeof c);
	/* SHA-384 and SHA-512 entries verify too. */
	c.hash_alg = 7;
	assert_int_equal(EVP_Digest(f->spki.p, f->spki.len, c.pubkey_hash, &n, EVP_sha384(), NULL), 1);
	c.pubkey_hash_len = n;
	assert_int_equal(kg_ratls_check_pubkey(&c, f->spki.p, f->spki.len), KG_OK);
	c.hash_alg = 8;
	assert_int_equal(kg_ratls_check_pubkey(&c, f->spki.p, f->spki.len), KG_ERR_BINDING_PUBKEY);
	assert_int_equal(EVP_Digest(f->spki.p, f->spki.len, c.pubkey_hash, &n, EVP_sha512(), NULL), 1);
	c.pubkey_hash_len = n;
	assert_int_equal(kg_ratls_check_pubkey(&c, f->spki.p, f->spki.len), KG_OK);
	c.pubkey_hash[63] ^= 1;
	assert_int_equal(kg_ratls_check_pubkey(&c, f->spki.p, f->spki.len), KG_ERR_BINDING_PUBKEY);
	c.hash_alg = 2;
	assert_int_equal(kg_ratls_check_pubkey(&c, f->spki.p, f->spki.len), KG_ERR_RATLS_HASH_ALG);
	/* Zeroed claims (e.g. after a failed parse) never bind. */
	memset(&c, 0, sizeof c);
	assert_int_equal(kg_ratls_check_pubkey(&c, f->spki.p, f->spki.len), KG_ERR_RATLS_HASH_ALG);
}

/* A certificate whose claims commit to another key. */
static void test_binding_other_key(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = new_key("P-256");
	struct buf der = cert_with_ext(other, f->ext.p, f->ext.len);
	struct kg_ratls r;
	struct kg_ratls_claims c;

	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	assert_int_equal(kg_ratls_parse_claims(r.claims, r.claims_len, &c), KG_OK);
	assert_int_equal(kg_ratls_check_pubkey(&c, r.spki, r.spki_len), KG_ERR_BINDING_PUBKEY);
	kg_ratls_free(&r);
	buf_free(&der);
	EVP_PKEY_free(other);
}

/* ---- encoders ---------------------------------------------------------- */

/* The exact canonical bytes: definite lengths, shortest heads, keys in
 * RFC 8949 §4.2.1 order (nonce, hpke-pk, pubkey-hash). */
static void test_encode_claims_canonical(void **state)
{
	struct fixture *f = *state;
	uint8_t want[128], h[32];
	size_t n = 0;
	struct buf got;

	sha256(f->spki.p, f->spki.len, h);
	want[n++] = 0xa3;
	memcpy(want + n, "\x65nonce\x45n0nce", 12);
	n += 12;
	memcpy(want + n, "\x67hpke-pk\x58\x20", 10);
	n += 10;
	memcpy(want + n, HPKE_PK, 32);
	n += 32;
	memcpy(want + n, "\x6bpubkey-hash\x58\x24\x82\x01\x58\x20", 18);
	n += 18;
	memcpy(want + n, h, 32);
	n += 32;
	assert_int_equal(f->claims.len, n);
	assert_memory_equal(f->claims.p, want, n);

	/* Without a nonce: a two-entry map. */
	assert_int_equal(kg_ratls_encode_claims(f->spki.p, f->spki.len, NULL, 0, HPKE_PK, &got.p, &got.len), KG_OK);
	assert_int_equal(got.len, n - 12);
	assert_int_equal(got.p[0], 0xa2);
	assert_memory_equal(got.p + 1, want + 13, n - 13);
	buf_free(&got);

	/* The evidence envelope: d9 ea60 82 45 "quote" 58 <len> claims. */
	assert_int_equal(f->ext.len, 4 + 6 + 2 + n);
	assert_memory_equal(f->ext.p, "\xd9\xea\x60\x82\x45quote\x58", 11);
	assert_int_equal(f->ext.p[11], n);
	assert_memory_equal(f->ext.p + 12, want, n);
}

static void test_encode_args(void **state)
{
	struct fixture *f = *state;
	static uint8_t big_nonce[KG_RATLS_NONCE_MAX + 1];
	struct buf got = {NULL, 0};
	uint8_t *big = calloc(1, KG_RATLS_CERT_MAX + 1);

	assert_non_null(big);
	assert_int_equal(kg_ratls_encode_claims(f->spki.p, f->spki.len, big_nonce, sizeof big_nonce, HPKE_PK, &got.p,
						&got.len),
			 KG_ERR_INVALID_ARG);
	assert_null(got.p);
	assert_int_equal(kg_ratls_encode_claims(NULL, 0, NULL, 0, HPKE_PK, &got.p, &got.len), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_ratls_encode_evidence(1, big, KG_RATLS_CERT_MAX + 1, f->claims.p, f->claims.len, &got.p,
						  &got.len),
			 KG_ERR_TOO_LARGE);
	assert_int_equal(kg_ratls_encode_evidence(1, f->claims.p, f->claims.len, big, KG_RATLS_CLAIMS_MAX + 1,
						  &got.p, &got.len),
			 KG_ERR_TOO_LARGE);
	/* An extension too big for a certificate Keygate would accept. */
	assert_int_equal(kg_ratls_make_cert(f->p256, big, KG_RATLS_CERT_MAX, NOW, 60, &got.p, &got.len),
			 KG_ERR_TOO_LARGE);
	assert_null(got.p);
	assert_int_equal(kg_ratls_make_cert(f->p256, f->ext.p, f->ext.len, NOW, 0, &got.p, &got.len),
			 KG_ERR_INVALID_ARG);
	free(big);
}

/* Only P-256 and P-384 keys make certificates. */
static void test_make_cert_key_types(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *p521 = new_key("P-521");
	struct buf got = {NULL, 0};

	assert_non_null(ed);
	assert_int_equal(kg_ratls_make_cert(ed, f->ext.p, f->ext.len, NOW, 60, &got.p, &got.len),
			 KG_ERR_INVALID_ARG);
	assert_int_equal(kg_ratls_make_cert(p521, f->ext.p, f->ext.len, NOW, 60, &got.p, &got.len),
			 KG_ERR_INVALID_ARG);
	assert_null(got.p);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(p521);
}

/* ---- round trips ------------------------------------------------------- */

static void round_trip(const char *curve, int sig_nid, uint64_t tag)
{
	EVP_PKEY *k = new_key(curve);
	struct buf spki = spki_of(k), claims, ext, der;
	struct kg_ratls r;
	struct kg_ratls_claims c;
	uint8_t quote[432], h[32];
	static const uint8_t nonce[16] = "0123456789abcdef";
	const unsigned char *p;
	X509 *x;
	X509_EXTENSION *e;
	ASN1_OBJECT *oid;
	char cn[64];
	int idx;

	/* claims, then a made-up quote whose REPORT_DATA commits to them */
	assert_int_equal(
		kg_ratls_encode_claims(spki.p, spki.len, nonce, sizeof nonce, HPKE_PK, &claims.p, &claims.len),
		KG_OK);
	memset(quote, 0, sizeof quote);
	quote[0] = 3;
	quote[2] = 2;
	sha256(claims.p, claims.len, h);
	memcpy(quote + 48 + 320, h, 32);
	assert_int_equal(
		kg_ratls_encode_evidence(tag, quote, sizeof quote, claims.p, claims.len, &ext.p, &ext.len),
		KG_OK);
	assert_int_equal(kg_ratls_make_cert(k, ext.p, ext.len, NOW, 86400, &der.p, &der.len), KG_OK);

	/* Every field back. */
	assert_int_equal(kg_ratls_parse_cert(der.p, der.len, &r), KG_OK);
	assert_int_equal(r.tag, tag);
	assert_int_equal(r.evidence_len, sizeof quote);
	assert_memory_equal(r.evidence, quote, sizeof quote);
	assert_int_equal(r.claims_len, claims.len);
	assert_memory_equal(r.claims, claims.p, claims.len);
	assert_int_equal(r.ext_len, ext.len);
	assert_memory_equal(r.ext, ext.p, ext.len);
	sha256(ext.p, ext.len, h);
	assert_memory_equal(r.ext_sha256, h, 32);
	assert_int_equal(r.spki_len, spki.len);
	assert_memory_equal(r.spki, spki.p, spki.len);
	assert_int_equal(r.not_before, NOW - 3600);
	assert_int_equal(r.not_after, NOW + 86400);

	assert_int_equal(kg_ratls_parse_claims(r.claims, r.claims_len, &c), KG_OK);
	assert_int_equal(c.hash_alg, 1);
	assert_int_equal(c.pubkey_hash_len, 32);
	sha256(spki.p, spki.len, h);
	assert_memory_equal(c.pubkey_hash, h, 32);
	assert_int_equal(c.has_nonce, 1);
	assert_int_equal(c.nonce_len, sizeof nonce);
	assert_memory_equal(c.nonce, nonce, sizeof nonce);
	assert_int_equal(c.has_hpke_pk, 1);
	assert_memory_equal(c.hpke_pk, HPKE_PK, 32);
	assert_int_equal(kg_ratls_check_pubkey(&c, r.spki, r.spki_len), KG_OK);

	/* The certificate itself, read with OpenSSL: self-signed with the
	 * matching digest, CN keygate-cvm, v3, positive serial, extension
	 * present once and not critical. */
	p = der.p;
	x = d2i_X509(NULL, &p, (long)der.len);
	assert_non_null(x);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_verify(x, k), 1);
	assert_int_equal(X509_get_signature_nid(x), sig_nid);
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn), 11);
	assert_string_equal(cn, "keygate-cvm");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(x)), 16);
	assert_int_equal(ASN1_STRING_type(X509_get0_serialNumber(x)), V_ASN1_INTEGER); /* not negative */
	oid = OBJ_txt2obj(KG_RATLS_OID, 0);
	assert_non_null(oid);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	assert_true(X509_get_ext_by_OBJ(x, oid, idx) < 0);
	e = X509_get_ext(x, idx);
	assert_int_equal(X509_EXTENSION_get_critical(e), 0);
	ASN1_OBJECT_free(oid);
	X509_free(x);

	kg_ratls_free(&r);
	buf_free(&der);
	buf_free(&ext);
	buf_free(&claims);
	buf_free(&spki);
	EVP_PKEY_free(k);
}

static void test_round_trip_p256(void **state)
{
	(void)state;
	round_trip("P-256", NID_ecdsa_with_SHA256, KG_RATLS_TAG_INTEL_QUOTE);
}

static void test_round_trip_p384(void **state)
{
	(void)state;
	round_trip("P-384", NID_ecdsa_with_SHA384, KG_RATLS_TAG_SNP);
}

/* Two made certificates get different serials. */
static void test_make_cert_serials(void **state)
{
	struct fixture *f = *state;
	struct buf a = cert_with_ext(f->p256, f->ext.p, f->ext.len);
	struct buf b = cert_with_ext(f->p256, f->ext.p, f->ext.len);
	const unsigned char *pa = a.p, *pb = b.p;
	X509 *xa = d2i_X509(NULL, &pa, (long)a.len), *xb = d2i_X509(NULL, &pb, (long)b.len);

	assert_non_null(xa);
	assert_non_null(xb);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa), X509_get0_serialNumber(xb)), 0);
	X509_free(xa);
	X509_free(xb);
	buf_free(&a);
	buf_free(&b);
}

static void test_free_null(void **state)
{
	struct kg_ratls r;

	(void)state;
	kg_ratls_free(NULL);
	memset(&r, 0, sizeof r);
	kg_ratls_free(&r);
	kg_ratls_free(&r);
	assert_int_equal(kg_ratls_parse_cert(NULL, 0, &r), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_ratls_parse_cert(NULL, 0, NULL), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_ratls_parse_claims(NULL, 0, NULL), KG_ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_gramine),
		cmocka_unit_test(test_vector_intel_sgxsdk),
		cmocka_unit_test(test_vector_rats_tls),
		cmocka_unit_test(test_vector_modified_spki),
		cmocka_unit_test(test_oversize_cert),
		cmocka_unit_test(test_bad_der),
		cmocka_unit_test(test_no_extension),
		cmocka_unit_test(test_duplicate_extension),
		cmocka_unit_test(test_der_strict),
		cmocka_unit_test(test_envelope_garbage),
		cmocka_unit_test(test_envelope_shape),
		cmocka_unit_test(test_envelope_array_len),
		cmocka_unit_test(test_envelope_non_bstr),
		cmocka_unit_test(test_envelope_trailing),
		cmocka_unit_test(test_envelope_indefinite),
		cmocka_unit_test(test_envelope_limits),
		cmocka_unit_test(test_envelope_other_tag),
		cmocka_unit_test(test_claims_not_map),
		cmocka_unit_test(test_claims_garbage),
		cmocka_unit_test(test_claims_too_large),
		cmocka_unit_test(test_claims_hash_alg),
		cmocka_unit_test(test_claims_hash_entry_shape),
		cmocka_unit_test(test_claims_hpke_pk),
		cmocka_unit_test(test_claims_nonce),
		cmocka_unit_test(test_claims_duplicates),
		cmocka_unit_test(test_claims_keys),
		cmocka_unit_test(test_claims_unknown_ignored),
		cmocka_unit_test(test_check_pubkey),
		cmocka_unit_test(test_binding_other_key),
		cmocka_unit_test(test_encode_claims_canonical),
		cmocka_unit_test(test_encode_args),
		cmocka_unit_test(test_make_cert_key_types),
		cmocka_unit_test(test_round_trip_p256),
		cmocka_unit_test(test_round_trip_p384),
		cmocka_unit_test(test_make_cert_serials),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
