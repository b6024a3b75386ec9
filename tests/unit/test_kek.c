/* Unit tests for keys/kek.c: secret files and model-key wrapping. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../common/util.h"
#include "../../keys/kek.h"
#include "../../keys/session.h"

static char path[64];

static void write_file(const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof path, "/tmp/kg-test-kek.XXXXXX");
	fd = mkstemp(path);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void key_files(void **state)
{
	uint8_t raw[40] = {0}, out[32];
	char hex[66];

	(void)state;
	/* A raw key whose last byte is a newline is still a raw key. */
	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(i * 7 + 1);
	raw[31] = '\n';
	write_file(raw, 32);
	assert_int_equal(kg_key32_read(path, out), KG_OK);
	assert_memory_equal(out, raw, 32);
	raw[31] = '\r';
	write_file(raw, 32);
	assert_int_equal(kg_key32_read(path, out), KG_OK);
	assert_memory_equal(out, raw, 32);

	kg_hex(hex, raw, 32);
	write_file(hex, 64);
	assert_int_equal(kg_key32_read(path, out), KG_OK);
	assert_memory_equal(out, raw, 32);
	hex[64] = '\n';
	write_file(hex, 65);
	assert_int_equal(kg_key32_read(path, out), KG_OK);
	assert_memory_equal(out, raw, 32);

	/* Everything else is refused. */
	write_file(raw, 31);
	assert_int_equal(kg_key32_read(path, out), KG_ERR_KEK);
	write_file(raw, 5);
	assert_int_equal(kg_key32_read(path, out), KG_ERR_KEK);
	write_file(raw, 33);
	assert_int_equal(kg_key32_read(path, out), KG_ERR_KEK);
	write_file(hex, 63);
	assert_int_equal(kg_key32_read(path, out), KG_ERR_KEK);
	hex[10] = 'z';
	write_file(hex, 64);
	assert_int_equal(kg_key32_read(path, out), KG_ERR_KEK);
	write_file("", 0);
	assert_int_equal(kg_key32_read(path, out), KG_ERR_KEK);
	assert_int_equal(kg_key32_read("/nonexistent/kek", out), KG_ERR_KEK);
}

