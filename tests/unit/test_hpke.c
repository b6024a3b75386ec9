/*
 * Unit tests for keys/hpke.c.
 *
 * Known answers: every RFC 9180 Appendix A vector set in
 * $KG_VECTORS/hpke/test-vectors.json with mode_base (0), kem_id 0x0020,
 * kdf_id 0x0001 and an AEAD that keys/hpke.c supports is checked in full:
 * DeriveKeyPair, SetupBaseS with the vector's skE, the key schedule's
 * outputs, every encryption (seal to the exact ct, open back) and every
 * export.  The sets are counted, never assumed.  Then the negative cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "../../common/util.h"
#include "../../keys/hpke.h"

#define VECTORS_MAX (16u << 20) /* the JSON is 5.9 MB */

static const uint16_t aeads[] = {KG_HPKE_AEAD_AES_128_GCM, KG_HPKE_AEAD_AES_256_GCM,
				 KG_HPKE_AEAD_CHACHA20_POLY1305};

/* ---- helpers ------------------------------------------------------------ */

/* Decodes a hex string of any even length into a malloc'd buffer (at least
 * one byte, so that an empty value is a valid pointer with *len = 0). */
static uint8_t *unhex_dup(const char *hex, size_t *len)
{
	size_t n;
	uint8_t *b;

	assert_non_null(hex);
	n = strlen(hex);
	assert_int_equal(n % 2, 0);
	n /= 2;
	b = malloc(n ? n : 1);
	assert_non_null(b);
	if (n)
		assert_int_equal(kg_unhex(b, n, hex), KG_OK);
	*len = n;
	return b;
}

static const char *str_field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	assert_non_null(s);
	return s;
}

/* Decodes field key of o into a fresh buffer. */
static uint8_t *hex_field(json_t *o, const char *key, size_t *len) { return unhex_dup(str_field(o, key), len); }

/* Decodes field key of o, which must be exactly n bytes, into out. */
static void hex_fixed(json_t *o, const char *key, uint8_t *out, size_t n)
{
	assert_int_equal(kg_unhex(out, n, str_field(o, key)), KG_OK);
}

static long int_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return (long)json_integer_value(v);
}

static size_t aead_nk(uint16_t aead) { return aead == KG_HPKE_AEAD_AES_128_GCM ? 16 : 32; }

/* ---- known answers ------------------------------------------------------ */

