/*
 * Policy decisions: a pure function from (the key's policies, verified
 * claims, now) to grant or deny with a reason.  No I/O and no clock reads,
 * so `policy explain` and the server share it and tests drive it directly.
 */
#ifndef KG_POLICY_H
#define KG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../attest/attest.h"
#include "../common/err.h"

#define KG_POLICY_MAX_MEASUREMENTS 256
#define KG_POLICY_MAX_VERSIONS 16 /* allowed_versions entries (schema: 0011) */

/* What a release established about the CVM's GPUs and NVSwitches: the
 * devices whose evidence verified (signature, chain to NVIDIA's root,
 * FWID, the release's nonce, bound by the CPU's claims), and of those the
 * least any of them offers. */
struct kg_gpu_summary {
	size_t n_gpus, n_switches; /* verified */
	size_t n_failed;	   /* devices whose evidence did not verify */
	kg_err first_error;	   /* the first failure's reason (KG_OK: none) */
	bool all_cc;		   /* every verified GPU reports a CC mode (SPT, MPT, PPCIe) */
	bool all_ocsp;		   /* every verified device's chain CAs had a good OCSP response */
	kg_err rims;		   /* KG_OK when every verified device matched its RIMs */
	bool has_driver, has_vbios;
	uint32_t min_driver[4], min_vbios[5]; /* lowest versions among the GPUs */
};

/* One row of the policies table. */
struct kg_policy {
	int64_t id;
	enum kg_tee tee;
	bool active;
	uint8_t (*measurements)[64]; /* n_measurements entries of measurement_len bytes */
	size_t n_measurements;
	size_t measurement_len;
	bool allow_debug;
	bool allow_migration_agent;
	/* Minimum REPORTED_TCB components; -1 = no floor. */
	int min_bootloader, min_tee, min_snp, min_microcode, min_fmc;
	/* SEV-SNP: bit n set = VMPL n may ask.  The schema's default is VMPL 0. */
	uint8_t allowed_vmpls;
	bool has_host_data;
	uint8_t host_data[32];
	/* Allowed ID-key / author-key digests (SHA-384); n = 0: any. */
	uint8_t (*id_key_digests)[48];
	size_t n_id_key_digests;
	uint8_t (*author_key_digests)[48];
	size_t n_author_key_digests;
	int64_t min_guest_svn; /* -1 = no floor */
	/* Intel TDX: allowed values of each RTMR (n = 0: any), required
	 * MRCONFIGID / MROWNER / MROWNERCONFIG, accepted TCB statuses (bit n
	 * set = enum kg_tdx_tcb_status n). */
	uint8_t (*rtmr[4])[48];
	size_t n_rtmr[4];
	bool has_mr_config_id, has_mr_owner, has_mr_owner_config;
	uint8_t mr_config_id[48], mr_owner[48], mr_owner_config[48];
	uint32_t tdx_tcb_statuses;
	/* "Measurement in ledger L": the release must carry a bundle that
	 * verified against ledger_id for the attested TEE and measurement. */
	bool has_ledger;
	char ledger_id[65];
	/* GPUs: gpu_count 0 = not required; then at least gpu_count GPUs (and
	 * nvswitch_count NVSwitches) must verify, each in a CC mode and
	 * matching its RIMs unless the policy says otherwise, at or above the
	 * driver and VBIOS floors (has_*). */
	int gpu_count, nvswitch_count;
	bool gpu_require_cc, gpu_require_rims, gpu_require_ocsp;
	bool has_gpu_min_driver, has_gpu_min_vbios;
	uint32_t gpu_min_driver[4], gpu_min_vbios[5];
	bool has_not_before, has_not_after; /* false = unbounded on that side */
	time_t not_before, not_after;
	/* Which key versions the policy releases (kg_policy_pick_version):
	 * n_allowed_versions = 0 and min_version = 0: the newest active one. */
	uint32_t allowed_versions[KG_POLICY_MAX_VERSIONS];
	size_t n_allowed_versions;
	uint32_t min_version; /* 0 = no floor */
};

/* A stored key version as the broker sees it (no material). */
enum kg_version_state { KG_VERSION_ACTIVE, KG_VERSION_DISABLED, KG_VERSION_DESTROYED };
struct kg_version_info {
	uint32_t version;
	enum kg_version_state state;
};

/* Chooses the key version to release under policy p, from the key's
 * versions v[0..n) (any order).  requested = 0: the newest active version
 * the policy allows; else exactly that version.  KG_OK with *out set, or
 * KEY_VERSION_UNKNOWN / _DISABLED / _DESTROYED / _NOT_ALLOWED, or
 * KEY_MISSING when the key has no version at all.  Pure. */
KG_MUST_CHECK kg_err kg_policy_pick_version(const struct kg_policy *p, const struct kg_version_info *v, size_t n,
					    uint32_t requested, uint32_t *out);

/* What the release's ledger bundle established for one ledger: KG_OK
 * when it proved the attested measurement published and not revoked,
 * otherwise the ledger_* reason.  A ledger without a result is treated as
 * ledger_not_in_ledger. */
struct kg_ledger_result {
	char ledger_id[65];
	kg_err result;
};

struct kg_decision {
	bool grant;
	int64_t policy_id; /* the policy that granted, or the one that explains the denial; 0 if none */
	kg_err reason;     /* KG_OK on grant */
};

/* Grants when some active policy for claims->tee is satisfied; otherwise
 * denies with the reason of the policy that came closest (the first
 * failing condition of the policy that passed the most conditions), or
 * KG_ERR_NO_POLICY when no policy applies to this TEE. */
void kg_policy_decide(const struct kg_policy *policies, size_t n, const struct kg_claims *claims,
		      const struct kg_ledger_result *ledgers, size_t n_ledgers, time_t now, struct kg_decision *out);

/* Evaluates one policy: KG_OK or the first failing condition. *passed is
 * the number of conditions that held before it. */
kg_err kg_policy_eval(const struct kg_policy *p, const struct kg_claims *claims, const struct kg_ledger_result *ledgers,
		      size_t n_ledgers, time_t now, int *passed);

/* One condition of a policy, as `keygate policy explain` prints it and the
 * audit row records it. */
#define KG_POLICY_MAX_CONDS 24
struct kg_policy_cond {
	const char *name; /* the policy column(s) it reads, e.g. "measurements", "min_tcb" */
	kg_err result;    /* KG_OK when it holds, else the denial reason */
	char claim[160];  /* the claim's value (with_text only) */
	char want[200];   /* what the policy requires (with_text only) */
};

/* Evaluates every condition of p that applies to claims->tee, without
 * stopping at the first failure, into out[0..cap); returns how many.  The
 * same conditions, in the same order, as kg_policy_eval. */
size_t kg_policy_explain(const struct kg_policy *p, const struct kg_claims *claims,
			 const struct kg_ledger_result *ledgers, size_t n_ledgers, time_t now, bool with_text,
			 struct kg_policy_cond *out, size_t cap);

/* Versions as the GPU reports them: a driver "550.90.07" (decimal, up to 4
 * parts) into out[4]; a VBIOS "96.00.9F.00.01" (hex, exactly 5 parts) into
 * out[5].  Missing driver parts are 0.  false when malformed. */
bool kg_gpu_driver_version_parse(const char *s, uint32_t out[static 4]);
bool kg_gpu_vbios_version_parse(const char *s, uint32_t out[static 5]);
/* Parsed versions of n parts compared most significant first: <0, 0, >0. */
int kg_gpu_version_cmp(const uint32_t *a, const uint32_t *b, int n);

#endif
