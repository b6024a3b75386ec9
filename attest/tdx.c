/*
 * Intel TDX DCAP quotes: the quote parser, the PCK certificate and its SGX
 * extensions, the verifier (PCK chain to the pinned Intel SGX Root CA,
 * QE report, attestation-key binding, quote signature), the collateral
 * check (TCB signing chain, JSON signatures, CRLs, dates), and the caches.
 * The collateral JSON and the TCB evaluation are in tdx_collateral.c.
 *
 * Sources, cited by key below:
 *   QL     Intel TDX DCAP Quoting Library API, Appendix A "Quote Format":
 *          header, TD quote body (TDX 1.0), v5 body descriptor and TDX 1.5
 *          body, "ECDSA 256-bit Quote Signature Data Structure", QE report
 *          certification data (type 6), PCK cert chain (type 5).
 *   SDM    Intel SDM vol. 3D "REPORT" (the QE's 384-byte REPORT_BODY).
 *   PROF   Intel SGX PCK Certificate and CRL Profile: SGX Extensions
 *          1.2.840.113741.1.13.1, the CA names, the CRLs.
 *   PCS    Intel PCS API v4 (collateral and its issuer chains).
 * checked against go-tdx-guest (abi/abi.go, verify/verify.go, pcs/pcs.go)
 * and the real quotes of shared/vectors/tdx.
 *
 * OpenSSL types stay inside this file.
 */
#define _GNU_SOURCE /* timegm */
#include "tdx.h"

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
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/cursor.h"
#include "../common/util.h"
#include "tdx_internal.h"

/* QL: Intel's QE vendor ID 939a7233-f79c-4ca9-940a-0db3957f0607. */
static const uint8_t intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					    0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

#define HEADER_SIZE 48

/* ---------------------------------------------------------------------------
 * Quote parser
 */

/* SDM "REPORT" body, offsets in hex. */
static kg_err qe_report_read(struct kg_cur *c, struct kg_tdx_qe_report *r)
{
	/* 000 */ KG_TRY(kg_cur_copy(c, r->cpu_svn, 16));
	/* 010 */ KG_TRY(kg_cur_u32le(c, &r->misc_select));
	/* 014 */ KG_TRY(kg_cur_skip(c, 12)); /* reserved */
	/* 020 */ KG_TRY(kg_cur_copy(c, r->isv_ext_prod_id, 16));
	/* 030 */ KG_TRY(kg_cur_copy(c, r->attributes, 16));
	/* 040 */ KG_TRY(kg_cur_copy(c, r->mr_enclave, 32));
	/* 060 */ KG_TRY(kg_cur_skip(c, 32));
	/* 080 */ KG_TRY(kg_cur_copy(c, r->mr_signer, 32));
	/* 0A0 */ KG_TRY(kg_cur_skip(c, 32));
	/* 0C0 */ KG_TRY(kg_cur_copy(c, r->config_id, 64));
	/* 100 */ KG_TRY(kg_cur_u16le(c, &r->isv_prod_id));
	/* 102 */ KG_TRY(kg_cur_u16le(c, &r->isv_svn));
	/* 104 */ KG_TRY(kg_cur_u16le(c, &r->config_svn));
	/* 106 */ KG_TRY(kg_cur_skip(c, 42));
	/* 130 */ KG_TRY(kg_cur_copy(c, r->isv_family_id, 16));
	/* 140 */ KG_TRY(kg_cur_copy(c, r->report_data, 64));
	return KG_OK;
}

/* QL "TD Quote Body" (TDX 1.0, 584 bytes), then the TDX 1.5 additions. */
static kg_err td_body_read(struct kg_cur *c, bool tdx15, struct kg_tdx_td_body *b)
{
	/* 000 */ KG_TRY(kg_cur_copy(c, b->tee_tcb_svn, 16));
	/* 010 */ KG_TRY(kg_cur_copy(c, b->mr_seam, 48));
	/* 040 */ KG_TRY(kg_cur_copy(c, b->mr_signer_seam, 48));
	/* 070 */ KG_TRY(kg_cur_u64le(c, &b->seam_attributes));
	/* 078 */ KG_TRY(kg_cur_u64le(c, &b->td_attributes));
	/* 080 */ KG_TRY(kg_cur_u64le(c, &b->xfam));
	/* 088 */ KG_TRY(kg_cur_copy(c, b->mr_td, 48));
	/* 0B8 */ KG_TRY(kg_cur_copy(c, b->mr_config_id, 48));
	/* 0E8 */ KG_TRY(kg_cur_copy(c, b->mr_owner, 48));
	/* 118 */ KG_TRY(kg_cur_copy(c, b->mr_owner_config, 48));
	/* 148 */ for (int i = 0; i < 4; i++)
		KG_TRY(kg_cur_copy(c, b->rtmr[i], 48));
	/* 208 */ KG_TRY(kg_cur_copy(c, b->report_data, 64));
	if (tdx15) {
		/* 248 */ KG_TRY(kg_cur_copy(c, b->tee_tcb_svn2, 16));
		/* 258 */ KG_TRY(kg_cur_copy(c, b->mr_service_td, 48));
	}
	return KG_OK;
}

/* QL "ECDSA 256-bit Quote Signature Data Structure" and the certification
 * data it nests: type 6 (QE report, its signature, QE authentication data,
 * then certification data type 5).  Each length must account exactly for
 * its content. */
static kg_err sig_data_read(struct kg_cur *c, struct kg_tdx_quote *q)
{
	struct kg_cur qe, pck;
	uint16_t type;
	uint32_t size;

	KG_TRY(kg_cur_copy(c, q->signature, 64));
	KG_TRY(kg_cur_copy(c, q->attest_key, 64));
	KG_TRY(kg_cur_u16le(c, &type));
	KG_ENSURE(type == KG_TDX_CERT_QE_REPORT, KG_ERR_TDX_CERT_TYPE);
	KG_TRY(kg_cur_u32le(c, &size));
	KG_TRY(kg_cur_sub(c, &qe, size));
	KG_TRY(kg_cur_done(c));

	KG_TRY(kg_cur_bytes(&qe, &q->qe_report_raw, KG_TDX_QE_REPORT_SIZE));
	{
		struct kg_cur r = kg_cur_init(q->qe_report_raw, KG_TDX_QE_REPORT_SIZE);
		KG_TRY(qe_report_read(&r, &q->qe_report));
		KG_TRY(kg_cur_done(&r));
	}
	KG_TRY(kg_cur_copy(&qe, q->qe_report_sig, 64));
	KG_TRY(kg_cur_u16le(&qe, &q->qe_auth_len));
	KG_TRY(kg_cur_bytes(&qe, &q->qe_auth_data, q->qe_auth_len));
	KG_TRY(kg_cur_u16le(&qe, &type));
	KG_ENSURE(type == KG_TDX_CERT_PCK_CHAIN, KG_ERR_TDX_CERT_TYPE);
	KG_TRY(kg_cur_u32le(&qe, &size));
	KG_ENSURE(size > 0 && size <= KG_TDX_PCK_CHAIN_MAX, KG_ERR_TDX_QUOTE_MALFORMED);
	KG_TRY(kg_cur_sub(&qe, &pck, size));
	KG_TRY(kg_cur_done(&qe));
	q->pck_chain = kg_cur_ptr(&pck);
	q->pck_chain_len = kg_cur_left(&pck);
	return KG_OK;
}

