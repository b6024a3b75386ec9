/* `keygate collateral import`: vendor documents into PostgreSQL, from files
 * an operator downloaded.  The broker verifies them when it uses them;
 * here they are parsed so that a wrong file is refused at once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../common/util.h"
#include "broker.h"

#define KG_COLLATERAL_FILE_MAX (256 * 1024)

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate collateral import --kind snp-crl FILE [--db DSN]\n\n"
		   "snp-crl: an AMD CRL as the KDS serves it per product (https://kdsintf.amd.com/vcek/v1/\n"
		   "         {Milan,Genoa,Turin}/crl), DER or PEM.  The broker uses the newest CRL of each\n"
		   "         issuer; releases fail closed (snp_crl_missing, snp_crl_expired) without a current one.\n"
		   "Prints the stored document's id and validity as JSON.\n");
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

static int import_snp_crl(const char *db, const char *file)
{
	uint8_t *buf = NULL, *der = NULL, h[32];
	size_t len = 0;
	int der_len;
	const unsigned char *p;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	char issuer[257] = "", this_u[32], next_u[32], hash_hex[65], *out_id = NULL;
	PGconn *c = NULL;
	PGresult *r = NULL;
	int ret = 1;

	if (kg_file_read(file, KG_COLLATERAL_FILE_MAX, &buf, &len) != KG_OK) {
		ret = fail("cannot read the file (or it is larger than 256 KiB)");
		goto out;
	}
	p = buf;
	if (!(crl = d2i_X509_CRL(NULL, &p, (long)len)) || p != buf + len) {
		X509_CRL_free(crl);
		crl = NULL;
		if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
			crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	}
	if (!crl) {
		ret = fail("not a CRL (DER or PEM)");
		goto out;
	}
	X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, issuer, sizeof issuer);
	if (!issuer[0] || !iso_time(X509_CRL_get0_lastUpdate(crl), this_u) ||
	    !iso_time(X509_CRL_get0_nextUpdate(crl), next_u)) {
		ret = fail("the CRL lacks an issuer common name, thisUpdate or nextUpdate");
		goto out;
	}
	if ((der_len = i2d_X509_CRL(crl, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)der_len, h, NULL, EVP_sha256(), NULL) != 1) {
		ret = fail("cannot encode the CRL");
		goto out;
	}
	kg_hex(hash_hex, h, 32);
	if (!db) {
		ret = fail("no database (--db or KEYGATE_DB)");
		goto out;
	}
	c = PQconnectdb(db);
	if (PQstatus(c) != CONNECTION_OK) {
		ret = fail(PQerrorMessage(c));
		goto out;
	}
	{
		const char *v[5] = {issuer, (const char *)der, (const char *)h, this_u, next_u};
		int l[5] = {0, der_len, 32, 0, 0}, f[5] = {0, 1, 1, 0, 0};
		r = PQexecParams(c,
				 "INSERT INTO collateral (kind, issuer, body, sha256, this_update, next_update)"
				 " VALUES ('snp_crl', $1, $2, $3, $4::timestamptz, $5::timestamptz)"
				 " ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256"
				 " RETURNING collateral_id",
				 5, NULL, v, l, f, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ret = fail(PQresultErrorMessage(r));
		goto out;
	}
	out_id = PQgetvalue(r, 0, 0);
	printf("{\"collateral_id\":%s,\"kind\":\"snp_crl\",\"issuer\":\"%s\",\"this_update\":\"%s\","
	       "\"next_update\":\"%s\",\"revoked\":%d,\"sha256\":\"%s\"}\n",
	       out_id, issuer, this_u, next_u, sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), hash_hex);
	ret = 0;
out:
	PQclear(r);
	if (c)
		PQfinish(c);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	BIO_free(bio);
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
	if (strcmp(kind, "snp-crl") == 0)
		return import_snp_crl(db, argv[optind]);
	fprintf(stderr, "keygate collateral import: unknown --kind '%s' (known: snp-crl)\n", kind);
	return 2;
}
