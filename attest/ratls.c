/*
 * RA-TLS certificates in the CCC "Interoperable RA-TLS" format: the parser
 * for the evidence extension 2.23.133.5.4.9 and its claims buffer, and the
 * encoders a CVM uses to make its own certificate.
 *
 * Sources: CCC interoperable-ra-tls, "Interoperable RA-TLS X.509 Cert and
 * Evidence Formats" (extension, pubkey-hash, nonce) and "SGX / TDX Evidence
 * Tags and Formats" (tag([bstr evidence, bstr claims-buffer]), definite
 * lengths); RFC 8949 for CBOR.  Copies: shared/vectors/ratls/ccc-interop/.
 *
 * This file is an edge: OpenSSL and libcbor types stay inside it.
 *
 * Decisions:
 *  - The evidence extension must occur exactly once.  A second copy is
 *    rejected (ratls_evidence_duplicated): RFC 5280 §4.2 forbids repeating
 *    an extension, and two verifiers must not be able to read different
 *    evidence out of one certificate.
 *  - Indefinite-length items are rejected everywhere (envelope, claims,
 *    hash entry, and unknown claims too).  The CCC documents require
 *    definite-length encodings, and the claims bytes are what REPORT_DATA
 *    hashes, so there is no reason to accept a second way to write them.
 *  - libcbor allocates while it decodes, and (0.8) sizes a definite array
 *    or map from its declared count before the items arrive.  So every
 *    input first goes through cbor_check(): a non-allocating walk with the
 *    cursor that checks well-formedness, definite lengths, nesting depth
 *    and trailing bytes.  Once it passes, every declared count is backed
 *    by items that are really there, so libcbor's allocations are bounded
 *    by the (already bounded) input size.  libcbor then does the decoding.
 *  - Criticality of the extension is not judged: the CCC convention says
 *    non-critical, the TCG DICE text says critical; both carry the same
 *    evidence.
 *  - The certificate's self-signature is not checked here: the TLS
 *    handshake proves possession of the certificate key, and the binding
 *    runs key -> pubkey-hash -> claims -> REPORT_DATA.
 */
#include "ratls.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/cursor.h"

/* Deepest nesting accepted in any CBOR input.  The envelope needs 3
 * (tag, array, bstr), a claims map 2; the rest is room for unknown claims. */
#define RATLS_CBOR_DEPTH_MAX 16

/* CBOR major types, RFC 8949 §3.1. */
enum {
	CBOR_MT_UINT = 0,
	CBOR_MT_NEGINT = 1,
	CBOR_MT_BSTR = 2,
	CBOR_MT_TSTR = 3,
	CBOR_MT_ARRAY = 4,
	CBOR_MT_MAP = 5,
	CBOR_MT_TAG = 6,
	CBOR_MT_SIMPLE = 7,
};

/* IANA "Named Information Hash Algorithm Registry" ids (CCC: verifiers
 * must support 1, 7 and 8). */
enum {
	HASH_ALG_SHA256 = 1,
	HASH_ALG_SHA384 = 7,
	HASH_ALG_SHA512 = 8,
};

/* ---- CBOR well-formedness walk (no allocation) ------------------------ */

/* Reads one head (RFC 8949 §3): the initial byte holds the major type (3
 * bits) and additional information (5 bits); 0..23 is the argument
 * itself, 24..27 announce a 1-, 2-, 4- or 8-byte big-endian argument,
 * 28..30 are reserved and 31 is indefinite length / "break", which Keygate
 * does not accept. */
static kg_err cbor_head(struct kg_cur *c, uint8_t *major, uint64_t *arg)
{
	uint8_t ib, v8;
	uint16_t v16;
	uint32_t v32;

	KG_TRY(kg_cur_u8(c, &ib));
	*major = (uint8_t)(ib >> 5);
	switch (ib & 0x1f) {
	case 24:
		KG_TRY(kg_cur_u8(c, &v8));
		*arg = v8;
		return KG_OK;
	case 25:
		KG_TRY(kg_cur_u16be(c, &v16));
		*arg = v16;
		return KG_OK;
	case 26:
		KG_TRY(kg_cur_u32be(c, &v32));
		*arg = v32;
		return KG_OK;
	case 27:
		return kg_cur_u64be(c, arg);
	case 28:
	case 29:
	case 30:
	case 31:
		return KG_ERR_RATLS_CBOR;
	default:
		*arg = ib & 0x1f;
		return KG_OK;
	}
}

/* Skips one well-formed, definite-length data item. */
static kg_err cbor_skip(struct kg_cur *c, unsigned depth)
{
	uint8_t major;
	uint64_t n;

	KG_ENSURE(depth < RATLS_CBOR_DEPTH_MAX, KG_ERR_RATLS_CBOR);
	KG_TRY(cbor_head(c, &major, &n));
	switch (major) {
	case CBOR_MT_UINT:
	case CBOR_MT_NEGINT:
	case CBOR_MT_SIMPLE: /* simple values and floats: the head is all */
		return KG_OK;
	case CBOR_MT_BSTR:
	case CBOR_MT_TSTR:
		KG_ENSURE(n <= kg_cur_left(c), KG_ERR_TRUNCATED);
		return kg_cur_skip(c, (size_t)n);
	case CBOR_MT_ARRAY:
		/* Every item takes at least one byte: a count larger than what
		 * is left is a lie, refused before looping on it. */
		KG_ENSURE(n <= kg_cur_left(c), KG_ERR_TRUNCATED);
		for (uint64_t i = 0; i < n; i++)
			KG_TRY(cbor_skip(c, depth + 1));
		return KG_OK;
	case CBOR_MT_MAP:
		KG_ENSURE(n <= kg_cur_left(c) / 2, KG_ERR_TRUNCATED);
		for (uint64_t i = 0; i < 2 * n; i++)
			KG_TRY(cbor_skip(c, depth + 1));
		return KG_OK;
	case CBOR_MT_TAG:
		return cbor_skip(c, depth + 1);
	}
	assert(!"a major type has three bits");
	return KG_ERR_INTERNAL;
}

