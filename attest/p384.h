/*
 * ECDSA P-384 with SHA-384, verified on the release path: SEV-SNP reports
 * and NVIDIA SPDM measurements.
 *
 * Through GnuTLS (nettle), which the broker already runs for TLS: Debian
 * 12's OpenSSL 3.0 has no optimised P-384 (3.2 added one) and takes about
 * 450 µs per verification on a 2-core machine, nettle about 250 µs, a
 * tenth of a whole SNP release (docs/operations.md, "Performance").
 * OpenSSL still parses and checks the certificates; only the public point
 * crosses over.
 */
#ifndef KG_P384_H
#define KG_P384_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_P384_SIZE 48

/* A P-384 public key as its affine coordinates, big-endian. */
struct kg_p384_key {
	uint8_t x[KG_P384_SIZE], y[KG_P384_SIZE];
};

/* The key of pk (an OpenSSL EVP_PKEY) when it is an EC key on secp384r1;
 * bad otherwise. */
struct evp_pkey_st;
KG_MUST_CHECK kg_err kg_p384_key_from_evp(const struct evp_pkey_st *pk, struct kg_p384_key *out, kg_err bad);

/* Whether (r, s), big-endian, is k's signature of SHA-384(msg): KG_OK, or
 * bad for any signature that does not verify (r or s out of [1, n-1]
 * included), or KG_ERR_NOMEM / KG_ERR_CRYPTO when it could not be
 * checked. */
KG_MUST_CHECK kg_err kg_p384_verify(const struct kg_p384_key *k, const uint8_t *msg, size_t len,
				    const uint8_t r[static KG_P384_SIZE], const uint8_t s[static KG_P384_SIZE], kg_err bad);

#endif
