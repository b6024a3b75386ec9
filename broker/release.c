/*
 * One release, start to finish (docs/protocol.md §Release):
 * cheap checks on the certificate and claims first, then the evidence,
 * then the database, then the decision.  The key is sealed before the
 * audit row is written and sent only after that row is committed, so an
 * audit "grant" always means "sealed and handed to the connection", and a
 * key never leaves without its row.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "../attest/ratls.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../keys/hpke.h"
#include "../keys/session.h"
#include "../attest/nvgpu.h"
#include "broker.h"
#include "ratelimit.h"

/* Client certificates are made just before use; allow for clock skew. */
#define KG_CERT_SKEW 300

void kg_reply_error(struct kg_reply *out, kg_err e, const uint8_t *request_id)
{
	char rid[37] = "";
	json_t *o;

	if (request_id)
		kg_uuid_str(rid, request_id);
	o = json_pack("{s:s,s:s}", "error", kg_err_code(e), "message", kg_err_msg(e));
	if (o && request_id)
		json_object_set_new(o, "request_id", json_string(rid));
	out->status = kg_err_http(e);
	out->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
}

static char *b64(const uint8_t *b, size_t n)
{
	size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);

	if (s)
		sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* Everything the flow learns, for the audit row and the answer. */
struct release_state {
	uint8_t request_id[16];
	struct kg_release_req req;
	struct kg_ratls cert;
	struct kg_ratls_claims rclaims;
	struct kg_claims claims;
	bool have_cert, have_claims;
	struct kg_key_record key;
	struct kg_decision decision;
	/* The sealed key, ready to send once audited. */
	uint8_t enc[KG_HPKE_NENC];
	uint8_t ct[KG_KEY_MAX + KG_HPKE_NT];
	size_t ct_len;
	uint32_t version;
	/* Per ledger the key's policies name (st->key.ledgers order). */
	struct kg_ledger_result *ledger_results;
	struct kg_ledger_verdict *ledger_verdicts;
	char *ledger_json;
	/* The GPUs' evidence as judged (claims.gpus points here). */
	struct kg_gpu_summary gpus;
	char *gpus_json;
};

/* Checks everything that needs no database, cheapest first, then
 * verifies the evidence.  Fills st->claims on success. */
