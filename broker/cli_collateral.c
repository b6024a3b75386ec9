/* `keygate collateral import`: vendor documents into PostgreSQL, from files
 * an operator downloaded.  The broker verifies them when it uses them;
 * here they are parsed so that a wrong file is refused at once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../common/util.h"
#include "../attest/nvgpu.h"
#include "broker.h"

#define KG_COLLATERAL_FILE_MAX (256 * 1024)

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate collateral import --kind KIND FILE [--db DSN]\n\n"
		   "KIND, and the file an operator downloads for it:\n"
		   "  snp-crl                AMD KDS CRL per product (https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,\n"
		   "                         Turin}/crl), DER or PEM\n"
		   "  snp-vcek               a VCEK or VLEK from the KDS (/vcek/v1/{product}/{hwid}?...SPL...), DER or\n"
		   "                         PEM: used for reports that arrive without their certificate table\n"
		   "  tdx-tcb-info           Intel PCS TCB info (GET /tdx/certification/v4/tcb?fmspc=...), JSON\n"
		   "  tdx-qe-identity        Intel PCS QE identity (GET /tdx/certification/v4/qe/identity), JSON\n"
		   "  tdx-tcb-signing-chain  the TCB-Info-Issuer-Chain header of those answers, PEM\n"
		   "  tdx-root-crl           Intel SGX Root CA CRL, DER or PEM\n"
		   "  tdx-pck-crl            PCK CRL (GET /sgx/certification/v4/pckcrl?ca=platform), DER or PEM\n"
		   "  nvidia-rim             an NVIDIA driver or VBIOS RIM (https://rim.attestation.nvidia.com/v1/rim/\n"
		   "                         {id}, the 'rim' member base64-decoded), XML: GPUs are compared with the\n"
		   "                         RIMs of their own driver and VBIOS versions\n"
		   "  nvidia-ocsp            NVIDIA's OCSP response (DER) about a GPU device-chain certificate\n"
		   "                         (https://ocsp.ndis.nvidia.com/): policies may require every CA of\n"
		   "                         each device's chain to have a current, good one\n\n"
		   "Each document is parsed here and verified by the broker when used; the broker uses the\n"
		   "newest of each kind (for snp-crl: of each issuer) and refuses evidence whose collateral is\n"
		   "missing or expired.  Prints the stored document's id and validity as JSON.\n");
}

static int fail(const char *what)
{
	fprintf(stderr, "keygate collateral import: %s\n", what);
	return 1;
}

/* ASN1_TIME to "YYYY-MM-DDTHH:MM:SSZ". */
static bool iso_time(const ASN1_TIME *t, char out[static 32])
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	return strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

/* Stores one document; prints its row as JSON. */
static int store(const char *db, const char *kind, const char *issuer, const uint8_t *body, size_t len,
		 const char *this_u, const char *next_u)
{
	uint8_t h[32];
	char hash_hex[65];
	PGconn *c = NULL;
	PGresult *r = NULL;
	int ret = 1;

	if (EVP_Digest(body, len, h, NULL, EVP_sha256(), NULL) != 1)
		return fail("cannot hash the document");
	kg_hex(hash_hex, h, 32);
	if (!db)
		return fail("no database (--db or KEYGATE_DB)");
	c = PQconnectdb(db);
	if (PQstatus(c) != CONNECTION_OK) {
		ret = fail(PQerrorMessage(c));
		goto out;
	}
	{
		const char *v[6] = {kind, issuer, (const char *)body, (const char *)h, this_u, next_u};
		int l[6] = {0, 0, (int)len, 32, 0, 0}, f[6] = {0, 0, 1, 1, 0, 0};
		r = PQexecParams(c,
				 "INSERT INTO collateral (kind, issuer, body, sha256, this_update, next_update)"
				 " VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)"
				 " ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256"
				 " RETURNING collateral_id",
				 6, NULL, v, l, f, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ret = fail(PQresultErrorMessage(r));
		goto out;
	}
	{
		json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "collateral_id",
				      (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10), "kind", kind, "issuer", issuer,
				      "this_update", this_u, "next_update", next_u, "sha256", hash_hex);
		char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (txt)
			printf("%s\n", txt);
		free(txt);
		json_decref(o);
	}
	ret = 0;
out:
	PQclear(r);
	if (c)
		PQfinish(c);
	return ret;
}

