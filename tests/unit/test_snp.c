/*
 * Unit tests for attest/snp.c (report and certificate-table parsers, the
 * VCEK chain and report verifier, its cache) and attest/snp_sim.c.
 *
 * Real evidence comes from $KG_VECTORS (shared/vectors; expectations in
 * its EXPECTED.md §1).  Times are pinned: T0 = 2025-07-01, inside every
 * real certificate's validity (the AWS VLEK expires 2025-12-10).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../attest/snp.h"
#include "../../attest/snp_internal.h"
#include "../../attest/snp_sim.h"
#include "../../common/util.h"
#include "vectors.h"

#define T0 ((time_t)1751328000)        /* 2025-07-01T00:00:00Z */
#define T_2026 ((time_t)1767225600)    /* 2026-01-01: the VLEK has expired */
#define T_2030_06 ((time_t)1906502400) /* after the GSG VCEK's notAfter (2029-09-24) */
#define T_2020 ((time_t)1577836800)    /* before the GSG VCEK's notBefore (2022-09-24) */

/* ------------------------------------------------------------------------
 * Fixture: the shipped AMD roots, a simulated attester in a temp dir and
 * its root.  Tests in a binary share them (verifier caches included).
 */
static struct {
	char dir[64];
	char ark_path[128];
	struct kg_snp_verifier *amd, *sim;
	double sim_init_s;
} fx;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int group_setup(void **state)
{
	double t;

	(void)state;
	snprintf(fx.dir, sizeof fx.dir, "%s", "/tmp/kg-test-snp-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	t = now_s();
	if (kg_snp_sim_init(fx.dir) != KG_OK)
		return -1;
	fx.sim_init_s = now_s() - t;
	printf("# snp-sim init (2x RSA-4096 + P-384 keygen, 3 certs): %.2f s\n", fx.sim_init_s);
	snprintf(fx.ark_path, sizeof fx.ark_path, "%s/%s", fx.dir, KG_SNP_SIM_ARK);
	if (kg_snp_verifier_new(&fx.amd, NULL) != KG_OK)
		return -1;
	if (kg_snp_verifier_new(&fx.sim, fx.ark_path) != KG_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	DIR *d;
	struct dirent *e;
	char p[384];

	(void)state;
	kg_snp_verifier_free(fx.amd);
	kg_snp_verifier_free(fx.sim);
	if ((d = opendir(fx.dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", fx.dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(fx.dir);
	return 0;
}

/* ------------------------------------------------------------------------
 * Helpers
 */

/* A KDS bundle "ASK then ARK" (PEM) split into its two certificates. */
struct bundle {
	struct blob text;
	struct kg_snp_certs certs; /* ask, ark set; vcek unset */
};

static struct bundle bundle_read(const char *rel)
{
	struct bundle b;
	const char *second;

	memset(&b, 0, sizeof b);
	b.text = vec_read(rel);
	second = strstr((const char *)b.text.p + 1, "-----BEGIN CERTIFICATE-----");
	assert_non_null(second);
	b.certs.ask = b.text.p;
	b.certs.ask_len = (size_t)((const uint8_t *)second - b.text.p);
	b.certs.ark = (const uint8_t *)second;
	b.certs.ark_len = b.text.len - b.certs.ask_len;
	return b;
}

static void hex_eq(const uint8_t *b, size_t n, const char *want)
{
	char s[2 * 64 + 1];

	assert_true(n <= 64);
	kg_hex(s, b, n);
	assert_string_equal(s, want);
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The certificates of a parsed table, as the verifier takes them. */
static struct kg_snp_certs certs_of(const struct kg_snp_cert_table *t)
{
	struct kg_snp_certs c;

	memset(&c, 0, sizeof c);
	c.vcek = t->vcek;
	c.vcek_len = t->vcek_len;
	c.ask = t->ask;
	c.ask_len = t->ask_len;
	c.ark = t->ark;
	c.ark_len = t->ark_len;
	return c;
}

static kg_err verify_with(struct kg_snp_verifier *v, const struct blob *rep, const uint8_t *vcek, size_t vcek_len,
			  time_t now, struct kg_snp_report *out)
{
	struct kg_snp_certs c = {.vcek = vcek, .vcek_len = vcek_len};
	return kg_snp_verify(v, rep->p, rep->len, &c, now, out);
}

/* ------------------------------------------------------------------------
 * Real vectors (EXPECTED.md §1.1-1.6): each parses with the documented
 * values and verifies under the shipped AMD roots at T0.
 */

struct tcb4 {
	uint8_t bl, tee, snp, ucode;
};

struct vec {
	const char *report, *vcek, *bundle, *runtime_data;
	uint32_t version, guest_svn, vmpl;
	uint64_t policy, platform_info;
	int signing_key;
	const char *product;
	uint8_t fam, mod, step;
	const char *measurement, *report_data, *chip_id, *id_key_digest; /* NULL: not checked (chip: zero) */
	struct tcb4 reported;
	uint8_t current_ucode, committed_ucode, launch_ucode;
	uint8_t fw_major, fw_minor, fw_build;
	bool debug;
};

#define Z32 "0000000000000000000000000000000000000000000000000000000000000000"

static const struct vec v_gsg = {
	"snp/gsg-milan/attestation.bin", "snp/gsg-milan/vcek.der", "snp/amd-roots/milan/ask_ark_milan.pem", NULL,
	2, 0, 0, 0xb0000, 0x1, 0, "Milan", 0, 0, 0,
	"b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
	"0102030405000000000000000000000000000000000000000000000000000000" Z32,
	"3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d",
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
	{2, 0, 5, 68}, 68, 68, 68, 1, 49, 3, true};

static const struct vec v_virtee = {
	"snp/virtee-milan/report_milan.bin", "snp/virtee-milan/vcek_milan.der", "snp/amd-roots/milan/ask_ark_milan.pem",
	NULL, 2, 0, 0, 0x30000, 0x1, 0, "Milan", 0, 0, 0,
	"7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
	"d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd",
	"d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6",
	"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
	{3, 0, 8, 115}, 115, 115, 115, 1, 52, 4, false};

static const struct vec v_trustee = {
	"snp/trustee-milan/test-report.bin", "snp/trustee-milan/test-vcek.der", "snp/amd-roots/milan/ask_ark_milan.pem",
	NULL, 2, 4, 0, 0x3001f, 0x1, 0, "Milan", 0, 0, 0,
	"a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c",
	"ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2" Z32,
	"c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e",
	"0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3",
	/* REPORTED ucode 115 while CURRENT is 206: the VCEK follows REPORTED. */
	{3, 0, 8, 115}, 206, 115, 115, 1, 52, 4, false};

static const struct vec v_vlek = {
	"snp/trustee-milan-vlek-aws/test-vlek-report.bin", "snp/trustee-milan-vlek-aws/test-vlek.der",
	"snp/amd-roots/milan/ask_ark_milan_vlek.pem", NULL, 3, 0, 1, 0x30000, 0x27, 1, "Milan", 0x19, 0x01, 0x01,
	"8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0",
	"819770b7e6ea6df8dd8fd4dd146b073c0bf4f3ce5b0977ecac486e3a05ed1bd54e2a7ac1f5d1ca02e7d7d5ef9f73b8574fd9359e3a480d741a4478e8a7bc27ca",
	NULL /* all zero */, NULL, {4, 0, 24, 217}, 220, 219, 219, 1, 55, 29, false};

static const struct vec v_genoa = {
	"snp/trustee-genoa-e2e/report.bin", "snp/trustee-genoa-e2e/vcek.der", "snp/amd-roots/genoa/ask_ark_genoa.pem",
	NULL, 3, 0, 0, 0x30000, 0x25, 0, "Genoa", 0x19, 0xa0, 0x02,
	"6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e",
	"7e7320889600c7ac133aea7b896c51f41026002982292a7369559796999c1bf929eef3ff23c46e858f0b1982f9a92b17c51b578d958cde6b0c92978f150cf9b0",
	"371c55d6d15cb50f16dc31d39a24e300caaabff4431e841111429b73ec45ad67ea6e687ffae7bf84b54a5d0e6d79b3ef6ff0bd8b4cff94c2163af5c5de8718e8",
	NULL, {10, 0, 23, 25}, 25, 25, 25, 1, 55, 40, false};

static const struct vec v_az_milan = {
	"tpm/azure-snp-vtpm-milan/snp-report.bin", "tpm/azure-snp-vtpm-milan/vcek.pem" /* PEM: VCEK, ASK, ARK */,
	"snp/amd-roots/milan/ask_ark_milan.pem", "tpm/azure-snp-vtpm-milan/runtime-data.json", 2, 5, 0, 0x3001f,
	UINT64_MAX, 0, "Milan", 0, 0, 0,
	"9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315",
	"b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac" Z32, "", /* "" = non-zero, not listed */
	"0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3",
	{3, 0, 8, 115}, 210, 115, 115, 0, 0, 0, false};

static const struct vec v_az_genoa = {
	"tpm/azure-snp-vtpm-genoa/snp-report.bin", "tpm/azure-snp-vtpm-genoa/vcek-genoa.pem",
	"snp/amd-roots/genoa/ask_ark_genoa.pem", "tpm/azure-snp-vtpm-genoa/runtime-data.json", 3, 0x1000b, 0,
	0x3001f, UINT64_MAX, 0, "Genoa", 0x19, 0x11, 0x01,
	"f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae",
	"b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f" Z32, "",
	"942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177",
	{10, 0, 23, 84}, 84, 84, 84, 0, 0, 0, false};

static const struct vec v_az_milan_v2 = {
	"tpm/azure-snp-vtpm-milan-v2/snp-report.bin", "tpm/azure-snp-vtpm-milan-v2/vcek.der",
	"snp/amd-roots/milan/ask_ark_milan.pem", "tpm/azure-snp-vtpm-milan-v2/runtime-data.json", 3, 12, 0, 0x3001f,
	UINT64_MAX, 0, "Milan", 0x19, 0x01, 0x01,
	"5b0ce64ad1c1f6375dbda5f760b98526ca1bcf91b8195091afc28e7b024251d68fe32e05af34048d6607678cd23283ff",
	"cf7cc0731c50f64876804b3943b2bfbd93dba69f5928e3df223e78ff34dd46ee" Z32, "",
	"942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177",
	{4, 0, 24, 219}, 219, 219, 219, 0, 0, 0, false};

static void check_fields(const struct vec *w, const struct kg_snp_report *r, bool verified)
{
	assert_int_equal(r->version, w->version);
	assert_int_equal(r->guest_svn, w->guest_svn);
	assert_int_equal(r->vmpl, w->vmpl);
	assert_int_equal(r->policy, w->policy);
	if (w->platform_info != UINT64_MAX)
		assert_int_equal(r->platform_info, w->platform_info);
	assert_int_equal(r->sig_algo, 1);
	assert_int_equal(r->signing_key, w->signing_key);
	assert_int_equal(r->debug, w->debug);
	assert_true(r->smt_allowed);
	assert_false(r->migrate_ma);
	assert_int_equal(r->cpuid_fam_id, w->fam);
	assert_int_equal(r->cpuid_mod_id, w->mod);
	assert_int_equal(r->cpuid_step, w->step);
	/* v3+ names the product by CPUID; v2 only once the VCEK is verified. */
	assert_string_equal(r->product, (w->version >= 3 || verified) ? w->product : "");
	hex_eq(r->measurement, 48, w->measurement);
	hex_eq(r->report_data, 64, w->report_data);
	if (w->chip_id == NULL)
		assert_true(is_zero(r->chip_id, 64));
	else if (w->chip_id[0])
		hex_eq(r->chip_id, 64, w->chip_id);
	else
		assert_false(is_zero(r->chip_id, 64));
	if (w->id_key_digest)
		hex_eq(r->id_key_digest, 48, w->id_key_digest);
	assert_int_equal(r->reported_tcb.bootloader, w->reported.bl);
	assert_int_equal(r->reported_tcb.tee, w->reported.tee);
	assert_int_equal(r->reported_tcb.snp, w->reported.snp);
	assert_int_equal(r->reported_tcb.microcode, w->reported.ucode);
	assert_int_equal(r->reported_tcb.fmc, 0);
	assert_int_equal(r->current_tcb.microcode, w->current_ucode);
	assert_int_equal(r->committed_tcb.microcode, w->committed_ucode);
	assert_int_equal(r->launch_tcb.microcode, w->launch_ucode);
	if (w->fw_major) {
		assert_int_equal(r->current_major, w->fw_major);
		assert_int_equal(r->current_minor, w->fw_minor);
		assert_int_equal(r->current_build, w->fw_build);
	}
	assert_int_equal(r->launch_mit_vector, 0);
	assert_int_equal(r->current_mit_vector, 0);
}

static void real_vector(void **state)
{
	const struct vec *w = *state;
	struct blob rep = vec_read(w->report), vcek = vec_read(w->vcek);
	struct bundle bun = bundle_read(w->bundle);
	struct kg_snp_report r, out;
	struct kg_snp_certs c;

	assert_int_equal(rep.len, KG_SNP_REPORT_SIZE);
	assert_int_equal(kg_snp_report_parse(rep.p, rep.len, &r), KG_OK);
	check_fields(w, &r, false);

	/* VCEK alone: ASK/ASVK and ARK come from the shipped roots. */
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, &out), KG_OK);
	check_fields(w, &out, true);
	/* And with the KDS bundle supplied beside it. */
	c = bun.certs;
	c.vcek = vcek.p;
	c.vcek_len = vcek.len;
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, &out), KG_OK);
	check_fields(w, &out, true);

	if (w->runtime_data) {
		/* Azure: REPORT_DATA[0..32] = SHA-256(runtime data) (EXPECTED §1.6). */
		struct blob rt = vec_read(w->runtime_data);
		uint8_t d[32];
		SHA256(rt.p, rt.len, d);
		assert_memory_equal(d, out.report_data, 32);
		blob_free(&rt);
	}
	blob_free(&bun.text);
	blob_free(&vcek);
	blob_free(&rep);
}

/* The VLEK is valid 2024-12-10..2025-12-10 (EXPECTED §1.4), the GSG VCEK
 * 2022-09-24..2029-09-24 (§1.1). */
static void expiry(void **state)
{
	struct blob rep = vec_read(v_vlek.report), vlek = vec_read(v_vlek.vcek);
	struct blob grep = vec_read(v_gsg.report), gvcek = vec_read(v_gsg.vcek);

	(void)state;
	assert_int_equal(verify_with(fx.amd, &rep, vlek.p, vlek.len, T0, NULL), KG_OK);
	/* Cached at T0, but the cache remembers notAfter. */
	assert_int_equal(verify_with(fx.amd, &rep, vlek.p, vlek.len, T_2026, NULL), KG_ERR_SNP_CHAIN_EXPIRED);
	assert_int_equal(verify_with(fx.amd, &grep, gvcek.p, gvcek.len, T_2030_06, NULL), KG_ERR_SNP_CHAIN_EXPIRED);
	assert_int_equal(verify_with(fx.amd, &grep, gvcek.p, gvcek.len, T_2020, NULL), KG_ERR_SNP_CHAIN_EXPIRED);
	assert_int_equal(verify_with(fx.amd, &grep, gvcek.p, gvcek.len, T0, NULL), KG_OK);
	blob_free(&rep);
	blob_free(&vlek);
	blob_free(&grep);
	blob_free(&gvcek);
}

/* Any change to the signed bytes breaks the signature (virtee
 * milan_report_invalid, trustee check_report_signature). */
static void signature_bitflips(void **state)
{
	struct blob rep = vec_read(v_virtee.report), vcek = vec_read(v_virtee.vcek);
	struct blob trep = vec_read(v_trustee.report), tvcek = vec_read(v_trustee.vcek);
	uint8_t save;

	(void)state;
	rep.p[21] ^= 0x80; /* FAMILY_ID */
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_SIGNATURE);
	rep.p[21] ^= 0x80;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
	trep.p[42] += 1; /* IMAGE_ID */
	assert_int_equal(verify_with(fx.amd, &trep, tvcek.p, tvcek.len, T0, NULL), KG_ERR_SNP_SIGNATURE);
	trep.p[42] -= 1;
	/* REPORT_DATA, MEASUREMENT, HOST_DATA, CURRENT_BUILD, LAUNCH_TCB. */
	const size_t offs[] = {0x50, 0x8f, 0x90, 0xc0, 0x1e8, 0x1f7};
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		save = rep.p[offs[i]];
		rep.p[offs[i]] ^= 0x01;
		assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_SIGNATURE);
		rep.p[offs[i]] = save;
	}
	/* R and S themselves. */
	rep.p[0x2a0] ^= 0x01;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_SIGNATURE);
	rep.p[0x2a0] ^= 0x01;
	rep.p[0x2e8 + 47] ^= 0x80;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_SIGNATURE);
	rep.p[0x2e8 + 47] ^= 0x80;
	/* R with bits beyond P-384's order (the zero-extension bytes). */
	rep.p[0x2a0 + 60] = 0x01;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_SIGNATURE);
	rep.p[0x2a0 + 60] = 0;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
	blob_free(&rep);
	blob_free(&vcek);
	blob_free(&trep);
	blob_free(&tvcek);
}

