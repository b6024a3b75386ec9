/*
 * Unit tests for attest/nvgpu.c and attest/nvgpu_rim.c: every real NVIDIA
 * GPU / NVSwitch report under $KG_VECTORS/gpu gets the verdict of
 * EXPECTED.md §7 (signature, chain, FWID, nonce), the broken chains and
 * invalid signatures their own reason codes, the RIMs their XML-DSig
 * verdicts and the listed match/mismatch indexes; then negatives made
 * here (flipped bytes, truncations, trailing bytes, wrong nonce) and a
 * FWID mismatch, which needs a report signed by a key of our own: a test
 * root, intermediate and leaf made here re-sign a real report.
 *
 * Times are pinned: T_NOW = 2026-11-29 (the device chains run to 9999, the
 * switch RIM and the 550.144.03 driver RIM are valid), T_2024_12 =
 * 2024-12-01 (the nvtrust sample RIMs' signers are valid; they expired in
 * 2025).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../attest/nvgpu.h"
#include "../../attest/sim_pki.h"
#include "../../common/util.h"
#include "vectors.h"

#define T_NOW ((time_t)1795910400)    /* 2026-11-29 */
#define T_2024_12 ((time_t)1733011200) /* 2024-12-01 */
#define T_2025_06 ((time_t)1748736000) /* 2025-06-01 */
#define T_570_RIM ((time_t)1735732800) /* 2025-01-01T12:00Z, the 570 RIM signer's one day */

#define NONCE_931D "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"

static struct kg_gpu_verifier *ver;

static int group_setup(void **state)
{
	(void)state;
	return kg_gpu_verifier_new(&ver, NULL, NULL) == KG_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	kg_gpu_verifier_free(ver);
	return 0;
}

static void nonce_of(const char *hex, uint8_t out[32])
{
	assert_int_equal(kg_unhex(out, 32, hex), KG_OK);
}

static void hex_eq(const uint8_t *b, size_t n, const char *want)
{
	char s[2 * 64 + 1];

	assert_true(n <= 64);
	kg_hex(s, b, n);
	assert_string_equal(s, want);
}

/* Verifies report + chain files (relative to $KG_VECTORS/gpu) with the
 * given nonce (hex, or NULL) and RIM files (or NULL). */
static kg_err verify_files(const char *report, const char *chain, const char *nonce_hex, const char *drv,
			   const char *vb, time_t now, struct kg_gpu_claims *cl)
{
	char p[4][256];
	struct blob r, c, d = {NULL, 0}, v = {NULL, 0};
	struct kg_gpu_input in;
	uint8_t nonce[32];
	kg_err e;

	snprintf(p[0], sizeof p[0], "gpu/%s", report);
	snprintf(p[1], sizeof p[1], "gpu/%s", chain);
	r = vec_read(p[0]);
	c = vec_read(p[1]);
	if (drv) {
		snprintf(p[2], sizeof p[2], "gpu/%s", drv);
		d = vec_read(p[2]);
	}
	if (vb) {
		snprintf(p[3], sizeof p[3], "gpu/%s", vb);
		v = vec_read(p[3]);
	}
	memset(&in, 0, sizeof in);
	in.report = r.p;
	in.report_len = r.len;
	in.chain_pem = c.p;
	in.chain_len = c.len;
	if (nonce_hex) {
		nonce_of(nonce_hex, nonce);
		in.nonce = nonce;
	}
	in.driver_rim = d.p;
	in.driver_rim_len = d.len;
	in.vbios_rim = v.p;
	in.vbios_rim_len = v.len;
	e = kg_gpu_verify(ver, &in, now, cl);
	if (getenv("KG_TEST_VERBOSE"))
		fprintf(stderr, "%s: %s\n", report, kg_err_code(e));
	blob_free(&r);
	blob_free(&c);
	blob_free(&d);
	blob_free(&v);
	return e;
}

/* ------------------------------------------------------------------------
 * Real reports: valid ones (EXPECTED.md §7.1-7.3)
 */

struct valid_case {
	const char *report, *chain, *nonce;
	enum kg_gpu_arch arch;
	const char *driver, *vbios;
	size_t blocks, padding;
	bool fwid;
	const char *fwid_prefix; /* first 8 bytes, hex */
};

static const struct valid_case valid_cases[] = {
	{"nvtrust-lgv-sample/hopperAttestationReport.txt", "nvtrust-lgv-sample/hopperCertChain.txt", NONCE_931D,
	 KG_GPU_ARCH_HOPPER, "550.90.07", "96.00.9F.00.01", 64, 0, true, "f5c384aebb579217"},
	{"nvtrust-lgv-sample/report.bin", "trustee-hopper/hopper_cert_chain_case1.txt", NONCE_931D,
	 KG_GPU_ARCH_HOPPER, "550.90.07", "96.00.9F.00.01", 64, 0, true, "f5c384aebb579217"},
	{"trustee-hopper/hopper_coco_report1.txt", "trustee-hopper/hopper_coco_certs1.txt",
	 "87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fec", KG_GPU_ARCH_HOPPER, "580.95.05",
	 "96.00.74.00.1A", 64, 1, true, "f1ae7d0093a3f568"},
	{"nvat/hopper-580/hopperAttestationReport.txt", "nvat/hopper-580/hopperCertChain.txt",
	 "5bb22e377702d4e1e8215a903ba094826b9ac7f731dee1fe8102958bf2840aca", KG_GPU_ARCH_HOPPER, "580.159.03",
	 "96.00.74.00.20", 64, 0, true, "f1ae7d0093a3f568"},
	{"nvat/hopper-535/hopperAttestationReport.txt", "nvat/hopper-535/hopperCertChain.txt",
	 "27a328247bf7935c993341cf587be6f05986ccce4fe7ba2c54100bd616a58f66", KG_GPU_ARCH_HOPPER, "535.86.09",
	 "96.00.5E.00.01", 64, 0, false, NULL},
	{"nvat/hopper-570-expired-rim/hopperAttestationReportExpired.txt",
	 "nvat/hopper-570-expired-rim/hopperCertChainExpired.txt", NONCE_931D, KG_GPU_ARCH_HOPPER, "570.124.03",
	 "96.00.5E.00.04", 64, 0, true, "e9960d6a"},
	{"nvat/blackwell/blackwellAttestationReport.txt", "nvat/blackwell/blackwellCertChain.txt", NONCE_931D,
	 KG_GPU_ARCH_BLACKWELL, "575.32", "97.00.88.00.0F", 0, 0, true, "d090cab1"},
	{"nvat/switch-ls10/switchAttestationReport.txt", "nvat/switch-ls10/switchCertChain.txt", NONCE_931D,
	 KG_GPU_ARCH_NVSWITCH, "", "96.10.55.00.01", 31, 0, false, NULL},
};