static kg_err quote_parse(const uint8_t *buf, size_t len, struct kg_tdx_quote *q)
{
	struct kg_cur c, body, sig;
	kg_err rc;

	KG_ENSURE(len <= KG_TDX_QUOTE_MAX, KG_ERR_TOO_LARGE);
	c = kg_cur_init(buf, len);
	/* QL header, 48 bytes. */
	/* 00 */ KG_TRY(kg_cur_u16le(&c, &q->version));
	KG_ENSURE(q->version == 4 || q->version == 5, KG_ERR_TDX_VERSION);
	/* 02 */ KG_TRY(kg_cur_u16le(&c, &q->att_key_type));
	KG_ENSURE(q->att_key_type == KG_TDX_ATT_KEY_ECDSA_P256, KG_ERR_TDX_ATT_KEY_TYPE);
	/* 04 */ KG_TRY(kg_cur_u32le(&c, &q->tee_type));
	KG_ENSURE(q->tee_type == KG_TDX_TEE_TYPE, KG_ERR_TDX_TEE_TYPE); /* 0 would be SGX */
	/* 08: reserved in TDX quotes (QE SVN / PCE SVN in SGX v3 quotes);
	 * kept, not judged: QVL and go-tdx-guest ignore them too. */
	/* 08 */ KG_TRY(kg_cur_u16le(&c, &q->reserved1));
	/* 0A */ KG_TRY(kg_cur_u16le(&c, &q->reserved2));
	/* 0C */ KG_TRY(kg_cur_copy(&c, q->qe_vendor_id, 16));
	KG_ENSURE(memcmp(q->qe_vendor_id, intel_qe_vendor, 16) == 0, KG_ERR_TDX_QE_VENDOR);
	/* 1C */ KG_TRY(kg_cur_copy(&c, q->user_data, 20));

	/* 30: v4 has the TDX 1.0 body; v5 a descriptor (u16 type, u32 size). */
	if (q->version == 4) {
		q->body_type = KG_TDX_BODY_TDX10;
		q->body_size = KG_TDX_BODY10_SIZE;
	} else {
		KG_TRY(kg_cur_u16le(&c, &q->body_type));
		KG_ENSURE(q->body_type == KG_TDX_BODY_TDX10 || q->body_type == KG_TDX_BODY_TDX15,
			  KG_ERR_TDX_BODY_TYPE); /* 1 = SGX enclave report */
		KG_TRY(kg_cur_u32le(&c, &q->body_size));
		KG_ENSURE(q->body_size == (q->body_type == KG_TDX_BODY_TDX15 ? KG_TDX_BODY15_SIZE : KG_TDX_BODY10_SIZE),
			  KG_ERR_TDX_QUOTE_MALFORMED);
	}
	KG_TRY(kg_cur_sub(&c, &body, q->body_size));
	KG_TRY(td_body_read(&body, q->body_type == KG_TDX_BODY_TDX15, &q->body));
	KG_TRY(kg_cur_done(&body));
	/* The signature covers everything so far (QL; v5 includes the body
	 * descriptor, go-tdx-guest TdQuoteBodyDescriptorToAbiBytes). */
	q->signed_len = len - kg_cur_left(&c);

	KG_TRY(kg_cur_u32le(&c, &q->sig_data_len));
	KG_TRY(kg_cur_sub(&c, &sig, q->sig_data_len));
	if ((rc = sig_data_read(&sig, q)) != KG_OK)
		return rc;
	/* After the signature data: zero padding only (fixed-size quote
	 * buffers); other bytes are unsigned and refused. */
	q->padding_len = kg_cur_left(&c);
	KG_TRY(kg_cur_zeros(&c, q->padding_len, KG_ERR_TRAILING_BYTES));
	return KG_OK;
}

kg_err kg_tdx_quote_parse(const uint8_t *buf, size_t len, struct kg_tdx_quote *out)
{
	kg_err rc;

	memset(out, 0, sizeof *out);
	KG_ENSURE(len <= KG_TDX_QUOTE_MAX, KG_ERR_TOO_LARGE);
	rc = quote_parse(buf, len, out);
	if (rc == KG_ERR_TRUNCATED || rc == KG_ERR_TRAILING_BYTES) {
		/* Inside the structure, a length that does not fit is a
		 * malformed quote; only bytes after it are "trailing". */
		if (rc == KG_ERR_TRUNCATED || out->padding_len == 0)
			rc = KG_ERR_TDX_QUOTE_MALFORMED;
	}
	if (rc != KG_OK)
		memset(out, 0, sizeof *out);
	return rc;
}

/* ---------------------------------------------------------------------------
 * X.509 and ECDSA helpers
 */

static kg_err sha256(const uint8_t *p, size_t len, uint8_t out[static 32])
{
	KG_ENSURE(EVP_Digest(p, len, out, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	return KG_OK;
}

static kg_err cert_fingerprint(const X509 *x, uint8_t fp[static 32])
{
	unsigned int n = 0;

	KG_ENSURE(X509_digest(x, EVP_sha256(), fp, &n) == 1 && n == 32, KG_ERR_CRYPTO);
	return KG_OK;
}

static bool key_is_p256(EVP_PKEY *pk)
{
	char group[32];
	size_t glen = 0;

	return pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) == 1 &&
	       strcmp(group, SN_X9_62_prime256v1) == 0;
}

/* The subject's single commonName equals want. */
static bool cert_cn_is(const X509 *x, const char *want)
{
	const X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	size_t n = strlen(want);

	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return false;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	return (size_t)ASN1_STRING_length(s) == n && memcmp(ASN1_STRING_get0_data(s), want, n) == 0;
}

/* child is signed by parent with ECDSA/SHA-256 under a P-256 key, and its
 * issuer names the parent. */
static bool link_ok(X509 *child, X509 *parent)
{
	EVP_PKEY *pk = X509_get0_pubkey(parent);

	return key_is_p256(pk) && X509_get_signature_nid(child) == NID_ecdsa_with_SHA256 &&
	       X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) == 0 &&
	       X509_verify(child, pk) == 1;
}

