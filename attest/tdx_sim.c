/*
 * The simulated Intel TDX attester and PCS (see tdx_sim.h): a test PKI
 * shaped as Intel's, collateral signed as Intel signs it, and DCAP quotes
 * laid out and signed as Intel's QE does.
 *
 * Sources, cited by key below (as in tdx.c):
 *   QL     Intel TDX DCAP Quoting Library API, Appendix A "Quote Format".
 *   SDM    Intel SDM vol. 3D "REPORT" (the QE's REPORT_BODY).
 *   PROF   Intel SGX PCK Certificate and CRL Profile (names, extensions,
 *          SGX Extensions 1.2.840.113741.1.13.1).
 *   PCS    Intel SGX and TDX PCS API v4 (TCB Info v3, Enclave Identity v2).
 *
 * OpenSSL and jansson types stay inside this file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tdx_sim.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/util.h"
#include "sim_pki.h"

#define SIM_DAY (24L * 3600)
#define SIM_YEAR (365L * SIM_DAY)
#define SIM_FILE_MAX (64 * 1024)

/* QL: Intel's QE vendor ID. */
static const uint8_t sim_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					  0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
/* PCS "TD_QE" identity: Intel's TD QE MRSIGNER, as real quotes carry it. */
static const uint8_t sim_qe_mrsigner[32] = {0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34,
					    0xa7, 0xfc, 0x43, 0xed, 0x03, 0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba,
					    0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5};
#define SIM_QE_ISVPRODID 2
/* The simulated QE's MRENCLAVE: any fixed value (the identity does not
 * pin it, as Intel's does not). */
static const uint8_t sim_qe_mrenclave[32] = {'k', 'e', 'y', 'g', 'a', 't', 'e', '-', 's', 'i', 'm',
					     '-', 't', 'd', '-', 'q', 'e'};

static const uint8_t sim_fmspc[6] = KG_TDX_SIM_FMSPC;
static const uint8_t sim_sgx_tcb[16] = KG_TDX_SIM_SGX_TCB;
static const uint8_t sim_tee_tcb_svn[16] = KG_TDX_SIM_TEE_TCB_SVN;
/* The OutOfDate level: lower SGX components, and the TDX late microcode
 * SVN (TEE_TCB_SVN[2]) that out_of_date writes. */
static const uint8_t sim_sgx_tcb_old[16] = {2, 2, 2, 2, 3, 1, 0, 5};
#define SIM_OLD_MICROCODE 2
#define SIM_OLD_MODULE_SVN 2

static const char *const sim_pki_files[] = {
	KG_TDX_SIM_ROOT,	KG_TDX_SIM_ROOT_KEY,	     KG_TDX_SIM_PCK_CA,	    KG_TDX_SIM_PCK_CA_KEY,
	KG_TDX_SIM_PCK,		KG_TDX_SIM_PCK_KEY,	     KG_TDX_SIM_TCB_SIGNING, KG_TDX_SIM_TCB_SIGNING_KEY,
	KG_TDX_SIM_ATTEST_KEY,
};
/* In struct kg_tdx_collateral's order. */
static const char *const sim_coll_files[5] = {KG_TDX_SIM_TCB_INFO, KG_TDX_SIM_QE_IDENTITY, KG_TDX_SIM_SIGNING_CHAIN,
					      KG_TDX_SIM_ROOT_CRL, KG_TDX_SIM_PCK_CRL};

struct kg_tdx_sim_params kg_tdx_sim_params_default(void)
{
	struct kg_tdx_sim_params p;

	memset(&p, 0, sizeof p);
	p.version = 4;
	p.body_type = KG_TDX_BODY_TDX10;
	memcpy(p.tee_tcb_svn, sim_tee_tcb_svn, 16);
	memcpy(p.tee_tcb_svn2, sim_tee_tcb_svn, 16);
	p.td_attributes = KG_TDX_TD_ATTR_SEPT_VE_DISABLE;
	p.xfam = 0x61ae7;
	return p;
}

/* ---------------------------------------------------------------------------
 * The test PKI (PROF)
 */

static X509_NAME *sim_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)"Simulated Intel TDX", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Keygate test", -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* A 20-byte positive serial, as Intel's. */
static bool sim_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	bool ok = bn && BN_rand(bn, 159, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
		  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok;
}

/* ---- DER for the SGX Extensions, into a fixed buffer ---- */

struct sim_der {
	uint8_t b[1024];
	size_t n;
	bool ok;
};

