#include <string.h>

#include <openssl/crypto.h>

#include "policy.h"

/* An empty list allows any digest. */
static bool digest_allowed(const uint8_t (*list)[48], size_t n, const uint8_t d[static 48])
{
	bool found = n == 0;

	for (size_t i = 0; i < n; i++)
		found |= CRYPTO_memcmp(list[i], d, 48) == 0;
	return found;
}

kg_err kg_policy_eval(const struct kg_policy *p, const struct kg_claims *c, const struct kg_ledger_result *ledgers,
		      size_t n_ledgers, time_t now, int *passed)
{
	bool found = false;

	*passed = 0;
	/* Conditions in order from "does this policy apply" to "is this guest
	 * acceptable"; the count lets the caller pick the most relevant
	 * reason among several policies. */
	KG_ENSURE(p->tee == c->tee, KG_ERR_TEE_NOT_ALLOWED);
	++*passed;
	KG_ENSURE(p->active, KG_ERR_NO_POLICY);
	++*passed;
	KG_ENSURE(!p->has_not_before || now >= p->not_before, KG_ERR_POLICY_NOT_YET_VALID);
	++*passed;
	KG_ENSURE(!p->has_not_after || now < p->not_after, KG_ERR_POLICY_EXPIRED);
	++*passed;
	/* A measurement list, a ledger, or both; a policy with neither (the
	 * schema forbids it) allows nothing. */
	KG_ENSURE(p->n_measurements > 0 || p->has_ledger, KG_ERR_MEASUREMENT);
	for (size_t i = 0; i < p->n_measurements; i++)
		if (p->measurement_len == c->measurement_len &&
		    CRYPTO_memcmp(p->measurements[i], c->measurement, c->measurement_len) == 0)
			found = true;
	KG_ENSURE(found || p->n_measurements == 0, KG_ERR_MEASUREMENT);
	++*passed;
	if (p->has_ledger) {
		kg_err r = KG_ERR_LEDGER_NOT_IN_LEDGER;
		for (size_t i = 0; i < n_ledgers; i++)
			if (strcmp(ledgers[i].ledger_id, p->ledger_id) == 0)
				r = ledgers[i].result;
		KG_TRY(r);
	}
	++*passed;
	KG_ENSURE(!c->debug || p->allow_debug, KG_ERR_DEBUG);
	++*passed;
	if (c->tee == KG_TEE_SNP) {
		const struct kg_snp_report *r = &c->u.snp;
		KG_ENSURE(!r->migrate_ma || p->allow_migration_agent, KG_ERR_MIGRATION);
		++*passed;
		/* The floor applies to REPORTED_TCB: the VCEK is derived from it,
		 * while CURRENT_TCB is whatever the host chose to load. */
		KG_ENSURE(p->min_bootloader < 0 || r->reported_tcb.bootloader >= p->min_bootloader,
			  KG_ERR_TCB_TOO_LOW);
		KG_ENSURE(p->min_tee < 0 || r->reported_tcb.tee >= p->min_tee, KG_ERR_TCB_TOO_LOW);
		KG_ENSURE(p->min_snp < 0 || r->reported_tcb.snp >= p->min_snp, KG_ERR_TCB_TOO_LOW);
		KG_ENSURE(p->min_microcode < 0 || r->reported_tcb.microcode >= p->min_microcode, KG_ERR_TCB_TOO_LOW);
		KG_ENSURE(p->min_fmc < 0 || r->reported_tcb.fmc >= p->min_fmc, KG_ERR_TCB_TOO_LOW);
		++*passed;
		/* VMPL 0 is the guest's most privileged level; a request from a
		 * less privileged one is refused unless the policy names it. */
		KG_ENSURE(r->vmpl < 4 && (p->allowed_vmpls >> r->vmpl) & 1, KG_ERR_VMPL);
		++*passed;
		KG_ENSURE(p->min_guest_svn < 0 || (int64_t)r->guest_svn >= p->min_guest_svn, KG_ERR_GUEST_SVN);
		++*passed;
		KG_ENSURE(!p->has_host_data || CRYPTO_memcmp(p->host_data, r->host_data, 32) == 0, KG_ERR_HOST_DATA);
		++*passed;
		KG_ENSURE(digest_allowed(p->id_key_digests, p->n_id_key_digests, r->id_key_digest), KG_ERR_ID_KEY);
		++*passed;
		KG_ENSURE(digest_allowed(p->author_key_digests, p->n_author_key_digests, r->author_key_digest),
			  KG_ERR_AUTHOR_KEY);
		++*passed;
	}
	if (c->tee == KG_TEE_TDX) {
		const struct kg_tdx_claims *t = &c->u.tdx;
		/* Only an evaluated TCB can be accepted, and never a revoked one. */
		KG_ENSURE(t->tcb_evaluated && t->tcb_status != KG_TDX_TCB_REVOKED &&
				  (p->tdx_tcb_statuses >> t->tcb_status) & 1,
			  KG_ERR_TDX_TCB_STATUS);
		++*passed;
		for (int i = 0; i < 4; i++)
			KG_ENSURE(digest_allowed(p->rtmr[i], p->n_rtmr[i], t->td.rtmr[i]), KG_ERR_TDX_RTMR);
		++*passed;
		KG_ENSURE(!p->has_mr_config_id || CRYPTO_memcmp(p->mr_config_id, t->td.mr_config_id, 48) == 0,
			  KG_ERR_TDX_MR_CONFIG_ID);
		KG_ENSURE(!p->has_mr_owner || CRYPTO_memcmp(p->mr_owner, t->td.mr_owner, 48) == 0,
			  KG_ERR_TDX_MR_OWNER);
		KG_ENSURE(!p->has_mr_owner_config || CRYPTO_memcmp(p->mr_owner_config, t->td.mr_owner_config, 48) == 0,
			  KG_ERR_TDX_MR_OWNER_CONFIG);
		++*passed;
	}
	return KG_OK;
}

void kg_policy_decide(const struct kg_policy *policies, size_t n, const struct kg_claims *claims,
		      const struct kg_ledger_result *ledgers, size_t n_ledgers, time_t now, struct kg_decision *out)
{
	int best = -1;

	out->grant = false;
	out->policy_id = 0;
	out->reason = KG_ERR_NO_POLICY;
	for (size_t i = 0; i < n; i++) {
		int passed;
		kg_err e = kg_policy_eval(&policies[i], claims, ledgers, n_ledgers, now, &passed);
		if (e == KG_OK) {
			out->grant = true;
			out->policy_id = policies[i].id;
			out->reason = KG_OK;
			return;
		}
		/* Policies for another TEE or disabled ones explain nothing. */
		if (e == KG_ERR_TEE_NOT_ALLOWED || e == KG_ERR_NO_POLICY)
			continue;
		if (passed > best) {
			best = passed;
			out->policy_id = policies[i].id;
			out->reason = e;
		}
	}
}
