/*
 * kg_cur: the one way Keygate reads untrusted bytes.
 *
 * A cursor is a view (pointer + remaining length) over caller-owned bytes.
 * Every read checks the remaining length first and fails with
 * KG_ERR_TRUNCATED instead of reading past the end; on failure the cursor
 * is left where it was.  Sub-views borrow, never copy.  kg_cur_done()
 * rejects trailing bytes.  Parsers written with it read like the
 * specification's table of offsets.
 */
#ifndef KG_CURSOR_H
#define KG_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct kg_cur {
	const uint8_t *p;
	size_t left;
};

static inline struct kg_cur kg_cur_init(const uint8_t *p, size_t len)
{
	struct kg_cur c = {p, p ? len : 0};
	return c;
}

static inline size_t kg_cur_left(const struct kg_cur *c) { return c->left; }
/* Current position; valid for c->left bytes. */
static inline const uint8_t *kg_cur_ptr(const struct kg_cur *c) { return c->p; }

KG_MUST_CHECK kg_err kg_cur_skip(struct kg_cur *c, size_t n);
KG_MUST_CHECK kg_err kg_cur_u8(struct kg_cur *c, uint8_t *v);
KG_MUST_CHECK kg_err kg_cur_u16le(struct kg_cur *c, uint16_t *v);
KG_MUST_CHECK kg_err kg_cur_u16be(struct kg_cur *c, uint16_t *v);
KG_MUST_CHECK kg_err kg_cur_u32le(struct kg_cur *c, uint32_t *v);
KG_MUST_CHECK kg_err kg_cur_u32be(struct kg_cur *c, uint32_t *v);
KG_MUST_CHECK kg_err kg_cur_u64le(struct kg_cur *c, uint64_t *v);
KG_MUST_CHECK kg_err kg_cur_u64be(struct kg_cur *c, uint64_t *v);
/* Copy exactly n bytes out. */
KG_MUST_CHECK kg_err kg_cur_copy(struct kg_cur *c, void *dst, size_t n);
/* Borrow the next n bytes as a pointer (no copy). */
KG_MUST_CHECK kg_err kg_cur_bytes(struct kg_cur *c, const uint8_t **p, size_t n);
/* Split the next n bytes off as their own cursor (no copy). */
KG_MUST_CHECK kg_err kg_cur_sub(struct kg_cur *c, struct kg_cur *sub, size_t n);
/* Succeeds when the next n bytes are all zero (reserved / MBZ fields). */
KG_MUST_CHECK kg_err kg_cur_zeros(struct kg_cur *c, size_t n, kg_err if_nonzero);
/* KG_OK when nothing is left, KG_ERR_TRAILING_BYTES otherwise. */
KG_MUST_CHECK kg_err kg_cur_done(const struct kg_cur *c);

/* DER (X.690 §8.1, §10.1): the next TLV, whose identifier octet must be
 * tag (low tag numbers only), with a definite length in its shortest form
 * of at most four octets; *val views its contents.  bad for any other
 * identifier or length form, KG_ERR_TRUNCATED past the end. */
KG_MUST_CHECK kg_err kg_cur_der(struct kg_cur *c, uint8_t tag, struct kg_cur *val, kg_err bad);
/* Whether the next identifier octet is tag (OPTIONAL and DEFAULT fields). */
static inline int kg_cur_der_next_is(const struct kg_cur *c, uint8_t tag) { return c->left > 0 && c->p[0] == tag; }

#endif
