/* Unit tests for broker/challenge.c and broker/request.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/core.h"
#include "../../keys/hpke.h"

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void challenge_roundtrip(void **state)
{
	uint8_t c[KG_CHALLENGE_LEN], d[KG_CHALLENGE_LEN];

	(void)state;
	assert_int_equal(kg_challenge_make(key, 1000, c), KG_OK);
	assert_int_equal(kg_challenge_make(key, 1000, d), KG_OK);
	assert_memory_not_equal(c, d, sizeof c); /* random part differs */
	assert_int_equal(kg_challenge_check(key, c, sizeof c, 1000, 60), KG_OK);
	assert_int_equal(kg_challenge_check(key, c, sizeof c, 1060, 60), KG_OK);
	assert_int_equal(kg_challenge_check(key, c, sizeof c, 1061, 60), KG_ERR_CHALLENGE_EXPIRED);
	/* Issued too far in the future (a replica's clock ahead). */
	assert_int_equal(kg_challenge_check(key, c, sizeof c, 1000 - KG_CHALLENGE_SKEW, 60), KG_OK);
	assert_int_equal(kg_challenge_check(key, c, sizeof c, 1000 - KG_CHALLENGE_SKEW - 1, 60),
			 KG_ERR_CHALLENGE_EXPIRED);
}

static void challenge_forged(void **state)
{
	uint8_t c[KG_CHALLENGE_LEN], other[32];

	(void)state;
	assert_int_equal(kg_challenge_make(key, 5000, c), KG_OK);
	for (size_t i = 1; i < sizeof c; i++) {
		c[i] ^= 0x01;
		assert_int_equal(kg_challenge_check(key, c, sizeof c, 5000, 60), KG_ERR_CHALLENGE_FORGED);
		c[i] ^= 0x01;
	}
	memcpy(other, key, 32);
	other[0] ^= 0x80;
	assert_int_equal(kg_challenge_check(other, c, sizeof c, 5000, 60), KG_ERR_CHALLENGE_FORGED);
	/* Extending the lifetime by rewriting issued_at breaks the MAC. */
	c[8] += 100;
	assert_int_equal(kg_challenge_check(key, c, sizeof c, 5100, 60), KG_ERR_CHALLENGE_FORGED);
}

static void challenge_malformed(void **state)
{
	uint8_t c[KG_CHALLENGE_LEN + 1];

	(void)state;
	assert_int_equal(kg_challenge_make(key, 5000, c), KG_OK);
	assert_int_equal(kg_challenge_check(key, c, KG_CHALLENGE_LEN - 1, 5000, 60), KG_ERR_CHALLENGE_MALFORMED);
	assert_int_equal(kg_challenge_check(key, c, KG_CHALLENGE_LEN + 1, 5000, 60), KG_ERR_CHALLENGE_MALFORMED);
	assert_int_equal(kg_challenge_check(key, c, 0, 5000, 60), KG_ERR_CHALLENGE_MALFORMED);
	c[0] = 2;
	assert_int_equal(kg_challenge_check(key, c, KG_CHALLENGE_LEN, 5000, 60), KG_ERR_CHALLENGE_MALFORMED);
}

static kg_err parse(const char *s, struct kg_release_req *r)
{
	return kg_release_req_parse((const uint8_t *)s, strlen(s), r);
}

