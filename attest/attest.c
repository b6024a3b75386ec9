/* Dispatch from evidence type to verifier, and the claims' JSON form. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/util.h"
#include "attest.h"
#include "ratls.h"

struct kg_attest {
	struct kg_snp_verifier *snp;
};

const char *kg_tee_name(enum kg_tee tee)
{
	switch (tee) {
	case KG_TEE_SNP:
		return "snp";
	case KG_TEE_NONE:
		break;
	}
	return "none";
}

enum kg_tee kg_tee_from_name(const char *name)
{
	if (strcmp(name, "snp") == 0)
		return KG_TEE_SNP;
	return KG_TEE_NONE;
}

enum kg_tee kg_attest_tee_for_tag(uint64_t tag)
{
	switch (tag) {
	case KG_RATLS_TAG_SNP:
		return KG_TEE_SNP;
	}
	return KG_TEE_NONE;
}

kg_err kg_attest_new(struct kg_attest **out, const struct kg_attest_config *cfg)
{
	struct kg_attest *a;
	kg_err rc;

	*out = NULL;
	KG_ENSURE((a = calloc(1, sizeof *a)) != NULL, KG_ERR_NOMEM);
	if ((rc = kg_snp_verifier_new(&a->snp, cfg ? cfg->snp_roots : NULL)) != KG_OK) {
		free(a);
		return rc;
	}
	*out = a;
	return KG_OK;
}

void kg_attest_free(struct kg_attest *a)
{
	if (!a)
		return;
	kg_snp_verifier_free(a->snp);
	free(a);
}

/* SEV-SNP evidence: the report, then (optionally) the GHCB certificate
 * table from the extended report.  Certificates given beside the evidence
 * (extra) take precedence over the table's. */
static kg_err verify_snp(struct kg_attest *a, const uint8_t *ev, size_t len, const struct kg_snp_certs *extra,
			 time_t now, struct kg_claims *out)
{
	struct kg_snp_cert_table table;
	struct kg_snp_certs certs;
	struct kg_snp_report *r = &out->u.snp;

	memset(&table, 0, sizeof table);
	memset(&certs, 0, sizeof certs);
	KG_ENSURE(len >= KG_SNP_REPORT_SIZE, KG_ERR_SNP_SIZE);
	KG_ENSURE(len - KG_SNP_REPORT_SIZE <= KG_SNP_CERT_TABLE_MAX, KG_ERR_TOO_LARGE);
	if (len > KG_SNP_REPORT_SIZE)
		KG_TRY(kg_snp_cert_table_parse(ev + KG_SNP_REPORT_SIZE, len - KG_SNP_REPORT_SIZE, &table));
	certs.vcek = table.vlek_len ? table.vlek : table.vcek;
	certs.vcek_len = table.vlek_len ? table.vlek_len : table.vcek_len;
	certs.ask = table.ask;
	certs.ask_len = table.ask_len;
	certs.ark = table.ark;
	certs.ark_len = table.ark_len;
	if (extra) {
		if (extra->vcek_len) {
			certs.vcek = extra->vcek;
			certs.vcek_len = extra->vcek_len;
		}
		if (extra->ask_len) {
			certs.ask = extra->ask;
			certs.ask_len = extra->ask_len;
		}
		if (extra->ark_len) {
			certs.ark = extra->ark;
			certs.ark_len = extra->ark_len;
		}
	}
	KG_TRY(kg_snp_verify(a->snp, ev, KG_SNP_REPORT_SIZE, &certs, now, r));
	memcpy(out->report_data, r->report_data, 64);
	memcpy(out->measurement, r->measurement, 48);
	out->measurement_len = 48;
	memcpy(out->chip_id, r->chip_id, 64);
	out->chip_id_len = 64;
	out->debug = r->debug;
	return KG_OK;
}

kg_err kg_attest_verify(struct kg_attest *a, enum kg_tee tee, const uint8_t *evidence, size_t len,
			const struct kg_snp_certs *extra, time_t now, struct kg_claims *out)
{
	memset(out, 0, sizeof *out);
	out->tee = tee;
	switch (tee) {
	case KG_TEE_SNP:
		return verify_snp(a, evidence, len, extra, now, out);
	case KG_TEE_NONE:
		break;
	}
	return KG_ERR_RATLS_UNKNOWN_TAG;
}

