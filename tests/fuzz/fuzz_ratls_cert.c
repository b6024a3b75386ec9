/*
 * Fuzz target for kg_ratls_parse_cert (attest/ratls.c): a DER certificate
 * carrying the RA-TLS evidence extension 2.23.133.5.4.9.  When one parses,
 * its claims go on through kg_ratls_parse_claims and
 * kg_ratls_check_pubkey, as the broker runs them, and the result's
 * invariants are checked.  Corpus: corpus/fuzz_ratls_cert/ (the three CCC
 * interoperability certificates and a Keygate one).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../../attest/ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_ratls r;
	struct kg_ratls_claims c;
	uint8_t h[32];
	unsigned int n = 0;

	if (kg_ratls_parse_cert(data, size, &r) != KG_OK) {
		/* Outputs are cleared on failure. */
		if (!zeroed(&r, sizeof r))
			abort();
		return 0;
	}
	/* evidence and claims lie inside ext, in that order, and ext_sha256
	 * is the hash of ext. */
	if (!r.ext || !r.spki || r.spki_len == 0 || r.evidence < r.ext || r.claims < r.evidence + r.evidence_len ||
	    r.claims + r.claims_len != r.ext + r.ext_len)
		abort();
	if (EVP_Digest(r.ext, r.ext_len, h, &n, EVP_sha256(), NULL) != 1 || memcmp(h, r.ext_sha256, 32) != 0)
		abort();
	if (kg_ratls_parse_claims(r.claims, r.claims_len, &c) == KG_OK) {
		kg_err rc = kg_ratls_check_pubkey(&c, r.spki, r.spki_len);
		if (rc != KG_OK && rc != KG_ERR_BINDING_PUBKEY)
			abort();
	}
	kg_ratls_free(&r);
	return 0;
}
