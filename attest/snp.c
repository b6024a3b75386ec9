/*
 * AMD SEV-SNP: the ATTESTATION_REPORT parser, the GHCB certificate table
 * parser, and the verifier (VCEK/VLEK -> ASK/ASVK -> ARK, the VCEK's AMD
 * extensions against the report, the report's ECDSA P-384 signature).
 *
 * Sources, cited by key below:
 *   ABI   SEV Secure Nested Paging Firmware ABI Specification (AMD 56860),
 *         table "ATTESTATION_REPORT Structure", "Guest Policy",
 *         "TCB_VERSION", "ECDSA Signature Format".
 *   GHCB  SEV-ES Guest-Hypervisor Communication Block Standardization
 *         (AMD 56421) §4.1.8.1, the extended report's certificate table.
 *   KDS   AMD Key Distribution Service interface (57230): VCEK/VLEK
 *         certificate extensions 1.3.6.1.4.1.3704.1.*, and the CRL each
 *         product's ARK issues (/vcek/v1/{product}/crl).
 *   5280  RFC 5280 §5, X.509 CRLs: their fields and extensions.
 * checked against go-sev-guest (abi/abi.go, kds/kds.go, verify/verify.go)
 * and virtee/sev, and against the real reports in shared/vectors/snp.
 *
 * OpenSSL types stay inside this file: the rest of Keygate sees bytes and
 * the structures of snp.h.
 */
#define _GNU_SOURCE /* timegm */
#include "snp.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/cursor.h"
#include "../common/util.h"
#include "p384.h"
#include "snp_internal.h"

/* ABI ATTESTATION_REPORT: R at 0x2A0, S at 0x2E8, then 368 reserved bytes. */
#define SIG_RS_SIZE 72
#define SIG_RESERVED (KG_SNP_REPORT_SIZE - KG_SNP_SIGNED_SIZE - 2 * SIG_RS_SIZE)
_Static_assert(SIG_RESERVED == 0x170, "signature area is 512 bytes: R, S, 368 reserved");

/* More entries than any host sends (VCEK/VLEK, ASK, ARK and a few vendor
 * extras); bounds the duplicate check. */
#define CERT_TABLE_ENTRIES_MAX 64

/* The weakest RSA key accepted for an ARK or ASK.  AMD's are 4096 bits. */
#define RSA_MIN_BITS 3072

/* ---------------------------------------------------------------------------
 * Products and TCB_VERSION layouts
 */

static const char *const products[] = {"Milan", "Genoa", "Turin"};

/* The canonical product string for name[0..len), or NULL if unknown. */
static const char *product_known(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
		if (strlen(products[i]) == len && memcmp(products[i], name, len) == 0)
			return products[i];
	return NULL;
}

/* Turin and later use the TCB_VERSION layout with FMC first (ABI
 * "TCB_VERSION" for family 1Ah; formats notes §2.3). */
static bool product_turin_layout(const char *product) { return strcmp(product, "Turin") == 0; }

/* CPUID_FAM_ID / CPUID_MOD_ID (report v3+) to a product, as virtee/sev
 * Generation::identify_cpu: family 19h models 00-0Fh Milan, 10-1Fh and
 * A0-AFh Genoa; family 1Ah models 00-11h Turin.  NULL for anything else
 * (e.g. Venice), which no shipped root covers. */
static const char *product_from_cpuid(uint8_t fam, uint8_t mod)
{
	if (fam == 0x19 && mod <= 0x0f)
		return "Milan";
	if (fam == 0x19 && ((mod >= 0x10 && mod <= 0x1f) || (mod >= 0xa0 && mod <= 0xaf)))
		return "Genoa";
	if (fam == 0x1a && mod <= 0x11)
		return "Turin";
	return NULL;
}

void kg_snp_tcb_decode(uint64_t raw, bool turin, struct kg_snp_tcb *t)
{
	memset(t, 0, sizeof *t);
	t->raw = raw;
	if (turin) {
		/* bytes: FMC, BOOT_LOADER, TEE, SNP, reserved[3], MICROCODE */
		t->fmc = (uint8_t)raw;
		t->bootloader = (uint8_t)(raw >> 8);
		t->tee = (uint8_t)(raw >> 16);
		t->snp = (uint8_t)(raw >> 24);
	} else {
		/* bytes: BOOT_LOADER, TEE, reserved[4], SNP, MICROCODE */
		t->bootloader = (uint8_t)raw;
		t->tee = (uint8_t)(raw >> 8);
		t->snp = (uint8_t)(raw >> 48);
	}
	t->microcode = (uint8_t)(raw >> 56);
}

static void report_decode_tcbs(struct kg_snp_report *r, bool turin)
{
	kg_snp_tcb_decode(r->current_tcb.raw, turin, &r->current_tcb);
	kg_snp_tcb_decode(r->reported_tcb.raw, turin, &r->reported_tcb);
	kg_snp_tcb_decode(r->committed_tcb.raw, turin, &r->committed_tcb);
	kg_snp_tcb_decode(r->launch_tcb.raw, turin, &r->launch_tcb);
}

/* ---------------------------------------------------------------------------
 * ATTESTATION_REPORT
 */

/* ABI "Guest Policy": bits 7:0 ABI_MINOR, 15:8 ABI_MAJOR, 16 SMT, 17
 * reserved and must be 1, 18 MIGRATE_MA, 19 DEBUG, 20 SINGLE_SOCKET, 21
 * CXL_ALLOW, 22 MEM_AES_256_XTS, 23 RAPL_DIS, 24 CIPHERTEXT_HIDING_DRAM,
 * 25 PAGE_SWAP_DISABLE.  Bit 25 came with ABI 1.58, the revision whose
 * firmware emits report version 5 (Linux psp-sev.h enables it from 1.58),
 * so before v5 it is reserved like everything above it: MBZ. */
static kg_err check_policy(uint32_t version, uint64_t policy)
{
	uint64_t defined = version >= 5 ? (1ULL << 26) - 1 : (1ULL << 25) - 1;

	KG_ENSURE(policy & (1ULL << 17), KG_ERR_SNP_POLICY_BITS);
	KG_ENSURE((policy & ~defined) == 0, KG_ERR_SNP_POLICY_BITS);
	return KG_OK;
}

/*
 * Report versions.  2 is the original layout.  3 (ABI 1.55) adds
 * CPUID_FAM_ID/MOD_ID/STEP at 0x188.  4 is emitted by shipping firmware
 * (e.g. Milan 1.55.31 on GCP) in the v3 layout; AMD describes its changes as
 * internal and unpublished (virtee/sev PR #307, go-sev-guest accepts it).
 * 5 (ABI 1.58) adds LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR at 0x1F8.
 * We accept 4 with the v3 layout because real hosts emit it and every byte
 * that layout leaves undefined must still be zero, so a field we do not
 * know cannot pass unnoticed.  0, 1 and anything after 5 are refused.
 * v2 carries no CPUID, so its TCB layout is known only from the VCEK's
 * product; trustee refuses v2 for that reason, we decode it once the VCEK
 * is verified (see report_against_vek).
 */