static void sim_der_raw(struct sim_der *d, const uint8_t *p, size_t n)
{
	if (!d->ok || n > sizeof d->b - d->n) {
		d->ok = false;
		return;
	}
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

/* tag, definite length (short or 0x81/0x82 form), value. */
static void sim_der_tlv(struct sim_der *d, uint8_t tag, const uint8_t *v, size_t n)
{
	uint8_t h[4];
	size_t hl = 0;

	h[hl++] = tag;
	if (n < 0x80) {
		h[hl++] = (uint8_t)n;
	} else if (n < 0x100) {
		h[hl++] = 0x81;
		h[hl++] = (uint8_t)n;
	} else {
		assert(n < 0x10000); /* the extension is well under 1 KiB */
		h[hl++] = 0x82;
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	}
	sim_der_raw(d, h, hl);
	sim_der_raw(d, v, n);
}

/* A minimal non-negative INTEGER (or ENUMERATED with tag 0x0a). */
static void sim_der_uint(struct sim_der *d, uint8_t tag, unsigned v)
{
	uint8_t b[3];
	size_t n = 0;

	assert(v <= 0xffff);
	if (v >= 0x100)
		b[n++] = (uint8_t)(v >> 8);
	b[n++] = (uint8_t)v;
	if (b[0] & 0x80) { /* keep it positive */
		memmove(b + 1, b, n);
		b[0] = 0;
		n++;
	}
	sim_der_tlv(d, tag, b, n);
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1<sub>, value } */
static void sim_der_pair(struct sim_der *d, const char *sub, const struct sim_der *value)
{
	char txt[64];
	struct sim_der body = {.ok = true};
	ASN1_OBJECT *o;
	unsigned char *p = NULL;
	int n;

	snprintf(txt, sizeof txt, "1.2.840.113741.1.13.1%s", sub);
	o = OBJ_txt2obj(txt, 1);
	n = o ? i2d_ASN1_OBJECT(o, &p) : -1;
	if (n <= 0 || !value->ok) {
		d->ok = false;
	} else {
		sim_der_raw(&body, p, (size_t)n);
		sim_der_raw(&body, value->b, value->n);
		if (!body.ok)
			d->ok = false;
		else
			sim_der_tlv(d, 0x30, body.b, body.n);
	}
	OPENSSL_free(p);
	ASN1_OBJECT_free(o);
}

static void sim_der_pair_octets(struct sim_der *d, const char *sub, const uint8_t *v, size_t n)
{
	struct sim_der val = {.ok = true};

	sim_der_tlv(&val, 0x04, v, n);
	sim_der_pair(d, sub, &val);
}

static void sim_der_pair_uint(struct sim_der *d, const char *sub, uint8_t tag, unsigned v)
{
	struct sim_der val = {.ok = true};

	sim_der_uint(&val, tag, v);
	sim_der_pair(d, sub, &val);
}

/* PROF "SGX Extensions": SEQUENCE OF { PPID (.1), TCB (.2: .2.1-.2.16
 * component SVNs, .2.17 PCESVN, .2.18 CPUSVN), PCE-ID (.3), FMSPC (.4),
 * SGX Type (.5, 1 = Scalable), PlatformInstanceID (.6), Configuration
 * (.7: dynamicPlatform, cachedKeys, SMTEnabled) }, the last two as a
 * Platform CA's PCKs carry them. */
static bool sim_sgx_ext(struct sim_der *out, const uint8_t ppid[static 16], const uint8_t instance[static 16])
{
	struct sim_der tcb = {.ok = true}, tcb_seq = {.ok = true}, items = {.ok = true}, conf = {.ok = true},
		       conf_seq = {.ok = true};
	static const uint8_t pce_id[2] = {0, 0}, true_der[3] = {0x01, 0x01, 0xff};

	for (int k = 1; k <= 16; k++) {
		char sub[8];
		snprintf(sub, sizeof sub, ".2.%d", k);
		sim_der_pair_uint(&tcb, sub, 0x02, sim_sgx_tcb[k - 1]);
	}
	sim_der_pair_uint(&tcb, ".2.17", 0x02, KG_TDX_SIM_PCESVN);
	sim_der_pair_octets(&tcb, ".2.18", sim_sgx_tcb, 16); /* CPUSVN: the components, as on these parts */
	sim_der_tlv(&tcb_seq, 0x30, tcb.b, tcb.n);
	if (!tcb.ok)
		return false;

	sim_der_pair_octets(&items, ".1", ppid, 16);
	sim_der_pair(&items, ".2", &tcb_seq);
	sim_der_pair_octets(&items, ".3", pce_id, 2);
	sim_der_pair_octets(&items, ".4", sim_fmspc, 6);
	sim_der_pair_uint(&items, ".5", 0x0a, 1);
	sim_der_pair_octets(&items, ".6", instance, 16);
	for (int k = 1; k <= 3; k++) {
		struct sim_der b = {.ok = true};
		char sub[8];
		sim_der_raw(&b, true_der, sizeof true_der);
		snprintf(sub, sizeof sub, ".7.%d", k);
		sim_der_pair(&conf, sub, &b);
	}
	sim_der_tlv(&conf_seq, 0x30, conf.b, conf.n);
	if (!conf.ok)
		return false;
	sim_der_pair(&items, ".7", &conf_seq);
	if (!items.ok)
		return false;
	*out = (struct sim_der){.ok = true};
	sim_der_tlv(out, 0x30, items.b, items.n);
	return out->ok;
}

enum sim_cert_kind { SIM_ROOT, SIM_PCK_CA, SIM_PCK, SIM_TCB_SIGNING };

/* A certificate shaped as PROF's: CAs with critical basicConstraints
 * (root pathlen 1, PCK CA pathlen 0) and keyCertSign|cRLSign; end
 * entities CA:FALSE with digitalSignature|nonRepudiation; SKI and AKI;
 * ECDSA/SHA-256.  sgx_ext only for the PCK. */
static X509 *sim_cert(enum sim_cert_kind kind, const char *cn, X509 *issuer, EVP_PKEY *pub, EVP_PKEY *signer,
		      time_t now, const struct sim_der *sgx_ext)
{
	X509 *x = X509_new();
	X509_NAME *name = sim_name(cn);
	bool ca = kind == SIM_ROOT || kind == SIM_PCK_CA;
	long life = ca ? 25 * SIM_YEAR : 7 * SIM_YEAR; /* Intel: roots to 2049, PCKs 7 years */
	bool ok;

	ok = x && name && X509_set_version(x, 2) == 1 && sim_serial(x) && X509_set_subject_name(x, name) == 1 &&
	     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
	     X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, &now) != NULL &&
	     X509_time_adj_ex(X509_getm_notAfter(x), 0, life, &now) != NULL && X509_set_pubkey(x, pub) == 1;
	if (issuer == NULL)
		issuer = x;
	ok = ok &&
	     kg_sim_ext_conf(x, issuer, NID_basic_constraints,
			  kind == SIM_ROOT ? "critical,CA:TRUE,pathlen:1"
			  : ca		   ? "critical,CA:TRUE,pathlen:0"
					   : "critical,CA:FALSE") &&
	     kg_sim_ext_conf(x, issuer, NID_key_usage,
			  ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation") &&
	     kg_sim_ext_conf(x, issuer, NID_subject_key_identifier, "hash") &&
	     kg_sim_ext_conf(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (kind == SIM_PCK)
		ok = ok && sgx_ext && kg_sim_ext_der(x, "1.2.840.113741.1.13.1", sgx_ext->b, sgx_ext->n);
	ok = ok && X509_sign(x, signer, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static kg_err sim_pki_make(const char *dir, time_t now)
{
	EVP_PKEY *k_root = NULL, *k_ca = NULL, *k_pck = NULL, *k_sign = NULL, *k_ak = NULL;
	X509 *root = NULL, *ca = NULL, *pck = NULL, *sign = NULL;
	uint8_t ppid[16], instance[16];
	struct sim_der ext;
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE_OUT(RAND_bytes(ppid, sizeof ppid) == 1 && RAND_bytes(instance, sizeof instance) == 1,
		      KG_ERR_RANDOM);
	KG_ENSURE_OUT((k_root = EVP_EC_gen("P-256")) != NULL && (k_ca = EVP_EC_gen("P-256")) != NULL &&
			      (k_pck = EVP_EC_gen("P-256")) != NULL && (k_sign = EVP_EC_gen("P-256")) != NULL &&
			      (k_ak = EVP_EC_gen("P-256")) != NULL,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(sim_sgx_ext(&ext, ppid, instance), KG_ERR_CRYPTO);
	KG_ENSURE_OUT((root = sim_cert(SIM_ROOT, "Intel SGX Root CA", NULL, k_root, k_root, now, NULL)) != NULL,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT((ca = sim_cert(SIM_PCK_CA, "Intel SGX PCK Platform CA", root, k_ca, k_root, now, NULL)) != NULL,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT((pck = sim_cert(SIM_PCK, "Intel SGX PCK Certificate", ca, k_pck, k_ca, now, &ext)) != NULL,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT((sign = sim_cert(SIM_TCB_SIGNING, "Intel SGX TCB Signing", root, k_sign, k_root, now, NULL)) !=
			      NULL,
		      KG_ERR_CRYPTO);
	/* Keys first, the root last: the set is complete only when every
	 * file exists. */
	KG_TRY_OUT(kg_sim_write_key(dir, KG_TDX_SIM_ATTEST_KEY, k_ak));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_TDX_SIM_TCB_SIGNING_KEY, k_sign));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_TDX_SIM_PCK_KEY, k_pck));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_TDX_SIM_PCK_CA_KEY, k_ca));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_TDX_SIM_ROOT_KEY, k_root));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_TDX_SIM_TCB_SIGNING, sign));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_TDX_SIM_PCK, pck));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_TDX_SIM_PCK_CA, ca));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_TDX_SIM_ROOT, root));
	rc = KG_OK;
