/*
 * kg_ledger: offline verification that a CVM image is published in a
 * transparency log ("ledger") of acceptable binaries.
 *
 * A CVM sends a ledger bundle: a C2SP tlog-proof (c2sp.org/tlog-proof@v1)
 * whose `extra` line carries the Keygate ledger entry, the entry's index,
 * an RFC 6962 inclusion proof and a C2SP checkpoint signed by the log and
 * cosigned by witnesses (c2sp.org/tlog-cosignature, type 0x04).  The
 * formats are specified in docs/ledger.md.
 *
 * Everything in this header is pure: no I/O, no clock (pass `now`), no
 * globals.  Untrusted bytes are read through common/cursor.h.
 */
#ifndef KG_LEDGER_H
#define KG_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

/* Limits, checked before anything is allocated or parsed further. */
#define KG_LEDGER_MAX_BUNDLE 40960u   /* whole tlog-proof text */
#define KG_LEDGER_MAX_NOTE 32768u     /* a signed note (checkpoint) */
#define KG_LEDGER_MAX_SIGS 100u       /* signature lines per note (C2SP: at least 16) */
#define KG_LEDGER_MAX_PROOF 64u       /* hashes in an inclusion or consistency proof */
#define KG_LEDGER_MAX_NAME 255u       /* key name / origin, bytes */
#define KG_LEDGER_MAX_ENTRY 2048u     /* one ledger entry, bytes */
#define KG_LEDGER_MAX_WITNESSES 16u   /* witness keys in one trust policy */
#define KG_LEDGER_MAX_MEASUREMENT 64u /* bytes */
#define KG_LEDGER_FUTURE_SKEW 300     /* seconds a cosignature may be ahead of `now` */

/* Signature types of C2SP signed-note (§Signature types). */
#define KG_LEDGER_SIG_ED25519 0x01u   /* the log's checkpoint signature */
#define KG_LEDGER_SIG_COSIGN_V1 0x04u /* timestamped Ed25519 witness cosignature */

/* A note verifier key: name, 32-bit key ID, signature type and Ed25519 key.
 * Text form ("vkey"): <name>+<hex8 key id>+base64(type || pk32). */
struct kg_ledger_key {
	char name[KG_LEDGER_MAX_NAME + 1];
	uint32_t id;
	uint8_t type;
	uint8_t pk[32];
};

/* Parses a vkey string; checks the name rules, the type (0x01 or 0x04) and
 * that the key ID equals SHA-256(name || "\n" || type || pk)[:4].
 * KG_ERR_CONFIG when it is malformed. */
KG_MUST_CHECK kg_err kg_ledger_vkey_parse(const char *vkey, struct kg_ledger_key *out);
/* The vkey string of k into out (cap bytes, NUL-terminated). */
KG_MUST_CHECK kg_err kg_ledger_vkey_format(const struct kg_ledger_key *k, char *out, size_t cap);
/* SHA-256(name || 0x0A || type || pk)[:4], big-endian (C2SP signed-note). */
uint32_t kg_ledger_key_id(const char *name, uint8_t type, const uint8_t pk[static 32]);

/* What the broker trusts for one ledger. */
struct kg_ledger_trust {
	char origin[KG_LEDGER_MAX_NAME + 1]; /* checkpoint origin line */
	struct kg_ledger_key log_key;        /* type 0x01 */
	struct kg_ledger_key witnesses[KG_LEDGER_MAX_WITNESSES]; /* type 0x04 */
	size_t n_witnesses;
	size_t witness_threshold; /* k of n_witnesses cosignatures required */
	/* Largest acceptable checkpoint age in seconds, judged by the k-th
	 * newest witness cosignature timestamp; 0 = no limit.  Needs k >= 1. */
	uint64_t max_age;
	/* The largest checkpoint accepted before (0 = none). */
	uint64_t seen_size;
	uint8_t seen_root[32];
};

enum kg_ledger_kind {
	KG_LEDGER_RELEASE = 1, /* "this image is published" */
	KG_LEDGER_REVOKE = 2,  /* "this earlier measurement is revoked" */
};

/* A Keygate ledger entry (the log leaf; exact text in docs/ledger.md).
 * Strings are NUL-terminated printable ASCII; absent optional ones "". */
struct kg_ledger_entry {
	enum kg_ledger_kind kind;
	char tee[8]; /* "snp", "tdx" */
	uint8_t measurement[KG_LEDGER_MAX_MEASUREMENT];
	size_t measurement_len;
	char name[129];       /* release only */
	char version[65];     /* release only */
	char provenance[513]; /* release, optional */
	char reason[257];     /* revoke, optional */
};

/* Parses one entry in its canonical text form.  ledger_entry_malformed
 * for anything that is not exactly canonical. */
