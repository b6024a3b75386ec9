/* C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint §Note text): the note text
 * of a checkpoint is the origin, the tree size, the root hash and optional
 * extension lines, each ending in '\n'. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

kg_err kg_ledger_checkpoint_parse(struct kg_cur text, struct kg_ledger_checkpoint *out)
{
	struct kg_cur line;

	memset(out, 0, sizeof *out);
	/* 1. origin: non-empty (its other rules are recommendations). */
	KG_ENSURE(kg_ltext_line(&text, &out->origin) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
	KG_ENSURE(kg_cur_left(&out->origin) > 0 && kg_cur_left(&out->origin) <= KG_LEDGER_MAX_NAME,
		  KG_ERR_LEDGER_NOTE_MALFORMED);
	/* 2. tree size: ASCII decimal, no leading zeroes. */
	KG_ENSURE(kg_ltext_line(&text, &line) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
	KG_ENSURE(kg_ltext_u64(line, &out->size) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
	/* 3. root hash: base64 of the 32-byte RFC 6962 root. */
	KG_ENSURE(kg_ltext_line(&text, &line) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
	KG_ENSURE(kg_ltext_hash(line, out->root) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
	/* 4. extension lines: opaque, non-empty. */
	while (kg_cur_left(&text) > 0) {
		KG_ENSURE(kg_ltext_line(&text, &line) == KG_OK, KG_ERR_LEDGER_NOTE_MALFORMED);
		KG_ENSURE(kg_cur_left(&line) > 0, KG_ERR_LEDGER_NOTE_MALFORMED);
		KG_ENSURE(++out->n_ext <= KG_LEDGER_MAX_EXT_LINES, KG_ERR_LEDGER_NOTE_MALFORMED);
	}
	return KG_OK;
}

kg_err kg_ledger_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[static 32], char *out,
				   size_t cap, size_t *len)
{
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	int n;

	*len = 0;
	sodium_bin2base64(b64, sizeof b64, root, 32, sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
	KG_ENSURE(n > 0 && (size_t)n < cap, KG_ERR_TOO_LARGE);
	*len = (size_t)n;
	return KG_OK;
}

kg_err kg_ledger_checkpoint_open(const struct kg_ledger_key *key, const uint8_t *note, size_t len, uint64_t *size,
				 uint8_t root[static 32])
{
	struct kg_ledger_note *n = NULL;
	struct kg_ledger_checkpoint cp;
	struct kg_ledger_note_check check;
	kg_err rc;

	*size = 0;
	KG_ENSURE(key->type == KG_LEDGER_SIG_ED25519, KG_ERR_INVALID_ARG);
	KG_ENSURE(len <= KG_LEDGER_MAX_NOTE, KG_ERR_LEDGER_NOTE_MALFORMED);
	/* struct kg_ledger_note is large (KG_LEDGER_MAX_SIGS lines). */
	KG_ENSURE((n = malloc(sizeof *n)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_ledger_note_parse(note, len, n));
	KG_TRY_OUT(kg_ledger_checkpoint_parse(n->text, &cp));
	KG_ENSURE_OUT(kg_ltext_eq(cp.origin, key->name), KG_ERR_LEDGER_UNKNOWN_ORIGIN);
	KG_TRY_OUT(kg_ledger_note_verify(n, key, 1, &check));
	KG_ENSURE_OUT(check.verified, KG_ERR_LEDGER_UNKNOWN_KEY);
	*size = cp.size;
	memcpy(root, cp.root, 32);
	rc = KG_OK;
out:
	free(n);
	return rc;
}
