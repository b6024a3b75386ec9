/*
 * NVIDIA RIMs: ISO/IEC 19770-2 SWID tags carrying the reference
 * measurements (TCG PC Client RIM information model), signed with an
 * enveloped XML-DSig (c14n 1.1, ECDSA-P384/SHA-384, KeyInfo holding the
 * signer's chain).  libxml2 reads the XML and xmlsec1 checks the
 * signature; this file is the only one that sees their types.
 *
 * The chain in KeyInfo is checked here with OpenSSL against the pinned
 * NVIDIA CoRIM signing root at the caller's time, and xmlsec is handed the
 * leaf's key only (no keys manager, KeyInfo not trusted by xmlsec), with
 * the transforms and the Reference URI restricted to what NVIDIA signs.
 */
#include "nvgpu.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <xmlsec/crypto.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "../common/util.h"
#include "nvgpu_internal.h"

#define NS_SWID "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
#define NS_SHA384 "http://www.w3.org/2001/04/xmlenc#sha384"
#define NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
/* Limits on what a RIM may declare before anything is sized by it. */
#define RIM_MEAS_MAX 255
#define RIM_ALT_MAX 16
#define RIM_CERTS_MAX 8
#define RIM_INDEX_MAX 253 /* index i is SPDM block i + 1 <= 254 */

/* ---------------------------------------------------------------------------
 * Library set-up, once per process.  libxml2 and xmlsec keep global state;
 * this is the only place that touches it.
 */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static bool xml_ok;

/* xmlsec and libxml2 print to stderr by default; the verdict is returned
 * as a reason code instead. */
static void xmlsec_quiet(const char *file, int line, const char *func, const char *obj, const char *subj,
			 int reason, const char *msg)
{
}

static void xml_init(void)
{
	xmlInitParser();
	xml_ok = xmlSecInit() >= 0 && xmlSecCheckVersion() == 1 && xmlSecCryptoAppInit(NULL) >= 0 &&
		 xmlSecCryptoInit() >= 0;
	xmlSecErrorsSetCallback(xmlsec_quiet); /* after xmlSecInit, which sets the default */
}

/* ---------------------------------------------------------------------------
 * Reading the SWID tag
 */

void kg_gpu_rim_free(struct kg_gpu_rim *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_meas; i++)
		free(r->meas[i].alt);
	free(r->meas);
	free(r);
}

/* An attribute (namespace ns, or none) as a bounded string copy. */
static bool attr_get(xmlNodePtr n, const char *name, const char *ns, char *dst, size_t cap)
{
	xmlChar *v = ns ? xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns)
			: xmlGetNoNsProp(n, (const xmlChar *)name);
	size_t len;

	if (v == NULL)
		return false;
	len = strlen((const char *)v);
	if (len >= cap) {
		xmlFree(v);
		return false;
	}
	memcpy(dst, v, len + 1);
	xmlFree(v);
	return true;
}

static bool is_elem(xmlNodePtr n, const char *name, const char *ns)
{
	return n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)name) && n->ns != NULL &&
	       xmlStrEqual(n->ns->href, (const xmlChar *)ns);
}

/* A decimal 0..max with nothing else. */
static bool dec_parse(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > max)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* <Resource type="Measurement" index="i" active="True|False"
 * alternatives="n" size="48" ns:Hash0=... ns:Hash{n-1}=...> */
