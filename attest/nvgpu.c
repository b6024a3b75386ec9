/*
 * NVIDIA GPU / NVSwitch SPDM evidence: the report parser, the device chain
 * to the pinned NVIDIA Device Identity CA, the FWID binding, the report
 * signature, the RIM comparison and the claims.  The RIM reader and its
 * XML signature are in nvgpu_rim.c.  See nvgpu.h for the sources.
 */
#include "nvgpu.h"

#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/cursor.h"
#include "../common/util.h"
#include "nvgpu_internal.h"
#include "p384.h"

/* DSP0274 1.1 §10.11: request and response codes. */
#define SPDM_VERSION_11 0x11
#define SPDM_GET_MEASUREMENTS 0xe0
#define SPDM_MEASUREMENTS 0x60
#define SPDM_MEAS_SPEC_DMTF 0x01
/* Param1 bit 0 of GET_MEASUREMENTS: a signature is requested. */
#define SPDM_REQ_SIGNATURE 0x01

/* SHA-256 of the shipped roots (EXPECTED.md §7.0, §7.1). */
static const uint8_t device_root_pin[32] = {
	0x10, 0x2b, 0xf6, 0x59, 0xd5, 0x41, 0x96, 0x14, 0xc9, 0xd8, 0xe6, 0xae, 0xce, 0xbc, 0x80, 0x45,
	0x4e, 0xb2, 0x6b, 0x1d, 0xf6, 0xa7, 0x69, 0xac, 0x72, 0x0b, 0x9a, 0x69, 0x0b, 0x16, 0x7b, 0x48,
};
static const uint8_t rim_root_pin[32] = {
	0x12, 0x97, 0x7b, 0x51, 0x15, 0xac, 0xb0, 0x38, 0x11, 0x79, 0x27, 0x9f, 0xff, 0xeb, 0x5a, 0x8c,
	0x4d, 0x26, 0x49, 0x71, 0xeb, 0xb3, 0x22, 0x98, 0x02, 0x3a, 0x46, 0x5f, 0xa4, 0x1d, 0xf5, 0xd1,
};

/* TCG DICE OIDs carrying the FWID: Hopper/LS10 use 2.23.133.5.4.1 with
 * NVIDIA's {version, SPKI, FWID} shape; Blackwell uses 2.23.133.5.4.1.1, a
 * DiceTcbInfo whose fwids[0] is the FWID. */
static const uint8_t oid_fwid_hopper[] = {0x67, 0x81, 0x05, 0x05, 0x04, 0x01};
static const uint8_t oid_fwid_blackwell[] = {0x67, 0x81, 0x05, 0x05, 0x04, 0x01, 0x01};
static const uint8_t oid_sha384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};

/* ---------------------------------------------------------------------------
 * The report (DSP0274 1.1 tables 38-42 and NVIDIA's opaque data)
 */

/* Copies an opaque string field (NUL-terminated or not) into dst,
 * replacing anything that is not printable ASCII with '?' so that the
 * claims stay printable and valid JSON. */
static void opq_string(struct kg_cur *f, char *dst, size_t cap)
{
	size_t n = 0;
	uint8_t b;

	while (kg_cur_u8(f, &b) == KG_OK && b != 0 && n + 1 < cap)
		dst[n++] = (b >= 0x20 && b < 0x7f) ? (char)b : '?';
	dst[n] = '\0';
}

/* VbiosVersion: GPUs send 8 bytes, "96.00.9F.00.01" being
 * 00 9f 00 96 01 00 00 00 (the first four reversed, then byte 4; nvtrust
 * OpaqueDataParser); NVSwitches send the text. */
static void opq_vbios(struct kg_cur *f, char *dst, size_t cap)
{
	const uint8_t *b;

	if (kg_cur_left(f) == 8 && kg_cur_bytes(f, &b, 8) == KG_OK) {
		snprintf(dst, cap, "%02X.%02X.%02X.%02X.%02X", b[3], b[2], b[1], b[0], b[4]);
		return;
	}
	opq_string(f, dst, cap);
}

/* Opaque data: {type u16le, length u16le, data} until the end (nvtrust
 * OpaqueData; types in nvgpu.h).  Known fields must have their size and
 * appear once: two values for one field would let a reader pick either. */
static kg_err opaque_parse(struct kg_cur *c, struct kg_gpu_report *r)
{
	uint32_t seen = 0; /* bit per known type < 32 */
	bool seen36 = false, seen34 = false, seen33 = false;

	while (kg_cur_left(c) > 0) {
		uint16_t type, len;
		struct kg_cur f;

		KG_TRY(kg_cur_u16le(c, &type));
		KG_TRY(kg_cur_u16le(c, &len));
		KG_TRY(kg_cur_sub(c, &f, len));
		r->n_opaque++;
		if (type < 32) {
			KG_ENSURE(!(seen & (1u << type)), KG_ERR_GPU_REPORT_MALFORMED);
			seen |= 1u << type;
		} else if (type == 33 || type == 34 || type == 36) {
			bool *s = type == 33 ? &seen33 : type == 34 ? &seen34 : &seen36;
			KG_ENSURE(!*s, KG_ERR_GPU_REPORT_MALFORMED);
			*s = true;
		}
		switch (type) {
		case KG_GPU_OPQ_DRIVER_VERSION:
			opq_string(&f, r->driver_version, sizeof r->driver_version);
			break;
		case KG_GPU_OPQ_VBIOS_VERSION:
			opq_vbios(&f, r->vbios_version, sizeof r->vbios_version);
			break;
		case KG_GPU_OPQ_PROJECT:
			opq_string(&f, r->project, sizeof r->project);
			break;
		case KG_GPU_OPQ_PROJECT_SKU:
			opq_string(&f, r->project_sku, sizeof r->project_sku);
			break;
		case KG_GPU_OPQ_CHIP_SKU:
			opq_string(&f, r->chip_sku, sizeof r->chip_sku);
			break;
		case KG_GPU_OPQ_CHIP_SKU_MOD:
			opq_string(&f, r->chip_sku_mod, sizeof r->chip_sku_mod);
			break;
		case KG_GPU_OPQ_BOARD_ID:
			KG_ENSURE(len <= sizeof r->board_id, KG_ERR_GPU_REPORT_MALFORMED);
			r->board_id_len = len;
			KG_TRY(kg_cur_copy(&f, r->board_id, len));
			break;
		case KG_GPU_OPQ_GPU_INFO:
			/* 8 bytes on GPUs; NVSwitch firmware 96.10.52 sends 128
			 * bytes under this type (the invalid-signature switch
			 * vector), which are signed but not interpreted. */
			if (len <= sizeof r->gpu_info) {
				r->gpu_info_len = len;
				KG_TRY(kg_cur_copy(&f, r->gpu_info, len));
			}
			break;
		case KG_GPU_OPQ_FWID:
			KG_ENSURE(len == KG_GPU_FWID_SIZE, KG_ERR_GPU_REPORT_MALFORMED);
			KG_TRY(kg_cur_copy(&f, r->fwid, KG_GPU_FWID_SIZE));
			r->has_fwid = true;
			break;
		case KG_GPU_OPQ_NVDEC0_STATUS:
			KG_ENSURE(len == 1, KG_ERR_GPU_REPORT_MALFORMED);
			KG_TRY(kg_cur_u8(&f, &r->nvdec0_status));
			r->has_nvdec0 = true;
			break;
		case KG_GPU_OPQ_PROTECTED_PCIE_STATUS:
			KG_ENSURE(len == 1, KG_ERR_GPU_REPORT_MALFORMED);
			KG_TRY(kg_cur_u8(&f, &r->ppcie_status));
			r->has_ppcie = true;
			break;
		case KG_GPU_OPQ_FEATURE_FLAG:
			KG_ENSURE(len == 2, KG_ERR_GPU_REPORT_MALFORMED);
			KG_TRY(kg_cur_u16le(&f, &r->feature_flag));
			r->has_feature_flag = true;
			break;
		case KG_GPU_OPQ_OPAQUE_DATA_VERSION:
			KG_ENSURE(len == 2, KG_ERR_GPU_REPORT_MALFORMED);
			KG_TRY(kg_cur_u16le(&f, &r->opaque_version));
			r->has_opaque_version = true;
			break;
		case KG_GPU_OPQ_SWITCH_PDI:
			KG_ENSURE(len > 0 && len % 8 == 0 && len <= sizeof r->switch_pdi, KG_ERR_GPU_REPORT_MALFORMED);
			KG_TRY(kg_cur_copy(&f, r->switch_pdi, len));
			r->n_switch_pdi = len / 8;
			r->has_switch_pdi = true;
			break;
		default: /* other fields are signed but not interpreted */
			break;
		}
	}
	return KG_OK;
}

