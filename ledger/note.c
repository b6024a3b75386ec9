/*
 * C2SP signed notes (c2sp.org/signed-note): parsing, the verification
 * rules, Ed25519 signatures (type 0x01), timestamped Ed25519 cosignatures
 * (type 0x04, c2sp.org/tlog-cosignature), key IDs, verifier keys and the
 * private-key text form of golang.org/x/mod/sumdb/note.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/util.h"
#include "internal.h"

/* U+2014 EM DASH, U+0020: the start of every signature line. */
static const char sig_prefix[] = "\xE2\x80\x94 ";

/* Longest signature payload we decode: key ID + timestamp + Ed25519
 * signature.  Unknown signature types may be longer (ML-DSA-44 is 2432
 * bytes); they are validated as base64 but only their key ID is kept. */
#define SIG_MAX_B64 4096u
#define SIG_MAX_BYTES (SIG_MAX_B64 / 4 * 3)

uint32_t kg_ledger_key_id(const char *name, uint8_t type, const uint8_t pk[static 32])
{
	crypto_hash_sha256_state st;
	uint8_t h[32], nl = '\n';

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, &nl, 1);
	crypto_hash_sha256_update(&st, &type, 1);
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, h);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

static kg_err hex8(struct kg_cur v, uint32_t *out)
{
	uint8_t b, d;
	uint32_t x = 0;

	KG_ENSURE(kg_cur_left(&v) == 8, KG_ERR_CONFIG);
	while (kg_cur_left(&v) > 0) {
		KG_TRY(kg_cur_u8(&v, &b));
		if (b >= '0' && b <= '9')
			d = (uint8_t)(b - '0');
		else if (b >= 'a' && b <= 'f')
			d = (uint8_t)(b - 'a' + 10);
		else if (b >= 'A' && b <= 'F')
			d = (uint8_t)(b - 'A' + 10);
		else
			return KG_ERR_CONFIG;
		x = x << 4 | d;
	}
	*out = x;
	return KG_OK;
}

/* "<name>+<hex8>+<base64(type || key)>" shared by vkeys and skeys. */
static kg_err parse_key_text(struct kg_cur c, char name[static KG_LEDGER_MAX_NAME + 1], uint32_t *id,
			     uint8_t *type, uint8_t key[static 32])
{
	struct kg_cur vname, vid;
	uint8_t raw[33];
	size_t n;

	KG_ENSURE(kg_ltext_split(&c, '+', &vname) == KG_OK, KG_ERR_CONFIG);
	KG_ENSURE(kg_ltext_split(&c, '+', &vid) == KG_OK, KG_ERR_CONFIG);
	KG_ENSURE(kg_ltext_name_ok(vname), KG_ERR_CONFIG);
	KG_ENSURE(kg_ltext_str(vname, name, KG_LEDGER_MAX_NAME + 1) == KG_OK, KG_ERR_CONFIG);
	KG_TRY(hex8(vid, id));
	KG_ENSURE(kg_ltext_b64(c, raw, sizeof raw, &n) == KG_OK && n == 33, KG_ERR_CONFIG);
	*type = raw[0];
	memcpy(key, raw + 1, 32);
	sodium_memzero(raw, sizeof raw);
	return KG_OK;
}

kg_err kg_ledger_vkey_parse(const char *vkey, struct kg_ledger_key *out)
{
	memset(out, 0, sizeof *out);
	KG_ENSURE(vkey != NULL, KG_ERR_CONFIG);
	KG_TRY(parse_key_text(kg_cur_init((const uint8_t *)vkey, strlen(vkey)), out->name, &out->id, &out->type,
			      out->pk));
	KG_ENSURE(out->type == KG_LEDGER_SIG_ED25519 || out->type == KG_LEDGER_SIG_COSIGN_V1, KG_ERR_CONFIG);
	KG_ENSURE(kg_ledger_key_id(out->name, out->type, out->pk) == out->id, KG_ERR_CONFIG);
	return KG_OK;
}