static void real_reports_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
		const struct valid_case *t = &valid_cases[i];
		struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
		char fw[97];
		kg_err e;

		assert_non_null(cl);
		e = verify_files(t->report, t->chain, t->nonce, NULL, NULL, T_NOW, cl);
		if (e != KG_OK)
			fail_msg("%s: %s", t->report, kg_err_code(e));
		assert_int_equal(cl->arch, t->arch);
		assert_string_equal(cl->report.driver_version, t->driver);
		assert_string_equal(cl->report.vbios_version, t->vbios);
		if (t->blocks)
			assert_int_equal(cl->report.n_blocks, t->blocks);
		assert_int_equal(cl->report.padding_len, t->padding);
		assert_int_equal(cl->report.has_fwid, t->fwid);
		assert_int_equal(cl->fwid_bound, t->fwid);
		if (t->fwid_prefix) {
			kg_hex(fw, cl->report.fwid, KG_GPU_FWID_SIZE);
			assert_memory_equal(fw, t->fwid_prefix, strlen(t->fwid_prefix));
		}
		assert_false(cl->rims_compared);
		/* The same again: from the chain cache, same verdict. */
		assert_int_equal(verify_files(t->report, t->chain, t->nonce, NULL, NULL, T_NOW, cl), KG_OK);
		free(cl);
	}
}