static kg_err judge_evidence(struct kg_broker *b, struct release_state *st, const uint8_t *cert_der, size_t cert_len,
			     time_t now)
{
	uint8_t h[32];
	enum kg_tee tee;
	int ok;

	KG_ENSURE(cert_der != NULL && cert_len > 0, KG_ERR_NO_CLIENT_CERT);
	KG_TRY(kg_ratls_parse_cert(cert_der, cert_len, &st->cert));
	st->have_cert = true;
	KG_ENSURE(now + KG_CERT_SKEW >= st->cert.not_before && now <= st->cert.not_after, KG_ERR_CERT_EXPIRED);
	KG_TRY(kg_ratls_parse_claims(st->cert.claims, st->cert.claims_len, &st->rclaims));
	/* The claims commit to the key the TLS handshake proved possession of. */
	KG_TRY(kg_ratls_check_pubkey(&st->rclaims, st->cert.spki, st->cert.spki_len));
	KG_ENSURE(st->rclaims.has_nonce, KG_ERR_CHALLENGE_MISSING);
	KG_TRY(kg_challenge_check(b->challenge_key, st->rclaims.nonce, st->rclaims.nonce_len, now,
				  b->cfg->challenge_ttl));
	KG_ENSURE(st->rclaims.has_hpke_pk, KG_ERR_BINDING_HPKE_KEY);
	tee = kg_attest_tee_for_tag(st->cert.tag);
	KG_ENSURE(tee != KG_TEE_NONE, KG_ERR_RATLS_UNKNOWN_TAG);
	KG_TRY(kg_attest_verify(b->attest, tee, st->cert.evidence, st->cert.evidence_len, NULL, now, &st->claims));
	/* The hardware commits to the claims: REPORT_DATA = SHA-256(claims) || 0^32. */
	KG_ENSURE(EVP_Digest(st->cert.claims, st->cert.claims_len, h, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	ok = CRYPTO_memcmp(h, st->claims.report_data, 32) == 0;
	for (int i = 32; i < 64; i++)
		ok &= st->claims.report_data[i] == 0;
	KG_ENSURE(ok, KG_ERR_BINDING_REPORT_DATA);
	/* Only now are the claims this requester's: a genuine report that
	 * binds someone else's claims must not be audited as this request's. */
	st->have_claims = true;
	return KG_OK;
}

/* After a grant: the version to release under the policy that granted
 * (model keys, and session keys asked for a session id; a fresh random
 * session key has no version).  Model keys ignore a session id: one
 * request body serves every key a CVM asks for.  Sets st->version. */
static kg_err choose_version(struct release_state *st)
{
	struct kg_version_info infos[KG_KEY_VERSIONS_MAX];
	const struct kg_policy *p = NULL;

	for (size_t i = 0; i < st->key.n_policies; i++)
		if (st->key.policies[i].id == st->decision.policy_id)
			p = &st->key.policies[i];
	KG_ENSURE(p != NULL, KG_ERR_INTERNAL);
	if (!st->key.is_model && st->req.session_id_len == 0) {
		/* A version of a key made fresh for this answer means nothing. */
		KG_ENSURE(st->req.version == 0, KG_ERR_BAD_REQUEST);
		st->version = 0;
		return KG_OK;
	}
	for (size_t i = 0; i < st->key.n_versions; i++)
		infos[i] = st->key.versions[i].info;
	return kg_policy_pick_version(p, infos, st->key.n_versions, st->req.version, &st->version);
}

/* Unwraps the stored key (a model key, or a session key's root for a
 * session id) with the KEK its row names, or draws a fresh session key,
 * and seals it to the CVM's HPKE key.  Every plaintext copy is in this
 * thread's guarded memory and wiped before returning. */
static kg_err seal_key(struct kg_broker *b, struct release_state *st, const char *key_id)
{
	uint8_t *scratch = kg_secret_scratch(), *key = scratch, *root = scratch ? scratch + KG_KEY_MAX : NULL;
	uint8_t info[KG_RELEASE_INFO_MAX];
	const struct kg_kek *keks[2] = {b->kek, b->kek_previous};
	const struct kg_key_version *v = NULL;
	size_t key_len = 0, info_len;
	kg_err rc = KG_OK;

	KG_ENSURE(key != NULL, KG_ERR_NOMEM);
	for (size_t i = 0; st->version != 0 && i < st->key.n_versions; i++)
		if (st->key.versions[i].info.version == st->version)
			v = &st->key.versions[i];
	if (st->version != 0) {
		KG_ENSURE_OUT(v != NULL && v->wrapped_len > 0, KG_ERR_INTERNAL);
		KG_ENSURE_OUT(b->kek != NULL, KG_ERR_KEK);
		KG_ENSURE_OUT(b->cfg->kek_legacy_formats || kg_kek_wrapped_binds_kind(v->wrapped, v->wrapped_len),
			      KG_ERR_KEY_FORMAT_LEGACY);
	}
	if (st->key.is_model) {
		KG_TRY_OUT(kg_kek_unwrap_any(keks, 2, v->kek_id, key_id, st->version, KG_KEY_KIND_MODEL, v->wrapped,
					     v->wrapped_len, key, &key_len));
	} else if (st->version != 0) {
		size_t root_len = 0;
		KG_ENSURE_OUT(st->key.key_len >= KG_KEY_MIN && st->key.key_len <= KG_KEY_MAX, KG_ERR_INTERNAL);
		KG_TRY_OUT(kg_kek_unwrap_any(keks, 2, v->kek_id, key_id, st->version, KG_KEY_KIND_SESSION, v->wrapped,
					     v->wrapped_len, root, &root_len));
		key_len = (size_t)st->key.key_len;
		KG_TRY_OUT(kg_session_derive(root, root_len, key_id, st->version, st->req.session_id,
					     st->req.session_id_len, key, key_len));
	} else {
		/* Session keys exist only in this answer. */
		KG_ENSURE_OUT(st->key.key_len >= KG_KEY_MIN && st->key.key_len <= KG_KEY_MAX, KG_ERR_INTERNAL);
		key_len = (size_t)st->key.key_len;
		randombytes_buf(key, key_len);
		st->version = 0;
	}
	info_len = kg_release_info(info, st->cert.ext_sha256, key_id, st->version, st->request_id);
	KG_TRY_OUT(kg_hpke_seal_base(st->req.aead, st->rclaims.hpke_pk, info, info_len, NULL, 0, key, key_len,
				     st->enc, st->ct));
	st->ct_len = key_len + KG_HPKE_NT;
out:
	sodium_memzero(scratch, KG_SECRET_SCRATCH);
	return rc;
}

static void grant_reply(struct release_state *st, const char *key_id, struct kg_reply *out)
{
	char rid[37], evh[65];
	char *enc = b64(st->enc, sizeof st->enc), *ct = b64(st->ct, st->ct_len);
	json_t *o = NULL;

	kg_uuid_str(rid, st->request_id);
	kg_hex(evh, st->cert.ext_sha256, 32);
	if (enc && ct)
		o = json_pack("{s:s,s:s,s:i,s:s,s:I,s:{s:i,s:i,s:i,s:s},s:s,s:s,s:s}", "request_id", rid, "key_id",
			      key_id, "key_version", (int)st->version, "kind", st->key.is_model ? "model" : "session",
			      "policy_id", (json_int_t)st->decision.policy_id, "hpke", "kem_id",
			      KG_HPKE_KEM_X25519_SHA256, "kdf_id", KG_HPKE_KDF_HKDF_SHA256, "aead_id",
			      (int)st->req.aead, "aead", kg_aead_name(st->req.aead), "enc", enc, "ciphertext", ct,
			      "evidence_sha256", evh);
	free(enc);
	free(ct);
	out->status = 200;
	out->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!out->body)
		kg_reply_error(out, KG_ERR_NOMEM, st->request_id);
}

static char *tcb_json(const struct kg_claims *c)
{
	const struct kg_snp_tcb *t = &c->u.snp.reported_tcb;
	char *s = NULL;
	json_t *o;

	if (c->tee != KG_TEE_SNP)
		return NULL;
	o = json_pack("{s:i,s:i,s:i,s:i,s:i}", "fmc", t->fmc, "bootloader", t->bootloader, "tee", t->tee, "snp",
		      t->snp, "microcode", t->microcode);
	if (o)
		s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* Verifies the request's ledger bundle against each ledger the key's
 * policies name (pure: trust, seen checkpoint and revocations came with the
 * key), then records what it established for the decision and the audit. */
static void judge_ledgers(struct kg_broker *b, struct release_state *st, time_t now)
{
	struct kg_ledger_consistency *cons = NULL;
	size_t n = st->key.n_ledgers;
	kg_err cons_err = KG_OK;
	json_t *arr;

	if (n == 0)
		return;
	st->ledger_results = calloc(n, sizeof *st->ledger_results);
	st->ledger_verdicts = calloc(n, sizeof *st->ledger_verdicts);
	if (!st->ledger_results || !st->ledger_verdicts) {
		/* No results: every ledger condition fails closed. */
		st->key.n_ledgers = 0;
		return;
	}
	if (st->req.ledger_consistency &&
	    ((cons = calloc(1, sizeof *cons)) == NULL ||
	     (cons_err = kg_ledger_consistency_parse((const uint8_t *)st->req.ledger_consistency,
						     st->req.ledger_consistency_len, cons)) != KG_OK)) {
		cons_err = cons ? cons_err : KG_ERR_NOMEM;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct kg_key_ledger *l = &st->key.ledgers[i];
		struct kg_ledger_verdict *v = &st->ledger_verdicts[i];
		kg_err e;

		snprintf(st->ledger_results[i].ledger_id, sizeof st->ledger_results[i].ledger_id, "%s", l->id);
		if (!st->req.ledger_bundle)
			e = KG_ERR_LEDGER_NOT_IN_LEDGER;
		else if (cons_err != KG_OK)
			e = cons_err;
		else if ((e = kg_ledger_verify_bundle(&l->trust, (const uint8_t *)st->req.ledger_bundle,
						      st->req.ledger_bundle_len, cons, now, v)) == KG_OK &&
			 (e = kg_ledger_match(v, kg_tee_name(st->claims.tee), st->claims.measurement,
					      st->claims.measurement_len)) == KG_OK)
			e = kg_ledger_check_revoked(l->revoked, l->n_revoked, &v->entry);
		st->ledger_results[i].result = e;
		/* A checkpoint that verified moves every broker's floor up,
		 * whatever the decision: it is the log's, not the CVM's. */
		if (v->update_seen && (e == KG_OK || e == KG_ERR_LEDGER_NOT_IN_LEDGER || e == KG_ERR_LEDGER_REVOKED) &&
		    kg_store_ledger_seen(b->store, l->id, v->size, v->root) != KG_OK)
			kg_log(KG_LOG_WARN, "ledger_seen_not_stored", "ledger", l->id, NULL);
		if (arr) {
			char root[65];
			kg_hex(root, v->root, 32);
			json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:I,s:s}", "ledger_id", l->id, "result",
							     kg_err_code(e), "index", (json_int_t)v->index, "size",
							     (json_int_t)v->size, "root", root));
		}
	}
	if (arr)
		st->ledger_json = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	free(cons);
}