static int load_vectors(void **state)
{
	const char *dir = getenv("KG_VECTORS");
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *root;

	if (sodium_init() < 0)
		return -1;
	if (!dir) {
		fprintf(stderr, "KG_VECTORS is not set\n");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/hpke/test-vectors.json", dir) >= sizeof path)
		return -1;
	if (kg_file_read(path, VECTORS_MAX, &buf, &len) != KG_OK) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	root = json_loadb((const char *)buf, len, 0, &jerr);
	free(buf);
	if (!json_is_array(root)) {
		fprintf(stderr, "%s: %s (line %d)\n", path, jerr.text, jerr.line);
		json_decref(root);
		return -1;
	}
	*state = root;
	return 0;
}

static int free_vectors(void **state)
{
	json_decref(*state);
	return 0;
}

struct counts {
	unsigned sets, encryptions, exports;
};

/* Checks one vector set end to end. */
static void check_set(json_t *v, uint16_t aead, struct counts *n)
{
	uint8_t skE[KG_HPKE_NSK], pkE[KG_HPKE_NPK], skR[KG_HPKE_NSK], pkR[KG_HPKE_NPK];
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], enc[KG_HPKE_NENC], want_enc[KG_HPKE_NENC];
	uint8_t key[32], base_nonce[KG_HPKE_NN], exporter_secret[32];
	struct kg_hpke_ctx s, r;
	size_t info_len, ikm_len, i;
	uint8_t *info, *ikm;
	json_t *list, *e;

	info = hex_field(v, "info", &info_len);
	hex_fixed(v, "skEm", skE, sizeof skE);
	hex_fixed(v, "pkEm", pkE, sizeof pkE);
	hex_fixed(v, "skRm", skR, sizeof skR);
	hex_fixed(v, "pkRm", pkR, sizeof pkR);
	hex_fixed(v, "enc", want_enc, sizeof want_enc);
	hex_fixed(v, "key", key, aead_nk(aead));
	hex_fixed(v, "base_nonce", base_nonce, sizeof base_nonce);
	hex_fixed(v, "exporter_secret", exporter_secret, sizeof exporter_secret);

	/* DeriveKeyPair (§7.1.3) for both key pairs. */
	ikm = hex_field(v, "ikmE", &ikm_len);
	assert_int_equal(kg_hpke_derive_keypair(ikm, ikm_len, sk, pk), KG_OK);
	assert_memory_equal(sk, skE, sizeof sk);
	assert_memory_equal(pk, pkE, sizeof pk);
	free(ikm);
	ikm = hex_field(v, "ikmR", &ikm_len);
	assert_int_equal(kg_hpke_derive_keypair(ikm, ikm_len, sk, pk), KG_OK);
	assert_memory_equal(sk, skR, sizeof sk);
	assert_memory_equal(pk, pkR, sizeof pk);
	free(ikm);

	/* SetupBaseS with the vector's skE reproduces enc; both sides reach
	 * the vector's key schedule outputs. */
	assert_int_equal(kg_hpke_setup_s(&s, aead, pkR, info, info_len, skE, enc), KG_OK);
	assert_memory_equal(enc, want_enc, sizeof enc);
	assert_int_equal(kg_hpke_setup_r(&r, aead, skR, enc, info, info_len), KG_OK);
	assert_int_equal(s.aead, aead);
	assert_int_equal(r.aead, aead);
	assert_memory_equal(s.key, key, aead_nk(aead));
	assert_memory_equal(r.key, key, aead_nk(aead));
	assert_memory_equal(s.base_nonce, base_nonce, sizeof base_nonce);
	assert_memory_equal(r.base_nonce, base_nonce, sizeof base_nonce);
	assert_memory_equal(s.exporter_secret, exporter_secret, sizeof exporter_secret);
	assert_memory_equal(r.exporter_secret, exporter_secret, sizeof exporter_secret);
	assert_true(s.seq == 0 && r.seq == 0);

	/* Encryptions are listed in sequence-number order (§A). */
	list = json_object_get(v, "encryptions");
	assert_true(json_is_array(list));
	json_array_foreach(list, i, e) {
		size_t aad_len, pt_len, ct_len;
		uint8_t *aad = hex_field(e, "aad", &aad_len);
		uint8_t *pt = hex_field(e, "pt", &pt_len);
		uint8_t *ct = hex_field(e, "ct", &ct_len);
		uint8_t *got = malloc(ct_len + 1);

		assert_non_null(got);
		assert_int_equal(ct_len, pt_len + KG_HPKE_NT);
		assert_int_equal(kg_hpke_seal(&s, aad, aad_len, pt, pt_len, got), KG_OK);
		assert_memory_equal(got, ct, ct_len);
		assert_int_equal(kg_hpke_open(&r, aad, aad_len, ct, ct_len, got), KG_OK);
		assert_memory_equal(got, pt, pt_len);
		assert_true(s.seq == i + 1 && r.seq == i + 1);
		n->encryptions++;
		free(got);
		free(ct);
		free(pt);
		free(aad);
	}

	list = json_object_get(v, "exports");
	assert_true(json_is_array(list));
	json_array_foreach(list, i, e) {
		size_t ctx_len, want_len;
		uint8_t *ectx = hex_field(e, "exporter_context", &ctx_len);
		uint8_t *want = hex_field(e, "exported_value", &want_len);
		uint8_t *got = malloc(want_len + 1);

		assert_non_null(got);
		assert_int_equal((size_t)int_field(e, "L"), want_len);
		assert_int_equal(kg_hpke_export(&s, ectx, ctx_len, got, want_len), KG_OK);
		assert_memory_equal(got, want, want_len);
		assert_int_equal(kg_hpke_export(&r, ectx, ctx_len, got, want_len), KG_OK);
		assert_memory_equal(got, want, want_len);
		n->exports++;
		free(got);
		free(want);
		free(ectx);
	}

	kg_hpke_ctx_wipe(&s);
	kg_hpke_ctx_wipe(&r);
	free(info);
	n->sets++;
}

