/*
 * HPKE, RFC 9180, base mode only, for the one KEM Keygate uses:
 * DHKEM(X25519, HKDF-SHA256) (0x0020) with HKDF-SHA256 (0x0001) and
 * AES-256-GCM (0x0002) or ChaCha20-Poly1305 (0x0003); built on OpenSSL 3.0
 * and libsodium primitives (Debian's OpenSSL has no HPKE API).
 */
#ifndef KG_HPKE_H
#define KG_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_HPKE_KEM_X25519_SHA256 0x0020
#define KG_HPKE_KDF_HKDF_SHA256 0x0001
#define KG_HPKE_AEAD_AES_256_GCM 0x0002
#define KG_HPKE_AEAD_CHACHA20_POLY1305 0x0003

#define KG_HPKE_NENC 32 /* enc = ephemeral X25519 public key */
#define KG_HPKE_NPK 32
#define KG_HPKE_NSK 32
#define KG_HPKE_NT 16 /* AEAD tag */
#define KG_HPKE_NN 12

/* A context holds secrets: always end it with kg_hpke_ctx_wipe(). */
struct kg_hpke_ctx {
	uint16_t aead;
	uint8_t key[32];
	uint8_t base_nonce[KG_HPKE_NN];
	uint8_t exporter_secret[32];
	uint64_t seq;
};

/* 1 when aead is one of the two supported AEAD ids. */
int kg_hpke_aead_supported(uint16_t aead);

/* Fresh X25519 key pair. */
KG_MUST_CHECK kg_err kg_hpke_keygen(uint8_t sk[static KG_HPKE_NSK], uint8_t pk[static KG_HPKE_NPK]);
/* RFC 9180 §7.1.3 DeriveKeyPair for DHKEM(X25519, HKDF-SHA256). */
KG_MUST_CHECK kg_err kg_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[static KG_HPKE_NSK],
					    uint8_t pk[static KG_HPKE_NPK]);

/* SetupBaseS.  skE is NULL in production (a fresh ephemeral key is made);
 * tests pass the vector's skE to reproduce it. */
KG_MUST_CHECK kg_err kg_hpke_setup_s(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t pkR[static KG_HPKE_NPK],
				     const uint8_t *info, size_t info_len, const uint8_t *skE,
				     uint8_t enc[static KG_HPKE_NENC]);
/* SetupBaseR. */
KG_MUST_CHECK kg_err kg_hpke_setup_r(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t skR[static KG_HPKE_NSK],
				     const uint8_t enc[static KG_HPKE_NENC], const uint8_t *info, size_t info_len);
/* ct must hold pt_len + KG_HPKE_NT bytes.  Increments the sequence number. */
KG_MUST_CHECK kg_err kg_hpke_seal(struct kg_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				  size_t pt_len, uint8_t *ct);
/* pt must hold ct_len - KG_HPKE_NT bytes.  KG_ERR_HPKE_OPEN on a bad tag. */
KG_MUST_CHECK kg_err kg_hpke_open(struct kg_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
				  size_t ct_len, uint8_t *pt);
/* Secret export, RFC 9180 §5.3. */
KG_MUST_CHECK kg_err kg_hpke_export(const struct kg_hpke_ctx *ctx, const uint8_t *exp_ctx, size_t exp_ctx_len,
				    uint8_t *out, size_t out_len);
void kg_hpke_ctx_wipe(struct kg_hpke_ctx *ctx);

/* Single-shot forms (RFC 9180 §6.1): one message per context. */
KG_MUST_CHECK kg_err kg_hpke_seal_base(uint16_t aead, const uint8_t pkR[static KG_HPKE_NPK], const uint8_t *info,
				       size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				       size_t pt_len, uint8_t enc[static KG_HPKE_NENC], uint8_t *ct);
KG_MUST_CHECK kg_err kg_hpke_open_base(uint16_t aead, const uint8_t skR[static KG_HPKE_NSK],
				       const uint8_t enc[static KG_HPKE_NENC], const uint8_t *info, size_t info_len,
				       const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
				       uint8_t *pt);

#endif