/* KG_OK when p..p+len is exactly one well-formed definite-length item no
 * deeper than RATLS_CBOR_DEPTH_MAX; bad otherwise.  Run before cbor_load. */
static kg_err cbor_check(const uint8_t *p, size_t len, kg_err bad)
{
	struct kg_cur c = kg_cur_init(p, len);

	if (cbor_skip(&c, 0) != KG_OK || kg_cur_done(&c) != KG_OK)
		return bad;
	return KG_OK;
}

/* Decodes p..p+len with libcbor after cbor_check(); the whole input must
 * be consumed.  *item is a new reference. */
static kg_err cbor_decode(const uint8_t *p, size_t len, kg_err bad, cbor_item_t **item)
{
	struct cbor_load_result res;
	cbor_item_t *it;

	*item = NULL;
	KG_TRY(cbor_check(p, len, bad));
	memset(&res, 0, sizeof res);
	it = cbor_load(p, len, &res);
	if (!it)
		return res.error.code == CBOR_ERR_MEMERROR ? KG_ERR_NOMEM : bad;
	if (res.error.code != CBOR_ERR_NONE || res.read != len) {
		cbor_decref(&it);
		return bad;
	}
	*item = it;
	return KG_OK;
}

static bool cbor_is_def_bstr(const cbor_item_t *it)
{
	return it && cbor_isa_bytestring(it) && cbor_bytestring_is_definite(it);
}

/* Copies a definite byte string's content; libcbor may hold NULL for an
 * empty one. */
static void cbor_bstr_copy(uint8_t *dst, const cbor_item_t *it)
{
	size_t n = cbor_bytestring_length(it);

	if (n)
		memcpy(dst, cbor_bytestring_handle(it), n);
}

static bool cbor_is_text(const cbor_item_t *it, const char *s)
{
	size_t n = strlen(s);

	return cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_length(it) == n &&
	       memcmp(cbor_string_handle(it), s, n) == 0;
}

/* Serializes item into an exact-size malloc'd buffer. */
static kg_err cbor_encode(const cbor_item_t *item, uint8_t **out, size_t *out_len)
{
	unsigned char *buf = NULL;
	size_t cap = 0, n;
	uint8_t *copy;

	n = cbor_serialize_alloc(item, &buf, &cap);
	if (n == 0 || !buf) {
		free(buf);
		return KG_ERR_NOMEM;
	}
	assert(n <= cap);
	copy = malloc(n);
	if (copy)
		memcpy(copy, buf, n);
	free(buf);
	KG_ENSURE(copy != NULL, KG_ERR_NOMEM);
	*out = copy;
	*out_len = n;
	return KG_OK;
}

/* Adds text key -> bstr value to a definite map. */
static kg_err cbor_map_put_bytes(cbor_item_t *map, const char *key, const uint8_t *v, size_t n)
{
	cbor_item_t *k = cbor_build_string(key);
	cbor_item_t *b = cbor_build_bytestring(v, n);
	bool ok = k && b && cbor_map_add(map, (struct cbor_pair){.key = k, .value = b});

	/* cbor_map_add took its own references. */
	if (k)
		cbor_decref(&k);
	if (b)
		cbor_decref(&b);
	return ok ? KG_OK : KG_ERR_NOMEM;
}

/* ---- hashes ----------------------------------------------------------- */

