-- Policy history: every change to keys, policies and ledgers, with the
-- database user, the time and the migration that made it (set by
-- `keygate migrate` as keygate.migration).  Append-only, like the audit.
CREATE TABLE policy_history (
	history_id bigserial PRIMARY KEY,
	at         timestamptz NOT NULL DEFAULT clock_timestamp(),
	db_user    text NOT NULL DEFAULT current_user,
	migration  text DEFAULT nullif(current_setting('keygate.migration', true), ''),
	table_name text NOT NULL,
	operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
	old_row    jsonb,
	new_row    jsonb
);
CREATE INDEX policy_history_policy ON policy_history (((coalesce(new_row, old_row)->>'policy_id')::bigint))
	WHERE table_name = 'policies';

CREATE FUNCTION kg_policy_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO policy_history (table_name, operation, old_row, new_row)
	VALUES (TG_TABLE_NAME, TG_OP,
	        CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
	        CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END);
	RETURN NULL;
END
$$;
-- key_versions is left out on purpose: it holds (encrypted) key material.
CREATE TRIGGER policies_history AFTER INSERT OR UPDATE OR DELETE ON policies
	FOR EACH ROW EXECUTE FUNCTION kg_policy_history();
CREATE TRIGGER keys_history AFTER INSERT OR UPDATE OR DELETE ON keys
	FOR EACH ROW EXECUTE FUNCTION kg_policy_history();
CREATE TRIGGER ledgers_history AFTER INSERT OR UPDATE OR DELETE ON ledgers
	FOR EACH ROW EXECUTE FUNCTION kg_policy_history();
CREATE TRIGGER policy_history_no_update BEFORE UPDATE OR DELETE ON policy_history
	FOR EACH ROW EXECUTE FUNCTION kg_audit_immutable();
CREATE TRIGGER policy_history_no_truncate BEFORE TRUNCATE ON policy_history
	FOR EACH STATEMENT EXECUTE FUNCTION kg_audit_immutable();

-- The auditor's questions (docs/audit.md), as views.

-- Releases per key per day.
CREATE VIEW audit_releases_per_day AS
SELECT key_id, date_trunc('day', at) AS day,
       count(*) FILTER (WHERE decision = 'grant') AS grants,
       count(*) FILTER (WHERE decision = 'deny') AS denials
  FROM audit GROUP BY key_id, date_trunc('day', at);

-- Every CVM (chip, measurement) that received a key, with first and last time.
CREATE VIEW audit_key_recipients AS
SELECT key_id, tee, encode(chip_id, 'hex') AS chip_id, encode(measurement, 'hex') AS measurement,
       count(*) AS releases, min(at) AS first_release, max(at) AS last_release
  FROM audit WHERE decision = 'grant'
 GROUP BY key_id, tee, chip_id, measurement;

-- Denials, one row each (filter by time in the query).
CREATE VIEW audit_denials AS
SELECT at, key_id, reason, tee, encode(measurement, 'hex') AS measurement, peer, replica, request_id
  FROM audit WHERE decision = 'deny';

-- First and last release per measurement, across keys.
CREATE VIEW audit_measurements AS
SELECT tee, encode(measurement, 'hex') AS measurement, count(*) AS releases,
       count(DISTINCT key_id) AS keys, min(at) AS first_release, max(at) AS last_release
  FROM audit WHERE decision = 'grant' AND measurement IS NOT NULL
 GROUP BY tee, measurement;

-- Releases granted under a policy that has been changed or removed since.
CREATE VIEW audit_grants_under_changed_policy AS
SELECT a.at, a.key_id, a.policy_id, a.request_id, encode(a.measurement, 'hex') AS measurement,
       h.at AS policy_changed_at, h.operation, h.migration, h.db_user
  FROM audit a
  JOIN LATERAL (SELECT * FROM policy_history h
                 WHERE h.table_name = 'policies'
                   AND (h.old_row->>'policy_id')::bigint = a.policy_id
                   AND h.operation IN ('UPDATE', 'DELETE') AND h.at > a.at
                 ORDER BY h.at LIMIT 1) h ON true
 WHERE a.decision = 'grant';

GRANT SELECT ON policy_history, audit_releases_per_day, audit_key_recipients, audit_denials,
	audit_measurements, audit_grants_under_changed_policy TO keygate_auditor;