KG_MUST_CHECK kg_err kg_ledger_entry_parse(const uint8_t *p, size_t len, struct kg_ledger_entry *out);
/* Canonical text of e into out (cap bytes); *len excludes any NUL.
 * KG_ERR_INVALID_ARG when a field breaks the format's rules. */
KG_MUST_CHECK kg_err kg_ledger_entry_format(const struct kg_ledger_entry *e, uint8_t *out, size_t cap,
					   size_t *len);

/* A consistency proof from an older tree of old_size leaves to the tree of
 * a checkpoint.  Text form (the prefix of a C2SP tlog-witness
 * add-checkpoint body): "old <size>\n" then one base64 hash per line. */
struct kg_ledger_consistency {
	uint64_t old_size;
	size_t n;
	uint8_t path[KG_LEDGER_MAX_PROOF][32];
};
KG_MUST_CHECK kg_err kg_ledger_consistency_parse(const uint8_t *p, size_t len, struct kg_ledger_consistency *out);

/* What a verified bundle established. */
struct kg_ledger_verdict {
	struct kg_ledger_entry entry;
	uint64_t index;          /* leaf index of the entry */
	uint64_t size;           /* checkpoint tree size */
	uint8_t root[32];        /* checkpoint root hash */
	uint64_t checkpoint_time; /* k-th newest witness timestamp; 0 without witnesses */
	size_t witnesses;        /* distinct trusted witnesses that cosigned */
	/* The caller should store (size, root) as its new seen checkpoint: the
	 * checkpoint is larger than (and proven consistent with) the seen one,
	 * or none was seen. */
	bool update_seen;
};

/*
 * Verifies a ledger bundle against one ledger's trust policy at time now.
 * consistency may be NULL; it is needed when the trust has seen a
 * checkpoint of a different size (see docs/ledger.md, "What the verifier
 * checks").  Returns KG_OK only for a release entry.  For a valid bundle
 * of a revoke entry it returns KG_ERR_LEDGER_REVOKED and fills *out (so a
 * caller may learn the revocation); on every other failure *out is zero.
 */
KG_MUST_CHECK kg_err kg_ledger_verify_bundle(const struct kg_ledger_trust *trust, const uint8_t *bundle, size_t len,
					     const struct kg_ledger_consistency *consistency, time_t now,
					     struct kg_ledger_verdict *out);

/* KG_OK when the verified entry is for this TEE and measurement (the
 * attested ones); ledger_not_in_ledger otherwise. */
KG_MUST_CHECK kg_err kg_ledger_match(const struct kg_ledger_verdict *v, const char *tee, const uint8_t *measurement,
				     size_t measurement_len);

/* A set of revoked digests, e.g. gathered by a log monitor. */
struct kg_ledger_digest {
	char tee[8];
	uint8_t measurement[KG_LEDGER_MAX_MEASUREMENT];
	size_t measurement_len;
};
/* ledger_revoked when e's (tee, measurement) is in revoked[0..n). */
KG_MUST_CHECK kg_err kg_ledger_check_revoked(const struct kg_ledger_digest *revoked, size_t n,
					     const struct kg_ledger_entry *e);

/* Measurement length for a TEE name ("snp" 48, "tdx" 48); 0 if unknown. */
size_t kg_ledger_tee_measurement_len(const char *tee);

/* ---- Other logs in the same formats (the broker's audit log) ---- */

/* RFC 6962 leaf hash: SHA-256(0x00 || entry). */
void kg_ledger_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[static 32]);

/* An append-only RFC 6962 tree kept as its compact range: the roots of
 * the perfect subtrees that size decomposes into, largest (leftmost)
 * first — one per bit set in size, so at most 64. */
struct kg_ledger_frontier {
	uint64_t size;
	size_t n;
	uint8_t h[64][32];
};
void kg_ledger_frontier_append(struct kg_ledger_frontier *f, const uint8_t leaf_hash[static 32]);
/* The tree head of f (SHA-256 of "" for the empty tree). */
void kg_ledger_frontier_root(const struct kg_ledger_frontier *f, uint8_t out[static 32]);
/* f's hashes concatenated (32 * f->n bytes) are its stored form; _load
 * checks that there are exactly popcount(size) of them. */
KG_MUST_CHECK kg_err kg_ledger_frontier_load(uint64_t size, const uint8_t *p, size_t len,
					     struct kg_ledger_frontier *out);

/* Opens a checkpoint note signed (type 0x01) by key, whose origin must be
 * the key's name: its size and root.  ledger_note_malformed,
 * ledger_bad_signature or ledger_unknown_key otherwise. */
KG_MUST_CHECK kg_err kg_ledger_checkpoint_open(const struct kg_ledger_key *key, const uint8_t *note, size_t len,
					       uint64_t *size, uint8_t root[static 32]);

#endif
