-- Keygate schema: keys, key versions, policies, audit; roles.
-- Applied by `keygate migrate` in one transaction.  Never edit this file
-- once applied anywhere: add a new numbered migration instead (the
-- migrate command refuses to run when an applied file's SHA-256 changed).

-- Roles.  keygate_broker: what the broker may do (read policy and keys,
-- append audit rows).  keygate_auditor: read the audit log.  Both NOLOGIN:
-- operators grant them to login roles.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keygate_broker') THEN
		CREATE ROLE keygate_broker NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keygate_auditor') THEN
		CREATE ROLE keygate_auditor NOLOGIN;
	END IF;
END
$$;

CREATE TABLE keys (
	key_id     text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	-- model: stored material, encrypted under the KEK (key_versions).
	-- session: a fresh random key for every release.
	kind       text NOT NULL CHECK (kind IN ('model', 'session')),
	state      text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
	key_len    integer NOT NULL DEFAULT 32 CHECK (key_len BETWEEN 16 AND 64),
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Model key material, only ever encrypted: XChaCha20-Poly1305 under the
-- key-encryption key, with key_id and version as associated data, so a
-- row copied to another key or version does not decrypt.
CREATE TABLE key_versions (
	key_id     text NOT NULL REFERENCES keys (key_id) ON DELETE RESTRICT,
	version    integer NOT NULL CHECK (version >= 1),
	-- format byte (1) || nonce (24) || ciphertext (16..64) || tag (16)
	wrapped    bytea NOT NULL CHECK (length(wrapped) BETWEEN 1 + 24 + 16 + 16 AND 1 + 24 + 64 + 16
	                                 AND get_byte(wrapped, 0) = 1),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (key_id, version)
);

-- Measurements per TEE type: every element present and of the TEE's
-- digest length (SEV-SNP: SHA-384, 48 bytes), at least one.
CREATE FUNCTION kg_measurements_valid(tee text, m bytea[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT cardinality(m) >= 1
	   AND array_ndims(m) = 1
	   AND NOT EXISTS (
		SELECT 1 FROM unnest(m) AS x
		 WHERE x IS NULL
		    OR length(x) IS DISTINCT FROM (CASE tee WHEN 'snp' THEN 48 END))
$$;

CREATE TABLE policies (
	policy_id   bigserial PRIMARY KEY,
	key_id      text NOT NULL REFERENCES keys (key_id) ON DELETE RESTRICT,
	tee         text NOT NULL CHECK (tee IN ('snp')),
	state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
	measurements bytea[] NOT NULL CHECK (kg_measurements_valid(tee, measurements)),
	-- Debug and migration agents are forbidden unless a policy says so.
	allow_debug boolean NOT NULL DEFAULT false,
	allow_migration_agent boolean NOT NULL DEFAULT false,
	-- Minimum REPORTED_TCB components (SNP); NULL means no floor.
	min_tcb_bootloader smallint CHECK (min_tcb_bootloader BETWEEN 0 AND 255),
	min_tcb_tee        smallint CHECK (min_tcb_tee BETWEEN 0 AND 255),
	min_tcb_snp        smallint CHECK (min_tcb_snp BETWEEN 0 AND 255),
	min_tcb_microcode  smallint CHECK (min_tcb_microcode BETWEEN 0 AND 255),
	not_before  timestamptz,
	not_after   timestamptz,
	note        text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	CHECK (not_before IS NULL OR not_after IS NULL OR not_after > not_before)
);
CREATE INDEX policies_key_tee ON policies (key_id, tee);

-- The audit log: one row per decision, grant or deny, committed before
-- any key leaves.  Append-only: a trigger rejects UPDATE, DELETE and
-- TRUNCATE for every role, owner included.  No key material and no raw
-- evidence: the evidence is identified by its SHA-256.
CREATE TABLE audit (
	audit_id        bigserial PRIMARY KEY,
	request_id      uuid NOT NULL,
	at              timestamptz NOT NULL DEFAULT clock_timestamp(),
	replica         text NOT NULL,
	peer            text,
	key_id          text NOT NULL,
	key_version     integer,
	policy_id       bigint,
	tee             text,
	measurement     bytea,
	chip_id         bytea,
	tcb             jsonb,
	decision        text NOT NULL CHECK (decision IN ('grant', 'deny')),
	reason          text NOT NULL,
	evidence_sha256 bytea CHECK (evidence_sha256 IS NULL OR length(evidence_sha256) = 32),
	CHECK (decision = 'deny' OR (policy_id IS NOT NULL AND reason = 'ok'))
);
CREATE INDEX audit_key_at ON audit (key_id, at);

CREATE FUNCTION kg_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit is append-only: % rejected', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION kg_audit_immutable();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION kg_audit_immutable();

-- Brokers will cache policy and listen on this channel (see docs).
CREATE FUNCTION kg_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('keygate_policy', TG_TABLE_NAME);
	RETURN NULL;
END
$$;
CREATE TRIGGER policies_notify AFTER INSERT OR UPDATE OR DELETE ON policies
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();
CREATE TRIGGER keys_notify AFTER INSERT OR UPDATE OR DELETE ON keys
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();

REVOKE ALL ON keys, key_versions, policies, audit FROM PUBLIC;
GRANT SELECT ON keys, key_versions, policies TO keygate_broker;
GRANT INSERT ON audit TO keygate_broker;
GRANT USAGE ON SEQUENCE audit_audit_id_seq TO keygate_broker;
GRANT SELECT ON audit TO keygate_auditor;
