/*
 * Unit tests for attest/tdx.c and attest/tdx_collateral.c: the quote
 * parser, the PCK chain and its SGX extensions, the quote/QE/binding
 * signatures, the collateral (JSON signatures, CRLs, dates), the TCB
 * evaluation, the caches, and every reason code they return.
 *
 * Real evidence comes from $KG_VECTORS/tdx (expectations in EXPECTED.md
 * §2).  Times are pinned: T_2023 = 2023-07-01, inside the 2023 collateral
 * (tcbInfo to 07-18, qeIdentity and PCK CRL to 07-08, root CRL to 2024-04).
 * The 2025/2026 collateral cannot pass a strict time check with the
 * vectors' TCB signing certificate (expired 2025-05-21) and CRLs (2023/24),
 * so for those quotes the test checks the crypto at their own times, the
 * collateral signatures without time, and the TCB evaluation directly.
 *
 * Revocation cannot be shown with Intel's keys, so a test PKI made here
 * (root, PCK Platform CA, PCK with SGX extensions, TCB signing cert, CRLs)
 * re-signs a real quote's body and the 2023 collateral.
 *
 * The simulated attester (attest/tdx_sim.c) is tested at the end: its
 * quotes and collateral verify at the current time under its own root,
 * with claims equal to the parameters, and not under Intel's.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "../../attest/attest.h"
#include "../../attest/tdx.h"
#include "../../attest/tdx_internal.h"
#include "../../common/util.h"
#include "vectors.h"
/* The simulated TDX attester is compiled into this test: tests/meson.build
 * links test_tdx with kg_attest only.  Once it lists kg_snp_sim_dep for
 * test_tdx (the library that holds tdx_sim.c), include tdx_sim.h instead. */
#include "../../attest/tdx_sim.h"

#define T_2023 ((time_t)1688169600)    /* 2023-07-01T00:00:00Z */
#define T_2023_07_10 ((time_t)1688947200)
#define T_2024_06 ((time_t)1717200000) /* 2024-06-01 */
#define T_2025_11 ((time_t)1761955200) /* 2025-11-01 */
#define T_2026_02_03 ((time_t)1770076800)
#define T_2053 ((time_t)2634940800) /* 2053-07-01: PCKs expired */
#define T_2010 ((time_t)1262304000)

static struct blob blob_dup(const uint8_t *p, size_t n)
{
	struct blob b = {malloc(n ? n : 1), n};

	assert_non_null(b.p);
	memcpy(b.p, p, n);
	return b;
}

static void hex_eq(const uint8_t *b, size_t n, const char *want)
{
	char s[2 * 64 + 1];

	assert_true(n <= 64);
	kg_hex(s, b, n);
	assert_string_equal(s, want);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * Fixture
 */
static struct {
	struct kg_tdx_verifier *intel;
	struct blob tcb_2023, qe_2023, tcb_v5, tcb_a06d, qe_a06d;
	struct blob signing, root_crl, pck_crl;
	struct kg_tdx_collateral coll_2023;
} fx;

/* The simulator's shared directory, removed by the teardown. */
static char sim_shared[96];
static void sim_rmdir(const char *dir);

static int group_setup(void **state)
{
	(void)state;
	if (kg_tdx_verifier_new(&fx.intel, NULL) != KG_OK)
		return -1;
	fx.tcb_2023 = vec_read("tdx/gtg-v4-spr/tcbInfo.json");
	fx.qe_2023 = vec_read("tdx/gtg-v4-spr/qeIdentity.json");
	fx.tcb_v5 = vec_read("tdx/gtg-v5/tcbInfo.json");
	fx.tcb_a06d = vec_read("tdx/trustee-v4-fmspc00a06d/tcbInfo.json");
	fx.qe_a06d = vec_read("tdx/trustee-v4-fmspc00a06d/qeIdentity.json");
	fx.signing = vec_read("tdx/intel-roots/TCB_Signing_chain.pem");
	fx.root_crl = vec_read("tdx/intel-roots/IntelSGXRootCA.crl.der");
	fx.pck_crl = vec_read("tdx/intel-roots/pckcrl_platform.crl.der");
	fx.coll_2023 = (struct kg_tdx_collateral){fx.tcb_2023.p, fx.tcb_2023.len, fx.qe_2023.p, fx.qe_2023.len,
						  fx.signing.p,  fx.signing.len,  fx.root_crl.p, fx.root_crl.len,
						  fx.pck_crl.p,  fx.pck_crl.len};
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kg_tdx_verifier_free(fx.intel);
	blob_free(&fx.tcb_2023);
	blob_free(&fx.qe_2023);
	blob_free(&fx.tcb_v5);
	blob_free(&fx.tcb_a06d);
	blob_free(&fx.qe_a06d);
	blob_free(&fx.signing);
	blob_free(&fx.root_crl);
	blob_free(&fx.pck_crl);
	if (sim_shared[0])
		sim_rmdir(sim_shared);
	return 0;
}

/* gtg-v4-spr without the 39 bytes of text appended after the signature
 * data (the signed content and the signature data are unchanged). */
static struct blob spr_stripped(void)
{
	struct blob q = vec_read("tdx/gtg-v4-spr/quote.dat");
	assert_int_equal(q.len, 4974);
	q.len = 4935;
	return q;
}

/* ------------------------------------------------------------------------
 * Real quotes: parsing, and the crypto at pinned times (EXPECTED §2)
 */

struct real {
	const char *path;
	time_t at; /* inside the PCK chain's validity */
	uint16_t version, body_type;
	size_t padding;
	const char *mrtd, *report_data, *tee_tcb_svn, *fmspc;
	uint64_t td_attributes;
	bool debug;
};

static const struct real reals[] = {
	{"tdx/gtg-v5/quote.dat", T_2026_02_03, 5, 3, 0,
	 "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
	 "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed8"
	 "2cd1b486233e31c25c3a",
	 "0b010400000000000000000000000000", "90c06f000000", 0x1000000000ULL >> 8, false},
	{"tdx/gtg-cos-v4/quote.dat", T_2025_11, 4, 2, 3065,
	 "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a",
	 "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	 "0000000000000000",
	 NULL, "00806f050000", 0x10000000ULL, false},
	{"tdx/trustee-v4/quote.dat", T_2023, 4, 2, 0,
	 "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031",
	 "7c71fe2c86eff65a7cf8dbc22b3275689fd0464a267baced1bf94fc1324656aeb755da3d44d098c0c87382f3a5f85b45c8a28fee1d3bdb"
	 "38342bf96671501429",
	 "03000500000000000000000000000000", "50806f000000", 0x10000001ULL, true},
	{"tdx/trustee-v5/quote.dat", T_2024_06, 5, 3, 0,
	 "dfba221b48a22af8511542ee796603f37382800840dcd978703909bf8e64d4c8a1e9de86e7c9638bfcba422f3886400a",
	 "6d6ab13b046cff606ac0074be13981b07b6325dba10b5facc96febf551c0c3be2b75f92fe1f88f4bb996969ad0174b4b7a70261b7b85"
	 "c844f4b33a4674fd049f",
	 "05010200000000000000000000000000", "90c06f000000", 0x10000000ULL, false},
	{"tdx/trustee-v4-fmspc00a06d/quote.dat", T_2025_11, 4, 2, 70,
	 "21e8dead92d6c69d7cbba79816686c03a48485c7df0c11f6f04792d5e1d378f6b8c46615ba6946adccac6becffbb1e88",
	 "26cae1c77185617fb6a03fc29bf1f924596e52352b9b7594940b576ae126cd4a570cc3202a900c5d19a6eb0a95b32cfd000000000000"
	 "00000000000000000000",
	 "05030200000000000000000000000000", "00a06d080000", 0x10000000ULL, false},
	{"tdx/azure-tdx/td-quote.bin", T_2025_11, 4, 2, 70,
	 "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b",
	 "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e59383900000000000000000000000000000000000000000000"
	 "00000000000000000000",
	 NULL, "00806f050000", 0, false},
};

static void check_claims(const struct real *r, const struct kg_tdx_claims *c)
{
	assert_int_equal(c->version, r->version);
	assert_int_equal(c->body_type, r->body_type);
	assert_int_equal(c->tee_type, 0x81);
	hex_eq(c->td.mr_td, 48, r->mrtd);
	hex_eq(c->td.report_data, 64, r->report_data);
	if (r->tee_tcb_svn)
		hex_eq(c->td.tee_tcb_svn, 16, r->tee_tcb_svn);
	hex_eq(c->fmspc, 6, r->fmspc);
	hex_eq(c->pce_id, 2, "0000");
	assert_int_equal(c->debug, r->debug);
	hex_eq(c->qe_mr_signer, 32, "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
	assert_int_equal(c->qe_isv_prod_id, 2);
	assert_false(c->pck_processor_ca);
}

static void real_quotes_verify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		const struct real *r = &reals[i];
		struct blob q = vec_read(r->path);
		struct kg_tdx_quote pq;
		struct kg_tdx_claims c;

		assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_OK);
		assert_int_equal(pq.padding_len, r->padding);
		assert_int_equal(pq.qe_auth_len, 32);
		assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, r->at, &c), KG_OK);
		check_claims(r, &c);
		assert_false(c.tcb_evaluated);
		if (r->td_attributes)
			assert_true((c.td.td_attributes & r->td_attributes) == r->td_attributes);
		else
			assert_true(c.td.td_attributes == 0);
		/* Without collateral the full verification stops there. */
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, NULL, r->at, &c), KG_ERR_TDX_COLLATERAL_MISSING);
		assert_true(all_zero(&c, sizeof c));
		blob_free(&q);
	}
}

/* gtg-v4-spr: every field of EXPECTED §2.1, and its trailing text. */
static void spr_fields(void **state)
{
	struct blob q = vec_read("tdx/gtg-v4-spr/quote.dat");
	struct kg_tdx_quote pq;
	struct kg_tdx_claims c;

	(void)state;
	/* Text after the signature data is refused; zeros would pass. */
	assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_ERR_TRAILING_BYTES);
	assert_true(all_zero(&pq, sizeof pq));
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_ERR_TRAILING_BYTES);
	memset(q.p + 4935, 0, 39);
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_OK);
	q.len = 4935;
	assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_OK);
	assert_int_equal(pq.version, 4);
	assert_int_equal(pq.att_key_type, 2);
	assert_int_equal(pq.signed_len, 632);
	hex_eq(pq.qe_vendor_id, 16, "939a7233f79c4ca9940a0db3957f0607");
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_OK);
	hex_eq(c.td.tee_tcb_svn, 16, "03000400000000000000000000000000");
	hex_eq(c.td.mr_seam, 48,
	       "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656");
	assert_true(all_zero(c.td.mr_signer_seam, 48));
	assert_true(c.td.seam_attributes == 0);
	assert_true(c.td.td_attributes == 0x40000000ULL); /* PKS, not debug */
	assert_true(c.pks && !c.debug);
	assert_true(c.td.xfam == 0x61ae7ULL);
	hex_eq(c.td.mr_td, 48,
	       "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
	assert_true(all_zero(c.td.mr_config_id, 48) && all_zero(c.td.mr_owner, 48) && all_zero(c.td.mr_owner_config, 48));
	hex_eq(c.td.rtmr[0], 48,
	       "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a");
	hex_eq(c.td.rtmr[1], 48,
	       "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61");
	hex_eq(c.td.rtmr[2], 48,
	       "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e");
	assert_true(all_zero(c.td.rtmr[3], 48));
	hex_eq(c.td.report_data, 64,
	       "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c"
	       "66f6f29f8acb281f1113");
	hex_eq(c.fmspc, 6, "50806f000000");
	hex_eq(c.pck_cpusvn, 16, "03030202020100020000000000000000");
	assert_int_equal(c.pck_pcesvn, 11);
	assert_int_equal(c.qe_isv_svn, 4);
	/* PCK valid 2022-09-20..2029-09-20. */
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2053, &c), KG_ERR_TDX_PCK_EXPIRED);
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2010, &c), KG_ERR_TDX_PCK_EXPIRED);
	blob_free(&q);
}

