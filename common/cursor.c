#include "cursor.h"

#include <string.h>

kg_err kg_cur_skip(struct kg_cur *c, size_t n)
{
	KG_ENSURE(n <= c->left, KG_ERR_TRUNCATED);
	c->p += n;
	c->left -= n;
	return KG_OK;
}

kg_err kg_cur_bytes(struct kg_cur *c, const uint8_t **p, size_t n)
{
	KG_ENSURE(n <= c->left, KG_ERR_TRUNCATED);
	*p = c->p;
	c->p += n;
	c->left -= n;
	return KG_OK;
}

kg_err kg_cur_copy(struct kg_cur *c, void *dst, size_t n)
{
	const uint8_t *p;

	KG_TRY(kg_cur_bytes(c, &p, n));
	if (n)
		memcpy(dst, p, n);
	return KG_OK;
}

kg_err kg_cur_sub(struct kg_cur *c, struct kg_cur *sub, size_t n)
{
	const uint8_t *p;

	KG_TRY(kg_cur_bytes(c, &p, n));
	*sub = kg_cur_init(p, n);
	return KG_OK;
}

kg_err kg_cur_zeros(struct kg_cur *c, size_t n, kg_err if_nonzero)
{
	uint8_t acc = 0;

	KG_ENSURE(n <= c->left, KG_ERR_TRUNCATED);
	for (size_t i = 0; i < n; i++)
		acc |= c->p[i];
	KG_ENSURE(acc == 0, if_nonzero);
	c->p += n;
	c->left -= n;
	return KG_OK;
}

kg_err kg_cur_u8(struct kg_cur *c, uint8_t *v)
{
	const uint8_t *p;

	KG_TRY(kg_cur_bytes(c, &p, 1));
	*v = p[0];
	return KG_OK;
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

#define KG_CUR_INT(fn, type, n, load)                   \
	kg_err fn(struct kg_cur *c, type *v)            \
	{                                               \
		const uint8_t *p;                       \
		KG_TRY(kg_cur_bytes(c, &p, n));         \
		*v = (type)load(p, n);                  \
		return KG_OK;                           \
	}

KG_CUR_INT(kg_cur_u16le, uint16_t, 2, load_le)
KG_CUR_INT(kg_cur_u16be, uint16_t, 2, load_be)
KG_CUR_INT(kg_cur_u32le, uint32_t, 4, load_le)
KG_CUR_INT(kg_cur_u32be, uint32_t, 4, load_be)
KG_CUR_INT(kg_cur_u64le, uint64_t, 8, load_le)
KG_CUR_INT(kg_cur_u64be, uint64_t, 8, load_be)

kg_err kg_cur_done(const struct kg_cur *c)
{
	KG_ENSURE(c->left == 0, KG_ERR_TRAILING_BYTES);
	return KG_OK;
}

kg_err kg_cur_der(struct kg_cur *c, uint8_t tag, struct kg_cur *val, kg_err bad)
{
	struct kg_cur t = *c;
	uint8_t id, first, b;
	size_t len = 0;

	KG_ENSURE((tag & 0x1f) != 0x1f, KG_ERR_INVALID_ARG);
	KG_TRY(kg_cur_u8(&t, &id));
	KG_ENSURE(id == tag, bad);
	KG_TRY(kg_cur_u8(&t, &first));
	if (first < 0x80) {
		len = first;
	} else {
		size_t n = first & 0x7f;
		/* 0x80 is BER's indefinite form; DER has no leading zero
		 * octets and uses the long form only from 128 on. */
		KG_ENSURE(n >= 1 && n <= 4, bad);
		for (size_t i = 0; i < n; i++) {
			KG_TRY(kg_cur_u8(&t, &b));
			KG_ENSURE(i > 0 || b != 0, bad);
			len = len << 8 | b;
		}
		KG_ENSURE(len >= 0x80, bad);
	}
	KG_TRY(kg_cur_sub(&t, val, len));
	*c = t;
	return KG_OK;
}
