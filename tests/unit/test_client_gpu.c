/*
 * Unit tests for client/gpu.c against what the broker computes
 * (broker/request.c, attest/ratls.c, attest/nvgpu.c): the body the client
 * builds parses with kg_release_req_parse and carries the evidence as
 * collected; kg_gpu_evidence_hash over the parsed body equals the hash the
 * client puts in its claims, and the nonce the devices answered is
 * kg_gpu_nonce(challenge, the parsed claims' pubkey-hash); every device
 * verifies against the simulator's root with that nonce.  The checks on
 * what a source hands over (kg_client_gpu_take), the evidence files, and
 * the NVML path: a missing library, a library without NVML's symbols, and
 * a stand-in library (tests/tools/fake_nvml.c) answering through the
 * simulator, with its faults; the NSCQ path likewise (tests/tools/
 * fake_nscq.c, NSCQ's structure layouts and callbacks) with real recorded
 * NVSwitch reports, after GPUs, each fault giving its error and leaving
 * the GPUs collected before as they were; and the check of NSCQ's answer
 * buffers (kg_client_gpu_nscq_take).
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
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../../attest/gpu_sim.h"
#include "../../attest/nvgpu.h"
#include "../../attest/ratls.h"
#include "../../broker/core.h"
#include "../../client/gpu.h"
#include "../../common/util.h"
#include "vectors.h"

#define T_NOW ((time_t)1795910400) /* 2026-11-29 */

static char dir[] = "/tmp/kg-client-gpu-XXXXXX";
static char sim_dir[sizeof dir + 8], out_dir[sizeof dir + 8];
static char rec[2][512];
/* Real NVSwitch reports: nvat's LS10 and the four of nvtrust's PPCIe
 * bundle (decoded from its JSON into dir). */
#define N_SWITCHES 5
static char sw_rec[N_SWITCHES][512];
static struct kg_gpu_verifier *sim_ver;

/* nvtrust-ppcie/switch_evidence.json: [{"evidence": base64 report, ...}]
 * x4, each report into dir/switch-N.bin (sw_rec[1..4]). */
