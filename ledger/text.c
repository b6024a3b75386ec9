/* Text scanning for notes, checkpoints and proofs, built on kg_cur: every
 * byte is read through the cursor; nothing here does pointer arithmetic. */
#include <string.h>

#include <sodium.h>

#include "internal.h"

kg_err kg_ltext_line(struct kg_cur *c, struct kg_cur *line)
{
	struct kg_cur probe = *c;
	size_t n = 0;
	uint8_t b;

	for (;;) {
		KG_TRY(kg_cur_u8(&probe, &b));
		if (b == '\n')
			break;
		n++;
	}
	KG_TRY(kg_cur_sub(c, line, n));
	return kg_cur_skip(c, 1);
}

kg_err kg_ltext_split(struct kg_cur *c, uint8_t delim, struct kg_cur *head)
{
	struct kg_cur probe = *c;
	size_t n = 0;
	uint8_t b;

	for (;;) {
		KG_TRY(kg_cur_u8(&probe, &b));
		if (b == delim)
			break;
		n++;
	}
	KG_TRY(kg_cur_sub(c, head, n));
	return kg_cur_skip(c, 1);
}

bool kg_ltext_eq(struct kg_cur v, const char *s)
{
	size_t n = strlen(s);
	const uint8_t *p;

	if (kg_cur_left(&v) != n || kg_cur_bytes(&v, &p, n) != KG_OK)
		return false;
	return n == 0 || memcmp(p, s, n) == 0;
}

bool kg_ltext_take(struct kg_cur *c, const char *s)
{
	size_t n = strlen(s);
	struct kg_cur probe = *c, head;

	if (kg_cur_sub(&probe, &head, n) != KG_OK || !kg_ltext_eq(head, s))
		return false;
	*c = probe;
	return true;
}

kg_err kg_ltext_u64(struct kg_cur v, uint64_t *out)
{
	uint64_t x = 0;
	size_t digits = 0;
	uint8_t b;

	*out = 0;
	KG_ENSURE(kg_cur_left(&v) >= 1 && kg_cur_left(&v) <= 20, KG_ERR_INVALID_ARG);
	while (kg_cur_left(&v) > 0) {
		KG_TRY(kg_cur_u8(&v, &b));
		KG_ENSURE(b >= '0' && b <= '9', KG_ERR_INVALID_ARG);
		/* No leading zeroes, except for the number 0 itself. */
		KG_ENSURE(!(digits == 0 && b == '0' && kg_cur_left(&v) > 0), KG_ERR_INVALID_ARG);
		KG_ENSURE(x <= (UINT64_MAX - (uint64_t)(b - '0')) / 10, KG_ERR_INVALID_ARG);
		x = x * 10 + (uint64_t)(b - '0');
		digits++;
	}
	*out = x;
	return KG_OK;
}

kg_err kg_ltext_b64(struct kg_cur v, uint8_t *out, size_t max, size_t *outlen)
{
	size_t n = kg_cur_left(&v), got = 0;
	const uint8_t *p;

	*outlen = 0;
	if (n == 0)
		return KG_OK;
	/* Padded base64 of max bytes has 4*ceil(max/3) characters: refuse
	 * longer input before decoding. */
	KG_ENSURE(n % 4 == 0 && n / 4 <= (max + 2) / 3, KG_ERR_INVALID_ARG);
	KG_TRY(kg_cur_bytes(&v, &p, n));
	/* libsodium rejects non-alphabet bytes, wrong padding and non-zero
	 * unused bits, and with b64_end == NULL requires all input used. */
	KG_ENSURE(sodium_base642bin(out, max, (const char *)p, n, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) ==
			  0,
		  KG_ERR_INVALID_ARG);
	*outlen = got;
	return KG_OK;
}

kg_err kg_ltext_hash(struct kg_cur v, uint8_t out[static 32])
{
	size_t n;

	KG_ENSURE(kg_cur_left(&v) == 44, KG_ERR_INVALID_ARG);
	KG_TRY(kg_ltext_b64(v, out, 32, &n));
	KG_ENSURE(n == 32, KG_ERR_INVALID_ARG);
	return KG_OK;
}

/* Decodes one UTF-8 sequence (RFC 3629 §4: shortest form, no surrogates,
 * at most U+10FFFF). */
static kg_err next_rune(struct kg_cur *c, uint32_t *r)
{
	uint8_t b0, b;
	uint32_t v, min;
	size_t more;

	KG_TRY(kg_cur_u8(c, &b0));
	if (b0 < 0x80) {
		*r = b0;
		return KG_OK;
	}
	if ((b0 & 0xE0) == 0xC0) {
		v = b0 & 0x1F, more = 1, min = 0x80;
	} else if ((b0 & 0xF0) == 0xE0) {
		v = b0 & 0x0F, more = 2, min = 0x800;
	} else if ((b0 & 0xF8) == 0xF0) {
		v = b0 & 0x07, more = 3, min = 0x10000;
	} else {
		return KG_ERR_INVALID_ARG;
	}
	while (more-- > 0) {
		KG_ENSURE(kg_cur_u8(c, &b) == KG_OK, KG_ERR_INVALID_ARG);
		KG_ENSURE((b & 0xC0) == 0x80, KG_ERR_INVALID_ARG);
		v = (v << 6) | (b & 0x3F);
	}
	KG_ENSURE(v >= min && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF), KG_ERR_INVALID_ARG);
	*r = v;
	return KG_OK;
}

kg_err kg_ltext_utf8_ok(struct kg_cur v)
{
	uint32_t r;

	while (kg_cur_left(&v) > 0) {
		KG_TRY(next_rune(&v, &r));
		KG_ENSURE(r >= 0x20 || r == '\n', KG_ERR_INVALID_ARG);
	}
	return KG_OK;
}

/* Unicode White_Space (what Go's unicode.IsSpace reports). */
static bool is_space(uint32_t r)
{
	switch (r) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return true;
	default:
		return r >= 0x2000 && r <= 0x200A;
	}
}

bool kg_ltext_name_ok(struct kg_cur v)
{
	uint32_t r;

	if (kg_cur_left(&v) == 0 || kg_cur_left(&v) > KG_LEDGER_MAX_NAME)
		return false;
	while (kg_cur_left(&v) > 0) {
		if (next_rune(&v, &r) != KG_OK || is_space(r) || r == '+' || r < 0x20)
			return false;
	}
	return true;
}

kg_err kg_ltext_str(struct kg_cur v, char *out, size_t cap)
{
	size_t n = kg_cur_left(&v);

	KG_ENSURE(cap > 0, KG_ERR_INVALID_ARG);
	out[0] = 0;
	KG_ENSURE(n < cap, KG_ERR_TOO_LARGE);
	KG_TRY(kg_cur_copy(&v, out, n));
	out[n] = 0;
	return KG_OK;
}
