-- Stored keys in formats that bind the key's kind (keys/kek.h): a session
-- key's root wrapped in format 3 or 4 does not decrypt as a model key, so a
-- superuser who relabels a key past 0014's trigger gets no key out of the
-- broker (key_kind_mismatch).  Rows in formats 1 and 2 stay readable until
-- `keygate kek rotate` re-wraps them; no new ones may be written, so that
-- a format-1 copy saved earlier cannot come back under a key deleted and
-- re-created with the other kind.

-- Format 3: 3 || kind || nonce (24) || XChaCha20-Poly1305 ciphertext ||
-- tag (16).  Format 4: 4 || kind || nonce (12) || AES-256-GCM ciphertext
-- || tag (16).  kind: 1 model, 2 session.
ALTER TABLE key_versions DROP CONSTRAINT key_versions_wrapped_check;
ALTER TABLE key_versions ADD CONSTRAINT key_versions_wrapped_check CHECK (
	wrapped IS NULL
	OR (get_byte(wrapped, 0) = 1 AND length(wrapped) BETWEEN 1 + 24 + 16 + 16 AND 1 + 24 + 64 + 16)
	OR (get_byte(wrapped, 0) = 2 AND length(wrapped) BETWEEN 1 + 12 + 16 + 16 AND 1 + 12 + 64 + 16)
	OR (get_byte(wrapped, 0) = 3 AND get_byte(wrapped, 1) IN (1, 2)
	    AND length(wrapped) BETWEEN 2 + 24 + 16 + 16 AND 2 + 24 + 64 + 16)
	OR (get_byte(wrapped, 0) = 4 AND get_byte(wrapped, 1) IN (1, 2)
	    AND length(wrapped) BETWEEN 2 + 12 + 16 + 16 AND 2 + 12 + 64 + 16));

CREATE FUNCTION kg_key_version_format_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'key % version %: format % does not bind the key''s kind; wrap it again',
		NEW.key_id, NEW.version, pg_catalog.get_byte(NEW.wrapped, 0)
		USING ERRCODE = 'check_violation',
		      HINT = 'use a keygate that writes format 3 or 4 (keygate kek rotate re-wraps old rows)';
END
$$;
CREATE TRIGGER key_versions_format_guard BEFORE INSERT OR UPDATE OF wrapped ON key_versions
	FOR EACH ROW WHEN (NEW.wrapped IS NOT NULL AND get_byte(NEW.wrapped, 0) IN (1, 2))
	EXECUTE FUNCTION kg_key_version_format_guard();