static const EVP_MD *hash_alg_md(uint64_t alg)
{
	switch (alg) {
	case HASH_ALG_SHA256:
		return EVP_sha256();
	case HASH_ALG_SHA384:
		return EVP_sha384();
	case HASH_ALG_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

static kg_err digest(const EVP_MD *md, const uint8_t *p, size_t len, uint8_t *out, size_t out_size)
{
	unsigned int n = 0;

	assert((size_t)EVP_MD_get_size(md) <= out_size);
	(void)out_size;
	KG_ENSURE(EVP_Digest(p, len, out, &n, md, NULL) == 1, KG_ERR_CRYPTO);
	return KG_OK;
}

/* ---- certificate parsing ---------------------------------------------- */

/*
 * The extension value, CCC SGX/TDX evidence formats:
 *     tag( [ bstr evidence, bstr claims-buffer ] )      all definite
 * libcbor checks the shape; then the cursor walks the same four heads to
 * find where the two byte strings sit inside ext (libcbor hands out
 * copies, and claims must be the exact bytes that REPORT_DATA hashes).
 */
static kg_err ratls_decode_ext(struct kg_ratls *r)
{
	kg_err rc = KG_ERR_RATLS_CBOR;
	cbor_item_t *root = NULL, *arr = NULL, **items;
	struct kg_cur c = kg_cur_init(r->ext, r->ext_len);
	uint64_t tag, n, ev_len, cl_len;
	uint8_t major;

	KG_TRY_OUT(cbor_decode(r->ext, r->ext_len, KG_ERR_RATLS_CBOR, &root));
	KG_ENSURE_OUT(cbor_isa_tag(root), KG_ERR_RATLS_CBOR);
	arr = cbor_tag_item(root); /* new reference */
	KG_ENSURE_OUT(arr && cbor_isa_array(arr) && cbor_array_is_definite(arr) && cbor_array_size(arr) == 2,
		      KG_ERR_RATLS_CBOR);
	items = cbor_array_handle(arr);
	KG_ENSURE_OUT(cbor_is_def_bstr(items[0]) && cbor_is_def_bstr(items[1]), KG_ERR_RATLS_CBOR);
	tag = cbor_tag_value(root);
	ev_len = cbor_bytestring_length(items[0]);
	cl_len = cbor_bytestring_length(items[1]);

	/* libcbor accepted the shape, so this walk cannot fail. */
	rc = KG_ERR_INTERNAL;
	KG_ENSURE_OUT(cbor_head(&c, &major, &n) == KG_OK && major == CBOR_MT_TAG && n == tag, rc);
	KG_ENSURE_OUT(cbor_head(&c, &major, &n) == KG_OK && major == CBOR_MT_ARRAY && n == 2, rc);
	KG_ENSURE_OUT(cbor_head(&c, &major, &n) == KG_OK && major == CBOR_MT_BSTR && n == ev_len, rc);
	KG_ENSURE_OUT(kg_cur_bytes(&c, &r->evidence, (size_t)n) == KG_OK, rc);
	KG_ENSURE_OUT(cbor_head(&c, &major, &n) == KG_OK && major == CBOR_MT_BSTR && n == cl_len, rc);
	KG_ENSURE_OUT(kg_cur_bytes(&c, &r->claims, (size_t)n) == KG_OK, rc);
	KG_ENSURE_OUT(kg_cur_done(&c) == KG_OK, rc);
	r->tag = tag;
	r->evidence_len = (size_t)ev_len;
	r->claims_len = (size_t)cl_len;
	rc = KG_OK;
out:
	assert(rc != KG_ERR_INTERNAL);
	if (arr)
		cbor_decref(&arr);
	if (root)
		cbor_decref(&root);
	return rc;
}

/* ---- the certificate ---------------------------------------------------
 *
 * X.509 (RFC 5280 §4.1) read as strict DER with the cursor, for what the
 * broker needs: the SubjectPublicKeyInfo as its bytes, the validity, and
 * the evidence extension.  Every field before them is checked for its
 * place and form, so that the key hashed here is the one GnuTLS, parsing
 * the same unambiguous bytes, checked the handshake's signature with.
 * OpenSSL's d2i_X509 did this before; on OpenSSL 3.0 it decodes the public
 * key through its provider decoders, which cost a quarter of a
 * millisecond, a tenth of a whole release (docs/operations.md,
 * "Performance").  The fuzz target checks that this reader accepts nothing
 * OpenSSL rejects and reads what OpenSSL reads. */

enum {
	DER_BOOLEAN = 0x01,
	DER_INTEGER = 0x02,
	DER_BIT_STRING = 0x03,
	DER_OCTET_STRING = 0x04,
	DER_OID = 0x06,
	DER_UTC_TIME = 0x17,
	DER_GENERALIZED_TIME = 0x18,
	DER_SEQUENCE = 0x30,
	DER_CTX0 = 0xa0, /* [0] EXPLICIT: version */
	DER_CTX1_PRIM = 0x81, /* [1] IMPLICIT: issuerUniqueID */
	DER_CTX2_PRIM = 0x82, /* [2] IMPLICIT: subjectUniqueID */
	DER_CTX3 = 0xa3, /* [3] EXPLICIT: extensions */
};

/* 2.23.133.5.4.9 (KG_RATLS_OID), as the OID's contents octets. */
static const uint8_t ratls_oid_der[] = {0x67, 0x81, 0x05, 0x05, 0x04, 0x09};

static kg_err der_digits(struct kg_cur *c, size_t n, int lo, int hi, int *out)
{
	int v = 0;
	uint8_t d;

	for (size_t i = 0; i < n; i++) {
		KG_TRY(kg_cur_u8(c, &d));
		KG_ENSURE(d >= '0' && d <= '9', KG_ERR_BAD_CLIENT_CERT);
		v = v * 10 + (d - '0');
	}
	KG_ENSURE(v >= lo && v <= hi, KG_ERR_BAD_CLIENT_CERT);
	*out = v;
	return KG_OK;
}

/* Time ::= UTCTime | GeneralizedTime, in DER's one form each (X.690
 * §11.7-11.8; RFC 5280 §4.1.2.5): YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ. */
static kg_err der_time(struct kg_cur *c, time_t *out)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct kg_cur v;
	struct tm tm;
	int y, mo, d, h, mi, sec;
	uint8_t z;

	memset(&tm, 0, sizeof tm);
	if (kg_cur_der_next_is(c, DER_UTC_TIME)) {
		KG_TRY(kg_cur_der(c, DER_UTC_TIME, &v, KG_ERR_BAD_CLIENT_CERT));
		KG_ENSURE(kg_cur_left(&v) == 13, KG_ERR_BAD_CLIENT_CERT);
		KG_TRY(der_digits(&v, 2, 0, 99, &y));
		y += y >= 50 ? 1900 : 2000;
	} else {
		KG_TRY(kg_cur_der(c, DER_GENERALIZED_TIME, &v, KG_ERR_BAD_CLIENT_CERT));
		KG_ENSURE(kg_cur_left(&v) == 15, KG_ERR_BAD_CLIENT_CERT);
		KG_TRY(der_digits(&v, 4, 0, 9999, &y));
	}
	KG_TRY(der_digits(&v, 2, 1, 12, &mo));
	KG_TRY(der_digits(&v, 2, 1, 31, &d));
	KG_TRY(der_digits(&v, 2, 0, 23, &h));
	KG_TRY(der_digits(&v, 2, 0, 59, &mi));
	KG_TRY(der_digits(&v, 2, 0, 59, &sec));
	KG_TRY(kg_cur_u8(&v, &z));
	KG_ENSURE(z == 'Z', KG_ERR_BAD_CLIENT_CERT);
	KG_ENSURE(d <= mdays[mo - 1], KG_ERR_BAD_CLIENT_CERT);
	KG_ENSURE(mo != 2 || d <= 28 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)), KG_ERR_BAD_CLIENT_CERT);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return KG_OK;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING };
 * *spki views the whole TLV, as the claims' pubkey-hash hashes it. */