/* trustee test_verify_snp_report_failure: REPORTED_TCB.SNP (report 0x186)
 * set to 0 no longer matches the VCEK's snpSPL. */
static void tcb_byte_changed(void **state)
{
	struct blob rep = vec_read(v_az_milan.report), vcek = vec_read(v_az_milan.vcek);

	(void)state;
	rep.p[0x186] = 0;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_TCB_MISMATCH);
	blob_free(&rep);
	blob_free(&vcek);
}

/* A damaged VCEK fails the chain (virtee milan_chain_invalid, trustee
 * check_vcek_signature_verification). */
static void chain_byteflips(void **state)
{
	struct blob rep = vec_read(v_virtee.report), vcek = vec_read(v_virtee.vcek);
	struct blob trep = vec_read(v_trustee.report), tvcek = vec_read(v_trustee.vcek);

	(void)state;
	vcek.p[40] ^= 0xff;
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_CHAIN);
	tvcek.p[42] += 1;
	assert_int_equal(verify_with(fx.amd, &trep, tvcek.p, tvcek.len, T0, NULL), KG_ERR_SNP_CHAIN);
	/* A byte inside the signature value, and one in the TBS. */
	tvcek.p[42] -= 1;
	tvcek.p[tvcek.len - 5] ^= 0x10;
	assert_int_equal(verify_with(fx.amd, &trep, tvcek.p, tvcek.len, T0, NULL), KG_ERR_SNP_CHAIN);
	tvcek.p[tvcek.len - 5] ^= 0x10;
	tvcek.p[600] ^= 0x01;
	assert_int_equal(verify_with(fx.amd, &trep, tvcek.p, tvcek.len, T0, NULL), KG_ERR_SNP_CHAIN);
	tvcek.p[600] ^= 0x01;
	assert_int_equal(verify_with(fx.amd, &trep, tvcek.p, tvcek.len, T0, NULL), KG_OK);
	/* Trailing bytes after the DER, and no certificate at all. */
	assert_int_equal(verify_with(fx.amd, &trep, tvcek.p, tvcek.len - 1, T0, NULL), KG_ERR_SNP_CHAIN);
	assert_int_equal(verify_with(fx.amd, &trep, (const uint8_t *)"hello", 5, T0, NULL), KG_ERR_SNP_CHAIN);
	blob_free(&rep);
	blob_free(&vcek);
	blob_free(&trep);
	blob_free(&tvcek);
}

/* VCEKs chain through the ASK, VLEKs through the ASVK, never crossed
 * (EXPECTED §1.0, §1.4; trustee check_milan_chain_signature_failure). */
static void ask_asvk_crossed(void **state)
{
	struct blob rep = vec_read(v_gsg.report), vcek = vec_read(v_gsg.vcek);
	struct blob lrep = vec_read(v_vlek.report), vlek = vec_read(v_vlek.vcek);
	struct bundle asvk = bundle_read("snp/amd-roots/milan/ask_ark_milan_vlek.pem");
	struct bundle ask = bundle_read("snp/amd-roots/milan/ask_ark_milan.pem");
	struct kg_snp_certs c;

	(void)state;
	c = asvk.certs;
	c.vcek = vcek.p;
	c.vcek_len = vcek.len;
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_CHAIN);
	c.ark = NULL; /* the same with the shipped ARK */
	c.ark_len = 0;
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_CHAIN);
	c = ask.certs;
	c.vcek = vlek.p;
	c.vcek_len = vlek.len;
	assert_int_equal(kg_snp_verify(fx.amd, lrep.p, lrep.len, &c, T0, NULL), KG_ERR_SNP_CHAIN);
	/* The report names its signing key; the certificate must be of it. */
	assert_int_equal(verify_with(fx.amd, &lrep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_SIGNING_KEY);
	assert_int_equal(verify_with(fx.amd, &rep, vlek.p, vlek.len, T0, NULL), KG_ERR_SNP_SIGNING_KEY);
	/* Also when the other kind is already cached. */
	assert_int_equal(verify_with(fx.amd, &lrep, vlek.p, vlek.len, T0, NULL), KG_OK);
	assert_int_equal(verify_with(fx.amd, &rep, vlek.p, vlek.len, T0, NULL), KG_ERR_SNP_SIGNING_KEY);
	blob_free(&asvk.text);
	blob_free(&ask.text);
	blob_free(&rep);
	blob_free(&vcek);
	blob_free(&lrep);
	blob_free(&vlek);
}

/* trustee's hand-edited VCEKs: both hwID encodings parse (raw and
 * OCTET-STRING-wrapped, EXPECTED §1.3), neither verifies anything. */
static void invalid_test_vceks(void **state)
{
	struct blob rep = vec_read(v_trustee.report);
	struct blob legacy = vec_read("snp/trustee-milan/test-vcek-invalid-legacy.der");
	struct blob newer = vec_read("snp/trustee-milan/test-vcek-invalid-new.der");
	struct kg_snp_vek_info info;
	uint8_t seq[64];

	(void)state;
	for (int i = 0; i < 64; i++)
		seq[i] = (uint8_t)i;
	assert_int_equal(kg_snp_vek_info_parse(legacy.p, legacy.len, &info), KG_OK);
	assert_false(info.vlek);
	assert_string_equal(info.product_name, "Milan-B0");
	assert_string_equal(info.product, "Milan");
	assert_int_equal(info.hwid_len, 64);
	assert_memory_equal(info.hwid, seq, 64);
	/* ucodeSPL 169 is encoded 02 02 00 a9. */
	assert_int_equal(info.tcb.bootloader, 3);
	assert_int_equal(info.tcb.snp, 10);
	assert_int_equal(info.tcb.microcode, 169);
	assert_int_equal(kg_snp_vek_info_parse(newer.p, newer.len, &info), KG_OK);
	assert_int_equal(info.hwid_len, 64);
	assert_memory_equal(info.hwid, seq, 64);
	assert_int_equal(info.tcb.microcode, 30);
	assert_int_equal(verify_with(fx.amd, &rep, legacy.p, legacy.len, T0, NULL), KG_ERR_SNP_CHAIN);
	assert_int_equal(verify_with(fx.amd, &rep, newer.p, newer.len, T0, NULL), KG_ERR_SNP_CHAIN);
	/* A certificate without AMD's extensions (the ASK) is no VCEK. */
	{
		struct bundle b = bundle_read(v_trustee.bundle);
		assert_int_equal(kg_snp_vek_info_parse(b.certs.ask, b.certs.ask_len, &info), KG_ERR_SNP_VCEK_EXT);
		assert_int_equal(kg_snp_vek_info_parse(b.certs.ark, b.certs.ark_len, &info), KG_ERR_SNP_VCEK_EXT);
		assert_int_equal(verify_with(fx.amd, &rep, b.certs.ask, b.certs.ask_len, T0, NULL), KG_ERR_SNP_VCEK_EXT);
		blob_free(&b.text);
	}
	blob_free(&rep);
	blob_free(&legacy);
	blob_free(&newer);
}