static void check_suite(json_t *root, uint16_t aead)
{
	struct counts n = {0, 0, 0};
	size_t i;
	json_t *v;

	json_array_foreach(root, i, v) {
		if (int_field(v, "mode") != 0 || int_field(v, "kem_id") != KG_HPKE_KEM_X25519_SHA256 ||
		    int_field(v, "kdf_id") != KG_HPKE_KDF_HKDF_SHA256 || int_field(v, "aead_id") != aead)
			continue;
		check_set(v, aead, &n);
	}
	print_message("aead 0x%04x: %u vector sets, %u encryptions, %u exports checked\n", aead, n.sets,
		      n.encryptions, n.exports);
	assert_true(n.sets > 0);
	assert_true(n.encryptions > 0);
	assert_true(n.exports > 0);
}

static void vectors_aes128gcm(void **state) { check_suite(*state, KG_HPKE_AEAD_AES_128_GCM); }
static void vectors_aes256gcm(void **state) { check_suite(*state, KG_HPKE_AEAD_AES_256_GCM); }
static void vectors_chacha20poly1305(void **state) { check_suite(*state, KG_HPKE_AEAD_CHACHA20_POLY1305); }

/* The unsupported suites in the file (export-only 0xFFFF, other KDFs) are
 * refused with KG_ERR_HPKE_SUITE when their AEAD is not one of ours. */
static void vectors_unsupported_aead(void **state)
{
	unsigned refused = 0;
	size_t i;
	json_t *v;

	json_array_foreach((json_t *)*state, i, v) {
		uint8_t pkR[KG_HPKE_NPK], skR[KG_HPKE_NSK], enc[KG_HPKE_NENC];
		uint16_t aead = (uint16_t)int_field(v, "aead_id");
		struct kg_hpke_ctx c;

		if (int_field(v, "mode") != 0 || int_field(v, "kem_id") != KG_HPKE_KEM_X25519_SHA256 ||
		    kg_hpke_aead_supported(aead))
			continue;
		hex_fixed(v, "pkRm", pkR, sizeof pkR);
		hex_fixed(v, "skRm", skR, sizeof skR);
		hex_fixed(v, "enc", enc, sizeof enc);
		assert_int_equal(kg_hpke_setup_s(&c, aead, pkR, NULL, 0, NULL, enc), KG_ERR_HPKE_SUITE);
		assert_int_equal(c.aead, 0);
		assert_int_equal(kg_hpke_setup_r(&c, aead, skR, enc, NULL, 0), KG_ERR_HPKE_SUITE);
		refused++;
	}
	assert_true(refused > 0);
}

/* ---- round trips -------------------------------------------------------- */

