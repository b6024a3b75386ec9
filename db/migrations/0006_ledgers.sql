-- The ledger: transparency logs of acceptable images (docs/ledger.md).
-- A policy may require that the attested measurement is published in a
-- ledger ("in ledger L"), instead of or besides listing measurements.

CREATE TABLE ledgers (
	ledger_id         text PRIMARY KEY CHECK (ledger_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	-- The checkpoint origin line, and the log's verifier key (C2SP
	-- signed-note vkey "name+hex8+base64", Ed25519).
	origin            text NOT NULL CHECK (length(origin) BETWEEN 1 AND 255),
	log_vkey          text NOT NULL CHECK (length(log_vkey) BETWEEN 1 AND 400),
	-- Witness vkeys (tlog-cosignature, timestamped Ed25519) and how many
	-- of them must cosign a checkpoint.
	witness_vkeys     text[] NOT NULL DEFAULT '{}'
		CHECK (array_ndims(witness_vkeys) IS NULL OR array_ndims(witness_vkeys) = 1),
	witness_threshold integer NOT NULL DEFAULT 0
		CHECK (witness_threshold >= 0 AND witness_threshold <= coalesce(cardinality(witness_vkeys), 0)
		       AND witness_threshold <= 16),
	-- Checkpoints older than this (by their witnesses' timestamps) are
	-- refused; 0 = no limit.  A limit needs witnesses to date checkpoints.
	max_age_seconds   bigint NOT NULL DEFAULT 0 CHECK (max_age_seconds >= 0),
	CHECK (max_age_seconds = 0 OR witness_threshold >= 1)
);

-- The largest checkpoint verified so far, per ledger, shared by every
-- broker: a smaller or inconsistent checkpoint is refused (rollback and
-- split-view protection).  Brokers advance it with a compare-and-set.
CREATE TABLE ledger_checkpoints (
	ledger_id  text PRIMARY KEY REFERENCES ledgers (ledger_id) ON DELETE CASCADE,
	size       bigint NOT NULL CHECK (size > 0),
	root       bytea NOT NULL CHECK (length(root) = 32),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Measurements revoked by a ledger's revoke entries, imported by
-- `keygate ledger sync` from the log's entries.
CREATE TABLE ledger_revocations (
	ledger_id   text NOT NULL REFERENCES ledgers (ledger_id) ON DELETE CASCADE,
	tee         text NOT NULL CHECK (tee IN ('snp', 'tdx')),
	measurement bytea NOT NULL CHECK (length(measurement) = 48),
	leaf_index  bigint CHECK (leaf_index IS NULL OR leaf_index >= 0), -- when known
	reason      text,
	imported_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ledger_id, tee, measurement)
);

ALTER TABLE policies ADD COLUMN ledger_id text REFERENCES ledgers (ledger_id) ON DELETE RESTRICT;
ALTER TABLE policies ALTER COLUMN measurements DROP NOT NULL;
ALTER TABLE policies ADD CONSTRAINT policies_measured CHECK (measurements IS NOT NULL OR ledger_id IS NOT NULL);

-- What the ledger established for a release, for auditors.
ALTER TABLE audit ADD COLUMN ledger jsonb;

CREATE TRIGGER ledgers_notify AFTER INSERT OR UPDATE OR DELETE ON ledgers
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();
CREATE TRIGGER ledger_checkpoints_notify AFTER INSERT OR UPDATE OR DELETE ON ledger_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();
CREATE TRIGGER ledger_revocations_notify AFTER INSERT OR UPDATE OR DELETE ON ledger_revocations
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();

REVOKE ALL ON ledgers, ledger_checkpoints, ledger_revocations FROM PUBLIC;
GRANT SELECT ON ledgers, ledger_revocations TO keygate_broker;
GRANT SELECT, INSERT, UPDATE ON ledger_checkpoints TO keygate_broker;
GRANT SELECT ON ledgers, ledger_checkpoints, ledger_revocations TO keygate_auditor;