/* EXPECTED §1.7: no Turin report exists; the VCEK chain verifies, with
 * Turin's extensions (fmcSPL, an 8-byte hwID). */
static void turin_chain(void **state)
{
	struct blob vcek = vec_read("snp/virtee-turin/vcek_turin.der");
	struct bundle milan = bundle_read("snp/amd-roots/milan/ask_ark_milan.pem");
	struct bundle turin = bundle_read("snp/amd-roots/turin/ask_ark_turin.pem");
	struct kg_snp_certs c = {.vcek = vcek.p, .vcek_len = vcek.len};
	struct kg_snp_vek_info info;

	(void)state;
	assert_int_equal(kg_snp_verify_chain(fx.amd, &c, 0, T0, &info), KG_OK);
	assert_false(info.vlek);
	assert_string_equal(info.product, "Turin");
	assert_string_equal(info.product_name, "Turin");
	assert_int_equal(info.hwid_len, 8);
	hex_eq(info.hwid, 8, "1e550a8ee5cf9f4d");
	assert_int_equal(info.tcb.fmc, 0);
	assert_int_equal(info.tcb.bootloader, 0);
	assert_int_equal(info.tcb.tee, 0);
	assert_int_equal(info.tcb.snp, 0);
	assert_int_equal(info.tcb.microcode, 9);
	assert_int_equal(info.tcb.raw, 0x0900000000000000ULL);
	c = turin.certs;
	c.vcek = vcek.p;
	c.vcek_len = vcek.len;
	assert_int_equal(kg_snp_verify_chain(fx.amd, &c, 0, T0, &info), KG_OK);
	/* Under Milan's ASK it does not chain; as a VLEK it is the wrong kind. */
	c = milan.certs;
	c.vcek = vcek.p;
	c.vcek_len = vcek.len;
	assert_int_equal(kg_snp_verify_chain(fx.amd, &c, 0, T0, NULL), KG_ERR_SNP_CHAIN);
	c.ark = NULL;
	c.ark_len = 0;
	assert_int_equal(kg_snp_verify_chain(fx.amd, &c, 0, T0, NULL), KG_ERR_SNP_CHAIN);
	c.ask = c.ark = NULL;
	c.ask_len = 0;
	assert_int_equal(kg_snp_verify_chain(fx.amd, &c, 1, T0, NULL), KG_ERR_SNP_SIGNING_KEY);
	assert_int_equal(kg_snp_verify_chain(fx.amd, &c, 2, T0, NULL), KG_ERR_SNP_SIGNING_KEY);
	blob_free(&vcek);
	blob_free(&milan.text);
	blob_free(&turin.text);
}

/* Roots: only what the verifier was given is trusted. */
static void untrusted_roots(void **state)
{
	static const uint8_t rd[64] = {1, 2, 3};
	struct blob rep = vec_read(v_gsg.report), vcek = vec_read(v_gsg.vcek);
	struct bundle amd = bundle_read(v_gsg.bundle);
	struct blob genoa_rep = vec_read(v_genoa.report), genoa_vcek = vec_read(v_genoa.vcek);
	struct kg_snp_cert_table t;
	struct kg_snp_certs c;
	struct kg_snp_verifier *milan_only = NULL;
	uint8_t *ev = NULL;
	size_t len = 0;
	char path[512];

	(void)state;
	/* Simulated evidence (its cert table carries the test ARK) against
	 * AMD's roots. */
	assert_int_equal(kg_snp_sim_attest(fx.dir, NULL, rd, &ev, &len), KG_OK);
	assert_int_equal(kg_snp_cert_table_parse(ev + KG_SNP_REPORT_SIZE, len - KG_SNP_REPORT_SIZE, &t), KG_OK);
	c = certs_of(&t);
	assert_int_equal(kg_snp_verify(fx.amd, ev, KG_SNP_REPORT_SIZE, &c, time(NULL), NULL),
			 KG_ERR_SNP_UNTRUSTED_ROOT);
	c.ark = NULL, c.ark_len = 0;
	assert_int_equal(kg_snp_verify(fx.amd, ev, KG_SNP_REPORT_SIZE, &c, time(NULL), NULL),
			 KG_ERR_SNP_UNTRUSTED_ROOT);
	c.ask = NULL, c.ask_len = 0;
	assert_int_equal(kg_snp_verify(fx.amd, ev, KG_SNP_REPORT_SIZE, &c, time(NULL), NULL),
			 KG_ERR_SNP_UNTRUSTED_ROOT);
	/* A real report against the simulator's root, with and without
	 * AMD's ASK and ARK beside it. */
	assert_int_equal(verify_with(fx.sim, &rep, vcek.p, vcek.len, T0, NULL), KG_ERR_SNP_UNTRUSTED_ROOT);
	c = amd.certs;
	c.vcek = vcek.p;
	c.vcek_len = vcek.len;
	assert_int_equal(kg_snp_verify(fx.sim, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_UNTRUSTED_ROOT);
	/* After the AMD verifier cached this VCEK, a foreign ARK still
	 * fails: verdicts do not depend on the cache. */
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
	c.ark = t.ark;
	c.ark_len = t.ark_len;
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_UNTRUSTED_ROOT);
	c.ark = amd.certs.ark;
	c.ark_len = amd.certs.ark_len;
	c.ask = t.ask; /* the simulator's ASK is not AMD's */
	c.ask_len = t.ask_len;
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_CHAIN);

	/* A verifier given one KDS bundle (ASK + ARK of Milan) trusts Milan
	 * only, and takes its ASK from the file. */
	snprintf(path, sizeof path, "%s/%s", getenv("KG_VECTORS") ? getenv("KG_VECTORS") : "/work/shared/vectors",
		 v_gsg.bundle);
	assert_int_equal(kg_snp_verifier_new(&milan_only, path), KG_OK);
	assert_int_equal(verify_with(milan_only, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
	assert_int_equal(verify_with(milan_only, &genoa_rep, genoa_vcek.p, genoa_vcek.len, T0, NULL),
			 KG_ERR_SNP_UNTRUSTED_ROOT);
	kg_snp_verifier_free(milan_only);
	free(ev);
	blob_free(&amd.text);
	blob_free(&rep);
	blob_free(&vcek);
	blob_free(&genoa_rep);
	blob_free(&genoa_vcek);
}

/* Trust-anchor files that do not qualify are configuration errors. */
static void bad_root_files(void **state)
{
	struct kg_snp_verifier *v = (struct kg_snp_verifier *)1;
	struct bundle milan = bundle_read(v_gsg.bundle);
	char path[160];
	FILE *f;

	(void)state;
	assert_int_equal(kg_snp_verifier_new(&v, "/nonexistent/roots.pem"), KG_ERR_IO);
	assert_null(v);
	snprintf(path, sizeof path, "%s/roots-test.pem", fx.dir);
	/* An ASK without its ARK. */
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(milan.certs.ask, 1, milan.certs.ask_len, f);
	fclose(f);
	assert_int_equal(kg_snp_verifier_new(&v, path), KG_ERR_CONFIG);
	/* No certificate at all. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
	assert_int_equal(kg_snp_verifier_new(&v, path), KG_ERR_CONFIG);
	/* A damaged certificate. */
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(milan.certs.ark, 1, 200, f);
	fputs("AAAA", f);
	fwrite(milan.certs.ark + 204, 1, milan.certs.ark_len - 204, f);
	fclose(f);
	assert_int_equal(kg_snp_verifier_new(&v, path), KG_ERR_CONFIG);
	unlink(path);
	blob_free(&milan.text);
}


/* Only AMD's signature scheme is accepted: RSASSA-PSS with SHA-384,
 * MGF1-SHA-384, salt 48, on an RSA key of at least 3072 bits.  Checked on
 * self-signed "ARK-Milan" roots built here. */
enum ark_sig { SIG_PSS_AMD, SIG_PSS_SALT32, SIG_PSS_SHA256, SIG_PSS_MGF256, SIG_PKCS1 };

static kg_err load_test_ark(EVP_PKEY *key, enum ark_sig how)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	struct kg_snp_verifier *v = NULL;
	char path[160];
	FILE *f;
	kg_err e;

	assert_true(x && n && md);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"ARK-Milan", -1, -1, 0), 1);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_int_equal(EVP_DigestSignInit(md, &pctx, how == SIG_PSS_SHA256 ? EVP_sha256() : EVP_sha384(), NULL, key), 1);
	if (how != SIG_PKCS1) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, how == SIG_PSS_SALT32 ? 32 : 48), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, how == SIG_PSS_MGF256 ? EVP_sha256() : EVP_sha384()), 1);
	}
	assert_true(X509_sign_ctx(x, md) > 0);
	snprintf(path, sizeof path, "%s/ark-test.pem", fx.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	e = kg_snp_verifier_new(&v, path);
	kg_snp_verifier_free(v);
	unlink(path);
	EVP_MD_CTX_free(md);
	X509_NAME_free(n);
	X509_free(x);
	return e;
}

static void pss_params_enforced(void **state)
{
	EVP_PKEY *k3072 = EVP_RSA_gen(3072), *k2048 = EVP_RSA_gen(2048);

	(void)state;
	assert_non_null(k3072);
	assert_non_null(k2048);
	assert_int_equal(load_test_ark(k3072, SIG_PSS_AMD), KG_OK);
	assert_int_equal(load_test_ark(k3072, SIG_PSS_SALT32), KG_ERR_CONFIG);
	assert_int_equal(load_test_ark(k3072, SIG_PSS_SHA256), KG_ERR_CONFIG);
	assert_int_equal(load_test_ark(k3072, SIG_PSS_MGF256), KG_ERR_CONFIG);
	assert_int_equal(load_test_ark(k3072, SIG_PKCS1), KG_ERR_CONFIG);
	assert_int_equal(load_test_ark(k2048, SIG_PSS_AMD), KG_ERR_CONFIG);
	EVP_PKEY_free(k3072);
	EVP_PKEY_free(k2048);
}

/* ------------------------------------------------------------------------
 * The parser's reason codes, on real reports
 */

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static kg_err parse(const struct blob *b)
{
	struct kg_snp_report r;
	return kg_snp_report_parse(b->p, b->len, &r);
}

static kg_err parse_with_byte(struct blob *b, size_t off, uint8_t val)
{
	uint8_t save = b->p[off];
	kg_err e;

	b->p[off] = val;
	e = parse(b);
	b->p[off] = save;
	return e;
}

static void parse_size_version_algo(void **state)
{
	struct blob v2 = vec_read(v_gsg.report);
	struct kg_snp_report r;
	uint8_t big[KG_SNP_REPORT_SIZE + 1];

	(void)state;
	assert_int_equal(kg_snp_report_parse(v2.p, 0, &r), KG_ERR_SNP_SIZE);
	assert_int_equal(kg_snp_report_parse(NULL, KG_SNP_REPORT_SIZE, &r), KG_ERR_SNP_SIZE);
	assert_int_equal(kg_snp_report_parse(v2.p, KG_SNP_REPORT_SIZE - 1, &r), KG_ERR_SNP_SIZE);
	memcpy(big, v2.p, KG_SNP_REPORT_SIZE);
	big[KG_SNP_REPORT_SIZE] = 0;
	assert_int_equal(kg_snp_report_parse(big, sizeof big, &r), KG_ERR_SNP_SIZE);
	assert_int_equal(kg_snp_verify(fx.amd, big, sizeof big, NULL, T0, &r), KG_ERR_SNP_SIZE);

	const uint32_t bad_versions[] = {0, 1, 6, 7, 0x100, 0xffffffff};
	for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
		put32(v2.p, bad_versions[i]);
		assert_int_equal(parse(&v2), KG_ERR_SNP_VERSION);
	}
	put32(v2.p, 2);
	const uint32_t bad_algos[] = {0, 2, 0x100, 0xffffffff};
	for (size_t i = 0; i < sizeof bad_algos / sizeof bad_algos[0]; i++) {
		put32(v2.p + 0x34, bad_algos[i]);
		assert_int_equal(parse(&v2), KG_ERR_SNP_SIG_ALGO);
	}
	put32(v2.p + 0x34, 1);
	assert_int_equal(parse(&v2), KG_OK);
	blob_free(&v2);
}

