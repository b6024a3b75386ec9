/* Dispatch from evidence type to verifier, and the claims' JSON form. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../common/util.h"
#include "attest.h"
#include "nvgpu.h"
#include "ratls.h"
#include "snp_internal.h"
#include "tdx_internal.h"

/* A private copy of the TDX collateral, shared by the verifications that
 * took a reference before it was replaced. */
/* A set of SEV-SNP CRLs shared by requests in flight; freed by the last. */
struct snp_crl {
	int refs; /* under kg_attest.lock */
	size_t len;
	uint8_t bytes[];
};

/* Imported VCEKs/VLEKs, indexed by what they certify. */
struct snp_vek {
	struct kg_snp_vek_info info;
	uint8_t *der;
	size_t len;
};
struct snp_veks {
	int refs; /* under kg_attest.lock */
	size_t n;
	struct snp_vek v[];
};

/* TDX TCB info documents by FMSPC. */
struct tdx_info {
	uint8_t fmspc[6];
	uint8_t *doc;
	size_t len;
};
struct tdx_infos {
	int refs; /* under kg_attest.lock */
	size_t n;
	struct tdx_info v[];
};

struct tdx_coll {
	int refs; /* under kg_attest.lock */
	struct kg_tdx_collateral c;
	uint8_t *buf;
};

/* NVIDIA RIMs from the collateral, found by kind and version. */
struct gpu_rim_doc {
	enum kg_gpu_rim_kind kind;
	char product[32]; /* "GH100", "GB100", "LS10" */
	char version[64];
	uint8_t *doc;
	size_t len;
};
struct gpu_rims {
	int refs; /* under kg_attest.lock */
	size_t n;
	struct gpu_rim_doc v[];
};

struct kg_attest {
	struct kg_snp_verifier *snp;
	struct kg_tdx_verifier *tdx;
	struct kg_gpu_verifier *gpu;
	struct gpu_rims *gpu_rims;
	struct gpu_rims *gpu_ocsp; /* the same shape: documents, kind unused */
	pthread_mutex_t lock; /* guards tdx_coll's and snp_crl's pointers and refcounts */
	struct tdx_coll *tdx_coll;
	struct snp_crl *snp_crl;
	struct snp_veks *snp_veks;
	struct tdx_infos *tdx_infos;
};

const char *kg_tee_name(enum kg_tee tee)
{
	switch (tee) {
	case KG_TEE_SNP:
		return "snp";
	case KG_TEE_TDX:
		return "tdx";
	case KG_TEE_NONE:
		break;
	}
	return "none";
}

enum kg_tee kg_tee_from_name(const char *name)
{
	if (strcmp(name, "snp") == 0)
		return KG_TEE_SNP;
	if (strcmp(name, "tdx") == 0)
		return KG_TEE_TDX;
	return KG_TEE_NONE;
}

enum kg_tee kg_attest_tee_for_tag(uint64_t tag)
{
	switch (tag) {
	case KG_RATLS_TAG_SNP:
		return KG_TEE_SNP;
	case KG_RATLS_TAG_INTEL_QUOTE:
		/* An Intel DCAP quote: TDX or SGX, which only the quote's
		 * tee_type says.  Only TDX is verified; the TDX verifier
		 * refuses an SGX quote (tdx_tee_type_unsupported). */
		return KG_TEE_TDX;
	}
	return KG_TEE_NONE;
}

kg_err kg_attest_new(struct kg_attest **out, const struct kg_attest_config *cfg)
{
	struct kg_attest *a;
	kg_err rc;

	*out = NULL;
	KG_ENSURE((a = calloc(1, sizeof *a)) != NULL, KG_ERR_NOMEM);
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		return KG_ERR_INTERNAL;
	}
	if ((rc = kg_snp_verifier_new(&a->snp, cfg ? cfg->snp_roots : NULL)) != KG_OK ||
	    (rc = kg_tdx_verifier_new(&a->tdx, NULL)) != KG_OK || (rc = kg_gpu_verifier_new(&a->gpu, NULL, NULL)) != KG_OK) {
		kg_attest_free(a);
		return rc;
	}
	kg_snp_verifier_require_crl(a->snp, cfg && cfg->snp_require_crl);
	*out = a;
	return KG_OK;
}

