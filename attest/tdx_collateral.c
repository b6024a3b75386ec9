/*
 * Intel TDX collateral: the PCS TCB Info v3 and TD_QE Enclave Identity v2
 * JSON documents (parsed from the exact bytes Intel signed), and the pure
 * TCB evaluation of a quote against them.
 *
 * Sources, cited by key below:
 *   PCS    Intel SGX and TDX PCS API v4: "Get TDX TCB Info" (TCB Info v3
 *          fields, tcbLevels sorted newest first), "Get TDX QE Identity"
 *          (Enclave Identity v2).
 *   QVL    Intel's quote-verification library: TcbLevelCheck (the walk over
 *          tcbLevels for TDX), TdxModuleCheck (tdxModuleIdentities),
 *          convergeTcbStatusWithTdxModuleStatus / ...WithQeTcbStatus, and
 *          EnclaveIdentityV2::getTcbStatus (no matching QE level = Revoked).
 *   GTG    go-tdx-guest verify/verify.go (bodyToRawMessage: the signature
 *          covers the raw bytes of the value, not a re-serialisation).
 *
 * jansson types stay inside this file.
 */
#define _GNU_SOURCE /* timegm */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/util.h"
#include "tdx_internal.h"

/* ---------------------------------------------------------------------------
 * Locating the signed value: a bounded scan of the top-level object.
 *
 * The whole text has already been accepted by jansson (valid JSON, exactly
 * two members, no duplicates), so the scan only needs to find where the
 * member's value starts and ends; it still checks every index against the
 * length and never recurses.
 */

struct scan {
	const uint8_t *p;
	size_t n, i;
};

static void scan_ws(struct scan *s)
{
	while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t' || s->p[s->i] == '\n' || s->p[s->i] == '\r'))
		s->i++;
}

/* At a '"': moves past the closing quote; [*b, *e) is the raw content. */
static bool scan_string(struct scan *s, size_t *b, size_t *e)
{
	if (s->i >= s->n || s->p[s->i] != '"')
		return false;
	*b = ++s->i;
	while (s->i < s->n) {
		uint8_t c = s->p[s->i];
		if (c == '\\') {
			s->i += 2; /* the escaped character; \uXXXX's digits need no care */
			continue;
		}
		if (c == '"') {
			*e = s->i++;
			return true;
		}
		s->i++;
	}
	return false;
}

/* Moves past one value. */
static bool scan_value(struct scan *s)
{
	size_t b, e, depth = 0;

	if (s->i >= s->n)
		return false;
	if (s->p[s->i] == '"')
		return scan_string(s, &b, &e);
	if (s->p[s->i] != '{' && s->p[s->i] != '[') {
		while (s->i < s->n && s->p[s->i] != ',' && s->p[s->i] != '}' && s->p[s->i] != ']' &&
		       s->p[s->i] != ' ' && s->p[s->i] != '\t' && s->p[s->i] != '\n' && s->p[s->i] != '\r')
			s->i++;
		return true;
	}
	while (s->i < s->n) {
		uint8_t c = s->p[s->i];
		if (c == '"') {
			if (!scan_string(s, &b, &e))
				return false;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return false;
			if (--depth == 0) {
				s->i++;
				return true;
			}
		}
		s->i++;
	}
	return false;
}

/* The raw bytes of the top-level member named key (spelled without
 * escapes, as Intel writes it). */
static bool raw_member(const uint8_t *p, size_t n, const char *key, const uint8_t **vb, size_t *vl)
{
	struct scan s = {p, n, 0};
	size_t klen = strlen(key);

	scan_ws(&s);
	if (s.i >= s.n || s.p[s.i] != '{')
		return false;
	s.i++;
	for (;;) {
		size_t kb, ke, start;
		scan_ws(&s);
		if (!scan_string(&s, &kb, &ke))
			return false;
		scan_ws(&s);
		if (s.i >= s.n || s.p[s.i] != ':')
			return false;
		s.i++;
		scan_ws(&s);
		start = s.i;
		if (!scan_value(&s))
			return false;
		if (ke - kb == klen && memcmp(p + kb, key, klen) == 0) {
			*vb = p + start;
			*vl = s.i - start;
			return true;
		}
		scan_ws(&s);
		if (s.i >= s.n || s.p[s.i] != ',')
			return false;
		s.i++;
	}
}

