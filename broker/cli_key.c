/* `keygate key`: put keys into the database.  Model keys are encrypted
 * under the KEK here, before they reach PostgreSQL. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../common/util.h"
#include "broker.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate key import --id KEY_ID [--file FILE] [--kek FILE] [--db DSN]\n"
		   "       keygate key create --id KEY_ID --kind session [--length N] [--db DSN]\n"
		   "       keygate key generate-kek FILE\n\n"
		   "import: reads 16-64 bytes of key material from FILE (default: standard input), encrypts\n"
		   "        them under the KEK (--kek or KEYGATE_KEK_FILE) and stores them as the key's next\n"
		   "        version.  The key must be released by policy, added by a migration.\n"
		   "create: declares a session key (fresh random N bytes, default 32, on every release).\n"
		   "generate-kek: writes 32 random bytes (hex) to FILE, mode 0600.\n");
}

static PGconn *connect_db(const char *dsn)
{
	PGconn *c;

	if (!dsn) {
		fprintf(stderr, "keygate key: no database (--db or KEYGATE_DB)\n");
		return NULL;
	}
	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "keygate key: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

static int run(PGconn *c, const char *sql, int n, const char *const *params, const int *lens, const int *fmts,
	       PGresult **out)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, lens, fmts, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "keygate key: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int key_import(const char *db, const char *id, const char *file, const char *kek_file)
{
	uint8_t *material = NULL, wrapped[KG_WRAPPED_MAX];
	size_t len = 0, wlen = 0;
	struct kg_kek *kek = NULL;
	PGconn *c = NULL;
	PGresult *r = NULL;
	char ver[16];
	int ret = 1;

	if (!kek_file || kg_kek_load(kek_file, &kek) != KG_OK) {
		fprintf(stderr, "keygate key import: cannot load the KEK (--kek or KEYGATE_KEK_FILE)\n");
		return 1;
	}
	if (kg_file_read(file ? file : "/dev/stdin", KG_KEY_MAX + 1, &material, &len) != KG_OK || len < KG_KEY_MIN ||
	    len > KG_KEY_MAX) {
		fprintf(stderr, "keygate key import: key material must be %d to %d bytes\n", KG_KEY_MIN, KG_KEY_MAX);
		goto out;
	}
	if (!(c = connect_db(db)) || run(c, "BEGIN", 0, NULL, NULL, NULL, NULL) != 0)
		goto out;
	{
		const char *p[2] = {id, NULL};
		char klen[8];
		snprintf(klen, sizeof klen, "%zu", len);
		p[1] = klen;
		if (run(c,
			"INSERT INTO keys (key_id, kind, key_len) VALUES ($1, 'model', $2::integer)"
			" ON CONFLICT (key_id) DO NOTHING",
			2, p, NULL, NULL, NULL) != 0 ||
		    run(c, "SELECT kind, coalesce((SELECT max(version) FROM key_versions WHERE key_id = $1), 0) + 1"
			   "  FROM keys WHERE key_id = $1 FOR UPDATE",
			1, p, NULL, NULL, &r) != 0)
			goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "model") != 0) {
		fprintf(stderr, "keygate key import: key '%s' is a %s key, not a model key\n", id, PQgetvalue(r, 0, 0));
		goto out;
	}
	snprintf(ver, sizeof ver, "%s", PQgetvalue(r, 0, 1));
	if (kg_kek_wrap(kek, id, (uint32_t)strtoul(ver, NULL, 10), material, len, wrapped, &wlen) != KG_OK)
		goto out;
	{
		const char *p[3] = {id, ver, (const char *)wrapped};
		int lens[3] = {0, 0, (int)wlen}, fmts[3] = {0, 0, 1};
		if (run(c, "INSERT INTO key_versions (key_id, version, wrapped) VALUES ($1, $2::integer, $3)", 3, p,
			lens, fmts, NULL) != 0 ||
		    run(c, "COMMIT", 0, NULL, NULL, NULL, NULL) != 0)
			goto out;
	}
	printf("{\"key_id\":\"%s\",\"version\":%s,\"length\":%zu}\n", id, ver, len);
	ret = 0;
out:
	PQclear(r);
	if (c)
		PQfinish(c);
	if (material)
		kg_wipe(material, len);
	free(material);
	kg_kek_free(kek);
	return ret;
}

static int key_create(const char *db, const char *id, const char *kind, int length)
{
	char l[8];
	const char *p[2] = {id, l};
	PGconn *c;
	int ret = 1;

	if (!kind || strcmp(kind, "session") != 0) {
		fprintf(stderr, "keygate key create: --kind session (model keys are made by 'key import')\n");
		return 2;
	}
	snprintf(l, sizeof l, "%d", length);
	if ((c = connect_db(db)) == NULL)
		return 1;
	if (run(c, "INSERT INTO keys (key_id, kind, key_len) VALUES ($1, 'session', $2::integer)", 2, p, NULL, NULL,
		NULL) == 0) {
		printf("{\"key_id\":\"%s\",\"kind\":\"session\",\"length\":%d}\n", id, length);
		ret = 0;
	}
	PQfinish(c);
	return ret;
}

static int generate_kek(const char *path)
{
	uint8_t k[32];
	char hex[65];
	kg_err e;

	randombytes_buf(k, sizeof k);
	kg_hex(hex, k, sizeof k);
	hex[64] = '\n';
	e = kg_file_write(path, hex, 65, 0600);
	kg_wipe(k, sizeof k);
	kg_wipe(hex, sizeof hex);
	if (e != KG_OK) {
		fprintf(stderr, "keygate key generate-kek: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

int kg_cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
					     {"file", required_argument, NULL, 'f'},
					     {"kek", required_argument, NULL, 'k'},
					     {"db", required_argument, NULL, 'd'},
					     {"kind", required_argument, NULL, 'K'},
					     {"length", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *id = NULL, *file = NULL, *kek = getenv("KEYGATE_KEK_FILE"), *db = getenv("KEYGATE_DB"),
		   *kind = NULL, *sub;
	int length = 32, c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "i:f:k:d:K:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			id = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'k':
			kek = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'K':
			kind = optarg;
			break;
		case 'l':
			length = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(sub, "generate-kek") == 0) {
		if (optind + 1 != argc) {
			usage(stderr);
			return 2;
		}
		return generate_kek(argv[optind]);
	}
	if (optind != argc || !id || !kg_key_id_valid(id) || length < KG_KEY_MIN || length > KG_KEY_MAX) {
		usage(stderr);
		return 2;
	}
	if (strcmp(sub, "import") == 0)
		return key_import(db, id, file, kek);
	if (strcmp(sub, "create") == 0)
		return key_create(db, id, kind, length);
	usage(stderr);
	return 2;
}
