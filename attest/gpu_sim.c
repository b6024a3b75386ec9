/*
 * The simulated NVIDIA GPU attester (see gpu_sim.h): a test PKI shaped
 * like NVIDIA's device chain (root "Device Identity CA" -> "GH100
 * Identity" -> "GH100 Provisioner ICA 1" -> "GH100 A01 GSP BROM" -> "GH100
 * A01 GSP FMC LF", or a GB100 or LS_10 leaf for such recordings), and
 * recorded SPDM reports re-issued for a new nonce (DSP0274 1.1 table 38:
 * the nonce is bytes 4..35 of GET_MEASUREMENTS).
 */
#define _GNU_SOURCE
#include "gpu_sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/util.h"
#include "nvgpu.h"
#include "sim_pki.h"

#define SIM_CERT_MAX (16 * 1024)
/* NVIDIA's device certificates run to 9999-12-31 (RFC 5280 §4.1.2.5: no
 * well-defined expiration); from 2020 so that old recordings check at
 * their RIMs' times. */
#define SIM_NOT_BEFORE "20200101000000Z"
#define SIM_NOT_AFTER "99991231235959Z"
#define SIM_NONCE_OFFSET 4

/* The leaves differ in their FWID extension (attest/nvgpu.c leaf_fwid). */
enum gpu_cert_kind { GPU_ROOT, GPU_CA, GPU_LEAF_HOPPER, GPU_LEAF_BLACKWELL };

static X509_NAME *gpu_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Keygate test (simulated NVIDIA)",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static bool set_validity(X509 *x)
{
	ASN1_TIME *nb = ASN1_TIME_new(), *na = ASN1_TIME_new();
	bool ok = nb && na && ASN1_TIME_set_string_X509(nb, SIM_NOT_BEFORE) == 1 &&
		  ASN1_TIME_set_string_X509(na, SIM_NOT_AFTER) == 1 && X509_set1_notBefore(x, nb) == 1 &&
		  X509_set1_notAfter(x, na) == 1;

	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	return ok;
}