kg_err kg_ledger_vkey_format(const struct kg_ledger_key *k, char *out, size_t cap)
{
	uint8_t raw[33];
	char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];

	raw[0] = k->type;
	memcpy(raw + 1, k->pk, 32);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
	KG_ENSURE(cap > 0, KG_ERR_INVALID_ARG);
	KG_ENSURE((size_t)snprintf(out, cap, "%s+%08" PRIx32 "+%s", k->name, k->id, b64) < cap, KG_ERR_TOO_LARGE);
	return KG_OK;
}

/* ---- parsing ---- */

static kg_err parse_sig_line(struct kg_cur line, struct kg_ledger_note_sig *sig)
{
	uint8_t *raw = NULL;
	size_t n = 0;
	kg_err rc = KG_ERR_LEDGER_NOTE_MALFORMED;

	KG_ENSURE(kg_ltext_take(&line, sig_prefix), KG_ERR_LEDGER_NOTE_MALFORMED);
	/* The name ends at the first space; the rest is the base64. */
	KG_ENSURE(kg_ltext_split(&line, ' ', &sig->name) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
	KG_ENSURE(kg_ltext_name_ok(sig->name), KG_ERR_LEDGER_NOTE_MALFORMED);
	sig->b64 = line;
	KG_ENSURE(kg_cur_left(&line) > 0 && kg_cur_left(&line) <= SIG_MAX_B64, KG_ERR_LEDGER_NOTE_MALFORMED);
	/* Bounded by SIG_MAX_B64 above. */
	KG_ENSURE((raw = malloc(SIG_MAX_BYTES)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(kg_ltext_b64(line, raw, SIG_MAX_BYTES, &n) == KG_OK && n >= 5, KG_ERR_LEDGER_NOTE_MALFORMED);
	sig->id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
	rc = KG_OK;
out:
	free(raw);
	return rc;
}

kg_err kg_ledger_note_parse(const uint8_t *p, size_t len, struct kg_ledger_note *out)
{
	struct kg_cur all, c, line, sigs;
	size_t off = 0, blank_at = 0, lineno = 0;
	bool have_blank = false;

	memset(out, 0, sizeof *out);
	KG_ENSURE(len <= KG_LEDGER_MAX_NOTE, KG_ERR_TOO_LARGE);
	all = kg_cur_init(p, len);
	KG_ENSURE(kg_ltext_utf8_ok(all) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);

	/* The text ends at the last blank line that follows a line (the last
	 * "\n\n"); it keeps its final newline and not the blank line. */
	c = all;
	while (kg_cur_left(&c) > 0) {
		if (kg_ltext_line(&c, &line) != KG_OK)
			break; /* an unterminated last line: see below */
		if (kg_cur_left(&line) == 0 && lineno > 0) {
			blank_at = off;
			have_blank = true;
		}
		off += kg_cur_left(&line) + 1;
		lineno++;
	}
	KG_ENSURE(have_blank, KG_ERR_LEDGER_NOTE_MALFORMED);
	c = all;
	KG_TRY(kg_cur_sub(&c, &out->text, blank_at));
	KG_TRY(kg_cur_skip(&c, 1));
	sigs = c;
	KG_ENSURE(kg_cur_left(&sigs) > 0, KG_ERR_LEDGER_NOTE_MALFORMED);
	while (kg_cur_left(&sigs) > 0) {
		/* Every signature line, the last included, ends in '\n'. */
		KG_ENSURE(kg_ltext_line(&sigs, &line) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
		KG_ENSURE(out->nsigs < KG_LEDGER_MAX_SIGS, KG_ERR_LEDGER_NOTE_MALFORMED);
		KG_TRY(parse_sig_line(line, &out->sigs[out->nsigs]));
		out->nsigs++;
	}
	return KG_OK;
}

/* ---- verification ---- */

kg_err kg_ledger_cosign_message(struct kg_cur text, uint64_t ts, uint8_t **msg, size_t *len)
{
	char hdr[64];
	int h;
	size_t tlen = kg_cur_left(&text);
	uint8_t *m;

	*msg = NULL;
	*len = 0;
	KG_ENSURE(tlen <= KG_LEDGER_MAX_NOTE, KG_ERR_TOO_LARGE);
	h = snprintf(hdr, sizeof hdr, "cosignature/v1\ntime %" PRIu64 "\n", ts);
	KG_ENSURE(h > 0 && (size_t)h < sizeof hdr, KG_ERR_INTERNAL);
	KG_ENSURE((m = malloc((size_t)h + tlen + 1)) != NULL, KG_ERR_NOMEM);
	memcpy(m, hdr, (size_t)h);
	if (kg_cur_copy(&text, m + h, tlen) != KG_OK) {
		free(m);
		return KG_ERR_INTERNAL;
	}
	*msg = m;
	*len = (size_t)h + tlen;
	return KG_OK;
}

/* Verifies one signature by a known key; fills the timestamp of 0x04. */
static kg_err verify_one(const struct kg_ledger_note *n, const struct kg_ledger_note_sig *sig,
			 const struct kg_ledger_key *k, uint64_t *ts)
{
	uint8_t raw[4 + 8 + 64];
	size_t got;
	struct kg_cur c, text = n->text;
	const uint8_t *t, *s;
	uint8_t *msg = NULL;
	size_t mlen;
	uint64_t stamp;
	int ok;

	*ts = 0;
	KG_ENSURE(kg_ltext_b64(sig->b64, raw, sizeof raw, &got) == KG_OK, KG_ERR_LEDGER_BAD_SIGNATURE);
	c = kg_cur_init(raw, got);
	KG_TRY(kg_cur_skip(&c, 4)); /* key ID, already matched */
	switch (k->type) {
	case KG_LEDGER_SIG_ED25519:
		/* signed-note §Ed25519 signatures: over the note text. */
		KG_ENSURE(kg_cur_left(&c) == 64, KG_ERR_LEDGER_BAD_SIGNATURE);
		KG_TRY(kg_cur_bytes(&c, &s, 64));
		KG_TRY(kg_cur_bytes(&text, &t, kg_cur_left(&text)));
		ok = crypto_sign_ed25519_verify_detached(s, t, kg_cur_left(&n->text), k->pk) == 0;
		KG_ENSURE(ok, KG_ERR_LEDGER_BAD_SIGNATURE);
		return KG_OK;
	case KG_LEDGER_SIG_COSIGN_V1:
		/* tlog-cosignature: timestamped_signature { u64 timestamp;
		 * opaque ed25519_signature[64]; }, timestamp < 2^63. */
		KG_ENSURE(kg_cur_left(&c) == 72, KG_ERR_LEDGER_BAD_SIGNATURE);
		KG_TRY(kg_cur_u64be(&c, &stamp));
		KG_ENSURE(stamp <= (uint64_t)INT64_MAX, KG_ERR_LEDGER_BAD_SIGNATURE);
		KG_TRY(kg_cur_bytes(&c, &s, 64));
		KG_TRY(kg_ledger_cosign_message(n->text, stamp, &msg, &mlen));
		ok = crypto_sign_ed25519_verify_detached(s, msg, mlen, k->pk) == 0;
		free(msg);
		KG_ENSURE(ok, KG_ERR_LEDGER_BAD_SIGNATURE);
		*ts = stamp;
		return KG_OK;
	default:
		return KG_ERR_LEDGER_BAD_SIGNATURE;
	}
}

kg_err kg_ledger_note_verify(const struct kg_ledger_note *n, const struct kg_ledger_key *keys, size_t nkeys,
			     struct kg_ledger_note_check *checks)
{
	size_t verified = 0;
	uint64_t ts;

	for (size_t k = 0; k < nkeys; k++)
		checks[k] = (struct kg_ledger_note_check){0};
	for (size_t i = 0; i < n->nsigs; i++) {
		const struct kg_ledger_note_sig *sig = &n->sigs[i];
		for (size_t k = 0; k < nkeys; k++) {
			/* A key is known only when both name and ID match
			 * (signed-note §Signatures). */
			if (keys[k].id != sig->id || !kg_ltext_eq(sig->name, keys[k].name))
				continue;
			/* Every line of a known key is verified, repeats too:
			 * one bad line rejects the note. */
			KG_TRY(verify_one(n, sig, &keys[k], &ts));
			if (!checks[k].verified)
				verified++;
			checks[k].verified = true;
			if (ts > checks[k].timestamp)
				checks[k].timestamp = ts;
		}
	}
	KG_ENSURE(verified > 0, KG_ERR_LEDGER_UNKNOWN_KEY);
	return KG_OK;
}

/* ---- signing keys ---- */

void kg_ledger_skey_free(struct kg_ledger_skey *sk)
{
	if (sk)
		sodium_free(sk); /* sodium_free wipes */
}

static kg_err skey_alloc(struct kg_ledger_skey **out)
{
	struct kg_ledger_skey *sk;

	*out = NULL;
	KG_ENSURE((sk = sodium_malloc(sizeof *sk)) != NULL, KG_ERR_NOMEM);
	memset(sk, 0, sizeof *sk);
	*out = sk;
	return KG_OK;
}

kg_err kg_ledger_skey_generate(const char *name, uint8_t type, struct kg_ledger_skey **out)
{
	struct kg_ledger_skey *sk = NULL;
	kg_err rc = KG_ERR_INVALID_ARG;
	size_t nlen = strlen(name);

	*out = NULL;
	KG_ENSURE(type == KG_LEDGER_SIG_ED25519 || type == KG_LEDGER_SIG_COSIGN_V1, KG_ERR_INVALID_ARG);
	KG_ENSURE(kg_ltext_name_ok(kg_cur_init((const uint8_t *)name, nlen)), KG_ERR_INVALID_ARG);
	KG_TRY(skey_alloc(&sk));
	randombytes_buf(sk->seed, sizeof sk->seed);
	KG_ENSURE_OUT(crypto_sign_ed25519_seed_keypair(sk->pub.pk, sk->sk, sk->seed) == 0, KG_ERR_CRYPTO);
	memcpy(sk->pub.name, name, nlen + 1);
	sk->pub.type = type;
	sk->pub.id = kg_ledger_key_id(name, type, sk->pub.pk);
	*out = sk;
	sk = NULL;
	rc = KG_OK;
out:
	kg_ledger_skey_free(sk);
	return rc;
}

kg_err kg_ledger_skey_parse(const uint8_t *p, size_t len, struct kg_ledger_skey **out)
{
	struct kg_ledger_skey *sk = NULL;
	struct kg_cur c = kg_cur_init(p, len);
	kg_err rc = KG_ERR_CONFIG;

	*out = NULL;
	KG_ENSURE(len <= 1024, KG_ERR_CONFIG);
	/* Tolerate one trailing newline, as files usually have. */
	if (len > 0) {
		struct kg_cur probe = c, line;
		if (kg_ltext_line(&probe, &line) == KG_OK && kg_cur_left(&probe) == 0)
			c = line;
	}
	KG_ENSURE(kg_ltext_take(&c, "PRIVATE+KEY+"), KG_ERR_CONFIG);
	KG_TRY(skey_alloc(&sk));
	KG_TRY_OUT(parse_key_text(c, sk->pub.name, &sk->pub.id, &sk->pub.type, sk->seed));
	KG_ENSURE_OUT(sk->pub.type == KG_LEDGER_SIG_ED25519 || sk->pub.type == KG_LEDGER_SIG_COSIGN_V1,
		      KG_ERR_CONFIG);
	KG_ENSURE_OUT(crypto_sign_ed25519_seed_keypair(sk->pub.pk, sk->sk, sk->seed) == 0, KG_ERR_CRYPTO);
	KG_ENSURE_OUT(kg_ledger_key_id(sk->pub.name, sk->pub.type, sk->pub.pk) == sk->pub.id, KG_ERR_CONFIG);
	*out = sk;
	sk = NULL;
	rc = KG_OK;
out:
	kg_ledger_skey_free(sk);
	return rc;
}

kg_err kg_ledger_skey_format(const struct kg_ledger_skey *sk, char **out)
{
	enum { B64 = sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL) };
	size_t cap = 12 + KG_LEDGER_MAX_NAME + 1 + 8 + 1 + B64 + 2;
	char *s = NULL;
	uint8_t *raw = NULL;
	char *b64 = NULL;
	kg_err rc = KG_ERR_NOMEM;

	*out = NULL;
	/* The seed and its encodings live in guarded memory only. */
	if (!(s = sodium_malloc(cap)) || !(raw = sodium_malloc(33)) || !(b64 = sodium_malloc(B64)))
		goto out;
	raw[0] = sk->pub.type;
	memcpy(raw + 1, sk->seed, 32);
	sodium_bin2base64(b64, B64, raw, 33, sodium_base64_VARIANT_ORIGINAL);
	KG_ENSURE_OUT((size_t)snprintf(s, cap, "PRIVATE+KEY+%s+%08" PRIx32 "+%s\n", sk->pub.name, sk->pub.id, b64) <
			      cap,
		      KG_ERR_INTERNAL);
	*out = s;
	s = NULL;
	rc = KG_OK;
out:
	if (s)
		sodium_free(s);
	if (raw)
		sodium_free(raw);
	if (b64)
		sodium_free(b64);
	return rc;
}

kg_err kg_ledger_sign_line(const struct kg_ledger_skey *sk, const uint8_t *text, size_t len, uint64_t ts,
			   char *line, size_t cap)
{
	uint8_t raw[4 + 8 + 64];
	size_t rlen = 0;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	char b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL)];
	kg_err rc;

	KG_ENSURE(cap > 0, KG_ERR_INVALID_ARG);
	line[0] = 0;
	raw[0] = (uint8_t)(sk->pub.id >> 24), raw[1] = (uint8_t)(sk->pub.id >> 16);
	raw[2] = (uint8_t)(sk->pub.id >> 8), raw[3] = (uint8_t)sk->pub.id;
	if (sk->pub.type == KG_LEDGER_SIG_ED25519) {
		KG_ENSURE(crypto_sign_ed25519_detached(raw + 4, NULL, text, len, sk->sk) == 0, KG_ERR_CRYPTO);
		rlen = 4 + 64;
	} else {
		KG_ENSURE(ts <= (uint64_t)INT64_MAX, KG_ERR_INVALID_ARG);
		for (int i = 0; i < 8; i++)
			raw[4 + i] = (uint8_t)(ts >> (56 - 8 * i));
		KG_TRY(kg_ledger_cosign_message(kg_cur_init(text, len), ts, &msg, &mlen));
		rc = crypto_sign_ed25519_detached(raw + 12, NULL, msg, mlen, sk->sk) == 0 ? KG_OK : KG_ERR_CRYPTO;
		free(msg);
		KG_TRY(rc);
		rlen = 4 + 8 + 64;
	}
	sodium_bin2base64(b64, sizeof b64, raw, rlen, sodium_base64_VARIANT_ORIGINAL);
	KG_ENSURE((size_t)snprintf(line, cap, "%s%s %s\n", sig_prefix, sk->pub.name, b64) < cap, KG_ERR_TOO_LARGE);
	return KG_OK;
}