kg_err kg_snp_report_parse(const uint8_t *buf, size_t len, struct kg_snp_report *out)
{
	struct kg_snp_report r;
	struct kg_cur c;
	uint32_t signer, rsvd;
	const char *product = NULL;

	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	KG_ENSURE(buf != NULL && len == KG_SNP_REPORT_SIZE, KG_ERR_SNP_SIZE);
	c = kg_cur_init(buf, len);

	/* ABI table "ATTESTATION_REPORT Structure"; offsets in hex. */
	/* 000 */ KG_TRY(kg_cur_u32le(&c, &r.version));
	KG_ENSURE(r.version >= 2 && r.version <= 5, KG_ERR_SNP_VERSION);
	/* 004 */ KG_TRY(kg_cur_u32le(&c, &r.guest_svn));
	/* 008 */ KG_TRY(kg_cur_u64le(&c, &r.policy));
	KG_TRY(check_policy(r.version, r.policy));
	/* 010 */ KG_TRY(kg_cur_copy(&c, r.family_id, sizeof r.family_id));
	/* 020 */ KG_TRY(kg_cur_copy(&c, r.image_id, sizeof r.image_id));
	/* 030 */ KG_TRY(kg_cur_u32le(&c, &r.vmpl));
	/* 034 */ KG_TRY(kg_cur_u32le(&c, &r.sig_algo));
	KG_ENSURE(r.sig_algo == 1, KG_ERR_SNP_SIG_ALGO); /* ECDSA P-384 with SHA-384 */
	/* 038 */ KG_TRY(kg_cur_u64le(&c, &r.current_tcb.raw));
	/* 040 */ KG_TRY(kg_cur_u64le(&c, &r.platform_info));
	/* 048: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY
	 * (0 VCEK, 1 VLEK, 7 none, others reserved), bits 31:5 MBZ. */
	KG_TRY(kg_cur_u32le(&c, &signer));
	r.signer_info = signer;
	KG_ENSURE((signer >> 5) == 0, KG_ERR_SNP_RESERVED);
	KG_ENSURE(((signer >> 2) & 7) <= 1, KG_ERR_SNP_SIGNING_KEY);
	r.signing_key = (int)((signer >> 2) & 7);
	r.mask_chip_key = signer & 2;
	r.author_key_en = signer & 1;
	/* 04C */ KG_TRY(kg_cur_u32le(&c, &rsvd));
	KG_ENSURE(rsvd == 0, KG_ERR_SNP_RESERVED);
	/* 050 */ KG_TRY(kg_cur_copy(&c, r.report_data, sizeof r.report_data));
	/* 090 */ KG_TRY(kg_cur_copy(&c, r.measurement, sizeof r.measurement));
	/* 0C0 */ KG_TRY(kg_cur_copy(&c, r.host_data, sizeof r.host_data));
	/* 0E0 */ KG_TRY(kg_cur_copy(&c, r.id_key_digest, sizeof r.id_key_digest));
	/* 110 */ KG_TRY(kg_cur_copy(&c, r.author_key_digest, sizeof r.author_key_digest));
	/* 140 */ KG_TRY(kg_cur_copy(&c, r.report_id, sizeof r.report_id));
	/* 160 */ KG_TRY(kg_cur_copy(&c, r.report_id_ma, sizeof r.report_id_ma));
	/* 180 */ KG_TRY(kg_cur_u64le(&c, &r.reported_tcb.raw));
	if (r.version >= 3) {
		/* 188 */ KG_TRY(kg_cur_u8(&c, &r.cpuid_fam_id));
		/* 189 */ KG_TRY(kg_cur_u8(&c, &r.cpuid_mod_id));
		/* 18A */ KG_TRY(kg_cur_u8(&c, &r.cpuid_step));
		/* 18B */ KG_TRY(kg_cur_zeros(&c, 0x1a0 - 0x18b, KG_ERR_SNP_RESERVED));
	} else {
		/* 188 */ KG_TRY(kg_cur_zeros(&c, 0x1a0 - 0x188, KG_ERR_SNP_RESERVED));
	}
	/* 1A0 */ KG_TRY(kg_cur_copy(&c, r.chip_id, sizeof r.chip_id));
	/* 1E0 */ KG_TRY(kg_cur_u64le(&c, &r.committed_tcb.raw));
	/* 1E8 */ KG_TRY(kg_cur_u8(&c, &r.current_build));
	/* 1E9 */ KG_TRY(kg_cur_u8(&c, &r.current_minor));
	/* 1EA */ KG_TRY(kg_cur_u8(&c, &r.current_major));
	/* 1EB */ KG_TRY(kg_cur_zeros(&c, 1, KG_ERR_SNP_RESERVED));
	/* 1EC */ KG_TRY(kg_cur_u8(&c, &r.committed_build));
	/* 1ED */ KG_TRY(kg_cur_u8(&c, &r.committed_minor));
	/* 1EE */ KG_TRY(kg_cur_u8(&c, &r.committed_major));
	/* 1EF */ KG_TRY(kg_cur_zeros(&c, 1, KG_ERR_SNP_RESERVED));
	/* 1F0 */ KG_TRY(kg_cur_u64le(&c, &r.launch_tcb.raw));
	if (r.version >= 5) {
		/* 1F8 */ KG_TRY(kg_cur_u64le(&c, &r.launch_mit_vector));
		/* 200 */ KG_TRY(kg_cur_u64le(&c, &r.current_mit_vector));
		/* 208 */ KG_TRY(kg_cur_zeros(&c, KG_SNP_SIGNED_SIZE - 0x208, KG_ERR_SNP_RESERVED));
	} else {
		/* 1F8 */ KG_TRY(kg_cur_zeros(&c, KG_SNP_SIGNED_SIZE - 0x1f8, KG_ERR_SNP_RESERVED));
	}
	/* 2A0: ABI "ECDSA Signature Format": R and S little-endian,
	 * zero-extended to 72 bytes, then reserved. */
	/* 2A0 */ KG_TRY(kg_cur_copy(&c, r.sig_r, SIG_RS_SIZE));
	/* 2E8 */ KG_TRY(kg_cur_copy(&c, r.sig_s, SIG_RS_SIZE));
	/* 330 */ KG_TRY(kg_cur_zeros(&c, SIG_RESERVED, KG_ERR_SNP_RESERVED));
	KG_TRY(kg_cur_done(&c));

	r.smt_allowed = r.policy & (1ULL << 16);
	r.migrate_ma = r.policy & (1ULL << 18);
	r.debug = r.policy & (1ULL << 19);
	if (r.version >= 3)
		product = product_from_cpuid(r.cpuid_fam_id, r.cpuid_mod_id);
	if (product)
		snprintf(r.product, sizeof r.product, "%s", product);
	/* Unknown CPUIDs of family 1Ah and later use the Turin layout; v2
	 * reports are re-decoded once their VCEK names the product. */
	report_decode_tcbs(&r, product ? product_turin_layout(product) : r.version >= 3 && r.cpuid_fam_id >= 0x1a);
	*out = r;
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * GHCB certificate table
 */

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

struct table_entry {
	const uint8_t *guid;
	uint32_t offset, length;
};

static kg_err table_entry_read(struct kg_cur *c, struct table_entry *e)
{
	/* GHCB §4.1.8.1: GUID[16], u32 offset, u32 length (little-endian). */
	KG_TRY(kg_cur_bytes(c, &e->guid, 16));
	KG_TRY(kg_cur_u32le(c, &e->offset));
	KG_TRY(kg_cur_u32le(c, &e->length));
	return KG_OK;
}

static bool table_entry_is_end(const struct table_entry *e)
{
	return e->offset == 0 && e->length == 0 && all_zero(e->guid, 16);
}

kg_err kg_snp_cert_table_parse(const uint8_t *buf, size_t len, struct kg_snp_cert_table *out)
{
	static const uint8_t guid_vcek[16] = KG_SNP_GUID_VCEK, guid_vlek[16] = KG_SNP_GUID_VLEK,
			     guid_ask[16] = KG_SNP_GUID_ASK, guid_ark[16] = KG_SNP_GUID_ARK;
	struct table_entry e[CERT_TABLE_ENTRIES_MAX];
	struct kg_snp_cert_table t;
	struct kg_cur c;
	size_t n = 0, header;

	memset(out, 0, sizeof *out);
	memset(&t, 0, sizeof t);
	KG_ENSURE(len <= KG_SNP_CERT_TABLE_MAX, KG_ERR_TOO_LARGE);
	if (len == 0)
		return KG_OK; /* no table: the host supplied no certificates */
	KG_ENSURE(buf != NULL, KG_ERR_INVALID_ARG);

	/* The header: entries up to an all-zero one, which must be there. */
	c = kg_cur_init(buf, len);
	for (;;) {
		struct table_entry next;
		KG_ENSURE(table_entry_read(&c, &next) == KG_OK, KG_ERR_SNP_CERT_TABLE);
		if (table_entry_is_end(&next))
			break;
		KG_ENSURE(n < CERT_TABLE_ENTRIES_MAX, KG_ERR_SNP_CERT_TABLE);
		e[n++] = next;
	}
	header = (n + 1) * KG_SNP_CERT_TABLE_ENTRY;

	for (size_t i = 0; i < n; i++) {
		struct kg_cur whole = kg_cur_init(buf, len);
		const uint8_t *cert;

		/* Offsets count from the start of the table, past the header
		 * (GHCB §4.1.8.1; go-sev-guest ParseSnpCertTableHeader). */
		KG_ENSURE(e[i].length > 0, KG_ERR_SNP_CERT_TABLE);
		KG_ENSURE(e[i].offset >= header, KG_ERR_SNP_CERT_TABLE);
		KG_ENSURE(kg_cur_skip(&whole, e[i].offset) == KG_OK, KG_ERR_SNP_CERT_TABLE);
		KG_ENSURE(kg_cur_bytes(&whole, &cert, e[i].length) == KG_OK, KG_ERR_SNP_CERT_TABLE);
		for (size_t j = 0; j < i; j++)
			KG_ENSURE(memcmp(e[i].guid, e[j].guid, 16) != 0, KG_ERR_SNP_CERT_TABLE);
		if (memcmp(e[i].guid, guid_vcek, 16) == 0) {
			t.vcek = cert;
			t.vcek_len = e[i].length;
		} else if (memcmp(e[i].guid, guid_vlek, 16) == 0) {
			t.vlek = cert;
			t.vlek_len = e[i].length;
		} else if (memcmp(e[i].guid, guid_ask, 16) == 0) {
			t.ask = cert;
			t.ask_len = e[i].length;
		} else if (memcmp(e[i].guid, guid_ark, 16) == 0) {
			t.ark = cert;
			t.ark_len = e[i].length;
		}
		/* Other GUIDs (vendor endorsements, platform info) are skipped. */
	}
	*out = t;
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * X.509 helpers
 */

/* One certificate, DER or PEM (the first certificate of a PEM text). */
static kg_err cert_load(const uint8_t *buf, size_t len, X509 **out)
{
	X509 *x = NULL;

	*out = NULL;
	KG_ENSURE(len <= KG_SNP_CERT_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(buf != NULL && len > 0, KG_ERR_SNP_CHAIN);
	if (buf[0] == 0x30) { /* a DER SEQUENCE */
		const unsigned char *p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x && (size_t)(p - buf) != len) { /* trailing bytes */
			X509_free(x);
			x = NULL;
		}
	} else {
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		if (b == NULL)
			return KG_ERR_NOMEM;
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (x == NULL) {
		ERR_clear_error();
		return KG_ERR_SNP_CHAIN;
	}
	*out = x;
	return KG_OK;
}

static kg_err cert_fingerprint(const X509 *x, uint8_t fp[static 32])
{
	unsigned int n = 0;

	KG_ENSURE(X509_digest(x, EVP_sha256(), fp, &n) == 1 && n == 32, KG_ERR_CRYPTO);
	return KG_OK;
}

/* The subject's single commonName as printable ASCII. */
static bool cert_cn(const X509 *x, char *cn, size_t size)
{
	const X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	const unsigned char *d;
	int n;

	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return false;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	d = ASN1_STRING_get0_data(s);
	n = ASN1_STRING_length(s);
	if (n <= 0 || (size_t)n >= size)
		return false;
	for (int k = 0; k < n; k++)
		if (d[k] < 0x20 || d[k] > 0x7e)
			return false;
	memcpy(cn, d, (size_t)n);
	cn[n] = 0;
	return true;
}

/* "ARK-Milan" -> "Milan". */
static const char *ark_product(const X509 *x)
{
	char cn[64];

	if (!cert_cn(x, cn, sizeof cn) || strncmp(cn, "ARK-", 4) != 0)
		return NULL;
	return product_known(cn + 4, strlen(cn + 4));
}

/* "SEV-Milan" -> ASK of Milan, "SEV-VLEK-Milan" -> ASVK of Milan. */
static const char *ask_product(const X509 *x, bool *asvk)
{
	char cn[64];

	if (!cert_cn(x, cn, sizeof cn) || strncmp(cn, "SEV-", 4) != 0)
		return NULL;
	*asvk = strncmp(cn + 4, "VLEK-", 5) == 0;
	return *asvk ? product_known(cn + 9, strlen(cn + 9)) : product_known(cn + 4, strlen(cn + 4));
}

static bool is_self_issued(const X509 *x)
{
	return X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)) == 0;
}

/* An X509_ALGOR's parameter when it is a SEQUENCE, decoded as X509_ALGOR
 * (MGF1's hash) or as RSA-PSS parameters. */
static const ASN1_STRING *algor_seq_param(const X509_ALGOR *a, int want_nid)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	if (OBJ_obj2nid(obj) != want_nid || ptype != V_ASN1_SEQUENCE)
		return NULL;
	return pval;
}

