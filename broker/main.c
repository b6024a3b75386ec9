/* keygate: the broker and its administration commands. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "../common/log.h"
#include "../common/util.h"
#include "auditlog.h"
#include "broker.h"
#include "ratelimit.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{"serve", kg_cmd_serve, "run the broker (HTTPS, RA-TLS)"},
	{"migrate", kg_cmd_migrate, "apply db/migrations to the database"},
	{"evidence", kg_cmd_evidence, "verify attestation evidence offline (evidence verify ...)"},
	{"key", kg_cmd_key, "manage keys (import, create, rotate, disable, enable, destroy, generate-kek)"},
	{"kek", kg_cmd_kek, "key-encryption keys (kek generate --pkcs11, kek rotate, kek id)"},
	{"collateral", kg_cmd_collateral, "import vendor collateral (collateral import --kind snp-crl FILE)"},
	{"ledger", kg_cmd_ledger, "check ledger bundles, sync a ledger's checkpoint and revocations"},
	{"audit", kg_cmd_audit, "audit questions, and sealing and verifying the audit log"},
	{"policy", kg_cmd_policy, "explain a key's policy decision for a piece of evidence (policy explain ...)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'keygate COMMAND --help' describes each.  Exit codes: 0 success, 1 failure or denial, "
		   "2 usage error.\n");
}

/* No core dumps and no ptrace from other users' processes: the broker
 * holds the KEK and unwrapped keys in memory. */
