/*
 * Fuzz target for kg_ratls_parse_cert (attest/ratls.c): a DER certificate
 * carrying the RA-TLS evidence extension 2.23.133.5.4.9.  When one parses,
 * its claims go on through kg_ratls_parse_claims and
 * kg_ratls_check_pubkey, as the broker runs them, and the result's
 * invariants are checked.  Differential: where GnuTLS (whose reading the
 * TLS handshake's signature check rests on) or OpenSSL also reads the
 * certificate, they read the same key, evidence extension and validity.
 * The reader checks the fields it skips (names, algorithm parameters) only
 * for their DER framing, so it may accept what they refuse: such a
 * certificate never gets past the handshake.  Corpus: corpus/fuzz_ratls_cert/ (the three CCC
 * interoperability certificates and a Keygate one).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include "../../attest/ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static time_t tm_of(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		abort();
	return timegm(&tm);
}

static void same_as_openssl(const uint8_t *data, size_t size, const struct kg_ratls *r)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)size);
	ASN1_OBJECT *oid = OBJ_txt2obj(KG_RATLS_OID, 1);
	const ASN1_OCTET_STRING *v;
	unsigned char *spki = NULL;
	int n, idx;

	if (!oid)
		abort();
	if (!x || p != data + size)
		goto out;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	/* OpenSSL re-encodes the key it decoded; one it could not decode
	 * (an unknown algorithm, which GnuTLS refuses too) it re-encodes its
	 * own way. */
	if (X509_get0_pubkey(x) != NULL && (n <= 0 || (size_t)n != r->spki_len || memcmp(spki, r->spki, r->spki_len) != 0))
		abort();
	if ((idx = X509_get_ext_by_OBJ(x, oid, -1)) < 0 || X509_get_ext_by_OBJ(x, oid, idx) >= 0)
		abort();
	v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
	if ((size_t)ASN1_STRING_length(v) != r->ext_len || memcmp(ASN1_STRING_get0_data(v), r->ext, r->ext_len) != 0)
		abort();
	if (tm_of(X509_get0_notBefore(x)) != r->not_before || tm_of(X509_get0_notAfter(x)) != r->not_after)
		abort();
out:
	OPENSSL_free(spki);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	ERR_clear_error();
}

static void same_as_gnutls(const uint8_t *data, size_t size, const struct kg_ratls *r)
{
	gnutls_x509_crt_t x = NULL;
	gnutls_pubkey_t pk = NULL;
	gnutls_datum_t der = {(unsigned char *)data, (unsigned int)size}, spki = {NULL, 0}, ext = {NULL, 0};
	unsigned int critical;

	if (gnutls_x509_crt_init(&x) < 0 || gnutls_pubkey_init(&pk) < 0)
		abort();
	if (gnutls_x509_crt_import(x, &der, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	/* The key, compared as GnuTLS re-encodes it: only a valid one (a
	 * point on its curve) re-encodes to the bytes it came from. */
	if (gnutls_pubkey_import_x509(pk, x, 0) == 0 && gnutls_pubkey_verify_params(pk) == 0 &&
	    (gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &spki) < 0 || spki.size != r->spki_len ||
	     memcmp(spki.data, r->spki, r->spki_len) != 0))
		abort();
	if (gnutls_x509_crt_get_extension_by_oid2(x, KG_RATLS_OID, 0, &ext, &critical) < 0 || ext.size != r->ext_len ||
	    memcmp(ext.data, r->ext, r->ext_len) != 0)
		abort();
	/* GnuTLS reads a time before 1970 as 0. */
	if (gnutls_x509_crt_get_activation_time(x) != (r->not_before < 0 ? 0 : r->not_before) ||
	    gnutls_x509_crt_get_expiration_time(x) != (r->not_after < 0 ? 0 : r->not_after))
		abort();
out:
	gnutls_free(spki.data);
	gnutls_free(ext.data);
	gnutls_pubkey_deinit(pk);
	gnutls_x509_crt_deinit(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_ratls r;
	struct kg_ratls_claims c;
	uint8_t h[32];
	unsigned int n = 0;

	if (kg_ratls_parse_cert(data, size, &r) != KG_OK) {
		/* Outputs are cleared on failure. */
		if (!zeroed(&r, sizeof r))
			abort();
		return 0;
	}
	/* evidence and claims lie inside ext, in that order, and ext_sha256
	 * is the hash of ext. */
	if (!r.ext || !r.spki || r.spki_len == 0 || r.evidence < r.ext || r.claims < r.evidence + r.evidence_len ||
	    r.claims + r.claims_len != r.ext + r.ext_len)
		abort();
	if (EVP_Digest(r.ext, r.ext_len, h, &n, EVP_sha256(), NULL) != 1 || memcmp(h, r.ext_sha256, 32) != 0)
		abort();
	same_as_openssl(data, size, &r);
	same_as_gnutls(data, size, &r);
	if (kg_ratls_parse_claims(r.claims, r.claims_len, &c) == KG_OK) {
		kg_err rc = kg_ratls_check_pubkey(&c, r.spki, r.spki_len);
		if (rc != KG_OK && rc != KG_ERR_BINDING_PUBKEY)
			abort();
	}
	kg_ratls_free(&r);
	return 0;
}
