/*
 * Fuzz target for kg_ratls_parse_claims (attest/ratls.c): the CBOR claims
 * map of an RA-TLS certificate (pubkey-hash, nonce, hpke-pk, unknown
 * claims).  Parsed claims go on through kg_ratls_check_pubkey, and the
 * result's invariants are checked.  Corpus: corpus/fuzz_ratls_claims/ (the
 * claims buffers of the three CCC interoperability certificates and a
 * Keygate map with nonce and hpke-pk).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../attest/ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_ratls_claims c;
	kg_err rc;

	rc = kg_ratls_parse_claims(data, size, &c);
	if (rc != KG_OK) {
		if (c.hash_alg != 0 || c.pubkey_hash_len != 0 || c.has_nonce || c.has_hpke_pk)
			abort();
		return 0;
	}
	/* pubkey-hash is required and its length fits its algorithm. */
	if (!((c.hash_alg == 1 && c.pubkey_hash_len == 32) || (c.hash_alg == 7 && c.pubkey_hash_len == 48) ||
	      (c.hash_alg == 8 && c.pubkey_hash_len == 64)))
		abort();
	if (c.nonce_len > KG_RATLS_NONCE_MAX || (!c.has_nonce && c.nonce_len != 0))
		abort();
	/* Any SPKI: the hash matches only by chance, never crashes. */
	rc = kg_ratls_check_pubkey(&c, data, size);
	if (rc != KG_OK && rc != KG_ERR_BINDING_PUBKEY)
		abort();
	return 0;
}