/* v5 / TDX 1.5 fields (EXPECTED §2.2). */
static void v5_fields(void **state)
{
	struct blob q = vec_read("tdx/gtg-v5/quote.dat");
	struct kg_tdx_quote pq;

	(void)state;
	assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_OK);
	assert_int_equal(pq.body_type, 3);
	assert_int_equal(pq.body_size, 648);
	assert_int_equal(pq.signed_len, 48 + 6 + 648);
	hex_eq(pq.body.tee_tcb_svn2, 16, "0d010400000000000000000000000000");
	assert_true(all_zero(pq.body.mr_service_td, 48));
	hex_eq(pq.body.mr_seam, 48,
	       "7bf063280e94fb051f5dd7b1fc59ce9aac42bb961df8d44b709c9b0ff87a7b4df648657ba6d1189589feab1d5a3c9a9d");
	assert_true(pq.body.xfam == 0x602e7ULL);
	hex_eq(pq.body.rtmr[2], 48,
	       "6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc6092e31ea8764bcbdfc69f20");
	assert_int_equal(pq.qe_report.isv_svn, 7);
	blob_free(&q);
}

/* ------------------------------------------------------------------------
 * Full verification with Intel's collateral
 */

static void full_2023(void **state)
{
	struct blob q = vec_read("tdx/trustee-v4/quote.dat"), spr = spr_stripped();
	struct kg_tdx_claims c;
	struct kg_tdx_cache_stats s0, s1;
	double t0, cold, warm;

	(void)state;
	kg_tdx_verifier_stats(fx.intel, &s0);
	t0 = now_s();
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &fx.coll_2023, T_2023, &c), KG_OK);
	cold = now_s() - t0;
	/* The real CRLs parse, verify, and revoke neither PCK nor its CA. */
	check_claims(&reals[2], &c);
	assert_true(c.tcb_evaluated);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(c.platform_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(c.qe_status, KG_TDX_TCB_UP_TO_DATE);
	assert_false(c.module_evaluated);
	assert_int_equal(c.n_advisories, 0);
	assert_int_equal(c.tcb_eval_data_number, 15);
	assert_true(c.tcb_date == 1676419200); /* 2023-02-15 */
	assert_true(c.collateral_expires == 1688801099); /* qeIdentity's 2023-07-08T07:24:59Z */
	t0 = now_s();
	for (int i = 0; i < 100; i++)
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &fx.coll_2023, T_2023, &c), KG_OK);
	warm = (now_s() - t0) / 100;
	kg_tdx_verifier_stats(fx.intel, &s1);
	assert_true(s1.collateral_hits >= s0.collateral_hits + 100);
	assert_true(s1.pck_hits >= s0.pck_hits + 100);
	printf("# tdx verify with collateral: cold %.2f ms (may include a warm PCK), warm %.3f ms\n", cold * 1e3,
	       warm * 1e3);

	/* gtg-v4-spr: signatures fine, FMSPC matches, but no level is met
	 * (PCK components 0/1 are 3, every level needs 5): EXPECTED §2.1. */
	assert_int_equal(kg_tdx_verify(fx.intel, spr.p, spr.len, &fx.coll_2023, T_2023, &c), KG_ERR_TDX_TCB_UNSUPPORTED);
	assert_true(all_zero(&c, sizeof c));

	/* Outside the collateral's validity: PCK CRL and qeIdentity ended on
	 * 07-08, the tcbInfo 07-18; before the tcbInfo was issued. */
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &fx.coll_2023, T_2023_07_10, &c),
			 KG_ERR_TDX_COLLATERAL_EXPIRED);
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &fx.coll_2023, 1686700000 /* 2023-06-14 */, &c),
			 KG_ERR_TDX_COLLATERAL_EXPIRED);
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &fx.coll_2023, T_2053, &c), KG_ERR_TDX_PCK_EXPIRED);

	/* Each item missing. */
	for (int i = 0; i < 5; i++) {
		struct kg_tdx_collateral m = fx.coll_2023;
		const uint8_t **ptrs[5] = {&m.tcb_info, &m.qe_identity, &m.tcb_signing_chain, &m.root_crl, &m.pck_crl};
		*ptrs[i] = NULL;
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_MISSING);
	}
	/* Items swapped or from elsewhere. */
	{
		struct kg_tdx_collateral m = fx.coll_2023;
		m.root_crl = fx.pck_crl.p; /* not signed by the root */
		m.root_crl_len = fx.pck_crl.len;
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
		m = fx.coll_2023;
		m.pck_crl = fx.root_crl.p; /* not the PCK CA's */
		m.pck_crl_len = fx.root_crl.len;
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
		m = fx.coll_2023;
		m.tcb_info = fx.qe_2023.p;
		m.tcb_info_len = fx.qe_2023.len;
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
		m = fx.coll_2023;
		m.tcb_signing_chain = fx.signing.p + 900; /* only the root: not a signer */
		m.tcb_signing_chain_len = fx.signing.len - 900;
		assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	}
	blob_free(&q);
	blob_free(&spr);
}

/* One byte changed inside the signed JSON value, or in the signature. */
static void collateral_tampered(void **state)
{
	struct blob q = vec_read("tdx/trustee-v4/quote.dat");
	struct kg_tdx_claims c;
	struct blob t;
	char *p;

	(void)state;
	t = blob_dup(fx.tcb_2023.p, fx.tcb_2023.len);
	p = strstr((char *)t.p, "\"pcesvn\":11");
	assert_non_null(p);
	p[10] = '2'; /* pcesvn 12: still valid JSON, no longer Intel's */
	struct kg_tdx_collateral m = fx.coll_2023;
	m.tcb_info = t.p;
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	memcpy(t.p, fx.tcb_2023.p, t.len);
	p = strstr((char *)t.p, "\"signature\":\"f6");
	p[13] = 'e';
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	blob_free(&t);

	t = blob_dup(fx.qe_2023.p, fx.qe_2023.len);
	p = strstr((char *)t.p, "\"isvsvn\":4");
	p[9] = '3';
	m = fx.coll_2023;
	m.qe_identity = t.p;
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	blob_free(&t);

	/* A CRL byte. */
	t = blob_dup(fx.pck_crl.p, fx.pck_crl.len);
	t.p[t.len - 10] ^= 1;
	m = fx.coll_2023;
	m.pck_crl = t.p;
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	blob_free(&t);
	t = blob_dup(fx.root_crl.p, fx.root_crl.len);
	t.p[t.len - 10] ^= 1;
	m = fx.coll_2023;
	m.root_crl = t.p;
	assert_int_equal(kg_tdx_verify(fx.intel, q.p, q.len, &m, T_2023, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	blob_free(&t);
	blob_free(&q);
}

/* Every collateral file's signature verifies under the Intel TCB signing
 * key (EXPECTED §2, [checked]); dates as EXPECTED says. */
static void collateral_signatures(void **state)
{
	BIO *b = BIO_new_mem_buf(fx.signing.p, (int)fx.signing.len);
	X509 *signer = PEM_read_bio_X509(b, NULL, NULL, NULL);
	struct blob *tcbs[] = {&fx.tcb_2023, &fx.tcb_v5, &fx.tcb_a06d}, *qes[] = {&fx.qe_2023, &fx.qe_a06d};

	(void)state;
	assert_non_null(signer);
	for (int i = 0; i < 5; i++) {
		struct kg_tdx_signed sig;
		struct kg_tdx_tcb_info *ti = NULL;
		struct kg_tdx_qe_identity *qi = NULL;
		if (i < 3)
			assert_int_equal(kg_tdx_tcb_info_parse(tcbs[i]->p, tcbs[i]->len, &ti, &sig), KG_OK);
		else
			assert_int_equal(kg_tdx_qe_identity_parse(qes[i - 3]->p, qes[i - 3]->len, &qi, &sig), KG_OK);
		/* The signed bytes are exactly the value's text. */
		assert_true(sig.body[0] == '{' && sig.body[sig.body_len - 1] == '}');
		assert_memory_equal(sig.body - 2, "\":", 2);

		ECDSA_SIG *es = ECDSA_SIG_new();
		unsigned char *der = NULL;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig.sig, 32, NULL), BN_bin2bn(sig.sig + 32, 32, NULL));
		int dl = i2d_ECDSA_SIG(es, &der);
		assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(signer)), 1);
		assert_int_equal(EVP_DigestVerify(md, der, (size_t)dl, sig.body, sig.body_len), 1);
		EVP_MD_CTX_free(md);
		OPENSSL_free(der);
		ECDSA_SIG_free(es);
		if (ti) {
			assert_int_equal(ti->version, 3);
			assert_int_equal(ti->n_levels, i == 0 ? 2 : i == 1 ? 3 : 2);
		}
		free(ti);
		free(qi);
	}
	X509_free(signer);
	BIO_free(b);
}

/* ------------------------------------------------------------------------
 * TCB evaluation against the vectors' collateral (EXPECTED [derived])
 */

static void evaluate(const char *quote, const struct blob *tcb, const struct blob *qe, kg_err want,
		     struct kg_tdx_claims *c)
{
	struct blob q = vec_read(quote);
	struct kg_tdx_quote pq;
	struct kg_tdx_tcb_info *ti = NULL;
	struct kg_tdx_qe_identity *qi = NULL;
	struct kg_tdx_signed sig;
	struct kg_tdx_pck_info pck;
	const char *b, *e;
	BIO *bio;
	X509 *leaf;
	unsigned char *der = NULL;
	int dl;

