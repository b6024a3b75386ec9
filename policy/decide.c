/*
 * Policy evaluation as a table of conditions, each naming the policy
 * columns it reads.  The release path walks the table until a condition
 * fails; `policy explain` and the audit row walk all of it, the former with
 * the claim's value and the requirement as text.  One table, so the
 * explanation cannot drift from the decision.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "policy.h"

struct ctx {
	const struct kg_policy *p;
	const struct kg_claims *c;
	const struct kg_ledger_result *ledgers;
	size_t n_ledgers;
	time_t now;
};

/* t is NULL on the release path: no text is made there. */
typedef kg_err (*cond_fn)(const struct ctx *x, struct kg_policy_cond *t);

static void hex(char *out, size_t cap, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < cap; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * i] = 0;
}

static void utc(char *out, size_t cap, time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "%lld", (long long)t);
}

/* An empty list allows any digest. */
static bool digest_allowed(const uint8_t (*list)[48], size_t n, const uint8_t d[static 48])
{
	bool found = n == 0;

	for (size_t i = 0; i < n; i++)
		found |= CRYPTO_memcmp(list[i], d, 48) == 0;
	return found;
}

static void want_list(struct kg_policy_cond *t, size_t n, const char *what)
{
	if (n == 0)
		snprintf(t->want, sizeof t->want, "any (no %s listed)", what);
	else
		snprintf(t->want, sizeof t->want, "one of the %zu %s listed", n, what);
}

static kg_err c_tee(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", kg_tee_name(x->c->tee));
		snprintf(t->want, sizeof t->want, "%s", kg_tee_name(x->p->tee));
	}
	KG_ENSURE(x->p->tee == x->c->tee, KG_ERR_TEE_NOT_ALLOWED);
	return KG_OK;
}

static kg_err c_state(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", x->p->active ? "active" : "disabled");
		snprintf(t->want, sizeof t->want, "active");
	}
	KG_ENSURE(x->p->active, KG_ERR_NO_POLICY);
	return KG_OK;
}

static kg_err c_not_before(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		utc(t->claim, sizeof t->claim, x->now);
		if (x->p->has_not_before) {
			char when[32];
			utc(when, sizeof when, x->p->not_before);
			snprintf(t->want, sizeof t->want, "at or after %s", when);
		} else {
			snprintf(t->want, sizeof t->want, "any time (no start)");
		}
	}
	KG_ENSURE(!x->p->has_not_before || x->now >= x->p->not_before, KG_ERR_POLICY_NOT_YET_VALID);
	return KG_OK;
}

static kg_err c_not_after(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		utc(t->claim, sizeof t->claim, x->now);
		if (x->p->has_not_after) {
			char when[32];
			utc(when, sizeof when, x->p->not_after);
			snprintf(t->want, sizeof t->want, "before %s", when);
		} else {
			snprintf(t->want, sizeof t->want, "any time (no end)");
		}
	}
	KG_ENSURE(!x->p->has_not_after || x->now < x->p->not_after, KG_ERR_POLICY_EXPIRED);
	return KG_OK;
}

/* A measurement list, a ledger, or both; a policy with neither (the
 * schema forbids it) allows nothing. */
static kg_err c_measurements(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_policy *p = x->p;
	const struct kg_claims *c = x->c;
	bool found = false;

	for (size_t i = 0; i < p->n_measurements; i++)
		if (p->measurement_len == c->measurement_len &&
		    CRYPTO_memcmp(p->measurements[i], c->measurement, c->measurement_len) == 0)
			found = true;
	if (t) {
		hex(t->claim, sizeof t->claim, c->measurement, c->measurement_len);
		if (p->n_measurements == 0)
			snprintf(t->want, sizeof t->want, "%s", p->has_ledger ? "any (the ledger decides)" : "nothing");
		else
			want_list(t, p->n_measurements, "measurements");
	}
	KG_ENSURE(p->n_measurements > 0 || p->has_ledger, KG_ERR_MEASUREMENT);
	KG_ENSURE(found || p->n_measurements == 0, KG_ERR_MEASUREMENT);
	return KG_OK;
}