static kg_err resource_parse(xmlNodePtr n, struct kg_gpu_rim_meas *m)
{
	char buf[2 * KG_GPU_VALUE_MAX + 1], name[16];
	unsigned idx, alts, size;

	KG_ENSURE(attr_get(n, "index", NULL, buf, sizeof buf) && dec_parse(buf, RIM_INDEX_MAX, &idx),
		  KG_ERR_GPU_RIM_MALFORMED);
	KG_ENSURE(attr_get(n, "active", NULL, buf, sizeof buf), KG_ERR_GPU_RIM_MALFORMED);
	/* nvtrust reads active with Python's "True"/"False" spelling. */
	KG_ENSURE(strcmp(buf, "True") == 0 || strcmp(buf, "False") == 0, KG_ERR_GPU_RIM_MALFORMED);
	m->active = strcmp(buf, "True") == 0;
	KG_ENSURE(attr_get(n, "alternatives", NULL, buf, sizeof buf) && dec_parse(buf, RIM_ALT_MAX, &alts) &&
			  alts >= 1,
		  KG_ERR_GPU_RIM_MALFORMED);
	KG_ENSURE(attr_get(n, "size", NULL, buf, sizeof buf) && dec_parse(buf, KG_GPU_VALUE_MAX, &size) && size > 0,
		  KG_ERR_GPU_RIM_MALFORMED);
	m->index = (uint8_t)idx;
	m->size = (uint16_t)size;
	KG_ENSURE((m->alt = calloc(alts, sizeof *m->alt)) != NULL, KG_ERR_NOMEM);
	m->n_alt = alts;
	for (unsigned a = 0; a < alts; a++) {
		snprintf(name, sizeof name, "Hash%u", a);
		KG_ENSURE(attr_get(n, name, NS_SHA384, buf, sizeof buf) && strlen(buf) == 2 * (size_t)size &&
				  kg_unhex(m->alt[a], size, buf) == KG_OK,
			  KG_ERR_GPU_RIM_MALFORMED);
	}
	return KG_OK;
}

/* VBIOS versions have five dotted parts ("96.00.9F.00.01"), driver
 * versions two or three ("535.86.09"); NVIDIA's RIM IDs say the same
 * (NV_GPU_DRIVER_* / NV_GPU_VBIOS_*, NV_SWITCH_BIOS_*). */
static enum kg_gpu_rim_kind kind_of(const char *version)
{
	size_t dots = 0;

	for (; *version; version++)
		dots += *version == '.';
	return dots == 4 ? KG_GPU_RIM_VBIOS : KG_GPU_RIM_DRIVER;
}