static int ppcie_switches(const char *v)
{
	char path[512];
	json_t *j;
	size_t i;

	snprintf(path, sizeof path, "%s/gpu/nvtrust-ppcie/switch_evidence.json", v);
	if ((j = json_load_file(path, 0, NULL)) == NULL || json_array_size(j) != N_SWITCHES - 1) {
		json_decref(j);
		return -1;
	}
	for (i = 0; i < N_SWITCHES - 1; i++) {
		const char *b64 = json_string_value(json_object_get(json_array_get(j, i), "evidence"));
		uint8_t bin[8192];
		size_t len = 0;
		snprintf(sw_rec[i + 1], sizeof sw_rec[i + 1], "%s/switch-%zu.bin", dir, i);
		if (b64 == NULL ||
		    sodium_base642bin(bin, sizeof bin, b64, strlen(b64), NULL, &len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    kg_file_write(sw_rec[i + 1], bin, len, 0644) != KG_OK) {
			json_decref(j);
			return -1;
		}
	}
	json_decref(j);
	return 0;
}

static int setup(void **state)
{
	const char *v = getenv("KG_VECTORS") ? getenv("KG_VECTORS") : "/work/shared/vectors";
	char root[sizeof dir + 32];
	(void)state;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
	snprintf(out_dir, sizeof out_dir, "%s/out", dir);
	snprintf(rec[0], sizeof rec[0], "%s/gpu/nvat/hopper-580/report.bin", v);
	snprintf(rec[1], sizeof rec[1], "%s/gpu/nvat/hopper-535/hopperAttestationReport.txt", v);
	snprintf(root, sizeof root, "%s/%s", sim_dir, KG_GPU_SIM_ROOT);
	snprintf(sw_rec[0], sizeof sw_rec[0], "%s/gpu/nvat/switch-ls10/report.bin", v);
	if (ppcie_switches(v) != 0)
		return -1;
	return kg_gpu_sim_init(sim_dir) == KG_OK && kg_gpu_verifier_new(&sim_ver, root, NULL) == KG_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[sizeof dir + 16];
	(void)state;

	kg_gpu_verifier_free(sim_ver);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A TLS key's SPKI, as keygate-client makes one. */
static uint8_t *spki_new(size_t *len)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t *der = NULL;
	int n;

	assert_non_null(k);
	n = i2d_PUBKEY(k, &der);
	assert_true(n > 0);
	EVP_PKEY_free(k);
	*len = (size_t)n;
	return der;
}

static void body_binding_matches_broker(void **state)
{
	const char *files[2] = {rec[0], rec[1]};
	struct kg_client_gpus g;
	struct kg_release_req *req = calloc(1, sizeof *req);
	struct kg_ratls_claims cl;
	struct kg_gpu_claims *gc = calloc(1, sizeof *gc);
	uint8_t challenge[KG_CHALLENGE_LEN], nonce[32], want_nonce[32], hash[32], broker_hash[32], hpke_pk[32] = {1};
	uint8_t *spki, *claims = NULL;
	size_t spki_len, claims_len = 0;
	json_t *body = json_pack("{s:s}", "aead", "chacha20-poly1305");
	char *text;
	(void)state;

	assert_non_null(req);
	assert_non_null(gc);
	memset(&g, 0, sizeof g);
	assert_int_equal(RAND_bytes(challenge, sizeof challenge), 1);
	spki = spki_new(&spki_len);
	assert_int_equal(kg_client_gpu_nonce(challenge, sizeof challenge, spki, spki_len, nonce), KG_OK);
	assert_int_equal(kg_client_gpu_sim(sim_dir, files, 2, nonce, &g), KG_OK);
	assert_int_equal(g.n, 2);
	kg_gpu_evidence_hash(g.dev, g.n, hash);
	assert_int_equal(kg_ratls_encode_claims_gpu(spki, spki_len, challenge, sizeof challenge, hpke_pk, hash, &claims,
						    &claims_len),
			 KG_OK);
	assert_int_equal(kg_client_gpu_body_add(body, &g), KG_OK);
	text = json_dumps(body, JSON_COMPACT);
	assert_non_null(text);

	/* The broker's side. */
	assert_int_equal(kg_release_req_parse((const uint8_t *)text, strlen(text), req), KG_OK);
	assert_int_equal(req->n_gpus, 2);
	for (size_t i = 0; i < 2; i++) {
		struct kg_gpu_input in;
		assert_int_equal(req->gpus[i].report_len, g.dev[i].report_len);
		assert_memory_equal(req->gpus[i].report, g.dev[i].report, g.dev[i].report_len);
		assert_int_equal(req->gpus[i].certs_len, g.dev[i].certs_len);
		assert_memory_equal(req->gpus[i].certs, g.dev[i].certs, g.dev[i].certs_len);
		memset(&in, 0, sizeof in);
		in.report = req->gpus[i].report;
		in.report_len = req->gpus[i].report_len;
		in.chain_pem = (const uint8_t *)req->gpus[i].certs;
		in.chain_len = req->gpus[i].certs_len;
		in.nonce = nonce;
		assert_int_equal(kg_gpu_verify(sim_ver, &in, T_NOW, gc), KG_OK);
	}
	kg_gpu_evidence_hash(req->gpus, req->n_gpus, broker_hash);
	assert_memory_equal(broker_hash, hash, 32);
	assert_int_equal(kg_ratls_parse_claims(claims, claims_len, &cl), KG_OK);
	assert_true(cl.has_gpu_evidence);
	assert_memory_equal(cl.gpu_evidence, broker_hash, 32);
	kg_gpu_nonce(challenge, sizeof challenge, cl.pubkey_hash, cl.pubkey_hash_len, want_nonce);
	assert_memory_equal(want_nonce, nonce, 32);

	/* Without GPUs the body has no "gpus" and the claims no hash. */
	{
		struct kg_client_gpus none;
		json_t *b2 = json_object();
		memset(&none, 0, sizeof none);
		assert_int_equal(kg_client_gpu_body_add(b2, &none), KG_OK);
		assert_null(json_object_get(b2, "gpus"));
		json_decref(b2);
	}
	kg_release_req_free(req);
	kg_client_gpus_free(&g);
	assert_int_equal(g.n, 0);
	free(text);
	free(claims);
	OPENSSL_free(spki);
	json_decref(body);
	free(req);
	free(gc);
}

static void take_checks(void **state)
{
	struct blob r = vec_read("gpu/nvat/hopper-580/report.bin");
	struct kg_gpu_report *rep = calloc(1, sizeof *rep);
	struct kg_client_gpus g;
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	char padded[sizeof pem + 8], binary[sizeof pem];
	uint8_t other[32];
	kg_err want;
	(void)state;

	assert_non_null(rep);
	memset(&g, 0, sizeof g);
	assert_int_equal(kg_gpu_report_parse(r.p, r.len, rep), KG_OK);
	/* As recorded, with its own nonce; NUL padding after the PEM dropped. */
	memset(padded, 0, sizeof padded);
	memcpy(padded, pem, sizeof pem - 1);
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)padded, sizeof padded, rep->nonce), KG_OK);
	assert_int_equal(g.dev[0].certs_len, sizeof pem - 1);
	assert_int_equal(g.dev[0].certs[sizeof pem - 1], '\0');
	/* Another nonce. */
	memcpy(other, rep->nonce, 32);
	other[0] ^= 1;
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)pem, sizeof pem - 1, other),
			 KG_ERR_GPU_NONCE);
	/* Certificates: none, not text, no PEM certificate in them. */
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)"", 1, NULL), KG_ERR_GPU_EVIDENCE);
	memcpy(binary, pem, sizeof pem);
	binary[30] = (char)0x80;
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)binary, sizeof pem - 1, NULL),
			 KG_ERR_GPU_EVIDENCE);
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)"hello\n", 6, NULL), KG_ERR_GPU_EVIDENCE);
	/* Report: empty, beyond the body's limit, not a report. */
	assert_int_equal(kg_client_gpu_take(&g, r.p, 0, (const uint8_t *)pem, sizeof pem - 1, NULL),
			 KG_ERR_GPU_EVIDENCE);
	assert_int_equal(kg_client_gpu_take(&g, r.p, KG_BODY_GPU_REPORT_MAX + 1, (const uint8_t *)pem, sizeof pem - 1,
					    NULL),
			 KG_ERR_GPU_EVIDENCE);
	want = kg_gpu_report_parse(r.p, r.len - 100, rep);
	assert_int_not_equal(want, KG_OK);
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len - 100, (const uint8_t *)pem, sizeof pem - 1, NULL), want);
	assert_int_equal(g.n, 1);
	/* At most KG_BODY_GPUS_MAX devices. */
	while (g.n < KG_BODY_GPUS_MAX)
		assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)pem, sizeof pem - 1, NULL), KG_OK);
	assert_int_equal(kg_client_gpu_take(&g, r.p, r.len, (const uint8_t *)pem, sizeof pem - 1, NULL),
			 KG_ERR_TOO_LARGE);
	kg_client_gpus_free(&g);
	free(rep);
	blob_free(&r);
}

