/*
 * How many denials per second may be written to the audit table.  Every
 * refusal is audited (a row nobody can delete), so without a bound any
 * TLS client could grow the table without end by sending garbage.  Grants
 * are never limited, and are never counted.
 *
 * Token buckets: one per address (IPv4, or the /64 of an IPv6 address;
 * an IPv4-mapped address is its IPv4 address), and one for all addresses
 * together, which bounds what a flood from many addresses (an IPv6 /48
 * has 65536 /64s) can write.  Each audited denial takes a token from both;
 * tokens come back at their rate up to their burst.  A denial that finds
 * no token is answered rate_limited (429): the first of a run is audited
 * as rate_limited, the rest are counted (metrics, and one log line when
 * the run ends).  The address table is bounded: when full, the address
 * seen longest ago in its set is forgotten (and starts with a full
 * bucket).  Per replica, in memory: N replicas admit N times the rates.
 */
#ifndef KG_RATELIMIT_H
#define KG_RATELIMIT_H

#include <stdint.h>

#include "../common/err.h"

struct kg_ratelimit;

/* Per address: rate tokens a second, burst at most; for all addresses:
 * rate_all a second, ten seconds' worth at most.  A rate of 0 lifts that
 * limit. */
KG_MUST_CHECK kg_err kg_ratelimit_new(unsigned rate, unsigned burst, unsigned rate_all, struct kg_ratelimit **out);
void kg_ratelimit_free(struct kg_ratelimit *rl);

enum kg_ratelimit_verdict {
	KG_RL_AUDIT,	  /* tokens: audit the denial as usual */
	KG_RL_FIRST,	  /* none, the first of a run: audit it as rate_limited */
	KG_RL_UNRECORDED, /* none, later in the run: answer rate_limited, no row */
};

/* Denials left unrecorded in the runs a call ended (0: none ended), for
 * the caller to log: the address's, and all addresses' together. */
struct kg_ratelimit_ended {
	uint64_t peer, all;
};

/* For a denial from peer (an address as text; each unparsable text has a
 * bucket of its own) at now_us (a monotonic clock). */
enum kg_ratelimit_verdict kg_ratelimit_deny(struct kg_ratelimit *rl, const char *peer, uint64_t now_us,
					     struct kg_ratelimit_ended *ended);

#endif
