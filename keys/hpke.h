/*
 * HPKE, RFC 9180, base mode only, for the one KEM Keygate uses:
 * DHKEM(X25519, HKDF-SHA256) (0x0020) with HKDF-SHA256 (0x0001) and
 * AES-256-GCM (0x0002) or ChaCha20-Poly1305 (0x0003), and AES-128-GCM
 * (0x0001) so that RFC 9180 Appendix A.1 runs too; built on OpenSSL 3.0
 * and libsodium primitives (Debian's OpenSSL has no HPKE API).
 *
 * Pointer + length pairs may be NULL + 0.  AEAD inputs are limited to
 * INT_MAX bytes (KG_ERR_TOO_LARGE), the limit of OpenSSL's EVP interface.
 */
#ifndef KG_HPKE_H
#define KG_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_HPKE_KEM_X25519_SHA256 0x0020
#define KG_HPKE_KDF_HKDF_SHA256 0x0001
#define KG_HPKE_AEAD_AES_128_GCM 0x0001
#define KG_HPKE_AEAD_AES_256_GCM 0x0002
#define KG_HPKE_AEAD_CHACHA20_POLY1305 0x0003

#define KG_HPKE_NENC 32 /* enc = ephemeral X25519 public key */
#define KG_HPKE_NPK 32
#define KG_HPKE_NSK 32
#define KG_HPKE_NT 16 /* AEAD tag */
#define KG_HPKE_NN 12
#define KG_HPKE_EXPORT_MAX (255 * 32) /* 255 * Nh, RFC 9180 §5.3 / RFC 5869 §2.3 */

/* A context holds secrets: always end it with kg_hpke_ctx_wipe().  aead is
 * 0 in a context that is not set up (or was wiped); key holds Nk bytes (16
 * for AES-128-GCM, else 32). */
struct kg_hpke_ctx {
	uint16_t aead;
	uint8_t key[32];
	uint8_t base_nonce[KG_HPKE_NN];
	uint8_t exporter_secret[32];
	uint64_t seq;
};

/* 1 when aead is one of the three supported AEAD ids (not the export-only
 * id 0xFFFF), else 0. */
int kg_hpke_aead_supported(uint16_t aead);

/* Fresh X25519 key pair from RAND_priv_bytes.  KG_ERR_RANDOM when the
 * generator fails; sk is wiped on failure. */
KG_MUST_CHECK kg_err kg_hpke_keygen(uint8_t sk[static KG_HPKE_NSK], uint8_t pk[static KG_HPKE_NPK]);
/* RFC 9180 §7.1.3 DeriveKeyPair for DHKEM(X25519, HKDF-SHA256).  ikm must
 * be at least KG_HPKE_NSK bytes (the RFC's SHOULD), else KG_ERR_INVALID_ARG. */
KG_MUST_CHECK kg_err kg_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[static KG_HPKE_NSK],
					    uint8_t pk[static KG_HPKE_NPK]);

/* SetupBaseS (§5.1.1).  skE is NULL in production (a fresh ephemeral key is
 * made); tests pass the vector's skE (KG_HPKE_NSK bytes) to reproduce it.
 * ctx is cleared on entry and wiped on failure.  KG_ERR_HPKE_SUITE for an
 * unsupported aead, KG_ERR_HPKE_DH when pkR is of low order (all-zero DH). */
KG_MUST_CHECK kg_err kg_hpke_setup_s(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t pkR[static KG_HPKE_NPK],
				     const uint8_t *info, size_t info_len, const uint8_t *skE,
				     uint8_t enc[static KG_HPKE_NENC]);
/* SetupBaseR (§5.1.1).  Same contract as kg_hpke_setup_s; KG_ERR_HPKE_DH
 * when enc is of low order. */
KG_MUST_CHECK kg_err kg_hpke_setup_r(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t skR[static KG_HPKE_NSK],
				     const uint8_t enc[static KG_HPKE_NENC], const uint8_t *info, size_t info_len);
/* ct must hold pt_len + KG_HPKE_NT bytes.  Increments the sequence number
 * on success.  KG_ERR_INVALID_ARG for a context that is not set up or has
 * used every sequence number (seq == UINT64_MAX, §5.2). */
KG_MUST_CHECK kg_err kg_hpke_seal(struct kg_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				  size_t pt_len, uint8_t *ct);
/* pt must hold ct_len - KG_HPKE_NT bytes.  KG_ERR_HPKE_OPEN on a bad tag or
 * a ct shorter than the tag; pt is then wiped and seq is unchanged. */
KG_MUST_CHECK kg_err kg_hpke_open(struct kg_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
				  size_t ct_len, uint8_t *pt);
/* Secret export, RFC 9180 §5.3; out_len <= KG_HPKE_EXPORT_MAX. */
KG_MUST_CHECK kg_err kg_hpke_export(const struct kg_hpke_ctx *ctx, const uint8_t *exp_ctx, size_t exp_ctx_len,
				    uint8_t *out, size_t out_len);
/* Wipes the whole context; NULL is a no-op. */
void kg_hpke_ctx_wipe(struct kg_hpke_ctx *ctx);

/* Single-shot forms (RFC 9180 §6.1): one message per context, which is
 * wiped before return.  Errors as for setup and seal/open. */
KG_MUST_CHECK kg_err kg_hpke_seal_base(uint16_t aead, const uint8_t pkR[static KG_HPKE_NPK], const uint8_t *info,
				       size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				       size_t pt_len, uint8_t enc[static KG_HPKE_NENC], uint8_t *ct);
KG_MUST_CHECK kg_err kg_hpke_open_base(uint16_t aead, const uint8_t skR[static KG_HPKE_NSK],
				       const uint8_t enc[static KG_HPKE_NENC], const uint8_t *info, size_t info_len,
				       const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
				       uint8_t *pt);

#endif