static kg_err c_ledger(const struct ctx *x, struct kg_policy_cond *t)
{
	kg_err r = KG_ERR_LEDGER_NOT_IN_LEDGER;
	bool judged = false;

	if (!x->p->has_ledger) {
		if (t) {
			snprintf(t->claim, sizeof t->claim, "-");
			snprintf(t->want, sizeof t->want, "no ledger required");
		}
		return KG_OK;
	}
	for (size_t i = 0; i < x->n_ledgers; i++)
		if (strcmp(x->ledgers[i].ledger_id, x->p->ledger_id) == 0) {
			r = x->ledgers[i].result;
			judged = true;
		}
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", judged ? kg_err_code(r) : "no ledger bundle");
		snprintf(t->want, sizeof t->want, "published in ledger %s", x->p->ledger_id);
	}
	return r;
}

static kg_err c_debug(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", x->c->debug ? "debug allowed" : "no debug");
		snprintf(t->want, sizeof t->want, "%s", x->p->allow_debug ? "debug permitted" : "no debug");
	}
	KG_ENSURE(!x->c->debug || x->p->allow_debug, KG_ERR_DEBUG);
	return KG_OK;
}

static kg_err c_migration(const struct ctx *x, struct kg_policy_cond *t)
{
	bool ma = x->c->u.snp.migrate_ma;

	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", ma ? "migration agent" : "no migration agent");
		snprintf(t->want, sizeof t->want, "%s",
			 x->p->allow_migration_agent ? "migration agent permitted" : "no migration agent");
	}
	KG_ENSURE(!ma || x->p->allow_migration_agent, KG_ERR_MIGRATION);
	return KG_OK;
}

/* The floor applies to REPORTED_TCB: the VCEK is derived from it, while
 * CURRENT_TCB is whatever the host chose to load. */
static kg_err c_tcb(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_snp_tcb *r = &x->c->u.snp.reported_tcb;
	const struct kg_policy *p = x->p;

	if (t) {
		snprintf(t->claim, sizeof t->claim, "bootloader=%u tee=%u snp=%u microcode=%u fmc=%u", r->bootloader,
			 r->tee, r->snp, r->microcode, r->fmc);
		snprintf(t->want, sizeof t->want, "bootloader>=%d tee>=%d snp>=%d microcode>=%d fmc>=%d (-1: any)",
			 p->min_bootloader, p->min_tee, p->min_snp, p->min_microcode, p->min_fmc);
	}
	KG_ENSURE(p->min_bootloader < 0 || r->bootloader >= p->min_bootloader, KG_ERR_TCB_TOO_LOW);
	KG_ENSURE(p->min_tee < 0 || r->tee >= p->min_tee, KG_ERR_TCB_TOO_LOW);
	KG_ENSURE(p->min_snp < 0 || r->snp >= p->min_snp, KG_ERR_TCB_TOO_LOW);
	KG_ENSURE(p->min_microcode < 0 || r->microcode >= p->min_microcode, KG_ERR_TCB_TOO_LOW);
	KG_ENSURE(p->min_fmc < 0 || r->fmc >= p->min_fmc, KG_ERR_TCB_TOO_LOW);
	return KG_OK;
}

/* VMPL 0 is the guest's most privileged level; a request from a less
 * privileged one is refused unless the policy names it. */
static kg_err c_vmpl(const struct ctx *x, struct kg_policy_cond *t)
{
	uint32_t vmpl = x->c->u.snp.vmpl;

	if (t) {
		size_t n = 0;
		snprintf(t->claim, sizeof t->claim, "%" PRIu32, vmpl);
		n = (size_t)snprintf(t->want, sizeof t->want, "one of {");
		for (int i = 0; i < 4; i++)
			if ((x->p->allowed_vmpls >> i) & 1 && n < sizeof t->want)
				n += (size_t)snprintf(t->want + n, sizeof t->want - n, "%s%d",
						      t->want[n - 1] == '{' ? "" : ",", i);
		if (n < sizeof t->want)
			snprintf(t->want + n, sizeof t->want - n, "}");
	}
	KG_ENSURE(vmpl < 4 && (x->p->allowed_vmpls >> vmpl) & 1, KG_ERR_VMPL);
	return KG_OK;
}