static void files_roundtrip(void **state)
{
	const char *files[1] = {rec[0]};
	struct kg_client_gpus g, back;
	uint8_t nonce[32];
	(void)state;

	memset(&g, 0, sizeof g);
	memset(&back, 0, sizeof back);
	memset(nonce, 7, sizeof nonce);
	assert_int_equal(kg_client_gpu_read(out_dir, &back), KG_ERR_IO); /* nothing there yet */
	assert_int_equal(kg_client_gpu_sim(sim_dir, files, 1, nonce, &g), KG_OK);
	assert_int_equal(kg_client_gpu_write(out_dir, &g), KG_OK);
	assert_int_equal(kg_client_gpu_read(out_dir, &back), KG_OK);
	assert_int_equal(back.n, 1);
	assert_int_equal(back.dev[0].report_len, g.dev[0].report_len);
	assert_memory_equal(back.dev[0].report, g.dev[0].report, g.dev[0].report_len);
	assert_int_equal(back.dev[0].certs_len, g.dev[0].certs_len);
	assert_memory_equal(back.dev[0].certs, g.dev[0].certs, g.dev[0].certs_len);
	/* A recording that is not there, a simulator that is not there. */
	files[0] = "/nonexistent/report.bin";
	assert_int_not_equal(kg_client_gpu_sim(sim_dir, files, 1, nonce, &back), KG_OK);
	files[0] = rec[0];
	assert_int_not_equal(kg_client_gpu_sim("/nonexistent", files, 1, nonce, &back), KG_OK);
	kg_client_gpus_free(&g);
	kg_client_gpus_free(&back);
}

