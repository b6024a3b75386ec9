/* Unit tests for policy/decide.c: one test per denial reason, and the
 * choice among several policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../policy/policy.h"

static uint8_t good[1][64], other[1][64];

static void claims_init(struct kg_claims *c)
{
	memset(c, 0, sizeof *c);
	c->tee = KG_TEE_SNP;
	memset(c->measurement, 0xaa, 48);
	c->measurement_len = 48;
	c->u.snp.reported_tcb.bootloader = 3;
	c->u.snp.reported_tcb.tee = 0;
	c->u.snp.reported_tcb.snp = 8;
	c->u.snp.reported_tcb.microcode = 115;
}

static void policy_init(struct kg_policy *p, int64_t id)
{
	memset(p, 0, sizeof *p);
	p->id = id;
	p->tee = KG_TEE_SNP;
	p->active = true;
	p->measurements = good;
	p->n_measurements = 1;
	p->measurement_len = 48;
	p->min_bootloader = p->min_tee = p->min_snp = p->min_microcode = p->min_fmc = -1;
	p->allowed_vmpls = 1; /* the schema's default: VMPL 0 only */
	p->tdx_tcb_statuses = 1u << KG_TDX_TCB_UP_TO_DATE; /* the schema's default */
	p->min_guest_svn = -1;
}

static int setup(void **state)
{
	(void)state;
	memset(good, 0, sizeof good);
	memset(good[0], 0xaa, 48);
	memset(other, 0, sizeof other);
	memset(other[0], 0xbb, 48);
	return 0;
}

static kg_err decide1(const struct kg_policy *p, const struct kg_claims *c, time_t now)
{
	struct kg_decision d;

	kg_policy_decide(p, 1, c, NULL, 0, now, &d);
	if (d.grant) {
		assert_int_equal(d.reason, KG_OK);
		assert_int_equal(d.policy_id, p->id);
	}
	return d.reason;
}

static void grant(void **state)
{
	struct kg_policy p;
	struct kg_claims c;

	(void)state;
	policy_init(&p, 7);
	claims_init(&c);
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);
}

static void reasons(void **state)
{
	struct kg_policy p;
	struct kg_claims c;
	struct kg_decision d;

	(void)state;
	claims_init(&c);

	policy_init(&p, 1);
	p.measurements = other;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_MEASUREMENT);

	policy_init(&p, 1);
	c.debug = true;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_DEBUG);
	p.allow_debug = true;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);
	c.debug = false;

	policy_init(&p, 1);
	c.u.snp.migrate_ma = true;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_MIGRATION);
	c.u.snp.migrate_ma = false;

	policy_init(&p, 1);
	p.min_microcode = 116;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TCB_TOO_LOW);
	p.min_microcode = 115;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);
	p.min_snp = 9;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TCB_TOO_LOW);
	policy_init(&p, 1);
	p.min_bootloader = 4;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TCB_TOO_LOW);
	policy_init(&p, 1);
	p.min_tee = 1;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TCB_TOO_LOW);

	policy_init(&p, 1);
	p.has_not_before = true;
	p.not_before = 2000;
	assert_int_equal(decide1(&p, &c, 1999), KG_ERR_POLICY_NOT_YET_VALID);
	assert_int_equal(decide1(&p, &c, 2000), KG_OK);
	p.has_not_after = true;
	p.not_after = 3000;
	assert_int_equal(decide1(&p, &c, 3000), KG_ERR_POLICY_EXPIRED);
	/* The epoch itself is a time like any other, not "unbounded". */
	policy_init(&p, 1);
	p.has_not_after = true;
	p.not_after = 0;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_POLICY_EXPIRED);
	policy_init(&p, 1);
	p.has_not_before = true;
	p.not_before = 0;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	/* A disabled policy, and a policy for another TEE, grant nothing and
	 * leave the reason "no policy". */
	policy_init(&p, 1);
	p.active = false;
	kg_policy_decide(&p, 1, &c, NULL, 0, 1000, &d);
	assert_false(d.grant);
	assert_int_equal(d.reason, KG_ERR_NO_POLICY);
	policy_init(&p, 1);
	p.tee = KG_TEE_NONE;
	kg_policy_decide(&p, 1, &c, NULL, 0, 1000, &d);
	assert_int_equal(d.reason, KG_ERR_NO_POLICY);
	kg_policy_decide(NULL, 0, &c, NULL, 0, 1000, &d);
	assert_false(d.grant);
	assert_int_equal(d.reason, KG_ERR_NO_POLICY);

	/* A measurement of another length never matches. */
	policy_init(&p, 1);
	c.measurement_len = 32;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_MEASUREMENT);
}

