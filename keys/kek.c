#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "../common/util.h"
#include "kek.h"
#include "pkcs11.h"

#define KG_WRAP_FORMAT_FILE 1
#define KG_WRAP_FORMAT_PKCS11 2
#define KG_KEK_FILE_MAX 128

struct kg_kek {
	uint8_t *key;	    /* file KEK: 32 bytes, sodium_malloc'd, read-only */
	struct kg_p11 *p11; /* or: the token that holds it */
	char id[KG_KEK_ID_MAX];
};

uint8_t *kg_secret_alloc(size_t n)
{
	if (sodium_init() < 0)
		return NULL;
	return sodium_malloc(n);
}

void kg_secret_free(uint8_t *p)
{
	if (p)
		sodium_free(p);
}

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void scratch_free(void *p) { kg_secret_free(p); }

static void scratch_init(void) { scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

uint8_t *kg_secret_scratch(void)
{
	uint8_t *p;

	if (pthread_once(&scratch_once, scratch_init) != 0 || !scratch_ok)
		return NULL;
	if ((p = pthread_getspecific(scratch_key)) != NULL)
		return p;
	if ((p = kg_secret_alloc(KG_SECRET_SCRATCH)) == NULL)
		return NULL;
	if (pthread_setspecific(scratch_key, p) != 0) {
		kg_secret_free(p);
		return NULL;
	}
	return p;
}

kg_err kg_kek_from_bytes(const uint8_t k[static 32], struct kg_kek **out)
{
	struct kg_kek *kek;

	*out = NULL;
	KG_ENSURE((kek = calloc(1, sizeof *kek)) != NULL, KG_ERR_NOMEM);
	if ((kek->key = kg_secret_alloc(32)) == NULL) {
		free(kek);
		return KG_ERR_NOMEM;
	}
	memcpy(kek->key, k, 32);
	sodium_mprotect_readonly(kek->key);
	/* The id names the key without revealing it: 64 bits of a hash of
	 * a 256-bit random key. */
	{
		static const char label[] = "keygate/v1 kek id";
		uint8_t h[32];
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
			  EVP_DigestUpdate(md, label, sizeof label) == 1 && EVP_DigestUpdate(md, k, 32) == 1 &&
			  EVP_DigestFinal_ex(md, h, NULL) == 1;
		EVP_MD_CTX_free(md);
		if (!ok) {
			kg_kek_free(kek);
			return KG_ERR_CRYPTO;
		}
		memcpy(kek->id, "file:", 5);
		kg_hex(kek->id + 5, h, 8);
	}
	*out = kek;
	return KG_OK;
}

bool kg_kek_spec_set(const struct kg_kek_spec *spec)
{
	return spec->file || spec->pkcs11_module || spec->pkcs11_token || spec->pkcs11_key;
}

kg_err kg_kek_open(const struct kg_kek_spec *spec, struct kg_kek **out)
{
	struct kg_kek *kek;
	kg_err rc;
	bool p11 = spec->pkcs11_module || spec->pkcs11_token || spec->pkcs11_key;

	*out = NULL;
	KG_ENSURE(!(spec->file && p11), KG_ERR_CONFIG);
	if (spec->file)
		return kg_kek_load(spec->file, out);
	KG_ENSURE(p11 && spec->pkcs11_module && spec->pkcs11_token && spec->pkcs11_key && spec->pkcs11_pin_file,
		  KG_ERR_CONFIG);
	KG_ENSURE(strlen(spec->pkcs11_token) + strlen(spec->pkcs11_key) + 9 <= KG_KEK_ID_MAX, KG_ERR_CONFIG);
	KG_ENSURE((kek = calloc(1, sizeof *kek)) != NULL, KG_ERR_NOMEM);
	if ((rc = kg_p11_open(spec->pkcs11_module, spec->pkcs11_token, spec->pkcs11_key, spec->pkcs11_pin_file,
			      &kek->p11)) != KG_OK) {
		free(kek);
		return rc;
	}
	snprintf(kek->id, sizeof kek->id, "pkcs11:%s/%s", spec->pkcs11_token, spec->pkcs11_key);
	*out = kek;
	return KG_OK;
}

kg_err kg_kek_generate_pkcs11(const struct kg_kek_spec *spec)
{
	KG_ENSURE(spec->pkcs11_module && spec->pkcs11_token && spec->pkcs11_key && spec->pkcs11_pin_file,
		  KG_ERR_CONFIG);
	return kg_p11_generate(spec->pkcs11_module, spec->pkcs11_token, spec->pkcs11_key, spec->pkcs11_pin_file);
}

const char *kg_kek_id(const struct kg_kek *kek)
{
	return kek->id;
}

kg_err kg_key32_read(const char *path, uint8_t out[static 32])
{
	kg_err rc = KG_ERR_KEK;
	uint8_t *buf = NULL;
	size_t len = 0, read_len;

	if (kg_file_read(path, KG_KEK_FILE_MAX, &buf, &len) != KG_OK)
		return KG_ERR_KEK;
	read_len = len;
	/* The length decides the format before anything is trimmed: a raw
	 * key may well end in a byte that looks like a newline. */
	if (len == 32) {
		memcpy(out, buf, 32);
		rc = KG_OK;
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len == 64) {
		buf[64] = 0;
		rc = kg_unhex(out, 32, (const char *)buf) == KG_OK ? KG_OK : KG_ERR_KEK;
	}
out:
	kg_wipe(buf, read_len);
	free(buf);
	return rc;
}

kg_err kg_kek_load(const char *path, struct kg_kek **out)
{
	uint8_t k[32];
	kg_err rc;

	*out = NULL;
	if ((rc = kg_key32_read(path, k)) == KG_OK)
		rc = kg_kek_from_bytes(k, out);
	kg_wipe(k, sizeof k);
	return rc;
}

void kg_kek_free(struct kg_kek *kek)
{
	if (!kek)
		return;
	kg_secret_free(kek->key);
	kg_p11_free(kek->p11);
	free(kek);
}

static size_t make_ad(uint8_t *ad, const char *key_id, uint32_t version)
{
	static const char label[] = "keygate/v1 key";
	size_t n = 0, idlen = strnlen(key_id, 64);

	memcpy(ad, label, sizeof label);
	n += sizeof label;
	ad[n++] = (uint8_t)(idlen >> 8);
	ad[n++] = (uint8_t)idlen;
	memcpy(ad + n, key_id, idlen);
	n += idlen;
	for (int i = 3; i >= 0; i--)
		ad[n++] = (uint8_t)(version >> (8 * i));
	return n;
}

kg_err kg_kek_wrap(const struct kg_kek *kek, const char *key_id, uint32_t version, const uint8_t *key,
		   size_t key_len, uint8_t out[static KG_WRAPPED_MAX], size_t *out_len)
{
	uint8_t ad[15 + 2 + 64 + 4];
	size_t adlen = make_ad(ad, key_id, version);
	unsigned long long clen = 0;

	*out_len = 0;
	KG_ENSURE(key_len >= KG_KEY_MIN && key_len <= KG_KEY_MAX, KG_ERR_INVALID_ARG);
	if (kek->p11) {
		size_t n = 0;
		/* Random 96-bit nonces: a KEK wraps far fewer than 2^32 keys. */
		out[0] = KG_WRAP_FORMAT_PKCS11;
		randombytes_buf(out + 1, 12);
		KG_TRY(kg_p11_gcm(kek->p11, 1, out + 1, ad, adlen, key, key_len, out + 13, KG_WRAPPED_MAX - 13, &n));
		*out_len = 13 + n;
		return KG_OK;
	}
	out[0] = KG_WRAP_FORMAT_FILE;
	randombytes_buf(out + 1, 24);
	KG_ENSURE(crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, &clen, key, key_len, ad, adlen, NULL,
							      out + 1, kek->key) == 0,
		  KG_ERR_CRYPTO);
	*out_len = 25 + (size_t)clen;
	return KG_OK;
}