static void roundtrip_keygen(void **state)
{
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], sk2[KG_HPKE_NSK], pk2[KG_HPKE_NPK];
	uint8_t enc[KG_HPKE_NENC], info[40], aad[13], pt[1000], ct[sizeof pt + KG_HPKE_NT], back[sizeof pt];
	uint8_t ex_s[64], ex_r[64];
	struct kg_hpke_ctx s, r;
	size_t a, k;

	(void)state;
	assert_int_equal(kg_hpke_keygen(sk, pk), KG_OK);
	assert_int_equal(kg_hpke_keygen(sk2, pk2), KG_OK);
	assert_memory_not_equal(sk, sk2, sizeof sk);
	assert_memory_not_equal(pk, pk2, sizeof pk);
	assert_int_equal(RAND_bytes(info, sizeof info), 1);
	assert_int_equal(RAND_bytes(aad, sizeof aad), 1);
	assert_int_equal(RAND_bytes(pt, sizeof pt), 1);

	for (a = 0; a < sizeof aeads / sizeof aeads[0]; a++) {
		/* Single shot, every plaintext length from 0 to 40 and one long. */
		for (k = 0; k <= 41; k++) {
			size_t len = k == 41 ? sizeof pt : k;

			assert_int_equal(kg_hpke_seal_base(aeads[a], pk, info, sizeof info, aad, sizeof aad, pt, len,
							   enc, ct),
					 KG_OK);
			memset(back, 0, sizeof back);
			assert_int_equal(kg_hpke_open_base(aeads[a], sk, enc, info, sizeof info, aad, sizeof aad, ct,
							   len + KG_HPKE_NT, back),
					 KG_OK);
			assert_memory_equal(back, pt, len);
			/* Another recipient's key does not open it. */
			assert_int_equal(kg_hpke_open_base(aeads[a], sk2, enc, info, sizeof info, aad, sizeof aad, ct,
							   len + KG_HPKE_NT, back),
					 KG_ERR_HPKE_OPEN);
		}
		/* Empty info, aad and plaintext, as NULL + 0. */
		assert_int_equal(kg_hpke_seal_base(aeads[a], pk, NULL, 0, NULL, 0, NULL, 0, enc, ct), KG_OK);
		assert_int_equal(kg_hpke_open_base(aeads[a], sk, enc, NULL, 0, NULL, 0, ct, KG_HPKE_NT, NULL), KG_OK);

		/* A context carries several messages, in order, and both sides
		 * export the same secrets. */
		assert_int_equal(kg_hpke_setup_s(&s, aeads[a], pk, info, sizeof info, NULL, enc), KG_OK);
		assert_int_equal(kg_hpke_setup_r(&r, aeads[a], sk, enc, info, sizeof info), KG_OK);
		for (k = 0; k < 5; k++) {
			assert_int_equal(kg_hpke_seal(&s, aad, sizeof aad, pt, 100, ct), KG_OK);
			assert_int_equal(kg_hpke_open(&r, aad, sizeof aad, ct, 100 + KG_HPKE_NT, back), KG_OK);
			assert_memory_equal(back, pt, 100);
		}
		assert_int_equal(kg_hpke_export(&s, aad, sizeof aad, ex_s, sizeof ex_s), KG_OK);
		assert_int_equal(kg_hpke_export(&r, aad, sizeof aad, ex_r, sizeof ex_r), KG_OK);
		assert_memory_equal(ex_s, ex_r, sizeof ex_s);
		assert_int_equal(kg_hpke_export(&r, NULL, 0, ex_r, sizeof ex_r), KG_OK);
		assert_memory_not_equal(ex_s, ex_r, sizeof ex_s);
		kg_hpke_ctx_wipe(&s);
		kg_hpke_ctx_wipe(&r);
	}
	/* A fresh ephemeral key each time: the same message seals differently. */
	{
		uint8_t enc2[KG_HPKE_NENC], ct2[16 + KG_HPKE_NT];

		assert_int_equal(kg_hpke_seal_base(KG_HPKE_AEAD_AES_256_GCM, pk, NULL, 0, NULL, 0, pt, 16, enc, ct),
				 KG_OK);
		assert_int_equal(kg_hpke_seal_base(KG_HPKE_AEAD_AES_256_GCM, pk, NULL, 0, NULL, 0, pt, 16, enc2, ct2),
				 KG_OK);
		assert_memory_not_equal(enc, enc2, sizeof enc);
		assert_memory_not_equal(ct, ct2, sizeof ct2);
	}
	kg_wipe(sk, sizeof sk);
	kg_wipe(sk2, sizeof sk2);
}

/* ---- negative cases ----------------------------------------------------- */

struct sealed {
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], enc[KG_HPKE_NENC];
	uint8_t info[16], aad[8], pt[32], ct[32 + KG_HPKE_NT];
};

static void seal_one(struct sealed *m, uint16_t aead)
{
	assert_int_equal(kg_hpke_keygen(m->sk, m->pk), KG_OK);
	memcpy(m->info, "keygate/v1 test", 16);
	memcpy(m->aad, "key-id:1", 8);
	memset(m->pt, 0x5a, sizeof m->pt);
	assert_int_equal(kg_hpke_seal_base(aead, m->pk, m->info, sizeof m->info, m->aad, sizeof m->aad, m->pt,
					   sizeof m->pt, m->enc, m->ct),
			 KG_OK);
}

static kg_err open_one(const struct sealed *m, uint16_t aead, uint8_t *pt)
{
	return kg_hpke_open_base(aead, m->sk, m->enc, m->info, sizeof m->info, m->aad, sizeof m->aad, m->ct,
				 sizeof m->ct, pt);
}

