/*
 * Files and X.509 helpers shared by the simulated attesters (see
 * sim_pki.h).
 */
#define _GNU_SOURCE
#include "sim_pki.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
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