static bool asn1_time_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* Narrows [*nb, *na) to the certificate's validity. */
static bool window_cert(const X509 *x, time_t *nb, time_t *na)
{
	time_t b, a;

	if (!asn1_time_to_time(X509_get0_notBefore(x), &b) || !asn1_time_to_time(X509_get0_notAfter(x), &a))
		return false;
	if (b > *nb)
		*nb = b;
	if (a < *na)
		*na = a;
	return true;
}

/* r || s (big-endian, 32 bytes each) as a DER ECDSA-Sig-Value. */
static kg_err ecdsa_verify(EVP_PKEY *pk, const uint8_t rs[static 64], const uint8_t *msg, size_t len, kg_err bad)
{
	BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *md = NULL;
	int der_len;
	kg_err rc;

	r = BN_bin2bn(rs, 32, NULL);
	s = BN_bin2bn(rs + 32, 32, NULL);
	KG_ENSURE_OUT(r != NULL && s != NULL && (sig = ECDSA_SIG_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(ECDSA_SIG_set0(sig, r, s) == 1, KG_ERR_CRYPTO);
	r = s = NULL; /* owned by sig */
	KG_ENSURE_OUT((der_len = i2d_ECDSA_SIG(sig, &der)) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((md = EVP_MD_CTX_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_DigestVerify(md, der, (size_t)der_len, msg, len) == 1, bad);
	rc = KG_OK;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	ERR_clear_error();
	return rc;
}

/* The attestation key: a raw P-256 point x || y (QL). */
static kg_err attest_key_load(const uint8_t xy[static 64], EVP_PKEY **out)
{
	uint8_t point[65];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	kg_err rc;

	*out = NULL;
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, xy, 64);
	KG_ENSURE_OUT((bld = OSSL_PARAM_BLD_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) == 1 &&
			      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) == 1,
		      KG_ERR_NOMEM);
	KG_ENSURE_OUT((params = OSSL_PARAM_BLD_to_param(bld)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(EVP_PKEY_fromdata_init(ctx) == 1, KG_ERR_CRYPTO);
	/* A point not on the curve fails here: the quote cannot verify. */
	KG_ENSURE_OUT(EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1, KG_ERR_TDX_SIGNATURE);
	rc = KG_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return rc;
}

/* Every certificate of a PEM text (at most max).  Trailing NULs (the QE
 * writes a C string) are dropped; text outside the PEM blocks is skipped
 * as PEM readers do, and is covered by no signature either way.  A block
 * that does not decode fails. */
static kg_err pem_certs(const uint8_t *buf, size_t len, X509 **certs, size_t max, size_t *n, kg_err bad)
{
	BIO *b = NULL;
	X509 *x;
	unsigned long e;
	kg_err rc;

	*n = 0;
	while (len > 0 && buf[len - 1] == 0)
		len--; /* C strings from the QE carry their terminator */
	KG_ENSURE(len > 0 && len <= INT32_MAX, bad);
	ERR_clear_error();
	KG_ENSURE((b = BIO_new_mem_buf(buf, (int)len)) != NULL, KG_ERR_NOMEM);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (*n == max) {
			X509_free(x);
			rc = bad;
			goto out;
		}
		certs[(*n)++] = x;
	}
	e = ERR_peek_last_error();
	KG_ENSURE_OUT(e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE), bad);
	KG_ENSURE_OUT(*n > 0, bad);
	rc = KG_OK;
out:
	if (rc != KG_OK) {
		for (size_t i = 0; i < *n; i++)
			X509_free(certs[i]);
		*n = 0;
	}
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

/* ---------------------------------------------------------------------------
 * SGX extensions (PROF: SEQUENCE OF SEQUENCE { OID, value })
 */

#define SGX_OID "1.2.840.113741.1.13.1"

enum { EXT_PPID = 1, EXT_TCB = 2, EXT_PCEID = 4, EXT_FMSPC = 8, EXT_TYPE = 16 };

/* The i-th element of a decoded SEQUENCE as its own SEQUENCE [OID, value]. */
static ASN1_SEQUENCE_ANY *pair_at(ASN1_SEQUENCE_ANY *seq, int i, ASN1_OBJECT **oid, ASN1_TYPE **val)
{
	ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
	ASN1_SEQUENCE_ANY *pair;
	const unsigned char *p;

	if (t == NULL || t->type != V_ASN1_SEQUENCE)
		return NULL;
	p = t->value.sequence->data;
	pair = d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
	if (pair == NULL)
		return NULL;
	if (p != t->value.sequence->data + t->value.sequence->length || sk_ASN1_TYPE_num(pair) != 2 ||
	    sk_ASN1_TYPE_value(pair, 0)->type != V_ASN1_OBJECT) {
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		return NULL;
	}
	*oid = sk_ASN1_TYPE_value(pair, 0)->value.object;
	*val = sk_ASN1_TYPE_value(pair, 1);
	return pair;
}

static bool oid_is(const ASN1_OBJECT *o, const char *txt)
{
	char buf[64];
	int n = OBJ_obj2txt(buf, sizeof buf, o, 1);

	return n > 0 && (size_t)n < sizeof buf && strcmp(buf, txt) == 0;
}

static bool octets(const ASN1_TYPE *v, uint8_t *out, size_t n)
{
	if (v->type != V_ASN1_OCTET_STRING || (size_t)v->value.octet_string->length != n)
		return false;
	memcpy(out, v->value.octet_string->data, n);
	return true;
}

static bool integer(const ASN1_TYPE *v, int64_t max, int64_t *out)
{
	return v->type == V_ASN1_INTEGER && ASN1_INTEGER_get_int64(out, v->value.integer) == 1 && *out >= 0 &&
	       *out <= max;
}

/* .2: 16 component SVNs (.2.1-.2.16), PCESVN (.2.17), CPUSVN (.2.18). */
static bool tcb_parse(const ASN1_TYPE *v, struct kg_tdx_pck_info *info)
{
	const unsigned char *p;
	ASN1_SEQUENCE_ANY *seq;
	uint32_t seen = 0;
	bool ok = true;

	if (v->type != V_ASN1_SEQUENCE)
		return false;
	p = v->value.sequence->data;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, v->value.sequence->length);
	if (seq == NULL)
		return false;
	ok = p == v->value.sequence->data + v->value.sequence->length;
	for (int i = 0; ok && i < sk_ASN1_TYPE_num(seq); i++) {
		ASN1_OBJECT *oid;
		ASN1_TYPE *val;
		ASN1_SEQUENCE_ANY *pair = pair_at(seq, i, &oid, &val);
		char want[48];
		int k;
		int64_t x;

		if (pair == NULL) {
			ok = false;
			break;
		}
		for (k = 1; k <= 18; k++) {
			snprintf(want, sizeof want, SGX_OID ".2.%d", k);
			if (oid_is(oid, want))
				break;
		}
		if (k > 18 || (seen & (1u << k))) {
			ok = false; /* unknown or repeated component */
		} else if (k <= 16) {
			ok = integer(val, 255, &x);
			info->cpusvn_comp[k - 1] = (uint8_t)x;
		} else if (k == 17) {
			ok = integer(val, 65535, &x);
			info->pcesvn = (uint16_t)x;
		} else {
			ok = octets(val, info->cpusvn, 16);
		}
		seen |= 1u << k;
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return ok && seen == 0x7fffeu; /* bits 1..18 */
}

static kg_err pck_info_parse(X509 *x, struct kg_tdx_pck_info *info)
{
	ASN1_OBJECT *obj = NULL;
	ASN1_SEQUENCE_ANY *seq = NULL;
	const ASN1_OCTET_STRING *data;
	const unsigned char *p;
	unsigned seen = 0;
	int at;
	kg_err rc = KG_ERR_TDX_PCK_EXT;

	memset(info, 0, sizeof *info);
	KG_ENSURE((obj = OBJ_txt2obj(SGX_OID, 1)) != NULL, KG_ERR_NOMEM);
	at = X509_get_ext_by_OBJ(x, obj, -1);
	KG_ENSURE_OUT(at >= 0 && X509_get_ext_by_OBJ(x, obj, at) < 0, KG_ERR_TDX_PCK_EXT);
	data = X509_EXTENSION_get_data(X509_get_ext(x, at));
	p = data->data;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, data->length);
	KG_ENSURE_OUT(seq != NULL && p == data->data + data->length, KG_ERR_TDX_PCK_EXT);
	for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
		ASN1_OBJECT *oid;
		ASN1_TYPE *val;
		ASN1_SEQUENCE_ANY *pair = pair_at(seq, i, &oid, &val);
		unsigned bit = 0;
		bool ok = true;

		KG_ENSURE_OUT(pair != NULL, KG_ERR_TDX_PCK_EXT);
		if (oid_is(oid, SGX_OID ".1")) {
			bit = EXT_PPID;
			ok = octets(val, info->ppid, 16);
		} else if (oid_is(oid, SGX_OID ".2")) {
			bit = EXT_TCB;
			ok = tcb_parse(val, info);
		} else if (oid_is(oid, SGX_OID ".3")) {
			bit = EXT_PCEID;
			ok = octets(val, info->pce_id, 2);
		} else if (oid_is(oid, SGX_OID ".4")) {
			bit = EXT_FMSPC;
			ok = octets(val, info->fmspc, 6);
		} else if (oid_is(oid, SGX_OID ".5")) {
			int64_t t = -1;
			bit = EXT_TYPE;
			ok = val->type == V_ASN1_ENUMERATED &&
			     ASN1_ENUMERATED_get_int64(&t, val->value.enumerated) == 1 && t >= 0 && t <= 2;
			info->sgx_type = (int)t;
		}
		/* .6 PlatformInstanceID and .7 Configuration (multi-package
		 * platforms) are not evaluated for TDX; other OIDs likewise. */
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		KG_ENSURE_OUT(ok && (seen & bit) == 0, KG_ERR_TDX_PCK_EXT);
		seen |= bit;
	}
	KG_ENSURE_OUT(seen == (EXT_PPID | EXT_TCB | EXT_PCEID | EXT_FMSPC | EXT_TYPE), KG_ERR_TDX_PCK_EXT);
	rc = KG_OK;
out:
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	if (rc != KG_OK)
		memset(info, 0, sizeof *info);
	return rc;
}

kg_err kg_tdx_pck_info_from_der(const uint8_t *der, size_t len, struct kg_tdx_pck_info *out)
{
	const unsigned char *p = der;
	X509 *x;
	kg_err rc;

	memset(out, 0, sizeof *out);
	KG_ENSURE(der != NULL && len > 0 && len <= KG_TDX_PCK_CHAIN_MAX, KG_ERR_TDX_PCK_EXT);
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		X509_free(x);
		ERR_clear_error();
		return KG_ERR_TDX_PCK_CHAIN;
	}
	rc = pck_info_parse(x, out);
	X509_free(x);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The verifier
 */

/* SHA-256 of the DER of Intel's SGX Root CA (EXPECTED §2; the same
 * certificate as go-tdx-guest verify/trusted_root.pem). */
static const uint8_t intel_root_fp[32] = {0x44, 0xa0, 0x19, 0x6b, 0x2b, 0x99, 0xf8, 0x89, 0xb8, 0xe1, 0x49,
					  0xe9, 0x5b, 0x80, 0x7a, 0x35, 0x0e, 0x74, 0x24, 0x96, 0x43, 0x99,
					  0xe8, 0x85, 0xa7, 0xcb, 0xb8, 0xcc, 0xfa, 0xb6, 0x74, 0xd3};

#define PCK_CA_PLATFORM "Intel SGX PCK Platform CA"
#define PCK_CA_PROCESSOR "Intel SGX PCK Processor CA"
#define PCK_LEAF_CN "Intel SGX PCK Certificate"
#define TCB_SIGNING_CN "Intel SGX TCB Signing"

struct pck_entry {
	bool used;
	uint8_t key[32]; /* SHA-256 of the chain bytes as in the quote */
	X509 *leaf, *inter;
	EVP_PKEY *pkey; /* the leaf's */
	struct kg_tdx_pck_info info;
	bool processor;
	uint8_t inter_fp[32];
	time_t not_before, not_after;
	uint64_t last_use;
};

struct coll_entry {
	int refs; /* under the verifier's lock */
	uint8_t key[32];
	struct kg_tdx_tcb_info *ti;
	struct kg_tdx_qe_identity *qi;
	X509_CRL *root_crl, *pck_crl;
	time_t not_before, not_after, expires;
	/* The PCK CA whose key verified pck_crl (under the lock). */
	bool pck_crl_ok;
	uint8_t pck_crl_signer[32];
	uint64_t last_use;
};

struct kg_tdx_verifier {
	X509 *root;
	uint8_t root_fp[32];
	pthread_mutex_t lock; /* guards everything below */
	uint64_t tick;
	struct kg_tdx_cache_stats stats;
	struct pck_entry pck[KG_TDX_CACHE_MAX];
	struct coll_entry *coll[KG_TDX_COLLATERAL_CACHE_MAX];
};

static void pck_entry_clear(struct pck_entry *e)
{
	X509_free(e->leaf);
	X509_free(e->inter);
	EVP_PKEY_free(e->pkey);
	memset(e, 0, sizeof *e);
}

static void coll_entry_free(struct coll_entry *e)
{
	if (e == NULL)
		return;
	free(e->ti);
	free(e->qi);
	X509_CRL_free(e->root_crl);
	X509_CRL_free(e->pck_crl);
	free(e);
}

/* Drops one reference; the last one frees. */
static void coll_release(struct kg_tdx_verifier *v, struct coll_entry *e)
{
	bool last;

	if (e == NULL)
		return;
	pthread_mutex_lock(&v->lock);
	last = --e->refs == 0;
	pthread_mutex_unlock(&v->lock);
	if (last)
		coll_entry_free(e);
}

kg_err kg_tdx_verifier_new(struct kg_tdx_verifier **out, const char *root_pem)
{
	struct kg_tdx_verifier *v;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	X509 *certs[2] = {NULL, NULL};
	char path[4096];
	kg_err rc;

	*out = NULL;
	KG_ENSURE((v = calloc(1, sizeof *v)) != NULL, KG_ERR_NOMEM);
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return KG_ERR_INTERNAL;
	}
	if (root_pem == NULL) {
		KG_ENSURE_OUT((size_t)snprintf(path, sizeof path, "%s/intel/Intel_SGX_Root_CA.pem",
					       KG_SOURCE_ROOTS_DIR) < sizeof path,
			      KG_ERR_CONFIG);
		root_pem = path;
	}
	KG_TRY_OUT(kg_file_read(root_pem, 64 * 1024, &buf, &len));
	KG_TRY_OUT(pem_certs(buf, len, certs, 2, &n, KG_ERR_CONFIG));
	KG_ENSURE_OUT(n == 1, KG_ERR_CONFIG); /* one root, nothing else */
	v->root = certs[0];
	certs[0] = NULL;
	KG_TRY_OUT(cert_fingerprint(v->root, v->root_fp));
	if (root_pem == path) /* the shipped root: pinned */
		KG_ENSURE_OUT(memcmp(v->root_fp, intel_root_fp, 32) == 0, KG_ERR_CONFIG);
	KG_ENSURE_OUT(link_ok(v->root, v->root) && X509_check_ca(v->root) >= 1, KG_ERR_CONFIG);
	*out = v;
	v = NULL;
	rc = KG_OK;
out:
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	free(buf);
	ERR_clear_error();
	kg_tdx_verifier_free(v);
	return rc;
}

