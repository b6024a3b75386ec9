/*
 * The key-encryption key (KEK) and the keys stored under it (model keys,
 * session-key root secrets).  Two kinds of KEK:
 *   file:   32 bytes in guarded memory; a stored key is format 3 =
 *           3 || kind || nonce (24) || XChaCha20-Poly1305 ciphertext+tag;
 *   pkcs11: a non-extractable AES-256 key in a PKCS#11 token, which does
 *           the wrapping (CKM_AES_GCM); format 4 = 4 || kind || nonce (12)
 *           || ciphertext+tag (16).  The KEK never enters this process.
 * Both bind associated data "keygate/v2 key" || 0 || format || kind ||
 * u16be(len key_id) || key_id || u32be(version): a row copied to another
 * key id or version does not decrypt, and a session key's root does not
 * decrypt as a model key (which would be released as it is) however the
 * database relabels it.  kind is one byte, 1 model, 2 session.
 * Formats 1 and 2 (before migration 0015) are formats 3 and 4 without the
 * kind byte, with associated data "keygate/v1 key" || 0 || u16be(len
 * key_id) || key_id || u32be(version); they are still read, never written,
 * and `keygate kek rotate` re-wraps them (docs/operations.md).
 * Each KEK has an id (kg_kek_id), stored beside every row it wraps, so that
 * brokers holding a current and a previous KEK during a rotation know
 * which one to use.
 */
#ifndef KG_KEK_H
#define KG_KEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define KG_KEY_MAX 64
#define KG_KEY_MIN 16
#define KG_WRAPPED_MAX (2 + 24 + KG_KEY_MAX + 16)
/* "file:" + 16 hex digits, or "pkcs11:" + token label + "/" + key label. */
#define KG_KEK_ID_MAX 80

struct kg_kek;

/* What a stored key is (keys.kind); its value is the wrapped format's kind
 * byte. */
enum kg_key_kind {
	KG_KEY_KIND_MODEL = 1,	 /* released as it is */
	KG_KEY_KIND_SESSION = 2, /* a root that per-session keys are derived from */
};

/* Where a KEK comes from: file, or all of the pkcs11 fields (pin_file
 * holds the user PIN).  Exactly one of the two. */
struct kg_kek_spec {
	const char *file;
	const char *pkcs11_module, *pkcs11_token, *pkcs11_key, *pkcs11_pin_file;
};

/* Opens the KEK spec names.  KG_ERR_CONFIG when it names none or both
 * kinds; KG_ERR_KEK / KG_ERR_PKCS11 when it cannot be loaded (a token key
 * that is extractable or not sensitive is refused: it must never leave). */
KG_MUST_CHECK kg_err kg_kek_open(const struct kg_kek_spec *spec, struct kg_kek **out);
/* True when spec names a KEK at all. */
bool kg_kek_spec_set(const struct kg_kek_spec *spec);
/* Creates a non-extractable, sensitive AES-256 key labelled spec's
 * pkcs11_key in the token (refuses when one exists already). */
KG_MUST_CHECK kg_err kg_kek_generate_pkcs11(const struct kg_kek_spec *spec);
/* The KEK's id: not secret (a truncated hash of a file KEK, the labels of
 * a token's). */
const char *kg_kek_id(const struct kg_kek *kek);

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

/* Wraps in format 3 (file KEK) or 4 (token), bound to key_id, version and
 * kind.  out must hold KG_WRAPPED_MAX bytes. */
KG_MUST_CHECK kg_err kg_kek_wrap(const struct kg_kek *kek, const char *key_id, uint32_t version,
				 enum kg_key_kind kind, const uint8_t *key, size_t key_len,
				 uint8_t out[static KG_WRAPPED_MAX], size_t *out_len);
/* Whether a stored key is in a format that binds its kind (3 or 4).  The
 * broker serves formats 1 and 2 only with kek_legacy_formats: the
 * database's kind is all that says what they are, and a superuser who
 * relabels a session key as a model key would get its root released. */
bool kg_kek_wrapped_binds_kind(const uint8_t *wrapped, size_t wrapped_len);

/* Unwraps a key stored for key_id, version and kind.  KG_ERR_KEY_KIND when
 * the row was wrapped as another kind (nothing is decrypted then);
 * KG_ERR_KEY_UNWRAP when it does not decrypt.  Formats 1 and 2 carry no
 * kind and are accepted for either.  key must hold KG_KEY_MAX bytes,
 * preferably from kg_secret_alloc(). */
KG_MUST_CHECK kg_err kg_kek_unwrap(const struct kg_kek *kek, const char *key_id, uint32_t version,
				   enum kg_key_kind kind, const uint8_t *wrapped, size_t wrapped_len,
				   uint8_t key[static KG_KEY_MAX], size_t *key_len);

/* Unwraps with whichever of keks[0..n) kek_id names; kek_id NULL or ""
 * (rows from before ids were recorded): tries each.  KG_ERR_KEK_UNKNOWN
 * when none has that id. */
KG_MUST_CHECK kg_err kg_kek_unwrap_any(const struct kg_kek *const *keks, size_t n, const char *kek_id,
				       const char *key_id, uint32_t version, enum kg_key_kind kind,
				       const uint8_t *wrapped, size_t wrapped_len, uint8_t key[static KG_KEY_MAX],
				       size_t *key_len);

/* Guarded memory for secrets (sodium_malloc: guard pages, locked,
 * wiped on free).  NULL on failure.  kg_secret_free(NULL) is a no-op. */
uint8_t *kg_secret_alloc(size_t n);
void kg_secret_free(uint8_t *p);

/* This thread's guarded buffer of KG_SECRET_SCRATCH bytes: made on first
 * use, freed (wiped) when the thread ends.  The release path's plaintext
 * keys live here rather than in a kg_secret_alloc per release, which cost
 * nine system calls and a TLB shootdown on every core each time.  The
 * caller wipes what it used before it returns.  NULL on failure. */
#define KG_SECRET_SCRATCH (2 * KG_KEY_MAX)
uint8_t *kg_secret_scratch(void);

#endif
