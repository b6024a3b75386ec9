/*
 * The broker's pure parts: challenge tokens and request bodies.  No I/O,
 * no clock reads: the time is passed in.
 */
#ifndef KG_BROKER_CORE_H
#define KG_BROKER_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

/*
 * A challenge any replica can check without memory:
 *   version (1) = 1 || issued_at (u64 big-endian, Unix seconds) ||
 *   random (16) || HMAC-SHA256(challenge key, the 25 bytes before) (32)
 * The challenge key is shared by all replicas.  Within its lifetime a
 * challenge can be presented more than once; that is harmless because a
 * release also needs the TLS client key that the evidence binds.
 */
#define KG_CHALLENGE_LEN 57
#define KG_CHALLENGE_KEY_LEN 32
/* Tolerated clock difference between replicas, in seconds. */
#define KG_CHALLENGE_SKEW 5

KG_MUST_CHECK kg_err kg_challenge_make(const uint8_t key[static KG_CHALLENGE_KEY_LEN], time_t now,
				       uint8_t out[static KG_CHALLENGE_LEN]);
/* KG_OK, or CHALLENGE_MALFORMED / CHALLENGE_FORGED / CHALLENGE_EXPIRED. */
KG_MUST_CHECK kg_err kg_challenge_check(const uint8_t key[static KG_CHALLENGE_KEY_LEN], const uint8_t *c,
					size_t len, time_t now, unsigned ttl);

/* Key ids: 1-64 of [A-Za-z0-9._-] (the same rule as the keys table). */
int kg_key_id_valid(const char *id);

/* A ledger bundle (up to 40 KiB of text) and the evidence of up to 16 GPUs
 * and NVSwitches (each a report and its certificate chain) travel in the
 * body. */
#define KG_BODY_MAX (256 * 1024)
#define KG_LEDGER_TEXT_MAX (48 * 1024)

/* One GPU's or NVSwitch's evidence as the body carries it: "gpus":
 * [{"report": base64 of the SPDM request || response, "certs": the device
 * certificate chain, PEM, leaf first}, ...]. */
#define KG_BODY_GPUS_MAX 16
#define KG_BODY_GPU_REPORT_MAX (8 * 1024)
#define KG_BODY_GPU_CERTS_MAX (8 * 1024)
struct kg_gpu_evidence {
	uint8_t *report;
	size_t report_len;
	char *certs;
	size_t certs_len;
};

/* What binds GPU evidence to a release (docs/protocol.md, "GPUs"):
 *   the CVM's RA-TLS claims carry "gpu-evidence" =
 *     SHA-256("keygate/v1 gpu evidence" || 0x00 || for each device in
 *             order: u32be(report_len) || report || u32be(certs_len) || certs),
 *   and every device's SPDM request carries the nonce
 *     SHA-256("keygate/v1 gpu nonce" || 0x00 || challenge || pubkey-hash),
 * pubkey-hash being the claims' hash of the TLS key.  Evidence cannot be
 * moved to another release: another challenge or TLS key changes the
 * nonce, and other evidence changes the claims the CPU attested. */
void kg_gpu_evidence_hash(const struct kg_gpu_evidence *devs, size_t n, uint8_t out[static 32]);
void kg_gpu_nonce(const uint8_t *challenge, size_t challenge_len, const uint8_t *pubkey_hash, size_t pubkey_hash_len,
		  uint8_t out[static 32]);

/* POST /v1/keys/{key_id}/release body, after parsing. */
struct kg_release_req {
	uint16_t aead; /* HPKE AEAD id the CVM wants the key sealed with */
	/* The ledger bundle (C2SP tlog-proof text) and an optional
	 * consistency proof from the broker's seen checkpoint; malloc'd. */
	char *ledger_bundle;
	size_t ledger_bundle_len;
	char *ledger_consistency;
	size_t ledger_consistency_len;
	/* "version": the key version wanted (0 = the newest the policy allows). */
	uint32_t version;
	/* "session_id": derive the session key for this id (1-128 characters
	 * of [A-Za-z0-9._:-]; session_id_len 0 = none: a fresh random key). */
	char session_id[128 + 1];
	size_t session_id_len;
	/* "gpus": the evidence of the CVM's GPUs and NVSwitches; malloc'd. */
	struct kg_gpu_evidence gpus[KG_BODY_GPUS_MAX];
	size_t n_gpus;
};
void kg_release_req_free(struct kg_release_req *r);

/* Parses the JSON body (empty body = defaults).  Unknown fields are an
 * error (KG_ERR_UNKNOWN_FIELD), as are wrong types and a version outside
 * 1..2^31-1 (KG_ERR_BAD_REQUEST), a malformed session id
 * (KG_ERR_SESSION_ID) and invalid JSON (KG_ERR_BAD_JSON). */
KG_MUST_CHECK kg_err kg_release_req_parse(const uint8_t *body, size_t len, struct kg_release_req *out);

/* HPKE info for a released key: binds the hash of the accepted evidence,
 * the key id, the key version and the request id, so that a wrapped key
 * cannot be passed off as another.
 *   "keygate/v1 release" || 0x00 || evidence_sha256 (32) ||
 *   u16be(len(key_id)) || key_id || u32be(version) || request_id (16)
 * out must hold KG_RELEASE_INFO_MAX bytes; returns the length. */
#define KG_RELEASE_INFO_MAX (19 + 32 + 2 + 64 + 4 + 16)
size_t kg_release_info(uint8_t out[static KG_RELEASE_INFO_MAX], const uint8_t evidence_sha256[static 32],
		       const char *key_id, uint32_t version, const uint8_t request_id[static 16]);

/* AEAD names on the wire: "aes-256-gcm", "chacha20-poly1305". */
const char *kg_aead_name(uint16_t aead);
uint16_t kg_aead_from_name(const char *name); /* 0 when unknown */

#endif