void kg_tdx_verifier_free(struct kg_tdx_verifier *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < KG_TDX_CACHE_MAX; i++)
		pck_entry_clear(&v->pck[i]);
	for (size_t i = 0; i < KG_TDX_COLLATERAL_CACHE_MAX; i++) {
		assert(v->coll[i] == NULL || v->coll[i]->refs == 1); /* no verification in flight */
		coll_entry_free(v->coll[i]);
	}
	X509_free(v->root);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

void kg_tdx_verifier_stats(struct kg_tdx_verifier *v, struct kg_tdx_cache_stats *out)
{
	pthread_mutex_lock(&v->lock);
	*out = v->stats;
	pthread_mutex_unlock(&v->lock);
}

/* ---------------------------------------------------------------------------
 * PCK chain, with the cache in front
 */

/* A copy of the entry with its own references. */
static bool pck_entry_copy(const struct pck_entry *from, struct pck_entry *to)
{
	*to = *from;
	if (X509_up_ref(to->leaf) != 1)
		return false;
	if (X509_up_ref(to->inter) != 1) {
		X509_free(to->leaf);
		return false;
	}
	if (EVP_PKEY_up_ref(to->pkey) != 1) {
		X509_free(to->leaf);
		X509_free(to->inter);
		return false;
	}
	return true;
}

