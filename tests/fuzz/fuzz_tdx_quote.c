/* Fuzz target: kg_tdx_quote_parse (attest/tdx.c), the Intel TDX DCAP quote
 * parser (v4/v5 header, TD report bodies, signature data, certification
 * data types 6 and 5, padding).  Corpus: the real quotes of
 * shared/vectors/tdx and edited copies, in corpus/fuzz_tdx_quote. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../attest/tdx.h"

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
	struct kg_tdx_quote q;
	kg_err e = kg_tdx_quote_parse(data, size, &q);

	if (e != KG_OK) {
		if (!all_zero(&q, sizeof q)) /* outputs are cleared on failure */
			__builtin_trap();
		return 0;
	}
	/* What a successful parse promises. */
	if ((q.version != 4 && q.version != 5) || q.att_key_type != 2 || q.tee_type != 0x81)
		__builtin_trap();
	if (!(q.body_type == 2 && q.body_size == 584) && !(q.body_type == 3 && q.body_size == 648))
		__builtin_trap();
	if (q.version == 4 && q.body_type != 2)
		__builtin_trap();
	if (q.signed_len != (q.version == 4 ? 48u : 54u) + q.body_size)
		__builtin_trap();
	if (q.signed_len + 4 + q.sig_data_len + q.padding_len != size)
		__builtin_trap();
	if (!all_zero(data + size - q.padding_len, q.padding_len))
		__builtin_trap();
	/* Borrowed pointers lie inside the input, in order. */
	if (q.qe_report_raw < data || q.qe_auth_data < q.qe_report_raw + 384 + 64 ||
	    q.pck_chain < q.qe_auth_data + q.qe_auth_len || q.pck_chain + q.pck_chain_len > data + size ||
	    q.pck_chain_len == 0 || q.pck_chain_len > KG_TDX_PCK_CHAIN_MAX)
		__builtin_trap();
	/* Fields are the bytes at their offsets. */
	if (memcmp(q.body.mr_td, data + q.signed_len - q.body_size + 0x88, 48) != 0 ||
	    memcmp(q.body.report_data, data + q.signed_len - q.body_size + 0x208, 64) != 0 ||
	    memcmp(q.qe_report.report_data, q.qe_report_raw + 0x140, 64) != 0)
		__builtin_trap();
	if (q.body_type == 2 && (!all_zero(q.body.tee_tcb_svn2, 16) || !all_zero(q.body.mr_service_td, 48)))
		__builtin_trap();
	return 0;
}
