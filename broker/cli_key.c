/* `keygate key`: put keys into the database and manage their versions.
 * Key material (model keys, session-key roots) is encrypted under the KEK
 * here, before it reaches PostgreSQL, and never printed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../common/util.h"
#include "../keys/session.h"
#include "cli.h"

#define WHO "keygate key"

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate key import --key ID [--file FILE] [KEK] [--db DSN]\n"
		   "       keygate key create --key ID --kind session [--length N] [KEK] [--db DSN]\n"
		   "       keygate key rotate --key ID [--file FILE | --generate] [KEK] [--db DSN]\n"
		   "       keygate key disable|enable --key ID [--version N] [--db DSN]\n"
		   "       keygate key destroy --key ID [--version N] [--db DSN]\n"
		   "       keygate key generate-kek FILE\n"
		   "KEK: --kek FILE, or --config FILE / KEYGATE_KEK_FILE / KEYGATE_KEK_PKCS11_* (as `keygate serve`)\n\n"
		   "import:  reads 16-64 bytes of key material from FILE (default: standard input), encrypts\n"
		   "         them under the KEK and stores them as the key's next version.  The key must be\n"
		   "         released by policy, added by a migration.  (--id is --key.)\n"
		   "create:  declares a session key: N bytes (default 32), fresh on every release, or derived\n"
		   "         from the key's root secret for a session id; with a KEK, stores root version 1.\n"
		   "rotate:  a new version: of a model key from FILE (or stdin) or --generate'd; of a session\n"
		   "         key, a new random root.  Policies without version rules release the newest.\n"
		   "disable/enable: the key (no --version) or one version.\n"
		   "destroy: removes the wrapped material of one version (or every version, and disables the\n"
		   "         key); the version row stays as a tombstone.  Database backups keep wrapped copies\n"
		   "         until the KEK that wrapped them is rotated and destroyed (docs/operations.md).\n"
		   "generate-kek: writes 32 random bytes (hex) to FILE, mode 0600.\n");
}

/* Stores material as the key's next version, wrapped under kek, in one
 * transaction that holds the key row.  kind must match the key's.  Prints
 * the new version. */
static int store_version(PGconn *c, struct kg_kek *kek, const char *id, const char *kind, const uint8_t *material,
			 size_t len)
{
	uint8_t wrapped[KG_WRAPPED_MAX];
	size_t wlen = 0;
	PGresult *r = NULL;
	char ver[16];
	const char *p[4] = {id, NULL, NULL, kg_kek_id(kek)};
	int lens[4] = {0, 0, 0, 0}, fmts[4] = {0, 0, 1, 0};
	int ret = -1;

	if (kg_cli_exec(WHO, c,
			"SELECT kind, coalesce((SELECT max(version) FROM key_versions WHERE key_id = $1), 0) + 1"
			"  FROM keys WHERE key_id = $1 FOR UPDATE",
			1, p, NULL, NULL, &r) != 0)
		return -1;
	if (PQntuples(r) != 1) {
		fprintf(stderr, WHO ": no key '%s'\n", id);
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), kind) != 0) {
		fprintf(stderr, WHO ": key '%s' is a %s key, not a %s key\n", id, PQgetvalue(r, 0, 0), kind);
		goto out;
	}
	snprintf(ver, sizeof ver, "%s", PQgetvalue(r, 0, 1));
	if (kg_kek_wrap(kek, id, (uint32_t)strtoul(ver, NULL, 10),
			strcmp(kind, "model") == 0 ? KG_KEY_KIND_MODEL : KG_KEY_KIND_SESSION, material, len, wrapped,
			&wlen) != KG_OK) {
		fprintf(stderr, WHO ": cannot wrap the key under the KEK\n");
		goto out;
	}
	p[1] = ver;
	p[2] = (const char *)wrapped;
	lens[2] = (int)wlen;
	if (kg_cli_exec(WHO, c,
			"INSERT INTO key_versions (key_id, version, wrapped, kek_id) VALUES ($1, $2::integer, $3, $4)",
			4, p, lens, fmts, NULL) != 0 ||
	    kg_cli_exec(WHO, c, "COMMIT", 0, NULL, NULL, NULL, NULL) != 0)
		goto out;
	printf("{\"key_id\":\"%s\",\"kind\":\"%s\",\"version\":%s,\"length\":%zu,\"kek_id\":\"%s\"}\n", id, kind, ver,
	       len, kg_kek_id(kek));
	ret = 0;
out:
	PQclear(r);
	return ret;
}

