/*
 * Sealing and verifying the audit log (auditlog.h).  The sealer has the
 * database append the queued rows (kg_audit_append(), 0016: the broker role
 * may neither read audit rows nor write the tree) and checks each returned
 * leaf against the entry returned with it before it signs; the verifier
 * computes every entry itself with the same expression, naming pg_catalog
 * explicitly so that a function planted in another schema cannot stand in
 * for it, and with the session settings it depends on.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../ledger/log.h"
#include "auditlog.h"
#include "broker.h"

#define ENTRY_SQL(row)                                                                                    \
	"pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(" row ") OPERATOR(pg_catalog.-) 'audit_id'::text)" \
	"::pg_catalog.text"

/* Every transaction here sets what the entry's text depends on. */
static const char settings_sql[] = "SET LOCAL TimeZone = 'UTC'; SET LOCAL bytea_output = 'hex';"
				   " SET LOCAL client_encoding = 'UTF8'";

/* One sealer at a time, whichever replica it runs in ("kg", "audt"). */
#define SEAL_LOCK "pg_catalog.pg_try_advisory_xact_lock(27495, 1635083380)"

static bool res_ok(PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Runs sql (no parameters, no rows wanted). */
static kg_err run(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	bool ok = res_ok(res);

	if (!ok)
		kg_log(KG_LOG_ERROR, "audit_log_query_failed", "error", PQerrorMessage(c), NULL);
	PQclear(res);
	return ok ? KG_OK : KG_ERR_DB_QUERY;
}

static PGresult *query(PGconn *c, const char *sql, int n, const char *const *v)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);

	if (!res_ok(res))
		kg_log(KG_LOG_ERROR, "audit_log_query_failed", "error", PQerrorMessage(c), NULL);
	return res;
}

static kg_err unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	KG_ENSURE(n % 2 == 0 && n / 2 <= cap, KG_ERR_DB_QUERY);
	KG_ENSURE(sodium_hex2bin(out, cap, s, n, NULL, len, NULL) == 0 && *len == n / 2, KG_ERR_DB_QUERY);
	return KG_OK;
}

/* One checkpoint row (checkpoint_id, size, root, frontier, note), if it is
 * sk's signature over its own size and root and its stored frontier gives
 * that root: then f holds that frontier and root the signed root. */
static bool checkpoint_own(PGresult *res, int row, const struct kg_ledger_skey *sk, struct kg_ledger_frontier *f,
			   uint8_t root[static 32])
{
	uint8_t buf[64 * 32], stored[32], fr_root[32];
	const char *note = PQgetvalue(res, row, 4);
	uint64_t size = strtoull(PQgetvalue(res, row, 1), NULL, 10), signed_size = 0;
	size_t len = 0, rlen = 0;

	if (kg_ledger_checkpoint_open(kg_ledger_skey_pub(sk), (const uint8_t *)note, strlen(note), &signed_size,
				      root) != KG_OK ||
	    signed_size != size)
		return false;
	if (unhex(PQgetvalue(res, row, 2), stored, 32, &rlen) != KG_OK || rlen != 32 || memcmp(stored, root, 32) != 0)
		return false;
	if (unhex(PQgetvalue(res, row, 3), buf, sizeof buf, &len) != KG_OK ||
	    kg_ledger_frontier_load(size, buf, len, f) != KG_OK)
		return false;
	kg_ledger_frontier_root(f, fr_root);
	return memcmp(fr_root, root, 32) == 0;
}

/* Moves mark to the newest checkpoint that is sk's own (checkpoint_own),
 * looking only at those stored since the last look (checkpoint_id above
 * mark->seen, up to top) and not behind mark, newest first, down to the
 * first that is sk's own.  So each checkpoint is examined once per
 * process: junk checkpoints (a broker credential can store any number of
 * the current size, 0017) cost their signature check once, not on every
 * sealing.  *skipped counts those passed over.  *why is set when sk
 * signed a different tree of mark's size. */
