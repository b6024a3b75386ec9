/* Fuzz target: kg_snp_report_parse (attest/snp.c), the SEV-SNP
 * ATTESTATION_REPORT parser.  Corpus: real reports from shared/vectors and
 * edge cases (v4/v5 headers, reserved bytes set), in corpus/fuzz_snp_report. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../attest/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_snp_report r;
	kg_err e = kg_snp_report_parse(data, size, &r);

	if (e != KG_OK) {
		/* Outputs are cleared on failure. */
		if (!all_zero(&r, sizeof r))
			__builtin_trap();
		return 0;
	}
	/* What a successful parse promises. */
	if (size != KG_SNP_REPORT_SIZE || r.version < 2 || r.version > 5 || r.sig_algo != 1 ||
	    !(r.policy & (1ULL << 17)) || (r.policy >> 26) != 0 || (r.signer_info >> 5) != 0 ||
	    (r.signing_key != 0 && r.signing_key != 1) || r.debug != !!(r.policy & (1ULL << 19)))
		__builtin_trap();
	if (r.version < 3 && (r.cpuid_fam_id || r.cpuid_mod_id || r.cpuid_step || r.product[0]))
		__builtin_trap();
	if (r.version < 5 && (r.launch_mit_vector || r.current_mit_vector))
		__builtin_trap();
	if (memchr(r.product, 0, sizeof r.product) == NULL)
		__builtin_trap();
	/* The parsed fields are the bytes at their offsets. */
	if (memcmp(r.measurement, data + 0x90, 48) != 0 || memcmp(r.chip_id, data + 0x1a0, 64) != 0 ||
	    memcmp(r.sig_r, data + 0x2a0, 72) != 0 || memcmp(r.sig_s, data + 0x2e8, 72) != 0)
		__builtin_trap();
	return 0;
}
