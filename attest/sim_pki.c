/*
 * Files and X.509 helpers shared by the simulated attesters (see
 * sim_pki.h).
 */
#define _GNU_SOURCE
#include "sim_pki.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../common/util.h"

/* ---------------------------------------------------------------------------
 * Files
 */

kg_err kg_sim_path(char *out, size_t size, const char *dir, const char *name)
{
	KG_ENSURE((size_t)snprintf(out, size, "%s/%s", dir, name) < size, KG_ERR_INVALID_ARG);
	return KG_OK;
}

bool kg_sim_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return kg_sim_path(path, sizeof path, dir, name) == KG_OK && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

kg_err kg_sim_write(const char *dir, const char *name, const void *data, size_t len, unsigned mode)
{
	char path[PATH_MAX];

	KG_TRY(kg_sim_path(path, sizeof path, dir, name));
	return kg_file_write(path, data, len, mode);
}

kg_err kg_sim_read(const char *dir, const char *name, size_t max, uint8_t **buf, size_t *len)
{
	char path[PATH_MAX];

	*buf = NULL;
	*len = 0;
	KG_TRY(kg_sim_path(path, sizeof path, dir, name));
	return kg_file_read(path, max, buf, len);
}

/* ---------------------------------------------------------------------------
 * PEM certificates and keys
 */

kg_err kg_sim_write_cert(const char *dir, const char *name, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	kg_err rc = KG_ERR_CRYPTO;

	if (b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &data)) > 0)
		rc = kg_sim_write(dir, name, data, (size_t)n, 0644);
	BIO_free(b);
	return rc;
}

kg_err kg_sim_write_key(const char *dir, const char *name, EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n = 0;
	kg_err rc = KG_ERR_CRYPTO;

	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		rc = kg_sim_write(dir, name, data, (size_t)n, 0600);
	if (data && n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(b);
	return rc;
}

kg_err kg_sim_read_cert(const char *dir, const char *name, size_t max, X509 **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *b;

	*out = NULL;
	KG_TRY(kg_sim_read(dir, name, max, &buf, &len));
	if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL)
		*out = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(buf);
	ERR_clear_error();
	return *out ? KG_OK : KG_ERR_CRYPTO;
}

kg_err kg_sim_read_key(const char *dir, const char *name, EVP_PKEY **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *b;

	*out = NULL;
	KG_TRY(kg_sim_read(dir, name, 16 * 1024, &buf, &len));
	if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL)
		*out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	kg_wipe(buf, len);
	free(buf);
	ERR_clear_error();
	return *out ? KG_OK : KG_ERR_CRYPTO;
}

/* ---------------------------------------------------------------------------
 * Extensions
 */

bool kg_sim_ext_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	bool ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return false;
	ok = X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok;
}

bool kg_sim_ext_der(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	bool ok = false;

	if (obj && os && len <= INT32_MAX && ASN1_OCTET_STRING_set(os, der, (int)len) == 1 &&
	    (e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL)
		ok = X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ok;
}

/* DER length octets of n (n < 65536), into p; returns how many. */
static size_t der_len(uint8_t *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (uint8_t)n;
		return 1;
	}
	if (n < 0x100) {
		p[0] = 0x81;
		p[1] = (uint8_t)n;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	return 3;
}

/* How many length octets der_len writes for n. */
static size_t der_len_size(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : 3;
}

bool kg_sim_ext_fwid_hopper(X509 *x, EVP_PKEY *key, const uint8_t fwid[static 48])
{
	/* INTEGER 1, then FWID ::= SEQUENCE { OID 2.16.840.1.101.3.4.2.2 (sha384), OCTET STRING (48) } */
	static const uint8_t version[] = {0x02, 0x01, 0x01};
	static const uint8_t fwid_head[] = {0x30, 0x3d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
					    0x03, 0x04, 0x02, 0x02, 0x04, 0x30};
	unsigned char *spki = NULL;
	uint8_t der[512];
	size_t n, inner;
	int spki_len = i2d_PUBKEY(key, &spki);
	bool ok = false;

	if (spki_len <= 0 || (size_t)spki_len > 256)
		goto out;
	inner = sizeof version + (size_t)spki_len + sizeof fwid_head + 48;
	der[0] = 0x30;
	n = 1 + der_len(der + 1, inner);
	memcpy(der + n, version, sizeof version);
	n += sizeof version;
	memcpy(der + n, spki, (size_t)spki_len);
	n += (size_t)spki_len;
	memcpy(der + n, fwid_head, sizeof fwid_head);
	n += sizeof fwid_head;
	memcpy(der + n, fwid, 48);
	n += 48;
	ok = kg_sim_ext_der(x, "2.23.133.5.4.1", der, n);
out:
	OPENSSL_free(spki);
	return ok;
}

bool kg_sim_ext_fwid_blackwell(X509 *x, const uint8_t fwid[static 48])
{
	/* FWID ::= SEQUENCE { OID sha384, OCTET STRING (48) }, 63 bytes each */
	static const uint8_t fwid_head[] = {0x30, 0x3d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
					    0x03, 0x04, 0x02, 0x02, 0x04, 0x30};
	uint8_t der[8 + 2 * (sizeof fwid_head + 48)];
	size_t n = 0, fwids = 2 * (sizeof fwid_head + 48);

	der[n++] = 0x30; /* DiceTcbInfo */
	n += der_len(der + n, 1 + der_len_size(fwids) + fwids);
	der[n++] = 0xa6; /* fwids [6] IMPLICIT SEQUENCE OF FWID */
	n += der_len(der + n, fwids);
	memcpy(der + n, fwid_head, sizeof fwid_head);
	n += sizeof fwid_head;
	memcpy(der + n, fwid, 48);
	n += 48;
	memcpy(der + n, fwid_head, sizeof fwid_head);
	n += sizeof fwid_head;
	memset(der + n, 0, 48);
	n += 48;
	return kg_sim_ext_der(x, "2.23.133.5.4.1.1", der, n);
}

kg_err kg_sim_sign_p384_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t out[static 96])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[128];
	const unsigned char *q = der;
	size_t der_len_ = sizeof der;
	ECDSA_SIG *sig = NULL;
	kg_err rc = KG_ERR_CRYPTO;

	if (md && EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &der_len_, msg, len) == 1 &&
	    (sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len_)) != NULL &&
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 48) == 48 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 48, 48) == 48)
		rc = KG_OK;
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}
