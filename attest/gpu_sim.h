/*
 * A simulated NVIDIA GPU attester, for keygate-client's --gpu-sim and for
 * tests.  Real recorded evidence carries a fixed SPDM request nonce, so it
 * cannot answer a broker's challenge; the simulator takes a REAL recorded
 * report, puts the caller's nonce in its request, keeps every measurement
 * block and NVIDIA's opaque data as recorded (so NVIDIA's real RIMs still
 * compare as they do with the recording), and signs it with a device
 * certificate from a test PKI shaped like NVIDIA's.  Linked into the
 * client and the tests, never the broker: its root is trusted only by a
 * verifier configured with it (kg_gpu_verifier_new(&v, "<dir>/gpu-root.pem",
 * NULL)).
 *
 * The state lives in a directory (the same one as the CPU simulators' may
 * be used; the names do not collide):
 *   gpu-root.pem      test "Device Identity CA", P-384, self-signed: the
 *                     trust anchor to configure
 *   gpu-chain.pem     the intermediates below it, as NVIDIA's chain has
 *                     them, nearest the leaf first: "GH100 A01 GSP BROM"
 *                     (the device CA), "...GH100 Provisioner ICA 1",
 *                     "...GH100 Identity"
 *   gpu-brom-key.pem  the BROM CA's private key, PKCS#8, mode 0600: it
 *                     certifies a fresh leaf ("GH100 A01 GSP FMC LF") for
 *                     every report, as the GPU's boot ROM certifies the
 *                     FMC's key
 * Every certificate is P-384 with ecdsa-with-SHA384, valid from 2020-01-01
 * to 9999-12-31 (as NVIDIA's device certificates run to 9999), so that
 * recorded reports can be checked at the times their RIMs were valid.
 */
#ifndef KG_GPU_SIM_H
#define KG_GPU_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_GPU_SIM_ROOT "gpu-root.pem"
#define KG_GPU_SIM_CHAIN "gpu-chain.pem"
#define KG_GPU_SIM_BROM_KEY "gpu-brom-key.pem"
/* The CAs' keys, for test OCSP responses about what each issued. */
#define KG_GPU_SIM_ROOT_KEY "gpu-root-key.pem"
#define KG_GPU_SIM_IDENTITY_KEY "gpu-identity-key.pem"
#define KG_GPU_SIM_PROVISIONER_KEY "gpu-provisioner-key.pem"

/* Creates dir (mode 0700) if needed and the three files above, unless they
 * exist already, in which case they are kept (a verifier configured with
 * gpu-root.pem keeps trusting it).  Delete them to start over. */
KG_MUST_CHECK kg_err kg_gpu_sim_init(const char *dir);

/* Re-issues a recorded report for nonce:
 *   recorded     a real report (request || response [|| padding]), binary
 *                or NVIDIA's hex text (kg_gpu_report_load);
 *   *report      the same request and response with the request nonce
 *                replaced by nonce, signed (ECDSA P-384/SHA-384, r || s)
 *                with a fresh leaf key; trailing padding dropped;
 *   *chain_pem   the leaf, then gpu-chain.pem, then gpu-root.pem (PEM,
 *                leaf first, as NVML returns NVIDIA's chain).
 * The leaf is named and encoded after the recorded device: "GH100 A01 GSP
 * FMC LF" with the Hopper FWID extension, "GB100 A01 GSP FMC LF" with the
 * Blackwell one (DiceTcbInfo) when the VBIOS version starts at 97, "LS_10
 * A01 FSP FMC LF" (Hopper encoding) for an NVSwitch (no driver version in
 * its opaque data); its FWID is the report's.  A
 * report without a FWID (older drivers, e.g. 535) still gets a leaf with a
 * FWID extension, of random bytes, because kg_gpu_verify requires the
 * signing leaf to carry one (NVIDIA's leaves do; a chain cut at the BROM
 * has none); the verifier then binds nothing (claims.fwid_bound false),
 * exactly as with the recorded evidence.  Both outputs are malloc'd; the
 * caller frees them.  The loader's and parser's errors for recorded,
 * KG_ERR_IO / KG_ERR_CRYPTO for dir's files. */
KG_MUST_CHECK kg_err kg_gpu_sim_attest(const char *dir, const uint8_t *recorded, size_t recorded_len,
				       const uint8_t nonce[static 32], uint8_t **report, size_t *report_len,
				       char **chain_pem, size_t *chain_len);

#endif
