/*
 * Evidence from the CVM's own kernel, for keygate-client:
 *   - configfs-tsm (Linux >= 6.7, Documentation/ABI/testing/configfs-tsm):
 *     SEV-SNP ("sev_guest") or Intel TDX ("tdx_guest"), told apart by the
 *     report entry's provider attribute;
 *   - /dev/sev-guest SNP_GET_EXT_REPORT (SEV-SNP guests before configfs-tsm).
 * Both hand back evidence shaped as the broker takes it (docs/protocol.md
 * §2): SNP report ‖ GHCB certificate table under KG_RATLS_TAG_SNP, or a
 * DCAP quote under KG_RATLS_TAG_INTEL_QUOTE.  The kernel's bytes are
 * checked with kg_evidence_check before they go into a certificate.
 */
#ifndef KG_CLIENT_EVIDENCE_H
#define KG_CLIENT_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_TSM_ROOT_DEFAULT "/sys/kernel/config/tsm/report"
#define KG_SEV_GUEST_DEFAULT "/dev/sev-guest"
/* TSM_OUTBLOB_MAX (include/linux/tsm.h); auxblob is bounded the same way. */
#define KG_TSM_BLOB_MAX (32 * 1024)
/* The SNP and TDX drivers take exactly 64 bytes of inblob. */
#define KG_TSM_INBLOB_LEN 64
/* TSM_PRIVLEVEL_MAX. */
#define KG_TSM_PRIVLEVEL_MAX 3
/* SEV_FW_BLOB_MAX_SIZE in drivers/virt/coco/sev-guest: the most the
 * driver copies into the certificate buffer. */
#define KG_SEV_GUEST_CERTS_MAX (16 * 1024)
/* MSG_REPORT_RSP (SEV-SNP Firmware ABI 56860, Table 25): status u32,
 * report_size u32, 24 reserved bytes, then the report. */
#define KG_SNP_MSG_REPORT_RSP_HDR 32

/* A diagnostic for the operator (path, errno text); never secret. */
struct kg_evidence_diag {
	char msg[256];
};

/* configfs-tsm: makes a report entry of its own under root (mkdir),
 * reads its provider, notes its generation, writes report_data to inblob
 * (and privlevel when privlevel >= 0), reads outblob and (SEV-SNP) auxblob,
 * checks that generation advanced by exactly our writes, then removes the
 * entry on every path.  *tag is the RA-TLS evidence tag of the provider;
 * *ev (malloc'd) is outblob ‖ auxblob, checked with kg_evidence_check.
 * Errors: tsm_unavailable (no root, mkdir/IO refused), tsm_provider_unknown,
 * tsm_generation_changed, too_large, evidence_size_invalid,
 * evidence_report_data_mismatch, the parsers' errors; diag says where. */
KG_MUST_CHECK kg_err kg_tsm_get(const char *root, int privlevel, const uint8_t report_data[static 64], uint64_t *tag,
				uint8_t **ev, size_t *len, struct kg_evidence_diag *diag);

/* /dev/sev-guest: SNP_GET_EXT_REPORT at vmpl with REPORT_DATA =
 * report_data; when the host's certificate table does not fit, the
 * driver says how much it needs (SNP_GUEST_VMM_ERR_INVALID_LEN) and the
 * request is made once more with that size (at most
 * KG_SEV_GUEST_CERTS_MAX).  *ev (malloc'd) = report ‖ certificate table,
 * checked with kg_evidence_check.  Untested without SEV-SNP hardware. */
KG_MUST_CHECK kg_err kg_sev_guest_get(const char *dev, unsigned vmpl, const uint8_t report_data[static 64],
				      uint8_t **ev, size_t *len, struct kg_evidence_diag *diag);

/* The report inside a MSG_REPORT_RSP (resp, len bytes): status 0,
 * report_size KG_SNP_REPORT_SIZE, and those bytes present.  *report
 * borrows from resp.  Errors: sev_guest_failed (status), evidence_size_invalid. */
KG_MUST_CHECK kg_err kg_sev_guest_report(const uint8_t *resp, size_t len, const uint8_t **report);

/* Checks evidence the kernel produced before it is sent: for
 * KG_RATLS_TAG_SNP a KG_SNP_REPORT_SIZE-byte report whose REPORT_DATA
 * (offset 0x50) is report_data, then an optional certificate table that
 * kg_snp_cert_table_parse accepts; for KG_RATLS_TAG_INTEL_QUOTE a quote
 * that kg_tdx_quote_parse accepts, with REPORTDATA = report_data.  Other
 * tags: invalid_argument.  Catches a short blob, a blob for someone
 * else's inblob, and garbage, with a clear reason instead of a denial. */
KG_MUST_CHECK kg_err kg_evidence_check(uint64_t tag, const uint8_t *ev, size_t len,
				       const uint8_t report_data[static 64]);

#endif
