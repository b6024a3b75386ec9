/*
 * Folder-private interfaces of ledger/: text scanning on the cursor,
 * signed notes, checkpoints, Merkle trees, tlog-proof framing and signing
 * keys.  Tests and fuzz targets include this header too.
 */
#ifndef KG_LEDGER_INTERNAL_H
#define KG_LEDGER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/cursor.h"
#include "ledger.h"

/* ---- text.c: scanning text through the cursor ---- */

/* Splits off the next line without its '\n' (which is consumed).
 * KG_ERR_TRUNCATED when no '\n' is left; the cursor is then unchanged. */
KG_MUST_CHECK kg_err kg_ltext_line(struct kg_cur *c, struct kg_cur *line);
/* Splits c at the first byte equal to delim: *head gets what is before it
 * and c keeps what follows it.  KG_ERR_TRUNCATED when delim is absent. */
KG_MUST_CHECK kg_err kg_ltext_split(struct kg_cur *c, uint8_t delim, struct kg_cur *head);
/* true when the view holds exactly the bytes of s. */
bool kg_ltext_eq(struct kg_cur v, const char *s);
/* Consumes the literal s if the cursor starts with it; else returns false
 * and leaves the cursor alone. */
bool kg_ltext_take(struct kg_cur *c, const char *s);
/* ASCII decimal with no leading zeroes (unless "0"), fits uint64. */
KG_MUST_CHECK kg_err kg_ltext_u64(struct kg_cur v, uint64_t *out);
/* Standard padded base64 (RFC 4648 §4), strict (unused bits zero).
 * Fails when it decodes to more than max bytes. */
KG_MUST_CHECK kg_err kg_ltext_b64(struct kg_cur v, uint8_t *out, size_t max, size_t *outlen);
/* Base64 of exactly 32 bytes. */
KG_MUST_CHECK kg_err kg_ltext_hash(struct kg_cur v, uint8_t out[static 32]);
/* Valid UTF-8 with no control characters below U+0020 except '\n'. */
KG_MUST_CHECK kg_err kg_ltext_utf8_ok(struct kg_cur v);
/* A signed-note key name: non-empty, valid UTF-8, no Unicode space, no '+'. */
bool kg_ltext_name_ok(struct kg_cur v);
/* Copies a view into a NUL-terminated string (cap includes the NUL). */
KG_MUST_CHECK kg_err kg_ltext_str(struct kg_cur v, char *out, size_t cap);

/* ---- note.c: C2SP signed notes ---- */

struct kg_ledger_note_sig {
	struct kg_cur name; /* key name */
	uint32_t id;        /* key ID, big-endian on the wire */
	struct kg_cur b64;  /* base64(key ID || signature), validated */
};

struct kg_ledger_note {
	struct kg_cur text; /* the signed text, including its final '\n' */
	size_t nsigs;
	struct kg_ledger_note_sig sigs[KG_LEDGER_MAX_SIGS];
};

/* Splits and checks a signed note (C2SP signed-note §Format): UTF-8 with no
 * control characters but '\n'; text, a blank line, 1..KG_LEDGER_MAX_SIGS
 * lines "— <name> <base64>\n" with a valid name and a signature of at
 * least 5 bytes.  Views borrow p.  ledger_note_malformed otherwise. */
KG_MUST_CHECK kg_err kg_ledger_note_parse(const uint8_t *p, size_t len, struct kg_ledger_note *out);

struct kg_ledger_note_check {
	bool verified;      /* a signature by this key verified */
	uint64_t timestamp; /* type 0x04: the newest verified timestamp */
};

/* Applies the signed-note rules with keys[0..nkeys): signatures whose
 * (name, ID) match no key are ignored; one that matches and fails makes
 * the note fail with ledger_bad_signature; with none verified it fails
 * with ledger_unknown_key.  checks[i] reports on keys[i]. */
KG_MUST_CHECK kg_err kg_ledger_note_verify(const struct kg_ledger_note *n, const struct kg_ledger_key *keys,
					   size_t nkeys, struct kg_ledger_note_check *checks);

/* The message a tlog-cosignature/v1 signs: "cosignature/v1\ntime <ts>\n"
 * followed by the note text; malloc'd into *msg. */
KG_MUST_CHECK kg_err kg_ledger_cosign_message(struct kg_cur text, uint64_t ts, uint8_t **msg, size_t *len);