static kg_err der_spki(struct kg_cur *c, struct kg_cur *spki)
{
	struct kg_cur before = *c, v, alg, oid, bits;
	uint8_t unused;

	KG_TRY(kg_cur_der(c, DER_SEQUENCE, &v, KG_ERR_BAD_CLIENT_CERT));
	*spki = kg_cur_init(kg_cur_ptr(&before), kg_cur_left(&before) - kg_cur_left(c));
	KG_TRY(kg_cur_der(&v, DER_SEQUENCE, &alg, KG_ERR_BAD_CLIENT_CERT));
	KG_TRY(kg_cur_der(&alg, DER_OID, &oid, KG_ERR_BAD_CLIENT_CERT));
	KG_ENSURE(kg_cur_left(&oid) > 0, KG_ERR_BAD_CLIENT_CERT);
	KG_TRY(kg_cur_der(&v, DER_BIT_STRING, &bits, KG_ERR_BAD_CLIENT_CERT));
	KG_TRY(kg_cur_u8(&bits, &unused));
	KG_ENSURE(unused == 0 && kg_cur_left(&bits) > 0, KG_ERR_BAD_CLIENT_CERT);
	return kg_cur_done(&v) == KG_OK ? KG_OK : KG_ERR_BAD_CLIENT_CERT;
}

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { extnID OID,
 * critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }: the value of
 * the evidence extension, which must occur exactly once. */