/* Why the policies decided as they did, for the audit row: per policy of
 * the claims' TEE (at most 16), the conditions that failed — the names
 * `keygate policy explain` prints.  NULL on allocation failure. */
static char *explain_json(const struct release_state *st, time_t now)
{
	struct kg_policy_cond conds[KG_POLICY_MAX_CONDS];
	size_t cap = 64, len = 0, shown = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[len++] = '[';
	for (size_t i = 0; i < st->key.n_policies && shown < 16; i++) {
		const struct kg_policy *p = &st->key.policies[i];
		size_t n;
		if (p->tee != st->claims.tee)
			continue;
		n = kg_policy_explain(p, &st->claims, st->ledger_results, st->key.n_ledgers, now, false, conds,
				      KG_POLICY_MAX_CONDS);
		/* Room for the policy's frame and every condition name. */
		size_t need = len + 64 + n * 32;
		if (need > cap) {
			char *t = realloc(s, need * 2);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
			cap = need * 2;
		}
		len += (size_t)snprintf(s + len, cap - len, "%s{\"policy_id\":%lld,\"failed\":[", shown ? "," : "",
					(long long)p->id);
		for (size_t j = 0, k = 0; j < n; j++)
			if (conds[j].result != KG_OK)
				len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"", k++ ? "," : "", conds[j].name);
		len += (size_t)snprintf(s + len, cap - len, "]}");
		shown++;
	}
	snprintf(s + len, cap - len, "]");
	return s;
}

