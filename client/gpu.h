/*
 * GPU evidence for keygate-client (docs/protocol.md, "GPUs"): one report
 * and certificate chain per NVIDIA GPU or NVSwitch, each answering the
 * nonce kg_gpu_nonce(challenge, pubkey-hash), sent in the release body as
 * "gpus" and bound to the CPU evidence by the claims' "gpu-evidence"
 * (broker/core.h).  Sources:
 *   - NVML on the CVM (libnvidia-ml.so.1, loaded at run time so that the
 *     client runs on machines without NVIDIA's driver) for GPUs;
 *   - NSCQ on the CVM (libnvidia-nscq.so.2, loaded likewise) for the
 *     NVSwitches of a protected-PCIe machine (client/nscq.c);
 *   - the GPU simulator (attest/gpu_sim.h), re-issuing recorded reports;
 *   - files written by kg_client_gpu_write (testing: replay).
 */
#ifndef KG_CLIENT_GPU_H
#define KG_CLIENT_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "../broker/core.h"
#include "../common/err.h"

#define KG_NVML_LIB_DEFAULT "libnvidia-ml.so.1"
/* The name NVIDIA's attestation SDK loads (nv-attestation-sdk-cpp,
 * switch/nscq_client.cpp); NSCQ's API 2.0. */
#define KG_NSCQ_LIB_DEFAULT "libnvidia-nscq.so.2"

/* The devices' evidence, in the order the body lists them. */
struct kg_client_gpus {
	struct kg_gpu_evidence dev[KG_BODY_GPUS_MAX];
	size_t n;
};
void kg_client_gpus_free(struct kg_client_gpus *g);

/* A diagnostic for the operator (library, call, the library's words);
 * never secret.  msg says why a source failed; note what a source that
 * succeeded left out (NVSwitches not attested), empty if nothing. */
struct kg_client_gpu_diag {
	char msg[256];
	char note[256];
};

/* The nonce every device must answer: kg_gpu_nonce(challenge,
 * SHA-256(spki)), SHA-256(spki) being the claims' pubkey-hash
 * (kg_ratls_encode_claims). */
KG_MUST_CHECK kg_err kg_client_gpu_nonce(const uint8_t *challenge, size_t challenge_len, const uint8_t *spki,
					 size_t spki_len, uint8_t out[static 32]);

/* Checks one device's evidence as a source handed it and appends a copy
 * to g: report_len within 1..KG_BODY_GPU_REPORT_MAX, a report that parses
 * (kg_gpu_report_parse) and, unless nonce is NULL, carries nonce in its
 * request; certs up to their first NUL within 1..KG_BODY_GPU_CERTS_MAX,
 * printable ASCII and whitespace only, with a PEM certificate in it.
 * KG_ERR_GPU_EVIDENCE (size, certificates), KG_ERR_GPU_NONCE, the
 * parser's errors, KG_ERR_TOO_LARGE when g is full, KG_ERR_NOMEM. */
KG_MUST_CHECK kg_err kg_client_gpu_take(struct kg_client_gpus *g, const uint8_t *report, size_t report_len,
					const uint8_t *certs, size_t certs_len, const uint8_t *nonce);

/* Simulated devices: each recorded report file (binary or NVIDIA's hex
 * text) re-issued by the simulator in sim_dir for nonce. */
KG_MUST_CHECK kg_err kg_client_gpu_sim(const char *sim_dir, const char *const *files, size_t n,
				       const uint8_t nonce[static 32], struct kg_client_gpus *out);

/* Every GPU NVML lists (nvmlDeviceGetCount_v2): its attestation report for
 * nonce (nvmlDeviceGetConfComputeGpuAttestationReport) and its attestation
 * certificate chain (nvmlDeviceGetConfComputeGpuCertificate), each checked
 * with kg_client_gpu_take.  lib NULL: KG_NVML_LIB_DEFAULT.
 * KG_ERR_NVML_UNAVAILABLE (no library, a missing symbol, nvmlInit failed,
 * no GPU), KG_ERR_NVML (a call failed), kg_client_gpu_take's errors; diag
 * says which.  Untested on hardware: no GPU here. */
