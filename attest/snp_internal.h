/*
 * Folder-private SEV-SNP constants and helpers shared by snp.c, the
 * simulated attester (snp_sim.c) and the unit tests.  Not part of the
 * attest/ module's public interface.
 */
#ifndef KG_SNP_INTERNAL_H
#define KG_SNP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "snp.h"

/* GHCB 56421 §4.1.8.1 certificate table GUIDs, as the 16 bytes stored in
 * the table: RFC 4122 textual order (the order go-sev-guest and
 * virtee/sev read), not the mixed-endian Microsoft layout. */
#define KG_SNP_GUID_VCEK /* 63da758d-e664-4564-adc5-f4b93be8accd */ \
	{0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd}
#define KG_SNP_GUID_VLEK /* a8074bc2-a25a-483e-aae6-39c045a0b8a1 */ \
	{0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1}
#define KG_SNP_GUID_ASK /* 4ab7b379-bbac-4fe4-a02f-05aef327c782, also the ASVK */ \
	{0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82}
#define KG_SNP_GUID_ARK /* c0b406a4-a803-4952-9743-3fb6014cd0ae */ \
	{0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae}

#define KG_SNP_CERT_TABLE_ENTRY 24 /* GUID[16], u32le offset, u32le length */

/* VCEK/VLEK extension OIDs (AMD KDS spec 57230 §3; go-sev-guest kds.go). */
#define KG_SNP_OID_STRUCT_VERSION "1.3.6.1.4.1.3704.1.1"
#define KG_SNP_OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define KG_SNP_OID_BL_SPL "1.3.6.1.4.1.3704.1.3.1"
#define KG_SNP_OID_TEE_SPL "1.3.6.1.4.1.3704.1.3.2"
#define KG_SNP_OID_SNP_SPL "1.3.6.1.4.1.3704.1.3.3"
#define KG_SNP_OID_SPL4 "1.3.6.1.4.1.3704.1.3.4"
#define KG_SNP_OID_SPL5 "1.3.6.1.4.1.3704.1.3.5"
#define KG_SNP_OID_SPL6 "1.3.6.1.4.1.3704.1.3.6"
#define KG_SNP_OID_SPL7 "1.3.6.1.4.1.3704.1.3.7"
#define KG_SNP_OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define KG_SNP_OID_FMC_SPL "1.3.6.1.4.1.3704.1.3.9"
#define KG_SNP_OID_HWID "1.3.6.1.4.1.3704.1.4"
#define KG_SNP_OID_CSPID "1.3.6.1.4.1.3704.1.5"

/* Decodes an 8-byte TCB_VERSION (as the report's little-endian u64) in the
 * Milan/Genoa layout (turin false) or the Turin layout (formats notes
 * §2.3; virtee/sev TcbVersion::from_{legacy,turin}_bytes). */
void kg_snp_tcb_decode(uint64_t raw, bool turin, struct kg_snp_tcb *out);

/* Reads a VCEK/VLEK (DER or PEM) and its AMD extensions without checking
 * any signature: for diagnostics and tests only, never for trust.
 * KG_ERR_SNP_CHAIN when it is not a certificate, KG_ERR_SNP_VCEK_EXT when
 * its extensions are missing or malformed. */
KG_MUST_CHECK kg_err kg_snp_vek_info_parse(const uint8_t *cert, size_t len, struct kg_snp_vek_info *out);

/* Parses a CRL text as kg_snp_certs.crl carries it (one DER CRL without
 * trailing bytes, or up to 8 "X509 CRL" blocks of a PEM text) and checks
 * each CRL's form as kg_snp_verify does (v2, a nextUpdate, no critical
 * extension, no delta-CRL indicator or issuing distribution point, no
 * critical entry extension, AMD's RSASSA-PSS parameters), but no signature,
 * issuer or date: for the fuzz target and tests only, never for trust.  n
 * receives the number of CRLs (0 on failure).  KG_ERR_TOO_LARGE beyond
 * KG_SNP_CRL_MAX, KG_ERR_SNP_CRL_INVALID otherwise. */
KG_MUST_CHECK kg_err kg_snp_crl_parse(const uint8_t *buf, size_t len, size_t *n);

#endif
