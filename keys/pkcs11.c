/*
 * The KEK inside a PKCS#11 token (PKCS#11 v2.40, §2.12 AES-GCM): the
 * token does the AES-256-GCM, the key object is sensitive and not
 * extractable, so the KEK never enters this process's memory.  The module
 * is dlopen'ed (no link-time dependency on any vendor library); the header
 * is p11-kit's copy of the OASIS one.  One session, used under a mutex:
 * wrapping is rare (CLI) and unwrapping is one short call per release.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "../common/util.h"
#include "pkcs11.h"

#define KG_PIN_MAX 256
#define KG_P11_MAX 128 /* largest plaintext or ciphertext+tag passed to the token */

struct kg_p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE key;
	bool initialized, have_session;
	pthread_mutex_t lock;
};

void kg_p11_free(struct kg_p11 *p)
{
	if (!p)
		return;
	if (p->have_session) {
		p->f->C_Logout(p->session);
		p->f->C_CloseSession(p->session);
	}
	if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->dl)
		dlclose(p->dl);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Token labels are 32 bytes padded with spaces (PKCS#11 §3.2 CK_TOKEN_INFO). */
static bool label_is(const CK_UTF8CHAR label[32], const char *want)
{
	size_t n = strlen(want);

	if (n > 32 || memcmp(label, want, n) != 0)
		return false;
	for (size_t i = n; i < 32; i++)
		if (label[i] != ' ')
			return false;
	return true;
}

/* The user PIN: the file's contents up to the first newline. */
static kg_err read_pin(const char *path, char pin[static KG_PIN_MAX + 1], size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0, l;

	KG_ENSURE(path != NULL, KG_ERR_CONFIG);
	KG_ENSURE(kg_file_read(path, KG_PIN_MAX, &buf, &n) == KG_OK, KG_ERR_KEK);
	for (l = 0; l < n && buf[l] != '\n' && buf[l] != '\r'; l++)
		pin[l] = (char)buf[l];
	pin[l] = 0;
	*len = l;
	kg_wipe(buf, n);
	free(buf);
	return l > 0 ? KG_OK : KG_ERR_KEK;
}

static kg_err find_key(struct kg_p11 *p, const char *label, CK_OBJECT_HANDLE *out, CK_ULONG *count)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof cls},
		{CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE h[2];
	CK_RV rv;

	*count = 0;
	KG_ENSURE(p->f->C_FindObjectsInit(p->session, tmpl, 2) == CKR_OK, KG_ERR_PKCS11);
	rv = p->f->C_FindObjects(p->session, h, 2, count);
	p->f->C_FindObjectsFinal(p->session);
	KG_ENSURE(rv == CKR_OK, KG_ERR_PKCS11);
	if (*count >= 1)
		*out = h[0];
	return KG_OK;
}

/* Loads the module, opens a logged-in session on the labelled token. */
static kg_err open_session(const char *module, const char *token, const char *pin_file, struct kg_p11 **out)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
	CK_SLOT_ID slots[64];
	CK_ULONG nslots = 64;
	CK_RV rv;
	struct kg_p11 *p;
	char pin[KG_PIN_MAX + 1];
	size_t pin_len = 0;
	kg_err rc = KG_ERR_PKCS11;
	bool found = false;

	*out = NULL;
	KG_ENSURE(module && token, KG_ERR_CONFIG);
	KG_ENSURE((p = calloc(1, sizeof *p)) != NULL, KG_ERR_NOMEM);
	pthread_mutex_init(&p->lock, NULL);
	if ((p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL)
		goto out;
	*(void **)&get_list = dlsym(p->dl, "C_GetFunctionList");
	if (!get_list || get_list(&p->f) != CKR_OK || !p->f)
		goto out;
	rv = p->f->C_Initialize(&init);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		goto out;
	p->initialized = rv == CKR_OK;
	if (p->f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
		goto out;
	for (CK_ULONG i = 0; i < nslots && !found; i++) {
		CK_TOKEN_INFO ti;
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && label_is(ti.label, token)) {
			found = true;
			if (p->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
						&p->session) != CKR_OK)
				goto out;
			p->have_session = true;
		}
	}
	if (!found)
		goto out;
	KG_TRY_OUT(read_pin(pin_file, pin, &pin_len));
	rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, pin_len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		rc = KG_ERR_PKCS11;
		goto out;
	}
	*out = p;
	p = NULL;
	rc = KG_OK;
out:
	kg_wipe(pin, sizeof pin);
	kg_p11_free(p);
	return rc;
}

kg_err kg_p11_open(const char *module, const char *token, const char *key, const char *pin_file,
		   struct kg_p11 **out)
{
	CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE;
	CK_KEY_TYPE type = 0;
	CK_ATTRIBUTE attrs[] = {
		{CKA_EXTRACTABLE, &extractable, sizeof extractable},
		{CKA_SENSITIVE, &sensitive, sizeof sensitive},
		{CKA_KEY_TYPE, &type, sizeof type},
	};
	struct kg_p11 *p = NULL;
	CK_ULONG count = 0;
	kg_err rc = KG_OK;