static bool pck_lookup(struct kg_tdx_verifier *v, const uint8_t key[static 32], time_t now, struct pck_entry *out)
{
	bool hit = false;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_TDX_CACHE_MAX && !hit; i++) {
		struct pck_entry *e = &v->pck[i];
		if (!e->used || memcmp(e->key, key, 32) != 0)
			continue;
		if (now < e->not_before || now >= e->not_after)
			continue; /* the cold path says why */
		if (!pck_entry_copy(e, out))
			continue;
		e->last_use = ++v->tick;
		hit = true;
	}
	if (hit)
		v->stats.pck_hits++;
	else
		v->stats.pck_misses++;
	pthread_mutex_unlock(&v->lock);
	return hit;
}

static void pck_insert(struct kg_tdx_verifier *v, const struct pck_entry *n)
{
	struct pck_entry *slot = NULL, copy;

	if (!pck_entry_copy(n, &copy))
		return;
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_TDX_CACHE_MAX; i++) {
		struct pck_entry *e = &v->pck[i];
		if (e->used && memcmp(e->key, n->key, 32) == 0) {
			slot = e; /* verified meanwhile by another thread */
			break;
		}
		if (slot == NULL || !e->used || (slot->used && e->last_use < slot->last_use))
			slot = e;
	}
	assert(slot != NULL);
	pck_entry_clear(slot);
	*slot = copy;
	slot->used = true;
	slot->last_use = ++v->tick;
	pthread_mutex_unlock(&v->lock);
}

/* The full check of PCK leaf -> PCK CA -> root at now (PROF; QL type 5:
 * leaf, intermediate, root in that order). */
static kg_err pck_verify_cold(struct kg_tdx_verifier *v, const struct kg_tdx_quote *q, time_t now,
			      struct pck_entry *e)
{
	X509 *certs[3] = {NULL, NULL, NULL};
	size_t n = 0;
	uint8_t fp[32];
	kg_err rc;