static kg_err newest_own_checkpoint(PGconn *c, const struct kg_ledger_skey *sk, struct kg_auditlog_mark *mark,
				    int64_t top, uint64_t *skipped, const char **why)
{
	char seen[24], upto[24], from[24], below_size[24] = "9223372036854775807", below_id[24] = "9223372036854775807";
	PGresult *res = NULL;
	int rows;
	kg_err rc = KG_ERR_DB_QUERY;

	*skipped = 0;
	snprintf(seen, sizeof seen, "%" PRId64, mark->seen);
	snprintf(upto, sizeof upto, "%" PRId64, top);
	snprintf(from, sizeof from, "%" PRIu64, mark->f.size);
	do {
		PQclear(res);
		res = query(c,
			    "SELECT checkpoint_id, size, pg_catalog.encode(root, 'hex'),"
			    "       pg_catalog.encode(frontier, 'hex'), note FROM public.audit_checkpoints"
			    " WHERE checkpoint_id > $1::bigint AND checkpoint_id <= $2::bigint AND size >= $3::bigint"
			    "   AND (size, checkpoint_id) < ($4::bigint, $5::bigint)"
			    " ORDER BY size DESC, checkpoint_id DESC LIMIT 64",
			    5, (const char *[]){seen, upto, from, below_size, below_id});
		KG_ENSURE_OUT(res_ok(res), KG_ERR_DB_QUERY);
		rows = PQntuples(res);
		for (int i = 0; i < rows; i++) {
			struct kg_ledger_frontier f;
			uint8_t root[32];

			if (!checkpoint_own(res, i, sk, &f, root)) {
				(*skipped)++;
				snprintf(below_size, sizeof below_size, "%s", PQgetvalue(res, i, 1));
				snprintf(below_id, sizeof below_id, "%s", PQgetvalue(res, i, 0));
				continue;
			}
			if (f.size == mark->f.size && mark->checkpoint_id != 0 && memcmp(root, mark->root, 32) != 0) {
				*why = "this key signed two different trees of the same size";
				rc = KG_OK;
				goto out;
			}
			mark->f = f;
			memcpy(mark->root, root, 32);
			mark->checkpoint_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			goto found;
		}
	} while (rows == 64);
found:
	/* Whatever lies below the one found is older than it. */
	mark->seen = top;
	rc = KG_OK;
out:
	PQclear(res);
	return rc;
}

/* Appends the leaves in res (seq, leaf hash, entry) to f, each recomputed
 * from its entry: NULL when they all continue f and are the hashes of
 * their entries, or why not. */
static const char *extend(PGresult *res, struct kg_ledger_frontier *f)
{
	for (int i = 0; i < PQntuples(res); i++) {
		uint8_t leaf[32], stored[32];
		size_t len = 0;

		if (strtoull(PQgetvalue(res, i, 0), NULL, 10) != f->size)
			return "tree positions after the last checkpoint are missing or malformed";
		if (PQgetisnull(res, i, 2))
			return "a row stored in the tree after the last checkpoint is gone";
		kg_ledger_leaf_hash((const uint8_t *)PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), leaf);
		if (unhex(PQgetvalue(res, i, 1), stored, 32, &len) != KG_OK || len != 32 || memcmp(leaf, stored, 32) != 0)
			return "a stored leaf is not the hash of its row's entry as this sealer computes it";
		kg_ledger_frontier_append(f, leaf);
	}
	return NULL;
}

#define ENTRIES_BATCH 2000

/* The tree state to continue from, in f: the newest checkpoint this key
 * signed (newest_own_checkpoint, kept in *mark), extended by the leaves
 * stored after it, each recomputed from its row (kg_audit_entries(),
 * 0017): kg_audit_append() may have been called by someone else.  Refuses
 * (the sealer never signs on top of a history someone rewrote or cut
 * short) when a checkpoint covers more leaves than the tree holds, when
 * positions or rows are missing, when a leaf is not its row's, or when the
 * tree is smaller than, or differs from, what this sealer signed or saw
 * before (*mark, whose checkpoint must still be stored as it was). */
static kg_err load_frontier(PGconn *c, const struct kg_ledger_skey *sk, struct kg_auditlog_mark *mark,
			    struct kg_ledger_frontier *f)
{
	PGresult *res = query(c,
			      "SELECT (SELECT COALESCE(max(seq) + 1, 0) FROM public.audit_tree),"
			      "       (SELECT COALESCE(max(size), 0) FROM public.audit_checkpoints),"
			      "       (SELECT COALESCE(max(checkpoint_id), 0) FROM public.audit_checkpoints)",
			      0, NULL);
	uint64_t leaves, newest, skipped = 0;
	int64_t top;
	const char *why = NULL;
	kg_err rc = KG_ERR_DB_QUERY;