static void parse_reserved(void **state)
{
	struct blob v2 = vec_read(v_gsg.report), v3 = vec_read(v_vlek.report);
	struct kg_snp_report r;

	(void)state;
	/* Reserved in every version. */
	const size_t any[] = {0x4c, 0x4f, 0x18b, 0x19f, 0x1eb, 0x1ef, 0x208, 0x29f, 0x330, 0x400, 0x49f};
	for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
		assert_int_equal(parse_with_byte(&v2, any[i], 0x01), KG_ERR_SNP_RESERVED);
		assert_int_equal(parse_with_byte(&v3, any[i], 0x80), KG_ERR_SNP_RESERVED);
	}
	/* CPUID bytes exist from v3; in v2 they are reserved. */
	assert_int_equal(parse_with_byte(&v2, 0x188, 0x19), KG_ERR_SNP_RESERVED);
	assert_int_equal(parse_with_byte(&v2, 0x18a, 0x01), KG_ERR_SNP_RESERVED);
	assert_int_equal(parse_with_byte(&v3, 0x18a, 0x02), KG_OK);
	/* Mitigation vectors exist from v5; before, reserved. */
	assert_int_equal(parse_with_byte(&v3, 0x1f8, 0x01), KG_ERR_SNP_RESERVED);
	assert_int_equal(parse_with_byte(&v3, 0x207, 0x01), KG_ERR_SNP_RESERVED);
	/* Signer info bits 31:5. */
	assert_int_equal(parse_with_byte(&v2, 0x48, 0x20), KG_ERR_SNP_RESERVED);
	assert_int_equal(parse_with_byte(&v2, 0x4b, 0x80), KG_ERR_SNP_RESERVED);
	/* v4 takes the v3 layout; v5 adds the vectors at 0x1F8 and 0x200. */
	put32(v3.p, 4);
	assert_int_equal(kg_snp_report_parse(v3.p, v3.len, &r), KG_OK);
	assert_string_equal(r.product, "Milan");
	assert_int_equal(parse_with_byte(&v3, 0x1f8, 0x01), KG_ERR_SNP_RESERVED);
	put32(v3.p, 5);
	v3.p[0x1f8] = 0x11;
	v3.p[0x207] = 0x22;
	assert_int_equal(kg_snp_report_parse(v3.p, v3.len, &r), KG_OK);
	assert_int_equal(r.version, 5);
	assert_int_equal(r.launch_mit_vector, 0x11);
	assert_int_equal(r.current_mit_vector, 0x2200000000000000ULL);
	assert_int_equal(parse_with_byte(&v3, 0x208, 0x01), KG_ERR_SNP_RESERVED);
	assert_int_equal(parse_with_byte(&v3, 0x29f, 0x01), KG_ERR_SNP_RESERVED);
	blob_free(&v2);
	blob_free(&v3);
}

static void parse_policy_and_signer(void **state)
{
	struct blob v2 = vec_read(v_gsg.report), v3 = vec_read(v_vlek.report);
	struct kg_snp_report r;

	(void)state;
	/* POLICY: bit 17 must be 1 (byte 0x0A bit 1). */
	assert_int_equal(parse_with_byte(&v2, 0x0a, (uint8_t)(v2.p[0x0a] & ~0x02)), KG_ERR_SNP_POLICY_BITS);
	/* Bits 63:26 MBZ: bit 26 (byte 0x0B bit 2), bit 63 (byte 0x0F bit 7). */
	assert_int_equal(parse_with_byte(&v2, 0x0b, (uint8_t)(v2.p[0x0b] | 0x04)), KG_ERR_SNP_POLICY_BITS);
	assert_int_equal(parse_with_byte(&v2, 0x0f, 0x80), KG_ERR_SNP_POLICY_BITS);
	assert_int_equal(parse_with_byte(&v2, 0x0c, 0x01), KG_ERR_SNP_POLICY_BITS);
	/* Bit 25 (PAGE_SWAP_DISABLE) is defined from v5 only. */
	assert_int_equal(parse_with_byte(&v3, 0x0b, (uint8_t)(v3.p[0x0b] | 0x02)), KG_ERR_SNP_POLICY_BITS);
	put32(v3.p, 5);
	v3.p[0x0b] |= 0x02;
	assert_int_equal(kg_snp_report_parse(v3.p, v3.len, &r), KG_OK);
	assert_true(r.policy & (1ULL << 25));
	/* Bits 24:20 are defined everywhere. */
	assert_int_equal(parse_with_byte(&v2, 0x0a, (uint8_t)(v2.p[0x0a] | 0xf0)), KG_OK);
	/* SIGNING_KEY 2..7 (bits 4:2 of signer info). */
	for (uint32_t k = 2; k <= 7; k++)
		assert_int_equal(parse_with_byte(&v2, 0x48, (uint8_t)(k << 2)), KG_ERR_SNP_SIGNING_KEY);
	assert_int_equal(parse_with_byte(&v2, 0x48, 0x03), KG_OK); /* author key, masked chip id */
	v2.p[0x48] = 0x03;
	assert_int_equal(kg_snp_report_parse(v2.p, v2.len, &r), KG_OK);
	assert_true(r.author_key_en);
	assert_true(r.mask_chip_key);
	assert_int_equal(get32(v2.p + 0x48), 3);
	blob_free(&v2);
	blob_free(&v3);
}

static void tcb_layouts(void **state)
{
	struct kg_snp_tcb t;

	(void)state;
	/* EXPECTED §1.1: bytes 02 00 00 00 00 00 05 44. */
	kg_snp_tcb_decode(0x4405000000000002ULL, false, &t);
	assert_int_equal(t.bootloader, 2);
	assert_int_equal(t.tee, 0);
	assert_int_equal(t.snp, 5);
	assert_int_equal(t.microcode, 0x44);
	assert_int_equal(t.fmc, 0);
	/* Turin: FMC, BL, TEE, SNP, reserved x3, UCODE. */
	kg_snp_tcb_decode(0x0900000004030201ULL, true, &t);
	assert_int_equal(t.fmc, 1);
	assert_int_equal(t.bootloader, 2);
	assert_int_equal(t.tee, 3);
	assert_int_equal(t.snp, 4);
	assert_int_equal(t.microcode, 9);
}

static void no_vcek(void **state)
{
	struct blob rep = vec_read(v_gsg.report);
	struct kg_snp_certs c;
	uint8_t *huge = calloc(1, KG_SNP_CERT_MAX + 1);

	(void)state;
	memset(&c, 0, sizeof c);
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, NULL, T0, NULL), KG_ERR_SNP_NO_VCEK);
	assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_NO_VCEK);
	assert_non_null(huge);
	huge[0] = 0x30;
	assert_int_equal(verify_with(fx.amd, &rep, huge, KG_SNP_CERT_MAX + 1, T0, NULL), KG_ERR_TOO_LARGE);
	assert_int_equal(kg_snp_verify(NULL, rep.p, rep.len, &c, T0, NULL), KG_ERR_INVALID_ARG);
	free(huge);
	blob_free(&rep);
}

/* ------------------------------------------------------------------------
 * The simulator, round trip and variants
 */

/* Simulated evidence verified with its table's certificates and crl
 * (NULL: none) beside them. */
static kg_err sim_verify_crl(struct kg_snp_verifier *v, const struct kg_snp_sim_params *p, time_t now,
			     const uint8_t *crl, size_t crl_len, struct kg_snp_report *out)
{
	uint8_t rd[64], *ev = NULL;
	size_t len = 0;
	struct kg_snp_cert_table t;
	struct kg_snp_certs c;
	kg_err e;

	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0xa0 + i);
	if (kg_snp_sim_attest(fx.dir, p, rd, &ev, &len) != KG_OK)
		return KG_ERR_INTERNAL;
	if (kg_snp_cert_table_parse(ev + KG_SNP_REPORT_SIZE, len - KG_SNP_REPORT_SIZE, &t) != KG_OK) {
		free(ev);
		return KG_ERR_INTERNAL;
	}
	c = certs_of(&t);
	c.crl = crl;
	c.crl_len = crl_len;
	e = kg_snp_verify(v, ev, KG_SNP_REPORT_SIZE, &c, now, out);
	if (e == KG_OK && out)
		assert_memory_equal(out->report_data, rd, 64);
	free(ev);
	return e;
}

static kg_err sim_verify(struct kg_snp_verifier *v, const struct kg_snp_sim_params *p, time_t now,
			 struct kg_snp_report *out)
{
	return sim_verify_crl(v, p, now, NULL, 0, out);
}

static void sim_roundtrip(void **state)
{
	struct kg_snp_sim_params p = kg_snp_sim_params_default();
	struct kg_snp_cache_stats s0, s1;
	struct kg_snp_verifier *v = NULL;
	struct kg_snp_report r;
	struct kg_snp_cert_table t;
	struct kg_snp_vek_info info;
	uint8_t rd[64] = {0}, *ev = NULL;
	size_t len = 0;
	double t_cold, t_warm;

	(void)state;
	/* init keeps an existing set: the root stays the same. */
	assert_int_equal(kg_snp_sim_init(fx.dir), KG_OK);
	assert_int_equal(kg_snp_sim_attest(fx.dir, NULL, rd, &ev, &len), KG_OK);
	assert_true(len > KG_SNP_REPORT_SIZE + 4 * 24);
	assert_int_equal(kg_snp_cert_table_parse(ev + KG_SNP_REPORT_SIZE, len - KG_SNP_REPORT_SIZE, &t), KG_OK);
	assert_non_null(t.vcek);
	assert_non_null(t.ask);
	assert_non_null(t.ark);
	assert_null(t.vlek);
	assert_int_equal(kg_snp_vek_info_parse(t.vcek, t.vcek_len, &info), KG_OK);
	assert_string_equal(info.product_name, "Milan-B0");
	assert_int_equal(info.tcb.microcode, KG_SNP_SIM_TCB_MICROCODE);
	free(ev);

	for (int i = 0; i < 48; i++)
		p.measurement[i] = (uint8_t)i;
	p.guest_svn = 7;
	p.host_data[0] = 0x42;
	/* A fresh verifier: the first verify is cold, the second hits. */
	assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
	kg_snp_verifier_stats(v, &s0);
	assert_int_equal(sim_verify(v, &p, time(NULL), &r), KG_OK);
	assert_int_equal(sim_verify(v, &p, time(NULL), &r), KG_OK);
	kg_snp_verifier_stats(v, &s1);
	assert_int_equal(s1.misses - s0.misses, 1);
	assert_int_equal(s1.hits - s0.hits, 1);
	assert_int_equal(s1.entries, 1);
	kg_snp_verifier_free(v);
	/* Timings of verify alone (report + table of three DER certs). */
	{
		struct kg_snp_certs c;
		uint8_t *e2 = NULL;
		size_t l2 = 0;
		assert_int_equal(kg_snp_sim_attest(fx.dir, &p, rd, &e2, &l2), KG_OK);
		assert_int_equal(kg_snp_cert_table_parse(e2 + KG_SNP_REPORT_SIZE, l2 - KG_SNP_REPORT_SIZE, &t), KG_OK);
		c = certs_of(&t);
		assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
		t_cold = now_s();
		assert_int_equal(kg_snp_verify(v, e2, KG_SNP_REPORT_SIZE, &c, time(NULL), NULL), KG_OK);
		t_cold = now_s() - t_cold;
		t_warm = 1e9;
		for (int i = 0; i < 20; i++) {
			double t1 = now_s();
			assert_int_equal(kg_snp_verify(v, e2, KG_SNP_REPORT_SIZE, &c, time(NULL), NULL), KG_OK);
			if (now_s() - t1 < t_warm)
				t_warm = now_s() - t1;
		}
		printf("# snp verify (sim evidence, VCEK+ASK+ARK in table): cold %.3f ms, warm %.3f ms\n",
		       t_cold * 1e3, t_warm * 1e3);
		kg_snp_verifier_free(v);
		free(e2);
	}
	assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
	assert_int_equal(sim_verify(v, &p, time(NULL), &r), KG_OK);
	assert_int_equal(r.version, 3);
	assert_string_equal(r.product, "Milan");
	assert_int_equal(r.policy, 0x30000);
	assert_false(r.debug);
	assert_int_equal(r.guest_svn, 7);
	assert_int_equal(r.host_data[0], 0x42);
	for (int i = 0; i < 48; i++)
		assert_int_equal(r.measurement[i], i);
	assert_memory_equal(r.chip_id, info.hwid, 64);
	assert_int_equal(r.reported_tcb.bootloader, KG_SNP_SIM_TCB_BOOTLOADER);
	assert_int_equal(r.reported_tcb.snp, KG_SNP_SIM_TCB_SNP);
	assert_int_equal(r.reported_tcb.microcode, KG_SNP_SIM_TCB_MICROCODE);
	assert_int_equal(r.cpuid_fam_id, 0x19);
	assert_int_equal(r.current_major, 1);
	assert_int_equal(r.current_minor, 55);

	/* Past the test VCEK's notAfter (7 years) even a cached chain fails. */
	assert_int_equal(sim_verify(v, &p, time(NULL) + 8 * 365 * 86400L, NULL), KG_ERR_SNP_CHAIN_EXPIRED);
	assert_int_equal(sim_verify(v, &p, time(NULL) - 2 * 86400L, NULL), KG_ERR_SNP_CHAIN_EXPIRED);
	kg_snp_verifier_free(v);
}