/* The lower of two parsed versions (compared part by part, most significant
 * first): the policy's floor must hold
 * for every GPU, so the least of them is what it is compared with. */
static void version_min(uint32_t *have, bool *has, const uint32_t *v, int n)
{
	if (!*has || kg_gpu_version_cmp(v, have, n) < 0) {
		memcpy(have, v, (size_t)n * sizeof *v);
		*has = true;
	}
}

void kg_judge_gpus(struct kg_attest *a, const struct kg_gpu_evidence *devs, size_t n, const uint8_t *nonce,
		   time_t now, struct kg_gpu_summary *g, char **json)
{
	/* Nothing to allocate for the usual release, which has no GPUs. */
	struct kg_gpu_claims *c = n > 0 ? malloc(sizeof *c) : NULL;
	json_t *arr = n > 0 ? json_array() : NULL;
	char ueids[KG_BODY_GPUS_MAX][64];
	bool driver_bad = false, vbios_bad = false;

	memset(g, 0, sizeof *g);
	g->all_cc = g->all_ocsp = true;
	g->rims = KG_ERR_GPU_RIM_MISSING;
	*json = NULL;
	if (n > 0)
		g->rims = KG_OK;
	for (size_t i = 0; i < n; i++) {
		const struct kg_gpu_evidence *d = &devs[i];
		kg_err r = KG_ERR_NOMEM;
		kg_err e = c ? kg_attest_verify_gpu(a, d->report, d->report_len, d->certs, d->certs_len, nonce, now, c, &r)
			     : KG_ERR_NOMEM;
		bool sw = e == KG_OK && c->arch == KG_GPU_ARCH_NVSWITCH;
		bool cc = e == KG_OK && c->report.has_feature_flag &&
			  (c->report.feature_flag == KG_GPU_FEATURE_SPT || c->report.feature_flag == KG_GPU_FEATURE_MPT ||
			   c->report.feature_flag == KG_GPU_FEATURE_PPCIE);
		uint32_t v[5];

		/* One device counts once: the same evidence twice is not two GPUs. */
		for (size_t j = 0; e == KG_OK && j < i && j < KG_BODY_GPUS_MAX; j++)
			if (ueids[j][0] && strcmp(ueids[j], c->ueid) == 0)
				e = r = KG_ERR_GPU_DUPLICATE;
		if (i < KG_BODY_GPUS_MAX)
			snprintf(ueids[i], sizeof ueids[i], "%s", e == KG_OK ? c->ueid : "");
		if (e == KG_OK)
			g->all_ocsp &= c->n_ocsp_unchecked == 0;
		if (e != KG_OK) {
			if (g->n_failed++ == 0)
				g->first_error = e;
		} else if (sw) {
			g->n_switches++;
		} else {
			g->n_gpus++;
			g->all_cc &= cc;
			/* A version that does not parse is unknown, and an unknown
			 * version meets no floor: it spoils the minimum for all. */
			if (kg_gpu_driver_version_parse(c->report.driver_version, v))
				version_min(g->min_driver, &g->has_driver, v, 4);
			else
				driver_bad = true;
			if (kg_gpu_vbios_version_parse(c->report.vbios_version, v))
				version_min(g->min_vbios, &g->has_vbios, v, 5);
			else
				vbios_bad = true;
		}
		if (g->rims == KG_OK && r != KG_OK)
			g->rims = r;
		if (arr)
			json_array_append_new(
				arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:s,s:i}", "arch",
					       e == KG_OK ? kg_gpu_arch_name(c->arch) : "unknown", "ueid",
					       e == KG_OK ? c->ueid : "", "driver", e == KG_OK ? c->report.driver_version : "",
					       "vbios", e == KG_OK ? c->report.vbios_version : "", "result", kg_err_code(e),
					       "cc", sw || e != KG_OK ? NULL : cc ? "on" : "not shown", "rims", kg_err_code(r),
					       "ocsp_good", e == KG_OK ? (int)c->n_ocsp_good : 0));
	}
	/* A verified switch says nothing about CC; no GPU at all is not "all". */
	g->all_cc &= g->n_gpus > 0;
	g->all_ocsp &= g->n_gpus + g->n_switches > 0;
	g->has_driver &= !driver_bad;
	g->has_vbios &= !vbios_bad;
	free(c);
	if (arr && n > 0)
		*json = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
}

