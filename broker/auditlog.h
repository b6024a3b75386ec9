/*
 * The audit table as a tamper-evident log (db/migrations/0009_audit_log.sql,
 * docs/audit.md): sealing queued rows into an RFC 6962 tree with signed
 * checkpoints, and verifying the whole table against them.
 */
#ifndef KG_AUDITLOG_H
#define KG_AUDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../ledger/ledger.h"

struct pg_conn;
struct kg_ledger_skey;

/* What a sealer remembers between sealings (start with zeros): the newest
 * checkpoint of its key it signed or found, and how far it has looked. */
struct kg_auditlog_mark {
	struct kg_ledger_frontier f; /* that checkpoint's tree (f.size 0: none yet) */
	uint8_t root[32];
	int64_t checkpoint_id; /* its row (audit_checkpoints, 0017); 0: none yet */
	int64_t seen;	       /* checkpoints up to this id have been examined */
};

/* Appends up to max queued rows to the tree (through kg_audit_append())
 * and, unless a checkpoint of sk already covers the whole tree, stores a
 * checkpoint signed with sk, in one transaction on c.  It continues from
 * the newest checkpoint that is sk's signature over its stored frontier,
 * passing over (and logging, once) checkpoints that are not, and covers
 * leaves stored after it too, recomputing each from its row.  *sealed = 0
 * when nothing was queued or another sealer holds the lock.  Refuses
 * (KG_ERR_DB_QUERY, logged) to sign when a checkpoint is larger than the
 * tree, when tree positions or their rows are missing, when a leaf is not
 * the hash of its row's entry, or when the tree is smaller than, or
 * differs from, *mark. */
KG_MUST_CHECK kg_err kg_auditlog_seal(struct pg_conn *c, const struct kg_ledger_skey *sk, struct kg_auditlog_mark *mark,
				      const char *replica, size_t max, uint64_t *sealed, uint64_t *size);

/* A thread that seals every interval_ms while the broker runs. */
struct kg_sealer;
KG_MUST_CHECK kg_err kg_sealer_start(struct kg_sealer **out, const char *dsn, const char *key_file,
				     const char *replica, unsigned interval_ms);
void kg_sealer_stop(struct kg_sealer *s);

enum kg_auditlog_problem {
	KG_AUDIT_OK,
	KG_AUDIT_CHANGED,    /* a sealed row's content differs */
	KG_AUDIT_REORDERED,  /* a sealed row's content was sealed at another position */
	KG_AUDIT_REMOVED,    /* a sealed row, or a tree position, is gone */
	KG_AUDIT_UNSEALED,   /* a row is neither sealed nor queued */
	KG_AUDIT_TREE,       /* stored leaf hashes do not give a checkpoint's root */
	KG_AUDIT_SIGNATURE,  /* a checkpoint's signature or text is wrong */
	KG_AUDIT_UNCOVERED,  /* sealed rows no signed checkpoint covers */
	KG_AUDIT_PINNED,     /* the tree does not extend a checkpoint kept elsewhere */
};
#define KG_AUDIT_KINDS (KG_AUDIT_PINNED + 1)

struct kg_auditlog_report {
	uint64_t rows, sealed, queued, checkpoints, size;
	uint64_t signed_size; /* the largest tree a checkpoint that verifies covers */
	double oldest_queued_s; /* age of the oldest queued row */
	uint64_t problems;
	uint64_t by_kind[KG_AUDIT_KINDS]; /* problems of each kind */
	/* The first problem in tree order. */
	enum kg_auditlog_problem first;
	int64_t first_audit_id; /* -1 when the problem names no row */
	int64_t first_position; /* -1 when it names no position */
	char first_text[384];
};

/* Verifies the table with c (a role that may read the audit_log* views):
 * every leaf from its row, every checkpoint from the leaves and its
 * signature by key (each checkpoint of a size: one the key did not sign is
 * a KG_AUDIT_SIGNATURE problem), every sealed row covered by one that
 * verifies, every row sealed or queued.  pinned (may be NULL) is
 * a checkpoint note kept outside the database that the tree must extend.
 * Returns KG_OK when the verification ran (see r->problems), or why it
 * could not. */
KG_MUST_CHECK kg_err kg_auditlog_verify(struct pg_conn *c, const struct kg_ledger_key *key, const uint8_t *pinned,
					size_t pinned_len, struct kg_auditlog_report *r);
const char *kg_auditlog_problem_name(enum kg_auditlog_problem p);

#endif
