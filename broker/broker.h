/* The broker's private interfaces: configuration, store (libpq), server
 * (libmicrohttpd + GnuTLS), release orchestration, subcommands. */
#ifndef KG_BROKER_H
#define KG_BROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../attest/attest.h"
#include "../common/err.h"
#include "../keys/kek.h"
#include "../ledger/ledger.h"
#include "../policy/policy.h"
#include "core.h"

/* ---- configuration (config.c) ---- */

struct kg_config {
	char *listen;		  /* "ADDR:PORT" */
	char *metrics_listen;	  /* plain HTTP for /metrics and /healthz only; NULL: /metrics on listen */
	char *db;		  /* libpq connection string */
	char *tls_cert, *tls_key; /* server certificate chain and key, PEM */
	char *challenge_key_file; /* 32 bytes (raw or hex), shared by all replicas */
	char *kek_file;		  /* key-encryption key (raw or hex), or a systemd credential */
	/* Or the KEK in a PKCS#11 token (module path, token label, key label,
	 * file with the user PIN). */
	char *kek_pkcs11_module, *kek_pkcs11_token, *kek_pkcs11_key, *kek_pkcs11_pin_file;
	/* During a KEK rotation: the previous KEK, for rows not yet re-wrapped. */
	char *kek_previous_file;
	char *kek_previous_pkcs11_module, *kek_previous_pkcs11_token, *kek_previous_pkcs11_key,
		*kek_previous_pkcs11_pin_file;
	char *snp_roots;	  /* PEM of ARKs to trust instead of AMD's (test roots) */
	char *tdx_roots;	  /* PEM of the Intel SGX Root CA to trust instead of Intel's (test root) */
	char *gpu_roots;	  /* PEM of a device root to trust instead of NVIDIA's (test root) */
	char *gpu_rim_roots;	  /* PEM of a RIM signing root instead of NVIDIA's (test root) */
	char *replica;		  /* name written to audit rows */
	unsigned challenge_ttl;	  /* seconds */
	unsigned threads;	  /* worker threads = database connections */
	unsigned policy_cache_ttl; /* seconds a cached policy may live; 0 = no cache */
	unsigned max_connections;  /* open TLS connections, all peers */
	unsigned per_ip_connections; /* open TLS connections from one address */
	unsigned deny_rate, deny_burst; /* audited denials per address and second, and in one burst; 0: no limit */
	unsigned deny_rate_total;	/* audited denials per second, all addresses; 0: no limit */
	unsigned kek_legacy_formats;	/* 1: also serve keys wrapped without their kind (formats 1, 2) */
	unsigned snp_require_crl;  /* 1: SEV-SNP evidence needs a current CRL */
	char *audit_signing_key;   /* signs audit-log checkpoints; NULL = this replica does not seal */
	unsigned audit_seal_interval; /* ms between sealings */
	char *log_level;
};

/* Defaults, then the file (if path is not NULL), then KEYGATE_* variables.
 * Unknown keys in the file are an error. */
KG_MUST_CHECK kg_err kg_config_load(struct kg_config *cfg, const char *path, char *errbuf, size_t errlen);
/* Sets one key as the file would; used for command-line overrides. */
KG_MUST_CHECK kg_err kg_config_set(struct kg_config *cfg, const char *key, const char *value);
void kg_config_free(struct kg_config *cfg);
/* The current (previous = false) or previous KEK the configuration names. */
void kg_config_kek_spec(const struct kg_config *cfg, bool previous, struct kg_kek_spec *out);
/* Opens both; either may come back NULL when not configured. */
KG_MUST_CHECK kg_err kg_config_open_keks(const struct kg_config *cfg, struct kg_kek **current,
					 struct kg_kek **previous);

/* ---- store (store.c) ---- */

struct kg_store;

/* A libpq connection with Keygate's defaults (connect, statement and lock
 * timeouts; synchronous_commit never off), which the DSN may override. */
struct pg_conn; /* libpq's PGconn, kept out of this header */
struct pg_conn *kg_pg_connect(const char *dsn);

KG_MUST_CHECK kg_err kg_store_new(struct kg_store **out, const char *dsn, unsigned conns);
void kg_store_free(struct kg_store *s);
/* Refuses (KG_ERR_CONFIG) a role that may UPDATE, DELETE or TRUNCATE audit
 * rows, or that cannot INSERT them; KG_ERR_DB_UNAVAILABLE if unreachable. */
KG_MUST_CHECK kg_err kg_store_check_role(struct kg_store *s, char *why, size_t whylen);

/* A stored version: a model key, or a session key's root secret
 * (wrapped_len 0 once destroyed). */
#define KG_KEY_VERSIONS_MAX 32 /* the newest ones; older ones are unknown to releases */
struct kg_key_version {
	struct kg_version_info info;
	char kek_id[KG_KEK_ID_MAX]; /* "" = not recorded */
	uint8_t wrapped[KG_WRAPPED_MAX];
	size_t wrapped_len;
};

