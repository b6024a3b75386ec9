-- VCEK and VLEK certificates as collateral: for CVMs whose evidence comes
-- without the extended report's certificate table, the broker finds the
-- VCEK by the report's CHIP_ID and REPORTED_TCB among those an operator
-- imported from AMD's KDS (keygate collateral import --kind snp-vcek).
ALTER TABLE collateral DROP CONSTRAINT collateral_kind_check;
ALTER TABLE collateral ADD CONSTRAINT collateral_kind_check CHECK (kind IN (
	'snp_crl', 'snp_vcek', 'tdx_tcb_info', 'tdx_qe_identity', 'tdx_tcb_signing_chain', 'tdx_root_crl',
	'tdx_pck_crl'));
