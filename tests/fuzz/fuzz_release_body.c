/* Fuzz target: kg_release_req_parse (broker/request.c). */
#include <stddef.h>
#include <stdint.h>

#include "../../broker/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_release_req r;

	if (kg_release_req_parse(data, size, &r) == KG_OK) {
		if (kg_aead_name(r.aead) == NULL)
			__builtin_trap();
		kg_release_req_free(&r);
	}
	return 0;
}