static void harden(void)
{
	struct rlimit rl = {0, 0};

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void serve_usage(FILE *f)
{
	fprintf(f, "usage: keygate serve [--config FILE] [--listen ADDR:PORT] [--db DSN]\n"
		   "\nSettings come from FILE (key = value), then KEYGATE_* environment variables, then flags.\n"
		   "Keys: listen db tls_cert tls_key challenge_key_file kek_file snp_roots tdx_roots replica\n"
		   "      kek_pkcs11_module kek_pkcs11_token kek_pkcs11_key kek_pkcs11_pin_file\n"
		   "      kek_previous_file kek_previous_pkcs11_{module,token,key,pin_file} (during a KEK rotation)\n"
		   "      challenge_ttl threads log_level policy_cache_ttl max_connections per_ip_connections\n"
		   "      deny_rate deny_burst (denials audited per address and second, and in a burst; default 10, 100;\n"
		   "      more are answered rate_limited, the first audited; deny_rate 0: no limit)\n"
		   "      deny_rate_total (denials audited per second from all addresses; default 1000; 0: no limit)\n"
		   "      kek_legacy_formats (1: also serve keys wrapped before 0015, without their kind; default 0)\n"
		   "      metrics_listen (ADDR:PORT: /metrics and /healthz over plain HTTP there, and no longer on listen)\n"
		   "      snp_require_crl (1: refuse SEV-SNP evidence without a current AMD CRL; default 1)\n"
		   "      audit_signing_key (seal the audit log with this key; see keygate audit keygen)\n"
		   "      audit_seal_interval (milliseconds between sealings; default 1000)\n"
		   "      gpu_roots gpu_rim_roots (test roots instead of NVIDIA's device and RIM roots)\n");
}

static kg_err load_challenge_key(const char *path, uint8_t **out)
{
	uint8_t *k;

	*out = NULL;
	KG_ENSURE(path != NULL, KG_ERR_CONFIG);
	KG_ENSURE((k = sodium_malloc(KG_CHALLENGE_KEY_LEN)) != NULL, KG_ERR_NOMEM);
	if (kg_key32_read(path, k) != KG_OK) {
		sodium_free(k);
		return KG_ERR_CONFIG;
	}
	sodium_mprotect_readonly(k);
	*out = k;
	return KG_OK;
}

/* kg_store_collateral's callback: arg is the broker. */
static kg_err load_collateral(struct pg_conn *conn, void *arg)
{
	struct kg_broker *b = arg;

	return kg_collateral_apply(conn, b->attest);
}

static kg_err reload_collateral_from_store(struct kg_broker *b)
{
	kg_err rc = kg_store_collateral(b->store, load_collateral, b);

	kg_log(rc == KG_OK ? KG_LOG_INFO : KG_LOG_ERROR, rc == KG_OK ? "collateral_loaded" : "collateral_load_failed",
	       "result", kg_err_code(rc), NULL);
	return rc;
}

/* The policy listener saw a change (or reconnected): collateral may have
 * changed with it. */
static void collateral_changed(void *arg, struct pg_conn *conn)
{
	kg_err rc = load_collateral(conn, arg);

	kg_log(rc == KG_OK ? KG_LOG_INFO : KG_LOG_ERROR, rc == KG_OK ? "collateral_loaded" : "collateral_load_failed",
	       "result", kg_err_code(rc), NULL);
}

int kg_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"listen", required_argument, NULL, 'l'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct kg_config cfg;
	struct kg_broker b;
	const char *path = getenv("KEYGATE_CONFIG"), *listen = NULL, *db = NULL;
	struct kg_attest_config acfg;
	struct kg_sealer *sealer = NULL;
	char err[512] = "";
	int c, ret = 1;
	kg_err e;

	while ((c = getopt_long(argc, argv, "c:l:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			serve_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		serve_usage(stderr);
		return 2;
	}
	memset(&b, 0, sizeof b);
	if (kg_config_load(&cfg, path, err, sizeof err) != KG_OK ||
	    (listen && kg_config_set(&cfg, "listen", listen) != KG_OK) ||
	    (db && kg_config_set(&cfg, "db", db) != KG_OK)) {
		fprintf(stderr, "keygate serve: %s\n", err[0] ? err : "invalid setting");
		kg_config_free(&cfg);
		return 2;
	}
	if (strcmp(cfg.log_level, "debug") == 0)
		kg_log_set_level(KG_LOG_DEBUG);
	else if (strcmp(cfg.log_level, "warn") == 0)
		kg_log_set_level(KG_LOG_WARN);
	else if (strcmp(cfg.log_level, "error") == 0)
		kg_log_set_level(KG_LOG_ERROR);
	else if (strcmp(cfg.log_level, "info") != 0) {
		fprintf(stderr, "keygate serve: log_level must be debug, info, warn or error\n");
		kg_config_free(&cfg);
		return 2;
	}
	b.cfg = &cfg;
	harden();
	if (!cfg.db) {
		fprintf(stderr, "keygate serve: no database (set db, KEYGATE_DB or --db)\n");
		goto out;
	}
	if (load_challenge_key(cfg.challenge_key_file, &b.challenge_key) != KG_OK) {
		fprintf(stderr, "keygate serve: challenge_key_file must name a file of 32 bytes or 64 hex digits\n");
		goto out;
	}
	if ((e = kg_config_open_keks(&cfg, &b.kek, &b.kek_previous)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot load the key-encryption key: %s\n", kg_err_msg(e));
		goto out;
	}
	if (b.kek)
		kg_log(KG_LOG_INFO, "kek_loaded", "kek_id", kg_kek_id(b.kek), "previous",
		       b.kek_previous ? kg_kek_id(b.kek_previous) : "none", NULL);
	memset(&acfg, 0, sizeof acfg);
	acfg.snp_roots = cfg.snp_roots;
	acfg.snp_require_crl = cfg.snp_require_crl;
	if ((e = kg_attest_new(&b.attest, &acfg)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot load trust anchors: %s\n", kg_err_code(e));
		goto out;
	}
	if (cfg.tdx_roots && (e = kg_attest_set_tdx_roots(b.attest, cfg.tdx_roots)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot load tdx_roots: %s\n", kg_err_code(e));
		goto out;
	}
	if ((cfg.gpu_roots || cfg.gpu_rim_roots) &&
	    (e = kg_attest_set_gpu_roots(b.attest, cfg.gpu_roots, cfg.gpu_rim_roots)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot load gpu_roots / gpu_rim_roots: %s\n", kg_err_code(e));
		goto out;
	}
	if (cfg.gpu_roots || cfg.gpu_rim_roots)
		kg_log(KG_LOG_WARN, "custom_trust_anchors", "gpu_roots", cfg.gpu_roots ? cfg.gpu_roots : "(NVIDIA)",
		       "gpu_rim_roots", cfg.gpu_rim_roots ? cfg.gpu_rim_roots : "(NVIDIA)", NULL);
	if (cfg.snp_roots)
		kg_log(KG_LOG_WARN, "custom_trust_anchors", "snp_roots", cfg.snp_roots, NULL);
	if (cfg.tdx_roots)
		kg_log(KG_LOG_WARN, "custom_trust_anchors", "tdx_roots", cfg.tdx_roots, NULL);
	if ((e = kg_store_new(&b.store, cfg.db, cfg.threads)) != KG_OK ||
	    (e = kg_store_check_role(b.store, err, sizeof err)) != KG_OK) {
		fprintf(stderr, "keygate serve: %s\n", err[0] ? err : kg_err_msg(e));
		goto out;
	}
	/* Collateral before the first request; the listener keeps it current. */
	if ((e = reload_collateral_from_store(&b)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot load collateral: %s\n", kg_err_msg(e));
		goto out;
	}
	if ((e = kg_ratelimit_new(cfg.deny_rate, cfg.deny_burst, cfg.deny_rate_total, &b.deny_limit)) != KG_OK) {
		fprintf(stderr, "keygate serve: deny_rate/deny_burst/deny_rate_total: %s\n", kg_err_msg(e));
		goto out;
	}
	if ((e = kg_cache_new(&b.cache, cfg.db, cfg.policy_cache_ttl * 1000u, 1024, collateral_changed, &b)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot start the policy listener: %s\n", kg_err_msg(e));
		goto out;
	}
	if (cfg.audit_signing_key &&
	    (e = kg_sealer_start(&sealer, cfg.db, cfg.audit_signing_key, cfg.replica, cfg.audit_seal_interval)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot start the audit sealer (audit_signing_key): %s\n", kg_err_msg(e));
		goto out;
	}
	if (!sealer)
		kg_log(KG_LOG_WARN, "audit_not_sealed", "detail", "no audit_signing_key: this replica does not seal", NULL);
	if ((e = kg_server_run(&b)) != KG_OK) {
		fprintf(stderr, "keygate serve: cannot serve on %s: %s\n", cfg.listen, kg_err_msg(e));
		goto out;
	}
	ret = 0;
out:
	kg_sealer_stop(sealer);
	kg_cache_free(b.cache);
	kg_ratelimit_free(b.deny_limit);
	kg_store_free(b.store);
	kg_attest_free(b.attest);
	kg_kek_free(b.kek);
	kg_kek_free(b.kek_previous);
	if (b.challenge_key)
		sodium_free(b.challenge_key);
	kg_config_free(&cfg);
	return ret;
}

int kg_cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
					     {"dir", required_argument, NULL, 'D'},
					     {"dry-run", no_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *db = getenv("KEYGATE_DB"), *dirs[16];
	size_t ndirs = 0;
	bool dry = false;
	int c;
	kg_err e;

	while ((c = getopt_long(argc, argv, "d:D:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'D':
			if (ndirs == sizeof dirs / sizeof dirs[0]) {
				fprintf(stderr, "keygate migrate: too many --dir\n");
				return 2;
			}
			dirs[ndirs++] = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			printf("usage: keygate migrate [--db DSN] [--dir DIR]... [--dry-run]\n\n"
			       "Applies NNNN_name.sql files from DIRs (default: %s) in name order, each in one\n"
			       "transaction.  Refuses to run when an applied file changed or is missing.\n",
			       KG_DEFAULT_MIGRATIONS);
			return 0;
		default:
			return 2;
		}
	}
	if (!db || optind != argc) {
		fprintf(stderr, "usage: keygate migrate --db DSN [--dir DIR]...\n");
		return 2;
	}
	if (ndirs == 0)
		dirs[ndirs++] = KG_DEFAULT_MIGRATIONS;
	if ((e = kg_migrate(db, dirs, ndirs, dry)) != KG_OK) {
		fprintf(stderr, "keygate migrate: failed: %s\n", kg_err_code(e));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "keygate: libsodium failed to initialise\n");
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("keygate 0.1.0\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "keygate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
