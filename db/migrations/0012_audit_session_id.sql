-- Which session a derived session key was released for (the release
-- body's session_id; not secret: the key also needs the key's root).
-- Nullable without a default, as 0009 requires of new audit columns, and
-- the auditor's audit_log view re-created to show it.
ALTER TABLE audit ADD COLUMN session_id text CHECK (session_id IS NULL OR session_id ~ '^[A-Za-z0-9._:-]{1,128}$');
CREATE OR REPLACE VIEW audit_log AS SELECT * FROM audit;
