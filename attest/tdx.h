/*
 * Intel TDX DCAP quotes (ECDSA-256 attestation key): parse quote versions 4
 * and 5, verify the quote signature by the attestation key, the QE report
 * by the PCK, the QE's binding of the attestation key, the PCK chain to a
 * pinned Intel SGX Root CA with CRLs, and evaluate the platform, TDX module
 * and QE against Intel's signed collateral (TCB info, QE identity) to a TCB
 * status.  The verifier reports the status; policy decides what to accept.
 *
 * Sources: Intel TDX DCAP Quoting Library API, Appendix A ("Quote Format");
 * Intel SGX PCK Certificate and CRL Profile (SGX Extensions); Intel PCS API
 * v4 (TCB Info v3, Enclave Identity v2); the quote-verification library's
 * TcbLevelCheck/TdxModuleCheck; checked against go-tdx-guest and the real
 * quotes in shared/vectors/tdx.
 */
#ifndef KG_TDX_H
#define KG_TDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

/* Largest quote accepted, padding included (real quotes are ~5 KiB; the
 * configfs/vsock buffers that pad them are 8 KiB).  Checked first. */
#define KG_TDX_QUOTE_MAX (64 * 1024)
/* Largest PCK chain (cert data type 5) and QE authentication data. */
#define KG_TDX_PCK_CHAIN_MAX (16 * 1024)
/* Largest collateral file of each kind (TCB info is a few KiB). */
#define KG_TDX_COLLATERAL_MAX (256 * 1024)
/* Verified PCK chains and verified collateral sets remembered. */
#define KG_TDX_CACHE_MAX 256
#define KG_TDX_COLLATERAL_CACHE_MAX 16

#define KG_TDX_TEE_TYPE 0x00000081u
#define KG_TDX_ATT_KEY_ECDSA_P256 2
#define KG_TDX_BODY_TDX10 2 /* v5 body descriptor: TD report, TDX 1.0 */
#define KG_TDX_BODY_TDX15 3 /* v5 body descriptor: TD report, TDX 1.5 */
#define KG_TDX_BODY10_SIZE 584
#define KG_TDX_BODY15_SIZE 648
#define KG_TDX_QE_REPORT_SIZE 384
#define KG_TDX_CERT_QE_REPORT 6 /* QE report certification data */
#define KG_TDX_CERT_PCK_CHAIN 5 /* PCK leaf || intermediate || root, PEM */

/* TD_ATTRIBUTES bits (TDX module ABI, "TDINFO_STRUCT"). */
#define KG_TDX_TD_ATTR_DEBUG (1ULL << 0)
#define KG_TDX_TD_ATTR_SEPT_VE_DISABLE (1ULL << 28)
#define KG_TDX_TD_ATTR_PKS (1ULL << 30)
#define KG_TDX_TD_ATTR_KL (1ULL << 31)
#define KG_TDX_TD_ATTR_PERFMON (1ULL << 63)

