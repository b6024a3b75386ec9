/*
 * Unit tests for attest/gpu_sim.c: a real recorded report re-issued by the
 * simulator for a nonce of ours verifies with kg_gpu_verify against the
 * simulator's root, with that nonce; its measurements and opaque data are
 * the recording's, so NVIDIA's real RIMs compare with it exactly as with
 * the recording (hopper-535 and its PROD VBIOS RIM: 12 of 12 match,
 * EXPECTED.md §7.3; the NVSwitch and its RIM: 31 of 31); Blackwell and
 * NVSwitch recordings get leaves named and encoded as NVIDIA's; another nonce is gpu_nonce_mismatch, a flipped byte
 * gpu_signature_invalid, and NVIDIA's pinned root does not accept it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../attest/gpu_sim.h"
#include "../../attest/nvgpu.h"
#include "../../common/util.h"
#include "vectors.h"

#define T_NOW ((time_t)1795910400)     /* 2026-11-29 */
#define T_2024_12 ((time_t)1733011200) /* 2024-12-01: the nvtrust sample RIMs' signers are valid */

#define NONCE_535 "27a328247bf7935c993341cf587be6f05986ccce4fe7ba2c54100bd616a58f66"

static char dir[] = "/tmp/kg-gpu-sim-XXXXXX";
static char root_path[sizeof dir + 32];
static struct kg_gpu_verifier *sim_ver, *nv_ver;

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL || kg_gpu_sim_init(dir) != KG_OK)
		return -1;
	snprintf(root_path, sizeof root_path, "%s/%s", dir, KG_GPU_SIM_ROOT);
	return kg_gpu_verifier_new(&sim_ver, root_path, NULL) == KG_OK &&
			       kg_gpu_verifier_new(&nv_ver, NULL, NULL) == KG_OK
		       ? 0
		       : -1;
}