static void tampered(void **state)
{
	uint8_t pt[32];
	size_t a, i;

	(void)state;
	for (a = 0; a < sizeof aeads / sizeof aeads[0]; a++) {
		struct sealed m, t;

		seal_one(&m, aeads[a]);
		assert_int_equal(open_one(&m, aeads[a], pt), KG_OK);
		assert_memory_equal(pt, m.pt, sizeof pt);

		/* Every byte of ct, including the tag; pt is wiped on failure. */
		for (i = 0; i < sizeof m.ct; i++) {
			t = m;
			t.ct[i] ^= 0x01;
			memset(pt, 0xaa, sizeof pt);
			assert_int_equal(open_one(&t, aeads[a], pt), KG_ERR_HPKE_OPEN);
			assert_true(sodium_is_zero(pt, sizeof pt));
		}
		for (i = 0; i < sizeof m.aad; i++) {
			t = m;
			t.aad[i] ^= 0x80;
			assert_int_equal(open_one(&t, aeads[a], pt), KG_ERR_HPKE_OPEN);
		}
		for (i = 0; i < sizeof m.enc; i++) {
			t = m;
			t.enc[i] ^= 0x04;
			assert_int_equal(open_one(&t, aeads[a], pt), KG_ERR_HPKE_OPEN);
		}
		for (i = 0; i < sizeof m.info; i++) {
			t = m;
			t.info[i] ^= 0x20;
			assert_int_equal(open_one(&t, aeads[a], pt), KG_ERR_HPKE_OPEN);
		}
		/* Another AEAD over the same inputs. */
		assert_int_equal(open_one(&m, aeads[(a + 1) % 3], pt), KG_ERR_HPKE_OPEN);
		/* A different info length (prefix). */
		assert_int_equal(kg_hpke_open_base(aeads[a], m.sk, m.enc, m.info, sizeof m.info - 1, m.aad,
						   sizeof m.aad, m.ct, sizeof m.ct, pt),
				 KG_ERR_HPKE_OPEN);
		/* Truncated: one byte short, and shorter than a tag. */
		assert_int_equal(kg_hpke_open_base(aeads[a], m.sk, m.enc, m.info, sizeof m.info, m.aad, sizeof m.aad,
						   m.ct, sizeof m.ct - 1, pt),
				 KG_ERR_HPKE_OPEN);
		assert_int_equal(kg_hpke_open_base(aeads[a], m.sk, m.enc, m.info, sizeof m.info, m.aad, sizeof m.aad,
						   m.ct, KG_HPKE_NT - 1, pt),
				 KG_ERR_HPKE_OPEN);
		kg_wipe(&m, sizeof m);
		kg_wipe(&t, sizeof t);
	}
}

/* Messages open only in order: a failed open leaves seq where it was. */
static void sequence(void **state)
{
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], enc[KG_HPKE_NENC];
	uint8_t ct0[4 + KG_HPKE_NT], ct1[4 + KG_HPKE_NT], pt[4];
	struct kg_hpke_ctx s, r;

	(void)state;
	assert_int_equal(kg_hpke_keygen(sk, pk), KG_OK);
	assert_int_equal(kg_hpke_setup_s(&s, KG_HPKE_AEAD_CHACHA20_POLY1305, pk, NULL, 0, NULL, enc), KG_OK);
	assert_int_equal(kg_hpke_setup_r(&r, KG_HPKE_AEAD_CHACHA20_POLY1305, sk, enc, NULL, 0), KG_OK);
	assert_int_equal(kg_hpke_seal(&s, NULL, 0, (const uint8_t *)"zero", 4, ct0), KG_OK);
	assert_int_equal(kg_hpke_seal(&s, NULL, 0, (const uint8_t *)"one!", 4, ct1), KG_OK);
	assert_memory_not_equal(ct0, ct1, sizeof ct0);
	assert_int_equal(kg_hpke_open(&r, NULL, 0, ct1, sizeof ct1, pt), KG_ERR_HPKE_OPEN);
	assert_true(r.seq == 0);
	assert_int_equal(kg_hpke_open(&r, NULL, 0, ct0, sizeof ct0, pt), KG_OK);
	assert_memory_equal(pt, "zero", 4);
	assert_int_equal(kg_hpke_open(&r, NULL, 0, ct0, sizeof ct0, pt), KG_ERR_HPKE_OPEN); /* replay */
	assert_int_equal(kg_hpke_open(&r, NULL, 0, ct1, sizeof ct1, pt), KG_OK);
	assert_memory_equal(pt, "one!", 4);
	kg_hpke_ctx_wipe(&s);
	kg_hpke_ctx_wipe(&r);
	kg_wipe(sk, sizeof sk);
}

