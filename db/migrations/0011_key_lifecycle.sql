-- Key lifecycle (issue #8): versions that can be disabled and destroyed,
-- the KEK that wrapped each version, per-policy version rules, and the
-- wrapped root secrets of session keys.

-- A version is active, disabled (kept, not released) or destroyed
-- (crypto-shredded: the wrapped material is gone, the row stays as a
-- tombstone so that audit rows naming it keep their meaning).
ALTER TABLE key_versions
	ADD COLUMN state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled', 'destroyed')),
	-- Which KEK wrapped this row (kg_kek_id: "file:<16 hex>" or
	-- "pkcs11:<token>/<key>"), not secret.  NULL: wrapped before KEK
	-- ids were recorded; brokers then try each KEK they hold.
	ADD COLUMN kek_id text CHECK (kek_id ~ '^[a-z0-9]+:[[:print:]]{1,200}$'),
	ADD COLUMN destroyed_at timestamptz;
ALTER TABLE key_versions ALTER COLUMN wrapped DROP NOT NULL;
-- 0001 allowed format 1 only.  Format 1: 1 || nonce (24) || XChaCha20-
-- Poly1305 ciphertext || tag (16), KEK in memory.  Format 2: 2 || nonce
-- (12) || AES-256-GCM ciphertext || tag (16), KEK inside a PKCS#11 token.
ALTER TABLE key_versions DROP CONSTRAINT key_versions_wrapped_check;
ALTER TABLE key_versions ADD CONSTRAINT key_versions_wrapped_check CHECK (
	wrapped IS NULL
	OR (get_byte(wrapped, 0) = 1 AND length(wrapped) BETWEEN 1 + 24 + 16 + 16 AND 1 + 24 + 64 + 16)
	OR (get_byte(wrapped, 0) = 2 AND length(wrapped) BETWEEN 1 + 12 + 16 + 16 AND 1 + 12 + 64 + 16));
ALTER TABLE key_versions ADD CONSTRAINT key_versions_destroyed_check CHECK (
	(state = 'destroyed') = (wrapped IS NULL) AND (state = 'destroyed') = (destroyed_at IS NOT NULL));
-- A destroyed version stays destroyed.
CREATE FUNCTION kg_key_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.state = 'destroyed' AND NEW.state <> 'destroyed' THEN
		RAISE EXCEPTION 'key % version % is destroyed', OLD.key_id, OLD.version
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER key_versions_guard BEFORE UPDATE ON key_versions
	FOR EACH ROW EXECUTE FUNCTION kg_key_version_guard();

-- Lifecycle changes go to the policy history, without the wrapped bytes
-- (0008 left key_versions out because of them).  Written as the owner, so
-- that a role that may change key versions need not write the history
-- itself; it records the login (session) user.
CREATE FUNCTION kg_key_version_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO public.policy_history (db_user, table_name, operation, old_row, new_row)
	VALUES (pg_catalog.session_user(), TG_TABLE_NAME, TG_OP,
	        CASE WHEN TG_OP IN ('UPDATE', 'DELETE')
	             THEN pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) 'wrapped'::text END,
	        CASE WHEN TG_OP IN ('INSERT', 'UPDATE')
	             THEN pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) 'wrapped'::text END);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION kg_key_version_history() FROM PUBLIC;
-- Recorded: new versions, state changes, and re-wrapping under another
-- KEK (which KEK held a version when is an auditor's question too).
CREATE TRIGGER key_versions_history AFTER INSERT OR DELETE ON key_versions
	FOR EACH ROW EXECUTE FUNCTION kg_key_version_history();
CREATE TRIGGER key_versions_history_update AFTER UPDATE OF state, kek_id ON key_versions
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.kek_id IS DISTINCT FROM NEW.kek_id)
	EXECUTE FUNCTION kg_key_version_history();

-- Which versions a policy releases.  Neither column set: only the newest
-- active version.  Otherwise a version must be in allowed_versions (when
-- set) and at least min_version (when set).
ALTER TABLE policies
	ADD COLUMN allowed_versions integer[] CHECK (allowed_versions IS NULL OR (
		cardinality(allowed_versions) BETWEEN 1 AND 16 AND array_ndims(allowed_versions) = 1
		AND array_position(allowed_versions, NULL) IS NULL AND 0 < ALL (allowed_versions))),
	ADD COLUMN min_version integer CHECK (min_version IS NULL OR min_version >= 1);

-- Auditors see versions and their tombstones, never the wrapped bytes
-- (a view runs with its owner's rights).
CREATE VIEW audit_key_versions AS
SELECT key_id, version, state, kek_id, created_at, destroyed_at FROM key_versions;
GRANT SELECT ON audit_key_versions TO keygate_auditor;

-- The broker's role is unchanged: SELECT on keys, key_versions and
-- policies (0001), INSERT on audit.  0003's statement trigger NOTIFYs on
-- every change to key_versions, including these new columns.
