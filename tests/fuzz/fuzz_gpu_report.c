/* Fuzz target: kg_gpu_report_parse and kg_gpu_report_load (attest/nvgpu.c),
 * the NVIDIA GPU / NVSwitch SPDM GET_MEASUREMENTS request + MEASUREMENTS
 * response parser with NVIDIA's opaque data, and the hex-text loader.
 * Corpus: the real reports of shared/vectors/gpu (Hopper 535/550/580/590,
 * Blackwell, NVSwitch, one as hex text) and edited copies, in
 * corpus/fuzz_gpu_report. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../attest/nvgpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static void check(const uint8_t *data, size_t size, struct kg_gpu_report *r)
{
	kg_err e = kg_gpu_report_parse(data, size, r);

	if (e != KG_OK) {
		if (!all_zero(r, sizeof *r)) /* outputs are cleared on failure */
			__builtin_trap();
		return;
	}
	/* What a successful parse promises: the structure was walked to the
	 * signature, then only zero padding. */
	if (r->signed_len + KG_GPU_SIG_SIZE + r->padding_len != size || r->padding_len > KG_GPU_PADDING_MAX)
		__builtin_trap();
	if (!all_zero(data + size - r->padding_len, r->padding_len))
		__builtin_trap();
	if (memcmp(r->signature, data + r->signed_len, KG_GPU_SIG_SIZE) != 0)
		__builtin_trap();
	if (data[0] != 0x11 || data[1] != 0xe0 || memcmp(r->nonce, data + 4, KG_GPU_NONCE_SIZE) != 0)
		__builtin_trap();
	if (r->n_blocks > KG_GPU_BLOCKS_MAX || r->n_switch_pdi > KG_GPU_PDI_MAX)
		__builtin_trap();
	for (size_t i = 0; i < r->n_blocks; i++)
		if (r->blocks[i].len > KG_GPU_VALUE_MAX || r->blocks[i].index == 0 || r->blocks[i].index == 0xff)
			__builtin_trap();
	if (memchr(r->driver_version, 0, sizeof r->driver_version) == NULL ||
	    memchr(r->vbios_version, 0, sizeof r->vbios_version) == NULL)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_gpu_report *r = malloc(sizeof *r);
	uint8_t *bin = NULL;
	size_t len = 0;

	if (r == NULL)
		return 0;
	check(data, size, r);
	/* The same bytes as NVIDIA's hex text. */
	if (kg_gpu_report_load(data, size, &bin, &len) == KG_OK) {
		if (len > size)
			__builtin_trap();
		check(bin, len, r);
		free(bin);
	}
	free(r);
	return 0;
}