	if (strstr(quote, "gtg-v4-spr"))
		q.len = 4935; /* without its trailing text */
	assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_OK);
	b = (const char *)pq.pck_chain;
	e = strstr(b, "-----END CERTIFICATE-----");
	bio = BIO_new_mem_buf(b, (int)(e - b) + 25);
	leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(leaf);
	dl = i2d_X509(leaf, &der);
	assert_int_equal(kg_tdx_pck_info_from_der(der, (size_t)dl, &pck), KG_OK);
	assert_int_equal(kg_tdx_tcb_info_parse(tcb->p, tcb->len, &ti, &sig), KG_OK);
	assert_int_equal(kg_tdx_qe_identity_parse(qe->p, qe->len, &qi, &sig), KG_OK);
	memset(c, 0, sizeof *c);
	assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, ti, qi, c), want);

	/* Reason codes of the evaluation, on copies of the documents. */
	if (want == KG_OK) {
		struct kg_tdx_claims x;
		struct kg_tdx_tcb_info *t2 = malloc(sizeof *t2);
		struct kg_tdx_qe_identity *q2 = malloc(sizeof *q2);
		*t2 = *ti;
		t2->fmspc[5] ^= 1;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x), KG_ERR_TDX_FMSPC);
		*t2 = *ti;
		t2->pce_id[0] ^= 1;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x), KG_ERR_TDX_FMSPC);
		*t2 = *ti;
		t2->module_mrsigner[0] ^= 1;
		for (size_t i = 0; i < t2->n_ids; i++)
			t2->ids[i].mrsigner[0] ^= 1;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x), KG_ERR_TDX_MODULE);
		*t2 = *ti;
		memset(t2->module_attributes, 0xff, 8);
		for (size_t i = 0; i < t2->n_ids; i++)
			memset(t2->ids[i].attributes, 0xff, 8);
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x), KG_ERR_TDX_MODULE);
		*t2 = *ti;
		for (size_t i = 0; i < t2->n_levels; i++)
			t2->levels[i].pcesvn = 0xffff;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x),
				 KG_ERR_TDX_TCB_UNSUPPORTED);
		*q2 = *qi;
		q2->mrsigner[31] ^= 1;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, ti, q2, &x),
				 KG_ERR_TDX_QE_IDENTITY);
		*q2 = *qi;
		q2->isvprodid++;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, ti, q2, &x),
				 KG_ERR_TDX_QE_IDENTITY);
		*q2 = *qi;
		q2->miscselect = 1;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, ti, q2, &x),
				 KG_ERR_TDX_QE_IDENTITY);
		*q2 = *qi;
		q2->attributes[0] ^= 0x01;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, ti, q2, &x),
				 KG_ERR_TDX_QE_IDENTITY);
		/* A QE below every level is Revoked (QVL). */
		*q2 = *qi;
		for (size_t i = 0; i < q2->n_levels; i++)
			q2->levels[i].isvsvn = 0xffff;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, ti, q2, &x), KG_OK);
		assert_int_equal(x.qe_status, KG_TDX_TCB_REVOKED);
		assert_int_equal(x.tcb_status, KG_TDX_TCB_REVOKED);
		/* Statuses combine: a platform level marked
		 * ConfigurationNeeded plus an OutOfDate QE. */
		*t2 = *ti;
		for (size_t i = 0; i < t2->n_levels; i++)
			t2->levels[i].status = KG_TDX_TCB_CONFIGURATION_NEEDED;
		*q2 = *qi;
		for (size_t i = 0; i < q2->n_levels; i++)
			q2->levels[i].status = KG_TDX_TCB_OUT_OF_DATE;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, q2, &x), KG_OK);
		assert_int_equal(x.tcb_status, KG_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
		for (size_t i = 0; i < t2->n_levels; i++)
			t2->levels[i].status = KG_TDX_TCB_SW_HARDENING_NEEDED;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, q2, &x), KG_OK);
		assert_int_equal(x.tcb_status, KG_TDX_TCB_OUT_OF_DATE);
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x), KG_OK);
		assert_int_equal(x.tcb_status, KG_TDX_TCB_SW_HARDENING_NEEDED);
		/* A revoked SGX level ends the walk there. */
		*t2 = *ti;
		for (size_t i = 0; i < t2->n_levels; i++)
			t2->levels[i].status = KG_TDX_TCB_REVOKED;
		assert_int_equal(kg_tdx_tcb_evaluate(&pq.body, &pq.qe_report, &pck, t2, qi, &x), KG_OK);
		assert_int_equal(x.tcb_status, KG_TDX_TCB_REVOKED);
		free(t2);
		free(q2);
	}
	OPENSSL_free(der);
	X509_free(leaf);
	BIO_free(bio);
	free(ti);
	free(qi);
	blob_free(&q);
}

static void tcb_levels(void **state)
{
	struct kg_tdx_claims c;

	(void)state;
	/* §2.4: trustee-v4 against the 2023 collateral: level 0. */
	evaluate("tdx/trustee-v4/quote.dat", &fx.tcb_2023, &fx.qe_2023, KG_OK, &c);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE);
	/* §2.1: gtg-v4-spr matches no level. */
	evaluate("tdx/gtg-v4-spr/quote.dat", &fx.tcb_2023, &fx.qe_2023, KG_ERR_TDX_TCB_UNSUPPORTED, &c);
	/* §2.2: gtg-v5 with its 2026 TCB info: platform level 0 UpToDate,
	 * module TDX_01 with SVN 11 >= 6 UpToDate, QE 7 >= 4 UpToDate. */
	evaluate("tdx/gtg-v5/quote.dat", &fx.tcb_v5, &fx.qe_2023, KG_OK, &c);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(c.platform_status, KG_TDX_TCB_UP_TO_DATE);
	assert_true(c.module_evaluated);
	assert_int_equal(c.module_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(c.tcb_eval_data_number, 18);
	/* §2.5: trustee-v5 under the same: SGX SVNs below every level. */
	evaluate("tdx/trustee-v5/quote.dat", &fx.tcb_v5, &fx.qe_2023, KG_ERR_TDX_TCB_UNSUPPORTED, &c);
	/* §2.6: PCESVN 11 < 13 drops to level 1, OutOfDate, with its
	 * advisories; module TDX_03 UpToDate; QE UpToDate. */
	evaluate("tdx/trustee-v4-fmspc00a06d/quote.dat", &fx.tcb_a06d, &fx.qe_a06d, KG_OK, &c);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_OUT_OF_DATE);
	assert_int_equal(c.platform_status, KG_TDX_TCB_OUT_OF_DATE);
	assert_int_equal(c.module_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(c.qe_status, KG_TDX_TCB_UP_TO_DATE);
	assert_true(c.tcb_date == 1515024000); /* 2018-01-04 */
	assert_int_equal(c.n_advisories, 0); /* this file lists none */
	/* Advisory IDs: trustee-v4 with level 0 out of its reach falls to the
	 * 2018 level and its 13 advisories (the edited JSON is not checked
	 * for its signature here). */
	{
		struct blob t = blob_dup(fx.tcb_2023.p, fx.tcb_2023.len);
		char *p = strstr((char *)t.p, "\"pcesvn\":11");
		p[10] = '9';
		evaluate("tdx/trustee-v4/quote.dat", &t, &fx.qe_2023, KG_OK, &c);
		assert_int_equal(c.tcb_status, KG_TDX_TCB_OUT_OF_DATE);
		assert_int_equal(c.n_advisories, 13);
		assert_string_equal(c.advisories[0], "INTEL-SA-00106");
		assert_string_equal(c.advisories[12], "INTEL-SA-00477");
		blob_free(&t);
	}
	/* Another platform's TCB info. */
	evaluate("tdx/trustee-v4/quote.dat", &fx.tcb_a06d, &fx.qe_2023, KG_ERR_TDX_FMSPC, &c);
}

/* The 2025/2026 vectors at their own times: the crypto verifies; the
 * collateral the tree holds is stale there (signing cert, CRLs). */
static void later_vectors_collateral(void **state)
{
	struct blob q5 = vec_read("tdx/gtg-v5/quote.dat"), q6 = vec_read("tdx/trustee-v4-fmspc00a06d/quote.dat");
	struct kg_tdx_collateral m = fx.coll_2023;
	struct kg_tdx_claims c;

	(void)state;
	m.tcb_info = fx.tcb_v5.p;
	m.tcb_info_len = fx.tcb_v5.len;
	assert_int_equal(kg_tdx_verify(fx.intel, q5.p, q5.len, &m, T_2026_02_03, &c), KG_ERR_TDX_COLLATERAL_EXPIRED);
	m.tcb_info = fx.tcb_a06d.p;
	m.tcb_info_len = fx.tcb_a06d.len;
	m.qe_identity = fx.qe_a06d.p;
	m.qe_identity_len = fx.qe_a06d.len;
	assert_int_equal(kg_tdx_verify(fx.intel, q6.p, q6.len, &m, T_2025_11, &c), KG_ERR_TDX_COLLATERAL_EXPIRED);
	blob_free(&q5);
	blob_free(&q6);
}

/* ------------------------------------------------------------------------
 * Negative: single-byte changes and every parser reason code
 */

static void single_bytes(void **state)
{
	struct blob q = vec_read("tdx/trustee-v4/quote.dat");
	struct kg_tdx_quote pq;
	struct kg_tdx_claims c;
	size_t qe_at, auth_at, chain_at;

	(void)state;
	assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_OK);
	qe_at = (size_t)(pq.qe_report_raw - q.p);
	auth_at = (size_t)(pq.qe_auth_data - q.p);
	chain_at = (size_t)(pq.pck_chain - q.p);
	/* Every byte the quote signature covers. */
	for (size_t i = 0; i < pq.signed_len; i++) {
		kg_err e;
		q.p[i] ^= 0x01;
		e = kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c);
		q.p[i] ^= 0x01;
		if (i >= 48) /* the TD report body */
			assert_int_equal(e, KG_ERR_TDX_SIGNATURE);
		else
			assert_int_not_equal(e, KG_OK);
	}
	/* The signature, the attestation key. */
	for (size_t i = 0; i < 128; i++) {
		kg_err e;
		q.p[pq.signed_len + 4 + i] ^= 0x80;
		e = kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c);
		q.p[pq.signed_len + 4 + i] ^= 0x80;
		assert_int_equal(e, i < 64 ? KG_ERR_TDX_SIGNATURE : KG_ERR_TDX_QE_BINDING);
	}
	/* Every byte of the QE report and its signature. */
	for (size_t i = 0; i < KG_TDX_QE_REPORT_SIZE + 64; i++) {
		q.p[qe_at + i] ^= 0x04;
		assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_ERR_TDX_QE_REPORT);
		q.p[qe_at + i] ^= 0x04;
	}
	/* The QE authentication data. */
	for (size_t i = 0; i < pq.qe_auth_len; i++) {
		q.p[auth_at + i] ^= 0x10;
		assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_ERR_TDX_QE_BINDING);
		q.p[auth_at + i] ^= 0x10;
	}
	/* The PCK chain: a base64 character in each certificate's signature,
	 * and in the leaf's SGX extension area. */
	{
		const char *s = (const char *)q.p + chain_at, *end;
		int k = 0;
		while ((end = strstr(s, "-----END CERTIFICATE-----")) != NULL && k < 3) {
			char *x = (char *)end - 20;
			char o = *x;
			*x = o == 'A' ? 'B' : 'A';
			kg_err e = kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c);
			*x = o;
			assert_int_equal(e, k == 2 ? KG_ERR_TDX_UNTRUSTED_ROOT : KG_ERR_TDX_PCK_CHAIN);
			s = end + 1;
			k++;
		}
		assert_int_equal(k, 3);
		char *x = (char *)q.p + chain_at + 600;
		char o = *x;
		*x = o == 'A' ? 'B' : 'A';
		assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_ERR_TDX_PCK_CHAIN);
		*x = o;
	}
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q.p, q.len, T_2023, &c), KG_OK);
	blob_free(&q);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static kg_err parse_mod(const struct blob *src, size_t at, const void *bytes, size_t n)
{
	struct blob b = blob_dup(src->p, src->len);
	struct kg_tdx_quote pq;
	kg_err e;

	memcpy(b.p + at, bytes, n);
	e = kg_tdx_quote_parse(b.p, b.len, &pq);
	if (e != KG_OK)
		assert_true(all_zero(&pq, sizeof pq));
	blob_free(&b);
	return e;
}