	memset(f, 0, sizeof *f);
	if (!res_ok(res) || PQntuples(res) != 1)
		goto out;
	leaves = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	newest = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	top = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	res = NULL;
	if (newest > leaves)
		why = "a checkpoint covers more leaves than the tree holds";
	else if (leaves < mark->f.size)
		why = "the tree is smaller than, or differs from, one this sealer signed or saw";
	if (!why && mark->checkpoint_id != 0) {
		/* The checkpoint the mark came from, as it was read or stored. */
		char id[24], size[24], root[65], fr[2 * 64 * 32 + 1];
		snprintf(id, sizeof id, "%" PRId64, mark->checkpoint_id);
		snprintf(size, sizeof size, "%" PRIu64, mark->f.size);
		kg_hex(root, mark->root, 32);
		kg_hex(fr, (const uint8_t *)mark->f.h, 32 * mark->f.n);
		res = query(c,
			    "SELECT count(*) FROM public.audit_checkpoints WHERE checkpoint_id = $1::bigint"
			    " AND size = $2::bigint AND root = pg_catalog.decode($3, 'hex')"
			    " AND frontier = pg_catalog.decode($4, 'hex')",
			    4, (const char *[]){id, size, root, fr});
		KG_ENSURE_OUT(res_ok(res) && PQntuples(res) == 1, KG_ERR_DB_QUERY);
		if (strcmp(PQgetvalue(res, 0, 0), "1") != 0)
			why = "the tree is smaller than, or differs from, one this sealer signed or saw";
		PQclear(res);
		res = NULL;
	}
	if (!why)
		KG_TRY_OUT(newest_own_checkpoint(c, sk, mark, top, &skipped, &why));
	if (!why && skipped > 0) {
		char n[24];
		snprintf(n, sizeof n, "%" PRIu64, skipped);
		kg_log(KG_LOG_WARN, "audit_checkpoint_not_own", "skipped", n, "detail",
		       "checkpoints not signed by this key were passed over; audit verify names them", NULL);
	}
	*f = mark->f;
	while (!why && f->size < leaves) {
		char from[24], n[24];
		snprintf(from, sizeof from, "%" PRIu64, f->size);
		snprintf(n, sizeof n, "%d", ENTRIES_BATCH);
		res = query(c,
			    "SELECT seq, pg_catalog.encode(leaf_hash, 'hex'), entry"
			    "  FROM public.kg_audit_entries($1::bigint, $2::bigint)",
			    2, (const char *[]){from, n});
		KG_ENSURE_OUT(res_ok(res), KG_ERR_DB_QUERY);
		if (PQntuples(res) == 0)
			why = "tree positions after the last checkpoint are missing or malformed";
		else
			why = extend(res, f);
		PQclear(res);
		res = NULL;
	}
	if (!why && f->size != leaves)
		why = "tree positions after the last checkpoint are missing or malformed";
	if (why) {
		/* `keygate audit verify` names the rows; sealing stops here. */
		kg_log(KG_LOG_ERROR, "audit_log_inconsistent", "detail", why, NULL);
		rc = KG_ERR_DB_QUERY;
		goto out;
	}
	rc = KG_OK;
out:
	PQclear(res);
	return rc;
}