static void nvml_missing(void **state)
{
	struct kg_client_gpus g;
	struct kg_client_gpu_diag d;
	uint8_t nonce[32] = {0};
	(void)state;

	memset(&g, 0, sizeof g);
	assert_int_equal(kg_client_gpu_nvml("/nonexistent/libnvidia-ml.so.1", nonce, &g, &d), KG_ERR_NVML_UNAVAILABLE);
	assert_non_null(strstr(d.msg, "cannot load /nonexistent/libnvidia-ml.so.1"));
	assert_int_equal(g.n, 0);
	/* A library, but not NVML. */
	assert_int_equal(kg_client_gpu_nvml("libc.so.6", nonce, &g, &d), KG_ERR_NVML_UNAVAILABLE);
	assert_non_null(strstr(d.msg, "has no nvmlInit_v2"));
	/* The default name, on this machine without NVIDIA's driver. */
	if (kg_client_gpu_nvml(NULL, nonce, &g, &d) == KG_ERR_NVML_UNAVAILABLE)
		assert_non_null(strstr(d.msg, KG_NVML_LIB_DEFAULT));
	kg_client_gpus_free(&g);
}

/* The stand-in library answering through the simulator. */
static void nvml_fake(void **state)
{
	const char *lib = getenv("KG_FAKE_NVML");
	struct kg_client_gpus g;
	struct kg_client_gpu_diag d;
	struct kg_gpu_claims *gc = calloc(1, sizeof *gc);
	char reports[sizeof rec + 2];
	uint8_t nonce[32];
	static const struct {
		const char *fault;
		kg_err want;
		const char *msg;
	} faults[] = {
		{"init", KG_ERR_NVML_UNAVAILABLE, "nvmlInit_v2: Driver Not Loaded"},
		{"report", KG_ERR_NVML, "GPU 0: nvmlDeviceGetConfComputeGpuAttestationReport"},
		{"size", KG_ERR_GPU_EVIDENCE, "beyond its buffers"},
		{"nonce", KG_ERR_GPU_NONCE, "GPU 0: unusable"},
	};
	(void)state;

	if (lib == NULL)
		skip();
	assert_non_null(gc);
	memset(&g, 0, sizeof g);
	memset(nonce, 0x3c, sizeof nonce);
	snprintf(reports, sizeof reports, "%s:%s", rec[0], rec[1]);
	setenv("KG_FAKE_NVML_SIM", sim_dir, 1);
	setenv("KG_FAKE_NVML_REPORTS", reports, 1);
	unsetenv("KG_FAKE_NVML_FAULT");
	assert_int_equal(kg_client_gpu_nvml(lib, nonce, &g, &d), KG_OK);
	assert_int_equal(g.n, 2);
	for (size_t i = 0; i < g.n; i++) {
		struct kg_gpu_input in;
		memset(&in, 0, sizeof in);
		in.report = g.dev[i].report;
		in.report_len = g.dev[i].report_len;
		in.chain_pem = (const uint8_t *)g.dev[i].certs;
		in.chain_len = g.dev[i].certs_len;
		in.nonce = nonce;
		assert_int_equal(kg_gpu_verify(sim_ver, &in, T_NOW, gc), KG_OK);
	}
	kg_client_gpus_free(&g);
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		kg_err e;
		setenv("KG_FAKE_NVML_FAULT", faults[i].fault, 1);
		e = kg_client_gpu_nvml(lib, nonce, &g, &d);
		if (e != faults[i].want || strstr(d.msg, faults[i].msg) == NULL)
			fail_msg("fault %s: %s (%s)", faults[i].fault, kg_err_code(e), d.msg);
		assert_int_equal(g.n, 0);
	}
	unsetenv("KG_FAKE_NVML_FAULT");
	/* No GPU at all. */
	setenv("KG_FAKE_NVML_REPORTS", "", 1);
	assert_int_equal(kg_client_gpu_nvml(lib, nonce, &g, &d), KG_ERR_NVML_UNAVAILABLE);
	assert_non_null(strstr(d.msg, "no GPU"));
	free(gc);
}

