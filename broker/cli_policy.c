/* `keygate policy explain`: a dry run of the policy decision for a piece
 * of evidence, with the key's policies and the collateral from the
 * database and the same verifier and decision code as a release.  Prints
 * each condition of each policy with the claim's value and pass/fail. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../common/util.h"
#include "../attest/nvgpu.h"
#include "broker.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keygate policy explain --key KEY_ID --tee snp|tdx EVIDENCE [--certs DIR] [--crl FILE]\n"
		"              [--collateral DIR]... [--roots PEM] [--ledger-bundle FILE] [--at TIME]\n"
		"              [--gpu-report FILE --gpu-certs PEM]... [--config FILE] [--db DSN] [--json]\n\n"
		"Verifies EVIDENCE (SEV-SNP report, optionally with its certificate table; TDX quote) as\n"
		"`keygate evidence verify` does, with the collateral stored in the database besides the\n"
		"files given, then evaluates every policy of KEY_ID for the TEE and prints, for each\n"
		"condition, the claim's value, what the policy requires and pass or FAIL, and the\n"
		"decision a release would get.  --gpu-report/--gpu-certs (in pairs) add a GPU or NVSwitch\n"
		"report and its chain, judged with the RIMs in the database.  Not judged here: the RA-TLS\n"
		"binding, the challenge and the GPU nonce, which only a live request has.  --config reads db, snp_roots, tdx_roots and\n"
		"snp_require_crl from the broker's configuration.  Exit codes: 0 grant, 1 deny or\n"
		"failure, 2 usage.\n");
}

static kg_err apply_collateral(struct pg_conn *c, void *attest)
{
	return kg_collateral_apply(c, attest);
}

/* Judges the bundle against each ledger the policies name, as a release
 * does (without a consistency proof, and without moving the seen size). */
static void judge_ledgers(const struct kg_key_record *rec, const struct kg_claims *claims, const char *bundle_file,
			  time_t now, struct kg_ledger_result *results)
{
	uint8_t *bundle = NULL;
	size_t len = 0;

	if (bundle_file && kg_file_read(bundle_file, KG_LEDGER_MAX_BUNDLE, &bundle, &len) != KG_OK)
		fprintf(stderr, "keygate policy explain: cannot read %s\n", bundle_file);
	for (size_t i = 0; i < rec->n_ledgers; i++) {
		struct kg_ledger_verdict v;
		kg_err e = KG_ERR_LEDGER_NOT_IN_LEDGER;

		snprintf(results[i].ledger_id, sizeof results[i].ledger_id, "%s", rec->ledgers[i].id);
		if (bundle && (e = kg_ledger_verify_bundle(&rec->ledgers[i].trust, bundle, len, NULL, now, &v)) == KG_OK &&
		    (e = kg_ledger_match(&v, kg_tee_name(claims->tee), claims->measurement, claims->measurement_len)) ==
			    KG_OK)
			e = kg_ledger_check_revoked(rec->ledgers[i].revoked, rec->ledgers[i].n_revoked, &v.entry);
		results[i].result = e;
	}
	free(bundle);
}

