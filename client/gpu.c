/*
 * GPU evidence for keygate-client (see gpu.h).
 */
#define _GNU_SOURCE
#include "gpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "../attest/gpu_sim.h"
#include "../attest/nvgpu.h"
#include "../common/util.h"
#include "gpu_int.h"

void kg_client_gpus_free(struct kg_client_gpus *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->dev[i].report);
		free(g->dev[i].certs);
	}
	memset(g, 0, sizeof *g);
}

kg_err kg_client_gpu_nonce(const uint8_t *challenge, size_t challenge_len, const uint8_t *spki, size_t spki_len,
			   uint8_t out[static 32])
{
	uint8_t pkh[32];

	/* The claims' pubkey-hash is [1 (sha-256), SHA-256(SPKI DER)]. */
	KG_ENSURE(crypto_hash_sha256(pkh, spki, spki_len) == 0, KG_ERR_CRYPTO);
	kg_gpu_nonce(challenge, challenge_len, pkh, sizeof pkh, out);
	return KG_OK;
}

/* PEM is printable ASCII and line breaks; NVML's buffer may be padded with
 * NULs after the text. */
static kg_err certs_check(const uint8_t *c, size_t len, size_t *text_len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	const uint8_t *nul = memchr(c, 0, len);
	size_t n = nul ? (size_t)(nul - c) : len;

	KG_ENSURE(n >= 1 && n <= KG_BODY_GPU_CERTS_MAX, KG_ERR_GPU_EVIDENCE);
	for (size_t i = 0; i < n; i++)
		KG_ENSURE((c[i] >= 0x20 && c[i] < 0x7f) || c[i] == '\n' || c[i] == '\r' || c[i] == '\t',
			  KG_ERR_GPU_EVIDENCE);
	KG_ENSURE(memmem(c, n, begin, sizeof begin - 1) != NULL, KG_ERR_GPU_EVIDENCE);
	*text_len = n;
	return KG_OK;
}

