/* keys/ private: AES-256-GCM with a key that stays in a PKCS#11 token.
 * The module is loaded with dlopen; one session, behind a mutex. */
#ifndef KG_KEYS_PKCS11_H
#define KG_KEYS_PKCS11_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

struct kg_p11;

/* Loads module, finds the token by label, logs in with the PIN in
 * pin_file, finds the secret key by label (exactly one; refused when it
 * is extractable or not sensitive). */
KG_MUST_CHECK kg_err kg_p11_open(const char *module, const char *token, const char *key, const char *pin_file,
				 struct kg_p11 **out);
/* As kg_p11_open, but creates the key (CKK_AES, 32 bytes, token object,
 * sensitive, not extractable); fails if a key with that label exists. */
KG_MUST_CHECK kg_err kg_p11_generate(const char *module, const char *token, const char *key, const char *pin_file);
void kg_p11_free(struct kg_p11 *p);

/* AES-256-GCM, 96-bit nonce, 128-bit tag, inside the token.  Encrypt:
 * out gets in_len + 16 bytes.  Decrypt: in is ciphertext || tag, out gets
 * in_len - 16 bytes; KG_ERR_KEY_UNWRAP when the tag does not verify. */
KG_MUST_CHECK kg_err kg_p11_gcm(struct kg_p11 *p, int encrypt, const uint8_t nonce[static 12], const uint8_t *ad,
				size_t ad_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
				size_t *out_len);

#endif
