/*
 * A simulated Intel TDX attester (DCAP quotes) with its own simulated PCS:
 * for tests and demos, linked into keygate-client and the tests, never
 * into the broker.  Its root is a test "Intel SGX Root CA" that a broker
 * trusts only when configured explicitly with <dir>/root.pem
 * (kg_tdx_verifier_new(&v, "<dir>/root.pem"), kg_attest_set_tdx_roots,
 * `keygate evidence verify --roots`); the shipped, pinned Intel root never
 * accepts it (tdx_untrusted_root).
 *
 * The state lives in a directory (created 0700).  The test PKI, shaped as
 * Intel's (Intel SGX PCK Certificate and CRL Profile): every key ECDSA
 * P-256, every signature ECDSA/SHA-256, names "CN=<Intel's CN>,
 * OU=Simulated Intel TDX, O=Keygate test":
 *   root.pem                "Intel SGX Root CA", self-signed, CA, pathlen 1:
 *                           the trust anchor to configure
 *   root-key.pem            its key (signs the root CRL and the CAs)
 *   pck-ca.pem              "Intel SGX PCK Platform CA", CA, pathlen 0
 *   pck-ca-key.pem          its key (signs the PCK and the PCK CRL)
 *   pck.pem                 "Intel SGX PCK Certificate" with the SGX
 *                           Extensions (1.2.840.113741.1.13.1): a random
 *                           PPID, the TCB of KG_TDX_SIM_SGX_TCB /
 *                           KG_TDX_SIM_PCESVN, PCE-ID 0000, FMSPC
 *                           KG_TDX_SIM_FMSPC, SGX type 1 (Scalable), a
 *                           random PlatformInstanceID, Configuration
 *   pck-key.pem             the PCK key (signs the QE report)
 *   tcb-signing.pem         "Intel SGX TCB Signing", issued by the root
 *   tcb-signing-key.pem     its key (signs the collateral JSON)
 *   attest-key.pem          the QE's attestation key (signs quotes)
 * Every *-key.pem is PKCS#8, unencrypted, mode 0600.  Whoever reads them
 * can mint quotes and collateral under this root: it is a test root only.
 *
 * The collateral, with the file names `keygate evidence verify
 * --collateral DIR` looks for (Intel PCS v4 formats):
 *   tcbInfo.json            {"tcbInfo":{...},"signature":"<r||s hex>"}:
 *                           TCB Info v3, id "TDX", FMSPC and PCE-ID as the
 *                           PCK, tdxModule (MRSIGNERSEAM zero, attributes
 *                           0 under mask all-ones), tdxModuleIdentities
 *                           "TDX_01" (module SVN >= 5 UpToDate, >= 2
 *                           OutOfDate), and two tcbLevels: UpToDate
 *                           (the PCK's SGX TCB, TDX components
 *                           KG_TDX_SIM_TEE_TCB_SVN) and OutOfDate (lower
 *                           SGX TCB, TDX late microcode SVN 2, advisories)
 *   qeIdentity.json         {"enclaveIdentity":{...},"signature":...}:
 *                           Enclave Identity v2, id "TD_QE", the simulated
 *                           QE's MRSIGNER/ISVPRODID, ISVSVN >= 4 UpToDate
 *   TCB_Signing_chain.pem   tcb-signing.pem then root.pem (PCS's
 *                           TCB-Info-Issuer-Chain)
 *   IntelSGXRootCA.crl.der  the root's CRL (DER), nothing revoked
 *   pckcrl_platform.crl.der the PCK Platform CA's CRL (DER)
 * Both JSON signatures are over the exact bytes of the inner object, as
 * Intel signs; issueDate / thisUpdate = the issue time - 1 h, nextUpdate
 * = the issue time + KG_TDX_SIM_COLLATERAL_DAYS days.
 *
 * Quotes are laid out as Intel's (TDX DCAP Quoting Library API, App. A):
 * header with Intel's QE vendor ID, the TD report body (v4, or v5 with the
 * body descriptor, TDX 1.0 or 1.5 body), and ECDSA-256 signature data:
 * the quote signature by the attestation key, the attestation key,
 * certification data type 6 holding the QE report (SGX REPORT_BODY of a
 * simulated TD QE, REPORTDATA = SHA-256(attest_key || qe_auth_data) || 32
 * zero bytes) signed by the PCK key, the QE authentication data, and
 * certification data type 5 holding the PEM chain PCK, PCK Platform CA,
 * root (NUL-terminated, as the QE writes it).  The broker verifies them
 * with the same code path as real ones.
 */
#ifndef KG_TDX_SIM_H
#define KG_TDX_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"
#include "tdx.h"

#define KG_TDX_SIM_ROOT "root.pem"
#define KG_TDX_SIM_ROOT_KEY "root-key.pem"
#define KG_TDX_SIM_PCK_CA "pck-ca.pem"
#define KG_TDX_SIM_PCK_CA_KEY "pck-ca-key.pem"
#define KG_TDX_SIM_PCK "pck.pem"
#define KG_TDX_SIM_PCK_KEY "pck-key.pem"
#define KG_TDX_SIM_TCB_SIGNING "tcb-signing.pem"
#define KG_TDX_SIM_TCB_SIGNING_KEY "tcb-signing-key.pem"
#define KG_TDX_SIM_ATTEST_KEY "attest-key.pem"
#define KG_TDX_SIM_TCB_INFO "tcbInfo.json"
#define KG_TDX_SIM_QE_IDENTITY "qeIdentity.json"
#define KG_TDX_SIM_SIGNING_CHAIN "TCB_Signing_chain.pem"
#define KG_TDX_SIM_ROOT_CRL "IntelSGXRootCA.crl.der"
#define KG_TDX_SIM_PCK_CRL "pckcrl_platform.crl.der"