/* A CRL (DER or PEM): stored as DER, named by its issuer's CN. */
static int import_crl(const char *db, const char *kind, const uint8_t *buf, size_t len)
{
	const unsigned char *p = buf;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	BIO *bio = NULL;
	uint8_t *der = NULL;
	char issuer[257] = "", this_u[32], next_u[32];
	int der_len, ret;

	if (!crl || p != buf + len) {
		X509_CRL_free(crl);
		crl = NULL;
		if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
			crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	}
	if (!crl)
		ret = fail("not a CRL (DER or PEM)");
	else if (X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, issuer, sizeof issuer) <= 0 ||
		 !iso_time(X509_CRL_get0_lastUpdate(crl), this_u) || !iso_time(X509_CRL_get0_nextUpdate(crl), next_u))
		ret = fail("the CRL lacks an issuer common name, thisUpdate or nextUpdate");
	else if ((der_len = i2d_X509_CRL(crl, &der)) <= 0)
		ret = fail("cannot encode the CRL");
	else
		ret = store(db, kind, issuer, der, (size_t)der_len, this_u, next_u);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	BIO_free(bio);
	return ret;
}

/* Intel's signed JSON: {"<member>": {... "issueDate", "nextUpdate" ...},
 * "signature": "..."}; stored byte for byte (the signature covers the
 * exact text), named by fmspc (TCB info) or id (QE identity). */
static int import_intel_json(const char *db, const char *kind, const char *member, const char *name_field,
			     const uint8_t *buf, size_t len)
{
	json_error_t err;
	json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err), *inner;
	const char *issue, *next, *name;
	char issuer[80];
	int ret;

	inner = root ? json_object_get(root, member) : NULL;
	issue = json_string_value(json_object_get(inner, "issueDate"));
	next = json_string_value(json_object_get(inner, "nextUpdate"));
	name = json_string_value(json_object_get(inner, name_field));
	if (!inner || !issue || !next || !name || !json_is_string(json_object_get(root, "signature")))
		ret = fail("not Intel PCS collateral of this kind (member, dates, signature)");
	else {
		snprintf(issuer, sizeof issuer, "%s:%s", name_field, name);
		ret = store(db, kind, issuer, buf, len, issue, next);
	}
	json_decref(root);
	return ret;
}

/* A PEM chain, first certificate the signer; valid as that certificate. */
static int import_chain(const char *db, const char *kind, const uint8_t *buf, size_t len)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	char cn[257] = "", nb[32], na[32];
	int ret;

	if (!x || X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) <= 0 ||
	    !iso_time(X509_get0_notBefore(x), nb) || !iso_time(X509_get0_notAfter(x), na))
		ret = fail("not a PEM certificate chain");
	else
		ret = store(db, kind, cn, buf, len, nb, na);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

/* An NVIDIA RIM: named "<driver|vbios>:<product>:<version>", valid as its signing
 * chain.  Its signature is checked by the broker when a GPU uses it (and
 * by `keygate evidence verify --tee nvidia-gpu --rims`). */
static int import_rim(const char *db, const uint8_t *buf, size_t len)
{
	struct kg_gpu_rim *r = NULL;
	char name[200], nb[32], na[32];
	struct tm tm;
	int ret;

	time_t b, a;

	if (kg_gpu_rim_parse(buf, len, &r) != KG_OK || kg_gpu_rim_validity(buf, len, &b, &a) != KG_OK || !r->version[0])
		ret = fail("not an NVIDIA RIM (SWID tag with a colloquialVersion and a signing chain)");
	else if (!gmtime_r(&b, &tm) || !strftime(nb, sizeof nb, "%Y-%m-%dT%H:%M:%SZ", &tm) || !gmtime_r(&a, &tm) ||
		 !strftime(na, sizeof na, "%Y-%m-%dT%H:%M:%SZ", &tm))
		ret = fail("the RIM's validity cannot be read");
	else {
		snprintf(name, sizeof name, "%s:%s:%s", r->kind == KG_GPU_RIM_DRIVER ? "driver" : "vbios",
			 r->product[0] ? r->product : "unknown", r->version);
		ret = store(db, "nvidia_rim", name, buf, len, nb, na);
	}
	kg_gpu_rim_free(r);
	return ret;
}

/* An OCSP response (DER, RFC 6960) about one certificate: named by that
 * certificate's serial, valid from thisUpdate to nextUpdate (required: a
 * response without one says nothing about later).  Its signature is
 * checked by the broker, against the device root, when a GPU uses it. */