/* Each device of g in [from, to) verifies against the simulator's root
 * with nonce and is of arch. */
static void verify_all(const struct kg_client_gpus *g, size_t from, size_t to, const uint8_t nonce[32],
		       enum kg_gpu_arch arch)
{
	struct kg_gpu_claims *gc = calloc(1, sizeof *gc);

	assert_non_null(gc);
	assert_true(to <= g->n);
	for (size_t i = from; i < to; i++) {
		struct kg_gpu_input in;
		memset(&in, 0, sizeof in);
		in.report = g->dev[i].report;
		in.report_len = g->dev[i].report_len;
		in.chain_pem = (const uint8_t *)g->dev[i].certs;
		in.chain_len = g->dev[i].certs_len;
		in.nonce = nonce;
		assert_int_equal(kg_gpu_verify(sim_ver, &in, T_NOW, gc), KG_OK);
		assert_int_equal(gc->arch, arch);
	}
	free(gc);
}

static void nscq_missing(void **state)
{
	struct kg_client_gpus g;
	struct kg_client_gpu_diag d;
	uint8_t nonce[32] = {0};
	(void)state;

	memset(&g, 0, sizeof g);
	assert_int_equal(kg_client_gpu_nscq("/nonexistent/libnvidia-nscq.so.2", nonce, &g, &d),
			 KG_ERR_NSCQ_UNAVAILABLE);
	assert_non_null(strstr(d.msg, "cannot load /nonexistent/libnvidia-nscq.so.2"));
	assert_int_equal(g.n, 0);
	/* A library, but not NSCQ. */
	assert_int_equal(kg_client_gpu_nscq("libc.so.6", nonce, &g, &d), KG_ERR_NSCQ_UNAVAILABLE);
	assert_non_null(strstr(d.msg, "has no nscq_session_create"));
	/* The default name, on this machine without NVIDIA's driver. */
	if (kg_client_gpu_nscq(NULL, nonce, &g, &d) == KG_ERR_NSCQ_UNAVAILABLE)
		assert_non_null(strstr(d.msg, KG_NSCQ_LIB_DEFAULT));
	assert_int_equal(g.n, 0);
}

/* KG_FAKE_NSCQ_REPORTS for the first n recorded switches. */
static void fake_switches(size_t n)
{
	char list[sizeof sw_rec + N_SWITCHES];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ":" : "", sw_rec[i]);
	setenv("KG_FAKE_NSCQ_REPORTS", list, 1);
}

/* The stand-in NSCQ answering through the simulator: the switches after
 * a GPU, each fault its error with the GPU left as it was. */
