-- Roles, finished: an admin role for policy changes, and an auditor who
-- reads views only.  And a guard: no change may leave an active key whose
-- policies all ended.
--
--   keygate_admin    changes keys, policies, ledgers and collateral (rows,
--                    not the schema) and applies policy migrations with
--                    `keygate migrate`; reads the auditor's views.  Cannot
--                    touch audit rows or the policy history: those belong
--                    to the database owner, as schema changes do.
--   keygate_broker   reads keys, policies, ledgers and collateral; inserts
--                    audit rows and seals them (0009).
--   keygate_auditor  reads the audit_* views, nothing else.

-- Nobody but the owner creates objects in public: an overload planted
-- there could stand in for a function a SECURITY DEFINER body calls
-- (PostgreSQL <= 14 granted CREATE on public to everyone).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keygate_admin') THEN
		CREATE ROLE keygate_admin NOLOGIN;
	END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON keys, key_versions, policies, ledgers, ledger_checkpoints,
	ledger_revocations, collateral TO keygate_admin;
GRANT USAGE ON SEQUENCE policies_policy_id_seq, collateral_collateral_id_seq TO keygate_admin;
GRANT SELECT, INSERT ON keygate_migrations TO keygate_admin;

-- The history trigger writes as the owner, so that an admin can change
-- policy but not its history; it records the login (session) user, which
-- SET ROLE does not hide.
CREATE OR REPLACE FUNCTION kg_policy_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO public.policy_history (db_user, table_name, operation, old_row, new_row)
	VALUES (pg_catalog.session_user(), TG_TABLE_NAME, TG_OP,
	        CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN pg_catalog.to_jsonb(OLD) END,
	        CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN pg_catalog.to_jsonb(NEW) END);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION kg_policy_history() FROM PUBLIC;

-- The auditor: views only.  Views run with their owner's rights.
REVOKE SELECT ON audit, policy_history, ledgers, ledger_checkpoints, ledger_revocations, collateral
	FROM keygate_auditor;
CREATE VIEW audit_policy_history AS SELECT * FROM policy_history;
CREATE VIEW audit_policies AS SELECT * FROM policies;
CREATE VIEW audit_keys AS SELECT key_id, kind, state, key_len, created_at FROM keys;
CREATE VIEW audit_ledgers AS SELECT * FROM ledgers;
CREATE VIEW audit_ledger_revocations AS SELECT * FROM ledger_revocations;
GRANT SELECT ON audit_policy_history, audit_policies, audit_keys, audit_ledgers, audit_ledger_revocations
	TO keygate_auditor;
GRANT SELECT ON audit_log, audit_log_tree, audit_log_checkpoints, audit_log_queue, audit_releases_per_day,
	audit_key_recipients, audit_denials, audit_measurements, audit_grants_under_changed_policy,
	audit_policy_history, audit_policies, audit_keys, audit_ledgers, audit_ledger_revocations TO keygate_admin;

-- A key that is active keeps at least one policy that is active and not
-- past its end: a migration that would disable, expire or delete the last
-- one fails (at commit, so a migration may replace a policy in two steps).
-- To retire a key, disable the key first.  Keys without any policy yet (just
-- imported) are not judged: they are denied anyway.
CREATE FUNCTION kg_key_keeps_policy() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM public.keys k WHERE k.key_id = OLD.key_id AND k.state = 'active')
	   AND NOT EXISTS (SELECT 1 FROM public.policies p
	                    WHERE p.key_id = OLD.key_id AND p.state = 'active'
	                      AND (p.not_after IS NULL OR p.not_after > now())) THEN
		RAISE EXCEPTION 'key % would be left without a valid policy', OLD.key_id
			USING ERRCODE = 'check_violation',
			      HINT = 'add a policy in the same migration, or disable the key first';
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER policies_keep_one AFTER UPDATE OR DELETE ON policies
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kg_key_keeps_policy();

-- Schema migrations (db/migrations, numbered below 0100) are the owner's:
-- an admin may record only policy migrations (0100 and up), so that it
-- cannot mark a schema fix as applied before the owner runs it.
CREATE FUNCTION kg_migration_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NEW.name < '0100' AND NOT pg_catalog.has_table_privilege('public.keygate_migrations', 'TRUNCATE') THEN
		RAISE EXCEPTION 'migration %: numbers below 0100 are schema migrations, for the database owner', NEW.name
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER keygate_migrations_guard BEFORE INSERT OR UPDATE ON keygate_migrations
	FOR EACH ROW EXECUTE FUNCTION kg_migration_guard();

-- What else an admin may change goes to the history too: collateral (which
-- CRL or RIM was current), ledger revocations and the seen checkpoints
-- (rollback protection).  Without document bodies: their SHA-256 is kept.
CREATE FUNCTION kg_policy_history_lean() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO public.policy_history (db_user, table_name, operation, old_row, new_row)
	VALUES (pg_catalog.session_user(), TG_TABLE_NAME, TG_OP,
	        CASE WHEN TG_OP IN ('UPDATE', 'DELETE')
	             THEN pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) 'body'::text END,
	        CASE WHEN TG_OP IN ('INSERT', 'UPDATE')
	             THEN pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) 'body'::text END);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION kg_policy_history_lean() FROM PUBLIC;
CREATE TRIGGER collateral_history AFTER INSERT OR UPDATE OR DELETE ON collateral
	FOR EACH ROW EXECUTE FUNCTION kg_policy_history_lean();
CREATE TRIGGER ledger_revocations_history AFTER INSERT OR UPDATE OR DELETE ON ledger_revocations
	FOR EACH ROW EXECUTE FUNCTION kg_policy_history_lean();
CREATE TRIGGER ledger_checkpoints_history AFTER INSERT OR UPDATE OR DELETE ON ledger_checkpoints
	FOR EACH ROW EXECUTE FUNCTION kg_policy_history_lean();