static kg_err c_guest_svn(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%" PRIu32, x->c->u.snp.guest_svn);
		if (x->p->min_guest_svn < 0)
			snprintf(t->want, sizeof t->want, "any");
		else
			snprintf(t->want, sizeof t->want, ">= %" PRId64, x->p->min_guest_svn);
	}
	KG_ENSURE(x->p->min_guest_svn < 0 || (int64_t)x->c->u.snp.guest_svn >= x->p->min_guest_svn, KG_ERR_GUEST_SVN);
	return KG_OK;
}

static kg_err c_host_data(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		hex(t->claim, sizeof t->claim, x->c->u.snp.host_data, 32);
		if (x->p->has_host_data)
			hex(t->want, sizeof t->want, x->p->host_data, 32);
		else
			snprintf(t->want, sizeof t->want, "any");
	}
	KG_ENSURE(!x->p->has_host_data || CRYPTO_memcmp(x->p->host_data, x->c->u.snp.host_data, 32) == 0,
		  KG_ERR_HOST_DATA);
	return KG_OK;
}

static kg_err c_id_key(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		hex(t->claim, sizeof t->claim, x->c->u.snp.id_key_digest, 48);
		want_list(t, x->p->n_id_key_digests, "ID key digests");
	}
	KG_ENSURE(digest_allowed(x->p->id_key_digests, x->p->n_id_key_digests, x->c->u.snp.id_key_digest),
		  KG_ERR_ID_KEY);
	return KG_OK;
}

static kg_err c_author_key(const struct ctx *x, struct kg_policy_cond *t)
{
	if (t) {
		hex(t->claim, sizeof t->claim, x->c->u.snp.author_key_digest, 48);
		want_list(t, x->p->n_author_key_digests, "author key digests");
	}
	KG_ENSURE(digest_allowed(x->p->author_key_digests, x->p->n_author_key_digests, x->c->u.snp.author_key_digest),
		  KG_ERR_AUTHOR_KEY);
	return KG_OK;
}

/* Only an evaluated TCB can be accepted, and never a revoked one. */
static kg_err c_tdx_status(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_tdx_claims *d = &x->c->u.tdx;

	if (t) {
		size_t n = 0;
		snprintf(t->claim, sizeof t->claim, "%s",
			 d->tcb_evaluated ? kg_tdx_tcb_status_name(d->tcb_status) : "not evaluated");
		for (int i = 0; i < 32 && n < sizeof t->want; i++)
			if ((x->p->tdx_tcb_statuses >> i) & 1)
				n += (size_t)snprintf(t->want + n, sizeof t->want - n, "%s%s", n ? "," : "one of ",
						      kg_tdx_tcb_status_name((enum kg_tdx_tcb_status)i));
	}
	KG_ENSURE(d->tcb_evaluated && d->tcb_status != KG_TDX_TCB_REVOKED && (x->p->tdx_tcb_statuses >> d->tcb_status) & 1,
		  KG_ERR_TDX_TCB_STATUS);
	return KG_OK;
}

static kg_err c_rtmr(const struct ctx *x, struct kg_policy_cond *t)
{
	kg_err r = KG_OK;

	for (int i = 3; i >= 0; i--)
		if (!digest_allowed(x->p->rtmr[i], x->p->n_rtmr[i], x->c->u.tdx.td.rtmr[i]))
			r = KG_ERR_TDX_RTMR;
	if (t) {
		size_t n = 0;
		for (int i = 0; i < 4 && n < sizeof t->claim; i++)
			n += (size_t)snprintf(t->claim + n, sizeof t->claim - n, "%sRTMR%d %s", i ? ", " : "", i,
					      digest_allowed(x->p->rtmr[i], x->p->n_rtmr[i], x->c->u.tdx.td.rtmr[i])
						      ? "allowed"
						      : "not listed");
		snprintf(t->want, sizeof t->want, "listed values (RTMR0..3: %zu, %zu, %zu, %zu; 0 = any)",
			 x->p->n_rtmr[0], x->p->n_rtmr[1], x->p->n_rtmr[2], x->p->n_rtmr[3]);
	}
	return r;
}