/* The body's GPU evidence counts only when the CPU's claims bind exactly
 * it; then each device is verified against the nonce this release
 * derives, for the policies and the audit row. */
static void judge_gpus(struct kg_broker *b, struct release_state *st, time_t now)
{
	struct kg_gpu_summary *g = &st->gpus;
	uint8_t h[32], nonce[32];
	size_t n = st->req.n_gpus;

	st->claims.gpus = g;
	if (n == 0) {
		kg_judge_gpus(b->attest, NULL, 0, NULL, now, g, &st->gpus_json);
		return;
	}
	kg_gpu_evidence_hash(st->req.gpus, n, h);
	if (!st->rclaims.has_gpu_evidence || CRYPTO_memcmp(h, st->rclaims.gpu_evidence, 32) != 0) {
		memset(g, 0, sizeof *g);
		g->n_failed = n;
		g->first_error = g->rims = KG_ERR_GPU_UNBOUND;
		st->gpus_json = strdup("[{\"result\":\"gpu_evidence_unbound\"}]");
		return;
	}
	kg_gpu_nonce(st->rclaims.nonce, st->rclaims.nonce_len, st->rclaims.pubkey_hash, st->rclaims.pubkey_hash_len,
		     nonce);
	kg_judge_gpus(b->attest, st->req.gpus, n, nonce, now, g, &st->gpus_json);
}

