/*
 * The simulated SEV-SNP attester (see snp_sim.h): a test ARK -> ASK ->
 * VCEK hierarchy shaped like AMD's, and reports laid out and signed like
 * the AMD-SP's (ABI 56860 "ATTESTATION_REPORT", "ECDSA Signature Format";
 * certificate table per GHCB 56421 §4.1.8.1).
 */
#define _GNU_SOURCE
#include "snp_sim.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/util.h"
#include "sim_pki.h"
#include "snp.h"
#include "snp_internal.h"

/* AMD's ARK and ASK are RSA-4096; keygen takes about a second each. */
#define SIM_RSA_BITS 4096
#define DAY (24L * 3600)
#define YEAR (365L * DAY)

struct kg_snp_sim_params kg_snp_sim_params_default(void)
{
	struct kg_snp_sim_params p;
	const struct kg_snp_sim_tcb tcb = {KG_SNP_SIM_TCB_BOOTLOADER, KG_SNP_SIM_TCB_TEE, KG_SNP_SIM_TCB_SNP,
					   KG_SNP_SIM_TCB_MICROCODE};

	memset(&p, 0, sizeof p);
	p.version = 3;
	p.policy = 0x30000; /* bit 16 SMT allowed, bit 17 reserved-1; debug (19) off */
	p.platform_info = 0x25; /* SMT_EN, ECC_EN, ALIAS_CHECK_COMPLETE */
	p.reported_tcb = tcb;
	p.current_tcb = tcb;
	p.cpuid_fam = 0x19; /* Milan: family 19h, model 01h, stepping 1 */
	p.cpuid_mod = 0x01;
	p.cpuid_step = 0x01;
	p.fw_major = 1;
	p.fw_minor = 55;
	p.fw_build = 29;
	return p;
}

/* ---------------------------------------------------------------------------
 * init: the test hierarchy
 */

static X509_NAME *sim_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)"Simulated SEV-SNP", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Keygate test", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static bool add_ext_int(X509 *x, const char *oid, int64_t v)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	int n = -1;
	bool ok;

	if (ai && ASN1_INTEGER_set_int64(ai, v) == 1)
		n = i2d_ASN1_INTEGER(ai, &der);
	ok = n > 0 && kg_sim_ext_der(x, oid, der, (size_t)n);
	OPENSSL_free(der);
	ASN1_INTEGER_free(ai);
	return ok;
}

static bool add_ext_ia5(X509 *x, const char *oid, const char *s)
{
	ASN1_IA5STRING *a = ASN1_IA5STRING_new();
	unsigned char *der = NULL;
	int n = -1;
	bool ok;

	if (a && ASN1_STRING_set(a, s, -1) == 1)
		n = i2d_ASN1_IA5STRING(a, &der);
	ok = n > 0 && kg_sim_ext_der(x, oid, der, (size_t)n);
	OPENSSL_free(der);
	ASN1_IA5STRING_free(a);
	return ok;
}

/* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: what AMD signs with.  A
 * signing context for X509_sign_ctx / X509_CRL_sign_ctx, or NULL. */
static EVP_MD_CTX *pss_ctx(EVP_PKEY *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	if (md && EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1)
		return md;
	EVP_MD_CTX_free(md);
	return NULL;
}

static bool sign_pss(X509 *x, EVP_PKEY *key)
{
	EVP_MD_CTX *md = pss_ctx(key);
	bool ok = md && X509_sign_ctx(x, md) > 0;

	EVP_MD_CTX_free(md);
	return ok;
}

enum cert_kind { ARK, ASK, VCEK };