static void parser_codes(void **state)
{
	struct blob q = vec_read("tdx/trustee-v4/quote.dat"), q5 = vec_read("tdx/trustee-v5/quote.dat");
	struct kg_tdx_quote pq;
	uint8_t w[4];
	size_t sig_at = 632, type6_at = 632 + 4 + 128, type5_at;

	(void)state;
	assert_int_equal(kg_tdx_quote_parse(q.p, q.len, &pq), KG_OK);
	type5_at = (size_t)(pq.pck_chain - q.p) - 6;
	put16(w, 3);
	assert_int_equal(parse_mod(&q, 0, w, 2), KG_ERR_TDX_VERSION);
	put16(w, 6);
	assert_int_equal(parse_mod(&q, 0, w, 2), KG_ERR_TDX_VERSION);
	put16(w, 3); /* ECDSA P-384 */
	assert_int_equal(parse_mod(&q, 2, w, 2), KG_ERR_TDX_ATT_KEY_TYPE);
	put32(w, 0); /* SGX */
	assert_int_equal(parse_mod(&q, 4, w, 4), KG_ERR_TDX_TEE_TYPE);
	w[0] = 0x94;
	assert_int_equal(parse_mod(&q, 12, w, 1), KG_ERR_TDX_QE_VENDOR);
	put16(w, 1); /* v5 body type 1: SGX enclave report */
	assert_int_equal(parse_mod(&q5, 48, w, 2), KG_ERR_TDX_BODY_TYPE);
	put16(w, 4);
	assert_int_equal(parse_mod(&q5, 48, w, 2), KG_ERR_TDX_BODY_TYPE);
	put32(w, 584); /* type 3 with the 1.0 size */
	assert_int_equal(parse_mod(&q5, 50, w, 4), KG_ERR_TDX_QUOTE_MALFORMED);
	put16(w, 5);
	assert_int_equal(parse_mod(&q, type6_at, w, 2), KG_ERR_TDX_CERT_TYPE);
	put16(w, 1);
	assert_int_equal(parse_mod(&q, type5_at, w, 2), KG_ERR_TDX_CERT_TYPE);
	/* Lengths that do not account for their content. */
	put32(w, 4299);
	assert_int_equal(parse_mod(&q, sig_at, w, 4), KG_ERR_TDX_QUOTE_MALFORMED);
	put32(w, 4301);
	assert_int_equal(parse_mod(&q, sig_at, w, 4), KG_ERR_TDX_QUOTE_MALFORMED);
	put32(w, 4165);
	assert_int_equal(parse_mod(&q, type6_at + 2, w, 4), KG_ERR_TDX_QUOTE_MALFORMED);
	put16(w, 33); /* QE auth data one longer: the next field is misread */
	assert_int_equal(parse_mod(&q, type6_at + 6 + 384 + 64, w, 2), KG_ERR_TDX_CERT_TYPE);
	put16(w, 0xffff); /* past the end of the type-6 data */
	assert_int_equal(parse_mod(&q, type6_at + 6 + 384 + 64, w, 2), KG_ERR_TDX_QUOTE_MALFORMED);
	put32(w, 0);
	assert_int_equal(parse_mod(&q, type5_at + 2, w, 4), KG_ERR_TDX_QUOTE_MALFORMED);
	put32(w, 0xffffffff);
	assert_int_equal(parse_mod(&q, type5_at + 2, w, 4), KG_ERR_TDX_QUOTE_MALFORMED);
	/* Every truncation is malformed. */
	for (size_t n = 0; n < q.len; n += (n < 700 ? 1 : 97))
		assert_int_equal(kg_tdx_quote_parse(q.p, n, &pq), KG_ERR_TDX_QUOTE_MALFORMED);
	assert_int_equal(kg_tdx_quote_parse(NULL, 0, &pq), KG_ERR_TDX_QUOTE_MALFORMED);
	/* Padding: zeros accepted up to the limit; one non-zero byte not. */
	{
		struct blob big = {calloc(1, KG_TDX_QUOTE_MAX + 1), KG_TDX_QUOTE_MAX};
		memcpy(big.p, q.p, q.len);
		assert_int_equal(kg_tdx_quote_parse(big.p, big.len, &pq), KG_OK);
		assert_int_equal(pq.padding_len, KG_TDX_QUOTE_MAX - q.len);
		big.p[KG_TDX_QUOTE_MAX - 1] = 1;
		assert_int_equal(kg_tdx_quote_parse(big.p, big.len, &pq), KG_ERR_TRAILING_BYTES);
		big.p[KG_TDX_QUOTE_MAX - 1] = 0;
		assert_int_equal(kg_tdx_quote_parse(big.p, KG_TDX_QUOTE_MAX + 1, &pq), KG_ERR_TOO_LARGE);
		blob_free(&big);
	}
	/* An SGX quote through the common interface: tag 60000 maps to TDX,
	 * and the TDX verifier refuses it. */
	{
		struct kg_attest *a = NULL;
		struct kg_claims *cl = calloc(1, sizeof *cl);
		struct blob b = blob_dup(q.p, q.len);
		put32(b.p + 4, 0);
		assert_int_equal(kg_attest_tee_for_tag(60000), KG_TEE_TDX);
		assert_int_equal(kg_attest_new(&a, NULL), KG_OK);
		assert_int_equal(kg_attest_verify(a, KG_TEE_TDX, b.p, b.len, NULL, T_2023, cl), KG_ERR_TDX_TEE_TYPE);
		kg_attest_free(a);
		free(cl);
		blob_free(&b);
	}
	blob_free(&q);
	blob_free(&q5);
}

/* Collateral parser reason codes on crafted documents. */
static void collateral_parser(void **state)
{
	static const char *const bad[] = {
		"",
		"{}",
		"[]",
		"{\"tcbInfo\":{},\"signature\":\"00\"}",
		"{\"tcbInfo\":{\"id\":\"TDX\"},\"signature\":\"00\",\"x\":1}",
		"{\"tcbInfo\":{\"id\":\"TDX\"},\"tcbInfo\":{},\"signature\":\"00\"}",
		"{\"tcbInfo\":1,\"signature\":\"" /* not an object */,
	};
	struct kg_tdx_tcb_info *ti = NULL;
	struct kg_tdx_qe_identity *qi = NULL;
	struct kg_tdx_signed sig;
	struct blob t;
	char *p;
	time_t tt;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kg_tdx_tcb_info_parse((const uint8_t *)bad[i], strlen(bad[i]), &ti, &sig),
				 KG_ERR_TDX_COLLATERAL_INVALID);
	/* Each a valid document with one field wrong. */
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"\"id\":\"TDX\"", "\"id\":\"SGX\""},
		{"\"version\":3", "\"version\":2"},
		{"\"fmspc\":\"50806f000000\"", "\"fmspc\":\"50806f0000\"  "},
		{"\"pceId\":\"0000\"", "\"pceId\":\"00g0\""},
		{"\"tcbType\":0", "\"tcbType\":1"},
		{"\"issueDate\":\"2023-06-18T08:42:58Z\"", "\"issueDate\":\"2023-06-18 08:42:58Z\""},
		{"\"nextUpdate\":\"2023-07-18T08:42:58Z\"", "\"nextUpdate\":\"2023-06-18T08:42:58Z\""},
		{"\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"UpToDat\" "},
		{"{\"svn\":0}]", "{\"svn\":0},{}]"},
		{"\"pcesvn\":11", "\"pcesvn\":-1"},
		{"\"svn\":5,", "\"svn\":256,"},
		{"\"INTEL-SA-00106\"", "\"INTEL SA 00106\""},
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		size_t fl = strlen(edits[i].from), tl = strlen(edits[i].to);
		t.p = malloc(fx.tcb_2023.len + 16);
		p = strstr(memcpy(t.p, fx.tcb_2023.p, fx.tcb_2023.len), edits[i].from);
		t.len = fx.tcb_2023.len;
		assert_non_null(p);
		memmove(p + tl, p + fl, t.len - (size_t)((uint8_t *)p - t.p) - fl);
		memcpy(p, edits[i].to, tl);
		t.len = t.len - fl + tl;
		assert_int_equal(kg_tdx_tcb_info_parse(t.p, t.len, &ti, &sig), KG_ERR_TDX_COLLATERAL_INVALID);
		assert_null(ti);
		blob_free(&t);
	}
	/* Whitespace around the value is outside the signed bytes. */
	t.p = malloc(fx.qe_2023.len + 8);
	memcpy(t.p, "{ \"enclaveIdentity\" :  ", 23);
	memcpy(t.p + 23, fx.qe_2023.p + 19, fx.qe_2023.len - 19);
	t.len = fx.qe_2023.len + 4;
	{
		struct kg_tdx_signed orig;
		assert_int_equal(kg_tdx_qe_identity_parse(fx.qe_2023.p, fx.qe_2023.len, &qi, &orig), KG_OK);
		free(qi);
		qi = NULL;
		assert_int_equal(kg_tdx_qe_identity_parse(t.p, t.len, &qi, &sig), KG_OK);
		assert_true(sig.body == t.p + 23 && sig.body_len == orig.body_len);
	}
	free(qi);
	qi = NULL;
	blob_free(&t);
	assert_int_equal(kg_tdx_qe_identity_parse(fx.tcb_2023.p, fx.tcb_2023.len, &qi, &sig),
			 KG_ERR_TDX_COLLATERAL_INVALID);
	t.p = calloc(1, KG_TDX_COLLATERAL_MAX + 1);
	t.len = KG_TDX_COLLATERAL_MAX + 1;
	assert_int_equal(kg_tdx_tcb_info_parse(t.p, t.len, &ti, &sig), KG_ERR_TOO_LARGE);
	blob_free(&t);
	/* Dates. */
	assert_true(kg_tdx_date_parse("2023-06-18T08:42:58Z", &tt) && tt == 1687077778);
	assert_false(kg_tdx_date_parse("2023-13-18T08:42:58Z", &tt));
	assert_false(kg_tdx_date_parse("2023-06-18T08:42:58", &tt));
	assert_false(kg_tdx_date_parse("2023-06-18T08:42:58+00:00", &tt));
	assert_false(kg_tdx_date_parse("+023-06-18T08:42:58Z", &tt));
}

static void pck_extensions(void **state)
{
	struct blob r = vec_read("tdx/intel-roots/Intel_SGX_Root_CA.pem");
	BIO *b = BIO_new_mem_buf(r.p, (int)r.len);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	unsigned char *der = NULL;
	int dl = i2d_X509(x, &der);
	struct kg_tdx_pck_info info;

	(void)state;
	/* A certificate without SGX extensions. */
	assert_int_equal(kg_tdx_pck_info_from_der(der, (size_t)dl, &info), KG_ERR_TDX_PCK_EXT);
	assert_int_equal(kg_tdx_pck_info_from_der(der, (size_t)dl - 1, &info), KG_ERR_TDX_PCK_CHAIN);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	blob_free(&r);
}

/* ------------------------------------------------------------------------
 * A test PKI: revocation, untrusted roots, the root pin
 */

static EVP_PKEY *p256(void) { return EVP_EC_gen("P-256"); }

static X509 *make_cert(const char *cn, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key, bool ca, long serial,
		       const uint8_t *sgx_ext, size_t sgx_ext_len)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Keygate Test", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	ASN1_TIME_set(X509_getm_notBefore(x), 1577836800);   /* 2020 */
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)2208988800LL); /* 2040 */
	X509_set_pubkey(x, key);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (sgx_ext) {
		ASN1_OBJECT *o = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING_set(os, sgx_ext, (int)sgx_ext_len);
		e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(o);
	}
	X509_sign(x, issuer_key, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, const long *serials, size_t n)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	ASN1_TIME_set(t, 1685577600); /* 2023-06-01 */
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_set(t, 1690848000); /* 2023-08-01 */
	X509_CRL_set1_nextUpdate(crl, t);
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, serials[i]);
		X509_REVOKED_set_serialNumber(r, s);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, key, EVP_sha256());
	ASN1_TIME_free(t);
	return crl;
}