/* Details EXPECTED.md names: full nvtrust sample FWID, ueids, hwmodels. */
static void real_report_details(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	(void)state;

	assert_non_null(cl);
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "nvtrust-lgv-sample/hopperCertChain.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_OK);
	hex_eq(cl->report.fwid, 48,
	       "f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762b1f75d");
	assert_string_equal(cl->report.project, "1010");
	assert_string_equal(cl->report.project_sku, "0200");
	assert_string_equal(cl->report.chip_sku, "882");
	assert_string_equal(cl->leaf_cn, "GH100 A01 GSP FMC LF");
	/* Non-zero blocks 2, 10, 36 (trustee's claims). */
	for (size_t i = 0; i < cl->report.n_blocks; i++) {
		const struct kg_gpu_block *b = &cl->report.blocks[i];
		assert_int_equal(b->index, i + 1);
		assert_int_equal(b->len, 48);
		if (b->index == 2)
			hex_eq(b->value, 4, "8048dfd1");
		if (b->index == 10)
			hex_eq(b->value, 8, "059b32e712a153f4");
		if (b->index == 36)
			hex_eq(b->value, 8, "c0962ed90316ecea");
	}
	assert_true(cl->report.has_nvdec0 && cl->report.nvdec0_status == KG_GPU_STATUS_DISABLED);

	assert_int_equal(verify_files("nvat/hopper-580/report.bin", "nvat/hopper-580/hopperCertChain.txt",
				      "5bb22e377702d4e1e8215a903ba094826b9ac7f731dee1fe8102958bf2840aca", NULL, NULL,
				      T_NOW, cl),
			 KG_OK);
	assert_string_equal(cl->ueid, "509096176156678437554566035365892618958504054724");
	assert_int_equal(cl->report.opaque_version, 1);
	assert_true(cl->report.has_feature_flag && cl->report.feature_flag == KG_GPU_FEATURE_SPT);
	hex_eq(cl->report.board_id, cl->report.board_id_len, "a1040000");

	assert_int_equal(verify_files("nvat/blackwell/report.bin", "nvat/blackwell/blackwellCertChain.txt", NONCE_931D,
				      NULL, NULL, T_NOW, cl),
			 KG_OK);
	assert_string_equal(cl->ueid, "474146966256510137525212816567191319424869109849");
	assert_string_equal(cl->report.project, "G525");
	hex_eq(cl->report.fwid, 48,
	       "d090cab1b6e6ffddca83d1781e25b3f040fa1f3c7608230cb5f41b1c1b99f5f748349e59d0ef8eb830c9bc79ccf77502");

	assert_int_equal(verify_files("nvat/switch-ls10/report.bin", "nvat/switch-ls10/switchCertChain.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_OK);
	assert_true(cl->report.has_switch_pdi);
	assert_string_equal(cl->leaf_cn, "LS_10 A01 FSP FMC LF");
	free(cl);
}

/* Our parse equals NVIDIA's (attestation-sdk spdm_parsed_output.json for
 * hopper-580) and trustee's (expected claims of the nvtrust sample). */
static void parse_matches_other_parsers(void **state)
{
	struct kg_gpu_report *r = calloc(1, sizeof *r);
	struct blob b = vec_read("gpu/nvat/hopper-580/report.bin");
	struct blob j = vec_read("gpu/nvat/hopper-580/spdm_parsed_output.json");
	json_t *o = json_loadb((const char *)j.p, j.len, 0, NULL), *blocks;
	char hex[2 + 2 * 96 + 1];
	(void)state;

	assert_non_null(r);
	assert_non_null(o);
	assert_int_equal(kg_gpu_report_parse(b.p, b.len, r), KG_OK);
	assert_int_equal(r->n_blocks, json_integer_value(json_object_get(o, "NumberOfBlocks")));
	hex[0] = '0';
	hex[1] = 'x';
	kg_hex(hex + 2, r->resp_nonce, 32);
	assert_string_equal(hex, json_string_value(json_object_get(o, "Nonce")));
	kg_hex(hex + 2, r->signature, 96);
	assert_string_equal(hex, json_string_value(json_object_get(o, "Signature")));
	blocks = json_object_get(json_object_get(o, "MeasurementRecord"), "MeasurementBlocks");
	assert_int_equal(json_object_size(blocks), r->n_blocks);
	for (size_t i = 0; i < r->n_blocks; i++) {
		char key[8];
		json_t *blk;
		snprintf(key, sizeof key, "%u", r->blocks[i].index);
		blk = json_object_get(blocks, key);
		assert_non_null(blk);
		assert_int_equal(r->blocks[i].dmtf_type,
				 json_integer_value(json_object_get(blk, "DMTFSpecMeasurementValueType")));
		assert_int_equal(r->blocks[i].len,
				 json_integer_value(json_object_get(blk, "DMTFSpecMeasurementValueSize")));
		kg_hex(hex + 2, r->blocks[i].value, r->blocks[i].len);
		assert_string_equal(hex, json_string_value(json_object_get(blk, "DMTFSpecMeasurementValue")));
	}
	json_decref(o);
	blob_free(&j);
	blob_free(&b);

	b = vec_read("gpu/nvtrust-lgv-sample/report.bin");
	j = vec_read("gpu/trustee-hopper/hopperAttestationReport-claims.txt");
	o = json_loadb((const char *)j.p, j.len, 0, NULL);
	assert_non_null(o);
	assert_int_equal(kg_gpu_report_parse(b.p, b.len, r), KG_OK);
	blocks = json_object_get(o, "measurements");
	assert_int_equal(json_object_size(blocks), r->n_blocks);
	for (size_t i = 0; i < r->n_blocks; i++) {
		char key[8];
		snprintf(key, sizeof key, "%u", r->blocks[i].index);
		kg_hex(hex, r->blocks[i].value, r->blocks[i].len);
		assert_string_equal(hex, json_string_value(json_object_get(blocks, key)));
	}
	{
		json_t *cfg = json_object_get(o, "config");
		kg_hex(hex, r->board_id, r->board_id_len);
		assert_string_equal(hex, json_string_value(json_object_get(cfg, "board_id")));
		assert_string_equal(r->driver_version, json_string_value(json_object_get(cfg, "driver_version")));
		const char *vb = json_string_value(json_object_get(cfg, "vbios_version"));
		assert_int_equal(strcasecmp(r->vbios_version, vb), 0);
		kg_hex(hex, r->fwid, 48);
		assert_string_equal(hex, json_string_value(json_object_get(cfg, "fwid")));
	}
	json_decref(o);
	blob_free(&j);
	blob_free(&b);
	free(r);
}

/* nvat / nvtrust serialized evidence: [{certificate, evidence (base64),
 * nonce}], every entry valid with its nonce (EXPECTED.md §7.3, §7.4). */
static uint8_t *b64(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *out = malloc(n / 4 * 3 + 1);
	int dl;

	assert_non_null(out);
	assert_true(n % 4 == 0 && n > 0);
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	dl = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	assert_true(dl >= 0);
	*len = (size_t)dl - pad;
	return out;
}

static void evidence_json(void **state)
{
	static const struct {
		const char *file;
		size_t n;
		enum kg_gpu_arch arch;
		const char *driver;
		int feature; /* -1 = absent */
	} files[] = {
		{"gpu/nvat/evidence/hopper_evidence.json", 1, KG_GPU_ARCH_HOPPER, "590.12", KG_GPU_FEATURE_PPCIE},
		{"gpu/nvat/evidence/multi_gpu_hopper.json", 4, KG_GPU_ARCH_HOPPER, NULL, -2},
		{"gpu/nvat/evidence/switch_evidence_ls10.json", 1, KG_GPU_ARCH_NVSWITCH, NULL, -2},
		{"gpu/nvat/evidence/hopper_evidence_cert_hold.json", 1, KG_GPU_ARCH_HOPPER, "570.86.10", -2},
		{"gpu/nvtrust-ppcie/gpu_evidence.json", 8, KG_GPU_ARCH_HOPPER, "590.12", KG_GPU_FEATURE_PPCIE},
		{"gpu/nvtrust-ppcie/switch_evidence.json", 4, KG_GPU_ARCH_NVSWITCH, NULL, -2},
	};
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	(void)state;

	assert_non_null(cl);
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		struct blob b = vec_read(files[f].file);
		json_t *arr = json_loadb((const char *)b.p, b.len, 0, NULL);
		assert_non_null(arr);
		assert_int_equal(json_array_size(arr), files[f].n);
		for (size_t i = 0; i < json_array_size(arr); i++) {
			json_t *o = json_array_get(arr, i);
			struct kg_gpu_input in;
			uint8_t nonce[32];
			size_t rl, cl_len;
			uint8_t *rep = b64(json_string_value(json_object_get(o, "evidence")), &rl);
			uint8_t *chain = b64(json_string_value(json_object_get(o, "certificate")), &cl_len);
			kg_err e;

			nonce_of(json_string_value(json_object_get(o, "nonce")), nonce);
			memset(&in, 0, sizeof in);
			in.report = rep;
			in.report_len = rl;
			in.chain_pem = chain;
			in.chain_len = cl_len;
			in.nonce = nonce;
			e = kg_gpu_verify(ver, &in, T_NOW, cl);
			if (e != KG_OK)
				fail_msg("%s[%zu]: %s", files[f].file, i, kg_err_code(e));
			assert_int_equal(cl->arch, files[f].arch);
			if (files[f].driver)
				assert_string_equal(cl->report.driver_version, files[f].driver);
			if (files[f].feature == KG_GPU_FEATURE_PPCIE) {
				assert_true(cl->report.has_ppcie && cl->report.ppcie_status == KG_GPU_STATUS_ENABLED);
				assert_int_equal(cl->report.feature_flag, KG_GPU_FEATURE_PPCIE);
			}
			if (cl->arch != KG_GPU_ARCH_NVSWITCH)
				assert_true(cl->fwid_bound);
			free(rep);
			free(chain);
		}
		json_decref(arr);
		blob_free(&b);
	}
	free(cl);
}

/* ------------------------------------------------------------------------
 * Real negatives
 */

static void real_invalid_signatures(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	(void)state;

	assert_non_null(cl);
	/* nvat GpuEvidenceInvalidSignature / SwitchEvidenceInvalidSignature. */
	assert_int_equal(verify_files("nvat/hopper-invalid-signature/hopperAttestationReportInvalidSignature.txt",
				      "nvat/hopper-570-expired-rim/hopperCertChainExpired.txt", NONCE_931D, NULL, NULL,
				      T_NOW, cl),
			 KG_ERR_GPU_SIGNATURE);
	assert_int_equal(cl->report.n_blocks, 0); /* claims cleared */
	assert_int_equal(verify_files("nvat/hopper-invalid-signature/hopperAttestationReportInvalidSignature.txt",
				      "nvat/hopper-580/hopperCertChain.txt", NULL, NULL, NULL, T_NOW, cl),
			 KG_ERR_GPU_SIGNATURE);
	assert_int_equal(verify_files("nvat/switch-ls10/switchAttestationReportInvalidSignature.txt",
				      "nvat/switch-ls10/switchCertChain.txt",
				      "ea038ed507a451e005bae91186bc9403150a3cb8971fdebd05ffed65eeb6a997", NULL, NULL,
				      T_NOW, cl),
			 KG_ERR_GPU_SIGNATURE);
	/* The coco report under the nvtrust sample's leaf (§7.2 cross-check). */
	assert_int_equal(verify_files("trustee-hopper/report.bin", "nvtrust-lgv-sample/hopperCertChain.txt", NULL, NULL,
				      NULL, T_NOW, cl),
			 KG_ERR_GPU_SIGNATURE);
	free(cl);
}

static void real_broken_chains(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	(void)state;

	assert_non_null(cl);
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "trustee-hopper/hopper_cert_chain_case1.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_OK);
	/* case2: the root alone. */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "trustee-hopper/hopper_cert_chain_case2.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_ERR_GPU_CHAIN_INCOMPLETE);
	/* case3: GH100 Identity missing. */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "trustee-hopper/hopper_cert_chain_case3.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_ERR_GPU_CHAIN_ISSUER);
	/* case4: starts at the BROM CA, which verifies but has no FWID. */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "trustee-hopper/hopper_cert_chain_case4.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_ERR_GPU_FWID_MISSING);
	/* The signing leaf alone: no path to the root. */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "trustee-hopper/hopper_signing_cert.pem",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_ERR_GPU_CHAIN_INCOMPLETE);
	/* Before the chain's notBefore (GSP certs: 2020 and later). */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "nvtrust-lgv-sample/hopperCertChain.txt",
				      NONCE_931D, NULL, NULL, (time_t)946684800, cl),
			 KG_ERR_GPU_CHAIN_EXPIRED);
	/* A chain that is not PEM at all. */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "nvtrust-lgv-sample/hopperAttestationReport.txt",
				      NONCE_931D, NULL, NULL, T_NOW, cl),
			 KG_ERR_GPU_CHAIN);
	free(cl);
}

