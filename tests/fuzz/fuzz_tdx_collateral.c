/* Fuzz target: kg_tdx_tcb_info_parse and kg_tdx_qe_identity_parse
 * (attest/tdx_collateral.c), the parsers of Intel PCS collateral JSON
 * (TCB Info v3, TD_QE Enclave Identity v2) and of the raw signed value
 * inside it.  Each input goes to both.  Corpus: the collateral files of
 * shared/vectors/tdx and edited copies, in corpus/fuzz_tdx_collateral. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../attest/tdx_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_signed(const struct kg_tdx_signed *s, const uint8_t *data, size_t size)
{
	/* The signed bytes are a JSON object inside the input. */
	if (s->body < data || s->body_len < 2 || s->body + s->body_len > data + size || s->body[0] != '{' ||
	    s->body[s->body_len - 1] != '}')
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_tdx_tcb_info *ti = NULL;
	struct kg_tdx_qe_identity *qi = NULL;
	struct kg_tdx_signed sig;

	if (kg_tdx_tcb_info_parse(data, size, &ti, &sig) == KG_OK) {
		check_signed(&sig, data, size);
		if (ti->version != 3 || ti->n_levels == 0 || ti->n_levels > KG_TDX_TCB_LEVELS_MAX ||
		    ti->n_ids > KG_TDX_MODULE_IDS_MAX || ti->n_adv > KG_TDX_ADVISORY_POOL_MAX ||
		    ti->issue_date >= ti->next_update)
			__builtin_trap();
		for (size_t i = 0; i < ti->n_levels; i++)
			if ((size_t)ti->levels[i].adv.first + ti->levels[i].adv.count > ti->n_adv ||
			    (unsigned)ti->levels[i].status >= KG_TDX_TCB__COUNT)
				__builtin_trap();
		free(ti);
	} else if (ti != NULL) {
		__builtin_trap();
	}
	if (kg_tdx_qe_identity_parse(data, size, &qi, &sig) == KG_OK) {
		check_signed(&sig, data, size);
		if (qi->version != 2 || qi->n_levels == 0 || qi->n_levels > KG_TDX_QE_LEVELS_MAX)
			__builtin_trap();
		for (size_t i = 0; i < qi->n_levels; i++)
			if ((size_t)qi->levels[i].adv.first + qi->levels[i].adv.count > qi->n_adv)
				__builtin_trap();
		free(qi);
	} else if (qi != NULL) {
		__builtin_trap();
	}
	return 0;
}