kg_err kg_kek_unwrap(const struct kg_kek *kek, const char *key_id, uint32_t version, const uint8_t *wrapped,
		     size_t wrapped_len, uint8_t key[static KG_KEY_MAX], size_t *key_len)
{
	uint8_t ad[15 + 2 + 64 + 4];
	size_t adlen = make_ad(ad, key_id, version);
	unsigned long long mlen = 0;

	*key_len = 0;
	if (kek->p11) {
		KG_ENSURE(wrapped_len >= 13 + KG_KEY_MIN + 16 && wrapped_len <= 13 + KG_KEY_MAX + 16, KG_ERR_KEY_UNWRAP);
		KG_ENSURE(wrapped[0] == KG_WRAP_FORMAT_PKCS11, KG_ERR_KEY_UNWRAP);
		return kg_p11_gcm(kek->p11, 0, wrapped + 1, ad, adlen, wrapped + 13, wrapped_len - 13, key, KG_KEY_MAX,
				  key_len);
	}
	KG_ENSURE(wrapped_len >= 25 + KG_KEY_MIN + 16 && wrapped_len <= KG_WRAPPED_MAX, KG_ERR_KEY_UNWRAP);
	KG_ENSURE(wrapped[0] == KG_WRAP_FORMAT_FILE, KG_ERR_KEY_UNWRAP);
	KG_ENSURE(crypto_aead_xchacha20poly1305_ietf_decrypt(key, &mlen, NULL, wrapped + 25, wrapped_len - 25, ad,
							      adlen, wrapped + 1, kek->key) == 0,
		  KG_ERR_KEY_UNWRAP);
	*key_len = (size_t)mlen;
	return KG_OK;
}

kg_err kg_kek_unwrap_any(const struct kg_kek *const *keks, size_t n, const char *kek_id, const char *key_id,
			 uint32_t version, const uint8_t *wrapped, size_t wrapped_len, uint8_t key[static KG_KEY_MAX],
			 size_t *key_len)
{
	kg_err rc = KG_ERR_KEK_UNKNOWN;

	*key_len = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keks[i] || (kek_id && *kek_id && strcmp(kek_id, keks[i]->id) != 0))
			continue;
		rc = kg_kek_unwrap(keks[i], key_id, version, wrapped, wrapped_len, key, key_len);
		/* A row without an id: the AEAD tag tells which KEK it was. */
		if (rc == KG_OK || (kek_id && *kek_id))
			return rc;
	}
	return rc;
}
