/* Request bodies and the HPKE info of a release: see core.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