static int explain(const struct kg_key_record *rec, const char *key_id, const struct kg_claims *claims,
		   const struct kg_ledger_result *ledgers, time_t now, bool json)
{
	struct kg_policy_cond conds[KG_POLICY_MAX_CONDS];
	struct kg_decision d;
	json_t *root = NULL, *arr = NULL;
	char m[2 * 64 + 1];
	uint32_t version = 0;

	kg_policy_decide(rec->policies, rec->n_policies, claims, ledgers, rec->n_ledgers, now, &d);
	/* The key's own state comes first, as in a release. */
	if (!rec->active) {
		d.grant = false;
		d.reason = KG_ERR_KEY_DISABLED;
	} else if (d.grant && rec->is_model) {
		/* Which version the granting policy releases, as a release
		 * without a "version" asks. */
		struct kg_version_info infos[KG_KEY_VERSIONS_MAX];
		const struct kg_policy *p = NULL;
		kg_err ve;

		for (size_t i = 0; i < rec->n_policies; i++)
			if (rec->policies[i].id == d.policy_id)
				p = &rec->policies[i];
		for (size_t i = 0; i < rec->n_versions; i++)
			infos[i] = rec->versions[i].info;
		if (p && (ve = kg_policy_pick_version(p, infos, rec->n_versions, 0, &version)) != KG_OK) {
			d.grant = false;
			d.reason = ve;
		}
	}
	kg_hex(m, claims->measurement, claims->measurement_len);
	if (json) {
		root = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key_id", key_id, "kind", rec->is_model ? "model" : "session",
				 "key_state", rec->active ? "active" : "disabled", "tee", kg_tee_name(claims->tee),
				 "measurement", m);
		arr = json_array();
	} else {
		printf("key %s (%s, %s), TEE %s\nevidence: verified, measurement %s\n", key_id,
		       rec->is_model ? "model" : "session", rec->active ? "active" : "disabled", kg_tee_name(claims->tee),
		       m);
	}
	for (size_t i = 0; i < rec->n_policies; i++) {
		const struct kg_policy *p = &rec->policies[i];
		size_t n = kg_policy_explain(p, claims, ledgers, rec->n_ledgers, now, true, conds, KG_POLICY_MAX_CONDS);
		kg_err first = KG_OK;
		json_t *jc = json ? json_array() : NULL;

		for (size_t j = 0; j < n && first == KG_OK; j++)
			first = conds[j].result;
		if (!json)
			printf("\npolicy %lld (%s, %s): %s\n", (long long)p->id, kg_tee_name(p->tee),
			       p->active ? "active" : "disabled", first == KG_OK ? "satisfied" : kg_err_code(first));
		for (size_t j = 0; j < n; j++) {
			bool pass = conds[j].result == KG_OK;
			if (json)
				json_array_append_new(jc, json_pack("{s:s,s:b,s:s,s:s,s:s?}", "name", conds[j].name, "pass",
								    pass, "claim", conds[j].claim, "required",
								    conds[j].want, "reason",
								    pass ? NULL : kg_err_code(conds[j].result)));
			else
				printf("  %-4s  %-22s %s\n        %-22s required: %s\n", pass ? "pass" : "FAIL",
				       conds[j].name, conds[j].claim, "", conds[j].want);
		}
		if (json)
			json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:o}", "policy_id", (json_int_t)p->id, "tee",
							     kg_tee_name(p->tee), "state", p->active ? "active" : "disabled",
							     "result", first == KG_OK ? "satisfied" : kg_err_code(first),
							     "conditions", jc));
	}
	if (json) {
		char *s;
		json_object_set_new(root, "policies", arr);
		json_object_set_new(root, "decision", json_string(d.grant ? "grant" : "deny"));
		json_object_set_new(root, "reason", json_string(kg_err_code(d.reason)));
		json_object_set_new(root, "policy_id", d.policy_id ? json_integer(d.policy_id) : json_null());
		json_object_set_new(root, "key_version", version ? json_integer(version) : json_null());
		if ((s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) != NULL) {
			printf("%s\n", s);
			free(s);
		}
		json_decref(root);
	} else if (d.grant && version) {
		printf("\ndecision: grant (policy %lld, key version %u)\n", (long long)d.policy_id, version);
	} else if (d.grant) {
		printf("\ndecision: grant (policy %lld)\n", (long long)d.policy_id);
	} else if (d.policy_id) {
		printf("\ndecision: deny, %s (policy %lld)\n", kg_err_code(d.reason), (long long)d.policy_id);
	} else {
		printf("\ndecision: deny, %s\n", kg_err_code(d.reason));
	}
	return d.grant ? 0 : 1;
}