static kg_err der_evidence_ext(struct kg_cur *c, struct kg_cur *value)
{
	struct kg_cur exts, seq, ext, oid, crit, val;
	bool found = false;
	uint8_t b;

	KG_TRY(kg_cur_der(c, DER_CTX3, &exts, KG_ERR_RATLS_NO_EVIDENCE));
	KG_TRY(kg_cur_der(&exts, DER_SEQUENCE, &seq, KG_ERR_BAD_CLIENT_CERT));
	KG_ENSURE(kg_cur_done(&exts) == KG_OK && kg_cur_left(&seq) > 0, KG_ERR_BAD_CLIENT_CERT);
	while (kg_cur_left(&seq) > 0) {
		KG_TRY(kg_cur_der(&seq, DER_SEQUENCE, &ext, KG_ERR_BAD_CLIENT_CERT));
		KG_TRY(kg_cur_der(&ext, DER_OID, &oid, KG_ERR_BAD_CLIENT_CERT));
		KG_ENSURE(kg_cur_left(&oid) > 0, KG_ERR_BAD_CLIENT_CERT);
		if (kg_cur_der_next_is(&ext, DER_BOOLEAN)) {
			/* DER omits a DEFAULT value, so a present one is TRUE. */
			KG_TRY(kg_cur_der(&ext, DER_BOOLEAN, &crit, KG_ERR_BAD_CLIENT_CERT));
			KG_ENSURE(kg_cur_u8(&crit, &b) == KG_OK && b == 0xff && kg_cur_done(&crit) == KG_OK,
				  KG_ERR_BAD_CLIENT_CERT);
		}
		KG_TRY(kg_cur_der(&ext, DER_OCTET_STRING, &val, KG_ERR_BAD_CLIENT_CERT));
		KG_ENSURE(kg_cur_done(&ext) == KG_OK, KG_ERR_BAD_CLIENT_CERT);
		if (kg_cur_left(&oid) != sizeof ratls_oid_der ||
		    memcmp(kg_cur_ptr(&oid), ratls_oid_der, sizeof ratls_oid_der) != 0)
			continue;
		KG_ENSURE(!found, KG_ERR_RATLS_DUP_EVIDENCE);
		found = true;
		*value = val;
	}
	KG_ENSURE(found, KG_ERR_RATLS_NO_EVIDENCE);
	return KG_OK;
}

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue }, nothing after it. */
static kg_err der_cert(const uint8_t *der, size_t len, struct kg_cur *spki, struct kg_cur *ext, time_t *not_before,
		       time_t *not_after)
{
	struct kg_cur all = kg_cur_init(der, len), cert, tbs, f, ver, sig;
	uint8_t b;

	KG_TRY(kg_cur_der(&all, DER_SEQUENCE, &cert, KG_ERR_BAD_CLIENT_CERT));
	KG_ENSURE(kg_cur_done(&all) == KG_OK, KG_ERR_BAD_CLIENT_CERT);
	KG_TRY(kg_cur_der(&cert, DER_SEQUENCE, &tbs, KG_ERR_BAD_CLIENT_CERT));
	KG_TRY(kg_cur_der(&cert, DER_SEQUENCE, &f, KG_ERR_BAD_CLIENT_CERT));
	KG_TRY(kg_cur_der(&cert, DER_BIT_STRING, &sig, KG_ERR_BAD_CLIENT_CERT));
	KG_ENSURE(kg_cur_left(&sig) > 0 && kg_cur_done(&cert) == KG_OK, KG_ERR_BAD_CLIENT_CERT);

	/* version [0] EXPLICIT INTEGER: v3 (2), the only one with extensions. */
	KG_TRY(kg_cur_der(&tbs, DER_CTX0, &ver, KG_ERR_RATLS_NO_EVIDENCE));
	KG_TRY(kg_cur_der(&ver, DER_INTEGER, &f, KG_ERR_BAD_CLIENT_CERT));
	KG_ENSURE(kg_cur_u8(&f, &b) == KG_OK && b == 2 && kg_cur_done(&f) == KG_OK && kg_cur_done(&ver) == KG_OK,
		  KG_ERR_BAD_CLIENT_CERT);
	KG_TRY(kg_cur_der(&tbs, DER_INTEGER, &f, KG_ERR_BAD_CLIENT_CERT)); /* serialNumber */
	KG_ENSURE(kg_cur_left(&f) > 0, KG_ERR_BAD_CLIENT_CERT);
	KG_TRY(kg_cur_der(&tbs, DER_SEQUENCE, &f, KG_ERR_BAD_CLIENT_CERT)); /* signature */
	KG_TRY(kg_cur_der(&tbs, DER_SEQUENCE, &f, KG_ERR_BAD_CLIENT_CERT)); /* issuer */
	KG_TRY(kg_cur_der(&tbs, DER_SEQUENCE, &f, KG_ERR_BAD_CLIENT_CERT)); /* validity */
	KG_TRY(der_time(&f, not_before));
	KG_TRY(der_time(&f, not_after));
	KG_ENSURE(kg_cur_done(&f) == KG_OK, KG_ERR_BAD_CLIENT_CERT);
	KG_TRY(kg_cur_der(&tbs, DER_SEQUENCE, &f, KG_ERR_BAD_CLIENT_CERT)); /* subject */
	KG_TRY(der_spki(&tbs, spki));
	if (kg_cur_der_next_is(&tbs, DER_CTX1_PRIM))
		KG_TRY(kg_cur_der(&tbs, DER_CTX1_PRIM, &f, KG_ERR_BAD_CLIENT_CERT));
	if (kg_cur_der_next_is(&tbs, DER_CTX2_PRIM))
		KG_TRY(kg_cur_der(&tbs, DER_CTX2_PRIM, &f, KG_ERR_BAD_CLIENT_CERT));
	KG_TRY(der_evidence_ext(&tbs, ext));
	KG_ENSURE(kg_cur_done(&tbs) == KG_OK, KG_ERR_BAD_CLIENT_CERT);
	return KG_OK;
}

kg_err kg_ratls_parse_cert(const uint8_t *der, size_t len, struct kg_ratls *out)
{
	kg_err rc;
	struct kg_ratls r;
	struct kg_cur spki = kg_cur_init(NULL, 0), ext = kg_cur_init(NULL, 0);

	memset(&r, 0, sizeof r);
	KG_ENSURE(out != NULL, KG_ERR_INVALID_ARG);
	memset(out, 0, sizeof *out);
	KG_ENSURE(der != NULL, KG_ERR_INVALID_ARG);
	KG_ENSURE(len <= KG_RATLS_CERT_MAX, KG_ERR_TOO_LARGE);

	rc = der_cert(der, len, &spki, &ext, &r.not_before, &r.not_after);
	/* A cut-off certificate is as malformed as any other. */
	KG_ENSURE(rc == KG_OK, rc == KG_ERR_TRUNCATED ? KG_ERR_BAD_CLIENT_CERT : rc);
	KG_ENSURE(kg_cur_left(&ext) > 0, KG_ERR_RATLS_CBOR);
	r.ext_len = kg_cur_left(&ext);
	KG_ENSURE_OUT((r.ext = malloc(r.ext_len)) != NULL, KG_ERR_NOMEM);
	memcpy(r.ext, kg_cur_ptr(&ext), r.ext_len);
	r.spki_len = kg_cur_left(&spki);
	KG_ENSURE_OUT((r.spki = malloc(r.spki_len)) != NULL, KG_ERR_NOMEM);
	memcpy(r.spki, kg_cur_ptr(&spki), r.spki_len);
	KG_TRY_OUT(digest(EVP_sha256(), r.ext, r.ext_len, r.ext_sha256, sizeof r.ext_sha256));
	KG_TRY_OUT(ratls_decode_ext(&r));

	*out = r;
	memset(&r, 0, sizeof r);
	rc = KG_OK;
out:
	kg_ratls_free(&r);
	return rc;
}

void kg_ratls_free(struct kg_ratls *r)
{
	if (!r)
		return;
	free(r->ext);
	free(r->spki);
	memset(r, 0, sizeof *r);
}

/* ---- claims ----------------------------------------------------------- */