/* Real verify timings, cold vs warm, on an AMD report. */
static void cache_timing_real(void **state)
{
	struct blob rep = vec_read(v_gsg.report), vcek = vec_read(v_gsg.vcek);
	struct kg_snp_verifier *v = NULL;
	struct kg_snp_cache_stats s;
	double t, cold, warm = 1e9;

	(void)state;
	t = now_s();
	assert_int_equal(kg_snp_verifier_new(&v, NULL), KG_OK);
	printf("# snp verifier_new (shipped AMD roots): %.2f ms\n", (now_s() - t) * 1e3);
	t = now_s();
	assert_int_equal(verify_with(v, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
	cold = now_s() - t;
	for (int i = 0; i < 20; i++) {
		t = now_s();
		assert_int_equal(verify_with(v, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
		if (now_s() - t < warm)
			warm = now_s() - t;
	}
	/* The same certificate as PEM hits the entry too (same DER). */
	{
		struct blob pem = vec_read("tpm/azure-snp-vtpm-milan/vcek.pem");
		struct blob arep = vec_read(v_az_milan.report);
		assert_int_equal(verify_with(v, &arep, pem.p, pem.len, T0, NULL), KG_OK); /* miss */
		assert_int_equal(verify_with(v, &arep, pem.p, pem.len, T0, NULL), KG_OK); /* hit */
		blob_free(&pem);
		blob_free(&arep);
	}
	kg_snp_verifier_stats(v, &s);
	assert_int_equal(s.misses, 2);
	assert_int_equal(s.hits, 21);
	assert_int_equal(s.entries, 2);
	printf("# snp verify (GSG Milan report): cold %.2f ms, warm %.2f ms\n", cold * 1e3, warm * 1e3);
	kg_snp_verifier_free(v);
	blob_free(&rep);
	blob_free(&vcek);
}

static void sim_variants(void **state)
{
	struct kg_snp_sim_params p;
	struct kg_snp_report r;

	(void)state;
	/* v2: product and TCB layout come from the VCEK. */
	p = kg_snp_sim_params_default();
	p.version = 2;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), &r), KG_OK);
	assert_int_equal(r.version, 2);
	assert_string_equal(r.product, "Milan");
	assert_int_equal(r.cpuid_fam_id, 0);
	assert_int_equal(r.reported_tcb.snp, KG_SNP_SIM_TCB_SNP);
	/* v5 with mitigation vectors and PAGE_SWAP_DISABLE. */
	p = kg_snp_sim_params_default();
	p.version = 5;
	p.launch_mit_vector = 0x5;
	p.current_mit_vector = 0x7;
	p.policy |= 1ULL << 25;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), &r), KG_OK);
	assert_int_equal(r.launch_mit_vector, 5);
	assert_int_equal(r.current_mit_vector, 7);
	/* Debug allowed: parses and verifies; refusing it is policy's job. */
	p = kg_snp_sim_params_default();
	p.policy = 0xb0000;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), &r), KG_OK);
	assert_true(r.debug);
	/* CURRENT_TCB ahead of REPORTED_TCB is fine. */
	p = kg_snp_sim_params_default();
	p.current_tcb.microcode = 0xfe;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), &r), KG_OK);
	assert_int_equal(r.current_tcb.microcode, 0xfe);
	/* Another REPORTED_TCB: the simulated KDS issues its VCEK (a
	 * microcode SPL >= 128 exercises the 02 02 00 xx encoding), and keeps
	 * it, so the second report hits the verifier's cache. */
	{
		struct kg_snp_cache_stats s0, s1;
		p = kg_snp_sim_params_default();
		p.reported_tcb = (struct kg_snp_sim_tcb){2, 0, 6, 0x80};
		assert_int_equal(sim_verify(fx.sim, &p, time(NULL), &r), KG_OK);
		assert_int_equal(r.reported_tcb.snp, 6);
		assert_int_equal(r.reported_tcb.microcode, 0x80);
		kg_snp_verifier_stats(fx.sim, &s0);
		assert_int_equal(sim_verify(fx.sim, &p, time(NULL), &r), KG_OK);
		kg_snp_verifier_stats(fx.sim, &s1);
		assert_int_equal(s1.hits, s0.hits + 1);
	}
	/* REPORTED_TCB not the VCEK's: each component. */
	p = kg_snp_sim_params_default();
	p.vcek_tcb_set = true;
	p.vcek_tcb = p.reported_tcb;
	p.reported_tcb.snp++;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_TCB_MISMATCH);
	p.reported_tcb = p.vcek_tcb;
	p.reported_tcb.microcode--;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_TCB_MISMATCH);
	p.reported_tcb = p.vcek_tcb;
	p.reported_tcb.bootloader = 0;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_TCB_MISMATCH);
	p.reported_tcb = p.vcek_tcb;
	p.reported_tcb.tee = 1;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_TCB_MISMATCH);
	/* and only REPORTED_TCB counts: the VCEK for CURRENT_TCB is refused. */
	p = kg_snp_sim_params_default();
	p.current_tcb.microcode = 0xfe;
	p.vcek_tcb_set = true;
	p.vcek_tcb = p.current_tcb;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_TCB_MISMATCH);
	/* CHIP_ID not the VCEK's hwID, or masked. */
	p = kg_snp_sim_params_default();
	p.chip_id_set = true;
	memset(p.chip_id, 0x5a, 64);
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_CHIP_MISMATCH);
	p = kg_snp_sim_params_default();
	p.mask_chip_id = true;
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_CHIP_MISMATCH);
	/* CPUID names another product than the VCEK and the root. */
	p = kg_snp_sim_params_default();
	p.cpuid_mod = 0x11; /* Genoa */
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_PRODUCT);
	p = kg_snp_sim_params_default();
	p.cpuid_fam = 0x17; /* no SNP product */
	assert_int_equal(sim_verify(fx.sim, &p, time(NULL), NULL), KG_ERR_SNP_PRODUCT);
	/* A bare report with certificates from elsewhere. */
	{
		uint8_t rd[64] = {9}, *ev = NULL;
		size_t len = 0;
		char path[160];
		struct blob vc;
		p = kg_snp_sim_params_default();
		p.no_cert_table = true;
		assert_int_equal(kg_snp_sim_attest(fx.dir, &p, rd, &ev, &len), KG_OK);
		assert_int_equal(len, KG_SNP_REPORT_SIZE);
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_VCEK);
		assert_int_equal(kg_file_read(path, 1 << 16, &vc.p, &vc.len), KG_OK);
		struct blob rep = {ev, len};
		/* vcek.pem (PEM); the ASK comes from nowhere: no path to the root,
		 * even though this VCEK is in the cache (verified with an ASK). */
		assert_int_equal(verify_with(fx.sim, &rep, vc.p, vc.len, time(NULL), &r), KG_ERR_SNP_UNTRUSTED_ROOT);
		free(vc.p);
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_ASK);
		assert_int_equal(kg_file_read(path, 1 << 16, &vc.p, &vc.len), KG_OK);
		struct kg_snp_certs c2 = {.vcek = NULL, .ask = vc.p, .ask_len = vc.len};
		struct blob vpem;
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_VCEK);
		assert_int_equal(kg_file_read(path, 1 << 16, &vpem.p, &vpem.len), KG_OK);
		c2.vcek = vpem.p;
		c2.vcek_len = vpem.len;
		assert_int_equal(kg_snp_verify(fx.sim, ev, len, &c2, time(NULL), &r), KG_OK);
		assert_memory_equal(r.report_data, rd, 64);
		free(vpem.p);
		free(vc.p);
		free(ev);
	}
}

/* Many threads, one verifier: cold and warm paths interleaved. */
struct thr_arg {
	const struct blob *rep, *vcek;
	int ok;
};

static void *thr_main(void *a)
{
	struct thr_arg *t = a;

	for (int i = 0; i < 25; i++) {
		struct kg_snp_sim_params p = kg_snp_sim_params_default();
		if (verify_with(fx.amd, t->rep, t->vcek->p, t->vcek->len, T0, NULL) == KG_OK)
			t->ok++;
		if (i % 5 == 0 && sim_verify(fx.sim, &p, time(NULL), NULL) == KG_OK)
			t->ok++;
	}
	return NULL;
}

static void threads(void **state)
{
	struct blob rep = vec_read(v_az_milan_v2.report), vcek = vec_read(v_az_milan_v2.vcek);
	pthread_t th[4];
	struct thr_arg args[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thr_arg){&rep, &vcek, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].ok, 30);
	}
	blob_free(&rep);
	blob_free(&vcek);
}

/* ------------------------------------------------------------------------
 * Revocation: AMD's CRL, simulated (kg_snp_sim_crl issues it with the test
 * ARK's key, as KDS's is issued by the product's ARK)
 */

#define HOUR 3600L
#define DAY 86400L

static struct blob sim_crl(bool revoke_vcek, bool revoke_ask, time_t tu, time_t nu)
{
	struct blob b = {NULL, 0};

	assert_int_equal(kg_snp_sim_crl(fx.dir, revoke_vcek, revoke_ask, tu, nu, &b.p, &b.len), KG_OK);
	assert_true(b.len > 0 && b.p[0] == 0x30);
	return b;
}