static bool algor_is(const X509_ALGOR *a, int nid)
{
	const ASN1_OBJECT *obj;

	if (a == NULL)
		return false;
	X509_ALGOR_get0(&obj, NULL, NULL, a);
	return OBJ_obj2nid(obj) == nid;
}

/* AMD signs every ARK, ASK, ASVK, VCEK, VLEK and CRL with RSASSA-PSS,
 * SHA-384, MGF1-SHA-384, salt 48 (go-sev-guest verify.go insists on
 * x509.SHA384WithRSAPSS, i.e. exactly these).  Anything else is refused. */
static bool algor_is_amd_pss(const X509_ALGOR *alg)
{
	const ASN1_STRING *seq;
	const unsigned char *p;
	RSA_PSS_PARAMS *pss = NULL;
	X509_ALGOR *mgf1md = NULL;
	bool ok = false;

	if ((seq = algor_seq_param(alg, NID_rsassaPss)) == NULL)
		return false;
	p = ASN1_STRING_get0_data(seq);
	pss = d2i_RSA_PSS_PARAMS(NULL, &p, ASN1_STRING_length(seq));
	if (pss == NULL || p != ASN1_STRING_get0_data(seq) + ASN1_STRING_length(seq))
		goto out;
	if (!algor_is(pss->hashAlgorithm, NID_sha384))
		goto out;
	if (pss->maskGenAlgorithm == NULL || (seq = algor_seq_param(pss->maskGenAlgorithm, NID_mgf1)) == NULL)
		goto out;
	p = ASN1_STRING_get0_data(seq);
	mgf1md = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(seq));
	if (mgf1md == NULL || p != ASN1_STRING_get0_data(seq) + ASN1_STRING_length(seq) ||
	    !algor_is(mgf1md, NID_sha384))
		goto out;
	if (pss->saltLength == NULL || ASN1_INTEGER_get(pss->saltLength) != 48)
		goto out;
	if (pss->trailerField != NULL && ASN1_INTEGER_get(pss->trailerField) != 1)
		goto out;
	ok = true;
out:
	X509_ALGOR_free(mgf1md);
	RSA_PSS_PARAMS_free(pss);
	return ok;
}

/* A certificate's signature algorithm: AMD's, and the TBS one the same. */
static bool sigalg_is_amd_pss(const X509 *x)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *outer;

	X509_get0_signature(&sig, &outer, x);
	return X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(x)) == 0 && algor_is_amd_pss(outer);
}

/* child is signed by parent: names chain, AMD's PSS parameters, an RSA
 * key of at least RSA_MIN_BITS, and the signature verifies. */
static bool link_ok(X509 *child, const X509 *parent)
{
	EVP_PKEY *pk = X509_get0_pubkey(parent);

	if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < RSA_MIN_BITS)
		return false;
	if (X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) != 0)
		return false;
	if (!sigalg_is_amd_pss(child))
		return false;
	return X509_verify(child, pk) == 1;
}

/* notBefore <= now < notAfter, the window X509_cmp_time draws. */
static kg_err cert_in_validity(const X509 *x, time_t now)
{
	int nb = X509_cmp_time(X509_get0_notBefore(x), &now);
	int na = X509_cmp_time(X509_get0_notAfter(x), &now);

	KG_ENSURE(nb != 0 && na != 0, KG_ERR_SNP_CHAIN); /* unparseable time */
	KG_ENSURE(nb < 0 && na > 0, KG_ERR_SNP_CHAIN_EXPIRED);
	return KG_OK;
}

static bool asn1_time_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* ---------------------------------------------------------------------------
 * VCEK / VLEK extensions (KDS; go-sev-guest kds.go)
 */

struct vek {
	struct kg_snp_vek_info info;
	uint64_t tcb_mask; /* the REPORTED_TCB bytes the SPLs pin */
};

enum {
	OID_PRODUCT,
	OID_BL,
	OID_TEE,
	OID_SNP,
	OID_SPL4,
	OID_SPL5,
	OID_SPL6,
	OID_SPL7,
	OID_UCODE,
	OID_FMC,
	OID_HWID,
	OID_CSPID,
	OID__COUNT
};

static const char *const vek_oids[OID__COUNT] = {
	[OID_PRODUCT] = KG_SNP_OID_PRODUCT_NAME, [OID_BL] = KG_SNP_OID_BL_SPL,	   [OID_TEE] = KG_SNP_OID_TEE_SPL,
	[OID_SNP] = KG_SNP_OID_SNP_SPL,		 [OID_SPL4] = KG_SNP_OID_SPL4,	   [OID_SPL5] = KG_SNP_OID_SPL5,
	[OID_SPL6] = KG_SNP_OID_SPL6,		 [OID_SPL7] = KG_SNP_OID_SPL7,	   [OID_UCODE] = KG_SNP_OID_UCODE_SPL,
	[OID_FMC] = KG_SNP_OID_FMC_SPL,		 [OID_HWID] = KG_SNP_OID_HWID,	   [OID_CSPID] = KG_SNP_OID_CSPID,
};

/* One extension's extnValue; absent is not an error, twice is. */
struct ext {
	bool present;
	const unsigned char *p;
	size_t len;
};

static kg_err ext_get(X509 *x, const char *oid_txt, struct ext *e)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(oid_txt, 1);
	kg_err rc = KG_ERR_SNP_VCEK_EXT;
	int i;

	memset(e, 0, sizeof *e);
	if (oid == NULL)
		return KG_ERR_NOMEM;
	i = X509_get_ext_by_OBJ(x, oid, -1);
	if (i < 0) {
		rc = KG_OK;
		goto out;
	}
	if (X509_get_ext_by_OBJ(x, oid, i) >= 0)
		goto out; /* listed twice */
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, i));
	e->p = ASN1_STRING_get0_data(os);
	e->len = (size_t)ASN1_STRING_length(os);
	e->present = true;
	rc = KG_OK;
out:
	ASN1_OBJECT_free(oid);
	return rc;
}

/* An SPL: a DER INTEGER 0..255 filling the extnValue.  microcode SPLs of
 * 128 and more are encoded 02 02 00 xx, so decode, never pick a byte. */
static kg_err spl_parse(const struct ext *e, uint8_t *out)
{
	const unsigned char *q = e->p;
	ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &q, (long)e->len);
	int64_t v = -1;
	kg_err rc = KG_ERR_SNP_VCEK_EXT;

	if (ai != NULL && (size_t)(q - e->p) == e->len && ASN1_INTEGER_get_int64(&v, ai) == 1 && v >= 0 &&
	    v <= 255) {
		*out = (uint8_t)v;
		rc = KG_OK;
	}
	ASN1_INTEGER_free(ai);
	return rc;
}

/* productName: an IA5String such as "Milan-B0" or "Turin"; the part
 * before '-' must be a product we know the TCB layout of. */
