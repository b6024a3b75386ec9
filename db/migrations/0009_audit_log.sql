-- The audit table as a tamper-evident log (docs/audit.md, "Proving the
-- audit log"): every audit row becomes a leaf of an RFC 6962 Merkle tree
-- whose heads are signed checkpoints in the ledger's signed-note format.
--
-- Brokers insert audit rows concurrently and commit them before a key
-- leaves; a trigger queues each new row.  A sealer (one broker at a time,
-- under an advisory lock) appends queued rows to audit_tree in queue
-- order and stores a signed checkpoint of the new tree, in one
-- transaction.  `keygate audit verify` recomputes every leaf from the rows
-- and every root from the leaves and names the first row that differs.
--
-- A leaf is SHA-256(0x00 || entry) where entry is the row as canonical
-- JSON without its surrogate key and without NULL members:
--   jsonb_strip_nulls(to_jsonb(row) - 'audit_id')::text
-- read with TimeZone = 'UTC' and bytea_output = 'hex'.  Columns added to
-- audit later must be nullable without a default, so that the entries of
-- earlier rows stay what they were.

CREATE TABLE audit_queue (
	audit_id  bigint PRIMARY KEY,
	queued_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- SECURITY DEFINER: the broker role may not write the queue itself.
CREATE FUNCTION kg_audit_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO public.audit_queue (audit_id) VALUES (NEW.audit_id);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION kg_audit_enqueue() FROM PUBLIC;
CREATE TRIGGER audit_enqueue AFTER INSERT ON audit
	FOR EACH ROW EXECUTE FUNCTION kg_audit_enqueue();

-- Position seq of the tree (0, 1, 2, ...) holds audit row audit_id.
CREATE TABLE audit_tree (
	seq       bigint PRIMARY KEY CHECK (seq >= 0),
	audit_id  bigint NOT NULL UNIQUE,
	leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32)
);

-- One signed checkpoint per sealing: tree size, root, the compact range
-- the next sealing continues from (32-byte hashes, one per bit of size),
-- and the signed note.
CREATE TABLE audit_checkpoints (
	size     bigint PRIMARY KEY CHECK (size >= 1),
	root     bytea NOT NULL CHECK (length(root) = 32),
	frontier bytea NOT NULL CHECK (length(frontier) % 32 = 0),
	note     text NOT NULL,
	replica  text NOT NULL,
	at       timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE OR DELETE ON audit_tree
	FOR EACH ROW EXECUTE FUNCTION kg_audit_immutable();
CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
	FOR EACH STATEMENT EXECUTE FUNCTION kg_audit_immutable();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
	FOR EACH ROW EXECUTE FUNCTION kg_audit_immutable();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION kg_audit_immutable();

-- Why a release was decided as it was: per policy of the key for this
-- TEE, the conditions that failed (the names `keygate policy explain`
-- prints).  NULL when the request never reached the policies.
ALTER TABLE audit ADD COLUMN explain jsonb;

-- The sealer reads the queued rows' entries through this function, so the
-- broker role needs no SELECT on the audit rows themselves.
CREATE FUNCTION kg_audit_queued(max_rows bigint) RETURNS TABLE (audit_id bigint, entry text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET bytea_output = 'hex' AS $$
	-- Every name qualified: a function run with the owner's rights must not
	-- find an overload someone planted (to_jsonb(audit) in another schema).
	SELECT q.audit_id,
	       pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.-) 'audit_id'::text)::text
	  FROM public.audit_queue q JOIN public.audit a ON a.audit_id = q.audit_id
	 ORDER BY q.audit_id LIMIT max_rows
$$;
REVOKE ALL ON FUNCTION kg_audit_queued(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kg_audit_queued(bigint) TO keygate_broker;
GRANT SELECT, DELETE ON audit_queue TO keygate_broker;
GRANT SELECT, INSERT ON audit_tree, audit_checkpoints TO keygate_broker;
REVOKE ALL ON audit_queue, audit_tree, audit_checkpoints FROM PUBLIC;

-- What auditors and `keygate audit verify` read.  audit_log must list every
-- column of audit: a migration that adds one re-creates it (verify
-- refuses to run when the two differ).
CREATE VIEW audit_log AS SELECT * FROM audit;
CREATE VIEW audit_log_tree AS SELECT * FROM audit_tree;
CREATE VIEW audit_log_checkpoints AS SELECT * FROM audit_checkpoints;
CREATE VIEW audit_log_queue AS SELECT * FROM audit_queue;
GRANT SELECT ON audit_log, audit_log_tree, audit_log_checkpoints, audit_log_queue TO keygate_auditor;
