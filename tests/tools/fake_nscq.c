/*
 * A stand-in for libnvidia-nscq.so.2, for testing keygate-client's NSCQ
 * path (client/nscq.c) without NVSwitches: the calls it makes, with NSCQ's
 * API 2.0 types and structure layouts (nvtrust nscq_attestation.h) and its
 * callbacks' signatures (the report and the certificate passed by value),
 * answered by the GPU simulator re-issuing real recorded NVSwitch reports
 * for the nonce the session was given.
 *   KG_FAKE_NSCQ_SIM      the simulator's directory (sim-init --tee gpu)
 *   KG_FAKE_NSCQ_REPORTS  recorded NVSwitch reports, ':'-separated, one
 *                         switch each
 *   KG_FAKE_NSCQ_FAULT    "session" (nscq_session_create fails), "list"
 *                         (listing the switches fails), "label" (a label
 *                         with a '/'), "report" (the report's callback
 *                         answers an error), "size" (a report_size beyond
 *                         the buffer), "cert-size" (likewise the chain's),
 *                         "nonce" (the report answers another nonce),
 *                         "unlocked" (switch 0 in TNVL mode, not locked),
 *                         "tnvl-off" (every switch with TNVL disabled),
 *                         "twice" (the report's callback called twice)
 * A session created without NSCQ_SESSION_CREATE_MOUNT_DEVICES has no
 * switch mounted, and a report asked for without a 32-byte input fails, as
 * NSCQ's callers (nvtrust, NVIDIA's attestation SDK) suggest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../attest/gpu_sim.h"

typedef int8_t nscq_rc_t;
typedef int8_t nscq_tnvl_status_t;
typedef void (*nscq_fn_t)(void);
typedef struct {
	uint8_t bytes[16];
} nscq_uuid_t;
typedef struct {
	char data[64];
} nscq_label_t;
typedef struct {
	uint32_t report_size;
	uint8_t report[0x2000];
} nscq_attestation_report_t;
typedef struct {
	uint8_t cert_chain[0x1400];
	uint32_t cert_chain_size;
} nscq_attestation_certificate_t;

#define MAX_SWITCHES 16
struct nscq_session_st {
	uint32_t flags;
	bool has_input;
	uint8_t nonce[32];
	char *chain[MAX_SWITCHES]; /* the chain of each switch's last report */
	size_t chain_len[MAX_SWITCHES];
};
typedef struct nscq_session_st *nscq_session_t;
typedef struct {
	nscq_rc_t rc;
	nscq_session_t session;
} nscq_session_result_t;

#define RC_ERROR_INVALID_UUID (-2)
#define RC_ERROR_RESOURCE_NOT_MOUNTABLE (-3)
#define RC_ERROR_UNEXPECTED_VALUE (-5)
#define RC_ERROR_DRV (-7)

/* The callbacks, as each path answers. */
typedef void (*uuid_cb_t)(const nscq_uuid_t *, nscq_rc_t, const nscq_uuid_t *, void *);
typedef void (*tnvl_cb_t)(const nscq_uuid_t *, nscq_rc_t, nscq_tnvl_status_t, void *);
typedef void (*report_cb_t)(const nscq_uuid_t *, nscq_rc_t, nscq_attestation_report_t, void *);
typedef void (*cert_cb_t)(const nscq_uuid_t *, nscq_rc_t, nscq_attestation_certificate_t, void *);

/* The prototypes, for -Wmissing-prototypes. */
nscq_session_result_t nscq_session_create(uint32_t flags);
void nscq_session_destroy(nscq_session_t s);
nscq_rc_t nscq_session_path_observe(nscq_session_t s, const char *path, nscq_fn_t cb, void *user, uint32_t flags);
nscq_rc_t nscq_session_set_input(nscq_session_t s, uint32_t flags, void *input, uint32_t size);
nscq_rc_t nscq_uuid_to_label(const nscq_uuid_t *uuid, nscq_label_t *label, uint32_t flags);

static int fault(const char *what)
{
	const char *f = getenv("KG_FAKE_NSCQ_FAULT");
	return f && strcmp(f, what) == 0;
}

/* The i-th ':'-separated path of KG_FAKE_NSCQ_REPORTS into out, or 0. */
static int report_path(unsigned int i, char *out, size_t cap)
{
	const char *s = getenv("KG_FAKE_NSCQ_REPORTS"), *e;
	size_t len;

	for (; s && i > 0; i--)
		s = (s = strchr(s, ':')) ? s + 1 : NULL;
	if (s == NULL || *s == '\0')
		return 0;
	e = strchr(s, ':');
	len = e ? (size_t)(e - s) : strlen(s);
	if (len >= cap)
		return 0;
	memcpy(out, s, len);
	out[len] = '\0';
	return 1;
}

static unsigned int switch_count(const struct nscq_session_st *s)
{
	char p[4096];
	unsigned int n = 0;

	if (!(s->flags & 0x1u)) /* NSCQ_SESSION_CREATE_MOUNT_DEVICES */
		return 0;
	while (n < MAX_SWITCHES && report_path(n, p, sizeof p))
		n++;
	return n;
}

static nscq_uuid_t uuid_of(unsigned int i)
{
	nscq_uuid_t u;

	memset(&u, 0, sizeof u);
	u.bytes[0] = 0x5c;
	u.bytes[15] = (uint8_t)i;
	return u;
}

