-- Collateral: vendor documents that evidence is judged against besides the
-- pinned roots, imported by `keygate collateral import` from files an
-- operator downloaded (AMD KDS CRLs; later Intel PCS TCB info, QE identity
-- and CRLs).  The broker never fetches them itself.  Each document is
-- verified by the broker when it is used; this table only keeps them.
CREATE TABLE collateral (
	collateral_id bigserial PRIMARY KEY,
	kind          text NOT NULL CHECK (kind IN ('snp_crl')),
	-- Whose document it is, e.g. the CRL issuer's CN "ARK-Milan".
	issuer        text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 256),
	body          bytea NOT NULL CHECK (length(body) BETWEEN 1 AND 262144),
	sha256        bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
	this_update   timestamptz NOT NULL,
	next_update   timestamptz NOT NULL CHECK (next_update > this_update),
	imported_at   timestamptz NOT NULL DEFAULT now(),
	imported_by   text NOT NULL DEFAULT current_user
);
CREATE INDEX collateral_current ON collateral (kind, issuer, this_update DESC);

-- Brokers reload collateral when it changes, on the policy channel.
CREATE TRIGGER collateral_notify AFTER INSERT OR UPDATE OR DELETE ON collateral
	FOR EACH STATEMENT EXECUTE FUNCTION kg_policy_changed();

REVOKE ALL ON collateral FROM PUBLIC;
GRANT SELECT ON collateral TO keygate_broker;
GRANT SELECT ON collateral TO keygate_auditor;