static void nscq_fake(void **state)
{
	const char *lib = getenv("KG_FAKE_NSCQ");
	const char *gpu[1] = {rec[0]};
	struct kg_client_gpus g;
	struct kg_client_gpu_diag d;
	uint8_t nonce[32];
	static const struct {
		const char *fault;
		kg_err want;
		const char *msg;
	} faults[] = {
		{"session", KG_ERR_NSCQ_UNAVAILABLE, "nscq_session_create: NSCQ_RC_ERROR_DRV (-7)"},
		{"list", KG_ERR_NSCQ, "listing NVSwitches (/drv/nvswitch/{device}/uuid): NSCQ_RC_ERROR_DRV"},
		{"label", KG_ERR_NSCQ, "label that names no path"},
		{"report", KG_ERR_NSCQ, "/SWX-5C000000-0000-0000-0000-000000000000/config/attestation_report: "
					"NSCQ_RC_ERROR_DRV"},
		{"twice", KG_ERR_NSCQ, "config/attestation_report: 2 answers, one expected"},
		{"size", KG_ERR_GPU_EVIDENCE, "NVSwitch SWX-5C000000-0000-0000-0000-000000000000: unusable evidence"},
		{"cert-size", KG_ERR_GPU_EVIDENCE, "unusable evidence from NSCQ"},
		{"nonce", KG_ERR_GPU_NONCE, "unusable evidence from NSCQ"},
		{"tnvl-off", KG_ERR_NSCQ_UNLOCKED, "5 NVSwitches, none in locked TNVL mode"},
	};
	(void)state;

	if (lib == NULL)
		skip();
	memset(&g, 0, sizeof g);
	memset(nonce, 0x5a, sizeof nonce);
	setenv("KG_FAKE_NSCQ_SIM", sim_dir, 1);
	fake_switches(N_SWITCHES);
	unsetenv("KG_FAKE_NSCQ_FAULT");
	/* A GPU first, then every switch: GPUs first in the body. */
	assert_int_equal(kg_client_gpu_sim(sim_dir, gpu, 1, nonce, &g), KG_OK);
	assert_int_equal(kg_client_gpu_nscq(lib, nonce, &g, &d), KG_OK);
	assert_int_equal(g.n, 1 + N_SWITCHES);
	assert_string_equal(d.note, "");
	verify_all(&g, 0, 1, nonce, KG_GPU_ARCH_HOPPER);
	verify_all(&g, 1, g.n, nonce, KG_GPU_ARCH_NVSWITCH);
	/* Each switch's own recording, in NSCQ's order. */
	for (size_t i = 0; i < N_SWITCHES; i++) {
		struct kg_gpu_report *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
		uint8_t *recd = NULL;
		size_t recd_len = 0;
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(kg_file_read(sw_rec[i], 1 << 16, &recd, &recd_len), KG_OK);
		assert_int_equal(kg_gpu_report_parse(recd, recd_len, a), KG_OK);
		assert_int_equal(kg_gpu_report_parse(g.dev[1 + i].report, g.dev[1 + i].report_len, b), KG_OK);
		assert_int_equal(a->n_blocks, b->n_blocks);
		assert_memory_equal(a->blocks, b->blocks, sizeof a->blocks);
		free(recd);
		free(a);
		free(b);
	}
	/* Switch 0 in TNVL mode but not locked: left out and named. */
	kg_client_gpus_free(&g);
	assert_int_equal(kg_client_gpu_sim(sim_dir, gpu, 1, nonce, &g), KG_OK);
	setenv("KG_FAKE_NSCQ_FAULT", "unlocked", 1);
	assert_int_equal(kg_client_gpu_nscq(lib, nonce, &g, &d), KG_OK);
	assert_int_equal(g.n, N_SWITCHES);
	assert_non_null(strstr(d.note, "NVSwitch SWX-5C000000-0000-0000-0000-000000000000 not attested: pcie_mode 1"));
	verify_all(&g, 1, g.n, nonce, KG_GPU_ARCH_NVSWITCH);
	kg_client_gpus_free(&g);
	/* Every fault: its error, and the GPU collected before kept as it was. */
	assert_int_equal(kg_client_gpu_sim(sim_dir, gpu, 1, nonce, &g), KG_OK);
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		kg_err e;
		setenv("KG_FAKE_NSCQ_FAULT", faults[i].fault, 1);
		e = kg_client_gpu_nscq(lib, nonce, &g, &d);
		if (e != faults[i].want || strstr(d.msg, faults[i].msg) == NULL)
			fail_msg("fault %s: %s (%s)", faults[i].fault, kg_err_code(e), d.msg);
		assert_int_equal(g.n, 1);
		verify_all(&g, 0, 1, nonce, KG_GPU_ARCH_HOPPER);
	}
	unsetenv("KG_FAKE_NSCQ_FAULT");
	/* No switch at all. */
	setenv("KG_FAKE_NSCQ_REPORTS", "", 1);
	assert_int_equal(kg_client_gpu_nscq(lib, nonce, &g, &d), KG_ERR_NSCQ_UNAVAILABLE);
	assert_non_null(strstr(d.msg, "no NVSwitch"));
	/* More devices than the body carries: refused before any report. */
	{
		const char *many[KG_BODY_GPUS_MAX - 2];
		for (size_t i = 0; i < KG_BODY_GPUS_MAX - 2; i++)
			many[i] = rec[0];
		kg_client_gpus_free(&g);
		assert_int_equal(kg_client_gpu_sim(sim_dir, many, KG_BODY_GPUS_MAX - 2, nonce, &g), KG_OK);
		fake_switches(3);
		assert_int_equal(kg_client_gpu_nscq(lib, nonce, &g, &d), KG_ERR_TOO_LARGE);
		assert_non_null(strstr(d.msg, "3 NVSwitches after 14 GPUs"));
		assert_int_equal(g.n, KG_BODY_GPUS_MAX - 2);
		/* Exactly full. */
		fake_switches(2);
		assert_int_equal(kg_client_gpu_nscq(lib, nonce, &g, &d), KG_OK);
		assert_int_equal(g.n, KG_BODY_GPUS_MAX);
	}
	kg_client_gpus_free(&g);
}

