/*
 * One interface for every evidence format: evidence bytes in, normalised
 * claims (or a specific reason code) out.  Pure: no network, no database;
 * the time is passed in.
 */
#ifndef KG_ATTEST_H
#define KG_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"
#include "snp.h"
#include "tdx.h"

enum kg_tee {
	KG_TEE_NONE = 0,
	KG_TEE_SNP = 1,
	KG_TEE_TDX = 2,
};

/* "snp" etc.; "none" for KG_TEE_NONE. */
const char *kg_tee_name(enum kg_tee tee);
/* KG_TEE_NONE when unknown. */
enum kg_tee kg_tee_from_name(const char *name);

/* Normalised claims: the fields every policy can name, plus the
 * TEE-specific report. */
struct kg_gpu_summary; /* policy.h: what the release established about the CVM's GPUs */

struct kg_claims {
	enum kg_tee tee;
	/* Set by the release when it judged GPU evidence (NULL: none). */
	const struct kg_gpu_summary *gpus;
	uint8_t report_data[64];
	uint8_t measurement[64];
	size_t measurement_len;
	uint8_t chip_id[64];
	size_t chip_id_len;
	bool debug;
	union {
		struct kg_snp_report snp;
		struct kg_tdx_claims tdx;
	} u;
};

struct kg_attest_config {
	/* PEM file of SEV-SNP ARKs to trust; NULL = AMD's shipped roots. */
	const char *snp_roots;
	/* Refuse SEV-SNP evidence unless a current CRL for its ARK was set
	 * (kg_attest_set_snp_crl) or given beside the evidence. */
	bool snp_require_crl;
};

struct kg_attest;

KG_MUST_CHECK kg_err kg_attest_new(struct kg_attest **out, const struct kg_attest_config *cfg);
void kg_attest_free(struct kg_attest *a);

/* Intel TDX trust anchor: a PEM file with the one Intel SGX Root CA to
 * trust instead of the shipped, pinned one (tests, private PKI).  Replaces
 * the TDX verifier made by kg_attest_new; call before serving.  A setter
 * rather than a kg_attest_config field so that callers that fill the
 * config field by field keep working.  KG_ERR_IO / KG_ERR_CONFIG. */
KG_MUST_CHECK kg_err kg_attest_set_tdx_roots(struct kg_attest *a, const char *root_pem);

/* AMD's CRLs (DER, or PEM with one per product) used for SEV-SNP evidence
 * that brings none of its own.  Copied; replaces the previous set while
 * requests run; NULL/0 clears it.  Each CRL is verified when it is used. */
KG_MUST_CHECK kg_err kg_attest_set_snp_crl(struct kg_attest *a, const uint8_t *crl, size_t len);

/* The TDX collateral (Intel PCS TCB info, QE identity, TCB signing chain,
 * root CRL, PCK CRL) that kg_attest_verify uses for TDX evidence.  The
 * bytes are copied; the previous set is replaced atomically and may be
 * called again at any time (collateral refreshed from the database) while
 * other threads verify.  NULL clears it: TDX evidence then fails with
 * tdx_collateral_missing. */
KG_MUST_CHECK kg_err kg_attest_set_tdx_collateral(struct kg_attest *a, const struct kg_tdx_collateral *c);

/* VCEK/VLEK certificates (DER) that SEV-SNP evidence without a
 * certificate table is verified with: the one whose hwID and SPLs equal
 * the report's CHIP_ID and REPORTED_TCB (a VLEK: SPLs only).  Copied;
 * replaces the previous set while requests run; n = 0 clears it. */
KG_MUST_CHECK kg_err kg_attest_set_snp_veks(struct kg_attest *a, const uint8_t *const *ders, const size_t *lens,
					    size_t n);
/* The values a VCEK/VLEK certifies (for `keygate collateral import`). */
KG_MUST_CHECK kg_err kg_attest_snp_vek_info(const uint8_t *der, size_t len, struct kg_snp_vek_info *out);

/* TDX TCB info documents (Intel PCS JSON), one per FMSPC: a quote is
 * judged with the one for its PCK certificate's FMSPC, the rest of the
 * collateral coming from kg_attest_set_tdx_collateral.  Documents that do
 * not parse are skipped; copied; replaces the previous set. */
KG_MUST_CHECK kg_err kg_attest_set_tdx_tcb_infos(struct kg_attest *a, const uint8_t *const *docs, const size_t *lens,
						 size_t n);

/* Which TEE a RA-TLS evidence tag denotes; KG_TEE_NONE when unknown. */
enum kg_tee kg_attest_tee_for_tag(uint64_t tag);

/* Verifies evidence of the given TEE at time now.  For SNP, evidence is
 * the 1184-byte report optionally followed by the GHCB certificate table;
 * extra supplies certificates from elsewhere (command line), may be NULL.
 * For TDX, evidence is a DCAP quote (v4/v5), extra is ignored, and the
 * collateral is the one set with kg_attest_set_tdx_collateral; claims carry
 * measurement = MRTD (48 bytes), report_data = REPORTDATA, debug =
 * TD_ATTRIBUTES bit 0 and the TCB status in u.tdx. */
KG_MUST_CHECK kg_err kg_attest_verify(struct kg_attest *a, enum kg_tee tee, const uint8_t *evidence, size_t len,
				      const struct kg_snp_certs *extra, time_t now, struct kg_claims *out);

/* NVIDIA GPUs and NVSwitches (nvgpu.h).  Trust anchors instead of the
 * shipped, pinned NVIDIA roots (tests, private PKI): PEM files, NULL keeps
 * the shipped one. */
KG_MUST_CHECK kg_err kg_attest_set_gpu_roots(struct kg_attest *a, const char *device_root_pem, const char *rim_root_pem);
/* NVIDIA's RIMs (XML) from the collateral: a report is compared with the
 * driver RIM and the VBIOS RIM of its own versions.  Copied; replaces the
 * previous set while requests run; n = 0 clears it. */
KG_MUST_CHECK kg_err kg_attest_set_gpu_rims(struct kg_attest *a, const uint8_t *const *docs, const size_t *lens,
					    size_t n);
/* NVIDIA's OCSP responses (DER) about device-chain certificates, from the
 * collateral; every GPU verification checks the chain's CAs against them
 * (claims n_ocsp_good / n_ocsp_unchecked; a revoked one fails).  Copied;
 * replaces the previous set; at most KG_GPU_OCSP_MAX_COUNT are kept. */
KG_MUST_CHECK kg_err kg_attest_set_gpu_ocsp(struct kg_attest *a, const uint8_t *const *ders, const size_t *lens,
					    size_t n);
struct kg_gpu_claims;
/* One device's evidence (SPDM request || response, its PEM chain) for the
 * nonce the release derived (32 bytes; NULL only for offline dry runs):
 * kg_gpu_verify with the RIMs of the report's versions.  Returns the
 * device's verdict; *rims_result is KG_OK when its measurements matched
 * its RIMs, else why not (a RIM that is expired, forged, for another
 * version, or missing; a mismatch).  out must be a struct kg_gpu_claims
 * (nvgpu.h). */
KG_MUST_CHECK kg_err kg_attest_verify_gpu(struct kg_attest *a, const uint8_t *report, size_t report_len,
					  const char *certs, size_t certs_len, const uint8_t *nonce, time_t now,
					  struct kg_gpu_claims *out, kg_err *rims_result);

/* Claims as a JSON object text (malloc'd, caller frees). */
KG_MUST_CHECK kg_err kg_claims_to_json(const struct kg_claims *c, char **json);

#endif
