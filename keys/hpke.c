/*
 * HPKE, RFC 9180, base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
 * AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305.
 *
 * Which library does what, and why:
 * - X25519 (RFC 7748) and HMAC-SHA256 come from libsodium.  Its scalar
 *   multiply needs no allocation and itself reports an all-zero result;
 *   its HMAC streams, so LabeledExtract / LabeledExpand feed the label
 *   pieces and the caller's info straight in, with no buffer sized by the
 *   caller and no length cap (OpenSSL 3.0's EVP_KDF "HKDF" wants the
 *   labelled input in one buffer and caps info at 32 KiB).  libsodium
 *   1.0.18 has no HKDF API, so HKDF-Extract and HKDF-Expand (RFC 5869
 *   §2.2, §2.3) are written here over its HMAC: one HMAC call and a
 *   counter loop, checked against every RFC 9180 test vector.
 * - The AEADs and the random bytes come from OpenSSL 3.0 (EVP_aes_*_gcm,
 *   EVP_chacha20_poly1305, RAND_priv_bytes): libsodium's AES-GCM needs
 *   AES-NI, and RAND_priv_bytes reports failure instead of aborting.
 *
 * Every buffer that held a secret is wiped with kg_wipe on every path.
 */
#include "hpke.h"

#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "../common/util.h"

#define NH 32 /* HKDF-SHA256 Nh (RFC 9180 §7.2) */
#define NSECRET 32 /* DHKEM(X25519, HKDF-SHA256) Nsecret (§7.1) */
#define NDH 32 /* X25519 output */
#define MODE_BASE 0x00 /* §5, Table 1 */

/* A label is ASCII without its terminator (§4). */
struct label {
	const uint8_t *p;
	size_t n;
};
#define LABEL(s) ((struct label){(const uint8_t *)(s), sizeof(s) - 1})

/* suite_id (§4.1 for the KEM, §5.1 for the key schedule); at most 10 bytes. */
struct suite_id {
	uint8_t b[10];
	size_t n;
};

/* Non-NULL stand-in for an empty input: libsodium's HMAC prototypes are
 * declared nonnull even for zero lengths. */
static const uint8_t empty[1];

/* p, or the stand-in when p is NULL (its length is then 0). */
static const uint8_t *nonnull(const uint8_t *p) { return p ? p : empty; }

/* suite_id = "KEM" || I2OSP(kem_id, 2)   (§4.1) */
static struct suite_id suite_kem(void)
{
	struct suite_id s = {{'K', 'E', 'M', KG_HPKE_KEM_X25519_SHA256 >> 8, KG_HPKE_KEM_X25519_SHA256 & 0xff}, 5};
	return s;
}

/* suite_id = "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)   (§5.1) */
static struct suite_id suite_hpke(uint16_t aead)
{
	struct suite_id s = {{'H', 'P', 'K', 'E', KG_HPKE_KEM_X25519_SHA256 >> 8, KG_HPKE_KEM_X25519_SHA256 & 0xff,
			      KG_HPKE_KDF_HKDF_SHA256 >> 8, KG_HPKE_KDF_HKDF_SHA256 & 0xff, (uint8_t)(aead >> 8),
			      (uint8_t)(aead & 0xff)},
			     10};
	return s;
}

/* Nk of a supported AEAD (§7.3, Table 5); 0 when unsupported. */
static size_t aead_nk(uint16_t aead)
{
	switch (aead) {
	case KG_HPKE_AEAD_AES_128_GCM:
		return 16;
	case KG_HPKE_AEAD_AES_256_GCM:
	case KG_HPKE_AEAD_CHACHA20_POLY1305:
		return 32;
	}
	return 0;
}

