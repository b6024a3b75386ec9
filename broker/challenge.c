/* Stateless challenges: see core.h for the format. */
#include <string.h>

#include <sodium.h>

#include "../common/cursor.h"
#include "../common/util.h"
#include "core.h"

#define KG_CHALLENGE_VERSION 1
#define KG_CHALLENGE_SIGNED (1 + 8 + 16)

/* libsodium's HMAC-SHA256 and randombytes cannot fail once initialised,
 * so neither can making a challenge. */
static void mac(const uint8_t key[static KG_CHALLENGE_KEY_LEN], const uint8_t *msg, size_t len, uint8_t out[static 32])
{
	crypto_auth_hmacsha256(out, msg, len, key);
}

kg_err kg_challenge_make(const uint8_t key[static KG_CHALLENGE_KEY_LEN], time_t now,
			 uint8_t out[static KG_CHALLENGE_LEN])
{
	uint64_t t = (uint64_t)now;

	out[0] = KG_CHALLENGE_VERSION;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(t >> (56 - 8 * i));
	KG_ENSURE(sodium_init() >= 0, KG_ERR_RANDOM);
	randombytes_buf(out + 9, 16);
	mac(key, out, KG_CHALLENGE_SIGNED, out + KG_CHALLENGE_SIGNED);
	return KG_OK;
}

kg_err kg_challenge_check(const uint8_t key[static KG_CHALLENGE_KEY_LEN], const uint8_t *c, size_t len,
			  time_t now, unsigned ttl)
{
	struct kg_cur cur = kg_cur_init(c, len);
	uint8_t version, expect[32];
	uint64_t issued;
	const uint8_t *tag;
	kg_err rc;

	KG_ENSURE(len == KG_CHALLENGE_LEN, KG_ERR_CHALLENGE_MALFORMED);
	KG_ENSURE(kg_cur_u8(&cur, &version) == KG_OK && version == KG_CHALLENGE_VERSION,
		  KG_ERR_CHALLENGE_MALFORMED);
	KG_ENSURE(kg_cur_u64be(&cur, &issued) == KG_OK, KG_ERR_CHALLENGE_MALFORMED);
	KG_ENSURE(kg_cur_skip(&cur, 16) == KG_OK, KG_ERR_CHALLENGE_MALFORMED);
	KG_ENSURE(kg_cur_bytes(&cur, &tag, 32) == KG_OK && kg_cur_done(&cur) == KG_OK, KG_ERR_CHALLENGE_MALFORMED);
	/* The MAC first: nothing about an unauthenticated token is trusted. */
	mac(key, c, KG_CHALLENGE_SIGNED, expect);
	rc = sodium_memcmp(expect, tag, 32) == 0 ? KG_OK : KG_ERR_CHALLENGE_FORGED;
	kg_wipe(expect, sizeof expect);
	KG_TRY(rc);
	KG_ENSURE(now >= 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(issued <= (uint64_t)now + KG_CHALLENGE_SKEW, KG_ERR_CHALLENGE_EXPIRED);
	KG_ENSURE(issued + ttl >= (uint64_t)now, KG_ERR_CHALLENGE_EXPIRED);
	return KG_OK;
}