/* The key and its policies: from the cache when it holds them, else one
 * query (whose result the cache keeps unless it changed meanwhile). */
static kg_err load_key(struct kg_broker *b, const char *key_id, enum kg_tee tee, struct kg_key_record *rec)
{
	uint64_t gen = 0;

	if (kg_cache_get(b->cache, key_id, tee, rec, &gen))
		return KG_OK;
	KG_TRY(kg_store_load_key(b->store, key_id, tee, rec));
	kg_cache_put(b->cache, key_id, tee, rec, gen);
	return KG_OK;
}

void kg_release(struct kg_broker *b, const char *key_id, const uint8_t *cert_der, size_t cert_len,
		const uint8_t *body, size_t body_len, bool body_too_large, const char *peer, struct kg_reply *out)
{
	struct release_state *st = calloc(1, sizeof *st);
	struct kg_audit_row row;
	time_t now = time(NULL);
	char *tcb = NULL, *explain = NULL, rid[37], unrec[24];
	enum kg_ratelimit_verdict rl = KG_RL_AUDIT;
	struct kg_ratelimit_ended ended = {0, 0};
	kg_err e, ae;

	memset(out, 0, sizeof *out);
	if (!st) {
		kg_reply_error(out, KG_ERR_NOMEM, NULL);
		return;
	}
	randombytes_buf(st->request_id, sizeof st->request_id);
	st->request_id[6] = (uint8_t)((st->request_id[6] & 0x0f) | 0x40); /* UUID v4 */
	st->request_id[8] = (uint8_t)((st->request_id[8] & 0x3f) | 0x80);
	st->decision.reason = KG_ERR_INTERNAL;

	if (!kg_key_id_valid(key_id)) {
		/* Not a name any key can have: deny without judging anything. */
		e = KG_ERR_UNKNOWN_KEY;
		key_id = "(invalid)";
	} else if (body_too_large) {
		e = KG_ERR_BODY_TOO_LARGE;
	} else if ((e = kg_release_req_parse(body, body_len, &st->req)) != KG_OK) {
		;
	} else if ((e = judge_evidence(b, st, cert_der, cert_len, now)) != KG_OK) {
		;
	} else if ((e = load_key(b, key_id, st->claims.tee, &st->key)) != KG_OK) {
		;
	} else if (!st->key.found) {
		e = KG_ERR_UNKNOWN_KEY;
	} else if (!st->key.active) {
		e = KG_ERR_KEY_DISABLED;
	} else {
		judge_ledgers(b, st, now);
		judge_gpus(b, st, now);
		kg_policy_decide(st->key.policies, st->key.n_policies, &st->claims, st->ledger_results,
				 st->key.n_ledgers, now, &st->decision);
		e = st->decision.reason;
		explain = explain_json(st, now);
		if (e == KG_OK)
			e = choose_version(st);
		if (e == KG_OK)
			e = seal_key(b, st, key_id);
	}

	/* Denials are audited up to the address's rate (ratelimit.h). */
	if (e != KG_OK) {
		rl = kg_ratelimit_deny(b->deny_limit, peer, kg_mono_us(), &ended);
		if (rl != KG_RL_AUDIT)
			e = KG_ERR_RATE_LIMITED;
		if (ended.peer > 0)
			kg_log(KG_LOG_WARN, "rate_limit_ended", "peer", peer, "unrecorded",
			       (snprintf(unrec, sizeof unrec, "%" PRIu64, ended.peer), unrec), NULL);
		if (ended.all > 0)
			kg_log(KG_LOG_WARN, "rate_limit_ended", "peer", "*", "unrecorded",
			       (snprintf(unrec, sizeof unrec, "%" PRIu64, ended.all), unrec), NULL);
	}

	memset(&row, 0, sizeof row);
	memcpy(row.request_id, st->request_id, 16);
	row.replica = b->cfg->replica;
	row.peer = peer;
	row.key_id = key_id;
	row.key_version = e == KG_OK ? st->version : st->req.version; /* a denied version: the one asked for */
	row.policy_id = st->decision.policy_id;
	row.grant = e == KG_OK;
	row.reason = kg_err_code(e);
	row.ledger_json = st->ledger_json;
	row.explain_json = explain;
	row.gpus_json = st->gpus_json;
	/* Only a parsed (hence validated) session id. */
	row.session_id = st->req.session_id_len > 0 ? st->req.session_id : NULL;
	if (st->have_cert)
		row.evidence_sha256 = st->cert.ext_sha256;
	if (st->have_claims) {
		row.tee = kg_tee_name(st->claims.tee);
		row.measurement = st->claims.measurement;
		row.measurement_len = st->claims.measurement_len;
		row.chip_id = st->claims.chip_id;
		row.chip_id_len = st->claims.chip_id_len;
		row.tcb_json = tcb = tcb_json(&st->claims);
	}
	ae = rl == KG_RL_UNRECORDED ? KG_OK : kg_store_audit(b->store, &row);
	/* Counted as what the CVM sees: an unaudited grant is a refusal. */
	if (ae != KG_OK && e == KG_OK)
		e = ae;
	atomic_fetch_add(&b->metrics.releases[e == KG_OK][e < KG_ERR__COUNT ? e : KG_ERR_INTERNAL], 1);

	kg_uuid_str(rid, st->request_id);
	if (ae != KG_OK) {
		/* No audit row, no key: the sealed key is dropped here. */
		kg_log(KG_LOG_ERROR, "release_unaudited", "request_id", rid, "key_id", key_id, "reason",
		       kg_err_code(e), "audit_error", kg_err_code(ae), NULL);
		kg_reply_error(out, e == KG_ERR_DB_UNAVAILABLE ? e : ae, st->request_id);
	} else if (rl == KG_RL_UNRECORDED) {
		/* No row, so no request id to give; counted, not logged. */
		atomic_fetch_add(&b->metrics.denials_unrecorded, 1);
		kg_reply_error(out, e, NULL);
	} else if (e != KG_OK) {
		kg_log(KG_LOG_INFO, "release_denied", "request_id", rid, "key_id", key_id, "reason", kg_err_code(e),
		       "peer", peer, NULL);
		kg_reply_error(out, e, st->request_id);
	} else {
		kg_log(KG_LOG_INFO, "release_granted", "request_id", rid, "key_id", key_id, "peer", peer, NULL);
		grant_reply(st, key_id, out);
	}

	free(tcb);
	free(explain);
	kg_ratls_free(&st->cert);
	kg_release_req_free(&st->req);
	free(st->ledger_results);
	free(st->ledger_verdicts);
	free(st->ledger_json);
	free(st->gpus_json);
	kg_key_record_free(&st->key);
	kg_wipe(st, sizeof *st);
	free(st);
}