static X509 *make_cert(enum cert_kind kind, const char *cn, X509 *issuer, EVP_PKEY *pub, EVP_PKEY *signer,
		       const uint8_t hwid[static 64], const struct kg_snp_sim_tcb *tcb)
{
	X509 *x = X509_new();
	X509_NAME *name = sim_name(cn);
	uint64_t serial = 0;
	bool ok;

	ok = x && name && X509_set_version(x, 2) == 1 && RAND_bytes((unsigned char *)&serial, sizeof serial) == 1 &&
	     ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) == 1 &&
	     X509_set_subject_name(x, name) == 1 &&
	     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -DAY) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(x), kind == VCEK ? 7 * YEAR : 25 * YEAR) != NULL &&
	     X509_set_pubkey(x, pub) == 1;
	switch (kind) {
	case ARK:
		ok = ok && kg_sim_ext_conf(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		     kg_sim_ext_conf(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		     kg_sim_ext_conf(x, x, NID_subject_key_identifier, "hash");
		break;
	case ASK:
		ok = ok && kg_sim_ext_conf(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
		     kg_sim_ext_conf(x, issuer, NID_key_usage, "critical,keyCertSign") &&
		     kg_sim_ext_conf(x, issuer, NID_subject_key_identifier, "hash");
		break;
	case VCEK:
		/* KDS extensions, in the order AMD's VCEKs list them. */
		ok = ok && add_ext_int(x, KG_SNP_OID_STRUCT_VERSION, 0) &&
		     add_ext_ia5(x, KG_SNP_OID_PRODUCT_NAME, "Milan-B0") &&
		     add_ext_int(x, KG_SNP_OID_BL_SPL, tcb->bootloader) && add_ext_int(x, KG_SNP_OID_TEE_SPL, tcb->tee) &&
		     add_ext_int(x, KG_SNP_OID_SPL4, 0) && add_ext_int(x, KG_SNP_OID_SPL5, 0) &&
		     add_ext_int(x, KG_SNP_OID_SPL6, 0) && add_ext_int(x, KG_SNP_OID_SPL7, 0) &&
		     add_ext_int(x, KG_SNP_OID_SNP_SPL, tcb->snp) && add_ext_int(x, KG_SNP_OID_UCODE_SPL, tcb->microcode) &&
		     kg_sim_ext_der(x, KG_SNP_OID_HWID, hwid, 64);
		break;
	}
	ok = ok && sign_pss(x, signer);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

kg_err kg_snp_sim_init(const char *dir)
{
	kg_err rc = KG_ERR_CRYPTO;
	EVP_PKEY *ark_key = NULL, *ask_key = NULL, *vcek_key = NULL;
	X509 *ark = NULL, *ask = NULL, *vcek = NULL;
	const struct kg_snp_sim_tcb tcb = {KG_SNP_SIM_TCB_BOOTLOADER, KG_SNP_SIM_TCB_TEE, KG_SNP_SIM_TCB_SNP,
					   KG_SNP_SIM_TCB_MICROCODE};
	uint8_t hwid[64];

	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	/* ark-key.pem is not required here: a set made before it was kept
	 * stays (its root is configured somewhere), it only cannot issue CRLs. */
	if (kg_sim_exists(dir, KG_SNP_SIM_ARK) && kg_sim_exists(dir, KG_SNP_SIM_ASK) &&
	    kg_sim_exists(dir, KG_SNP_SIM_ASK_KEY) && kg_sim_exists(dir, KG_SNP_SIM_VCEK) &&
	    kg_sim_exists(dir, KG_SNP_SIM_VCEK_KEY))
		return KG_OK;
	KG_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, KG_ERR_IO);

	KG_ENSURE_OUT(RAND_bytes(hwid, sizeof hwid) == 1, KG_ERR_RANDOM);
	KG_ENSURE_OUT((ark_key = EVP_RSA_gen(SIM_RSA_BITS)) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((ask_key = EVP_RSA_gen(SIM_RSA_BITS)) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((vcek_key = EVP_EC_gen("P-384")) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((ark = make_cert(ARK, "ARK-Milan", NULL, ark_key, ark_key, hwid, &tcb)) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((ask = make_cert(ASK, "SEV-Milan", ark, ask_key, ark_key, hwid, &tcb)) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((vcek = make_cert(VCEK, "SEV-VCEK", ask, vcek_key, ask_key, hwid, &tcb)) != NULL,
		      KG_ERR_CRYPTO);
	/* The ARK last: the set is complete only when all files exist. */
	KG_TRY_OUT(kg_sim_write_key(dir, KG_SNP_SIM_VCEK_KEY, vcek_key));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_SNP_SIM_ASK_KEY, ask_key));
	/* Kept for the simulated KDS's CRLs, which the ARK signs (see
	 * snp_sim.h for what keeping it costs). */
	KG_TRY_OUT(kg_sim_write_key(dir, KG_SNP_SIM_ARK_KEY, ark_key));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_SNP_SIM_VCEK, vcek));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_SNP_SIM_ASK, ask));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_SNP_SIM_ARK, ark));
	rc = KG_OK;
