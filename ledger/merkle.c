/*
 * RFC 6962 Merkle trees (§2.1: leaf = SHA-256(0x00 || d), node =
 * SHA-256(0x01 || l || r), split at the largest power of two < n) and the
 * RFC 9162 proof verification algorithms (§2.1.3.2 inclusion, §2.1.4.2
 * consistency).  All sizes are uint64_t; proofs are at most
 * KG_LEDGER_MAX_PROOF hashes, which a tree of fewer than 2^64 leaves never
 * exceeds.
 */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

void kg_ledger_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[static 32])
{
	crypto_hash_sha256_state st;
	const uint8_t zero = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &zero, 1);
	crypto_hash_sha256_update(&st, entry, len);
	crypto_hash_sha256_final(&st, out);
}

/* out may alias l or r: both are consumed before out is written. */
void kg_ledger_node_hash(const uint8_t l[static 32], const uint8_t r[static 32], uint8_t out[static 32])
{
	crypto_hash_sha256_state st;
	const uint8_t one = 0x01;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &one, 1);
	crypto_hash_sha256_update(&st, l, 32);
	crypto_hash_sha256_update(&st, r, 32);
	crypto_hash_sha256_final(&st, out);
}

void kg_ledger_empty_root(uint8_t out[static 32])
{
	crypto_hash_sha256(out, (const uint8_t *)"", 0);
}

static bool same(const uint8_t a[static 32], const uint8_t b[static 32])
{
	return sodium_memcmp(a, b, 32) == 0;
}