static kg_err rim_read(xmlDocPtr doc, struct kg_gpu_rim **out)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n, payload = NULL, meta = NULL;
	struct kg_gpu_rim *r;
	bool seen[256];
	kg_err rc;

	*out = NULL;
	KG_ENSURE(root != NULL && is_elem(root, "SoftwareIdentity", NS_SWID), KG_ERR_GPU_RIM_MALFORMED);
	KG_ENSURE((r = calloc(1, sizeof *r)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE_OUT(attr_get(root, "tagId", NULL, r->id, sizeof r->id), KG_ERR_GPU_RIM_MALFORMED);
	for (n = root->children; n; n = n->next) {
		if (is_elem(n, "Meta", NS_SWID)) {
			KG_ENSURE_OUT(meta == NULL, KG_ERR_GPU_RIM_MALFORMED);
			meta = n;
		} else if (is_elem(n, "Payload", NS_SWID)) {
			KG_ENSURE_OUT(payload == NULL, KG_ERR_GPU_RIM_MALFORMED);
			payload = n;
		}
	}
	KG_ENSURE_OUT(meta && payload, KG_ERR_GPU_RIM_MALFORMED);
	KG_ENSURE_OUT(attr_get(meta, "colloquialVersion", NULL, r->version, sizeof r->version) &&
			      attr_get(meta, "product", NULL, r->product, sizeof r->product),
		      KG_ERR_GPU_RIM_MALFORMED);
	r->kind = kind_of(r->version);
	KG_ENSURE_OUT((r->meas = calloc(RIM_MEAS_MAX, sizeof *r->meas)) != NULL, KG_ERR_NOMEM);
	memset(seen, 0, sizeof seen);
	for (n = payload->children; n; n = n->next) {
		char type[32];
		struct kg_gpu_rim_meas *m;
		if (!is_elem(n, "Resource", NS_SWID))
			continue;
		if (!attr_get(n, "type", NULL, type, sizeof type) || strcmp(type, "Measurement") != 0)
			continue;
		KG_ENSURE_OUT(r->n_meas < RIM_MEAS_MAX, KG_ERR_GPU_RIM_MALFORMED);
		m = &r->meas[r->n_meas++];
		KG_TRY_OUT(resource_parse(n, m));
		/* One resource per index within a RIM. */
		KG_ENSURE_OUT(!seen[m->index], KG_ERR_GPU_RIM_MALFORMED);
		seen[m->index] = true;
	}
	*out = r;
	r = NULL;
	rc = KG_OK;
out:
	kg_gpu_rim_free(r);
	return rc;
}

/* Parses without network, entities or DTDs: a document with a DTD is
 * refused outright (no entity tricks inside a signed manifest). */
static kg_err doc_read(const uint8_t *xml, size_t len, xmlDocPtr *out)
{
	xmlDocPtr doc;

	*out = NULL;
	KG_ENSURE(len <= KG_GPU_RIM_MAX, KG_ERR_TOO_LARGE);
	pthread_once(&xml_once, xml_init);
	KG_ENSURE(xml_ok, KG_ERR_CRYPTO);
	doc = xmlReadMemory((const char *)xml, (int)len, "rim.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	KG_ENSURE(doc != NULL, KG_ERR_GPU_RIM_MALFORMED);
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		return KG_ERR_GPU_RIM_MALFORMED;
	}
	*out = doc;
	return KG_OK;
}

kg_err kg_gpu_rim_parse(const uint8_t *xml, size_t len, struct kg_gpu_rim **out)
{
	xmlDocPtr doc = NULL;
	kg_err rc;

	*out = NULL;
	KG_TRY(doc_read(xml, len, &doc));
	rc = rim_read(doc, out);
	xmlFreeDoc(doc);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The signature
 */

/* The DER certificates of Signature/KeyInfo/X509Data, in document order
 * (leaf first, as NVIDIA writes them). */
static kg_err keyinfo_certs(xmlNodePtr sig, X509 **certs, size_t max, size_t *n)
{
	xmlNodePtr ki = NULL, xd = NULL, c;

	*n = 0;
	for (c = sig->children; c; c = c->next)
		if (is_elem(c, "KeyInfo", NS_DSIG))
			ki = c;
	KG_ENSURE(ki != NULL, KG_ERR_GPU_RIM_CHAIN);
	for (c = ki->children; c; c = c->next)
		if (is_elem(c, "X509Data", NS_DSIG))
			xd = c;
	KG_ENSURE(xd != NULL, KG_ERR_GPU_RIM_CHAIN);
	for (c = xd->children; c; c = c->next) {
		xmlChar *text;
		uint8_t *der;
		size_t tl, bl = 0, pad = 0;
		int dl;
		const uint8_t *p;

		if (!is_elem(c, "X509Certificate", NS_DSIG))
			continue;
		KG_ENSURE(*n < max, KG_ERR_GPU_RIM_CHAIN);
		KG_ENSURE((text = xmlNodeGetContent(c)) != NULL, KG_ERR_NOMEM);
		/* base64 with line breaks: squeeze out the white space first. */
		tl = strlen((const char *)text);
		for (size_t i = 0; i < tl; i++)
			if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t')
				text[bl++] = text[i];
		text[bl] = '\0';
		if (bl % 4 != 0 || bl == 0 || (der = malloc(bl / 4 * 3 + 1)) == NULL) {
			xmlFree(text);
			return bl % 4 != 0 || bl == 0 ? KG_ERR_GPU_RIM_CHAIN : KG_ERR_NOMEM;
		}
		pad = (text[bl - 1] == '=') + (bl > 1 && text[bl - 2] == '=');
		dl = EVP_DecodeBlock(der, text, (int)bl);
		xmlFree(text);
		p = der;
		if (dl < 0 || (certs[*n] = d2i_X509(NULL, &p, dl - (int)pad)) == NULL) {
			free(der);
			ERR_clear_error();
			return KG_ERR_GPU_RIM_CHAIN;
		}
		free(der);
		(*n)++;
	}
	return KG_OK;
}

/* xmlsec verification of sig with key pk, restricted to NVIDIA's profile:
 * one Reference to the whole document (URI ""), enveloped-signature and
 * c14n 1.1 transforms, SHA-384 digest, ECDSA-SHA384 signature. */
static kg_err dsig_verify(xmlNodePtr sig, EVP_PKEY *pk)
{
	xmlSecDSigCtxPtr ctx = NULL;
	xmlSecKeyDataPtr data = NULL;
	xmlSecKeyPtr key = NULL;
	kg_err rc = KG_ERR_CRYPTO;

	if (EVP_PKEY_up_ref(pk) != 1)
		return KG_ERR_CRYPTO;
	if ((data = xmlSecOpenSSLEvpKeyAdopt(pk)) == NULL) {
		EVP_PKEY_free(pk);
		goto out;
	}
	if ((key = xmlSecKeyCreate()) == NULL || xmlSecKeySetValue(key, data) < 0)
		goto out;
	data = NULL; /* owned by key */
	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL)
		goto out;
	ctx->signKey = key;
	key = NULL; /* owned by ctx */
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
	if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformInclC14N11Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformInclC14N11Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha384Id) < 0)
		goto out;
	rc = KG_ERR_GPU_RIM_SIGNATURE;
	if (xmlSecDSigCtxVerify(ctx, sig) < 0 || ctx->status != xmlSecDSigStatusSucceeded)
		goto out;
	/* Exactly one Reference: nothing else signed, nothing left out. */
	if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1)
		goto out;
	rc = KG_OK;