/* The simulated platform: an Emerald Rapids-like FMSPC, its PCK's SGX TCB
 * component SVNs and PCESVN, and the TEE_TCB_SVN of the UpToDate level
 * ([0] TDX module SVN, [1] module major version 1 = TDX 1.5, [2] TDX late
 * microcode update SVN). */
#define KG_TDX_SIM_FMSPC {0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00}
#define KG_TDX_SIM_SGX_TCB {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0}
#define KG_TDX_SIM_PCESVN 13
#define KG_TDX_SIM_TEE_TCB_SVN {5, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
/* The simulated TD QE (ISVPRODID 2 and MRSIGNER as Intel's TD QE). */
#define KG_TDX_SIM_QE_ISVSVN 4
#define KG_TDX_SIM_COLLATERAL_DAYS 30

struct kg_tdx_sim_params {
	uint16_t version;   /* 4, or 5 (any other value gets the v5 layout: negative tests) */
	uint16_t body_type; /* v5: 2 (TDX 1.0 body, 584 bytes) or 3 (TDX 1.5, 648 bytes); others get the 1.0 body */
	uint8_t tee_tcb_svn[16];
	uint8_t mr_seam[48];
	uint8_t mr_signer_seam[48]; /* zero for Intel's modules, as the TCB info says */
	uint64_t seam_attributes;   /* 0, as the TCB info says */
	uint64_t td_attributes;     /* KG_TDX_TD_ATTR_* */
	uint64_t xfam;
	uint8_t mr_td[48];
	uint8_t mr_config_id[48], mr_owner[48], mr_owner_config[48];
	uint8_t rtmr[4][48];
	uint8_t tee_tcb_svn2[16];   /* body type 3 only */
	uint8_t mr_service_td[48];  /* body type 3 only */
	uint8_t user_data[20];      /* header bytes 0x1C..0x2F */
	/* A platform below the UpToDate level: TEE_TCB_SVN[2] (TDX late
	 * microcode) is written as 2, which only the OutOfDate level meets;
	 * the verifier then reports OutOfDate with that level's advisories. */
	bool out_of_date;
};

/* Defaults: version 4 (body type 2), TEE_TCB_SVN = KG_TDX_SIM_TEE_TCB_SVN
 * (and TEE_TCB_SVN2 the same), TD_ATTRIBUTES = SEPT_VE_DISABLE only (debug
 * off), XFAM 0x61ae7 (x87, SSE, AVX, AVX-512, PK, AMX as on a 4th/5th-gen
 * Xeon), SEAM attributes 0, every measurement, MRSEAM and user data zero,
 * out_of_date false. */
struct kg_tdx_sim_params kg_tdx_sim_params_default(void);

/* Creates dir (mode 0700) if needed and the PKI files above, unless every
 * certificate and key exists already, in which case it keeps them: the
 * test root stays stable across runs, so a broker configured with
 * root.pem keeps trusting it (delete the files to start over).  Then, if
 * any of the five collateral files is missing, issues the collateral as
 * kg_tdx_sim_collateral_issue(dir, time(NULL), false) does; existing
 * collateral is kept too.  Fast (a few P-256 key generations). */
KG_MUST_CHECK kg_err kg_tdx_sim_init(const char *dir);

/* (Re)issues the five collateral files of dir for the time now: the JSON
 * documents and both CRLs dated now - 1 h .. now +
 * KG_TDX_SIM_COLLATERAL_DAYS days, signed by dir's TCB signing, root and
 * PCK CA keys.  When revoke_pck, the PCK CRL lists pck.pem's serial (the
 * verifier then answers tdx_pck_revoked).  For collateral that has passed
 * its nextUpdate, or for revocation tests. */
KG_MUST_CHECK kg_err kg_tdx_sim_collateral_issue(const char *dir, time_t now, bool revoke_pck);

/* A DCAP quote by dir's simulated QE, see above, with REPORTDATA =
 * report_data and the TD fields of p (NULL: the defaults).  *quote is
 * malloc'd; the caller frees it.  KG_ERR_IO when dir is not initialised. */
KG_MUST_CHECK kg_err kg_tdx_sim_quote(const char *dir, const struct kg_tdx_sim_params *p,
				      const uint8_t report_data[static 64], uint8_t **quote, size_t *len);

/* Loads dir's five collateral files into one malloc'd buffer *buf (the
 * caller frees it after the last use of *out) and points out's members
 * into it, for callers that hand them to kg_tdx_verify or
 * kg_attest_set_tdx_collateral.  KG_ERR_IO when a file is missing. */
KG_MUST_CHECK kg_err kg_tdx_sim_collateral(const char *dir, struct kg_tdx_collateral *out, uint8_t **buf);

#endif
