/*
 * NVIDIA GPU (Hopper GH100, Blackwell GB100) and NVSwitch (LS10)
 * attestation, offline: parse the SPDM 1.1 GET_MEASUREMENTS request and its
 * signed MEASUREMENTS response with NVIDIA's opaque data, verify the
 * ECDSA P-384 signature with the device's leaf certificate, the device
 * chain to the pinned NVIDIA Device Identity CA and the leaf's FWID, and
 * judge the measurements against NVIDIA's signed RIMs (SWID tags with
 * XML-DSig, to the pinned NVIDIA CoRIM signing root).
 *
 * Sources: DMTF DSP0274 (SPDM) 1.1 §10.11 GET_MEASUREMENTS/MEASUREMENTS,
 * §10.11.1 measurement block, DMTF measurement specification; NVIDIA's
 * verifiers (nvtrust local_gpu_verifier, attestation-sdk "nvat"), trustee's
 * nvidia verifier; checked against shared/vectors/gpu (EXPECTED.md §7).
 *
 * The verifier decides whether the evidence is authentic and reports what
 * it says, per measurement index; policy decides what to accept.  The
 * nonce is the caller's: the broker derives it, this module only compares.
 */
#ifndef KG_NVGPU_H
#define KG_NVGPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

/* Largest report accepted (real ones are 2-5 KiB), checked first. */
#define KG_GPU_REPORT_MAX (64 * 1024)
/* Largest device chain (PEM; real ones are ~5 KiB) and RIM (~30 KiB). */
#define KG_GPU_CHAIN_MAX (64 * 1024)
#define KG_GPU_RIM_MAX (1024 * 1024)
/* SPDM NumberOfBlocks is one byte, so at most 255 blocks; index 0 and 255
 * are reserved (DSP0274 table 41), so a block index is 1..254. */
#define KG_GPU_BLOCKS_MAX 255
/* Largest measurement value kept: every GPU/NVSwitch value is a 48-byte
 * SHA-384; larger values (raw bit streams) are refused. */
#define KG_GPU_VALUE_MAX 64
#define KG_GPU_NONCE_SIZE 32
#define KG_GPU_FWID_SIZE 48
#define KG_GPU_SIG_SIZE 96
#define KG_GPU_REQUEST_SIZE 37
/* Trailing zero bytes after the signature that are tolerated (one real
 * capture, trustee's coco report, carries one). */
#define KG_GPU_PADDING_MAX 16
/* Switch PDIs kept from one report (a PPCIe GPU lists 18; HGX has 4-6 switches). */
#define KG_GPU_PDI_MAX 32
/* Offline OCSP responses accepted per verification, and the size of one. */
#define KG_GPU_OCSP_MAX_COUNT 16
#define KG_GPU_OCSP_MAX (16 * 1024)
/* Verified device chains and verified RIMs remembered per verifier. */
#define KG_GPU_CACHE_MAX 64

enum kg_gpu_arch {
	KG_GPU_ARCH_UNKNOWN = 0,
	KG_GPU_ARCH_HOPPER = 1,	   /* GH100 */
	KG_GPU_ARCH_BLACKWELL = 2, /* GB100 */
	KG_GPU_ARCH_NVSWITCH = 3,  /* LS10 */
};

