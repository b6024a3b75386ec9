/*
 * One error list for all of Keygate.  Each entry:
 *   X(ENUM, "stable_code", http_status, is_denial, "message")
 * The code string is part of the wire protocol and of the audit table:
 * clients, tests and auditors match on it, so never rename one.
 * is_denial marks reasons that mean "the evidence or request was judged
 * and refused" (audited as a deny) rather than an internal fault.
 * Messages never contain secrets; they are static strings.
 *
 * Sections are grouped by module so that additions do not collide.
 */
#ifndef KG_ERR_H
#define KG_ERR_H

#define KG_ERRORS(X)                                                                          \
	X(OK, "ok", 200, 0, "success")                                                        \
	/* generic */                                                                         \
	X(NOMEM, "out_of_memory", 503, 0, "out of memory")                                    \
	X(INTERNAL, "internal_error", 500, 0, "internal error")                               \
	X(IO, "io_error", 500, 0, "input/output error")                                       \
	X(INVALID_ARG, "invalid_argument", 400, 0, "invalid argument")                        \
	X(TRUNCATED, "truncated", 400, 1, "input is truncated")                               \
	X(TRAILING_BYTES, "trailing_bytes", 400, 1, "unexpected bytes after the end")         \
	X(TOO_LARGE, "too_large", 413, 1, "input exceeds its size limit")                     \
	X(RANDOM, "random_failed", 503, 0, "random number generator failed")                  \
	X(CRYPTO, "crypto_error", 500, 0, "cryptographic library error")                      \
	X(CONFIG, "config_invalid", 500, 0, "configuration is invalid")                       \
	/* HTTP / request */                                                                  \
	X(BAD_JSON, "malformed_json", 400, 1, "request body is not valid JSON")               \
	X(BAD_REQUEST, "bad_request", 400, 1, "request is malformed")                         \
	X(UNKNOWN_FIELD, "unknown_field", 400, 1, "request has an unknown field")             \
	X(BODY_TOO_LARGE, "body_too_large", 413, 1, "request body is too large")              \
	X(NOT_FOUND, "not_found", 404, 0, "no such endpoint")                                 \
	X(METHOD, "method_not_allowed", 405, 0, "method not allowed")                         \
	X(RATE_LIMITED, "rate_limited", 429, 1, "too many refused requests from this address") \
	X(NO_CLIENT_CERT, "client_cert_missing", 401, 1, "no client certificate")             \
	X(BAD_CLIENT_CERT, "client_cert_invalid", 401, 1, "client certificate is invalid")    \
	X(CERT_EXPIRED, "client_cert_expired", 401, 1, "client certificate outside validity") \
	/* challenge */                                                                       \
	X(CHALLENGE_MALFORMED, "challenge_malformed", 401, 1, "challenge is malformed")       \
	X(CHALLENGE_FORGED, "challenge_forged", 401, 1, "challenge MAC does not verify")      \
	X(CHALLENGE_EXPIRED, "challenge_expired", 401, 1, "challenge has expired")            \
	X(CHALLENGE_MISSING, "challenge_missing", 401, 1, "claims carry no challenge")        \
	/* RA-TLS certificate and binding */                                                  \
	X(RATLS_NO_EVIDENCE, "ratls_no_evidence", 401, 1, "certificate has no evidence")      \
	X(RATLS_DUP_EVIDENCE, "ratls_evidence_duplicated", 401, 1,                            \
	  "certificate has more than one evidence extension")                                 \
	X(RATLS_CBOR, "ratls_cbor_malformed", 401, 1, "evidence CBOR is malformed")           \
	X(RATLS_UNKNOWN_TAG, "evidence_type_unknown", 401, 1, "evidence type is unknown")     \
	X(RATLS_CLAIMS, "ratls_claims_malformed", 401, 1, "claims are malformed")             \
	X(RATLS_HASH_ALG, "ratls_hash_alg_unsupported", 401, 1, "pubkey-hash algorithm")      \
	X(BINDING_REPORT_DATA, "binding_report_data_mismatch", 403, 1,                        \
	  "REPORT_DATA does not commit to the claims")                                        \
	X(BINDING_PUBKEY, "binding_pubkey_mismatch", 403, 1,                                  \
	  "claims do not commit to the certificate key")                                      \
	X(BINDING_HPKE_KEY, "binding_hpke_key_missing", 403, 1, "claims carry no HPKE key")   \
	/* SEV-SNP */                                                                         \
	X(SNP_SIZE, "snp_report_size", 401, 1, "SNP report has the wrong size")               \
	X(SNP_VERSION, "snp_version_unsupported", 401, 1, "SNP report version unsupported")   \
	X(SNP_SIG_ALGO, "snp_sig_algo_unsupported", 401, 1, "SNP signature algorithm")        \
	X(SNP_RESERVED, "snp_reserved_nonzero", 401, 1, "SNP reserved field is not zero")     \
	X(SNP_POLICY_BITS, "snp_guest_policy_invalid", 401, 1, "SNP guest policy invalid")    \
	X(SNP_SIGNATURE, "snp_signature_invalid", 401, 1, "SNP report signature invalid")     \
	X(SNP_CERT_TABLE, "snp_cert_table_malformed", 401, 1, "SNP certificate table bad")    \
	X(SNP_NO_VCEK, "snp_vcek_missing", 401, 1, "no VCEK/VLEK for the report")             \
	X(SNP_CHAIN, "snp_chain_invalid", 401, 1, "VCEK chain does not verify")               \
	X(SNP_CHAIN_EXPIRED, "snp_chain_expired", 401, 1, "VCEK chain outside validity")      \
	X(SNP_UNTRUSTED_ROOT, "snp_root_untrusted", 401, 1, "ARK is not a trust anchor")      \
	X(SNP_TCB_MISMATCH, "vcek_tcb_mismatch", 401, 1, "VCEK TCB differs from report")      \
	X(SNP_CHIP_MISMATCH, "vcek_chip_id_mismatch", 401, 1, "VCEK hwID differs")            \
	X(SNP_VCEK_EXT, "vcek_extension_invalid", 401, 1, "VCEK extension invalid")           \
	X(SNP_SIGNING_KEY, "snp_signing_key_unsupported", 401, 1, "SNP signing key kind")     \
	X(SNP_PRODUCT, "snp_product_mismatch", 401, 1, "SNP product mismatch")                \
	X(SNP_CRL_MISSING, "snp_crl_missing", 401, 1, "SNP CRL required but not supplied")    \
	X(SNP_CRL_INVALID, "snp_crl_invalid", 401, 1, "SNP CRL does not verify")              \
	X(SNP_CRL_EXPIRED, "snp_crl_expired", 401, 1, "SNP CRL outside its validity")         \
	X(SNP_CERT_REVOKED, "snp_cert_revoked", 401, 1, "SNP ASK or VCEK is revoked")         \
	/* Intel TDX (DCAP ECDSA quotes) */                                                  \
	X(TDX_QUOTE_MALFORMED, "tdx_quote_malformed", 401, 1, "TDX quote is malformed")       \
	X(TDX_VERSION, "tdx_version_unsupported", 401, 1, "TDX quote version unsupported")    \
	X(TDX_ATT_KEY_TYPE, "tdx_att_key_type_unsupported", 401, 1,                           \
	  "TDX attestation key type unsupported")                                             \
	X(TDX_TEE_TYPE, "tdx_tee_type_unsupported", 401, 1, "quote is not a TDX quote")       \
	X(TDX_BODY_TYPE, "tdx_body_type_unsupported", 401, 1, "TDX quote body type")          \
	X(TDX_CERT_TYPE, "tdx_cert_data_unsupported", 401, 1, "TDX certification data type")  \
	X(TDX_QE_VENDOR, "tdx_qe_vendor_unsupported", 401, 1, "TDX QE vendor is not Intel")   \
	X(TDX_SIGNATURE, "tdx_signature_invalid", 401, 1, "TDX quote signature invalid")      \
	X(TDX_QE_REPORT, "tdx_qe_report_invalid", 401, 1, "TDX QE report signature invalid")  \
	X(TDX_QE_BINDING, "tdx_qe_binding_mismatch", 401, 1,                                  \
	  "QE report does not bind the attestation key")                                      \
	X(TDX_PCK_CHAIN, "tdx_pck_chain_invalid", 401, 1, "PCK chain does not verify")        \
	X(TDX_PCK_EXPIRED, "tdx_pck_chain_expired", 401, 1, "PCK chain outside validity")     \
	X(TDX_UNTRUSTED_ROOT, "tdx_root_untrusted", 401, 1, "PCK root is not a trust anchor") \
	X(TDX_PCK_EXT, "tdx_pck_extension_invalid", 401, 1, "PCK SGX extensions invalid")     \
	X(TDX_PCK_REVOKED, "tdx_pck_revoked", 401, 1, "PCK chain certificate is revoked")     \
	X(TDX_COLLATERAL_MISSING, "tdx_collateral_missing", 401, 1, "TDX collateral missing") \
	X(TDX_COLLATERAL_EXPIRED, "tdx_collateral_expired", 401, 1,                           \
	  "TDX collateral outside validity")                                                  \
	X(TDX_COLLATERAL_INVALID, "tdx_collateral_invalid", 401, 1,                           \
	  "TDX collateral malformed or not signed by the root")                               \
	X(TDX_FMSPC, "tdx_fmspc_mismatch", 401, 1, "TCB info is for another FMSPC or PCE")    \
	X(TDX_MODULE, "tdx_module_mismatch", 401, 1, "TDX module identity does not match")    \
	X(TDX_QE_IDENTITY, "tdx_qe_identity_mismatch", 401, 1, "QE identity does not match")  \
	X(TDX_TCB_UNSUPPORTED, "tdx_tcb_unsupported", 401, 1, "no TCB level matches")         \
	/* HPKE */                                                                            \
	X(HPKE_SUITE, "hpke_suite_unsupported", 400, 1, "HPKE suite unsupported")             \
	X(HPKE_DH, "hpke_dh_failed", 400, 1, "HPKE DH produced an invalid value")             \
	X(HPKE_OPEN, "hpke_open_failed", 400, 1, "HPKE ciphertext did not open")              \
	/* policy */                                                                          \
	X(UNKNOWN_KEY, "unknown_key", 404, 1, "no such key")                                  \
	X(KEY_DISABLED, "key_disabled", 403, 1, "key is disabled")                            \
	X(KEY_MISSING, "key_material_missing", 409, 1, "model key has no stored version")     \
	X(KEY_VERSION_UNKNOWN, "key_version_unknown", 404, 1, "no such key version")         \
	X(KEY_VERSION_DISABLED, "key_version_disabled", 403, 1, "key version is disabled")    \
	X(KEY_VERSION_DESTROYED, "key_version_destroyed", 410, 1, "key version was destroyed") \
	X(KEY_VERSION_NOT_ALLOWED, "key_version_not_allowed", 403, 1,                         \
	  "the policy does not release this key version")                                     \
	X(SESSION_ID, "session_id_invalid", 400, 1, "session_id is malformed")                \
	X(NO_POLICY, "no_policy", 403, 1, "no active policy for this key and TEE")            \
	X(POLICY_NOT_YET_VALID, "policy_not_yet_valid", 403, 1, "policy not yet valid")       \
	X(POLICY_EXPIRED, "policy_expired", 403, 1, "policy has expired")                     \
	X(MEASUREMENT, "measurement_not_allowed", 403, 1, "measurement not allowed")          \
	X(DEBUG, "debug_not_allowed", 403, 1, "guest allows debugging")                       \
	X(MIGRATION, "migration_agent_not_allowed", 403, 1, "guest allows a migration agent") \
	X(TCB_TOO_LOW, "tcb_too_low", 403, 1, "TCB is below the policy minimum")              \
	X(TEE_NOT_ALLOWED, "tee_not_allowed", 403, 1, "TEE type not allowed")                 \
	X(VMPL, "vmpl_not_allowed", 403, 1, "the request came from a VMPL the policy refuses")  \
	X(HOST_DATA, "host_data_mismatch", 403, 1, "HOST_DATA differs from the policy's")       \
	X(ID_KEY, "id_key_not_allowed", 403, 1, "ID key digest not allowed")                  \
	X(AUTHOR_KEY, "author_key_not_allowed", 403, 1, "author key digest not allowed")      \
	X(GUEST_SVN, "guest_svn_too_low", 403, 1, "guest SVN below the policy minimum")        \
	X(TDX_TCB_STATUS, "tdx_tcb_status_not_allowed", 403, 1, "TDX TCB status not accepted") \
	X(TDX_RTMR, "rtmr_not_allowed", 403, 1, "an RTMR value is not allowed")               \
	X(TDX_MR_CONFIG_ID, "mrconfigid_mismatch", 403, 1, "MRCONFIGID differs from the policy's") \
	X(TDX_MR_OWNER, "mrowner_mismatch", 403, 1, "MROWNER differs from the policy's")      \
	X(TDX_MR_OWNER_CONFIG, "mrownerconfig_mismatch", 403, 1, "MROWNERCONFIG differs")     \
	/* ledger (transparency log, ledger/) */                                              \
	X(LEDGER_NOTE_MALFORMED, "ledger_note_malformed", 400, 1,                             \
	  "signed note or checkpoint is malformed")                                           \
	X(LEDGER_BUNDLE_MALFORMED, "ledger_bundle_malformed", 400, 1,                         \
	  "ledger bundle is malformed")                                                       \
	X(LEDGER_ENTRY_MALFORMED, "ledger_entry_malformed", 400, 1,                           \
	  "ledger entry is malformed")                                                        \
	X(LEDGER_BAD_SIGNATURE, "ledger_bad_signature", 403, 1,                               \
	  "a known key's signature does not verify")                                          \
	X(LEDGER_UNKNOWN_ORIGIN, "ledger_unknown_origin", 403, 1,                             \
	  "checkpoint origin is not a trusted ledger")                                        \
	X(LEDGER_UNKNOWN_KEY, "ledger_unknown_key", 403, 1,                                   \
	  "no signature by a trusted ledger key")                                             \
	X(LEDGER_TOO_FEW_WITNESSES, "ledger_too_few_witnesses", 403, 1,                       \
	  "too few witness cosignatures")                                                     \
	X(LEDGER_PROOF_INVALID, "ledger_proof_invalid", 403, 1,                               \
	  "inclusion proof does not verify")                                                  \
	X(LEDGER_STALE_CHECKPOINT, "ledger_stale_checkpoint", 403, 1, "checkpoint is too old") \
	X(LEDGER_ROLLBACK, "ledger_rollback", 403, 1,                                         \
	  "checkpoint is older than one already seen")                                        \
	X(LEDGER_INCONSISTENT, "ledger_inconsistent", 403, 1,                                 \
	  "checkpoint is inconsistent with one seen")                                         \
	X(LEDGER_CONSISTENCY_MISSING, "ledger_consistency_missing", 403, 1,                   \
	  "no consistency proof from the seen checkpoint")                                    \
	X(LEDGER_REVOKED, "ledger_revoked", 403, 1, "measurement is revoked in the ledger")   \
	X(LEDGER_NOT_IN_LEDGER, "ledger_not_in_ledger", 403, 1,                               \
	  "measurement is not the ledger entry's")                                            \
	/* NVIDIA GPU / NVSwitch (attest/nvgpu.c, nvgpu_rim.c) */                            \
	X(GPU_REPORT_MALFORMED, "gpu_report_malformed", 401, 1, "GPU report is malformed")    \
	X(GPU_SPDM_VERSION, "gpu_spdm_version_unsupported", 401, 1, "GPU SPDM version")       \
	X(GPU_NONCE, "gpu_nonce_mismatch", 401, 1, "GPU request nonce is not the expected one") \
	X(GPU_SIGNATURE, "gpu_signature_invalid", 401, 1, "GPU report signature invalid")     \
	X(GPU_CHAIN_INCOMPLETE, "gpu_chain_incomplete", 401, 1,                               \
	  "GPU chain lacks a signing certificate")                                            \
	X(GPU_CHAIN_ISSUER, "gpu_chain_issuer_missing", 401, 1,                               \
	  "GPU chain is missing an intermediate")                                             \
	X(GPU_CHAIN, "gpu_chain_invalid", 401, 1, "GPU device chain does not verify")         \
	X(GPU_CHAIN_EXPIRED, "gpu_chain_expired", 401, 1, "GPU chain outside validity")       \
	X(GPU_ROOT_UNTRUSTED, "gpu_root_untrusted", 401, 1,                                   \
	  "GPU chain root is not the NVIDIA Device Identity CA")                              \
	X(GPU_FWID_MISSING, "gpu_cert_fwid_missing", 401, 1, "GPU leaf has no FWID extension") \
	X(GPU_FWID_MISMATCH, "gpu_fwid_mismatch", 401, 1, "GPU report FWID differs from leaf") \
	X(GPU_RIM_MALFORMED, "gpu_rim_malformed", 401, 1, "GPU RIM is malformed")             \
	X(GPU_RIM_SIGNATURE, "gpu_rim_signature_invalid", 401, 1, "GPU RIM signature invalid") \
	X(GPU_RIM_CHAIN, "gpu_rim_chain_invalid", 401, 1, "GPU RIM signing chain invalid")    \
	X(GPU_RIM_EXPIRED, "gpu_rim_expired", 401, 1, "GPU RIM signing chain expired")        \
	X(GPU_RIM_CONFLICT, "gpu_rim_index_conflict", 401, 1,                                 \
	  "driver and VBIOS RIMs define one index")                                           \
	X(GPU_RIM_MISSING, "gpu_rim_missing", 403, 1, "no RIM was compared with the GPU")     \
	X(GPU_RIM_VERSION, "gpu_rim_version_mismatch", 403, 1,                                \
	  "a RIM is for another driver or VBIOS version")                                     \
	X(GPU_MEASUREMENT, "gpu_measurement_mismatch", 403, 1,                                \
	  "GPU measurements do not match the RIMs")                                           \
	X(GPU_OCSP_INVALID, "gpu_ocsp_invalid", 401, 1, "GPU OCSP response does not verify")  \
	X(GPU_OCSP_STALE, "gpu_ocsp_stale", 401, 1, "GPU OCSP response outside its validity")   \
	X(GPU_OCSP_MISSING, "gpu_ocsp_missing", 401, 1, "no OCSP response for a GPU certificate") \
	X(GPU_OCSP_UNKNOWN, "gpu_ocsp_status_unknown", 401, 1, "OCSP status of a GPU cert unknown") \
	X(GPU_CERT_REVOKED, "gpu_cert_revoked", 401, 1, "a GPU device certificate is revoked") \
	X(GPU_UNBOUND, "gpu_evidence_unbound", 401, 1,                                        \
	  "the CPU evidence does not bind this GPU evidence")                                \
	X(GPU_REQUIRED, "gpu_evidence_missing", 403, 1, "too few GPUs attested for the policy") \
	X(GPU_DUPLICATE, "gpu_evidence_duplicate", 401, 1, "the same device's evidence twice")   \
	X(GPU_NVSWITCH, "nvswitch_evidence_missing", 403, 1,                                  \
	  "too few NVSwitches attested for the policy")                                      \
	X(GPU_CC, "gpu_cc_off", 403, 1, "a GPU does not report confidential-compute mode")    \
	X(GPU_DRIVER, "gpu_driver_too_old", 403, 1, "GPU driver below the policy minimum")   \
	X(GPU_VBIOS, "gpu_vbios_too_old", 403, 1, "GPU VBIOS below the policy minimum")       \
	/* database, keys */                                                                  \
	X(DB_UNAVAILABLE, "database_unavailable", 503, 0, "database is unavailable")          \
	X(DB_QUERY, "database_error", 503, 0, "database query failed")                        \
	X(AUDIT_FAILED, "audit_write_failed", 503, 0, "audit row could not be committed")     \
	X(MIGRATION_CHANGED, "migration_changed", 500, 0, "an applied migration changed")     \
	X(KEK, "kek_error", 500, 0, "key-encryption key unavailable or wrong")                \
	X(KEY_UNWRAP, "key_unwrap_failed", 500, 0, "stored key failed to decrypt")            \
	X(KEY_KIND, "key_kind_mismatch", 500, 0,                                              \
	  "stored key was wrapped as another kind of key than the database says")             \
	X(KEK_UNKNOWN, "kek_unknown", 500, 0, "key version is wrapped by a KEK not configured") \
	X(KEY_FORMAT_LEGACY, "key_format_legacy", 500, 0,                                     \
	  "stored key predates kind binding: run keygate kek rotate (or kek_legacy_formats)") \
	X(PKCS11, "pkcs11_error", 500, 0, "PKCS#11 token operation failed")                   \
	/* keygate-client: evidence from the CVM's own kernel (client/evidence.h) */          \
	X(TSM_UNAVAILABLE, "tsm_unavailable", 500, 0, "configfs-tsm report interface unusable") \
	X(TSM_PROVIDER, "tsm_provider_unknown", 500, 0, "configfs-tsm provider missing or unknown") \
	X(TSM_GENERATION, "tsm_generation_changed", 500, 0,                                   \
	  "another writer changed the configfs-tsm report meanwhile")                         \
	X(EVIDENCE_SIZE, "evidence_size_invalid", 500, 0, "evidence from the kernel has a wrong size") \
	X(EVIDENCE_REPORT_DATA, "evidence_report_data_mismatch", 500, 0,                      \
	  "evidence from the kernel does not carry our REPORT_DATA")                          \
	X(SEV_GUEST, "sev_guest_failed", 500, 0, "the /dev/sev-guest request failed")          \
	/* keygate-client: GPU evidence through NVML (client/gpu.h) */                        \
	X(NVML_UNAVAILABLE, "nvml_unavailable", 500, 0, "NVML (libnvidia-ml.so.1) is not available") \
	X(NVML, "nvml_failed", 500, 0, "an NVML call failed")                                  \
	X(GPU_EVIDENCE, "gpu_evidence_invalid", 500, 0,                                       \
	  "GPU or NVSwitch evidence from the driver is unusable (size, nonce or certificates)") \
	/* keygate-client: NVSwitch evidence through NSCQ (client/gpu.h) */                   \
	X(NSCQ_UNAVAILABLE, "nscq_unavailable", 500, 0,                                       \
	  "NSCQ (libnvidia-nscq.so.2) is not available")                                     \
	X(NSCQ, "nscq_failed", 500, 0, "an NSCQ call failed")                                  \
	X(NSCQ_UNLOCKED, "nvswitch_not_locked", 500, 0,                                       \
	  "no NVSwitch is in locked TNVL (protected PCIe) mode")

