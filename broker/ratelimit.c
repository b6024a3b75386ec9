/*
 * Denials per address (see ratelimit.h).
 */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* 4096 addresses in sets of 4: a flood from many addresses evicts within
 * a set, never walks the table. */
#define RL_SETS 1024
#define RL_WAYS 4

struct slot {
	bool used;
	bool limited;	      /* in a run of denials without tokens */
	uint8_t addr[16];
	uint64_t tokens_milli; /* thousandths of a token */
	uint64_t seen_us;
	uint64_t unrecorded;
};

struct kg_ratelimit {
	uint64_t rate, burst_milli;
	/* A keyed hash, so that nobody can aim every address at one set. */
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	pthread_mutex_t lock;
	struct slot slots[RL_SETS][RL_WAYS];
};

kg_err kg_ratelimit_new(unsigned rate, unsigned burst, struct kg_ratelimit **out)
{
	struct kg_ratelimit *rl;

	*out = NULL;
	KG_ENSURE(rate <= 1000000 && burst <= 1000000 && (rate == 0 || burst >= 1), KG_ERR_CONFIG);
	KG_ENSURE(sodium_init() >= 0, KG_ERR_RANDOM);
	KG_ENSURE((rl = calloc(1, sizeof *rl)) != NULL, KG_ERR_NOMEM);
	rl->rate = rate;
	rl->burst_milli = (uint64_t)burst * 1000;
	crypto_shorthash_keygen(rl->hash_key);
	if (pthread_mutex_init(&rl->lock, NULL) != 0) {
		free(rl);
		return KG_ERR_INTERNAL;
	}
	*out = rl;
	return KG_OK;
}

void kg_ratelimit_free(struct kg_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* IPv4 as itself (v4-mapped), IPv6 by its /64: one host's worth of each. */
static void addr_key(const char *peer, uint8_t key[16])
{
	struct in_addr a4;

	memset(key, 0, 16);
	if (inet_pton(AF_INET6, peer, key) == 1) {
		memset(key + 8, 0, 8);
		return;
	}
	if (inet_pton(AF_INET, peer, &a4) == 1) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a4, 4);
	}
}

enum kg_ratelimit_verdict kg_ratelimit_deny(struct kg_ratelimit *rl, const char *peer, uint64_t now_us,
					     uint64_t *unrecorded_before)
{
	enum kg_ratelimit_verdict v;
	uint8_t key[16], h[crypto_shorthash_BYTES];
	struct slot *set, *s = NULL;
	uint64_t set_i;

	*unrecorded_before = 0;
	if (rl == NULL || rl->rate == 0)
		return KG_RL_AUDIT;
	addr_key(peer ? peer : "", key);
	crypto_shorthash(h, key, sizeof key, rl->hash_key);
	memcpy(&set_i, h, sizeof set_i);
	pthread_mutex_lock(&rl->lock);
	set = rl->slots[set_i % RL_SETS];
	for (size_t i = 0; i < RL_WAYS && s == NULL; i++)
		if (set[i].used && memcmp(set[i].addr, key, 16) == 0)
			s = &set[i];
	if (s == NULL) {
		/* A free way, else the one seen longest ago. */
		s = &set[0];
		for (size_t i = 0; i < RL_WAYS; i++) {
			if (!set[i].used) {
				s = &set[i];
				break;
			}
			if (set[i].seen_us < s->seen_us)
				s = &set[i];
		}
		memset(s, 0, sizeof *s);
		s->used = true;
		memcpy(s->addr, key, 16);
		s->tokens_milli = rl->burst_milli;
		s->seen_us = now_us;
	}
	if (now_us > s->seen_us) {
		/* us x tokens/s / 1000 = thousandths of a token; what a call
		 * loses to rounding is under one of them. */
		uint64_t add = (now_us - s->seen_us) * rl->rate / 1000;
		s->tokens_milli = add >= rl->burst_milli - s->tokens_milli ? rl->burst_milli : s->tokens_milli + add;
		s->seen_us = now_us;
	}
	if (s->tokens_milli >= 1000) {
		s->tokens_milli -= 1000;
		*unrecorded_before = s->unrecorded;
		s->unrecorded = 0;
		s->limited = false;
		v = KG_RL_AUDIT;
	} else if (!s->limited) {
		s->limited = true;
		v = KG_RL_FIRST;
	} else {
		s->unrecorded++;
		v = KG_RL_UNRECORDED;
	}
	pthread_mutex_unlock(&rl->lock);
	return v;
}