out:
	ERR_clear_error();
	X509_free(ark);
	X509_free(ask);
	X509_free(vcek);
	EVP_PKEY_free(ark_key);
	EVP_PKEY_free(ask_key);
	EVP_PKEY_free(vcek_key);
	return rc;
}

/* ---------------------------------------------------------------------------
 * attest: a report and its certificate table
 */

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Milan/Genoa TCB_VERSION: BOOT_LOADER, TEE, reserved[4], SNP, MICROCODE. */
static uint64_t tcb_raw(const struct kg_snp_sim_tcb *t)
{
	return (uint64_t)t->bootloader | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48 | (uint64_t)t->microcode << 56;
}

/* The report's signed part, ABI table "ATTESTATION_REPORT Structure". */
static void report_fill(uint8_t r[static KG_SNP_REPORT_SIZE], const struct kg_snp_sim_params *p,
			const uint8_t report_data[static 64], const uint8_t chip_id[static 64], const uint8_t report_id[32])
{
	memset(r, 0, KG_SNP_REPORT_SIZE);
	le32(r + 0x000, p->version);
	le32(r + 0x004, p->guest_svn);
	le64(r + 0x008, p->policy);
	memcpy(r + 0x010, p->family_id, 16);
	memcpy(r + 0x020, p->image_id, 16);
	le32(r + 0x030, p->vmpl);
	le32(r + 0x034, 1); /* SIGNATURE_ALGO: ECDSA P-384 with SHA-384 */
	le64(r + 0x038, tcb_raw(&p->current_tcb));
	le64(r + 0x040, p->platform_info);
	le32(r + 0x048, p->mask_chip_id ? 2 : 0); /* SIGNING_KEY 0: VCEK */
	memcpy(r + 0x050, report_data, 64);
	memcpy(r + 0x090, p->measurement, 48);
	memcpy(r + 0x0c0, p->host_data, 32);
	memcpy(r + 0x0e0, p->id_key_digest, 48);
	memcpy(r + 0x110, p->author_key_digest, 48);
	memcpy(r + 0x140, report_id, 32);
	memset(r + 0x160, 0xff, 32); /* REPORT_ID_MA: no migration agent */
	le64(r + 0x180, tcb_raw(&p->reported_tcb));
	if (p->version >= 3) {
		r[0x188] = p->cpuid_fam;
		r[0x189] = p->cpuid_mod;
		r[0x18a] = p->cpuid_step;
	}
	if (!p->mask_chip_id)
		memcpy(r + 0x1a0, chip_id, 64);
	le64(r + 0x1e0, tcb_raw(&p->reported_tcb)); /* COMMITTED_TCB */
	r[0x1e8] = p->fw_build;
	r[0x1e9] = p->fw_minor;
	r[0x1ea] = p->fw_major;
	r[0x1ec] = p->fw_build;
	r[0x1ed] = p->fw_minor;
	r[0x1ee] = p->fw_major;
	le64(r + 0x1f0, tcb_raw(&p->reported_tcb)); /* LAUNCH_TCB */
	if (p->version >= 5) {
		le64(r + 0x1f8, p->launch_mit_vector);
		le64(r + 0x200, p->current_mit_vector);
	}
}

