/* `keygate evidence verify --tee nvidia-gpu`: offline verification of one
 * NVIDIA GPU or NVSwitch report, with its device chain and, optionally,
 * RIMs picked from files or folders.  Same verifier as the server will use
 * (attest/nvgpu.h). */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "../attest/nvgpu.h"
#include "../common/util.h"
#include "broker.h"

#define GPU_RIM_PATHS_MAX 8
#define GPU_RIM_FILES_MAX 256

static void gpu_usage(FILE *f)
{
	fprintf(f, "usage: keygate evidence verify --tee nvidia-gpu REPORT --certs CHAIN_PEM [--nonce HEX]\n"
		   "           [--rims DIR|FILE]... [--ocsp FILE]... [--require-ocsp] [--at TIME]\n"
		   "           [--roots PEM] [--rim-roots PEM]\n\n"
		   "Verifies REPORT (the SPDM GET_MEASUREMENTS request followed by the signed\n"
		   "MEASUREMENTS response, binary or NVIDIA's hex text) of an NVIDIA GPU or NVSwitch:\n"
		   "the signature with the leaf of CHAIN_PEM (leaf first), the chain to NVIDIA's Device\n"
		   "Identity CA (shipped and pinned, or --roots PEM), the leaf's FWID, and with --nonce\n"
		   "the request nonce (without it the nonce is printed, not checked).  --rims names RIM\n"
		   "files (used as given, one driver and one VBIOS RIM) or folders (searched for the\n"
		   "driver RIM of the report's driver version and the VBIOS RIM of its VBIOS version);\n"
		   "they are verified (XML-DSig to NVIDIA's RIM root, or --rim-roots PEM) and compared\n"
		   "index by index; a RIM of another version is reported as such.  --ocsp FILE\n"
		   "gives NVIDIA OCSP responses (DER) for the chain's CA certificates; with\n"
		   "--require-ocsp each of them must have a good one (no network is used).\n"
		   "Prints the claims as JSON.  Exit 0: verified (and, with --rims, every measurement\n"
		   "matched); 1: refused, with the reason code (a RIM mismatch still prints the\n"
		   "claims); 2: usage or trust-anchor error.\n");
}