/* pubkey-hash (CCC cert formats): a bstr holding the definite CBOR
 * hash-entry [uint hash-alg-id, bstr hash-value] (CoSWID). */
static kg_err parse_pubkey_hash(const cbor_item_t *v, struct kg_ratls_claims *out)
{
	kg_err rc = KG_ERR_RATLS_CLAIMS;
	cbor_item_t *entry = NULL, **items;
	const EVP_MD *md;
	uint64_t alg;

	KG_ENSURE(cbor_is_def_bstr(v), KG_ERR_RATLS_CLAIMS);
	KG_TRY(cbor_decode(cbor_bytestring_handle(v), cbor_bytestring_length(v), KG_ERR_RATLS_CLAIMS, &entry));
	KG_ENSURE_OUT(cbor_isa_array(entry) && cbor_array_is_definite(entry) && cbor_array_size(entry) == 2,
		      KG_ERR_RATLS_CLAIMS);
	items = cbor_array_handle(entry);
	KG_ENSURE_OUT(cbor_isa_uint(items[0]) && cbor_is_def_bstr(items[1]), KG_ERR_RATLS_CLAIMS);
	alg = cbor_get_int(items[0]);
	KG_ENSURE_OUT((md = hash_alg_md(alg)) != NULL, KG_ERR_RATLS_HASH_ALG);
	KG_ENSURE_OUT(cbor_bytestring_length(items[1]) == (size_t)EVP_MD_get_size(md), KG_ERR_RATLS_CLAIMS);
	assert(cbor_bytestring_length(items[1]) <= sizeof out->pubkey_hash);
	cbor_bstr_copy(out->pubkey_hash, items[1]);
	out->pubkey_hash_len = cbor_bytestring_length(items[1]);
	out->hash_alg = (int)alg;
	rc = KG_OK;
out:
	cbor_decref(&entry);
	return rc;
}

kg_err kg_ratls_parse_claims(const uint8_t *cbor, size_t len, struct kg_ratls_claims *out)
{
	kg_err rc = KG_ERR_RATLS_CLAIMS;
	cbor_item_t *map = NULL;
	struct cbor_pair *pairs;
	bool has_hash = false;

	KG_ENSURE(out != NULL, KG_ERR_INVALID_ARG);
	memset(out, 0, sizeof *out);
	KG_ENSURE(cbor != NULL || len == 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(len <= KG_RATLS_CLAIMS_MAX, KG_ERR_TOO_LARGE);

	KG_TRY_OUT(cbor_decode(cbor, len, KG_ERR_RATLS_CLAIMS, &map));
	KG_ENSURE_OUT(cbor_isa_map(map) && cbor_map_is_definite(map), KG_ERR_RATLS_CLAIMS);
	pairs = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++) {
		const cbor_item_t *k = pairs[i].key, *v = pairs[i].value;

		/* Claim names are text strings (CCC SGX/TDX formats). */
		KG_ENSURE_OUT(cbor_isa_string(k) && cbor_string_is_definite(k), KG_ERR_RATLS_CLAIMS);
		if (cbor_is_text(k, "pubkey-hash")) {
			KG_ENSURE_OUT(!has_hash, KG_ERR_RATLS_CLAIMS);
			KG_TRY_OUT(parse_pubkey_hash(v, out));
			has_hash = true;
		} else if (cbor_is_text(k, "nonce")) {
			KG_ENSURE_OUT(!out->has_nonce, KG_ERR_RATLS_CLAIMS);
			KG_ENSURE_OUT(cbor_is_def_bstr(v) && cbor_bytestring_length(v) <= sizeof out->nonce,
				      KG_ERR_RATLS_CLAIMS);
			cbor_bstr_copy(out->nonce, v);
			out->nonce_len = cbor_bytestring_length(v);
			out->has_nonce = 1;
		} else if (cbor_is_text(k, "gpu-evidence")) {
			KG_ENSURE_OUT(!out->has_gpu_evidence, KG_ERR_RATLS_CLAIMS);
			KG_ENSURE_OUT(cbor_is_def_bstr(v) && cbor_bytestring_length(v) == sizeof out->gpu_evidence,
				      KG_ERR_RATLS_CLAIMS);
			cbor_bstr_copy(out->gpu_evidence, v);
			out->has_gpu_evidence = 1;
		} else if (cbor_is_text(k, "hpke-pk")) {
			KG_ENSURE_OUT(!out->has_hpke_pk, KG_ERR_RATLS_CLAIMS);
			KG_ENSURE_OUT(cbor_is_def_bstr(v) && cbor_bytestring_length(v) == sizeof out->hpke_pk,
				      KG_ERR_RATLS_CLAIMS);
			cbor_bstr_copy(out->hpke_pk, v);
			out->has_hpke_pk = 1;
		}
		/* Any other claim is ignored, as the CCC convention says. */
	}
	/* pubkey-hash is the one required claim (CCC cert formats). */
	KG_ENSURE_OUT(has_hash, KG_ERR_RATLS_CLAIMS);
	rc = KG_OK;
out:
	if (map)
		cbor_decref(&map);
	if (rc != KG_OK)
		memset(out, 0, sizeof *out);
	return rc;
}

