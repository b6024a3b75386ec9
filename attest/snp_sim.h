/*
 * A simulated SEV-SNP attester, for keygate-client's `--tee snp-sim` and
 * for tests.  It is linked into the client and the tests, never into the
 * broker: its root is a test root that a broker trusts only when it is
 * configured explicitly (kg_snp_verifier_new(&v, "<dir>/ark.pem")).
 *
 * The state lives in a directory:
 *   ark.pem       test ARK, RSA-4096, self-signed, RSASSA-PSS/SHA-384
 *                 ("CN=ARK-Milan", O=Keygate simulated SEV-SNP): the trust
 *                 anchor to configure
 *   ark-key.pem   the ARK's private key, PKCS#8, mode 0600 (the simulated
 *                 KDS signs its CRLs with it, as AMD's ARK signs theirs)
 *   ask.pem       test ASK ("CN=SEV-Milan"), RSA-4096, signed by the ARK
 *   ask-key.pem   the ASK's private key, PKCS#8, mode 0600 (the simulated
 *                 KDS: it issues a VCEK for each TCB a report claims)
 *   vcek.pem      test VCEK ("CN=SEV-VCEK"), P-384, signed by the ASK, with
 *                 AMD's extensions: productName "Milan-B0", the SPLs of
 *                 KG_SNP_SIM_TCB_* and a random 64-byte hwID
 *   vcek-key.pem  the VCEK's private key, PKCS#8, mode 0600
 *
 * The ARK's private key is kept because AMD's CRL is issued by the ARK
 * itself (KDS /vcek/v1/{product}/crl), so revocation cannot be simulated
 * without it.  The cost: whoever can read ark-key.pem can mint ASKs under
 * the test root.  That root is a test root only, trusted only by a broker
 * configured with this ark.pem; keep the directory private (it is created
 * 0700) and never configure a production broker with it.  A directory made
 * before ark-key.pem was kept still attests, but cannot issue CRLs
 * (kg_snp_sim_crl fails with KG_ERR_IO): delete it to start over.
 *
 * Like AMD's KDS, which issues one VCEK per (chip, TCB), the simulator
 * certifies the VCEK key anew (same key and hwID, other SPLs) when a
 * report claims a TCB other than vcek.pem's, and keeps that certificate as
 * vcek-BBTTSSUU.pem (the SPLs in hex).
 *
 * Reports are laid out as AMD's (ABI 56860 ATTESTATION_REPORT) and signed
 * like AMD's (ECDSA P-384/SHA-384 over bytes 0..0x29F, R and S
 * little-endian), so the broker verifies them with the same code path as
 * real ones.
 */
#ifndef KG_SNP_SIM_H
#define KG_SNP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

#define KG_SNP_SIM_ARK "ark.pem"
#define KG_SNP_SIM_ARK_KEY "ark-key.pem"
#define KG_SNP_SIM_ASK "ask.pem"
#define KG_SNP_SIM_ASK_KEY "ask-key.pem"
#define KG_SNP_SIM_VCEK "vcek.pem"
#define KG_SNP_SIM_VCEK_KEY "vcek-key.pem"

/* The TCB the test VCEK is issued for (a Milan at firmware 1.55). */
#define KG_SNP_SIM_TCB_BOOTLOADER 4
#define KG_SNP_SIM_TCB_TEE 0
#define KG_SNP_SIM_TCB_SNP 24
#define KG_SNP_SIM_TCB_MICROCODE 219

struct kg_snp_sim_tcb {
	uint8_t bootloader, tee, snp, microcode; /* Milan/Genoa TCB_VERSION layout */
};

struct kg_snp_sim_params {
	uint32_t version;     /* 2, 3 or 5 (anything else makes a report the broker refuses) */
	uint32_t guest_svn;
	uint64_t policy;      /* GUEST POLICY; bit 19 = debug */
	uint32_t vmpl;
	uint64_t platform_info;
	uint8_t family_id[16], image_id[16];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48], author_key_digest[48];
	struct kg_snp_sim_tcb reported_tcb; /* also COMMITTED_TCB and LAUNCH_TCB */
	struct kg_snp_sim_tcb current_tcb;
	bool vcek_tcb_set;    /* issue the VCEK for vcek_tcb rather than for */
	struct kg_snp_sim_tcb vcek_tcb; /* reported_tcb (negative tests) */
	uint8_t cpuid_fam, cpuid_mod, cpuid_step; /* written for version >= 3 */
	uint64_t launch_mit_vector, current_mit_vector; /* written for version >= 5 */
	uint8_t fw_major, fw_minor, fw_build;  /* CURRENT and COMMITTED firmware */
	bool mask_chip_id;    /* set MASK_CHIP_KEY and leave CHIP_ID zero */
	bool chip_id_set;     /* use chip_id below instead of the VCEK's hwID */
	uint8_t chip_id[64];
	bool no_cert_table;   /* evidence is the bare 1184-byte report */
};

/* Defaults: version 3 with Milan's CPUID (19h/01h/01h), policy 0x30000
 * (SMT allowed, debug off, no migration agent), VMPL 0, zero measurement,
 * host data, IDs and digests, all TCBs KG_SNP_SIM_TCB_*, firmware 1.55.29,
 * PLATFORM_INFO 0x25, CHIP_ID = the VCEK's hwID, certificate table on. */
struct kg_snp_sim_params kg_snp_sim_params_default(void);

/* Creates dir (mode 0700) if needed and the six files above, unless the
 * certificates and the ASK and VCEK keys exist already (ark-key.pem may be
 * missing, see above), in which case it keeps them: the test root stays
 * stable across runs, so a broker configured with ark.pem keeps trusting
 * it.  Delete the files to start over.  Takes a few seconds (two RSA-4096
 * key generations). */
KG_MUST_CHECK kg_err kg_snp_sim_init(const char *dir);

/* Produces evidence as the broker takes it for SNP: a 1184-byte report
 * with REPORT_DATA = report_data, signed by dir's VCEK key, followed
 * (unless p->no_cert_table) by a GHCB certificate table (GUIDs of GHCB
 * 56421 §4.1.8.1) holding the VCEK (issued for the report's REPORTED_TCB,
 * see above), ASK and ARK in DER.  p NULL means the defaults.  *evidence
 * is malloc'd; the caller frees it. */
KG_MUST_CHECK kg_err kg_snp_sim_attest(const char *dir, const struct kg_snp_sim_params *p,
				       const uint8_t report_data[static 64], uint8_t **evidence, size_t *len);

/* Issues a CRL shaped like the one AMD's KDS serves per product: an X.509
 * v2 CRL issued and signed by dir's ARK (RSASSA-PSS, SHA-384, MGF1-SHA-384,
 * salt 48) with an authority key identifier and a CRL number (=
 * this_update), thisUpdate = this_update and nextUpdate = next_update.
 * It lists, each revoked at this_update, the serial of ask.pem when
 * revoke_ask, and when revoke_vcek the serials of vcek.pem and of every
 * vcek-*.pem issued so far (the simulated KDS's VCEKs for other TCBs; a
 * VCEK issued after the CRL is not on it).  *der is malloc'd DER; the
 * caller frees it.  KG_ERR_IO when dir holds no ark-key.pem. */
KG_MUST_CHECK kg_err kg_snp_sim_crl(const char *dir, bool revoke_vcek, bool revoke_ask, time_t this_update,
				    time_t next_update, uint8_t **der, size_t *len);

#endif
