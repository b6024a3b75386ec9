-- A forged checkpoint no longer takes a tree size away from the sealers
-- (docs/audit.md, "Who may write what").
--
-- Until now size was the key of audit_checkpoints.  kg_audit_checkpoint()
-- (0016) stores a checkpoint of the tree's current size, and the database
-- cannot check its Ed25519 signature; so a stolen broker credential could
-- append the queue with kg_audit_append() and store a junk checkpoint at
-- the new size in the same transaction, every time a row was queued.  No
-- sealer could then store its own checkpoint of that size, found nothing
-- queued, and signed nothing: new rows stayed unsigned while the queue
-- looked healthy.  Now a size may have several checkpoints, each its own
-- row; the sealers sign whenever no checkpoint of their own key covers the
-- tree (broker/auditlog.c), and `keygate audit verify` names every
-- checkpoint the audit key did not sign as a `signature` problem.
--
-- checkpoint_id numbers the rows in the order they were stored (the
-- sealers' advisory lock orders the callers of kg_audit_checkpoint()): a
-- sealer examines each checkpoint once, however many junk ones pile up.

ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey;
ALTER TABLE audit_checkpoints ADD COLUMN checkpoint_id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE audit_checkpoints ADD PRIMARY KEY (checkpoint_id);
CREATE INDEX audit_checkpoints_size ON audit_checkpoints (size, checkpoint_id);
-- The auditor's view shows the new column (verify checks that every
-- audit_log* view lists every column of its table).
CREATE OR REPLACE VIEW audit_log_checkpoints AS SELECT * FROM audit_checkpoints;

-- The tree's size that kg_audit_checkpoint() compares with, and the
-- positions kg_audit_append() continues from, must be read after the
-- advisory lock is granted.  Under REPEATABLE READ or SERIALIZABLE the
-- snapshot may be older than the lock (taken by an earlier statement of
-- the transaction), and a checkpoint could be stored for a size the tree
-- has left behind.  In READ COMMITTED every statement of these functions
-- reads a fresh snapshot.
CREATE FUNCTION kg_audit_require_read_committed() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
		RAISE EXCEPTION 'the audit tree is written only in READ COMMITTED transactions, not %',
			pg_catalog.current_setting('transaction_isolation')
			USING ERRCODE = 'invalid_transaction_state';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION kg_audit_require_read_committed() FROM PUBLIC;

-- As 0016, with the isolation level checked first.
CREATE OR REPLACE FUNCTION kg_audit_append(max_rows bigint)
RETURNS TABLE (seq bigint, audit_id bigint, leaf_hash bytea, entry text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET bytea_output = 'hex' AS $$
	SELECT public.kg_audit_require_read_committed();
	SELECT pg_catalog.pg_advisory_xact_lock(27495, 1635083380);
	-- A new snapshot per statement: what an earlier sealer committed
	-- before the lock was granted is seen here.
	WITH base AS (
		SELECT COALESCE(pg_catalog.max(t.seq) OPERATOR(pg_catalog.+) 1, 0) AS b FROM public.audit_tree t
	), q AS (
		SELECT aq.audit_id,
		       pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.-) 'audit_id'::text)::text
		         AS entry
		  FROM public.audit_queue aq JOIN public.audit a ON a.audit_id OPERATOR(pg_catalog.=) aq.audit_id
		 ORDER BY aq.audit_id LIMIT max_rows
	), n AS (
		SELECT base.b OPERATOR(pg_catalog.+) pg_catalog.row_number() OVER (ORDER BY q.audit_id)
		         OPERATOR(pg_catalog.-) 1 AS seq,
		       q.audit_id, q.entry,
		       -- leaf = SHA-256(0x00 || entry), the entry's UTF-8 bytes (0009)
		       pg_catalog.sha256(pg_catalog.decode('00', 'hex') OPERATOR(pg_catalog.||)
		                         pg_catalog.convert_to(q.entry, 'UTF8')) AS leaf_hash
		  FROM q, base
	), ins AS (
		INSERT INTO public.audit_tree (seq, audit_id, leaf_hash) SELECT n.seq, n.audit_id, n.leaf_hash FROM n
	), del AS (
		-- An array, so that the queue is read by its index, not scanned.
		DELETE FROM public.audit_queue d
		 WHERE d.audit_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT n.audit_id FROM n))
	)
	SELECT n.seq, n.audit_id, n.leaf_hash, n.entry FROM n ORDER BY n.seq
$$;

-- As 0016, with the isolation level checked first, returning the new
-- row's checkpoint_id (the sealer remembers it).  A new return type, so
-- dropped and created again.
DROP FUNCTION kg_audit_checkpoint(bigint, bytea, bytea, text, text);
CREATE FUNCTION kg_audit_checkpoint(cp_size bigint, cp_root bytea, cp_frontier bytea, cp_note text,
                                    cp_replica text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tree_size bigint;
	new_id bigint;
BEGIN
	PERFORM public.kg_audit_require_read_committed();
	PERFORM pg_catalog.pg_advisory_xact_lock(27495, 1635083380);
	SELECT COALESCE(pg_catalog.max(t.seq) OPERATOR(pg_catalog.+) 1, 0) INTO tree_size FROM public.audit_tree t;
	IF cp_size IS DISTINCT FROM tree_size THEN
		RAISE EXCEPTION 'a checkpoint of size % for a tree of size %', cp_size, tree_size
			USING ERRCODE = 'check_violation';
	END IF;
	INSERT INTO public.audit_checkpoints (size, root, frontier, note, replica)
	VALUES (cp_size, cp_root, cp_frontier, cp_note, cp_replica)
	RETURNING checkpoint_id INTO new_id;
	RETURN new_id;
END
$$;
REVOKE ALL ON FUNCTION kg_audit_checkpoint(bigint, bytea, bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kg_audit_checkpoint(bigint, bytea, bytea, text, text) TO keygate_broker;

-- The leaves a sealer did not append itself (stored by kg_audit_append()
-- called by someone else, without a checkpoint of this sealer's key after
-- them) are signed only once the sealer has recomputed each from its row:
-- max_rows positions from from_seq on, with the stored leaf and the entry
-- (NULL when the row is gone), computed as 0009 defines it.  This lets the
-- broker role read the entries of sealed rows, not only queued ones
-- (kg_audit_queued(), kg_audit_append()); docs/audit.md says so.
CREATE FUNCTION kg_audit_entries(from_seq bigint, max_rows bigint)
RETURNS TABLE (seq bigint, audit_id bigint, leaf_hash bytea, entry text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET bytea_output = 'hex' AS $$
	SELECT t.seq, t.audit_id, t.leaf_hash,
	       pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.-) 'audit_id'::text)::text
	  FROM public.audit_tree t LEFT JOIN public.audit a ON a.audit_id OPERATOR(pg_catalog.=) t.audit_id
	 WHERE t.seq OPERATOR(pg_catalog.>=) from_seq
	 ORDER BY t.seq LIMIT max_rows
$$;
REVOKE ALL ON FUNCTION kg_audit_entries(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kg_audit_entries(bigint, bigint) TO keygate_broker;