static void snp_conditions(void **state)
{
	static uint8_t ids[2][48], authors[1][48];
	struct kg_policy p;
	struct kg_claims c;

	(void)state;
	claims_init(&c);
	policy_init(&p, 1);

	c.u.snp.vmpl = 1;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_VMPL);
	p.allowed_vmpls = 0x3;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);
	c.u.snp.vmpl = 4; /* out of range never matches a bit */
	p.allowed_vmpls = 0xff;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_VMPL);
	c.u.snp.vmpl = 0;
	p.allowed_vmpls = 1;

	p.min_guest_svn = 5;
	c.u.snp.guest_svn = 4;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_GUEST_SVN);
	c.u.snp.guest_svn = 5;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	p.has_host_data = true;
	memset(p.host_data, 0x11, 32);
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_HOST_DATA);
	memset(c.u.snp.host_data, 0x11, 32);
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	memset(ids[0], 0x21, 48);
	memset(ids[1], 0x22, 48);
	p.id_key_digests = ids;
	p.n_id_key_digests = 2;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_ID_KEY);
	memset(c.u.snp.id_key_digest, 0x22, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	memset(authors[0], 0x31, 48);
	p.author_key_digests = authors;
	p.n_author_key_digests = 1;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_AUTHOR_KEY);
	memset(c.u.snp.author_key_digest, 0x31, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	p.min_fmc = 1;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TCB_TOO_LOW);
	c.u.snp.reported_tcb.fmc = 1;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);
}

static void tdx_conditions(void **state)
{
	static uint8_t rtmr2[2][48];
	struct kg_policy p;
	struct kg_claims c;

	(void)state;
	memset(&c, 0, sizeof c);
	c.tee = KG_TEE_TDX;
	memset(c.measurement, 0xaa, 48);
	c.measurement_len = 48;
	c.u.tdx.tcb_evaluated = true;
	c.u.tdx.tcb_status = KG_TDX_TCB_UP_TO_DATE;
	policy_init(&p, 1);
	p.tee = KG_TEE_TDX;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	/* TCB status: UpToDate only by default; others by policy; never
	 * Revoked, never unevaluated. */
	c.u.tdx.tcb_status = KG_TDX_TCB_OUT_OF_DATE;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_TCB_STATUS);
	p.tdx_tcb_statuses |= 1u << KG_TDX_TCB_OUT_OF_DATE;
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);
	c.u.tdx.tcb_status = KG_TDX_TCB_REVOKED;
	p.tdx_tcb_statuses = 0xffffffffu;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_TCB_STATUS);
	c.u.tdx.tcb_status = KG_TDX_TCB_UP_TO_DATE;
	c.u.tdx.tcb_evaluated = false;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_TCB_STATUS);
	c.u.tdx.tcb_evaluated = true;

	c.debug = true;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_DEBUG);
	c.debug = false;

	memset(rtmr2[0], 0x41, 48);
	memset(rtmr2[1], 0x42, 48);
	p.rtmr[2] = rtmr2;
	p.n_rtmr[2] = 2;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_RTMR);
	memset(c.u.tdx.td.rtmr[2], 0x42, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	p.has_mr_config_id = true;
	memset(p.mr_config_id, 0x51, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_MR_CONFIG_ID);
	memset(c.u.tdx.td.mr_config_id, 0x51, 48);
	p.has_mr_owner = true;
	memset(p.mr_owner, 0x52, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_MR_OWNER);
	memset(c.u.tdx.td.mr_owner, 0x52, 48);
	p.has_mr_owner_config = true;
	memset(p.mr_owner_config, 0x53, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_TDX_MR_OWNER_CONFIG);
	memset(c.u.tdx.td.mr_owner_config, 0x53, 48);
	assert_int_equal(decide1(&p, &c, 1000), KG_OK);

	/* A TDX policy says nothing about SNP evidence and vice versa. */
	c.tee = KG_TEE_SNP;
	assert_int_equal(decide1(&p, &c, 1000), KG_ERR_NO_POLICY);
}