static void wrong_nonce(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	(void)state;

	assert_non_null(cl);
	/* nvat bad_nonce scenario: hopper-535 with 00..00. */
	assert_int_equal(verify_files("nvat/hopper-535/report.bin", "nvat/hopper-535/hopperCertChain.txt",
				      "0000000000000000000000000000000000000000000000000000000000000000", NULL, NULL,
				      T_NOW, cl),
			 KG_ERR_GPU_NONCE);
	/* The response nonce is the device's: not the one compared. */
	assert_int_equal(verify_files("nvat/hopper-535/report.bin", "nvat/hopper-535/hopperCertChain.txt",
				      "27a328247bf7935c993341cf587be6f05986ccce4fe7ba2c54100bd616a58f66", NULL, NULL,
				      T_NOW, cl),
			 KG_OK);
	assert_memory_not_equal(cl->report.nonce, cl->report.resp_nonce, 32);
	free(cl);
}

/* ------------------------------------------------------------------------
 * Made-up negatives on a real report
 */

static void flipped_and_truncated(void **state)
{
	struct blob r = vec_read("gpu/nvat/hopper-580/report.bin");
	struct blob c = vec_read("gpu/nvat/hopper-580/hopperCertChain.txt");
	struct kg_gpu_report *rep = calloc(1, sizeof *rep);
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	struct kg_gpu_input in;
	uint8_t *buf = malloc(r.len + 32);
	size_t sig_at;
	(void)state;

	assert_non_null(rep);
	assert_non_null(cl);
	assert_non_null(buf);
	assert_int_equal(kg_gpu_report_parse(r.p, r.len, rep), KG_OK);
	sig_at = rep->signed_len;
	assert_int_equal(sig_at + 96, r.len);
	memset(&in, 0, sizeof in);
	in.chain_pem = c.p;
	in.chain_len = c.len;
	in.report = buf;

	/* Each prefix fails to parse, never reads past its end (ASan). */
	for (size_t n = 0; n < r.len; n++) {
		uint8_t *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, r.p, n);
		assert_int_not_equal(kg_gpu_report_parse(p, n, rep), KG_OK);
		free(p);
	}
	/* A flipped byte in the request nonce, a block, the opaque data, the
	 * signature: each breaks the signature (or the structure). */
	static const size_t at[] = {4, 37 + 8 + 7, 37 + 8 + 3520 + 40, 4000, 4100};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		kg_err e;
		memcpy(buf, r.p, r.len);
		buf[at[i]] ^= 0x01;
		in.report_len = r.len;
		e = kg_gpu_verify(ver, &in, T_NOW, cl);
		assert_true(e == KG_ERR_GPU_SIGNATURE || e == KG_ERR_GPU_REPORT_MALFORMED);
	}
	/* Header fields. */
	memcpy(buf, r.p, r.len);
	buf[0] = 0x12;
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_SPDM_VERSION);
	memcpy(buf, r.p, r.len);
	buf[37] = 0x10;
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_SPDM_VERSION);
	memcpy(buf, r.p, r.len);
	buf[1] = 0xe1;
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_REPORT_MALFORMED);
	memcpy(buf, r.p, r.len);
	buf[2] = 0x00; /* no signature requested */
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_REPORT_MALFORMED);
	memcpy(buf, r.p, r.len);
	buf[37 + 4] = 63; /* NumberOfBlocks one short of the record */
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_REPORT_MALFORMED);
	memcpy(buf, r.p, r.len);
	buf[37 + 8 + 55] = 1; /* block 2 claims index 1 again */
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_REPORT_MALFORMED);
	memcpy(buf, r.p, r.len);
	buf[37 + 8 + 1] = 0x02; /* not the DMTF measurement specification */
	assert_int_equal(kg_gpu_report_parse(buf, r.len, rep), KG_ERR_GPU_REPORT_MALFORMED);

	/* Trailing bytes: zeros up to the limit are padding, not signed. */
	memcpy(buf, r.p, r.len);
	memset(buf + r.len, 0, 17);
	in.report_len = r.len + 16;
	assert_int_equal(kg_gpu_verify(ver, &in, T_NOW, cl), KG_OK);
	assert_int_equal(cl->report.padding_len, 16);
	in.report_len = r.len + 17;
	assert_int_equal(kg_gpu_verify(ver, &in, T_NOW, cl), KG_ERR_TRAILING_BYTES);
	buf[r.len] = 0x01;
	in.report_len = r.len + 1;
	assert_int_equal(kg_gpu_verify(ver, &in, T_NOW, cl), KG_ERR_TRAILING_BYTES);
	/* Too large before anything else. */
	assert_int_equal(kg_gpu_report_parse(r.p, KG_GPU_REPORT_MAX + 1, rep), KG_ERR_TOO_LARGE);

	free(buf);
	free(rep);
	free(cl);
	blob_free(&r);
	blob_free(&c);
}