static kg_err product_parse(const struct ext *e, struct kg_snp_vek_info *info)
{
	const unsigned char *q = e->p;
	ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &q, (long)e->len);
	kg_err rc = KG_ERR_SNP_VCEK_EXT;
	const char *prod;
	size_t n, base;

	if (s == NULL || (size_t)(q - e->p) != e->len)
		goto out;
	n = (size_t)ASN1_STRING_length(s);
	if (n == 0 || n >= sizeof info->product_name)
		goto out;
	memcpy(info->product_name, ASN1_STRING_get0_data(s), n);
	info->product_name[n] = 0;
	if (strlen(info->product_name) != n)
		goto out; /* embedded NUL */
	base = strcspn(info->product_name, "-");
	if ((prod = product_known(info->product_name, base)) == NULL)
		goto out;
	snprintf(info->product, sizeof info->product, "%s", prod);
	rc = KG_OK;
out:
	ASN1_IA5STRING_free(s);
	return rc;
}

/* hwID: the chip ID, 64 bytes (8 on Turin), either raw in the extnValue or
 * wrapped in an inner OCTET STRING: both appear (trustee test VCEKs
 * "legacy" and "new"; EXPECTED §1.3). */
static kg_err hwid_parse(const struct ext *e, bool turin, struct kg_snp_vek_info *info)
{
	struct kg_cur c = kg_cur_init(e->p, e->len);
	size_t n = e->len;
	uint8_t tag, len;

	if (n == 2 + 64 || n == 2 + 8) { /* only a wrapped hwID has these lengths */
		KG_ENSURE(kg_cur_u8(&c, &tag) == KG_OK && kg_cur_u8(&c, &len) == KG_OK, KG_ERR_SNP_VCEK_EXT);
		KG_ENSURE(tag == 0x04 /* OCTET STRING */ && len == n - 2, KG_ERR_SNP_VCEK_EXT);
		n -= 2;
	}
	KG_ENSURE(n == 64 || (turin && n == 8), KG_ERR_SNP_VCEK_EXT);
	KG_ENSURE(kg_cur_copy(&c, info->hwid, n) == KG_OK && kg_cur_done(&c) == KG_OK, KG_ERR_SNP_VCEK_EXT);
	info->hwid_len = n;
	return KG_OK;
}

static kg_err vek_parse(X509 *x, struct vek *out)
{
	struct ext e[OID__COUNT];
	uint8_t spl[OID__COUNT] = {0}, b[8] = {0}, m[8] = {0};
	char cn[64];
	bool turin;

	memset(out, 0, sizeof *out);
	for (int i = 0; i < OID__COUNT; i++)
		KG_TRY(ext_get(x, vek_oids[i], &e[i]));
	KG_ENSURE(e[OID_PRODUCT].present, KG_ERR_SNP_VCEK_EXT);
	KG_TRY(product_parse(&e[OID_PRODUCT], &out->info));
	turin = product_turin_layout(out->info.product);

	/* A VCEK carries hwID, a VLEK cspID (go-sev-guest rejects both). */
	KG_ENSURE(e[OID_HWID].present != e[OID_CSPID].present, KG_ERR_SNP_VCEK_EXT);
	out->info.vlek = e[OID_CSPID].present;
	KG_ENSURE(cert_cn(x, cn, sizeof cn) && strcmp(cn, out->info.vlek ? "SEV-VLEK" : "SEV-VCEK") == 0,
		  KG_ERR_SNP_VCEK_EXT);
	if (!out->info.vlek)
		KG_TRY(hwid_parse(&e[OID_HWID], turin, &out->info));

	for (int i = OID_BL; i <= OID_FMC; i++)
		if (e[i].present)
			KG_TRY(spl_parse(&e[i], &spl[i]));
	KG_ENSURE(e[OID_BL].present && e[OID_TEE].present && e[OID_SNP].present && e[OID_UCODE].present,
		  KG_ERR_SNP_VCEK_EXT);
	/* The SPLs as a TCB_VERSION of the product's layout, and which of its
	 * bytes they pin: every named component; on Milan/Genoa also the
	 * reserved bytes 2..5 that spl4..spl7 cover when present (go-sev-guest
	 * compares those too).  Turin's spl5..7 have no published byte. */
	if (turin) {
		KG_ENSURE(e[OID_FMC].present, KG_ERR_SNP_VCEK_EXT);
		b[0] = spl[OID_FMC];
		b[1] = spl[OID_BL];
		b[2] = spl[OID_TEE];
		b[3] = spl[OID_SNP];
		m[0] = m[1] = m[2] = m[3] = 0xff;
	} else {
		b[0] = spl[OID_BL];
		b[1] = spl[OID_TEE];
		b[6] = spl[OID_SNP];
		m[0] = m[1] = m[6] = 0xff;
		for (int i = OID_SPL4; i <= OID_SPL7; i++) {
			b[2 + i - OID_SPL4] = spl[i];
			m[2 + i - OID_SPL4] = e[i].present ? 0xff : 0;
		}
	}
	b[7] = spl[OID_UCODE];
	m[7] = 0xff;
	uint64_t raw = 0;
	for (int i = 7; i >= 0; i--) {
		raw = (raw << 8) | b[i];
		out->tcb_mask = (out->tcb_mask << 8) | m[i];
	}
	kg_snp_tcb_decode(raw, turin, &out->info.tcb);
	return KG_OK;
}

