/*
 * Denials per address and in all (see ratelimit.h).
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
/* What identifies a bucket: a kind byte, then 16 bytes of address. */
#define RL_KEY 17
enum { KEY_V4 = 4, KEY_V6 = 6, KEY_TEXT = 0x7f };
/* The shared bucket holds ten seconds of its rate. */
#define RL_ALL_SECONDS 10

struct bucket {
	uint64_t rate, burst_milli;
	uint64_t tokens_milli; /* thousandths of a token */
	uint64_t at_us;	       /* when tokens_milli was last brought up to date */
	bool limited;	       /* in a run of denials without tokens */
	uint64_t unrecorded;
};

struct slot {
	bool used;
	uint8_t key[RL_KEY];
	struct bucket b;
};

struct kg_ratelimit {
	uint64_t rate, burst_milli;
	/* A keyed hash, so that nobody can aim every address at one set. */
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	pthread_mutex_t lock;
	struct bucket all;
	struct slot slots[RL_SETS][RL_WAYS];
};

kg_err kg_ratelimit_new(unsigned rate, unsigned burst, unsigned rate_all, struct kg_ratelimit **out)
{
	struct kg_ratelimit *rl;

	*out = NULL;
	KG_ENSURE(rate <= 1000000 && burst <= 1000000 && rate_all <= 1000000 && (rate == 0 || burst >= 1),
		  KG_ERR_CONFIG);
	KG_ENSURE(sodium_init() >= 0, KG_ERR_RANDOM);
	KG_ENSURE((rl = calloc(1, sizeof *rl)) != NULL, KG_ERR_NOMEM);
	rl->rate = rate;
	rl->burst_milli = (uint64_t)burst * 1000;
	rl->all.rate = rate_all;
	rl->all.burst_milli = rl->all.tokens_milli = (uint64_t)rate_all * RL_ALL_SECONDS * 1000;
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

/* IPv4 as itself (also when written IPv4-mapped), IPv6 by its /64: one
 * host's worth of each; any other text by a hash of it. */
static void peer_key(const char *peer, uint8_t key[static RL_KEY])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t a[16];

	memset(key, 0, RL_KEY);
	if (inet_pton(AF_INET6, peer, a) == 1) {
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			key[0] = KEY_V4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = KEY_V6;
			memcpy(key + 1, a, 8);
		}
	} else if (inet_pton(AF_INET, peer, a) == 1) {
		key[0] = KEY_V4;
		memcpy(key + 1, a, 4);
	} else {
		key[0] = KEY_TEXT;
		crypto_generichash(key + 1, 16, (const uint8_t *)peer, strlen(peer), NULL, 0);
	}
}

/* Brings b's tokens up to now. */
static void refill(struct bucket *b, uint64_t now_us)
{
	if (now_us > b->at_us) {
		/* us x tokens/s / 1000 = thousandths of a token; what a call
		 * loses to rounding is under one of them. */
		uint64_t add = (now_us - b->at_us) * b->rate / 1000;
		b->tokens_milli = add >= b->burst_milli - b->tokens_milli ? b->burst_milli : b->tokens_milli + add;
		b->at_us = now_us;
	}
}

/* A denial that found b empty: the first of a run, or one more in it. */
static enum kg_ratelimit_verdict run_on(struct bucket *b)
{
	if (!b->limited) {
		b->limited = true;
		return KG_RL_FIRST;
	}
	b->unrecorded++;
	return KG_RL_UNRECORDED;
}

/* A token taken from b ends its run, if any; what it left unrecorded. */
static uint64_t take(struct bucket *b)
{
	uint64_t n = b->unrecorded;

	b->tokens_milli -= 1000;
	b->limited = false;
	b->unrecorded = 0;
	return n;
}

static struct bucket *peer_bucket(struct kg_ratelimit *rl, const char *peer, uint64_t now_us)
{
	uint8_t key[RL_KEY], h[crypto_shorthash_BYTES];
	struct slot *set, *s = NULL;
	uint64_t set_i;

	peer_key(peer ? peer : "", key);
	crypto_shorthash(h, key, sizeof key, rl->hash_key);
	memcpy(&set_i, h, sizeof set_i);
	set = rl->slots[set_i % RL_SETS];
	for (size_t i = 0; i < RL_WAYS; i++)
		if (set[i].used && memcmp(set[i].key, key, RL_KEY) == 0)
			return &set[i].b;
	/* A free way, else the one seen longest ago. */
	s = &set[0];
	for (size_t i = 0; i < RL_WAYS; i++) {
		if (!set[i].used) {
			s = &set[i];
			break;
		}
		if (set[i].b.at_us < s->b.at_us)
			s = &set[i];
	}
	memset(s, 0, sizeof *s);
	s->used = true;
	memcpy(s->key, key, RL_KEY);
	s->b.rate = rl->rate;
	s->b.burst_milli = s->b.tokens_milli = rl->burst_milli;
	s->b.at_us = now_us;
	return &s->b;
}

enum kg_ratelimit_verdict kg_ratelimit_deny(struct kg_ratelimit *rl, const char *peer, uint64_t now_us,
					     struct kg_ratelimit_ended *ended)
{
	enum kg_ratelimit_verdict v = KG_RL_AUDIT;
	struct bucket *p = NULL;
	bool all_ok, peer_ok;

	memset(ended, 0, sizeof *ended);
	if (rl == NULL || (rl->rate == 0 && rl->all.rate == 0))
		return KG_RL_AUDIT;
	pthread_mutex_lock(&rl->lock);
	refill(&rl->all, now_us);
	all_ok = rl->all.rate == 0 || rl->all.tokens_milli >= 1000;
	if (rl->rate != 0) {
		p = peer_bucket(rl, peer, now_us);
		refill(p, now_us);
	}
	peer_ok = p == NULL || p->tokens_milli >= 1000;
	if (!all_ok) {
		/* Everyone is over: the address keeps its tokens. */
		v = run_on(&rl->all);
	} else if (!peer_ok) {
		v = run_on(p);
	} else {
		if (rl->all.rate != 0)
			ended->all = take(&rl->all);
		if (p != NULL)
			ended->peer = take(p);
	}
	pthread_mutex_unlock(&rl->lock);
	return v;
}
