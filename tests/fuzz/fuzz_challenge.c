/* Fuzz target: kg_challenge_check (broker/challenge.c). */
#include <stddef.h>
#include <stdint.h>

#include "../../broker/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[KG_CHALLENGE_KEY_LEN] = {0x42};

	/* A forged token must never pass. */
	if (kg_challenge_check(key, data, size, 1700000000, 60) == KG_OK)
		__builtin_trap();
	return 0;
}