kg_err kg_snp_vek_info_parse(const uint8_t *cert, size_t len, struct kg_snp_vek_info *out)
{
	X509 *x = NULL;
	struct vek vek;
	kg_err rc;

	memset(out, 0, sizeof *out);
	KG_TRY(cert_load(cert, len, &x));
	rc = vek_parse(x, &vek);
	if (rc == KG_OK)
		*out = vek.info;
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* ---------------------------------------------------------------------------
 * The verifier: trust anchors, known ASK/ASVKs, and the VCEK cache
 */

#define ANCHORS_MAX 8
#define INTERS_MAX 16
/* Verified CRLs remembered per verifier: one per product and a few
 * generations. */
#define CRL_CACHE_MAX 8
/* CRLs in one PEM text: one per product, with room to spare. */
#define CRL_BUNDLE_MAX 8
/* A serial number as DER (tag, length, content).  RFC 5280 §4.1.2.2 caps
 * serials at 20 octets; AMD's are 3 (ASK, ARK) to 17; we allow more than
 * twice the cap, and refuse longer ones rather than compare a prefix. */
#define SERIAL_DER_MAX 48

/* AMD's ARKs, pinned: SHA-256 of the DER (EXPECTED §1.0; the same
 * certificates ship in go-sev-guest verify/trust and virtee/sev). */
static const struct {
	const char *product;
	uint8_t fp[32];
} amd_arks[] = {
	{"Milan", {0x69, 0xd0, 0x63, 0xb4, 0x53, 0x44, 0xd2, 0x6a, 0x2e, 0x94, 0xe1, 0xf4, 0x21, 0x0d, 0xe4, 0x9e,
		   0xf5, 0x55, 0x30, 0x82, 0x87, 0xd4, 0xc1, 0x74, 0x44, 0x5c, 0x95, 0x63, 0x9a, 0x54, 0x0b, 0xcd}},
	{"Genoa", {0x4c, 0x65, 0x98, 0xd1, 0x9c, 0x18, 0x71, 0x9c, 0x5d, 0xfd, 0x4a, 0x7d, 0x33, 0x5f, 0x67, 0x4e,
		   0x5b, 0xfe, 0x1d, 0x8f, 0x80, 0x0c, 0xea, 0x2c, 0xf2, 0x70, 0xc1, 0x0d, 0x10, 0x3d, 0xb2, 0xf1}},
	{"Turin", {0x1f, 0x08, 0x41, 0x61, 0xa4, 0x4b, 0xb6, 0xd9, 0x37, 0x78, 0xa9, 0x04, 0x87, 0x7d, 0x48, 0x19,
		   0xca, 0xfa, 0x5d, 0x05, 0xef, 0x41, 0x93, 0xb2, 0xde, 0xd9, 0xdd, 0x9c, 0x73, 0xdd, 0x3f, 0x6a}},
};

/* KDS cert_chain bundles, ASK (or ASVK) then ARK, under attest/roots/amd. */
static const char *const amd_bundles[] = {
	"ask_ark_milan.pem", "ask_ark_milan_vlek.pem", "ask_ark_genoa.pem",
	"ask_ark_genoa_vlek.pem", "ask_ark_turin.pem", "ask_ark_turin_vlek.pem",
};

struct anchor {
	X509 *cert;
	uint8_t fp[32];
	const char *product;
};

struct inter {
	X509 *cert;
	uint8_t fp[32];
	const char *product;
	bool asvk;
};

struct serial {
	uint8_t der[SERIAL_DER_MAX];
	size_t len;
};

struct cache_entry {
	bool used;
	uint8_t leaf_fp[32], ask_fp[32];
	size_t anchor;
	struct kg_p384_key key; /* the leaf's: what report signatures verify with */
	struct vek vek;
	time_t not_before, not_after; /* intersection of the three certificates' */
	/* What a CRL is checked against on every call, hit or miss: the
	 * serials of the leaf and of the ASK/ASVK the chain went through. */
	struct serial leaf_serial, ask_serial;
	uint64_t last_use;
};

/* A CRL that verified under anchors[anchor]; its dates and its entries
 * are checked on each use.  crl is read-only once here (nothing calls
 * X509_CRL_get0_by_serial, which sorts the entries in place). */
struct crl_entry {
	bool used;
	uint8_t hash[32]; /* SHA-256 of the CRL text as supplied */
	size_t anchor;
	X509_CRL *crl;
	uint64_t last_use;
};

struct kg_snp_verifier {
	struct anchor anchors[ANCHORS_MAX];
	size_t n_anchors;
	struct inter inters[INTERS_MAX];
	size_t n_inters;
	pthread_mutex_t lock; /* guards everything below */
	bool require_crl;
	uint64_t tick, hits, misses, crl_hits, crl_misses;
	struct cache_entry cache[KG_SNP_CACHE_MAX];
	struct crl_entry crls[CRL_CACHE_MAX];
};

static kg_err add_anchor(struct kg_snp_verifier *v, X509 *x, bool pinned)
{
	struct anchor a = {.cert = x};
	bool pin_ok = !pinned;

	KG_ENSURE((a.product = ark_product(x)) != NULL, KG_ERR_CONFIG);
	KG_ENSURE(link_ok(x, x), KG_ERR_CONFIG); /* self-signed, AMD's PSS */
	KG_TRY(cert_fingerprint(x, a.fp));
	for (size_t i = 0; pinned && i < sizeof amd_arks / sizeof amd_arks[0]; i++)
		if (strcmp(amd_arks[i].product, a.product) == 0 && memcmp(amd_arks[i].fp, a.fp, 32) == 0)
			pin_ok = true;
	KG_ENSURE(pin_ok, KG_ERR_CONFIG);
	for (size_t i = 0; i < v->n_anchors; i++) {
		if (memcmp(v->anchors[i].fp, a.fp, 32) == 0) {
			X509_free(x); /* the same ARK from another bundle */
			return KG_OK;
		}
		/* Two different ARKs for one product would make the product
		 * check ambiguous. */
		KG_ENSURE(strcmp(v->anchors[i].product, a.product) != 0, KG_ERR_CONFIG);
	}
	KG_ENSURE(v->n_anchors < ANCHORS_MAX, KG_ERR_CONFIG);
	v->anchors[v->n_anchors++] = a;
	return KG_OK;
}

static kg_err add_inter(struct kg_snp_verifier *v, X509 *x)
{
	struct inter it = {.cert = x};

	KG_ENSURE((it.product = ask_product(x, &it.asvk)) != NULL, KG_ERR_CONFIG);
	KG_TRY(cert_fingerprint(x, it.fp));
	for (size_t i = 0; i < v->n_inters; i++) {
		if (memcmp(v->inters[i].fp, it.fp, 32) == 0) {
			X509_free(x);
			return KG_OK;
		}
	}
	KG_ENSURE(v->n_inters < INTERS_MAX, KG_ERR_CONFIG);
	v->inters[v->n_inters++] = it;
	return KG_OK;
}

/* Loads every certificate of a PEM file: self-issued ones as trust
 * anchors, the others as ASK/ASVKs. */
static kg_err load_bundle(struct kg_snp_verifier *v, const char *path, bool pinned)
{
	kg_err rc;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	BIO *b = NULL;
	X509 *x = NULL;
	unsigned long e;

	KG_TRY(kg_file_read(path, 256 * 1024, &buf, &len));
	ERR_clear_error(); /* the end-of-text check below reads the queue */
	KG_ENSURE_OUT((b = BIO_new_mem_buf(buf, (int)len)) != NULL, KG_ERR_NOMEM);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		X509 *owned = x;
		x = NULL;
		n++;
		if (is_self_issued(owned))
			rc = add_anchor(v, owned, pinned);
		else
			rc = add_inter(v, owned);
		if (rc != KG_OK) {
			X509_free(owned);
			goto out;
		}
	}
	/* The loop ends on "no start line" at the end of the text; any other
	 * error means a certificate that did not decode. */
	e = ERR_peek_last_error();
	KG_ENSURE_OUT(e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE),
		      KG_ERR_CONFIG);
	KG_ENSURE_OUT(n > 0, KG_ERR_CONFIG);
	rc = KG_OK;
out:
	ERR_clear_error();
	BIO_free(b);
	free(buf);
	return rc;
}

static const struct anchor *anchor_for(const struct kg_snp_verifier *v, X509 *ask)
{
	for (size_t i = 0; i < v->n_anchors; i++)
		if (link_ok(ask, v->anchors[i].cert))
			return &v->anchors[i];
	return NULL;
}

kg_err kg_snp_verifier_new(struct kg_snp_verifier **out, const char *roots_pem)
{
	struct kg_snp_verifier *v;
	kg_err rc;
	char path[4096];

	*out = NULL;
	KG_ENSURE((v = calloc(1, sizeof *v)) != NULL, KG_ERR_NOMEM);
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return KG_ERR_INTERNAL;
	}
	if (roots_pem == NULL) {
		for (size_t i = 0; i < sizeof amd_bundles / sizeof amd_bundles[0]; i++) {
			KG_ENSURE_OUT((size_t)snprintf(path, sizeof path, "%s/amd/%s", KG_SOURCE_ROOTS_DIR,
						       amd_bundles[i]) < sizeof path,
				      KG_ERR_CONFIG);
			KG_TRY_OUT(load_bundle(v, path, true));
		}
		/* Every pinned ARK must be there: a missing file is a broken
		 * installation, not a smaller trust set. */
		KG_ENSURE_OUT(v->n_anchors == sizeof amd_arks / sizeof amd_arks[0], KG_ERR_CONFIG);
	} else {
		KG_TRY_OUT(load_bundle(v, roots_pem, false));
	}
	KG_ENSURE_OUT(v->n_anchors > 0, KG_ERR_CONFIG);
	/* Each ASK/ASVK must chain to an anchor of its own product. */
	for (size_t i = 0; i < v->n_inters; i++) {
		const struct anchor *a = anchor_for(v, v->inters[i].cert);
		KG_ENSURE_OUT(a != NULL && strcmp(a->product, v->inters[i].product) == 0, KG_ERR_CONFIG);
	}
	*out = v;
	v = NULL;
	rc = KG_OK;
out:
	ERR_clear_error();
	kg_snp_verifier_free(v);
	return rc;
}

void kg_snp_verifier_free(struct kg_snp_verifier *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n_anchors; i++)
		X509_free(v->anchors[i].cert);
	for (size_t i = 0; i < v->n_inters; i++)
		X509_free(v->inters[i].cert);
	for (size_t i = 0; i < CRL_CACHE_MAX; i++)
		X509_CRL_free(v->crls[i].crl);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

void kg_snp_verifier_stats(struct kg_snp_verifier *v, struct kg_snp_cache_stats *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&v->lock);
	out->hits = v->hits;
	out->misses = v->misses;
	out->crl_hits = v->crl_hits;
	out->crl_misses = v->crl_misses;
	for (size_t i = 0; i < KG_SNP_CACHE_MAX; i++)
		out->entries += v->cache[i].used;
	pthread_mutex_unlock(&v->lock);
}

void kg_snp_verifier_require_crl(struct kg_snp_verifier *v, bool required)
{
	pthread_mutex_lock(&v->lock);
	v->require_crl = required;
	pthread_mutex_unlock(&v->lock);
}

static bool requires_crl(struct kg_snp_verifier *v)
{
	bool r;

	pthread_mutex_lock(&v->lock);
	r = v->require_crl;
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* ---------------------------------------------------------------------------
 * Chain verification, with the cache in front
 */

struct chain_certs {
	bool has_ask, has_ark;  /* supplied by the caller */
	X509 *leaf, *ask, *ark; /* once parsed; ask, ark NULL when not supplied */
	uint8_t leaf_fp[32], ask_fp[32], ark_fp[32];
};

/* Whether fp is one of the roots' own ASK/ASVKs (read-only after new). */
static bool known_inter(const struct kg_snp_verifier *v, const uint8_t fp[static 32])
{
	for (size_t i = 0; i < v->n_inters; i++)
		if (memcmp(v->inters[i].fp, fp, 32) == 0)
			return true;
	return false;
}

/* A cached VCEK verified with the same ASK/ARK (when the caller names
 * them) and still valid at now.  The verdict must not depend on the cache:
 * a supplied ASK or ARK other than the cached one misses, and without a
 * supplied ASK only an entry whose ASK the roots know can hit, since the
 * cold path would find no other. */
static bool cache_lookup(struct kg_snp_verifier *v, const struct chain_certs *cc, time_t now, struct cache_entry *out)
{
	bool hit = false;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_SNP_CACHE_MAX && !hit; i++) {
		struct cache_entry *e = &v->cache[i];
		if (!e->used || memcmp(e->leaf_fp, cc->leaf_fp, 32) != 0)
			continue;
		if (cc->has_ask ? memcmp(e->ask_fp, cc->ask_fp, 32) != 0 : !known_inter(v, e->ask_fp))
			continue;
		if (cc->has_ark && memcmp(v->anchors[e->anchor].fp, cc->ark_fp, 32) != 0)
			continue;
		if (now < e->not_before || now >= e->not_after)
			continue; /* outside validity: the cold path says why */
		e->last_use = ++v->tick;
		*out = *e;
		hit = true;
	}
	if (hit)
		v->hits++;
	else
		v->misses++;
	pthread_mutex_unlock(&v->lock);
	return hit;
}