/* DER TLV into out (room is the caller's). */
static size_t tlv(uint8_t *out, uint8_t tag, const uint8_t *v, size_t n)
{
	size_t h = 0;
	out[h++] = tag;
	if (n < 128) {
		out[h++] = (uint8_t)n;
	} else if (n < 256) {
		out[h++] = 0x81;
		out[h++] = (uint8_t)n;
	} else {
		out[h++] = 0x82;
		out[h++] = (uint8_t)(n >> 8);
		out[h++] = (uint8_t)n;
	}
	memmove(out + h, v, n);
	return h + n;
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<sub>, value } */
static size_t oid_pair(uint8_t *out, const char *sub, const uint8_t *val, size_t vl)
{
	char txt[64];
	uint8_t body[2048], oid[32];
	unsigned char *op = oid;
	snprintf(txt, sizeof txt, "1.2.840.113741.1.13.1.%s", sub);
	ASN1_OBJECT *o = OBJ_txt2obj(txt, 1);
	size_t ol = (size_t)i2d_ASN1_OBJECT(o, &op);
	ASN1_OBJECT_free(o);
	memcpy(body, oid, ol);
	memcpy(body + ol, val, vl);
	return tlv(out, 0x30, body, ol + vl);
}

static size_t sgx_ext(uint8_t *out, const uint8_t comps[16], uint16_t pcesvn, const uint8_t fmspc[6])
{
	uint8_t tcb[1024], items[1536], v[64], all[2048];
	size_t tl = 0, il = 0, vl;
	static const uint8_t ppid[16] = {1, 2, 3}, cpusvn[16] = {5, 5}, pceid[2] = {0, 0};

	for (int k = 1; k <= 16; k++) {
		char sub[8];
		uint8_t ival = comps[k - 1];
		snprintf(sub, sizeof sub, "2.%d", k);
		vl = ival >= 0x80 ? tlv(v, 0x02, (uint8_t[]){0, ival}, 2) : tlv(v, 0x02, &ival, 1);
		tl += oid_pair(tcb + tl, sub, v, vl);
	}
	assert_true(pcesvn < 0x80); /* one-byte minimal INTEGER is all the tests need */
	vl = tlv(v, 0x02, (uint8_t[]){(uint8_t)pcesvn}, 1);
	tl += oid_pair(tcb + tl, "2.17", v, vl);
	vl = tlv(v, 0x04, cpusvn, 16);
	tl += oid_pair(tcb + tl, "2.18", v, vl);
	vl = tlv(v, 0x04, ppid, 16);
	il += oid_pair(items + il, "1", v, vl);
	il += oid_pair(items + il, "2", all, tlv(all, 0x30, tcb, tl));
	vl = tlv(v, 0x04, pceid, 2);
	il += oid_pair(items + il, "3", v, vl);
	vl = tlv(v, 0x04, fmspc, 6);
	il += oid_pair(items + il, "4", v, vl);
	vl = tlv(v, 0x0a, (uint8_t[]){0}, 1);
	il += oid_pair(items + il, "5", v, vl);
	return tlv(out, 0x30, items, il);
}

static void pem_append(struct blob *b, X509 *x)
{
	BIO *m = BIO_new(BIO_s_mem());
	char *d;
	long n;
	PEM_write_bio_X509(m, x);
	n = BIO_get_mem_data(m, &d);
	b->p = realloc(b->p, b->len + (size_t)n);
	memcpy(b->p + b->len, d, (size_t)n);
	b->len += (size_t)n;
	BIO_free(m);
}

static struct blob crl_der(X509_CRL *c)
{
	struct blob b = {NULL, 0};
	unsigned char *d = NULL;
	int n = i2d_X509_CRL(c, &d);
	b = blob_dup(d, (size_t)n);
	OPENSSL_free(d);
	return b;
}

static void sign_rs(EVP_PKEY *k, const uint8_t *m, size_t n, uint8_t rs[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t dl = sizeof der;
	const unsigned char *p = der;
	const BIGNUM *r, *s;

	EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(md, der, &dl, m, n);
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	ECDSA_SIG_get0(sig, &r, &s);
	BN_bn2binpad(r, rs, 32);
	BN_bn2binpad(s, rs + 32, 32);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
}

/* Intel's JSON value re-signed by the test signing key. */
static struct blob resign(const struct blob *doc, bool tcb, EVP_PKEY *k)
{
	struct kg_tdx_signed sig;
	struct kg_tdx_tcb_info *ti = NULL;
	struct kg_tdx_qe_identity *qi = NULL;
	uint8_t rs[64];
	char hex[129];
	struct blob b;

	if (tcb)
		assert_int_equal(kg_tdx_tcb_info_parse(doc->p, doc->len, &ti, &sig), KG_OK);
	else
		assert_int_equal(kg_tdx_qe_identity_parse(doc->p, doc->len, &qi, &sig), KG_OK);
	sign_rs(k, sig.body, sig.body_len, rs);
	kg_hex(hex, rs, 64);
	b.p = malloc(sig.body_len + 256);
	b.len = (size_t)sprintf((char *)b.p, "{\"%s\":", tcb ? "tcbInfo" : "enclaveIdentity");
	memcpy(b.p + b.len, sig.body, sig.body_len);
	b.len += sig.body_len;
	b.len += (size_t)sprintf((char *)b.p + b.len, ",\"signature\":\"%s\"}", hex);
	free(ti);
	free(qi);
	return b;
}

struct pki {
	EVP_PKEY *root_k, *ca_k, *leaf_k, *sign_k, *ak;
	X509 *root, *ca, *leaf, *signer;
	char root_path[64];
	struct blob quote, chain, signing, tcb, qe;
};

static void pki_make(struct pki *k)
{
	static const uint8_t comps[16] = {5, 5, 2, 2, 3, 1, 0, 3}, fmspc[6] = {0x50, 0x80, 0x6f, 0, 0, 0};
	uint8_t ext[2048];
	size_t el = sgx_ext(ext, comps, 11, fmspc);
	struct blob real = vec_read("tdx/trustee-v4/quote.dat");
	struct kg_tdx_quote pq;
	uint8_t qe[384], auth[32] = {7}, h[32], ak_xy[65], *q;
	size_t akl = sizeof ak_xy, at = 0;
	FILE *f;

	memset(k, 0, sizeof *k);
	k->root_k = p256();
	k->ca_k = p256();
	k->leaf_k = p256();
	k->sign_k = p256();
	k->ak = p256();
	k->root = make_cert("Intel SGX Root CA", NULL, k->root_k, k->root_k, true, 1, NULL, 0);
	k->ca = make_cert("Intel SGX PCK Platform CA", k->root, k->root_k, k->ca_k, true, 2, NULL, 0);
	k->leaf = make_cert("Intel SGX PCK Certificate", k->ca, k->ca_k, k->leaf_k, false, 3, ext, el);
	k->signer = make_cert("Intel SGX TCB Signing", k->root, k->root_k, k->sign_k, false, 4, NULL, 0);
	pem_append(&k->chain, k->leaf);
	pem_append(&k->chain, k->ca);
	pem_append(&k->chain, k->root);
	pem_append(&k->signing, k->signer);
	pem_append(&k->signing, k->root);
	k->tcb = resign(&fx.tcb_2023, true, k->sign_k);
	k->qe = resign(&fx.qe_2023, false, k->sign_k);
	snprintf(k->root_path, sizeof k->root_path, "/tmp/kg-test-tdx-root-%d.pem", (int)getpid());
	f = fopen(k->root_path, "w");
	PEM_write_X509(f, k->root);
	fclose(f);

	/* The real quote's header and body under a new attestation key, a
	 * QE report binding it, signed by the test PCK. */
	assert_int_equal(kg_tdx_quote_parse(real.p, real.len, &pq), KG_OK);
	EVP_PKEY_get_octet_string_param(k->ak, "pub", ak_xy, sizeof ak_xy, &akl);
	assert_int_equal(akl, 65);
	memcpy(qe, pq.qe_report_raw, 384);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, ak_xy + 1, 64);
	EVP_DigestUpdate(md, auth, 32);
	EVP_DigestFinal_ex(md, h, NULL);
	EVP_MD_CTX_free(md);
	memcpy(qe + 0x140, h, 32);
	memset(qe + 0x160, 0, 32);
	k->quote.len = 632 + 4 + 128 + 6 + 384 + 64 + 2 + 32 + 6 + k->chain.len;
	q = k->quote.p = calloc(1, k->quote.len);
	memcpy(q, real.p, 632);
	at = 632;
	put32(q + at, (uint32_t)(k->quote.len - 636));
	at += 4;
	sign_rs(k->ak, q, 632, q + at);
	memcpy(q + at + 64, ak_xy + 1, 64);
	at += 128;
	put16(q + at, 6);
	put32(q + at + 2, (uint32_t)(384 + 64 + 2 + 32 + 6 + k->chain.len));
	at += 6;
	memcpy(q + at, qe, 384);
	sign_rs(k->leaf_k, qe, 384, q + at + 384);
	at += 448;
	put16(q + at, 32);
	memcpy(q + at + 2, auth, 32);
	at += 34;
	put16(q + at, 5);
	put32(q + at + 2, (uint32_t)k->chain.len);
	memcpy(q + at + 6, k->chain.p, k->chain.len);
	blob_free(&real);
}

static void pki_free(struct pki *k)
{
	EVP_PKEY_free(k->root_k);
	EVP_PKEY_free(k->ca_k);
	EVP_PKEY_free(k->leaf_k);
	EVP_PKEY_free(k->sign_k);
	EVP_PKEY_free(k->ak);
	X509_free(k->root);
	X509_free(k->ca);
	X509_free(k->leaf);
	X509_free(k->signer);
	unlink(k->root_path);
	blob_free(&k->quote);
	blob_free(&k->chain);
	blob_free(&k->signing);
	blob_free(&k->tcb);
	blob_free(&k->qe);
}

static kg_err pki_verify(struct kg_tdx_verifier *v, struct pki *k, const long *root_rev, size_t nr,
			 const long *pck_rev, size_t np, X509_CRL *pck_crl_override, struct kg_tdx_claims *c)
{
	X509_CRL *rc = make_crl(k->root, k->root_k, root_rev, nr);
	X509_CRL *pc = pck_crl_override ? pck_crl_override : make_crl(k->ca, k->ca_k, pck_rev, np);
	struct blob r = crl_der(rc), p = crl_der(pc);
	struct kg_tdx_collateral coll = {k->tcb.p, k->tcb.len, k->qe.p, k->qe.len, k->signing.p, k->signing.len,
					 r.p,      r.len,      p.p,     p.len};
	kg_err e = kg_tdx_verify(v, k->quote.p, k->quote.len, &coll, T_2023, c);

	X509_CRL_free(rc);
	if (!pck_crl_override)
		X509_CRL_free(pc);
	blob_free(&r);
	blob_free(&p);
	return e;
}

