/* Fuzz target: kg_gpu_rim_parse and kg_gpu_rim_verify (attest/nvgpu_rim.c),
 * the NVIDIA RIM (SWID tag) reader and its XML-DSig check through libxml2
 * and xmlsec1 with the pinned CoRIM root at a fixed time.  Corpus: real
 * RIMs of shared/vectors/gpu (valid, bad chain), a DTD and a minimal tag,
 * in corpus/fuzz_gpu_rim. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../attest/nvgpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The switch RIM's signer is valid then (2026-11-29). */
#define FUZZ_NOW ((time_t)1795910400)

static void check(const struct kg_gpu_rim *r)
{
	uint8_t seen[256] = {0};

	if (r->n_meas > 255 || memchr(r->version, 0, sizeof r->version) == NULL)
		__builtin_trap();
	for (size_t i = 0; i < r->n_meas; i++) {
		const struct kg_gpu_rim_meas *m = &r->meas[i];
		if (m->size == 0 || m->size > KG_GPU_VALUE_MAX || m->n_alt == 0 || m->n_alt > 16 || m->index > 253 ||
		    seen[m->index]++)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One verifier for the whole run (the fuzzer's process is ours). */
	static struct kg_gpu_verifier *v;
	struct kg_gpu_rim *r = NULL;

	if (kg_gpu_rim_parse(data, size, &r) == KG_OK) {
		check(r);
		kg_gpu_rim_free(r);
	} else if (r != NULL) {
		__builtin_trap();
	}
	if (v == NULL && kg_gpu_verifier_new(&v, NULL, NULL) != KG_OK)
		__builtin_trap();
	r = NULL;
	if (kg_gpu_rim_verify(v, data, size, FUZZ_NOW, &r) == KG_OK) {
		check(r);
		kg_gpu_rim_free(r);
	} else if (r != NULL) {
		__builtin_trap();
	}
	return 0;
}
