/*
 * Folder-private TDX pieces shared by tdx.c, tdx_collateral.c, the fuzz
 * targets and the unit tests: the collateral JSON parsers, the PCK's SGX
 * extensions and the pure TCB evaluation.  Not part of attest/'s public
 * interface.
 */
#ifndef KG_TDX_INTERNAL_H
#define KG_TDX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"
#include "tdx.h"

#define KG_TDX_TCB_LEVELS_MAX 64
#define KG_TDX_MODULE_IDS_MAX 8
#define KG_TDX_MODULE_LEVELS_MAX 16
#define KG_TDX_QE_LEVELS_MAX 32
#define KG_TDX_ADVISORY_POOL_MAX 1024

/* What the PCK certificate certifies (SGX Extensions,
 * 1.2.840.113741.1.13.1; PCK Certificate and CRL Profile §1.3.5). */
struct kg_tdx_pck_info {
	uint8_t ppid[16];
	uint8_t cpusvn_comp[16]; /* .2.1 .. .2.16 */
	uint16_t pcesvn;         /* .2.17 */
	uint8_t cpusvn[16];      /* .2.18 */
	uint8_t pce_id[2];       /* .3 */
	uint8_t fmspc[6];        /* .4 */
	int sgx_type;            /* .5: 0 Standard, 1 Scalable, 2 Scalable with integrity */
};

/* Reads the SGX extensions of one certificate (DER).  KG_ERR_TDX_PCK_EXT
 * when absent or malformed (each known OID once, every required one
 * present).  No signature is checked. */
KG_MUST_CHECK kg_err kg_tdx_pck_info_from_der(const uint8_t *der, size_t len, struct kg_tdx_pck_info *out);

/* Advisory IDs of a level: [first, first + count) in the document's pool. */
struct kg_tdx_adv_range {
	uint16_t first, count;
};

struct kg_tdx_tcb_level {
	uint8_t sgx_svn[16];
	uint16_t pcesvn;
	uint8_t tdx_svn[16];
	time_t tcb_date;
	enum kg_tdx_tcb_status status;
	struct kg_tdx_adv_range adv;
};

struct kg_tdx_module_level {
	uint8_t isvsvn;
	time_t tcb_date;
	enum kg_tdx_tcb_status status;
	struct kg_tdx_adv_range adv;
};

struct kg_tdx_module_identity {
	uint8_t major; /* from the id "TDX_<hh>" */
	uint8_t mrsigner[48];
	uint8_t attributes[8], attributes_mask[8];
	struct kg_tdx_module_level levels[KG_TDX_MODULE_LEVELS_MAX];
	size_t n_levels;
};

/* A TDX TCB Info v3 ("id":"TDX"), as signed. */
struct kg_tdx_tcb_info {
	uint32_t version;
	time_t issue_date, next_update;
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint32_t tcb_type, tcb_eval_data_number;
	uint8_t module_mrsigner[48];
	uint8_t module_attributes[8], module_attributes_mask[8];
	struct kg_tdx_module_identity ids[KG_TDX_MODULE_IDS_MAX];
	size_t n_ids;
	struct kg_tdx_tcb_level levels[KG_TDX_TCB_LEVELS_MAX];
	size_t n_levels;
	char adv[KG_TDX_ADVISORY_POOL_MAX][KG_TDX_ADVISORY_LEN];
	size_t n_adv;
};

struct kg_tdx_qe_level {
	uint16_t isvsvn;
	time_t tcb_date;
	enum kg_tdx_tcb_status status;
	struct kg_tdx_adv_range adv;
};

/* A TD_QE Enclave Identity v2, as signed. */
struct kg_tdx_qe_identity {
	uint32_t version;
	time_t issue_date, next_update;
	uint32_t tcb_eval_data_number;
	uint32_t miscselect, miscselect_mask;
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	struct kg_tdx_qe_level levels[KG_TDX_QE_LEVELS_MAX];
	size_t n_levels;
	char adv[KG_TDX_ADVISORY_POOL_MAX / 8][KG_TDX_ADVISORY_LEN];
	size_t n_adv;
};

/* The signed part of a collateral document: the exact bytes of its
 * "tcbInfo" / "enclaveIdentity" value (borrowed from the input) and the
 * signature r || s. */
struct kg_tdx_signed {
	const uint8_t *body;
	size_t body_len;
	uint8_t sig[64];
};

/* Parse PCS response bodies {"tcbInfo":{...},"signature":"<128 hex>"} and
 * {"enclaveIdentity":{...},"signature":"..."}: exactly these two members,
 * no duplicate keys, every field typed and bounded (hex lengths, SVN
 * ranges, 16 SGX and 16 TDX components, known status names, dates in
 * Intel's "YYYY-MM-DDThh:mm:ssZ").  The fields come from a parse of the
 * signed bytes themselves.  Nothing is verified cryptographically.
 * KG_ERR_TOO_LARGE over KG_TDX_COLLATERAL_MAX, else
 * KG_ERR_TDX_COLLATERAL_INVALID.  *out is malloc'd (free with free()). */
KG_MUST_CHECK kg_err kg_tdx_tcb_info_parse(const uint8_t *json, size_t len, struct kg_tdx_tcb_info **out,
					   struct kg_tdx_signed *sig);
KG_MUST_CHECK kg_err kg_tdx_qe_identity_parse(const uint8_t *json, size_t len, struct kg_tdx_qe_identity **out,
					      struct kg_tdx_signed *sig);

/* Intel's date format to Unix time; false unless exactly
 * "YYYY-MM-DDThh:mm:ssZ" with fields in range. */
bool kg_tdx_date_parse(const char *s, time_t *out);

/* The TCB evaluation (pure): FMSPC and PCEID of the PCK against the TCB
 * info; the TDX module (MRSIGNERSEAM, SEAMATTRIBUTES under the mask, and
 * for module major version > 0 the tdxModuleIdentities level); the
 * platform level (first level whose SGX components and PCESVN the PCK
 * meets, then from there the first whose TDX components TEE_TCB_SVN
 * meets); the QE against its identity.  Fills out's tcb_* and status
 * fields and advisories.  Errors: TDX_FMSPC, TDX_MODULE,
 * TDX_QE_IDENTITY, TDX_TCB_UNSUPPORTED. */
KG_MUST_CHECK kg_err kg_tdx_tcb_evaluate(const struct kg_tdx_td_body *td, const struct kg_tdx_qe_report *qe,
					 const struct kg_tdx_pck_info *pck, const struct kg_tdx_tcb_info *ti,
					 const struct kg_tdx_qe_identity *qi, struct kg_tdx_claims *out);

#endif