/* What one release needs from the database, fetched in one query. */
struct kg_key_record {
	bool found;
	bool active;
	bool is_model; /* else: session key, random per release or derived per session id */
	int key_len;
	struct kg_key_version versions[KG_KEY_VERSIONS_MAX]; /* newest first */
	size_t n_versions;
	struct kg_policy *policies;
	size_t n_policies;
	/* The ledgers the policies name: trust, seen checkpoint, revocations. */
	struct kg_key_ledger *ledgers;
	size_t n_ledgers;
};

struct kg_key_ledger {
	char id[65];
	struct kg_ledger_trust trust;
	struct kg_ledger_digest *revoked;
	size_t n_revoked;
};
KG_MUST_CHECK kg_err kg_store_load_key(struct kg_store *s, const char *key_id, enum kg_tee tee,
				       struct kg_key_record *out);
void kg_key_record_free(struct kg_key_record *r);

struct kg_audit_row {
	uint8_t request_id[16];
	const char *replica, *peer, *key_id;
	uint32_t key_version; /* 0 = NULL */
	int64_t policy_id;    /* 0 = NULL */
	const char *tee;      /* NULL = unknown */
	const uint8_t *measurement, *chip_id;
	size_t measurement_len, chip_id_len;
	const char *tcb_json; /* NULL = none */
	bool grant;
	const char *reason;
	const uint8_t *evidence_sha256; /* NULL = none */
	const char *ledger_json;	/* NULL = none */
	const char *explain_json;	/* per policy, the conditions that failed; NULL = not judged */
	const char *session_id;		/* the body's session_id; NULL = none */
	const char *gpus_json;		/* each GPU/NVSwitch judged; NULL = none */
};
/* The newest SEV-SNP CRL per issuer from the collateral table, as a PEM
 * bundle (*pem malloc'd; NULL and 0 when there is none). */
KG_MUST_CHECK kg_err kg_collateral_snp_crls(struct pg_conn *c, uint8_t **pem, size_t *len);

/* The imported VCEK/VLEK certificates still in their validity (DER);
 * the caller frees each element and both arrays. */
KG_MUST_CHECK kg_err kg_collateral_snp_veks(struct pg_conn *c, uint8_t ***ders, size_t **lens, size_t *n);

/* The newest TDX TCB info per FMSPC (caller frees as above). */
KG_MUST_CHECK kg_err kg_collateral_tdx_tcb_infos(struct pg_conn *c, uint8_t ***docs, size_t **lens, size_t *n);

/* The newest TDX collateral document of each kind (malloc'd; NULL when
 * absent), in the order of struct kg_tdx_collateral's members. */
enum { KG_TDX_COLL_TCB_INFO, KG_TDX_COLL_QE_IDENTITY, KG_TDX_COLL_SIGNING_CHAIN, KG_TDX_COLL_ROOT_CRL,
       KG_TDX_COLL_PCK_CRL, KG_TDX_COLL_N };
KG_MUST_CHECK kg_err kg_collateral_tdx(struct pg_conn *c, uint8_t *bufs[static KG_TDX_COLL_N],
				       size_t lens[static KG_TDX_COLL_N]);
/* Loads every kind of collateral above with c and hands it to attest.  On
 * failure the previous collateral stays in force: each document's own
 * nextUpdate bounds it. */
KG_MUST_CHECK kg_err kg_collateral_apply(struct pg_conn *c, struct kg_attest *attest);
/* Both loaders on a pool connection. */
KG_MUST_CHECK kg_err kg_store_collateral(struct kg_store *s, kg_err (*load)(struct pg_conn *, void *), void *arg);

/* Loads the ledgers rec's policies name into rec->ledgers (trust, seen
 * checkpoint, revocations), with connection c. */
KG_MUST_CHECK kg_err kg_store_ledgers(struct pg_conn *c, struct kg_key_record *rec);

/* Advances a ledger's seen checkpoint to (size, root) unless a larger one
 * is stored already (compare-and-set; shared by all brokers). */
KG_MUST_CHECK kg_err kg_store_ledger_seen(struct kg_store *s, const char *ledger_id, uint64_t size,
					  const uint8_t root[static 32]);

/* INSERTs and commits one row; returns only once it is durable. */
KG_MUST_CHECK kg_err kg_store_audit(struct kg_store *s, const struct kg_audit_row *row);

/* ---- policy cache (cache.c) ---- */

struct kg_cache;
struct kg_cache_stats {
	unsigned long hits, misses, invalidations, entries;
	bool listening;
};

/* Called on the listener thread, with its connection, once LISTEN is in
 * place and after every batch of notifications: the place to reload
 * anything else that the notifications cover (collateral). */
typedef void (*kg_cache_changed_fn)(void *arg, struct pg_conn *conn);

