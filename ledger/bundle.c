/*
 * The texts a CVM sends or a verifier is given: the ledger bundle (C2SP
 * c2sp.org/tlog-proof@v1), the Keygate ledger entry it carries in its
 * `extra` line, and consistency proofs.  Formats: docs/ledger.md.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static const struct {
	const char *name;
	size_t measurement_len;
} tees[] = {
	{"snp", 48}, /* SEV-SNP MEASUREMENT (ATTESTATION_REPORT offset 0x90) */
	{"tdx", 48}, /* TDX MRTD */
};

size_t kg_ledger_tee_measurement_len(const char *tee)
{
	for (size_t i = 0; tee && i < sizeof tees / sizeof tees[0]; i++)
		if (strcmp(tee, tees[i].name) == 0)
			return tees[i].measurement_len;
	return 0;
}

/* ---- tlog-proof ---- */

kg_err kg_ledger_tlog_proof_parse(const uint8_t *p, size_t len, struct kg_ledger_tlog_proof *out)
{
	struct kg_cur c, line;

	memset(out, 0, sizeof *out);
	KG_ENSURE(len <= KG_LEDGER_MAX_BUNDLE, KG_ERR_TOO_LARGE);
	c = kg_cur_init(p, len);
	/* The first line is the fixed header. */
	KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK && kg_ltext_eq(line, "c2sp.org/tlog-proof@v1"),
		  KG_ERR_LEDGER_BUNDLE_MALFORMED);
	KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
	/* An optional "extra <base64>" line. */
	if (kg_ltext_take(&line, "extra ")) {
		KG_ENSURE(kg_cur_left(&line) > 0, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		KG_ENSURE(kg_ltext_b64(line, out->extra, sizeof out->extra, &out->extra_len) == KG_OK,
			  KG_ERR_LEDGER_BUNDLE_MALFORMED);
		out->has_extra = true;
		KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
	}
	/* "index <decimal>". */
	KG_ENSURE(kg_ltext_take(&line, "index "), KG_ERR_LEDGER_BUNDLE_MALFORMED);
	KG_ENSURE(kg_ltext_u64(line, &out->index) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
	/* Zero or more hashes, leaf sibling first, then an empty line. */
	for (;;) {
		KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		if (kg_cur_left(&line) == 0)
			break;
		KG_ENSURE(out->n < KG_LEDGER_MAX_PROOF, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		KG_ENSURE(kg_ltext_hash(line, out->path[out->n]) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		out->n++;
	}
	/* The checkpoint, verbatim: the rest. */
	KG_ENSURE(kg_cur_left(&c) > 0, KG_ERR_LEDGER_BUNDLE_MALFORMED);
	out->note = c;
	return KG_OK;
}

/* ---- consistency proofs ---- */

kg_err kg_ledger_consistency_parse(const uint8_t *p, size_t len, struct kg_ledger_consistency *out)
{
	struct kg_cur c, line;

	memset(out, 0, sizeof *out);
	KG_ENSURE(len <= 64 + KG_LEDGER_MAX_PROOF * 45, KG_ERR_TOO_LARGE);
	c = kg_cur_init(p, len);
	KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK && kg_ltext_take(&line, "old "), KG_ERR_LEDGER_BUNDLE_MALFORMED);
	KG_ENSURE(kg_ltext_u64(line, &out->old_size) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
	while (kg_cur_left(&c) > 0) {
		KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		KG_ENSURE(out->n < KG_LEDGER_MAX_PROOF, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		KG_ENSURE(kg_ltext_hash(line, out->path[out->n]) == KG_OK, KG_ERR_LEDGER_BUNDLE_MALFORMED);
		out->n++;
	}
	return KG_OK;
}

/* ---- entries ---- */

static const char entry_header[] = "keygate/ledger-entry@v1";

/* Field alphabets (docs/ledger.md §Leaf format).  None admits '"', '\\'
 * or control characters, so fields can be printed into JSON and logs as
 * they are. */
enum alpha { A_IDENT, A_URL, A_TEXT };

static bool byte_ok(enum alpha a, uint8_t b)
{
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9'))
		return true;
	switch (a) {
	case A_IDENT:
		return strchr("._-+:@/~", b) != NULL && b != 0;
	case A_URL:
		return b > 0x20 && b < 0x7F && b != '"' && b != '\\';
	case A_TEXT:
		return b >= 0x20 && b < 0x7F && b != '"' && b != '\\';
	}
	return false;
}

static kg_err field_check(struct kg_cur v, enum alpha a, size_t max)
{
	uint8_t b, first = 0, last = 0;
	size_t n = kg_cur_left(&v);

	KG_ENSURE(n >= 1 && n <= max, KG_ERR_LEDGER_ENTRY_MALFORMED);
	for (size_t i = 0; i < n; i++) {
		KG_TRY(kg_cur_u8(&v, &b));
		KG_ENSURE(byte_ok(a, b), KG_ERR_LEDGER_ENTRY_MALFORMED);
		if (i == 0)
			first = b;
		last = b;
	}
	/* Free text may not start or end with a space (one encoding only). */
	KG_ENSURE(first != ' ' && last != ' ', KG_ERR_LEDGER_ENTRY_MALFORMED);
	return KG_OK;
}

/* Reads "<key> <value>\n" into a string of at most cap-1 bytes. */
static kg_err entry_field(struct kg_cur *c, const char *key, enum alpha a, char *out, size_t cap)
{
	struct kg_cur line;

	KG_ENSURE(kg_ltext_line(c, &line) == KG_OK, KG_ERR_LEDGER_ENTRY_MALFORMED);
	KG_ENSURE(kg_ltext_take(&line, key) && kg_ltext_take(&line, " "), KG_ERR_LEDGER_ENTRY_MALFORMED);
	KG_TRY(field_check(line, a, cap - 1));
	KG_ENSURE(kg_ltext_str(line, out, cap) == KG_OK, KG_ERR_LEDGER_ENTRY_MALFORMED);
	return KG_OK;
}

/* Lower-case hex only: one encoding per measurement. */
static kg_err lower_hex(struct kg_cur v, uint8_t *out, size_t n)
{
	uint8_t b, d, acc = 0;

	KG_ENSURE(kg_cur_left(&v) == 2 * n, KG_ERR_LEDGER_ENTRY_MALFORMED);
	for (size_t i = 0; i < 2 * n; i++) {
		KG_TRY(kg_cur_u8(&v, &b));
		if (b >= '0' && b <= '9')
			d = (uint8_t)(b - '0');
		else if (b >= 'a' && b <= 'f')
			d = (uint8_t)(b - 'a' + 10);
		else
			return KG_ERR_LEDGER_ENTRY_MALFORMED;
		acc = (uint8_t)(acc << 4 | d);
		if (i & 1)
			out[i / 2] = acc;
	}
	return KG_OK;
}

/* Peeks whether the next line starts with "<key> ". */
static bool next_is(struct kg_cur c, const char *key)
{
	return kg_ltext_take(&c, key) && kg_ltext_take(&c, " ");
}

kg_err kg_ledger_entry_parse(const uint8_t *p, size_t len, struct kg_ledger_entry *out)
{
	struct kg_cur c, line;
	char kind[8];

	memset(out, 0, sizeof *out);
	KG_ENSURE(len <= KG_LEDGER_MAX_ENTRY, KG_ERR_LEDGER_ENTRY_MALFORMED);
	c = kg_cur_init(p, len);
	KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK && kg_ltext_eq(line, entry_header), KG_ERR_LEDGER_ENTRY_MALFORMED);
	KG_TRY(entry_field(&c, "kind", A_IDENT, kind, sizeof kind));
	if (strcmp(kind, "release") == 0)
		out->kind = KG_LEDGER_RELEASE;
	else if (strcmp(kind, "revoke") == 0)
		out->kind = KG_LEDGER_REVOKE;
	else
		return KG_ERR_LEDGER_ENTRY_MALFORMED;
	KG_TRY(entry_field(&c, "tee", A_IDENT, out->tee, sizeof out->tee));
	out->measurement_len = kg_ledger_tee_measurement_len(out->tee);
	KG_ENSURE(out->measurement_len > 0, KG_ERR_LEDGER_ENTRY_MALFORMED);
	KG_ENSURE(kg_ltext_line(&c, &line) == KG_OK && kg_ltext_take(&line, "measurement "),
		  KG_ERR_LEDGER_ENTRY_MALFORMED);
	KG_TRY(lower_hex(line, out->measurement, out->measurement_len));
	if (out->kind == KG_LEDGER_RELEASE) {
		KG_TRY(entry_field(&c, "name", A_IDENT, out->name, sizeof out->name));
		KG_TRY(entry_field(&c, "version", A_IDENT, out->version, sizeof out->version));
		if (next_is(c, "provenance"))
			KG_TRY(entry_field(&c, "provenance", A_URL, out->provenance, sizeof out->provenance));
	} else if (next_is(c, "reason")) {
		KG_TRY(entry_field(&c, "reason", A_TEXT, out->reason, sizeof out->reason));
	}
	KG_ENSURE(kg_cur_done(&c) == KG_OK, KG_ERR_LEDGER_ENTRY_MALFORMED);
	return KG_OK;
}

static bool str_ok(const char *s, enum alpha a, size_t max, bool optional)
{
	size_t n = strlen(s);

	if (n == 0)
		return optional;
	return field_check(kg_cur_init((const uint8_t *)s, n), a, max) == KG_OK;
}

kg_err kg_ledger_entry_format(const struct kg_ledger_entry *e, uint8_t *out, size_t cap, size_t *len)
{
	char hex[2 * KG_LEDGER_MAX_MEASUREMENT + 1];
	size_t mlen = kg_ledger_tee_measurement_len(e->tee);
	int n;

	*len = 0;
	KG_ENSURE(mlen > 0 && mlen == e->measurement_len, KG_ERR_INVALID_ARG);
	for (size_t i = 0; i < mlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", e->measurement[i]);
	if (e->kind == KG_LEDGER_RELEASE) {
		KG_ENSURE(str_ok(e->name, A_IDENT, sizeof e->name - 1, false) &&
				  str_ok(e->version, A_IDENT, sizeof e->version - 1, false) &&
				  str_ok(e->provenance, A_URL, sizeof e->provenance - 1, true) && !e->reason[0],
			  KG_ERR_INVALID_ARG);
		n = snprintf((char *)out, cap, "%s\nkind release\ntee %s\nmeasurement %s\nname %s\nversion %s\n%s%s%s",
			     entry_header, e->tee, hex, e->name, e->version, e->provenance[0] ? "provenance " : "",
			     e->provenance, e->provenance[0] ? "\n" : "");
	} else if (e->kind == KG_LEDGER_REVOKE) {
		KG_ENSURE(str_ok(e->reason, A_TEXT, sizeof e->reason - 1, true) && !e->name[0] && !e->version[0] &&
				  !e->provenance[0],
			  KG_ERR_INVALID_ARG);
		n = snprintf((char *)out, cap, "%s\nkind revoke\ntee %s\nmeasurement %s\n%s%s%s", entry_header, e->tee,
			     hex, e->reason[0] ? "reason " : "", e->reason, e->reason[0] ? "\n" : "");
	} else {
		return KG_ERR_INVALID_ARG;
	}
	KG_ENSURE(n > 0 && (size_t)n < cap && (size_t)n <= KG_LEDGER_MAX_ENTRY, KG_ERR_TOO_LARGE);
	*len = (size_t)n;
	return KG_OK;
}

/* ---- judgements on a verified entry ---- */

static bool same_digest(const char *tee, const uint8_t *m, size_t mlen, const struct kg_ledger_entry *e)
{
	return tee && m && strcmp(tee, e->tee) == 0 && mlen == e->measurement_len &&
	       sodium_memcmp(m, e->measurement, mlen) == 0;
}

kg_err kg_ledger_match(const struct kg_ledger_verdict *v, const char *tee, const uint8_t *measurement,
		       size_t measurement_len)
{
	KG_ENSURE(v->entry.kind == KG_LEDGER_RELEASE, KG_ERR_LEDGER_NOT_IN_LEDGER);
	KG_ENSURE(same_digest(tee, measurement, measurement_len, &v->entry), KG_ERR_LEDGER_NOT_IN_LEDGER);
	return KG_OK;
}

kg_err kg_ledger_check_revoked(const struct kg_ledger_digest *revoked, size_t n, const struct kg_ledger_entry *e)
{
	for (size_t i = 0; i < n; i++)
		KG_ENSURE(!same_digest(revoked[i].tee, revoked[i].measurement, revoked[i].measurement_len, e),
			  KG_ERR_LEDGER_REVOKED);
	return KG_OK;
}
