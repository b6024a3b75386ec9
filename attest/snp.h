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
/* Upper bound on one certificate (DER or PEM) handed to the verifier; AMD's
 * are under 2 KiB.  Checked before anything is parsed. */
#define KG_SNP_CERT_MAX (16 * 1024)
/* Verified VCEK/VLEK certificates remembered per verifier (LRU). */
#define KG_SNP_CACHE_MAX 256
/* Upper bound on the CRL text handed to the verifier (one DER CRL, or PEM
 * with one CRL per product); AMD's are a few KiB.  Checked first. */
#define KG_SNP_CRL_MAX (128 * 1024)

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
	int signing_key;    /* 0 = VCEK, 1 = VLEK */
	bool mask_chip_key; /* signer info bit 1: CHIP_ID is zeroed */
	bool author_key_en; /* signer info bit 0 */
	bool debug;         /* POLICY bit 19 */
	bool migrate_ma;    /* POLICY bit 18 */
	bool smt_allowed;   /* POLICY bit 16 */
	/* "Milan", "Genoa", "Turin" once known; "" if not.  A v3+ report names
	 * it through CPUID_FAM_ID/MOD_ID; a v2 report only through its VCEK, so
	 * after kg_snp_report_parse() it is "" and the TCBs are decoded in the
	 * Milan/Genoa layout until kg_snp_verify() re-decodes them. */
	char product[16];
};

/* Parses exactly KG_SNP_REPORT_SIZE bytes (else KG_ERR_SNP_SIZE).  Accepts
 * report versions 2 to 5 (KG_ERR_SNP_VERSION otherwise), SIGNATURE_ALGO 1
 * only (KG_ERR_SNP_SIG_ALGO), SIGNING_KEY 0 or 1 (KG_ERR_SNP_SIGNING_KEY);
 * rejects non-zero MBZ fields for the report's version
 * (KG_ERR_SNP_RESERVED) and a POLICY without bit 17 or with undefined bits
 * (KG_ERR_SNP_POLICY_BITS).  Does not verify anything cryptographic. */
KG_MUST_CHECK kg_err kg_snp_report_parse(const uint8_t *buf, size_t len, struct kg_snp_report *out);

/* Certificates found in an extended report's GUID table.  Pointers borrow
 * from the table buffer; a missing entry has len 0.  Entries with GUIDs
 * other than VCEK, VLEK, ASK(/ASVK) and ARK are bounds-checked and skipped.
 * An empty buffer is an empty table.  Errors: KG_ERR_TOO_LARGE beyond
 * KG_SNP_CERT_TABLE_MAX; KG_ERR_SNP_CERT_TABLE for a missing terminator, an
 * entry of length 0, pointing into the header or past the end, or a GUID
 * listed twice. */
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
 * repository (attest/roots/amd/), whose ARKs must match the fingerprints
 * compiled into snp.c; their ASK and ASVK are used when evidence carries
 * none.  Test roots are accepted only this way.  Each ARK must be
 * self-signed with RSASSA-PSS/SHA-384 and named "ARK-<product>"
 * (Milan, Genoa, Turin); non-self-signed certificates in the file are
 * taken as ASK/ASVKs and must chain to one of its ARKs.  KG_ERR_IO when a
 * file cannot be read, KG_ERR_CONFIG when its content does not qualify. */
KG_MUST_CHECK kg_err kg_snp_verifier_new(struct kg_snp_verifier **out, const char *roots_pem);
void kg_snp_verifier_free(struct kg_snp_verifier *v);

/* Certificates supplied beside the evidence (DER or PEM each, any may be
 * NULL): from the report's cert table or from files on the command line.
 *
 * crl (optional, never from the evidence: the broker's own copy) is AMD's
 * certificate revocation list as KDS serves it at
 * https://kdsintf.amd.com/vcek/v1/{product}/crl: an X.509 v2 CRL issued
 * and signed by the product's ARK (RSASSA-PSS/SHA-384), listing revoked
 * ASK/ASVK and VCEK/VLEK serials.  DER holds one CRL; PEM may hold several
 * ("X509 CRL" blocks, e.g. Milan's, Genoa's and Turin's concatenated), and
 * the one issued by the ARK the chain ends in is used.  Members added
 * after the first three pairs: initialise the struct with memset or
 * designated initialisers so that they are zero when unused. */
struct kg_snp_certs {
	const uint8_t *vcek, *ask, *ark; /* vcek may hold a VLEK, ask an ASVK */
	size_t vcek_len, ask_len, ark_len;
	const uint8_t *crl;
	size_t crl_len;
};

