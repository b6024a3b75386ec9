/* Fuzz target: kg_snp_crl_parse (attest/snp.c), the form check of AMD
 * CRLs (DER, or PEM with up to 8) before any signature is verified. */
#include <stddef.h>
#include <stdint.h>

#include "../../attest/snp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 99;
	kg_err e = kg_snp_crl_parse(data, size, &n);

	/* Success means 1..8 CRLs; failure reports none. */
	if ((e == KG_OK && (n < 1 || n > 8)) || (e != KG_OK && n != 0))
		__builtin_trap();
	return 0;
}
