-- SEV-SNP policy conditions beyond the measurement and the TCB floor:
-- which VMPLs may ask (default: VMPL 0 only, the guest's most privileged
-- level), a required HOST_DATA, allowed ID-key and author-key digests
-- (ID block signers), a minimum guest SVN and a minimum FMC SPL (Turin).

-- Every element present and of the given length, at least one.
CREATE FUNCTION kg_digests_valid(d bytea[], len integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT cardinality(d) >= 1
	   AND array_ndims(d) = 1
	   AND NOT EXISTS (SELECT 1 FROM unnest(d) AS x WHERE x IS NULL OR length(x) <> len)
$$;

ALTER TABLE policies
	ADD COLUMN allowed_vmpls smallint[] NOT NULL DEFAULT '{0}'
		CHECK (cardinality(allowed_vmpls) >= 1 AND array_ndims(allowed_vmpls) = 1
		       AND allowed_vmpls <@ ARRAY[0, 1, 2, 3]::smallint[]),
	ADD COLUMN host_data bytea CHECK (host_data IS NULL OR length(host_data) = 32),
	ADD COLUMN id_key_digests bytea[] CHECK (id_key_digests IS NULL OR kg_digests_valid(id_key_digests, 48)),
	ADD COLUMN author_key_digests bytea[]
		CHECK (author_key_digests IS NULL OR kg_digests_valid(author_key_digests, 48)),
	ADD COLUMN min_guest_svn bigint CHECK (min_guest_svn BETWEEN 0 AND 4294967295),
	ADD COLUMN min_tcb_fmc smallint CHECK (min_tcb_fmc BETWEEN 0 AND 255);