static EVP_PKEY *sim_key(const char *name)
{
	char path[160];
	EVP_PKEY *k;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", fx.dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

/* Another RSA-4096 key than the ARK's, without a keygen: the test ASK's
 * (a key of the same hierarchy, the likeliest wrong signer). */
static EVP_PKEY *other_key(void)
{
	static EVP_PKEY *k;

	if (k == NULL)
		k = sim_key(KG_SNP_SIM_ASK_KEY);
	return k;
}

enum crl_sig { CRL_PSS_AMD, CRL_PSS_SALT32, CRL_PKCS1 };
enum crl_edit { EDIT_NONE, EDIT_V1, EDIT_CRITICAL_EXT, EDIT_DELTA, EDIT_ISSUER_GENOA, EDIT_ENTRY_CRITICAL, EDIT_NO_NEXT };

/* The CRL in, edited, re-signed by key (X509_CRL_sign_ctx re-encodes the
 * TBS with the new algorithm inside and out). */
static struct blob crl_resign(const struct blob *in, EVP_PKEY *key, enum crl_sig how, enum crl_edit edit)
{
	const unsigned char *p = in->p;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)in->len);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	struct blob out;
	int n;

	assert_non_null(crl);
	assert_non_null(md);
	switch (edit) {
	case EDIT_NONE:
		break;
	case EDIT_V1:
		/* v1 has no extensions: drop them too. */
		while (X509_CRL_get_ext_count(crl) > 0)
			X509_EXTENSION_free(X509_CRL_delete_ext(crl, 0));
		assert_int_equal(X509_CRL_set_version(crl, 0), 1);
		break;
	case EDIT_CRITICAL_EXT: {
		/* An unknown private extension, marked critical. */
		ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.4.1.3704.99", 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *e;
		assert_int_equal(ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2), 1);
		e = X509_EXTENSION_create_by_OBJ(NULL, o, 1, os);
		assert_non_null(e);
		assert_int_equal(X509_CRL_add_ext(crl, e, -1), 1);
		X509_EXTENSION_free(e);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(o);
		break;
	}
	case EDIT_DELTA: {
		ASN1_INTEGER *base = ASN1_INTEGER_new();
		assert_int_equal(ASN1_INTEGER_set(base, 1), 1);
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base, 0, 0), 1); /* even non-critical */
		ASN1_INTEGER_free(base);
		break;
	}
	case EDIT_ISSUER_GENOA: {
		X509_NAME *nm = X509_NAME_new();
		assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"ARK-Genoa", -1, -1, 0), 1);
		assert_int_equal(X509_CRL_set_issuer_name(crl, nm), 1);
		X509_NAME_free(nm);
		break;
	}
	case EDIT_NO_NEXT: {
		/* OpenSSL cannot unset nextUpdate: the same CRL anew without it. */
		X509_CRL *fresh = X509_CRL_new();
		assert_non_null(fresh);
		assert_int_equal(X509_CRL_set_version(fresh, 1), 1);
		assert_int_equal(X509_CRL_set_issuer_name(fresh, X509_CRL_get_issuer(crl)), 1);
		assert_int_equal(X509_CRL_set1_lastUpdate(fresh, X509_CRL_get0_lastUpdate(crl)), 1);
		X509_CRL_free(crl);
		crl = fresh;
		break;
	}
	case EDIT_ENTRY_CRITICAL: {
		/* An entry with a critical certificateIssuer: an indirect CRL. */
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
		GENERAL_NAME *g = GENERAL_NAME_new();
		X509_NAME *nm = X509_NAME_new();
		assert_int_equal(ASN1_INTEGER_set(sn, 12345), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, sn), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, (ASN1_TIME *)X509_CRL_get0_lastUpdate(crl)), 1);
		assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"SEV-Other", -1, -1, 0), 1);
		GENERAL_NAME_set0_value(g, GEN_DIRNAME, nm);
		assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
		assert_int_equal(X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, gens, 1, 0), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		GENERAL_NAMES_free(gens);
		ASN1_INTEGER_free(sn);
		break;
	}
	}
	assert_int_equal(EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key), 1);
	if (how != CRL_PKCS1) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, how == CRL_PSS_SALT32 ? 32 : 48), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()), 1);
	}
	assert_true(X509_CRL_sign_ctx(crl, md) > 0);
	n = i2d_X509_CRL(crl, &der);
	assert_true(n > 0);
	out.p = malloc((size_t)n);
	assert_non_null(out.p);
	memcpy(out.p, der, (size_t)n);
	out.len = (size_t)n;
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	X509_CRL_free(crl);
	return out;
}

/* DER: one TLV's header length and content span at b[off]. */
static size_t der_span(const uint8_t *b, size_t off, size_t *content_off)
{
	size_t len = b[off + 1], hdr = 2;

	if (len & 0x80) {
		size_t n = len & 0x7f;
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = (len << 8) | b[off + 2 + i];
		hdr += n;
	}
	*content_off = off + hdr;
	return hdr + len;
}

static size_t der_put_header(uint8_t *out, uint8_t tag, size_t len)
{
	out[0] = tag;
	if (len < 0x80) {
		out[1] = (uint8_t)len;
		return 2;
	}
	out[1] = 0x82;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return 4;
}

/* A CRL whose tbsCertList names PSS with salt 32 while the outer
 * algorithm is AMD's and the signature (by the ARK) is made with AMD's
 * parameters over that very TBS: only the inner/outer comparison
 * refuses it (5280 §5.1.1.2). */
static struct blob crl_inner_alg_differs(const struct blob *crl, EVP_PKEY *ark)
{
	struct blob s32 = crl_resign(crl, ark, CRL_PSS_SALT32, EDIT_NONE), out;
	size_t c, tbs_off, tbs_len, alg_off, alg_len, dummy;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t sig[1024];
	size_t sig_len = sizeof sig, body, n = 0;

	/* The salt-32 TBS, and AMD's AlgorithmIdentifier from the original. */
	der_span(s32.p, 0, &c);
	tbs_off = c;
	tbs_len = der_span(s32.p, tbs_off, &dummy);
	der_span(crl->p, 0, &c);
	alg_off = c + der_span(crl->p, c, &dummy);
	alg_len = der_span(crl->p, alg_off, &dummy);
	assert_int_equal(EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, ark), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &sig_len, s32.p + tbs_off, tbs_len), 1);
	body = tbs_len + alg_len + 4 + 1 + sig_len;
	out.p = malloc(body + 4);
	assert_non_null(out.p);
	n += der_put_header(out.p, 0x30, body);
	memcpy(out.p + n, s32.p + tbs_off, tbs_len);
	n += tbs_len;
	memcpy(out.p + n, crl->p + alg_off, alg_len);
	n += alg_len;
	n += der_put_header(out.p + n, 0x03, sig_len + 1);
	out.p[n++] = 0; /* no unused bits */
	memcpy(out.p + n, sig, sig_len);
	n += sig_len;
	out.len = n;
	EVP_MD_CTX_free(md);
	blob_free(&s32);
	return out;
}

static struct blob crl_pem(const struct blob *der)
{
	const unsigned char *p = der->p;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->len);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	struct blob out;

	assert_non_null(crl);
	assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
	n = BIO_get_mem_data(b, &data);
	assert_true(n > 0);
	out.p = malloc((size_t)n);
	memcpy(out.p, data, (size_t)n);
	out.len = (size_t)n;
	BIO_free(b);
	X509_CRL_free(crl);
	return out;
}

static struct blob blob_cat(const struct blob *a, const struct blob *b)
{
	struct blob out = {malloc(a->len + b->len), a->len + b->len};

	assert_non_null(out.p);
	memcpy(out.p, a->p, a->len);
	memcpy(out.p + a->len, b->p, b->len);
	return out;
}

/* A CRL that lists nothing of this chain: the evidence verifies, DER or
 * PEM, alone or in a bundle with another product's, at thisUpdate and up
 * to just before nextUpdate; the verified CRL is cached by its bytes. */
static void crl_good(void **state)
{
	time_t now = time(NULL);
	struct blob crl = sim_crl(false, false, now - HOUR, now + 7 * DAY), pem = crl_pem(&crl);
	struct blob genoa_der = crl_resign(&crl, other_key(), CRL_PSS_AMD, EDIT_ISSUER_GENOA), genoa = crl_pem(&genoa_der);
	struct blob bundle = blob_cat(&genoa, &pem);
	struct kg_snp_verifier *v = NULL;
	struct kg_snp_cache_stats s0, s1;
	struct kg_snp_sim_params p;
	struct kg_snp_report r;

	(void)state;
	assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
	assert_int_equal(sim_verify_crl(v, NULL, now, crl.p, crl.len, &r), KG_OK);
	assert_string_equal(r.product, "Milan");
	kg_snp_verifier_stats(v, &s0);
	assert_int_equal(s0.crl_misses, 1);
	assert_int_equal(sim_verify_crl(v, NULL, now, crl.p, crl.len, NULL), KG_OK);
	kg_snp_verifier_stats(v, &s1);
	assert_int_equal(s1.crl_hits, s0.crl_hits + 1);
	assert_int_equal(s1.hits, s0.hits + 1);
	/* PEM, and a PEM bundle whose first CRL is another ARK's. */
	assert_int_equal(sim_verify_crl(v, NULL, now, pem.p, pem.len, NULL), KG_OK);
	assert_int_equal(sim_verify_crl(v, NULL, now, bundle.p, bundle.len, NULL), KG_OK);
	/* The window: thisUpdate <= now < nextUpdate. */
	assert_int_equal(sim_verify_crl(v, NULL, now - HOUR, crl.p, crl.len, NULL), KG_OK);
	assert_int_equal(sim_verify_crl(v, NULL, now + 7 * DAY - 1, crl.p, crl.len, NULL), KG_OK);
	/* Report versions 2 and 5 with the CRL; and the chain alone. */
	p = kg_snp_sim_params_default();
	p.version = 2;
	assert_int_equal(sim_verify_crl(v, &p, now, crl.p, crl.len, &r), KG_OK);
	assert_int_equal(r.version, 2);
	assert_string_equal(r.product, "Milan");
	p = kg_snp_sim_params_default();
	p.version = 5;
	p.current_mit_vector = 3;
	assert_int_equal(sim_verify_crl(v, &p, now, crl.p, crl.len, &r), KG_OK);
	assert_int_equal(r.version, 5);
	assert_int_equal(r.current_mit_vector, 3);
	{
		char path[160];
		struct blob vc;
		struct kg_snp_certs c;
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_VCEK);
		assert_int_equal(kg_file_read(path, 1 << 16, &vc.p, &vc.len), KG_OK);
		struct blob ask;
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_ASK);
		assert_int_equal(kg_file_read(path, 1 << 16, &ask.p, &ask.len), KG_OK);
		memset(&c, 0, sizeof c);
		c.vcek = vc.p;
		c.vcek_len = vc.len;
		c.ask = ask.p;
		c.ask_len = ask.len;
		c.crl = crl.p;
		c.crl_len = crl.len;
		assert_int_equal(kg_snp_verify_chain(v, &c, 0, now, NULL), KG_OK);
		/* Timings: the chain warm, the CRL cold (parse + RSA-4096 PSS
		 * verify) and warm (hash, dates, entries). */
		{
			struct blob fresh = sim_crl(false, false, now - 2 * HOUR, now + DAY);
			double t, cold, warm = 1e9;
			c.crl = fresh.p;
			c.crl_len = fresh.len;
			t = now_s();
			assert_int_equal(kg_snp_verify_chain(v, &c, 0, now, NULL), KG_OK);
			cold = now_s() - t;
			for (int i = 0; i < 20; i++) {
				t = now_s();
				assert_int_equal(kg_snp_verify_chain(v, &c, 0, now, NULL), KG_OK);
				if (now_s() - t < warm)
					warm = now_s() - t;
			}
			printf("# snp chain (PEM VCEK+ASK, cached) + CRL: CRL cold %.3f ms, warm %.3f ms\n", cold * 1e3,
			       warm * 1e3);
			blob_free(&fresh);
		}
		blob_free(&vc);
		blob_free(&ask);
	}
	kg_snp_verifier_free(v);
	blob_free(&crl);
	blob_free(&pem);
	blob_free(&genoa_der);
	blob_free(&genoa);
	blob_free(&bundle);
}

/* The VCEK listed: refused, for reports and for the chain alone; also a
 * VCEK the simulated KDS issued for another TCB. */
