/*
 * The policy cache: keys with their policies, as loaded by one query,
 * kept in memory so that a release needs no database round trip before
 * its audit INSERT.  A dedicated connection LISTENs on 'keygate_policy'
 * (NOTIFYed by triggers on keys, key_versions and policies); every
 * notification empties the cache.  Without a live LISTEN connection
 * nothing is cached, so a change can never be missed; a generation counter
 * keeps a load that raced with an invalidation out of the cache; entries
 * also expire after a TTL as a second line of defence.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"

struct entry {
	char key_id[65];
	enum kg_tee tee;
	struct timespec loaded;
	struct kg_key_record rec;
};

struct kg_cache {
	pthread_mutex_t lock;
	char *dsn;
	unsigned ttl_ms;
	size_t max;
	struct entry *entries;
	size_t n;
	uint64_t gen;
	bool listening;
	/* statistics */
	unsigned long hits, misses, invalidations;
	/* listener thread */
	pthread_t thread;
	bool started;
	int wake[2];
	kg_cache_changed_fn changed;
	void *changed_arg;
};

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static void *dup_list(const void *p, size_t n, size_t stride, bool *ok)
{
	void *q;

	if (!p || n == 0)
		return NULL;
	if ((q = malloc(n * stride)) == NULL) {
		*ok = false;
		return NULL;
	}
	memcpy(q, p, n * stride);
	return q;
}

/* Deep copy; on failure dst is freed and false returned. */
static bool record_copy(struct kg_key_record *dst, const struct kg_key_record *src)
{
	bool ok = true;

	*dst = *src;
	dst->policies = NULL;
	dst->n_policies = 0;
	dst->ledgers = NULL;
	dst->n_ledgers = 0;
	if (src->n_ledgers) {
		if ((dst->ledgers = calloc(src->n_ledgers, sizeof *dst->ledgers)) == NULL) {
			kg_key_record_free(dst);
			return false;
		}
		dst->n_ledgers = src->n_ledgers;
		for (size_t i = 0; i < src->n_ledgers; i++) {
			dst->ledgers[i] = src->ledgers[i];
			dst->ledgers[i].revoked = dup_list(src->ledgers[i].revoked, src->ledgers[i].n_revoked,
							   sizeof *src->ledgers[i].revoked, &ok);
		}
	}
	if (src->n_policies) {
		if ((dst->policies = calloc(src->n_policies, sizeof *dst->policies)) == NULL) {
			kg_key_record_free(dst);
			return false;
		}
		dst->n_policies = src->n_policies;
		for (size_t i = 0; i < src->n_policies; i++) {
			const struct kg_policy *s = &src->policies[i];
			struct kg_policy *d = &dst->policies[i];
			*d = *s;
			d->measurements = dup_list(s->measurements, s->n_measurements, sizeof *s->measurements, &ok);
			d->id_key_digests =
				dup_list(s->id_key_digests, s->n_id_key_digests, sizeof *s->id_key_digests, &ok);
			d->author_key_digests = dup_list(s->author_key_digests, s->n_author_key_digests,
							 sizeof *s->author_key_digests, &ok);
			for (int j = 0; j < 4; j++)
				d->rtmr[j] = dup_list(s->rtmr[j], s->n_rtmr[j], sizeof *s->rtmr[j], &ok);
		}
	}
	if (!ok)
		kg_key_record_free(dst);
	return ok;
}

/* Called with the lock held. */
static void drop_all(struct kg_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		kg_key_record_free(&c->entries[i].rec);
	c->n = 0;
}

/* Called with the lock held: loads in flight must not be cached either. */
static void clear(struct kg_cache *c)
{
	drop_all(c);
	c->gen++;
}

static void invalidate(struct kg_cache *c, bool listening)
{
	pthread_mutex_lock(&c->lock);
	clear(c);
	c->invalidations++;
	c->listening = listening;
	pthread_mutex_unlock(&c->lock);
}

/* Waits up to ms for the wake pipe; true when asked to stop. */
static bool sleep_or_stop(struct kg_cache *c, int ms)
{
	struct pollfd p = {c->wake[0], POLLIN, 0};

	return poll(&p, 1, ms) > 0;
}