/* import (and rotate of a model key): material from a file, or made here. */
static int model_version(const char *db, const char *id, const char *file, bool generate, struct kg_kek *kek,
			 bool create_key)
{
	uint8_t *material = NULL;
	size_t len = 0;
	PGconn *c = NULL;
	PGresult *r = NULL;
	int ret = 1;

	if (!(c = kg_cli_connect(WHO, db)) || kg_cli_exec(WHO, c, "BEGIN", 0, NULL, NULL, NULL, NULL) != 0)
		goto out;
	if (generate) {
		const char *p[1] = {id};
		if (kg_cli_exec(WHO, c, "SELECT key_len FROM keys WHERE key_id = $1", 1, p, NULL, NULL, &r) != 0)
			goto out;
		len = PQntuples(r) == 1 ? (size_t)atoi(PQgetvalue(r, 0, 0)) : 32;
		if ((material = kg_secret_alloc(KG_KEY_MAX)) == NULL || len < KG_KEY_MIN || len > KG_KEY_MAX)
			goto out;
		randombytes_buf(material, len);
	} else if (kg_file_read(file ? file : "/dev/stdin", KG_KEY_MAX + 1, &material, &len) != KG_OK ||
		   len < KG_KEY_MIN || len > KG_KEY_MAX) {
		fprintf(stderr, WHO ": key material must be %d to %d bytes\n", KG_KEY_MIN, KG_KEY_MAX);
		goto out;
	}
	if (create_key) {
		char klen[8];
		const char *p[2] = {id, klen};
		snprintf(klen, sizeof klen, "%zu", len);
		if (kg_cli_exec(WHO, c,
				"INSERT INTO keys (key_id, kind, key_len) VALUES ($1, 'model', $2::integer)"
				" ON CONFLICT (key_id) DO NOTHING",
				2, p, NULL, NULL, NULL) != 0)
			goto out;
	}
	ret = store_version(c, kek, id, "model", material, len) == 0 ? 0 : 1;
out:
	PQclear(r);
	if (c)
		PQfinish(c);
	if (material) {
		kg_wipe(material, len);
		if (generate)
			kg_secret_free(material);
		else
			free(material);
	}
	return ret;
}

/* A new random root for a session key (create with a KEK, and rotate). */
static int session_root(PGconn *c, struct kg_kek *kek, const char *id)
{
	uint8_t *root = kg_secret_alloc(KG_SESSION_ROOT_LEN);
	int ret;

	if (!root)
		return -1;
	randombytes_buf(root, KG_SESSION_ROOT_LEN);
	ret = store_version(c, kek, id, "session", root, KG_SESSION_ROOT_LEN);
	kg_secret_free(root);
	return ret;
}

static int key_create(const char *db, const char *id, const char *kind, int length, struct kg_kek *kek)
{
	char l[8];
	const char *p[2] = {id, l};
	PGconn *c;
	int ret = 1;

	if (!kind || strcmp(kind, "session") != 0) {
		fprintf(stderr, WHO " create: --kind session (model keys are made by 'key import')\n");
		return 2;
	}
	snprintf(l, sizeof l, "%d", length);
	if ((c = kg_cli_connect(WHO, db)) == NULL)
		return 1;
	if (kg_cli_exec(WHO, c, "BEGIN", 0, NULL, NULL, NULL, NULL) != 0 ||
	    kg_cli_exec(WHO, c, "INSERT INTO keys (key_id, kind, key_len) VALUES ($1, 'session', $2::integer)", 2, p,
			NULL, NULL, NULL) != 0)
		goto out;
	if (kek) {
		ret = session_root(c, kek, id) == 0 ? 0 : 1;
	} else if (kg_cli_exec(WHO, c, "COMMIT", 0, NULL, NULL, NULL, NULL) == 0) {
		/* Without a root, releases with a session id are refused. */
		printf("{\"key_id\":\"%s\",\"kind\":\"session\",\"length\":%d,\"version\":null}\n", id, length);
		ret = 0;
	}
out:
	PQfinish(c);
	return ret;
}

static int key_rotate(const char *db, const char *id, const char *file, bool generate, struct kg_kek *kek)
{
	const char *p[1] = {id};
	PGresult *r = NULL;
	PGconn *c;
	int ret = 1;

	if ((c = kg_cli_connect(WHO, db)) == NULL)
		return 1;
	if (kg_cli_exec(WHO, c, "SELECT kind FROM keys WHERE key_id = $1", 1, p, NULL, NULL, &r) != 0)
		goto out;
	if (PQntuples(r) != 1) {
		fprintf(stderr, WHO " rotate: no key '%s'\n", id);
	} else if (strcmp(PQgetvalue(r, 0, 0), "model") == 0) {
		if (!file && !generate)
			fprintf(stderr, WHO " rotate: a model key needs --file FILE or --generate\n");
		else
			ret = model_version(db, id, file, generate, kek, false);
	} else if (file) {
		fprintf(stderr, WHO " rotate: a session key's root is always generated\n");
	} else if (kg_cli_exec(WHO, c, "BEGIN", 0, NULL, NULL, NULL, NULL) == 0) {
		ret = session_root(c, kek, id) == 0 ? 0 : 1;
	}
out:
	PQclear(r);
	PQfinish(c);
	return ret;
}