/* The OpenSSL cipher for a supported AEAD; NULL when unsupported. */
static const EVP_CIPHER *aead_cipher(uint16_t aead)
{
	switch (aead) {
	case KG_HPKE_AEAD_AES_128_GCM:
		return EVP_aes_128_gcm();
	case KG_HPKE_AEAD_AES_256_GCM:
		return EVP_aes_256_gcm();
	case KG_HPKE_AEAD_CHACHA20_POLY1305:
		return EVP_chacha20_poly1305();
	}
	return NULL;
}

/* Contract in hpke.h. */
int kg_hpke_aead_supported(uint16_t aead) { return aead_nk(aead) != 0; }

/* libsodium must be initialised before use; sodium_init() is idempotent
 * and thread-safe, so every entry point that calls into libsodium asks. */
static kg_err sodium_ready(void) { return sodium_init() < 0 ? KG_ERR_CRYPTO : KG_OK; }

/*
 * LabeledExtract(salt, label, ikm) = HKDF-Extract(salt, "HPKE-v1" || suite_id || label || ikm)   (§4)
 * HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM)   (RFC 5869 §2.2)
 * An empty salt is an empty HMAC key, which HMAC pads with zeros; that
 * equals RFC 5869's default of Nh zero bytes.  Cannot fail.
 */
static void labeled_extract(const struct suite_id *suite, const uint8_t *salt, size_t salt_len, struct label label,
			    const uint8_t *ikm, size_t ikm_len, uint8_t prk[static NH])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, nonnull(salt), salt_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"HPKE-v1", 7);
	crypto_auth_hmacsha256_update(&st, suite->b, suite->n);
	crypto_auth_hmacsha256_update(&st, label.p, label.n);
	crypto_auth_hmacsha256_update(&st, nonnull(ikm), ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	kg_wipe(&st, sizeof st);
}

/*
 * LabeledExpand(prk, label, info, L) =
 *     HKDF-Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)   (§4)
 * HKDF-Expand: T(0) = "", T(i) = HMAC-Hash(PRK, T(i-1) || info || I2OSP(i, 1)),
 * OKM = first L bytes of T(1) || T(2) || ...; L <= 255 * Nh   (RFC 5869 §2.3)
 * KG_ERR_INVALID_ARG when L is out of range, before anything is written.
 */
static kg_err labeled_expand(const struct suite_id *suite, const uint8_t prk[static NH], struct label label,
			     const uint8_t *info, size_t info_len, uint8_t *out, size_t L)
{
	crypto_auth_hmacsha256_state st;
	uint8_t t[NH];
	uint8_t l2[2] = {(uint8_t)(L >> 8), (uint8_t)(L & 0xff)};
	size_t done = 0;
	unsigned i;

	KG_ENSURE(L <= 255 * NH, KG_ERR_INVALID_ARG);
	KG_ENSURE(out != NULL || L == 0, KG_ERR_INVALID_ARG);
	for (i = 1; done < L; i++) {
		uint8_t ctr = (uint8_t)i;
		size_t take = L - done < NH ? L - done : NH;

		crypto_auth_hmacsha256_init(&st, prk, NH);
		if (i > 1)
			crypto_auth_hmacsha256_update(&st, t, NH);
		crypto_auth_hmacsha256_update(&st, l2, sizeof l2);
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)"HPKE-v1", 7);
		crypto_auth_hmacsha256_update(&st, suite->b, suite->n);
		crypto_auth_hmacsha256_update(&st, label.p, label.n);
		crypto_auth_hmacsha256_update(&st, nonnull(info), info_len);
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		memcpy(out + done, t, take);
		done += take;
	}
	kg_wipe(&st, sizeof st);
	kg_wipe(t, sizeof t);
	return KG_OK;
}

/* pk = X25519(sk, 9), RFC 7748 §6.1 (the scalar is clamped inside). */
static kg_err x25519_base(uint8_t pk[static KG_HPKE_NPK], const uint8_t sk[static KG_HPKE_NSK])
{
	KG_ENSURE(crypto_scalarmult_curve25519_base(pk, sk) == 0, KG_ERR_CRYPTO);
	return KG_OK;
}