/* NSCQ's answer buffers as the library lays them out. */
static void nscq_take_checks(void **state)
{
	struct blob r = vec_read("gpu/nvat/switch-ls10/report.bin");
	struct blob c = vec_read("gpu/nvat/switch-ls10/switchCertChain.txt");
	uint8_t *rep = calloc(1, KG_NSCQ_REPORT_ANSWER_SIZE), *cert = calloc(1, KG_NSCQ_CERT_ANSWER_SIZE);
	struct kg_client_gpus g;
	uint32_t v;
	(void)state;

	assert_non_null(rep);
	assert_non_null(cert);
	assert_true(r.len <= KG_NSCQ_REPORT_MAX && c.len <= KG_NSCQ_CERT_CHAIN_MAX);
	memset(&g, 0, sizeof g);
	v = (uint32_t)r.len;
	memcpy(rep, &v, 4);
	memcpy(rep + 4, r.p, r.len);
	memcpy(cert, c.p, c.len);
	v = (uint32_t)c.len;
	memcpy(cert + KG_NSCQ_CERT_CHAIN_MAX, &v, 4);
	/* As recorded, with its own nonce (request bytes 4..35). */
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, r.p + 4), KG_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.dev[0].report_len, r.len);
	assert_memory_equal(g.dev[0].report, r.p, r.len);
	assert_int_equal(g.dev[0].certs_len, c.len);
	/* The chain's size counting NUL padding: the text is taken. */
	v = (uint32_t)c.len + 7;
	memcpy(cert + KG_NSCQ_CERT_CHAIN_MAX, &v, 4);
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, NULL), KG_OK);
	assert_int_equal(g.dev[1].certs_len, c.len);
	/* Sizes beyond the buffers, a size of zero, another nonce. */
	v = KG_NSCQ_CERT_CHAIN_MAX + 1;
	memcpy(cert + KG_NSCQ_CERT_CHAIN_MAX, &v, 4);
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, NULL), KG_ERR_GPU_EVIDENCE);
	v = (uint32_t)c.len;
	memcpy(cert + KG_NSCQ_CERT_CHAIN_MAX, &v, 4);
	v = KG_NSCQ_REPORT_MAX + 1;
	memcpy(rep, &v, 4);
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, NULL), KG_ERR_GPU_EVIDENCE);
	v = 0;
	memcpy(rep, &v, 4);
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, NULL), KG_ERR_GPU_EVIDENCE);
	v = (uint32_t)r.len;
	memcpy(rep, &v, 4);
	rep[4 + 4] ^= 1;
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, r.p + 4), KG_ERR_GPU_NONCE);
	/* A chain that is DER, not PEM, is not taken. */
	memset(cert, 0x30, KG_NSCQ_CERT_CHAIN_MAX);
	assert_int_equal(kg_client_gpu_nscq_take(&g, rep, cert, NULL), KG_ERR_GPU_EVIDENCE);
	assert_int_equal(g.n, 2);
	kg_client_gpus_free(&g);
	free(rep);
	free(cert);
	blob_free(&r);
	blob_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(body_binding_matches_broker),
		cmocka_unit_test(take_checks),
		cmocka_unit_test(files_roundtrip),
		cmocka_unit_test(nvml_missing),
		cmocka_unit_test(nvml_fake),
		cmocka_unit_test(nscq_missing),
		cmocka_unit_test(nscq_fake),
		cmocka_unit_test(nscq_take_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