/* Starts the LISTEN connection (a thread).  Entries live at most ttl_ms
 * (0: nothing is cached, changes are still reported) and only while the
 * LISTEN connection is up; max bounds the entries. */
KG_MUST_CHECK kg_err kg_cache_new(struct kg_cache **out, const char *dsn, unsigned ttl_ms, size_t max,
				  kg_cache_changed_fn changed, void *arg);
void kg_cache_free(struct kg_cache *c);
/* A deep copy of the cached record into *out (true), or false; *gen is
 * the generation to hand to kg_cache_put after loading from the database. */
bool kg_cache_get(struct kg_cache *c, const char *key_id, enum kg_tee tee, struct kg_key_record *out,
		  uint64_t *gen);
void kg_cache_put(struct kg_cache *c, const char *key_id, enum kg_tee tee, const struct kg_key_record *rec,
		  uint64_t gen);
void kg_cache_stats(struct kg_cache *c, struct kg_cache_stats *st);

/* ---- migrations (migrate.c) ---- */

/* Applies db/migrations-style files (NNNN_name.sql) from the given
 * folders in name order, each in its own transaction, recording name and
 * SHA-256; refuses when an applied file changed or disappeared. */
KG_MUST_CHECK kg_err kg_migrate(const char *dsn, const char *const *dirs, size_t ndirs, bool dry_run);

/* ---- the broker process (server.c, release.c) ---- */

struct kg_metrics {
	atomic_ulong challenges;
	atomic_ulong releases[2][KG_ERR__COUNT]; /* [granted][reason] */
	atomic_ulong http_errors;
	atomic_ulong release_us_sum;
	atomic_ulong release_le[8]; /* histogram buckets, see server.c */
	atomic_ulong denials_unrecorded; /* refused beyond deny_rate, without a row */
};

struct kg_ratelimit;

struct kg_broker {
	const struct kg_config *cfg;
	uint8_t *challenge_key; /* guarded memory */
	struct kg_kek *kek;	/* NULL when no model keys are served */
	struct kg_kek *kek_previous; /* during a KEK rotation, else NULL */
	struct kg_attest *attest;
	struct kg_store *store;
	struct kg_cache *cache; /* NULL when disabled */
	struct kg_ratelimit *deny_limit;
	struct kg_metrics metrics;
};

/* The result of one release: HTTP status and a JSON body (malloc'd). */
struct kg_reply {
	int status;
	char *body;
};

/* Orchestrates one release (see docs/protocol.md): cert_der is the TLS
 * peer's certificate (NULL if none), body the request body. */
void kg_release(struct kg_broker *b, const char *key_id, const uint8_t *cert_der, size_t cert_len,
		const uint8_t *body, size_t body_len, bool body_too_large, const char *peer, struct kg_reply *out);

/* Verifies each GPU/NVSwitch's evidence (nonce NULL: not compared, for
 * dry runs) with the RIMs the attester holds, into the summary policies
 * judge; *json (malloc'd, NULL when n = 0) lists each device for the audit. */
void kg_judge_gpus(struct kg_attest *a, const struct kg_gpu_evidence *devs, size_t n, const uint8_t *nonce,
		   time_t now, struct kg_gpu_summary *g, char **json);

/* A JSON error body {"error": code, "message": msg[, "request_id": ..]}. */
void kg_reply_error(struct kg_reply *out, kg_err e, const uint8_t *request_id);

KG_MUST_CHECK kg_err kg_server_run(struct kg_broker *b);

/* ---- subcommands ---- */
int kg_cmd_serve(int argc, char **argv);
int kg_cmd_migrate(int argc, char **argv);
int kg_cmd_evidence(int argc, char **argv);
/* `evidence verify --tee nvidia-gpu ...` (broker/cli_gpu.c); argv[0] is "verify". */
int kg_cmd_evidence_gpu(int argc, char **argv);
int kg_cmd_key(int argc, char **argv);
int kg_cmd_kek(int argc, char **argv);
int kg_cmd_collateral(int argc, char **argv);
int kg_cmd_ledger(int argc, char **argv);
int kg_cmd_audit(int argc, char **argv);
int kg_cmd_policy(int argc, char **argv);

/* Evidence from files, as `keygate evidence verify` and `keygate policy
 * explain` take it (cli_evidence.c). */
struct kg_evidence_files {
	const char *certs_dir;	 /* SEV-SNP: vcek/vlek, ask/asvk, ark */
	const char *crl_file;	 /* SEV-SNP: an AMD CRL */
	const char *coll_dirs[8]; /* TDX: Intel collateral folders, searched in order */
	size_t n_coll_dirs;
};
/* Verifies the evidence file with a, using what files names besides what a
 * already holds.  KG_ERR_IO when a named file cannot be read. */
KG_MUST_CHECK kg_err kg_evidence_verify_files(struct kg_attest *a, enum kg_tee tee, const char *evidence_file,
					      const struct kg_evidence_files *files, time_t now, struct kg_claims *out);

#endif