/* NVIDIA opaque-data field types (nvtrust OpaqueDataParser; nvat). */
enum {
	KG_GPU_OPQ_DRIVER_VERSION = 3,
	KG_GPU_OPQ_GPU_INFO = 4,
	KG_GPU_OPQ_VBIOS_VERSION = 6,
	KG_GPU_OPQ_NVDEC0_STATUS = 11,
	KG_GPU_OPQ_MSRSCNT = 12,
	KG_GPU_OPQ_CPRINFO = 13,
	KG_GPU_OPQ_BOARD_ID = 14,
	KG_GPU_OPQ_CHIP_SKU = 15,
	KG_GPU_OPQ_CHIP_SKU_MOD = 16,
	KG_GPU_OPQ_PROJECT = 17,
	KG_GPU_OPQ_PROJECT_SKU = 18,
	KG_GPU_OPQ_PROJECT_SKU_MOD = 19,
	KG_GPU_OPQ_FWID = 20,
	KG_GPU_OPQ_PROTECTED_PCIE_STATUS = 21,
	KG_GPU_OPQ_SWITCH_PDI = 22,
	KG_GPU_OPQ_FLOORSWEPT_PORTS = 23,
	KG_GPU_OPQ_POSITION_ID = 24,
	KG_GPU_OPQ_LOCK_SWITCH_STATUS = 25,
	KG_GPU_OPQ_SYS_ENABLE_STATUS = 33,
	KG_GPU_OPQ_OPAQUE_DATA_VERSION = 34,
	KG_GPU_OPQ_FEATURE_FLAG = 36,
};
/* Nvdec0Status / ProtectedPcieStatus bytes. */
#define KG_GPU_STATUS_ENABLED 0xaa
#define KG_GPU_STATUS_DISABLED 0x55
/* FeatureFlag: single-GPU passthrough, multi-GPU passthrough, protected PCIe. */
#define KG_GPU_FEATURE_SPT 0
#define KG_GPU_FEATURE_MPT 1
#define KG_GPU_FEATURE_PPCIE 2

struct kg_gpu_block {
	uint8_t index;	   /* SPDM block index, 1..254 */
	uint8_t dmtf_type; /* DMTF measurement value type (0x01 = mutable firmware...) */
	uint16_t len;	   /* value length, <= KG_GPU_VALUE_MAX */
	uint8_t value[KG_GPU_VALUE_MAX];
};

/* A parsed report.  Everything is copied out of the input, except
 * signed_len, which says how many leading input bytes the signature covers. */
struct kg_gpu_report {
	uint8_t spdm_version;		     /* 0x11 */
	uint8_t req_param1, req_param2;	     /* 0x01 (signature), 0xff (all) */
	uint8_t slot;			     /* request SlotID */
	uint8_t nonce[KG_GPU_NONCE_SIZE];    /* the requester's (verifier's) nonce */
	uint8_t resp_nonce[KG_GPU_NONCE_SIZE]; /* the device's own: not compared */
	size_t n_blocks;
	struct kg_gpu_block blocks[KG_GPU_BLOCKS_MAX];

	/* Opaque data, decoded; has_* say whether the field was present. */
	char driver_version[64];
	char vbios_version[32];	    /* "96.00.9F.00.01" */
	char project[16], project_sku[16], chip_sku[16], chip_sku_mod[16];
	uint8_t board_id[8];
	size_t board_id_len;
	uint8_t gpu_info[8];
	size_t gpu_info_len;
	bool has_fwid;
	uint8_t fwid[KG_GPU_FWID_SIZE];
	bool has_nvdec0, has_ppcie, has_feature_flag, has_opaque_version, has_switch_pdi;
	uint8_t nvdec0_status;
	uint8_t ppcie_status;
	uint16_t feature_flag;
	uint16_t opaque_version;
	/* SwitchPdi: an NVSwitch's own PDI; in a PPCIe GPU's report, the PDIs
	 * of the switches it sees.  8 bytes each. */
	uint8_t switch_pdi[KG_GPU_PDI_MAX * 8];
	size_t n_switch_pdi;
	size_t n_opaque;	 /* number of opaque fields, known or not */

	uint8_t signature[KG_GPU_SIG_SIZE]; /* r || s, big-endian */
	size_t signed_len;  /* bytes [0, signed_len) of the input are signed */
	size_t padding_len; /* trailing zero bytes after the signature */
};

/* Parses a report (request || response [|| up to KG_GPU_PADDING_MAX zero
 * bytes]) by walking the structure; checks no signature.  out is cleared
 * on failure.  KG_ERR_TOO_LARGE, KG_ERR_GPU_REPORT_MALFORMED,
 * KG_ERR_GPU_SPDM_VERSION, KG_ERR_TRAILING_BYTES (non-zero bytes after the
 * signature). */
KG_MUST_CHECK kg_err kg_gpu_report_parse(const uint8_t *buf, size_t len, struct kg_gpu_report *out);

/* Decodes the hex text NVIDIA ships reports in (whitespace ignored) to
 * bytes (malloc'd).  Binary input (not hex) is copied as is, so callers may
 * hand either.  KG_ERR_TOO_LARGE, KG_ERR_NOMEM. */
