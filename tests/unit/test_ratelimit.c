/*
 * The denial rate limit (broker/ratelimit.c): a bucket per address (IPv6:
 * per /64; IPv4-mapped as IPv4), refilled at its rate up to its burst, a
 * bucket for all addresses, runs of refusals and their unrecorded counts,
 * and a table that stays bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../broker/ratelimit.h"

#define S 1000000u /* a second, in microseconds */

static enum kg_ratelimit_verdict deny(struct kg_ratelimit *rl, const char *peer, uint64_t t, uint64_t *unrec)
{
	struct kg_ratelimit_ended e;
	enum kg_ratelimit_verdict v = kg_ratelimit_deny(rl, peer, t, &e);

	if (unrec)
		*unrec = e.peer;
	return v;
}

static void test_disabled(void **state)
{
	struct kg_ratelimit *rl;

	(void)state;
	assert_int_equal(kg_ratelimit_new(0, 0, 0, &rl), KG_OK);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(deny(rl, "192.0.2.1", 1, NULL), KG_RL_AUDIT);
	kg_ratelimit_free(rl);
	assert_int_equal(deny(NULL, "192.0.2.1", 1, NULL), KG_RL_AUDIT);
}

static void test_config(void **state)
{
	struct kg_ratelimit *rl = (void *)1;

	(void)state;
	assert_int_equal(kg_ratelimit_new(5, 0, 0, &rl), KG_ERR_CONFIG);
	assert_null(rl);
	assert_int_equal(kg_ratelimit_new(2000000, 10, 0, &rl), KG_ERR_CONFIG);
	assert_int_equal(kg_ratelimit_new(1, 1, 2000000, &rl), KG_ERR_CONFIG);
}

/* Burst, then a run: its first audited as rate_limited, the rest not;
 * the next token ends the run and says how many went unrecorded. */
static void test_bucket_and_run(void **state)
{
	struct kg_ratelimit *rl;
	uint64_t unrec = 99, t = 5 * S;

	(void)state;
	assert_int_equal(kg_ratelimit_new(2, 3, 0, &rl), KG_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(deny(rl, "192.0.2.1", t, &unrec), KG_RL_AUDIT);
		assert_int_equal(unrec, 0);
	}
	assert_int_equal(deny(rl, "192.0.2.1", t, NULL), KG_RL_FIRST);
	assert_int_equal(deny(rl, "192.0.2.1", t, NULL), KG_RL_UNRECORDED);
	assert_int_equal(deny(rl, "192.0.2.1", t + S / 4, NULL), KG_RL_UNRECORDED); /* half a token */
	/* Another address is not affected. */
	assert_int_equal(deny(rl, "192.0.2.2", t, NULL), KG_RL_AUDIT);
	/* Half a second at 2/s: one token, which ends the run of two. */
	assert_int_equal(deny(rl, "192.0.2.1", t + S / 2, &unrec), KG_RL_AUDIT);
	assert_int_equal(unrec, 2);
	assert_int_equal(deny(rl, "192.0.2.1", t + S / 2, &unrec), KG_RL_FIRST);
	assert_int_equal(unrec, 0);
	/* An hour later the bucket is full again, not fuller. */
	t += 3600u * S;
	for (int i = 0; i < 3; i++)
		assert_int_equal(deny(rl, "192.0.2.1", t, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "192.0.2.1", t, NULL), KG_RL_FIRST);
	kg_ratelimit_free(rl);
}

/* Frequent calls still refill: at 10/s with a call every 100 us for 2 s,
 * about 20 tokens come back. */
static void test_refill_under_load(void **state)
{
	struct kg_ratelimit *rl;
	unsigned audited = 0;

	(void)state;
	assert_int_equal(kg_ratelimit_new(10, 1, 0, &rl), KG_OK);
	for (uint64_t t = S; t < 3 * S; t += 100)
		audited += deny(rl, "198.51.100.7", t, NULL) == KG_RL_AUDIT;
	assert_in_range(audited, 19, 22);
	kg_ratelimit_free(rl);
}

/* IPv6 addresses share a bucket per /64; IPv4 addresses each have one,
 * written plain or IPv4-mapped; each text that is no address has its own
 * (all mapped addresses, "::1" and "unknown" once shared one). */
static void test_prefixes(void **state)
{
	struct kg_ratelimit *rl;

	(void)state;
	assert_int_equal(kg_ratelimit_new(1, 1, 0, &rl), KG_OK);
	assert_int_equal(deny(rl, "2001:db8:1:2::1", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "2001:db8:1:2:ffff::9", S, NULL), KG_RL_FIRST);
	assert_int_equal(deny(rl, "2001:db8:1:3::1", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "10.0.0.1", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "::ffff:10.0.0.1", S, NULL), KG_RL_FIRST);
	assert_int_equal(deny(rl, "::ffff:10.0.0.2", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "10.0.0.2", S, NULL), KG_RL_FIRST);
	assert_int_equal(deny(rl, "::ffff:10.0.0.3", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "::1", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "unknown", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "garbage", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "garbage", S, NULL), KG_RL_FIRST);
	kg_ratelimit_free(rl);
}

/* All addresses together: once the shared bucket is empty every denial is
 * limited whatever its address, the run is audited once, and its end is
 * reported; an address's own tokens are not spent meanwhile. */
static void test_all_addresses(void **state)
{
	struct kg_ratelimit *rl;
	struct kg_ratelimit_ended e;
	char a[64];
	unsigned audited = 0, first = 0;

	(void)state;
	assert_int_equal(kg_ratelimit_new(5, 5, 2, &rl), KG_OK); /* 2/s, bursts of 20 */
	for (unsigned i = 0; i < 100; i++) {
		snprintf(a, sizeof a, "2001:db8:%x::1", i);
		switch (kg_ratelimit_deny(rl, a, S, &e)) {
		case KG_RL_AUDIT: audited++; break;
		case KG_RL_FIRST: first++; break;
		case KG_RL_UNRECORDED: break;
		}
	}
	assert_int_equal(audited, 20);
	assert_int_equal(first, 1);
	/* Half a second later: one token for all, which ends the run. */
	assert_int_equal(kg_ratelimit_deny(rl, "192.0.2.9", S + S / 2, &e), KG_RL_AUDIT);
	assert_int_equal(e.all, 79);
	assert_int_equal(e.peer, 0);
	kg_ratelimit_free(rl);
}

/* Many addresses: the table stays bounded, and an address pushed out by
 * the flood starts again with a full bucket (it is not locked out). */
static void test_bounded(void **state)
{
	struct kg_ratelimit *rl;
	char a[64];

	(void)state;
	assert_int_equal(kg_ratelimit_new(1, 1, 0, &rl), KG_OK);
	assert_int_equal(deny(rl, "203.0.113.1", S, NULL), KG_RL_AUDIT);
	assert_int_equal(deny(rl, "203.0.113.1", S, NULL), KG_RL_FIRST);
	for (unsigned i = 0; i < 100000; i++) {
		snprintf(a, sizeof a, "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		assert_int_equal(deny(rl, a, S, NULL), KG_RL_AUDIT);
	}
	/* No time passed, so no refill: only forgetting explains a token. */
	assert_int_equal(deny(rl, "203.0.113.1", S, NULL), KG_RL_AUDIT);
	kg_ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),	  cmocka_unit_test(test_config),
		cmocka_unit_test(test_bucket_and_run),	  cmocka_unit_test(test_refill_under_load),
		cmocka_unit_test(test_prefixes),	  cmocka_unit_test(test_all_addresses),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