kg_err kg_ratls_check_pubkey(const struct kg_ratls_claims *claims, const uint8_t *spki, size_t spki_len)
{
	uint8_t h[EVP_MAX_MD_SIZE];
	const EVP_MD *md;

	KG_ENSURE(claims != NULL && (spki != NULL || spki_len == 0), KG_ERR_INVALID_ARG);
	KG_ENSURE(claims->hash_alg > 0 && (md = hash_alg_md((uint64_t)claims->hash_alg)) != NULL,
		  KG_ERR_RATLS_HASH_ALG);
	KG_ENSURE(claims->pubkey_hash_len == (size_t)EVP_MD_get_size(md), KG_ERR_BINDING_PUBKEY);
	KG_TRY(digest(md, spki, spki_len, h, sizeof h));
	KG_ENSURE(CRYPTO_memcmp(h, claims->pubkey_hash, claims->pubkey_hash_len) == 0, KG_ERR_BINDING_PUBKEY);
	return KG_OK;
}

/* ---- encoders --------------------------------------------------------- */

kg_err kg_ratls_encode_claims(const uint8_t *spki, size_t spki_len, const uint8_t *nonce, size_t nonce_len,
			      const uint8_t hpke_pk[static 32], uint8_t **out, size_t *out_len)
{
	return kg_ratls_encode_claims_gpu(spki, spki_len, nonce, nonce_len, hpke_pk, NULL, out, out_len);
}