kg_err kg_auditlog_seal(PGconn *c, const struct kg_ledger_skey *sk, struct kg_auditlog_mark *mark, const char *replica,
			size_t max, uint64_t *sealed, uint64_t *size)
{
	struct kg_ledger_frontier f;
	PGresult *res = NULL;
	char maxs[24], hex[2 * 64 * 32 + 1], root_hex[65], note[1024], size_s[24];
	const char *why;
	uint8_t root[32];
	size_t note_len;
	int64_t id;
	int rows = 0;
	bool committed = false;
	kg_err rc = KG_ERR_DB_QUERY;

	*sealed = *size = 0;
	KG_ENSURE(max > 0, KG_ERR_INVALID_ARG);
	/* READ COMMITTED whatever the database's default: the tree's size and
	 * checkpoints are read after the lock is granted (0017 refuses the
	 * other levels). */
	KG_TRY(run(c, "BEGIN ISOLATION LEVEL READ COMMITTED"));
	KG_TRY_OUT(run(c, settings_sql));
	res = query(c, "SELECT " SEAL_LOCK, 0, NULL);
	KG_ENSURE_OUT(res_ok(res) && PQntuples(res) == 1, KG_ERR_DB_QUERY);
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		rc = KG_OK; /* another replica is sealing */
		goto out;
	}
	PQclear(res);
	res = NULL;
	KG_TRY_OUT(load_frontier(c, sk, mark, &f));

	/* The database appends the rows and computes their leaves (0016); the
	 * sealer signs only leaves it computes the same from the same entries,
	 * at the positions that continue its frontier. */
	snprintf(maxs, sizeof maxs, "%zu", max);
	res = query(c,
		    "SELECT seq, pg_catalog.encode(leaf_hash, 'hex'), entry FROM public.kg_audit_append($1::bigint)",
		    1, (const char *[]){maxs});
	KG_ENSURE_OUT(res_ok(res), KG_ERR_DB_QUERY);
	rows = PQntuples(res);
	if ((why = extend(res, &f)) != NULL) {
		kg_log(KG_LOG_ERROR, "audit_log_inconsistent", "detail", why, "by", "kg_audit_append()", NULL);
		goto out;
	}
	PQclear(res);
	res = NULL;
	/* Sign whenever no checkpoint of this key covers the tree: checkpoints
	 * of other keys (or none) at this size do not count. */
	assert(f.size >= mark->f.size);
	if (f.size == mark->f.size) {
		rc = KG_OK; /* nothing new to sign */
		goto out;
	}

	kg_ledger_frontier_root(&f, root);
	KG_TRY_OUT(kg_ledger_checkpoint_sign(sk, f.size, root, note, sizeof note, &note_len));
	kg_hex(root_hex, root, 32);
	kg_hex(hex, (const uint8_t *)f.h, 32 * f.n);
	snprintf(size_s, sizeof size_s, "%" PRIu64, f.size);
	res = query(c,
		    "SELECT public.kg_audit_checkpoint($1::bigint, pg_catalog.decode($2, 'hex'),"
		    " pg_catalog.decode($3, 'hex'), $4, $5)",
		    5, (const char *[]){size_s, root_hex, hex, note, replica});
	KG_ENSURE_OUT(res_ok(res) && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0), KG_ERR_DB_QUERY);
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	KG_TRY_OUT(run(c, "COMMIT"));
	committed = true;
	*sealed = (uint64_t)rows;
	*size = f.size;
	mark->f = f;
	memcpy(mark->root, root, 32);
	mark->checkpoint_id = id;
	/* Under the lock nobody stored a checkpoint since the last look. */
	if (id > mark->seen)
		mark->seen = id;
	rc = KG_OK;
out:
	PQclear(res);
	if (!committed)
		(void)run(c, "ROLLBACK");
	return rc;
}

/* ---- the sealer thread ---- */

struct kg_sealer {
	pthread_t thread;
	int wake[2];
	char *dsn, *replica;
	struct kg_ledger_skey *sk;
	struct kg_auditlog_mark mark; /* the largest tree this process signed or saw */
	unsigned interval_ms;
};

#define SEAL_BATCH 5000

static void *sealer_main(void *arg)
{
	struct kg_sealer *s = arg;
	PGconn *c = NULL;

	for (;;) {
		struct pollfd p = {s->wake[0], POLLIN, 0};
		uint64_t sealed, size;

		if (poll(&p, 1, (int)s->interval_ms) > 0)
			break;
		if (!c || PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			if (!(c = kg_pg_connect(s->dsn)) || PQstatus(c) != CONNECTION_OK)
				continue; /* the release path reports the database */
		}
		/* A backlog is worked off in batches, one transaction each. */
		do {
			if (kg_auditlog_seal(c, s->sk, &s->mark, s->replica, SEAL_BATCH, &sealed, &size) != KG_OK) {
				kg_log(KG_LOG_ERROR, "audit_seal_failed", NULL);
				break;
			}
			if (sealed > 0) {
				char n[24], sz[24];
				snprintf(n, sizeof n, "%" PRIu64, sealed);
				snprintf(sz, sizeof sz, "%" PRIu64, size);
				kg_log(KG_LOG_DEBUG, "audit_sealed", "rows", n, "size", sz, NULL);
			}
		} while (sealed == SEAL_BATCH);
	}
	PQfinish(c);
	return NULL;
}

