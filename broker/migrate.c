/* `keygate migrate`: numbered SQL files, applied in name order, each in
 * its own transaction, recorded with their SHA-256. */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "../common/util.h"
#include "broker.h"

#define KG_MIGRATION_MAX (4 * 1024 * 1024)
#define KG_MIGRATIONS_MAX 10000
/* Serialises concurrent `keygate migrate` runs (replicas starting together). */
#define KG_MIGRATE_LOCK "7163016001"

struct migration {
	char name[256];
	char path[4096];
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct migration *)a)->name, ((const struct migration *)b)->name);
}

static kg_err list_dir(const char *dir, struct migration **list, size_t *n, size_t *cap)
{
	regex_t re;
	DIR *d;
	struct dirent *e;
	kg_err rc = KG_OK;

	if (regcomp(&re, "^[0-9]{4}_[A-Za-z0-9_.-]+\\.sql$", REG_EXTENDED | REG_NOSUB) != 0)
		return KG_ERR_INTERNAL;
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "keygate migrate: cannot open %s\n", dir);
		regfree(&re);
		return KG_ERR_IO;
	}
	while ((e = readdir(d)) != NULL) {
		if (regexec(&re, e->d_name, 0, NULL, 0) != 0)
			continue;
		if (*n == *cap) {
			struct migration *nl;
			KG_ENSURE_OUT(*cap < KG_MIGRATIONS_MAX, KG_ERR_TOO_LARGE);
			*cap = *cap ? *cap * 2 : 16;
			KG_ENSURE_OUT((nl = realloc(*list, *cap * sizeof **list)) != NULL, KG_ERR_NOMEM);
			*list = nl;
		}
		snprintf((*list)[*n].name, sizeof(*list)[*n].name, "%s", e->d_name);
		snprintf((*list)[*n].path, sizeof(*list)[*n].path, "%s/%s", dir, e->d_name);
		(*n)++;
	}
out:
	closedir(d);
	regfree(&re);
	return rc;
}

static kg_err sha256_hex(const uint8_t *b, size_t n, char out[static 65])
{
	uint8_t h[32];

	KG_ENSURE(EVP_Digest(b, n, h, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	kg_hex(out, h, 32);
	return KG_OK;
}

static bool exec_ok(PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "keygate migrate: %s: %s", what, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static kg_err apply_one(PGconn *c, const struct migration *m, const char *sum, bool dry_run)
{
	uint8_t *sql = NULL;
	size_t len;
	const char *p[2] = {m->name, sum};
	PGresult *r;
	kg_err rc = KG_ERR_DB_QUERY;

	KG_TRY(kg_file_read(m->path, KG_MIGRATION_MAX, &sql, &len));
	if (!exec_ok(c, "BEGIN", "begin"))
		goto out;
	/* Lets triggers record which migration made a change. */
	r = PQexecParams(c, "SELECT set_config('keygate.migration', $1, true)", 1, NULL, p, NULL, NULL, 0);
	PQclear(r);
	if (!exec_ok(c, (const char *)sql, m->name))
		goto rollback;
	r = PQexecParams(c, "INSERT INTO keygate_migrations (name, sha256) VALUES ($1, $2)", 2, NULL, p, NULL, NULL,
			 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "keygate migrate: %s: %s", m->name, PQresultErrorMessage(r));
		PQclear(r);
		goto rollback;
	}
	PQclear(r);
	if (dry_run)
		goto rollback_quiet;
	if (!exec_ok(c, "COMMIT", "commit"))
		goto out;
	printf("applied %s %s\n", m->name, sum);
	rc = KG_OK;
	goto out;
rollback_quiet:
	printf("would apply %s %s\n", m->name, sum);
	rc = KG_OK;
rollback:
	exec_ok(c, "ROLLBACK", "rollback");
	if (rc != KG_OK)
		fprintf(stderr, "keygate migrate: %s rolled back\n", m->name);
out:
	free(sql);
	return rc;
}

kg_err kg_migrate(const char *dsn, const char *const *dirs, size_t ndirs, bool dry_run)
{
	struct migration *list = NULL;
	size_t n = 0, cap = 0;
	PGconn *c = NULL;
	PGresult *applied = NULL;
	kg_err rc = KG_OK;

	for (size_t i = 0; i < ndirs; i++)
		KG_TRY_OUT(list_dir(dirs[i], &list, &n, &cap));
	if (n)
		qsort(list, n, sizeof *list, by_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(list[i].name, list[i - 1].name) == 0) {
			fprintf(stderr, "keygate migrate: %s exists twice (%s, %s)\n", list[i].name, list[i - 1].path,
				list[i].path);
			rc = KG_ERR_CONFIG;
			goto out;
		}

	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "keygate migrate: %s", PQerrorMessage(c));
		rc = KG_ERR_DB_UNAVAILABLE;
		goto out;
	}
	KG_ENSURE_OUT(exec_ok(c, "SET client_min_messages = warning", "setup") &&
			      exec_ok(c, "SELECT pg_advisory_lock(" KG_MIGRATE_LOCK ")", "lock") &&
			      /* An admin role may apply migrations but not create tables. */
			      exec_ok(c,
				      "DO $$ BEGIN IF to_regclass('keygate_migrations') IS NULL THEN"
				      " CREATE TABLE keygate_migrations ("
				      " name text PRIMARY KEY, sha256 text NOT NULL,"
				      " applied_at timestamptz NOT NULL DEFAULT now(),"
				      " applied_by text NOT NULL DEFAULT current_user); END IF; END $$",
				      "create migrations table"),
		      KG_ERR_DB_QUERY);
	applied = PQexec(c, "SELECT name, sha256 FROM keygate_migrations ORDER BY name");
	KG_ENSURE_OUT(PQresultStatus(applied) == PGRES_TUPLES_OK, KG_ERR_DB_QUERY);

	/* Every applied migration must still exist, unchanged. */
	for (int r = 0; r < PQntuples(applied); r++) {
		const char *name = PQgetvalue(applied, r, 0);
		struct migration key, *m;
		snprintf(key.name, sizeof key.name, "%s", name);
		m = n ? bsearch(&key, list, n, sizeof *list, by_name) : NULL;
		if (!m) {
			fprintf(stderr, "keygate migrate: applied migration %s is missing from the migration folders\n",
				name);
			rc = KG_ERR_MIGRATION_CHANGED;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *sql;
		size_t len;
		char sum[65];
		bool done = false;
		KG_TRY_OUT(kg_file_read(list[i].path, KG_MIGRATION_MAX, &sql, &len));
		rc = sha256_hex(sql, len, sum);
		free(sql);
		KG_TRY_OUT(rc);
		for (int r = 0; r < PQntuples(applied); r++) {
			if (strcmp(PQgetvalue(applied, r, 0), list[i].name) != 0)
				continue;
			done = true;
			if (strcmp(PQgetvalue(applied, r, 1), sum) != 0) {
				fprintf(stderr,
					"keygate migrate: %s changed after it was applied (recorded sha256 %s, file "
					"%s); add a new migration instead\n",
					list[i].name, PQgetvalue(applied, r, 1), sum);
				rc = KG_ERR_MIGRATION_CHANGED;
				goto out;
			}
		}
		if (!done)
			KG_TRY_OUT(apply_one(c, &list[i], sum, dry_run));
	}
out:
	PQclear(applied);
	if (c)
		PQfinish(c);
	free(list);
	return rc;
}
