/*
 * keygate-client: runs inside the CVM.  Asks the broker for a challenge,
 * makes a fresh TLS key and a fresh HPKE key, gets evidence whose
 * REPORT_DATA commits to both and to the challenge (and, with GPUs, to
 * their evidence, which answers a nonce derived from the challenge and the
 * TLS key), presents it as an RA-TLS client certificate, and opens the
 * HPKE-sealed keys it receives.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../attest/ratls.h"
#include "../attest/gpu_sim.h"
#include "../attest/snp_sim.h"
#include "../attest/tdx_sim.h"
#include "../broker/core.h"
#include "../common/util.h"
#include "../keys/hpke.h"
#include "../keys/kek.h"
#include "evidence.h"
#include "gpu.h"
#include "http.h"

#define MAX_URLS 8
#define MAX_KEYS 32

enum fault {
	FAULT_NONE,
	FAULT_PUBKEY,
	FAULT_REPORT_DATA,
	FAULT_NO_CERT,
	FAULT_VCEK_TCB,
	FAULT_GPU_NONCE,
	FAULT_GPU_HASH,
	FAULT_NVSWITCH_NONCE,
};
enum gpu_source { GPU_NONE, GPU_SIM, GPU_NVML, GPU_REPLAY };
enum stdout_fmt { STDOUT_JSON, STDOUT_RAW, STDOUT_JWK };

struct opts {
	const char *urls[MAX_URLS];
	int nurls;
	const char *ca;
	const char *tee;
	const char *sim_dir;
	const char *tsm_root;  /* --tee tsm */
	const char *sev_dev;   /* --tee sev-guest */
	int privlevel;         /* tsm privlevel / sev-guest VMPL; -1: not set */
	struct kg_snp_sim_params sim;
	struct kg_tdx_sim_params tdx;
	const char *keys[MAX_KEYS];
	int nkeys;
	const char *out_dir;
	enum stdout_fmt out_stdout; /* the key itself on stdout (one --key) */
	int32_t keyring;            /* KEY_SPEC_*_KEYRING, 0: none */
	uint16_t aead;
	const char *challenge; /* testing: use this challenge instead of asking */
	enum fault fault;
	int retries;
	bool quiet;
	int repeat; /* benchmark: repeat the releases, each on a fresh TLS connection */
	const char *ledger_bundle, *ledger_consistency; /* files */
	const char *session_id; /* the same derived session key for every CVM of this session */
	long key_version;	/* 0 = the newest the policy allows */
	char *body; /* the release request body, the same for every key */
	/* GPU evidence (client/gpu.h): where from, and what to do with it. */
	enum gpu_source gpu;
	const char *gpu_sim_dir;
	const char *gpu_recorded[KG_BODY_GPUS_MAX];
	size_t n_gpu_recorded;
	const char *nvml_lib;	     /* NULL: libnvidia-ml.so.1 */
	bool nvswitch;		     /* --nvswitch nscq: the NVSwitches after the GPUs */
	const char *nscq_lib;	     /* NULL: libnvidia-nscq.so.2 */
	const char *gpu_replay_dir;  /* testing: send these files as they are */
	const char *gpu_out_dir;     /* write what was sent */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keygate-client --url URL [--url URL]... --ca CA_PEM --tee TEE --key KEY_ID [--key KEY_ID]...\n"
		"                      [--out-dir DIR] [--stdout raw|jwk] [--keyring user|session|user-session]\n"
		"                      [--aead aes-256-gcm|chacha20-poly1305] [--retries N]\n"
		"                      [--ledger-bundle FILE [--ledger-consistency FILE]]\n"
		"                      [--session-id ID] [--key-version N]\n"
		"                      [--gpu nvml [--nvml-lib PATH] | --gpu-sim DIR --gpu-recorded FILE...]\n"
		"                      [--nvswitch nscq [--nscq-lib PATH]]\n"
		"       keygate-client sim-init DIR [--tee snp|tdx|gpu]\n"
		"       keygate-client sim-crl DIR OUT [--revoke-vcek] [--revoke-ask] [--days N] [--expired]\n\n"
		"Obtains keys from a Keygate broker over RA-TLS.  Each key is opened from its HPKE envelope and\n"
		"delivered: --out-dir writes DIR/KEY_ID (mode 0600); --stdout writes the one --key's bytes (raw)\n"
		"or a JWK {\"kty\":\"oct\",\"k\":...,\"kid\":KEY_ID,\"key_version\":N} (jwk) to stdout; --keyring\n"
		"adds it to that kernel keyring as a \"user\" key named keygate:KEY_ID.  A JSON line per key goes to\n"
		"stdout (to stderr with --stdout).\n\n"
		"TEE backends:\n"
		"  tsm       Linux configfs-tsm (SEV-SNP or TDX, from the provider): --tsm-root DIR\n"
		"            (default " KG_TSM_ROOT_DEFAULT "), --privlevel N (SEV-SNP VMPL, optional)\n"
		"  sev-guest SEV-SNP SNP_GET_EXT_REPORT on --sev-guest-dev PATH (default " KG_SEV_GUEST_DEFAULT "),\n"
		"            --privlevel N the VMPL (default 0)\n"
		"  snp-sim   simulated SEV-SNP (test chain in --sim-dir, made by 'sim-init'); for tests and demos\n"
		"  tdx-sim   simulated Intel TDX (test PKI and collateral in --sim-dir, made by 'sim-init --tee tdx');\n"
		"            --sim-measurement sets MRTD, --sim-debug the TD's DEBUG attribute,\n"
		"            --sim-version 4|5, --sim-out-of-date a platform below the UpToDate TCB level\n"
		"            --sim-dir DIR  --sim-measurement HEX(48 bytes)  --sim-debug  --sim-tcb BL:TEE:SNP:UCODE\n"
		"            --sim-version 2|3|5  --sim-vmpl N  --sim-host-data HEX(32 bytes)  --sim-guest-svn N\n"
		"            --sim-no-cert-table (the bare report: the broker needs the VCEK as collateral)\n\n"
		"GPU evidence (NVIDIA GPUs in confidential-compute mode and, on protected-PCIe machines, their\n"
		"NVSwitches), sent as \"gpus\", GPUs first, and bound to the CPU evidence: each device answers\n"
		"kg_gpu_nonce(challenge, pubkey-hash), and the claims carry the hash of the evidence\n"
		"(docs/protocol.md, \"GPUs\"):\n"
		"  --gpu nvml             every GPU through NVML (--nvml-lib PATH, default " KG_NVML_LIB_DEFAULT ")\n"
		"  --nvswitch nscq        then every NVSwitch in locked TNVL mode through NSCQ (--nscq-lib PATH,\n"
		"                         default " KG_NSCQ_LIB_DEFAULT "); a switch in another mode is named on\n"
		"                         stderr and not attested.  Tested only against a stand-in library\n"
		"                         (no NVSwitch hardware here); --gpu-sim takes NVSwitch recordings too\n"
		"  --gpu-sim DIR          simulated GPUs (test PKI in DIR, made by 'sim-init DIR --tee gpu'), one per\n"
		"  --gpu-recorded FILE    recorded report (binary or NVIDIA's hex text), re-issued for the nonce\n"
		"  --gpu-evidence-out DIR write the evidence sent (DIR/gpu-N.report, DIR/gpu-N.pem), the nonce\n"
		"                         the release expects (DIR/nonce.hex) and the claims' hash\n"
		"                         (DIR/evidence-hash.hex)\n\n"
		"Testing only (make the request fail in a chosen way):\n"
		"  --challenge B64      present this challenge instead of fetching one\n"
		"  --fault pubkey-hash  claims commit to another key than the certificate's\n"
		"  --fault report-data  REPORT_DATA does not commit to the claims\n"
		"  --fault no-cert      send no client certificate\n"
		"  --fault vcek-tcb     (snp-sim) sign with a VCEK issued for another TCB than the report's\n"
		"  --fault gpu-nonce    GPU evidence answers another nonce than the release's\n"
		"  --fault gpu-hash     the claims carry the hash of other GPU evidence than the body's\n"
		"  --fault nvswitch-nonce  only the NVSwitches' evidence answers another nonce than the release's\n"
		"  --gpu-replay DIR     send the GPU evidence in DIR (from --gpu-evidence-out) as it is\n"
		"  --repeat N           benchmark: release the keys N times, each on a new TLS connection,\n"
		"                       and print the timing as JSON on stdout\n\n"
		"Exit codes: 0 every key obtained, 1 a key was denied or an error occurred, 2 usage error.\n");
}