/* ---------------------------------------------------------------------------
 * Typed field readers
 */

#define BAD KG_ERR_TDX_COLLATERAL_INVALID

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2n hex digits, either case (Intel writes FMSPCs in both). */
static kg_err hex_exact(const char *s, uint8_t *out, size_t n)
{
	KG_ENSURE(s != NULL && strlen(s) == 2 * n, BAD);
	for (size_t i = 0; i < n; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		KG_ENSURE(h >= 0 && l >= 0, BAD);
		out[i] = (uint8_t)(h << 4 | l);
	}
	return KG_OK;
}

static kg_err get_hex(json_t *o, const char *key, uint8_t *out, size_t n)
{
	json_t *v = json_object_get(o, key);

	KG_ENSURE(json_is_string(v), BAD);
	return hex_exact(json_string_value(v), out, n);
}

static kg_err get_uint(json_t *o, const char *key, uint32_t max, uint32_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t x;

	KG_ENSURE(json_is_integer(v), BAD);
	x = json_integer_value(v);
	KG_ENSURE(x >= 0 && (uint64_t)x <= max, BAD);
	*out = (uint32_t)x;
	return KG_OK;
}

bool kg_tdx_date_parse(const char *s, time_t *out)
{
	struct tm tm;
	int f[6];
	static const int lim[6][2] = {{1970, 9999}, {1, 12}, {1, 31}, {0, 23}, {0, 59}, {0, 60}};

	/* YYYY-MM-DDThh:mm:ssZ, 20 characters. */
	if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return false;
	static const int at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
	for (int k = 0; k < 6; k++) {
		f[k] = 0;
		for (int j = 0; j < len[k]; j++) {
			char c = s[at[k] + j];
			if (c < '0' || c > '9')
				return false;
			f[k] = f[k] * 10 + (c - '0');
		}
		if (f[k] < lim[k][0] || f[k] > lim[k][1])
			return false;
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

static kg_err get_date(json_t *o, const char *key, time_t *out)
{
	json_t *v = json_object_get(o, key);

	KG_ENSURE(json_is_string(v) && kg_tdx_date_parse(json_string_value(v), out), BAD);
	return KG_OK;
}

static const char *const status_names[KG_TDX_TCB__COUNT] = {
	[KG_TDX_TCB_UP_TO_DATE] = "UpToDate",
	[KG_TDX_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
	[KG_TDX_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
	[KG_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
	[KG_TDX_TCB_OUT_OF_DATE] = "OutOfDate",
	[KG_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
	[KG_TDX_TCB_REVOKED] = "Revoked",
};

const char *kg_tdx_tcb_status_name(enum kg_tdx_tcb_status s)
{
	if ((unsigned)s >= KG_TDX_TCB__COUNT)
		return "Unknown";
	return status_names[s];
}

static kg_err get_status(json_t *o, enum kg_tdx_tcb_status *out)
{
	json_t *v = json_object_get(o, "tcbStatus");

	KG_ENSURE(json_is_string(v), BAD);
	for (unsigned i = 0; i < KG_TDX_TCB__COUNT; i++) {
		if (strcmp(json_string_value(v), status_names[i]) == 0) {
			*out = (enum kg_tdx_tcb_status)i;
			return KG_OK;
		}
	}
	return BAD; /* a status we cannot rank must not pass as any other */
}

/* advisoryIDs (optional): strings of [A-Za-z0-9-_], appended to a pool. */
static kg_err get_advisories(json_t *o, char (*pool)[KG_TDX_ADVISORY_LEN], size_t pool_max, size_t *n_pool,
			     struct kg_tdx_adv_range *r)
{
	json_t *a = json_object_get(o, "advisoryIDs"), *v;
	size_t i;

	r->first = (uint16_t)*n_pool;
	r->count = 0;
	if (a == NULL)
		return KG_OK;
	KG_ENSURE(json_is_array(a), BAD);
	KG_ENSURE(json_array_size(a) <= pool_max - *n_pool, BAD);
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		size_t l = s ? strlen(s) : 0;
		KG_ENSURE(l > 0 && l < KG_TDX_ADVISORY_LEN, BAD);
		for (size_t k = 0; k < l; k++)
			KG_ENSURE((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') ||
					  (s[k] >= '0' && s[k] <= '9') || s[k] == '-' || s[k] == '_',
				  BAD);
		memcpy(pool[*n_pool], s, l + 1);
		(*n_pool)++;
		r->count++;
	}
	return KG_OK;
}

/* [{"svn":n,...} x16] */
static kg_err get_components(json_t *o, const char *key, uint8_t out[static 16])
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	KG_ENSURE(json_is_array(a) && json_array_size(a) == 16, BAD);
	json_array_foreach(a, i, v) {
		uint32_t svn;
		KG_ENSURE(json_is_object(v), BAD);
		KG_TRY(get_uint(v, "svn", 255, &svn));
		out[i] = (uint8_t)svn;
	}
	return KG_OK;
}

/* The whole document: valid JSON with exactly {name: object, "signature":
 * 128 hex}, then the raw bytes of name's value, parsed again on their own. */
static kg_err document_open(const uint8_t *json, size_t len, const char *name, struct kg_tdx_signed *sig,
			    json_t **body)
{
	json_t *doc = NULL, *sv;
	json_error_t jerr;
	kg_err rc;

	*body = NULL;
	memset(sig, 0, sizeof *sig);
	KG_ENSURE(len <= KG_TDX_COLLATERAL_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(json != NULL && len > 0, BAD);
	doc = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	KG_ENSURE(doc != NULL, BAD);
	KG_ENSURE_OUT(json_is_object(doc) && json_object_size(doc) == 2, BAD);
	KG_ENSURE_OUT(json_is_object(json_object_get(doc, name)), BAD);
	sv = json_object_get(doc, "signature");
	KG_ENSURE_OUT(json_is_string(sv), BAD);
	KG_TRY_OUT(hex_exact(json_string_value(sv), sig->sig, 64));
	KG_ENSURE_OUT(raw_member(json, len, name, &sig->body, &sig->body_len), BAD);
	*body = json_loadb((const char *)sig->body, sig->body_len, JSON_REJECT_DUPLICATES, &jerr);
	KG_ENSURE_OUT(json_is_object(*body), BAD);
	rc = KG_OK;
out:
	if (rc != KG_OK) {
		json_decref(*body);
		*body = NULL;
		memset(sig, 0, sizeof *sig);
	}
	json_decref(doc);
	return rc;
}

/* ---------------------------------------------------------------------------
 * TCB Info v3 (PCS "TDX TCB Info")
 */

static kg_err module_identity_parse(json_t *o, struct kg_tdx_tcb_info *ti, struct kg_tdx_module_identity *m)
{
	json_t *id = json_object_get(o, "id"), *levels, *l;
	const char *s;
	uint8_t major;
	size_t i;

	KG_ENSURE(json_is_object(o) && json_is_string(id), BAD);
	s = json_string_value(id);
	/* "TDX_" + the module's major version as two hex digits (QVL
	 * TdxModuleCheck; e.g. "TDX_01", "TDX_03"). */
	KG_ENSURE(strlen(s) == 6 && strncmp(s, "TDX_", 4) == 0, BAD);
	KG_TRY(hex_exact(s + 4, &major, 1));
	m->major = major;
	KG_TRY(get_hex(o, "mrsigner", m->mrsigner, 48));
	KG_TRY(get_hex(o, "attributes", m->attributes, 8));
	KG_TRY(get_hex(o, "attributesMask", m->attributes_mask, 8));
	levels = json_object_get(o, "tcbLevels");
	KG_ENSURE(json_is_array(levels) && json_array_size(levels) > 0 &&
			  json_array_size(levels) <= KG_TDX_MODULE_LEVELS_MAX,
		  BAD);
	json_array_foreach(levels, i, l) {
		struct kg_tdx_module_level *ml = &m->levels[i];
		uint32_t svn;
		KG_ENSURE(json_is_object(l) && json_is_object(json_object_get(l, "tcb")), BAD);
		KG_TRY(get_uint(json_object_get(l, "tcb"), "isvsvn", 255, &svn));
		ml->isvsvn = (uint8_t)svn;
		KG_TRY(get_date(l, "tcbDate", &ml->tcb_date));
		KG_TRY(get_status(l, &ml->status));
		KG_TRY(get_advisories(l, ti->adv, KG_TDX_ADVISORY_POOL_MAX, &ti->n_adv, &ml->adv));
	}
	m->n_levels = json_array_size(levels);
	return KG_OK;
}

static kg_err tcb_info_fill(json_t *b, struct kg_tdx_tcb_info *ti)
{
	json_t *id = json_object_get(b, "id"), *mod, *ids, *levels, *l;
	uint32_t u;
	size_t i;

	/* PCS: TDX TCB Info is "id":"TDX", "version":3. */
	KG_ENSURE(json_is_string(id) && strcmp(json_string_value(id), "TDX") == 0, BAD);
	KG_TRY(get_uint(b, "version", 3, &ti->version));
	KG_ENSURE(ti->version == 3, BAD);
	KG_TRY(get_date(b, "issueDate", &ti->issue_date));
	KG_TRY(get_date(b, "nextUpdate", &ti->next_update));
	KG_ENSURE(ti->issue_date < ti->next_update, BAD);
	KG_TRY(get_hex(b, "fmspc", ti->fmspc, 6));
	KG_TRY(get_hex(b, "pceId", ti->pce_id, 2));
	KG_TRY(get_uint(b, "tcbType", 0, &ti->tcb_type)); /* 0 is the only type defined */
	KG_TRY(get_uint(b, "tcbEvaluationDataNumber", UINT32_MAX, &u));
	ti->tcb_eval_data_number = u;

	mod = json_object_get(b, "tdxModule");
	KG_ENSURE(json_is_object(mod), BAD);
	KG_TRY(get_hex(mod, "mrsigner", ti->module_mrsigner, 48));
	KG_TRY(get_hex(mod, "attributes", ti->module_attributes, 8));
	KG_TRY(get_hex(mod, "attributesMask", ti->module_attributes_mask, 8));

	ids = json_object_get(b, "tdxModuleIdentities"); /* TDX 1.5 onwards */
	if (ids != NULL) {
		KG_ENSURE(json_is_array(ids) && json_array_size(ids) <= KG_TDX_MODULE_IDS_MAX, BAD);
		json_array_foreach(ids, i, l) {
			KG_TRY(module_identity_parse(l, ti, &ti->ids[i]));
			for (size_t k = 0; k < i; k++)
				KG_ENSURE(ti->ids[k].major != ti->ids[i].major, BAD);
		}
		ti->n_ids = json_array_size(ids);
	}

	levels = json_object_get(b, "tcbLevels");
	KG_ENSURE(json_is_array(levels) && json_array_size(levels) > 0 &&
			  json_array_size(levels) <= KG_TDX_TCB_LEVELS_MAX,
		  BAD);
	json_array_foreach(levels, i, l) {
		struct kg_tdx_tcb_level *tl = &ti->levels[i];
		json_t *tcb = json_object_get(l, "tcb");
		KG_ENSURE(json_is_object(l) && json_is_object(tcb), BAD);
		KG_TRY(get_components(tcb, "sgxtcbcomponents", tl->sgx_svn));
		KG_TRY(get_uint(tcb, "pcesvn", UINT16_MAX, &u));
		tl->pcesvn = (uint16_t)u;
		KG_TRY(get_components(tcb, "tdxtcbcomponents", tl->tdx_svn));
		KG_TRY(get_date(l, "tcbDate", &tl->tcb_date));
		KG_TRY(get_status(l, &tl->status));
		KG_TRY(get_advisories(l, ti->adv, KG_TDX_ADVISORY_POOL_MAX, &ti->n_adv, &tl->adv));
	}
	ti->n_levels = json_array_size(levels);
	return KG_OK;
}

kg_err kg_tdx_tcb_info_parse(const uint8_t *json, size_t len, struct kg_tdx_tcb_info **out, struct kg_tdx_signed *sig)
{
	struct kg_tdx_tcb_info *ti = NULL;
	json_t *body = NULL;
	kg_err rc;

	*out = NULL;
	KG_TRY(document_open(json, len, "tcbInfo", sig, &body));
	KG_ENSURE_OUT((ti = calloc(1, sizeof *ti)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(tcb_info_fill(body, ti));
	*out = ti;
	ti = NULL;
	rc = KG_OK;
out:
	if (rc != KG_OK)
		memset(sig, 0, sizeof *sig);
	free(ti);
	json_decref(body);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Enclave Identity v2 (PCS "TDX QE Identity")
 */

static kg_err qe_identity_fill(json_t *b, struct kg_tdx_qe_identity *qi)
{
	json_t *id = json_object_get(b, "id"), *levels, *l;
	uint8_t w[4];
	uint32_t u;
	size_t i;

	KG_ENSURE(json_is_string(id) && strcmp(json_string_value(id), "TD_QE") == 0, BAD);
	KG_TRY(get_uint(b, "version", 2, &qi->version));
	KG_ENSURE(qi->version == 2, BAD);
	KG_TRY(get_date(b, "issueDate", &qi->issue_date));
	KG_TRY(get_date(b, "nextUpdate", &qi->next_update));
	KG_ENSURE(qi->issue_date < qi->next_update, BAD);
	KG_TRY(get_uint(b, "tcbEvaluationDataNumber", UINT32_MAX, &qi->tcb_eval_data_number));
	/* miscselect is written as the 32-bit number, most significant digit
	 * first (QVL reads it big-endian); the report holds it as a u32. */
	KG_TRY(get_hex(b, "miscselect", w, 4));
	qi->miscselect = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
	KG_TRY(get_hex(b, "miscselectMask", w, 4));
	qi->miscselect_mask = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
	/* attributes are the 16 REPORT bytes in report order. */
	KG_TRY(get_hex(b, "attributes", qi->attributes, 16));
	KG_TRY(get_hex(b, "attributesMask", qi->attributes_mask, 16));
	KG_TRY(get_hex(b, "mrsigner", qi->mrsigner, 32));
	KG_TRY(get_uint(b, "isvprodid", UINT16_MAX, &u));
	qi->isvprodid = (uint16_t)u;
	levels = json_object_get(b, "tcbLevels");
	KG_ENSURE(json_is_array(levels) && json_array_size(levels) > 0 &&
			  json_array_size(levels) <= KG_TDX_QE_LEVELS_MAX,
		  BAD);
	json_array_foreach(levels, i, l) {
		struct kg_tdx_qe_level *ql = &qi->levels[i];
		KG_ENSURE(json_is_object(l) && json_is_object(json_object_get(l, "tcb")), BAD);
		KG_TRY(get_uint(json_object_get(l, "tcb"), "isvsvn", UINT16_MAX, &u));
		ql->isvsvn = (uint16_t)u;
		KG_TRY(get_date(l, "tcbDate", &ql->tcb_date));
		KG_TRY(get_status(l, &ql->status));
		KG_TRY(get_advisories(l, qi->adv, sizeof qi->adv / sizeof qi->adv[0], &qi->n_adv, &ql->adv));
	}
	qi->n_levels = json_array_size(levels);
	return KG_OK;
}

kg_err kg_tdx_qe_identity_parse(const uint8_t *json, size_t len, struct kg_tdx_qe_identity **out,
				struct kg_tdx_signed *sig)
{
	struct kg_tdx_qe_identity *qi = NULL;
	json_t *body = NULL;
	kg_err rc;

	*out = NULL;
	KG_TRY(document_open(json, len, "enclaveIdentity", sig, &body));
	KG_ENSURE_OUT((qi = calloc(1, sizeof *qi)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(qe_identity_fill(body, qi));
	*out = qi;
	qi = NULL;
	rc = KG_OK;
out:
	if (rc != KG_OK)
		memset(sig, 0, sizeof *sig);
	free(qi);
	json_decref(body);
	return rc;
}

/* ---------------------------------------------------------------------------
 * TCB evaluation (pure)
 */

/* A status as the conditions it stands for; combining ORs them, so the
 * worst wins and "OutOfDate" absorbs "SWHardeningNeeded" (QVL
 * convergeTcbStatusWithTdxModuleStatus / ...WithQeTcbStatus). */
enum { ST_SW = 1, ST_CONFIG = 2, ST_OOD = 4, ST_REVOKED = 8 };

static unsigned status_flags(enum kg_tdx_tcb_status s)
{
	switch (s) {
	case KG_TDX_TCB_UP_TO_DATE:
		return 0;
	case KG_TDX_TCB_SW_HARDENING_NEEDED:
		return ST_SW;
	case KG_TDX_TCB_CONFIGURATION_NEEDED:
		return ST_CONFIG;
	case KG_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
		return ST_CONFIG | ST_SW;
	case KG_TDX_TCB_OUT_OF_DATE:
		return ST_OOD;
	case KG_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED:
		return ST_OOD | ST_CONFIG;
	case KG_TDX_TCB_REVOKED:
	case KG_TDX_TCB__COUNT:
		break;
	}
	return ST_REVOKED;
}

static enum kg_tdx_tcb_status status_from_flags(unsigned f)
{
	if (f & ST_REVOKED)
		return KG_TDX_TCB_REVOKED;
	if (f & ST_OOD)
		return (f & ST_CONFIG) ? KG_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED : KG_TDX_TCB_OUT_OF_DATE;
	if (f & ST_CONFIG)
		return (f & ST_SW) ? KG_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED : KG_TDX_TCB_CONFIGURATION_NEEDED;
	return (f & ST_SW) ? KG_TDX_TCB_SW_HARDENING_NEEDED : KG_TDX_TCB_UP_TO_DATE;
}

static void add_advisories(struct kg_tdx_claims *out, const char (*pool)[KG_TDX_ADVISORY_LEN],
			   struct kg_tdx_adv_range r)
{
	for (size_t i = r.first; i < (size_t)r.first + r.count; i++) {
		bool dup = false;
		for (size_t k = 0; k < out->n_advisories && !dup; k++)
			dup = strcmp(out->advisories[k], pool[i]) == 0;
		if (dup)
			continue;
		if (out->n_advisories == KG_TDX_ADVISORIES_MAX) {
			out->advisories_truncated = true;
			continue;
		}
		memcpy(out->advisories[out->n_advisories++], pool[i], KG_TDX_ADVISORY_LEN);
	}
}

static bool svns_meet(const uint8_t have[static 16], const uint8_t need[static 16], size_t from)
{
	for (size_t i = from; i < 16; i++)
		if (have[i] < need[i])
			return false;
	return true;
}

/* (value & mask) == expected, bytewise. */
static bool masked_eq(const uint8_t *value, const uint8_t *mask, const uint8_t *expected, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= (uint8_t)((value[i] & mask[i]) ^ expected[i]);
	return acc == 0;
}

kg_err kg_tdx_tcb_evaluate(const struct kg_tdx_td_body *td, const struct kg_tdx_qe_report *qe,
			   const struct kg_tdx_pck_info *pck, const struct kg_tdx_tcb_info *ti,
			   const struct kg_tdx_qe_identity *qi, struct kg_tdx_claims *out)
{
	const struct kg_tdx_module_identity *mid = NULL;
	const struct kg_tdx_tcb_level *lvl = NULL;
	const struct kg_tdx_module_level *mlvl = NULL;
	const struct kg_tdx_qe_level *qlvl = NULL;
	const uint8_t *mrsigner, *attr, *mask;
	uint8_t seam_attr[8];
	uint8_t minor = td->tee_tcb_svn[0], major = td->tee_tcb_svn[1];
	size_t sgx_at = SIZE_MAX, from;
	unsigned flags;

	/* The TCB info describes this platform and PCE (PCS; QVL
	 * STATUS_TCB_INFO_MISMATCH). */
	KG_ENSURE(memcmp(ti->fmspc, pck->fmspc, 6) == 0 && memcmp(ti->pce_id, pck->pce_id, 2) == 0,
		  KG_ERR_TDX_FMSPC);

	/* The TDX module: a 1.5+ module (major > 0) is described by its
	 * tdxModuleIdentities entry "TDX_<major>", else by tdxModule (QVL
	 * TdxModuleCheck). */
	mrsigner = ti->module_mrsigner;
	attr = ti->module_attributes;
	mask = ti->module_attributes_mask;
	if (major > 0 && ti->n_ids > 0) {
		for (size_t i = 0; i < ti->n_ids && mid == NULL; i++)
			if (ti->ids[i].major == major)
				mid = &ti->ids[i];
		KG_ENSURE(mid != NULL, KG_ERR_TDX_MODULE);
		mrsigner = mid->mrsigner;
		attr = mid->attributes;
		mask = mid->attributes_mask;
	}
	KG_ENSURE(memcmp(td->mr_signer_seam, mrsigner, 48) == 0, KG_ERR_TDX_MODULE);
	for (int i = 0; i < 8; i++)
		seam_attr[i] = (uint8_t)(td->seam_attributes >> (8 * i)); /* report byte order */
	KG_ENSURE(masked_eq(seam_attr, mask, attr, 8), KG_ERR_TDX_MODULE);
	if (mid) {
		for (size_t i = 0; i < mid->n_levels && mlvl == NULL; i++)
			if (mid->levels[i].isvsvn <= minor)
				mlvl = &mid->levels[i];
		KG_ENSURE(mlvl != NULL, KG_ERR_TDX_TCB_UNSUPPORTED);
	}

	/* The platform level (QVL TcbLevelCheck, TDX): the first level whose
	 * SGX components and PCESVN the PCK meets; from there on, the first
	 * whose TDX components TEE_TCB_SVN meets.  TEE_TCB_SVN[0..1] are the
	 * module's SVN and version, judged by the module identity when there
	 * is one, so they are skipped then. */
	from = mid ? 2 : 0;
	for (size_t i = 0; i < ti->n_levels && lvl == NULL; i++) {
		const struct kg_tdx_tcb_level *l = &ti->levels[i];
		if (sgx_at == SIZE_MAX) {
			if (!svns_meet(pck->cpusvn_comp, l->sgx_svn, 0) || pck->pcesvn < l->pcesvn)
				continue;
			sgx_at = i;
			if (l->status == KG_TDX_TCB_REVOKED) {
				lvl = l; /* QVL: a revoked SGX TCB ends the walk */
				break;
			}
		}
		if (svns_meet(td->tee_tcb_svn, l->tdx_svn, from))
			lvl = l;
	}
	KG_ENSURE(lvl != NULL, KG_ERR_TDX_TCB_UNSUPPORTED);

	/* The QE against TD_QE's identity (PCS Enclave Identity v2). */
	{
		uint8_t misc[4], misc_mask[4], misc_want[4];
		for (int i = 0; i < 4; i++) {
			misc[i] = (uint8_t)(qe->misc_select >> (8 * i));
			misc_mask[i] = (uint8_t)(qi->miscselect_mask >> (8 * i));
			misc_want[i] = (uint8_t)(qi->miscselect >> (8 * i));
		}
		KG_ENSURE(masked_eq(misc, misc_mask, misc_want, 4), KG_ERR_TDX_QE_IDENTITY);
	}
	KG_ENSURE(masked_eq(qe->attributes, qi->attributes_mask, qi->attributes, 16), KG_ERR_TDX_QE_IDENTITY);
	KG_ENSURE(memcmp(qe->mr_signer, qi->mrsigner, 32) == 0, KG_ERR_TDX_QE_IDENTITY);
	KG_ENSURE(qe->isv_prod_id == qi->isvprodid, KG_ERR_TDX_QE_IDENTITY);
	for (size_t i = 0; i < qi->n_levels && qlvl == NULL; i++)
		if (qi->levels[i].isvsvn <= qe->isv_svn)
			qlvl = &qi->levels[i];

	out->tcb_evaluated = true;
	out->platform_status = lvl->status;
	out->module_evaluated = mlvl != NULL;
	out->module_status = mlvl ? mlvl->status : KG_TDX_TCB_UP_TO_DATE;
	/* QVL EnclaveIdentityV2::getTcbStatus: below every level = Revoked. */
	out->qe_status = qlvl ? qlvl->status : KG_TDX_TCB_REVOKED;
	flags = status_flags(out->platform_status);
	/* Module and QE levels are UpToDate/OutOfDate/Revoked; they can only
	 * make the platform's status worse. */
	flags |= status_flags(out->module_status) & (ST_OOD | ST_REVOKED);
	flags |= status_flags(out->qe_status) & (ST_OOD | ST_REVOKED);
	out->tcb_status = status_from_flags(flags);
	out->tcb_date = lvl->tcb_date;
	out->tcb_eval_data_number = ti->tcb_eval_data_number;
	out->n_advisories = 0;
	out->advisories_truncated = false;
	add_advisories(out, ti->adv, lvl->adv);
	if (mlvl)
		add_advisories(out, ti->adv, mlvl->adv);
	if (qlvl)
		add_advisories(out, qi->adv, qlvl->adv);
	return KG_OK;
}
