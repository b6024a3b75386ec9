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

/* Formats 1 and 2 are read only; 3 and 4 bind the key's kind (kek.h). */
#define KG_WRAP_FORMAT_FILE 1
#define KG_WRAP_FORMAT_PKCS11 2
#define KG_WRAP_FORMAT_FILE_KIND 3
#define KG_WRAP_FORMAT_PKCS11_KIND 4
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

/* The associated data (kek.h): label (with its NUL), the header bytes,
 * u16be(len key_id), key_id, u32be(version). */
static size_t make_ad(uint8_t *ad, const char *label, const uint8_t *head, size_t head_len, const char *key_id,
		      uint32_t version)
{
	size_t n = strlen(label) + 1, idlen = strnlen(key_id, 64);

	memcpy(ad, label, n);
	if (head_len > 0)
		memcpy(ad + n, head, head_len);
	n += head_len;
	ad[n++] = (uint8_t)(idlen >> 8);
	ad[n++] = (uint8_t)idlen;
	memcpy(ad + n, key_id, idlen);
	n += idlen;
	for (int i = 3; i >= 0; i--)
		ad[n++] = (uint8_t)(version >> (8 * i));
	return n;
}

/* Formats 1 and 2: key id and version. */
static size_t make_ad_v1(uint8_t *ad, const char *key_id, uint32_t version)
{
	return make_ad(ad, "keygate/v1 key", NULL, 0, key_id, version);
}

/* Formats 3 and 4: the format and the kind too.  Another label than v1's,
 * so that no v2 row decrypts as a v1 one with its header rewritten. */
static size_t make_ad_v2(uint8_t *ad, uint8_t format, enum kg_key_kind kind, const char *key_id, uint32_t version)
{
	const uint8_t head[2] = {format, (uint8_t)kind};

	return make_ad(ad, "keygate/v2 key", head, sizeof head, key_id, version);
}

#define KG_AD_MAX (15 + 2 + 2 + 64 + 4)

static bool kind_valid(enum kg_key_kind kind)
{
	return kind == KG_KEY_KIND_MODEL || kind == KG_KEY_KIND_SESSION;
}

kg_err kg_kek_wrap(const struct kg_kek *kek, const char *key_id, uint32_t version, enum kg_key_kind kind,
		   const uint8_t *key, size_t key_len, uint8_t out[static KG_WRAPPED_MAX], size_t *out_len)
{
	uint8_t ad[KG_AD_MAX];
	uint8_t format = kek->p11 ? KG_WRAP_FORMAT_PKCS11_KIND : KG_WRAP_FORMAT_FILE_KIND;
	size_t adlen;
	unsigned long long clen = 0;

	*out_len = 0;
	KG_ENSURE(key_len >= KG_KEY_MIN && key_len <= KG_KEY_MAX && kind_valid(kind), KG_ERR_INVALID_ARG);
	adlen = make_ad_v2(ad, format, kind, key_id, version);
	out[0] = format;
	out[1] = (uint8_t)kind;
	if (kek->p11) {
		size_t n = 0;
		/* Random 96-bit nonces: a KEK wraps far fewer than 2^32 keys. */
		randombytes_buf(out + 2, 12);
		KG_TRY(kg_p11_gcm(kek->p11, 1, out + 2, ad, adlen, key, key_len, out + 14, KG_WRAPPED_MAX - 14, &n));
		*out_len = 14 + n;
		return KG_OK;
	}
	randombytes_buf(out + 2, 24);
	KG_ENSURE(crypto_aead_xchacha20poly1305_ietf_encrypt(out + 26, &clen, key, key_len, ad, adlen, NULL,
							      out + 2, kek->key) == 0,
		  KG_ERR_CRYPTO);
	*out_len = 26 + (size_t)clen;
	return KG_OK;
}

bool kg_kek_wrapped_binds_kind(const uint8_t *wrapped, size_t wrapped_len)
{
	return wrapped_len >= 2 &&
	       (wrapped[0] == KG_WRAP_FORMAT_FILE_KIND || wrapped[0] == KG_WRAP_FORMAT_PKCS11_KIND);
}

kg_err kg_kek_unwrap(const struct kg_kek *kek, const char *key_id, uint32_t version, enum kg_key_kind kind,
		     const uint8_t *wrapped, size_t wrapped_len, uint8_t key[static KG_KEY_MAX], size_t *key_len)
{
	uint8_t ad[KG_AD_MAX];
	uint8_t format;
	size_t adlen, head;
	unsigned long long mlen = 0;

	*key_len = 0;
	KG_ENSURE(wrapped_len >= 2 && kind_valid(kind), KG_ERR_KEY_UNWRAP);
	format = wrapped[0];
	if (format == KG_WRAP_FORMAT_FILE_KIND || format == KG_WRAP_FORMAT_PKCS11_KIND) {
		/* The kind byte is authenticated (it is in the AD); checked
		 * first so that a relabelled row says so and stays encrypted. */
		KG_ENSURE(wrapped[1] == (uint8_t)kind, KG_ERR_KEY_KIND);
		adlen = make_ad_v2(ad, format, kind, key_id, version);
		head = 2;
	} else {
		adlen = make_ad_v1(ad, key_id, version);
		head = 1;
	}
	if (kek->p11) {
		KG_ENSURE(format == KG_WRAP_FORMAT_PKCS11 || format == KG_WRAP_FORMAT_PKCS11_KIND, KG_ERR_KEY_UNWRAP);
		KG_ENSURE(wrapped_len >= head + 12 + KG_KEY_MIN + 16 && wrapped_len <= head + 12 + KG_KEY_MAX + 16,
			  KG_ERR_KEY_UNWRAP);
		return kg_p11_gcm(kek->p11, 0, wrapped + head, ad, adlen, wrapped + head + 12,
				  wrapped_len - head - 12, key, KG_KEY_MAX, key_len);
	}
	KG_ENSURE(format == KG_WRAP_FORMAT_FILE || format == KG_WRAP_FORMAT_FILE_KIND, KG_ERR_KEY_UNWRAP);
	KG_ENSURE(wrapped_len >= head + 24 + KG_KEY_MIN + 16 && wrapped_len <= head + 24 + KG_KEY_MAX + 16,
		  KG_ERR_KEY_UNWRAP);
	KG_ENSURE(crypto_aead_xchacha20poly1305_ietf_decrypt(key, &mlen, NULL, wrapped + head + 24,
							      wrapped_len - head - 24, ad, adlen, wrapped + head,
							      kek->key) == 0,
		  KG_ERR_KEY_UNWRAP);
	*key_len = (size_t)mlen;
	return KG_OK;
}

kg_err kg_kek_unwrap_any(const struct kg_kek *const *keks, size_t n, const char *kek_id, const char *key_id,
			 uint32_t version, enum kg_key_kind kind, const uint8_t *wrapped, size_t wrapped_len,
			 uint8_t key[static KG_KEY_MAX], size_t *key_len)
{
	kg_err rc = KG_ERR_KEK_UNKNOWN;

	*key_len = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keks[i] || (kek_id && *kek_id && strcmp(kek_id, keks[i]->id) != 0))
			continue;
		rc = kg_kek_unwrap(keks[i], key_id, version, kind, wrapped, wrapped_len, key, key_len);
		/* A row without an id: the AEAD tag tells which KEK it was.  A
		 * row of another kind is that for every KEK. */
		if (rc == KG_OK || rc == KG_ERR_KEY_KIND || (kek_id && *kek_id))
			return rc;
	}
	return rc;
}