/*
 * dh = X25519(sk, pk).  RFC 9180 §7.1.4: an all-zero result (pk of low
 * order) MUST abort: KG_ERR_HPKE_DH.  libsodium returns -1 for it; the
 * constant-time zero test repeats the check so the MUST does not rest on
 * one library's behaviour.  dh is cleared on failure.
 */
static kg_err x25519_dh(uint8_t dh[static NDH], const uint8_t sk[static KG_HPKE_NSK],
			const uint8_t pk[static KG_HPKE_NPK])
{
	if (crypto_scalarmult_curve25519(dh, sk, pk) != 0 || sodium_is_zero(dh, NDH)) {
		kg_wipe(dh, NDH);
		return KG_ERR_HPKE_DH;
	}
	return KG_OK;
}

/*
 * ExtractAndExpand(dh, kem_context), kem_context = enc || pkR   (§4.1)
 *   eae_prk = LabeledExtract("", "eae_prk", dh)
 *   shared_secret = LabeledExpand(eae_prk, "shared_secret", kem_context, Nsecret)
 */
static kg_err extract_and_expand(const uint8_t dh[static NDH], const uint8_t enc[static KG_HPKE_NENC],
				 const uint8_t pkR[static KG_HPKE_NPK], uint8_t ss[static NSECRET])
{
	struct suite_id suite = suite_kem();
	uint8_t eae_prk[NH];
	uint8_t kem_context[KG_HPKE_NENC + KG_HPKE_NPK];
	kg_err rc = KG_ERR_INTERNAL;

	memcpy(kem_context, enc, KG_HPKE_NENC);
	memcpy(kem_context + KG_HPKE_NENC, pkR, KG_HPKE_NPK);
	labeled_extract(&suite, NULL, 0, LABEL("eae_prk"), dh, NDH, eae_prk);
	rc = labeled_expand(&suite, eae_prk, LABEL("shared_secret"), kem_context, sizeof kem_context, ss, NSECRET);
	kg_wipe(eae_prk, sizeof eae_prk);
	return rc;
}

/*
 * KeySchedule for mode_base with psk = psk_id = "" (§5.1).  Fills ctx and
 * sets seq = 0.  The caller clears ctx on failure.
 */
static kg_err key_schedule(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t ss[static NSECRET],
			   const uint8_t *info, size_t info_len)
{
	struct suite_id suite = suite_hpke(aead);
	uint8_t ksc[1 + 2 * NH]; /* mode || psk_id_hash || info_hash */
	uint8_t secret[NH];
	kg_err rc = KG_ERR_INTERNAL;

	ksc[0] = MODE_BASE;
	labeled_extract(&suite, NULL, 0, LABEL("psk_id_hash"), NULL, 0, ksc + 1);
	labeled_extract(&suite, NULL, 0, LABEL("info_hash"), info, info_len, ksc + 1 + NH);
	/* secret = LabeledExtract(shared_secret, "secret", psk), psk = "" */
	labeled_extract(&suite, ss, NSECRET, LABEL("secret"), NULL, 0, secret);

	ctx->aead = aead;
	ctx->seq = 0;
	KG_TRY_OUT(labeled_expand(&suite, secret, LABEL("key"), ksc, sizeof ksc, ctx->key, aead_nk(aead)));
	KG_TRY_OUT(labeled_expand(&suite, secret, LABEL("base_nonce"), ksc, sizeof ksc, ctx->base_nonce,
				  KG_HPKE_NN));
	KG_TRY_OUT(labeled_expand(&suite, secret, LABEL("exp"), ksc, sizeof ksc, ctx->exporter_secret, NH));
out:
	kg_wipe(secret, sizeof secret);
	kg_wipe(ksc, sizeof ksc);
	return rc;
}