/* §5.2: the sequence number must not wrap.  The last usable value is
 * UINT64_MAX - 1; after it every seal and open is refused. */
static void sequence_overflow(void **state)
{
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], enc[KG_HPKE_NENC];
	uint8_t ct[4 + KG_HPKE_NT], pt[4];
	struct kg_hpke_ctx s, r;

	(void)state;
	assert_int_equal(kg_hpke_keygen(sk, pk), KG_OK);
	assert_int_equal(kg_hpke_setup_s(&s, KG_HPKE_AEAD_AES_256_GCM, pk, NULL, 0, NULL, enc), KG_OK);
	assert_int_equal(kg_hpke_setup_r(&r, KG_HPKE_AEAD_AES_256_GCM, sk, enc, NULL, 0), KG_OK);
	s.seq = r.seq = UINT64_MAX - 1;
	assert_int_equal(kg_hpke_seal(&s, NULL, 0, (const uint8_t *)"last", 4, ct), KG_OK);
	assert_int_equal(kg_hpke_open(&r, NULL, 0, ct, sizeof ct, pt), KG_OK);
	assert_memory_equal(pt, "last", 4);
	assert_true(s.seq == UINT64_MAX && r.seq == UINT64_MAX);
	assert_int_equal(kg_hpke_seal(&s, NULL, 0, (const uint8_t *)"more", 4, ct), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_open(&r, NULL, 0, ct, sizeof ct, pt), KG_ERR_INVALID_ARG);
	assert_true(s.seq == UINT64_MAX && r.seq == UINT64_MAX);
	kg_hpke_ctx_wipe(&s);
	kg_hpke_ctx_wipe(&r);
	kg_wipe(sk, sizeof sk);
}

/* Low-order X25519 points (RFC 7748 §7; the list libsodium refuses), with
 * and without the ignored top bit: the shared secret would be all zero. */
static void low_order(void **state)
{
	static const char *points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000", /* 0 */
		"0100000000000000000000000000000000000000000000000000000000000000", /* 1 */
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1 */
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p */
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p + 1 */
	};
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], bad[KG_HPKE_NPK], enc[KG_HPKE_NENC], ct[KG_HPKE_NT], pt[1];
	struct kg_hpke_ctx c;
	size_t p, hi, a;

	(void)state;
	assert_int_equal(kg_hpke_keygen(sk, pk), KG_OK);
	for (p = 0; p < sizeof points / sizeof points[0]; p++) {
		for (hi = 0; hi < 2; hi++) {
			assert_int_equal(kg_unhex(bad, sizeof bad, points[p]), KG_OK);
			bad[31] |= (uint8_t)(hi << 7);
			for (a = 0; a < sizeof aeads / sizeof aeads[0]; a++) {
				memset(enc, 0xaa, sizeof enc);
				assert_int_equal(kg_hpke_setup_s(&c, aeads[a], bad, NULL, 0, NULL, enc), KG_ERR_HPKE_DH);
				assert_true(sodium_is_zero(enc, sizeof enc));
				assert_true(sodium_is_zero((const uint8_t *)&c, sizeof c));
				assert_int_equal(kg_hpke_setup_r(&c, aeads[a], sk, bad, NULL, 0), KG_ERR_HPKE_DH);
				assert_true(sodium_is_zero((const uint8_t *)&c, sizeof c));
				assert_int_equal(kg_hpke_seal_base(aeads[a], bad, NULL, 0, NULL, 0, NULL, 0, enc, ct),
						 KG_ERR_HPKE_DH);
				assert_int_equal(kg_hpke_open_base(aeads[a], sk, bad, NULL, 0, NULL, 0, ct, sizeof ct, pt),
						 KG_ERR_HPKE_DH);
			}
		}
	}
	kg_wipe(sk, sizeof sk);
}