	memset(e, 0, sizeof *e);
	KG_TRY(pem_certs(q->pck_chain, q->pck_chain_len, certs, 3, &n, KG_ERR_TDX_PCK_CHAIN));
	KG_ENSURE_OUT(n >= 2, KG_ERR_TDX_PCK_CHAIN);
	if (n == 3) { /* a root in the quote must be the trust anchor itself */
		KG_TRY_OUT(cert_fingerprint(certs[2], fp));
		KG_ENSURE_OUT(memcmp(fp, v->root_fp, 32) == 0, KG_ERR_TDX_UNTRUSTED_ROOT);
	}
	KG_ENSURE_OUT(X509_NAME_cmp(X509_get_issuer_name(certs[1]), X509_get_subject_name(v->root)) == 0,
		      KG_ERR_TDX_UNTRUSTED_ROOT);
	KG_ENSURE_OUT(link_ok(certs[1], v->root), KG_ERR_TDX_PCK_CHAIN);
	KG_ENSURE_OUT(link_ok(certs[0], certs[1]), KG_ERR_TDX_PCK_CHAIN);
	/* The intermediate is a CA named as PROF names the two PCK CAs; the
	 * leaf is not a CA. */
	KG_ENSURE_OUT(X509_check_ca(certs[1]) >= 1 && X509_check_ca(certs[0]) == 0, KG_ERR_TDX_PCK_CHAIN);
	e->processor = cert_cn_is(certs[1], PCK_CA_PROCESSOR);
	KG_ENSURE_OUT(e->processor || cert_cn_is(certs[1], PCK_CA_PLATFORM), KG_ERR_TDX_PCK_CHAIN);
	KG_ENSURE_OUT(cert_cn_is(certs[0], PCK_LEAF_CN), KG_ERR_TDX_PCK_CHAIN);
	KG_ENSURE_OUT(key_is_p256(X509_get0_pubkey(certs[0])), KG_ERR_TDX_PCK_CHAIN);

	e->not_before = 0;
	e->not_after = (time_t)INT64_MAX;
	for (int i = 0; i < 2; i++)
		KG_ENSURE_OUT(window_cert(certs[i], &e->not_before, &e->not_after), KG_ERR_TDX_PCK_CHAIN);
	KG_ENSURE_OUT(window_cert(v->root, &e->not_before, &e->not_after), KG_ERR_TDX_PCK_CHAIN);
	KG_ENSURE_OUT(now >= e->not_before && now < e->not_after, KG_ERR_TDX_PCK_EXPIRED);

	KG_TRY_OUT(pck_info_parse(certs[0], &e->info));
	KG_TRY_OUT(cert_fingerprint(certs[1], e->inter_fp));
	KG_TRY_OUT(sha256(q->pck_chain, q->pck_chain_len, e->key));
	KG_ENSURE_OUT((e->pkey = X509_get0_pubkey(certs[0])) != NULL && EVP_PKEY_up_ref(e->pkey) == 1, KG_ERR_CRYPTO);
	e->leaf = certs[0];
	e->inter = certs[1];
	certs[0] = certs[1] = NULL;
	rc = KG_OK;
out:
	if (rc != KG_OK) {
		e->pkey = NULL;
		pck_entry_clear(e);
	}
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	ERR_clear_error();
	return rc;
}