static void ledger_condition(void **state)
{
	struct kg_policy p;
	struct kg_claims c;
	struct kg_decision d;
	struct kg_ledger_result r[2] = {{"other", KG_OK}, {"images", KG_ERR_LEDGER_REVOKED}};

	(void)state;
	claims_init(&c);
	policy_init(&p, 9);
	p.has_ledger = true;
	snprintf(p.ledger_id, sizeof p.ledger_id, "images");
	/* No result for the ledger: not shown to be in it. */
	kg_policy_decide(&p, 1, &c, NULL, 0, 1000, &d);
	assert_int_equal(d.reason, KG_ERR_LEDGER_NOT_IN_LEDGER);
	kg_policy_decide(&p, 1, &c, r, 1, 1000, &d);
	assert_int_equal(d.reason, KG_ERR_LEDGER_NOT_IN_LEDGER);
	/* The ledger's own verdict is the reason. */
	kg_policy_decide(&p, 1, &c, r, 2, 1000, &d);
	assert_int_equal(d.reason, KG_ERR_LEDGER_REVOKED);
	r[1].result = KG_OK;
	kg_policy_decide(&p, 1, &c, r, 2, 1000, &d);
	assert_true(d.grant);
	/* Ledger instead of a list: any measurement the ledger vouches for. */
	p.n_measurements = 0;
	memset(c.measurement, 0x77, 48);
	kg_policy_decide(&p, 1, &c, r, 2, 1000, &d);
	assert_true(d.grant);
	/* Ledger besides a list: both must hold. */
	p.n_measurements = 1;
	kg_policy_decide(&p, 1, &c, r, 2, 1000, &d);
	assert_int_equal(d.reason, KG_ERR_MEASUREMENT);
	/* Neither a list nor a ledger allows nothing. */
	p.n_measurements = 0;
	p.has_ledger = false;
	kg_policy_decide(&p, 1, &c, r, 2, 1000, &d);
	assert_int_equal(d.reason, KG_ERR_MEASUREMENT);
}

static void several(void **state)
{
	struct kg_policy p[3];
	struct kg_claims c;
	struct kg_decision d;

	(void)state;
	claims_init(&c);
	policy_init(&p[0], 10);
	p[0].measurements = other; /* fails early */
	policy_init(&p[1], 11);
	p[1].min_microcode = 200; /* fails late: the better explanation */
	policy_init(&p[2], 12);
	p[2].active = false;
	kg_policy_decide(p, 3, &c, NULL, 0, 1000, &d);
	assert_false(d.grant);
	assert_int_equal(d.reason, KG_ERR_TCB_TOO_LOW);
	assert_int_equal(d.policy_id, 11);
	/* Any satisfied policy grants. */
	p[2].active = true;
	kg_policy_decide(p, 3, &c, NULL, 0, 1000, &d);
	assert_true(d.grant);
	assert_int_equal(d.policy_id, 12);
}

/* explain walks the same conditions as the decision: the first failing
 * condition is the decision's reason, every failing one is named, and the
 * text shows the claim and the requirement. */