kg_err kg_ledger_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf[static 32],
				  const uint8_t (*path)[32], size_t n, const uint8_t root[static 32])
{
	uint8_t r[32];
	uint64_t fn, sn;

	KG_ENSURE(n <= KG_LEDGER_MAX_PROOF, KG_ERR_LEDGER_PROOF_INVALID);
	/* 1. */
	KG_ENSURE(index < size, KG_ERR_LEDGER_PROOF_INVALID);
	/* 2., 3. */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, 32);
	/* 4. */
	for (size_t i = 0; i < n; i++) {
		KG_ENSURE(sn != 0, KG_ERR_LEDGER_PROOF_INVALID);
		if ((fn & 1) || fn == sn) {
			kg_ledger_node_hash(path[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			kg_ledger_node_hash(r, path[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	KG_ENSURE(sn == 0 && same(r, root), KG_ERR_LEDGER_PROOF_INVALID);
	return KG_OK;
}

kg_err kg_ledger_consistency_verify(uint64_t size1, uint64_t size2, const uint8_t root1[static 32],
				    const uint8_t root2[static 32], const uint8_t (*path)[32], size_t n)
{
	uint8_t fr[32], sr[32];
	uint64_t fn, sn;
	bool pow2;
	size_t total;

	KG_ENSURE(n <= KG_LEDGER_MAX_PROOF, KG_ERR_LEDGER_INCONSISTENT);
	KG_ENSURE(size1 <= size2, KG_ERR_LEDGER_INCONSISTENT);
	/* Consistency with the empty tree proves nothing; refusing it keeps a
	 * caller from "verifying" against a zero-size checkpoint by mistake
	 * (transparency-dev/merkle refuses it too). */
	KG_ENSURE(size1 != 0, KG_ERR_LEDGER_INCONSISTENT);
	if (size1 == size2) {
		KG_ENSURE(n == 0 && same(root1, root2), KG_ERR_LEDGER_INCONSISTENT);
		return KG_OK;
	}
	/* 1. */
	KG_ENSURE(n > 0, KG_ERR_LEDGER_INCONSISTENT);
	/* 2. When size1 is a power of two, the path is read as if root1 were
	 * prepended to it. */
	pow2 = (size1 & (size1 - 1)) == 0;
	total = n + (pow2 ? 1 : 0);
#define PATH_AT(i) (pow2 ? ((i) == 0 ? root1 : path[(i) - 1]) : path[(i)])
	/* 3., 4. */
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	memcpy(fr, PATH_AT(0), 32);
	memcpy(sr, PATH_AT(0), 32);
	/* 6. */
	for (size_t i = 1; i < total; i++) {
		const uint8_t *c = PATH_AT(i);
		KG_ENSURE(sn != 0, KG_ERR_LEDGER_INCONSISTENT);
		if ((fn & 1) || fn == sn) {
			kg_ledger_node_hash(c, fr, fr);
			kg_ledger_node_hash(c, sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			kg_ledger_node_hash(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
#undef PATH_AT
	/* 7. */
	KG_ENSURE(same(fr, root1) && same(sr, root2) && sn == 0, KG_ERR_LEDGER_INCONSISTENT);
	return KG_OK;
}

/* ---- building (operator side) ---- */

/* The largest power of two smaller than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;

	while ((k << 1) < n)
		k <<= 1;
	return k;
}

/* MTH(D[lo:hi]), RFC 6962 §2.1. */
static void mth(const uint8_t (*lv)[32], uint64_t lo, uint64_t hi, uint8_t out[static 32])
{
	uint8_t a[32], b[32];
	uint64_t n = hi - lo, k;

	if (n == 0) {
		kg_ledger_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, lv[lo], 32);
		return;
	}
	k = split_point(n);
	mth(lv, lo, lo + k, a);
	mth(lv, lo + k, hi, b);
	kg_ledger_node_hash(a, b, out);
}

void kg_ledger_tree_root(const uint8_t (*leaves)[32], uint64_t n, uint8_t out[static 32])
{
	mth(leaves, 0, n, out);
}

/* PATH(m, D[lo:hi]), RFC 6962 §2.1.1; the leaf's sibling comes first. */
static void path_rec(const uint8_t (*lv)[32], uint64_t lo, uint64_t hi, uint64_t m, uint8_t (*out)[32],
		     size_t *len)
{
	uint64_t n = hi - lo, k;

	if (n <= 1)
		return;
	k = split_point(n);
	if (m < k) {
		path_rec(lv, lo, lo + k, m, out, len);
		assert(*len < KG_LEDGER_MAX_PROOF);
		mth(lv, lo + k, hi, out[(*len)++]);
	} else {
		path_rec(lv, lo + k, hi, m - k, out, len);
		assert(*len < KG_LEDGER_MAX_PROOF);
		mth(lv, lo, lo + k, out[(*len)++]);
	}
}

kg_err kg_ledger_tree_inclusion(const uint8_t (*leaves)[32], uint64_t n, uint64_t index, uint8_t (*path)[32],
				size_t *plen)
{
	*plen = 0;
	KG_ENSURE(index < n, KG_ERR_INVALID_ARG);
	path_rec(leaves, 0, n, index, path, plen);
	return KG_OK;
}

/* SUBPROOF(m, D[lo:hi], b), RFC 6962 §2.1.2. */
static void subproof(const uint8_t (*lv)[32], uint64_t lo, uint64_t hi, uint64_t m, bool b, uint8_t (*out)[32],
		     size_t *len)
{
	uint64_t n = hi - lo, k;

	if (m == n) {
		if (!b) {
			assert(*len < KG_LEDGER_MAX_PROOF);
			mth(lv, lo, hi, out[(*len)++]);
		}
		return;
	}
	k = split_point(n);
	if (m <= k) {
		subproof(lv, lo, lo + k, m, b, out, len);
		assert(*len < KG_LEDGER_MAX_PROOF);
		mth(lv, lo + k, hi, out[(*len)++]);
	} else {
		subproof(lv, lo + k, hi, m - k, false, out, len);
		assert(*len < KG_LEDGER_MAX_PROOF);
		mth(lv, lo, lo + k, out[(*len)++]);
	}
}

kg_err kg_ledger_tree_consistency(const uint8_t (*leaves)[32], uint64_t n, uint64_t m, uint8_t (*path)[32],
				  size_t *plen)
{
	*plen = 0;
	KG_ENSURE(m <= n, KG_ERR_INVALID_ARG);
	if (m == 0 || m == n)
		return KG_OK;
	subproof(leaves, 0, n, m, true, path, plen);
	return KG_OK;
}

/* The compact range grows like a binary counter: each trailing one bit of
 * the old size is a perfect subtree that the new leaf completes. */
void kg_ledger_frontier_append(struct kg_ledger_frontier *f, const uint8_t leaf_hash[static 32])
{
	uint8_t h[32];

	memcpy(h, leaf_hash, 32);
	for (uint64_t s = f->size; s & 1; s >>= 1) {
		assert(f->n > 0);
		kg_ledger_node_hash(f->h[--f->n], h, h);
	}
	assert(f->n < 64);
	memcpy(f->h[f->n++], h, 32);
	f->size++;
}

/* RFC 6962's split at the largest power of two makes the head the right
 * fold of the perfect subtrees, smallest first. */
void kg_ledger_frontier_root(const struct kg_ledger_frontier *f, uint8_t out[static 32])
{
	uint8_t h[32];

	if (f->n == 0) {
		kg_ledger_empty_root(out);
		return;
	}
	memcpy(h, f->h[f->n - 1], 32);
	for (size_t i = f->n - 1; i-- > 0;)
		kg_ledger_node_hash(f->h[i], h, h);
	memcpy(out, h, 32);
}

kg_err kg_ledger_frontier_load(uint64_t size, const uint8_t *p, size_t len, struct kg_ledger_frontier *out)
{
	size_t n = (size_t)__builtin_popcountll(size);

	memset(out, 0, sizeof *out);
	KG_ENSURE(len == 32 * n, KG_ERR_INVALID_ARG);
	if (n > 0)
		memcpy(out->h, p, len);
	out->n = n;
	out->size = size;
	return KG_OK;
}