static void release_body(void **state)
{
	struct kg_release_req r;

	(void)state;
	assert_int_equal(parse("", &r), KG_OK);
	assert_int_equal(r.aead, KG_HPKE_AEAD_CHACHA20_POLY1305);
	assert_int_equal(parse("{}", &r), KG_OK);
	assert_int_equal(parse("{\"aead\":\"aes-256-gcm\"}", &r), KG_OK);
	assert_int_equal(r.aead, KG_HPKE_AEAD_AES_256_GCM);
	assert_int_equal(parse("{\"aead\":\"aes-128-gcm\"}", &r), KG_ERR_HPKE_SUITE);
	assert_int_equal(parse("{\"aead\":3}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"aead\":\"aes-256-gcm\",\"aead\":\"aes-256-gcm\"}", &r), KG_ERR_BAD_JSON);
	assert_int_equal(parse("{\"color\":\"red\"}", &r), KG_ERR_UNKNOWN_FIELD);
	assert_int_equal(parse("{", &r), KG_ERR_BAD_JSON);
	assert_int_equal(parse("{} {}", &r), KG_ERR_BAD_JSON);
	assert_int_equal(parse("[]", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("\"x\"", &r), KG_ERR_BAD_JSON);
}

/* "version" and "session_id" (docs/protocol.md §3). */
static void release_body_version_session(void **state)
{
	struct kg_release_req r;
	char body[300];

	(void)state;
	assert_int_equal(parse("{\"version\":3,\"session_id\":\"train-42:a.b_c\"}", &r), KG_OK);
	assert_int_equal(r.version, 3);
	assert_int_equal(r.session_id_len, 14);
	assert_string_equal(r.session_id, "train-42:a.b_c");
	assert_int_equal(parse("{}", &r), KG_OK);
	assert_int_equal(r.version, 0);
	assert_int_equal(r.session_id_len, 0);
	assert_int_equal(parse("{\"version\":2147483647}", &r), KG_OK);
	assert_int_equal(parse("{\"version\":2147483648}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"version\":0}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"version\":-1}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"version\":\"1\"}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"version\":1.0}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"session_id\":7}", &r), KG_ERR_BAD_REQUEST);
	assert_int_equal(parse("{\"session_id\":\"\"}", &r), KG_ERR_SESSION_ID);
	assert_int_equal(parse("{\"session_id\":\"a b\"}", &r), KG_ERR_SESSION_ID);
	assert_int_equal(parse("{\"session_id\":\"a\\u0000b\"}", &r), KG_ERR_BAD_JSON); /* jansson refuses NUL */
	assert_int_equal(parse("{\"session_id\":\"caf\\u00e9\"}", &r), KG_ERR_SESSION_ID);
	/* 128 characters are the most. */
	snprintf(body, sizeof body, "{\"session_id\":\"%0128d\"}", 0);
	assert_int_equal(parse(body, &r), KG_OK);
	assert_int_equal(r.session_id_len, 128);
	snprintf(body, sizeof body, "{\"session_id\":\"%0129d\"}", 0);
	assert_int_equal(parse(body, &r), KG_ERR_SESSION_ID);
}

static void key_ids(void **state)
{
	char long_id[80];

	(void)state;
	assert_true(kg_key_id_valid("disk-key_1.v2"));
	assert_false(kg_key_id_valid(""));
	assert_false(kg_key_id_valid("a/b"));
	assert_false(kg_key_id_valid("a b"));
	assert_false(kg_key_id_valid("%2e%2e"));
	memset(long_id, 'a', 64);
	long_id[64] = 0;
	assert_true(kg_key_id_valid(long_id));
	long_id[64] = 'a';
	long_id[65] = 0;
	assert_false(kg_key_id_valid(long_id));
}

static void release_info_layout(void **state)
{
	uint8_t out[KG_RELEASE_INFO_MAX], ev[32], rid[16];
	size_t n;

	(void)state;
	memset(ev, 0xee, sizeof ev);
	memset(rid, 0x11, sizeof rid);
	n = kg_release_info(out, ev, "disk", 7, rid);
	assert_int_equal(n, 19 + 32 + 2 + 4 + 4 + 16);
	assert_memory_equal(out, "keygate/v1 release\0", 19);
	assert_memory_equal(out + 19, ev, 32);
	assert_int_equal(out[51], 0);
	assert_int_equal(out[52], 4);
	assert_memory_equal(out + 53, "disk", 4);
	assert_int_equal(out[60], 7);
	assert_memory_equal(out + 61, rid, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(challenge_roundtrip), cmocka_unit_test(challenge_forged),
		cmocka_unit_test(challenge_malformed), cmocka_unit_test(release_body),
		cmocka_unit_test(release_body_version_session),
		cmocka_unit_test(key_ids),	       cmocka_unit_test(release_info_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
