/* Request bodies and the HPKE info of a release: see core.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../keys/hpke.h"
#include "../keys/session.h"
#include "core.h"

_Static_assert(sizeof(((struct kg_release_req *)0)->session_id) == KG_SESSION_ID_MAX + 1, "session_id buffer");

int kg_key_id_valid(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++) {
		char c = id[n];
		if (n >= 64)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

const char *kg_aead_name(uint16_t aead)
{
	switch (aead) {
	case KG_HPKE_AEAD_AES_256_GCM:
		return "aes-256-gcm";
	case KG_HPKE_AEAD_CHACHA20_POLY1305:
		return "chacha20-poly1305";
	}
	return NULL;
}

uint16_t kg_aead_from_name(const char *name)
{
	if (strcmp(name, "aes-256-gcm") == 0)
		return KG_HPKE_AEAD_AES_256_GCM;
	if (strcmp(name, "chacha20-poly1305") == 0)
		return KG_HPKE_AEAD_CHACHA20_POLY1305;
	return 0;
}

/* "gpus": [{"report": base64, "certs": PEM}, ...]: exactly these two
 * members, within their limits. */
static kg_err parse_gpus(const json_t *arr, struct kg_release_req *out)
{
	size_t i;
	json_t *dev;

	KG_ENSURE(json_is_array(arr) && json_array_size(arr) >= 1 && json_array_size(arr) <= KG_BODY_GPUS_MAX,
		  KG_ERR_BAD_REQUEST);
	json_array_foreach(arr, i, dev) {
		struct kg_gpu_evidence *g = &out->gpus[out->n_gpus];
		const json_t *rep = json_object_get(dev, "report"), *certs = json_object_get(dev, "certs");
		size_t rlen, clen;

		KG_ENSURE(json_is_object(dev) && json_object_size(dev) == 2, KG_ERR_UNKNOWN_FIELD);
		KG_ENSURE(json_is_string(rep) && json_is_string(certs), KG_ERR_BAD_REQUEST);
		rlen = json_string_length(rep);
		clen = json_string_length(certs);
		KG_ENSURE(rlen >= 4 && rlen <= sodium_base64_ENCODED_LEN(KG_BODY_GPU_REPORT_MAX, sodium_base64_VARIANT_ORIGINAL),
			  KG_ERR_BAD_REQUEST);
		KG_ENSURE(clen >= 1 && clen <= KG_BODY_GPU_CERTS_MAX, KG_ERR_BAD_REQUEST);
		KG_ENSURE((g->report = malloc(KG_BODY_GPU_REPORT_MAX)) != NULL && (g->certs = malloc(clen + 1)) != NULL,
			  KG_ERR_NOMEM);
		out->n_gpus++; /* owned from here: freed with the request */
		KG_ENSURE(sodium_base642bin(g->report, KG_BODY_GPU_REPORT_MAX, json_string_value(rep), rlen, NULL, &g->report_len,
					    NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
				  g->report_len > 0,
			  KG_ERR_BAD_REQUEST);
		memcpy(g->certs, json_string_value(certs), clen + 1);
		g->certs_len = clen;
	}
	return KG_OK;
}

void kg_gpu_evidence_hash(const struct kg_gpu_evidence *devs, size_t n, uint8_t out[static 32])
{
	static const char label[] = "keygate/v1 gpu evidence";
	crypto_hash_sha256_state st;
	uint8_t be[4];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label); /* with its NUL */
	for (size_t i = 0; i < n; i++) {
		be[0] = (uint8_t)(devs[i].report_len >> 24);
		be[1] = (uint8_t)(devs[i].report_len >> 16);
		be[2] = (uint8_t)(devs[i].report_len >> 8);
		be[3] = (uint8_t)devs[i].report_len;
		crypto_hash_sha256_update(&st, be, 4);
		crypto_hash_sha256_update(&st, devs[i].report, devs[i].report_len);
		be[0] = (uint8_t)(devs[i].certs_len >> 24);
		be[1] = (uint8_t)(devs[i].certs_len >> 16);
		be[2] = (uint8_t)(devs[i].certs_len >> 8);
		be[3] = (uint8_t)devs[i].certs_len;
		crypto_hash_sha256_update(&st, be, 4);
		crypto_hash_sha256_update(&st, (const uint8_t *)devs[i].certs, devs[i].certs_len);
	}
	crypto_hash_sha256_final(&st, out);
}

void kg_gpu_nonce(const uint8_t *challenge, size_t challenge_len, const uint8_t *pubkey_hash, size_t pubkey_hash_len,
		  uint8_t out[static 32])
{
	static const char label[] = "keygate/v1 gpu nonce";
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label); /* with its NUL */
	crypto_hash_sha256_update(&st, challenge, challenge_len);
	crypto_hash_sha256_update(&st, pubkey_hash, pubkey_hash_len);
	crypto_hash_sha256_final(&st, out);
}

