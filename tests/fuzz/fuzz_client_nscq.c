/* Fuzz target: kg_client_gpu_nscq_take (client/nscq.c), the check of what
 * NSCQ hands keygate-client for one NVSwitch: nscq_attestation_report_t
 * ({u32 report_size; u8 report[0x2000]}) and nscq_attestation_certificate_t
 * ({u8 cert_chain[0x1400]; u32 cert_chain_size}) as the library lays them
 * out, the sizes being the library's word.
 * Input: u32le report_size, u32le cert_chain_size, u16le n, n bytes of
 * report[], then the bytes of cert_chain[] (each buffer zero-filled past
 * what is given, longer input cut).
 * Corpus: real NVSwitch reports with their PEM chains (nvat's LS10, one of
 * nvtrust's PPCIe bundle), NUL-padded, sizes beyond the buffers, zero
 * sizes, a DER-looking chain, in corpus/fuzz_client_nscq. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/gpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check(const uint8_t *rep, const uint8_t *cert, const uint8_t *nonce)
{
	struct kg_client_gpus g;
	uint32_t rep_len = u32le(rep), chain_len = u32le(cert + KG_NSCQ_CERT_CHAIN_MAX);
	kg_err e;

	memset(&g, 0, sizeof g);
	e = kg_client_gpu_nscq_take(&g, rep, cert, nonce);
	if (e != KG_OK) {
		if (g.n != 0)
			__builtin_trap();
		return;
	}
	/* Taken: the report as its size says, within its buffer; the chain's
	 * text within its size and buffer. */
	if (g.n != 1 || rep_len > KG_NSCQ_REPORT_MAX || g.dev[0].report_len != rep_len ||
	    memcmp(g.dev[0].report, rep + 4, rep_len) != 0)
		__builtin_trap();
	if (chain_len > KG_NSCQ_CERT_CHAIN_MAX || g.dev[0].certs_len == 0 || g.dev[0].certs_len > chain_len ||
	    g.dev[0].certs[g.dev[0].certs_len] != '\0' || memcmp(g.dev[0].certs, cert, g.dev[0].certs_len) != 0)
		__builtin_trap();
	if (nonce && memcmp(rep + 4 + 4, nonce, 32) != 0)
		__builtin_trap();
	kg_client_gpus_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *rep, *cert;
	size_t n, rest;

	if (size < 10)
		return 0;
	n = (size_t)data[8] | (size_t)data[9] << 8;
	if (n > size - 10 || n > KG_NSCQ_REPORT_MAX)
		return 0;
	rep = calloc(1, KG_NSCQ_REPORT_ANSWER_SIZE);
	cert = calloc(1, KG_NSCQ_CERT_ANSWER_SIZE);
	if (rep == NULL || cert == NULL)
		goto out;
	memcpy(rep, data, 4);
	memcpy(rep + 4, data + 10, n);
	rest = size - 10 - n;
	if (rest > KG_NSCQ_CERT_CHAIN_MAX)
		rest = KG_NSCQ_CERT_CHAIN_MAX;
	memcpy(cert, data + 10 + n, rest);
	memcpy(cert + KG_NSCQ_CERT_CHAIN_MAX, data + 4, 4);
	check(rep, cert, NULL);
	/* With the nonce the report claims: the comparison path. */
	if (n >= 36)
		check(rep, cert, rep + 4 + 4);
out:
	free(rep);
	free(cert);
	return 0;
}
