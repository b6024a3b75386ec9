/* libmicrohttpd + GnuTLS glue: routes, bodies, peer certificates,
 * metrics.  The only file that knows about either library. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"

#define KG_PEM_MAX (256 * 1024)

static const double bucket_le[8] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1e300};

/* Per request.  The body grows as it arrives, up to KG_BODY_MAX: a
 * connection that sends nothing costs nothing. */
struct conn_ctx {
	uint8_t *body;
	size_t len, cap;
	bool too_large;
};

static enum MHD_Result send_json(struct MHD_Connection *conn, int status, char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!body) {
		body = strdup("{\"error\":\"out_of_memory\",\"message\":\"out of memory\"}");
		status = 503;
		if (!body)
			return MHD_NO;
	}
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, kg_err e)
{
	struct kg_reply rep;

	kg_reply_error(&rep, e, NULL);
	return send_json(conn, rep.status, rep.body);
}

static enum MHD_Result handle_challenge(struct kg_broker *b, struct MHD_Connection *conn)
{
	uint8_t c[KG_CHALLENGE_LEN];
	char s[sodium_base64_ENCODED_LEN(KG_CHALLENGE_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	json_t *o;
	char *body;
	kg_err e = kg_challenge_make(b->challenge_key, time(NULL), c);

	if (e != KG_OK) {
		kg_log(KG_LOG_ERROR, "challenge_failed", "error", kg_err_code(e), NULL);
		return send_error(conn, e);
	}
	sodium_bin2base64(s, sizeof s, c, sizeof c, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	atomic_fetch_add(&b->metrics.challenges, 1);
	o = json_pack("{s:s,s:i}", "challenge", s, "expires_in", (int)b->cfg->challenge_ttl);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		kg_log(KG_LOG_ERROR, "challenge_failed", "error", "out_of_memory", NULL);
	return send_json(conn, 200, body);
}

static enum MHD_Result handle_metrics(struct kg_broker *b, struct MHD_Connection *conn)
{
	size_t cap = 64 * 1024, n = 0;
	char *t = malloc(cap);
	unsigned long cum = 0;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!t)
		return MHD_NO;
#define OUT(...)                                                         \
	do {                                                             \
		int w_ = snprintf(t + n, cap - n, __VA_ARGS__);          \
		if (w_ > 0 && (size_t)w_ < cap - n)                      \
			n += (size_t)w_;                                 \
	} while (0)
	OUT("# HELP keygate_challenges_total Challenges issued.\n# TYPE keygate_challenges_total counter\n");
	OUT("keygate_challenges_total %lu\n", atomic_load(&b->metrics.challenges));
	OUT("# HELP keygate_releases_total Release decisions, by decision and reason code.\n");
	OUT("# TYPE keygate_releases_total counter\n");
	for (int g = 0; g < 2; g++)
		for (int e = 0; e < KG_ERR__COUNT; e++) {
			unsigned long v = atomic_load(&b->metrics.releases[g][e]);
			if (v)
				OUT("keygate_releases_total{decision=\"%s\",reason=\"%s\"} %lu\n", g ? "grant" : "deny",
				    kg_err_code((kg_err)e), v);
		}
	OUT("# HELP keygate_release_duration_seconds Time to answer a release, TLS handshake excluded.\n");
	OUT("# TYPE keygate_release_duration_seconds histogram\n");
	for (int i = 0; i < 8; i++) {
		cum = atomic_load(&b->metrics.release_le[i]);
		if (i < 7)
			OUT("keygate_release_duration_seconds_bucket{le=\"%g\"} %lu\n", bucket_le[i], cum);
		else
			OUT("keygate_release_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
	}
	OUT("keygate_release_duration_seconds_sum %.6f\n", (double)atomic_load(&b->metrics.release_us_sum) / 1e6);
	OUT("keygate_release_duration_seconds_count %lu\n", cum);
	{
		struct kg_cache_stats cs;
		kg_cache_stats(b->cache, &cs);
		OUT("# HELP keygate_policy_cache_hits_total Releases whose policy came from memory.\n");
		OUT("# TYPE keygate_policy_cache_hits_total counter\nkeygate_policy_cache_hits_total %lu\n", cs.hits);
		OUT("# TYPE keygate_policy_cache_misses_total counter\nkeygate_policy_cache_misses_total %lu\n",
		    cs.misses);
		OUT("# HELP keygate_policy_cache_invalidations_total NOTIFYs (and reconnections) that emptied the "
		    "cache.\n");
		OUT("# TYPE keygate_policy_cache_invalidations_total counter\n"
		    "keygate_policy_cache_invalidations_total %lu\n",
		    cs.invalidations);
		OUT("# HELP keygate_policy_cache_listening 1 while the LISTEN connection is up (else nothing is "
		    "cached).\n");
		OUT("# TYPE keygate_policy_cache_listening gauge\nkeygate_policy_cache_listening %d\n",
		    cs.listening ? 1 : 0);
	}
	OUT("# HELP keygate_denials_unrecorded_total Refusals beyond deny_rate, answered rate_limited without "
	    "an audit row.\n");
	OUT("# TYPE keygate_denials_unrecorded_total counter\nkeygate_denials_unrecorded_total %lu\n",
	    atomic_load(&b->metrics.denials_unrecorded));
	OUT("# HELP keygate_http_errors_total Requests refused before routing.\n");
	OUT("# TYPE keygate_http_errors_total counter\nkeygate_http_errors_total %lu\n",
	    atomic_load(&b->metrics.http_errors));
#undef OUT
	r = MHD_create_response_from_buffer(n, t, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(t);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* The TLS peer's leaf certificate, DER, borrowed from the GnuTLS session.
 * libmicrohttpd only asks for it; the handshake proved possession of its
 * key and everything else about it is judged by the release flow. */
static const uint8_t *peer_cert(struct MHD_Connection *conn, size_t *len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *certs;
	unsigned int n = 0;

	*len = 0;
	if (!ci || !ci->tls_session)
		return NULL;
	certs = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (!certs || n == 0)
		return NULL;
	*len = certs[0].size;
	return certs[0].data;
}

static void peer_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, cap, "unknown");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out, (socklen_t)cap);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out, (socklen_t)cap);
}

static enum MHD_Result handle_release(struct kg_broker *b, struct MHD_Connection *conn, const char *key_id,
				      struct conn_ctx *ctx)
{
	struct kg_reply rep;
	size_t cert_len;
	const uint8_t *cert = peer_cert(conn, &cert_len);
	char peer[INET6_ADDRSTRLEN];
	uint64_t t0 = kg_mono_us(), dt;