static int die(const char *what, const char *detail)
{
	fprintf(stderr, "keygate-client: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* One JSON line; the broker's strings are escaped by jansson. */
static void print_json_to(FILE *f, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (s)
		fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}

/* write(2) straight from secret memory: no stdio buffer keeps a copy. */
static kg_err write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		KG_ENSURE(w > 0, KG_ERR_IO);
		b += w;
		n -= (size_t)w;
	}
	return KG_OK;
}

/* The key as a JWK for jose (the Clevis pin), built in secret memory.
 * key_id is [A-Za-z0-9._-] only, so it needs no JSON escaping. */
static kg_err write_jwk(int fd, const char *key_id, uint32_t version, const uint8_t *key, size_t len)
{
	size_t b64 = sodium_base64_ENCODED_LEN(KG_KEY_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	size_t cap = b64 + 64 + 64 + 32;
	char *buf = (char *)kg_secret_alloc(cap), *k = (char *)kg_secret_alloc(b64);
	kg_err rc = KG_ERR_NOMEM;
	int n;

	if (buf && k) {
		sodium_bin2base64(k, b64, key, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		n = snprintf(buf, cap, "{\"kty\":\"oct\",\"k\":\"%s\",\"kid\":\"%s\",\"key_version\":%" PRIu32 "}\n",
			     k, key_id, version);
		rc = n > 0 && (size_t)n < cap ? write_all(fd, buf, (size_t)n) : KG_ERR_INTERNAL;
	}
	kg_secret_free((uint8_t *)buf);
	kg_secret_free((uint8_t *)k);
	return rc;
}

/* GET /v1/challenge from the first broker that answers, with backoff. */
static kg_err fetch_challenge(struct kg_http *h, const struct opts *o, uint8_t *c, size_t *clen, int *url_idx)
{
	char url[1024];

	for (int attempt = 0; attempt <= o->retries; attempt++) {
		for (int i = 0; i < o->nurls; i++) {
			long status;
			char *resp = NULL;
			json_t *j;
			const char *s;
			snprintf(url, sizeof url, "%s/v1/challenge", o->urls[i]);
			if (kg_http_request(h, url, NULL, &status, &resp) != KG_OK) {
				fprintf(stderr, "keygate-client: %s: %s\n", o->urls[i], kg_http_error(h));
				continue;
			}
			j = status == 200 ? json_loads(resp, 0, NULL) : NULL;
			free(resp);
			s = j ? json_string_value(json_object_get(j, "challenge")) : NULL;
			if (s && sodium_base642bin(c, KG_RATLS_NONCE_MAX, s, strlen(s), NULL, clen, NULL,
						   sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
				json_decref(j);
				*url_idx = i;
				return KG_OK;
			}
			json_decref(j);
			fprintf(stderr, "keygate-client: %s: bad challenge answer (HTTP %ld)\n", o->urls[i], status);
		}
		if (attempt < o->retries)
			usleep((useconds_t)(250000u << (attempt < 5 ? attempt : 5)));
	}
	return KG_ERR_IO;
}

static kg_err sha256(const uint8_t *b, size_t n, uint8_t out[static 32])
{
	KG_ENSURE(EVP_Digest(b, n, out, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	return KG_OK;
}

static kg_err spki_of(EVP_PKEY *k, uint8_t **der, size_t *len)
{
	int n;

	*der = NULL;
	n = i2d_PUBKEY(k, der);
	KG_ENSURE(n > 0, KG_ERR_CRYPTO);
	*len = (size_t)n;
	return KG_OK;
}

static kg_err parse_uuid(const char *s, uint8_t out[static 16])
{
	char hex[33];
	size_t n = 0;

	for (; *s && n < 32; s++)
		if (*s != '-')
			hex[n++] = *s;
	hex[n] = 0;
	KG_ENSURE(n == 32 && *s == 0, KG_ERR_BAD_REQUEST);
	return kg_unhex(out, 16, hex);
}

static kg_err b64dec(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	KG_ENSURE(s && sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0,
		  KG_ERR_BAD_REQUEST);
	return KG_OK;
}

/* Opens one release answer and delivers the key (no output in
 * benchmark mode). */
static int deliver(const struct opts *o, const char *key_id, const char *resp, const uint8_t ev_hash[static 32],
		   const uint8_t hpke_sk[static 32])
{
	json_t *j = json_loads(resp, 0, NULL);
	uint8_t rid[16], enc[KG_HPKE_NENC + 1], ct[KG_KEY_MAX + KG_HPKE_NT + 1], info[KG_RELEASE_INFO_MAX];
	size_t enc_len = 0, ct_len = 0, info_len;
	uint8_t *key = kg_secret_alloc(KG_KEY_MAX);
	const char *got_id, *kind;
	json_int_t version, aead;
	long serial = -1;
	int ret = 1;

	if (!j || !key) {
		ret = die("malformed answer", key_id);
		goto out;
	}
	got_id = json_string_value(json_object_get(j, "key_id"));
	kind = json_string_value(json_object_get(j, "kind"));
	version = json_integer_value(json_object_get(j, "key_version"));
	aead = json_integer_value(json_object_get(json_object_get(j, "hpke"), "aead_id"));
	/* The answer must be for the key asked for, in the suite asked for. */
	if (!got_id || strcmp(got_id, key_id) != 0 || !kind ||
	    (strcmp(kind, "model") != 0 && strcmp(kind, "session") != 0) || version < 0 || version > UINT32_MAX ||
	    aead != o->aead || json_integer_value(json_object_get(json_object_get(j, "hpke"), "kem_id")) != 0x20 ||
	    json_integer_value(json_object_get(json_object_get(j, "hpke"), "kdf_id")) != 1 ||
	    parse_uuid(json_string_value(json_object_get(j, "request_id")) ?: "", rid) != KG_OK ||
	    b64dec(json_string_value(json_object_get(j, "enc")), enc, sizeof enc, &enc_len) != KG_OK ||
	    enc_len != KG_HPKE_NENC ||
	    b64dec(json_string_value(json_object_get(j, "ciphertext")), ct, sizeof ct, &ct_len) != KG_OK ||
	    ct_len <= KG_HPKE_NT || ct_len - KG_HPKE_NT > KG_KEY_MAX) {
		ret = die("malformed answer", key_id);
		goto out;
	}
	info_len = kg_release_info(info, ev_hash, key_id, (uint32_t)version, rid);
	if (kg_hpke_open_base(o->aead, hpke_sk, enc, info, info_len, NULL, 0, ct, ct_len, key) != KG_OK) {
		ret = die("the sealed key did not open (wrong binding?)", key_id);
		goto out;
	}
	if (o->out_dir) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", o->out_dir, key_id);
		if (kg_file_write(path, key, ct_len - KG_HPKE_NT, 0600) != KG_OK) {
			ret = die("cannot write key file", path);
			goto out;
		}
	}
	if (o->out_stdout == STDOUT_RAW && write_all(1, key, ct_len - KG_HPKE_NT) != KG_OK) {
		ret = die("cannot write the key to stdout", strerror(errno));
		goto out;
	}
	if (o->out_stdout == STDOUT_JWK && write_jwk(1, key_id, (uint32_t)version, key, ct_len - KG_HPKE_NT) != KG_OK) {
		ret = die("cannot write the key to stdout", strerror(errno));
		goto out;
	}
	if (o->keyring != 0) {
		/* add_key(2) directly: a "user" key the kernel keeps, readable by
		 * this user's processes that possess the keyring. */
		char desc[80];
		snprintf(desc, sizeof desc, "keygate:%s", key_id);
		serial = syscall(SYS_add_key, "user", desc, key, ct_len - KG_HPKE_NT, o->keyring);
		if (serial < 0) {
			ret = die("the kernel keyring refused the key (add_key)", strerror(errno));
			goto out;
		}
	}
	if (o->repeat == 0) {
		json_t *line = json_pack("{s:s,s:I,s:s,s:I,s:s}", "key_id", key_id, "key_version", version, "kind", kind,
					 "length", (json_int_t)(ct_len - KG_HPKE_NT), "request_id",
					 json_string_value(json_object_get(j, "request_id")));
		if (line && serial >= 0)
			json_object_set_new(line, "keyring_serial", json_integer(serial));
		print_json_to(o->out_stdout != STDOUT_JSON ? stderr : stdout, line);
	}
	if (!o->quiet)
		fprintf(stderr, "keygate-client: unwrapped %s key '%s' (version %lld, %zu bytes)\n", kind, key_id,
			(long long)version, ct_len - KG_HPKE_NT);
	ret = 0;
out:
	kg_secret_free(key);
	json_decref(j);
	return ret;
}


/* No core dumps and no ptrace from other users' processes: the client
 * holds the HPKE key and released keys in memory. */
static void harden(void)
{
	struct rlimit rl = {0, 0};

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Benchmark mode: o->repeat rounds of releasing every key, each request on
 * a fresh TLS connection (full handshake with the RA-TLS certificate, as a
 * booting CVM does), each answer opened.  One JSON line on stdout. */
static int bench(struct kg_http *h, const struct opts *o, int url_idx, const uint8_t ev_hash[static 32],
		 const uint8_t *hpke_sk)
{
	struct opts quiet = *o;
	char url[1024];
	double t0 = mono(), worst = 0;
	int ok = 0, bad = 0;

	quiet.quiet = true;
	quiet.out_dir = NULL;
	kg_http_fresh_connections(h, true);
	for (int r = 0; r < o->repeat; r++)
		for (int k = 0; k < o->nkeys; k++) {
			char *resp = NULL;
			long status = 0;
			double t = mono();
			snprintf(url, sizeof url, "%s/v1/keys/%s/release", o->urls[url_idx], o->keys[k]);
			if (kg_http_request(h, url, o->body, &status, &resp) == KG_OK && status == 200 &&
			    deliver(&quiet, o->keys[k], resp, ev_hash, hpke_sk) == 0)
				ok++;
			else
				bad++;
			free(resp);
			if (mono() - t > worst)
				worst = mono() - t;
		}
	printf("{\"releases\":%d,\"failed\":%d,\"seconds\":%.3f,\"per_second\":%.1f,\"max_ms\":%.2f}\n", ok, bad,
	       mono() - t0, (double)ok / (mono() - t0), worst * 1000);
	return bad ? 1 : 0;
}

static kg_err get_evidence(const struct opts *o, const uint8_t report_data[static 64], uint8_t **ev, size_t *len,
			   uint64_t *tag)
{
	struct kg_evidence_diag d;
	kg_err e = KG_ERR_INVALID_ARG;

	if (strcmp(o->tee, "tsm") == 0 || strcmp(o->tee, "sev-guest") == 0) {
		if (strcmp(o->tee, "tsm") == 0)
			e = kg_tsm_get(o->tsm_root, o->privlevel, report_data, tag, ev, len, &d);
		else if ((e = kg_sev_guest_get(o->sev_dev, o->privlevel < 0 ? 0 : (unsigned)o->privlevel,
					       report_data, ev, len, &d)) == KG_OK)
			*tag = KG_RATLS_TAG_SNP;
		if (e != KG_OK && d.msg[0])
			fprintf(stderr, "keygate-client: %s\n", d.msg);
		return e;
	}
	if (strcmp(o->tee, "snp-sim") == 0) {
		*tag = KG_RATLS_TAG_SNP;
		return kg_snp_sim_attest(o->sim_dir, &o->sim, report_data, ev, len);
	}
	if (strcmp(o->tee, "tdx-sim") == 0) {
		*tag = KG_RATLS_TAG_INTEL_QUOTE;
		return kg_tdx_sim_quote(o->sim_dir, &o->tdx, report_data, ev, len);
	}
	return KG_ERR_INVALID_ARG;
}

/* The release body: the AEAD, and the image's ledger bundle (with a
 * consistency proof) when the image ships one. */
static kg_err make_body(struct opts *o, const struct kg_client_gpus *gpus)
{
	json_t *j = json_pack("{s:s}", "aead", kg_aead_name(o->aead));
	const char *files[2] = {o->ledger_bundle, o->ledger_consistency};
	const char *names[2] = {"ledger_bundle", "ledger_consistency"};
	kg_err rc = KG_OK;

	KG_ENSURE(j != NULL, KG_ERR_NOMEM);
	/* The broker validates both (session_id_invalid, bad_request). */
	if (o->session_id)
		json_object_set_new(j, "session_id", json_string(o->session_id));
	if (o->key_version)
		json_object_set_new(j, "version", json_integer(o->key_version));
	for (int i = 0; i < 2 && rc == KG_OK; i++) {
		uint8_t *buf;
		size_t len;
		if (!files[i])
			continue;
		if ((rc = kg_file_read(files[i], KG_LEDGER_TEXT_MAX, &buf, &len)) != KG_OK) {
			fprintf(stderr, "keygate-client: cannot read %s\n", files[i]);
			break;
		}
		json_object_set_new(j, names[i], json_stringn((const char *)buf, len));
		free(buf);
	}
	if (rc == KG_OK)
		rc = kg_client_gpu_body_add(j, gpus);
	if (rc == KG_OK && (o->body = json_dumps(j, JSON_COMPACT)) == NULL)
		rc = KG_ERR_NOMEM;
	json_decref(j);
	return rc;
}

/* dir/name: 32 bytes in hex and a newline. */
static kg_err write_hex(const char *dir, const char *name, const uint8_t b[static 32])
{
	char path[4096], hex[2 * 32 + 2];

	KG_ENSURE((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path, KG_ERR_INVALID_ARG);
	kg_hex(hex, b, 32);
	hex[64] = '\n';
	return kg_file_write(path, hex, 65, 0644);
}

/* The GPUs' evidence for this release: each device answers
 * kg_gpu_nonce(challenge, pubkey-hash of spki); *hash is what the claims
 * carry (kg_gpu_evidence_hash).  Nothing when neither --gpu nor
 * --nvswitch was given. */
static kg_err get_gpus(const struct opts *o, const uint8_t *challenge, size_t clen, const uint8_t *spki,
		       size_t spki_len, struct kg_client_gpus *g, uint8_t hash[static 32])
{
	struct kg_client_gpu_diag d = {{0}, {0}};
	uint8_t nonce[32];
	uint8_t good_nonce[32];
	kg_err e = KG_OK;

	memset(hash, 0, 32);
	if (o->gpu == GPU_NONE && !o->nvswitch)
		return KG_OK;
	KG_TRY(kg_client_gpu_nonce(challenge, clen, spki, spki_len, nonce));
	memcpy(good_nonce, nonce, sizeof nonce);
	if (o->fault == FAULT_GPU_NONCE)
		nonce[0] ^= 1;
	switch (o->gpu) {
	case GPU_SIM:
		e = kg_client_gpu_sim(o->gpu_sim_dir, o->gpu_recorded, o->n_gpu_recorded, nonce, g);
		break;
	case GPU_NVML:
		e = kg_client_gpu_nvml(o->nvml_lib, nonce, g, &d);
		break;
	case GPU_REPLAY:
		e = kg_client_gpu_read(o->gpu_replay_dir, g);
		break;
	case GPU_NONE:
		break;
	}
	/* The NVSwitches after the GPUs, as NVIDIA lists a PPCIe machine's. */
	if (e == KG_OK && o->nvswitch) {
		if (o->fault == FAULT_NVSWITCH_NONCE)
			nonce[0] ^= 1;
		e = kg_client_gpu_nscq(o->nscq_lib, nonce, g, &d);
		if (e == KG_OK && d.note[0])
			fprintf(stderr, "keygate-client: %s\n", d.note);
	}
	if (e != KG_OK) {
		fprintf(stderr, "keygate-client: cannot get GPU evidence: %s (%s)%s%s\n", kg_err_msg(e), kg_err_code(e),
			d.msg[0] ? ": " : "", d.msg);
		return e;
	}
	kg_gpu_evidence_hash(g->dev, g->n, hash);
	if (o->fault == FAULT_GPU_HASH)
		hash[0] ^= 1;
	/* For tests: the evidence, the nonce this release expects (not a
	 * --fault's) and the hash the claims carry, so that a verdict can be
	 * checked offline and the evidence replayed. */
	if (o->gpu_out_dir && ((e = kg_client_gpu_write(o->gpu_out_dir, g)) != KG_OK ||
			       (e = write_hex(o->gpu_out_dir, "nonce.hex", good_nonce)) != KG_OK ||
			       (e = write_hex(o->gpu_out_dir, "evidence-hash.hex", hash)) != KG_OK)) {
		fprintf(stderr, "keygate-client: cannot write GPU evidence to %s\n", o->gpu_out_dir);
		return e;
	}
	return KG_OK;
}

static int run(struct opts *o)
{
	uint8_t challenge[KG_RATLS_NONCE_MAX], hpke_pk[32], report_data[64] = {0}, ev_hash[32];
	uint8_t *hpke_sk = kg_secret_alloc(32), *spki = NULL, *claims = NULL, *ev = NULL, *ext = NULL, *cert = NULL;
	size_t clen = 0, spki_len = 0, claims_len = 0, ev_len = 0, ext_len = 0, cert_len = 0;
	EVP_PKEY *tls_key = NULL, *other = NULL;
	struct kg_http *h = NULL;
	struct kg_client_gpus gpus;
	uint8_t gpu_hash[32];
	BIO *bio = NULL;
	char *key_pem = NULL;
	long key_pem_len;
	uint64_t tag = 0;
	int url_idx = 0, ret = 1;
	kg_err e;

	memset(&gpus, 0, sizeof gpus);
	if (!hpke_sk || kg_http_new(&h, o->ca) != KG_OK)
		goto out;
	if (o->challenge) {
		if (sodium_base642bin(challenge, sizeof challenge, o->challenge, strlen(o->challenge), NULL, &clen,
				      NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
			ret = die("--challenge is not base64url", NULL);
			goto out;
		}
	} else if (fetch_challenge(h, o, challenge, &clen, &url_idx) != KG_OK) {
		ret = die("no broker gave a challenge", NULL);
		goto out;
	}

	/* Fresh keys for this boot: the TLS key (P-256: cheap for the
	 * broker to verify in the handshake) and the HPKE key. */
	if (!(tls_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) || kg_hpke_keygen(hpke_sk, hpke_pk) != KG_OK)
		goto out;
	if (o->fault == FAULT_PUBKEY) {
		if (!(other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) || spki_of(other, &spki, &spki_len) != KG_OK)
			goto out;
	} else if (spki_of(tls_key, &spki, &spki_len) != KG_OK) {
		goto out;
	}
	if (get_gpus(o, challenge, clen, spki, spki_len, &gpus, gpu_hash) != KG_OK || make_body(o, &gpus) != KG_OK)
		goto out;
	if (kg_ratls_encode_claims_gpu(spki, spki_len, challenge, clen, hpke_pk, gpus.n ? gpu_hash : NULL, &claims,
				       &claims_len) != KG_OK ||
	    sha256(claims, claims_len, report_data) != KG_OK)
		goto out;
	if (o->fault == FAULT_REPORT_DATA)
		report_data[0] ^= 1;
	if ((e = get_evidence(o, report_data, &ev, &ev_len, &tag)) != KG_OK) {
		fprintf(stderr, "keygate-client: cannot get evidence: %s (%s)\n", kg_err_msg(e), kg_err_code(e));
		ret = 1;
		goto out;
	}
	if (kg_ratls_encode_evidence(tag, ev, ev_len, claims, claims_len, &ext, &ext_len) != KG_OK ||
	    sha256(ext, ext_len, ev_hash) != KG_OK ||
	    kg_ratls_make_cert(tls_key, ext, ext_len, time(NULL), 600, &cert, &cert_len) != KG_OK)
		goto out;
	if (!(bio = BIO_new(BIO_s_secmem())) || !PEM_write_bio_PrivateKey(bio, tls_key, NULL, NULL, 0, NULL, NULL) ||
	    (key_pem_len = BIO_get_mem_data(bio, &key_pem)) <= 0)
		goto out;
	if (o->fault != FAULT_NO_CERT &&
	    kg_http_set_client_cert(h, cert, cert_len, key_pem, (size_t)key_pem_len) != KG_OK)
		goto out;

	ret = 0;
	if (o->repeat > 0) {
		ret = bench(h, o, url_idx, ev_hash, hpke_sk);
		goto out;
	}
	for (int k = 0; k < o->nkeys; k++) {
		char url[1024], *resp = NULL;
		long status = 0;
		json_t *j;
		snprintf(url, sizeof url, "%s/v1/keys/%s/release", o->urls[url_idx], o->keys[k]);
		if (kg_http_request(h, url, o->body, &status, &resp) != KG_OK) {
			ret = die(o->urls[url_idx], kg_http_error(h));
			continue;
		}
		if (status != 200) {
			j = json_loads(resp, 0, NULL);
			fprintf(stderr, "keygate-client: key '%s' denied: %s (HTTP %ld)\n", o->keys[k],
				j ? json_string_value(json_object_get(j, "error")) : "(no reason)", status);
			print_json_to(o->out_stdout != STDOUT_JSON ? stderr : stdout,
				      json_pack("{s:s,s:s,s:I}", "key_id", o->keys[k], "error",
					     j && json_string_value(json_object_get(j, "error"))
						     ? json_string_value(json_object_get(j, "error"))
						     : "unknown",
					     "status", (json_int_t)status));
			json_decref(j);
			ret = 1;
		} else if (deliver(o, o->keys[k], resp, ev_hash, hpke_sk) != 0) {
			ret = 1;
		}
		free(resp);
	}
out:
	kg_secret_free(hpke_sk);
	BIO_free(bio);
	EVP_PKEY_free(tls_key);
	EVP_PKEY_free(other);
	OPENSSL_free(spki);
	free(claims);
	free(ev);
	free(ext);
	free(cert);
	kg_http_free(h);
	kg_client_gpus_free(&gpus);
	free(o->body);
	o->body = NULL;
	return ret;
}

/* `sim-crl DIR OUT`: a CRL from the simulated ARK, as AMD's KDS serves one
 * per product, for tests and demos of revocation. */
static int sim_crl(int argc, char **argv)
{
	bool vcek = false, ask = false, expired = false;
	long days = 7;
	uint8_t *der = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	kg_err e;

	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--revoke-vcek") == 0)
			vcek = true;
		else if (strcmp(argv[i], "--revoke-ask") == 0)
			ask = true;
		else if (strcmp(argv[i], "--expired") == 0)
			expired = true;
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc && (days = atol(argv[++i])) > 0)
			;
		else
			argc = 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	/* --expired: a CRL whose nextUpdate has passed. */
	if (expired)
		e = kg_snp_sim_crl(argv[1], vcek, ask, now - 2 * 86400, now - 86400, &der, &len);
	else
		e = kg_snp_sim_crl(argv[1], vcek, ask, now - 60, now + days * 86400, &der, &len);
	if (e != KG_OK)
		return die("sim-crl failed", kg_err_msg(e));
	e = kg_file_write(argv[2], der, len, 0644);
	free(der);
	return e == KG_OK ? 0 : die("cannot write", argv[2]);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},	   {"ca", required_argument, NULL, 'c'},
		{"tee", required_argument, NULL, 't'},	   {"key", required_argument, NULL, 'k'},
		{"out-dir", required_argument, NULL, 'o'}, {"aead", required_argument, NULL, 'a'},
		{"retries", required_argument, NULL, 'r'}, {"sim-dir", required_argument, NULL, 'S'},
		{"sim-measurement", required_argument, NULL, 'M'}, {"sim-debug", no_argument, NULL, 'D'},
		{"sim-tcb", required_argument, NULL, 'T'}, {"challenge", required_argument, NULL, 'C'},
		{"fault", required_argument, NULL, 'F'},   {"quiet", no_argument, NULL, 'q'},
		{"repeat", required_argument, NULL, 'R'}, {"sim-version", required_argument, NULL, 'V'},
		{"sim-vmpl", required_argument, NULL, 'P'}, {"sim-host-data", required_argument, NULL, 'H'},
		{"sim-guest-svn", required_argument, NULL, 'G'}, {"sim-out-of-date", no_argument, NULL, 'O'},
		{"sim-no-cert-table", no_argument, NULL, 'T' + 256},
		{"ledger-bundle", required_argument, NULL, 'B'}, {"ledger-consistency", required_argument, NULL, 'N'},
		{"tsm-root", required_argument, NULL, 'Z'}, {"sev-guest-dev", required_argument, NULL, 'Y'},
		{"privlevel", required_argument, NULL, 'L'}, {"stdout", required_argument, NULL, 'W'},
		{"keyring", required_argument, NULL, 'K'},
		{"session-id", required_argument, NULL, 'I' + 256}, {"key-version", required_argument, NULL, 'K' + 256},
		{"gpu", required_argument, NULL, 'g' + 256}, {"gpu-sim", required_argument, NULL, 's' + 256},
		{"gpu-recorded", required_argument, NULL, 'r' + 256}, {"nvml-lib", required_argument, NULL, 'l' + 256},
		{"gpu-replay", required_argument, NULL, 'p' + 256},
		{"nvswitch", required_argument, NULL, 'n' + 256}, {"nscq-lib", required_argument, NULL, 'q' + 256},
		{"gpu-evidence-out", required_argument, NULL, 'o' + 256},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct opts o;
	int c;

	harden();
	if (sodium_init() < 0)
		return die("libsodium failed to initialise", NULL);
	if (argc >= 2 && strcmp(argv[1], "sim-crl") == 0)
		return sim_crl(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sim-init") == 0) {
		kg_err e;
		bool tdx = argc == 5 && strcmp(argv[3], "--tee") == 0 && strcmp(argv[4], "tdx") == 0;
		bool gpu = argc == 5 && strcmp(argv[3], "--tee") == 0 && strcmp(argv[4], "gpu") == 0;
		bool snp = argc == 3 || (argc == 5 && strcmp(argv[3], "--tee") == 0 && strcmp(argv[4], "snp") == 0);
		if (!tdx && !snp && !gpu) {
			usage(stderr);
			return 2;
		}
		if ((e = tdx ? kg_tdx_sim_init(argv[2]) : gpu ? kg_gpu_sim_init(argv[2]) : kg_snp_sim_init(argv[2])) !=
		    KG_OK)
			return die("sim-init failed", kg_err_msg(e));
		return 0;
	}
	memset(&o, 0, sizeof o);
	o.aead = KG_HPKE_AEAD_CHACHA20_POLY1305;
	o.retries = 3;
	o.privlevel = -1;
	o.tsm_root = KG_TSM_ROOT_DEFAULT;
	o.sev_dev = KG_SEV_GUEST_DEFAULT;
	o.sim = kg_snp_sim_params_default();
	o.tdx = kg_tdx_sim_params_default();
	while ((c = getopt_long(argc, argv, "u:c:t:k:o:a:r:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (o.nurls == MAX_URLS)
				return die("too many --url", NULL) + 1;
			o.urls[o.nurls++] = optarg;
			break;
		case 'c':
			o.ca = optarg;
			break;
		case 't':
			o.tee = optarg;
			break;
		case 'k':
			if (o.nkeys == MAX_KEYS || !kg_key_id_valid(optarg))
				return die("bad or too many --key", optarg) + 1;
			o.keys[o.nkeys++] = optarg;
			break;
		case 'o':
			o.out_dir = optarg;
			break;
		case 'a':
			if ((o.aead = kg_aead_from_name(optarg)) == 0)
				return die("unknown --aead", optarg) + 1;
			break;
		case 'r':
			o.retries = atoi(optarg);
			break;
		case 'S':
			o.sim_dir = optarg;
			break;
		case 'M':
			if (kg_unhex(o.sim.measurement, 48, optarg) != KG_OK ||
			    kg_unhex(o.tdx.mr_td, 48, optarg) != KG_OK)
				return die("--sim-measurement wants 96 hex digits", NULL) + 1;
			break;
		case 'D':
			o.sim.policy |= 1ull << 19;
			o.tdx.td_attributes |= KG_TDX_TD_ATTR_DEBUG;
			break;
		case 'O':
			o.tdx.out_of_date = true;
			break;
		case 'T' + 256:
			o.sim.no_cert_table = true;
			break;
		case 'T': {
			unsigned bl, tee, snp, uc;
			if (sscanf(optarg, "%u:%u:%u:%u", &bl, &tee, &snp, &uc) != 4 || bl > 255 || tee > 255 ||
			    snp > 255 || uc > 255)
				return die("--sim-tcb wants BL:TEE:SNP:UCODE", NULL) + 1;
			o.sim.reported_tcb.bootloader = (uint8_t)bl;
			o.sim.reported_tcb.tee = (uint8_t)tee;
			o.sim.reported_tcb.snp = (uint8_t)snp;
			o.sim.reported_tcb.microcode = (uint8_t)uc;
			break;
		}
		case 'C':
			o.challenge = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "pubkey-hash") == 0)
				o.fault = FAULT_PUBKEY;
			else if (strcmp(optarg, "report-data") == 0)
				o.fault = FAULT_REPORT_DATA;
			else if (strcmp(optarg, "no-cert") == 0)
				o.fault = FAULT_NO_CERT;
			else if (strcmp(optarg, "vcek-tcb") == 0)
				o.fault = FAULT_VCEK_TCB;
			else if (strcmp(optarg, "gpu-nonce") == 0)
				o.fault = FAULT_GPU_NONCE;
			else if (strcmp(optarg, "gpu-hash") == 0)
				o.fault = FAULT_GPU_HASH;
			else if (strcmp(optarg, "nvswitch-nonce") == 0)
				o.fault = FAULT_NVSWITCH_NONCE;
			else
				return die("unknown --fault", optarg) + 1;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'V':
			o.sim.version = (uint32_t)strtoul(optarg, NULL, 10);
			o.tdx.version = (uint16_t)o.sim.version;
			if (o.tdx.version == 5)
				o.tdx.body_type = 3; /* TDX 1.5 */
			break;
		case 'P':
			o.sim.vmpl = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'H':
			if (kg_unhex(o.sim.host_data, 32, optarg) != KG_OK)
				return die("--sim-host-data wants 64 hex digits", NULL) + 1;
			break;
		case 'G':
			o.sim.guest_svn = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'B':
			o.ledger_bundle = optarg;
			break;
		case 'N':
			o.ledger_consistency = optarg;
			break;
		case 'I' + 256:
			o.session_id = optarg;
			break;
		case 'K' + 256:
			o.key_version = strtol(optarg, NULL, 10);
			break;
		case 'g' + 256:
			if (o.gpu != GPU_NONE)
				return die("one GPU source: --gpu nvml, --gpu-sim or --gpu-replay", NULL) + 1;
			if (strcmp(optarg, "nvml") != 0)
				return die("--gpu wants nvml (simulated GPUs: --gpu-sim DIR)", optarg) + 1;
			o.gpu = GPU_NVML;
			break;
		case 's' + 256:
			if (o.gpu != GPU_NONE)
				return die("one GPU source: --gpu nvml, --gpu-sim or --gpu-replay", NULL) + 1;
			o.gpu = GPU_SIM;
			o.gpu_sim_dir = optarg;
			break;
		case 'r' + 256:
			if (o.n_gpu_recorded == KG_BODY_GPUS_MAX)
				return die("too many --gpu-recorded", optarg) + 1;
			o.gpu_recorded[o.n_gpu_recorded++] = optarg;
			break;
		case 'l' + 256:
			o.nvml_lib = optarg;
			break;
		case 'n' + 256:
			if (strcmp(optarg, "nscq") != 0)
				return die("--nvswitch wants nscq", optarg) + 1;
			o.nvswitch = true;
			break;
		case 'q' + 256:
			o.nscq_lib = optarg;
			break;
		case 'p' + 256:
			if (o.gpu != GPU_NONE)
				return die("one GPU source: --gpu nvml, --gpu-sim or --gpu-replay", NULL) + 1;
			o.gpu = GPU_REPLAY;
			o.gpu_replay_dir = optarg;
			break;
		case 'o' + 256:
			o.gpu_out_dir = optarg;
			break;
		case 'R':
			o.repeat = atoi(optarg);
			if (o.repeat < 1)
				return die("--repeat wants a positive count", NULL) + 1;
			break;
		case 'Z':
			o.tsm_root = optarg;
			break;
		case 'Y':
			o.sev_dev = optarg;
			break;
		case 'L': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == 0 || *end != 0 || v < 0 || v > KG_TSM_PRIVLEVEL_MAX)
				return die("--privlevel wants 0..3", optarg) + 1;
			o.privlevel = (int)v;
			break;
		}
		case 'W':
			if (strcmp(optarg, "raw") == 0)
				o.out_stdout = STDOUT_RAW;
			else if (strcmp(optarg, "jwk") == 0)
				o.out_stdout = STDOUT_JWK;
			else
				return die("--stdout wants raw or jwk", optarg) + 1;
			break;
		case 'K':
			if (strcmp(optarg, "user") == 0)
				o.keyring = KEY_SPEC_USER_KEYRING;
			else if (strcmp(optarg, "session") == 0)
				o.keyring = KEY_SPEC_SESSION_KEYRING;
			else if (strcmp(optarg, "user-session") == 0)
				o.keyring = KEY_SPEC_USER_SESSION_KEYRING;
			else
				return die("--keyring wants user, session or user-session", optarg) + 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || o.nurls == 0 || !o.tee || o.nkeys == 0) {
		usage(stderr);
		return 2;
	}
	bool sim = strcmp(o.tee, "snp-sim") == 0 || strcmp(o.tee, "tdx-sim") == 0;
	if (!sim && strcmp(o.tee, "tsm") != 0 && strcmp(o.tee, "sev-guest") != 0)
		return die("unknown --tee (this build knows: tsm, sev-guest, snp-sim, tdx-sim)", o.tee) + 1;
	if (sim && !o.sim_dir)
		return die("a simulated --tee needs --sim-dir", NULL) + 1;
	if (!sim && o.fault == FAULT_VCEK_TCB)
		return die("--fault vcek-tcb needs a simulated --tee", NULL) + 1;
	/* One GPU source; the simulator needs its recordings and only it takes them. */
	if ((o.gpu == GPU_SIM) != (o.n_gpu_recorded > 0))
		return die("--gpu-sim DIR and --gpu-recorded FILE go together", NULL) + 1;
	if (o.gpu == GPU_NONE && !o.nvswitch &&
	    (o.fault == FAULT_GPU_NONCE || o.fault == FAULT_GPU_HASH || o.gpu_out_dir))
		return die("--fault gpu-* and --gpu-evidence-out need GPU evidence (--gpu, --gpu-sim, --nvswitch)",
			   NULL) + 1;
	/* A replay is the evidence as it was sent, switches included. */
	if (o.nvswitch && o.gpu == GPU_REPLAY)
		return die("--gpu-replay sends what was sent: no --nvswitch with it", NULL) + 1;
	if (o.nscq_lib && !o.nvswitch)
		return die("--nscq-lib goes with --nvswitch nscq", NULL) + 1;
	if (o.fault == FAULT_NVSWITCH_NONCE && !o.nvswitch)
		return die("--fault nvswitch-nonce needs --nvswitch nscq", NULL) + 1;
	if (o.out_stdout != STDOUT_JSON && (o.nkeys != 1 || o.repeat > 0))
		return die("--stdout delivers exactly one --key", NULL) + 1;
	/* Keys belong in pipes, not on screens or in scrollback. */
	if (o.out_stdout != STDOUT_JSON && isatty(1))
		return die("--stdout will not write a key to a terminal", NULL) + 1;
	if (o.fault == FAULT_VCEK_TCB) {
		o.sim.vcek_tcb_set = true;
		o.sim.vcek_tcb = o.sim.reported_tcb;
		o.sim.vcek_tcb.microcode ^= 1;
	}
	return run(&o);
}
