-- The broker role no longer writes the audit tree or the checkpoints
-- itself (docs/audit.md, "Who may write what").  With INSERT on
-- audit_tree, a stolen broker credential could append leaves no row
-- gives, after which no sealer can vouch for the tree and sealing stops
-- for good; with DELETE on audit_queue it could drop queued rows before
-- they are sealed.  Instead the sealer calls two functions that run with
-- the owner's rights and write only what the rows and the tree determine:
--
--   kg_audit_append(n)    appends the next n queued rows to the tree, in
--                         queue order, at contiguous positions after the
--                         last, each leaf computed here exactly as 0009
--                         defines it; removes them from the queue; returns
--                         what it appended, for the sealer to check and sign;
--   kg_audit_checkpoint() stores a checkpoint of the tree as it is: its
--                         size must be the tree's, so nothing can be put
--                         in the way of a later one.
--
-- Both take the sealers' advisory lock (broker/auditlog.c) and wait for
-- it, so that direct calls line up behind a sealer.  The database cannot
-- check the checkpoint's Ed25519 signature: a broker credential can still
-- store a badly signed checkpoint of the current tree.  Sealers skip such
-- checkpoints and continue from the newest they signed; `keygate audit
-- verify` reports them.  Every name is qualified (0010): these run with
-- the owner's rights.

CREATE FUNCTION kg_audit_append(max_rows bigint)
RETURNS TABLE (seq bigint, audit_id bigint, leaf_hash bytea, entry text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET bytea_output = 'hex' AS $$
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

CREATE FUNCTION kg_audit_checkpoint(cp_size bigint, cp_root bytea, cp_frontier bytea, cp_note text,
                                    cp_replica text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tree_size bigint;
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(27495, 1635083380);
	SELECT COALESCE(pg_catalog.max(t.seq) OPERATOR(pg_catalog.+) 1, 0) INTO tree_size FROM public.audit_tree t;
	IF cp_size IS DISTINCT FROM tree_size THEN
		RAISE EXCEPTION 'a checkpoint of size % for a tree of size %', cp_size, tree_size
			USING ERRCODE = 'check_violation';
	END IF;
	INSERT INTO public.audit_checkpoints (size, root, frontier, note, replica)
	VALUES (cp_size, cp_root, cp_frontier, cp_note, cp_replica);
END
$$;

REVOKE ALL ON FUNCTION kg_audit_append(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION kg_audit_checkpoint(bigint, bytea, bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kg_audit_append(bigint) TO keygate_broker;
GRANT EXECUTE ON FUNCTION kg_audit_checkpoint(bigint, bytea, bytea, text, text) TO keygate_broker;
REVOKE INSERT ON audit_tree, audit_checkpoints FROM keygate_broker;
REVOKE DELETE ON audit_queue FROM keygate_broker;
-- kg_audit_queued() (0009) stays: it reads, and the sealer no longer needs it.
