/* Helpers of the key and KEK commands (cli.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

PGconn *kg_cli_connect(const char *who, const char *dsn)
{
	PGconn *c;

	if (!dsn) {
		fprintf(stderr, "%s: no database (--db or KEYGATE_DB)\n", who);
		return NULL;
	}
	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", who, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

int kg_cli_exec(const char *who, PGconn *c, const char *sql, int n, const char *const *params, const int *lens,
		const int *fmts, PGresult **out)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, lens, fmts, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		/* Statements carry wrapped keys only as binary parameters, and
		 * PostgreSQL's messages do not echo parameters. */
		fprintf(stderr, "%s: %s", who, PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

int kg_cli_keks(const char *who, const char *config, const char *kek_file, const char *prev_file,
		struct kg_kek **current, struct kg_kek **previous)
{
	struct kg_config cfg;
	char err[256] = "";
	kg_err e;
	int ret = -1;

	*current = *previous = NULL;
	if (kg_config_load(&cfg, config, err, sizeof err) != KG_OK) {
		fprintf(stderr, "%s: %s\n", who, err[0] ? err : "invalid configuration");
		kg_config_free(&cfg);
		return -1;
	}
	if ((kek_file && kg_config_set(&cfg, "kek_file", kek_file) != KG_OK) ||
	    (prev_file && kg_config_set(&cfg, "kek_previous_file", prev_file) != KG_OK))
		goto out;
	if ((e = kg_config_open_keks(&cfg, current, previous)) != KG_OK) {
		fprintf(stderr, "%s: cannot load the KEK (kek_file or kek_pkcs11_*; --kek, --config or KEYGATE_*): %s\n",
			who, kg_err_msg(e));
		goto out;
	}
	ret = 0;
out:
	kg_config_free(&cfg);
	return ret;
}
