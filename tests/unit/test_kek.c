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

#include "../../common/util.h"
#include "../../keys/kek.h"

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
	assert_int_equal(kg_kek_wrap(kek, "disk", 3, key, sizeof key, w, &wlen), KG_OK);
	assert_int_equal(wlen, 1 + 24 + sizeof key + 16);
	assert_null(memmem(w, wlen, key, sizeof key)); /* nothing in the clear */
	assert_int_equal(kg_kek_unwrap(kek, "disk", 3, w, wlen, out, &olen), KG_OK);
	assert_int_equal(olen, sizeof key);
	assert_memory_equal(out, key, sizeof key);
	/* Bound to the KEK, the key id and the version. */
	assert_int_equal(kg_kek_unwrap(other, "disk", 3, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	assert_int_equal(kg_kek_unwrap(kek, "disk2", 3, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	assert_int_equal(kg_kek_unwrap(kek, "disk", 4, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
	for (size_t i = 0; i < wlen; i++) {
		w[i] ^= 0x20;
		assert_int_equal(kg_kek_unwrap(kek, "disk", 3, w, wlen, out, &olen), KG_ERR_KEY_UNWRAP);
		w[i] ^= 0x20;
	}
	assert_int_equal(kg_kek_unwrap(kek, "disk", 3, w, wlen - 1, out, &olen), KG_ERR_KEY_UNWRAP);
	/* Key lengths outside 16..64 are refused. */
	assert_int_equal(kg_kek_wrap(kek, "disk", 3, key, 15, w, &wlen), KG_ERR_INVALID_ARG);
	kg_kek_free(kek);
	kg_kek_free(other);
	kg_kek_free(NULL);
	kg_secret_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(key_files, setup, teardown),
		cmocka_unit_test(wrap_unwrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
