/*
 * kg_p384_verify (attest/p384.c) against OpenSSL: signatures OpenSSL
 * makes verify, and for every mutation of key, message or signature the
 * two libraries agree; r and s at and past the group order are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "../../attest/p384.h"

#define BAD KG_ERR_SNP_SIGNATURE

/* secp384r1's group order n, big-endian (SEC 2 §2.5.1). */
static const uint8_t order[KG_P384_SIZE] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
	0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73};

struct signed_msg {
	EVP_PKEY *pk;
	struct kg_p384_key key;
	uint8_t msg[672];
	uint8_t r[KG_P384_SIZE], s[KG_P384_SIZE];
};

static void sign(struct signed_msg *m)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[128];
	const unsigned char *p = der;
	size_t der_len = sizeof der;
	ECDSA_SIG *sig;

	assert_non_null(md);
	assert_int_equal(RAND_bytes(m->msg, sizeof m->msg), 1);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, m->pk), 1);
	assert_int_equal(EVP_DigestSign(md, der, &der_len, m->msg, sizeof m->msg), 1);
	assert_non_null(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len));
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), m->r, KG_P384_SIZE), KG_P384_SIZE);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), m->s, KG_P384_SIZE), KG_P384_SIZE);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
}

static void new_signed(struct signed_msg *m, const char *curve)
{
	memset(m, 0, sizeof *m);
	assert_non_null(m->pk = EVP_EC_gen(curve));
	if (strcmp(curve, "P-384") == 0) {
		assert_int_equal(kg_p384_key_from_evp(m->pk, &m->key, BAD), KG_OK);
		sign(m);
	}
}

/* OpenSSL's verdict on (r, s) for msg under pk. */
static int openssl_ok(EVP_PKEY *pk, const uint8_t *msg, size_t len, const uint8_t *r, const uint8_t *s)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int n, ok;

	assert_non_null(sig);
	assert_non_null(md);
	assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(r, KG_P384_SIZE, NULL), BN_bin2bn(s, KG_P384_SIZE, NULL)), 1);
	assert_true((n = i2d_ECDSA_SIG(sig, &der)) > 0);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pk), 1);
	ok = EVP_DigestVerify(md, der, (size_t)n, msg, len) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok;
}

static void test_verifies(void **state)
{
	struct signed_msg m;

	(void)state;
	for (int i = 0; i < 20; i++) {
		new_signed(&m, "P-384");
		assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, m.r, m.s, BAD), KG_OK);
		assert_true(openssl_ok(m.pk, m.msg, sizeof m.msg, m.r, m.s));
		EVP_PKEY_free(m.pk);
	}
}

/* Every single-bit flip of message, r, s and the key's x: refused by
 * both libraries alike. */
static void test_flips_agree(void **state)
{
	struct signed_msg m;
	struct kg_p384_key k;

	(void)state;
	new_signed(&m, "P-384");
	for (size_t bit = 0; bit < 8 * 64; bit++) {
		m.msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, m.r, m.s, BAD), BAD);
		assert_false(openssl_ok(m.pk, m.msg, sizeof m.msg, m.r, m.s));
		m.msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * KG_P384_SIZE; bit++) {
		uint8_t *v = bit % 2 ? m.r : m.s;
		v[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, m.r, m.s, BAD), BAD);
		v[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		k = m.key;
		k.x[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(kg_p384_verify(&k, m.msg, sizeof m.msg, m.r, m.s, BAD), BAD);
	}
	assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, m.r, m.s, BAD), KG_OK);
	assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg - 1, m.r, m.s, BAD), BAD);
	EVP_PKEY_free(m.pk);
}

/* r and s must lie in [1, n-1]: 0, n and (the same residue as) r + n are
 * refused. */
static void test_range(void **state)
{
	struct signed_msg m;
	static const uint8_t zero[KG_P384_SIZE];
	uint8_t big[KG_P384_SIZE];
	BIGNUM *r, *n;

	(void)state;
	new_signed(&m, "P-384");
	assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, zero, m.s, BAD), BAD);
	assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, m.r, zero, BAD), BAD);
	assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, order, m.s, BAD), BAD);
	assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, m.r, order, BAD), BAD);
	/* r + n, when it still fits in 48 bytes. */
	assert_non_null(r = BN_bin2bn(m.r, KG_P384_SIZE, NULL));
	assert_non_null(n = BN_bin2bn(order, KG_P384_SIZE, NULL));
	assert_int_equal(BN_add(r, r, n), 1);
	if (BN_num_bytes(r) <= KG_P384_SIZE) {
		assert_int_equal(BN_bn2binpad(r, big, KG_P384_SIZE), KG_P384_SIZE);
		assert_int_equal(kg_p384_verify(&m.key, m.msg, sizeof m.msg, big, m.s, BAD), BAD);
	}
	BN_free(r);
	BN_free(n);
	EVP_PKEY_free(m.pk);
}

static void test_key_kinds(void **state)
{
	struct signed_msg m;
	struct kg_p384_key k;
	EVP_PKEY *ed;

	(void)state;
	new_signed(&m, "P-256");
	assert_int_equal(kg_p384_key_from_evp(m.pk, &k, BAD), BAD);
	EVP_PKEY_free(m.pk);
	assert_non_null(ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_int_equal(kg_p384_key_from_evp(ed, &k, BAD), BAD);
	assert_int_equal(kg_p384_key_from_evp(NULL, &k, BAD), BAD);
	EVP_PKEY_free(ed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifies),
		cmocka_unit_test(test_flips_agree),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_key_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