	*out = NULL;
	KG_ENSURE(key != NULL, KG_ERR_CONFIG);
	KG_TRY(open_session(module, token, pin_file, &p));
	KG_TRY_OUT(find_key(p, key, &p->key, &count));
	KG_ENSURE_OUT(count == 1, KG_ERR_PKCS11);
	/* A KEK that could be read out of the token would defeat the point. */
	KG_ENSURE_OUT(p->f->C_GetAttributeValue(p->session, p->key, attrs, 3) == CKR_OK, KG_ERR_PKCS11);
	KG_ENSURE_OUT(!extractable && sensitive && type == CKK_AES, KG_ERR_PKCS11);
	*out = p;
	p = NULL;
out:
	kg_p11_free(p);
	return rc;
}

kg_err kg_p11_generate(const char *module, const char *token, const char *key, const char *pin_file)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = 32;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof cls},	       {CKA_KEY_TYPE, &type, sizeof type},
		{CKA_VALUE_LEN, &len, sizeof len},     {CKA_LABEL, (void *)key, key ? strlen(key) : 0},
		{CKA_TOKEN, &yes, sizeof yes},	       {CKA_PRIVATE, &yes, sizeof yes},
		{CKA_SENSITIVE, &yes, sizeof yes},     {CKA_EXTRACTABLE, &no, sizeof no},
		{CKA_ENCRYPT, &yes, sizeof yes},       {CKA_DECRYPT, &yes, sizeof yes},
		{CKA_WRAP, &no, sizeof no},	       {CKA_UNWRAP, &no, sizeof no},
	};
	struct kg_p11 *p = NULL;
	CK_OBJECT_HANDLE h;
	CK_ULONG count = 0;
	kg_err rc = KG_OK;

	KG_ENSURE(key != NULL && *key, KG_ERR_CONFIG);
	KG_TRY(open_session(module, token, pin_file, &p));
	KG_TRY_OUT(find_key(p, key, &h, &count));
	KG_ENSURE_OUT(count == 0, KG_ERR_INVALID_ARG);
	KG_ENSURE_OUT(p->f->C_GenerateKey(p->session, &mech, tmpl, sizeof tmpl / sizeof tmpl[0], &h) == CKR_OK,
		      KG_ERR_PKCS11);
out:
	kg_p11_free(p);
	return rc;
}

kg_err kg_p11_gcm(struct kg_p11 *p, int encrypt, const uint8_t nonce[static 12], const uint8_t *ad, size_t ad_len,
		  const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	uint8_t iv[12];
	CK_GCM_PARAMS gcm = {
		.pIv = iv, .ulIvLen = 12, .ulIvBits = 96, .pAAD = (CK_BYTE_PTR)ad, .ulAADLen = ad_len, .ulTagBits = 128,
	};
	CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
	/* Room for the whole input plus a tag, whatever size a module asks
	 * for: a CKR_BUFFER_TOO_SMALL would leave the operation active and
	 * the session stuck. */
	uint8_t buf[KG_P11_MAX + 16];
	CK_ULONG n = sizeof buf;
	CK_RV rv;
	kg_err rc = KG_OK;

	*out_len = 0;
	KG_ENSURE(in_len <= KG_P11_MAX, KG_ERR_INVALID_ARG);
	KG_ENSURE(encrypt ? out_cap >= in_len + 16 : (in_len >= 16 && out_cap >= in_len - 16), KG_ERR_INVALID_ARG);
	memcpy(iv, nonce, 12);
	pthread_mutex_lock(&p->lock);
	if (encrypt) {
		rv = p->f->C_EncryptInit(p->session, &mech, p->key);
		if (rv == CKR_OK)
			rv = p->f->C_Encrypt(p->session, (CK_BYTE_PTR)in, in_len, buf, &n);
	} else {
		rv = p->f->C_DecryptInit(p->session, &mech, p->key);
		if (rv == CKR_OK)
			rv = p->f->C_Decrypt(p->session, (CK_BYTE_PTR)in, in_len, buf, &n);
	}
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK)
		/* A tag that does not verify is a wrong row, not a broken token. */
		rc = !encrypt && (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
				  rv == CKR_GENERAL_ERROR)
			     ? KG_ERR_KEY_UNWRAP
			     : KG_ERR_PKCS11;
	else if (n != (encrypt ? in_len + 16 : in_len - 16))
		rc = KG_ERR_PKCS11;
	if (rc == KG_OK) {
		memcpy(out, buf, n);
		*out_len = n;
	}
	kg_wipe(buf, sizeof buf);
	return rc;
}