static kg_err mr_equal(bool has, const uint8_t want[static 48], const uint8_t got[static 48],
		       struct kg_policy_cond *t, kg_err e)
{
	if (t) {
		hex(t->claim, sizeof t->claim, got, 48);
		if (has)
			hex(t->want, sizeof t->want, want, 48);
		else
			snprintf(t->want, sizeof t->want, "any");
	}
	KG_ENSURE(!has || CRYPTO_memcmp(want, got, 48) == 0, e);
	return KG_OK;
}

static kg_err c_mr_config_id(const struct ctx *x, struct kg_policy_cond *t)
{
	return mr_equal(x->p->has_mr_config_id, x->p->mr_config_id, x->c->u.tdx.td.mr_config_id, t,
			KG_ERR_TDX_MR_CONFIG_ID);
}

static kg_err c_mr_owner(const struct ctx *x, struct kg_policy_cond *t)
{
	return mr_equal(x->p->has_mr_owner, x->p->mr_owner, x->c->u.tdx.td.mr_owner, t, KG_ERR_TDX_MR_OWNER);
}

static kg_err c_mr_owner_config(const struct ctx *x, struct kg_policy_cond *t)
{
	return mr_equal(x->p->has_mr_owner_config, x->p->mr_owner_config, x->c->u.tdx.td.mr_owner_config, t,
			KG_ERR_TDX_MR_OWNER_CONFIG);
}

bool kg_gpu_driver_version_parse(const char *s, uint32_t out[static 4])
{
	memset(out, 0, 4 * sizeof out[0]);
	for (int i = 0; i < 4; i++) {
		uint32_t v = 0;
		int digits = 0;
		for (; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits >= 6 || (v = v * 10 + (uint32_t)(*s - '0')) > 999999)
				return false;
		if (digits == 0)
			return false;
		out[i] = v;
		if (*s == 0)
			return true;
		if (*s++ != '.')
			return false;
	}
	return false;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool kg_gpu_vbios_version_parse(const char *s, uint32_t out[static 5])
{
	for (int i = 0; i < 5; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint32_t)(hi * 16 + lo);
		s += 2;
		if (i < 4 && *s++ != '.')
			return false;
	}
	return *s == 0;
}

int kg_gpu_version_cmp(const uint32_t *a, const uint32_t *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

static void version_text(char *out, size_t cap, const uint32_t *v, int n, bool hexa)
{
	size_t k = 0;

	out[0] = 0;
	for (int i = 0; i < n && k < cap; i++)
		k += (size_t)snprintf(out + k, cap - k, hexa ? "%s%02X" : "%s%u", i ? "." : "", v[i]);
}

/* The GPU conditions pass trivially for a policy that requires no GPU. */
static bool gpu_not_required(const struct ctx *x, struct kg_policy_cond *t)
{
	if (x->p->gpu_count > 0)
		return false;
	if (t) {
		snprintf(t->claim, sizeof t->claim, "-");
		snprintf(t->want, sizeof t->want, "no GPU required");
	}
	return true;
}

static kg_err c_gpu_count(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		if (g && g->n_failed)
			snprintf(t->claim, sizeof t->claim, "%zu verified, %zu failed (%s)", g->n_gpus, g->n_failed,
				 kg_err_code(g->first_error));
		else
			snprintf(t->claim, sizeof t->claim, "%zu verified", g ? g->n_gpus : 0);
		snprintf(t->want, sizeof t->want, "at least %d, every device verified", x->p->gpu_count);
	}
	/* Evidence that fails is a failure, not a GPU less. */
	KG_ENSURE(g == NULL || g->n_failed == 0, g->first_error);
	KG_ENSURE(g != NULL && g->n_gpus >= (size_t)x->p->gpu_count, KG_ERR_GPU_REQUIRED);
	return KG_OK;
}

