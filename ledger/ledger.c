/*
 * kg_ledger_verify_bundle: the one judgement of this module.  Pure: the
 * bundle, the trust policy, an optional consistency proof and the time go
 * in; a verdict or a reason comes out.  The order of the checks, and so
 * which reason wins when several apply, is documented in docs/ledger.md.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static kg_err trust_check(const struct kg_ledger_trust *t)
{
	KG_ENSURE(t->origin[0] != 0, KG_ERR_CONFIG);
	KG_ENSURE(t->log_key.type == KG_LEDGER_SIG_ED25519, KG_ERR_CONFIG);
	KG_ENSURE(t->n_witnesses <= KG_LEDGER_MAX_WITNESSES, KG_ERR_CONFIG);
	KG_ENSURE(t->witness_threshold <= t->n_witnesses, KG_ERR_CONFIG);
	for (size_t i = 0; i < t->n_witnesses; i++) {
		KG_ENSURE(t->witnesses[i].type == KG_LEDGER_SIG_COSIGN_V1, KG_ERR_CONFIG);
		/* One key counts once: a witness listed twice, or the log
		 * cosigning itself, must not make up a quorum. */
		KG_ENSURE(memcmp(t->witnesses[i].pk, t->log_key.pk, 32) != 0, KG_ERR_CONFIG);
		for (size_t j = 0; j < i; j++)
			KG_ENSURE(memcmp(t->witnesses[i].pk, t->witnesses[j].pk, 32) != 0 &&
					  (t->witnesses[i].id != t->witnesses[j].id ||
					   strcmp(t->witnesses[i].name, t->witnesses[j].name) != 0),
				  KG_ERR_CONFIG);
	}
	/* Age is judged by witness timestamps only: C2SP checkpoints carry
	 * no time of their own. */
	KG_ENSURE(t->max_age == 0 || t->witness_threshold >= 1, KG_ERR_CONFIG);
	return KG_OK;
}