static void wrap_unwrap(void **state)
{
	uint8_t k[32] = {9}, key[40], w[KG_WRAPPED_MAX], *out = kg_secret_alloc(KG_KEY_MAX);
	size_t wlen, olen;
	struct kg_kek *kek = NULL, *other = NULL;

	(void)state;
	assert_non_null(out);
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(kg_kek_from_bytes(k, &kek), KG_OK);
	k[0] ^= 1;
	assert_int_equal(kg_kek_from_bytes(k, &other), KG_OK);
	assert_int_equal(kg_kek_wrap(kek, "disk", 3, KG_KEY_KIND_MODEL, key, sizeof key, w, &wlen), KG_OK);
	assert_int_equal(wlen, 2 + 24 + sizeof key + 16);
	assert_int_equal(w[0], 3);
	assert_int_equal(w[1], KG_KEY_KIND_MODEL);
	assert_null(memmem(w, wlen, key, sizeof key)); /* nothing in the clear */
	assert_int_equal(kg_kek_unwrap(kek, "disk", 3, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_OK);
	assert_int_equal(olen, sizeof key);
	assert_memory_equal(out, key, sizeof key);
	/* Bound to the KEK, the key id, the version and the kind. */
	assert_int_equal(kg_kek_unwrap(other, "disk", 3, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	assert_int_equal(kg_kek_unwrap(kek, "disk2", 3, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	assert_int_equal(kg_kek_unwrap(kek, "disk", 4, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	for (size_t i = 0; i < wlen; i++) {
		w[i] ^= 0x20;
		/* Byte 1 is the kind, named before anything is decrypted. */
		assert_int_equal(kg_kek_unwrap(kek, "disk", 3, KG_KEY_KIND_MODEL, w, wlen, out, &olen),
				 i == 1 ? KG_ERR_KEY_KIND : KG_ERR_KEY_UNWRAP);
		w[i] ^= 0x20;
	}
	assert_int_equal(kg_kek_unwrap(kek, "disk", 3, KG_KEY_KIND_MODEL, w, wlen - 1, out, &olen), KG_ERR_KEY_UNWRAP);
	/* Key lengths outside 16..64 are refused. */
	assert_int_equal(kg_kek_wrap(kek, "disk", 3, KG_KEY_KIND_MODEL, key, 15, w, &wlen), KG_ERR_INVALID_ARG);
	kg_kek_free(kek);
	kg_kek_free(other);
	kg_kek_free(NULL);
	kg_secret_free(out);
}

/* KEK ids name a KEK without revealing it; rows name their KEK. */
static void kek_ids_and_unwrap_any(void **state)
{
	uint8_t ka[32], kb[32], key[32], wrapped[KG_WRAPPED_MAX], out[KG_KEY_MAX];
	size_t wlen = 0, olen = 0;
	struct kg_kek *a = NULL, *a2 = NULL, *b = NULL;
	const struct kg_kek *both[2];
	struct kg_kek_spec spec = {0};

	(void)state;
	memset(ka, 0x11, 32);
	memset(kb, 0x22, 32);
	memset(key, 0x5a, 32);
	assert_int_equal(kg_kek_from_bytes(ka, &a), KG_OK);
	assert_int_equal(kg_kek_from_bytes(ka, &a2), KG_OK);
	assert_int_equal(kg_kek_from_bytes(kb, &b), KG_OK);
	assert_int_equal(strncmp(kg_kek_id(a), "file:", 5), 0);
	assert_int_equal(strlen(kg_kek_id(a)), 5 + 16);
	assert_string_equal(kg_kek_id(a), kg_kek_id(a2));
	assert_string_not_equal(kg_kek_id(a), kg_kek_id(b));
	assert_null(strstr(kg_kek_id(a), "1111111111"));
	assert_int_equal(kg_kek_wrap(a, "k", 1, KG_KEY_KIND_SESSION, key, 32, wrapped, &wlen), KG_OK);
	both[0] = b;
	both[1] = a;
	/* By id: the named KEK only. */
	assert_int_equal(kg_kek_unwrap_any(both, 2, kg_kek_id(a), "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen), KG_OK);
	assert_memory_equal(out, key, 32);
	assert_int_equal(kg_kek_unwrap_any(both, 2, kg_kek_id(b), "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen),
			 KG_ERR_KEY_UNWRAP);
	assert_int_equal(kg_kek_unwrap_any(both, 2, "file:0000000000000000", "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen),
			 KG_ERR_KEK_UNKNOWN);
	assert_int_equal(kg_kek_unwrap_any(both, 1, kg_kek_id(a), "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen),
			 KG_ERR_KEK_UNKNOWN);
	/* No id recorded (rows from before 0011): each KEK in turn. */
	assert_int_equal(kg_kek_unwrap_any(both, 2, "", "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen), KG_OK);
	assert_int_equal(kg_kek_unwrap_any(both, 2, NULL, "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen), KG_OK);
	assert_int_equal(kg_kek_unwrap_any(both, 2, NULL, "k", 2, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	/* A token's format (4) is not a file KEK's. */
	wrapped[0] = 4;
	assert_int_equal(kg_kek_unwrap(a, "k", 1, KG_KEY_KIND_SESSION, wrapped, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	/* Specs: one kind, complete. */
	kg_kek_free(b);
	assert_false(kg_kek_spec_set(&spec));
	spec.file = path;
	spec.pkcs11_module = "/nonexistent.so";
	assert_int_equal(kg_kek_open(&spec, &b), KG_ERR_CONFIG);
	spec.file = NULL;
	assert_int_equal(kg_kek_open(&spec, &b), KG_ERR_CONFIG);
	spec.pkcs11_token = "t";
	spec.pkcs11_key = "k";
	spec.pkcs11_pin_file = "/nonexistent";
	assert_int_equal(kg_kek_open(&spec, &b), KG_ERR_PKCS11);
	assert_null(b);
	kg_kek_free(a);
	kg_kek_free(a2);
}

/* Formats 3 and 4 bind the key's kind (keys/kek.h): a session key's root
 * never unwraps as a model key, which the broker would release as it is. */
static void kind_bound(void **state)
{
	uint8_t k[32], key[32], w[KG_WRAPPED_MAX], *out = kg_secret_alloc(KG_KEY_MAX);
	size_t wlen = 0, olen = 0;
	struct kg_kek *kek = NULL;
	const struct kg_kek *one[1];

	(void)state;
	assert_non_null(out);
	memset(k, 0x33, 32);
	memset(key, 0x44, 32);
	assert_int_equal(kg_kek_from_bytes(k, &kek), KG_OK);
	one[0] = kek;
	assert_int_equal(kg_kek_wrap(kek, "sk", 1, KG_KEY_KIND_SESSION, key, 32, w, &wlen), KG_OK);
	assert_int_equal(w[0], 3);
	assert_int_equal(w[1], KG_KEY_KIND_SESSION);
	assert_int_equal(kg_kek_unwrap(kek, "sk", 1, KG_KEY_KIND_SESSION, w, wlen, out, &olen), KG_OK);
	assert_memory_equal(out, key, 32);
	/* The database says model: refused by name, nothing decrypted. */
	memset(out, 0, KG_KEY_MAX);
	assert_int_equal(kg_kek_unwrap(kek, "sk", 1, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_ERR_KEY_KIND);
	assert_int_equal(olen, 0);
	assert_int_equal(kg_kek_unwrap_any(one, 1, kg_kek_id(kek), "sk", 1, KG_KEY_KIND_MODEL, w, wlen, out, &olen),
			 KG_ERR_KEY_KIND);
	assert_int_equal(kg_kek_unwrap_any(one, 1, NULL, "sk", 1, KG_KEY_KIND_MODEL, w, wlen, out, &olen),
			 KG_ERR_KEY_KIND);
	/* The kind byte relabelled too: the tag (over the kind) fails. */
	w[1] = KG_KEY_KIND_MODEL;
	assert_int_equal(kg_kek_unwrap(kek, "sk", 1, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	/* Relabelled as format 1 (no kind): the v1 associated data differs. */
	w[0] = 1;
	w[1] = KG_KEY_KIND_SESSION;
	assert_int_equal(kg_kek_unwrap(kek, "sk", 1, KG_KEY_KIND_MODEL, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	assert_int_equal(kg_kek_unwrap(kek, "sk", 1, KG_KEY_KIND_MODEL, w + 1, wlen - 1, out, &olen),
			 KG_ERR_KEY_UNWRAP);
	assert_memory_not_equal(out, key, 32);
	/* Kinds other than the two are refused both ways. */
	assert_int_equal(kg_kek_wrap(kek, "sk", 1, (enum kg_key_kind)3, key, 32, w, &wlen), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_kek_unwrap(kek, "sk", 1, (enum kg_key_kind)0, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	kg_kek_free(kek);
	kg_secret_free(out);
}

/* A format-1 row, as keygate wrote before 0014 (XChaCha20-Poly1305 with
 * associated data "keygate/v1 key" || 0 || u16be(len id) || id ||
 * u32be(version)), built here independently: still read, for either kind. */
static void legacy_format(void **state)
{
	static const uint8_t ad[] = {'k', 'e', 'y', 'g', 'a', 't', 'e', '/', 'v', '1', ' ', 'k', 'e', 'y', 0,
				     0,	  4,   'd', 'i', 's', 'k', 0,	0,   0,	  7};
	uint8_t k[32], key[32], w[1 + 24 + 32 + 16], *out = kg_secret_alloc(KG_KEY_MAX);
	unsigned long long clen = 0;
	size_t olen = 0;
	struct kg_kek *kek = NULL;

	(void)state;
	assert_non_null(out);
	memset(k, 0x55, 32);
	memset(key, 0x66, 32);
	assert_int_equal(kg_kek_from_bytes(k, &kek), KG_OK);
	w[0] = 1;
	randombytes_buf(w + 1, 24);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(w + 25, &clen, key, 32, ad, sizeof ad, NULL,
								    w + 1, k),
			 0);
	assert_int_equal(kg_kek_unwrap(kek, "disk", 7, KG_KEY_KIND_MODEL, w, sizeof w, out, &olen), KG_OK);
	assert_memory_equal(out, key, 32);
	assert_int_equal(kg_kek_unwrap(kek, "disk", 7, KG_KEY_KIND_SESSION, w, sizeof w, out, &olen), KG_OK);
	assert_int_equal(kg_kek_unwrap(kek, "disk", 8, KG_KEY_KIND_MODEL, w, sizeof w, out, &olen), KG_ERR_KEY_UNWRAP);
	/* Claimed as format 3, the same bytes do not decrypt. */
	w[0] = 3;
	assert_int_not_equal(kg_kek_unwrap(kek, "disk", 7, KG_KEY_KIND_MODEL, w, sizeof w, out, &olen), KG_OK);
	kg_kek_free(kek);
	kg_secret_free(out);
}

/* HKDF-SHA256 per session id (keys/session.h).  The vector was computed
 * with Python's hmac module from RFC 5869's definition. */
static void session_keys(void **state)
{
	uint8_t root[32], k1[32], k2[32], k3[64];
	uint8_t want[32];

	(void)state;
	for (int i = 0; i < 32; i++)
		root[i] = (uint8_t)i;
	assert_int_equal(kg_unhex(want, 32, "7354a2839ba0458a28579ff62b577297a94502cc5777dffe903d6b6d9d6817eb"), KG_OK);
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "train-42", 8, k1, 32), KG_OK);
	assert_memory_equal(k1, want, 32);
	/* The same inputs, the same key; any input changed, another key. */
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "train-42", 8, k2, 32), KG_OK);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "train-43", 8, k2, 32), KG_OK);
	assert_memory_not_equal(k1, k2, 32);
	assert_int_equal(kg_session_derive(root, 32, "sess2", 1, "train-42", 8, k2, 32), KG_OK);
	assert_memory_not_equal(k1, k2, 32);
	assert_int_equal(kg_session_derive(root, 32, "sess", 2, "train-42", 8, k2, 32), KG_OK);
	assert_memory_not_equal(k1, k2, 32);
	root[0] ^= 1;
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "train-42", 8, k2, 32), KG_OK);
	assert_memory_not_equal(k1, k2, 32);
	/* Lengths are part of the encoding: "ab"+"c" is not "a"+"bc". */
	assert_int_equal(kg_session_derive(root, 32, "ab", 1, "c", 1, k1, 32), KG_OK);
	assert_int_equal(kg_session_derive(root, 32, "a", 1, "bc", 2, k2, 32), KG_OK);
	assert_memory_not_equal(k1, k2, 32);
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "train-42", 8, k3, 64), KG_OK);
	/* Bad input. */
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "a b", 3, k2, 32), KG_ERR_SESSION_ID);
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "", 0, k2, 32), KG_ERR_SESSION_ID);
	assert_int_equal(kg_session_derive(root, 32, "sess", 1, "x", 1, k2, 8), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_session_derive(root, 32, "", 1, "x", 1, k2, 32), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_session_derive(root, 8, "sess", 1, "x", 1, k2, 32), KG_ERR_INVALID_ARG);
	assert_true(kg_session_id_valid("A-z_0.9:x", 9));
	assert_false(kg_session_id_valid("a/b", 3));
	assert_false(kg_session_id_valid("a\0b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(key_files, setup, teardown),
		cmocka_unit_test(wrap_unwrap),
		cmocka_unit_test_setup_teardown(kek_ids_and_unwrap_any, setup, teardown),
		cmocka_unit_test(kind_bound),
		cmocka_unit_test(legacy_format),
		cmocka_unit_test(session_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
