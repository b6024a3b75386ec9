/* Fuzz target: kg_client_gpu_take (client/gpu.c), the check of what NVML
 * (or a replay file) hands keygate-client for one GPU: the attestation
 * report and the attestation certificate chain buffer, NUL-padded.
 * Input: u16le report length, the report, then the certificate buffer.
 * Corpus: real reports of shared/vectors/gpu with a simulator's chain,
 * padded and unpadded, and broken certificate buffers, in
 * corpus/fuzz_client_gpu. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../client/gpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *rep, size_t rep_len, const uint8_t *certs, size_t certs_len, const uint8_t *nonce)
{
	struct kg_client_gpus g;
	kg_err e;

	memset(&g, 0, sizeof g);
	e = kg_client_gpu_take(&g, rep, rep_len, certs, certs_len, nonce);
	if (e != KG_OK) {
		if (g.n != 0)
			__builtin_trap();
		return;
	}
	/* Taken: the report as given, the certificates' text up to a NUL,
	 * within the body's limits. */
	if (g.n != 1 || g.dev[0].report_len != rep_len || memcmp(g.dev[0].report, rep, rep_len) != 0)
		__builtin_trap();
	if (g.dev[0].certs_len == 0 || g.dev[0].certs_len > KG_BODY_GPU_CERTS_MAX ||
	    g.dev[0].certs_len > certs_len || g.dev[0].certs[g.dev[0].certs_len] != '\0' ||
	    strlen(g.dev[0].certs) != g.dev[0].certs_len || memcmp(g.dev[0].certs, certs, g.dev[0].certs_len) != 0)
		__builtin_trap();
	if (nonce && memcmp(rep + 4, nonce, 32) != 0)
		__builtin_trap();
	kg_client_gpus_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t rep_len;

	if (size < 2)
		return 0;
	rep_len = (size_t)data[0] | (size_t)data[1] << 8;
	if (rep_len > size - 2)
		return 0;
	check(data + 2, rep_len, data + 2 + rep_len, size - 2 - rep_len, NULL);
	/* With the nonce the report claims: the comparison path. */
	if (rep_len >= 36)
		check(data + 2, rep_len, data + 2 + rep_len, size - 2 - rep_len, data + 2 + 4);
	return 0;
}
