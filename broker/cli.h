/* broker/ private: what the `keygate key` and `keygate kek` commands
 * share (cli_util.c). */
#ifndef KG_BROKER_CLI_H
#define KG_BROKER_CLI_H

#include <libpq-fe.h>

#include "broker.h"

/* A connection to dsn, or NULL after saying why on stderr (prefix: who). */
PGconn *kg_cli_connect(const char *who, const char *dsn);
/* Runs one parameterised statement (lens/fmts may be NULL: text); on
 * failure says why on stderr and returns -1.  *out (if not NULL) gets the
 * result, which the caller PQclear()s. */
int kg_cli_exec(const char *who, PGconn *c, const char *sql, int n, const char *const *params, const int *lens,
		const int *fmts, PGresult **out);
/* The KEKs: the configuration file (if config is not NULL), then KEYGATE_*
 * variables, then kek_file and prev_file (if not NULL) as the current and
 * previous KEK.  Either output may be NULL when not configured; 0 or -1
 * (said on stderr). */
int kg_cli_keks(const char *who, const char *config, const char *kek_file, const char *prev_file,
		struct kg_kek **current, struct kg_kek **previous);

#endif
