/*
 * AMD SEV-SNP attestation reports (SEV-SNP Firmware ABI 56860, table
 * "ATTESTATION_REPORT"): parse, verify the ECDSA P-384 signature with the
 * VCEK/VLEK, verify VCEK -> ASK -> ARK to a configured trust anchor, and
 * check the VCEK's AMD extensions against the report.
 */
#ifndef KG_SNP_H
#define KG_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

#define KG_SNP_REPORT_SIZE 1184
#define KG_SNP_SIGNED_SIZE 0x2a0
/* Upper bound on an extended-report certificate table (GHCB 56421 §4.1.8.1). */
#define KG_SNP_CERT_TABLE_MAX (64 * 1024)

/* TCB_VERSION, decoded for the report's CPU generation (Milan/Genoa layout
 * or Turin layout, see formats notes §2.3).  raw keeps the 8 bytes as a
 * little-endian u64. */
struct kg_snp_tcb {
	uint64_t raw;
	uint8_t fmc; /* Turin and later only; 0 otherwise */
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

struct kg_snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t sig_algo;
	struct kg_snp_tcb current_tcb;
	uint64_t platform_info;
	uint32_t signer_info;
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	struct kg_snp_tcb reported_tcb;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* v3+ */
	uint8_t chip_id[64];
	struct kg_snp_tcb committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	struct kg_snp_tcb launch_tcb;
	uint64_t launch_mit_vector, current_mit_vector; /* v5 */
	uint8_t sig_r[72], sig_s[72]; /* little-endian, zero-extended */

	/* Derived from the fields above. */
	int signing_key;  /* 0 = VCEK, 1 = VLEK */
	bool debug;       /* POLICY bit 19 */
	bool migrate_ma;  /* POLICY bit 18 */
	bool smt_allowed; /* POLICY bit 16 */
	char product[16]; /* "Milan", "Genoa", "Turin" once known; "" if not */
};

/* Parses exactly KG_SNP_REPORT_SIZE bytes.  Rejects unknown versions,
 * unsupported signature algorithms, non-zero MBZ fields and invalid
 * policy bits with their specific reason codes.  Does not verify. */
KG_MUST_CHECK kg_err kg_snp_report_parse(const uint8_t *buf, size_t len, struct kg_snp_report *out);

/* Certificates found in an extended report's GUID table.  Pointers borrow
 * from the table buffer; a missing entry has len 0. */
struct kg_snp_cert_table {
	const uint8_t *vcek, *vlek, *ask, *ark;
	size_t vcek_len, vlek_len, ask_len, ark_len;
};
KG_MUST_CHECK kg_err kg_snp_cert_table_parse(const uint8_t *buf, size_t len, struct kg_snp_cert_table *out);

/* A verifier: trust anchors plus a cache of verified VCEK/VLEK certificates
 * so that, after the first request from a chip, only the report signature
 * is checked.  Thread-safe. */
struct kg_snp_verifier;

/* roots_pem: PEM file with the ARK certificates to trust (each pinned by its
 * SHA-256 fingerprint at load).  NULL selects the AMD roots shipped in the
 * repository (attest/roots/amd/).  Test roots are accepted only this way. */
KG_MUST_CHECK kg_err kg_snp_verifier_new(struct kg_snp_verifier **out, const char *roots_pem);
void kg_snp_verifier_free(struct kg_snp_verifier *v);

/* Certificates supplied beside the evidence (DER or PEM each, any may be
 * NULL): from the report's cert table or from files on the command line. */
struct kg_snp_certs {
	const uint8_t *vcek, *ask, *ark; /* vcek may hold a VLEK, ask an ASVK */
	size_t vcek_len, ask_len, ark_len;
};

/* Verifies a parsed report at time now: the chain to a trust anchor (and
 * validity periods at now), the VCEK extensions against the report
 * (hwID == CHIP_ID, SPLs == REPORTED_TCB, product), and the signature. */
KG_MUST_CHECK kg_err kg_snp_verify(struct kg_snp_verifier *v, const uint8_t *report, size_t report_len,
				   const struct kg_snp_certs *certs, time_t now, struct kg_snp_report *out);

#endif