/* One measurement block (DSP0274 1.1 table 42) with a DMTF value (table 43). */
static kg_err block_parse(struct kg_cur *c, struct kg_gpu_block *b)
{
	uint8_t spec;
	uint16_t size, vsize;
	struct kg_cur m;

	KG_TRY(kg_cur_u8(c, &b->index));
	KG_TRY(kg_cur_u8(c, &spec));
	KG_TRY(kg_cur_u16le(c, &size));
	KG_TRY(kg_cur_sub(c, &m, size));
	/* Index 0 and 0xff are reserved; only the DMTF format is defined. */
	KG_ENSURE(b->index != 0 && b->index != 0xff && spec == SPDM_MEAS_SPEC_DMTF, KG_ERR_GPU_REPORT_MALFORMED);
	KG_TRY(kg_cur_u8(&m, &b->dmtf_type));
	KG_TRY(kg_cur_u16le(&m, &vsize));
	KG_ENSURE(vsize <= KG_GPU_VALUE_MAX, KG_ERR_GPU_REPORT_MALFORMED);
	b->len = vsize;
	KG_TRY(kg_cur_copy(&m, b->value, vsize));
	return kg_cur_done(&m);
}

static kg_err report_parse(const uint8_t *buf, size_t len, struct kg_gpu_report *r)
{
	struct kg_cur c = kg_cur_init(buf, len), rec, opq;
	uint8_t code, p1, p2, n_blocks, b;
	uint8_t rl[3];
	uint16_t opq_len;
	uint32_t rec_len;
	bool seen[256];

	/* GET_MEASUREMENTS (table 38): version, code, param1, param2,
	 * nonce (present because param1 asks for a signature), SlotID. */
	KG_TRY(kg_cur_u8(&c, &r->spdm_version));
	KG_ENSURE(r->spdm_version == SPDM_VERSION_11, KG_ERR_GPU_SPDM_VERSION);
	KG_TRY(kg_cur_u8(&c, &code));
	KG_ENSURE(code == SPDM_GET_MEASUREMENTS, KG_ERR_GPU_REPORT_MALFORMED);
	KG_TRY(kg_cur_u8(&c, &r->req_param1));
	KG_TRY(kg_cur_u8(&c, &r->req_param2));
	/* Without the signature bit there is neither nonce nor signature. */
	KG_ENSURE(r->req_param1 & SPDM_REQ_SIGNATURE, KG_ERR_GPU_REPORT_MALFORMED);
	KG_TRY(kg_cur_copy(&c, r->nonce, KG_GPU_NONCE_SIZE));
	KG_TRY(kg_cur_u8(&c, &r->slot));

	/* MEASUREMENTS (table 40). */
	KG_TRY(kg_cur_u8(&c, &b));
	KG_ENSURE(b == r->spdm_version, KG_ERR_GPU_SPDM_VERSION);
	KG_TRY(kg_cur_u8(&c, &code));
	KG_ENSURE(code == SPDM_MEASUREMENTS, KG_ERR_GPU_REPORT_MALFORMED);
	KG_TRY(kg_cur_u8(&c, &p1)); /* total count, only for param2 = 0 */
	KG_TRY(kg_cur_u8(&c, &p2)); /* bits 3:0 the slot that signed */
	KG_ENSURE((p2 & 0x0f) == (r->slot & 0x0f), KG_ERR_GPU_REPORT_MALFORMED);
	KG_TRY(kg_cur_u8(&c, &n_blocks));
	KG_TRY(kg_cur_copy(&c, rl, 3));
	rec_len = (uint32_t)rl[0] | (uint32_t)rl[1] << 8 | (uint32_t)rl[2] << 16;
	KG_TRY(kg_cur_sub(&c, &rec, rec_len));
	memset(seen, 0, sizeof seen);
	for (size_t i = 0; i < n_blocks; i++) {
		struct kg_gpu_block *blk = &r->blocks[i];
		KG_TRY(block_parse(&rec, blk));
		KG_ENSURE(!seen[blk->index], KG_ERR_GPU_REPORT_MALFORMED); /* one value per index */
		seen[blk->index] = true;
	}
	r->n_blocks = n_blocks;
	/* The record holds exactly NumberOfBlocks blocks. */
	KG_ENSURE(kg_cur_left(&rec) == 0, KG_ERR_GPU_REPORT_MALFORMED);
	KG_TRY(kg_cur_copy(&c, r->resp_nonce, KG_GPU_NONCE_SIZE));
	KG_TRY(kg_cur_u16le(&c, &opq_len));
	KG_TRY(kg_cur_sub(&c, &opq, opq_len));
	KG_TRY(opaque_parse(&opq, r));
	/* The signature covers everything before it (SPDM 1.1 L1/L2 without
	 * VCA messages; EXPECTED.md §7.0). */
	r->signed_len = len - kg_cur_left(&c);
	KG_TRY(kg_cur_copy(&c, r->signature, KG_GPU_SIG_SIZE));
	/* Walked to the end of the signature.  What follows is not signed:
	 * a few zero bytes (trustee's coco capture ends in one 0x00, the
	 * transport's padding) are tolerated and reported, anything else is
	 * refused rather than silently ignored. */
	r->padding_len = kg_cur_left(&c);
	KG_ENSURE(r->padding_len <= KG_GPU_PADDING_MAX, KG_ERR_TRAILING_BYTES);
	KG_TRY(kg_cur_zeros(&c, r->padding_len, KG_ERR_TRAILING_BYTES));
	return KG_OK;
}