typedef enum {
#define KG_X_ENUM(name, code, http, denial, msg) KG_ERR_##name,
	KG_ERRORS(KG_X_ENUM)
#undef KG_X_ENUM
	KG_ERR__COUNT
} kg_err;

#define KG_OK KG_ERR_OK

/* Stable reason code, e.g. "measurement_not_allowed". Never NULL. */
const char *kg_err_code(kg_err e);
/* Human message; static, free of secrets. Never NULL. */
const char *kg_err_msg(kg_err e);
/* HTTP status the broker answers with for this error. */
int kg_err_http(kg_err e);
/* 1 when this error is a judgement on the request (a denial reason). */
int kg_err_is_denial(kg_err e);
/* Reverse lookup; returns KG_ERR__COUNT when unknown. */
kg_err kg_err_from_code(const char *code);

#define KG_MUST_CHECK __attribute__((warn_unused_result))

/* Guard macros: keep the happy path reading straight down. */
#define KG_TRY(expr)                          \
	do {                                  \
		kg_err kg_try_e_ = (expr);    \
		if (kg_try_e_ != KG_OK)       \
			return kg_try_e_;     \
	} while (0)
#define KG_ENSURE(cond, e)           \
	do {                         \
		if (!(cond))         \
			return (e);  \
	} while (0)
/* For functions with an out: label and a local `kg_err rc`. */
#define KG_TRY_OUT(expr)                 \
	do {                             \
		if ((rc = (expr)) != KG_OK) \
			goto out;        \
	} while (0)
#define KG_ENSURE_OUT(cond, e)   \
	do {                     \
		if (!(cond)) {   \
			rc = (e); \
			goto out; \
		}                \
	} while (0)

#endif
