/*
 * Unit tests for client/evidence.c: kg_evidence_check on evidence from the
 * SEV-SNP and TDX simulators and on cut or altered copies (one test per
 * reason it returns), kg_sev_guest_report on MSG_REPORT_RSP layouts, and
 * the failure paths of kg_tsm_get and kg_sev_guest_get that need no
 * kernel (the kernel-like paths are tests/e2e/tsm.sh, against fake_tsm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../attest/ratls.h"
#include "../../attest/snp.h"
#include "../../attest/snp_sim.h"
#include "../../attest/tdx_sim.h"
#include "../../client/evidence.h"

static struct {
	char dir[64];
	uint8_t rd[64];
	uint8_t *snp, *tdx; /* report ‖ certificate table; quote */
	size_t snp_len, tdx_len;
} fx;

static int setup(void **state)
{
	char d[128];

	snprintf(fx.dir, sizeof fx.dir, "/tmp/kg-test-evidence.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	for (int i = 0; i < 64; i++)
		fx.rd[i] = (uint8_t)(i * 7 + 1);
	snprintf(d, sizeof d, "%s/snp", fx.dir);
	if (kg_snp_sim_init(d) != KG_OK || kg_snp_sim_attest(d, NULL, fx.rd, &fx.snp, &fx.snp_len) != KG_OK)
		return -1;
	snprintf(d, sizeof d, "%s/tdx", fx.dir);
	if (kg_tdx_sim_init(d) != KG_OK || kg_tdx_sim_quote(d, NULL, fx.rd, &fx.tdx, &fx.tdx_len) != KG_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	free(fx.snp);
	free(fx.tdx);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_snp_evidence(void **state)
{
	uint8_t other[64];

	assert_true(fx.snp_len > KG_SNP_REPORT_SIZE);
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_SNP, fx.snp, fx.snp_len, fx.rd), KG_OK);
	/* The bare report (a host without a certificate table). */
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_SNP, fx.snp, KG_SNP_REPORT_SIZE, fx.rd), KG_OK);
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_SNP, fx.snp, KG_SNP_REPORT_SIZE - 1, fx.rd),
			 KG_ERR_EVIDENCE_SIZE);
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_SNP, fx.snp, 0, fx.rd), KG_ERR_EVIDENCE_SIZE);
	memcpy(other, fx.rd, 64);
	other[63] ^= 1;
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_SNP, fx.snp, fx.snp_len, other),
			 KG_ERR_EVIDENCE_REPORT_DATA);
	/* A certificate table cut short. */
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_SNP, fx.snp, KG_SNP_REPORT_SIZE + 30, fx.rd),
			 KG_ERR_SNP_CERT_TABLE);
	assert_int_equal(kg_evidence_check(12345, fx.snp, fx.snp_len, fx.rd), KG_ERR_INVALID_ARG);
}

static void test_tdx_evidence(void **state)
{
	uint8_t other[64];

	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_INTEL_QUOTE, fx.tdx, fx.tdx_len, fx.rd), KG_OK);
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_INTEL_QUOTE, fx.tdx, 100, fx.rd), KG_ERR_EVIDENCE_SIZE);
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_INTEL_QUOTE, fx.tdx, fx.tdx_len - 1, fx.rd),
			 KG_ERR_EVIDENCE_SIZE);
	memcpy(other, fx.rd, 64);
	other[0] ^= 1;
	assert_int_equal(kg_evidence_check(KG_RATLS_TAG_INTEL_QUOTE, fx.tdx, fx.tdx_len, other),
			 KG_ERR_EVIDENCE_REPORT_DATA);
	/* An SNP report is no quote. */
	assert_int_not_equal(kg_evidence_check(KG_RATLS_TAG_INTEL_QUOTE, fx.snp, fx.snp_len, fx.rd), KG_OK);
}

