/*
 * The operator side of a Keygate ledger: a transparency log kept as static
 * files in the C2SP tlog-tiles layout.  keygate-ledger (tool.c) wraps
 * these; tests call them directly.  Unlike ledger.h, these do file I/O.
 *
 * DIR/ledger.key      the log's signing key (mode 0600; never served)
 * DIR/ledger.vkey     its verifier key
 * DIR/pending         entries added since the last checkpoint (0600)
 * DIR/lock            flock(2) serialising writers
 * DIR/public/         the static root to serve: checkpoint, tile/<L>/<N>,
 *                     tile/entries/<N>, with .p/<W> partial tiles
 */
#ifndef KG_LEDGER_LOG_H
#define KG_LEDGER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* Creates DIR with a fresh Ed25519 key named origin and an empty signed
 * checkpoint; writes the vkey string into vkey.  Refuses an existing log. */
KG_MUST_CHECK kg_err kg_ledger_log_init(const char *dir, const char *origin, char *vkey, size_t cap);
/* Queues an entry for the next checkpoint; *index is its future index. */
KG_MUST_CHECK kg_err kg_ledger_log_add(const char *dir, const struct kg_ledger_entry *e, uint64_t *index);
/* Writes tiles and entry bundles for every queued entry and signs a new
 * checkpoint over all entries; *size is its tree size. */
KG_MUST_CHECK kg_err kg_ledger_log_checkpoint(const char *dir, uint64_t *size);
/* Makes a witness key (type 0x04, mode 0600 at file) and its vkey. */
KG_MUST_CHECK kg_err kg_ledger_witness_init(const char *file, const char *name, char *vkey, size_t cap);
/* Adds (or replaces) the tlog-cosignature/v1 of the witness key in file,
 * timestamped ts, to the current checkpoint.  A stand-in for a real
 * witness: it checks the log signature, not consistency with history. */
KG_MUST_CHECK kg_err kg_ledger_log_cosign(const char *dir, const char *witness_key_file, uint64_t ts);
/* The ledger bundle (tlog-proof text, malloc'd) for the latest release
 * entry of (tee, measurement) against the current checkpoint.  *revoked
 * tells whether a later revoke entry for the same digest exists.
 * KG_ERR_LEDGER_NOT_IN_LEDGER when there is no such entry. */
KG_MUST_CHECK kg_err kg_ledger_log_bundle(const char *dir, const char *tee, const uint8_t *m, size_t mlen,
					  char **out, size_t *len, bool *revoked);
/* The ledger bundle for the entry at index. */
KG_MUST_CHECK kg_err kg_ledger_log_proof(const char *dir, uint64_t index, char **out, size_t *len);
/* A consistency proof from tree size old_size to the current checkpoint,
 * in the text form kg_ledger_consistency_parse reads. */
KG_MUST_CHECK kg_err kg_ledger_log_consistency(const char *dir, uint64_t old_size, char **out, size_t *len);
/* "<tee> <hex measurement>\n" for every revoke entry in the checkpoint. */
KG_MUST_CHECK kg_err kg_ledger_log_revoked(const char *dir, char **out, size_t *len);

/* ---- Signing keys and checkpoints for other logs (the audit log) ---- */

struct kg_ledger_skey;
/* Makes a signing key of type (0x01 log, 0x04 witness) named name in file
 * (mode 0600; refuses an existing file) and writes its vkey string. */
KG_MUST_CHECK kg_err kg_ledger_key_init(const char *file, const char *name, uint8_t type, char *vkey, size_t cap);
/* Reads a key file written by kg_ledger_key_init. */
KG_MUST_CHECK kg_err kg_ledger_skey_read(const char *path, struct kg_ledger_skey **out);
void kg_ledger_skey_free(struct kg_ledger_skey *sk);
/* The verifier key of sk. */
const struct kg_ledger_key *kg_ledger_skey_pub(const struct kg_ledger_skey *sk);
/* A signed checkpoint note (origin = the key's name) for (size, root)
 * into out (cap bytes, NUL-terminated); *len excludes the NUL. */
KG_MUST_CHECK kg_err kg_ledger_checkpoint_sign(const struct kg_ledger_skey *sk, uint64_t size,
					       const uint8_t root[static 32], char *out, size_t cap, size_t *len);

#endif
