/*
 * NVSwitch evidence for keygate-client through NVIDIA's NSCQ library
 * (NVSwitch Configuration and Query), loaded at run time (see gpu.h).
 *
 * The ABI is NSCQ's API 2.0 as NVIDIA publishes it for attestation, in
 * nvtrust guest_tools/attestation_sdk/src/nv_attestation_sdk/verifiers/
 * nv_switch_verifier/nscq/: nscq_attestation.h (types, sizes, return
 * codes, functions), nscq_attestation_path.h (paths), and its callers
 * there (__init__.py, with the callbacks' signatures in pynscq.py) and in
 * NVIDIA's attestation-sdk (nv-attestation-sdk-cpp/src/switch/
 * nscq_client.cpp, which also names the library and reads the TNVL mode).
 * Only what is named here is used.  Untested on hardware: no NVSwitch
 * here; tests/tools/fake_nscq.c stands in for the library.
 */
#define _GNU_SOURCE
#include "gpu.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cursor.h"
#include "gpu_int.h"

/* nscq_rc_t: 0 success, 1..127 warnings ("success, but with caveats"),
 * -128..-1 errors. */
typedef int8_t nscq_rc;
typedef struct nscq_session_st *nscq_session;
/* Every callback is passed as this type and cast back by the library to
 * the type its path answers with (nscq_fn_t). */
typedef void (*nscq_fn)(void);