/* MSG_REPORT_RSP: status u32le, report_size u32le, 24 reserved, report. */
static void test_sev_guest_report(void **state)
{
	uint8_t resp[4000] = {0};
	const uint8_t *r = (const uint8_t *)"x";

	resp[4] = KG_SNP_REPORT_SIZE & 0xff;
	resp[5] = KG_SNP_REPORT_SIZE >> 8;
	memcpy(resp + KG_SNP_MSG_REPORT_RSP_HDR, fx.snp, KG_SNP_REPORT_SIZE);
	assert_int_equal(kg_sev_guest_report(resp, sizeof resp, &r), KG_OK);
	assert_ptr_equal(r, resp + KG_SNP_MSG_REPORT_RSP_HDR);
	assert_int_equal(kg_sev_guest_report(resp, KG_SNP_MSG_REPORT_RSP_HDR + KG_SNP_REPORT_SIZE - 1, &r),
			 KG_ERR_EVIDENCE_SIZE);
	assert_null(r);
	assert_int_equal(kg_sev_guest_report(resp, 7, &r), KG_ERR_TRUNCATED);
	resp[4] = 0;
	assert_int_equal(kg_sev_guest_report(resp, sizeof resp, &r), KG_ERR_EVIDENCE_SIZE);
	resp[4] = KG_SNP_REPORT_SIZE & 0xff;
	resp[0] = 0x16; /* SEV_RET_INVALID_PARAM */
	assert_int_equal(kg_sev_guest_report(resp, sizeof resp, &r), KG_ERR_SEV_GUEST);
}

static void test_tsm_failures(void **state)
{
	struct kg_evidence_diag d;
	uint8_t *ev = (uint8_t *)"x";
	size_t len = 1;
	uint64_t tag = 1;
	char root[128], file[160];

	/* No root at all. */
	snprintf(root, sizeof root, "%s/no-such-root", fx.dir);
	assert_int_equal(kg_tsm_get(root, -1, fx.rd, &tag, &ev, &len, &d), KG_ERR_TSM_UNAVAILABLE);
	assert_null(ev);
	assert_int_equal(len, 0);
	assert_non_null(strstr(d.msg, "No such file"));
	/* A plain directory: the entry has no provider, and is removed. */
	snprintf(root, sizeof root, "%s/plain", fx.dir);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(kg_tsm_get(root, -1, fx.rd, &tag, &ev, &len, &d), KG_ERR_TSM_PROVIDER);
	assert_non_null(strstr(d.msg, "provider: missing"));
	assert_int_equal(rmdir(root), 0); /* empty again */
	/* A root that is a file. */
	snprintf(file, sizeof file, "%s/file", fx.dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(kg_tsm_get(file, -1, fx.rd, &tag, &ev, &len, &d), KG_ERR_TSM_UNAVAILABLE);
	assert_int_equal(kg_tsm_get(fx.dir, 4, fx.rd, &tag, &ev, &len, &d), KG_ERR_INVALID_ARG);
}

static void test_sev_guest_failures(void **state)
{
	struct kg_evidence_diag d;
	uint8_t *ev = (uint8_t *)"x";
	size_t len = 1;
	char dev[128];

	snprintf(dev, sizeof dev, "%s/sev-guest", fx.dir);
	assert_int_equal(kg_sev_guest_get(dev, 0, fx.rd, &ev, &len, &d), KG_ERR_SEV_GUEST);
	assert_null(ev);
	assert_int_equal(len, 0);
	/* A device that does not know the ioctl. */
	assert_int_equal(kg_sev_guest_get("/dev/null", 0, fx.rd, &ev, &len, &d), KG_ERR_SEV_GUEST);
	assert_non_null(strstr(d.msg, "SNP_GET_EXT_REPORT"));
	assert_int_equal(kg_sev_guest_get("/dev/null", 4, fx.rd, &ev, &len, &d), KG_ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_evidence),   cmocka_unit_test(test_tdx_evidence),
		cmocka_unit_test(test_sev_guest_report), cmocka_unit_test(test_tsm_failures),
		cmocka_unit_test(test_sev_guest_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