kg_err kg_sealer_start(struct kg_sealer **out, const char *dsn, const char *key_file, const char *replica,
		       unsigned interval_ms)
{
	struct kg_sealer *s;
	kg_err rc;

	*out = NULL;
	KG_ENSURE((s = calloc(1, sizeof *s)) != NULL, KG_ERR_NOMEM);
	s->wake[0] = s->wake[1] = -1;
	s->interval_ms = interval_ms;
	if ((rc = kg_ledger_skey_read(key_file, &s->sk)) != KG_OK)
		goto fail;
	rc = KG_ERR_CONFIG;
	if (kg_ledger_skey_pub(s->sk)->type != KG_LEDGER_SIG_ED25519)
		goto fail;
	rc = KG_ERR_NOMEM;
	if (!(s->dsn = strdup(dsn)) || !(s->replica = strdup(replica)) || pipe(s->wake) != 0)
		goto fail;
	rc = KG_ERR_INTERNAL;
	if (pthread_create(&s->thread, NULL, sealer_main, s) != 0)
		goto fail;
	*out = s;
	return KG_OK;
fail:
	close(s->wake[0]);
	close(s->wake[1]);
	kg_ledger_skey_free(s->sk);
	free(s->dsn);
	free(s->replica);
	free(s);
	return rc;
}

void kg_sealer_stop(struct kg_sealer *s)
{
	ssize_t w;

	if (!s)
		return;
	w = write(s->wake[1], "x", 1);
	(void)w;
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	kg_ledger_skey_free(s->sk);
	free(s->dsn);
	free(s->replica);
	free(s);
}

/* ---- verification ---- */

const char *kg_auditlog_problem_name(enum kg_auditlog_problem p)
{
	static const char *const names[] = {"ok",	 "changed",   "reordered", "removed", "unsealed",
					    "tree",	 "signature", "uncovered", "pinned"};

	return (size_t)p < sizeof names / sizeof names[0] ? names[p] : "unknown";
}

__attribute__((format(printf, 5, 6))) static void problem(struct kg_auditlog_report *r,
							    enum kg_auditlog_problem p, int64_t audit_id,
							    int64_t position, const char *fmt, ...)
{
	va_list ap;

	r->by_kind[p]++;
	if (r->problems++ > 0)
		return;
	r->first = p;
	r->first_audit_id = audit_id;
	r->first_position = position;
	va_start(ap, fmt);
	vsnprintf(r->first_text, sizeof r->first_text, fmt, ap);
	va_end(ap);
}

/* The checkpoints, read alongside the tree in size order. */
struct cp_stream {
	PGconn *c;
	PGresult *res;
	int row, rows;
	bool done;
};

static kg_err cp_next(struct cp_stream *s, bool *have)
{
	if (s->res && s->row + 1 < s->rows) {
		s->row++;
		*have = true;
		return KG_OK;
	}
	PQclear(s->res);
	s->res = NULL;
	*have = false;
	if (s->done)
		return KG_OK;
	s->res = query(s->c, "FETCH 1000 FROM kg_cp", 0, NULL);
	KG_ENSURE(res_ok(s->res), KG_ERR_DB_QUERY);
	s->rows = PQntuples(s->res);
	s->row = 0;
	s->done = s->rows < 1000;
	*have = s->rows > 0;
	return KG_OK;
}

/* Checks the checkpoint under s against the tree of f's leaves: true when
 * it is the audit key's signature over that tree. */
static bool check_checkpoint(struct cp_stream *s, const struct kg_ledger_key *key, const struct kg_ledger_frontier *f,
			     struct kg_auditlog_report *r)
{
	const char *note = PQgetvalue(s->res, s->row, 3), *id = PQgetvalue(s->res, s->row, 4);
	uint8_t root[32], stored_root[32], note_root[32], fr[64 * 32];
	size_t len, frlen;
	uint64_t size = f->size, note_size;

