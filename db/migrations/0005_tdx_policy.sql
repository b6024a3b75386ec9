-- Intel TDX policies.  measurements holds allowed MRTD values (SHA-384,
-- 48 bytes); the TDX columns below add allowed RTMR values, the TD's
-- MRCONFIGID / MROWNER / MROWNERCONFIG, and the TCB statuses accepted
-- (default: UpToDate only; Revoked can never be accepted).  Columns of one
-- TEE type are refused on policies of another, so a policy cannot appear
-- to require something its TEE never reports.

CREATE OR REPLACE FUNCTION kg_measurements_valid(tee text, m bytea[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT cardinality(m) >= 1
	   AND array_ndims(m) = 1
	   AND NOT EXISTS (
		SELECT 1 FROM unnest(m) AS x
		 WHERE x IS NULL
		    OR length(x) IS DISTINCT FROM (CASE tee WHEN 'snp' THEN 48 WHEN 'tdx' THEN 48 END))
$$;

ALTER TABLE policies DROP CONSTRAINT policies_tee_check;
ALTER TABLE policies ADD CONSTRAINT policies_tee_check CHECK (tee IN ('snp', 'tdx'));

ALTER TABLE policies
	ADD COLUMN tdx_rtmr0 bytea[] CHECK (tdx_rtmr0 IS NULL OR kg_digests_valid(tdx_rtmr0, 48)),
	ADD COLUMN tdx_rtmr1 bytea[] CHECK (tdx_rtmr1 IS NULL OR kg_digests_valid(tdx_rtmr1, 48)),
	ADD COLUMN tdx_rtmr2 bytea[] CHECK (tdx_rtmr2 IS NULL OR kg_digests_valid(tdx_rtmr2, 48)),
	ADD COLUMN tdx_rtmr3 bytea[] CHECK (tdx_rtmr3 IS NULL OR kg_digests_valid(tdx_rtmr3, 48)),
	ADD COLUMN tdx_mr_config_id bytea CHECK (tdx_mr_config_id IS NULL OR length(tdx_mr_config_id) = 48),
	ADD COLUMN tdx_mr_owner bytea CHECK (tdx_mr_owner IS NULL OR length(tdx_mr_owner) = 48),
	ADD COLUMN tdx_mr_owner_config bytea CHECK (tdx_mr_owner_config IS NULL OR length(tdx_mr_owner_config) = 48),
	ADD COLUMN tdx_tcb_statuses text[] NOT NULL DEFAULT '{UpToDate}'
		CHECK (cardinality(tdx_tcb_statuses) >= 1 AND array_ndims(tdx_tcb_statuses) = 1
		       AND tdx_tcb_statuses <@ ARRAY['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded',
		                                     'ConfigurationAndSWHardeningNeeded', 'OutOfDate',
		                                     'OutOfDateConfigurationNeeded']),
	ADD CONSTRAINT policies_tdx_columns CHECK (tee = 'tdx' OR (
		tdx_rtmr0 IS NULL AND tdx_rtmr1 IS NULL AND tdx_rtmr2 IS NULL AND tdx_rtmr3 IS NULL
		AND tdx_mr_config_id IS NULL AND tdx_mr_owner IS NULL AND tdx_mr_owner_config IS NULL
		AND tdx_tcb_statuses = '{UpToDate}')),
	ADD CONSTRAINT policies_snp_columns CHECK (tee = 'snp' OR (
		min_tcb_bootloader IS NULL AND min_tcb_tee IS NULL AND min_tcb_snp IS NULL
		AND min_tcb_microcode IS NULL AND min_tcb_fmc IS NULL AND allowed_vmpls = '{0}'
		AND host_data IS NULL AND id_key_digests IS NULL AND author_key_digests IS NULL
		AND min_guest_svn IS NULL AND NOT allow_migration_agent));

-- TDX collateral (Intel PCS documents), beside AMD's CRLs.
ALTER TABLE collateral DROP CONSTRAINT collateral_kind_check;
ALTER TABLE collateral ADD CONSTRAINT collateral_kind_check CHECK (kind IN (
	'snp_crl', 'tdx_tcb_info', 'tdx_qe_identity', 'tdx_tcb_signing_chain', 'tdx_root_crl', 'tdx_pck_crl'));