static void cache_insert(struct kg_snp_verifier *v, const struct cache_entry *n)
{
	struct cache_entry *slot = NULL;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_SNP_CACHE_MAX; i++) {
		struct cache_entry *e = &v->cache[i];
		if (e->used && memcmp(e->leaf_fp, n->leaf_fp, 32) == 0 && memcmp(e->ask_fp, n->ask_fp, 32) == 0 &&
		    e->anchor == n->anchor) {
			slot = e; /* another thread verified it meanwhile */
			break;
		}
		if (slot == NULL || !e->used || (slot->used && e->last_use < slot->last_use))
			slot = e; /* a free slot, else the least recently used */
	}
	assert(slot != NULL);
	*slot = *n;
	slot->used = true;
	slot->last_use = ++v->tick;
	pthread_mutex_unlock(&v->lock);
}

static kg_err serial_get(const X509 *x, struct serial *out)
{
	const ASN1_INTEGER *a = X509_get0_serialNumber(x);
	unsigned char *p = out->der;
	int n = i2d_ASN1_INTEGER(a, NULL);

	KG_ENSURE(n > 0 && (size_t)n <= sizeof out->der, KG_ERR_SNP_CHAIN);
	KG_ENSURE(i2d_ASN1_INTEGER(a, &p) == n, KG_ERR_CRYPTO);
	out->len = (size_t)n;
	return KG_OK;
}

/* The full check of leaf -> ASK -> ARK; fills e for the cache. */
static kg_err chain_verify_cold(struct kg_snp_verifier *v, const struct chain_certs *cc, int signing_key,
				time_t now, struct cache_entry *e)
{
	const struct anchor *anc = NULL;
	X509 *ask = cc->ask;
	const uint8_t *ask_fp = cc->ask_fp;
	const char *ask_prod;
	bool asvk = false;
	time_t t;

	memset(e, 0, sizeof *e);
	KG_TRY(vek_parse(cc->leaf, &e->vek));
	KG_ENSURE(e->vek.info.vlek == (signing_key == 1), KG_ERR_SNP_SIGNING_KEY);

	/* The ASK (ASVK for a VLEK): supplied, or one of the roots' whose
	 * subject is the leaf's issuer.  None means no path to an anchor. */
	if (ask == NULL) {
		bool named = false;
		for (size_t i = 0; i < v->n_inters && ask == NULL; i++) {
			if (X509_NAME_cmp(X509_get_issuer_name(cc->leaf), X509_get_subject_name(v->inters[i].cert)) != 0)
				continue;
			named = true;
			if (v->inters[i].asvk == e->vek.info.vlek && link_ok(cc->leaf, v->inters[i].cert)) {
				ask = v->inters[i].cert;
				ask_fp = v->inters[i].fp;
			}
		}
		KG_ENSURE(ask != NULL, named ? KG_ERR_SNP_CHAIN : KG_ERR_SNP_UNTRUSTED_ROOT);
	}
	KG_ENSURE((ask_prod = ask_product(ask, &asvk)) != NULL, KG_ERR_SNP_CHAIN);
	/* A VCEK is certified by an ASK, a VLEK by an ASVK; never crossed
	 * (trustee check_milan_chain_signature_failure). */
	KG_ENSURE(asvk == e->vek.info.vlek, KG_ERR_SNP_CHAIN);
	KG_ENSURE(link_ok(cc->leaf, ask), KG_ERR_SNP_CHAIN);
	/* The ASK is a CA (AMD's: CA:TRUE, pathlen 0), the VCEK is not. */
	KG_ENSURE(X509_check_ca(ask) == 1 && X509_check_ca(cc->leaf) == 0, KG_ERR_SNP_CHAIN);

	/* The ARK: a supplied one must be a trust anchor byte for byte;
	 * otherwise the anchor that signed the ASK. */
	if (cc->ark) {
		for (size_t i = 0; i < v->n_anchors && anc == NULL; i++)
			if (memcmp(v->anchors[i].fp, cc->ark_fp, 32) == 0)
				anc = &v->anchors[i];
		KG_ENSURE(anc != NULL, KG_ERR_SNP_UNTRUSTED_ROOT);
		KG_ENSURE(link_ok(ask, anc->cert), KG_ERR_SNP_CHAIN);
	} else {
		bool named = false;
		for (size_t i = 0; i < v->n_anchors && anc == NULL; i++) {
			if (X509_NAME_cmp(X509_get_issuer_name(ask), X509_get_subject_name(v->anchors[i].cert)) != 0)
				continue;
			named = true;
			if (link_ok(ask, v->anchors[i].cert))
				anc = &v->anchors[i];
		}
		/* Named after an anchor but not signed by it: a forged link. */
		KG_ENSURE(anc != NULL, named ? KG_ERR_SNP_CHAIN : KG_ERR_SNP_UNTRUSTED_ROOT);
	}
	KG_ENSURE(strcmp(ask_prod, anc->product) == 0, KG_ERR_SNP_CHAIN);
	KG_ENSURE(strcmp(e->vek.info.product, anc->product) == 0, KG_ERR_SNP_PRODUCT);

	KG_TRY(cert_in_validity(anc->cert, now));
	KG_TRY(cert_in_validity(ask, now));
	KG_TRY(cert_in_validity(cc->leaf, now));

	KG_TRY(kg_p384_key_from_evp(X509_get0_pubkey(cc->leaf), &e->key, KG_ERR_SNP_CHAIN));

	/* What the cache needs to serve this chain again. */
	e->not_before = 0;
	e->not_after = (time_t)-1;
	const X509 *all[3] = {anc->cert, ask, cc->leaf};
	for (int i = 0; i < 3; i++) {
		KG_ENSURE(asn1_time_to_time(X509_get0_notBefore(all[i]), &t), KG_ERR_SNP_CHAIN);
		if (i == 0 || t > e->not_before)
			e->not_before = t;
		KG_ENSURE(asn1_time_to_time(X509_get0_notAfter(all[i]), &t), KG_ERR_SNP_CHAIN);
		if (i == 0 || t < e->not_after)
			e->not_after = t;
	}
	KG_TRY(serial_get(cc->leaf, &e->leaf_serial));
	KG_TRY(serial_get(ask, &e->ask_serial));
	memcpy(e->leaf_fp, cc->leaf_fp, 32);
	memcpy(e->ask_fp, ask_fp, 32);
	e->anchor = (size_t)(anc - v->anchors);
	return KG_OK;
}

static bool is_der(const uint8_t *p, size_t len) { return len > 0 && p[0] == 0x30; }

static kg_err sha256(const uint8_t *p, size_t len, uint8_t out[static 32])
{
	KG_ENSURE(EVP_Digest(p, len, out, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * AMD's CRL: an X.509 v2 CRL (5280 §5) that each product's ARK issues and
 * signs (KDS /vcek/v1/{product}/crl), listing revoked ASK/ASVK and
 * VCEK/VLEK serials.  go-sev-guest verify.go verifyCRL checks the same
 * signer and the ASK's serial; we check the leaf's too.
 */

/* 5280 §5.2: a CRL with a critical extension we do not process must not
 * be used.  We process none, and also refuse what would narrow or
 * qualify the list's scope even when marked non-critical: a delta-CRL
 * indicator, an issuing distribution point, entries with critical
 * extensions (e.g. certificateIssuer of an indirect CRL). */
static kg_err crl_extensions_ok(X509_CRL *crl)
{
	const STACK_OF(X509_EXTENSION) *exts = X509_CRL_get0_extensions(crl);
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);

	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
		KG_ENSURE(!X509_EXTENSION_get_critical(e), KG_ERR_SNP_CRL_INVALID);
		KG_ENSURE(nid != NID_delta_crl && nid != NID_issuing_distribution_point, KG_ERR_SNP_CRL_INVALID);
	}
	for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
		const STACK_OF(X509_EXTENSION) *rx = X509_REVOKED_get0_extensions(sk_X509_REVOKED_value(revoked, i));
		for (int k = 0; k < sk_X509_EXTENSION_num(rx); k++)
			KG_ENSURE(!X509_EXTENSION_get_critical(sk_X509_EXTENSION_value(rx, k)), KG_ERR_SNP_CRL_INVALID);
	}
	return KG_OK;
}

/* The CRL's form: v2, a nextUpdate, extensions we can honour, AMD's
 * signature algorithm. */
/* The tbsCertList's signature algorithm equals the outer one (5280
 * §5.1.1.2).  OpenSSL has no getter for it and only newer 3.0 releases
 * compare the two in X509_CRL_verify, so it is read here: TBSCertList ::=
 * SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, ... }. */