/* ------------------------------------------------------------------------
 * A report signed by a test PKI: FWID mismatch, opaque edge cases
 */

static EVP_PKEY *p384_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-384");
	assert_non_null(k);
	return k;
}

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
		       const uint8_t *fwid)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L * 365 * 5);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365 * 20);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	/* NVIDIA's Hopper shape, as the GPU simulator issues it (attest/sim_pki.c). */
	if (fwid)
		assert_true(kg_sim_ext_fwid_hopper(x, key, fwid));
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha384()) > 0);
	return x;
}

static void pem_append(BIO *b, X509 *x)
{
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
}

/* r || s of ECDSA-P384/SHA-384 over msg (the simulators' signer). */
static void sign_raw(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t out[96])
{
	assert_int_equal(kg_sim_sign_p384_raw(k, msg, len, out), KG_OK);
}

/* An OCSP response about cert (issued by issuer), signed by signer, valid
 * from now + this_off to now + next_off seconds. */
static uint8_t *ocsp_make(X509 *cert, X509 *issuer, X509 *signer, EVP_PKEY *skey, int status, long this_off,
			  long next_off, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha384(), cert, issuer);
	ASN1_TIME *thisu = X509_gmtime_adj(NULL, this_off), *nextu = X509_gmtime_adj(NULL, next_off);
	ASN1_TIME *rev = X509_gmtime_adj(NULL, this_off - 60);
	OCSP_RESPONSE *r;
	uint8_t *der = NULL;
	int n;

	bool revoked = status == V_OCSP_CERTSTATUS_REVOKED;

	/* Revoked "on hold": nvat refuses certificateHold by default. */
	assert_non_null(OCSP_basic_add1_status(bs, id, status, revoked ? OCSP_REVOKED_STATUS_CERTIFICATEHOLD : 0,
					       revoked ? rev : NULL, thisu, nextu));
	assert_int_equal(OCSP_basic_sign(bs, signer, skey, EVP_sha384(), NULL, 0), 1);
	r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	assert_non_null(r);
	n = i2d_OCSP_RESPONSE(r, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	OCSP_RESPONSE_free(r);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(thisu);
	ASN1_TIME_free(nextu);
	ASN1_TIME_free(rev);
	return der;
}

/* Offline OCSP on the test chain: the intermediate is the one certificate
 * asked about (not the leaf, not the root). */
static void ocsp_cases(struct kg_gpu_verifier *tv, struct kg_gpu_input *in, X509 *leaf, X509 *ica, X509 *root,
		       EVP_PKEY *rk)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	EVP_PKEY *ok_key = p384_key();
	X509 *other = make_cert("Some Other CA", ok_key, NULL, NULL, true, NULL);
	time_t now = time(NULL);
	static const struct {
		int status;
		long this_off, next_off;
		int signer; /* 0 root, 1 unrelated */
		kg_err want;
	} cases[] = {
		{V_OCSP_CERTSTATUS_GOOD, -3600, 86400, 0, KG_OK},
		{V_OCSP_CERTSTATUS_REVOKED, -3600, 86400, 0, KG_ERR_GPU_CERT_REVOKED},
		{V_OCSP_CERTSTATUS_UNKNOWN, -3600, 86400, 0, KG_ERR_GPU_OCSP_UNKNOWN},
		{V_OCSP_CERTSTATUS_GOOD, -2 * 86400, -86400, 0, KG_ERR_GPU_OCSP_STALE},
		{V_OCSP_CERTSTATUS_GOOD, 3600, 86400, 0, KG_ERR_GPU_OCSP_STALE},
		{V_OCSP_CERTSTATUS_GOOD, -3600, 86400, 1, KG_ERR_GPU_OCSP_INVALID},
	};

	assert_non_null(cl);
	/* None given: not checked, unless required. */
	assert_int_equal(kg_gpu_verify(tv, in, now, cl), KG_OK);
	assert_int_equal(cl->n_ocsp_good, 0);
	assert_int_equal(cl->n_ocsp_unchecked, 1);
	in->require_ocsp = true;
	assert_int_equal(kg_gpu_verify(tv, in, now, cl), KG_ERR_GPU_OCSP_MISSING);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *der = ocsp_make(ica, root, cases[i].signer ? other : root, cases[i].signer ? ok_key : rk,
					 cases[i].status, cases[i].this_off, cases[i].next_off, &len);
		const uint8_t *list[1] = {der};
		kg_err e;
		in->ocsp = list;
		in->ocsp_lens = &len;
		in->n_ocsp = 1;
		e = kg_gpu_verify(tv, in, now, cl);
		if (e != cases[i].want)
			fail_msg("ocsp case %zu: %s", i, kg_err_code(e));
		if (e == KG_OK)
			assert_int_equal(cl->n_ocsp_good, 1);
		OPENSSL_free(der);
	}
	/* A response about the leaf only: the intermediate still unanswered. */
	{
		size_t len;
		uint8_t *der = ocsp_make(leaf, ica, root, rk, V_OCSP_CERTSTATUS_GOOD, -3600, 86400, &len);
		const uint8_t *list[1] = {der};
		in->ocsp = list;
		in->ocsp_lens = &len;
		assert_int_equal(kg_gpu_verify(tv, in, now, cl), KG_ERR_GPU_OCSP_MISSING);
		OPENSSL_free(der);
	}
	/* Not DER at all. */
	{
		static const uint8_t junk[] = {0x30, 0x03, 0x0a, 0x01, 0x00};
		const uint8_t *list[1] = {junk};
		size_t len = 2;
		in->ocsp = list;
		in->ocsp_lens = &len;
		assert_int_equal(kg_gpu_verify(tv, in, now, cl), KG_ERR_GPU_OCSP_INVALID);
	}
	in->ocsp = NULL;
	in->ocsp_lens = NULL;
	in->n_ocsp = 0;
	in->require_ocsp = false;
	X509_free(other);
	EVP_PKEY_free(ok_key);
	free(cl);
}