kg_err kg_release_req_parse(const uint8_t *body, size_t len, struct kg_release_req *out)
{
	kg_err rc = KG_ERR_BAD_REQUEST;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *k;

	memset(out, 0, sizeof *out);
	out->aead = KG_HPKE_AEAD_CHACHA20_POLY1305;
	if (len == 0)
		return KG_OK;
	KG_ENSURE(len <= KG_BODY_MAX, KG_ERR_BODY_TOO_LARGE);
	/* JSON_REJECT_DUPLICATES: two values for one field is ambiguous. */
	root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	KG_ENSURE_OUT(root != NULL, KG_ERR_BAD_JSON);
	KG_ENSURE_OUT(json_is_object(root), KG_ERR_BAD_REQUEST);
	json_object_foreach(root, k, v) {
		if (strcmp(k, "aead") == 0) {
			KG_ENSURE_OUT(json_is_string(v), KG_ERR_BAD_REQUEST);
			out->aead = kg_aead_from_name(json_string_value(v));
			KG_ENSURE_OUT(out->aead != 0, KG_ERR_HPKE_SUITE);
		} else if (strcmp(k, "ledger_bundle") == 0 || strcmp(k, "ledger_consistency") == 0) {
			bool bundle = k[7] == 'b';
			char **dst = bundle ? &out->ledger_bundle : &out->ledger_consistency;
			size_t *dlen = bundle ? &out->ledger_bundle_len : &out->ledger_consistency_len;
			size_t n;
			KG_ENSURE_OUT(json_is_string(v), KG_ERR_BAD_REQUEST);
			n = json_string_length(v);
			KG_ENSURE_OUT(n >= 1 && n <= KG_LEDGER_TEXT_MAX, KG_ERR_BAD_REQUEST);
			KG_ENSURE_OUT((*dst = malloc(n + 1)) != NULL, KG_ERR_NOMEM);
			memcpy(*dst, json_string_value(v), n + 1);
			*dlen = n;
		} else if (strcmp(k, "version") == 0) {
			json_int_t ver;
			KG_ENSURE_OUT(json_is_integer(v), KG_ERR_BAD_REQUEST);
			ver = json_integer_value(v);
			KG_ENSURE_OUT(ver >= 1 && ver <= 0x7fffffff, KG_ERR_BAD_REQUEST);
			out->version = (uint32_t)ver;
		} else if (strcmp(k, "session_id") == 0) {
			size_t n;
			KG_ENSURE_OUT(json_is_string(v), KG_ERR_BAD_REQUEST);
			n = json_string_length(v);
			/* Checked before it is copied: the length bounds the buffer. */
			KG_ENSURE_OUT(kg_session_id_valid(json_string_value(v), n), KG_ERR_SESSION_ID);
			memcpy(out->session_id, json_string_value(v), n);
			out->session_id[n] = 0;
			out->session_id_len = n;
		} else if (strcmp(k, "gpus") == 0) {
			KG_TRY_OUT(parse_gpus(v, out));
		} else {
			rc = KG_ERR_UNKNOWN_FIELD;
			goto out;
		}
	}
	rc = KG_OK;
out:
	json_decref(root);
	if (rc != KG_OK)
		kg_release_req_free(out);
	return rc;
}

void kg_release_req_free(struct kg_release_req *r)
{
	free(r->ledger_bundle);
	free(r->ledger_consistency);
	r->ledger_bundle = r->ledger_consistency = NULL;
	r->ledger_bundle_len = r->ledger_consistency_len = 0;
	for (size_t i = 0; i < r->n_gpus; i++) {
		free(r->gpus[i].report);
		free(r->gpus[i].certs);
	}
	memset(r->gpus, 0, sizeof r->gpus);
	r->n_gpus = 0;
}

size_t kg_release_info(uint8_t out[static KG_RELEASE_INFO_MAX], const uint8_t evidence_sha256[static 32],
		       const char *key_id, uint32_t version, const uint8_t request_id[static 16])
{
	static const char label[] = "keygate/v1 release";
	size_t n = 0, idlen = strnlen(key_id, 64);

	memcpy(out, label, sizeof label); /* includes the 0x00 separator */
	n += sizeof label;
	memcpy(out + n, evidence_sha256, 32);
	n += 32;
	out[n++] = (uint8_t)(idlen >> 8);
	out[n++] = (uint8_t)idlen;
	memcpy(out + n, key_id, idlen);
	n += idlen;
	for (int i = 3; i >= 0; i--)
		out[n++] = (uint8_t)(version >> (8 * i));
	memcpy(out + n, request_id, 16);
	n += 16;
	return n;
}
