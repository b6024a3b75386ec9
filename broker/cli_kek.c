/* `keygate kek`: key-encryption keys.  `kek rotate` re-wraps every stored
 * key version from the previous KEK to the current one, in one
 * transaction, while brokers that hold both keep serving (see
 * docs/operations.md, "Rotating the KEK"), and every version still in a
 * format that does not bind the key's kind into the current format. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../common/util.h"
#include "cli.h"

#define WHO "keygate kek"

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate kek id [--config FILE] [--kek FILE]\n"
		   "       keygate kek generate --pkcs11 [--config FILE]\n"
		   "       keygate kek rotate [--config FILE] [--kek FILE] [--previous-kek FILE] --db ADMIN_DSN\n\n"
		   "The KEKs come from the configuration (kek_file or kek_pkcs11_module, kek_pkcs11_token,\n"
		   "kek_pkcs11_key, kek_pkcs11_pin_file; kek_previous_* for the previous one), KEYGATE_* variables\n"
		   "and the flags, as for `keygate serve`.\n"
		   "id:       prints the ids of the configured KEKs (not secret; stored beside each wrapped key).\n"
		   "generate: creates the AES-256 KEK in the PKCS#11 token (sensitive, not extractable).\n"
		   "rotate:   re-wraps every key version not wrapped by the current KEK, or wrapped in a format\n"
		   "          that does not bind the key's kind (1, 2), unwrapping with the KEK its row names, in\n"
		   "          one transaction.  Run as the tables' owner.\n");
}

static int kek_rotate(const char *db, struct kg_kek *cur, struct kg_kek *prev)
{
	const struct kg_kek *keks[2] = {cur, prev};
	const char *p[1] = {kg_kek_id(cur)};
	uint8_t *key = kg_secret_alloc(KG_KEY_MAX);
	PGconn *c = NULL;
	PGresult *r = NULL;
	int ret = 1, n = 0;

	if (!key || !(c = kg_cli_connect(WHO, db)) || kg_cli_exec(WHO, c, "BEGIN", 0, NULL, NULL, NULL, NULL) != 0)
		goto out;
	/* Row locks: a concurrent rotation or destroy waits for this one.
	 * Rows in formats 1 and 2 are re-wrapped under the current KEK too:
	 * their wrapping does not bind the key's kind (keys/kek.h).  The
	 * kind is read from keys, whose kind no role may change (0014). */
	if (kg_cli_exec(WHO, c,
			"SELECT v.key_id, v.version, coalesce(v.kek_id, ''), v.wrapped, k.kind"
			"  FROM key_versions v JOIN keys k USING (key_id)"
			" WHERE v.wrapped IS NOT NULL AND (v.kek_id IS DISTINCT FROM $1 OR get_byte(v.wrapped, 0) IN (1, 2))"
			" ORDER BY v.key_id, v.version FOR UPDATE OF v",
			1, p, NULL, NULL, &r) != 0)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0), *ver = PQgetvalue(r, i, 1), *kid = PQgetvalue(r, i, 2);
		enum kg_key_kind kind = strcmp(PQgetvalue(r, i, 4), "model") == 0 ? KG_KEY_KIND_MODEL : KG_KEY_KIND_SESSION;
		uint32_t version = (uint32_t)strtoul(ver, NULL, 10);
		uint8_t wrapped[KG_WRAPPED_MAX];
		size_t wlen = 0, klen = 0;
		unsigned char *w = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 3), &wlen);
		kg_err e = w && wlen <= KG_WRAPPED_MAX ? KG_OK : KG_ERR_KEY_UNWRAP;
		const char *up[4] = {id, ver, (const char *)wrapped, kg_kek_id(cur)};
		int lens[4] = {0, 0, 0, 0}, fmts[4] = {0, 0, 1, 0};

		if (e == KG_OK)
			e = kg_kek_unwrap_any(keks, 2, kid, id, version, kind, w, wlen, key, &klen);
		PQfreemem(w);
		if (e == KG_OK)
			e = kg_kek_wrap(cur, id, version, kind, key, klen, wrapped, &wlen);
		kg_wipe(key, KG_KEY_MAX);
		if (e != KG_OK) {
			fprintf(stderr, WHO " rotate: key %s version %s (kek %s): %s; nothing changed\n", id, ver,
				*kid ? kid : "unrecorded", kg_err_code(e));
			goto out;
		}
		lens[2] = (int)wlen;
		if (kg_cli_exec(WHO, c, "UPDATE key_versions SET wrapped = $3, kek_id = $4"
					" WHERE key_id = $1 AND version = $2::integer",
				4, up, lens, fmts, NULL) != 0)
			goto out;
		n++;
	}
	if (kg_cli_exec(WHO, c, "COMMIT", 0, NULL, NULL, NULL, NULL) != 0)
		goto out;
	printf("{\"rewrapped\":%d,\"kek_id\":\"%s\"}\n", n, kg_kek_id(cur));
	ret = 0;
out:
	PQclear(r);
	if (c)
		PQfinish(c);
	kg_secret_free(key);
	return ret;
}

int kg_cmd_kek(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"kek", required_argument, NULL, 'k'},
					     {"previous-kek", required_argument, NULL, 'p'},
					     {"db", required_argument, NULL, 'd'},
					     {"pkcs11", no_argument, NULL, 'P'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *kek_file = NULL, *prev_file = NULL, *db = getenv("KEYGATE_DB"), *sub;
	struct kg_kek *cur = NULL, *prev = NULL;
	bool pkcs11 = false;
	int c, ret = 1;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "c:k:p:d:Ph", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			kek_file = optarg;
			break;
		case 'p':
			prev_file = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'P':
			pkcs11 = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(sub, "generate") == 0) {
		struct kg_config cfg;
		struct kg_kek_spec spec;
		char err[256] = "";
		kg_err e;
		if (!pkcs11) {
			fprintf(stderr, WHO " generate: --pkcs11 (file KEKs: keygate key generate-kek FILE)\n");
			return 2;
		}
		if (kg_config_load(&cfg, config, err, sizeof err) != KG_OK) {
			fprintf(stderr, WHO ": %s\n", err);
			kg_config_free(&cfg);
			return 1;
		}
		kg_config_kek_spec(&cfg, false, &spec);
		if ((e = kg_kek_generate_pkcs11(&spec)) != KG_OK)
			fprintf(stderr, WHO " generate: %s (kek_pkcs11_module, _token, _key, _pin_file; a key with that "
					"label must not exist)\n",
				kg_err_msg(e));
		else
			printf("{\"kek_id\":\"pkcs11:%s/%s\"}\n", spec.pkcs11_token, spec.pkcs11_key);
		kg_config_free(&cfg);
		return e == KG_OK ? 0 : 1;
	}
	if (strcmp(sub, "id") != 0 && strcmp(sub, "rotate") != 0) {
		usage(stderr);
		return 2;
	}
	if (kg_cli_keks(WHO, config, kek_file, prev_file, &cur, &prev) != 0)
		return 1;
	if (!cur) {
		fprintf(stderr, WHO ": no KEK configured\n");
	} else if (strcmp(sub, "id") == 0) {
		printf("{\"kek_id\":\"%s\"", kg_kek_id(cur));
		if (prev)
			printf(",\"previous_kek_id\":\"%s\"", kg_kek_id(prev));
		printf("}\n");
		ret = 0;
	} else {
		ret = kek_rotate(db, cur, prev);
	}
	kg_kek_free(cur);
	kg_kek_free(prev);
	return ret;
}