static void explain(void **state)
{
	struct kg_policy_cond conds[KG_POLICY_MAX_CONDS];
	struct kg_policy p;
	struct kg_claims c;
	size_t n, failed = 0;
	int passed;
	(void)state;

	policy_init(&p, 3);
	claims_init(&c);
	n = kg_policy_explain(&p, &c, NULL, 0, 1000, true, conds, KG_POLICY_MAX_CONDS);
	assert_true(n >= 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(conds[i].result, KG_OK);
	assert_string_equal(conds[0].name, "tee");

	p.measurements = other;
	p.min_microcode = 200;
	c.debug = true;
	n = kg_policy_explain(&p, &c, NULL, 0, 1000, true, conds, KG_POLICY_MAX_CONDS);
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_MEASUREMENT);
	for (size_t i = 0; i < n; i++) {
		if (conds[i].result == KG_OK)
			continue;
		if (failed++ == 0)
			assert_int_equal(conds[i].result, KG_ERR_MEASUREMENT);
		if (strcmp(conds[i].name, "min_tcb") == 0) {
			assert_int_equal(conds[i].result, KG_ERR_TCB_TOO_LOW);
			assert_non_null(strstr(conds[i].claim, "microcode=115"));
			assert_non_null(strstr(conds[i].want, "microcode>=200"));
		}
		if (strcmp(conds[i].name, "measurements") == 0)
			assert_non_null(strstr(conds[i].claim, "aaaaaaaa"));
	}
	assert_int_equal(failed, 3); /* measurements, allow_debug, min_tcb */
	/* Without text the results are the same and the text stays empty. */
	n = kg_policy_explain(&p, &c, NULL, 0, 1000, false, conds, KG_POLICY_MAX_CONDS);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(conds[i].claim, "");
	/* TDX claims get the TDX conditions, not the SEV-SNP ones. */
	c.tee = KG_TEE_TDX;
	p.tee = KG_TEE_TDX;
	n = kg_policy_explain(&p, &c, NULL, 0, 1000, false, conds, KG_POLICY_MAX_CONDS);
	for (size_t i = 0; i < n; i++)
		assert_null(strstr(conds[i].name, "min_tcb"));
	assert_string_equal(conds[n - 8].name, "tdx_mr_owner_config");
	assert_string_equal(conds[n - 1].name, "gpu_min_vbios_version");
	/* cap bounds what is written. */
	assert_int_equal(kg_policy_explain(&p, &c, NULL, 0, 1000, false, conds, 2), 2);
}

/* Which version a policy releases (policy/version.c). */
static void versions(void **state)
{
	struct kg_policy p;
	struct kg_version_info v[4] = {{3, KG_VERSION_ACTIVE}, {1, KG_VERSION_ACTIVE}, {2, KG_VERSION_DISABLED},
				       {4, KG_VERSION_DESTROYED}};
	uint32_t out = 99;

	(void)state;
	memset(&p, 0, sizeof p);
	/* No rule: the newest active version only. */
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 0, &out), KG_OK);
	assert_int_equal(out, 3);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 3, &out), KG_OK);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 1, &out), KG_ERR_KEY_VERSION_NOT_ALLOWED);
	assert_int_equal(out, 0);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 2, &out), KG_ERR_KEY_VERSION_DISABLED);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 4, &out), KG_ERR_KEY_VERSION_DESTROYED);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 5, &out), KG_ERR_KEY_VERSION_UNKNOWN);
	assert_int_equal(kg_policy_pick_version(&p, v, 0, 0, &out), KG_ERR_KEY_MISSING);
	/* min_version. */
	p.min_version = 1;
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 1, &out), KG_OK);
	assert_int_equal(out, 1);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 0, &out), KG_OK);
	assert_int_equal(out, 3);
	p.min_version = 4;
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 0, &out), KG_ERR_KEY_VERSION_NOT_ALLOWED);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 3, &out), KG_ERR_KEY_VERSION_NOT_ALLOWED);
	/* allowed_versions: the newest listed active one, not the newest. */
	p.min_version = 0;
	p.allowed_versions[0] = 1;
	p.allowed_versions[1] = 2;
	p.n_allowed_versions = 2;
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 0, &out), KG_OK);
	assert_int_equal(out, 1);
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 3, &out), KG_ERR_KEY_VERSION_NOT_ALLOWED);
	/* Both rules must hold. */
	p.min_version = 2;
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 0, &out), KG_ERR_KEY_VERSION_NOT_ALLOWED);
	/* Nothing active: the newest version's state explains it. */
	memset(&p, 0, sizeof p);
	v[0].state = KG_VERSION_DISABLED;
	v[1].state = KG_VERSION_DESTROYED;
	assert_int_equal(kg_policy_pick_version(&p, v, 4, 0, &out), KG_ERR_KEY_VERSION_DESTROYED);
	assert_int_equal(kg_policy_pick_version(&p, v, 3, 0, &out), KG_ERR_KEY_VERSION_DISABLED);
}