static json_t *hexj(const uint8_t *b, size_t n)
{
	char s[2 * 64 + 1];

	if (n > 64)
		return NULL;
	kg_hex(s, b, n);
	return json_string(s);
}

static json_t *tcbj(const struct kg_snp_tcb *t, bool turin)
{
	char raw[17];

	snprintf(raw, sizeof raw, "%016llx", (unsigned long long)t->raw);
	json_t *o = json_pack("{s:s,s:i,s:i,s:i,s:i}", "raw", raw, "bootloader", t->bootloader, "tee", t->tee, "snp",
			      t->snp, "microcode", t->microcode);
	if (o && turin)
		json_object_set_new(o, "fmc", json_integer(t->fmc));
	return o;
}

static json_t *snp_json(const struct kg_snp_report *r)
{
	char policy[19], pinfo[19];
	bool turin = strcmp(r->product, "Turin") == 0;

	snprintf(policy, sizeof policy, "0x%016llx", (unsigned long long)r->policy);
	snprintf(pinfo, sizeof pinfo, "0x%016llx", (unsigned long long)r->platform_info);
	return json_pack(
		"{s:i,s:i,s:s,s:{s:b,s:b,s:b,s:i,s:i},s:o,s:o,s:i,s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
		"s:o,s:o,s:o,s:o,s:s,s:{s:i,s:i,s:i},s:s,s:s}",
		"version", (int)r->version, "guest_svn", (int)r->guest_svn, "policy", policy, "guest_policy", "debug",
		r->debug, "migrate_ma", r->migrate_ma, "smt_allowed", r->smt_allowed, "abi_major",
		(int)((r->policy >> 8) & 0xff), "abi_minor", (int)(r->policy & 0xff), "family_id",
		hexj(r->family_id, 16), "image_id", hexj(r->image_id, 16), "vmpl", (int)r->vmpl, "signature_algo",
		(int)r->sig_algo, "platform_info", pinfo, "signing_key", r->signing_key == 1 ? "vlek" : "vcek",
		"report_data", hexj(r->report_data, 64), "measurement", hexj(r->measurement, 48), "host_data",
		hexj(r->host_data, 32), "id_key_digest", hexj(r->id_key_digest, 48), "author_key_digest",
		hexj(r->author_key_digest, 48), "report_id", hexj(r->report_id, 32), "report_id_ma",
		hexj(r->report_id_ma, 32), "chip_id", hexj(r->chip_id, 64), "current_tcb",
		tcbj(&r->current_tcb, turin), "reported_tcb", tcbj(&r->reported_tcb, turin), "committed_tcb",
		tcbj(&r->committed_tcb, turin), "launch_tcb", tcbj(&r->launch_tcb, turin), "product", r->product,
		"cpuid", "family", r->cpuid_fam_id, "model", r->cpuid_mod_id, "stepping", r->cpuid_step,
		"current_firmware", "", "committed_firmware", "");
}

kg_err kg_claims_to_json(const struct kg_claims *c, char **json)
{
	json_t *o = NULL, *t = NULL;
	char fw[32];

	*json = NULL;
	switch (c->tee) {
	case KG_TEE_SNP: {
		const struct kg_snp_report *r = &c->u.snp;
		t = snp_json(r);
		if (t) {
			snprintf(fw, sizeof fw, "%u.%u.%u", r->current_major, r->current_minor, r->current_build);
			json_object_set_new(t, "current_firmware", json_string(fw));
			snprintf(fw, sizeof fw, "%u.%u.%u", r->committed_major, r->committed_minor,
				 r->committed_build);
			json_object_set_new(t, "committed_firmware", json_string(fw));
		}
		break;
	}
	case KG_TEE_NONE:
		break;
	}
	KG_ENSURE(t != NULL, KG_ERR_INTERNAL);
	o = json_pack("{s:s,s:o,s:o,s:b,s:o}", "tee", kg_tee_name(c->tee), "measurement",
		      hexj(c->measurement, c->measurement_len), "report_data", hexj(c->report_data, 64), "debug",
		      c->debug, kg_tee_name(c->tee), t);
	KG_ENSURE(o != NULL, KG_ERR_NOMEM);
	*json = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	KG_ENSURE(*json != NULL, KG_ERR_NOMEM);
	return KG_OK;
}
