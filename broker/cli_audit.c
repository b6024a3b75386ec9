/* `keygate audit`: the auditor's questions (docs/audit.md), answered by
 * the views migration 0008 defines, as a table or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

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
	fprintf(f, "\nConnect as a role with keygate_auditor.  TIME is anything PostgreSQL reads as a timestamptz.\n");
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