nscq_rc_t nscq_uuid_to_label(const nscq_uuid_t *uuid, nscq_label_t *label, uint32_t flags)
{
	(void)flags;
	memset(label, 0, sizeof *label);
	snprintf(label->data, sizeof label->data, "SWX-%02X000000-0000-0000-0000-0000000000%02X", uuid->bytes[0],
		 uuid->bytes[15]);
	if (fault("label"))
		label->data[3] = '/';
	return 0;
}

nscq_session_result_t nscq_session_create(uint32_t flags)
{
	nscq_session_result_t r = {RC_ERROR_DRV, NULL};

	if (fault("session"))
		return r;
	if ((r.session = calloc(1, sizeof *r.session)) == NULL)
		return r;
	r.session->flags = flags;
	r.rc = 0;
	return r;
}

void nscq_session_destroy(nscq_session_t s)
{
	if (s == NULL)
		return;
	for (unsigned int i = 0; i < MAX_SWITCHES; i++)
		free(s->chain[i]);
	free(s);
}

nscq_rc_t nscq_session_set_input(nscq_session_t s, uint32_t flags, void *input, uint32_t size)
{
	(void)flags;
	if (size != sizeof s->nonce || input == NULL)
		return RC_ERROR_UNEXPECTED_VALUE;
	memcpy(s->nonce, input, sizeof s->nonce);
	s->has_input = true;
	return 0;
}

/* The recorded report of switch i re-issued for the session's nonce into
 * *r; its chain kept for the certificate path. */
static nscq_rc_t attest(nscq_session_t s, unsigned int i, nscq_attestation_report_t *r)
{
	char path[4096];
	uint8_t *rec = malloc(64 * 1024), *rep = NULL, nonce[32];
	size_t rec_len = 0, rep_len = 0;
	nscq_rc_t rc = RC_ERROR_DRV;
	FILE *f = NULL;

	if (rec == NULL || !s->has_input || !report_path(i, path, sizeof path) || (f = fopen(path, "rb")) == NULL)
		goto out;
	rec_len = fread(rec, 1, 64 * 1024, f);
	memcpy(nonce, s->nonce, sizeof nonce);
	if (fault("nonce"))
		nonce[0] ^= 1;
	free(s->chain[i]);
	s->chain[i] = NULL;
	if (kg_gpu_sim_attest(getenv("KG_FAKE_NSCQ_SIM"), rec, rec_len, nonce, &rep, &rep_len, &s->chain[i],
			      &s->chain_len[i]) != KG_OK ||
	    rep_len > sizeof r->report)
		goto out;
	memcpy(r->report, rep, rep_len);
	r->report_size = (uint32_t)rep_len;
	if (fault("size"))
		r->report_size = (uint32_t)sizeof r->report + 1;
	rc = 0;
out:
	if (f)
		fclose(f);
	free(rec);
	free(rep);
	return rc;
}

nscq_rc_t nscq_session_path_observe(nscq_session_t s, const char *path, nscq_fn_t cb, void *user, uint32_t flags)
{
	unsigned int n = switch_count(s), i;
	const char *what;
	nscq_uuid_t u;
	nscq_label_t l;
	size_t len;

	(void)flags;
	if (strcmp(path, "/drv/nvswitch/{device}/uuid") == 0) {
		if (fault("list"))
			return RC_ERROR_DRV;
		for (i = 0; i < n; i++) {
			u = uuid_of(i);
			((uuid_cb_t)cb)(&u, 0, &u, user);
		}
		return 0;
	}
	/* "/<label>/config/<value>" of one mounted switch. */
	for (i = 0; i < n; i++) {
		u = uuid_of(i);
		nscq_uuid_to_label(&u, &l, 0);
		len = strlen(l.data);
		if (path[0] == '/' && strncmp(path + 1, l.data, len) == 0 && path[1 + len] == '/')
			break;
	}
	if (i == n)
		return RC_ERROR_INVALID_UUID;
	what = path + 1 + len;
	if (strcmp(what, "/config/pcie_mode") == 0) {
		nscq_tnvl_status_t mode = 3; /* NSCQ_DEVICE_TNVL_MODE_LOCKED */
		if (fault("tnvl-off"))
			mode = 0;
		else if (fault("unlocked") && i == 0)
			mode = 1; /* NSCQ_DEVICE_TNVL_MODE_ENABLED */
		((tnvl_cb_t)cb)(&u, 0, mode, user);
		return 0;
	}
	if (strcmp(what, "/config/attestation_report") == 0) {
		nscq_attestation_report_t *r = calloc(1, sizeof *r);
		nscq_rc_t rc;
		if (r == NULL)
			return RC_ERROR_DRV;
		rc = fault("report") ? RC_ERROR_DRV : attest(s, i, r);
		((report_cb_t)cb)(&u, rc, *r, user);
		if (fault("twice"))
			((report_cb_t)cb)(&u, rc, *r, user);
		free(r);
		return 0;
	}
	if (strcmp(what, "/config/certificate") == 0) {
		nscq_attestation_certificate_t *c = calloc(1, sizeof *c);
		nscq_rc_t rc = RC_ERROR_UNEXPECTED_VALUE;
		if (c == NULL)
			return RC_ERROR_DRV;
		if (s->chain[i] && s->chain_len[i] <= sizeof c->cert_chain) {
			memcpy(c->cert_chain, s->chain[i], s->chain_len[i]);
			c->cert_chain_size = (uint32_t)s->chain_len[i];
			if (fault("cert-size"))
				c->cert_chain_size = (uint32_t)sizeof c->cert_chain + 1;
			rc = 0;
		}
		((cert_cb_t)cb)(&u, rc, *c, user);
		free(c);
		return 0;
	}
	return RC_ERROR_RESOURCE_NOT_MOUNTABLE;
}