static bool crl_inner_alg_same(X509_CRL *crl, const X509_ALGOR *outer)
{
	unsigned char *tbs = NULL;
	const unsigned char *p, *q, *end;
	X509_ALGOR *inner = NULL;
	long len;
	int n, tag, cls;
	bool same = false;

	if ((n = i2d_re_X509_CRL_tbs(crl, &tbs)) <= 0)
		goto out;
	p = tbs;
	end = tbs + n;
	if ((ASN1_get_object(&p, &len, &tag, &cls, n) & 0x80) || tag != V_ASN1_SEQUENCE || len > end - p)
		goto out;
	q = p;
	if (!(ASN1_get_object(&q, &len, &tag, &cls, end - p) & 0x80) && tag == V_ASN1_INTEGER && len <= end - q)
		p = q + len; /* the optional version */
	if ((inner = d2i_X509_ALGOR(NULL, &p, end - p)) == NULL)
		goto out;
	same = X509_ALGOR_cmp(inner, outer) == 0;
out:
	X509_ALGOR_free(inner);
	OPENSSL_free(tbs);
	ERR_clear_error();
	return same;
}

static kg_err crl_form_ok(X509_CRL *crl)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *outer;

	KG_ENSURE(X509_CRL_get_version(crl) == 1 /* v2 */, KG_ERR_SNP_CRL_INVALID);
	KG_ENSURE(X509_CRL_get0_nextUpdate(crl) != NULL, KG_ERR_SNP_CRL_INVALID);
	KG_TRY(crl_extensions_ok(crl));
	X509_CRL_get0_signature(crl, &sig, &outer);
	KG_ENSURE(algor_is_amd_pss(outer), KG_ERR_SNP_CRL_INVALID);
	KG_ENSURE(crl_inner_alg_same(crl, outer), KG_ERR_SNP_CRL_INVALID);
	return KG_OK;
}

/* The CRL is the anchor's: of the right form, issued by it by name,
 * signed by its key (which may sign CRLs).  Its dates are checked per
 * call (crl_check). */
static kg_err crl_verify(X509_CRL *crl, const struct anchor *anc)
{
	EVP_PKEY *pk = X509_get0_pubkey(anc->cert);

	KG_TRY(crl_form_ok(crl));
	/* crl_get selects by issuer already; kept so this stands alone. */
	KG_ENSURE(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(anc->cert)) == 0,
		  KG_ERR_SNP_CRL_INVALID);
	/* AMD's ARKs: keyUsage keyCertSign, cRLSign (5280 §4.2.1.3). */
	KG_ENSURE((X509_get_key_usage(anc->cert) & KU_CRL_SIGN) != 0, KG_ERR_SNP_CRL_INVALID);
	KG_ENSURE(pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pk) >= RSA_MIN_BITS,
		  KG_ERR_SNP_CRL_INVALID);
	KG_ENSURE(X509_CRL_verify(crl, pk) == 1, KG_ERR_SNP_CRL_INVALID);
	return KG_OK;
}

/* The CRLs of a text: one DER CRL (no trailing bytes), or every "X509 CRL"
 * block of a PEM text (other blocks skipped), at most CRL_BUNDLE_MAX. */
static kg_err crl_load_all(const uint8_t *buf, size_t len, X509_CRL *out[static CRL_BUNDLE_MAX], size_t *n)
{
	BIO *b = NULL;
	X509_CRL *x;
	unsigned long e;
	kg_err rc = KG_ERR_SNP_CRL_INVALID;

	*n = 0;
	if (buf[0] == 0x30) { /* a DER SEQUENCE */
		const unsigned char *p = buf;
		x = d2i_X509_CRL(NULL, &p, (long)len);
		if (x && (size_t)(p - buf) != len) { /* trailing bytes */
			X509_CRL_free(x);
			x = NULL;
		}
		KG_ENSURE_OUT(x != NULL, KG_ERR_SNP_CRL_INVALID);
		out[(*n)++] = x;
		rc = KG_OK;
		goto out;
	}
	ERR_clear_error(); /* the end-of-text check below reads the queue */
	KG_ENSURE_OUT((b = BIO_new_mem_buf(buf, (int)len)) != NULL, KG_ERR_NOMEM);
	while ((x = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		if (*n == CRL_BUNDLE_MAX) {
			X509_CRL_free(x);
			goto out;
		}
		out[(*n)++] = x;
	}
	/* As in load_bundle: only "no start line" ends the text cleanly. */
	e = ERR_peek_last_error();
	KG_ENSURE_OUT(e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE),
		      KG_ERR_SNP_CRL_INVALID);
	KG_ENSURE_OUT(*n > 0, KG_ERR_SNP_CRL_INVALID);
	rc = KG_OK;
out:
	if (rc != KG_OK) {
		for (size_t i = 0; i < *n; i++)
			X509_CRL_free(out[i]);
		*n = 0;
	}
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

kg_err kg_snp_crl_parse(const uint8_t *buf, size_t len, size_t *n)
{
	X509_CRL *all[CRL_BUNDLE_MAX];
	size_t count = 0;
	kg_err rc = KG_OK;

	*n = 0;
	KG_ENSURE(len <= KG_SNP_CRL_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(buf != NULL && len > 0, KG_ERR_SNP_CRL_INVALID);
	KG_TRY(crl_load_all(buf, len, all, &count));
	for (size_t i = 0; i < count && rc == KG_OK; i++)
		rc = crl_form_ok(all[i]);
	for (size_t i = 0; i < count; i++)
		X509_CRL_free(all[i]);
	ERR_clear_error();
	if (rc == KG_OK)
		*n = count;
	return rc;
}

/* The verified CRL of anchors[anchor] from text buf (a new reference):
 * from the cache when these very bytes verified under this anchor before,
 * else parsed, selected by issuer (exactly one), verified and cached. */
static kg_err crl_get(struct kg_snp_verifier *v, const uint8_t *buf, size_t len, size_t anchor, X509_CRL **out)
{
	X509_CRL *all[CRL_BUNDLE_MAX], *mine = NULL;
	struct crl_entry *slot = NULL;
	uint8_t hash[32];
	size_t n = 0;
	kg_err rc;

	*out = NULL;
	KG_TRY(sha256(buf, len, hash));
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < CRL_CACHE_MAX && *out == NULL; i++) {
		struct crl_entry *e = &v->crls[i];
		if (e->used && e->anchor == anchor && memcmp(e->hash, hash, 32) == 0 && X509_CRL_up_ref(e->crl) == 1) {
			e->last_use = ++v->tick;
			*out = e->crl;
		}
	}
	if (*out)
		v->crl_hits++;
	else
		v->crl_misses++;
	pthread_mutex_unlock(&v->lock);
	if (*out)
		return KG_OK;

	KG_TRY(crl_load_all(buf, len, all, &n));
	for (size_t i = 0; i < n; i++) {
		if (X509_NAME_cmp(X509_CRL_get_issuer(all[i]), X509_get_subject_name(v->anchors[anchor].cert)) != 0)
			continue;
		/* Two CRLs of one ARK: which one is current is not ours to guess. */
		KG_ENSURE_OUT(mine == NULL, KG_ERR_SNP_CRL_INVALID);
		mine = all[i];
	}
	KG_ENSURE_OUT(mine != NULL, KG_ERR_SNP_CRL_INVALID);
	KG_TRY_OUT(crl_verify(mine, &v->anchors[anchor]));
	KG_ENSURE_OUT(X509_CRL_up_ref(mine) == 1, KG_ERR_CRYPTO);
	*out = mine;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < CRL_CACHE_MAX; i++) {
		struct crl_entry *e = &v->crls[i];
		if (e->used && e->anchor == anchor && memcmp(e->hash, hash, 32) == 0) {
			slot = e; /* another thread verified it meanwhile */
			break;
		}
		if (slot == NULL || !e->used || (slot->used && e->last_use < slot->last_use))
			slot = e; /* a free slot, else the least recently used */
	}
	assert(slot != NULL);
	if (X509_CRL_up_ref(mine) == 1) {
		X509_CRL_free(slot->crl);
		slot->used = true;
		memcpy(slot->hash, hash, 32);
		slot->anchor = anchor;
		slot->crl = mine;
		slot->last_use = ++v->tick;
	}
	pthread_mutex_unlock(&v->lock);
	rc = KG_OK;
out:
	for (size_t i = 0; i < n; i++)
		X509_CRL_free(all[i]);
	ERR_clear_error();
	return rc;
}

/* Whether the CRL lists the serial (DER, from a verified certificate). */
static kg_err crl_lists(X509_CRL *crl, const struct serial *s, bool *listed)
{
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
	const unsigned char *p = s->der;
	ASN1_INTEGER *want = d2i_ASN1_INTEGER(NULL, &p, (long)s->len);

	*listed = false;
	KG_ENSURE(want != NULL, KG_ERR_CRYPTO);
	for (int i = 0; i < sk_X509_REVOKED_num(revoked) && !*listed; i++)
		*listed = ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)), want) == 0;
	ASN1_INTEGER_free(want);
	return KG_OK;
}

/* The chain in e against the CRL text, at now.  A listed serial counts
 * whatever its revocation date or reason: AMD's revocations are permanent
 * (5280 removeFromCRL exists only in delta CRLs, which we refuse), and a
 * stale CRL that lists a certificate still proves it revoked, so
 * revocation is checked before the dates. */
