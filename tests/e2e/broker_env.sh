# A throwaway broker for the client-side end-to-end tests (tsm.sh,
# clevis.sh): PostgreSQL, the schema and the caller's policy migrations, a
# model key, simulated SEV-SNP and TDX platforms with their collateral, TLS
# material, `keygate serve`.  Source it after ops/lib.sh; needs bash.
#
#   kg_e2e_broker_start TMP MIGDIR   sets: url ca admin_dsn kg kgc
#                                    ($KG_E2E_EXTRA_CONF: more configuration lines)
#                                    (TMP/sim: SNP simulator, TMP/tdxsim: TDX)
#   kg_e2e_broker_stop TMP

kg_e2e_broker_pid=

kg_e2e_broker_start() {
	local tmp=$1 mig=$2 pgport port
	kg=$bld/broker/keygate
	kgc=$bld/client/keygate-client
	pgport=$(kg_free_port)
	kg_pg_start "$tmp" "$pgport" || return 1
	kg_psql postgres -c "CREATE DATABASE keygate" >/dev/null || return 1
	admin_dsn=$(kg_pg_dsn keygate postgres)
	"$kg" migrate --db "$admin_dsn" --dir "$src/db/migrations" --dir "$mig" >"$tmp/migrate.log" 2>&1 \
		|| { cat "$tmp/migrate.log" >&2; return 1; }
	kg_psql keygate -c "CREATE ROLE kgbroker LOGIN IN ROLE keygate_broker" >/dev/null || return 1
	kg_make_tls "$tmp/tls"
	ca=$tmp/tls/ca.pem
	head -c 32 /dev/urandom > "$tmp/challenge.key"
	"$kg" key generate-kek "$tmp/kek" || return 1
	"$kgc" sim-init "$tmp/sim" && "$kgc" sim-init "$tmp/tdxsim" --tee tdx || return 1
	"$kgc" sim-crl "$tmp/sim" "$tmp/crl.der" || return 1
	"$kg" collateral import --kind snp-crl "$tmp/crl.der" --db "$admin_dsn" >/dev/null || return 1
	local kv
	for kv in tdx-tcb-info:tcbInfo.json tdx-qe-identity:qeIdentity.json tdx-tcb-signing-chain:TCB_Signing_chain.pem \
		tdx-root-crl:IntelSGXRootCA.crl.der tdx-pck-crl:pckcrl_platform.crl.der; do
		"$kg" collateral import --kind "${kv%%:*}" "$tmp/tdxsim/${kv#*:}" --db "$admin_dsn" >/dev/null || return 1
	done
	cat "$tmp/sim/ask.pem" "$tmp/sim/ark.pem" > "$tmp/sim-roots.pem"
	port=$(kg_free_port)
	url=https://127.0.0.1:$port
	cat > "$tmp/keygate.conf" <<CONF
listen = 127.0.0.1:$port
db = $(kg_pg_dsn keygate kgbroker)
tls_cert = $tmp/tls/server.pem
tls_key = $tmp/tls/server.key
challenge_key_file = $tmp/challenge.key
kek_file = $tmp/kek
snp_roots = $tmp/sim-roots.pem
tdx_roots = $tmp/tdxsim/root.pem
replica = e2e-client
threads = 4
${KG_E2E_EXTRA_CONF:-}
CONF
	"$kg" serve --config "$tmp/keygate.conf" 2>"$tmp/broker.log" &
	kg_e2e_broker_pid=$!
	kg_wait_http "$url/healthz" "$ca" 100 || { cat "$tmp/broker.log" >&2; return 1; }
}

kg_e2e_broker_stop() {
	local tmp=$1
	if [ -n "$kg_e2e_broker_pid" ]; then
		kill "$kg_e2e_broker_pid" 2>/dev/null && wait "$kg_e2e_broker_pid" 2>/dev/null
		kg_e2e_broker_pid=
	fi
	kg_pg_stop "$tmp"
}