KG_MUST_CHECK kg_err kg_gpu_report_load(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len);

/* One reference measurement of a RIM (SWID <Resource type="Measurement">). */
struct kg_gpu_rim_meas {
	uint8_t index; /* RIM index, 0-based: SPDM block index - 1 */
	bool active;
	uint16_t size;
	size_t n_alt;
	uint8_t (*alt)[KG_GPU_VALUE_MAX]; /* n_alt alternatives, size bytes each */
};

enum kg_gpu_rim_kind { KG_GPU_RIM_DRIVER = 1, KG_GPU_RIM_VBIOS = 2 };

struct kg_gpu_rim {
	enum kg_gpu_rim_kind kind;
	char id[128];		  /* SoftwareIdentity tagId */
	char version[64];	  /* Meta colloquialVersion */
	char product[32];	  /* Meta product */
	time_t not_before, not_after; /* the signing chain's validity */
	size_t n_meas;
	struct kg_gpu_rim_meas *meas;
};

/* Reads a RIM's reference measurements WITHOUT checking its signature
 * (fuzzing, and NVIDIA's hand-edited test RIMs).  Never trust the result
 * for a decision: use kg_gpu_rim_verify.  KG_ERR_GPU_RIM_MALFORMED. */
KG_MUST_CHECK kg_err kg_gpu_rim_parse(const uint8_t *xml, size_t len, struct kg_gpu_rim **out);
void kg_gpu_rim_free(struct kg_gpu_rim *r);
/* The validity of a RIM's signing chain as its KeyInfo carries it (the
 * intersection of its certificates'), unverified: for filing RIMs. */
KG_MUST_CHECK kg_err kg_gpu_rim_validity(const uint8_t *xml, size_t len, time_t *not_before, time_t *not_after);

struct kg_gpu_verifier;

/* A verifier with the device root and the RIM root: PEM files with one
 * self-signed certificate each; NULL = the shipped NVIDIA roots, which are
 * then pinned by fingerprint.  KG_ERR_IO, KG_ERR_CONFIG. */
KG_MUST_CHECK kg_err kg_gpu_verifier_new(struct kg_gpu_verifier **out, const char *device_root_pem,
					 const char *rim_root_pem);
void kg_gpu_verifier_free(struct kg_gpu_verifier *v);

/* Verifies a RIM's XML signature (xmlsec1: enveloped signature over the
 * whole document, c14n 1.1, ECDSA-P384/SHA-384 only) and its KeyInfo chain
 * to the RIM root at now, then reads it.  Cached by content.
 * KG_ERR_GPU_RIM_MALFORMED, KG_ERR_GPU_RIM_SIGNATURE, KG_ERR_GPU_RIM_CHAIN,
 * KG_ERR_GPU_RIM_EXPIRED. */
KG_MUST_CHECK kg_err kg_gpu_rim_verify(struct kg_gpu_verifier *v, const uint8_t *xml, size_t len, time_t now,
				       struct kg_gpu_rim **out);

enum kg_gpu_meas_result {
	KG_GPU_MEAS_MATCH = 1,
	KG_GPU_MEAS_MISMATCH = 2,
	KG_GPU_MEAS_MISSING = 3, /* the RIM has an active value, the report none */
	KG_GPU_MEAS_SKIPPED = 4, /* index 35 with NVDEC0 disabled (nvat rule) */
};

struct kg_gpu_meas_cmp {
	uint8_t rim_index; /* 0-based */
	enum kg_gpu_rim_kind from;
	enum kg_gpu_meas_result result;
};

/* Claims: what a verified report says, and the RIM comparison. */
struct kg_gpu_claims {
	enum kg_gpu_arch arch;
	char leaf_cn[64];
	char ueid[64]; /* leaf serialNumber, decimal (nvat "ueid") */
	bool fwid_bound; /* the report carried a FWID and it equals the leaf's */
	struct kg_gpu_report report;
	bool rims_compared;
	char driver_rim_id[128], vbios_rim_id[128];
	char driver_rim_version[64], vbios_rim_version[64];
	/* A RIM's colloquialVersion differs from the report's driver or VBIOS
	 * version (nvtrust refuses that before comparing). */
	bool rim_version_mismatch;
	size_t n_cmp;
	struct kg_gpu_meas_cmp cmp[KG_GPU_BLOCKS_MAX];
	size_t n_match, n_mismatch, n_missing;
	/* Offline revocation of the device chain's CA certificates. */
	size_t n_ocsp_good, n_ocsp_unchecked;
};