static int import_ocsp(const char *db, const uint8_t *buf, size_t len)
{
	const unsigned char *p = buf;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *basic = NULL;
	OCSP_SINGLERESP *single;
	ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL;
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL, name[200], nb[32], na[32];
	int ret;

	if (!resp || p != buf + len || OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL || OCSP_resp_count(basic) != 1 ||
	    (single = OCSP_resp_get0(basic, 0)) == NULL ||
	    OCSP_single_get0_status(single, NULL, NULL, &thisupd, &nextupd) < 0 || !thisupd || !nextupd ||
	    OCSP_id_get0_info(NULL, NULL, NULL, &serial, (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(single)) != 1 ||
	    (bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL || (hex = BN_bn2hex(bn)) == NULL)
		ret = fail("not a successful OCSP response about one certificate, with thisUpdate and nextUpdate");
	else if (!iso_time(thisupd, nb) || !iso_time(nextupd, na))
		ret = fail("the OCSP response's dates cannot be read");
	else {
		snprintf(name, sizeof name, "ocsp:%s", hex);
		ret = store(db, "nvidia_ocsp", name, buf, len, nb, na);
	}
	OPENSSL_free(hex);
	BN_free(bn);
	OCSP_BASICRESP_free(basic);
	OCSP_RESPONSE_free(resp);
	return ret;
}

/* A VCEK/VLEK: stored as DER, named by chip and TCB. */
static int import_vek(const char *db, const uint8_t *buf, size_t len)
{
	const unsigned char *p = buf;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	BIO *bio = NULL;
	uint8_t *der = NULL;
	struct kg_snp_vek_info info;
	char name[200], hw[129] = "", nb[32], na[32];
	int der_len, ret;

	if (!x || p != buf + len) {
		X509_free(x);
		x = NULL;
		if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	}
	if (!x || (der_len = i2d_X509(x, &der)) <= 0)
		ret = fail("not a certificate (DER or PEM)");
	else if (kg_attest_snp_vek_info(der, (size_t)der_len, &info) != KG_OK)
		ret = fail("not a VCEK or VLEK (AMD extensions missing or malformed)");
	else if (!iso_time(X509_get0_notBefore(x), nb) || !iso_time(X509_get0_notAfter(x), na))
		ret = fail("the certificate lacks a validity period");
	else {
		kg_hex(hw, info.hwid, info.hwid_len);
		snprintf(name, sizeof name, "%s %s tcb=%016llx%s%s", info.vlek ? "VLEK" : "VCEK", info.product,
			 (unsigned long long)info.tcb.raw, info.vlek ? "" : " hwid=", hw);
		ret = store(db, "snp_vcek", name, der, (size_t)der_len, nb, na);
	}
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

static int import(const char *db, const char *kind, const char *file)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (kg_file_read(file, KG_COLLATERAL_FILE_MAX, &buf, &len) != KG_OK)
		return fail("cannot read the file (or it is larger than 256 KiB)");
	if (strcmp(kind, "snp-crl") == 0)
		ret = import_crl(db, "snp_crl", buf, len);
	else if (strcmp(kind, "snp-vcek") == 0)
		ret = import_vek(db, buf, len);
	else if (strcmp(kind, "tdx-root-crl") == 0)
		ret = import_crl(db, "tdx_root_crl", buf, len);
	else if (strcmp(kind, "tdx-pck-crl") == 0)
		ret = import_crl(db, "tdx_pck_crl", buf, len);
	else if (strcmp(kind, "tdx-tcb-info") == 0)
		ret = import_intel_json(db, "tdx_tcb_info", "tcbInfo", "fmspc", buf, len);
	else if (strcmp(kind, "tdx-qe-identity") == 0)
		ret = import_intel_json(db, "tdx_qe_identity", "enclaveIdentity", "id", buf, len);
	else if (strcmp(kind, "nvidia-rim") == 0)
		ret = import_rim(db, buf, len);
	else if (strcmp(kind, "nvidia-ocsp") == 0)
		ret = import_ocsp(db, buf, len);
	else if (strcmp(kind, "tdx-tcb-signing-chain") == 0)
		ret = import_chain(db, "tdx_tcb_signing_chain", buf, len);
	else {
		fprintf(stderr, "keygate collateral import: unknown --kind '%s' (see --help)\n", kind);
		ret = 2;
	}
	free(buf);
	return ret;
}

int kg_cmd_collateral(int argc, char **argv)
{
	static const struct option opts[] = {{"kind", required_argument, NULL, 'k'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *kind = NULL, *db = getenv("KEYGATE_DB");
	int c;

	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "k:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kind = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!kind || optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	return import(db, kind, argv[optind]);
}