static int gpu_fail(kg_err e)
{
	printf("{\"verified\":false,\"error\":\"%s\",\"message\":\"%s\"}\n", kg_err_code(e), kg_err_msg(e));
	fprintf(stderr, "keygate evidence verify: %s\n", kg_err_code(e));
	return 1;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files named by paths, or (folders = true) the entries of the
 * folders named, sorted. */
static size_t rim_files(char *const *paths, size_t n_paths, bool folders, char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < n_paths; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(paths[i], &st) != 0 || (S_ISDIR(st.st_mode) != folders))
			continue;
		if (!folders) {
			if (n < max && (out[n] = strdup(paths[i])) != NULL)
				n++;
			continue;
		}
		if ((d = opendir(paths[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL && n < max) {
			char *p;
			if (de->d_name[0] == '.' || asprintf(&p, "%s/%s", paths[i], de->d_name) < 0)
				continue;
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
				out[n++] = p;
			else
				free(p);
		}
		closedir(d);
	}
	qsort(out, n, sizeof *out, path_cmp);
	return n;
}

/* The first RIM (in path order) of the kind (and, unless version is NULL,
 * the version) wanted, read unverified only to choose; kg_gpu_verify
 * verifies what is chosen. */
static uint8_t *rim_pick(char **files, size_t n, enum kg_gpu_rim_kind kind, const char *version, size_t *len,
			 const char **chosen)
{
	*len = 0;
	*chosen = NULL;
	if (version && version[0] == '\0')
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint8_t *buf = NULL;
		size_t l = 0;
		struct kg_gpu_rim *r = NULL;
		bool ok;

		if (kg_file_read(files[i], KG_GPU_RIM_MAX, &buf, &l) != KG_OK)
			continue;
		ok = kg_gpu_rim_parse(buf, l, &r) == KG_OK && r->kind == kind &&
		     (version == NULL || strcasecmp(r->version, version) == 0);
		kg_gpu_rim_free(r);
		if (ok) {
			*len = l;
			*chosen = files[i];
			return buf;
		}
		free(buf);
	}
	return NULL;
}

int kg_cmd_evidence_gpu(int argc, char **argv)
{
	static const struct option opts[] = {{"tee", required_argument, NULL, 't'},
					     {"certs", required_argument, NULL, 'c'},
					     {"nonce", required_argument, NULL, 'n'},
					     {"rims", required_argument, NULL, 'R'},
					     {"at", required_argument, NULL, 'a'},
					     {"roots", required_argument, NULL, 'r'},
					     {"rim-roots", required_argument, NULL, 'T'},
					     {"ocsp", required_argument, NULL, 'O'},
					     {"require-ocsp", no_argument, NULL, 'Q'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *certs = NULL, *roots = NULL, *rim_roots = NULL, *nonce_hex = NULL, *drv_name, *vb_name;
	char *rim_paths[GPU_RIM_PATHS_MAX], *files[GPU_RIM_FILES_MAX];
	size_t n_rim_paths = 0, n_files = 0, n_dir = 0, rep_len = 0, chain_len = 0, raw_len = 0, n_ocsp = 0;
	const char *ocsp_paths[KG_GPU_OCSP_MAX_COUNT];
	uint8_t *ocsp[KG_GPU_OCSP_MAX_COUNT];
	size_t ocsp_lens[KG_GPU_OCSP_MAX_COUNT];
	bool require_ocsp = false;
	uint8_t *rep = NULL, *chain = NULL, *raw = NULL, nonce[KG_GPU_NONCE_SIZE];
	struct kg_gpu_verifier *v = NULL;
	struct kg_gpu_claims *claims = NULL;
	struct kg_gpu_report *parsed = NULL;
	struct kg_gpu_input in;
	time_t now = time(NULL);
	char *json = NULL;
	int c, ret = 2;
	kg_err e;

	memset(&in, 0, sizeof in);
	memset(ocsp, 0, sizeof ocsp);
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:c:n:R:a:r:T:O:Qh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			break; /* nvidia-gpu, checked by the caller */
		case 'c':
			certs = optarg;
			break;
		case 'n':
			nonce_hex = optarg;
			break;
		case 'R':
			if (n_rim_paths == GPU_RIM_PATHS_MAX) {
				fprintf(stderr, "keygate evidence verify: too many --rims\n");
				return 2;
			}
			rim_paths[n_rim_paths++] = optarg;
			break;
		case 'a':
			if (kg_time_parse(optarg, &now) != KG_OK) {
				fprintf(stderr, "keygate evidence verify: bad --at time '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			roots = optarg;
			break;
		case 'T':
			rim_roots = optarg;
			break;
		case 'O':
			if (n_ocsp == KG_GPU_OCSP_MAX_COUNT) {
				fprintf(stderr, "keygate evidence verify: too many --ocsp\n");
				return 2;
			}
			ocsp_paths[n_ocsp++] = optarg;
			break;
		case 'Q':
			require_ocsp = true;
			break;
		case 'h':
			gpu_usage(stdout);
			return 0;
		default:
			gpu_usage(stderr);
			return 2;
		}
	}
	if (!certs || optind + 1 != argc) {
		gpu_usage(stderr);
		return 2;
	}
	if (nonce_hex &&
	    (strlen(nonce_hex) != 2 * KG_GPU_NONCE_SIZE || kg_unhex(nonce, sizeof nonce, nonce_hex) != KG_OK)) {
		fprintf(stderr, "keygate evidence verify: --nonce wants %d hex digits\n", 2 * KG_GPU_NONCE_SIZE);
		return 2;
	}
	if (kg_file_read(argv[optind], 2 * KG_GPU_REPORT_MAX + 4096, &raw, &raw_len) != KG_OK ||
	    kg_file_read(certs, KG_GPU_CHAIN_MAX, &chain, &chain_len) != KG_OK) {
		fprintf(stderr, "keygate evidence verify: cannot read %s or %s\n", argv[optind], certs);
		goto out;
	}
	for (size_t i = 0; i < n_ocsp; i++) {
		if (kg_file_read(ocsp_paths[i], KG_GPU_OCSP_MAX, &ocsp[i], &ocsp_lens[i]) != KG_OK) {
			fprintf(stderr, "keygate evidence verify: cannot read %s\n", ocsp_paths[i]);
			goto out;
		}
	}
	if (kg_gpu_verifier_new(&v, roots, rim_roots) != KG_OK) {
		fprintf(stderr, "keygate evidence verify: cannot load trust anchors\n");
		goto out;
	}
	ret = 1;
	if ((claims = calloc(1, sizeof *claims)) == NULL || (parsed = calloc(1, sizeof *parsed)) == NULL) {
		ret = gpu_fail(KG_ERR_NOMEM);
		goto out;
	}
	in.report = raw;
	in.report_len = raw_len;
	in.chain_pem = chain;
	in.chain_len = chain_len;
	in.nonce = nonce_hex ? nonce : NULL;
	in.ocsp = (const uint8_t *const *)ocsp;
	in.ocsp_lens = ocsp_lens;
	in.n_ocsp = n_ocsp;
	in.require_ocsp = require_ocsp;
	if (!nonce_hex)
		fprintf(stderr, "keygate evidence verify: no --nonce: the report's nonce is not checked\n");
	if (n_rim_paths > 0) {
		/* Choose the RIMs by the report's versions (an unverified parse;
		 * kg_gpu_verify parses and verifies everything again). */
		if ((e = kg_gpu_report_load(raw, raw_len, &rep, &rep_len)) != KG_OK ||
		    (e = kg_gpu_report_parse(rep, rep_len, parsed)) != KG_OK) {
			ret = gpu_fail(e);
			goto out;
		}
		/* Files named are used as given (a version that differs from the
		 * report's is then reported); folders are searched by version. */
		n_files = rim_files(rim_paths, n_rim_paths, false, files, GPU_RIM_FILES_MAX);
		in.driver_rim = rim_pick(files, n_files, KG_GPU_RIM_DRIVER, NULL, &in.driver_rim_len, &drv_name);
		in.vbios_rim = rim_pick(files, n_files, KG_GPU_RIM_VBIOS, NULL, &in.vbios_rim_len, &vb_name);
		n_dir = rim_files(rim_paths, n_rim_paths, true, files + n_files, GPU_RIM_FILES_MAX - n_files);
		if (!in.driver_rim)
			in.driver_rim = rim_pick(files + n_files, n_dir, KG_GPU_RIM_DRIVER, parsed->driver_version,
						 &in.driver_rim_len, &drv_name);
		if (!in.vbios_rim)
			in.vbios_rim = rim_pick(files + n_files, n_dir, KG_GPU_RIM_VBIOS, parsed->vbios_version,
						&in.vbios_rim_len, &vb_name);
		n_files += n_dir;
		fprintf(stderr, "keygate evidence verify: driver RIM %s, VBIOS RIM %s\n",
			drv_name ? drv_name : "(none)", vb_name ? vb_name : "(none)");
	}
	if ((e = kg_gpu_verify(v, &in, now, claims)) != KG_OK) {
		ret = gpu_fail(e);
		goto out;
	}
	if ((e = kg_gpu_claims_to_json(claims, &json)) != KG_OK) {
		ret = gpu_fail(e);
		goto out;
	}
	printf("%s\n", json);
	ret = 0;
	if (n_rim_paths > 0 && (e = kg_gpu_claims_rims_ok(claims)) != KG_OK) {
		fprintf(stderr, "keygate evidence verify: %s\n", kg_err_code(e));
		ret = 1;
	}
out:
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	for (size_t i = 0; i < n_ocsp; i++)
		free(ocsp[i]);
	free((void *)in.driver_rim);
	free((void *)in.vbios_rim);
	free(json);
	free(claims);
	free(parsed);
	free(rep);
	free(raw);
	free(chain);
	kg_gpu_verifier_free(v);
	return ret;
}
