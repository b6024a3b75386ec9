/*
 * A stand-in for libnvidia-ml.so.1, for testing keygate-client's NVML path
 * (client/gpu.c) without a GPU: the calls it makes, with NVML's structure
 * layouts (nvml.h, nvmlConfComputeGpu*_t), answered by the GPU simulator.
 *   KG_FAKE_NVML_SIM      the simulator's directory (sim-init --tee gpu)
 *   KG_FAKE_NVML_REPORTS  recorded reports, ':'-separated, one GPU each
 *   KG_FAKE_NVML_FAULT    "init" (nvmlInit fails), "report" (the report
 *                         call fails), "size" (a size beyond the buffer),
 *                         "nonce" (the report answers another nonce)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../attest/gpu_sim.h"

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
	unsigned int certChainSize;
	unsigned int attestationCertChainSize;
	unsigned char certChain[0x1000];
	unsigned char attestationCertChain[0x1400];
} nvmlConfComputeGpuCertificate_t;

typedef struct {
	unsigned int isCecAttestationReportPresent;
	unsigned int attestationReportSize;
	unsigned int cecAttestationReportSize;
	unsigned char nonce[0x20];
	unsigned char attestationReport[0x2000];
	unsigned char cecAttestationReport[0x1000];
} nvmlConfComputeGpuAttestationReport_t;

/* The prototypes, for -Wmissing-prototypes. */
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t r);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d);
nvmlReturn_t nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t d, nvmlConfComputeGpuAttestationReport_t *r);
nvmlReturn_t nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t d, nvmlConfComputeGpuCertificate_t *c);

/* The chain of the last report, for the certificate call that follows. */
static char *last_chain;
static size_t last_chain_len;

static int fault(const char *what)
{
	const char *f = getenv("KG_FAKE_NVML_FAULT");
	return f && strcmp(f, what) == 0;
}

/* The i-th ':'-separated path of KG_FAKE_NVML_REPORTS into out, or 0. */
static int report_path(unsigned int i, char *out, size_t cap)
{
	const char *s = getenv("KG_FAKE_NVML_REPORTS"), *e;

	for (; s && i > 0; i--)
		s = (s = strchr(s, ':')) ? s + 1 : NULL;
	if (s == NULL || *s == '\0')
		return 0;
	e = strchr(s, ':');
	if ((size_t)(e ? e - s : (long)strlen(s)) >= cap)
		return 0;
	memcpy(out, s, e ? (size_t)(e - s) : strlen(s));
	out[e ? (size_t)(e - s) : strlen(s)] = '\0';
	return 1;
}

nvmlReturn_t nvmlInit_v2(void)
{
	return fault("init") ? 9 /* NVML_ERROR_DRIVER_NOT_LOADED */ : 0;
}

nvmlReturn_t nvmlShutdown(void)
{
	free(last_chain);
	last_chain = NULL;
	return 0;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
	return r == 9 ? "Driver Not Loaded" : "Unknown Error";
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
	char p[4096];
	unsigned int i = 0;

	while (report_path(i, p, sizeof p))
		i++;
	*n = i;
	return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
	*d = (nvmlDevice_t)(uintptr_t)(0x1000 + i);
	return 0;
}

nvmlReturn_t nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t d, nvmlConfComputeGpuAttestationReport_t *r)
{
	char path[4096];
	uint8_t rec[64 * 1024], *rep = NULL, nonce[32];
	size_t rec_len, rep_len = 0;
	FILE *f;

	if (fault("report") || !report_path((unsigned int)((uintptr_t)d - 0x1000), path, sizeof path) ||
	    (f = fopen(path, "rb")) == NULL)
		return 999;
	rec_len = fread(rec, 1, sizeof rec, f);
	fclose(f);
	memcpy(nonce, r->nonce, 32);
	if (fault("nonce"))
		nonce[0] ^= 1;
	free(last_chain);
	last_chain = NULL;
	if (kg_gpu_sim_attest(getenv("KG_FAKE_NVML_SIM"), rec, rec_len, nonce, &rep, &rep_len, &last_chain,
			      &last_chain_len) != KG_OK ||
	    rep_len > sizeof r->attestationReport) {
		free(rep);
		return 999;
	}
	memcpy(r->attestationReport, rep, rep_len);
	r->attestationReportSize = (unsigned int)rep_len;
	if (fault("size"))
		r->attestationReportSize = (unsigned int)sizeof r->attestationReport + 1;
	free(rep);
	return 0;
}

nvmlReturn_t nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t d, nvmlConfComputeGpuCertificate_t *c)
{
	(void)d;
	if (last_chain == NULL || last_chain_len > sizeof c->attestationCertChain)
		return 999;
	memcpy(c->attestationCertChain, last_chain, last_chain_len);
	c->attestationCertChainSize = (unsigned int)last_chain_len;
	return 0;
}