kg_err kg_client_gpu_take(struct kg_client_gpus *g, const uint8_t *report, size_t report_len, const uint8_t *certs,
			  size_t certs_len, const uint8_t *nonce)
{
	struct kg_gpu_report *rep = NULL;
	struct kg_gpu_evidence *d;
	size_t text_len = 0;
	kg_err rc;

	KG_ENSURE(g->n < KG_BODY_GPUS_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(report_len >= 1 && report_len <= KG_BODY_GPU_REPORT_MAX, KG_ERR_GPU_EVIDENCE);
	KG_TRY(certs_check(certs, certs_len, &text_len));
	/* The broker judges the evidence; this only catches a device that
	 * answered something else than a report for our nonce. */
	KG_ENSURE((rep = calloc(1, sizeof *rep)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_gpu_report_parse(report, report_len, rep));
	if (nonce)
		KG_ENSURE_OUT(memcmp(rep->nonce, nonce, KG_GPU_NONCE_SIZE) == 0, KG_ERR_GPU_NONCE);
	d = &g->dev[g->n];
	KG_ENSURE_OUT((d->report = malloc(report_len)) != NULL, KG_ERR_NOMEM);
	if ((d->certs = malloc(text_len + 1)) == NULL) {
		free(d->report);
		d->report = NULL;
		rc = KG_ERR_NOMEM;
		goto out;
	}
	memcpy(d->report, report, report_len);
	d->report_len = report_len;
	memcpy(d->certs, certs, text_len);
	d->certs[text_len] = '\0';
	d->certs_len = text_len;
	g->n++;
	rc = KG_OK;
out:
	free(rep);
	return rc;
}

kg_err kg_client_gpu_sim(const char *sim_dir, const char *const *files, size_t n, const uint8_t nonce[static 32],
			 struct kg_client_gpus *out)
{
	kg_err rc = KG_OK;

	for (size_t i = 0; i < n && rc == KG_OK; i++) {
		uint8_t *rec = NULL, *rep = NULL;
		char *chain = NULL;
		size_t rec_len = 0, rep_len = 0, chain_len = 0;
		/* Hex text is twice the report, plus line breaks. */
		if ((rc = kg_file_read(files[i], 4 * KG_GPU_REPORT_MAX, &rec, &rec_len)) == KG_OK &&
		    (rc = kg_gpu_sim_attest(sim_dir, rec, rec_len, nonce, &rep, &rep_len, &chain, &chain_len)) == KG_OK)
			rc = kg_client_gpu_take(out, rep, rep_len, (const uint8_t *)chain, chain_len, nonce);
		free(rec);
		free(rep);
		free(chain);
	}
	return rc;
}

/* ---------------------------------------------------------------------------
 * NVML, loaded at run time.  The structures are NVML's (nvml.h, driver 535
 * and later); only the fields named here are read.
 */

typedef int nvml_return;
typedef struct nvml_device *nvml_device;
#define NVML_SUCCESS 0

#define NVML_GPU_CERT_CHAIN_SIZE 0x1000
#define NVML_GPU_ATTESTATION_CERT_CHAIN_SIZE 0x1400
struct nvml_gpu_certificate { /* nvmlConfComputeGpuCertificate_t */
	unsigned int certChainSize;
	unsigned int attestationCertChainSize;
	unsigned char certChain[NVML_GPU_CERT_CHAIN_SIZE];
	unsigned char attestationCertChain[NVML_GPU_ATTESTATION_CERT_CHAIN_SIZE];
};

#define NVML_CC_GPU_CEC_NONCE_SIZE 0x20
#define NVML_CC_GPU_ATTESTATION_REPORT_SIZE 0x2000
#define NVML_CC_GPU_CEC_ATTESTATION_REPORT_SIZE 0x1000
struct nvml_gpu_attestation_report { /* nvmlConfComputeGpuAttestationReport_t */
	unsigned int isCecAttestationReportPresent;
	unsigned int attestationReportSize;
	unsigned int cecAttestationReportSize;
	unsigned char nonce[NVML_CC_GPU_CEC_NONCE_SIZE];
	unsigned char attestationReport[NVML_CC_GPU_ATTESTATION_REPORT_SIZE];
	unsigned char cecAttestationReport[NVML_CC_GPU_CEC_ATTESTATION_REPORT_SIZE];
};

struct nvml {
	void *lib;
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	const char *(*error_string)(nvml_return);
	nvml_return (*count)(unsigned int *);
	nvml_return (*handle)(unsigned int, nvml_device *);
	nvml_return (*report)(nvml_device, struct nvml_gpu_attestation_report *);
	nvml_return (*cert)(nvml_device, struct nvml_gpu_certificate *);
};

void kg_client_gpu_diag_set(struct kg_client_gpu_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
}

static const char *nvml_err(const struct nvml *n, nvml_return r)
{
	const char *s = n->error_string ? n->error_string(r) : NULL;
	return s ? s : "unknown NVML error";
}

bool kg_client_gpu_sym(void *lib, const char *name, void *fn, const char **missing)
{
	void *p = dlsym(lib, name);

	if (p == NULL) {
		if (*missing == NULL)
			*missing = name;
		return false;
	}
	memcpy(fn, &p, sizeof p);
	return true;
}

static kg_err nvml_open(struct nvml *n, const char *lib, struct kg_client_gpu_diag *diag)
{
	const char *why, *missing = NULL;
	bool ok;

	memset(n, 0, sizeof *n);
	if ((n->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		kg_client_gpu_diag_set(diag, "cannot load %s (is NVIDIA's driver installed?): %s", lib, why ? why : "");
		return KG_ERR_NVML_UNAVAILABLE;
	}
	ok = kg_client_gpu_sym(n->lib, "nvmlInit_v2", &n->init, &missing) &
	     kg_client_gpu_sym(n->lib, "nvmlShutdown", &n->shutdown, &missing) &
	     kg_client_gpu_sym(n->lib, "nvmlErrorString", &n->error_string, &missing) &
	     kg_client_gpu_sym(n->lib, "nvmlDeviceGetCount_v2", &n->count, &missing) &
	     kg_client_gpu_sym(n->lib, "nvmlDeviceGetHandleByIndex_v2", &n->handle, &missing) &
	     /* Confidential-computing calls: drivers from 535 on. */
	     kg_client_gpu_sym(n->lib, "nvmlDeviceGetConfComputeGpuAttestationReport", &n->report, &missing) &
	     kg_client_gpu_sym(n->lib, "nvmlDeviceGetConfComputeGpuCertificate", &n->cert, &missing);
	if (!ok) {
		kg_client_gpu_diag_set(diag, "%s has no %s (driver older than 535?)", lib, missing);
		return KG_ERR_NVML_UNAVAILABLE;
	}
	return KG_OK;
}

kg_err kg_client_gpu_nvml(const char *lib, const uint8_t nonce[static 32], struct kg_client_gpus *out,
			  struct kg_client_gpu_diag *diag)
{
	struct nvml n;
	struct nvml_gpu_attestation_report *rep = NULL;
	struct nvml_gpu_certificate *cert = NULL;
	unsigned int count = 0;
	bool inited = false;
	nvml_return r;
	kg_err rc;

	diag->msg[0] = diag->note[0] = '\0';
	if (lib == NULL)
		lib = KG_NVML_LIB_DEFAULT;
	KG_TRY_OUT(nvml_open(&n, lib, diag));
	if ((r = n.init()) != NVML_SUCCESS) {
		kg_client_gpu_diag_set(diag, "nvmlInit_v2: %s", nvml_err(&n, r));
		rc = KG_ERR_NVML_UNAVAILABLE;
		goto out;
	}
	inited = true;
	if ((r = n.count(&count)) != NVML_SUCCESS || count == 0) {
		kg_client_gpu_diag_set(diag, "nvmlDeviceGetCount_v2: %s", r ? nvml_err(&n, r) : "no GPU");
		rc = KG_ERR_NVML_UNAVAILABLE;
		goto out;
	}
	if (count > KG_BODY_GPUS_MAX) {
		kg_client_gpu_diag_set(diag, "%u GPUs, the body carries at most %d", count, KG_BODY_GPUS_MAX);
		rc = KG_ERR_TOO_LARGE;
		goto out;
	}
	/* About 21 KiB together: on the heap. */
	KG_ENSURE_OUT((rep = malloc(sizeof *rep)) != NULL && (cert = malloc(sizeof *cert)) != NULL, KG_ERR_NOMEM);
	for (unsigned int i = 0; i < count; i++) {
		nvml_device dev = NULL;
		memset(rep, 0, sizeof *rep);
		memset(cert, 0, sizeof *cert);
		memcpy(rep->nonce, nonce, NVML_CC_GPU_CEC_NONCE_SIZE);
		if ((r = n.handle(i, &dev)) != NVML_SUCCESS) {
			kg_client_gpu_diag_set(diag, "GPU %u: nvmlDeviceGetHandleByIndex_v2: %s", i,
					       nvml_err(&n, r));
			rc = KG_ERR_NVML;
			goto out;
		}
		if ((r = n.report(dev, rep)) != NVML_SUCCESS) {
			kg_client_gpu_diag_set(diag, "GPU %u: nvmlDeviceGetConfComputeGpuAttestationReport: %s", i,
					       nvml_err(&n, r));
			rc = KG_ERR_NVML;
			goto out;
		}
		if ((r = n.cert(dev, cert)) != NVML_SUCCESS) {
			kg_client_gpu_diag_set(diag, "GPU %u: nvmlDeviceGetConfComputeGpuCertificate: %s", i,
					       nvml_err(&n, r));
			rc = KG_ERR_NVML;
			goto out;
		}
		/* The sizes are the library's word: bounded by the buffers
		 * before anything is read. */
		if (rep->attestationReportSize > sizeof rep->attestationReport ||
		    cert->attestationCertChainSize > sizeof cert->attestationCertChain) {
			kg_client_gpu_diag_set(diag, "GPU %u: NVML reports sizes beyond its buffers", i);
			rc = KG_ERR_GPU_EVIDENCE;
			goto out;
		}
		if ((rc = kg_client_gpu_take(out, rep->attestationReport, rep->attestationReportSize,
					     cert->attestationCertChain, cert->attestationCertChainSize, nonce)) !=
		    KG_OK) {
			kg_client_gpu_diag_set(diag, "GPU %u: unusable evidence from NVML", i);
			goto out;
		}
	}
	rc = KG_OK;
out:
	if (inited)
		n.shutdown();
	if (n.lib)
		dlclose(n.lib);
	free(rep);
	free(cert);
	if (rc != KG_OK)
		kg_client_gpus_free(out);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The body, and files
 */

kg_err kg_client_gpu_body_add(struct json_t *body, const struct kg_client_gpus *g)
{
	json_t *arr;
	kg_err rc = KG_ERR_NOMEM;

	if (g->n == 0)
		return KG_OK;
	KG_ENSURE((arr = json_array()) != NULL, KG_ERR_NOMEM);
	for (size_t i = 0; i < g->n; i++) {
		size_t cap = sodium_base64_ENCODED_LEN(g->dev[i].report_len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(cap);
		json_t *o;
		if (b64 == NULL)
			goto out;
		sodium_bin2base64(b64, cap, g->dev[i].report, g->dev[i].report_len, sodium_base64_VARIANT_ORIGINAL);
		o = json_pack("{s:s,s:s#}", "report", b64, "certs", g->dev[i].certs, (int)g->dev[i].certs_len);
		free(b64);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto out;
	}
	if (json_object_set_new(body, "gpus", arr) == 0)
		return KG_OK;
	arr = NULL; /* json_object_set_new releases it on failure */
out:
	json_decref(arr);
	return rc;
}

kg_err kg_client_gpu_write(const char *dir, const struct kg_client_gpus *g)
{
	char path[4096];

	KG_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, KG_ERR_IO);
	for (size_t i = 0; i < g->n; i++) {
		KG_ENSURE((size_t)snprintf(path, sizeof path, "%s/gpu-%zu.report", dir, i) < sizeof path,
			  KG_ERR_INVALID_ARG);
		KG_TRY(kg_file_write(path, g->dev[i].report, g->dev[i].report_len, 0644));
		KG_ENSURE((size_t)snprintf(path, sizeof path, "%s/gpu-%zu.pem", dir, i) < sizeof path,
			  KG_ERR_INVALID_ARG);
		KG_TRY(kg_file_write(path, g->dev[i].certs, g->dev[i].certs_len, 0644));
	}
	return KG_OK;
}

kg_err kg_client_gpu_read(const char *dir, struct kg_client_gpus *out)
{
	char path[4096];
	struct stat st;
	kg_err rc = KG_OK;

	for (size_t i = 0; i < KG_BODY_GPUS_MAX && rc == KG_OK; i++) {
		uint8_t *rep = NULL, *certs = NULL;
		size_t rep_len = 0, certs_len = 0;
		KG_ENSURE((size_t)snprintf(path, sizeof path, "%s/gpu-%zu.report", dir, i) < sizeof path,
			  KG_ERR_INVALID_ARG);
		if (stat(path, &st) != 0)
			break;
		if ((rc = kg_file_read(path, KG_BODY_GPU_REPORT_MAX, &rep, &rep_len)) == KG_OK) {
			snprintf(path, sizeof path, "%s/gpu-%zu.pem", dir, i);
			if ((rc = kg_file_read(path, KG_BODY_GPU_CERTS_MAX, &certs, &certs_len)) == KG_OK)
				rc = kg_client_gpu_take(out, rep, rep_len, certs, certs_len, NULL);
		}
		free(rep);
		free(certs);
	}
	KG_ENSURE(rc != KG_OK || out->n > 0, KG_ERR_IO);
	return rc;
}
