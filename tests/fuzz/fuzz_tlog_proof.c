/* Fuzz target: kg_ledger_verify_bundle (ledger/ledger.c) and the parsers
 * under it: kg_ledger_tlog_proof_parse, kg_ledger_entry_parse (bundle.c),
 * the note and checkpoint parsers; and kg_ledger_consistency_parse.  The
 * trust policy is that of the generated ledger whose bundles make up the
 * corpus (corpus/fuzz_tlog_proof: bundles of releases, a revocation and a
 * TDX entry, two consistency proofs, truncated and empty-tree cases), so
 * mutations reach the signature, witness and Merkle checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ledger/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* keygate-ledger init/witness-init output for the corpus ledger; its
 * witnesses cosigned at 1750000000 and 1750000100. */
static const char log_vkey[] = "example.com/keygate-fuzz+b7209a29+AQZP9G7g8QrNKAAUOOUpcldcq6lX4H05vu1EOY7eQA7l";
static const char *witness_vkeys[] = {
	"witness1.example+74e5d0b1+BBxQ3b14r2m3ec0aG+J30QU93f2uLJuDLVonQxvKz0Vr",
	"witness2.example+2c0c8311+BJKyqvw2+rr3cfSXmvO0nb6aZJcZb/0sK6c1fDISV5Tj",
};
static const char root15[] = "0lR76g3GZJui3nq92qCyqn85LGE1rZjhI7QJB/Unfec=";
#define NOW ((time_t)1750000200)

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static void check(const struct kg_ledger_trust *t, const uint8_t *data, size_t size,
		  const struct kg_ledger_consistency *cons)
{
	struct kg_ledger_verdict v;
	kg_err e = kg_ledger_verify_bundle(t, data, size, cons, NOW, &v);

	if (e == KG_OK) {
		/* Only an included release entry is accepted. */
		if (v.entry.kind != KG_LEDGER_RELEASE || v.index >= v.size || v.witnesses < t->witness_threshold)
			__builtin_trap();
	} else if (e == KG_ERR_LEDGER_REVOKED) {
		if (v.entry.kind != KG_LEDGER_REVOKE)
			__builtin_trap();
	} else if (!all_zero(&v, sizeof v)) {
		__builtin_trap(); /* outputs are cleared on failure */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kg_ledger_trust trust;
	static int loaded;
	struct kg_ledger_trust t;
	struct kg_ledger_consistency cons;
	struct kg_ledger_entry e;

	if (!loaded) {
		memset(&trust, 0, sizeof trust);
		strcpy(trust.origin, "example.com/keygate-fuzz");
		if (kg_ledger_vkey_parse(log_vkey, &trust.log_key) != KG_OK)
			__builtin_trap();
		for (size_t i = 0; i < 2; i++)
			if (kg_ledger_vkey_parse(witness_vkeys[i], &trust.witnesses[i]) != KG_OK)
				__builtin_trap();
		trust.n_witnesses = 2;
		trust.witness_threshold = 2;
		trust.max_age = 3600;
		loaded = 1;
	}
	/* Nothing seen before. */
	check(&trust, data, size, NULL);
	/* Size 15 seen: same size, older (rollback) and newer paths. */
	t = trust;
	t.seen_size = 15;
	if (kg_ltext_hash(kg_cur_init((const uint8_t *)root15, strlen(root15)), t.seen_root) != KG_OK)
		__builtin_trap();
	check(&t, data, size, NULL);
	/* The input read as a consistency proof, and as an entry. */
	if (kg_ledger_consistency_parse(data, size, &cons) == KG_OK) {
		if (cons.n > KG_LEDGER_MAX_PROOF)
			__builtin_trap();
		t.seen_size = cons.old_size;
		check(&t, data, size, &cons);
	}
	if (kg_ledger_entry_parse(data, size, &e) == KG_OK && kg_ledger_tee_measurement_len(e.tee) != e.measurement_len)
		__builtin_trap();
	return 0;
}
