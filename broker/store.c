/* The broker's only access to PostgreSQL: a small connection pool, one
 * query to load a key with its policies, one INSERT per audit row.  Every
 * statement is parameterised. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"

struct kg_store {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	char *dsn;
	unsigned n;
	PGconn **conns;
	bool *busy;
};

kg_err kg_store_new(struct kg_store **out, const char *dsn, unsigned conns)
{
	struct kg_store *s;

	*out = NULL;
	KG_ENSURE(dsn && conns > 0, KG_ERR_CONFIG);
	KG_ENSURE((s = calloc(1, sizeof *s)) != NULL, KG_ERR_NOMEM);
	s->n = conns;
	s->dsn = strdup(dsn);
	s->conns = calloc(conns, sizeof *s->conns);
	s->busy = calloc(conns, sizeof *s->busy);
	if (!s->dsn || !s->conns || !s->busy) {
		kg_store_free(s);
		return KG_ERR_NOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	*out = s;
	return KG_OK;
}

void kg_store_free(struct kg_store *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->conns && i < s->n; i++)
		if (s->conns[i])
			PQfinish(s->conns[i]);
	free(s->conns);
	free(s->busy);
	free(s->dsn);
	free(s);
}

PGconn *kg_pg_connect(const char *dsn)
{
	/* Defaults first: what the operator's DSN says comes later and wins.
	 * A stalled database must not hold a worker for minutes. */
	static const char *const keys[] = {"connect_timeout", "options", "application_name", "dbname", NULL};
	const char *values[] = {"5", "-c statement_timeout=5000 -c lock_timeout=2000", "keygate", dsn, NULL};
	PGconn *c = PQconnectdbParams(keys, values, 1);
	PGresult *r;

	if (!c || PQstatus(c) != CONNECTION_OK)
		return c;
	/* An audit row must be durable before the key leaves: never accept a
	 * role or database default of synchronous_commit = off. */
	r = PQexec(c, "SELECT current_setting('synchronous_commit')");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "off") == 0) {
		PQclear(r);
		r = PQexec(c, "SET synchronous_commit = on");
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}

/* Takes a free connection, (re)connecting it if needed. */
static kg_err acquire(struct kg_store *s, unsigned *slot)
{
	unsigned i;
	PGconn *c;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (i = 0; i < s->n && s->busy[i]; i++)
			;
		if (i < s->n)
			break;
		pthread_cond_wait(&s->freed, &s->lock);
	}
	s->busy[i] = true;
	pthread_mutex_unlock(&s->lock);

	c = s->conns[i];
	if (c && PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		c = s->conns[i] = NULL;
	}
	if (!c) {
		c = kg_pg_connect(s->dsn);
		if (!c || PQstatus(c) != CONNECTION_OK) {
			kg_log(KG_LOG_ERROR, "db_connect_failed", "error", c ? PQerrorMessage(c) : "no memory", NULL);
			if (c)
				PQfinish(c);
			pthread_mutex_lock(&s->lock);
			s->busy[i] = false;
			pthread_cond_signal(&s->freed);
			pthread_mutex_unlock(&s->lock);
			return KG_ERR_DB_UNAVAILABLE;
		}
		s->conns[i] = c;
	}
	*slot = i;
	return KG_OK;
}

static void release_conn(struct kg_store *s, unsigned slot)
{
	pthread_mutex_lock(&s->lock);
	s->busy[slot] = false;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

/* A failed statement on a dead connection means the database is gone,
 * not that the query was wrong. */
static kg_err query_error(struct kg_store *s, unsigned slot, PGresult *res, const char *what)
{
	PGconn *c = s->conns[slot];
	kg_err e = PQstatus(c) == CONNECTION_OK ? KG_ERR_DB_QUERY : KG_ERR_DB_UNAVAILABLE;

	kg_log(KG_LOG_ERROR, "db_query_failed", "query", what, "error",
	       res ? PQresultErrorMessage(res) : PQerrorMessage(c), NULL);
	return e;
}

kg_err kg_store_check_role(struct kg_store *s, char *why, size_t whylen)
{
	static const char *q =
		"SELECT has_table_privilege(current_user, 'audit', 'UPDATE'),"
		"       has_table_privilege(current_user, 'audit', 'DELETE'),"
		"       has_table_privilege(current_user, 'audit', 'TRUNCATE'),"
		"       has_table_privilege(current_user, 'audit', 'INSERT'),"
		"       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_user";
	PGresult *res;
	unsigned slot;
	kg_err rc = KG_OK;

	KG_TRY(acquire(s, &slot));
	res = PQexec(s->conns[slot], q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(why, whylen, "cannot read privileges (has `keygate migrate` run?)");
		rc = query_error(s, slot, res, "check_role");
	} else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0 || strcmp(PQgetvalue(res, 0, 1), "t") == 0 ||
		   strcmp(PQgetvalue(res, 0, 2), "t") == 0 || strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		snprintf(why, whylen,
			 "database role '%s' can change or delete audit rows; connect as a role that only has "
			 "keygate_broker",
			 PQgetvalue(res, 0, 5));
		rc = KG_ERR_CONFIG;
	} else if (strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		snprintf(why, whylen, "database role '%s' cannot insert audit rows", PQgetvalue(res, 0, 5));
		rc = KG_ERR_CONFIG;
	}
	PQclear(res);
	release_conn(s, slot);
	return rc;
}