	r->checkpoints++;
	kg_ledger_frontier_root(f, root);
	if (unhex(PQgetvalue(s->res, s->row, 1), stored_root, 32, &len) != KG_OK || len != 32 ||
	    unhex(PQgetvalue(s->res, s->row, 2), fr, sizeof fr, &frlen) != KG_OK) {
		problem(r, KG_AUDIT_TREE, -1, (int64_t)size, "the checkpoint of size %" PRIu64 " (checkpoint %s) is malformed",
			size, id);
		return false;
	}
	if (kg_ledger_checkpoint_open(key, (const uint8_t *)note, strlen(note), &note_size, note_root) != KG_OK ||
	    note_size != size || memcmp(note_root, stored_root, 32) != 0) {
		problem(r, KG_AUDIT_SIGNATURE, -1, (int64_t)size,
			"the checkpoint of size %" PRIu64 " (checkpoint %s) is not signed by the audit key, or its "
			"note differs",
			size, id);
		return false;
	}
	if (memcmp(root, stored_root, 32) != 0 || frlen != 32 * f->n || memcmp(fr, f->h, frlen) != 0) {
		problem(r, KG_AUDIT_TREE, -1, (int64_t)size,
			"the signed checkpoint of size %" PRIu64 " (checkpoint %s) does not match the stored leaves: "
			"a row before position %" PRIu64 " was rewritten together with its leaf hash, or leaves were "
			"removed",
			size, id, size);
		return false;
	}
	return true;
}

/* A changed leaf that equals another position's: the row moved. */
static void changed_or_moved(PGconn *c, int64_t id, uint64_t pos, const uint8_t leaf[static 32],
			     struct kg_auditlog_report *r)
{
	char hex[65];
	PGresult *res;

	kg_hex(hex, leaf, 32);
	res = query(c,
		    "SELECT seq, audit_id FROM public.audit_log_tree WHERE leaf_hash = pg_catalog.decode($1, 'hex')"
		    " ORDER BY seq LIMIT 1",
		    1, (const char *[]){hex});
	if (res_ok(res) && PQntuples(res) == 1)
		problem(r, KG_AUDIT_REORDERED, id, (int64_t)pos,
			"audit row %" PRId64 " (position %" PRIu64 ") holds the row sealed at position %s (audit "
			"row %s): rows were reordered",
			id, pos, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	else
		problem(r, KG_AUDIT_CHANGED, id, (int64_t)pos,
			"audit row %" PRId64 " (position %" PRIu64 ") was changed after it was sealed", id, pos);
	PQclear(res);
}

static kg_err walk_tree(PGconn *c, const struct kg_ledger_key *key, const uint8_t *pin_root, uint64_t pin_size,
			struct kg_auditlog_report *r)
{
	struct kg_ledger_frontier f;
	struct cp_stream cps = {.c = c};
	PGresult *res = NULL;
	bool have_cp, done = false;
	uint64_t pos = 0;
	kg_err rc = KG_ERR_DB_QUERY;

