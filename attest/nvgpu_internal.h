/* Shared by nvgpu.c and nvgpu_rim.c only: the verifier object and the
 * X.509 helpers both the device chain and the RIM chain use. */
#ifndef KG_NVGPU_INTERNAL_H
#define KG_NVGPU_INTERNAL_H

#include <pthread.h>

#include <openssl/x509.h>

#include "nvgpu.h"

struct gpu_chain_entry; /* nvgpu.c */
struct gpu_rim_entry;	/* nvgpu_rim.c */

struct kg_gpu_verifier {
	X509 *device_root;
	X509 *rim_root;
	pthread_mutex_t lock;
	uint64_t tick;
	struct gpu_chain_entry *chains; /* KG_GPU_CACHE_MAX */
	struct gpu_rim_entry *rims;	/* KG_GPU_CACHE_MAX */
};

/* What a chain verification concluded, by error kind, so that the device
 * chain and the RIM chain can map them to their own reason codes. */
enum gpu_chain_fail {
	GPU_CHAIN_OK = 0,
	GPU_CHAIN_FAIL_SHORT,	 /* fewer than two certificates */
	GPU_CHAIN_FAIL_ISSUER,	 /* an issuer is missing */
	GPU_CHAIN_FAIL_ROOT,	 /* ends in a root that is not the anchor */
	GPU_CHAIN_FAIL_TIME,	 /* outside a validity period at now */
	GPU_CHAIN_FAIL_INVALID,	 /* anything else */
};

/* Verifies certs[0] (leaf) through certs[1] .. certs[n-1] to root at now: every cert
 * used, P-384 keys and ecdsa-with-SHA384 throughout; a root in the list must be
 * byte-identical to the anchor.  nb and na get the chain's validity window
 * (intersection).  Returns a gpu_chain_fail; KG errors are not used here
 * because the two callers map them differently. */
enum gpu_chain_fail kg_gpu_chain_check(X509 *root, X509 *const *certs, size_t n, time_t now, time_t *nb,
				       time_t *na);

/* Reads one self-signed P-384 root from a PEM file; pins it by SHA-256
 * when pin is not NULL.  KG_ERR_IO / KG_ERR_CONFIG. */
KG_MUST_CHECK kg_err kg_gpu_root_load(const char *path, const uint8_t *pin, X509 **out);

/* RIM cache, in nvgpu_rim.c. */
KG_MUST_CHECK kg_err kg_gpu_rim_cache_new(struct kg_gpu_verifier *v);
void kg_gpu_rim_cache_free(struct kg_gpu_verifier *v);

#endif