#define KG_STR_(x) #x
#define KG_STR(x) KG_STR_(x)

/* One round trip: the key, its newest stored versions (state, KEK id,
 * wrapped bytes: comma-separated lists, newest first) and its policies for
 * this TEE (measurements as comma-separated hex). */
static const char *load_key_sql =
	"SELECT k.kind, k.state, k.key_len, v.versions, v.states,"
	"       p.policy_id, p.state, p.allow_debug, p.allow_migration_agent,"
	"       p.min_tcb_bootloader, p.min_tcb_tee, p.min_tcb_snp, p.min_tcb_microcode,"
	/* Whole seconds rounded towards the narrower window; +-infinity as
	 * PostgreSQL allows them: an open bound, or one that is never
	 * (not_before = infinity) or always (not_after = -infinity) past. */
	"       CASE WHEN p.not_before IS NULL OR p.not_before = '-infinity' THEN NULL"
	"            WHEN p.not_before = 'infinity' THEN 253402300800"
	"            ELSE ceil(extract(epoch FROM p.not_before))::bigint END,"
	"       CASE WHEN p.not_after IS NULL OR p.not_after = 'infinity' THEN NULL"
	"            WHEN p.not_after = '-infinity' THEN -62135596800"
	"            ELSE floor(extract(epoch FROM p.not_after))::bigint END,"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.measurements) AS m), ','),"
	"       p.min_tcb_fmc, array_to_string(p.allowed_vmpls, ','), encode(p.host_data, 'hex'),"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.id_key_digests) AS m), ','),"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.author_key_digests) AS m), ','),"
	"       p.min_guest_svn,"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.tdx_rtmr0) AS m), ','),"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.tdx_rtmr1) AS m), ','),"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.tdx_rtmr2) AS m), ','),"
	"       array_to_string(ARRAY(SELECT encode(m, 'hex') FROM unnest(p.tdx_rtmr3) AS m), ','),"
	"       encode(p.tdx_mr_config_id, 'hex'), encode(p.tdx_mr_owner, 'hex'),"
	"       encode(p.tdx_mr_owner_config, 'hex'), array_to_string(p.tdx_tcb_statuses, ','), p.ledger_id,"
	"       v.kek_ids, v.wrapped, array_to_string(p.allowed_versions, ','), p.min_version,"
	"       p.gpu_count, p.nvswitch_count, p.gpu_require_cc, p.gpu_require_rims, p.gpu_min_driver_version,"
	"       p.gpu_min_vbios_version, p.gpu_require_ocsp"
	"  FROM keys k"
	"  LEFT JOIN LATERAL (SELECT string_agg(x.version::text, ',' ORDER BY x.version DESC) AS versions,"
	"                            string_agg(x.state, ',' ORDER BY x.version DESC) AS states,"
	/* kek ids are labels: hex keeps them clear of the separator. */
	"                            string_agg(encode(convert_to(coalesce(x.kek_id, ''), 'UTF8'), 'hex'), ','"
	"                                       ORDER BY x.version DESC) AS kek_ids,"
	"                            string_agg(coalesce(encode(x.wrapped, 'hex'), ''), ','"
	"                                       ORDER BY x.version DESC) AS wrapped"
	"                       FROM (SELECT version, state, kek_id, wrapped FROM key_versions"
	"                              WHERE key_id = k.key_id ORDER BY version DESC LIMIT " KG_STR(KG_KEY_VERSIONS_MAX) ") x) v"
	"         ON true"
	"  LEFT JOIN policies p ON p.key_id = k.key_id AND p.tee = $2"
	" WHERE k.key_id = $1"
	" ORDER BY p.policy_id";

static int opt_int(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? -1 : atoi(PQgetvalue(res, row, col));
}