static kg_err c_nvswitch_count(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%zu verified", g ? g->n_switches : 0);
		snprintf(t->want, sizeof t->want, "at least %d", x->p->nvswitch_count);
	}
	KG_ENSURE(x->p->nvswitch_count == 0 || (g && g->n_switches >= (size_t)x->p->nvswitch_count),
		  KG_ERR_GPU_NVSWITCH);
	return KG_OK;
}

static kg_err c_gpu_cc(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", g && g->n_gpus && g->all_cc ? "every GPU in a CC mode" : "not all");
		snprintf(t->want, sizeof t->want, "%s", x->p->gpu_require_cc ? "every GPU in a CC mode" : "any");
	}
	KG_ENSURE(!x->p->gpu_require_cc || (g && g->n_gpus && g->all_cc), KG_ERR_GPU_CC);
	return KG_OK;
}

static kg_err c_gpu_rims(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;
	kg_err r = g ? g->rims : KG_ERR_GPU_RIM_MISSING;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", r == KG_OK ? "every device matches its RIMs" : kg_err_code(r));
		snprintf(t->want, sizeof t->want, "%s", x->p->gpu_require_rims ? "match the RIMs" : "any");
	}
	return x->p->gpu_require_rims ? r : KG_OK;
}

static kg_err c_gpu_ocsp(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;
	bool ok = g && (g->n_gpus + g->n_switches) > 0 && g->all_ocsp;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		snprintf(t->claim, sizeof t->claim, "%s", ok ? "every device's CAs checked: good" : "not all checked");
		snprintf(t->want, sizeof t->want, "%s", x->p->gpu_require_ocsp ? "a good OCSP response for each CA" : "any");
	}
	KG_ENSURE(!x->p->gpu_require_ocsp || ok, KG_ERR_GPU_OCSP_MISSING);
	return KG_OK;
}

static kg_err c_gpu_driver(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		if (g && g->has_driver)
			version_text(t->claim, sizeof t->claim, g->min_driver, 4, false);
		else
			snprintf(t->claim, sizeof t->claim, "unknown");
		if (x->p->has_gpu_min_driver) {
			char v[64];
			version_text(v, sizeof v, x->p->gpu_min_driver, 4, false);
			snprintf(t->want, sizeof t->want, ">= %s", v);
		} else {
			snprintf(t->want, sizeof t->want, "any");
		}
	}
	KG_ENSURE(!x->p->has_gpu_min_driver ||
			  (g && g->has_driver && kg_gpu_version_cmp(g->min_driver, x->p->gpu_min_driver, 4) >= 0),
		  KG_ERR_GPU_DRIVER);
	return KG_OK;
}

static kg_err c_gpu_vbios(const struct ctx *x, struct kg_policy_cond *t)
{
	const struct kg_gpu_summary *g = x->c->gpus;

	if (gpu_not_required(x, t))
		return KG_OK;
	if (t) {
		if (g && g->has_vbios)
			version_text(t->claim, sizeof t->claim, g->min_vbios, 5, true);
		else
			snprintf(t->claim, sizeof t->claim, "unknown");
		if (x->p->has_gpu_min_vbios) {
			char v[64];
			version_text(v, sizeof v, x->p->gpu_min_vbios, 5, true);
			snprintf(t->want, sizeof t->want, ">= %s", v);
		} else {
			snprintf(t->want, sizeof t->want, "any");
		}
	}
	KG_ENSURE(!x->p->has_gpu_min_vbios ||
			  (g && g->has_vbios && kg_gpu_version_cmp(g->min_vbios, x->p->gpu_min_vbios, 5) >= 0),
		  KG_ERR_GPU_VBIOS);
	return KG_OK;
}

/* In order from "does this policy apply" to "is this guest acceptable":
 * the count of conditions passed lets kg_policy_decide pick the most
 * relevant reason among several policies.  tee 0: every TEE. */
