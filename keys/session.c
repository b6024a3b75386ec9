/* Per-session keys by HKDF (session.h). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "../common/util.h"
#include "session.h"

int kg_session_id_valid(const char *sid, size_t len)
{
	if (len == 0 || len > KG_SESSION_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = sid[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

kg_err kg_session_derive(const uint8_t *root, size_t root_len, const char *key_id, uint32_t version,
			 const char *session_id, size_t session_id_len, uint8_t *out, size_t key_len)
{
	static const char label[] = "keygate/v1 session";
	uint8_t info[sizeof label + 2 + 64 + 4 + 2 + KG_SESSION_ID_MAX];
	size_t n = 0, idlen = strnlen(key_id, 65);
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[4];
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE(key_len >= KG_KEY_MIN && key_len <= KG_KEY_MAX && root_len >= 16 && idlen >= 1 && idlen <= 64,
		  KG_ERR_INVALID_ARG);
	KG_ENSURE(kg_session_id_valid(session_id, session_id_len), KG_ERR_SESSION_ID);
	memcpy(info, label, sizeof label); /* with its 0x00 */
	n = sizeof label;
	info[n++] = (uint8_t)(idlen >> 8);
	info[n++] = (uint8_t)idlen;
	memcpy(info + n, key_id, idlen);
	n += idlen;
	for (int i = 3; i >= 0; i--)
		info[n++] = (uint8_t)(version >> (8 * i));
	info[n++] = (uint8_t)(session_id_len >> 8);
	info[n++] = (uint8_t)session_id_len;
	memcpy(info + n, session_id, session_id_len);
	n += session_id_len;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)root, root_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[3] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL && (ctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(ctx, out, key_len, params) == 1)
		rc = KG_OK;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	if (rc != KG_OK)
		kg_wipe(out, key_len);
	return rc;
}
