/* Unit tests for common/cursor.c and common/err.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/cursor.h"
#include "../../common/util.h"

static void reads(void **state)
{
	static const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
	struct kg_cur c = kg_cur_init(b, sizeof b), sub;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;

	(void)state;
	assert_int_equal(kg_cur_u8(&c, &u8), KG_OK);
	assert_int_equal(u8, 1);
	assert_int_equal(kg_cur_u16le(&c, &u16), KG_OK);
	assert_int_equal(u16, 0x0302);
	assert_int_equal(kg_cur_u16be(&c, &u16), KG_OK);
	assert_int_equal(u16, 0x0405);
	assert_int_equal(kg_cur_u32le(&c, &u32), KG_OK);
	assert_int_equal(u32, 0x09080706);
	assert_int_equal(kg_cur_u64be(&c, &u64), KG_OK);
	assert_int_equal(u64, 0x0a0b0c0d0e0f1011ULL);
	assert_int_equal(kg_cur_left(&c), 1);
	/* A failed read consumes nothing. */
	assert_int_equal(kg_cur_u16le(&c, &u16), KG_ERR_TRUNCATED);
	assert_int_equal(kg_cur_left(&c), 1);
	assert_int_equal(kg_cur_done(&c), KG_ERR_TRAILING_BYTES);
	assert_int_equal(kg_cur_bytes(&c, &p, 1), KG_OK);
	assert_int_equal(*p, 18);
	assert_int_equal(kg_cur_done(&c), KG_OK);

	c = kg_cur_init(b, sizeof b);
	assert_int_equal(kg_cur_sub(&c, &sub, 4), KG_OK);
	assert_int_equal(kg_cur_u32be(&sub, &u32), KG_OK);
	assert_int_equal(u32, 0x01020304);
	assert_int_equal(kg_cur_u8(&sub, &u8), KG_ERR_TRUNCATED);
	assert_int_equal(kg_cur_sub(&c, &sub, 15), KG_ERR_TRUNCATED);
	assert_int_equal(kg_cur_u64le(&c, &u64), KG_OK);
	assert_int_equal(u64, 0x0c0b0a0908070605ULL);
	assert_int_equal(kg_cur_skip(&c, SIZE_MAX), KG_ERR_TRUNCATED);
	assert_int_equal(kg_cur_u32be(&c, &u32), KG_OK);
}

static void zeros(void **state)
{
	static const uint8_t b[] = {0, 0, 0, 1};
	struct kg_cur c = kg_cur_init(b, sizeof b);
	uint8_t out[4];

	(void)state;
	assert_int_equal(kg_cur_zeros(&c, 3, KG_ERR_SNP_RESERVED), KG_OK);
	assert_int_equal(kg_cur_zeros(&c, 1, KG_ERR_SNP_RESERVED), KG_ERR_SNP_RESERVED);
	assert_int_equal(kg_cur_zeros(&c, 2, KG_ERR_SNP_RESERVED), KG_ERR_TRUNCATED);
	c = kg_cur_init(NULL, 10);
	assert_int_equal(kg_cur_left(&c), 0);
	assert_int_equal(kg_cur_copy(&c, out, 1), KG_ERR_TRUNCATED);
}

static void errors(void **state)
{
	(void)state;
	/* Every code is unique, round-trips, and has a message and status. */
	for (int i = 0; i < KG_ERR__COUNT; i++) {
		assert_non_null(kg_err_code((kg_err)i));
		assert_int_equal(kg_err_from_code(kg_err_code((kg_err)i)), i);
		assert_true(strlen(kg_err_msg((kg_err)i)) > 0);
		assert_true(kg_err_http((kg_err)i) >= 200 && kg_err_http((kg_err)i) < 600);
	}
	assert_string_equal(kg_err_code(KG_ERR_MEASUREMENT), "measurement_not_allowed");
	assert_int_equal(kg_err_from_code("no-such-code"), KG_ERR__COUNT);
	assert_string_equal(kg_err_code((kg_err)9999), "internal_error");
}

static void hex(void **state)
{
	uint8_t b[3];
	char s[7];
	time_t t;

	(void)state;
	assert_int_equal(kg_unhex(b, 3, "00fFa0"), KG_OK);
	kg_hex(s, b, 3);
	assert_string_equal(s, "00ffa0");
	assert_int_equal(kg_unhex(b, 3, "00ff"), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_unhex(b, 3, "00ffzz"), KG_ERR_INVALID_ARG);
	assert_int_equal(kg_time_parse("2024-01-02T03:04:05Z", &t), KG_OK);
	assert_int_equal(t, 1704164645);
	assert_int_equal(kg_time_parse("1704164645", &t), KG_OK);
	assert_int_equal(t, 1704164645);
	assert_int_equal(kg_time_parse("yesterday", &t), KG_ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads),
		cmocka_unit_test(zeros),
		cmocka_unit_test(errors),
		cmocka_unit_test(hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