static void *listener(void *arg)
{
	struct kg_cache *c = arg;

	for (;;) {
		PGconn *conn = kg_pg_connect(c->dsn);
		PGresult *r;

		if (!conn || PQstatus(conn) != CONNECTION_OK) {
			kg_log(KG_LOG_WARN, "policy_listener_down", "error", conn ? PQerrorMessage(conn) : "", NULL);
			PQfinish(conn);
			if (sleep_or_stop(c, 1000))
				return NULL;
			continue;
		}
		r = PQexec(conn, "LISTEN keygate_policy");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			PQclear(r);
			PQfinish(conn);
			if (sleep_or_stop(c, 1000))
				return NULL;
			continue;
		}
		PQclear(r);
		/* Anything may have changed while no one listened. */
		invalidate(c, true);
		if (c->changed)
			c->changed(c->changed_arg, conn);
		kg_log(KG_LOG_INFO, "policy_listener_up", NULL);
		for (;;) {
			struct pollfd p[2] = {{PQsocket(conn), POLLIN, 0}, {c->wake[0], POLLIN, 0}};
			PGnotify *n;
			int rc = poll(p, 2, 5000);

			if (rc < 0 && errno != EINTR)
				break;
			if (p[1].revents) {
				invalidate(c, false);
				PQfinish(conn);
				return NULL;
			}
			if (rc == 0) {
				/* A silent peer may be gone: prove the connection lives. */
				r = PQexec(conn, "SELECT 1");
				bool alive = PQresultStatus(r) == PGRES_TUPLES_OK;
				PQclear(r);
				if (!alive)
					break;
			} else if (!PQconsumeInput(conn)) {
				break;
			}
			bool any = false;
			while ((n = PQnotifies(conn)) != NULL) {
				invalidate(c, true);
				kg_log(KG_LOG_DEBUG, "policy_changed", "table", n->extra, NULL);
				PQfreemem(n);
				any = true;
			}
			if (any && c->changed)
				c->changed(c->changed_arg, conn);
		}
		invalidate(c, false);
		kg_log(KG_LOG_WARN, "policy_listener_lost", "error", PQerrorMessage(conn), NULL);
		PQfinish(conn);
		if (sleep_or_stop(c, 200))
			return NULL;
	}
}

kg_err kg_cache_new(struct kg_cache **out, const char *dsn, unsigned ttl_ms, size_t max, kg_cache_changed_fn changed,
		    void *arg)
{
	struct kg_cache *c;

	*out = NULL;
	KG_ENSURE((c = calloc(1, sizeof *c)) != NULL, KG_ERR_NOMEM);
	c->ttl_ms = ttl_ms;
	c->max = max;
	c->changed = changed;
	c->changed_arg = arg;
	c->wake[0] = c->wake[1] = -1;
	pthread_mutex_init(&c->lock, NULL);
	if (!(c->dsn = strdup(dsn)) || !(c->entries = calloc(max, sizeof *c->entries)) || pipe(c->wake) != 0) {
		kg_cache_free(c);
		return KG_ERR_NOMEM;
	}
	if (pthread_create(&c->thread, NULL, listener, c) != 0) {
		kg_cache_free(c);
		return KG_ERR_INTERNAL;
	}
	c->started = true;
	*out = c;
	return KG_OK;
}

void kg_cache_free(struct kg_cache *c)
{
	if (!c)
		return;
	if (c->started) {
		ssize_t w = write(c->wake[1], "x", 1);
		(void)w;
		pthread_join(c->thread, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	pthread_mutex_lock(&c->lock);
	clear(c);
	pthread_mutex_unlock(&c->lock);
	free(c->entries);
	free(c->dsn);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

bool kg_cache_get(struct kg_cache *c, const char *key_id, enum kg_tee tee, struct kg_key_record *out,
		  uint64_t *gen)
{
	bool hit = false;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&c->lock);
	*gen = c->gen;
	if (c->listening && c->ttl_ms > 0)
		for (size_t i = 0; i < c->n; i++) {
			struct entry *e = &c->entries[i];
			if (e->tee != tee || strcmp(e->key_id, key_id) != 0)
				continue;
			if (elapsed_ms(&e->loaded) < c->ttl_ms)
				hit = record_copy(out, &e->rec);
			break;
		}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void kg_cache_put(struct kg_cache *c, const char *key_id, enum kg_tee tee, const struct kg_key_record *rec,
		  uint64_t gen)
{
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	/* Loaded before an invalidation, or nobody listening: do not keep. */
	if (!c->listening || c->ttl_ms == 0 || c->gen != gen || strlen(key_id) >= sizeof e->key_id)
		goto out;
	for (size_t i = 0; i < c->n; i++)
		if (c->entries[i].tee == tee && strcmp(c->entries[i].key_id, key_id) == 0) {
			kg_key_record_free(&c->entries[i].rec);
			c->entries[i] = c->entries[--c->n];
			break;
		}
	if (c->n == c->max) /* full: start over rather than track ages */
		drop_all(c);
	e = &c->entries[c->n];
	if (!record_copy(&e->rec, rec))
		goto out;
	snprintf(e->key_id, sizeof e->key_id, "%s", key_id);
	e->tee = tee;
	clock_gettime(CLOCK_MONOTONIC, &e->loaded);
	c->n++;
out:
	pthread_mutex_unlock(&c->lock);
}

void kg_cache_stats(struct kg_cache *c, struct kg_cache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	st->hits = c->hits;
	st->misses = c->misses;
	st->invalidations = c->invalidations;
	st->entries = c->n;
	st->listening = c->listening;
	pthread_mutex_unlock(&c->lock);
}