out:
	if (ctx)
		xmlSecDSigCtxDestroy(ctx);
	if (key) /* xmlsec's destructors assert on NULL */
		xmlSecKeyDestroy(key);
	if (data)
		xmlSecKeyDataDestroy(data);
	ERR_clear_error();
	return rc;
}

kg_err kg_gpu_rim_validity(const uint8_t *xml, size_t len, time_t *not_before, time_t *not_after)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, sig = NULL, c;
	X509 *certs[RIM_CERTS_MAX];
	size_t n = 0;
	kg_err rc;

	*not_before = *not_after = 0;
	KG_TRY(doc_read(xml, len, &doc));
	root = xmlDocGetRootElement(doc);
	KG_ENSURE_OUT(root != NULL, KG_ERR_GPU_RIM_MALFORMED);
	for (c = root->children; c; c = c->next)
		if (is_elem(c, "Signature", NS_DSIG))
			sig = c;
	KG_ENSURE_OUT(sig != NULL, KG_ERR_GPU_RIM_SIGNATURE);
	KG_TRY_OUT(keyinfo_certs(sig, certs, RIM_CERTS_MAX, &n));
	rc = KG_ERR_GPU_RIM_CHAIN;
	for (size_t i = 0; i < n; i++) {
		struct tm tb, ta;
		time_t b, a;
		memset(&tb, 0, sizeof tb);
		memset(&ta, 0, sizeof ta);
		if (ASN1_TIME_to_tm(X509_get0_notBefore(certs[i]), &tb) != 1 ||
		    ASN1_TIME_to_tm(X509_get0_notAfter(certs[i]), &ta) != 1)
			goto out;
		b = timegm(&tb);
		a = timegm(&ta);
		/* The chain holds while every certificate does. */
		if (i == 0 || b > *not_before)
			*not_before = b;
		if (i == 0 || a < *not_after)
			*not_after = a;
	}
	rc = n > 0 && *not_after > *not_before ? KG_OK : KG_ERR_GPU_RIM_CHAIN;
out:
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	xmlFreeDoc(doc);
	return rc;
}

static kg_err rim_verify_cold(struct kg_gpu_verifier *v, const uint8_t *xml, size_t len, time_t now,
			      struct kg_gpu_rim **out)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, sig = NULL, c;
	X509 *certs[RIM_CERTS_MAX];
	size_t n = 0, n_sig = 0;
	time_t nb = 0, na = 0;
	kg_err rc;

	*out = NULL;
	KG_TRY(doc_read(xml, len, &doc));
	root = xmlDocGetRootElement(doc);
	KG_ENSURE_OUT(root != NULL, KG_ERR_GPU_RIM_MALFORMED);
	/* The enveloped Signature is a child of the root, and the only one. */
	for (c = root->children; c; c = c->next)
		if (is_elem(c, "Signature", NS_DSIG)) {
			sig = c;
			n_sig++;
		}
	KG_ENSURE_OUT(n_sig == 1, KG_ERR_GPU_RIM_SIGNATURE);
	KG_TRY_OUT(keyinfo_certs(sig, certs, RIM_CERTS_MAX, &n));
	switch (kg_gpu_chain_check(v->rim_root, certs, n, now, &nb, &na)) {
	case GPU_CHAIN_OK:
		break;
	case GPU_CHAIN_FAIL_TIME:
		rc = KG_ERR_GPU_RIM_EXPIRED;
		goto out;
	default:
		rc = KG_ERR_GPU_RIM_CHAIN;
		goto out;
	}
	KG_TRY_OUT(dsig_verify(sig, X509_get0_pubkey(certs[0])));
	KG_TRY_OUT(rim_read(doc, out));
	(*out)->not_before = nb;
	(*out)->not_after = na;
	rc = KG_OK;