static void crl_revoked_vcek(void **state)
{
	time_t now = time(NULL);
	struct kg_snp_sim_params other = kg_snp_sim_params_default();
	struct kg_snp_verifier *v = NULL;
	struct blob crl;

	(void)state;
	other.reported_tcb = (struct kg_snp_sim_tcb){2, 0, 7, 0x81};
	assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
	assert_int_equal(sim_verify(v, &other, now, NULL), KG_OK); /* issues vcek-02000781.pem */
	crl = sim_crl(true, false, now - HOUR, now + DAY);
	assert_int_equal(sim_verify_crl(v, NULL, now, crl.p, crl.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	assert_int_equal(sim_verify_crl(v, &other, now, crl.p, crl.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	{
		char path[160];
		struct blob vc, ask;
		struct kg_snp_certs c;
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_VCEK);
		assert_int_equal(kg_file_read(path, 1 << 16, &vc.p, &vc.len), KG_OK);
		snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_ASK);
		assert_int_equal(kg_file_read(path, 1 << 16, &ask.p, &ask.len), KG_OK);
		memset(&c, 0, sizeof c);
		c.vcek = vc.p;
		c.vcek_len = vc.len;
		c.ask = ask.p;
		c.ask_len = ask.len;
		c.crl = crl.p;
		c.crl_len = crl.len;
		assert_int_equal(kg_snp_verify_chain(v, &c, 0, now, NULL), KG_ERR_SNP_CERT_REVOKED);
		blob_free(&vc);
		blob_free(&ask);
	}
	/* Listed is listed, even in a CRL past its nextUpdate. */
	assert_int_equal(sim_verify_crl(v, NULL, now + 2 * DAY, crl.p, crl.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	kg_snp_verifier_free(v);
	blob_free(&crl);
}

/* The ASK listed: every VCEK under it is refused. */
static void crl_revoked_ask(void **state)
{
	time_t now = time(NULL);
	struct kg_snp_sim_params v2 = kg_snp_sim_params_default();
	struct blob crl = sim_crl(false, true, now - HOUR, now + DAY), pem = crl_pem(&crl);

	(void)state;
	v2.version = 2;
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, crl.p, crl.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	assert_int_equal(sim_verify_crl(fx.sim, &v2, now, pem.p, pem.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	blob_free(&crl);
	crl = sim_crl(true, true, now - HOUR, now + DAY);
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, crl.p, crl.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	blob_free(&crl);
	blob_free(&pem);
}

/* Outside thisUpdate <= now < nextUpdate: snp_crl_expired, also when the
 * very bytes verified (and were cached) earlier. */
static void crl_expired(void **state)
{
	time_t now = time(NULL);
	struct blob old = sim_crl(false, false, now - 10 * DAY, now - DAY);
	struct blob future = sim_crl(false, false, now + HOUR, now + DAY);
	struct blob cur = sim_crl(false, false, now - HOUR, now + DAY);

	(void)state;
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, old.p, old.len, NULL), KG_ERR_SNP_CRL_EXPIRED);
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, future.p, future.len, NULL), KG_ERR_SNP_CRL_EXPIRED);
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, cur.p, cur.len, NULL), KG_OK);
	/* now == nextUpdate is past it; one second before thisUpdate too. */
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now + DAY, cur.p, cur.len, NULL), KG_ERR_SNP_CRL_EXPIRED);
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now - HOUR - 1, cur.p, cur.len, NULL), KG_ERR_SNP_CRL_EXPIRED);
	blob_free(&old);
	blob_free(&future);
	blob_free(&cur);
}

/* A CRL that does not verify, or is not one we can use: snp_crl_invalid. */
static void crl_invalid(void **state)
{
	time_t now = time(NULL);
	struct blob crl = sim_crl(false, false, now - HOUR, now + DAY), bad;
	EVP_PKEY *ark = sim_key(KG_SNP_SIM_ARK_KEY);
	const struct {
		EVP_PKEY *key;
		enum crl_sig how;
		enum crl_edit edit;
		kg_err want;
	} cases[] = {
		{ark, CRL_PSS_AMD, EDIT_NONE, KG_OK},                     /* re-signed as the sim does: fine */
		{other_key(), CRL_PSS_AMD, EDIT_NONE, KG_ERR_SNP_CRL_INVALID}, /* signed by the ASK's key */
		{ark, CRL_PSS_SALT32, EDIT_NONE, KG_ERR_SNP_CRL_INVALID}, /* not AMD's PSS parameters */
		{ark, CRL_PKCS1, EDIT_NONE, KG_ERR_SNP_CRL_INVALID},
		{ark, CRL_PSS_AMD, EDIT_V1, KG_ERR_SNP_CRL_INVALID},
		{ark, CRL_PSS_AMD, EDIT_NO_NEXT, KG_ERR_SNP_CRL_INVALID},
		{ark, CRL_PSS_AMD, EDIT_CRITICAL_EXT, KG_ERR_SNP_CRL_INVALID},
		{ark, CRL_PSS_AMD, EDIT_DELTA, KG_ERR_SNP_CRL_INVALID},
		{ark, CRL_PSS_AMD, EDIT_ENTRY_CRITICAL, KG_ERR_SNP_CRL_INVALID},
		{ark, CRL_PSS_AMD, EDIT_ISSUER_GENOA, KG_ERR_SNP_CRL_INVALID}, /* not this chain's ARK */
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bad = crl_resign(&crl, cases[i].key, cases[i].how, cases[i].edit);
		if (sim_verify_crl(fx.sim, NULL, now, bad.p, bad.len, NULL) != cases[i].want)
			fail_msg("crl_invalid case %zu", i);
		blob_free(&bad);
	}
	/* The TBS names other PSS parameters than the signature uses. */
	bad = crl_inner_alg_differs(&crl, ark);
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, bad.p, bad.len, NULL), KG_ERR_SNP_CRL_INVALID);
	blob_free(&bad);
	/* One bit of the TBS (the CRL number's last byte) or the signature. */
	bad.len = crl.len;
	bad.p = malloc(crl.len);
	memcpy(bad.p, crl.p, crl.len);
	bad.p[bad.len - 1] ^= 0x01;
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, bad.p, bad.len, NULL), KG_ERR_SNP_CRL_INVALID);
	bad.p[bad.len - 1] ^= 0x01;
	bad.p[bad.len - 512 - 30] ^= 0x01; /* before the RSA-4096 signature and its algorithm */
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, bad.p, bad.len, NULL), KG_ERR_SNP_CRL_INVALID);
	blob_free(&bad);
	/* Not a CRL; trailing bytes; the same ARK's CRL twice in a bundle. */
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, (const uint8_t *)"hello", 5, NULL), KG_ERR_SNP_CRL_INVALID);
	bad.len = crl.len + 1;
	bad.p = calloc(1, bad.len);
	memcpy(bad.p, crl.p, crl.len);
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, bad.p, bad.len, NULL), KG_ERR_SNP_CRL_INVALID);
	blob_free(&bad);
	{
		struct blob pem = crl_pem(&crl), twice = blob_cat(&pem, &pem);
		assert_int_equal(sim_verify_crl(fx.sim, NULL, now, twice.p, twice.len, NULL), KG_ERR_SNP_CRL_INVALID);
		blob_free(&pem);
		blob_free(&twice);
	}
	/* Too large, before anything is parsed. */
	bad.len = KG_SNP_CRL_MAX + 1;
	bad.p = calloc(1, bad.len);
	bad.p[0] = 0x30;
	assert_int_equal(sim_verify_crl(fx.sim, NULL, now, bad.p, bad.len, NULL), KG_ERR_TOO_LARGE);
	blob_free(&bad);
	/* The test ARK's CRL beside AMD evidence: not issued by ARK-Milan of
	 * AMD (same CN, other name), so it does not apply. */
	{
		struct blob rep = vec_read(v_gsg.report), vcek = vec_read(v_gsg.vcek);
		struct kg_snp_certs c;
		memset(&c, 0, sizeof c);
		c.vcek = vcek.p;
		c.vcek_len = vcek.len;
		c.crl = crl.p;
		c.crl_len = crl.len;
		assert_int_equal(kg_snp_verify(fx.amd, rep.p, rep.len, &c, T0, NULL), KG_ERR_SNP_CRL_INVALID);
		blob_free(&rep);
		blob_free(&vcek);
	}
	EVP_PKEY_free(ark);
	blob_free(&crl);
}

/* A broker that requires a CRL fails closed without one. */
static void crl_required(void **state)
{
	time_t now = time(NULL);
	struct blob crl = sim_crl(false, false, now - HOUR, now + DAY);
	struct kg_snp_verifier *v = NULL;
	struct kg_snp_certs none;

	(void)state;
	memset(&none, 0, sizeof none);
	assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
	assert_int_equal(sim_verify(v, NULL, now, NULL), KG_OK); /* default: not required */
	kg_snp_verifier_require_crl(v, true);
	assert_int_equal(sim_verify(v, NULL, now, NULL), KG_ERR_SNP_CRL_MISSING);
	assert_int_equal(sim_verify_crl(v, NULL, now, crl.p, 0, NULL), KG_ERR_SNP_CRL_MISSING);
	assert_int_equal(sim_verify_crl(v, NULL, now, crl.p, crl.len, NULL), KG_OK);
	assert_int_equal(kg_snp_verify_chain(v, &none, 0, now, NULL), KG_ERR_SNP_NO_VCEK);
	kg_snp_verifier_require_crl(v, false);
	assert_int_equal(sim_verify(v, NULL, now, NULL), KG_OK);
	kg_snp_verifier_free(v);
	blob_free(&crl);
}

/* A chain verified (and cached) before its revocation: every later call
 * that carries the CRL is refused, though the chain comes from the cache,
 * and a cached CRL is checked against each chain anew. */
