/*
 * RA-TLS certificates in the interoperable format of the CCC
 * "Interoperable RA-TLS" convention: a self-signed X.509 certificate whose
 * non-critical extension 2.23.133.5.4.9 (tcg-dice-conceptual-message-wrapper)
 * holds tagged CBOR  TAG([ bstr evidence, bstr claims ]).  claims is a CBOR
 * map {"pubkey-hash": bstr(CBOR [hash-alg-id, bstr hash(SPKI DER)]),
 *      "nonce": bstr, ...}; REPORT_DATA[0..32] = SHA-256(claims bytes).
 * Keygate adds the claim "hpke-pk" (bstr, 32-byte X25519 key); other
 * verifiers ignore unknown claims, as the convention says.
 */
#ifndef KG_RATLS_H
#define KG_RATLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

#define KG_RATLS_OID "2.23.133.5.4.9"
/* Evidence tags.  60000: Intel TEE quote (Gramine, CCC).  0x1a7504: SEV-SNP
 * report || GHCB certificate table (the tag rats-tls assigns to SEV-SNP;
 * the CCC documents define none, see docs/protocol.md). */
#define KG_RATLS_TAG_INTEL_QUOTE 60000u
#define KG_RATLS_TAG_SNP 0x1a7504u

/* Limits checked before anything is allocated. */
#define KG_RATLS_CERT_MAX (32 * 1024)
#define KG_RATLS_CLAIMS_MAX 4096
#define KG_RATLS_NONCE_MAX 256

/* The evidence extension of one certificate.  Owns its buffers. */
struct kg_ratls {
	uint64_t tag;
	const uint8_t *evidence; /* into ext */
	size_t evidence_len;
	const uint8_t *claims; /* into ext: the exact bytes REPORT_DATA hashes */
	size_t claims_len;
	uint8_t *ext; /* copy of the extension value (the tagged CBOR) */
	size_t ext_len;
	uint8_t ext_sha256[32]; /* hash of the whole evidence extension */
	uint8_t *spki;          /* DER SubjectPublicKeyInfo of the certificate key */
	size_t spki_len;
	time_t not_before, not_after;
};

/* Parses a DER certificate (at most KG_RATLS_CERT_MAX bytes, nothing after
 * it) and its evidence extension.  Does not judge the evidence, the tag or
 * the self-signature.  Errors: too_large, client_cert_invalid (DER),
 * ratls_no_evidence, ratls_evidence_duplicated (the extension appears more
 * than once), ratls_cbor_malformed (not exactly one tag around a definite
 * [bstr, bstr], indefinite lengths anywhere, trailing bytes).  On error
 * *out is left zeroed. */
KG_MUST_CHECK kg_err kg_ratls_parse_cert(const uint8_t *der, size_t len, struct kg_ratls *out);
void kg_ratls_free(struct kg_ratls *r);

struct kg_ratls_claims {
	int hash_alg; /* IANA named-information id: 1 SHA-256, 7 SHA-384, 8 SHA-512 */
	uint8_t pubkey_hash[64];
	size_t pubkey_hash_len;
	uint8_t nonce[KG_RATLS_NONCE_MAX];
	size_t nonce_len;
	int has_nonce;
	uint8_t hpke_pk[32];
	int has_hpke_pk;
	/* Keygate: SHA-256 binding of the GPU evidence the release body
	 * carries (broker/core.h kg_gpu_evidence_hash). */
	uint8_t gpu_evidence[32];
	int has_gpu_evidence;
};

/* Parses the claims map.  Unknown claims are ignored (CCC convention);
 * known claims with the wrong type or length, a repeated known claim, a
 * missing pubkey-hash, a non-text key or indefinite lengths are
 * ratls_claims_malformed; a pubkey-hash algorithm other than 1/7/8 is
 * ratls_hash_alg_unsupported; more than KG_RATLS_CLAIMS_MAX bytes is
 * too_large.  On error *out is left zeroed. */
KG_MUST_CHECK kg_err kg_ratls_parse_claims(const uint8_t *cbor, size_t len, struct kg_ratls_claims *out);

/* KG_OK when claims->pubkey_hash equals hash_alg(spki) (constant time),
 * KG_ERR_BINDING_PUBKEY otherwise. */
KG_MUST_CHECK kg_err kg_ratls_check_pubkey(const struct kg_ratls_claims *claims, const uint8_t *spki,
					   size_t spki_len);

/* Encodes the claims map (canonical CBOR: definite lengths, keys sorted)
 * that a CVM puts in its certificate: pubkey-hash = [1, SHA-256(spki)],
 * nonce (omitted when nonce is NULL), hpke-pk.  *out is malloc'd. */
KG_MUST_CHECK kg_err kg_ratls_encode_claims(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
					    size_t nonce_len, const uint8_t hpke_pk[static 32], uint8_t **out,
					    size_t *out_len);

/* The same, plus "gpu-evidence" (32 bytes) unless gpu_evidence is NULL. */
KG_MUST_CHECK kg_err kg_ratls_encode_claims_gpu(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
						size_t nonce_len, const uint8_t hpke_pk[static 32],
						const uint8_t *gpu_evidence, uint8_t **out, size_t *out_len);

/* Encodes the extension value TAG([bstr evidence, bstr claims]).  *out is
 * malloc'd. */
KG_MUST_CHECK kg_err kg_ratls_encode_evidence(uint64_t tag, const uint8_t *evidence, size_t evidence_len,
					      const uint8_t *claims, size_t claims_len, uint8_t **out,
					      size_t *out_len);

/* Makes a self-signed certificate for key (an EVP_PKEY *, kept opaque here
 * so that OpenSSL types stay at the edges) carrying ext as the
 * 2.23.133.5.4.9 extension, valid from now-1h to now+valid_secs. *der is
 * malloc'd. */
KG_MUST_CHECK kg_err kg_ratls_make_cert(void *evp_pkey, const uint8_t *ext, size_t ext_len, time_t now,
					long valid_secs, uint8_t **der, size_t *der_len);

#endif