static void test_pki(void **state)
{
	struct blob r = vec_read("gpu/nvat/hopper-580/report.bin");
	EVP_PKEY *rk = p384_key(), *ik = p384_key(), *lk = p384_key();
	uint8_t fwid[48];
	X509 *root, *ica, *leaf;
	struct kg_gpu_verifier *tv = NULL;
	struct kg_gpu_report *rep = calloc(1, sizeof *rep);
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	struct kg_gpu_input in;
	char root_path[] = "/tmp/kg-gpu-root-XXXXXX";
	BIO *chain = BIO_new(BIO_s_mem());
	FILE *f;
	int fd;
	char *pem;
	long pem_len;
	(void)state;

	assert_non_null(rep);
	assert_int_equal(kg_gpu_report_parse(r.p, r.len, rep), KG_OK);
	memcpy(fwid, rep->fwid, 48);
	root = make_cert("Test Device Identity CA", rk, NULL, NULL, true, NULL);
	ica = make_cert("Test ICA", ik, root, rk, true, NULL);
	leaf = make_cert("GH100 A01 GSP FMC LF", lk, ica, ik, false, fwid);
	pem_append(chain, leaf);
	pem_append(chain, ica);
	pem_append(chain, root);
	pem_len = BIO_get_mem_data(chain, &pem);
	fd = mkstemp(root_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	PEM_write_X509(f, root);
	fclose(f);
	assert_int_equal(kg_gpu_verifier_new(&tv, root_path, NULL), KG_OK);

	memset(&in, 0, sizeof in);
	in.report = r.p;
	in.report_len = r.len;
	in.chain_pem = (const uint8_t *)pem;
	in.chain_len = (size_t)pem_len;
	/* Re-signed with the test leaf: verifies; NVIDIA's chain is refused by
	 * this root and the test chain by the pinned NVIDIA root. */
	sign_raw(lk, r.p, rep->signed_len, r.p + rep->signed_len);
	assert_int_equal(kg_gpu_verify(tv, &in, T_NOW, cl), KG_OK);
	assert_true(cl->fwid_bound);
	assert_int_equal(cl->arch, KG_GPU_ARCH_HOPPER);
	assert_int_equal(kg_gpu_verify(ver, &in, T_NOW, cl), KG_ERR_GPU_ROOT_UNTRUSTED);
	ocsp_cases(tv, &in, leaf, ica, root, rk);
	/* The FWID in the opaque data changed and the report re-signed: the
	 * signature holds, the binding to the leaf does not. */
	for (size_t i = 4; i + 48 <= rep->signed_len; i++)
		if (memcmp(r.p + i, fwid, 48) == 0 && r.p[i - 4] == KG_GPU_OPQ_FWID) {
			r.p[i] ^= 0xff;
			break;
		}
	sign_raw(lk, r.p, rep->signed_len, r.p + rep->signed_len);
	assert_int_equal(kg_gpu_verify(tv, &in, T_NOW, cl), KG_ERR_GPU_FWID_MISMATCH);
	kg_gpu_verifier_free(tv);
	tv = NULL;
	assert_int_not_equal(kg_gpu_verifier_new(&tv, "/nonexistent/root.pem", NULL), KG_OK);
	assert_null(tv);
	unlink(root_path);
	X509_free(root);
	X509_free(ica);
	X509_free(leaf);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
	BIO_free(chain);
	free(rep);
	free(cl);
	blob_free(&r);
}

/* ------------------------------------------------------------------------
 * RIMs: XML-DSig verdicts (EXPECTED.md §7.1, §7.3)
 */

static kg_err rim_verify_file(const char *rel, time_t now, struct kg_gpu_rim **out)
{
	char p[256];
	struct blob b;
	kg_err e;

	snprintf(p, sizeof p, "gpu/%s", rel);
	b = vec_read(p);
	e = kg_gpu_rim_verify(ver, b.p, b.len, now, out);
	blob_free(&b);
	return e;
}

static struct kg_gpu_rim *rim_parse_file(const char *rel)
{
	char p[256];
	struct blob b;
	struct kg_gpu_rim *r = NULL;

	snprintf(p, sizeof p, "gpu/%s", rel);
	b = vec_read(p);
	assert_int_equal(kg_gpu_rim_parse(b.p, b.len, &r), KG_OK);
	blob_free(&b);
	return r;
}

static void rim_signatures(void **state)
{
	static const struct {
		const char *file;
		time_t at;
		kg_err want;
	} cases[] = {
		{"nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag", T_2024_12, KG_OK},
		{"nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag", T_2024_12, KG_OK},
		{"nvtrust-lgv-sample/rims/1010_0200_882_960074001A_PROD.swidtag", T_2024_12, KG_OK},
		{"nvtrust-lgv-sample/rims/1010_0205_862_96005E0004_PROD.swidtag", T_2024_12, KG_OK},
		{"nvtrust-lgv-sample/rims/1010_0205_862_9600740020_PROD.swidtag", T_2024_12, KG_OK},
		{"nvtrust-lgv-sample/rims/Driver_RIM_test_no_gpu.swidtag", T_2024_12, KG_OK},
		/* All six have expired by today (§7.1). */
		{"nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag", T_NOW, KG_ERR_GPU_RIM_EXPIRED},
		{"nvtrust-lgv-sample/rims/Driver_RIM_test_no_gpu.swidtag", T_NOW, KG_ERR_GPU_RIM_EXPIRED},
		{"nvat/rims/NV_GPU_DRIVER_GH100_550.144.03.xml", T_NOW, KG_OK},
		{"nvat/rims/incorrect_signature_driver_rim.xml", T_NOW, KG_ERR_GPU_RIM_SIGNATURE},
		{"nvat/rims/incorrect_cert_chain_driver_rim.xml", T_NOW, KG_ERR_GPU_RIM_CHAIN},
		{"nvat/rims/NV_GPU_DRIVER_GH100_535.86.09_measurement_mismatch.xml", T_NOW, KG_ERR_GPU_RIM_SIGNATURE},
		{"nvat/rims/NV_GPU_VBIOS_1010_0200_882_96005E0001_measurement_mismatch.xml", T_2024_12, KG_OK},
		{"nvat/rims/NV_GPU_VBIOS_1010_0200_882_96005E0001_measurement_mismatch.xml", T_NOW,
		 KG_ERR_GPU_RIM_EXPIRED},
		{"nvat/rims/NV_GPU_DRIVER_GH100_570.124.03_expired.xml", T_NOW, KG_ERR_GPU_RIM_EXPIRED},
		{"nvat/rims/NV_GPU_DRIVER_GH100_570.124.03_expired.xml", T_570_RIM, KG_ERR_GPU_RIM_SIGNATURE},
		{"nvat/rims/NV_SWITCH_BIOS_5612_0002_890_9610550001_invalid_signature.xml", T_2025_06,
		 KG_ERR_GPU_RIM_SIGNATURE},
		{"nvat/rims/NV_SWITCH_BIOS_5612_0002_890_9610550001_invalid_signature.xml", T_NOW,
		 KG_ERR_GPU_RIM_EXPIRED},
		{"nvat/rims/NV_SWITCH_BIOS_5612_0002_890_9610550001_measurement_mismatch.xml", T_2024_12,
		 KG_ERR_GPU_RIM_SIGNATURE},
		{"nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml", T_NOW, KG_OK},
		{"nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml", T_2024_12, KG_ERR_GPU_RIM_EXPIRED},
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct kg_gpu_rim *r = NULL;
		kg_err e = rim_verify_file(cases[i].file, cases[i].at, &r);
		if (e != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].file, kg_err_code(e), kg_err_code(cases[i].want));
		assert_true((e == KG_OK) == (r != NULL));
		kg_gpu_rim_free(r);
	}
	/* attestation-sdk's incorrect_rim_root.crt is a leaf, not a root. */
	{
		struct kg_gpu_verifier *bad = NULL;
		char path[512];
		const char *root = getenv("KG_VECTORS");
		snprintf(path, sizeof path, "%s/gpu/nvat/rims/incorrect_rim_root.crt",
			 root ? root : "/work/shared/vectors");
		assert_int_equal(kg_gpu_verifier_new(&bad, NULL, path), KG_ERR_CONFIG);
		assert_null(bad);
	}
}