kg_err kg_gpu_report_parse(const uint8_t *buf, size_t len, struct kg_gpu_report *out)
{
	kg_err rc;

	memset(out, 0, sizeof *out);
	if (len > KG_GPU_REPORT_MAX)
		return KG_ERR_TOO_LARGE;
	rc = report_parse(buf, len, out);
	/* Inside the structure a length that overruns is a malformed report. */
	if (rc == KG_ERR_TRUNCATED)
		rc = KG_ERR_GPU_REPORT_MALFORMED;
	if (rc != KG_OK)
		memset(out, 0, sizeof *out);
	return rc;
}

static int hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

kg_err kg_gpu_report_load(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	size_t n = 0, digits = 0;
	bool hex = len > 0;
	uint8_t *p;

	*out = NULL;
	*out_len = 0;
	KG_ENSURE(len <= 2 * KG_GPU_REPORT_MAX + 4096, KG_ERR_TOO_LARGE);
	for (size_t i = 0; i < len && hex; i++) {
		if (hexval(buf[i]) >= 0)
			digits++;
		else if (!isspace(buf[i]))
			hex = false;
	}
	if (!hex || digits % 2 != 0) { /* binary: as is */
		KG_ENSURE(len <= KG_GPU_REPORT_MAX, KG_ERR_TOO_LARGE);
		KG_ENSURE((p = malloc(len ? len : 1)) != NULL, KG_ERR_NOMEM);
		if (len)
			memcpy(p, buf, len);
		*out = p;
		*out_len = len;
		return KG_OK;
	}
	KG_ENSURE(digits / 2 <= KG_GPU_REPORT_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE((p = malloc(digits / 2 + 1)) != NULL, KG_ERR_NOMEM);
	for (size_t i = 0, half = 0; i < len; i++) {
		int v = hexval(buf[i]);
		if (v < 0)
			continue;
		if (half++ % 2 == 0)
			p[n] = (uint8_t)(v << 4);
		else
			p[n++] |= (uint8_t)v;
	}
	*out = p;
	*out_len = n;
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * X.509: roots, chains, the leaf's FWID
 */

static bool key_is_p384(EVP_PKEY *pk)
{
	struct kg_p384_key k;

	return kg_p384_key_from_evp(pk, &k, KG_ERR_GPU_CHAIN) == KG_OK;
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

static bool cert_fp(const X509 *x, uint8_t fp[static 32])
{
	unsigned int n = 0;

	return X509_digest(x, EVP_sha256(), fp, &n) == 1 && n == 32;
}

static bool self_signed(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
	       X509_verify(x, X509_get0_pubkey(x)) == 1;
}

kg_err kg_gpu_root_load(const char *path, const uint8_t *pin, X509 **out)
{
	uint8_t *buf = NULL, fp[32];
	size_t len = 0;
	BIO *bio = NULL;
	X509 *x = NULL, *extra = NULL;
	kg_err rc;

	*out = NULL;
	KG_TRY(kg_file_read(path, 64 * 1024, &buf, &len));
	KG_ENSURE_OUT((bio = BIO_new_mem_buf(buf, (int)len)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL, KG_ERR_CONFIG);
	extra = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	KG_ENSURE_OUT(extra == NULL, KG_ERR_CONFIG); /* one root, nothing else */
	KG_ENSURE_OUT(cert_fp(x, fp), KG_ERR_CRYPTO);
	if (pin)
		KG_ENSURE_OUT(memcmp(fp, pin, 32) == 0, KG_ERR_CONFIG);
	/* An anchor is a self-signed P-384 CA (a leaf handed as the "root",
	 * like attestation-sdk's incorrect_rim_root.crt, is refused here). */
	KG_ENSURE_OUT(self_signed(x) && X509_check_ca(x) >= 1 && key_is_p384(X509_get0_pubkey(x)), KG_ERR_CONFIG);
	*out = x;
	x = NULL;
	rc = KG_OK;
out:
	X509_free(x);
	X509_free(extra);
	BIO_free(bio);
	free(buf);
	ERR_clear_error();
	return rc;
}

enum gpu_chain_fail kg_gpu_chain_check(X509 *root, X509 *const *certs, size_t n, time_t now, time_t *nb,
				       time_t *na)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	STACK_OF(X509) *built;
	enum gpu_chain_fail rc = GPU_CHAIN_FAIL_INVALID;
	uint8_t fp[32], root_fp[32];
	size_t used = n;
	int err;

	*nb = 0;
	*na = (time_t)INT64_MAX;
	if (n < 2)
		return GPU_CHAIN_FAIL_SHORT;
	if (!cert_fp(root, root_fp))
		goto out;
	/* A self-signed certificate at the end must be the anchor itself. */
	if (self_signed(certs[n - 1])) {
		if (!cert_fp(certs[n - 1], fp) || memcmp(fp, root_fp, 32) != 0) {
			rc = GPU_CHAIN_FAIL_ROOT;
			goto out;
		}
		used = n - 1;
	}
	if (used < 2) { /* the root and at most one certificate below it */
		rc = GPU_CHAIN_FAIL_SHORT;
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL || X509_STORE_add_cert(store, root) != 1 ||
	    (untrusted = sk_X509_new_null()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (size_t i = 1; i < used; i++)
		if (!sk_X509_push(untrusted, certs[i]))
			goto out;
	if (X509_STORE_CTX_init(ctx, store, certs[0], untrusted) != 1)
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)
			rc = GPU_CHAIN_FAIL_TIME;
		else if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
			 err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
			rc = GPU_CHAIN_FAIL_ISSUER;
		else if (err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
			rc = GPU_CHAIN_FAIL_ROOT;
		goto out;
	}
	/* Every certificate given is on the path, in order, then the root:
	 * nothing unexplained rides along. */
	built = X509_STORE_CTX_get0_chain(ctx);
	if (built == NULL || (size_t)sk_X509_num(built) != used + 1)
		goto out;
	for (size_t i = 0; i <= used; i++) {
		X509 *x = sk_X509_value(built, (int)i);
		time_t b, a;
		if ((i < used && X509_cmp(x, certs[i]) != 0) || !key_is_p384(X509_get0_pubkey(x)) ||
		    X509_get_signature_nid(x) != NID_ecdsa_with_SHA384)
			goto out;
		if (!asn1_time_to_time(X509_get0_notBefore(x), &b) || !asn1_time_to_time(X509_get0_notAfter(x), &a))
			goto out;
		if (b > *nb)
			*nb = b;
		if (a < *na)
			*na = a;
	}
	rc = GPU_CHAIN_OK;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

/* One DER TLV through the cursor (short or 1-2 byte long lengths, low tag
 * numbers only: enough for the two FWID extensions). */
static kg_err der_tlv(struct kg_cur *c, uint8_t *tag, struct kg_cur *val)
{
	uint8_t l;
	uint16_t len;

	KG_TRY(kg_cur_u8(c, tag));
	KG_ENSURE((*tag & 0x1f) != 0x1f, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(kg_cur_u8(c, &l));
	if (l < 0x80) {
		len = l;
	} else if (l == 0x81) {
		KG_TRY(kg_cur_u8(c, &l));
		len = l;
	} else if (l == 0x82) {
		KG_TRY(kg_cur_u16be(c, &len));
	} else {
		return KG_ERR_GPU_FWID_MISSING;
	}
	return kg_cur_sub(c, val, len);
}

/* FWID ::= SEQUENCE { hashAlg OID (SHA-384), digest OCTET STRING (48) } */
static kg_err fwid_parse(struct kg_cur *seq, uint8_t fwid[static KG_GPU_FWID_SIZE])
{
	struct kg_cur oid, dig;
	uint8_t tag;

	KG_TRY(der_tlv(seq, &tag, &oid));
	KG_ENSURE(tag == 0x06 && kg_cur_left(&oid) == sizeof oid_sha384 &&
			  memcmp(kg_cur_ptr(&oid), oid_sha384, sizeof oid_sha384) == 0,
		  KG_ERR_GPU_FWID_MISSING);
	KG_TRY(der_tlv(seq, &tag, &dig));
	KG_ENSURE(tag == 0x04 && kg_cur_left(&dig) == KG_GPU_FWID_SIZE, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(kg_cur_copy(&dig, fwid, KG_GPU_FWID_SIZE));
	return kg_cur_done(seq);
}

/* Hopper/LS10 (2.23.133.5.4.1): SEQUENCE { INTEGER, SubjectPublicKeyInfo,
 * FWID }: the FWID is the last element (trustee and nvat take "the last 48
 * bytes", which is the same digest). */
static kg_err fwid_hopper(struct kg_cur c, uint8_t fwid[static KG_GPU_FWID_SIZE])
{
	struct kg_cur seq, el;
	uint8_t tag;

	KG_TRY(der_tlv(&c, &tag, &seq));
	KG_ENSURE(tag == 0x30, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(kg_cur_done(&c));
	KG_TRY(der_tlv(&seq, &tag, &el));
	KG_ENSURE(tag == 0x02, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(der_tlv(&seq, &tag, &el));
	KG_ENSURE(tag == 0x30, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(der_tlv(&seq, &tag, &el));
	KG_ENSURE(tag == 0x30, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(kg_cur_done(&seq));
	return fwid_parse(&el, fwid);
}

/* Blackwell (2.23.133.5.4.1.1): DiceTcbInfo (TCG DICE Attestation
 * Architecture §6.1.1), fwids [6] IMPLICIT SEQUENCE OF FWID; the FWID is
 * fwids[0] (the second entry is zeros, so "the last 48 bytes" is wrong). */
static kg_err fwid_blackwell(struct kg_cur c, uint8_t fwid[static KG_GPU_FWID_SIZE])
{
	struct kg_cur seq, el, first;
	uint8_t tag;

	KG_TRY(der_tlv(&c, &tag, &seq));
	KG_ENSURE(tag == 0x30, KG_ERR_GPU_FWID_MISSING);
	KG_TRY(kg_cur_done(&c));
	while (kg_cur_left(&seq) > 0) {
		KG_TRY(der_tlv(&seq, &tag, &el));
		if (tag != 0xa6)
			continue;
		KG_TRY(der_tlv(&el, &tag, &first));
		KG_ENSURE(tag == 0x30, KG_ERR_GPU_FWID_MISSING);
		return fwid_parse(&first, fwid);
	}
	return KG_ERR_GPU_FWID_MISSING;
}

/* The leaf's FWID, from whichever of the two extensions it carries. */
static kg_err leaf_fwid(X509 *leaf, uint8_t fwid[static KG_GPU_FWID_SIZE])
{
	for (int i = 0; i < X509_get_ext_count(leaf); i++) {
		X509_EXTENSION *ext = X509_get_ext(leaf, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
		const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
		size_t olen = (size_t)OBJ_length(obj);
		const uint8_t *od = OBJ_get0_data(obj);
		struct kg_cur c = kg_cur_init(ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val));
		kg_err rc;

		if (olen == sizeof oid_fwid_hopper && memcmp(od, oid_fwid_hopper, olen) == 0)
			rc = fwid_hopper(c, fwid);
		else if (olen == sizeof oid_fwid_blackwell && memcmp(od, oid_fwid_blackwell, olen) == 0)
			rc = fwid_blackwell(c, fwid);
		else
			continue;
		return rc == KG_ERR_TRUNCATED || rc == KG_ERR_TRAILING_BYTES ? KG_ERR_GPU_FWID_MISSING : rc;
	}
	return KG_ERR_GPU_FWID_MISSING;
}

#define PEM_CHAIN_CERTS_MAX 8

/* A verified device chain, cached by SHA-256 of its PEM text.  Copies of
 * an entry hold their own references (entry_ref). */
struct gpu_chain_entry {
	bool used;
	uint64_t last_use;
	uint8_t key[32];
	time_t not_before, not_after;
	EVP_PKEY *pkey; /* the leaf's */
	X509 *certs[PEM_CHAIN_CERTS_MAX]; /* as given, leaf first (for OCSP) */
	size_t n_certs;
	enum kg_gpu_arch arch;
	char leaf_cn[64];
	char ueid[64];
	uint8_t fwid[KG_GPU_FWID_SIZE];
};

static void chain_entry_clear(struct gpu_chain_entry *e)
{
	EVP_PKEY_free(e->pkey);
	for (size_t i = 0; i < e->n_certs; i++)
		X509_free(e->certs[i]);
	memset(e, 0, sizeof *e);
}

/* One more reference to everything e points to. */
static bool entry_ref(struct gpu_chain_entry *e)
{
	if (EVP_PKEY_up_ref(e->pkey) != 1)
		return false;
	for (size_t i = 0; i < e->n_certs; i++) {
		if (X509_up_ref(e->certs[i]) != 1) {
			while (i-- > 0)
				X509_free(e->certs[i]);
			EVP_PKEY_free(e->pkey);
			return false;
		}
	}
	return true;
}

static enum kg_gpu_arch arch_of(const char *cn)
{
	if (strncmp(cn, "GH100 ", 6) == 0)
		return KG_GPU_ARCH_HOPPER;
	if (strncmp(cn, "GB100 ", 6) == 0)
		return KG_GPU_ARCH_BLACKWELL;
	if (strncmp(cn, "LS_10 ", 6) == 0)
		return KG_GPU_ARCH_NVSWITCH;
	return KG_GPU_ARCH_UNKNOWN;
}

/* The leaf's commonName, printable ASCII or '?'. */
static void leaf_cn_get(X509 *x, char *dst, size_t cap)
{
	const X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	const uint8_t *p;
	size_t n = 0, len;

	dst[0] = '\0';
	if (i < 0)
		return;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	p = ASN1_STRING_get0_data(s);
	len = (size_t)ASN1_STRING_length(s);
	for (; n < len && n + 1 < cap; n++)
		dst[n] = (p[n] >= 0x20 && p[n] < 0x7f) ? (char)p[n] : '?';
	dst[n] = '\0';
}

const char *kg_gpu_arch_product(enum kg_gpu_arch a)
{
	switch (a) {
	case KG_GPU_ARCH_HOPPER:
		return "GH100";
	case KG_GPU_ARCH_BLACKWELL:
		return "GB100";
	case KG_GPU_ARCH_NVSWITCH:
		return "LS10";
	case KG_GPU_ARCH_UNKNOWN:
		break;
	}
	return NULL;
}

enum kg_gpu_arch kg_gpu_chain_arch(const uint8_t *chain_pem, size_t len)
{
	BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(chain_pem, (int)len) : NULL;
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	char cn[64] = "";

	if (x)
		leaf_cn_get(x, cn, sizeof cn);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return arch_of(cn);
}

/* nvat's "ueid": the leaf's serialNumber in decimal. */
static bool leaf_ueid(X509 *x, char *dst, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *dec = bn ? BN_bn2dec(bn) : NULL;
	bool ok = dec != NULL && strlen(dec) < cap;

	if (ok)
		memcpy(dst, dec, strlen(dec) + 1);
	OPENSSL_free(dec);
	BN_free(bn);
	return ok;
}

static kg_err chain_verify_cold(struct kg_gpu_verifier *v, const uint8_t *pem, size_t len, time_t now,
				struct gpu_chain_entry *e)
{
	X509 *certs[PEM_CHAIN_CERTS_MAX];
	BIO *bio = NULL;
	size_t n = 0;
	kg_err rc;

	memset(e, 0, sizeof *e);
	KG_ENSURE(len <= KG_GPU_CHAIN_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE((bio = BIO_new_mem_buf(pem, (int)len)) != NULL, KG_ERR_NOMEM);
	while (n < PEM_CHAIN_CERTS_MAX && (certs[n] = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		n++;
	KG_ENSURE_OUT(n > 0, KG_ERR_GPU_CHAIN);
	KG_ENSURE_OUT(n < PEM_CHAIN_CERTS_MAX, KG_ERR_GPU_CHAIN);
	switch (kg_gpu_chain_check(v->device_root, certs, n, now, &e->not_before, &e->not_after)) {
	case GPU_CHAIN_OK:
		break;
	case GPU_CHAIN_FAIL_SHORT:
		rc = KG_ERR_GPU_CHAIN_INCOMPLETE;
		goto out;
	case GPU_CHAIN_FAIL_ISSUER:
		rc = KG_ERR_GPU_CHAIN_ISSUER;
		goto out;
	case GPU_CHAIN_FAIL_ROOT:
		rc = KG_ERR_GPU_ROOT_UNTRUSTED;
		goto out;
	case GPU_CHAIN_FAIL_TIME:
		rc = KG_ERR_GPU_CHAIN_EXPIRED;
		goto out;
	case GPU_CHAIN_FAIL_INVALID:
		rc = KG_ERR_GPU_CHAIN;
		goto out;
	}
	/* The signing leaf carries a FWID (a chain cut at the BROM CA, which
	 * verifies, has none: trustee "FwId oid not found"), and is no CA. */
	KG_TRY_OUT(leaf_fwid(certs[0], e->fwid));
	KG_ENSURE_OUT(X509_check_ca(certs[0]) == 0, KG_ERR_GPU_CHAIN);
	leaf_cn_get(certs[0], e->leaf_cn, sizeof e->leaf_cn);
	e->arch = arch_of(e->leaf_cn);
	KG_ENSURE_OUT(leaf_ueid(certs[0], e->ueid, sizeof e->ueid), KG_ERR_GPU_CHAIN);
	KG_ENSURE_OUT((e->pkey = X509_get0_pubkey(certs[0])) != NULL && EVP_PKEY_up_ref(e->pkey) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_Digest(pem, len, e->key, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	for (size_t i = 0; i < n; i++) /* handed over */
		e->certs[i] = certs[i];
	e->n_certs = n;
	n = 0;
	rc = KG_OK;
out:
	if (rc != KG_OK)
		chain_entry_clear(e);
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

/* The device chain's facts at now, from the cache or verified afresh.
 * *e gets its own references (chain_entry_clear releases them). */
static kg_err chain_get(struct kg_gpu_verifier *v, const uint8_t *pem, size_t len, time_t now,
			struct gpu_chain_entry *e)
{
	uint8_t key[32];
	struct gpu_chain_entry *slot = NULL;
	bool hit = false;

	KG_ENSURE(len <= KG_GPU_CHAIN_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(EVP_Digest(pem, len, key, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_GPU_CACHE_MAX; i++) {
		struct gpu_chain_entry *c = &v->chains[i];
		/* A hit only inside the window; outside it the cold path says why. */
		if (c->used && memcmp(c->key, key, 32) == 0 && now >= c->not_before && now < c->not_after &&
		    entry_ref(c)) {
			*e = *c;
			c->last_use = ++v->tick;
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&v->lock);
	if (hit)
		return KG_OK;
	KG_TRY(chain_verify_cold(v, pem, len, now, e));
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_GPU_CACHE_MAX; i++) {
		struct gpu_chain_entry *c = &v->chains[i];
		if (c->used && memcmp(c->key, key, 32) == 0) {
			slot = c;
			break;
		}
		if (slot == NULL || !c->used || (slot->used && c->last_use < slot->last_use))
			slot = c;
	}
	assert(slot != NULL);
	if (entry_ref(e)) {
		chain_entry_clear(slot);
		*slot = *e;
		slot->used = true;
		slot->last_use = ++v->tick;
	}
	pthread_mutex_unlock(&v->lock);
	return KG_OK;
}

/* ECDSA P-384 / SHA-384 over msg; sig is r || s, 48 bytes each. */
static kg_err sig_verify(EVP_PKEY *pk, const uint8_t sig[static KG_GPU_SIG_SIZE], const uint8_t *msg, size_t len)
{
	struct kg_p384_key key;

	KG_TRY(kg_p384_key_from_evp(pk, &key, KG_ERR_GPU_CHAIN));
	return kg_p384_verify(&key, msg, len, sig, sig + KG_P384_SIZE, KG_ERR_GPU_SIGNATURE);
}

/* ---------------------------------------------------------------------------
 * Offline revocation (RFC 6960; nvtrust cc_admin_utils
 * ocsp_certificate_chain_validation, without its grace periods)
 */

/* Whether the response der is about cert (issued by issuer) and, if so,
 * that it verifies and says good at now. */
static kg_err ocsp_one(struct kg_gpu_verifier *v, const uint8_t *der, size_t len, X509 *cert, X509 *issuer,
		       STACK_OF(X509) *chain, time_t now, bool *found)
{
	/* The responder picks the CertID hash (NVIDIA's: SHA-384). */
	const EVP_MD *mds[3] = {EVP_sha384(), EVP_sha256(), EVP_sha1()};
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	X509_STORE *store = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int status = -1, reason = -1;
	time_t t;
	kg_err rc;

	*found = false;
	KG_ENSURE(len <= KG_GPU_OCSP_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE_OUT((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) != NULL, KG_ERR_GPU_OCSP_INVALID);
	KG_ENSURE_OUT(OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL &&
			      (bs = OCSP_response_get1_basic(resp)) != NULL,
		      KG_ERR_GPU_OCSP_INVALID);
	for (size_t i = 0; i < 3 && !*found; i++) {
		KG_ENSURE_OUT((id = OCSP_cert_to_id(mds[i], cert, issuer)) != NULL, KG_ERR_CRYPTO);
		*found = OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd) == 1;
		OCSP_CERTID_free(id);
		id = NULL;
	}
	if (!*found) { /* about another certificate */
		rc = KG_OK;
		goto out;
	}
	/* Signed by the issuing CA or a responder it delegated to, whose
	 * chain reaches the device root at now. */
	KG_ENSURE_OUT((store = X509_STORE_new()) != NULL && X509_STORE_add_cert(store, v->device_root) == 1,
		      KG_ERR_NOMEM);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), now);
	KG_ENSURE_OUT(OCSP_basic_verify(bs, chain, store, 0) == 1, KG_ERR_GPU_OCSP_INVALID);
	/* Fresh at now; a response without nextUpdate would never expire
	 * offline, so it is refused. */
	KG_ENSURE_OUT(asn1_time_to_time(thisupd, &t) && t <= now, KG_ERR_GPU_OCSP_STALE);
	KG_ENSURE_OUT(nextupd != NULL && asn1_time_to_time(nextupd, &t) && now <= t, KG_ERR_GPU_OCSP_STALE);
	/* certificateHold counts as revoked (nvat's default). */
	KG_ENSURE_OUT(status != V_OCSP_CERTSTATUS_REVOKED, KG_ERR_GPU_CERT_REVOKED);
	KG_ENSURE_OUT(status == V_OCSP_CERTSTATUS_GOOD, KG_ERR_GPU_OCSP_UNKNOWN);
	rc = KG_OK;
out:
	X509_STORE_free(store);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return rc;
}

static kg_err ocsp_check(struct kg_gpu_verifier *v, const struct gpu_chain_entry *e, const struct kg_gpu_input *in,
			 time_t now, struct kg_gpu_claims *claims)
{
	STACK_OF(X509) *chain = NULL;
	kg_err rc;

	KG_ENSURE(in->n_ocsp <= KG_GPU_OCSP_MAX_COUNT, KG_ERR_TOO_LARGE);
	KG_ENSURE((chain = sk_X509_new_null()) != NULL, KG_ERR_NOMEM);
	for (size_t i = 0; i < e->n_certs; i++)
		KG_ENSURE_OUT(sk_X509_push(chain, e->certs[i]) > 0, KG_ERR_NOMEM);
	/* Not the leaf (nvtrust starts at index 1), not the root. */
	for (size_t i = 1; i < e->n_certs && !self_signed(e->certs[i]); i++) {
		X509 *issuer = i + 1 < e->n_certs ? e->certs[i + 1] : v->device_root;
		bool found = false;

		for (size_t k = 0; k < in->n_ocsp && !found; k++)
			KG_TRY_OUT(ocsp_one(v, in->ocsp[k], in->ocsp_lens[k], e->certs[i], issuer, chain, now, &found));
		KG_ENSURE_OUT(found || !in->require_ocsp, KG_ERR_GPU_OCSP_MISSING);
		if (found)
			claims->n_ocsp_good++;
		else
			claims->n_ocsp_unchecked++;
	}
	rc = KG_OK;
out:
	sk_X509_free(chain); /* the certificates are e's */
	return rc;
}

/* ---------------------------------------------------------------------------
 * The verifier
 */

kg_err kg_gpu_verifier_new(struct kg_gpu_verifier **out, const char *device_root_pem, const char *rim_root_pem)
{
	struct kg_gpu_verifier *v;
	char dpath[4096], rpath[4096];
	kg_err rc;

	*out = NULL;
	KG_ENSURE((v = calloc(1, sizeof *v)) != NULL, KG_ERR_NOMEM);
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return KG_ERR_INTERNAL;
	}
	KG_ENSURE_OUT((v->chains = calloc(KG_GPU_CACHE_MAX, sizeof *v->chains)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_gpu_rim_cache_new(v));
	KG_ENSURE_OUT((size_t)snprintf(dpath, sizeof dpath, "%s/nvidia/nvidia_device_identity_ca.pem",
				       KG_SOURCE_ROOTS_DIR) < sizeof dpath &&
			      (size_t)snprintf(rpath, sizeof rpath, "%s/nvidia/nvidia_corim_signing_root_ca.pem",
					       KG_SOURCE_ROOTS_DIR) < sizeof rpath,
		      KG_ERR_CONFIG);
	/* The shipped roots are pinned; a root named by the operator is
	 * trusted as given (tests, private PKI). */
	KG_TRY_OUT(kg_gpu_root_load(device_root_pem ? device_root_pem : dpath,
				    device_root_pem ? NULL : device_root_pin, &v->device_root));
	KG_TRY_OUT(kg_gpu_root_load(rim_root_pem ? rim_root_pem : rpath, rim_root_pem ? NULL : rim_root_pin,
				    &v->rim_root));
	*out = v;
	v = NULL;
	rc = KG_OK;
out:
	kg_gpu_verifier_free(v);
	return rc;
}

void kg_gpu_verifier_free(struct kg_gpu_verifier *v)
{
	if (v == NULL)
		return;
	if (v->chains)
		for (size_t i = 0; i < KG_GPU_CACHE_MAX; i++)
			chain_entry_clear(&v->chains[i]);
	free(v->chains);
	kg_gpu_rim_cache_free(v);
	X509_free(v->device_root);
	X509_free(v->rim_root);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* ---------------------------------------------------------------------------
 * RIM comparison (nvtrust cc_admin generate_golden_measurement_list and
 * verify_measurement; nvat RimMeasurementConflict, NVDEC0 rule)
 */

/* RIM index 35 is NVDEC0's; nvat does not judge it while NVDEC0 is
 * disabled (opaque Nvdec0Status 0x55). */
#define RIM_INDEX_NVDEC0 35

static const struct kg_gpu_block *block_find(const struct kg_gpu_report *r, unsigned index)
{
	for (size_t i = 0; i < r->n_blocks; i++)
		if (r->blocks[i].index == index)
			return &r->blocks[i];
	return NULL;
}

kg_err kg_gpu_compare(const struct kg_gpu_rim *driver, const struct kg_gpu_rim *vbios, struct kg_gpu_claims *claims)
{
	const struct kg_gpu_rim_meas *golden[256];
	enum kg_gpu_rim_kind from[256];
	const struct kg_gpu_rim *rims[2] = {driver, vbios};
	const struct kg_gpu_report *r = &claims->report;

	memset(golden, 0, sizeof golden);
	claims->n_cmp = claims->n_match = claims->n_mismatch = claims->n_missing = 0;
	claims->rims_compared = false;
	for (int k = 0; k < 2; k++) {
		if (rims[k] == NULL)
			continue;
		for (size_t i = 0; i < rims[k]->n_meas; i++) {
			const struct kg_gpu_rim_meas *m = &rims[k]->meas[i];
			if (!m->active)
				continue;
			KG_ENSURE(golden[m->index] == NULL, KG_ERR_GPU_RIM_CONFLICT);
			golden[m->index] = m;
			from[m->index] = k == 0 ? KG_GPU_RIM_DRIVER : KG_GPU_RIM_VBIOS;
		}
	}
	for (unsigned i = 0; i < 255; i++) {
		const struct kg_gpu_rim_meas *m = golden[i];
		const struct kg_gpu_block *b;
		struct kg_gpu_meas_cmp *c;

		if (m == NULL)
			continue;
		assert(claims->n_cmp < KG_GPU_BLOCKS_MAX);
		c = &claims->cmp[claims->n_cmp++];
		c->rim_index = (uint8_t)i;
		c->from = from[i];
		b = block_find(r, i + 1); /* RIM index i is SPDM block i + 1 */
		if (i == RIM_INDEX_NVDEC0 && r->has_nvdec0 && r->nvdec0_status == KG_GPU_STATUS_DISABLED) {
			c->result = KG_GPU_MEAS_SKIPPED;
		} else if (b == NULL) {
			c->result = KG_GPU_MEAS_MISSING;
			claims->n_missing++;
		} else {
			c->result = KG_GPU_MEAS_MISMATCH;
			for (size_t a = 0; a < m->n_alt; a++)
				if (m->size == b->len && memcmp(m->alt[a], b->value, b->len) == 0)
					c->result = KG_GPU_MEAS_MATCH;
			if (c->result == KG_GPU_MEAS_MATCH)
				claims->n_match++;
			else
				claims->n_mismatch++;
		}
	}
	claims->rims_compared = driver != NULL || vbios != NULL;
	snprintf(claims->driver_rim_id, sizeof claims->driver_rim_id, "%s", driver ? driver->id : "");
	snprintf(claims->vbios_rim_id, sizeof claims->vbios_rim_id, "%s", vbios ? vbios->id : "");
	snprintf(claims->driver_rim_version, sizeof claims->driver_rim_version, "%s", driver ? driver->version : "");
	snprintf(claims->vbios_rim_version, sizeof claims->vbios_rim_version, "%s", vbios ? vbios->version : "");
	/* VBIOS versions are hex, compared without case ("96.00.5E.00.01"). */
	claims->rim_version_mismatch = (driver && strcasecmp(driver->version, r->driver_version) != 0) ||
				       (vbios && strcasecmp(vbios->version, r->vbios_version) != 0);
	return KG_OK;
}

kg_err kg_gpu_claims_rims_ok(const struct kg_gpu_claims *c)
{
	KG_ENSURE(c->rims_compared, KG_ERR_GPU_RIM_MISSING);
	KG_ENSURE(!c->rim_version_mismatch, KG_ERR_GPU_RIM_VERSION);
	KG_ENSURE(c->n_mismatch == 0 && c->n_missing == 0, KG_ERR_GPU_MEASUREMENT);
	return KG_OK;
}

/* ---------------------------------------------------------------------------
 * The whole check
 */

kg_err kg_gpu_verify(struct kg_gpu_verifier *v, const struct kg_gpu_input *in, time_t now,
		     struct kg_gpu_claims *claims)
{
	struct gpu_chain_entry e;
	struct kg_gpu_rim *drv = NULL, *vb = NULL;
	uint8_t *rep = NULL;
	size_t rep_len = 0;
	kg_err rc;

	memset(claims, 0, sizeof *claims);
	memset(&e, 0, sizeof e);
	KG_TRY_OUT(kg_gpu_report_load(in->report, in->report_len, &rep, &rep_len));
	KG_TRY_OUT(kg_gpu_report_parse(rep, rep_len, &claims->report));
	/* The request nonce is the verifier's; the response nonce is the
	 * device's and is not compared (EXPECTED.md §7.0). */
	if (in->nonce)
		KG_ENSURE_OUT(CRYPTO_memcmp(claims->report.nonce, in->nonce, KG_GPU_NONCE_SIZE) == 0, KG_ERR_GPU_NONCE);
	KG_TRY_OUT(chain_get(v, in->chain_pem, in->chain_len, now, &e));
	KG_TRY_OUT(sig_verify(e.pkey, claims->report.signature, rep, claims->report.signed_len));
	/* Reports from older drivers (535) carry no FWID: nothing to bind. */
	if (claims->report.has_fwid) {
		KG_ENSURE_OUT(CRYPTO_memcmp(claims->report.fwid, e.fwid, KG_GPU_FWID_SIZE) == 0,
			      KG_ERR_GPU_FWID_MISMATCH);
		claims->fwid_bound = true;
	}
	KG_TRY_OUT(ocsp_check(v, &e, in, now, claims));
	claims->arch = e.arch;
	memcpy(claims->leaf_cn, e.leaf_cn, sizeof claims->leaf_cn);
	memcpy(claims->ueid, e.ueid, sizeof claims->ueid);
	if (in->driver_rim)
		KG_TRY_OUT(kg_gpu_rim_verify(v, in->driver_rim, in->driver_rim_len, now, &drv));
	if (in->vbios_rim)
		KG_TRY_OUT(kg_gpu_rim_verify(v, in->vbios_rim, in->vbios_rim_len, now, &vb));
	if (drv || vb)
		KG_TRY_OUT(kg_gpu_compare(drv, vb, claims));
	rc = KG_OK;
out:
	if (rc != KG_OK)
		memset(claims, 0, sizeof *claims);
	chain_entry_clear(&e);
	kg_gpu_rim_free(drv);
	kg_gpu_rim_free(vb);
	free(rep);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Claims as JSON
 */

const char *kg_gpu_arch_name(enum kg_gpu_arch a)
{
	switch (a) {
	case KG_GPU_ARCH_HOPPER:
		return "hopper";
	case KG_GPU_ARCH_BLACKWELL:
		return "blackwell";
	case KG_GPU_ARCH_NVSWITCH:
		return "nvswitch";
	case KG_GPU_ARCH_UNKNOWN:
		break;
	}
	return "unknown";
}

static json_t *hexj(const uint8_t *b, size_t n)
{
	char s[2 * KG_GPU_VALUE_MAX + 1];

	assert(n <= KG_GPU_VALUE_MAX);
	kg_hex(s, b, n);
	return json_string(s);
}

static json_t *strj(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *statusj(bool has, uint8_t v)
{
	if (!has)
		return json_null();
	if (v == KG_GPU_STATUS_ENABLED)
		return json_string("enabled");
	return json_string(v == KG_GPU_STATUS_DISABLED ? "disabled" : "invalid");
}

/* FeatureFlag: how the GPU runs confidential computing. */
static json_t *cc_modej(const struct kg_gpu_report *r)
{
	if (!r->has_feature_flag)
		return json_null();
	switch (r->feature_flag) {
	case KG_GPU_FEATURE_SPT:
		return json_string("spt");
	case KG_GPU_FEATURE_MPT:
		return json_string("mpt");
	case KG_GPU_FEATURE_PPCIE:
		return json_string("ppcie");
	default:
		return json_string("unknown");
	}
}

static const char *result_name(enum kg_gpu_meas_result m)
{
	switch (m) {
	case KG_GPU_MEAS_MATCH:
		return "match";
	case KG_GPU_MEAS_MISMATCH:
		return "mismatch";
	case KG_GPU_MEAS_MISSING:
		return "missing";
	case KG_GPU_MEAS_SKIPPED:
		return "skipped";
	}
	return "invalid";
}

kg_err kg_gpu_claims_to_json(const struct kg_gpu_claims *c, char **json)
{
	const struct kg_gpu_report *r = &c->report;
	json_t *o = json_object(), *meas = json_array(), *rim = NULL, *cmp = NULL;
	char nonce[2 * KG_GPU_NONCE_SIZE + 1];
	kg_err rc = KG_ERR_NOMEM;

	*json = NULL;
	if (o == NULL || meas == NULL)
		goto out;
	for (size_t i = 0; i < r->n_blocks; i++) {
		const struct kg_gpu_block *b = &r->blocks[i];
		json_array_append_new(meas, json_pack("{s:i,s:i,s:o}", "index", b->index, "dmtf_type", b->dmtf_type,
						      "value", hexj(b->value, b->len)));
	}
	kg_hex(nonce, r->nonce, KG_GPU_NONCE_SIZE);
	json_object_set_new(o, "tee", json_string("nvidia-gpu"));
	json_object_set_new(o, "arch", json_string(kg_gpu_arch_name(c->arch)));
	json_object_set_new(o, "leaf_cn", json_string(c->leaf_cn));
	json_object_set_new(o, "ueid", json_string(c->ueid));
	json_object_set_new(o, "nonce", json_string(nonce));
	json_object_set_new(o, "driver_version", strj(r->driver_version));
	json_object_set_new(o, "vbios_version", strj(r->vbios_version));
	json_object_set_new(o, "fwid", r->has_fwid ? hexj(r->fwid, KG_GPU_FWID_SIZE) : json_null());
	json_object_set_new(o, "fwid_bound", json_boolean(c->fwid_bound));
	json_object_set_new(o, "cc_mode", cc_modej(r));
	json_object_set_new(o, "ppcie_status", statusj(r->has_ppcie, r->ppcie_status));
	json_object_set_new(o, "nvdec0_status", statusj(r->has_nvdec0, r->nvdec0_status));
	json_object_set_new(o, "opaque_data_version",
			    r->has_opaque_version ? json_integer(r->opaque_version) : json_null());
	json_object_set_new(o, "project", strj(r->project));
	json_object_set_new(o, "project_sku", strj(r->project_sku));
	json_object_set_new(o, "chip_sku", strj(r->chip_sku));
	json_object_set_new(o, "board_id", r->board_id_len ? hexj(r->board_id, r->board_id_len) : json_null());
	if (r->has_switch_pdi) {
		json_t *pdis = json_array();
		for (size_t i = 0; pdis && i < r->n_switch_pdi; i++)
			json_array_append_new(pdis, hexj(r->switch_pdi + 8 * i, 8));
		json_object_set_new(o, "switch_pdis", pdis);
	}
	json_object_set_new(o, "ocsp_good", json_integer((json_int_t)c->n_ocsp_good));
	json_object_set_new(o, "ocsp_unchecked", json_integer((json_int_t)c->n_ocsp_unchecked));
	json_object_set_new(o, "padding_bytes", json_integer((json_int_t)r->padding_len));
	json_object_set_new(o, "measurements", meas);
	meas = NULL;
	if (c->rims_compared) {
		if ((rim = json_object()) == NULL || (cmp = json_array()) == NULL)
			goto out;
		for (size_t i = 0; i < c->n_cmp; i++)
			json_array_append_new(cmp, json_pack("{s:i,s:s,s:s}", "rim_index", c->cmp[i].rim_index, "rim",
							     c->cmp[i].from == KG_GPU_RIM_DRIVER ? "driver" : "vbios",
							     "result", result_name(c->cmp[i].result)));
		json_object_set_new(rim, "driver_rim", strj(c->driver_rim_id));
		json_object_set_new(rim, "vbios_rim", strj(c->vbios_rim_id));
		json_object_set_new(rim, "driver_rim_version", strj(c->driver_rim_version));
		json_object_set_new(rim, "vbios_rim_version", strj(c->vbios_rim_version));
		json_object_set_new(rim, "version_match", json_boolean(!c->rim_version_mismatch));
		json_object_set_new(rim, "match", json_integer((json_int_t)c->n_match));
		json_object_set_new(rim, "mismatch", json_integer((json_int_t)c->n_mismatch));
		json_object_set_new(rim, "missing", json_integer((json_int_t)c->n_missing));
		json_object_set_new(rim, "result", json_string(kg_err_code(kg_gpu_claims_rims_ok(c))));
		json_object_set_new(rim, "indexes", cmp);
		cmp = NULL;
		json_object_set_new(o, "rims", rim);
		rim = NULL;
	} else {
		json_object_set_new(o, "rims", json_null());
	}
	if ((*json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) != NULL)
		rc = KG_OK;
out:
	json_decref(o);
	json_decref(meas);
	json_decref(rim);
	json_decref(cmp);
	return rc;
}