static kg_err pck_get(struct kg_tdx_verifier *v, const struct kg_tdx_quote *q, time_t now, struct pck_entry *e)
{
	uint8_t key[32];

	KG_TRY(sha256(q->pck_chain, q->pck_chain_len, key));
	if (pck_lookup(v, key, now, e))
		return KG_OK;
	KG_TRY(pck_verify_cold(v, q, now, e));
	pck_insert(v, e);
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * The quote against its PCK
 */

static kg_err quote_crypto(const struct kg_tdx_quote *q, const uint8_t *buf, EVP_PKEY *pck)
{
	EVP_PKEY *ak = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t h[32];
	static const uint8_t zero[32];
	unsigned int hl = 0;
	kg_err rc;

	/* QL: the PCK signs the QE report. */
	KG_TRY(ecdsa_verify(pck, q->qe_report_sig, q->qe_report_raw, KG_TDX_QE_REPORT_SIZE, KG_ERR_TDX_QE_REPORT));
	/* QL: the QE binds the attestation key: REPORTDATA = SHA-256(
	 * attest_key || qe_auth_data) || 32 zero bytes. */
	KG_ENSURE((md = EVP_MD_CTX_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, q->attest_key, 64) == 1 &&
			      EVP_DigestUpdate(md, q->qe_auth_data, q->qe_auth_len) == 1 &&
			      EVP_DigestFinal_ex(md, h, &hl) == 1 && hl == 32,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(CRYPTO_memcmp(h, q->qe_report.report_data, 32) == 0 &&
			      CRYPTO_memcmp(zero, q->qe_report.report_data + 32, 32) == 0,
		      KG_ERR_TDX_QE_BINDING);
	/* QL: the attestation key signs header || (descriptor ||) body. */
	KG_TRY_OUT(attest_key_load(q->attest_key, &ak));
	KG_TRY_OUT(ecdsa_verify(ak, q->signature, buf, q->signed_len, KG_ERR_TDX_SIGNATURE));
	rc = KG_OK;
out:
	EVP_PKEY_free(ak);
	EVP_MD_CTX_free(md);
	return rc;
}

static void claims_fill(const struct kg_tdx_quote *q, const struct pck_entry *e, struct kg_tdx_claims *c)
{
	memset(c, 0, sizeof *c);
	c->version = q->version;
	c->body_type = q->body_type;
	c->tee_type = q->tee_type;
	memcpy(c->qe_vendor_id, q->qe_vendor_id, 16);
	memcpy(c->user_data, q->user_data, 20);
	c->td = q->body;
	c->debug = q->body.td_attributes & KG_TDX_TD_ATTR_DEBUG;
	c->sept_ve_disable = q->body.td_attributes & KG_TDX_TD_ATTR_SEPT_VE_DISABLE;
	c->pks = q->body.td_attributes & KG_TDX_TD_ATTR_PKS;
	c->perfmon = q->body.td_attributes & KG_TDX_TD_ATTR_PERFMON;
	memcpy(c->fmspc, e->info.fmspc, 6);
	memcpy(c->pce_id, e->info.pce_id, 2);
	memcpy(c->pck_cpusvn, e->info.cpusvn_comp, 16);
	c->pck_pcesvn = e->info.pcesvn;
	c->pck_processor_ca = e->processor;
	memcpy(c->qe_mr_enclave, q->qe_report.mr_enclave, 32);
	memcpy(c->qe_mr_signer, q->qe_report.mr_signer, 32);
	c->qe_isv_prod_id = q->qe_report.isv_prod_id;
	c->qe_isv_svn = q->qe_report.isv_svn;
}

/* Parse, PCK, QE report, binding, signature: e holds the verified PCK. */
static kg_err verify_quote_part(struct kg_tdx_verifier *v, const uint8_t *buf, size_t len, time_t now,
				struct kg_tdx_quote *q, struct pck_entry *e)
{
	kg_err rc;

	memset(e, 0, sizeof *e);
	KG_ENSURE(v != NULL, KG_ERR_INVALID_ARG);
	KG_TRY(kg_tdx_quote_parse(buf, len, q));
	KG_TRY(pck_get(v, q, now, e));
	if ((rc = quote_crypto(q, buf, e->pkey)) != KG_OK)
		pck_entry_clear(e);
	return rc;
}

kg_err kg_tdx_verify_quote(struct kg_tdx_verifier *v, const uint8_t *quote, size_t len, time_t now,
			   struct kg_tdx_claims *out)
{
	struct kg_tdx_quote q;
	struct pck_entry e;

	if (out)
		memset(out, 0, sizeof *out);
	KG_TRY(verify_quote_part(v, quote, len, now, &q, &e));
	if (out)
		claims_fill(&q, &e, out);
	pck_entry_clear(&e);
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * Collateral, with the cache in front
 */

static kg_err crl_load(const uint8_t *buf, size_t len, X509_CRL **out)
{
	X509_CRL *crl = NULL;

	*out = NULL;
	KG_ENSURE(len <= KG_TDX_COLLATERAL_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(len > 0 && len <= INT32_MAX, KG_ERR_TDX_COLLATERAL_INVALID);
	if (buf[0] == 0x30) {
		const unsigned char *p = buf;
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl && p != buf + len) {
			X509_CRL_free(crl);
			crl = NULL;
		}
	} else {
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		KG_ENSURE(b != NULL, KG_ERR_NOMEM);
		crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	ERR_clear_error();
	KG_ENSURE(crl != NULL, KG_ERR_TDX_COLLATERAL_INVALID);
	*out = crl;
	return KG_OK;
}

static bool window_crl(const X509_CRL *crl, time_t *nb, time_t *na)
{
	time_t b, a;

	/* A CRL without nextUpdate could never be called stale. */
	if (!asn1_time_to_time(X509_CRL_get0_lastUpdate(crl), &b) ||
	    !asn1_time_to_time(X509_CRL_get0_nextUpdate(crl), &a))
		return false;
	if (b > *nb)
		*nb = b;
	if (a < *na)
		*na = a;
	return true;
}

static bool crl_lists(X509_CRL *crl, const X509 *x)
{
	X509_REVOKED *r = NULL;

	return X509_CRL_get0_by_serial(crl, &r, X509_get0_serialNumber(x)) > 0;
}

static kg_err collateral_key(const struct kg_tdx_collateral *c, uint8_t key[static 32])
{
	const uint8_t *parts[5] = {c->tcb_info, c->qe_identity, c->tcb_signing_chain, c->root_crl, c->pck_crl};
	size_t lens[5] = {c->tcb_info_len, c->qe_identity_len, c->tcb_signing_chain_len, c->root_crl_len,
			  c->pck_crl_len};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int hl = 0;
	bool ok;

	KG_ENSURE(md != NULL, KG_ERR_NOMEM);
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (int i = 0; i < 5 && ok; i++) {
		uint8_t l[8];
		for (int k = 0; k < 8; k++)
			l[k] = (uint8_t)((uint64_t)lens[i] >> (8 * k)); /* length-prefixed: no ambiguity */
		ok = EVP_DigestUpdate(md, l, 8) == 1 && EVP_DigestUpdate(md, parts[i], lens[i]) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(md, key, &hl) == 1 && hl == 32;
	EVP_MD_CTX_free(md);
	return ok ? KG_OK : KG_ERR_CRYPTO;
}

/* Everything about the collateral that does not depend on the quote. */
static kg_err collateral_verify_cold(struct kg_tdx_verifier *v, const struct kg_tdx_collateral *c, time_t now,
				     struct coll_entry **out)
{
	struct coll_entry *e = NULL;
	struct kg_tdx_signed ti_sig, qi_sig;
	X509 *certs[2] = {NULL, NULL};
	size_t n = 0;
	uint8_t fp[32];
	kg_err rc;

	*out = NULL;
	KG_ENSURE(c->tcb_signing_chain_len <= KG_TDX_COLLATERAL_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE((e = calloc(1, sizeof *e)) != NULL, KG_ERR_NOMEM);
	e->refs = 1;
	KG_TRY_OUT(kg_tdx_tcb_info_parse(c->tcb_info, c->tcb_info_len, &e->ti, &ti_sig));
	KG_TRY_OUT(kg_tdx_qe_identity_parse(c->qe_identity, c->qe_identity_len, &e->qi, &qi_sig));

	/* PCS: the TCB-Info-Issuer-Chain, "Intel SGX TCB Signing" then
	 * (optionally) the root, which must be the trust anchor. */
	KG_TRY_OUT(pem_certs(c->tcb_signing_chain, c->tcb_signing_chain_len, certs, 2, &n,
			     KG_ERR_TDX_COLLATERAL_INVALID));
	if (n == 2) {
		KG_TRY_OUT(cert_fingerprint(certs[1], fp));
		KG_ENSURE_OUT(memcmp(fp, v->root_fp, 32) == 0, KG_ERR_TDX_COLLATERAL_INVALID);
	}
	KG_ENSURE_OUT(link_ok(certs[0], v->root) && X509_check_ca(certs[0]) == 0 &&
			      cert_cn_is(certs[0], TCB_SIGNING_CN),
		      KG_ERR_TDX_COLLATERAL_INVALID);
	KG_TRY_OUT(ecdsa_verify(X509_get0_pubkey(certs[0]), ti_sig.sig, ti_sig.body, ti_sig.body_len,
				KG_ERR_TDX_COLLATERAL_INVALID));
	KG_TRY_OUT(ecdsa_verify(X509_get0_pubkey(certs[0]), qi_sig.sig, qi_sig.body, qi_sig.body_len,
				KG_ERR_TDX_COLLATERAL_INVALID));

	/* The root CA's CRL, signed by the root; it must not list the TCB
	 * signing certificate. */
	KG_TRY_OUT(crl_load(c->root_crl, c->root_crl_len, &e->root_crl));
	KG_ENSURE_OUT(X509_NAME_cmp(X509_CRL_get_issuer(e->root_crl), X509_get_subject_name(v->root)) == 0 &&
			      X509_CRL_verify(e->root_crl, X509_get0_pubkey(v->root)) == 1,
		      KG_ERR_TDX_COLLATERAL_INVALID);
	KG_ENSURE_OUT(!crl_lists(e->root_crl, certs[0]), KG_ERR_TDX_COLLATERAL_INVALID);
	/* The PCK CRL: its signature is checked against the quote's PCK CA. */
	KG_TRY_OUT(crl_load(c->pck_crl, c->pck_crl_len, &e->pck_crl));

	/* When all of it holds: the intersection of the documents' and the
	 * signer's validity. */
	e->not_before = 0;
	e->not_after = (time_t)INT64_MAX;
	KG_ENSURE_OUT(window_cert(certs[0], &e->not_before, &e->not_after) &&
			      window_cert(v->root, &e->not_before, &e->not_after) &&
			      window_crl(e->root_crl, &e->not_before, &e->not_after) &&
			      window_crl(e->pck_crl, &e->not_before, &e->not_after),
		      KG_ERR_TDX_COLLATERAL_INVALID);
	if (e->ti->issue_date > e->not_before)
		e->not_before = e->ti->issue_date;
	if (e->qi->issue_date > e->not_before)
		e->not_before = e->qi->issue_date;
	e->expires = e->ti->next_update < e->qi->next_update ? e->ti->next_update : e->qi->next_update;
	if (e->expires < e->not_after)
		e->not_after = e->expires;
	KG_ENSURE_OUT(now >= e->not_before && now < e->not_after, KG_ERR_TDX_COLLATERAL_EXPIRED);
	/* Sort the CRLs' entries now, while nobody else holds them. */
	(void)crl_lists(e->pck_crl, certs[0]);
	KG_TRY_OUT(collateral_key(c, e->key));
	*out = e;
	e = NULL;
	rc = KG_OK;
out:
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	coll_entry_free(e);
	ERR_clear_error();
	return rc;
}

static kg_err collateral_get(struct kg_tdx_verifier *v, const struct kg_tdx_collateral *c, time_t now,
			     struct coll_entry **out)
{
	struct coll_entry *e = NULL, *evict = NULL;
	uint8_t key[32];
	size_t slot = 0;

	*out = NULL;
	KG_TRY(collateral_key(c, key));
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_TDX_COLLATERAL_CACHE_MAX && e == NULL; i++) {
		struct coll_entry *x = v->coll[i];
		if (x && memcmp(x->key, key, 32) == 0 && now >= x->not_before && now < x->not_after) {
			e = x;
			e->refs++;
			e->last_use = ++v->tick;
		}
	}
	if (e)
		v->stats.collateral_hits++;
	else
		v->stats.collateral_misses++;
	pthread_mutex_unlock(&v->lock);
	if (e) {
		*out = e;
		return KG_OK;
	}

	KG_TRY(collateral_verify_cold(v, c, now, &e));
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_TDX_COLLATERAL_CACHE_MAX; i++) {
		struct coll_entry *x = v->coll[i];
		if (x == NULL || memcmp(x->key, key, 32) == 0) {
			slot = i;
			break;
		}
		if (x->last_use < v->coll[slot]->last_use)
			slot = i;
	}
	evict = v->coll[slot];
	v->coll[slot] = e;
	e->refs++; /* the cache's */
	e->last_use = ++v->tick;
	pthread_mutex_unlock(&v->lock);
	coll_release(v, evict);
	*out = e;
	return KG_OK;
}

/* Revocation of the quote's PCK chain, with the PCK CRL's signature
 * checked against the quote's PCK CA once per (CRL, CA). */
static kg_err revocation_check(struct kg_tdx_verifier *v, struct coll_entry *ce, const struct pck_entry *pe)
{
	bool known;

	KG_ENSURE(!crl_lists(ce->root_crl, pe->inter), KG_ERR_TDX_PCK_REVOKED);
	/* The PCK CRL of the CA that issued this PCK (Platform or Processor). */
	KG_ENSURE(X509_NAME_cmp(X509_CRL_get_issuer(ce->pck_crl), X509_get_subject_name(pe->inter)) == 0,
		  KG_ERR_TDX_COLLATERAL_INVALID);
	pthread_mutex_lock(&v->lock);
	known = ce->pck_crl_ok && memcmp(ce->pck_crl_signer, pe->inter_fp, 32) == 0;
	pthread_mutex_unlock(&v->lock);
	if (!known) {
		int ok = X509_CRL_verify(ce->pck_crl, X509_get0_pubkey(pe->inter));
		ERR_clear_error();
		KG_ENSURE(ok == 1, KG_ERR_TDX_COLLATERAL_INVALID);
		pthread_mutex_lock(&v->lock);
		ce->pck_crl_ok = true;
		memcpy(ce->pck_crl_signer, pe->inter_fp, 32);
		pthread_mutex_unlock(&v->lock);
	}
	KG_ENSURE(!crl_lists(ce->pck_crl, pe->leaf), KG_ERR_TDX_PCK_REVOKED);
	return KG_OK;
}

kg_err kg_tdx_verify(struct kg_tdx_verifier *v, const uint8_t *quote, size_t len,
		     const struct kg_tdx_collateral *coll, time_t now, struct kg_tdx_claims *out)
{
	struct kg_tdx_quote q;
	struct pck_entry pe;
	struct coll_entry *ce = NULL;
	struct kg_tdx_claims *c = NULL;
	kg_err rc;

	if (out)
		memset(out, 0, sizeof *out);
	KG_TRY(verify_quote_part(v, quote, len, now, &q, &pe));
	KG_ENSURE_OUT(coll != NULL && coll->tcb_info && coll->tcb_info_len && coll->qe_identity &&
			      coll->qe_identity_len && coll->tcb_signing_chain && coll->tcb_signing_chain_len &&
			      coll->root_crl && coll->root_crl_len && coll->pck_crl && coll->pck_crl_len,
		      KG_ERR_TDX_COLLATERAL_MISSING);
	KG_TRY_OUT(collateral_get(v, coll, now, &ce));
	KG_TRY_OUT(revocation_check(v, ce, &pe));
	KG_ENSURE_OUT((c = malloc(sizeof *c)) != NULL, KG_ERR_NOMEM);
	claims_fill(&q, &pe, c);
	KG_TRY_OUT(kg_tdx_tcb_evaluate(&q.body, &q.qe_report, &pe.info, ce->ti, ce->qi, c));
	c->collateral_expires = ce->expires;
	if (out)
		*out = *c;
	rc = KG_OK;
out:
	free(c);
	coll_release(v, ce);
	pck_entry_clear(&pe);
	return rc;
}