kg_err kg_ratls_encode_claims_gpu(const uint8_t *spki, size_t spki_len, const uint8_t *nonce, size_t nonce_len,
				  const uint8_t hpke_pk[static 32], const uint8_t *gpu_evidence, uint8_t **out,
				  size_t *out_len)
{
	kg_err rc = KG_ERR_NOMEM;
	uint8_t h[32];
	uint8_t *entry = NULL;
	size_t entry_len = 0;
	cbor_item_t *arr = NULL, *alg = NULL, *hv = NULL, *map = NULL;

	KG_ENSURE(out != NULL && out_len != NULL, KG_ERR_INVALID_ARG);
	*out = NULL;
	*out_len = 0;
	KG_ENSURE(spki != NULL && spki_len > 0 && hpke_pk != NULL, KG_ERR_INVALID_ARG);
	KG_ENSURE(nonce != NULL || nonce_len == 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(nonce_len <= KG_RATLS_NONCE_MAX, KG_ERR_INVALID_ARG);

	/* pubkey-hash = bstr(CBOR [1, bstr SHA-256(SPKI DER)]). */
	KG_TRY_OUT(digest(EVP_sha256(), spki, spki_len, h, sizeof h));
	KG_ENSURE_OUT((arr = cbor_new_definite_array(2)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((alg = cbor_build_uint8(HASH_ALG_SHA256)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((hv = cbor_build_bytestring(h, sizeof h)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(cbor_array_push(arr, alg) && cbor_array_push(arr, hv), KG_ERR_NOMEM);
	KG_TRY_OUT(cbor_encode(arr, &entry, &entry_len));

	/* Deterministic encoding (RFC 8949 §4.2.1): definite lengths, shortest
	 * heads (libcbor's encoder), and map keys sorted by the bytes of their
	 * encodings: "nonce" (65 6e..) < "hpke-pk" (67 68..) < "pubkey-hash"
	 * (6b 70..) < "gpu-evidence" (6c 67..).  Shorter keys come first, so
	 * this is also RFC 7049 §3.9 canonical order.  libcbor writes pairs
	 * in insertion order. */
	KG_ENSURE_OUT((map = cbor_new_definite_map(2 + (nonce != NULL) + (gpu_evidence != NULL))) != NULL,
		      KG_ERR_NOMEM);
	if (nonce)
		KG_TRY_OUT(cbor_map_put_bytes(map, "nonce", nonce, nonce_len));
	KG_TRY_OUT(cbor_map_put_bytes(map, "hpke-pk", hpke_pk, 32));
	KG_TRY_OUT(cbor_map_put_bytes(map, "pubkey-hash", entry, entry_len));
	if (gpu_evidence)
		KG_TRY_OUT(cbor_map_put_bytes(map, "gpu-evidence", gpu_evidence, 32));
	KG_TRY_OUT(cbor_encode(map, out, out_len));
	if (*out_len > KG_RATLS_CLAIMS_MAX) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		rc = KG_ERR_TOO_LARGE;
		goto out;
	}
	rc = KG_OK;
out:
	free(entry);
	if (map)
		cbor_decref(&map);
	if (hv)
		cbor_decref(&hv);
	if (alg)
		cbor_decref(&alg);
	if (arr)
		cbor_decref(&arr);
	return rc;
}

kg_err kg_ratls_encode_evidence(uint64_t tag, const uint8_t *evidence, size_t evidence_len, const uint8_t *claims,
				size_t claims_len, uint8_t **out, size_t *out_len)
{
	kg_err rc = KG_ERR_NOMEM;
	cbor_item_t *t = NULL, *arr = NULL, *ev = NULL, *cl = NULL;

	KG_ENSURE(out != NULL && out_len != NULL, KG_ERR_INVALID_ARG);
	*out = NULL;
	*out_len = 0;
	KG_ENSURE(evidence != NULL && claims != NULL, KG_ERR_INVALID_ARG);
	/* What the parser on the other side accepts. */
	KG_ENSURE(evidence_len <= KG_RATLS_CERT_MAX && claims_len <= KG_RATLS_CLAIMS_MAX, KG_ERR_TOO_LARGE);

	KG_ENSURE_OUT((t = cbor_new_tag(tag)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((arr = cbor_new_definite_array(2)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((ev = cbor_build_bytestring(evidence, evidence_len)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((cl = cbor_build_bytestring(claims, claims_len)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(cbor_array_push(arr, ev) && cbor_array_push(arr, cl), KG_ERR_NOMEM);
	cbor_tag_set_item(t, arr); /* takes its own reference */
	KG_TRY_OUT(cbor_encode(t, out, out_len));
	rc = KG_OK;
out:
	if (cl)
		cbor_decref(&cl);
	if (ev)
		cbor_decref(&ev);
	if (arr)
		cbor_decref(&arr);
	if (t)
		cbor_decref(&t);
	return rc;
}

/* ---- certificate making ----------------------------------------------- */

/* The signature digest matched to the curve (RFC 5480 §4): SHA-256 for
 * P-256, SHA-384 for P-384; other keys are not offered. */
static const EVP_MD *cert_sig_md(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	int nid;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
		return NULL;
	if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) != 1)
		return NULL;
	if ((nid = OBJ_sn2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	switch (nid) {
	case NID_X9_62_prime256v1:
		return EVP_sha256();
	case NID_secp384r1:
		return EVP_sha384();
	}
	return NULL;
}

kg_err kg_ratls_make_cert(void *evp_pkey, const uint8_t *ext, size_t ext_len, time_t now, long valid_secs,
			  uint8_t **der, size_t *der_len)
{
	kg_err rc = KG_ERR_CRYPTO;
	EVP_PKEY *key = evp_pkey;
	const EVP_MD *md;
	X509 *x = NULL;
	X509_NAME *name;
	BIGNUM *serial = NULL;
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *oct = NULL;
	X509_EXTENSION *e = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	uint8_t rnd[16], *buf = NULL, *w;
	time_t not_after;
	int n;

	KG_ENSURE(der != NULL && der_len != NULL, KG_ERR_INVALID_ARG);
	*der = NULL;
	*der_len = 0;
	KG_ENSURE(key != NULL && ext != NULL && ext_len > 0 && valid_secs > 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(ext_len <= KG_RATLS_CERT_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE((md = cert_sig_md(key)) != NULL, KG_ERR_INVALID_ARG);
	KG_ENSURE(!__builtin_add_overflow(now, (time_t)valid_secs, &not_after), KG_ERR_INVALID_ARG);

	KG_ENSURE_OUT((x = X509_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(X509_set_version(x, X509_VERSION_3) == 1, KG_ERR_CRYPTO);

	/* A random positive serial of 16 bytes (RFC 5280 §4.1.2.2: at most
	 * 20 octets, positive); the second-highest bit set keeps it 16. */
	KG_ENSURE_OUT(RAND_bytes(rnd, sizeof rnd) == 1, KG_ERR_RANDOM);
	rnd[0] = (uint8_t)((rnd[0] & 0x7f) | 0x40);
	KG_ENSURE_OUT((serial = BN_bin2bn(rnd, sizeof rnd, NULL)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL, KG_ERR_CRYPTO);

	/* An hour of slack before now for clocks that lag. */
	KG_ENSURE_OUT(ASN1_TIME_set(X509_getm_notBefore(x), now - 3600) != NULL, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(ASN1_TIME_set(X509_getm_notAfter(x), not_after) != NULL, KG_ERR_CRYPTO);

	name = X509_get_subject_name(x);
	KG_ENSURE_OUT(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"keygate-cvm",
						 -1, -1, 0) == 1,
		      KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_set_issuer_name(x, name) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(X509_set_pubkey(x, key) == 1, KG_ERR_CRYPTO);

	/* basicConstraints CA:FALSE, critical, as the three reference RA-TLS
	 * implementations write it: the certificate is a leaf. */
	KG_ENSURE_OUT((bc = BASIC_CONSTRAINTS_new()) != NULL, KG_ERR_NOMEM);
	bc->ca = 0;
	KG_ENSURE_OUT(X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1, KG_ERR_CRYPTO);

	/* The evidence extension, non-critical (CCC cert formats, because TLS
	 * libraries reject unknown critical extensions). */
	KG_ENSURE_OUT((oid = OBJ_txt2obj(KG_RATLS_OID, 1)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT((oct = ASN1_OCTET_STRING_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(ASN1_OCTET_STRING_set(oct, ext, (int)ext_len) == 1, KG_ERR_NOMEM);
	KG_ENSURE_OUT((e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, oct)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(X509_add_ext(x, e, -1) == 1, KG_ERR_CRYPTO);

	KG_ENSURE_OUT(X509_sign(x, key, md) > 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT((n = i2d_X509(x, NULL)) > 0, KG_ERR_CRYPTO);
	/* Never make what kg_ratls_parse_cert would refuse. */
	KG_ENSURE_OUT((size_t)n <= KG_RATLS_CERT_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE_OUT((buf = malloc((size_t)n)) != NULL, KG_ERR_NOMEM);
	w = buf;
	KG_ENSURE_OUT(i2d_X509(x, &w) == n, KG_ERR_CRYPTO);
	*der = buf;
	*der_len = (size_t)n;
	buf = NULL;
	rc = KG_OK;
out:
	free(buf);
	BASIC_CONSTRAINTS_free(bc);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(oct);
	ASN1_OBJECT_free(oid);
	BN_free(serial);
	X509_free(x);
	if (rc != KG_OK)
		ERR_clear_error();
	return rc;
}
