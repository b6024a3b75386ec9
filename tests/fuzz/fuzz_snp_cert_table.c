/* Fuzz target: kg_snp_cert_table_parse (attest/snp.c), the GHCB extended
 * report certificate table (GHCB 56421 §4.1.8.1).  Corpus: tables from the
 * simulated attester and hand-made edge cases, in
 * corpus/fuzz_snp_cert_table. */
#include <stddef.h>
#include <stdint.h>

#include "../../attest/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A returned certificate lies inside the buffer, after the smallest
 * possible header (one entry and the terminator). */
static void check(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
	if (p == NULL) {
		if (len != 0)
			__builtin_trap();
		return;
	}
	if (len == 0 || p < data + 48 || p > data + size || len > (size_t)(data + size - p))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_snp_cert_table t;

	if (kg_snp_cert_table_parse(data, size, &t) != KG_OK) {
		if (t.vcek || t.vlek || t.ask || t.ark || t.vcek_len || t.vlek_len || t.ask_len || t.ark_len)
			__builtin_trap(); /* outputs cleared on failure */
		return 0;
	}
	check(data, size, t.vcek, t.vcek_len);
	check(data, size, t.vlek, t.vlek_len);
	check(data, size, t.ask, t.ask_len);
	check(data, size, t.ark, t.ark_len);
	return 0;
}