static void test_pki(void **state)
{
	struct pki k;
	struct kg_tdx_verifier *v = NULL;
	struct kg_tdx_claims c;
	static const long leaf = 3, ca = 2, signer = 4, other = 99;

	(void)state;
	pki_make(&k);
	assert_int_equal(kg_tdx_verifier_new(&v, k.root_path), KG_OK);
	assert_int_equal(pki_verify(v, &k, NULL, 0, &other, 1, NULL, &c), KG_OK);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE);
	hex_eq(c.pck_cpusvn, 16, "05050202030100030000000000000000");
	/* Revoked PCK, revoked PCK CA, revoked TCB signer. */
	assert_int_equal(pki_verify(v, &k, NULL, 0, &leaf, 1, NULL, &c), KG_ERR_TDX_PCK_REVOKED);
	assert_true(all_zero(&c, sizeof c));
	assert_int_equal(pki_verify(v, &k, &ca, 1, NULL, 0, NULL, &c), KG_ERR_TDX_PCK_REVOKED);
	assert_int_equal(pki_verify(v, &k, &signer, 1, NULL, 0, NULL, &c), KG_ERR_TDX_COLLATERAL_INVALID);
	/* A PCK CRL signed by someone else under the CA's name. */
	{
		X509_CRL *forged = make_crl(k.ca, k.leaf_k, NULL, 0);
		assert_int_equal(pki_verify(v, &k, NULL, 0, NULL, 0, forged, &c), KG_ERR_TDX_COLLATERAL_INVALID);
		X509_CRL_free(forged);
	}
	/* Collateral signed by Intel does not verify under the test root. */
	{
		X509_CRL *rc = make_crl(k.root, k.root_k, NULL, 0), *pc = make_crl(k.ca, k.ca_k, NULL, 0);
		struct blob r = crl_der(rc), p = crl_der(pc);
		struct kg_tdx_collateral coll = {fx.tcb_2023.p, fx.tcb_2023.len, fx.qe_2023.p, fx.qe_2023.len,
						 fx.signing.p,  fx.signing.len,  r.p,          r.len,
						 p.p,           p.len};
		assert_int_equal(kg_tdx_verify(v, k.quote.p, k.quote.len, &coll, T_2023, &c),
				 KG_ERR_TDX_COLLATERAL_INVALID);
		X509_CRL_free(rc);
		X509_CRL_free(pc);
		blob_free(&r);
		blob_free(&p);
	}
	/* The test chain under Intel's pinned root; real quotes under the
	 * test root. */
	assert_int_equal(kg_tdx_verify_quote(fx.intel, k.quote.p, k.quote.len, T_2023, &c), KG_ERR_TDX_UNTRUSTED_ROOT);
	{
		struct blob q = vec_read("tdx/trustee-v4/quote.dat");
		assert_int_equal(kg_tdx_verify_quote(v, q.p, q.len, T_2023, &c), KG_ERR_TDX_UNTRUSTED_ROOT);
		blob_free(&q);
	}
	kg_tdx_verifier_free(v);
	/* The root file must hold one self-signed certificate. */
	{
		char path[64];
		FILE *f;
		snprintf(path, sizeof path, "/tmp/kg-test-tdx-bad-%d.pem", (int)getpid());
		f = fopen(path, "w");
		PEM_write_X509(f, k.ca);
		fclose(f);
		assert_int_equal(kg_tdx_verifier_new(&v, path), KG_ERR_CONFIG);
		f = fopen(path, "w");
		PEM_write_X509(f, k.root);
		PEM_write_X509(f, k.root);
		fclose(f);
		assert_int_equal(kg_tdx_verifier_new(&v, path), KG_ERR_CONFIG);
		unlink(path);
		assert_int_equal(kg_tdx_verifier_new(&v, "/nonexistent/root.pem"), KG_ERR_IO);
		assert_null(v);
	}
	pki_free(&k);
}

/* The common interface: dispatch, collateral setter, claims JSON. */
static void attest_interface(void **state)
{
	struct kg_attest *a = NULL;
	struct kg_claims *cl = calloc(1, sizeof *cl);
	struct blob q = vec_read("tdx/trustee-v4/quote.dat");
	char *json = NULL;

	(void)state;
	assert_string_equal(kg_tee_name(KG_TEE_TDX), "tdx");
	assert_int_equal(kg_tee_from_name("tdx"), KG_TEE_TDX);
	assert_int_equal(kg_attest_new(&a, NULL), KG_OK);
	assert_int_equal(kg_attest_verify(a, KG_TEE_TDX, q.p, q.len, NULL, T_2023, cl), KG_ERR_TDX_COLLATERAL_MISSING);
	assert_int_equal(kg_attest_set_tdx_collateral(a, &fx.coll_2023), KG_OK);
	assert_int_equal(kg_attest_verify(a, KG_TEE_TDX, q.p, q.len, NULL, T_2023, cl), KG_OK);
	assert_int_equal(cl->tee, KG_TEE_TDX);
	assert_int_equal(cl->measurement_len, 48);
	hex_eq(cl->measurement, 48, reals[2].mrtd);
	hex_eq(cl->report_data, 64, reals[2].report_data);
	assert_true(cl->debug);
	assert_int_equal(kg_claims_to_json(cl, &json), KG_OK);
	assert_non_null(strstr(json, "\"tcb_status\": \"UpToDate\""));
	assert_non_null(strstr(json, "\"fmspc\": \"50806f000000\""));
	assert_non_null(strstr(json, "\"tee\": \"tdx\""));
	free(json);
	assert_int_equal(kg_attest_set_tdx_collateral(a, NULL), KG_OK);
	assert_int_equal(kg_attest_verify(a, KG_TEE_TDX, q.p, q.len, NULL, T_2023, cl), KG_ERR_TDX_COLLATERAL_MISSING);
	assert_int_equal(kg_attest_set_tdx_roots(a, "/nonexistent"), KG_ERR_IO);
	kg_attest_free(a);
	free(cl);
	blob_free(&q);
}

/* ------------------------------------------------------------------------
 * The simulated attester (attest/tdx_sim.c)
 */

static const char *const sim_all_files[] = {
	KG_TDX_SIM_ROOT,	  KG_TDX_SIM_ROOT_KEY,	 KG_TDX_SIM_PCK_CA,	  KG_TDX_SIM_PCK_CA_KEY,
	KG_TDX_SIM_PCK,		  KG_TDX_SIM_PCK_KEY,	 KG_TDX_SIM_TCB_SIGNING, KG_TDX_SIM_TCB_SIGNING_KEY,
	KG_TDX_SIM_ATTEST_KEY,	  KG_TDX_SIM_TCB_INFO,	 KG_TDX_SIM_QE_IDENTITY, KG_TDX_SIM_SIGNING_CHAIN,
	KG_TDX_SIM_ROOT_CRL,	  KG_TDX_SIM_PCK_CRL,	 "quote.dat",
};

/* A fresh directory name for kg_tdx_sim_init to create. */
static void sim_tmpdir(char out[static 96], const char *tag)
{
	char base[] = "/tmp/kg-test-tdxsim-XXXXXX";

	assert_non_null(mkdtemp(base));
	snprintf(out, 96, "%s/%s", base, tag);
}

static void sim_rmdir(const char *dir)
{
	char path[160], *slash;

	for (size_t i = 0; i < sizeof sim_all_files / sizeof sim_all_files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, sim_all_files[i]);
		unlink(path);
	}
	rmdir(dir);
	snprintf(path, sizeof path, "%s", dir);
	if ((slash = strrchr(path, '/')) != NULL) {
		*slash = 0;
		rmdir(path); /* the mkdtemp parent */
	}
}

/* The shared simulator directory (sim_shared), made on first use. */
static const char *sim_dir(void)
{
	if (sim_shared[0] == 0) {
		sim_tmpdir(sim_shared, "sim");
		assert_int_equal(kg_tdx_sim_init(sim_shared), KG_OK);
	}
	return sim_shared;
}

static void sim_root_path(char out[static 128], const char *dir)
{
	snprintf(out, 128, "%s/%s", dir, KG_TDX_SIM_ROOT);
}

static struct kg_tdx_verifier *sim_verifier(const char *dir)
{
	struct kg_tdx_verifier *v = NULL;
	char root[128];

	sim_root_path(root, dir);
	assert_int_equal(kg_tdx_verifier_new(&v, root), KG_OK);
	return v;
}

/* Parameters with every TD field distinct, for claims == params. */
static struct kg_tdx_sim_params sim_params(uint16_t version, uint16_t body_type)
{
	struct kg_tdx_sim_params p = kg_tdx_sim_params_default();

	p.version = version;
	p.body_type = body_type;
	memset(p.mr_td, 0x11, 48);
	for (int i = 0; i < 4; i++)
		memset(p.rtmr[i], 0x20 + i, 48);
	memset(p.mr_config_id, 0x31, 48);
	memset(p.mr_owner, 0x32, 48);
	memset(p.mr_owner_config, 0x33, 48);
	memset(p.mr_seam, 0x44, 48);
	memset(p.mr_service_td, 0x55, 48);
	p.tee_tcb_svn2[0] = 7;
	memset(p.user_data, 0x66, 20);
	return p;
}

static void sim_report_data(uint8_t rd[64], uint8_t seed)
{
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(seed + 3 * i);
}

/* A quote of p verified with dir's collateral at now. */
static kg_err sim_verify(struct kg_tdx_verifier *v, const char *dir, const struct kg_tdx_sim_params *p, time_t now,
			 struct kg_tdx_claims *c)
{
	struct kg_tdx_collateral coll;
	uint8_t rd[64], *q = NULL, *buf = NULL;
	size_t len = 0;
	kg_err e;

	sim_report_data(rd, 9);
	assert_int_equal(kg_tdx_sim_quote(dir, p, rd, &q, &len), KG_OK);
	assert_int_equal(kg_tdx_sim_collateral(dir, &coll, &buf), KG_OK);
	e = kg_tdx_verify(v, q, len, &coll, now, c);
	free(q);
	free(buf);
	return e;
}