/* Whether verification insists on a CRL (default false).  When true, a
 * call whose certs carry no CRL fails with KG_ERR_SNP_CRL_MISSING before
 * anything is verified, so that a broker without a current CRL fails
 * closed.  Thread-safe; applies to calls that start after it returns. */
void kg_snp_verifier_require_crl(struct kg_snp_verifier *v, bool required);

/* Verifies a report at time now: parses it (see kg_snp_report_parse), then
 * the chain VCEK -> ASK -> ARK (VLEK -> ASVK -> ARK when SIGNING_KEY is 1)
 * to a trust anchor, every certificate RSASSA-PSS/SHA-384/salt 48 and
 * valid at now, then the CRL when one is supplied (see below), then the
 * VCEK extensions against the report (product == the root's == the
 * CPUID's, hwID == CHIP_ID for a VCEK, each SPL == REPORTED_TCB), then the
 * ECDSA P-384 signature over bytes 0..0x29F.  A missing ASK/ARK is taken
 * from the verifier's roots.
 *
 * The CRL: the one issued by the chain's ARK (by name) must be a v2 CRL
 * signed by that ARK with AMD's RSASSA-PSS parameters, with nextUpdate,
 * no critical extension, no delta-CRL indicator or issuing distribution
 * point, else SNP_CRL_INVALID (also when none of the supplied CRLs is the
 * ARK's, or two are); if it lists the serial of the ASK/ASVK or of the
 * VCEK/VLEK the chain used, SNP_CERT_REVOKED; unless thisUpdate <= now <
 * nextUpdate, SNP_CRL_EXPIRED.  KG_ERR_TOO_LARGE beyond KG_SNP_CRL_MAX.
 *
 * Reason codes: SNP_NO_VCEK, SNP_CRL_MISSING, SNP_SIGNING_KEY (certificate
 * kind differs from the report's), SNP_CHAIN, SNP_CHAIN_EXPIRED,
 * SNP_UNTRUSTED_ROOT, SNP_CRL_INVALID, SNP_CERT_REVOKED, SNP_CRL_EXPIRED,
 * SNP_PRODUCT, SNP_VCEK_EXT, SNP_CHIP_MISMATCH, SNP_TCB_MISMATCH,
 * SNP_SIGNATURE, and the parser's.  out (may be NULL) is filled only on
 * success, with product set and the TCBs decoded for it.  A VCEK/VLEK that
 * verified is cached; later calls check only the report against it while
 * now stays inside every certificate's validity.  The cache never stands
 * in for the CRL: the serials of a cached chain are checked against the
 * supplied CRL on every call (a CRL that verified is cached too, by the
 * SHA-256 of its bytes and the ARK, but its dates are checked every time). */
KG_MUST_CHECK kg_err kg_snp_verify(struct kg_snp_verifier *v, const uint8_t *report, size_t report_len,
				   const struct kg_snp_certs *certs, time_t now, struct kg_snp_report *out);

/* What a VCEK or VLEK certifies through its AMD extensions
 * (1.3.6.1.4.1.3704.1.*). */
struct kg_snp_vek_info {
	bool vlek;                 /* cspID present, hwID absent */
	char product_name[32];     /* productName as issued, e.g. "Milan-B0" */
	char product[16];          /* its product part, e.g. "Milan" */
	uint8_t hwid[64];          /* VCEK only */
	size_t hwid_len;           /* 64; 8 on Turin; 0 for a VLEK */
	struct kg_snp_tcb tcb;     /* the SPLs, in the product's TCB layout */
};

/* Verifies a VCEK/VLEK chain alone (no report) at time now, as
 * kg_snp_verify does, CRL included; signing_key 0 expects a VCEK under an
 * ASK, 1 a VLEK under an ASVK.  info (may be NULL) receives the certified
 * values. */
KG_MUST_CHECK kg_err kg_snp_verify_chain(struct kg_snp_verifier *v, const struct kg_snp_certs *certs,
					 int signing_key, time_t now, struct kg_snp_vek_info *info);

/* Counters of the VCEK cache, for metrics and tests. */
struct kg_snp_cache_stats {
	uint64_t hits, misses;
	size_t entries;
	uint64_t crl_hits, crl_misses; /* the verified-CRL cache */
};
void kg_snp_verifier_stats(struct kg_snp_verifier *v, struct kg_snp_cache_stats *out);

#endif