/* ABI "ECDSA Signature Format": R at 0x2A0 and S at 0x2E8, little-endian,
 * zero-extended to 72 bytes. */
static kg_err report_sign(uint8_t r[static KG_SNP_REPORT_SIZE], EVP_PKEY *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[256];
	const unsigned char *q = der;
	size_t der_len = sizeof der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *br, *bs;
	kg_err rc = KG_ERR_CRYPTO;

	if (md && EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &der_len, r, KG_SNP_SIGNED_SIZE) == 1 &&
	    (sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len)) != NULL) {
		ECDSA_SIG_get0(sig, &br, &bs);
		if (BN_bn2lebinpad(br, r + 0x2a0, 72) == 72 && BN_bn2lebinpad(bs, r + 0x2e8, 72) == 72)
			rc = KG_OK;
	}
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

static void table_entry_put(uint8_t *e, const uint8_t guid[16], uint32_t off, uint32_t len)
{
	memcpy(e, guid, 16);
	le32(e + 16, off);
	le32(e + 20, len);
}

static bool tcb_eq(const struct kg_snp_sim_tcb *a, const struct kg_snp_tcb *b)
{
	return a->bootloader == b->bootloader && a->tee == b->tee && a->snp == b->snp && a->microcode == b->microcode;
}

/* KDS issues one VCEK per (chip, TCB); so does the simulator: a VCEK for
 * tcb, with vcek.pem's key and hwID, signed by the test ASK, kept as
 * vcek-BBTTSSUU.pem (hex of the SPLs) so that later reports reuse it. */
static kg_err vcek_for_tcb(const char *dir, X509 *ask, X509 *vcek, const uint8_t hwid[static 64],
			   const struct kg_snp_sim_tcb *tcb, X509 **out)
{
	EVP_PKEY *ask_key = NULL;
	char name[64];
	kg_err rc;

	*out = NULL;
	snprintf(name, sizeof name, "vcek-%02x%02x%02x%02x.pem", tcb->bootloader, tcb->tee, tcb->snp, tcb->microcode);
	if (kg_sim_exists(dir, name))
		return kg_sim_read_cert(dir, name, KG_SNP_CERT_MAX, out);
	KG_TRY(kg_sim_read_key(dir, KG_SNP_SIM_ASK_KEY, &ask_key));
	*out = make_cert(VCEK, "SEV-VCEK", ask, X509_get0_pubkey(vcek), ask_key, hwid, tcb);
	EVP_PKEY_free(ask_key);
	KG_ENSURE(*out != NULL, KG_ERR_CRYPTO);
	if ((rc = kg_sim_write_cert(dir, name, *out)) != KG_OK) {
		X509_free(*out);
		*out = NULL;
	}
	return rc;
}

