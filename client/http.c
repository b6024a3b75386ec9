#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../common/util.h"
#include "http.h"

struct kg_http {
	CURL *curl;
	char *ca_file;
	uint8_t *cert;
	size_t cert_len;
	char *key_pem;
	size_t key_pem_len;
	bool fresh;
	char err[CURL_ERROR_SIZE];
};

struct buf {
	char *p;
	size_t len;
	bool overflow;
};

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t add = size * n;
	char *np;

	if (b->len + add > KG_HTTP_RESPONSE_MAX) {
		b->overflow = true;
		return 0; /* aborts the transfer */
	}
	if ((np = realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = 0;
	return add;
}

kg_err kg_http_new(struct kg_http **out, const char *ca_file)
{
	struct kg_http *h;

	*out = NULL;
	KG_ENSURE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, KG_ERR_INTERNAL);
	KG_ENSURE((h = calloc(1, sizeof *h)) != NULL, KG_ERR_NOMEM);
	h->curl = curl_easy_init();
	h->ca_file = ca_file ? strdup(ca_file) : NULL;
	if (!h->curl || (ca_file && !h->ca_file)) {
		kg_http_free(h);
		return KG_ERR_NOMEM;
	}
	*out = h;
	return KG_OK;
}

void kg_http_free(struct kg_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->ca_file);
	free(h->cert);
	if (h->key_pem)
		kg_wipe(h->key_pem, h->key_pem_len);
	free(h->key_pem);
	free(h);
}

kg_err kg_http_set_client_cert(struct kg_http *h, const uint8_t *cert_der, size_t cert_len, const char *key_pem,
			       size_t key_pem_len)
{
	free(h->cert);
	if (h->key_pem)
		kg_wipe(h->key_pem, h->key_pem_len);
	free(h->key_pem);
	h->cert = malloc(cert_len);
	h->key_pem = malloc(key_pem_len);
	KG_ENSURE(h->cert && h->key_pem, KG_ERR_NOMEM);
	memcpy(h->cert, cert_der, cert_len);
	memcpy(h->key_pem, key_pem, key_pem_len);
	h->cert_len = cert_len;
	h->key_pem_len = key_pem_len;
	return KG_OK;
}

const char *kg_http_error(const struct kg_http *h) { return h->err; }

void kg_http_fresh_connections(struct kg_http *h, bool on) { h->fresh = on; }

kg_err kg_http_request(struct kg_http *h, const char *url, const char *body, long *status, char **resp)
{
	struct buf b = {0};
	struct curl_slist *hdrs = NULL;
	CURL *c = h->curl;
	CURLcode cc;

	*status = 0;
	*resp = NULL;
	h->err[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->err);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, h->fresh ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, h->fresh ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (h->cert) {
		struct curl_blob cert = {h->cert, h->cert_len, CURL_BLOB_NOCOPY};
		struct curl_blob key = {h->key_pem, h->key_pem_len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "DER");
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		if (!h->err[0])
			snprintf(h->err, sizeof h->err, "%s", curl_easy_strerror(cc));
		if (b.overflow)
			snprintf(h->err, sizeof h->err, "response larger than %d bytes", KG_HTTP_RESPONSE_MAX);
		free(b.p);
		return KG_ERR_IO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*resp = b.p ? b.p : strdup("");
	return *resp ? KG_OK : KG_ERR_NOMEM;
}