	memset(&f, 0, sizeof f);
	/* A size may have several checkpoints (0017): each is checked. */
	KG_TRY_OUT(run(c, "DECLARE kg_cp NO SCROLL CURSOR FOR SELECT size, pg_catalog.encode(root, 'hex'),"
			  " pg_catalog.encode(frontier, 'hex'), note, checkpoint_id FROM public.audit_log_checkpoints"
			  " ORDER BY size, checkpoint_id"));
	KG_TRY_OUT(run(c, "DECLARE kg_tree NO SCROLL CURSOR FOR SELECT t.seq, t.audit_id,"
			  " pg_catalog.encode(t.leaf_hash, 'hex'), l.audit_id IS NOT NULL, " ENTRY_SQL("l")
			  " FROM public.audit_log_tree t LEFT JOIN public.audit_log l ON l.audit_id = t.audit_id"
			  " ORDER BY t.seq"));
	KG_TRY_OUT(cp_next(&cps, &have_cp));
	while (!done) {
		PQclear(res);
		res = query(c, "FETCH 5000 FROM kg_tree", 0, NULL);
		KG_ENSURE_OUT(res_ok(res), KG_ERR_DB_QUERY);
		done = PQntuples(res) < 5000;
		for (int i = 0; i < PQntuples(res); i++, pos++) {
			int64_t seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			int64_t id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
			uint8_t stored[32], leaf[32];
			size_t len;

			if (seq != (int64_t)pos) {
				problem(r, KG_AUDIT_REMOVED, -1, (int64_t)pos,
					"tree position %" PRIu64 " is missing: the row sealed there was removed", pos);
				pos = (uint64_t)seq;
			}
			if (unhex(PQgetvalue(res, i, 2), stored, 32, &len) != KG_OK || len != 32)
				memset(stored, 0, 32);
			if (strcmp(PQgetvalue(res, i, 3), "t") != 0) {
				problem(r, KG_AUDIT_REMOVED, id, (int64_t)pos,
					"audit row %" PRId64 " (position %" PRIu64 ") was removed after it was sealed", id,
					pos);
			} else {
				kg_ledger_leaf_hash((const uint8_t *)PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4),
						    leaf);
				if (memcmp(leaf, stored, 32) != 0)
					changed_or_moved(c, id, pos, leaf, r);
			}
			/* The rows are checked against the stored leaves; the
			 * leaves against the signed roots. */
			kg_ledger_frontier_append(&f, stored);
			r->sealed++;
			while (have_cp && strtoull(PQgetvalue(cps.res, cps.row, 0), NULL, 10) <= f.size) {
				if (strtoull(PQgetvalue(cps.res, cps.row, 0), NULL, 10) == f.size &&
				    check_checkpoint(&cps, key, &f, r))
					r->signed_size = f.size;
				KG_TRY_OUT(cp_next(&cps, &have_cp));
			}
			if (pin_size == f.size) {
				uint8_t root[32];
				kg_ledger_frontier_root(&f, root);
				if (memcmp(root, pin_root, 32) != 0)
					problem(r, KG_AUDIT_PINNED, -1, (int64_t)pin_size,
						"the tree at size %" PRIu64 " differs from the checkpoint kept outside "
						"the database: history was rewritten",
						pin_size);
			}
		}
	}
	r->size = f.size;
	if (have_cp)
		problem(r, KG_AUDIT_REMOVED, -1, (int64_t)f.size,
			"a checkpoint of size %s covers positions the tree no longer has: sealed rows were removed "
			"from the end",
			PQgetvalue(cps.res, cps.row, 0));
	while (have_cp) {
		r->checkpoints++;
		KG_TRY_OUT(cp_next(&cps, &have_cp));
	}
	if (pin_size > f.size)
		problem(r, KG_AUDIT_PINNED, -1, (int64_t)f.size,
			"the tree has %" PRIu64 " positions but a checkpoint kept outside the database has %" PRIu64
			": sealed rows and their checkpoints were removed",
			f.size, pin_size);
	rc = KG_OK;
out:
	PQclear(res);
	PQclear(cps.res);
	return rc;
}

kg_err kg_auditlog_verify(PGconn *c, const struct kg_ledger_key *key, const uint8_t *pinned, size_t pinned_len,
			  struct kg_auditlog_report *r)
{
	uint8_t pin_root[32];
	uint64_t pin_size = 0;
	PGresult *res = NULL;
	kg_err rc = KG_ERR_DB_QUERY;