kg_err kg_snp_sim_attest(const char *dir, const struct kg_snp_sim_params *p, const uint8_t report_data[static 64],
			 uint8_t **evidence, size_t *len)
{
	static const uint8_t guid_vcek[16] = KG_SNP_GUID_VCEK, guid_ask[16] = KG_SNP_GUID_ASK,
			     guid_ark[16] = KG_SNP_GUID_ARK;
	struct kg_snp_sim_params defaults = kg_snp_sim_params_default();
	kg_err rc = KG_ERR_CRYPTO;
	X509 *vcek = NULL, *ask = NULL, *ark = NULL, *issued = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *der[3] = {NULL, NULL, NULL};
	int der_len[3] = {0, 0, 0};
	const struct kg_snp_sim_tcb *vcek_tcb;
	struct kg_snp_vek_info info;
	uint8_t report[KG_SNP_REPORT_SIZE], report_id[32], *ev = NULL;
	size_t header = 4 * KG_SNP_CERT_TABLE_ENTRY, total = KG_SNP_REPORT_SIZE;

	*evidence = NULL;
	*len = 0;
	if (p == NULL)
		p = &defaults;
	vcek_tcb = p->vcek_tcb_set ? &p->vcek_tcb : &p->reported_tcb;
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_SNP_SIM_VCEK, KG_SNP_CERT_MAX, &vcek));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_SNP_SIM_ASK, KG_SNP_CERT_MAX, &ask));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_SNP_SIM_ARK, KG_SNP_CERT_MAX, &ark));
	KG_TRY_OUT(kg_sim_read_key(dir, KG_SNP_SIM_VCEK_KEY, &key));
	KG_ENSURE_OUT((der_len[0] = i2d_X509(vcek, &der[0])) > 0, KG_ERR_CRYPTO);
	/* CHIP_ID is the VCEK's hwID, as on hardware. */
	KG_TRY_OUT(kg_snp_vek_info_parse(der[0], (size_t)der_len[0], &info));
	KG_ENSURE_OUT(info.hwid_len == 64, KG_ERR_CRYPTO);
	if (!tcb_eq(vcek_tcb, &info.tcb)) {
		KG_TRY_OUT(vcek_for_tcb(dir, ask, vcek, info.hwid, vcek_tcb, &issued));
		OPENSSL_free(der[0]);
		der[0] = NULL;
		KG_ENSURE_OUT((der_len[0] = i2d_X509(issued, &der[0])) > 0, KG_ERR_CRYPTO);
	}
	KG_ENSURE_OUT((der_len[1] = i2d_X509(ask, &der[1])) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((der_len[2] = i2d_X509(ark, &der[2])) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(RAND_bytes(report_id, sizeof report_id) == 1, KG_ERR_RANDOM);

	report_fill(report, p, report_data, p->chip_id_set ? p->chip_id : info.hwid, report_id);
	KG_TRY_OUT(report_sign(report, key));

	if (!p->no_cert_table)
		total += header + (size_t)der_len[0] + (size_t)der_len[1] + (size_t)der_len[2];
	KG_ENSURE_OUT((ev = calloc(1, total)) != NULL, KG_ERR_NOMEM);
	memcpy(ev, report, KG_SNP_REPORT_SIZE);
	if (!p->no_cert_table) {
		/* GHCB §4.1.8.1: entries, an all-zero terminator, then the DER
		 * certificates at offsets counted from the table's start. */
		uint8_t *t = ev + KG_SNP_REPORT_SIZE;
		uint32_t off = (uint32_t)header;
		const uint8_t *guids[3] = {guid_vcek, guid_ask, guid_ark};
		for (int i = 0; i < 3; i++) {
			table_entry_put(t + i * KG_SNP_CERT_TABLE_ENTRY, guids[i], off, (uint32_t)der_len[i]);
			memcpy(t + off, der[i], (size_t)der_len[i]);
			off += (uint32_t)der_len[i];
		}
	}
	*evidence = ev;
	*len = total;
	ev = NULL;
	rc = KG_OK;
out:
	free(ev);
	for (int i = 0; i < 3; i++)
		OPENSSL_free(der[i]);
	X509_free(vcek);
	X509_free(issued);
	X509_free(ask);
	X509_free(ark);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

/* ---------------------------------------------------------------------------
 * crl: the simulated KDS's revocation list (RFC 5280 §5)
 */

static bool crl_revoke(X509_CRL *crl, X509 *x, const ASN1_TIME *when)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_STRING_dup(when);

	if (r && t && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(x)) == 1 &&
	    X509_REVOKED_set_revocationDate(r, t) == 1 && X509_CRL_add0_revoked(crl, r) == 1) {
		ASN1_TIME_free(t);
		return true;
	}
	ASN1_TIME_free(t);
	X509_REVOKED_free(r);
	return false;
}