static void rim_contents(void **state)
{
	struct kg_gpu_rim *r = NULL;
	(void)state;

	assert_int_equal(rim_verify_file("nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml", T_NOW, &r),
			 KG_OK);
	assert_int_equal(r->kind, KG_GPU_RIM_VBIOS);
	assert_string_equal(r->version, "96.10.55.00.01");
	assert_string_equal(r->product, "LS10");
	{
		size_t active = 0;
		for (size_t i = 0; i < r->n_meas; i++)
			active += r->meas[i].active;
		assert_int_equal(active, 31);
	}
	assert_int_equal(r->meas[0].index, 0);
	assert_int_equal(r->meas[0].size, 48);
	hex_eq(r->meas[0].alt[0], 4, "9083ccee");
	kg_gpu_rim_free(r);
	r = rim_parse_file("nvat/rims/NV_GPU_DRIVER_GH100_550.144.03.xml");
	assert_int_equal(r->kind, KG_GPU_RIM_DRIVER);
	kg_gpu_rim_free(r);
	/* Not XML, or XML with a DTD: malformed. */
	{
		static const char dtd[] = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"y\">]><x>&e;</x>";
		assert_int_equal(kg_gpu_rim_parse((const uint8_t *)"nope", 4, &r), KG_ERR_GPU_RIM_MALFORMED);
		assert_int_equal(kg_gpu_rim_parse((const uint8_t *)dtd, sizeof dtd - 1, &r), KG_ERR_GPU_RIM_MALFORMED);
		assert_null(r);
	}
}

/* ------------------------------------------------------------------------
 * RIM comparison
 */

static void mismatch_list(const struct kg_gpu_claims *cl, const unsigned *want, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < cl->n_cmp; i++) {
		if (cl->cmp[i].result != KG_GPU_MEAS_MISMATCH)
			continue;
		if (k >= n || cl->cmp[i].rim_index != want[k])
			fail_msg("unexpected mismatch at RIM index %u", cl->cmp[i].rim_index);
		k++;
	}
	assert_int_equal(k, n);
}