/* disable, enable, destroy: state changes, one statement each. */
static int key_state(const char *db, const char *sub, const char *id, const char *version)
{
	const char *p[2] = {id, version};
	const char *sql;
	PGresult *r = NULL;
	PGconn *c;
	int ret = 1;

	if (strcmp(sub, "destroy") == 0)
		/* Crypto-shredding: the wrapped bytes go, the row stays. */
		sql = version ? "UPDATE key_versions SET state = 'destroyed', wrapped = NULL, destroyed_at = now()"
				" WHERE key_id = $1 AND version = $2::integer AND state <> 'destroyed'"
				" RETURNING version"
			      : "WITH k AS (UPDATE keys SET state = 'disabled' WHERE key_id = $1 RETURNING key_id)"
				" UPDATE key_versions SET state = 'destroyed', wrapped = NULL, destroyed_at = now()"
				" WHERE key_id = (SELECT key_id FROM k) AND state <> 'destroyed' RETURNING version";
	else if (version)
		sql = strcmp(sub, "disable") == 0
			      ? "UPDATE key_versions SET state = 'disabled' WHERE key_id = $1 AND version = $2::integer"
				" AND state <> 'destroyed' RETURNING version"
			      : "UPDATE key_versions SET state = 'active' WHERE key_id = $1 AND version = $2::integer"
				" RETURNING version";
	else
		sql = strcmp(sub, "disable") == 0
			      ? "UPDATE keys SET state = 'disabled' WHERE key_id = $1 RETURNING 0"
			      : "UPDATE keys SET state = 'active' WHERE key_id = $1 RETURNING 0";
	if ((c = kg_cli_connect(WHO, db)) == NULL)
		return 1;
	if (kg_cli_exec(WHO, c, sql, version ? 2 : 1, p, NULL, NULL, &r) != 0)
		goto out;
	if (PQntuples(r) == 0 && !(strcmp(sub, "destroy") == 0 && !version)) {
		fprintf(stderr, WHO " %s: no such key%s (or already destroyed)\n", sub, version ? " version" : "");
		goto out;
	}
	printf("{\"key_id\":\"%s\",\"%s\":%d}\n", id, strcmp(sub, "destroy") == 0 ? "destroyed_versions" : sub,
	       PQntuples(r));
	ret = 0;
	if (strcmp(sub, "destroy") == 0) {
		/* Best effort: prune the dead tuples that still hold the bytes
		 * (needs the table's owner; WAL and backups still have them). */
		PQclear(r);
		r = PQexec(c, "VACUUM key_versions");
	}
out:
	PQclear(r);
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
		fprintf(stderr, WHO " generate-kek: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

int kg_cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
					     {"key", required_argument, NULL, 'i'},
					     {"file", required_argument, NULL, 'f'},
					     {"kek", required_argument, NULL, 'k'},
					     {"config", required_argument, NULL, 'c'},
					     {"db", required_argument, NULL, 'd'},
					     {"kind", required_argument, NULL, 'K'},
					     {"length", required_argument, NULL, 'l'},
					     {"version", required_argument, NULL, 'v'},
					     {"generate", no_argument, NULL, 'g'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *id = NULL, *file = NULL, *kek_file = NULL, *config = NULL, *db = getenv("KEYGATE_DB"),
		   *kind = NULL, *version = NULL, *sub;
	struct kg_kek *kek = NULL, *prev = NULL;
	bool generate = false;
	int length = 32, c, ret = 2;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "i:f:k:c:d:K:l:v:gh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			id = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'k':
			kek_file = optarg;
			break;
		case 'c':
			config = optarg;
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
		case 'v':
			version = optarg;
			break;
		case 'g':
			generate = true;
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
	if (optind != argc || !id || !kg_key_id_valid(id) || length < KG_KEY_MIN || length > KG_KEY_MAX ||
	    (version && (strspn(version, "0123456789") != strlen(version) || !*version || strlen(version) > 9 ||
			 atoi(version) < 1)) ||
	    (file && generate)) {
		usage(stderr);
		return 2;
	}
	if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0 || strcmp(sub, "destroy") == 0)
		return key_state(db, sub, id, version);
	if (strcmp(sub, "import") != 0 && strcmp(sub, "create") != 0 && strcmp(sub, "rotate") != 0) {
		usage(stderr);
		return 2;
	}
	/* The KEK (KEYGATE_KEK_FILE was the variable before --config). */
	if (!kek_file && !config)
		kek_file = getenv("KEYGATE_KEK_FILE");
	if (kg_cli_keks(WHO, config, kek_file, NULL, &kek, &prev) != 0)
		return 1;
	if (!kek && strcmp(sub, "create") != 0) {
		fprintf(stderr, WHO " %s: cannot load the KEK (--kek, --config or KEYGATE_KEK_FILE)\n", sub);
		return 1;
	}
	if (strcmp(sub, "import") == 0)
		ret = model_version(db, id, file, false, kek, true);
	else if (strcmp(sub, "create") == 0)
		ret = key_create(db, id, kind, length, kek);
	else
		ret = key_rotate(db, id, file, generate, kek);
	kg_kek_free(kek);
	kg_kek_free(prev);
	return ret;
}
