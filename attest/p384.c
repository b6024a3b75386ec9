/*
 * ECDSA P-384 verification through GnuTLS (see p384.h).
 */
#include "p384.h"

#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

kg_err kg_p384_key_from_evp(const struct evp_pkey_st *pk, struct kg_p384_key *out, kg_err bad)
{
	BIGNUM *x = NULL, *y = NULL;
	char group[32];
	size_t glen = 0;
	kg_err rc = bad;

	memset(out, 0, sizeof *out);
	KG_ENSURE(pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC, bad);
	KG_ENSURE(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) == 1 &&
			  strcmp(group, SN_secp384r1) == 0,
		  bad);
	KG_ENSURE_OUT(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
			      EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1,
		      bad);
	KG_ENSURE_OUT(BN_bn2binpad(x, out->x, KG_P384_SIZE) == KG_P384_SIZE &&
			      BN_bn2binpad(y, out->y, KG_P384_SIZE) == KG_P384_SIZE,
		      bad);
	rc = KG_OK;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

kg_err kg_p384_verify(const struct kg_p384_key *k, const uint8_t *msg, size_t len,
		      const uint8_t r[static KG_P384_SIZE], const uint8_t s[static KG_P384_SIZE], kg_err bad)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t x = {(unsigned char *)k->x, KG_P384_SIZE}, y = {(unsigned char *)k->y, KG_P384_SIZE};
	gnutls_datum_t rd = {(unsigned char *)r, KG_P384_SIZE}, sd = {(unsigned char *)s, KG_P384_SIZE};
	gnutls_datum_t m = {(unsigned char *)msg, (unsigned int)len}, sig = {NULL, 0};
	kg_err rc;

	KG_ENSURE(len <= UINT32_MAX, KG_ERR_INVALID_ARG);
	KG_ENSURE(gnutls_pubkey_init(&pub) == 0, KG_ERR_NOMEM);
	/* The point is OpenSSL's, checked on the curve when it decoded the
	 * certificate. */
	KG_ENSURE_OUT(gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP384R1, &x, &y) == 0, KG_ERR_CRYPTO);
	/* DER Ecdsa-Sig-Value, as GnuTLS takes ECDSA signatures. */
	KG_ENSURE_OUT(gnutls_encode_rs_value(&sig, &rd, &sd) == 0, KG_ERR_NOMEM);
	rc = gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA384, 0, &m, &sig) >= 0 ? KG_OK : bad;
out:
	gnutls_free(sig.data);
	gnutls_pubkey_deinit(pub);
	return rc;
}