/* The TD quote body (TD report): TDX 1.0, plus the TDX 1.5 fields. */
struct kg_tdx_td_body {
	uint8_t tee_tcb_svn[16]; /* [0] module SVN, [1] module major version */
	uint8_t mr_seam[48];
	uint8_t mr_signer_seam[48];
	uint64_t seam_attributes; /* little-endian in the quote */
	uint64_t td_attributes;
	uint64_t xfam;
	uint8_t mr_td[48];
	uint8_t mr_config_id[48];
	uint8_t mr_owner[48];
	uint8_t mr_owner_config[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	uint8_t tee_tcb_svn2[16]; /* TDX 1.5 (body type 3) only, else zero */
	uint8_t mr_service_td[48]; /* TDX 1.5 only, else zero */
};

/* The QE's SGX REPORT_BODY (SGX SDM "REPORT", 384 bytes). */
struct kg_tdx_qe_report {
	uint8_t cpu_svn[16];
	uint32_t misc_select;
	uint8_t isv_ext_prod_id[16];
	uint8_t attributes[16];
	uint8_t mr_enclave[32];
	uint8_t mr_signer[32];
	uint8_t config_id[64];
	uint16_t isv_prod_id, isv_svn, config_svn;
	uint8_t isv_family_id[16];
	uint8_t report_data[64];
};

/* A parsed quote.  The pointers borrow from the buffer given to
 * kg_tdx_quote_parse and are valid while it is. */
struct kg_tdx_quote {
	uint16_t version;      /* 4 or 5 */
	uint16_t att_key_type; /* 2 */
	uint32_t tee_type;     /* 0x81 */
	uint16_t reserved1, reserved2; /* header bytes 8..11 (QE/PCE SVN in SGX quotes) */
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	uint16_t body_type; /* v5 descriptor; 2 for v4 */
	uint32_t body_size;
	struct kg_tdx_td_body body;
	uint32_t sig_data_len;
	uint8_t signature[64];  /* r || s, big-endian */
	uint8_t attest_key[64]; /* x || y, big-endian */
	struct kg_tdx_qe_report qe_report;
	uint8_t qe_report_sig[64];
	const uint8_t *qe_report_raw; /* the 384 bytes the PCK signed */
	const uint8_t *qe_auth_data;
	uint16_t qe_auth_len;
	const uint8_t *pck_chain; /* PEM text, as in the quote (may end in NULs) */
	size_t pck_chain_len;
	size_t signed_len;  /* the quote signature covers bytes [0, signed_len) */
	size_t padding_len; /* zero bytes after the signature data */
};

/* Parses a quote (no cryptography).  Version 4 (TD report 1.0) and 5 (body
 * type 2 = TDX 1.0, 3 = TDX 1.5); att_key_type 2 (ECDSA P-256); tee_type
 * 0x81; Intel's QE vendor ID; certification data type 6 carrying type 5.
 * Every length must account exactly for what it encloses.  After the
 * signature data only zero bytes are accepted (padding of fixed-size quote
 * buffers): anything else is unsigned data riding along and is rejected
 * with KG_ERR_TRAILING_BYTES.  Errors: TOO_LARGE (over KG_TDX_QUOTE_MAX),
 * TDX_VERSION, TDX_ATT_KEY_TYPE, TDX_TEE_TYPE, TDX_BODY_TYPE, TDX_QE_VENDOR,
 * TDX_CERT_TYPE, TDX_QUOTE_MALFORMED (truncated or inconsistent lengths),
 * TRAILING_BYTES.  out is cleared on failure. */
KG_MUST_CHECK kg_err kg_tdx_quote_parse(const uint8_t *buf, size_t len, struct kg_tdx_quote *out);

enum kg_tdx_tcb_status {
	KG_TDX_TCB_UP_TO_DATE = 0,
	KG_TDX_TCB_SW_HARDENING_NEEDED,
	KG_TDX_TCB_CONFIGURATION_NEEDED,
	KG_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	KG_TDX_TCB_OUT_OF_DATE,
	KG_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	KG_TDX_TCB_REVOKED,
	KG_TDX_TCB__COUNT
};
/* Intel's spelling, e.g. "UpToDate"; "Unknown" out of range. */
const char *kg_tdx_tcb_status_name(enum kg_tdx_tcb_status s);

#define KG_TDX_ADVISORIES_MAX 64
#define KG_TDX_ADVISORY_LEN 24 /* "INTEL-SA-01036" + NUL, with room */

/* What a verified quote says.  Plain values only (no pointers). */
struct kg_tdx_claims {
	uint16_t version, body_type;
	uint32_t tee_type;
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	struct kg_tdx_td_body td;
	bool debug;           /* TD_ATTRIBUTES bit 0 */
	bool sept_ve_disable; /* bit 28 */
	bool pks;             /* bit 30 */
	bool perfmon;         /* bit 63 */
	/* From the verified PCK certificate's SGX extensions. */
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint8_t pck_cpusvn[16]; /* the 16 SGX TCB component SVNs */
	uint16_t pck_pcesvn;
	bool pck_processor_ca; /* issued by the Processor CA, else Platform */
	/* The QE. */
	uint8_t qe_mr_enclave[32];
	uint8_t qe_mr_signer[32];
	uint16_t qe_isv_prod_id, qe_isv_svn;
	/* TCB evaluation against the collateral (kg_tdx_verify only). */
	bool tcb_evaluated;
	enum kg_tdx_tcb_status tcb_status;      /* platform, module and QE combined */
	enum kg_tdx_tcb_status platform_status; /* the matching TCB level */
	enum kg_tdx_tcb_status module_status;   /* TDX module identity (1.5+), else UpToDate */
	enum kg_tdx_tcb_status qe_status;
	bool module_evaluated; /* a tdxModuleIdentities entry was used */
	time_t tcb_date;       /* of the matching platform level */
	uint32_t tcb_eval_data_number;
	time_t collateral_expires; /* the earliest nextUpdate among the collateral */
	char advisories[KG_TDX_ADVISORIES_MAX][KG_TDX_ADVISORY_LEN];
	size_t n_advisories;
	bool advisories_truncated; /* more than KG_TDX_ADVISORIES_MAX distinct IDs */
};

/* Collateral as Intel's PCS serves it; any pointer may be NULL (missing).
 * Each item is at most KG_TDX_COLLATERAL_MAX bytes. */
struct kg_tdx_collateral {
	const uint8_t *tcb_info; /* body of GET /tdx/certification/v4/tcb */
	size_t tcb_info_len;
	const uint8_t *qe_identity; /* body of GET /tdx/certification/v4/qe/identity */
	size_t qe_identity_len;
	const uint8_t *tcb_signing_chain; /* PEM: TCB-Info-Issuer-Chain (signing cert [+ root]) */
	size_t tcb_signing_chain_len;
	const uint8_t *root_crl; /* IntelSGXRootCA CRL, DER or PEM */
	size_t root_crl_len;
	const uint8_t *pck_crl; /* pckcrl?ca=platform|processor for the quote's PCK CA, DER or PEM */
	size_t pck_crl_len;
};

struct kg_tdx_verifier;

/* root_pem: a PEM file holding the one Intel SGX Root CA to trust.  NULL
 * selects the root shipped in attest/roots/intel/, which must match the
 * SHA-256 fingerprint compiled into tdx.c.  A test root is accepted only
 * when named explicitly.  The root must be self-signed ECDSA P-256.
 * KG_ERR_IO when unreadable, KG_ERR_CONFIG when it does not qualify. */
KG_MUST_CHECK kg_err kg_tdx_verifier_new(struct kg_tdx_verifier **out, const char *root_pem);
void kg_tdx_verifier_free(struct kg_tdx_verifier *v);

/* Verifies the quote's own cryptography at time now, without collateral:
 * parse, PCK chain (leaf -> PCK Platform/Processor CA -> root) valid at
 * now, SGX extensions, QE report signature by the PCK, the QE's binding of
 * the attestation key (REPORTDATA = SHA-256(attest_key || qe_auth_data) ||
 * 32 zero bytes), and the quote signature.  No revocation and no TCB
 * evaluation: out->tcb_evaluated is false.  Errors: the parser's, and
 * TDX_PCK_CHAIN, TDX_PCK_EXPIRED, TDX_UNTRUSTED_ROOT, TDX_PCK_EXT,
 * TDX_QE_REPORT, TDX_QE_BINDING, TDX_SIGNATURE.  out (may be NULL) is
 * filled only on success.  The PCK chain is cached by its bytes. */
KG_MUST_CHECK kg_err kg_tdx_verify_quote(struct kg_tdx_verifier *v, const uint8_t *quote, size_t len, time_t now,
					 struct kg_tdx_claims *out);

/* Everything kg_tdx_verify_quote checks, then the collateral at now: all
 * five items present (else TDX_COLLATERAL_MISSING); the TCB signing chain
 * to the root and both JSON signatures over the exact bytes of the
 * "tcbInfo" / "enclaveIdentity" values (TDX_COLLATERAL_INVALID); the root
 * CRL signed by the root and the PCK CRL by the quote's PCK CA; every
 * issueDate/thisUpdate <= now < nextUpdate and the signing chain valid
 * (TDX_COLLATERAL_EXPIRED); neither the PCK nor its CA nor the signing
 * cert revoked (TDX_PCK_REVOKED, TDX_COLLATERAL_INVALID); then the TCB
 * evaluation (TDX_FMSPC, TDX_MODULE, TDX_QE_IDENTITY,
 * TDX_TCB_UNSUPPORTED when no level matches).  A Revoked or OutOfDate TCB
 * status is a result, not an error.  Verified collateral is cached by its
 * bytes while now stays inside its validity. */
KG_MUST_CHECK kg_err kg_tdx_verify(struct kg_tdx_verifier *v, const uint8_t *quote, size_t len,
				   const struct kg_tdx_collateral *coll, time_t now, struct kg_tdx_claims *out);

struct kg_tdx_cache_stats {
	uint64_t pck_hits, pck_misses;
	uint64_t collateral_hits, collateral_misses;
};
void kg_tdx_verifier_stats(struct kg_tdx_verifier *v, struct kg_tdx_cache_stats *out);

#endif