static int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
					     {"tee", required_argument, NULL, 't'},
					     {"certs", required_argument, NULL, 'c'},
					     {"crl", required_argument, NULL, 'L'},
					     {"collateral", required_argument, NULL, 'C'},
					     {"roots", required_argument, NULL, 'r'},
					     {"ledger-bundle", required_argument, NULL, 'b'},
					     {"at", required_argument, NULL, 'a'},
					     {"config", required_argument, NULL, 'f'},
					     {"db", required_argument, NULL, 'd'},
					     {"json", no_argument, NULL, 'j'},
					     {"gpu-report", required_argument, NULL, 'G'},
					     {"gpu-certs", required_argument, NULL, 'P'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *key_id = NULL, *tee_name = NULL, *roots = NULL, *bundle = NULL, *cfg_path = NULL, *db = NULL;
	struct kg_evidence_files files;
	struct kg_config cfg;
	struct kg_attest_config acfg;
	struct kg_attest *a = NULL;
	struct kg_store *store = NULL;
	struct kg_claims *claims = NULL;
	struct kg_key_record rec;
	struct kg_ledger_result *ledgers = NULL;
	struct kg_gpu_evidence gpus[KG_BODY_GPUS_MAX];
	struct kg_gpu_summary gsum;
	size_t n_reports = 0, n_certs = 0;
	char *gpus_json = NULL;
	time_t now = time(NULL);
	bool json = false;
	char err[512] = "";
	enum kg_tee tee;
	int c, ret = 1;
	kg_err e;

	memset(&files, 0, sizeof files);
	memset(&rec, 0, sizeof rec);
	memset(gpus, 0, sizeof gpus);
	memset(&cfg, 0, sizeof cfg); /* freed at out: whatever the path */
	while ((c = getopt_long(argc, argv, "k:t:c:L:C:r:b:a:f:d:jG:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_id = optarg; break;
		case 't': tee_name = optarg; break;
		case 'c': files.certs_dir = optarg; break;
		case 'L': files.crl_file = optarg; break;
		case 'C':
			if (files.n_coll_dirs == sizeof files.coll_dirs / sizeof files.coll_dirs[0]) {
				fprintf(stderr, "keygate policy explain: too many --collateral\n");
				return 2;
			}
			files.coll_dirs[files.n_coll_dirs++] = optarg;
			break;
		case 'r': roots = optarg; break;
		case 'b': bundle = optarg; break;
		case 'a':
			if (kg_time_parse(optarg, &now) != KG_OK) {
				fprintf(stderr, "keygate policy explain: bad --at time '%s'\n", optarg);
				return 2;
			}
			break;
		case 'f': cfg_path = optarg; break;
		case 'd': db = optarg; break;
		case 'j': json = true; break;
		case 'G':
		case 'P': {
			uint8_t *buf = NULL;
			size_t len = 0;
			size_t *k = c == 'G' ? &n_reports : &n_certs;
			if (*k == KG_BODY_GPUS_MAX || kg_file_read(optarg, KG_BODY_GPU_REPORT_MAX * 3, &buf, &len) != KG_OK) {
				fprintf(stderr, "keygate policy explain: cannot read %s (or too many devices)\n", optarg);
				ret = 2;
				goto out;
			}
			if (c == 'P') {
				gpus[n_certs].certs = (char *)buf;
				gpus[n_certs].certs_len = len;
			} else {
				/* NVIDIA ships reports as hex text too. */
				kg_err le = kg_gpu_report_load(buf, len, &gpus[n_reports].report, &gpus[n_reports].report_len);
				free(buf);
				if (le != KG_OK) {
					fprintf(stderr, "keygate policy explain: %s: %s\n", optarg, kg_err_code(le));
					ret = 2;
					goto out;
				}
			}
			++*k;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!key_id || !tee_name || optind + 1 != argc || n_reports != n_certs) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	if ((tee = kg_tee_from_name(tee_name)) == KG_TEE_NONE) {
		fprintf(stderr, "keygate policy explain: unknown --tee '%s' (known: snp, tdx)\n", tee_name);
		ret = 2;
		goto out;
	}
	if (kg_config_load(&cfg, cfg_path, err, sizeof err) != KG_OK || (db && kg_config_set(&cfg, "db", db) != KG_OK) ||
	    (roots && kg_config_set(&cfg, tee == KG_TEE_SNP ? "snp_roots" : "tdx_roots", roots) != KG_OK)) {
		fprintf(stderr, "keygate policy explain: %s\n", err[0] ? err : "invalid setting");
		kg_config_free(&cfg);
		return 2;
	}
	if (!cfg.db) {
		fprintf(stderr, "keygate policy explain: no database (--db, KEYGATE_DB or --config)\n");
		ret = 2;
		goto out;
	}
	memset(&acfg, 0, sizeof acfg);
	acfg.snp_roots = cfg.snp_roots;
	acfg.snp_require_crl = cfg.snp_require_crl;
	if ((e = kg_attest_new(&a, &acfg)) != KG_OK || (cfg.tdx_roots && (e = kg_attest_set_tdx_roots(a, cfg.tdx_roots)) != KG_OK)) {
		fprintf(stderr, "keygate policy explain: cannot load trust anchors: %s\n", kg_err_code(e));
		goto out;
	}
	if ((e = kg_store_new(&store, cfg.db, 1)) != KG_OK || (e = kg_store_collateral(store, apply_collateral, a)) != KG_OK) {
		fprintf(stderr, "keygate policy explain: cannot load collateral from the database: %s\n", kg_err_code(e));
		goto out;
	}
	if ((claims = calloc(1, sizeof *claims)) == NULL)
		goto out;
	if ((e = kg_evidence_verify_files(a, tee, argv[optind], &files, now, claims)) != KG_OK) {
		if (json)
			printf("{\"key_id\":\"%s\",\"decision\":\"deny\",\"reason\":\"%s\",\"evidence\":\"not verified\"}\n",
			       key_id, kg_err_code(e));
		else
			printf("evidence: NOT verified, %s (%s)\ndecision: deny, %s\n", kg_err_code(e), kg_err_msg(e),
			       kg_err_code(e));
		goto out;
	}
	if ((e = kg_store_load_key(store, key_id, tee, &rec)) != KG_OK) {
		fprintf(stderr, "keygate policy explain: cannot load the key: %s\n", kg_err_code(e));
		goto out;
	}
	if (!rec.found) {
		printf("%s\n", json ? "{\"decision\":\"deny\",\"reason\":\"unknown_key\"}" : "decision: deny, unknown_key");
		goto out;
	}
	if (rec.n_ledgers > 0 && (ledgers = calloc(rec.n_ledgers, sizeof *ledgers)) == NULL)
		goto out;
	judge_ledgers(&rec, claims, bundle, now, ledgers);
	kg_judge_gpus(a, gpus, n_reports, NULL, now, &gsum, &gpus_json);
	claims->gpus = &gsum;
	if (gpus_json && !json)
		printf("gpus: %s\n", gpus_json);
	ret = explain(&rec, key_id, claims, ledgers, now, json);
out:
	for (size_t i = 0; i < KG_BODY_GPUS_MAX; i++) {
		free(gpus[i].report);
		free(gpus[i].certs);
	}
	free(gpus_json);
	free(ledgers);
	kg_key_record_free(&rec);
	free(claims);
	kg_store_free(store);
	kg_attest_free(a);
	kg_config_free(&cfg);
	return ret;
}

int kg_cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "explain") == 0)
		return cmd_explain(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
