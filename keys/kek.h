/*
 * The key-encryption key (KEK) and model keys stored under it.
 * A stored model key is  format (1) = 1 || nonce (24) || XChaCha20-Poly1305
 * ciphertext+tag, with associated data "keygate/v1 key" || 0 ||
 * u16be(len key_id) || key_id || u32be(version), so that a row copied to
 * another key id or version does not decrypt.
 */
#ifndef KG_KEK_H
#define KG_KEK_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_KEY_MAX 64
#define KG_KEY_MIN 16
#define KG_WRAPPED_MAX (1 + 24 + KG_KEY_MAX + 16)

struct kg_kek;

/* Loads a KEK from a file holding 32 raw bytes or 64 hex digits (an
 * optional trailing newline is allowed): a plain file or a systemd
 * credential ($CREDENTIALS_DIRECTORY/...).  The key lives in guarded,
 * locked memory, read-only after load. */
KG_MUST_CHECK kg_err kg_kek_load(const char *path, struct kg_kek **out);
/* Reads a 32-byte secret from a file: exactly 32 bytes are taken raw;
 * anything else must be 64 hex digits, optionally followed by white space.
 * out must be 32 bytes of (guarded) memory.  KG_ERR_KEK on any mismatch. */
KG_MUST_CHECK kg_err kg_key32_read(const char *path, uint8_t out[static 32]);
/* For tests and `keygate kek generate`: a KEK from 32 given bytes. */
KG_MUST_CHECK kg_err kg_kek_from_bytes(const uint8_t k[static 32], struct kg_kek **out);
void kg_kek_free(struct kg_kek *kek);

/* out must hold KG_WRAPPED_MAX bytes. */
KG_MUST_CHECK kg_err kg_kek_wrap(const struct kg_kek *kek, const char *key_id, uint32_t version, const uint8_t *key,
				 size_t key_len, uint8_t out[static KG_WRAPPED_MAX], size_t *out_len);
/* key must hold KG_KEY_MAX bytes, preferably from kg_secret_alloc(). */
KG_MUST_CHECK kg_err kg_kek_unwrap(const struct kg_kek *kek, const char *key_id, uint32_t version,
				   const uint8_t *wrapped, size_t wrapped_len, uint8_t key[static KG_KEY_MAX],
				   size_t *key_len);

/* Guarded memory for secrets (sodium_malloc: guard pages, locked,
 * wiped on free).  NULL on failure.  kg_secret_free(NULL) is a no-op. */
uint8_t *kg_secret_alloc(size_t n);
void kg_secret_free(uint8_t *p);

#endif
