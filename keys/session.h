/*
 * Session keys derived without state: any replica, given the key's root
 * secret (stored wrapped like a model key), derives the same key for the
 * same session id.
 *   key = HKDF-SHA256(IKM = root, salt = "", info, L = key_len)  (RFC 5869)
 *   info = "keygate/v1 session" || 0x00 || u16be(len key_id) || key_id ||
 *          u32be(root version) || u16be(len session_id) || session_id
 */
#ifndef KG_SESSION_H
#define KG_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "kek.h"

#define KG_SESSION_ID_MAX 128
#define KG_SESSION_ROOT_LEN 32

/* Session ids: 1-128 characters of [A-Za-z0-9._:-]. */
int kg_session_id_valid(const char *sid, size_t len);

/* Derives key_len (KG_KEY_MIN..KG_KEY_MAX) bytes into out (guarded memory
 * preferably).  KG_ERR_INVALID_ARG on a bad length or session id. */
KG_MUST_CHECK kg_err kg_session_derive(const uint8_t *root, size_t root_len, const char *key_id, uint32_t version,
				       const char *session_id, size_t session_id_len, uint8_t *out, size_t key_len);

#endif
