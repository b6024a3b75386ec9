-- NVIDIA GPUs and NVSwitches (issue #7): a key's policy can require,
-- besides the CPU conditions, that the CVM's GPUs attest — in the same
-- decision and the same audit row.  docs/operations.md, "GPUs".

-- NVIDIA's reference integrity manifests (driver and VBIOS RIMs, signed
-- XML) as collateral; issuer is "<driver|vbios>:<product>:<version>".  And
-- NVIDIA's OCSP responses about device-chain certificates; issuer is
-- "ocsp:<certificate serial, hex>".
ALTER TABLE collateral DROP CONSTRAINT collateral_kind_check;
ALTER TABLE collateral ADD CONSTRAINT collateral_kind_check CHECK (kind IN (
	'snp_crl', 'snp_vcek', 'tdx_tcb_info', 'tdx_qe_identity', 'tdx_tcb_signing_chain', 'tdx_root_crl',
	'tdx_pck_crl', 'nvidia_rim', 'nvidia_ocsp'));

-- gpu_count NULL: no GPU condition.  Otherwise at least gpu_count GPUs
-- (and nvswitch_count NVSwitches, for protected-PCIe machines) whose
-- evidence verifies and is bound to the release; each GPU in a
-- confidential-compute mode and each device matching its RIMs unless the
-- policy turns that off; driver and VBIOS at or above the floors.
ALTER TABLE policies
	ADD COLUMN gpu_count smallint CHECK (gpu_count BETWEEN 1 AND 16),
	ADD COLUMN nvswitch_count smallint CHECK (nvswitch_count BETWEEN 1 AND 16),
	ADD COLUMN gpu_require_cc boolean NOT NULL DEFAULT true,
	ADD COLUMN gpu_require_rims boolean NOT NULL DEFAULT true,
	ADD COLUMN gpu_min_driver_version text CHECK (gpu_min_driver_version ~ '^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$'),
	ADD COLUMN gpu_min_vbios_version text CHECK (gpu_min_vbios_version ~ '^[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{2}){4}$'),
	-- Every CA certificate of each device's chain has a current, good OCSP
	-- response among the collateral (revoked ones fail regardless).
	ADD COLUMN gpu_require_ocsp boolean NOT NULL DEFAULT false,
	ADD CONSTRAINT policies_gpu_columns CHECK (gpu_count IS NOT NULL OR (
		nvswitch_count IS NULL AND gpu_require_cc AND gpu_require_rims AND NOT gpu_require_ocsp
		AND gpu_min_driver_version IS NULL AND gpu_min_vbios_version IS NULL));

-- Each device a release judged: kind, identity, versions, result.
ALTER TABLE audit ADD COLUMN gpus jsonb;
CREATE OR REPLACE VIEW audit_log AS SELECT * FROM audit;
CREATE OR REPLACE VIEW audit_policies AS SELECT * FROM policies;