static void crl_cache_after_revocation(void **state)
{
	time_t now = time(NULL);
	struct blob good = sim_crl(false, false, now - HOUR, now + DAY);
	struct blob rv = sim_crl(true, false, now - HOUR, now + DAY), ra = sim_crl(false, true, now - HOUR, now + DAY);
	struct kg_snp_verifier *v = NULL;
	struct kg_snp_cache_stats s0, s1;

	(void)state;
	assert_int_equal(kg_snp_verifier_new(&v, fx.ark_path), KG_OK);
	assert_int_equal(sim_verify(v, NULL, now, NULL), KG_OK);                       /* cold, cached */
	assert_int_equal(sim_verify_crl(v, NULL, now, good.p, good.len, NULL), KG_OK); /* hit */
	kg_snp_verifier_stats(v, &s0);
	assert_int_equal(sim_verify_crl(v, NULL, now, rv.p, rv.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	assert_int_equal(sim_verify_crl(v, NULL, now, ra.p, ra.len, NULL), KG_ERR_SNP_CERT_REVOKED);
	assert_int_equal(sim_verify_crl(v, NULL, now, rv.p, rv.len, NULL), KG_ERR_SNP_CERT_REVOKED); /* both cached */
	kg_snp_verifier_stats(v, &s1);
	assert_int_equal(s1.hits, s0.hits + 3); /* the chain came from the cache each time */
	assert_int_equal(s1.misses, s0.misses);
	assert_int_equal(s1.crl_misses, s0.crl_misses + 2);
	assert_int_equal(s1.crl_hits, s0.crl_hits + 1);
	kg_snp_verifier_free(v);
	blob_free(&good);
	blob_free(&rv);
	blob_free(&ra);
}

/* The CRL parser alone (the fuzz target's function): form, no trust. */
static void crl_parse(void **state)
{
	time_t now = time(NULL);
	struct blob crl = sim_crl(true, true, now - HOUR, now + DAY), pem = crl_pem(&crl), two = blob_cat(&pem, &pem);
	EVP_PKEY *ark = sim_key(KG_SNP_SIM_ARK_KEY);
	struct blob v1 = crl_resign(&crl, ark, CRL_PSS_AMD, EDIT_V1), pkcs1 = crl_resign(&crl, ark, CRL_PKCS1, EDIT_NONE);
	size_t n = 99;

	(void)state;
	assert_int_equal(kg_snp_crl_parse(crl.p, crl.len, &n), KG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kg_snp_crl_parse(two.p, two.len, &n), KG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kg_snp_crl_parse(v1.p, v1.len, &n), KG_ERR_SNP_CRL_INVALID);
	assert_int_equal(n, 0);
	assert_int_equal(kg_snp_crl_parse(pkcs1.p, pkcs1.len, &n), KG_ERR_SNP_CRL_INVALID);
	assert_int_equal(kg_snp_crl_parse(crl.p, crl.len - 1, &n), KG_ERR_SNP_CRL_INVALID);
	assert_int_equal(kg_snp_crl_parse(crl.p, 0, &n), KG_ERR_SNP_CRL_INVALID);
	assert_int_equal(kg_snp_crl_parse(NULL, 0, &n), KG_ERR_SNP_CRL_INVALID);
	assert_int_equal(kg_snp_crl_parse(crl.p, KG_SNP_CRL_MAX + 1, &n), KG_ERR_TOO_LARGE);
	/* More than eight CRLs in one text. */
	{
		struct blob many = {calloc(9, pem.len), 9 * pem.len};
		for (int i = 0; i < 9; i++)
			memcpy(many.p + (size_t)i * pem.len, pem.p, pem.len);
		assert_int_equal(kg_snp_crl_parse(many.p, 8 * pem.len, &n), KG_OK);
		assert_int_equal(n, 8);
		assert_int_equal(kg_snp_crl_parse(many.p, many.len, &n), KG_ERR_SNP_CRL_INVALID);
		blob_free(&many);
	}
	/* Seeds for the fuzz corpus, when asked: KG_SNP_CRL_SEEDS=dir. */
	if (getenv("KG_SNP_CRL_SEEDS")) {
		const struct {
			const char *name;
			const struct blob *b;
		} seeds[] = {{"sim-revoked-vcek-ask.der", &crl}, {"sim-two.pem", &two},
			     {"bad-v1.der", &v1}, {"bad-pkcs1.der", &pkcs1}};
		for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
			char path[512];
			snprintf(path, sizeof path, "%s/%s", getenv("KG_SNP_CRL_SEEDS"), seeds[i].name);
			assert_int_equal(kg_file_write(path, seeds[i].b->p, seeds[i].b->len, 0644), KG_OK);
		}
	}
	EVP_PKEY_free(ark);
	blob_free(&crl);
	blob_free(&pem);
	blob_free(&two);
	blob_free(&v1);
	blob_free(&pkcs1);
}

/* The simulator keeps the ARK key private; a directory without it cannot
 * issue CRLs. */
static void sim_crl_key(void **state)
{
	char path[160], empty[64];
	struct stat st;
	uint8_t *der = (uint8_t *)1;
	size_t len = 1;

	(void)state;
	snprintf(path, sizeof path, "%s/%s", fx.dir, KG_SNP_SIM_ARK_KEY);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(empty, sizeof empty, "%s", "/tmp/kg-test-snp-empty-XXXXXX");
	assert_non_null(mkdtemp(empty));
	assert_int_equal(kg_snp_sim_crl(empty, false, false, 0, 1, &der, &len), KG_ERR_IO);
	assert_null(der);
	assert_int_equal(len, 0);
	rmdir(empty);
}

/* ------------------------------------------------------------------------
 * Any single-bit change in the signed part (0x000..0x29F) is refused, on
 * a warm cache so that each check is one P-384 verify (or a parser error).
 */

static int flip_every_byte(const struct vec *w)
{
	struct blob rep = vec_read(w->report), vcek = vec_read(w->vcek);
	int refused = 0;
	double t;

	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_OK); /* warm */
	t = now_s();
	for (size_t i = 0; i < KG_SNP_SIGNED_SIZE; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		rep.p[i] ^= bit;
		if (verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL) != KG_OK)
			refused++;
		else
			print_error("offset 0x%zx bit %u accepted\n", i, bit);
		rep.p[i] ^= bit;
	}
	printf("# snp every signed byte (%s, %d flips): %.3f s\n", w->report, KG_SNP_SIGNED_SIZE, now_s() - t);
	assert_int_equal(verify_with(fx.amd, &rep, vcek.p, vcek.len, T0, NULL), KG_OK);
	blob_free(&rep);
	blob_free(&vcek);
	return refused;
}

static void signed_part_every_byte(void **state)
{
	(void)state;
	assert_int_equal(flip_every_byte(&v_virtee), KG_SNP_SIGNED_SIZE); /* v2 */
	assert_int_equal(flip_every_byte(&v_genoa), KG_SNP_SIGNED_SIZE);  /* v3 */
}

/* ------------------------------------------------------------------------
 * Certificate table
 */

static void put_entry(uint8_t *t, const uint8_t guid[16], uint32_t off, uint32_t len)
{
	memcpy(t, guid, 16);
	put32(t + 16, off);
	put32(t + 20, len);
}

static void cert_table(void **state)
{
	static const uint8_t vcek[16] = KG_SNP_GUID_VCEK, ask[16] = KG_SNP_GUID_ASK, ark[16] = KG_SNP_GUID_ARK,
			     vlek[16] = KG_SNP_GUID_VLEK;
	static const uint8_t other[16] = {0xec, 0xae, 0x0c, 0x0f, 0x95, 0x02, 0x43, 0xb1,
					  0xaf, 0xa2, 0x0a, 0xe2, 0xe0, 0xd5, 0x65, 0xb6};
	static const uint8_t zero[16] = {0};
	uint8_t t[512];
	struct kg_snp_cert_table ct;
	uint8_t *big;

	(void)state;
	memset(t, 0, sizeof t);
	/* Empty: no table. */
	assert_int_equal(kg_snp_cert_table_parse(t, 0, &ct), KG_OK);
	assert_null(ct.vcek);
	/* Well-formed: three entries, terminator, then the payloads. */
	memset(t, 0, sizeof t);
	put_entry(t, vcek, 96, 10);
	put_entry(t + 24, ask, 106, 20);
	put_entry(t + 48, ark, 126, 30);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_OK);
	assert_ptr_equal(ct.vcek, t + 96);
	assert_int_equal(ct.vcek_len, 10);
	assert_ptr_equal(ct.ask, t + 106);
	assert_int_equal(ct.ask_len, 20);
	assert_ptr_equal(ct.ark, t + 126);
	assert_int_equal(ct.ark_len, 30);
	assert_null(ct.vlek);
	assert_int_equal(ct.vlek_len, 0);
	/* Up to the last byte exactly. */
	assert_int_equal(kg_snp_cert_table_parse(t, 156, &ct), KG_OK);
	assert_int_equal(kg_snp_cert_table_parse(t, 155, &ct), KG_ERR_SNP_CERT_TABLE);
	assert_null(ct.vcek); /* outputs cleared on failure */
	/* No terminator: the header runs off the end. */
	assert_int_equal(kg_snp_cert_table_parse(t, 72, &ct), KG_ERR_SNP_CERT_TABLE);
	assert_int_equal(kg_snp_cert_table_parse(t, 10, &ct), KG_ERR_SNP_CERT_TABLE);
	/* An offset into the header (which is 4 entries = 96 bytes). */
	put_entry(t + 48, ark, 72, 30);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	put_entry(t + 48, ark, 0, 30);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	/* Past the end, and 32-bit wrap-around. */
	put_entry(t + 48, ark, 190, 11);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	put_entry(t + 48, ark, 0xffffffff, 2);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	put_entry(t + 48, ark, 100, 0xffffffff);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	/* A zero length. */
	put_entry(t + 48, ark, 126, 0);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	/* A GUID twice. */
	put_entry(t + 48, vcek, 126, 30);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_ERR_SNP_CERT_TABLE);
	/* Unknown GUIDs, even the all-zero one with data, are skipped; VLEK. */
	put_entry(t, other, 96, 10);
	put_entry(t + 24, zero, 106, 20);
	put_entry(t + 48, vlek, 126, 30);
	assert_int_equal(kg_snp_cert_table_parse(t, 200, &ct), KG_OK);
	assert_null(ct.vcek);
	assert_null(ct.ask);
	assert_ptr_equal(ct.vlek, t + 126);
	/* Too large, before anything is read. */
	big = calloc(1, KG_SNP_CERT_TABLE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(kg_snp_cert_table_parse(big, KG_SNP_CERT_TABLE_MAX + 1, &ct), KG_ERR_TOO_LARGE);
	/* At the limit: an all-zero buffer is just a terminator. */
	assert_int_equal(kg_snp_cert_table_parse(big, KG_SNP_CERT_TABLE_MAX, &ct), KG_OK);
	/* Too many entries (65, each distinct). */
	for (int i = 0; i < 65; i++) {
		uint8_t g[16] = {0};
		g[0] = (uint8_t)(i + 1);
		put_entry(big + 24 * i, g, 66 * 24, 1);
	}
	assert_int_equal(kg_snp_cert_table_parse(big, 8192, &ct), KG_ERR_SNP_CERT_TABLE);
	free(big);
}

static void error_codes(void **state)
{
	(void)state;
	assert_string_equal(kg_err_code(KG_ERR_SNP_PRODUCT), "snp_product_mismatch");
	assert_int_equal(kg_err_http(KG_ERR_SNP_PRODUCT), 401);
	assert_true(kg_err_is_denial(KG_ERR_SNP_PRODUCT));
	assert_string_equal(kg_err_code(KG_ERR_SNP_TCB_MISMATCH), "vcek_tcb_mismatch");
	/* Revocation. */
	const struct {
		kg_err e;
		const char *code;
	} crl[] = {{KG_ERR_SNP_CRL_MISSING, "snp_crl_missing"},
		   {KG_ERR_SNP_CRL_INVALID, "snp_crl_invalid"},
		   {KG_ERR_SNP_CRL_EXPIRED, "snp_crl_expired"},
		   {KG_ERR_SNP_CERT_REVOKED, "snp_cert_revoked"}};
	for (size_t i = 0; i < sizeof crl / sizeof crl[0]; i++) {
		assert_string_equal(kg_err_code(crl[i].e), crl[i].code);
		assert_int_equal(kg_err_from_code(crl[i].code), crl[i].e);
		assert_int_equal(kg_err_http(crl[i].e), 401);
		assert_true(kg_err_is_denial(crl[i].e));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(real_vector, (void *)&v_gsg),
		cmocka_unit_test_prestate(real_vector, (void *)&v_virtee),
		cmocka_unit_test_prestate(real_vector, (void *)&v_trustee),
		cmocka_unit_test_prestate(real_vector, (void *)&v_vlek),
		cmocka_unit_test_prestate(real_vector, (void *)&v_genoa),
		cmocka_unit_test_prestate(real_vector, (void *)&v_az_milan),
		cmocka_unit_test_prestate(real_vector, (void *)&v_az_genoa),
		cmocka_unit_test_prestate(real_vector, (void *)&v_az_milan_v2),
		cmocka_unit_test(expiry),
		cmocka_unit_test(signature_bitflips),
		cmocka_unit_test(tcb_byte_changed),
		cmocka_unit_test(chain_byteflips),
		cmocka_unit_test(ask_asvk_crossed),
		cmocka_unit_test(invalid_test_vceks),
		cmocka_unit_test(turin_chain),
		cmocka_unit_test(untrusted_roots),
		cmocka_unit_test(bad_root_files),
		cmocka_unit_test(pss_params_enforced),
		cmocka_unit_test(parse_size_version_algo),
		cmocka_unit_test(parse_reserved),
		cmocka_unit_test(parse_policy_and_signer),
		cmocka_unit_test(tcb_layouts),
		cmocka_unit_test(no_vcek),
		cmocka_unit_test(sim_roundtrip),
		cmocka_unit_test(cache_timing_real),
		cmocka_unit_test(sim_variants),
		cmocka_unit_test(threads),
		cmocka_unit_test(crl_good),
		cmocka_unit_test(crl_revoked_vcek),
		cmocka_unit_test(crl_revoked_ask),
		cmocka_unit_test(crl_expired),
		cmocka_unit_test(crl_invalid),
		cmocka_unit_test(crl_required),
		cmocka_unit_test(crl_cache_after_revocation),
		cmocka_unit_test(crl_parse),
		cmocka_unit_test(sim_crl_key),
		cmocka_unit_test(signed_part_every_byte),
		cmocka_unit_test(cert_table),
		cmocka_unit_test(error_codes),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