KG_MUST_CHECK kg_err kg_client_gpu_nvml(const char *lib, const uint8_t nonce[static 32], struct kg_client_gpus *out,
					struct kg_client_gpu_diag *diag);

/* Every NVSwitch NSCQ lists (path "/drv/nvswitch/{device}/uuid", each
 * named by nscq_uuid_to_label) that is in locked TNVL mode ("/<switch>/
 * config/pcie_mode" equal to NSCQ_DEVICE_TNVL_MODE_LOCKED): its attestation
 * report for nonce (nscq_session_set_input, then "/<switch>/config/
 * attestation_report") and its certificate chain ("/<switch>/config/
 * certificate", PEM), appended to out after what is there (GPUs first)
 * through kg_client_gpu_nscq_take.  A switch in another mode is not
 * attested and diag->note names it: the broker counts the switches that
 * attest (nvswitch_evidence_missing).  lib NULL: KG_NSCQ_LIB_DEFAULT.
 * KG_ERR_NSCQ_UNAVAILABLE (no library, a missing symbol, no session, no
 * switch), KG_ERR_NSCQ (a call or its callback failed), KG_ERR_NSCQ_UNLOCKED
 * (switches, none of them locked), kg_client_gpu_nscq_take's errors; diag
 * says which.  On failure out is as it was.  Tested against a stand-in
 * library only (tests/tools/fake_nscq.c): no NVSwitch here. */
KG_MUST_CHECK kg_err kg_client_gpu_nscq(const char *lib, const uint8_t nonce[static 32], struct kg_client_gpus *out,
					struct kg_client_gpu_diag *diag);

/* NSCQ's answers as the library hands them to its callbacks, byte for
 * byte (nscq_attestation.h, API 2.0): nscq_attestation_report_t is
 * {u32 report_size; u8 report[0x2000]}, nscq_attestation_certificate_t
 * {u8 cert_chain[0x1400]; u32 cert_chain_size}, in the machine's byte
 * order (little-endian on the x86-64 and aarch64 NSCQ ships for). */
#define KG_NSCQ_REPORT_MAX 0x2000
#define KG_NSCQ_CERT_CHAIN_MAX 0x1400
#define KG_NSCQ_REPORT_ANSWER_SIZE (4 + KG_NSCQ_REPORT_MAX)
#define KG_NSCQ_CERT_ANSWER_SIZE (KG_NSCQ_CERT_CHAIN_MAX + 4)

/* One switch's two answers into g: each size within its buffer
 * (KG_ERR_GPU_EVIDENCE), then kg_client_gpu_take on the report and the
 * chain (nonce NULL: not compared). */
KG_MUST_CHECK kg_err kg_client_gpu_nscq_take(struct kg_client_gpus *g,
					     const uint8_t report[static KG_NSCQ_REPORT_ANSWER_SIZE],
					     const uint8_t cert[static KG_NSCQ_CERT_ANSWER_SIZE], const uint8_t *nonce);

/* Adds "gpus": [{"report": base64 (RFC 4648 §4, padded), "certs": PEM},
 * ...] to the release body, as broker/request.c parses it; nothing when g
 * is empty.  KG_ERR_NOMEM. */
struct json_t;
KG_MUST_CHECK kg_err kg_client_gpu_body_add(struct json_t *body, const struct kg_client_gpus *g);

/* Writes each device's evidence as sent: dir/gpu-N.report (binary) and
 * dir/gpu-N.pem; dir is made (0700) if needed. */
KG_MUST_CHECK kg_err kg_client_gpu_write(const char *dir, const struct kg_client_gpus *g);

/* Reads what kg_client_gpu_write wrote (gpu-0.., up to the first missing
 * one), as it is: testing only, to show that replayed evidence is refused. */
KG_MUST_CHECK kg_err kg_client_gpu_read(const char *dir, struct kg_client_gpus *out);

#endif