/* The revoked VCEKs: vcek.pem and every vcek-*.pem of dir. */
static kg_err crl_revoke_vceks(const char *dir, X509_CRL *crl, const ASN1_TIME *when)
{
	DIR *d;
	struct dirent *de;
	X509 *x = NULL;
	kg_err rc;

	KG_TRY(kg_sim_read_cert(dir, KG_SNP_SIM_VCEK, KG_SNP_CERT_MAX, &x));
	rc = crl_revoke(crl, x, when) ? KG_OK : KG_ERR_CRYPTO;
	X509_free(x);
	KG_TRY(rc);
	KG_ENSURE((d = opendir(dir)) != NULL, KG_ERR_IO);
	while (rc == KG_OK && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "vcek-", 5) != 0 || n < 9 || strcmp(de->d_name + n - 4, ".pem") != 0 ||
		    strcmp(de->d_name, KG_SNP_SIM_VCEK_KEY) == 0)
			continue;
		if ((rc = kg_sim_read_cert(dir, de->d_name, KG_SNP_CERT_MAX, &x)) == KG_OK) {
			rc = crl_revoke(crl, x, when) ? KG_OK : KG_ERR_CRYPTO;
			X509_free(x);
		}
	}
	closedir(d);
	return rc;
}

kg_err kg_snp_sim_crl(const char *dir, bool revoke_vcek, bool revoke_ask, time_t this_update, time_t next_update,
		      uint8_t **der, size_t *len)
{
	X509_CRL *crl = NULL;
	X509 *ark = NULL, *ask = NULL;
	EVP_PKEY *ark_key = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL;
	ASN1_INTEGER *number = NULL;
	X509_EXTENSION *aki = NULL;
	EVP_MD_CTX *md = NULL;
	X509V3_CTX ctx;
	unsigned char *out = NULL;
	int n;
	kg_err rc = KG_ERR_CRYPTO;

	*der = NULL;
	*len = 0;
	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	KG_TRY_OUT(kg_sim_read_key(dir, KG_SNP_SIM_ARK_KEY, &ark_key));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_SNP_SIM_ARK, KG_SNP_CERT_MAX, &ark));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_SNP_SIM_ASK, KG_SNP_CERT_MAX, &ask));
	KG_ENSURE_OUT((crl = X509_CRL_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((tu = ASN1_TIME_set(NULL, this_update)) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((nu = ASN1_TIME_set(NULL, next_update)) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_CRL_set_version(crl, 1 /* v2 */) == 1 &&
			      X509_CRL_set_issuer_name(crl, X509_get_subject_name(ark)) == 1 &&
			      X509_CRL_set1_lastUpdate(crl, tu) == 1 && X509_CRL_set1_nextUpdate(crl, nu) == 1,
		      KG_ERR_CRYPTO);
	if (revoke_ask)
		KG_ENSURE_OUT(crl_revoke(crl, ask, tu), KG_ERR_CRYPTO);
	if (revoke_vcek)
		KG_TRY_OUT(crl_revoke_vceks(dir, crl, tu));
	/* Extensions, non-critical as in 5280 §5.2.1 and §5.2.3. */
	X509V3_set_ctx(&ctx, ark, NULL, NULL, crl, 0);
	KG_ENSURE_OUT((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) != NULL,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_CRL_add_ext(crl, aki, -1) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((number = ASN1_INTEGER_new()) != NULL && ASN1_INTEGER_set_int64(number, this_update) == 1 &&
			      X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_CRL_sort(crl) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((md = pss_ctx(ark_key)) != NULL && X509_CRL_sign_ctx(crl, md) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((n = i2d_X509_CRL(crl, &out)) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((*der = malloc((size_t)n)) != NULL, KG_ERR_NOMEM);
	memcpy(*der, out, (size_t)n);
	*len = (size_t)n;
	rc = KG_OK;
out:
	OPENSSL_free(out);
	EVP_MD_CTX_free(md);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	X509_free(ark);
	X509_free(ask);
	EVP_PKEY_free(ark_key); /* EVP_PKEY_free wipes the private key */
	ERR_clear_error();
	return rc;
}