/* One certificate of the chain; fwid only for the leaf. */
static X509 *gpu_cert(enum gpu_cert_kind kind, const char *cn, X509 *issuer, EVP_PKEY *pub, EVP_PKEY *signer,
		      const uint8_t *fwid)
{
	X509 *x = X509_new();
	X509_NAME *name = gpu_name(cn);
	uint64_t serial = 0;
	bool ok;

	/* A device keeps its identity: the leaf of a device with a FWID gets a
	 * serial (the UEID) made from it, as a real GPU has one leaf. */
	if (fwid)
		memcpy(&serial, fwid, sizeof serial);
	ok = x && name && X509_set_version(x, 2) == 1 &&
	     (fwid || RAND_bytes((unsigned char *)&serial, sizeof serial) == 1) &&
	     ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) == 1 &&
	     X509_set_subject_name(x, name) == 1 &&
	     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 && set_validity(x) &&
	     X509_set_pubkey(x, pub) == 1;
	switch (kind) {
	case GPU_ROOT:
	case GPU_CA:
		ok = ok && kg_sim_ext_conf(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE") &&
		     kg_sim_ext_conf(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		     kg_sim_ext_conf(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
		if (kind == GPU_CA)
			ok = ok && kg_sim_ext_conf(x, issuer, NID_authority_key_identifier, "keyid:always");
		break;
	case GPU_LEAF_HOPPER:
	case GPU_LEAF_BLACKWELL:
		ok = ok && kg_sim_ext_conf(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
		     kg_sim_ext_conf(x, issuer, NID_key_usage, "critical,digitalSignature") &&
		     kg_sim_ext_conf(x, issuer, NID_authority_key_identifier, "keyid:always") &&
		     (kind == GPU_LEAF_HOPPER ? kg_sim_ext_fwid_hopper(x, pub, fwid)
					      : kg_sim_ext_fwid_blackwell(x, fwid));
		break;
	}
	ok = ok && X509_sign(x, signer, EVP_sha384()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static bool pem_append(BIO *b, X509 *x)
{
	return PEM_write_bio_X509(b, x) == 1;
}

kg_err kg_gpu_sim_init(const char *dir)
{
	static const char *const cn[4] = {"Simulated NVIDIA Device Identity CA", "Simulated NVIDIA GH100 Identity",
					  "Simulated NVIDIA GH100 Provisioner ICA 1", "GH100 A01 GSP BROM"};
	EVP_PKEY *key[4] = {NULL, NULL, NULL, NULL};
	X509 *cert[4] = {NULL, NULL, NULL, NULL};
	BIO *chain = NULL;
	char *data;
	long n;
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE(dir != NULL, KG_ERR_INVALID_ARG);
	if (kg_sim_exists(dir, KG_GPU_SIM_ROOT) && kg_sim_exists(dir, KG_GPU_SIM_CHAIN) &&
	    kg_sim_exists(dir, KG_GPU_SIM_BROM_KEY))
		return KG_OK;
	KG_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, KG_ERR_IO);
	for (int i = 0; i < 4; i++) {
		KG_ENSURE_OUT((key[i] = EVP_EC_gen("P-384")) != NULL, KG_ERR_CRYPTO);
		KG_ENSURE_OUT((cert[i] = gpu_cert(i == 0 ? GPU_ROOT : GPU_CA, cn[i], i ? cert[i - 1] : NULL, key[i],
						  i ? key[i - 1] : key[i], NULL)) != NULL,
			      KG_ERR_CRYPTO);
	}
	/* Nearest the leaf first, as NVIDIA's chain lists them. */
	KG_ENSURE_OUT((chain = BIO_new(BIO_s_mem())) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(pem_append(chain, cert[3]) && pem_append(chain, cert[2]) && pem_append(chain, cert[1]),
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT((n = BIO_get_mem_data(chain, &data)) > 0, KG_ERR_CRYPTO);
	/* The BROM's key signs leaves; the CAs' keys sign test OCSP responses
	 * about the certificates they issued (an OCSP response is the
	 * issuer's, or its delegate's, to sign).  The root
	 * certificate last: the set is complete only when it exists. */
	KG_TRY_OUT(kg_sim_write_key(dir, KG_GPU_SIM_BROM_KEY, key[3]));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_GPU_SIM_ROOT_KEY, key[0]));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_GPU_SIM_IDENTITY_KEY, key[1]));
	KG_TRY_OUT(kg_sim_write_key(dir, KG_GPU_SIM_PROVISIONER_KEY, key[2]));
	KG_TRY_OUT(kg_sim_write(dir, KG_GPU_SIM_CHAIN, data, (size_t)n, 0644));
	KG_TRY_OUT(kg_sim_write_cert(dir, KG_GPU_SIM_ROOT, cert[0]));
	rc = KG_OK;
out:
	BIO_free(chain);
	for (int i = 0; i < 4; i++) {
		X509_free(cert[i]);
		EVP_PKEY_free(key[i]); /* EVP_PKEY_free wipes the private key */
	}
	ERR_clear_error();
	return rc;
}

/* Which device a recording comes from decides the leaf's name (the
 * verifier's arch comes from it) and FWID encoding.  A report does not name
 * its device; its opaque data tells them apart: an NVSwitch reports no
 * driver version, a GB100's VBIOS versions start at 97 (GH100's at 96.00). */
static const char *leaf_cn_for(const struct kg_gpu_report *r, enum gpu_cert_kind *kind)
{
	*kind = GPU_LEAF_HOPPER;
	if (r->driver_version[0] == '\0')
		return "LS_10 A01 FSP FMC LF";
	if (strncmp(r->vbios_version, "97.", 3) == 0) {
		*kind = GPU_LEAF_BLACKWELL;
		return "GB100 A01 GSP FMC LF";
	}
	return "GH100 A01 GSP FMC LF";
}

/* The leaf PEM, then dir's intermediates and root, as one malloc'd string. */
static kg_err chain_make(const char *dir, X509 *leaf, char **out, size_t *out_len)
{
	uint8_t *mid = NULL, *root = NULL;
	size_t mid_len = 0, root_len = 0, leaf_len;
	BIO *b = BIO_new(BIO_s_mem());
	char *leaf_pem, *s = NULL;
	long n;
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE_OUT(b != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(pem_append(b, leaf) && (n = BIO_get_mem_data(b, &leaf_pem)) > 0, KG_ERR_CRYPTO);
	leaf_len = (size_t)n;
	KG_TRY_OUT(kg_sim_read(dir, KG_GPU_SIM_CHAIN, KG_GPU_CHAIN_MAX, &mid, &mid_len));
	KG_TRY_OUT(kg_sim_read(dir, KG_GPU_SIM_ROOT, SIM_CERT_MAX, &root, &root_len));
	KG_ENSURE_OUT((s = malloc(leaf_len + mid_len + root_len + 1)) != NULL, KG_ERR_NOMEM);
	memcpy(s, leaf_pem, leaf_len);
	memcpy(s + leaf_len, mid, mid_len);
	memcpy(s + leaf_len + mid_len, root, root_len);
	s[leaf_len + mid_len + root_len] = '\0';
	*out = s;
	*out_len = leaf_len + mid_len + root_len;
	s = NULL;
	rc = KG_OK;
out:
	free(s);
	free(mid);
	free(root);
	BIO_free(b);
	return rc;
}

kg_err kg_gpu_sim_attest(const char *dir, const uint8_t *recorded, size_t recorded_len, const uint8_t nonce[static 32],
			 uint8_t **report, size_t *report_len, char **chain_pem, size_t *chain_len)
{
	struct kg_gpu_report *rep = NULL;
	uint8_t *bin = NULL, *out = NULL, fwid[KG_GPU_FWID_SIZE];
	size_t bin_len = 0, out_len = 0;
	EVP_PKEY *brom_key = NULL, *leaf_key = NULL;
	X509 *brom = NULL, *leaf = NULL;
	BIO *b = NULL;
	uint8_t *mid = NULL;
	size_t mid_len = 0;
	enum gpu_cert_kind kind;
	const char *cn;
	kg_err rc = KG_ERR_CRYPTO;

	*report = NULL;
	*report_len = 0;
	*chain_pem = NULL;
	*chain_len = 0;
	KG_ENSURE(dir != NULL && recorded != NULL, KG_ERR_INVALID_ARG);
	KG_TRY(kg_gpu_report_load(recorded, recorded_len, &bin, &bin_len));
	KG_ENSURE_OUT((rep = calloc(1, sizeof *rep)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_gpu_report_parse(bin, bin_len, rep));
	/* The signed part as recorded, the new nonce, room for the signature. */
	out_len = rep->signed_len + KG_GPU_SIG_SIZE;
	KG_ENSURE_OUT((out = malloc(out_len)) != NULL, KG_ERR_NOMEM);
	memcpy(out, bin, rep->signed_len);
	memcpy(out + SIM_NONCE_OFFSET, nonce, KG_GPU_NONCE_SIZE);

	/* The BROM CA is the first certificate of gpu-chain.pem. */
	KG_TRY_OUT(kg_sim_read_key(dir, KG_GPU_SIM_BROM_KEY, &brom_key));
	KG_TRY_OUT(kg_sim_read(dir, KG_GPU_SIM_CHAIN, KG_GPU_CHAIN_MAX, &mid, &mid_len));
	KG_ENSURE_OUT((b = BIO_new_mem_buf(mid, (int)mid_len)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((brom = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL, KG_ERR_CRYPTO);
	if (rep->has_fwid)
		memcpy(fwid, rep->fwid, sizeof fwid);
	else
		KG_ENSURE_OUT(RAND_bytes(fwid, sizeof fwid) == 1, KG_ERR_RANDOM);
	KG_ENSURE_OUT((leaf_key = EVP_EC_gen("P-384")) != NULL, KG_ERR_CRYPTO);
	cn = leaf_cn_for(rep, &kind);
	KG_ENSURE_OUT((leaf = gpu_cert(kind, cn, brom, leaf_key, brom_key, fwid)) != NULL, KG_ERR_CRYPTO);
	KG_TRY_OUT(kg_sim_sign_p384_raw(leaf_key, out, rep->signed_len, out + rep->signed_len));
	KG_TRY_OUT(chain_make(dir, leaf, chain_pem, chain_len));
	*report = out;
	*report_len = out_len;
	out = NULL;
	rc = KG_OK;
out:
	free(out);
	free(bin);
	free(rep);
	free(mid);
	BIO_free(b);
	X509_free(brom);
	X509_free(leaf);
	EVP_PKEY_free(brom_key);
	EVP_PKEY_free(leaf_key);
	ERR_clear_error();
	return rc;
}