/* GPU conditions: nothing asked without gpu_count; then the count, failures,
 * CC mode, RIMs, and the version floors, each with its reason. */
static void gpu_conditions(void **state)
{
	struct kg_policy p;
	struct kg_claims c;
	struct kg_gpu_summary g;
	int passed;
	(void)state;

	policy_init(&p, 5);
	claims_init(&c);
	p.gpu_require_cc = p.gpu_require_rims = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_OK); /* no GPU asked */
	p.gpu_count = 1;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_REQUIRED);
	memset(&g, 0, sizeof g);
	g.rims = KG_ERR_GPU_RIM_MISSING;
	c.gpus = &g;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_REQUIRED);
	g.n_gpus = 1;
	g.n_failed = 1;
	g.first_error = KG_ERR_GPU_NONCE;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_NONCE);
	g.n_failed = 0;
	g.first_error = KG_OK;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_CC);
	g.all_cc = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_RIM_MISSING);
	g.rims = KG_ERR_GPU_MEASUREMENT;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_MEASUREMENT);
	p.gpu_require_rims = false;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_OK);
	p.gpu_require_ocsp = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_OCSP_MISSING);
	g.all_ocsp = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_OK);
	p.nvswitch_count = 2;
	g.n_switches = 1;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_NVSWITCH);
	g.n_switches = 2;
	assert_true(kg_gpu_driver_version_parse("550.90.07", p.gpu_min_driver));
	p.has_gpu_min_driver = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_DRIVER); /* unknown */
	assert_true(kg_gpu_driver_version_parse("550.54.15", g.min_driver));
	g.has_driver = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_DRIVER);
	assert_true(kg_gpu_driver_version_parse("550.90.7", g.min_driver)); /* 7 == 07 */
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_OK);
	assert_true(kg_gpu_driver_version_parse("560", g.min_driver));
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_OK);
	assert_true(kg_gpu_vbios_version_parse("96.00.9F.00.01", p.gpu_min_vbios));
	p.has_gpu_min_vbios = true;
	assert_true(kg_gpu_vbios_version_parse("96.00.5e.00.01", g.min_vbios));
	g.has_vbios = true;
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_ERR_GPU_VBIOS);
	assert_true(kg_gpu_vbios_version_parse("96.00.A0.00.00", g.min_vbios));
	assert_int_equal(kg_policy_eval(&p, &c, NULL, 0, 1000, &passed), KG_OK);
	/* Malformed versions never parse. */
	assert_false(kg_gpu_driver_version_parse("", g.min_driver));
	assert_false(kg_gpu_driver_version_parse("550..1", g.min_driver));
	assert_false(kg_gpu_driver_version_parse("1.2.3.4.5", g.min_driver));
	assert_false(kg_gpu_driver_version_parse("1234567", g.min_driver));
	assert_false(kg_gpu_vbios_version_parse("96.00.9F.00", g.min_vbios));
	assert_false(kg_gpu_vbios_version_parse("96.00.9G.00.01", g.min_vbios));
	assert_false(kg_gpu_vbios_version_parse("96.00.9F.00.01.", g.min_vbios));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(grant, setup),
		cmocka_unit_test_setup(reasons, setup),
		cmocka_unit_test_setup(snp_conditions, setup),
		cmocka_unit_test_setup(tdx_conditions, setup),
		cmocka_unit_test_setup(ledger_condition, setup),
		cmocka_unit_test_setup(several, setup),
		cmocka_unit_test_setup(explain, setup),
		cmocka_unit_test(versions),
		cmocka_unit_test_setup(gpu_conditions, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