static kg_err crl_check(struct kg_snp_verifier *v, const uint8_t *buf, size_t len, const struct cache_entry *e,
			time_t now)
{
	X509_CRL *crl = NULL;
	bool leaf = false, ask = false;
	int tu, nu;
	kg_err rc;

	KG_TRY(crl_get(v, buf, len, e->anchor, &crl));
	KG_TRY_OUT(crl_lists(crl, &e->leaf_serial, &leaf));
	KG_TRY_OUT(crl_lists(crl, &e->ask_serial, &ask));
	KG_ENSURE_OUT(!leaf && !ask, KG_ERR_SNP_CERT_REVOKED);
	/* thisUpdate <= now < nextUpdate, in X509_cmp_time's terms (-1: at or
	 * before now, 1: after, 0: unreadable). */
	tu = X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now);
	nu = X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &now);
	KG_ENSURE_OUT(tu != 0 && nu != 0, KG_ERR_SNP_CRL_INVALID);
	KG_ENSURE_OUT(tu < 0 && nu > 0, KG_ERR_SNP_CRL_EXPIRED);
	rc = KG_OK;
out:
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}

/* The verified VCEK/VLEK key and what it certifies. */
static kg_err chain_get(struct kg_snp_verifier *v, const struct kg_snp_certs *certs, int signing_key, time_t now,
			struct kg_p384_key *key, struct vek *vek)
{
	struct chain_certs cc;
	struct cache_entry e;
	bool looked_up = false, has_crl;
	kg_err rc;

	memset(&cc, 0, sizeof cc);
	memset(&e, 0, sizeof e);
	KG_ENSURE(v != NULL, KG_ERR_INVALID_ARG);
	KG_ENSURE(certs != NULL && certs->vcek != NULL && certs->vcek_len > 0, KG_ERR_SNP_NO_VCEK);
	KG_ENSURE(certs->vcek_len <= KG_SNP_CERT_MAX, KG_ERR_TOO_LARGE);
	cc.has_ask = certs->ask != NULL && certs->ask_len > 0;
	cc.has_ark = certs->ark != NULL && certs->ark_len > 0;
	has_crl = certs->crl != NULL && certs->crl_len > 0;
	KG_ENSURE(!cc.has_ask || certs->ask_len <= KG_SNP_CERT_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(!cc.has_ark || certs->ark_len <= KG_SNP_CERT_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(!has_crl || certs->crl_len <= KG_SNP_CRL_MAX, KG_ERR_TOO_LARGE);
	/* Fail closed before any work when the broker insists on a CRL. */
	KG_ENSURE(has_crl || !requires_crl(v), KG_ERR_SNP_CRL_MISSING);

	/* Fast path: DER certificates are looked up by the SHA-256 of the bytes
	 * as given, before any parsing.  The cache is keyed by the SHA-256 of
	 * the DER OpenSSL re-encodes from a parsed certificate; equal hashes
	 * mean equal bytes, so a hit is the very certificate verified before
	 * (non-canonical input merely misses). */
	if (is_der(certs->vcek, certs->vcek_len) && (!cc.has_ask || is_der(certs->ask, certs->ask_len)) &&
	    (!cc.has_ark || is_der(certs->ark, certs->ark_len))) {
		KG_TRY(sha256(certs->vcek, certs->vcek_len, cc.leaf_fp));
		if (cc.has_ask)
			KG_TRY(sha256(certs->ask, certs->ask_len, cc.ask_fp));
		if (cc.has_ark)
			KG_TRY(sha256(certs->ark, certs->ark_len, cc.ark_fp));
		looked_up = true;
		if (cache_lookup(v, &cc, now, &e))
			goto hit;
	}

	KG_TRY_OUT(cert_load(certs->vcek, certs->vcek_len, &cc.leaf));
	KG_TRY_OUT(cert_fingerprint(cc.leaf, cc.leaf_fp));
	if (cc.has_ask) {
		KG_TRY_OUT(cert_load(certs->ask, certs->ask_len, &cc.ask));
		KG_TRY_OUT(cert_fingerprint(cc.ask, cc.ask_fp));
	}
	if (cc.has_ark) {
		KG_TRY_OUT(cert_load(certs->ark, certs->ark_len, &cc.ark));
		KG_TRY_OUT(cert_fingerprint(cc.ark, cc.ark_fp));
	}
	if (!looked_up && cache_lookup(v, &cc, now, &e))
		goto hit;
	KG_TRY_OUT(chain_verify_cold(v, &cc, signing_key, now, &e));
	cache_insert(v, &e);
	goto chain_ok;
hit:
	/* Served from the cache: the chain verified for this very
	 * certificate, with this ASK/ARK, and is still in date.  The kind
	 * check is the cold path's first, repeated here. */
	KG_ENSURE_OUT(e.vek.info.vlek == (signing_key == 1), KG_ERR_SNP_SIGNING_KEY);
chain_ok:
	/* Revocation, on every call: neither cache entry stands for it. */
	if (has_crl)
		KG_TRY_OUT(crl_check(v, certs->crl, certs->crl_len, &e, now));
	*key = e.key;
	*vek = e.vek;
	rc = KG_OK;
out:
	X509_free(cc.leaf);
	X509_free(cc.ask);
	X509_free(cc.ark);
	if (rc != KG_OK)
		ERR_clear_error();
	return rc;
}

kg_err kg_snp_verify_chain(struct kg_snp_verifier *v, const struct kg_snp_certs *certs, int signing_key, time_t now,
			   struct kg_snp_vek_info *info)
{
	struct kg_p384_key key;
	struct vek vek;

	if (info)
		memset(info, 0, sizeof *info);
	KG_ENSURE(signing_key == 0 || signing_key == 1, KG_ERR_SNP_SIGNING_KEY);
	KG_TRY(chain_get(v, certs, signing_key, now, &key, &vek));
	if (info)
		*info = vek.info;
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * The report against its verified VCEK
 */

static kg_err report_against_vek(struct kg_snp_report *r, const struct vek *vek)
{
	/* Product: a v3+ report names it by CPUID and must agree with the
	 * VCEK (and so with the root); a v2 report learns it from the VCEK,
	 * which fixes the layout of its TCB_VERSIONs. */
	if (r->version >= 3) {
		KG_ENSURE(strcmp(r->product, vek->info.product) == 0, KG_ERR_SNP_PRODUCT);
	} else {
		snprintf(r->product, sizeof r->product, "%s", vek->info.product);
		report_decode_tcbs(r, product_turin_layout(r->product));
	}
	/* hwID == CHIP_ID binds a VCEK to this chip (a VLEK has none).  A
	 * Turin hwID is the first 8 bytes of CHIP_ID (KDS URLs use
	 * CHIP_ID[0..8] for Turin).  A masked CHIP_ID cannot match. */
	if (!vek->info.vlek)
		KG_ENSURE(CRYPTO_memcmp(r->chip_id, vek->info.hwid, vek->info.hwid_len) == 0,
			  KG_ERR_SNP_CHIP_MISMATCH);
	/* The VCEK is derived from exactly REPORTED_TCB (not CURRENT_TCB, which
	 * the host may run ahead of it). */
	KG_ENSURE((r->reported_tcb.raw & vek->tcb_mask) == (vek->info.tcb.raw & vek->tcb_mask),
		  KG_ERR_SNP_TCB_MISMATCH);
	return KG_OK;
}

/* ECDSA P-384 / SHA-384 over report bytes 0x000..0x29F; R and S are
 * little-endian, zero-extended to 72 bytes (ABI "ECDSA Signature
 * Format"): a value that needs more than 48 is no signature. */
static kg_err report_signature_ok(const struct kg_p384_key *key, const uint8_t *report, size_t len,
				  const struct kg_snp_report *r)
{
	struct kg_cur c = kg_cur_init(report, len);
	const uint8_t *tbs;
	uint8_t rb[KG_P384_SIZE], sb[KG_P384_SIZE], high = 0;

	KG_TRY(kg_cur_bytes(&c, &tbs, KG_SNP_SIGNED_SIZE));
	for (size_t i = KG_P384_SIZE; i < SIG_RS_SIZE; i++)
		high |= r->sig_r[i] | r->sig_s[i];
	KG_ENSURE(high == 0, KG_ERR_SNP_SIGNATURE);
	for (size_t i = 0; i < KG_P384_SIZE; i++) {
		rb[i] = r->sig_r[KG_P384_SIZE - 1 - i];
		sb[i] = r->sig_s[KG_P384_SIZE - 1 - i];
	}
	return kg_p384_verify(key, tbs, KG_SNP_SIGNED_SIZE, rb, sb, KG_ERR_SNP_SIGNATURE);
}

kg_err kg_snp_verify(struct kg_snp_verifier *v, const uint8_t *report, size_t report_len,
		     const struct kg_snp_certs *certs, time_t now, struct kg_snp_report *out)
{
	struct kg_snp_report r;
	struct kg_p384_key key;
	struct vek vek;

	if (out)
		memset(out, 0, sizeof *out);
	KG_ENSURE(v != NULL, KG_ERR_INVALID_ARG);
	KG_TRY(kg_snp_report_parse(report, report_len, &r));
	KG_TRY(chain_get(v, certs, r.signing_key, now, &key, &vek));
	KG_TRY(report_against_vek(&r, &vek));
	KG_TRY(report_signature_ok(&key, report, report_len, &r));
	if (out)
		*out = r;
	return KG_OK;
}