static void unsupported_suite(void **state)
{
	static const uint16_t bad[] = {0x0000, 0x0004, 0x0020, 0x0102, 0xfffe, 0xffff};
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], enc[KG_HPKE_NENC], ct[KG_HPKE_NT], pt[1];
	struct kg_hpke_ctx c;
	size_t i;

	(void)state;
	assert_int_equal(kg_hpke_aead_supported(KG_HPKE_AEAD_AES_128_GCM), 1);
	assert_int_equal(kg_hpke_aead_supported(KG_HPKE_AEAD_AES_256_GCM), 1);
	assert_int_equal(kg_hpke_aead_supported(KG_HPKE_AEAD_CHACHA20_POLY1305), 1);
	assert_int_equal(kg_hpke_keygen(sk, pk), KG_OK);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(kg_hpke_aead_supported(bad[i]), 0);
		assert_int_equal(kg_hpke_setup_s(&c, bad[i], pk, NULL, 0, NULL, enc), KG_ERR_HPKE_SUITE);
		assert_int_equal(kg_hpke_setup_r(&c, bad[i], sk, pk, NULL, 0), KG_ERR_HPKE_SUITE);
		assert_int_equal(kg_hpke_seal_base(bad[i], pk, NULL, 0, NULL, 0, NULL, 0, enc, ct), KG_ERR_HPKE_SUITE);
		assert_int_equal(kg_hpke_open_base(bad[i], sk, pk, NULL, 0, NULL, 0, ct, sizeof ct, pt),
				 KG_ERR_HPKE_SUITE);
	}
	kg_wipe(sk, sizeof sk);
}

/* Misuse: contexts that are not set up or were wiped, bad lengths. */
static void misuse(void **state)
{
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK], enc[KG_HPKE_NENC], ct[4 + KG_HPKE_NT], pt[4];
	uint8_t out[KG_HPKE_EXPORT_MAX + 1], ikm[KG_HPKE_NSK] = {0};
	struct kg_hpke_ctx c;

	(void)state;
	assert_int_equal(kg_hpke_keygen(sk, pk), KG_OK);
	assert_int_equal(kg_hpke_setup_s(&c, KG_HPKE_AEAD_AES_128_GCM, pk, NULL, 0, NULL, enc), KG_OK);
	assert_int_equal(kg_hpke_export(&c, NULL, 0, out, KG_HPKE_EXPORT_MAX), KG_OK);
	assert_int_equal(kg_hpke_export(&c, NULL, 0, out, KG_HPKE_EXPORT_MAX + 1), KG_ERR_INVALID_ARG);
	kg_hpke_ctx_wipe(&c);
	assert_true(sodium_is_zero((const uint8_t *)&c, sizeof c));
	assert_int_equal(kg_hpke_seal(&c, NULL, 0, (const uint8_t *)"wipe", 4, ct), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_open(&c, NULL, 0, ct, sizeof ct, pt), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_export(&c, NULL, 0, out, 32), KG_ERR_INVALID_ARG);
	kg_hpke_ctx_wipe(NULL);

	assert_int_equal(kg_hpke_setup_s(NULL, KG_HPKE_AEAD_AES_256_GCM, pk, NULL, 0, NULL, enc), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_setup_s(&c, KG_HPKE_AEAD_AES_256_GCM, pk, NULL, 3, NULL, enc), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_setup_r(&c, KG_HPKE_AEAD_AES_256_GCM, sk, pk, NULL, 3), KG_ERR_INVALID_ARG);

	/* DeriveKeyPair wants at least Nsk bytes of ikm (§7.1.3). */
	assert_int_equal(kg_hpke_derive_keypair(ikm, sizeof ikm - 1, sk, pk), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_derive_keypair(NULL, 0, sk, pk), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_hpke_derive_keypair(ikm, sizeof ikm, sk, pk), KG_OK);
	kg_wipe(sk, sizeof sk);
}

int main(void)
{
	const struct CMUnitTest vectors[] = {
		cmocka_unit_test(vectors_aes128gcm),
		cmocka_unit_test(vectors_aes256gcm),
		cmocka_unit_test(vectors_chacha20poly1305),
		cmocka_unit_test(vectors_unsupported_aead),
	};
	const struct CMUnitTest others[] = {
		cmocka_unit_test(roundtrip_keygen), cmocka_unit_test(tampered),	   cmocka_unit_test(sequence),
		cmocka_unit_test(sequence_overflow), cmocka_unit_test(low_order),  cmocka_unit_test(unsupported_suite),
		cmocka_unit_test(misuse),
	};
	int failed;

	if (sodium_init() < 0)
		return 1;
	failed = cmocka_run_group_tests_name("hpke_vectors", vectors, load_vectors, free_vectors);
	failed += cmocka_run_group_tests_name("hpke", others, NULL, NULL);
	return failed;
}