kg_err kg_attest_set_tdx_roots(struct kg_attest *a, const char *root_pem)
{
	struct kg_tdx_verifier *v = NULL;

	KG_TRY(kg_tdx_verifier_new(&v, root_pem));
	kg_tdx_verifier_free(a->tdx);
	a->tdx = v;
	return KG_OK;
}

static void tdx_coll_release(struct kg_attest *a, struct tdx_coll *tc)
{
	bool last;

	if (tc == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	last = --tc->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (last) {
		free(tc->buf);
		free(tc);
	}
}

/* Copies one item into the shared buffer at *at. */
static void coll_item(uint8_t *buf, size_t *at, const uint8_t *src, size_t len, const uint8_t **dst, size_t *dlen)
{
	*dst = NULL;
	*dlen = 0;
	if (src == NULL || len == 0)
		return;
	memcpy(buf + *at, src, len);
	*dst = buf + *at;
	*dlen = len;
	*at += len;
}

kg_err kg_attest_set_tdx_collateral(struct kg_attest *a, const struct kg_tdx_collateral *c)
{
	struct tdx_coll *tc = NULL, *old;
	size_t total = 0, at = 0;

	if (c) {
		const size_t lens[5] = {c->tcb_info_len, c->qe_identity_len, c->tcb_signing_chain_len, c->root_crl_len,
					c->pck_crl_len};
		for (int i = 0; i < 5; i++) {
			KG_ENSURE(lens[i] <= KG_TDX_COLLATERAL_MAX, KG_ERR_TOO_LARGE);
			total += lens[i];
		}
		KG_ENSURE((tc = calloc(1, sizeof *tc)) != NULL, KG_ERR_NOMEM);
		if ((tc->buf = malloc(total ? total : 1)) == NULL) {
			free(tc);
			return KG_ERR_NOMEM;
		}
		tc->refs = 1;
		coll_item(tc->buf, &at, c->tcb_info, c->tcb_info_len, &tc->c.tcb_info, &tc->c.tcb_info_len);
		coll_item(tc->buf, &at, c->qe_identity, c->qe_identity_len, &tc->c.qe_identity,
			  &tc->c.qe_identity_len);
		coll_item(tc->buf, &at, c->tcb_signing_chain, c->tcb_signing_chain_len, &tc->c.tcb_signing_chain,
			  &tc->c.tcb_signing_chain_len);
		coll_item(tc->buf, &at, c->root_crl, c->root_crl_len, &tc->c.root_crl, &tc->c.root_crl_len);
		coll_item(tc->buf, &at, c->pck_crl, c->pck_crl_len, &tc->c.pck_crl, &tc->c.pck_crl_len);
	}
	pthread_mutex_lock(&a->lock);
	old = a->tdx_coll;
	a->tdx_coll = tc;
	pthread_mutex_unlock(&a->lock);
	tdx_coll_release(a, old);
	return KG_OK;
}

static void snp_crl_release(struct kg_attest *a, struct snp_crl *c)
{
	bool last;

	if (!c)
		return;
	pthread_mutex_lock(&a->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (last)
		free(c);
}

static struct snp_crl *snp_crl_acquire(struct kg_attest *a)
{
	struct snp_crl *c;

	pthread_mutex_lock(&a->lock);
	if ((c = a->snp_crl) != NULL)
		c->refs++;
	pthread_mutex_unlock(&a->lock);
	return c;
}

kg_err kg_attest_set_snp_crl(struct kg_attest *a, const uint8_t *crl, size_t len)
{
	struct snp_crl *c = NULL, *old;

	KG_ENSURE(len <= KG_SNP_CRL_MAX, KG_ERR_TOO_LARGE);
	if (crl && len) {
		KG_ENSURE((c = malloc(sizeof *c + len)) != NULL, KG_ERR_NOMEM);
		c->refs = 1;
		c->len = len;
		memcpy(c->bytes, crl, len);
	}
	pthread_mutex_lock(&a->lock);
	old = a->snp_crl;
	a->snp_crl = c;
	pthread_mutex_unlock(&a->lock);
	snp_crl_release(a, old);
	return KG_OK;
}

static void snp_veks_release(struct kg_attest *a, struct snp_veks *vs)
{
	bool last;

	if (!vs)
		return;
	pthread_mutex_lock(&a->lock);
	last = --vs->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (!last)
		return;
	for (size_t i = 0; i < vs->n; i++)
		free(vs->v[i].der);
	free(vs);
}

kg_err kg_attest_snp_vek_info(const uint8_t *der, size_t len, struct kg_snp_vek_info *out)
{
	return kg_snp_vek_info_parse(der, len, out);
}

kg_err kg_attest_set_snp_veks(struct kg_attest *a, const uint8_t *const *ders, const size_t *lens, size_t n)
{
	struct snp_veks *vs = NULL, *old;
	kg_err rc = KG_OK;

	if (n) {
		KG_ENSURE((vs = calloc(1, sizeof *vs + n * sizeof vs->v[0])) != NULL, KG_ERR_NOMEM);
		vs->refs = 1;
		for (size_t i = 0; i < n && rc == KG_OK; i++) {
			struct snp_vek *e = &vs->v[vs->n];
			/* A certificate that does not parse is skipped, not fatal:
			 * it can match no report anyway. */
			if (kg_snp_vek_info_parse(ders[i], lens[i], &e->info) != KG_OK)
				continue;
			if ((e->der = malloc(lens[i])) == NULL) {
				rc = KG_ERR_NOMEM;
				break;
			}
			memcpy(e->der, ders[i], lens[i]);
			e->len = lens[i];
			vs->n++;
		}
		if (rc != KG_OK) {
			snp_veks_release(a, vs);
			return rc;
		}
	}
	pthread_mutex_lock(&a->lock);
	old = a->snp_veks;
	a->snp_veks = vs;
	pthread_mutex_unlock(&a->lock);
	snp_veks_release(a, old);
	return KG_OK;
}

/* The imported certificate for this report, if any (a reference the
 * caller releases). */
static const struct snp_vek *snp_vek_find(struct kg_attest *a, const struct kg_snp_report *r, struct snp_veks **ref)
{
	struct snp_veks *vs;

	pthread_mutex_lock(&a->lock);
	if ((vs = a->snp_veks) != NULL)
		vs->refs++;
	pthread_mutex_unlock(&a->lock);
	*ref = vs;
	for (size_t i = 0; vs && i < vs->n; i++) {
		const struct kg_snp_vek_info *in = &vs->v[i].info;
		if (in->vlek != (r->signing_key == 1))
			continue;
		if (!in->vlek && (in->hwid_len == 0 || memcmp(in->hwid, r->chip_id, in->hwid_len) != 0))
			continue;
		/* REPORTED_TCB read in the certificate's product layout; the
		 * verifier compares again, strictly, once the chain is known. */
		struct kg_snp_tcb t;
		kg_snp_tcb_decode(r->reported_tcb.raw, strcmp(in->product, "Turin") == 0, &t);
		if (t.bootloader != in->tcb.bootloader || t.tee != in->tcb.tee || t.snp != in->tcb.snp ||
		    t.microcode != in->tcb.microcode || t.fmc != in->tcb.fmc)
			continue;
		return &vs->v[i];
	}
	return NULL;
}

static void tdx_infos_release(struct kg_attest *a, struct tdx_infos *ti)
{
	bool last;

	if (!ti)
		return;
	pthread_mutex_lock(&a->lock);
	last = --ti->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (!last)
		return;
	for (size_t i = 0; i < ti->n; i++)
		free(ti->v[i].doc);
	free(ti);
}

kg_err kg_attest_set_tdx_tcb_infos(struct kg_attest *a, const uint8_t *const *docs, const size_t *lens, size_t n)
{
	struct tdx_infos *ti = NULL, *old;

	if (n) {
		KG_ENSURE((ti = calloc(1, sizeof *ti + n * sizeof ti->v[0])) != NULL, KG_ERR_NOMEM);
		ti->refs = 1;
		for (size_t i = 0; i < n; i++) {
			struct kg_tdx_tcb_info *info = NULL;
			struct kg_tdx_signed sig;
			struct tdx_info *e = &ti->v[ti->n];
			if (kg_tdx_tcb_info_parse(docs[i], lens[i], &info, &sig) != KG_OK)
				continue; /* judged (and refused) only if ever used */
			memcpy(e->fmspc, info->fmspc, 6);
			free(info);
			if ((e->doc = malloc(lens[i])) == NULL) {
				tdx_infos_release(a, ti);
				return KG_ERR_NOMEM;
			}
			memcpy(e->doc, docs[i], lens[i]);
			e->len = lens[i];
			ti->n++;
		}
	}
	pthread_mutex_lock(&a->lock);
	old = a->tdx_infos;
	a->tdx_infos = ti;
	pthread_mutex_unlock(&a->lock);
	tdx_infos_release(a, old);
	return KG_OK;
}

/* The FMSPC the quote's PCK certificate certifies; parse only: the
 * verifier checks the chain and that the TCB info's FMSPC matches. */
static bool quote_fmspc(const uint8_t *ev, size_t len, uint8_t fmspc[static 6])
{
	struct kg_tdx_quote *q = malloc(sizeof *q);
	struct kg_tdx_pck_info info;
	BIO *bio = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int der_len;
	bool ok = false;

	if (!q || kg_tdx_quote_parse(ev, len, q) != KG_OK || q->pck_chain_len > INT_MAX ||
	    (bio = BIO_new_mem_buf(q->pck_chain, (int)q->pck_chain_len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL || (der_len = i2d_X509(x, &der)) <= 0)
		goto out;
	if (kg_tdx_pck_info_from_der(der, (size_t)der_len, &info) == KG_OK) {
		memcpy(fmspc, info.fmspc, 6);
		ok = true;
	}
out:
	ERR_clear_error();
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	free(q);
	return ok;
}

static void gpu_rims_release(struct kg_attest *a, struct gpu_rims *r)
{
	bool last;

	if (r == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (last) {
		for (size_t i = 0; i < r->n; i++)
			free(r->v[i].doc);
		free(r);
	}
}

kg_err kg_attest_set_gpu_roots(struct kg_attest *a, const char *device_root_pem, const char *rim_root_pem)
{
	struct kg_gpu_verifier *v = NULL;

	KG_TRY(kg_gpu_verifier_new(&v, device_root_pem, rim_root_pem));
	kg_gpu_verifier_free(a->gpu);
	a->gpu = v;
	return KG_OK;
}

kg_err kg_attest_set_gpu_rims(struct kg_attest *a, const uint8_t *const *docs, const size_t *lens, size_t n)
{
	struct gpu_rims *r = NULL, *old;

	if (n) {
		KG_ENSURE((r = calloc(1, sizeof *r + n * sizeof r->v[0])) != NULL, KG_ERR_NOMEM);
		r->refs = 1;
		for (size_t i = 0; i < n; i++) {
			struct kg_gpu_rim *rim = NULL;
			struct gpu_rim_doc *d = &r->v[r->n];
			/* Read for kind and version only; the signature is
			 * verified (and cached) when a report uses it. */
			if (kg_gpu_rim_parse(docs[i], lens[i], &rim) != KG_OK)
				continue;
			d->kind = rim->kind;
			snprintf(d->product, sizeof d->product, "%s", rim->product);
			snprintf(d->version, sizeof d->version, "%s", rim->version);
			kg_gpu_rim_free(rim);
			if ((d->doc = malloc(lens[i])) == NULL) {
				gpu_rims_release(a, r);
				return KG_ERR_NOMEM;
			}
			memcpy(d->doc, docs[i], lens[i]);
			d->len = lens[i];
			r->n++;
		}
	}
	pthread_mutex_lock(&a->lock);
	old = a->gpu_rims;
	a->gpu_rims = r;
	pthread_mutex_unlock(&a->lock);
	gpu_rims_release(a, old);
	return KG_OK;
}

kg_err kg_attest_set_gpu_ocsp(struct kg_attest *a, const uint8_t *const *ders, const size_t *lens, size_t n)
{
	struct gpu_rims *r = NULL, *old;

	/* The verifier reads at most KG_GPU_OCSP_MAX_COUNT responses. */
	if (n > KG_GPU_OCSP_MAX_COUNT)
		n = KG_GPU_OCSP_MAX_COUNT;
	if (n) {
		KG_ENSURE((r = calloc(1, sizeof *r + n * sizeof r->v[0])) != NULL, KG_ERR_NOMEM);
		r->refs = 1;
		for (size_t i = 0; i < n; i++) {
			if ((r->v[i].doc = malloc(lens[i] ? lens[i] : 1)) == NULL) {
				r->n = i;
				gpu_rims_release(a, r);
				return KG_ERR_NOMEM;
			}
			memcpy(r->v[i].doc, ders[i], lens[i]);
			r->v[i].len = lens[i];
		}
		r->n = n;
	}
	pthread_mutex_lock(&a->lock);
	old = a->gpu_ocsp;
	a->gpu_ocsp = r;
	pthread_mutex_unlock(&a->lock);
	gpu_rims_release(a, old);
	return KG_OK;
}

static const struct gpu_rim_doc *gpu_rim_find(const struct gpu_rims *r, const char *product, enum kg_gpu_rim_kind kind,
					      const char *version)
{
	for (size_t i = 0; r && product && version[0] && i < r->n; i++)
		if (r->v[i].kind == kind && strcmp(r->v[i].product, product) == 0 &&
		    strcasecmp(r->v[i].version, version) == 0)
			return &r->v[i];
	return NULL;
}

kg_err kg_attest_verify_gpu(struct kg_attest *a, const uint8_t *report, size_t report_len, const char *certs,
			    size_t certs_len, const uint8_t *nonce, time_t now, struct kg_gpu_claims *out,
			    kg_err *rims_result)
{
	struct kg_gpu_report *parsed = malloc(sizeof *parsed);
	struct kg_gpu_input in;
	const struct gpu_rim_doc *drv = NULL, *vb = NULL;
	struct gpu_rims *rims, *ocsp;
	const uint8_t *ocsp_docs[KG_GPU_OCSP_MAX_COUNT];
	size_t ocsp_lens[KG_GPU_OCSP_MAX_COUNT];
	enum kg_gpu_arch arch;
	const char *product;
	kg_err rc;

	KG_ENSURE(parsed != NULL, KG_ERR_NOMEM);
	memset(&in, 0, sizeof in);
	pthread_mutex_lock(&a->lock);
	if ((rims = a->gpu_rims) != NULL)
		rims->refs++;
	if ((ocsp = a->gpu_ocsp) != NULL)
		ocsp->refs++;
	pthread_mutex_unlock(&a->lock);
	/* The report names its driver and VBIOS versions; the RIMs for those
	 * are the reference values (unsigned until kg_gpu_verify checks the
	 * signature, which covers them). */
	/* ... of the product the chain names (the verified leaf is the same
	 * one): a RIM of another product never stands in. */
	arch = kg_gpu_chain_arch((const uint8_t *)certs, certs_len);
	product = kg_gpu_arch_product(arch);
	if (kg_gpu_report_parse(report, report_len, parsed) == KG_OK) {
		if (arch != KG_GPU_ARCH_NVSWITCH)
			drv = gpu_rim_find(rims, product, KG_GPU_RIM_DRIVER, parsed->driver_version);
		vb = gpu_rim_find(rims, product, KG_GPU_RIM_VBIOS, parsed->vbios_version);
	}
	in.report = report;
	in.report_len = report_len;
	in.chain_pem = (const uint8_t *)certs;
	in.chain_len = certs_len;
	in.nonce = nonce;
	/* Every response held: the verifier uses those about the chain's
	 * certificates and says how many it could check. */
	for (size_t i = 0; ocsp && i < ocsp->n; i++) {
		ocsp_docs[i] = ocsp->v[i].doc;
		ocsp_lens[i] = ocsp->v[i].len;
	}
	in.ocsp = ocsp_docs;
	in.ocsp_lens = ocsp_lens;
	in.n_ocsp = ocsp ? ocsp->n : 0;
	if (drv) {
		in.driver_rim = drv->doc;
		in.driver_rim_len = drv->len;
	}
	if (vb) {
		in.vbios_rim = vb->doc;
		in.vbios_rim_len = vb->len;
	}
	rc = kg_gpu_verify(a->gpu, &in, now, out);
	switch (rc) {
	case KG_OK:
		/* Every RIM that covers the device, or its measurements are not
		 * all judged: a GPU has a driver and a VBIOS RIM, a switch its
		 * BIOS RIM. */
		if (out->arch != arch || !vb || (arch != KG_GPU_ARCH_NVSWITCH && !drv))
			*rims_result = KG_ERR_GPU_RIM_MISSING;
		else
			*rims_result = kg_gpu_claims_rims_ok(out);
		break;
	case KG_ERR_GPU_RIM_MALFORMED:
	case KG_ERR_GPU_RIM_SIGNATURE:
	case KG_ERR_GPU_RIM_CHAIN:
	case KG_ERR_GPU_RIM_EXPIRED:
	case KG_ERR_GPU_RIM_CONFLICT:
	case KG_ERR_GPU_RIM_VERSION:
		/* A RIM that cannot be used says nothing against the device:
		 * its evidence is judged alone, the RIM failure kept apart. */
		*rims_result = rc;
		in.driver_rim = in.vbios_rim = NULL;
		in.driver_rim_len = in.vbios_rim_len = 0;
		rc = kg_gpu_verify(a->gpu, &in, now, out);
		break;
	default:
		*rims_result = rc;
		break;
	}
	gpu_rims_release(a, rims);
	gpu_rims_release(a, ocsp);
	free(parsed);
	return rc;
}

void kg_attest_free(struct kg_attest *a)
{
	if (!a)
		return;
	kg_snp_verifier_free(a->snp);
	kg_tdx_verifier_free(a->tdx);
	tdx_coll_release(a, a->tdx_coll);
	snp_crl_release(a, a->snp_crl);
	snp_veks_release(a, a->snp_veks);
	tdx_infos_release(a, a->tdx_infos);
	gpu_rims_release(a, a->gpu_rims);
	gpu_rims_release(a, a->gpu_ocsp);
	kg_gpu_verifier_free(a->gpu);
	pthread_mutex_destroy(&a->lock);
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
	struct snp_crl *crl = NULL;
	struct snp_veks *veks = NULL;
	kg_err rc;

	memset(&table, 0, sizeof table);
	memset(&certs, 0, sizeof certs);
	KG_ENSURE(len >= KG_SNP_REPORT_SIZE, KG_ERR_SNP_SIZE);
	KG_ENSURE(len - KG_SNP_REPORT_SIZE <= KG_SNP_CERT_TABLE_MAX, KG_ERR_TOO_LARGE);
	/* The report says which key signed it: take that certificate from the
	 * table, not whichever the host happened to put there. */
	KG_TRY(kg_snp_report_parse(ev, KG_SNP_REPORT_SIZE, r));
	if (len > KG_SNP_REPORT_SIZE)
		KG_TRY(kg_snp_cert_table_parse(ev + KG_SNP_REPORT_SIZE, len - KG_SNP_REPORT_SIZE, &table));
	certs.vcek = r->signing_key == 1 ? table.vlek : table.vcek;
	certs.vcek_len = r->signing_key == 1 ? table.vlek_len : table.vcek_len;
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
		/* Never from the evidence: a CRL is the verifier's collateral. */
		certs.crl = extra->crl;
		certs.crl_len = extra->crl_len;
	}
	if (!certs.crl_len && (crl = snp_crl_acquire(a)) != NULL) {
		certs.crl = crl->bytes;
		certs.crl_len = crl->len;
	}
	if (!certs.vcek_len) {
		const struct snp_vek *vk = snp_vek_find(a, r, &veks);
		if (vk) {
			certs.vcek = vk->der;
			certs.vcek_len = vk->len;
		}
	}
	rc = kg_snp_verify(a->snp, ev, KG_SNP_REPORT_SIZE, &certs, now, r);
	snp_crl_release(a, crl);
	snp_veks_release(a, veks);
	KG_TRY(rc);
	memcpy(out->report_data, r->report_data, 64);
	memcpy(out->measurement, r->measurement, 48);
	out->measurement_len = 48;
	memcpy(out->chip_id, r->chip_id, 64);
	out->chip_id_len = 64;
	out->debug = r->debug;
	return KG_OK;
}

/* Intel TDX: a DCAP quote, with the collateral set beforehand. */
static kg_err verify_tdx(struct kg_attest *a, const uint8_t *ev, size_t len, time_t now, struct kg_claims *out)
{
	struct kg_tdx_claims *t = &out->u.tdx;
	struct kg_tdx_collateral c;
	struct tdx_coll *tc;
	struct tdx_infos *ti;
	uint8_t fmspc[6];
	kg_err rc;

	pthread_mutex_lock(&a->lock);
	if ((tc = a->tdx_coll) != NULL)
		tc->refs++;
	if ((ti = a->tdx_infos) != NULL)
		ti->refs++;
	pthread_mutex_unlock(&a->lock);
	memset(&c, 0, sizeof c);
	if (tc)
		c = tc->c;
	/* Platforms of several kinds (FMSPCs): the TCB info for this one. */
	if (ti && quote_fmspc(ev, len, fmspc))
		for (size_t i = 0; i < ti->n; i++)
			if (memcmp(ti->v[i].fmspc, fmspc, 6) == 0) {
				c.tcb_info = ti->v[i].doc;
				c.tcb_info_len = ti->v[i].len;
				break;
			}
	rc = kg_tdx_verify(a->tdx, ev, len, tc || ti ? &c : NULL, now, t);
	tdx_coll_release(a, tc);
	tdx_infos_release(a, ti);
	KG_TRY(rc);
	memcpy(out->report_data, t->td.report_data, 64);
	memcpy(out->measurement, t->td.mr_td, 48);
	out->measurement_len = 48;
	out->chip_id_len = 0; /* a TDX quote names no chip; FMSPC is a platform class */
	out->debug = t->debug;
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
	case KG_TEE_TDX:
		return verify_tdx(a, evidence, len, now, out);
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

static json_t *u64hex(uint64_t v)
{
	char s[19];

	snprintf(s, sizeof s, "0x%016llx", (unsigned long long)v);
	return json_string(s);
}

static json_t *timej(time_t t)
{
	char s[32];
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(s);
}

/* Every TDX claim.  json_object_set_new tolerates a NULL value (it fails,
 * and the missing member is caught by the final check). */
static json_t *tdx_json(const struct kg_tdx_claims *t)
{
	json_t *o = json_object(), *rt = json_array(), *adv = json_array(), *attr;
	size_t members;

	if (o == NULL || rt == NULL || adv == NULL) {
		json_decref(o);
		json_decref(rt);
		json_decref(adv);
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		json_array_append_new(rt, hexj(t->td.rtmr[i], 48));
	for (size_t i = 0; i < t->n_advisories; i++)
		json_array_append_new(adv, json_string(t->advisories[i]));
	json_object_set_new(o, "version", json_integer(t->version));
	json_object_set_new(o, "body_type", json_integer(t->body_type));
	{
		char tt[11];
		snprintf(tt, sizeof tt, "0x%08x", (unsigned)t->tee_type);
		json_object_set_new(o, "tee_type", json_string(tt));
	}
	json_object_set_new(o, "qe_vendor_id", hexj(t->qe_vendor_id, 16));
	json_object_set_new(o, "user_data", hexj(t->user_data, 20));
	json_object_set_new(o, "tee_tcb_svn", hexj(t->td.tee_tcb_svn, 16));
	json_object_set_new(o, "mr_seam", hexj(t->td.mr_seam, 48));
	json_object_set_new(o, "mr_signer_seam", hexj(t->td.mr_signer_seam, 48));
	json_object_set_new(o, "seam_attributes", u64hex(t->td.seam_attributes));
	json_object_set_new(o, "td_attributes", u64hex(t->td.td_attributes));
	attr = json_pack("{s:b,s:b,s:b,s:b}", "debug", t->debug, "sept_ve_disable", t->sept_ve_disable, "pks",
			 t->pks, "perfmon", t->perfmon);
	json_object_set_new(o, "td_attributes_decoded", attr);
	json_object_set_new(o, "xfam", u64hex(t->td.xfam));
	json_object_set_new(o, "mr_td", hexj(t->td.mr_td, 48));
	json_object_set_new(o, "mr_config_id", hexj(t->td.mr_config_id, 48));
	json_object_set_new(o, "mr_owner", hexj(t->td.mr_owner, 48));
	json_object_set_new(o, "mr_owner_config", hexj(t->td.mr_owner_config, 48));
	json_object_set_new(o, "rtmr", rt);
	json_object_set_new(o, "report_data", hexj(t->td.report_data, 64));
	if (t->body_type == KG_TDX_BODY_TDX15) {
		json_object_set_new(o, "tee_tcb_svn2", hexj(t->td.tee_tcb_svn2, 16));
		json_object_set_new(o, "mr_service_td", hexj(t->td.mr_service_td, 48));
	}
	json_object_set_new(o, "fmspc", hexj(t->fmspc, 6));
	json_object_set_new(o, "pce_id", hexj(t->pce_id, 2));
	json_object_set_new(o, "pck_cpusvn", hexj(t->pck_cpusvn, 16));
	json_object_set_new(o, "pck_pcesvn", json_integer(t->pck_pcesvn));
	json_object_set_new(o, "pck_ca", json_string(t->pck_processor_ca ? "processor" : "platform"));
	json_object_set_new(o, "qe_mr_enclave", hexj(t->qe_mr_enclave, 32));
	json_object_set_new(o, "qe_mr_signer", hexj(t->qe_mr_signer, 32));
	json_object_set_new(o, "qe_isv_prod_id", json_integer(t->qe_isv_prod_id));
	json_object_set_new(o, "qe_isv_svn", json_integer(t->qe_isv_svn));
	members = json_object_size(o);
	if (t->tcb_evaluated) {
		json_object_set_new(o, "tcb_status", json_string(kg_tdx_tcb_status_name(t->tcb_status)));
		json_object_set_new(o, "platform_tcb_status", json_string(kg_tdx_tcb_status_name(t->platform_status)));
		json_object_set_new(o, "module_tcb_status",
				    t->module_evaluated ? json_string(kg_tdx_tcb_status_name(t->module_status))
							: json_null());
		json_object_set_new(o, "qe_tcb_status", json_string(kg_tdx_tcb_status_name(t->qe_status)));
		json_object_set_new(o, "tcb_date", timej(t->tcb_date));
		json_object_set_new(o, "tcb_eval_data_number", json_integer(t->tcb_eval_data_number));
		json_object_set_new(o, "collateral_expires", timej(t->collateral_expires));
		json_object_set_new(o, "advisory_ids", adv);
		json_object_set_new(o, "advisory_ids_truncated", json_boolean(t->advisories_truncated));
		members += 9;
	} else {
		json_object_set_new(o, "tcb_status", json_null());
		json_decref(adv);
		members += 1;
	}
	if (json_object_size(o) != members) {
		json_decref(o);
		return NULL;
	}
	return o;
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
	case KG_TEE_TDX:
		t = tdx_json(&c->u.tdx);
		break;
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