static void sim_init_keeps(void **state)
{
	char dir[96], path[160];
	struct blob root1, root2, tcb1, tcb2;
	struct stat st;
	double t0, t_init;

	(void)state;
	sim_tmpdir(dir, "sim");
	t0 = now_s();
	assert_int_equal(kg_tdx_sim_init(dir), KG_OK);
	t_init = now_s() - t0;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	for (size_t i = 0; i < sizeof sim_all_files / sizeof sim_all_files[0] - 1; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, sim_all_files[i]);
		assert_int_equal(stat(path, &st), 0);
		if (strstr(sim_all_files[i], "-key.pem"))
			assert_int_equal(st.st_mode & 0777, 0600);
		else
			assert_int_equal(st.st_mode & 0077, 0044); /* public */
	}
	snprintf(path, sizeof path, "%s/%s", dir, KG_TDX_SIM_ROOT);
	assert_int_equal(kg_file_read(path, 1 << 16, &root1.p, &root1.len), KG_OK);
	snprintf(path, sizeof path, "%s/%s", dir, KG_TDX_SIM_TCB_INFO);
	assert_int_equal(kg_file_read(path, 1 << 20, &tcb1.p, &tcb1.len), KG_OK);
	/* Again: everything kept. */
	assert_int_equal(kg_tdx_sim_init(dir), KG_OK);
	snprintf(path, sizeof path, "%s/%s", dir, KG_TDX_SIM_ROOT);
	assert_int_equal(kg_file_read(path, 1 << 16, &root2.p, &root2.len), KG_OK);
	snprintf(path, sizeof path, "%s/%s", dir, KG_TDX_SIM_TCB_INFO);
	assert_int_equal(kg_file_read(path, 1 << 20, &tcb2.p, &tcb2.len), KG_OK);
	assert_int_equal(root1.len, root2.len);
	assert_memory_equal(root1.p, root2.p, root1.len);
	assert_int_equal(tcb1.len, tcb2.len);
	assert_memory_equal(tcb1.p, tcb2.p, tcb1.len);
	blob_free(&tcb2);
	blob_free(&root2);
	/* Missing collateral is issued again under the same PKI. */
	snprintf(path, sizeof path, "%s/%s", dir, KG_TDX_SIM_PCK_CRL);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(kg_tdx_sim_init(dir), KG_OK);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof path, "%s/%s", dir, KG_TDX_SIM_ROOT);
	assert_int_equal(kg_file_read(path, 1 << 16, &root2.p, &root2.len), KG_OK);
	assert_memory_equal(root1.p, root2.p, root1.len);
	blob_free(&root2);

	/* The collateral parses as Intel's and its fields are the sim's. */
	{
		struct kg_tdx_tcb_info *ti = NULL;
		struct kg_tdx_signed sig;
		static const uint8_t fmspc[6] = KG_TDX_SIM_FMSPC;
		time_t now = time(NULL);
		assert_int_equal(kg_tdx_tcb_info_parse(tcb1.p, tcb1.len, &ti, &sig), KG_OK);
		assert_memory_equal(ti->fmspc, fmspc, 6);
		assert_int_equal(ti->n_levels, 2);
		assert_int_equal(ti->levels[0].status, KG_TDX_TCB_UP_TO_DATE);
		assert_int_equal(ti->levels[1].status, KG_TDX_TCB_OUT_OF_DATE);
		assert_int_equal(ti->n_ids, 1);
		assert_int_equal(ti->ids[0].major, 1);
		assert_true(ti->issue_date <= now - 3500 && ti->issue_date >= now - 3700);
		assert_true(ti->next_update >= now + 30 * 86400 - 100 && ti->next_update <= now + 30 * 86400 + 100);
		/* The signed bytes are the inner object, as Intel signs. */
		assert_memory_equal(tcb1.p, "{\"tcbInfo\":{", 12);
		assert_true(sig.body == tcb1.p + 11);
		free(ti);
	}
	/* Revocation through the simulated PCS, then back. */
	{
		struct kg_tdx_verifier *v = sim_verifier(dir);
		struct kg_tdx_claims c;
		struct kg_tdx_sim_params p = kg_tdx_sim_params_default();
		time_t now = time(NULL);
		assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_OK);
		assert_int_equal(kg_tdx_sim_collateral_issue(dir, now, true), KG_OK);
		assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_ERR_TDX_PCK_REVOKED);
		/* Collateral issued later is valid later. */
		assert_int_equal(kg_tdx_sim_collateral_issue(dir, now + 40 * 86400, false), KG_OK);
		assert_int_equal(sim_verify(v, dir, &p, now + 40 * 86400, &c), KG_OK);
		assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_ERR_TDX_COLLATERAL_EXPIRED);
		kg_tdx_verifier_free(v);
	}
	/* Not initialised. */
	{
		uint8_t rd[64] = {0}, *q = NULL, *buf = NULL;
		size_t len = 0;
		struct kg_tdx_collateral coll;
		assert_int_equal(kg_tdx_sim_quote("/nonexistent", NULL, rd, &q, &len), KG_ERR_IO);
		assert_null(q);
		assert_int_equal(kg_tdx_sim_collateral("/nonexistent", &coll, &buf), KG_ERR_IO);
		assert_null(buf);
	}
	printf("# tdx sim init: %.1f ms\n", t_init * 1e3);
	blob_free(&root1);
	blob_free(&tcb1);
	sim_rmdir(dir);
}

static void sim_check_claims(const struct kg_tdx_sim_params *p, const struct kg_tdx_claims *c)
{
	static const uint8_t fmspc[6] = KG_TDX_SIM_FMSPC, sgx[16] = KG_TDX_SIM_SGX_TCB;
	uint8_t rd[64];

	sim_report_data(rd, 9);
	assert_int_equal(c->version, p->version);
	assert_int_equal(c->body_type, p->version == 4 ? 2 : p->body_type);
	assert_int_equal(c->tee_type, 0x81);
	assert_memory_equal(c->td.mr_td, p->mr_td, 48);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(c->td.rtmr[i], p->rtmr[i], 48);
	assert_memory_equal(c->td.report_data, rd, 64);
	assert_memory_equal(c->td.mr_config_id, p->mr_config_id, 48);
	assert_memory_equal(c->td.mr_owner, p->mr_owner, 48);
	assert_memory_equal(c->td.mr_owner_config, p->mr_owner_config, 48);
	assert_memory_equal(c->td.mr_seam, p->mr_seam, 48);
	assert_memory_equal(c->user_data, p->user_data, 20);
	assert_true(c->td.td_attributes == p->td_attributes);
	assert_true(c->td.xfam == p->xfam);
	assert_int_equal(c->debug, (p->td_attributes & KG_TDX_TD_ATTR_DEBUG) != 0);
	assert_int_equal(c->sept_ve_disable, (p->td_attributes & KG_TDX_TD_ATTR_SEPT_VE_DISABLE) != 0);
	if (c->body_type == KG_TDX_BODY_TDX15) {
		assert_memory_equal(c->td.tee_tcb_svn2, p->tee_tcb_svn2, 16);
		assert_memory_equal(c->td.mr_service_td, p->mr_service_td, 48);
	} else {
		assert_true(all_zero(c->td.tee_tcb_svn2, 16) && all_zero(c->td.mr_service_td, 48));
	}
	assert_memory_equal(c->fmspc, fmspc, 6);
	assert_memory_equal(c->pck_cpusvn, sgx, 16);
	assert_int_equal(c->pck_pcesvn, KG_TDX_SIM_PCESVN);
	assert_false(c->pck_processor_ca);
	hex_eq(c->qe_vendor_id, 16, "939a7233f79c4ca9940a0db3957f0607");
	hex_eq(c->qe_mr_signer, 32, "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
	assert_int_equal(c->qe_isv_prod_id, 2);
	assert_int_equal(c->qe_isv_svn, KG_TDX_SIM_QE_ISVSVN);
	assert_true(c->tcb_evaluated);
}

/* v4, v5 with a TDX 1.0 body and v5 with a TDX 1.5 body: UpToDate, and
 * every claim as the parameters say. */
static void sim_quotes_verify(void **state)
{
	static const uint16_t shapes[3][2] = {{4, 2}, {5, 2}, {5, 3}};
	const char *dir = sim_dir();
	struct kg_tdx_verifier *v = sim_verifier(dir);
	struct kg_tdx_claims c;
	time_t now = time(NULL);

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct kg_tdx_sim_params p = sim_params(shapes[i][0], shapes[i][1]);
		struct kg_tdx_quote pq;
		uint8_t rd[64], *q = NULL;
		size_t len = 0;

		sim_report_data(rd, 9);
		assert_int_equal(kg_tdx_sim_quote(dir, &p, rd, &q, &len), KG_OK);
		assert_int_equal(kg_tdx_quote_parse(q, len, &pq), KG_OK);
		assert_int_equal(pq.padding_len, 0);
		assert_int_equal(pq.qe_auth_len, 32);
		assert_int_equal(pq.signed_len, shapes[i][0] == 4 ? 632 : shapes[i][1] == 3 ? 48 + 6 + 648 : 48 + 6 + 584);
		free(q);

		assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_OK);
		sim_check_claims(&p, &c);
		assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE);
		assert_int_equal(c.platform_status, KG_TDX_TCB_UP_TO_DATE);
		assert_true(c.module_evaluated); /* TEE_TCB_SVN[1] = 1: TDX_01 */
		assert_int_equal(c.module_status, KG_TDX_TCB_UP_TO_DATE);
		assert_int_equal(c.qe_status, KG_TDX_TCB_UP_TO_DATE);
		assert_int_equal(c.n_advisories, 0);
		assert_int_equal(c.tcb_eval_data_number, 17);
		assert_true(c.collateral_expires > now + 29 * 86400 && c.collateral_expires <= now + 30 * 86400 + 60);
	}
	/* The defaults (NULL). */
	{
		uint8_t rd[64] = {0}, *q = NULL;
		size_t len = 0;
		assert_int_equal(kg_tdx_sim_quote(dir, NULL, rd, &q, &len), KG_OK);
		assert_int_equal(kg_tdx_verify_quote(v, q, len, now, &c), KG_OK);
		assert_int_equal(c.version, 4);
		assert_false(c.debug);
		assert_true(c.sept_ve_disable);
		assert_true(c.td.xfam == 0x61ae7);
		hex_eq(c.td.tee_tcb_svn, 16, "05010300000000000000000000000000");
		free(q);
	}
	kg_tdx_verifier_free(v);
}

/* The knobs: debug, a platform below the UpToDate level, the module. */
static void sim_knobs(void **state)
{
	const char *dir = sim_dir();
	struct kg_tdx_verifier *v = sim_verifier(dir);
	struct kg_tdx_sim_params p;
	struct kg_tdx_claims c;
	time_t now = time(NULL);

	(void)state;
	p = sim_params(5, 3);
	p.td_attributes |= KG_TDX_TD_ATTR_DEBUG;
	assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_OK);
	sim_check_claims(&p, &c);
	assert_true(c.debug);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE); /* debug is policy's to judge */

	p = sim_params(4, 2);
	p.out_of_date = true;
	assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_OK);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_OUT_OF_DATE);
	assert_int_equal(c.platform_status, KG_TDX_TCB_OUT_OF_DATE);
	assert_int_equal(c.module_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(c.td.tee_tcb_svn[2], 2);
	assert_int_equal(c.n_advisories, 2);
	assert_string_equal(c.advisories[0], "INTEL-SA-01036");
	assert_string_equal(c.advisories[1], "INTEL-SA-01099");

	/* A TDX 1.0 module (major 0): judged by tdxModule and the levels'
	 * TDX components, no module identity. */
	p = sim_params(4, 2);
	p.tee_tcb_svn[1] = 0;
	assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_OK);
	assert_false(c.module_evaluated);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_UP_TO_DATE);
	/* An older 1.5 module: TDX_01's OutOfDate level. */
	p = sim_params(4, 2);
	p.tee_tcb_svn[0] = 3;
	assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_OK);
	assert_int_equal(c.module_status, KG_TDX_TCB_OUT_OF_DATE);
	assert_int_equal(c.tcb_status, KG_TDX_TCB_OUT_OF_DATE);
	/* Below every module level; another module signer. */
	p.tee_tcb_svn[0] = 1;
	assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_ERR_TDX_TCB_UNSUPPORTED);
	p = sim_params(4, 2);
	p.mr_signer_seam[0] = 1;
	assert_int_equal(sim_verify(v, dir, &p, now, &c), KG_ERR_TDX_MODULE);
	kg_tdx_verifier_free(v);
}

