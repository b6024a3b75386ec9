-- Brokers cache keys and policies and empty the cache on every NOTIFY
-- 'keygate_policy'.  A new or changed stored key version must reach them
-- too (0001 covered keys and policies only).
CREATE TRIGGER key_versions_notify AFTER INSERT OR UPDATE OR DELETE ON key_versions
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();
