/* `keygate audit`: the auditor's questions (docs/audit.md), answered by
 * the views migration 0008 defines, as a table or JSON; and the audit log's
 * keys, sealing and verification (auditlog.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "../common/util.h"
#include "../ledger/log.h"
#include "auditlog.h"
#include "broker.h"

static const struct {
	const char *name, *view, *time_col, *help;
} queries[] = {
	{"releases-per-day", "audit_releases_per_day", "day", "grants and denials per key per day"},
	{"recipients", "audit_key_recipients", "last_release", "every CVM (chip, measurement) that received a key"},
	{"denials", "audit_denials", "at", "denials with their reasons"},
	{"measurements", "audit_measurements", "last_release", "first and last release per measurement"},
	{"changed-policies", "audit_grants_under_changed_policy", "at",
	 "releases granted under a policy changed or removed since"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate audit QUERY [--key KEY_ID] [--since TIME] [--until TIME] [--json] [--db DSN]\n\n"
		   "QUERY:\n");
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
		fprintf(f, "  %-18s %s (view %s)\n", queries[i].name, queries[i].help, queries[i].view);
	fprintf(f, "\nThe audit log (docs/audit.md, \"Proving the audit log\"):\n"
		   "  keygate audit keygen --name NAME --out FILE    make a signing key; prints its verifier key\n"
		   "  keygate audit seal [--signing-key FILE] [--db DSN]\n"
		   "                                                 seal queued rows now (brokers do it themselves)\n"
		   "  keygate audit verify --key VKEY|@FILE [--checkpoint FILE] [--json] [--db DSN]\n"
		   "                                                 check every row, leaf and signed checkpoint\n"
		   "  keygate audit checkpoint [--key VKEY|@FILE] [--db DSN]\n"
		   "                                                 print the latest checkpoint (with --key: the latest\n"
		   "                                                 the key signed)\n"
		   "\nConnect as a role with keygate_auditor.  TIME is anything PostgreSQL reads as a timestamptz.\n"
		   "Exit codes: 0 success (verify: no problem), 1 failure (verify: a problem found), 2 usage.\n");
}

static PGconn *connect_or_die(const char *db, const char *who)
{
	PGconn *c = kg_pg_connect(db ? db : "");

	if (!c || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "keygate audit %s: %s", who, c ? PQerrorMessage(c) : "out of memory\n");
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* The verifier key, VKEY or @FILE: it comes from outside the database it
 * judges.  0, or 2 (usage) after saying why. */
static int read_vkey(const char *who, const char *vk, struct kg_ledger_key *key)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = 2;

	if (vk[0] == '@') {
		if (kg_file_read(vk + 1, 4096, &buf, &len) != KG_OK) {
			fprintf(stderr, "keygate audit %s: cannot read %s\n", who, vk + 1);
			return 2;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			len--;
		buf[len] = 0;
		vk = (const char *)buf;
	}
	if (kg_ledger_vkey_parse(vk, key) != KG_OK || key->type != KG_LEDGER_SIG_ED25519)
		fprintf(stderr, "keygate audit %s: --key is not an Ed25519 verifier key\n", who);
	else
		ret = 0;
	free(buf);
	return ret;
}