static int teardown(void **state)
{
	static const char *files[] = {KG_GPU_SIM_ROOT, KG_GPU_SIM_CHAIN, KG_GPU_SIM_BROM_KEY};
	char p[sizeof dir + 32];
	(void)state;

	kg_gpu_verifier_free(sim_ver);
	kg_gpu_verifier_free(nv_ver);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

struct sim_out {
	uint8_t *report;
	size_t report_len;
	char *chain;
	size_t chain_len;
};

static struct sim_out sim(const char *recorded, const uint8_t nonce[32])
{
	struct blob r = vec_read(recorded);
	struct sim_out o;

	assert_int_equal(kg_gpu_sim_attest(dir, r.p, r.len, nonce, &o.report, &o.report_len, &o.chain, &o.chain_len),
			 KG_OK);
	blob_free(&r);
	return o;
}

static void sim_free(struct sim_out *o)
{
	free(o->report);
	free(o->chain);
}

static kg_err verify(struct kg_gpu_verifier *v, const struct sim_out *o, const uint8_t *nonce, const struct blob *vbios,
		     time_t now, struct kg_gpu_claims *cl)
{
	struct kg_gpu_input in;

	memset(&in, 0, sizeof in);
	in.report = o->report;
	in.report_len = o->report_len;
	in.chain_pem = (const uint8_t *)o->chain;
	in.chain_len = o->chain_len;
	in.nonce = nonce;
	if (vbios) {
		in.vbios_rim = vbios->p;
		in.vbios_rim_len = vbios->len;
	}
	return kg_gpu_verify(v, &in, now, cl);
}

/* init keeps an existing set: the configured root stays trusted. */
static void init_keeps(void **state)
{
	struct blob a, b;
	(void)state;

	assert_int_equal(kg_file_read(root_path, 1 << 16, &a.p, &a.len), KG_OK);
	assert_int_equal(kg_gpu_sim_init(dir), KG_OK);
	assert_int_equal(kg_file_read(root_path, 1 << 16, &b.p, &b.len), KG_OK);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	blob_free(&a);
	blob_free(&b);
}

/* hopper-580 (with a FWID): verifies with our nonce, the leaf bound to the
 * report's FWID; everything but the nonce and signature is the recording's. */
static void resigned_verifies(void **state)
{
	struct blob rec = vec_read("gpu/nvat/hopper-580/report.bin");
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	struct kg_gpu_report *orig = calloc(1, sizeof *orig);
	uint8_t nonce[32];
	struct sim_out o;
	(void)state;

	assert_non_null(cl);
	assert_non_null(orig);
	for (int i = 0; i < 32; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
	o = sim("gpu/nvat/hopper-580/report.bin", nonce);
	assert_int_equal(verify(sim_ver, &o, nonce, NULL, T_NOW, cl), KG_OK);
	assert_true(cl->fwid_bound);
	assert_int_equal(cl->arch, KG_GPU_ARCH_HOPPER);
	assert_memory_equal(cl->report.nonce, nonce, 32);
	assert_int_equal(kg_gpu_report_parse(rec.p, rec.len, orig), KG_OK);
	assert_int_equal(cl->report.n_blocks, orig->n_blocks);
	assert_memory_equal(cl->report.blocks, orig->blocks, orig->n_blocks * sizeof orig->blocks[0]);
	assert_string_equal(cl->report.driver_version, orig->driver_version);
	assert_string_equal(cl->report.vbios_version, orig->vbios_version);
	assert_memory_equal(cl->report.fwid, orig->fwid, KG_GPU_FWID_SIZE);
	assert_int_equal(cl->report.signed_len, orig->signed_len);
	/* Only the request nonce differs in the signed part. */
	assert_memory_equal(o.report, rec.p, 4);
	assert_memory_equal(o.report + 36, rec.p + 36, orig->signed_len - 36);
	assert_int_equal(o.report_len, orig->signed_len + KG_GPU_SIG_SIZE);
	/* A fresh leaf each time, the same root. */
	{
		struct sim_out o2 = sim("gpu/nvat/hopper-580/report.bin", nonce);
		assert_int_equal(verify(sim_ver, &o2, nonce, NULL, T_NOW, cl), KG_OK);
		assert_true(o2.chain_len != o.chain_len || memcmp(o2.chain, o.chain, o.chain_len) != 0);
		sim_free(&o2);
	}
	/* NVIDIA's pinned root does not know the simulator's. */
	assert_int_equal(verify(nv_ver, &o, nonce, NULL, T_NOW, cl), KG_ERR_GPU_ROOT_UNTRUSTED);
	sim_free(&o);
	blob_free(&rec);
	free(orig);
	free(cl);
}

/* hopper-535 as NVIDIA's hex text, no FWID: the PROD VBIOS RIM gives the
 * same comparison as with the recording, 12 of 12 (EXPECTED.md §7.3). */
static void rims_compare_as_recorded(void **state)
{
	struct blob vb = vec_read("gpu/nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag");
	struct blob rec = vec_read("gpu/nvat/hopper-535/report.bin");
	struct blob chain = vec_read("gpu/nvat/hopper-535/hopperCertChain.txt");
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl), *want = calloc(1, sizeof *want);
	struct kg_gpu_input in;
	uint8_t nonce[32], nonce535[32];
	struct sim_out o;
	(void)state;

	assert_non_null(cl);
	assert_non_null(want);
	/* The recording through NVIDIA's root. */
	assert_int_equal(kg_unhex(nonce535, 32, NONCE_535), KG_OK);
	memset(&in, 0, sizeof in);
	in.report = rec.p;
	in.report_len = rec.len;
	in.chain_pem = chain.p;
	in.chain_len = chain.len;
	in.nonce = nonce535;
	in.vbios_rim = vb.p;
	in.vbios_rim_len = vb.len;
	assert_int_equal(kg_gpu_verify(nv_ver, &in, T_2024_12, want), KG_OK);
	assert_int_equal(want->n_match, 12);

	memset(nonce, 0x5a, sizeof nonce);
	o = sim("gpu/nvat/hopper-535/hopperAttestationReport.txt", nonce);
	assert_int_equal(verify(sim_ver, &o, nonce, &vb, T_2024_12, cl), KG_OK);
	assert_false(cl->report.has_fwid);
	assert_false(cl->fwid_bound);
	assert_true(cl->rims_compared);
	assert_int_equal(cl->n_match, 12);
	assert_int_equal(cl->n_mismatch + cl->n_missing, 0);
	assert_int_equal(cl->n_cmp, want->n_cmp);
	assert_memory_equal(cl->cmp, want->cmp, want->n_cmp * sizeof want->cmp[0]);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_OK);
	sim_free(&o);
	blob_free(&vb);
	blob_free(&rec);
	blob_free(&chain);
	free(cl);
	free(want);
}

/* The nvtrust sample mismatches its RIMs on the same indexes as recorded. */
static void sample_mismatch_as_recorded(void **state)
{
	struct blob vb = vec_read("gpu/nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag");
	struct blob rec = vec_read("gpu/nvtrust-lgv-sample/report.bin");
	struct blob chain = vec_read("gpu/nvtrust-lgv-sample/hopperCertChain.txt");
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl), *want = calloc(1, sizeof *want);
	struct kg_gpu_input in;
	uint8_t nonce[32];
	struct sim_out o;
	kg_err e_rec, e_sim;
	(void)state;

	assert_non_null(cl);
	assert_non_null(want);
	memset(&in, 0, sizeof in);
	in.report = rec.p;
	in.report_len = rec.len;
	in.chain_pem = chain.p;
	in.chain_len = chain.len;
	in.vbios_rim = vb.p;
	in.vbios_rim_len = vb.len;
	e_rec = kg_gpu_verify(nv_ver, &in, T_2024_12, want);
	memset(nonce, 0x11, sizeof nonce);
	o = sim("gpu/nvtrust-lgv-sample/report.bin", nonce);
	e_sim = verify(sim_ver, &o, nonce, &vb, T_2024_12, cl);
	assert_int_equal(e_sim, e_rec);
	if (e_rec == KG_OK) {
		assert_int_equal(cl->n_match, want->n_match);
		assert_int_equal(cl->n_mismatch, want->n_mismatch);
		assert_int_equal(cl->n_cmp, want->n_cmp);
		assert_memory_equal(cl->cmp, want->cmp, want->n_cmp * sizeof want->cmp[0]);
	}
	sim_free(&o);
	blob_free(&vb);
	blob_free(&rec);
	blob_free(&chain);
	free(cl);
	free(want);
}