	memset(r, 0, sizeof *r);
	r->first_audit_id = r->first_position = -1;
	if (pinned)
		KG_TRY(kg_ledger_checkpoint_open(key, pinned, pinned_len, &pin_size, pin_root));
	/* One snapshot for the tree, the checkpoints, the rows and the queue. */
	KG_TRY(run(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
	KG_TRY_OUT(run(c, settings_sql));
	/* Every view lists every column of its table (a migration that adds
	 * one re-creates the view). */
	res = query(c,
		    "SELECT bool_and((SELECT pg_catalog.array_agg(attname::text ORDER BY attname)"
		    "                   FROM pg_catalog.pg_attribute"
		    "                  WHERE attrelid = ('public.' || v.tab)::regclass AND attnum > 0"
		    "                    AND NOT attisdropped)"
		    "                 IS NOT DISTINCT FROM"
		    "                 (SELECT pg_catalog.array_agg(attname::text ORDER BY attname)"
		    "                   FROM pg_catalog.pg_attribute"
		    "                  WHERE attrelid = ('public.' || v.name)::regclass AND attnum > 0"
		    "                    AND NOT attisdropped))"
		    "  FROM (VALUES ('audit_log', 'audit'), ('audit_log_tree', 'audit_tree'),"
		    "               ('audit_log_checkpoints', 'audit_checkpoints'), ('audit_log_queue', 'audit_queue'))"
		    "       AS v(name, tab)",
		    0, NULL);
	KG_ENSURE_OUT(res_ok(res) && PQntuples(res) == 1, KG_ERR_DB_QUERY);
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		kg_log(KG_LOG_ERROR, "audit_log_view_stale", "detail",
		       "an audit_log* view does not list every column of its table; re-create it", NULL);
		rc = KG_ERR_CONFIG;
		goto out;
	}
	PQclear(res);
	/* The views read must be plain projections of their tables: a view
	 * redefined to show saved originals would hide what the tables hold. */
	res = query(c,
		    "SELECT bool_and(pg_catalog.pg_get_viewdef(('public.' || v.name)::regclass) ~"
		    "                ('^\\s*SELECT (' || v.tab || '\\.[a-z_0-9]+,\\s*)*' || v.tab || '\\.[a-z_0-9]+\\s+FROM '"
		    "                 || v.tab || ';?\\s*$'))"
		    "  FROM (VALUES ('audit_log', 'audit'), ('audit_log_tree', 'audit_tree'),"
		    "               ('audit_log_checkpoints', 'audit_checkpoints'), ('audit_log_queue', 'audit_queue'))"
		    "       AS v(name, tab)",
		    0, NULL);
	if (!res_ok(res) || PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		kg_log(KG_LOG_ERROR, "audit_log_view_altered", "detail",
		       "an audit_log* view is not a plain projection of its table", NULL);
		rc = KG_ERR_CONFIG;
		goto out;
	}
	PQclear(res);
	res = query(c,
		    "SELECT (SELECT count(*) FROM public.audit_log), (SELECT count(*) FROM public.audit_log),"
		    " (SELECT count(*) FROM public.audit_log_queue),"
		    " (SELECT COALESCE(extract(epoch FROM pg_catalog.clock_timestamp() - min(queued_at)), 0)"
		    "    FROM public.audit_log_queue)",
		    0, NULL);
	KG_ENSURE_OUT(res_ok(res) && PQntuples(res) == 1, KG_ERR_DB_QUERY);
	r->rows = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	r->queued = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	r->oldest_queued_s = strtod(PQgetvalue(res, 0, 3), NULL);
	PQclear(res);
	res = NULL;

	KG_TRY_OUT(walk_tree(c, key, pin_root, pin_size, r));
	/* Covered means by a checkpoint that verified: one that did not is a
	 * problem of its own, and must not make the rows after the last good
	 * one look signed. */
	if (r->signed_size < r->size)
		problem(r, KG_AUDIT_UNCOVERED, -1, (int64_t)r->signed_size,
			"tree positions %" PRIu64 " to %" PRIu64 " are not covered by a signed checkpoint",
			r->signed_size, r->size - 1);

	/* Rows that skipped the queue were written with its trigger off. */
	res = query(c,
		    "SELECT count(*), min(audit_id) FROM public.audit_log l"
		    " WHERE NOT EXISTS (SELECT 1 FROM public.audit_log_tree t WHERE t.audit_id = l.audit_id)"
		    "   AND NOT EXISTS (SELECT 1 FROM public.audit_log_queue q WHERE q.audit_id = l.audit_id)",
		    0, NULL);
	KG_ENSURE_OUT(res_ok(res) && PQntuples(res) == 1, KG_ERR_DB_QUERY);
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
		int64_t id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		problem(r, KG_AUDIT_UNSEALED, id, -1,
			"audit row %" PRId64 " is neither sealed nor queued (%s such rows): written around the queue "
			"trigger",
			id, PQgetvalue(res, 0, 0));
	}
	rc = KG_OK;
out:
	PQclear(res);
	(void)run(c, "ROLLBACK");
	return rc;
}
