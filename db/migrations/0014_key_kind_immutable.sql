-- A key's kind never changes once the key exists, for every role, the
-- owner included.  A session key's stored versions are roots that
-- per-session keys are derived from (keys/session.h); relabelled 'model',
-- the broker would release a root as it is.  keygate_admin may change keys
-- rows (0010), so the schema, not the grants, has to say it.  A superuser
-- can still disable the trigger: the wrapping binds the kind too (0015).

CREATE FUNCTION kg_key_kind_immutable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'key %: the kind of a key never changes (% -> %)', OLD.key_id, OLD.kind, NEW.kind
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'create a new key of the other kind instead';
END
$$;
-- A refused change leaves no policy_history row: the statement, and the
-- history row its trigger would write, roll back together (as with 0010's
-- guards); PostgreSQL's log records the error.
CREATE TRIGGER keys_kind_immutable BEFORE UPDATE OF kind ON keys
	FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind) EXECUTE FUNCTION kg_key_kind_immutable();