static bool opt_time(PGresult *res, int row, int col, time_t *t)
{
	*t = PQgetisnull(res, row, col) ? 0 : (time_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
	return !PQgetisnull(res, row, col);
}

/* Parses "hex,hex,..." (as the query encodes a bytea[]) into n entries of
 * one length, at most max; *out is calloc'd with stride bytes per entry.
 * An empty string is an empty list. */
static kg_err parse_hex_list(const char *csv, size_t stride, size_t max, void **out, size_t *n, size_t *len)
{
	size_t count = 1, i = 0;
	const char *q = csv;
	uint8_t *list;

	*out = NULL;
	*n = 0;
	*len = 0;
	if (!*csv)
		return KG_OK;
	for (const char *c = csv; *c; c++)
		count += *c == ',';
	KG_ENSURE(count <= max, KG_ERR_DB_QUERY);
	KG_ENSURE((list = calloc(count, stride)) != NULL, KG_ERR_NOMEM);
	*out = list;
	while (*q) {
		char hex[2 * 64 + 1];
		const char *e = strchr(q, ',');
		size_t l = e ? (size_t)(e - q) : strlen(q);
		/* The schema guarantees one length per list; check it anyway. */
		KG_ENSURE(l % 2 == 0 && l > 0 && l / 2 <= stride && (*len == 0 || *len == l / 2), KG_ERR_DB_QUERY);
		memcpy(hex, q, l);
		hex[l] = 0;
		KG_ENSURE(kg_unhex(list + i * stride, l / 2, hex) == KG_OK, KG_ERR_DB_QUERY);
		*len = l / 2;
		i++;
		q = e ? e + 1 : q + l;
	}
	*n = i;
	return KG_OK;
}

static kg_err opt_hex48(PGresult *res, int r, int col, bool *has, uint8_t out[static 48])
{
	*has = !PQgetisnull(res, r, col);
	if (*has)
		KG_ENSURE(kg_unhex(out, 48, PQgetvalue(res, r, col)) == KG_OK, KG_ERR_DB_QUERY);
	return KG_OK;
}

static kg_err parse_policy_row(PGresult *res, int r, enum kg_tee tee, struct kg_policy *p)
{
	size_t n, len;
	void *list;
	const char *v;

	p->id = strtoll(PQgetvalue(res, r, 5), NULL, 10);
	p->tee = tee;
	p->active = strcmp(PQgetvalue(res, r, 6), "active") == 0;
	p->allow_debug = strcmp(PQgetvalue(res, r, 7), "t") == 0;
	p->allow_migration_agent = strcmp(PQgetvalue(res, r, 8), "t") == 0;
	p->min_bootloader = opt_int(res, r, 9);
	p->min_tee = opt_int(res, r, 10);
	p->min_snp = opt_int(res, r, 11);
	p->min_microcode = opt_int(res, r, 12);
	p->has_not_before = opt_time(res, r, 13, &p->not_before);
	p->has_not_after = opt_time(res, r, 14, &p->not_after);
	KG_TRY(parse_hex_list(PQgetvalue(res, r, 15), 64, KG_POLICY_MAX_MEASUREMENTS, &list, &n, &len));
	p->measurements = list;
	p->n_measurements = n;
	p->measurement_len = len;
	/* The schema requires a list, a ledger, or both. */
	KG_ENSURE(n >= 1 || !PQgetisnull(res, r, 30), KG_ERR_DB_QUERY);
	p->min_fmc = opt_int(res, r, 16);
	p->allowed_vmpls = 0;
	for (v = PQgetvalue(res, r, 17); *v; v++)
		if (*v >= '0' && *v <= '3')
			p->allowed_vmpls |= (uint8_t)(1u << (*v - '0'));
	if ((p->has_host_data = !PQgetisnull(res, r, 18)))
		KG_TRY(kg_unhex(p->host_data, 32, PQgetvalue(res, r, 18)) == KG_OK ? KG_OK : KG_ERR_DB_QUERY);
	KG_TRY(parse_hex_list(PQgetvalue(res, r, 19), 48, KG_POLICY_MAX_MEASUREMENTS, &list, &n, &len));
	p->id_key_digests = list;
	p->n_id_key_digests = n;
	KG_TRY(parse_hex_list(PQgetvalue(res, r, 20), 48, KG_POLICY_MAX_MEASUREMENTS, &list, &n, &len));
	p->author_key_digests = list;
	p->n_author_key_digests = n;
	p->min_guest_svn = PQgetisnull(res, r, 21) ? -1 : strtoll(PQgetvalue(res, r, 21), NULL, 10);
	for (int i = 0; i < 4; i++) {
		KG_TRY(parse_hex_list(PQgetvalue(res, r, 22 + i), 48, KG_POLICY_MAX_MEASUREMENTS, &list, &n, &len));
		p->rtmr[i] = list;
		p->n_rtmr[i] = n;
	}
	KG_TRY(opt_hex48(res, r, 26, &p->has_mr_config_id, p->mr_config_id));
	KG_TRY(opt_hex48(res, r, 27, &p->has_mr_owner, p->mr_owner));
	KG_TRY(opt_hex48(res, r, 28, &p->has_mr_owner_config, p->mr_owner_config));
	p->tdx_tcb_statuses = 0;
	for (const char *q = PQgetvalue(res, r, 29); *q;) {
		size_t l = strcspn(q, ",");
		bool known = false;
		for (int st = 0; st < KG_TDX_TCB__COUNT; st++) {
			const char *name = kg_tdx_tcb_status_name((enum kg_tdx_tcb_status)st);
			if (strlen(name) == l && strncmp(name, q, l) == 0) {
				p->tdx_tcb_statuses |= 1u << st;
				known = true;
			}
		}
		/* The schema lists the names; an unknown one is damage. */
		KG_ENSURE(known, KG_ERR_DB_QUERY);
		q += l + (q[l] == ',');
	}
	if ((p->has_ledger = !PQgetisnull(res, r, 30)))
		snprintf(p->ledger_id, sizeof p->ledger_id, "%s", PQgetvalue(res, r, 30));
	p->n_allowed_versions = 0;
	for (const char *q = PQgetvalue(res, r, 33); *q;) {
		/* The schema bounds the list at KG_POLICY_MAX_VERSIONS. */
		KG_ENSURE(p->n_allowed_versions < KG_POLICY_MAX_VERSIONS, KG_ERR_DB_QUERY);
		p->allowed_versions[p->n_allowed_versions++] = (uint32_t)strtoul(q, NULL, 10);
		q += strcspn(q, ",");
		q += *q == ',';
	}
	p->min_version = PQgetisnull(res, r, 34) ? 0 : (uint32_t)strtoul(PQgetvalue(res, r, 34), NULL, 10);
	p->gpu_count = PQgetisnull(res, r, 35) ? 0 : atoi(PQgetvalue(res, r, 35));
	p->nvswitch_count = PQgetisnull(res, r, 36) ? 0 : atoi(PQgetvalue(res, r, 36));
	p->gpu_require_cc = strcmp(PQgetvalue(res, r, 37), "t") == 0;
	p->gpu_require_rims = strcmp(PQgetvalue(res, r, 38), "t") == 0;
	/* The schema checks the formats; a version that does not parse is damage. */
	if ((p->has_gpu_min_driver = !PQgetisnull(res, r, 39)))
		KG_ENSURE(kg_gpu_driver_version_parse(PQgetvalue(res, r, 39), p->gpu_min_driver), KG_ERR_DB_QUERY);
	if ((p->has_gpu_min_vbios = !PQgetisnull(res, r, 40)))
		KG_ENSURE(kg_gpu_vbios_version_parse(PQgetvalue(res, r, 40), p->gpu_min_vbios), KG_ERR_DB_QUERY);
	p->gpu_require_ocsp = strcmp(PQgetvalue(res, r, 41), "t") == 0;
	return KG_OK;
}

/* Next comma-separated field of *q (no copy): start and length. */
static size_t next_field(const char **q, const char **start)
{
	size_t l = strcspn(*q, ",");

	*start = *q;
	*q += l + ((*q)[l] == ',');
	return l;
}

/* The four parallel lists of load_key_sql (columns 3, 4, 31, 32). */
static kg_err parse_versions(PGresult *res, struct kg_key_record *out)
{
	const char *vs = PQgetvalue(res, 0, 3), *st = PQgetvalue(res, 0, 4), *ks = PQgetvalue(res, 0, 31),
		   *ws = PQgetvalue(res, 0, 32);

	while (*vs) {
		struct kg_key_version *v;
		const char *f;
		size_t l;
		char hex[2 * KG_WRAPPED_MAX + 1];

		KG_ENSURE(out->n_versions < KG_KEY_VERSIONS_MAX, KG_ERR_DB_QUERY);
		v = &out->versions[out->n_versions++];
		v->info.version = (uint32_t)strtoul(vs, NULL, 10);
		next_field(&vs, &f);
		l = next_field(&st, &f);
		v->info.state = l == 6 && strncmp(f, "active", 6) == 0 ? KG_VERSION_ACTIVE
				: l == 8 && strncmp(f, "disabled", 8) == 0 ? KG_VERSION_DISABLED
									    : KG_VERSION_DESTROYED;
		l = next_field(&ks, &f);
		KG_ENSURE(l % 2 == 0 && l / 2 < sizeof v->kek_id, KG_ERR_DB_QUERY);
		memcpy(hex, f, l);
		hex[l] = 0;
		KG_ENSURE(kg_unhex((uint8_t *)v->kek_id, l / 2, hex) == KG_OK, KG_ERR_DB_QUERY);
		v->kek_id[l / 2] = 0;
		l = next_field(&ws, &f);
		KG_ENSURE(l % 2 == 0 && l / 2 <= KG_WRAPPED_MAX, KG_ERR_KEY_UNWRAP);
		memcpy(hex, f, l);
		hex[l] = 0;
		KG_ENSURE(kg_unhex(v->wrapped, l / 2, hex) == KG_OK, KG_ERR_DB_QUERY);
		v->wrapped_len = l / 2;
		kg_wipe(hex, sizeof hex);
	}
	return KG_OK;
}

kg_err kg_store_load_key(struct kg_store *s, const char *key_id, enum kg_tee tee, struct kg_key_record *out)
{
	const char *params[2] = {key_id, kg_tee_name(tee)};
	PGresult *res = NULL;
	unsigned slot;
	kg_err rc = KG_OK;
	int rows;

	memset(out, 0, sizeof *out);
	KG_TRY(acquire(s, &slot));
	res = PQexecParams(s->conns[slot], load_key_sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = query_error(s, slot, res, "load_key");
		goto out;
	}
	rows = PQntuples(res);
	if (rows == 0)
		goto out; /* unknown key: found = false */
	out->found = true;
	out->is_model = strcmp(PQgetvalue(res, 0, 0), "model") == 0;
	out->active = strcmp(PQgetvalue(res, 0, 1), "active") == 0;
	out->key_len = atoi(PQgetvalue(res, 0, 2));
	if (!PQgetisnull(res, 0, 3))
		KG_TRY_OUT(parse_versions(res, out));
	if (PQgetisnull(res, 0, 5))
		goto out; /* no policy for this TEE */
	KG_ENSURE_OUT((out->policies = calloc((size_t)rows, sizeof *out->policies)) != NULL, KG_ERR_NOMEM);
	for (int r = 0; r < rows; r++)
		KG_TRY_OUT(parse_policy_row(res, r, tee, &out->policies[out->n_policies++]));
	KG_TRY_OUT(kg_store_ledgers(s->conns[slot], out));
out:
	PQclear(res);
	release_conn(s, slot);
	if (rc != KG_OK)
		kg_key_record_free(out);
	return rc;
}

/* The ledgers named by the record's policies, when any: their trust, the
 * seen checkpoint and the revoked measurements (one more round trip, only
 * for such keys and only when the cache misses). */
kg_err kg_store_ledgers(PGconn *c, struct kg_key_record *rec)
{
	char ids[KG_POLICY_MAX_MEASUREMENTS * 66 + 3] = "{";
	const char *params[1] = {ids};
	PGresult *res = NULL;
	kg_err rc = KG_OK;
	size_t n = 0;

	for (size_t i = 0; i < rec->n_policies; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= rec->policies[j].has_ledger &&
				strcmp(rec->policies[j].ledger_id, rec->policies[i].ledger_id) == 0;
		if (!rec->policies[i].has_ledger || seen)
			continue;
		/* ledger ids are [A-Za-z0-9._-]: safe inside an array literal. */
		if (n++)
			strcat(ids, ",");
		strcat(ids, rec->policies[i].ledger_id);
		if (n == KG_POLICY_MAX_MEASUREMENTS)
			break;
	}
	strcat(ids, "}");
	if (n == 0)
		return KG_OK;
	res = PQexecParams(c,
			   "SELECT l.ledger_id, l.origin, l.log_vkey, array_to_string(l.witness_vkeys, ' '),"
			   "       l.witness_threshold, l.max_age_seconds, c.size, encode(c.root, 'hex'),"
			   "       (SELECT string_agg(r.tee || ':' || encode(r.measurement, 'hex'), ',')"
			   "          FROM ledger_revocations r WHERE r.ledger_id = l.ledger_id)"
			   "  FROM ledgers l LEFT JOIN ledger_checkpoints c USING (ledger_id)"
			   " WHERE l.ledger_id = ANY($1::text[])",
			   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		kg_log(KG_LOG_ERROR, "db_query_failed", "query", "load_ledgers", "error", PQresultErrorMessage(res),
		       NULL);
		PQclear(res);
		return KG_ERR_DB_QUERY;
	}
	KG_ENSURE_OUT((rec->ledgers = calloc((size_t)PQntuples(res) + 1, sizeof *rec->ledgers)) != NULL,
		      KG_ERR_NOMEM);
	for (int r = 0; r < PQntuples(res); r++) {
		struct kg_key_ledger *l = &rec->ledgers[rec->n_ledgers++];
		struct kg_ledger_trust *t = &l->trust;
		char *w = PQgetvalue(res, r, 3), *save = NULL, *tok;
		const char *rev = PQgetvalue(res, r, 8);
		size_t nrev = *rev ? 1 : 0;

		snprintf(l->id, sizeof l->id, "%s", PQgetvalue(res, r, 0));
		/* Configured by migrations; a key that does not parse is a
		 * misconfiguration, and no release through it can succeed. */
		KG_ENSURE_OUT(strlen(PQgetvalue(res, r, 1)) < sizeof t->origin, KG_ERR_CONFIG);
		snprintf(t->origin, sizeof t->origin, "%s", PQgetvalue(res, r, 1));
		KG_TRY_OUT(kg_ledger_vkey_parse(PQgetvalue(res, r, 2), &t->log_key));
		for (tok = strtok_r(w, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			KG_ENSURE_OUT(t->n_witnesses < KG_LEDGER_MAX_WITNESSES, KG_ERR_CONFIG);
			KG_TRY_OUT(kg_ledger_vkey_parse(tok, &t->witnesses[t->n_witnesses++]));
		}
		t->witness_threshold = (size_t)atoi(PQgetvalue(res, r, 4));
		t->max_age = (uint64_t)strtoull(PQgetvalue(res, r, 5), NULL, 10);
		if (!PQgetisnull(res, r, 6)) {
			t->seen_size = (uint64_t)strtoull(PQgetvalue(res, r, 6), NULL, 10);
			KG_ENSURE_OUT(kg_unhex(t->seen_root, 32, PQgetvalue(res, r, 7)) == KG_OK, KG_ERR_DB_QUERY);
		}
		for (const char *q = rev; *q; q++)
			nrev += *q == ',';
		if (nrev) {
			KG_ENSURE_OUT((l->revoked = calloc(nrev, sizeof *l->revoked)) != NULL, KG_ERR_NOMEM);
			for (const char *q = rev; *q;) {
				size_t len = strcspn(q, ","), colon = strcspn(q, ":");
				struct kg_ledger_digest *d = &l->revoked[l->n_revoked];
				char hex[97];
				KG_ENSURE_OUT(colon < len && colon < sizeof d->tee && len - colon - 1 == 96, KG_ERR_DB_QUERY);
				memcpy(d->tee, q, colon);
				d->tee[colon] = 0;
				memcpy(hex, q + colon + 1, 96);
				hex[96] = 0;
				KG_ENSURE_OUT(kg_unhex(d->measurement, 48, hex) == KG_OK, KG_ERR_DB_QUERY);
				d->measurement_len = 48;
				l->n_revoked++;
				q += len + (q[len] == ',');
			}
		}
	}
out:
	PQclear(res);
	return rc;
}

kg_err kg_store_ledger_seen(struct kg_store *s, const char *ledger_id, uint64_t size, const uint8_t root[static 32])
{
	char sz[24];
	const char *v[3] = {ledger_id, sz, (const char *)root};
	int l[3] = {0, 0, 32}, f[3] = {0, 0, 1};
	PGresult *res;
	unsigned slot;
	kg_err rc = KG_OK;

	snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
	KG_TRY(acquire(s, &slot));
	res = PQexecParams(s->conns[slot],
			   "INSERT INTO ledger_checkpoints (ledger_id, size, root) VALUES ($1, $2::bigint, $3)"
			   " ON CONFLICT (ledger_id) DO UPDATE SET size = EXCLUDED.size, root = EXCLUDED.root,"
			   " updated_at = now() WHERE ledger_checkpoints.size < EXCLUDED.size",
			   3, NULL, v, l, f, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = query_error(s, slot, res, "ledger_seen");
	PQclear(res);
	release_conn(s, slot);
	return rc;
}

void kg_key_record_free(struct kg_key_record *r)
{
	for (size_t i = 0; r->policies && i < r->n_policies; i++) {
		free(r->policies[i].measurements);
		free(r->policies[i].id_key_digests);
		free(r->policies[i].author_key_digests);
		for (int j = 0; j < 4; j++)
			free(r->policies[i].rtmr[j]);
	}
	for (size_t i = 0; r->ledgers && i < r->n_ledgers; i++)
		free(r->ledgers[i].revoked);
	free(r->ledgers);
	free(r->policies);
	kg_wipe(r->versions, sizeof r->versions);
	memset(r, 0, sizeof *r);
}

static const char *audit_sql =
	"INSERT INTO audit (request_id, replica, peer, key_id, key_version, policy_id, tee,"
	"                   measurement, chip_id, tcb, decision, reason, evidence_sha256, ledger, explain,"
	"                   session_id, gpus)"
	" VALUES ($1::uuid, $2, $3, $4, $5::integer, $6::bigint, $7, $8::bytea, $9::bytea, $10::jsonb,"
	"         $11, $12, $13::bytea, $14::jsonb, $15::jsonb, $16, $17::jsonb)";

kg_err kg_store_audit(struct kg_store *s, const struct kg_audit_row *row)
{
	char uuid[37], ver[16], pol[24];
	const char *v[17];
	int len[17] = {0}, fmt[17] = {0};
	PGresult *res;
	unsigned slot;
	kg_err rc = KG_OK;

	kg_uuid_str(uuid, row->request_id);
	snprintf(ver, sizeof ver, "%u", row->key_version);
	snprintf(pol, sizeof pol, "%lld", (long long)row->policy_id);
	v[0] = uuid;
	v[1] = row->replica;
	v[2] = row->peer;
	v[3] = row->key_id;
	v[4] = row->key_version ? ver : NULL;
	v[5] = row->policy_id ? pol : NULL;
	v[6] = row->tee;
	/* Binary parameters for the bytea columns. */
	v[7] = (const char *)row->measurement;
	len[7] = (int)row->measurement_len;
	fmt[7] = 1;
	if (!row->measurement_len)
		v[7] = NULL;
	v[8] = (const char *)row->chip_id;
	len[8] = (int)row->chip_id_len;
	fmt[8] = 1;
	if (!row->chip_id_len)
		v[8] = NULL;
	v[9] = row->tcb_json;
	v[10] = row->grant ? "grant" : "deny";
	v[11] = row->reason;
	v[12] = (const char *)row->evidence_sha256;
	len[12] = 32;
	fmt[12] = 1;
	v[13] = row->ledger_json;
	v[14] = row->explain_json;
	v[15] = row->session_id;
	v[16] = row->gpus_json;

	KG_TRY(acquire(s, &slot));
	/* Autocommit with synchronous_commit on: when this returns, the row
	 * is durable (on the primary, and on synchronous standbys if the
	 * operator configured them). */
	res = PQexecParams(s->conns[slot], audit_sql, 17, NULL, v, len, fmt, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = query_error(s, slot, res, "audit_insert") == KG_ERR_DB_UNAVAILABLE ? KG_ERR_DB_UNAVAILABLE
											: KG_ERR_AUDIT_FAILED;
	PQclear(res);
	release_conn(s, slot);
	return rc;
}

/* The newest SEV-SNP CRL of each issuer, as one PEM bundle (at most 8:
 * one per AMD product and signing-key kind is far fewer). */
kg_err kg_collateral_snp_crls(struct pg_conn *c, uint8_t **pem, size_t *len)
{
	PGresult *r;
	BIO *bio = NULL;
	char *data;
	long n;
	kg_err rc = KG_OK;

	*pem = NULL;
	*len = 0;
	r = PQexecParams(c,
			 "SELECT DISTINCT ON (issuer) body FROM collateral WHERE kind = 'snp_crl'"
			 " ORDER BY issuer, this_update DESC, collateral_id DESC LIMIT 8",
			 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		kg_log(KG_LOG_ERROR, "db_query_failed", "query", "snp_crls", "error", PQresultErrorMessage(r), NULL);
		PQclear(r);
		return KG_ERR_DB_QUERY;
	}
	KG_ENSURE_OUT((bio = BIO_new(BIO_s_mem())) != NULL, KG_ERR_NOMEM);
	for (int i = 0; i < PQntuples(r); i++) {
		const unsigned char *p = (const unsigned char *)PQgetvalue(r, i, 0);
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, PQgetlength(r, i, 0));
		bool ok = crl && PEM_write_bio_X509_CRL(bio, crl) == 1;
		X509_CRL_free(crl);
		/* The import parsed it; a row that does not parse now is damage. */
		KG_ENSURE_OUT(ok, KG_ERR_DB_QUERY);
	}
	n = BIO_get_mem_data(bio, &data);
	if (n > 0) {
		KG_ENSURE_OUT((*pem = malloc((size_t)n)) != NULL, KG_ERR_NOMEM);
		memcpy(*pem, data, (size_t)n);
		*len = (size_t)n;
	}
out:
	BIO_free(bio);
	PQclear(r);
	return rc;
}

kg_err kg_store_collateral(struct kg_store *s, kg_err (*load)(struct pg_conn *, void *), void *arg)
{
	unsigned slot;
	kg_err rc;

	KG_TRY(acquire(s, &slot));
	rc = load(s->conns[slot], arg);
	release_conn(s, slot);
	return rc;
}

/* The newest document of each TDX kind (one platform type per broker:
 * the TCB info is that of one FMSPC).  bufs/lens indexed as enum
 * kg_tdx_coll_item; absent ones stay NULL. */
kg_err kg_collateral_tdx(struct pg_conn *c, uint8_t *bufs[static KG_TDX_COLL_N], size_t lens[static KG_TDX_COLL_N])
{
	static const char *const kinds[KG_TDX_COLL_N] = {"tdx_tcb_info", "tdx_qe_identity", "tdx_tcb_signing_chain",
							 "tdx_root_crl", "tdx_pck_crl"};
	PGresult *r;
	kg_err rc = KG_OK;

	for (int i = 0; i < KG_TDX_COLL_N; i++) {
		bufs[i] = NULL;
		lens[i] = 0;
	}
	r = PQexecParams(c,
			 "SELECT DISTINCT ON (kind) kind, body FROM collateral WHERE kind LIKE 'tdx\\_%'"
			 " ORDER BY kind, this_update DESC, collateral_id DESC",
			 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		kg_log(KG_LOG_ERROR, "db_query_failed", "query", "tdx_collateral", "error", PQresultErrorMessage(r),
		       NULL);
		PQclear(r);
		return KG_ERR_DB_QUERY;
	}
	for (int row = 0; row < PQntuples(r); row++)
		for (int i = 0; i < KG_TDX_COLL_N; i++) {
			size_t n = (size_t)PQgetlength(r, row, 1);
			if (strcmp(PQgetvalue(r, row, 0), kinds[i]) != 0)
				continue;
			KG_ENSURE_OUT((bufs[i] = malloc(n ? n : 1)) != NULL, KG_ERR_NOMEM);
			memcpy(bufs[i], PQgetvalue(r, row, 1), n);
			lens[i] = n;
		}
out:
	PQclear(r);
	if (rc != KG_OK)
		for (int i = 0; i < KG_TDX_COLL_N; i++) {
			free(bufs[i]);
			bufs[i] = NULL;
		}
	return rc;
}

/* Runs sql (no parameters, one bytea column, binary) and returns every
 * row's bytes: *docs and *lens malloc'd, each element too. */
static kg_err load_bodies(PGconn *c, const char *sql, const char *what, uint8_t ***docs, size_t **lens, size_t *n)
{
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	kg_err rc = KG_OK;
	int rows;

	*docs = NULL;
	*lens = NULL;
	*n = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		kg_log(KG_LOG_ERROR, "db_query_failed", "query", what, "error", PQresultErrorMessage(r), NULL);
		PQclear(r);
		return KG_ERR_DB_QUERY;
	}
	rows = PQntuples(r);
	if (rows == 0)
		goto out;
	KG_ENSURE_OUT((*docs = calloc((size_t)rows, sizeof **docs)) != NULL &&
			      (*lens = calloc((size_t)rows, sizeof **lens)) != NULL,
		      KG_ERR_NOMEM);
	for (int i = 0; i < rows; i++) {
		size_t l = (size_t)PQgetlength(r, i, 0);
		KG_ENSURE_OUT(((*docs)[i] = malloc(l ? l : 1)) != NULL, KG_ERR_NOMEM);
		memcpy((*docs)[i], PQgetvalue(r, i, 0), l);
		(*lens)[i] = l;
		(*n)++;
	}
out:
	PQclear(r);
	if (rc != KG_OK) {
		for (size_t i = 0; *docs && i < *n; i++)
			free((*docs)[i]);
		free(*docs);
		free(*lens);
		*docs = NULL;
		*lens = NULL;
		*n = 0;
	}
	return rc;
}

/* Every imported VCEK/VLEK still in its validity (DER), for reports that
 * come without a certificate table. */
kg_err kg_collateral_snp_veks(struct pg_conn *c, uint8_t ***ders, size_t **lens, size_t *n)
{
	return load_bodies(c,
			   "SELECT body FROM collateral WHERE kind = 'snp_vcek' AND next_update > now()"
			   " ORDER BY collateral_id LIMIT 100000",
			   "snp_veks", ders, lens, n);
}

/* The newest TDX TCB info of each FMSPC (the collateral's issuer). */
kg_err kg_collateral_tdx_tcb_infos(struct pg_conn *c, uint8_t ***docs, size_t **lens, size_t *n)
{
	return load_bodies(c,
			   "SELECT DISTINCT ON (issuer) body FROM collateral WHERE kind = 'tdx_tcb_info'"
			   " ORDER BY issuer, this_update DESC, collateral_id DESC LIMIT 10000",
			   "tdx_tcb_infos", docs, lens, n);
}

/* NVIDIA's RIMs: the newest of each product, kind and version. */
static kg_err gpu_rims(PGconn *c, uint8_t ***docs, size_t **lens, size_t *n)
{
	return load_bodies(c,
			   "SELECT DISTINCT ON (issuer) body FROM collateral WHERE kind = 'nvidia_rim'"
			   " ORDER BY issuer, this_update DESC, collateral_id DESC LIMIT 10000",
			   "nvidia_rims", docs, lens, n);
}

/* NVIDIA's OCSP responses still current: the newest per certificate. */
static kg_err gpu_ocsp(PGconn *c, uint8_t ***docs, size_t **lens, size_t *n)
{
	return load_bodies(c,
			   "SELECT DISTINCT ON (issuer) body FROM collateral WHERE kind = 'nvidia_ocsp'"
			   " AND next_update > now() ORDER BY issuer, this_update DESC, collateral_id DESC LIMIT 16",
			   "nvidia_ocsp", docs, lens, n);
}

/* Hands a list of documents, as load reads them, to the verifiers. */
static kg_err apply_docs(PGconn *c, struct kg_attest *a, kg_err (*load)(PGconn *, uint8_t ***, size_t **, size_t *),
			 kg_err (*set)(struct kg_attest *, const uint8_t *const *, const size_t *, size_t))
{
	uint8_t **docs = NULL;
	size_t *lens = NULL, n = 0;
	kg_err rc;

	if ((rc = load(c, &docs, &lens, &n)) == KG_OK)
		rc = set(a, (const uint8_t *const *)docs, lens, n);
	for (size_t i = 0; i < n; i++)
		free(docs[i]);
	free(docs);
	free(lens);
	return rc;
}

/* Loads the collateral (AMD CRLs, Intel TDX documents) with conn and
 * hands it to the verifiers.  On failure the previous collateral stays in
 * force: each document's own nextUpdate bounds it. */
kg_err kg_collateral_apply(struct pg_conn *conn, struct kg_attest *attest)
{
	uint8_t *pem = NULL, *tdx[KG_TDX_COLL_N];
	size_t len = 0, tdx_len[KG_TDX_COLL_N];
	struct kg_tdx_collateral tc;
	kg_err rc;

	if ((rc = kg_collateral_snp_crls(conn, &pem, &len)) == KG_OK)
		rc = kg_attest_set_snp_crl(attest, pem, len);
	free(pem);
	KG_TRY(rc);
	KG_TRY(apply_docs(conn, attest, kg_collateral_snp_veks, kg_attest_set_snp_veks));
	KG_TRY(kg_collateral_tdx(conn, tdx, tdx_len));
	memset(&tc, 0, sizeof tc);
	tc.tcb_info = tdx[KG_TDX_COLL_TCB_INFO];
	tc.tcb_info_len = tdx_len[KG_TDX_COLL_TCB_INFO];
	tc.qe_identity = tdx[KG_TDX_COLL_QE_IDENTITY];
	tc.qe_identity_len = tdx_len[KG_TDX_COLL_QE_IDENTITY];
	tc.tcb_signing_chain = tdx[KG_TDX_COLL_SIGNING_CHAIN];
	tc.tcb_signing_chain_len = tdx_len[KG_TDX_COLL_SIGNING_CHAIN];
	tc.root_crl = tdx[KG_TDX_COLL_ROOT_CRL];
	tc.root_crl_len = tdx_len[KG_TDX_COLL_ROOT_CRL];
	tc.pck_crl = tdx[KG_TDX_COLL_PCK_CRL];
	tc.pck_crl_len = tdx_len[KG_TDX_COLL_PCK_CRL];
	rc = kg_attest_set_tdx_collateral(attest, &tc);
	for (int i = 0; i < KG_TDX_COLL_N; i++)
		free(tdx[i]);
	KG_TRY(rc);
	/* Several platform kinds: every FMSPC's newest TCB info. */
	KG_TRY(apply_docs(conn, attest, kg_collateral_tdx_tcb_infos, kg_attest_set_tdx_tcb_infos));
	KG_TRY(apply_docs(conn, attest, gpu_rims, kg_attest_set_gpu_rims));
	return apply_docs(conn, attest, gpu_ocsp, kg_attest_set_gpu_ocsp);
}