	peer_addr(conn, peer, sizeof peer);
	kg_release(b, key_id, cert, cert_len, ctx->body, ctx->len, ctx->too_large, peer, &rep);
	dt = kg_mono_us() - t0;
	atomic_fetch_add(&b->metrics.release_us_sum, dt);
	for (int i = 0; i < 8; i++)
		if ((double)dt / 1e6 <= bucket_le[i])
			atomic_fetch_add(&b->metrics.release_le[i], 1);
	return send_json(conn, rep.status, rep.body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct kg_broker *b = cls;
	struct conn_ctx *ctx = *con_cls;
	static const char prefix[] = "/v1/keys/", suffix[] = "/release";
	size_t ulen = strlen(url);

	if (!ctx) {
		/* First call for this request: headers only.  Bodies are
		 * accepted only for the release endpoint, up to KG_BODY_MAX. */
		if ((ctx = calloc(1, sizeof *ctx)) == NULL)
			return MHD_NO;
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t need = ctx->len + *upload_data_size;
		if (ctx->too_large || need > KG_BODY_MAX) {
			ctx->too_large = true;
		} else {
			if (need > ctx->cap) {
				size_t cap = ctx->cap ? ctx->cap : 1024;
				uint8_t *nb;
				while (cap < need)
					cap *= 2;
				if (cap > KG_BODY_MAX)
					cap = KG_BODY_MAX;
				if ((nb = malloc(cap)) == NULL)
					return MHD_NO;
				if (ctx->len)
					memcpy(nb, ctx->body, ctx->len);
				if (ctx->body)
					kg_wipe(ctx->body, ctx->len);
				free(ctx->body);
				ctx->body = nb;
				ctx->cap = cap;
			}
			memcpy(ctx->body + ctx->len, upload_data, *upload_data_size);
			ctx->len = need;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (strcmp(url, "/v1/challenge") == 0) {
		if (strcmp(method, "GET") != 0)
			return send_error(conn, KG_ERR_METHOD);
		return handle_challenge(b, conn);
	}
	if (strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0 && !b->cfg->metrics_listen)
		return handle_metrics(b, conn);
	if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0)
		return send_json(conn, 200, strdup("{\"status\":\"ok\"}"));
	if (ulen > sizeof prefix - 1 + sizeof suffix - 1 && strncmp(url, prefix, sizeof prefix - 1) == 0 &&
	    strcmp(url + ulen - (sizeof suffix - 1), suffix) == 0) {
		char key_id[80];
		size_t n = ulen - (sizeof prefix - 1) - (sizeof suffix - 1);
		if (strcmp(method, "POST") != 0)
			return send_error(conn, KG_ERR_METHOD);
		/* Over-long ids are passed on truncated-invalid, and are denied. */
		if (n >= sizeof key_id)
			n = sizeof key_id - 1;
		memcpy(key_id, url + sizeof prefix - 1, n);
		key_id[n] = 0;
		return handle_release(b, conn, key_id, ctx);
	}
	atomic_fetch_add(&b->metrics.http_errors, 1);
	return send_error(conn, KG_ERR_NOT_FOUND);
}

/* The metrics listener (metrics_listen): plain HTTP, for a scraper on
 * the operator's network; GET /metrics and /healthz, nothing else, and
 * never a body. */
static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *conn, const char *url,
					  const char *method, const char *version, const char *upload_data,
					  size_t *upload_data_size, void **con_cls)
{
	struct kg_broker *b = cls;

	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = conn; /* headers seen; answer on the next call */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0)
		return send_error(conn, KG_ERR_METHOD);
	if (strcmp(url, "/metrics") == 0)
		return handle_metrics(b, conn);
	if (strcmp(url, "/healthz") == 0)
		return send_json(conn, 200, strdup("{\"status\":\"ok\"}"));
	return send_error(conn, KG_ERR_NOT_FOUND);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	if (ctx) {
		if (ctx->body)
			kg_wipe(ctx->body, ctx->len);
		free(ctx->body);
		free(ctx);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	kg_log(KG_LOG_DEBUG, "http", "detail", msg, NULL);
}

static kg_err parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	size_t hl;
	long port;
	char *end;