static const struct {
	const char *name;
	enum kg_tee tee;
	cond_fn fn;
} conds[] = {
	{"tee", 0, c_tee},
	{"state", 0, c_state},
	{"not_before", 0, c_not_before},
	{"not_after", 0, c_not_after},
	{"measurements", 0, c_measurements},
	{"ledger_id", 0, c_ledger},
	{"allow_debug", 0, c_debug},
	{"allow_migration_agent", KG_TEE_SNP, c_migration},
	{"min_tcb", KG_TEE_SNP, c_tcb},
	{"allowed_vmpls", KG_TEE_SNP, c_vmpl},
	{"min_guest_svn", KG_TEE_SNP, c_guest_svn},
	{"host_data", KG_TEE_SNP, c_host_data},
	{"id_key_digests", KG_TEE_SNP, c_id_key},
	{"author_key_digests", KG_TEE_SNP, c_author_key},
	{"tdx_tcb_statuses", KG_TEE_TDX, c_tdx_status},
	{"tdx_rtmr", KG_TEE_TDX, c_rtmr},
	{"tdx_mr_config_id", KG_TEE_TDX, c_mr_config_id},
	{"tdx_mr_owner", KG_TEE_TDX, c_mr_owner},
	{"tdx_mr_owner_config", KG_TEE_TDX, c_mr_owner_config},
	{"gpu_count", 0, c_gpu_count},
	{"nvswitch_count", 0, c_nvswitch_count},
	{"gpu_require_cc", 0, c_gpu_cc},
	{"gpu_require_rims", 0, c_gpu_rims},
	{"gpu_require_ocsp", 0, c_gpu_ocsp},
	{"gpu_min_driver_version", 0, c_gpu_driver},
	{"gpu_min_vbios_version", 0, c_gpu_vbios},
};

kg_err kg_policy_eval(const struct kg_policy *p, const struct kg_claims *c, const struct kg_ledger_result *ledgers,
		      size_t n_ledgers, time_t now, int *passed)
{
	const struct ctx x = {p, c, ledgers, n_ledgers, now};

	*passed = 0;
	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
		if (conds[i].tee != 0 && conds[i].tee != c->tee)
			continue;
		KG_TRY(conds[i].fn(&x, NULL));
		++*passed;
	}
	return KG_OK;
}

size_t kg_policy_explain(const struct kg_policy *p, const struct kg_claims *c, const struct kg_ledger_result *ledgers,
			 size_t n_ledgers, time_t now, bool with_text, struct kg_policy_cond *out, size_t cap)
{
	const struct ctx x = {p, c, ledgers, n_ledgers, now};
	size_t n = 0;

	for (size_t i = 0; i < sizeof conds / sizeof conds[0] && n < cap; i++) {
		if (conds[i].tee != 0 && conds[i].tee != c->tee)
			continue;
		memset(&out[n], 0, sizeof out[n]);
		out[n].name = conds[i].name;
		out[n].result = conds[i].fn(&x, with_text ? &out[n] : NULL);
		n++;
	}
	return n;
}

void kg_policy_decide(const struct kg_policy *policies, size_t n, const struct kg_claims *claims,
		      const struct kg_ledger_result *ledgers, size_t n_ledgers, time_t now, struct kg_decision *out)
{
	int best = -1;

	out->grant = false;
	out->policy_id = 0;
	out->reason = KG_ERR_NO_POLICY;
	for (size_t i = 0; i < n; i++) {
		int passed;
		kg_err e = kg_policy_eval(&policies[i], claims, ledgers, n_ledgers, now, &passed);
		if (e == KG_OK) {
			out->grant = true;
			out->policy_id = policies[i].id;
			out->reason = KG_OK;
			return;
		}
		/* Policies for another TEE or disabled ones explain nothing. */
		if (e == KG_ERR_TEE_NOT_ALLOWED || e == KG_ERR_NO_POLICY)
			continue;
		if (passed > best) {
			best = passed;
			out->policy_id = policies[i].id;
			out->reason = e;
		}
	}
}
