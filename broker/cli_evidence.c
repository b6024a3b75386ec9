/* `keygate evidence verify`: offline verification of one piece of
 * evidence, for admins and tests.  Same verifier as the server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"
#include "broker.h"

#define KG_EVIDENCE_FILE_MAX (1024 * 1024)
#define KG_CERT_FILE_MAX (64 * 1024)

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate evidence verify --tee snp FILE [--certs DIR] [--roots PEM] [--at TIME]\n\n"
		   "Verifies FILE (SEV-SNP: the 1184-byte report, optionally followed by the extended\n"
		   "report's certificate table) and prints its claims as JSON (exit 0), or the reason\n"
		   "code (exit 1).  DIR may hold vcek.{der,pem} (or vlek.*), ask.*, ark.*; missing ASK/ARK\n"
		   "come from AMD's roots shipped with Keygate, or from --roots PEM, which replaces them\n"
		   "as trust anchors.  --at evaluates validity at TIME (2024-05-01T00:00:00Z or Unix\n"
		   "seconds) instead of now, for evidence captured in the past.\n");
}

/* Reads DIR/NAME.der or DIR/NAME.pem if either exists. */
static kg_err read_cert(const char *dir, const char *name, uint8_t **buf, size_t *len)
{
	char path[4096];
	static const char *ext[] = {"der", "pem", "crt"};

	*buf = NULL;
	*len = 0;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext[i]);
		if (kg_file_read(path, KG_CERT_FILE_MAX, buf, len) == KG_OK)
			return KG_OK;
	}
	return KG_OK; /* absent is fine: the verifier says what it misses */
}

static int fail(kg_err e)
{
	printf("{\"verified\":false,\"error\":\"%s\",\"message\":\"%s\"}\n", kg_err_code(e), kg_err_msg(e));
	fprintf(stderr, "keygate evidence verify: %s\n", kg_err_code(e));
	return 1;
}

int kg_cmd_evidence(int argc, char **argv)
{
	static const struct option opts[] = {{"tee", required_argument, NULL, 't'},
					     {"certs", required_argument, NULL, 'c'},
					     {"roots", required_argument, NULL, 'r'},
					     {"at", required_argument, NULL, 'a'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *tee_name = NULL, *certs_dir = NULL, *roots = NULL;
	uint8_t *ev = NULL, *vcek = NULL, *ask = NULL, *ark = NULL;
	size_t ev_len = 0;
	struct kg_snp_certs certs;
	struct kg_attest_config acfg;
	struct kg_attest *a = NULL;
	struct kg_claims *claims = NULL;
	time_t now = time(NULL);
	char *json = NULL;
	enum kg_tee tee;
	int c, ret = 1;
	kg_err e;

	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "t:c:r:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tee_name = optarg;
			break;
		case 'c':
			certs_dir = optarg;
			break;
		case 'r':
			roots = optarg;
			break;
		case 'a':
			if (kg_time_parse(optarg, &now) != KG_OK) {
				fprintf(stderr, "keygate evidence verify: bad --at time '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!tee_name || optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if ((tee = kg_tee_from_name(tee_name)) == KG_TEE_NONE) {
		fprintf(stderr, "keygate evidence verify: unknown --tee '%s' (known: snp)\n", tee_name);
		return 2;
	}
	if ((e = kg_file_read(argv[optind], KG_EVIDENCE_FILE_MAX, &ev, &ev_len)) != KG_OK) {
		fprintf(stderr, "keygate evidence verify: cannot read %s\n", argv[optind]);
		return 2;
	}
	memset(&certs, 0, sizeof certs);
	if (certs_dir) {
		size_t l;
		if (read_cert(certs_dir, "vcek", &vcek, &l) == KG_OK && !vcek)
			(void)read_cert(certs_dir, "vlek", &vcek, &l);
		certs.vcek = vcek;
		certs.vcek_len = vcek ? l : 0;
		if (read_cert(certs_dir, "ask", &ask, &l) == KG_OK && !ask)
			(void)read_cert(certs_dir, "asvk", &ask, &l);
		certs.ask = ask;
		certs.ask_len = ask ? l : 0;
		(void)read_cert(certs_dir, "ark", &ark, &l);
		certs.ark = ark;
		certs.ark_len = ark ? l : 0;
	}
	acfg.snp_roots = roots;
	if ((e = kg_attest_new(&a, &acfg)) != KG_OK) {
		fprintf(stderr, "keygate evidence verify: cannot load trust anchors\n");
		ret = 2;
		goto out;
	}
	if ((claims = calloc(1, sizeof *claims)) == NULL) {
		ret = fail(KG_ERR_NOMEM);
		goto out;
	}
	if ((e = kg_attest_verify(a, tee, ev, ev_len, &certs, now, claims)) != KG_OK) {
		ret = fail(e);
		goto out;
	}
	if ((e = kg_claims_to_json(claims, &json)) != KG_OK) {
		ret = fail(e);
		goto out;
	}
	printf("%s\n", json);
	ret = 0;
out:
	free(json);
	free(claims);
	kg_attest_free(a);
	free(ev);
	free(vcek);
	free(ask);
	free(ark);
	return ret;
}