out:
	X509_free(root);
	X509_free(ca);
	X509_free(pck);
	X509_free(sign);
	EVP_PKEY_free(k_root); /* EVP_PKEY_free wipes private keys */
	EVP_PKEY_free(k_ca);
	EVP_PKEY_free(k_pck);
	EVP_PKEY_free(k_sign);
	EVP_PKEY_free(k_ak);
	ERR_clear_error();
	return rc;
}

/* ---------------------------------------------------------------------------
 * Collateral (PCS)
 */

/* ECDSA P-256/SHA-256 as r || s, 32 bytes each, big-endian. */
static kg_err sim_sign_rs(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t rs[static 64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t der_len = sizeof der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	kg_err rc = KG_ERR_CRYPTO;

	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &der_len, msg, len) == 1 && (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) != NULL) {
		ECDSA_SIG_get0(sig, &r, &s);
		if (BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(s, rs + 32, 32) == 32)
			rc = KG_OK;
	}
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

/* Intel writes identities in upper-case hex, FMSPCs in lower case. */
static void sim_hex(char *out, const uint8_t *in, size_t n, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

/* PCS's date format, "YYYY-MM-DDThh:mm:ssZ". */
static bool sim_date(char out[static 21], time_t t)
{
	struct tm tm;

	return gmtime_r(&t, &tm) != NULL && strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20;
}

/* [{"svn":n} x16] */
static json_t *sim_components(const uint8_t svn[static 16])
{
	json_t *a = json_array();

	for (int i = 0; a && i < 16; i++)
		if (json_array_append_new(a, json_pack("{s:i}", "svn", (int)svn[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* {"tcb":{...},"tcbDate":...,"tcbStatus":...[,"advisoryIDs":[...]]} */
static json_t *sim_level(json_t *tcb, const char *date, const char *status, bool advisories)
{
	json_t *l = json_pack("{s:o,s:s,s:s}", "tcb", tcb, "tcbDate", date, "tcbStatus", status);

	if (l && advisories &&
	    json_object_set_new(l, "advisoryIDs", json_pack("[s,s]", "INTEL-SA-01036", "INTEL-SA-01099")) != 0) {
		json_decref(l);
		return NULL;
	}
	return l;
}

/* PCS "TDX TCB Info" v3, the value of "tcbInfo". */
static json_t *sim_tcb_info(const char *issue, const char *next)
{
	static const uint8_t zero48[48];
	char fmspc[13], mrsigner[97];
	uint8_t tdx_new[16] = {0}, tdx_old[16] = {0};
	json_t *ids, *levels;

	sim_hex(fmspc, sim_fmspc, 6, false);
	sim_hex(mrsigner, zero48, 48, true);
	/* TDX components: [0] module SVN, [1] module major (0 here: a 1.0
	 * module is judged by these, a 1.5 one by tdxModuleIdentities),
	 * [2] the TDX late microcode update. */
	tdx_new[0] = sim_tee_tcb_svn[0];
	tdx_new[2] = sim_tee_tcb_svn[2];
	tdx_old[0] = SIM_OLD_MODULE_SVN;
	tdx_old[2] = SIM_OLD_MICROCODE;
	ids = json_pack("[{s:s,s:s,s:s,s:s,s:[o,o]}]", "id", "TDX_01", "mrsigner", mrsigner, "attributes",
			"0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF", "tcbLevels",
			sim_level(json_pack("{s:i}", "isvsvn", (int)sim_tee_tcb_svn[0]), "2024-11-13T00:00:00Z",
				  "UpToDate", false),
			sim_level(json_pack("{s:i}", "isvsvn", SIM_OLD_MODULE_SVN), "2024-03-13T00:00:00Z", "OutOfDate",
				  true));
	levels = json_pack(
		"[o,o]",
		sim_level(json_pack("{s:o,s:i,s:o}", "sgxtcbcomponents", sim_components(sim_sgx_tcb), "pcesvn",
				    KG_TDX_SIM_PCESVN, "tdxtcbcomponents", sim_components(tdx_new)),
			  "2024-11-13T00:00:00Z", "UpToDate", false),
		sim_level(json_pack("{s:o,s:i,s:o}", "sgxtcbcomponents", sim_components(sim_sgx_tcb_old), "pcesvn",
				    KG_TDX_SIM_PCESVN, "tdxtcbcomponents", sim_components(tdx_old)),
			  "2024-03-13T00:00:00Z", "OutOfDate", true));
	return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:i,s:{s:s,s:s,s:s},s:o,s:o}", "id", "TDX", "version", 3,
			 "issueDate", issue, "nextUpdate", next, "fmspc", fmspc, "pceId", "0000", "tcbType", 0,
			 "tcbEvaluationDataNumber", 17, "tdxModule", "mrsigner", mrsigner, "attributes",
			 "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF", "tdxModuleIdentities", ids,
			 "tcbLevels", levels);
}

/* PCS "TDX QE Identity" (Enclave Identity v2), the value of
 * "enclaveIdentity": as Intel's TD_QE identity, with the simulated QE's
 * SVNs. */
static json_t *sim_qe_identity(const char *issue, const char *next)
{
	char mrsigner[65];

	sim_hex(mrsigner, sim_qe_mrsigner, 32, true);
	return json_pack("{s:s,s:i,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:[o,o]}", "id", "TD_QE", "version", 2,
			 "issueDate", issue, "nextUpdate", next, "tcbEvaluationDataNumber", 17, "miscselect",
			 "00000000", "miscselectMask", "FFFFFFFF", "attributes", "11000000000000000000000000000000",
			 "attributesMask", "FBFFFFFFFFFFFFFF0000000000000000", "mrsigner", mrsigner, "isvprodid",
			 SIM_QE_ISVPRODID, "tcbLevels",
			 sim_level(json_pack("{s:i}", "isvsvn", KG_TDX_SIM_QE_ISVSVN), "2024-11-13T00:00:00Z",
				   "UpToDate", false),
			 sim_level(json_pack("{s:i}", "isvsvn", 2), "2024-03-13T00:00:00Z", "OutOfDate", false));
}

/* {"<name>":<value>,"signature":"<r||s hex>"}, the signature by key over
 * the exact bytes of <value> as written (PCS).  Takes value's reference. */
static kg_err sim_signed_doc(const char *dir, const char *file, const char *name, json_t *value, EVP_PKEY *key)
{
	char *body = NULL, *doc = NULL, sig_hex[129];
	uint8_t rs[64];
	size_t blen, dlen;
	kg_err rc;

	KG_ENSURE(value != NULL, KG_ERR_NOMEM);
	/* Compact, members in insertion order, as Intel's PCS writes them. */
	KG_ENSURE_OUT((body = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL, KG_ERR_NOMEM);
	blen = strlen(body);
	KG_TRY_OUT(sim_sign_rs(key, (const uint8_t *)body, blen, rs));
	sim_hex(sig_hex, rs, 64, false);
	dlen = blen + strlen(name) + 160;
	KG_ENSURE_OUT((doc = malloc(dlen)) != NULL, KG_ERR_NOMEM);
	dlen = (size_t)snprintf(doc, dlen, "{\"%s\":%s,\"signature\":\"%s\"}", name, body, sig_hex);
	KG_TRY_OUT(kg_sim_write(dir, file, doc, dlen, 0644));
	rc = KG_OK;
out:
	free(doc);
	free(body);
	json_decref(value);
	return rc;
}

/* An X.509 v2 CRL by issuer: thisUpdate, nextUpdate, AKI, CRL number,
 * optionally listing one certificate; ECDSA/SHA-256; written as DER. */
static kg_err sim_crl(const char *dir, const char *file, X509 *issuer, EVP_PKEY *key, X509 *revoked,
		      time_t this_update, time_t next_update)
{
	X509_CRL *crl = NULL;
	X509_REVOKED *r = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL;
	ASN1_INTEGER *number = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	unsigned char *der = NULL;
	int n;
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE_OUT((crl = X509_CRL_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((tu = ASN1_TIME_set(NULL, this_update)) != NULL && (nu = ASN1_TIME_set(NULL, next_update)) != NULL,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_CRL_set_version(crl, 1 /* v2 */) == 1 &&
			      X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
			      X509_CRL_set1_lastUpdate(crl, tu) == 1 && X509_CRL_set1_nextUpdate(crl, nu) == 1,
		      KG_ERR_CRYPTO);
	if (revoked) {
		KG_ENSURE_OUT((r = X509_REVOKED_new()) != NULL &&
				      X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) == 1 &&
				      X509_REVOKED_set_revocationDate(r, tu) == 1 && X509_CRL_add0_revoked(crl, r) == 1,
			      KG_ERR_CRYPTO);
		r = NULL; /* owned by crl */
	}
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	KG_ENSURE_OUT((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) != NULL &&
			      X509_CRL_add_ext(crl, aki, -1) == 1,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT((number = ASN1_INTEGER_new()) != NULL && ASN1_INTEGER_set_int64(number, this_update) == 1 &&
			      X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((n = i2d_X509_CRL(crl, &der)) > 0, KG_ERR_CRYPTO);
	KG_TRY_OUT(kg_sim_write(dir, file, der, (size_t)n, 0644));
	rc = KG_OK;
out:
	OPENSSL_free(der);
	X509_REVOKED_free(r);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}

kg_err kg_tdx_sim_collateral_issue(const char *dir, time_t now, bool revoke_pck)
{
	EVP_PKEY *k_root = NULL, *k_ca = NULL, *k_sign = NULL;
	X509 *root = NULL, *ca = NULL, *pck = NULL;
	uint8_t *sign_pem = NULL, *root_pem = NULL, *chain = NULL;
	size_t sign_len = 0, root_len = 0;
	time_t this_update = now - 3600, next_update = now + KG_TDX_SIM_COLLATERAL_DAYS * SIM_DAY;
	char issue[21], next[21];
	kg_err rc;

	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	KG_ENSURE(sim_date(issue, this_update) && sim_date(next, next_update), KG_ERR_INVALID_ARG);
	KG_TRY_OUT(kg_sim_read_key(dir, KG_TDX_SIM_ROOT_KEY, &k_root));
	KG_TRY_OUT(kg_sim_read_key(dir, KG_TDX_SIM_PCK_CA_KEY, &k_ca));
	KG_TRY_OUT(kg_sim_read_key(dir, KG_TDX_SIM_TCB_SIGNING_KEY, &k_sign));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_TDX_SIM_ROOT, SIM_FILE_MAX, &root));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_TDX_SIM_PCK_CA, SIM_FILE_MAX, &ca));
	KG_TRY_OUT(kg_sim_read_cert(dir, KG_TDX_SIM_PCK, SIM_FILE_MAX, &pck));

	KG_TRY_OUT(sim_signed_doc(dir, KG_TDX_SIM_TCB_INFO, "tcbInfo", sim_tcb_info(issue, next), k_sign));
	KG_TRY_OUT(
		sim_signed_doc(dir, KG_TDX_SIM_QE_IDENTITY, "enclaveIdentity", sim_qe_identity(issue, next), k_sign));
	/* PCS TCB-Info-Issuer-Chain: the signing certificate, then the root. */
	KG_TRY_OUT(kg_sim_read(dir, KG_TDX_SIM_TCB_SIGNING, SIM_FILE_MAX, &sign_pem, &sign_len));
	KG_TRY_OUT(kg_sim_read(dir, KG_TDX_SIM_ROOT, SIM_FILE_MAX, &root_pem, &root_len));
	KG_ENSURE_OUT((chain = malloc(sign_len + root_len)) != NULL, KG_ERR_NOMEM);
	memcpy(chain, sign_pem, sign_len);
	memcpy(chain + sign_len, root_pem, root_len);
	KG_TRY_OUT(kg_sim_write(dir, KG_TDX_SIM_SIGNING_CHAIN, chain, sign_len + root_len, 0644));
	KG_TRY_OUT(sim_crl(dir, KG_TDX_SIM_ROOT_CRL, root, k_root, NULL, this_update, next_update));
	KG_TRY_OUT(sim_crl(dir, KG_TDX_SIM_PCK_CRL, ca, k_ca, revoke_pck ? pck : NULL, this_update, next_update));
	rc = KG_OK;
out:
	free(chain);
	free(sign_pem);
	free(root_pem);
	X509_free(root);
	X509_free(ca);
	X509_free(pck);
	EVP_PKEY_free(k_root);
	EVP_PKEY_free(k_ca);
	EVP_PKEY_free(k_sign);
	return rc;
}

kg_err kg_tdx_sim_init(const char *dir)
{
	bool have_pki = true, have_coll = true;

	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	for (size_t i = 0; i < sizeof sim_pki_files / sizeof sim_pki_files[0]; i++)
		have_pki = have_pki && kg_sim_exists(dir, sim_pki_files[i]);
	if (!have_pki) {
		KG_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, KG_ERR_IO);
		KG_TRY(sim_pki_make(dir, time(NULL)));
		have_coll = false; /* collateral of another PKI would not verify */
	}
	for (size_t i = 0; i < 5; i++)
		have_coll = have_coll && kg_sim_exists(dir, sim_coll_files[i]);
	if (!have_coll)
		KG_TRY(kg_tdx_sim_collateral_issue(dir, time(NULL), false));
	return KG_OK;
}

kg_err kg_tdx_sim_collateral(const char *dir, struct kg_tdx_collateral *out, uint8_t **buf)
{
	uint8_t *part[5] = {NULL, NULL, NULL, NULL, NULL}, *all = NULL;
	size_t len[5] = {0, 0, 0, 0, 0}, total = 0, at = 0;
	const uint8_t **ptr[5] = {&out->tcb_info, &out->qe_identity, &out->tcb_signing_chain, &out->root_crl,
				  &out->pck_crl};
	size_t *plen[5] = {&out->tcb_info_len, &out->qe_identity_len, &out->tcb_signing_chain_len, &out->root_crl_len,
			   &out->pck_crl_len};
	kg_err rc;

	memset(out, 0, sizeof *out);
	*buf = NULL;
	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	for (int i = 0; i < 5; i++) {
		KG_TRY_OUT(kg_sim_read(dir, sim_coll_files[i], KG_TDX_COLLATERAL_MAX, &part[i], &len[i]));
		total += len[i];
	}
	KG_ENSURE_OUT((all = malloc(total ? total : 1)) != NULL, KG_ERR_NOMEM);
	for (int i = 0; i < 5; i++) {
		memcpy(all + at, part[i], len[i]);
		*ptr[i] = all + at;
		*plen[i] = len[i];
		at += len[i];
	}
	*buf = all;
	rc = KG_OK;
out:
	for (int i = 0; i < 5; i++)
		free(part[i]);
	if (rc != KG_OK)
		memset(out, 0, sizeof *out);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Quotes (QL)
 */

/* A writer into a buffer sized beforehand: overrunning it is a bug here. */
struct sim_w {
	uint8_t *p;
	size_t cap, at;
};

static uint8_t *sim_w_take(struct sim_w *w, size_t n)
{
	uint8_t *at;

	assert(n <= w->cap - w->at);
	at = w->p + w->at;
	w->at += n;
	return at;
}

static void sim_w_bytes(struct sim_w *w, const void *b, size_t n) { memcpy(sim_w_take(w, n), b, n); }

static void sim_w_le(struct sim_w *w, uint64_t v, size_t n)
{
	uint8_t *p = sim_w_take(w, n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* QL "TD Quote Body" (TDX 1.0), then the TDX 1.5 additions. */
static void sim_td_body(struct sim_w *w, const struct kg_tdx_sim_params *p, const uint8_t tee_tcb_svn[static 16],
			const uint8_t report_data[static 64], bool tdx15)
{
	/* 000 */ sim_w_bytes(w, tee_tcb_svn, 16);
	/* 010 */ sim_w_bytes(w, p->mr_seam, 48);
	/* 040 */ sim_w_bytes(w, p->mr_signer_seam, 48);
	/* 070 */ sim_w_le(w, p->seam_attributes, 8);
	/* 078 */ sim_w_le(w, p->td_attributes, 8);
	/* 080 */ sim_w_le(w, p->xfam, 8);
	/* 088 */ sim_w_bytes(w, p->mr_td, 48);
	/* 0B8 */ sim_w_bytes(w, p->mr_config_id, 48);
	/* 0E8 */ sim_w_bytes(w, p->mr_owner, 48);
	/* 118 */ sim_w_bytes(w, p->mr_owner_config, 48);
	/* 148 */ for (int i = 0; i < 4; i++)
		sim_w_bytes(w, p->rtmr[i], 48);
	/* 208 */ sim_w_bytes(w, report_data, 64);
	if (tdx15) {
		/* 248 */ sim_w_bytes(w, p->tee_tcb_svn2, 16);
		/* 258 */ sim_w_bytes(w, p->mr_service_td, 48);
	}
}

/* SDM "REPORT" body of the simulated TD QE: the platform's CPUSVN,
 * MISCSELECT 0, ATTRIBUTES INIT|MODE64BIT|PROVISIONKEY, XFRM x87|SSE, the QE's
 * MRENCLAVE/MRSIGNER/ISVPRODID/ISVSVN, and REPORTDATA binding the
 * attestation key (QL). */
static void sim_qe_report(uint8_t r[static KG_TDX_QE_REPORT_SIZE], const uint8_t binding[static 32])
{
	memset(r, 0, KG_TDX_QE_REPORT_SIZE);
	/* 000 */ memcpy(r + 0x000, sim_sgx_tcb, 16);
	/* 030 */ r[0x030] = 0x15; /* INIT | MODE64BIT | PROVISIONKEY */
	/* 038 */ r[0x038] = 0x03; /* XFRM: x87 | SSE */
	/* 040 */ memcpy(r + 0x040, sim_qe_mrenclave, 32);
	/* 080 */ memcpy(r + 0x080, sim_qe_mrsigner, 32);
	/* 100 */ r[0x100] = SIM_QE_ISVPRODID;
	/* 102 */ r[0x102] = KG_TDX_SIM_QE_ISVSVN;
	/* 140 */ memcpy(r + 0x140, binding, 32); /* 0x160..0x17F stay zero */
}

/* The certification data type 5 payload: PCK, PCK CA, root in PEM, and
 * the terminating NUL the QE writes. */
static kg_err sim_pck_chain(const char *dir, uint8_t **out, size_t *len)
{
	static const char *const files[3] = {KG_TDX_SIM_PCK, KG_TDX_SIM_PCK_CA, KG_TDX_SIM_ROOT};
	uint8_t *part[3] = {NULL, NULL, NULL}, *chain = NULL;
	size_t plen[3] = {0, 0, 0}, total = 1, at = 0;
	kg_err rc;

	*out = NULL;
	*len = 0;
	for (int i = 0; i < 3; i++) {
		KG_TRY_OUT(kg_sim_read(dir, files[i], SIM_FILE_MAX, &part[i], &plen[i]));
		total += plen[i];
	}
	KG_ENSURE_OUT(total <= KG_TDX_PCK_CHAIN_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE_OUT((chain = malloc(total)) != NULL, KG_ERR_NOMEM);
	for (int i = 0; i < 3; i++) {
		memcpy(chain + at, part[i], plen[i]);
		at += plen[i];
	}
	chain[at] = 0;
	*out = chain;
	*len = total;
	rc = KG_OK;
out:
	for (int i = 0; i < 3; i++)
		free(part[i]);
	return rc;
}

/* The attestation key's public point as QL writes it: x || y. */
static kg_err sim_point(EVP_PKEY *key, uint8_t xy[static 64])
{
	uint8_t pt[65];
	size_t n = 0;

	KG_ENSURE(EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
						 OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) == 1 &&
			  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n) == 1 &&
			  n == 65 && pt[0] == 0x04,
		  KG_ERR_CRYPTO);
	memcpy(xy, pt + 1, 64);
	return KG_OK;
}

kg_err kg_tdx_sim_quote(const char *dir, const struct kg_tdx_sim_params *p, const uint8_t report_data[static 64],
			uint8_t **quote, size_t *len)
{
	/* QL: the QE authentication data Intel's QE writes (0x00..0x1F). */
	static const uint8_t auth[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
					 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
	struct kg_tdx_sim_params defaults = kg_tdx_sim_params_default();
	EVP_PKEY *ak = NULL, *pck = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t *chain = NULL, ak_xy[64], binding[32], qe[KG_TDX_QE_REPORT_SIZE], tee_tcb_svn[16], *sig_at;
	size_t chain_len = 0, body_size, head_size, type6_size, sig_size;
	unsigned int hl = 0;
	struct sim_w w = {NULL, 0, 0};
	bool v4, tdx15;
	kg_err rc;

	*quote = NULL;
	*len = 0;
	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	if (p == NULL)
		p = &defaults;
	v4 = p->version == 4;
	tdx15 = !v4 && p->body_type == KG_TDX_BODY_TDX15;
	memcpy(tee_tcb_svn, p->tee_tcb_svn, 16);
	if (p->out_of_date)
		tee_tcb_svn[2] = SIM_OLD_MICROCODE;

	KG_TRY_OUT(kg_sim_read_key(dir, KG_TDX_SIM_ATTEST_KEY, &ak));
	KG_TRY_OUT(kg_sim_read_key(dir, KG_TDX_SIM_PCK_KEY, &pck));
	KG_TRY_OUT(sim_pck_chain(dir, &chain, &chain_len));
	KG_TRY_OUT(sim_point(ak, ak_xy));

	/* QL: REPORTDATA = SHA-256(attest_key || qe_auth_data) || 32 zeros. */
	KG_ENSURE_OUT((md = EVP_MD_CTX_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, ak_xy, 64) == 1 &&
			      EVP_DigestUpdate(md, auth, sizeof auth) == 1 && EVP_DigestFinal_ex(md, binding, &hl) == 1 &&
			      hl == 32,
		      KG_ERR_CRYPTO);
	sim_qe_report(qe, binding);

	body_size = tdx15 ? KG_TDX_BODY15_SIZE : KG_TDX_BODY10_SIZE;
	head_size = 48 + (v4 ? 0 : 6);
	type6_size = KG_TDX_QE_REPORT_SIZE + 64 + 2 + sizeof auth + 2 + 4 + chain_len;
	sig_size = 64 + 64 + 2 + 4 + type6_size;
	w.cap = head_size + body_size + 4 + sig_size;
	KG_ENSURE_OUT((w.p = calloc(1, w.cap)) != NULL, KG_ERR_NOMEM);

	/* QL header, 48 bytes. */
	/* 00 */ sim_w_le(&w, p->version, 2);
	/* 02 */ sim_w_le(&w, KG_TDX_ATT_KEY_ECDSA_P256, 2);
	/* 04 */ sim_w_le(&w, KG_TDX_TEE_TYPE, 4);
	/* 08 */ sim_w_le(&w, 0, 4); /* reserved */
	/* 0C */ sim_w_bytes(&w, sim_qe_vendor, 16);
	/* 1C */ sim_w_bytes(&w, p->user_data, 20);
	/* 30: v5's body descriptor. */
	if (!v4) {
		sim_w_le(&w, p->body_type, 2);
		sim_w_le(&w, body_size, 4);
	}
	sim_td_body(&w, p, tee_tcb_svn, report_data, tdx15);
	assert(w.at == head_size + body_size);

	/* QL "ECDSA 256-bit Quote Signature Data Structure". */
	sim_w_le(&w, sig_size, 4);
	sig_at = sim_w_take(&w, 64);
	KG_TRY_OUT(sim_sign_rs(ak, w.p, head_size + body_size, sig_at)); /* header || (descriptor ||) body */
	sim_w_bytes(&w, ak_xy, 64);
	sim_w_le(&w, KG_TDX_CERT_QE_REPORT, 2);
	sim_w_le(&w, type6_size, 4);
	sim_w_bytes(&w, qe, sizeof qe);
	KG_TRY_OUT(sim_sign_rs(pck, qe, sizeof qe, sim_w_take(&w, 64)));
	sim_w_le(&w, sizeof auth, 2);
	sim_w_bytes(&w, auth, sizeof auth);
	sim_w_le(&w, KG_TDX_CERT_PCK_CHAIN, 2);
	sim_w_le(&w, chain_len, 4);
	sim_w_bytes(&w, chain, chain_len);
	assert(w.at == w.cap);

	*quote = w.p;
	*len = w.cap;
	w.p = NULL;
	rc = KG_OK;
out:
	free(w.p);
	free(chain);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ak);
	EVP_PKEY_free(pck);
	ERR_clear_error();
	return rc;
}