/* The k-th newest of the counted witness timestamps (k >= 1). */
static uint64_t kth_newest(const uint64_t *ts, size_t n, size_t k)
{
	uint64_t sorted[KG_LEDGER_MAX_WITNESSES];

	memcpy(sorted, ts, n * sizeof ts[0]);
	/* Insertion sort, descending; n <= 16. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && sorted[j - 1] < sorted[j]; j--) {
			uint64_t x = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	return sorted[k - 1];
}

/* Relates the bundle's checkpoint (size, root) to the one seen before. */
static kg_err check_seen(const struct kg_ledger_trust *t, uint64_t size, const uint8_t root[static 32],
			 const struct kg_ledger_consistency *cons, bool *update)
{
	*update = false;
	if (t->seen_size == 0) {
		*update = true; /* first checkpoint seen */
		return KG_OK;
	}
	if (size == t->seen_size) {
		/* Same size, other root: a fork (split view). */
		KG_ENSURE(sodium_memcmp(root, t->seen_root, 32) == 0, KG_ERR_LEDGER_INCONSISTENT);
		return KG_OK;
	}
	if (size > t->seen_size) {
		/* Newer: it must extend what was seen. */
		KG_ENSURE(cons != NULL, KG_ERR_LEDGER_CONSISTENCY_MISSING);
		KG_ENSURE(cons->old_size == t->seen_size, KG_ERR_LEDGER_CONSISTENCY_MISSING);
		KG_TRY(kg_ledger_consistency_verify(t->seen_size, size, t->seen_root, root, cons->path, cons->n));
		*update = true;
		return KG_OK;
	}
	/* Older than what was seen: acceptable only as a proven prefix of it
	 * (an image built before the log grew); otherwise a rollback. */
	KG_ENSURE(cons != NULL && cons->old_size == size, KG_ERR_LEDGER_ROLLBACK);
	return kg_ledger_consistency_verify(size, t->seen_size, root, t->seen_root, cons->path, cons->n);
}

kg_err kg_ledger_verify_bundle(const struct kg_ledger_trust *trust, const uint8_t *bundle, size_t len,
			       const struct kg_ledger_consistency *consistency, time_t now,
			       struct kg_ledger_verdict *out)
{
	struct kg_ledger_tlog_proof *tp = NULL;
	struct kg_ledger_note *note = NULL;
	struct kg_ledger_key keys[1 + KG_LEDGER_MAX_WITNESSES];
	struct kg_ledger_note_check checks[1 + KG_LEDGER_MAX_WITNESSES];
	struct kg_ledger_checkpoint cp;
	struct kg_ledger_verdict v;
	uint64_t stamps[KG_LEDGER_MAX_WITNESSES];
	size_t counted = 0;
	uint8_t leaf[32];
	kg_err rc = KG_ERR_INTERNAL;

	memset(out, 0, sizeof *out);
	memset(&v, 0, sizeof v);
	KG_TRY(trust_check(trust));
	KG_ENSURE(now >= 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(len <= KG_LEDGER_MAX_BUNDLE, KG_ERR_TOO_LARGE);
	KG_ENSURE((tp = malloc(sizeof *tp)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((note = malloc(sizeof *note)) != NULL, KG_ERR_NOMEM);

	/* 1. Framing: tlog-proof, then the signed note, then the checkpoint. */
	KG_TRY_OUT(kg_ledger_tlog_proof_parse(bundle, len, tp));
	KG_ENSURE_OUT(tp->has_extra, KG_ERR_LEDGER_BUNDLE_MALFORMED);
	KG_TRY_OUT(kg_ledger_note_parse(kg_cur_ptr(&tp->note), kg_cur_left(&tp->note), note));
	KG_TRY_OUT(kg_ledger_checkpoint_parse(note->text, &cp));

	/* 2. The origin names the trusted log. */
	KG_ENSURE_OUT(kg_ltext_eq(cp.origin, trust->origin), KG_ERR_LEDGER_UNKNOWN_ORIGIN);

	/* 3. Signatures: the log key and the witnesses are the known keys;
	 * the rest are ignored, a failing known one rejects the note. */
	keys[0] = trust->log_key;
	for (size_t i = 0; i < trust->n_witnesses; i++)
		keys[1 + i] = trust->witnesses[i];
	KG_TRY_OUT(kg_ledger_note_verify(note, keys, 1 + trust->n_witnesses, checks));
	KG_ENSURE_OUT(checks[0].verified, KG_ERR_LEDGER_UNKNOWN_KEY);

	/* 4. Witnesses: k of n distinct trusted cosigners, each timestamp no
	 * further ahead of now than the allowed skew (tlog-cosignature lets
	 * verifiers refuse future timestamps; those do not count). */
	for (size_t i = 0; i < trust->n_witnesses; i++) {
		if (!checks[1 + i].verified || checks[1 + i].timestamp > (uint64_t)now + KG_LEDGER_FUTURE_SKEW)
			continue;
		stamps[counted++] = checks[1 + i].timestamp;
	}
	KG_ENSURE_OUT(counted >= trust->witness_threshold, KG_ERR_LEDGER_TOO_FEW_WITNESSES);
	if (trust->witness_threshold > 0)
		v.checkpoint_time = kth_newest(stamps, counted, trust->witness_threshold);
	v.witnesses = counted;

	/* 5. Freshness: k witnesses vouched for this checkpoint as the
	 * latest they had seen at checkpoint_time or later. */
	if (trust->max_age > 0 && v.checkpoint_time < (uint64_t)now)
		KG_ENSURE_OUT((uint64_t)now - v.checkpoint_time <= trust->max_age, KG_ERR_LEDGER_STALE_CHECKPOINT);

	/* 6. Append-only: relate it to the checkpoint seen before. */
	KG_TRY_OUT(check_seen(trust, cp.size, cp.root, consistency, &v.update_seen));

	/* 7. The entry, and its inclusion at index under the root. */
	KG_TRY_OUT(kg_ledger_entry_parse(tp->extra, tp->extra_len, &v.entry));
	kg_ledger_leaf_hash(tp->extra, tp->extra_len, leaf);
	KG_TRY_OUT(kg_ledger_inclusion_verify(tp->index, cp.size, leaf, (const uint8_t(*)[32])tp->path, tp->n,
					      cp.root));
	v.index = tp->index;
	v.size = cp.size;
	memcpy(v.root, cp.root, 32);

	/* 8. Only a release entry lets a key out. */
	*out = v;
	rc = v.entry.kind == KG_LEDGER_RELEASE ? KG_OK : KG_ERR_LEDGER_REVOKED;
out:
	free(tp);
	free(note);
	return rc;
}