/* Blackwell (its own FWID encoding) and an NVSwitch (no FWID in the
 * report; its RIM: all 31 match, as recorded). */
static void other_devices(void **state)
{
	struct blob sw_rim = vec_read("gpu/nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml");
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	uint8_t nonce[32];
	struct sim_out o;
	(void)state;

	assert_non_null(cl);
	memset(nonce, 0x77, sizeof nonce);
	o = sim("gpu/nvat/blackwell/blackwellAttestationReport.txt", nonce);
	assert_int_equal(verify(sim_ver, &o, nonce, NULL, T_NOW, cl), KG_OK);
	assert_int_equal(cl->arch, KG_GPU_ARCH_BLACKWELL);
	assert_true(cl->fwid_bound);
	sim_free(&o);

	o = sim("gpu/nvat/switch-ls10/switchAttestationReport.txt", nonce);
	assert_int_equal(verify(sim_ver, &o, nonce, &sw_rim, T_NOW, cl), KG_OK);
	assert_int_equal(cl->arch, KG_GPU_ARCH_NVSWITCH);
	assert_false(cl->fwid_bound);
	assert_int_equal(cl->n_match, 31);
	assert_int_equal(cl->n_mismatch + cl->n_missing, 0);
	assert_int_equal(kg_gpu_claims_rims_ok(cl), KG_OK);
	sim_free(&o);
	blob_free(&sw_rim);
	free(cl);
}

/* Another nonce, a flipped byte anywhere signed or in the signature. */
static void negatives(void **state)
{
	struct kg_gpu_claims *cl = calloc(1, sizeof *cl);
	struct kg_gpu_report *rep = calloc(1, sizeof *rep);
	uint8_t nonce[32], other[32];
	struct sim_out o;
	size_t at[4];
	(void)state;

	assert_non_null(cl);
	assert_non_null(rep);
	memset(nonce, 0x42, sizeof nonce);
	memcpy(other, nonce, sizeof other);
	other[31] ^= 1;
	o = sim("gpu/nvat/hopper-580/report.bin", nonce);
	assert_int_equal(verify(sim_ver, &o, other, NULL, T_NOW, cl), KG_ERR_GPU_NONCE);
	assert_int_equal(kg_gpu_report_parse(o.report, o.report_len, rep), KG_OK);
	/* The request nonce, a measurement value byte, the opaque data's last
	 * byte, the signature's last byte. */
	at[0] = 4;
	at[1] = 37 + 8 + 4 + 10;
	at[2] = rep->signed_len - 1;
	at[3] = o.report_len - 1;
	for (size_t i = 0; i < 4; i++) {
		o.report[at[i]] ^= 0x01;
		assert_int_equal(verify(sim_ver, &o, NULL, NULL, T_NOW, cl), KG_ERR_GPU_SIGNATURE);
		o.report[at[i]] ^= 0x01;
	}
	assert_int_equal(verify(sim_ver, &o, nonce, NULL, T_NOW, cl), KG_OK);
	sim_free(&o);
	free(rep);
	free(cl);
}

/* Bad inputs: not a report, a directory without the PKI. */
static void bad_inputs(void **state)
{
	static const uint8_t junk[] = {0x11, 0xe0, 0x01, 0xff, 0x00};
	struct blob rec = vec_read("gpu/nvat/hopper-580/report.bin");
	uint8_t nonce[32] = {0}, *r = NULL;
	char *c = NULL;
	size_t rl = 1, cl = 1;
	(void)state;

	assert_int_equal(kg_gpu_sim_attest(dir, junk, sizeof junk, nonce, &r, &rl, &c, &cl),
			 KG_ERR_GPU_REPORT_MALFORMED);
	assert_null(r);
	assert_null(c);
	assert_int_equal(rl + cl, 0);
	assert_int_not_equal(kg_gpu_sim_attest("/nonexistent", rec.p, rec.len, nonce, &r, &rl, &c, &cl), KG_OK);
	assert_null(r);
	assert_null(c);
	blob_free(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_keeps),
		cmocka_unit_test(resigned_verifies),
		cmocka_unit_test(rims_compare_as_recorded),
		cmocka_unit_test(sample_mismatch_as_recorded),
		cmocka_unit_test(other_devices),
		cmocka_unit_test(negatives),
		cmocka_unit_test(bad_inputs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