/* A signing key (sodium_malloc'd; free with kg_ledger_skey_free). */
struct kg_ledger_skey {
	struct kg_ledger_key pub;
	uint8_t seed[32];
	uint8_t sk[64];
};
/* A fresh key of the given type (0x01 or 0x04) for name. */
KG_MUST_CHECK kg_err kg_ledger_skey_generate(const char *name, uint8_t type, struct kg_ledger_skey **out);
/* Parses "PRIVATE+KEY+<name>+<hex8>+base64(type || seed32)" (the Go
 * golang.org/x/mod/sumdb/note format); KG_ERR_CONFIG when malformed. */
KG_MUST_CHECK kg_err kg_ledger_skey_parse(const uint8_t *p, size_t len, struct kg_ledger_skey **out);
/* The text form of sk into a sodium_malloc'd NUL-terminated string. */
KG_MUST_CHECK kg_err kg_ledger_skey_format(const struct kg_ledger_skey *sk, char **out);
void kg_ledger_skey_free(struct kg_ledger_skey *sk);
/* Signs text and writes one signature line ("— name base64\n", NUL-
 * terminated) into line.  ts is used by type 0x04 only. */
KG_MUST_CHECK kg_err kg_ledger_sign_line(const struct kg_ledger_skey *sk, const uint8_t *text, size_t len,
					 uint64_t ts, char *line, size_t cap);

/* ---- checkpoint.c: C2SP tlog-checkpoint ---- */

struct kg_ledger_checkpoint {
	struct kg_cur origin;
	uint64_t size;
	uint8_t root[32];
	size_t n_ext; /* extension lines (opaque) */
};
#define KG_LEDGER_MAX_EXT_LINES 16u

/* Parses a checkpoint's note text; ledger_note_malformed otherwise. */
KG_MUST_CHECK kg_err kg_ledger_checkpoint_parse(struct kg_cur text, struct kg_ledger_checkpoint *out);
/* "<origin>\n<size>\n<base64 root>\n" into out; *len excludes the NUL. */
KG_MUST_CHECK kg_err kg_ledger_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[static 32],
						 char *out, size_t cap, size_t *len);

/* ---- merkle.c: RFC 6962 / RFC 9162 ---- */

void kg_ledger_node_hash(const uint8_t l[static 32], const uint8_t r[static 32], uint8_t out[static 32]);
/* SHA-256 of the empty string: the root of the empty tree. */
void kg_ledger_empty_root(uint8_t out[static 32]);
/* RFC 9162 §2.1.3.2.  ledger_proof_invalid when it does not verify. */
KG_MUST_CHECK kg_err kg_ledger_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf[static 32],
						const uint8_t (*path)[32], size_t n, const uint8_t root[static 32]);
/* RFC 9162 §2.1.4.2, with size1 == 0 refused (a proof from the empty tree
 * proves nothing).  ledger_inconsistent when it does not verify. */
KG_MUST_CHECK kg_err kg_ledger_consistency_verify(uint64_t size1, uint64_t size2, const uint8_t root1[static 32],
						  const uint8_t root2[static 32], const uint8_t (*path)[32],
						  size_t n);
/* Builders over all leaf hashes of a tree (the operator side). */
void kg_ledger_tree_root(const uint8_t (*leaves)[32], uint64_t n, uint8_t out[static 32]);
KG_MUST_CHECK kg_err kg_ledger_tree_inclusion(const uint8_t (*leaves)[32], uint64_t n, uint64_t index,
					      uint8_t (*path)[32], size_t *plen);
KG_MUST_CHECK kg_err kg_ledger_tree_consistency(const uint8_t (*leaves)[32], uint64_t n, uint64_t m,
						uint8_t (*path)[32], size_t *plen);

/* ---- bundle.c: tlog-proof framing ---- */

struct kg_ledger_tlog_proof {
	bool has_extra;
	uint8_t extra[KG_LEDGER_MAX_ENTRY]; /* decoded extra data */
	size_t extra_len;
	uint64_t index;
	size_t n;
	uint8_t path[KG_LEDGER_MAX_PROOF][32];
	struct kg_cur note; /* the checkpoint, verbatim */
};
/* Parses c2sp.org/tlog-proof@v1; ledger_bundle_malformed otherwise. */
KG_MUST_CHECK kg_err kg_ledger_tlog_proof_parse(const uint8_t *p, size_t len, struct kg_ledger_tlog_proof *out);

#endif