static void rim_compare_vectors(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	struct kg_gpu_rim *d, *v;
	(void)state;

	assert_non_null(cl);
	/* Positive: hopper-535 and the PROD VBIOS RIM, all 12 match (§7.3),
	 * through the whole check at a time the RIM signer was valid. */
	assert_int_equal(verify_files("nvat/hopper-535/report.bin", "nvat/hopper-535/hopperCertChain.txt",
				      "27a328247bf7935c993341cf587be6f05986ccce4fe7ba2c54100bd616a58f66", NULL,
				      "nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag", T_2024_12, cl),
			 KG_OK);
	assert_true(cl->rims_compared);
	assert_int_equal(cl->n_match, 12);
	assert_int_equal(cl->n_mismatch + cl->n_missing, 0);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_OK);
	/* ... and today that RIM's signer has expired. */
	assert_int_equal(verify_files("nvat/hopper-535/report.bin", "nvat/hopper-535/hopperCertChain.txt", NULL, NULL,
				      "nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag", T_NOW, cl),
			 KG_ERR_GPU_RIM_EXPIRED);

	/* Positive: the switch report and its RIM, all 31 match. */
	assert_int_equal(verify_files("nvat/switch-ls10/switchAttestationReport.txt",
				      "nvat/switch-ls10/switchCertChain.txt", NONCE_931D, NULL,
				      "nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml", T_NOW, cl),
			 KG_OK);
	assert_int_equal(cl->n_match, 31);
	assert_false(cl->rim_version_mismatch);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_OK);

	/* Negative: the nvtrust sample report with its test_no_gpu RIMs, 20
	 * mismatching indexes (§7.1). */
	assert_int_equal(verify_files("nvtrust-lgv-sample/report.bin", "nvtrust-lgv-sample/hopperCertChain.txt",
				      NONCE_931D, "nvtrust-lgv-sample/rims/Driver_RIM_test_no_gpu.swidtag",
				      "nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag", T_2024_12,
				      cl),
			 KG_OK);
	{
		static const unsigned want[] = {1,  2,  3,  7,  9,  11, 21, 22, 25, 26,
						27, 29, 30, 31, 32, 34, 36, 37, 39, 40};
		mismatch_list(cl, want, sizeof want / sizeof want[0]);
		assert_int_equal(cl->n_mismatch, 20);
		assert_int_equal(cl->n_missing, 0);
		/* EXPECTED.md counts 13 matches of 33: here 12 and index 35
		 * skipped (NVDEC0 disabled, nvat's rule), which would match. */
		assert_int_equal(cl->n_cmp, 33);
		assert_int_equal(cl->n_match, 12);
		for (size_t i = 0; i < cl->n_cmp; i++)
			assert_true((cl->cmp[i].result == KG_GPU_MEAS_SKIPPED) == (cl->cmp[i].rim_index == 35));
		/* The test_no_gpu driver RIM is 545.00, the report 550.90.07. */
		assert_true(cl->rim_version_mismatch);
		assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_ERR_GPU_RIM_VERSION);
	}

	/* hopper-535 with attestation-sdk's hand-edited mismatch RIMs (their
	 * signatures are broken on purpose, so read unverified). */
	assert_int_equal(verify_files("nvat/hopper-535/report.bin", "nvat/hopper-535/hopperCertChain.txt", NULL, NULL,
				      NULL, T_NOW, cl),
			 KG_OK);
	d = rim_parse_file("nvat/rims/NV_GPU_DRIVER_GH100_535.86.09_measurement_mismatch.xml");
	v = rim_parse_file("nvat/rims/NV_GPU_VBIOS_1010_0200_882_96005E0001_measurement_mismatch.xml");
	assert_int_equal(kg_gpu_compare(d, v, cl), KG_OK);
	{
		static const unsigned want[] = {7, 9, 21, 22, 25, 26, 27, 29, 30, 31, 32, 34, 37, 39, 40, 41};
		mismatch_list(cl, want, sizeof want / sizeof want[0]);
	}
	assert_int_equal(kg_gpu_compare(NULL, v, cl), KG_OK);
	{
		static const unsigned want[] = {9};
		mismatch_list(cl, want, 1);
	}
	/* One index in both RIMs: nvtrust InvalidMeasurementIndexError. */
	assert_int_equal(kg_gpu_compare(v, v, cl), KG_ERR_GPU_RIM_CONFLICT);
	kg_gpu_rim_free(d);
	kg_gpu_rim_free(v);

	/* Staleness (§7.3, derived): hopper-580 and coco match 11 of 12, index 9 differs. */
	assert_int_equal(verify_files("nvat/hopper-580/report.bin", "nvat/hopper-580/hopperCertChain.txt", NULL, NULL,
				      "nvtrust-lgv-sample/rims/1010_0205_862_9600740020_PROD.swidtag", T_2024_12, cl),
			 KG_OK);
	assert_int_equal(cl->n_match, 11);
	{
		static const unsigned want[] = {9};
		mismatch_list(cl, want, 1);
	}
	assert_false(cl->rim_version_mismatch);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_ERR_GPU_MEASUREMENT);
	assert_int_equal(verify_files("trustee-hopper/report.bin", "trustee-hopper/hopper_coco_certs1.txt", NULL, NULL,
				      "nvtrust-lgv-sample/rims/1010_0200_882_960074001A_PROD.swidtag", T_2024_12, cl),
			 KG_OK);
	assert_int_equal(cl->n_match, 11);

	/* Missing: a GPU driver RIM against the 31-block switch report. */
	assert_int_equal(verify_files("nvat/switch-ls10/report.bin", "nvat/switch-ls10/switchCertChain.txt", NULL,
				      NULL, NULL, T_NOW, cl),
			 KG_OK);
	d = rim_parse_file("nvtrust-lgv-sample/rims/Driver_RIM_test_no_gpu.swidtag");
	assert_int_equal(kg_gpu_compare(d, NULL, cl), KG_OK);
	assert_true(cl->n_missing > 0);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_ERR_GPU_RIM_VERSION);
	kg_gpu_rim_free(d);
	/* Nothing compared. */
	memset(cl, 0, sizeof *cl);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_ERR_GPU_RIM_MISSING);
	free(cl);
}

static void claims_json(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	char *js = NULL;
	json_t *o;
	(void)state;

	assert_non_null(cl);
	assert_int_equal(verify_files("nvat/switch-ls10/switchAttestationReport.txt",
				      "nvat/switch-ls10/switchCertChain.txt", NONCE_931D, NULL,
				      "nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml", T_NOW, cl),
			 KG_OK);
	assert_int_equal(kg_gpu_claims_to_json(cl, &js), KG_OK);
	o = json_loads(js, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "arch")), "nvswitch");
	assert_string_equal(json_string_value(json_object_get(o, "vbios_version")), "96.10.55.00.01");
	assert_int_equal(json_array_size(json_object_get(o, "measurements")), 31);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "rims"), "result")), "ok");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "rims"), "match")), 31);
	json_decref(o);
	free(js);
	free(cl);
}

/* Every reason code this module adds exists in the table with a denial. */
static void error_codes(void **state)
{
	static const char *codes[] = {
		"gpu_report_malformed", "gpu_spdm_version_unsupported", "gpu_nonce_mismatch", "gpu_signature_invalid",
		"gpu_chain_incomplete", "gpu_chain_issuer_missing", "gpu_chain_invalid", "gpu_chain_expired",
		"gpu_root_untrusted", "gpu_cert_fwid_missing", "gpu_fwid_mismatch", "gpu_rim_malformed",
		"gpu_rim_signature_invalid", "gpu_rim_chain_invalid", "gpu_rim_expired", "gpu_rim_index_conflict",
		"gpu_rim_missing", "gpu_measurement_mismatch", "gpu_rim_version_mismatch",
		"gpu_ocsp_invalid", "gpu_ocsp_stale", "gpu_ocsp_missing", "gpu_ocsp_status_unknown", "gpu_cert_revoked",
	};
	(void)state;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		kg_err e = kg_err_from_code(codes[i]);
		assert_int_not_equal(e, KG_ERR__COUNT);
		assert_true(kg_err_is_denial(e));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_reports_valid),
		cmocka_unit_test(real_report_details),
		cmocka_unit_test(parse_matches_other_parsers),
		cmocka_unit_test(evidence_json),
		cmocka_unit_test(real_invalid_signatures),
		cmocka_unit_test(real_broken_chains),
		cmocka_unit_test(wrong_nonce),
		cmocka_unit_test(flipped_and_truncated),
		cmocka_unit_test(test_pki),
		cmocka_unit_test(rim_signatures),
		cmocka_unit_test(rim_contents),
		cmocka_unit_test(rim_compare_vectors),
		cmocka_unit_test(claims_json),
		cmocka_unit_test(error_codes),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