struct nscq_uuid { /* nscq_uuid_t */
	uint8_t bytes[16];
};
struct nscq_label { /* nscq_label_t */
	char data[64];
};
struct nscq_session_result { /* nscq_session_result_t, returned by value */
	nscq_rc rc;
	nscq_session session;
};
struct nscq_attestation_report { /* nscq_attestation_report_t */
	uint32_t report_size;
	uint8_t report[KG_NSCQ_REPORT_MAX];
};
struct nscq_attestation_certificate { /* nscq_attestation_certificate_t */
	uint8_t cert_chain[KG_NSCQ_CERT_CHAIN_MAX];
	uint32_t cert_chain_size;
};
_Static_assert(sizeof(struct nscq_attestation_report) == KG_NSCQ_REPORT_ANSWER_SIZE, "NSCQ report layout");
_Static_assert(sizeof(struct nscq_attestation_certificate) == KG_NSCQ_CERT_ANSWER_SIZE, "NSCQ certificate layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "NSCQ's sizes are read little-endian");

#define NSCQ_SESSION_CREATE_MOUNT_DEVICES 0x1u
#define NSCQ_ATTESTATION_REPORT_NONCE_SIZE 0x20
/* nscq_tnvl_status_t, "/{nvswitch}/config/pcie_mode": -1 unknown, 0
 * disabled, 1 enabled, 2 failure, 3 locked.  NVIDIA's SDK calls a switch
 * locked only at 3 (nscq_client.cpp); nvtrust's Python tests bits 0 and 1,
 * which also takes -1 for locked, so the exact value is compared here. */
typedef int8_t nscq_tnvl_status;
#define NSCQ_DEVICE_TNVL_MODE_LOCKED 3

/* The paths (nscq_attestation_path.h); a switch's own are "/" + its label
 * + the suffix, as NVIDIA's callers build them. */
#define NSCQ_PATH_SWITCH_UUIDS "/drv/nvswitch/{device}/uuid"
#define NSCQ_PATH_PCIE_MODE "/config/pcie_mode"
#define NSCQ_PATH_REPORT "/config/attestation_report"
#define NSCQ_PATH_CERTIFICATE "/config/certificate"

struct nscq {
	void *lib;
	struct nscq_session_result (*session_create)(uint32_t flags);
	void (*session_destroy)(nscq_session s);
	nscq_rc (*path_observe)(nscq_session s, const char *path, nscq_fn cb, void *user, uint32_t flags);
	nscq_rc (*set_input)(nscq_session s, uint32_t flags, void *input, uint32_t size);
	nscq_rc (*uuid_to_label)(const struct nscq_uuid *uuid, struct nscq_label *label, uint32_t flags);
};

static const char *rc_name(nscq_rc rc)
{
	switch (rc) {
	case 0: return "NSCQ_RC_SUCCESS";
	case 1: return "NSCQ_RC_WARNING_RDT_INIT_FAILURE";
	case -1: return "NSCQ_RC_ERROR_NOT_IMPLEMENTED";
	case -2: return "NSCQ_RC_ERROR_INVALID_UUID";
	case -3: return "NSCQ_RC_ERROR_RESOURCE_NOT_MOUNTABLE";
	case -4: return "NSCQ_RC_ERROR_OVERFLOW";
	case -5: return "NSCQ_RC_ERROR_UNEXPECTED_VALUE";
	case -6: return "NSCQ_RC_ERROR_UNSUPPORTED_DRV";
	case -7: return "NSCQ_RC_ERROR_DRV";
	case -8: return "NSCQ_RC_ERROR_TIMEOUT";
	case -127: return "NSCQ_RC_ERROR_EXT";
	case -128: return "NSCQ_RC_ERROR_UNSPECIFIED";
	default: return rc > 0 ? "an NSCQ warning" : "an NSCQ error";
	}
}

/* ---------------------------------------------------------------------------
 * The callbacks.  Each path is observed synchronously: the library calls
 * the callback once per device the path names, with that device, a result
 * code and the value, then nscq_session_path_observe returns.
 */

/* The switches' labels, as "/drv/nvswitch/{device}/uuid" lists them. */
struct switches {
	const struct nscq *n;
	char label[KG_BODY_GPUS_MAX][sizeof(struct nscq_label)];
	size_t count;
	size_t extra;	  /* listed beyond KG_BODY_GPUS_MAX */
	nscq_rc rc;	  /* the first error a callback or nscq_uuid_to_label had */
	bool bad_label;	  /* a label that is no path component */
};

/* One switch's answer to one path. */
struct answer {
	unsigned calls;
	nscq_rc rc;		/* the callback's, if an error */
	nscq_tnvl_status tnvl;	/* pcie_mode */
	uint8_t *buf;		/* report or certificate, as the library laid it out */
	size_t buf_len;
};

/* A label names a path component: NUL-terminated within its 64 bytes,
 * printable, without the '/' and braces of NSCQ's path syntax. */
static bool label_ok(const struct nscq_label *l)
{
	const char *end = memchr(l->data, '\0', sizeof l->data);

	if (end == NULL || end == l->data)
		return false;
	for (const char *c = l->data; c < end; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '/' || *c == '{' || *c == '}')
			return false;
	return true;
}

static void uuid_cb(const struct nscq_uuid *device, nscq_rc rc, const struct nscq_uuid *uuid, void *user)
{
	struct switches *s = user;
	struct nscq_label l;
	nscq_rc lrc;

	(void)device;
	if (rc < 0 || uuid == NULL) {
		if (s->rc == 0)
			s->rc = rc < 0 ? rc : -5; /* NSCQ_RC_ERROR_UNEXPECTED_VALUE */
		return;
	}
	if (s->count == KG_BODY_GPUS_MAX) {
		s->extra++;
		return;
	}
	memset(&l, 0, sizeof l);
	if ((lrc = s->n->uuid_to_label(uuid, &l, 0)) < 0) {
		if (s->rc == 0)
			s->rc = lrc;
		return;
	}
	if (!label_ok(&l)) {
		s->bad_label = true;
		return;
	}
	memcpy(s->label[s->count++], l.data, sizeof l.data);
}

static void tnvl_cb(const struct nscq_uuid *device, nscq_rc rc, nscq_tnvl_status mode, void *user)
{
	struct answer *a = user;

	(void)device;
	if (a->calls++ == 0 && rc < 0)
		a->rc = rc;
	a->tnvl = mode;
}

/* The report and the certificate come by value, as NSCQ passes them
 * (pynscq.py declares the callbacks with the structures themselves, as
 * does nscq_client.cpp); only the first answer is kept. */
static void report_cb(const struct nscq_uuid *device, nscq_rc rc, struct nscq_attestation_report r, void *user)
{
	struct answer *a = user;

	(void)device;
	if (a->calls++ > 0)
		return;
	if (rc < 0)
		a->rc = rc;
	else
		memcpy(a->buf, &r, sizeof r);
}

static void cert_cb(const struct nscq_uuid *device, nscq_rc rc, struct nscq_attestation_certificate c, void *user)
{
	struct answer *a = user;

	(void)device;
	if (a->calls++ > 0)
		return;
	if (rc < 0)
		a->rc = rc;
	else
		memcpy(a->buf, &c, sizeof c);
}

/* ---------------------------------------------------------------------------
 * The answers, checked
 */

kg_err kg_client_gpu_nscq_take(struct kg_client_gpus *g, const uint8_t report[static KG_NSCQ_REPORT_ANSWER_SIZE],
			       const uint8_t cert[static KG_NSCQ_CERT_ANSWER_SIZE], const uint8_t *nonce)
{
	struct kg_cur r = kg_cur_init(report, KG_NSCQ_REPORT_ANSWER_SIZE);
	struct kg_cur c = kg_cur_init(cert, KG_NSCQ_CERT_ANSWER_SIZE);
	const uint8_t *rep, *chain;
	uint32_t rep_len, chain_len;

	/* nscq_attestation_report_t: report_size, then report[0x2000]. */
	KG_TRY(kg_cur_u32le(&r, &rep_len));
	KG_ENSURE(rep_len <= KG_NSCQ_REPORT_MAX, KG_ERR_GPU_EVIDENCE);
	KG_TRY(kg_cur_bytes(&r, &rep, rep_len));
	/* nscq_attestation_certificate_t: cert_chain[0x1400], then
	 * cert_chain_size. */
	KG_TRY(kg_cur_bytes(&c, &chain, KG_NSCQ_CERT_CHAIN_MAX));
	KG_TRY(kg_cur_u32le(&c, &chain_len));
	KG_TRY(kg_cur_done(&c));
	KG_ENSURE(chain_len <= KG_NSCQ_CERT_CHAIN_MAX, KG_ERR_GPU_EVIDENCE);
	/* The chain is PEM text, leaf first (nvtrust cert_chain_utils.py
	 * splits it at "-----END CERTIFICATE-----"; NVIDIA's SDK keeps it as
	 * a string); kg_client_gpu_take checks that it is. */
	return kg_client_gpu_take(g, rep, rep_len, chain, chain_len, nonce);
}

/* ---------------------------------------------------------------------------
 * The library
 */

static kg_err nscq_open(struct nscq *n, const char *lib, struct kg_client_gpu_diag *diag)
{
	const char *why, *missing = NULL;
	bool ok;

	memset(n, 0, sizeof *n);
	if ((n->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		kg_client_gpu_diag_set(diag, "cannot load %s (are NVIDIA's driver and libnvidia-nscq installed?): %s",
				       lib, why ? why : "");
		return KG_ERR_NSCQ_UNAVAILABLE;
	}
	ok = kg_client_gpu_sym(n->lib, "nscq_session_create", &n->session_create, &missing) &
	     kg_client_gpu_sym(n->lib, "nscq_session_destroy", &n->session_destroy, &missing) &
	     kg_client_gpu_sym(n->lib, "nscq_session_path_observe", &n->path_observe, &missing) &
	     kg_client_gpu_sym(n->lib, "nscq_session_set_input", &n->set_input, &missing) &
	     kg_client_gpu_sym(n->lib, "nscq_uuid_to_label", &n->uuid_to_label, &missing);
	if (!ok) {
		kg_client_gpu_diag_set(diag, "%s has no %s (not NSCQ 2.0?)", lib, missing);
		return KG_ERR_NSCQ_UNAVAILABLE;
	}
	return KG_OK;
}

/* Observes path with cb into a, expecting exactly one successful answer. */
static kg_err observe(const struct nscq *n, nscq_session s, const char *path, nscq_fn cb, struct answer *a,
		      struct kg_client_gpu_diag *diag)
{
	nscq_rc r;

	a->calls = 0;
	a->rc = 0;
	if ((r = n->path_observe(s, path, cb, a, 0)) < 0) {
		kg_client_gpu_diag_set(diag, "nscq_session_path_observe(%s): %s (%d)", path, rc_name(r), r);
		return KG_ERR_NSCQ;
	}
	if (a->rc < 0) {
		kg_client_gpu_diag_set(diag, "%s: %s (%d)", path, rc_name(a->rc), a->rc);
		return KG_ERR_NSCQ;
	}
	if (a->calls != 1) {
		kg_client_gpu_diag_set(diag, "%s: %u answers, one expected", path, a->calls);
		return KG_ERR_NSCQ;
	}
	return KG_OK;
}

/* "/" + label + suffix into buf: NSCQ's path of one switch's value. */
static kg_err switch_path(char *buf, size_t cap, const char *label, const char *suffix)
{
	int len = snprintf(buf, cap, "/%s%s", label, suffix);

	KG_ENSURE(len > 0 && (size_t)len < cap, KG_ERR_INTERNAL);
	return KG_OK;
}

/* Appends to diag->note, which lists the switches left out. */
static void note_add(struct kg_client_gpu_diag *diag, const char *label, nscq_tnvl_status mode)
{
	size_t used = strlen(diag->note);

	snprintf(diag->note + used, sizeof diag->note - used,
		 "%sNVSwitch %s not attested: pcie_mode %d, not locked (3)", used ? "; " : "", label, mode);
}

/* Drops the devices appended after the first n. */
static void truncate_to(struct kg_client_gpus *g, size_t n)
{
	while (g->n > n) {
		g->n--;
		free(g->dev[g->n].report);
		free(g->dev[g->n].certs);
		memset(&g->dev[g->n], 0, sizeof g->dev[g->n]);
	}
}

kg_err kg_client_gpu_nscq(const char *lib, const uint8_t nonce[static 32], struct kg_client_gpus *out,
			  struct kg_client_gpu_diag *diag)
{
	struct nscq n;
	struct nscq_session_result sr = {0, NULL};
	struct switches *sw = NULL;
	struct answer rep = {0}, cert = {0}, mode = {0};
	uint8_t input[NSCQ_ATTESTATION_REPORT_NONCE_SIZE];
	char path[sizeof(struct nscq_label) + 32];
	size_t n0 = out->n, skipped = 0;
	nscq_rc r;
	kg_err rc;

	diag->msg[0] = diag->note[0] = '\0';
	if (lib == NULL)
		lib = KG_NSCQ_LIB_DEFAULT;
	KG_TRY_OUT(nscq_open(&n, lib, diag));
	/* Mounting every switch at creation, as NVIDIA's callers do; a
	 * warning (> 0) still gives a session. */
	sr = n.session_create(NSCQ_SESSION_CREATE_MOUNT_DEVICES);
	if (sr.rc < 0 || sr.session == NULL) {
		kg_client_gpu_diag_set(diag, "nscq_session_create: %s (%d)", rc_name(sr.rc), sr.rc);
		sr.session = NULL;
		rc = KG_ERR_NSCQ_UNAVAILABLE;
		goto out;
	}
	KG_ENSURE_OUT((sw = calloc(1, sizeof *sw)) != NULL, KG_ERR_NOMEM);
	sw->n = &n;
	if ((r = n.path_observe(sr.session, NSCQ_PATH_SWITCH_UUIDS, (nscq_fn)uuid_cb, sw, 0)) < 0 || sw->rc < 0) {
		r = r < 0 ? r : sw->rc;
		kg_client_gpu_diag_set(diag, "listing NVSwitches (%s): %s (%d)", NSCQ_PATH_SWITCH_UUIDS, rc_name(r), r);
		rc = KG_ERR_NSCQ;
		goto out;
	}
	if (sw->bad_label) {
		kg_client_gpu_diag_set(diag, "nscq_uuid_to_label gave a label that names no path");
		rc = KG_ERR_NSCQ;
		goto out;
	}
	if (sw->extra > 0 || sw->count > KG_BODY_GPUS_MAX - n0) {
		kg_client_gpu_diag_set(diag, "%zu NVSwitches after %zu GPUs, the body carries at most %d devices",
				       sw->count + sw->extra, n0, KG_BODY_GPUS_MAX);
		rc = KG_ERR_TOO_LARGE;
		goto out;
	}
	if (sw->count == 0) {
		kg_client_gpu_diag_set(diag, "%s: no NVSwitch", NSCQ_PATH_SWITCH_UUIDS);
		rc = KG_ERR_NSCQ_UNAVAILABLE;
		goto out;
	}
	/* About 13 KiB together: on the heap. */
	KG_ENSURE_OUT((rep.buf = calloc(1, KG_NSCQ_REPORT_ANSWER_SIZE)) != NULL &&
			      (cert.buf = calloc(1, KG_NSCQ_CERT_ANSWER_SIZE)) != NULL,
		      KG_ERR_NOMEM);
	for (size_t i = 0; i < sw->count; i++) {
		const char *label = sw->label[i];

		/* Only a switch in locked TNVL mode protects the GPUs' traffic
		 * (NVIDIA's PPCIe verifier refuses any other); the others are
		 * left out and named, and the broker counts what attests. */
		KG_TRY_OUT(switch_path(path, sizeof path, label, NSCQ_PATH_PCIE_MODE));
		KG_TRY_OUT(observe(&n, sr.session, path, (nscq_fn)tnvl_cb, &mode, diag));
		if (mode.tnvl != NSCQ_DEVICE_TNVL_MODE_LOCKED) {
			note_add(diag, label, mode.tnvl);
			skipped++;
			continue;
		}
		/* The nonce is the session's input for the report that follows
		 * (nscq_session_set_input, flags 0, 32 bytes). */
		memcpy(input, nonce, sizeof input);
		if ((r = n.set_input(sr.session, 0, input, sizeof input)) < 0) {
			kg_client_gpu_diag_set(diag, "NVSwitch %s: nscq_session_set_input: %s (%d)", label, rc_name(r),
					       r);
			rc = KG_ERR_NSCQ;
			goto out;
		}
		/* The report first, then the chain whose leaf signed it. */
		memset(rep.buf, 0, KG_NSCQ_REPORT_ANSWER_SIZE);
		memset(cert.buf, 0, KG_NSCQ_CERT_ANSWER_SIZE);
		KG_TRY_OUT(switch_path(path, sizeof path, label, NSCQ_PATH_REPORT));
		KG_TRY_OUT(observe(&n, sr.session, path, (nscq_fn)report_cb, &rep, diag));
		KG_TRY_OUT(switch_path(path, sizeof path, label, NSCQ_PATH_CERTIFICATE));
		KG_TRY_OUT(observe(&n, sr.session, path, (nscq_fn)cert_cb, &cert, diag));
		if ((rc = kg_client_gpu_nscq_take(out, rep.buf, cert.buf, nonce)) != KG_OK) {
			kg_client_gpu_diag_set(diag, "NVSwitch %s: unusable evidence from NSCQ", label);
			goto out;
		}
	}
	if (out->n == n0) {
		kg_client_gpu_diag_set(diag, "%zu NVSwitches, none in locked TNVL mode", skipped);
		rc = KG_ERR_NSCQ_UNLOCKED;
		goto out;
	}
	rc = KG_OK;
out:
	if (sr.session)
		n.session_destroy(sr.session);
	if (n.lib)
		dlclose(n.lib);
	free(sw);
	free(rep.buf);
	free(cert.buf);
	if (rc != KG_OK)
		truncate_to(out, n0);
	return rc;
}