/* Roots: the sim under Intel's, Intel's under the sim's; time. */
static void sim_trust_and_time(void **state)
{
	const char *dir = sim_dir();
	struct kg_tdx_verifier *v = sim_verifier(dir);
	struct kg_tdx_sim_params p = kg_tdx_sim_params_default();
	struct blob real = vec_read("tdx/trustee-v4/quote.dat");
	struct kg_tdx_collateral coll;
	struct kg_tdx_claims c;
	uint8_t rd[64] = {1}, *q = NULL, *buf = NULL;
	size_t len = 0;
	time_t now = time(NULL), next;

	(void)state;
	assert_int_equal(kg_tdx_sim_quote(dir, &p, rd, &q, &len), KG_OK);
	assert_int_equal(kg_tdx_sim_collateral(dir, &coll, &buf), KG_OK);
	assert_int_equal(kg_tdx_verify_quote(fx.intel, q, len, now, &c), KG_ERR_TDX_UNTRUSTED_ROOT);
	assert_int_equal(kg_tdx_verify(fx.intel, q, len, &coll, now, &c), KG_ERR_TDX_UNTRUSTED_ROOT);
	assert_int_equal(kg_tdx_verify_quote(v, real.p, real.len, T_2023, &c), KG_ERR_TDX_UNTRUSTED_ROOT);
	/* Intel's collateral does not verify under the sim root either. */
	assert_int_equal(kg_tdx_verify(v, q, len, &fx.coll_2023, now, &c), KG_ERR_TDX_COLLATERAL_INVALID);

	/* Around the collateral's validity. */
	assert_int_equal(kg_tdx_verify(v, q, len, &coll, now, &c), KG_OK);
	next = c.collateral_expires;
	assert_int_equal(kg_tdx_verify(v, q, len, &coll, next - 1, &c), KG_OK);
	assert_int_equal(kg_tdx_verify(v, q, len, &coll, next + 86400, &c), KG_ERR_TDX_COLLATERAL_EXPIRED);
	assert_int_equal(kg_tdx_verify(v, q, len, &coll, now - 2 * 3600, &c), KG_ERR_TDX_COLLATERAL_EXPIRED);
	/* The PCK is good for years; its chain for decades. */
	assert_int_equal(kg_tdx_verify_quote(v, q, len, now + 6 * 365 * 86400L, &c), KG_OK);
	assert_int_equal(kg_tdx_verify_quote(v, q, len, now + 8 * 365 * 86400L, &c), KG_ERR_TDX_PCK_EXPIRED);
	assert_int_equal(kg_tdx_verify_quote(v, q, len, now - 2 * 86400, &c), KG_ERR_TDX_PCK_EXPIRED);

	/* Tampering is caught as in real quotes. */
	q[0x30 + 0x88] ^= 1; /* MRTD */
	assert_int_equal(kg_tdx_verify_quote(v, q, len, now, &c), KG_ERR_TDX_SIGNATURE);
	q[0x30 + 0x88] ^= 1;
	q[632 + 4 + 128 + 6 + 0x102] ^= 1; /* the QE's ISVSVN */
	assert_int_equal(kg_tdx_verify_quote(v, q, len, now, &c), KG_ERR_TDX_QE_REPORT);
	q[632 + 4 + 128 + 6 + 0x102] ^= 1;
	assert_int_equal(kg_tdx_verify_quote(v, q, len, now, &c), KG_OK);
	free(q);
	free(buf);
	blob_free(&real);
	kg_tdx_verifier_free(v);
}

/* Through the common interface, and the CLI when it was built. */
static void sim_attest_interface(void **state)
{
	const char *dir = sim_dir();
	struct kg_attest *a = NULL;
	struct kg_claims *cl = calloc(1, sizeof *cl);
	struct kg_tdx_sim_params p = sim_params(5, 3);
	struct kg_tdx_collateral coll;
	uint8_t rd[64], *q = NULL, *buf = NULL;
	size_t len = 0;
	char root[128], *json = NULL;
	double t0, t_quote;

	(void)state;
	sim_report_data(rd, 9);
	sim_root_path(root, dir);
	t0 = now_s();
	assert_int_equal(kg_tdx_sim_quote(dir, &p, rd, &q, &len), KG_OK);
	t_quote = now_s() - t0;
	assert_int_equal(kg_tdx_sim_collateral(dir, &coll, &buf), KG_OK);
	assert_int_equal(kg_attest_new(&a, NULL), KG_OK);
	/* The shipped root refuses it. */
	assert_int_equal(kg_attest_set_tdx_collateral(a, &coll), KG_OK);
	assert_int_equal(kg_attest_verify(a, KG_TEE_TDX, q, len, NULL, time(NULL), cl), KG_ERR_TDX_UNTRUSTED_ROOT);
	assert_int_equal(kg_attest_set_tdx_roots(a, root), KG_OK);
	assert_int_equal(kg_attest_verify(a, KG_TEE_TDX, q, len, NULL, time(NULL), cl), KG_OK);
	free(buf); /* the setter copied it */
	assert_int_equal(cl->tee, KG_TEE_TDX);
	assert_int_equal(cl->measurement_len, 48);
	assert_memory_equal(cl->measurement, p.mr_td, 48);
	assert_memory_equal(cl->report_data, rd, 64);
	assert_false(cl->debug);
	assert_int_equal(cl->u.tdx.tcb_status, KG_TDX_TCB_UP_TO_DATE);
	assert_int_equal(kg_claims_to_json(cl, &json), KG_OK);
	assert_non_null(strstr(json, "\"tcb_status\": \"UpToDate\""));
	assert_non_null(strstr(json, "\"fmspc\": \"90c06f000000\""));
	free(json);
	kg_attest_free(a);
	free(cl);

	/* keygate evidence verify --tee tdx QUOTE --collateral DIR --roots
	 * DIR/root.pem, when the build has the binary. */
	{
		const char *build = getenv("KG_BUILD_ROOT");
		char exe[512], qpath[160], cmd[2048], out[8192];
		size_t n;
		FILE *f;
		int st;

		snprintf(exe, sizeof exe, "%s/broker/keygate", build ? build : ".");
		if (build == NULL || access(exe, X_OK) != 0) {
			printf("# keygate binary not built: CLI check skipped\n");
		} else {
			snprintf(qpath, sizeof qpath, "%s/quote.dat", dir);
			assert_int_equal(kg_file_write(qpath, q, len, 0644), KG_OK);
			snprintf(cmd, sizeof cmd, "'%s' evidence verify --tee tdx '%s' --collateral '%s' --roots '%s'", exe,
				 qpath, dir, root);
			f = popen(cmd, "r");
			assert_non_null(f);
			n = fread(out, 1, sizeof out - 1, f);
			out[n] = 0;
			st = pclose(f);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			assert_non_null(strstr(out, "\"tcb_status\": \"UpToDate\""));
			/* Without --roots: Intel's pinned root. */
			snprintf(cmd, sizeof cmd, "'%s' evidence verify --tee tdx '%s' --collateral '%s' 2>/dev/null", exe,
				 qpath, dir);
			f = popen(cmd, "r");
			assert_non_null(f);
			n = fread(out, 1, sizeof out - 1, f);
			out[n] = 0;
			st = pclose(f);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
			assert_non_null(strstr(out, "tdx_root_untrusted"));
		}
	}
	printf("# tdx sim quote: %.2f ms\n", t_quote * 1e3);

	/* KG_TDX_SIM_SEEDS=DIR writes fuzz seeds (a v4 and a v5 quote, the
	 * collateral) for tests/fuzz/corpus/fuzz_tdx_{quote,collateral}. */
	if (getenv("KG_TDX_SIM_SEEDS")) {
		const char *sd = getenv("KG_TDX_SIM_SEEDS");
		char path[512];
		struct kg_tdx_sim_params p4 = kg_tdx_sim_params_default();
		uint8_t *q4 = NULL;
		size_t l4 = 0;
		assert_int_equal(kg_tdx_sim_quote(dir, &p4, rd, &q4, &l4), KG_OK);
		snprintf(path, sizeof path, "%s/sim-v4.dat", sd);
		assert_int_equal(kg_file_write(path, q4, l4, 0644), KG_OK);
		snprintf(path, sizeof path, "%s/sim-v5-tdx15.dat", sd);
		assert_int_equal(kg_file_write(path, q, len, 0644), KG_OK);
		assert_int_equal(kg_tdx_sim_collateral(dir, &coll, &buf), KG_OK);
		snprintf(path, sizeof path, "%s/sim-tcbInfo.json", sd);
		assert_int_equal(kg_file_write(path, coll.tcb_info, coll.tcb_info_len, 0644), KG_OK);
		snprintf(path, sizeof path, "%s/sim-qeIdentity.json", sd);
		assert_int_equal(kg_file_write(path, coll.qe_identity, coll.qe_identity_len, 0644), KG_OK);
		free(buf);
		free(q4);
	}
	free(q);
}

/* Cold vs warm cost of the quote's own crypto. */
static void timing(void **state)
{
	struct blob q = vec_read("tdx/gtg-cos-v4/quote.dat");
	struct kg_tdx_verifier *v = NULL;
	struct kg_tdx_claims c;
	struct kg_tdx_cache_stats s;
	double t0, cold, warm;

	(void)state;
	assert_int_equal(kg_tdx_verifier_new(&v, NULL), KG_OK);
	t0 = now_s();
	assert_int_equal(kg_tdx_verify_quote(v, q.p, q.len, T_2025_11, &c), KG_OK);
	cold = now_s() - t0;
	t0 = now_s();
	for (int i = 0; i < 200; i++)
		assert_int_equal(kg_tdx_verify_quote(v, q.p, q.len, T_2025_11, &c), KG_OK);
	warm = (now_s() - t0) / 200;
	kg_tdx_verifier_stats(v, &s);
	assert_int_equal(s.pck_misses, 1);
	assert_int_equal(s.pck_hits, 200);
	/* The cache does not outlive the chain's validity. */
	assert_int_equal(kg_tdx_verify_quote(v, q.p, q.len, T_2053, &c), KG_ERR_TDX_PCK_EXPIRED);
	printf("# tdx verify_quote: cold %.3f ms, warm %.3f ms\n", cold * 1e3, warm * 1e3);
	kg_tdx_verifier_free(v);
	blob_free(&q);
}

/* Every TDX reason code has its string, HTTP status and denial flag. */
static void error_table(void **state)
{
	static const kg_err codes[] = {
		KG_ERR_TDX_QUOTE_MALFORMED, KG_ERR_TDX_VERSION,	    KG_ERR_TDX_ATT_KEY_TYPE,
		KG_ERR_TDX_TEE_TYPE,	    KG_ERR_TDX_BODY_TYPE,	    KG_ERR_TDX_CERT_TYPE,
		KG_ERR_TDX_QE_VENDOR,	    KG_ERR_TDX_SIGNATURE,	    KG_ERR_TDX_QE_REPORT,
		KG_ERR_TDX_QE_BINDING,	    KG_ERR_TDX_PCK_CHAIN,	    KG_ERR_TDX_PCK_EXPIRED,
		KG_ERR_TDX_UNTRUSTED_ROOT,  KG_ERR_TDX_PCK_EXT,	    KG_ERR_TDX_PCK_REVOKED,
		KG_ERR_TDX_COLLATERAL_MISSING, KG_ERR_TDX_COLLATERAL_EXPIRED, KG_ERR_TDX_COLLATERAL_INVALID,
		KG_ERR_TDX_FMSPC,	    KG_ERR_TDX_MODULE,	    KG_ERR_TDX_QE_IDENTITY,
		KG_ERR_TDX_TCB_UNSUPPORTED,
	};
	(void)state;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		assert_int_equal(strncmp(kg_err_code(codes[i]), "tdx_", 4), 0);
		assert_int_equal(kg_err_http(codes[i]), 401);
		assert_int_equal(kg_err_is_denial(codes[i]), 1);
		assert_int_equal(kg_err_from_code(kg_err_code(codes[i])), codes[i]);
	}
	assert_string_equal(kg_tdx_tcb_status_name(KG_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED),
			    "OutOfDateConfigurationNeeded");
	assert_string_equal(kg_tdx_tcb_status_name(KG_TDX_TCB__COUNT), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_quotes_verify),
		cmocka_unit_test(spr_fields),
		cmocka_unit_test(v5_fields),
		cmocka_unit_test(full_2023),
		cmocka_unit_test(collateral_tampered),
		cmocka_unit_test(collateral_signatures),
		cmocka_unit_test(tcb_levels),
		cmocka_unit_test(later_vectors_collateral),
		cmocka_unit_test(single_bytes),
		cmocka_unit_test(parser_codes),
		cmocka_unit_test(collateral_parser),
		cmocka_unit_test(pck_extensions),
		cmocka_unit_test(test_pki),
		cmocka_unit_test(attest_interface),
		cmocka_unit_test(sim_init_keeps),
		cmocka_unit_test(sim_quotes_verify),
		cmocka_unit_test(sim_knobs),
		cmocka_unit_test(sim_trust_and_time),
		cmocka_unit_test(sim_attest_interface),
		cmocka_unit_test(timing),
		cmocka_unit_test(error_table),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