out:
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	xmlFreeDoc(doc);
	ERR_clear_error();
	return rc;
}

/* ---------------------------------------------------------------------------
 * The cache of verified RIMs, by SHA-256 of their bytes
 */

struct gpu_rim_entry {
	bool used;
	uint64_t last_use;
	uint8_t key[32];
	struct kg_gpu_rim *rim;
};

kg_err kg_gpu_rim_cache_new(struct kg_gpu_verifier *v)
{
	KG_ENSURE((v->rims = calloc(KG_GPU_CACHE_MAX, sizeof *v->rims)) != NULL, KG_ERR_NOMEM);
	return KG_OK;
}

void kg_gpu_rim_cache_free(struct kg_gpu_verifier *v)
{
	if (v->rims == NULL)
		return;
	for (size_t i = 0; i < KG_GPU_CACHE_MAX; i++)
		kg_gpu_rim_free(v->rims[i].rim);
	free(v->rims);
	v->rims = NULL;
}

static kg_err rim_dup(const struct kg_gpu_rim *r, struct kg_gpu_rim **out)
{
	struct kg_gpu_rim *d;

	*out = NULL;
	KG_ENSURE((d = calloc(1, sizeof *d)) != NULL, KG_ERR_NOMEM);
	*d = *r;
	d->meas = NULL;
	d->n_meas = 0;
	if ((d->meas = calloc(r->n_meas ? r->n_meas : 1, sizeof *d->meas)) == NULL) {
		kg_gpu_rim_free(d);
		return KG_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->n_meas; i++) {
		d->meas[i] = r->meas[i];
		if ((d->meas[i].alt = malloc(r->meas[i].n_alt * sizeof *r->meas[i].alt)) == NULL) {
			kg_gpu_rim_free(d);
			return KG_ERR_NOMEM;
		}
		memcpy(d->meas[i].alt, r->meas[i].alt, r->meas[i].n_alt * sizeof *r->meas[i].alt);
		d->n_meas++;
	}
	*out = d;
	return KG_OK;
}

kg_err kg_gpu_rim_verify(struct kg_gpu_verifier *v, const uint8_t *xml, size_t len, time_t now,
			 struct kg_gpu_rim **out)
{
	uint8_t key[32];
	struct gpu_rim_entry *slot = NULL;
	struct kg_gpu_rim *r = NULL, *copy = NULL;
	kg_err rc = KG_ERR_GPU_RIM_MALFORMED;
	bool hit = false;

	*out = NULL;
	KG_ENSURE(len <= KG_GPU_RIM_MAX, KG_ERR_TOO_LARGE);
	KG_ENSURE(EVP_Digest(xml, len, key, NULL, EVP_sha256(), NULL) == 1, KG_ERR_CRYPTO);
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < KG_GPU_CACHE_MAX; i++) {
		struct gpu_rim_entry *e = &v->rims[i];
		/* A hit only inside the signer's validity; outside it the
		 * cold path says why. */
		if (e->used && memcmp(e->key, key, 32) == 0 && now >= e->rim->not_before && now < e->rim->not_after) {
			rc = rim_dup(e->rim, out);
			e->last_use = ++v->tick;
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&v->lock);
	if (hit)
		return rc;
	KG_TRY(rim_verify_cold(v, xml, len, now, &r));
	if (rim_dup(r, &copy) == KG_OK) { /* the cache keeps its own copy */
		pthread_mutex_lock(&v->lock);
		for (size_t i = 0; i < KG_GPU_CACHE_MAX; i++) {
			struct gpu_rim_entry *e = &v->rims[i];
			if (e->used && memcmp(e->key, key, 32) == 0) {
				slot = e;
				break;
			}
			if (slot == NULL || !e->used || (slot->used && e->last_use < slot->last_use))
				slot = e;
		}
		assert(slot != NULL);
		kg_gpu_rim_free(slot->rim);
		slot->rim = copy;
		slot->used = true;
		memcpy(slot->key, key, 32);
		slot->last_use = ++v->tick;
		pthread_mutex_unlock(&v->lock);
	}
	*out = r;
	return KG_OK;
}