	memset(ss, 0, sizeof *ss);
	KG_ENSURE(colon != NULL, KG_ERR_CONFIG);
	hl = (size_t)(colon - listen);
	KG_ENSURE(hl < sizeof host, KG_ERR_CONFIG);
	memcpy(host, listen, hl);
	host[hl] = 0;
	port = strtol(colon + 1, &end, 10);
	KG_ENSURE(*end == 0 && port > 0 && port < 65536, KG_ERR_CONFIG);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		KG_ENSURE(inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1, KG_ERR_CONFIG);
		*v6 = true;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		KG_ENSURE(inet_pton(AF_INET, hl ? host : "0.0.0.0", &s4->sin_addr) == 1, KG_ERR_CONFIG);
		*v6 = false;
	}
	return KG_OK;
}

kg_err kg_server_run(struct kg_broker *b)
{
	struct sockaddr_storage ss, ms;
	uint8_t *cert = NULL, *key = NULL;
	size_t cert_len, key_len;
	struct MHD_Daemon *d = NULL, *md = NULL;
	bool v6 = false, mv6 = false;
	sigset_t set;
	int sig = 0;
	kg_err rc = KG_ERR_CONFIG;

	/* Everything the handlers use must be in place before serving. */
	KG_ENSURE(b->challenge_key && b->attest && b->store && b->cache, KG_ERR_CONFIG);
	KG_TRY(parse_listen(b->cfg->listen, &ss, &v6));
	KG_ENSURE(b->cfg->tls_cert && b->cfg->tls_key, KG_ERR_CONFIG);
	KG_TRY_OUT(kg_file_read(b->cfg->tls_cert, KG_PEM_MAX, &cert, &cert_len));
	KG_TRY_OUT(kg_file_read(b->cfg->tls_key, KG_PEM_MAX, &key, &key_len));

	/* Handle SIGINT/SIGTERM synchronously below; the worker threads
	 * inherit the blocked mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* HTTPS_MEM_TRUST makes libmicrohttpd send a CertificateRequest (it
	 * requests, never requires, and verifies nothing); its list is only
	 * advertised, so the server's own certificate serves. TLS 1.3 only. */
	/* epoll: no FD_SETSIZE ceiling on connections. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG |
				     (v6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, on_request, b, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert, MHD_OPTION_HTTPS_MEM_KEY,
			     (const char *)key, MHD_OPTION_HTTPS_MEM_TRUST, (const char *)cert,
			     MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
			     /* A CVM's exchange takes milliseconds: idle or slow peers
			      * (including ones that never finish the handshake) are cut
			      * after 10 s, and one address cannot take every slot. */
			     MHD_OPTION_THREAD_POOL_SIZE, b->cfg->threads, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
			     MHD_OPTION_CONNECTION_LIMIT, b->cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			     b->cfg->per_ip_connections,
			     /* Headers and MHD's read buffer only (bodies go to
			      * conn_ctx).  At 32 KiB libmicrohttpd mallocs the pool;
			      * above, it maps and unmaps it for every connection. */
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
			     on_completed, b, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, b, MHD_OPTION_END);
	KG_ENSURE_OUT(d != NULL, KG_ERR_CONFIG);
	kg_log(KG_LOG_INFO, "listening", "address", b->cfg->listen, "replica", b->cfg->replica, NULL);
	if (b->cfg->metrics_listen) {
		KG_TRY_OUT(parse_listen(b->cfg->metrics_listen, &ms, &mv6));
		md = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
					      (mv6 ? MHD_USE_IPv6 : 0),
				      0, NULL, NULL, on_metrics_request, b, MHD_OPTION_SOCK_ADDR,
				      (struct sockaddr *)&ms, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				      MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				      (size_t)16 * 1024, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, b, MHD_OPTION_END);
		if (md == NULL) {
			kg_log(KG_LOG_ERROR, "cannot_listen", "address", b->cfg->metrics_listen, "serves", "metrics",
			       NULL);
			goto out;
		}
		kg_log(KG_LOG_INFO, "listening", "address", b->cfg->metrics_listen, "serves", "metrics", NULL);
	}
	sigwait(&set, &sig);
	kg_log(KG_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
	rc = KG_OK;
out:
	if (md)
		MHD_stop_daemon(md);
	if (d)
		MHD_stop_daemon(d);
	if (key)
		kg_wipe(key, key_len);
	free(key);
	free(cert);
	return rc;
}