/* GenerateKeyPair (§4); contract in hpke.h. */
kg_err kg_hpke_keygen(uint8_t sk[static KG_HPKE_NSK], uint8_t pk[static KG_HPKE_NPK])
{
	kg_err rc = KG_ERR_INTERNAL;

	memset(pk, 0, KG_HPKE_NPK);
	/* GenerateKeyPair (§4): any 32 random bytes are an X25519 private
	 * key (RFC 7748 §6.1); the scalar is clamped when it is used. */
	KG_ENSURE_OUT(RAND_priv_bytes(sk, KG_HPKE_NSK) == 1, KG_ERR_RANDOM);
	KG_TRY_OUT(sodium_ready());
	KG_TRY_OUT(x25519_base(pk, sk));
out:
	if (rc != KG_OK) {
		kg_wipe(sk, KG_HPKE_NSK);
		memset(pk, 0, KG_HPKE_NPK);
	}
	return rc;
}

/* DeriveKeyPair (§7.1.3); contract in hpke.h. */
kg_err kg_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[static KG_HPKE_NSK],
			      uint8_t pk[static KG_HPKE_NPK])
{
	struct suite_id suite = suite_kem();
	uint8_t dkp_prk[NH];
	kg_err rc = KG_ERR_INVALID_ARG;

	memset(sk, 0, KG_HPKE_NSK);
	memset(pk, 0, KG_HPKE_NPK);
	/* §7.1.3: ikm SHOULD be at least Nsk bytes long; shorter is refused. */
	KG_ENSURE(ikm != NULL && ikm_len >= KG_HPKE_NSK, KG_ERR_INVALID_ARG);
	KG_TRY(sodium_ready());
	/* DeriveKeyPair for X25519 (§7.1.3):
	 *   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
	 *   sk = LabeledExpand(dkp_prk, "sk", "", Nsk) */
	labeled_extract(&suite, NULL, 0, LABEL("dkp_prk"), ikm, ikm_len, dkp_prk);
	KG_TRY_OUT(labeled_expand(&suite, dkp_prk, LABEL("sk"), NULL, 0, sk, KG_HPKE_NSK));
	KG_TRY_OUT(x25519_base(pk, sk));
out:
	kg_wipe(dkp_prk, sizeof dkp_prk);
	if (rc != KG_OK) {
		kg_wipe(sk, KG_HPKE_NSK);
		memset(pk, 0, KG_HPKE_NPK);
	}
	return rc;
}

/* SetupBaseS (§5.1.1) = Encap (§4.1) + KeySchedule (§5.1); contract in hpke.h. */
kg_err kg_hpke_setup_s(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t pkR[static KG_HPKE_NPK],
		       const uint8_t *info, size_t info_len, const uint8_t *skE, uint8_t enc[static KG_HPKE_NENC])
{
	uint8_t ske[KG_HPKE_NSK];
	uint8_t dh[NDH];
	uint8_t ss[NSECRET];
	kg_err rc = KG_ERR_INVALID_ARG;

	KG_ENSURE(ctx != NULL, KG_ERR_INVALID_ARG);
	kg_hpke_ctx_wipe(ctx);
	memset(ske, 0, sizeof ske);
	memset(dh, 0, sizeof dh);
	memset(ss, 0, sizeof ss);
	memset(enc, 0, KG_HPKE_NENC);
	KG_ENSURE_OUT(aead_nk(aead) != 0, KG_ERR_HPKE_SUITE);
	KG_ENSURE_OUT(info != NULL || info_len == 0, KG_ERR_INVALID_ARG);
	KG_TRY_OUT(sodium_ready());

	/* Encap(pkR), §4.1:
	 *   skE, pkE = GenerateKeyPair(); dh = DH(skE, pkR); enc = pkE
	 *   shared_secret = ExtractAndExpand(dh, enc || pkR) */
	if (skE != NULL) {
		memcpy(ske, skE, sizeof ske);
		KG_TRY_OUT(x25519_base(enc, ske));
	} else {
		KG_TRY_OUT(kg_hpke_keygen(ske, enc));
	}
	KG_TRY_OUT(x25519_dh(dh, ske, pkR));
	KG_TRY_OUT(extract_and_expand(dh, enc, pkR, ss));
	KG_TRY_OUT(key_schedule(ctx, aead, ss, info, info_len));
out:
	kg_wipe(ske, sizeof ske);
	kg_wipe(dh, sizeof dh);
	kg_wipe(ss, sizeof ss);
	if (rc != KG_OK) {
		kg_hpke_ctx_wipe(ctx);
		memset(enc, 0, KG_HPKE_NENC);
	}
	return rc;
}

