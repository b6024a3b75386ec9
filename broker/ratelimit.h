/*
 * How many denials per second each address may have written to the audit
 * table.  Every refusal is audited (a row nobody can delete), so without
 * a bound any TLS client could grow the table without end by sending
 * garbage.  Grants are never limited, and are never counted.
 *
 * A token bucket per address (IPv4, or the /64 of an IPv6 address): each
 * audited denial takes a token; tokens come back at rate per second up to
 * burst.  A denial that finds no token is answered rate_limited (429);
 * the first of a run of them is audited as rate_limited, the rest are
 * counted (metrics, and one log line when the address has tokens again).
 * The table is bounded: when full, the least recently seen address is
 * forgotten (it then starts again with a full bucket).  Per replica, in
 * memory: N replicas admit N times the rate.
 */
#ifndef KG_RATELIMIT_H
#define KG_RATELIMIT_H

#include <stdint.h>

#include "../common/err.h"

struct kg_ratelimit;

/* rate 0 disables the limit (kg_ratelimit_deny always says AUDIT). */
KG_MUST_CHECK kg_err kg_ratelimit_new(unsigned rate, unsigned burst, struct kg_ratelimit **out);
void kg_ratelimit_free(struct kg_ratelimit *rl);

enum kg_ratelimit_verdict {
	KG_RL_AUDIT,	  /* a token: audit the denial as usual */
	KG_RL_FIRST,	  /* none, the first of a run: audit it as rate_limited */
	KG_RL_UNRECORDED, /* none, later in the run: answer rate_limited, no row */
};

/* For a denial from peer (an address as text; anything unparsable shares
 * one bucket) at now_us (a monotonic clock).  *unrecorded_before is the
 * number of denials left unrecorded in the run that a token now ends
 * (0 otherwise), for the caller to log. */
enum kg_ratelimit_verdict kg_ratelimit_deny(struct kg_ratelimit *rl, const char *peer, uint64_t now_us,
					     uint64_t *unrecorded_before);

#endif
