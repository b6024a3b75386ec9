/* `keygate evidence verify`: offline verification of one piece of
 * evidence, for admins and tests.  Same verifier as the server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "broker.h"

#define KG_EVIDENCE_FILE_MAX (1024 * 1024)
#define KG_CERT_FILE_MAX (64 * 1024)

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate evidence verify --tee snp FILE [--certs DIR] [--roots PEM] [--crl FILE] [--at TIME]\n"
		   "       keygate evidence verify --tee tdx QUOTE --collateral DIR... [--roots PEM] [--at TIME]\n"
		   "       keygate evidence verify --tee nvidia-gpu REPORT --certs CHAIN_PEM [--nonce HEX] [--rims DIR]\n"
		   "           [--at TIME]   (see keygate evidence verify --tee nvidia-gpu --help)\n\n"
		   "Verifies FILE (SEV-SNP: the 1184-byte report, optionally followed by the extended\n"
		   "report's certificate table) and prints its claims as JSON (exit 0), or the reason\n"
		   "code (exit 1).  DIR may hold vcek.{der,pem} (or vlek.*), ask.*, ark.*; missing ASK/ARK\n"
		   "come from AMD's roots shipped with Keygate, or from --roots PEM, which replaces them\n"
		   "as trust anchors.  --at evaluates validity at TIME (2024-05-01T00:00:00Z or Unix\n"
		   "seconds) instead of now, for evidence captured in the past.\n\n"
		   "TDX: QUOTE is a DCAP quote (v4 or v5).  --collateral DIR (repeatable, searched in\n"
		   "order) holds Intel's collateral as PCS publishes it: tcbInfo.json, qeIdentity.json\n"
		   "(or enclaveIdentity.json), TCB_Signing_chain.pem (the TCB-Info-Issuer-Chain),\n"
		   "IntelSGXRootCA.crl.der (or .der/.pem) and pckcrl_platform.crl.der (or\n"
		   "pckcrl_processor.crl.der, pckcrl.der; PEM accepted).  --roots PEM replaces the\n"
		   "shipped Intel SGX Root CA.  The claims include the TCB status and advisory IDs.\n");
}

/* TDX collateral: the first of names found in any of dirs. */
static void read_first(char *const *dirs, size_t n_dirs, const char *const *names, uint8_t **buf, size_t *len)
{
	char path[4096];

	*buf = NULL;
	*len = 0;
	for (size_t d = 0; d < n_dirs; d++) {
		for (size_t i = 0; names[i]; i++) {
			if ((size_t)snprintf(path, sizeof path, "%s/%s", dirs[d], names[i]) >= sizeof path)
				continue;
			if (kg_file_read(path, KG_TDX_COLLATERAL_MAX, buf, len) == KG_OK)
				return;
		}
	}
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

/* TDX collateral: tcb info, QE identity, signing chain, root CRL, PCK CRL. */
static const char *const coll_names[5][6] = {
	{"tcbInfo.json", "tcb_info.json", "tcbinfo.json", NULL},
	{"qeIdentity.json", "qe_identity.json", "enclaveIdentity.json", NULL},
	{"TCB_Signing_chain.pem", "tcb_signing_chain.pem", "TCB-Info-Issuer-Chain.pem", NULL},
	{"IntelSGXRootCA.crl.der", "IntelSGXRootCA.der", "IntelSGXRootCA.crl", "root_crl.der", "root_crl.pem", NULL},
	{"pckcrl_platform.crl.der", "pckcrl_processor.crl.der", "pckcrl.der", "pck_crl.der", "pck_crl.pem", NULL},
};

kg_err kg_evidence_verify_files(struct kg_attest *a, enum kg_tee tee, const char *evidence_file,
				const struct kg_evidence_files *files, time_t now, struct kg_claims *out)
{
	uint8_t *ev = NULL, *vcek = NULL, *ask = NULL, *ark = NULL, *crl = NULL;
	uint8_t *coll_buf[5] = {NULL, NULL, NULL, NULL, NULL};
	size_t ev_len = 0, coll_len[5] = {0, 0, 0, 0, 0};
	struct kg_tdx_collateral tcoll;
	struct kg_snp_certs certs;
	kg_err rc;

	memset(&certs, 0, sizeof certs);
	KG_TRY_OUT(kg_file_read(evidence_file, KG_EVIDENCE_FILE_MAX, &ev, &ev_len));
	if (files->certs_dir) {
		size_t l;
		if (read_cert(files->certs_dir, "vcek", &vcek, &l) == KG_OK && !vcek)
			(void)read_cert(files->certs_dir, "vlek", &vcek, &l);
		certs.vcek = vcek;
		certs.vcek_len = vcek ? l : 0;
		if (read_cert(files->certs_dir, "ask", &ask, &l) == KG_OK && !ask)
			(void)read_cert(files->certs_dir, "asvk", &ask, &l);
		certs.ask = ask;
		certs.ask_len = ask ? l : 0;
		(void)read_cert(files->certs_dir, "ark", &ark, &l);
		certs.ark = ark;
		certs.ark_len = ark ? l : 0;
	}
	if (files->crl_file) {
		KG_TRY_OUT(kg_file_read(files->crl_file, KG_SNP_CRL_MAX, &crl, &certs.crl_len));
		certs.crl = crl;
	}
	if (tee == KG_TEE_TDX && files->n_coll_dirs > 0) {
		for (int i = 0; i < 5; i++)
			read_first((char *const *)files->coll_dirs, files->n_coll_dirs, coll_names[i], &coll_buf[i],
				   &coll_len[i]);
		memset(&tcoll, 0, sizeof tcoll);
		tcoll.tcb_info = coll_buf[0];
		tcoll.tcb_info_len = coll_len[0];
		tcoll.qe_identity = coll_buf[1];
		tcoll.qe_identity_len = coll_len[1];
		tcoll.tcb_signing_chain = coll_buf[2];
		tcoll.tcb_signing_chain_len = coll_len[2];
		tcoll.root_crl = coll_buf[3];
		tcoll.root_crl_len = coll_len[3];
		tcoll.pck_crl = coll_buf[4];
		tcoll.pck_crl_len = coll_len[4];
		KG_TRY_OUT(kg_attest_set_tdx_collateral(a, &tcoll));
	}
	rc = kg_attest_verify(a, tee, ev, ev_len, &certs, now, out);
out:
	free(ev);
	free(vcek);
	free(ask);
	free(ark);
	free(crl);
	for (int i = 0; i < 5; i++)
		free(coll_buf[i]);
	return rc;
}

int kg_cmd_evidence(int argc, char **argv)
{
	static const struct option opts[] = {{"tee", required_argument, NULL, 't'},
					     {"certs", required_argument, NULL, 'c'},
					     {"roots", required_argument, NULL, 'r'},
					     {"at", required_argument, NULL, 'a'},
					     {"collateral", required_argument, NULL, 'C'},
					     {"crl", required_argument, NULL, 'L'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *tee_name = NULL, *roots = NULL;
	struct kg_evidence_files files;
	struct kg_attest_config acfg;
	struct kg_attest *a = NULL;
	struct kg_claims *claims = NULL;
	time_t now = time(NULL);
	char *json = NULL;
	enum kg_tee tee;
	int c, ret = 1;
	kg_err e;

	memset(&files, 0, sizeof files);
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
	/* NVIDIA GPUs take options of their own: broker/cli_gpu.c. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--tee=nvidia-gpu") == 0 ||
		    (strcmp(argv[i], "--tee") == 0 && i + 1 < argc && strcmp(argv[i + 1], "nvidia-gpu") == 0))
			return kg_cmd_evidence_gpu(argc, argv);
	while ((c = getopt_long(argc, argv, "t:c:r:a:C:L:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tee_name = optarg;
			break;
		case 'c':
			files.certs_dir = optarg;
			break;
		case 'r':
			roots = optarg;
			break;
		case 'L':
			files.crl_file = optarg;
			break;
		case 'a':
			if (kg_time_parse(optarg, &now) != KG_OK) {
				fprintf(stderr, "keygate evidence verify: bad --at time '%s'\n", optarg);
				return 2;
			}
			break;
		case 'C':
			if (files.n_coll_dirs == sizeof files.coll_dirs / sizeof files.coll_dirs[0]) {
				fprintf(stderr, "keygate evidence verify: too many --collateral\n");
				return 2;
			}
			files.coll_dirs[files.n_coll_dirs++] = optarg;
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
		fprintf(stderr, "keygate evidence verify: unknown --tee '%s' (known: snp, tdx, nvidia-gpu)\n", tee_name);
		return 2;
	}
	if (access(argv[optind], R_OK) != 0 || (files.crl_file && access(files.crl_file, R_OK) != 0)) {
		fprintf(stderr, "keygate evidence verify: cannot read %s\n",
			access(argv[optind], R_OK) != 0 ? argv[optind] : files.crl_file);
		return 2;
	}
	memset(&acfg, 0, sizeof acfg);
	acfg.snp_roots = tee == KG_TEE_SNP ? roots : NULL;
	if ((e = kg_attest_new(&a, &acfg)) != KG_OK ||
	    (tee == KG_TEE_TDX && roots && (e = kg_attest_set_tdx_roots(a, roots)) != KG_OK)) {
		fprintf(stderr, "keygate evidence verify: cannot load trust anchors\n");
		ret = 2;
		goto out;
	}
	if ((claims = calloc(1, sizeof *claims)) == NULL) {
		ret = fail(KG_ERR_NOMEM);
		goto out;
	}
	if ((e = kg_evidence_verify_files(a, tee, argv[optind], &files, now, claims)) != KG_OK) {
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
	return ret;
}