/* SetupBaseR (§5.1.1) = Decap (§4.1) + KeySchedule (§5.1); contract in hpke.h. */
kg_err kg_hpke_setup_r(struct kg_hpke_ctx *ctx, uint16_t aead, const uint8_t skR[static KG_HPKE_NSK],
		       const uint8_t enc[static KG_HPKE_NENC], const uint8_t *info, size_t info_len)
{
	uint8_t pkR[KG_HPKE_NPK];
	uint8_t dh[NDH];
	uint8_t ss[NSECRET];
	kg_err rc = KG_ERR_INVALID_ARG;

	KG_ENSURE(ctx != NULL, KG_ERR_INVALID_ARG);
	kg_hpke_ctx_wipe(ctx);
	memset(dh, 0, sizeof dh);
	memset(ss, 0, sizeof ss);
	KG_ENSURE_OUT(aead_nk(aead) != 0, KG_ERR_HPKE_SUITE);
	KG_ENSURE_OUT(info != NULL || info_len == 0, KG_ERR_INVALID_ARG);
	KG_TRY_OUT(sodium_ready());

	/* Decap(enc, skR), §4.1:
	 *   dh = DH(skR, pkE); shared_secret = ExtractAndExpand(dh, enc || pk(skR)) */
	KG_TRY_OUT(x25519_dh(dh, skR, enc));
	KG_TRY_OUT(x25519_base(pkR, skR));
	KG_TRY_OUT(extract_and_expand(dh, enc, pkR, ss));
	KG_TRY_OUT(key_schedule(ctx, aead, ss, info, info_len));
out:
	kg_wipe(dh, sizeof dh);
	kg_wipe(ss, sizeof ss);
	if (rc != KG_OK)
		kg_hpke_ctx_wipe(ctx);
	return rc;
}

/* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn)   (§5.2) */
static void compute_nonce(const struct kg_hpke_ctx *ctx, uint8_t nonce[static KG_HPKE_NN])
{
	unsigned i;

	memcpy(nonce, ctx->base_nonce, KG_HPKE_NN);
	for (i = 0; i < 8; i++)
		nonce[KG_HPKE_NN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

/*
 * The checks seal and open share: a set-up context and a sequence number
 * that may still be used.  §5.2 raises MessageLimitReachedError at
 * seq = 2^96 - 1; seq is a uint64_t here, so the limit is UINT64_MAX and
 * IncrementSeq can never wrap.  A used-up context is the caller's misuse:
 * KG_ERR_INVALID_ARG.
 */
static kg_err ctx_usable(const struct kg_hpke_ctx *ctx)
{
	KG_ENSURE(ctx != NULL && aead_nk(ctx->aead) != 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(ctx->seq < UINT64_MAX, KG_ERR_INVALID_ARG);
	return KG_OK;
}

/* One AEAD operation.  EVP takes int lengths, hence the INT_MAX limits
 * (well below the AEADs' own limits, RFC 5116 §5). */
static kg_err aead_seal(uint16_t aead, const uint8_t *key, const uint8_t nonce[static KG_HPKE_NN], const uint8_t *aad,
			size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t fin[EVP_MAX_BLOCK_LENGTH]; /* Final of an AEAD stream cipher writes nothing */
	int n = 0;
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE(aad_len <= INT_MAX && pt_len <= INT_MAX - KG_HPKE_NT, KG_ERR_TOO_LARGE);
	KG_ENSURE_OUT((c = EVP_CIPHER_CTX_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(EVP_EncryptInit_ex(c, aead_cipher(aead), NULL, NULL, NULL) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, KG_HPKE_NN, NULL) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1, KG_ERR_CRYPTO);
	if (aad_len > 0)
		KG_ENSURE_OUT(EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1, KG_ERR_CRYPTO);
	if (pt_len > 0) {
		KG_ENSURE_OUT(EVP_EncryptUpdate(c, ct, &n, pt, (int)pt_len) == 1 && (size_t)n == pt_len,
			      KG_ERR_CRYPTO);
	}
	KG_ENSURE_OUT(EVP_EncryptFinal_ex(c, fin, &n) == 1 && n == 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, KG_HPKE_NT, ct + pt_len) == 1, KG_ERR_CRYPTO);
	rc = KG_OK;
out:
	EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
	if (rc != KG_OK)
		kg_wipe(ct, pt_len + KG_HPKE_NT);
	return rc;
}

/* The tag is checked by OpenSSL in constant time in DecryptFinal; on any
 * failure the plaintext written so far is wiped, never released. */
static kg_err aead_open(uint16_t aead, const uint8_t *key, const uint8_t nonce[static KG_HPKE_NN], const uint8_t *aad,
			size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t tag[KG_HPKE_NT];
	uint8_t fin[EVP_MAX_BLOCK_LENGTH]; /* Final of an AEAD stream cipher writes nothing */
	size_t pt_len;
	int n = 0;
	kg_err rc = KG_ERR_CRYPTO;

	KG_ENSURE(ct_len >= KG_HPKE_NT, KG_ERR_HPKE_OPEN);
	KG_ENSURE(aad_len <= INT_MAX && ct_len <= INT_MAX, KG_ERR_TOO_LARGE);
	pt_len = ct_len - KG_HPKE_NT;
	memcpy(tag, ct + pt_len, KG_HPKE_NT);
	KG_ENSURE_OUT((c = EVP_CIPHER_CTX_new()) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(EVP_DecryptInit_ex(c, aead_cipher(aead), NULL, NULL, NULL) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, KG_HPKE_NN, NULL) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1, KG_ERR_CRYPTO);
	if (aad_len > 0)
		KG_ENSURE_OUT(EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1, KG_ERR_CRYPTO);
	if (pt_len > 0) {
		KG_ENSURE_OUT(EVP_DecryptUpdate(c, pt, &n, ct, (int)pt_len) == 1 && (size_t)n == pt_len,
			      KG_ERR_CRYPTO);
	}
	KG_ENSURE_OUT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, KG_HPKE_NT, tag) == 1, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(EVP_DecryptFinal_ex(c, fin, &n) == 1 && n == 0, KG_ERR_HPKE_OPEN);
	rc = KG_OK;
out:
	EVP_CIPHER_CTX_free(c);
	if (rc != KG_OK && pt_len > 0)
		kg_wipe(pt, pt_len);
	return rc;
}

/* ContextS.Seal (§5.2); contract in hpke.h. */
kg_err kg_hpke_seal(struct kg_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
		    uint8_t *ct)
{
	uint8_t nonce[KG_HPKE_NN];
	kg_err rc = KG_ERR_INTERNAL;

	KG_TRY(ctx_usable(ctx));
	KG_ENSURE(ct != NULL && (aad != NULL || aad_len == 0) && (pt != NULL || pt_len == 0), KG_ERR_INVALID_ARG);
	/* ContextS.Seal (§5.2): Seal(key, ComputeNonce(seq), aad, pt); IncrementSeq() */
	compute_nonce(ctx, nonce);
	rc = aead_seal(ctx->aead, ctx->key, nonce, aad, aad_len, pt, pt_len, ct);
	kg_wipe(nonce, sizeof nonce);
	if (rc == KG_OK)
		ctx->seq++;
	return rc;
}

/* ContextR.Open (§5.2); contract in hpke.h. */
kg_err kg_hpke_open(struct kg_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
		    uint8_t *pt)
{
	uint8_t nonce[KG_HPKE_NN];
	kg_err rc = KG_ERR_INTERNAL;

	KG_TRY(ctx_usable(ctx));
	KG_ENSURE(ct != NULL && (aad != NULL || aad_len == 0), KG_ERR_INVALID_ARG);
	KG_ENSURE(ct_len >= KG_HPKE_NT, KG_ERR_HPKE_OPEN);
	KG_ENSURE(pt != NULL || ct_len == KG_HPKE_NT, KG_ERR_INVALID_ARG);
	/* ContextR.Open (§5.2): the sequence number moves only on success. */
	compute_nonce(ctx, nonce);
	rc = aead_open(ctx->aead, ctx->key, nonce, aad, aad_len, ct, ct_len, pt);
	kg_wipe(nonce, sizeof nonce);
	if (rc == KG_OK)
		ctx->seq++;
	return rc;
}

/* Context.Export (§5.3); contract in hpke.h. */
kg_err kg_hpke_export(const struct kg_hpke_ctx *ctx, const uint8_t *exp_ctx, size_t exp_ctx_len, uint8_t *out,
		      size_t out_len)
{
	struct suite_id suite;

	KG_ENSURE(ctx != NULL && aead_nk(ctx->aead) != 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(exp_ctx != NULL || exp_ctx_len == 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(out != NULL || out_len == 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(out_len <= KG_HPKE_EXPORT_MAX, KG_ERR_INVALID_ARG);
	KG_TRY(sodium_ready());
	/* Context.Export (§5.3) = LabeledExpand(exporter_secret, "sec", exporter_context, L) */
	suite = suite_hpke(ctx->aead);
	return labeled_expand(&suite, ctx->exporter_secret, LABEL("sec"), exp_ctx, exp_ctx_len, out, out_len);
}

/* Contract in hpke.h. */
void kg_hpke_ctx_wipe(struct kg_hpke_ctx *ctx)
{
	if (ctx)
		kg_wipe(ctx, sizeof *ctx);
}

/* SealBase (§6.1); contract in hpke.h. */
kg_err kg_hpke_seal_base(uint16_t aead, const uint8_t pkR[static KG_HPKE_NPK], const uint8_t *info, size_t info_len,
			 const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
			 uint8_t enc[static KG_HPKE_NENC], uint8_t *ct)
{
	struct kg_hpke_ctx ctx;
	kg_err rc = KG_ERR_INTERNAL;

	/* SealBase (§6.1): SetupBaseS then one Seal. */
	KG_TRY_OUT(kg_hpke_setup_s(&ctx, aead, pkR, info, info_len, NULL, enc));
	KG_TRY_OUT(kg_hpke_seal(&ctx, aad, aad_len, pt, pt_len, ct));
out:
	kg_hpke_ctx_wipe(&ctx);
	if (rc != KG_OK)
		memset(enc, 0, KG_HPKE_NENC);
	return rc;
}

/* OpenBase (§6.1); contract in hpke.h. */
kg_err kg_hpke_open_base(uint16_t aead, const uint8_t skR[static KG_HPKE_NSK], const uint8_t enc[static KG_HPKE_NENC],
			 const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
			 size_t ct_len, uint8_t *pt)
{
	struct kg_hpke_ctx ctx;
	kg_err rc = KG_ERR_INTERNAL;

	/* OpenBase (§6.1): SetupBaseR then one Open. */
	KG_TRY_OUT(kg_hpke_setup_r(&ctx, aead, skR, enc, info, info_len));
	KG_TRY_OUT(kg_hpke_open(&ctx, aad, aad_len, ct, ct_len, pt));
out:
	kg_hpke_ctx_wipe(&ctx);
	return rc;
}