static int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {"out", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL, *out = NULL;
	char vkey[512];
	int c;

	while ((c = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!name || !out || optind != argc) {
		fprintf(stderr, "usage: keygate audit keygen --name NAME --out FILE\n");
		return 2;
	}
	if (kg_ledger_key_init(out, name, KG_LEDGER_SIG_ED25519, vkey, sizeof vkey) != KG_OK) {
		fprintf(stderr, "keygate audit keygen: cannot make %s (exists already, or NAME is not a valid key name)\n",
			out);
		return 1;
	}
	printf("%s\n", vkey);
	return 0;
}

static int cmd_seal(int argc, char **argv)
{
	static const struct option opts[] = {{"signing-key", required_argument, NULL, 'k'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *db = getenv("KEYGATE_DB"), *keyf = getenv("KEYGATE_AUDIT_SIGNING_KEY");
	struct kg_ledger_skey *sk = NULL;
	struct kg_auditlog_mark mark = {0};
	uint64_t sealed, size = 0, total = 0;
	PGconn *conn = NULL;
	int c, ret = 1;
	kg_err e;

	while ((c = getopt_long(argc, argv, "k:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keyf = optarg; break;
		case 'd': db = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!keyf || optind != argc) {
		fprintf(stderr, "usage: keygate audit seal --signing-key FILE [--db DSN]\n");
		return 2;
	}
	if (kg_ledger_skey_read(keyf, &sk) != KG_OK) {
		fprintf(stderr, "keygate audit seal: cannot read the signing key %s\n", keyf);
		return 1;
	}
	if (!(conn = connect_or_die(db, "seal")))
		goto out;
	do {
		if ((e = kg_auditlog_seal(conn, sk, &mark, "keygate-audit-seal", 5000, &sealed, &size)) != KG_OK) {
			fprintf(stderr, "keygate audit seal: failed: %s (see the log above)\n", kg_err_code(e));
			goto out;
		}
		total += sealed;
	} while (sealed > 0);
	printf("{\"sealed\":%llu}\n", (unsigned long long)total);
	ret = 0;
out:
	PQfinish(conn);
	kg_ledger_skey_free(sk);
	return ret;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
					     {"checkpoint", required_argument, NULL, 'c'},
					     {"json", no_argument, NULL, 'j'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *db = getenv("KEYGATE_DB"), *vk = getenv("KEYGATE_AUDIT_KEY"), *pinf = NULL;
	struct kg_ledger_key key;
	struct kg_auditlog_report r;
	uint8_t *pin = NULL;
	size_t pin_len = 0;
	bool json = false;
	PGconn *conn = NULL;
	int c, ret = 1;
	kg_err e;

	while ((c = getopt_long(argc, argv, "k:c:jd:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': vk = optarg; break;
		case 'c': pinf = optarg; break;
		case 'j': json = true; break;
		case 'd': db = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!vk || optind != argc) {
		fprintf(stderr, "usage: keygate audit verify --key VKEY|@FILE [--checkpoint FILE] [--json] [--db DSN]\n");
		return 2;
	}
	if (read_vkey("verify", vk, &key) != 0)
		return 2;
	if (pinf && kg_file_read(pinf, KG_LEDGER_MAX_NOTE, &pin, &pin_len) != KG_OK) {
		fprintf(stderr, "keygate audit verify: cannot read %s\n", pinf);
		ret = 2;
		goto out;
	}
	if (!(conn = connect_or_die(db, "verify")))
		goto out;
	if ((e = kg_auditlog_verify(conn, &key, pin, pin_len, &r)) != KG_OK) {
		fprintf(stderr, "keygate audit verify: could not verify: %s%s\n", kg_err_code(e),
			e == KG_ERR_CONFIG ? " (an audit_log view is stale or was altered: see the log line above)"
			: pin && e != KG_ERR_DB_QUERY ? " (the --checkpoint note does not verify)"
						       : "");
		goto out;
	}
	if (json) {
		json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:f,s:I}", "ok", r.problems == 0, "rows",
				      (json_int_t)r.rows, "sealed", (json_int_t)r.sealed, "queued", (json_int_t)r.queued,
				      "checkpoints", (json_int_t)r.checkpoints, "tree_size", (json_int_t)r.size,
				      "oldest_queued_seconds", r.oldest_queued_s, "problems", (json_int_t)r.problems);
		json_t *kinds = json_object();
		char *s;
		for (int k = 1; k < KG_AUDIT_KINDS; k++)
			if (kinds && r.by_kind[k] > 0)
				json_object_set_new(kinds, kg_auditlog_problem_name((enum kg_auditlog_problem)k),
						    json_integer((json_int_t)r.by_kind[k]));
		if (o && kinds)
			json_object_set_new(o, "problems_by_kind", kinds);
		else
			json_decref(kinds);
		if (o && r.problems > 0)
			json_object_set_new(o, "first_problem",
					    json_pack("{s:s,s:I,s:I,s:s}", "kind", kg_auditlog_problem_name(r.first),
						      "audit_id", (json_int_t)r.first_audit_id, "position",
						      (json_int_t)r.first_position, "text", r.first_text));
		if (o && (s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) != NULL) {
			printf("%s\n", s);
			free(s);
		}
		json_decref(o);
	} else {
		printf("audit log: %s\n", r.problems == 0 ? "verified" : "NOT VERIFIED");
		if (r.problems > 0) {
			/* problems: 3 (signature 2, uncovered 1) */
			const char *sep = " (";
			printf("first problem (%s): %s\nproblems: %llu", kg_auditlog_problem_name(r.first), r.first_text,
			       (unsigned long long)r.problems);
			for (int k = 1; k < KG_AUDIT_KINDS; k++)
				if (r.by_kind[k] > 0) {
					printf("%s%s %llu", sep, kg_auditlog_problem_name((enum kg_auditlog_problem)k),
					       (unsigned long long)r.by_kind[k]);
					sep = ", ";
				}
			printf(")\n");
		}
		printf("rows: %llu  sealed: %llu  queued: %llu (oldest %.1f s)  checkpoints: %llu  tree size: %llu\n",
		       (unsigned long long)r.rows, (unsigned long long)r.sealed, (unsigned long long)r.queued,
		       r.oldest_queued_s, (unsigned long long)r.checkpoints, (unsigned long long)r.size);
	}
	ret = r.problems == 0 ? 0 : 1;
out:
	PQfinish(conn);
	free(pin);
	return ret;
}

/* Whether note is key's signature over size and the stored root (hex). */
static bool signed_by(const struct kg_ledger_key *key, const char *note, const char *size, const char *root_hex)
{
	uint8_t root[32];
	char hex[65];
	uint64_t n;

	if (kg_ledger_checkpoint_open(key, (const uint8_t *)note, strlen(note), &n, root) != KG_OK ||
	    n != strtoull(size, NULL, 10))
		return false;
	kg_hex(hex, root, 32);
	return strcmp(hex, root_hex) == 0;
}

/* The newest checkpoint; with a key, the newest that key signed over its
 * size and stored root: since 0017 anyone with the broker role can store
 * a badly signed checkpoint of the current size, the newest included. */
static int cmd_checkpoint(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *db = getenv("KEYGATE_DB"), *vk = NULL;
	struct kg_ledger_key key;
	PGconn *conn;
	PGresult *r = NULL;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "k:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': vk = optarg; break;
		case 'd': db = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: keygate audit checkpoint [--key VKEY|@FILE] [--db DSN]\n");
		return 2;
	}
	if (vk && read_vkey("checkpoint", vk, &key) != 0)
		return 2;
	if (!(conn = connect_or_die(db, "checkpoint")))
		return 1;
	r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; DECLARE kg_cps NO SCROLL CURSOR FOR"
			 " SELECT note, size, pg_catalog.encode(root, 'hex') FROM public.audit_log_checkpoints"
			 " ORDER BY size DESC, checkpoint_id DESC");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		goto out;
	for (;;) {
		int rows;
		PQclear(r);
		r = PQexec(conn, "FETCH 500 FROM kg_cps");
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			goto out;
		rows = PQntuples(r);
		for (int i = 0; i < rows; i++) {
			const char *note = PQgetvalue(r, i, 0);
			if (vk && !signed_by(&key, note, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)))
				continue;
			fputs(note, stdout);
			ret = 0;
			goto out;
		}
		if (rows < 500)
			break;
	}
	fprintf(stderr, "keygate audit checkpoint: %s\n", vk ? "no checkpoint signed by the key" : "nothing sealed yet");
	PQclear(r);
	r = NULL;
out:
	if (r && ret != 0)
		fprintf(stderr, "keygate audit checkpoint: %s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(conn);
	return ret;
}

int kg_cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
					     {"since", required_argument, NULL, 's'},
					     {"until", required_argument, NULL, 'u'},
					     {"json", no_argument, NULL, 'j'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *key = NULL, *since = NULL, *until = NULL, *db = getenv("KEYGATE_DB");
	const char *params[3];
	char sql[512];
	bool json = false;
	int c, np = 0, q = -1, ret = 1;
	PGconn *conn = NULL;
	PGresult *r = NULL;

	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "seal") == 0)
		return cmd_seal(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "checkpoint") == 0)
		return cmd_checkpoint(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
		if (strcmp(argv[1], queries[i].name) == 0)
			q = (int)i;
	if (q < 0) {
		fprintf(stderr, "keygate audit: unknown query '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "k:s:u:jd:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'j': json = true; break;
		case 'd': db = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Names come from the table above; values are parameters. */
	snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE true", queries[q].view);
	if (key) {
		params[np++] = key;
		snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND key_id = $%d", np);
	}
	if (since) {
		params[np++] = since;
		snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND %s >= $%d::timestamptz", queries[q].time_col,
			 np);
	}
	if (until) {
		params[np++] = until;
		snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND %s < $%d::timestamptz", queries[q].time_col, np);
	}
	snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " ORDER BY %s", queries[q].time_col);
	conn = PQconnectdb(db ? db : "");
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "keygate audit: %s", PQerrorMessage(conn));
		goto out;
	}
	r = PQexecParams(conn, sql, np, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "keygate audit: %s", PQresultErrorMessage(r));
		goto out;
	}
	if (json) {
		json_t *arr = json_array();
		char *s;
		for (int i = 0; arr && i < PQntuples(r); i++) {
			json_t *row = json_object();
			for (int f = 0; row && f < PQnfields(r); f++)
				json_object_set_new(row, PQfname(r, f),
						    PQgetisnull(r, i, f) ? json_null() : json_string(PQgetvalue(r, i, f)));
			json_array_append_new(arr, row);
		}
		if (arr && (s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) != NULL) {
			printf("%s\n", s);
			free(s);
		}
		json_decref(arr);
	} else {
		PQprintOpt po = {0};
		po.header = 1;
		po.align = 1;
		po.fieldSep = (char *)"|";
		PQprint(stdout, r, &po);
	}
	ret = 0;
out:
	PQclear(r);
	if (conn)
		PQfinish(conn);
	return ret;
}
