/* HTTPS for keygate-client, through libcurl (OpenSSL): TLS 1.3 only, the
 * broker authenticated against a configured CA, optionally a client
 * certificate held in memory. */
#ifndef KG_CLIENT_HTTP_H
#define KG_CLIENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_HTTP_RESPONSE_MAX (64 * 1024)

struct kg_http;

KG_MUST_CHECK kg_err kg_http_new(struct kg_http **out, const char *ca_file);
void kg_http_free(struct kg_http *h);
/* Uses cert_der and key_pem (PEM private key) as the TLS client
 * credentials for later requests.  The key copy is wiped on free. */
KG_MUST_CHECK kg_err kg_http_set_client_cert(struct kg_http *h, const uint8_t *cert_der, size_t cert_len,
					     const char *key_pem, size_t key_pem_len);
/* body NULL = GET, else POST with Content-Type: application/json.
 * KG_ERR_IO when no answer came (connection, TLS); *status and *resp are
 * set whenever an answer came, whatever its status. */
KG_MUST_CHECK kg_err kg_http_request(struct kg_http *h, const char *url, const char *body, long *status,
				     char **resp);
/* When on, every request opens a new connection (benchmarks). */
void kg_http_fresh_connections(struct kg_http *h, bool on);
/* The last transport error text, for diagnostics. */
const char *kg_http_error(const struct kg_http *h);

#endif