/* Compares the report's measurements with the active values of the driver
 * and VBIOS RIMs (either may be NULL), nvtrust's rules: RIM index i is
 * block i+1; any alternative of the right size matches; both RIMs defining
 * one active index is KG_ERR_GPU_RIM_CONFLICT; index 35 is skipped when
 * NVDEC0 is disabled.  Fills claims->cmp and the counts. */
KG_MUST_CHECK kg_err kg_gpu_compare(const struct kg_gpu_rim *driver, const struct kg_gpu_rim *vbios,
				    struct kg_gpu_claims *claims);

/* The whole check of one device's evidence at now:
 *   report      request || response (binary, or NVIDIA's hex text);
 *   chain_pem   the device chain, leaf first (PEM);
 *   nonce       the nonce the caller put in the request, or NULL to skip
 *               the comparison (offline inspection only);
 *   driver_rim, vbios_rim  RIM XML to verify and compare with, or NULL.
 * On success claims are filled (claims->n_mismatch etc. say how the RIMs
 * compared; a mismatch is not an error here, see kg_gpu_claims_rims_ok).
 * Errors: the parser's, KG_ERR_GPU_NONCE, KG_ERR_GPU_SIGNATURE,
 * KG_ERR_GPU_CHAIN*, KG_ERR_GPU_ROOT_UNTRUSTED, KG_ERR_GPU_FWID_*,
 * KG_ERR_GPU_OCSP_*, KG_ERR_GPU_CERT_REVOKED, KG_ERR_GPU_RIM_*.
 * Thread-safe. */
struct kg_gpu_input {
	const uint8_t *report;
	size_t report_len;
	const uint8_t *chain_pem;
	size_t chain_len;
	const uint8_t *nonce; /* KG_GPU_NONCE_SIZE bytes or NULL */
	const uint8_t *driver_rim, *vbios_rim;
	size_t driver_rim_len, vbios_rim_len;
	/* Offline revocation: OCSP responses (DER, RFC 6960) as NVIDIA's OCSP
	 * service gives them.  Like nvtrust, every certificate of the device
	 * chain between the leaf (made by the device itself) and the root is
	 * asked about; a response about one of them must verify (responder
	 * chain to the device root at now), be fresh at now and say good.
	 * require_ocsp: each of them needs such a response. */
	const uint8_t *const *ocsp;
	const size_t *ocsp_lens;
	size_t n_ocsp;
	bool require_ocsp;
};
KG_MUST_CHECK kg_err kg_gpu_verify(struct kg_gpu_verifier *v, const struct kg_gpu_input *in, time_t now,
				   struct kg_gpu_claims *claims);

/* KG_OK when RIMs were compared, are for the report's versions and every
 * active index matched (or was skipped); KG_ERR_GPU_RIM_MISSING when none
 * were compared; KG_ERR_GPU_RIM_VERSION when a RIM is for another version;
 * KG_ERR_GPU_MEASUREMENT otherwise.  For policy. */
KG_MUST_CHECK kg_err kg_gpu_claims_rims_ok(const struct kg_gpu_claims *c);

/* Claims as JSON text (malloc'd, caller frees). */
KG_MUST_CHECK kg_err kg_gpu_claims_to_json(const struct kg_gpu_claims *c, char **json);

const char *kg_gpu_arch_name(enum kg_gpu_arch a);
/* The product name RIMs carry for an architecture ("GH100", "GB100",
 * "LS10"); NULL when unknown. */
const char *kg_gpu_arch_product(enum kg_gpu_arch a);
/* The architecture a chain's leaf names, UNVERIFIED: for choosing the RIMs
 * to compare before the evidence is verified (kg_gpu_verify then finds the
 * same leaf, so the verified arch agrees). */
enum kg_gpu_arch kg_gpu_chain_arch(const uint8_t *chain_pem, size_t len);

#endif
