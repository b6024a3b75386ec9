#!/usr/bin/env bash
# The Keygate demo, from nothing: installs what is missing, builds, starts a
# throwaway PostgreSQL (unless --db DSN or KEYGATE_DB names a real one; that
# database must allow the admin role to create roles), applies the
# migrations plus a demo policy, starts the broker, and runs a simulated
# SEV-SNP CVM that obtains a model key and a session key.  Stops everything
# it started.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
db=${KEYGATE_DB:-}
while [ $# -gt 0 ]; do
	case $1 in
	--db) db=$2; shift 2 ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: ops/demo.sh [--db DSN]" >&2; exit 2 ;;
	esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing what is missing and building"
ops/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
. ops/lib.sh
kg=$src/build/broker/keygate
kgc=$src/build/client/keygate-client

tmp=$(mktemp -d /tmp/keygate-demo.XXXXXX)
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
	[ -z "$db" ] && kg_pg_stop "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$db" ]; then
	say "starting a throwaway PostgreSQL in $tmp"
	kg_pg_start "$tmp" "$(kg_free_port)"
	kg_psql postgres -c "CREATE DATABASE keygate"
	admin_dsn=$(kg_pg_dsn keygate postgres)
	broker_dsn=$(kg_pg_dsn keygate keygate_demo_broker)
else
	admin_dsn=$db
	broker_dsn="$db user=keygate_demo_broker"
fi

say "applying migrations (schema + a demo policy)"
meas=$(printf 'keygate demo image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/migrations"
cat > "$tmp/migrations/0100_demo_policy.sql" <<SQL
-- Demo policy: the disk key (a model key) and a session key, released to
-- SEV-SNP guests whose launch measurement is the demo image's, debug off.
INSERT INTO keys (key_id, kind) VALUES ('demo-disk', 'model'), ('demo-session', 'session');
INSERT INTO policies (key_id, tee, measurements, note) VALUES
  ('demo-disk', 'snp', ARRAY['\\x$meas'::bytea], 'demo image'),
  ('demo-session', 'snp', ARRAY['\\x$meas'::bytea], 'demo image');
SQL
"$kg" migrate --db "$admin_dsn" --dir db/migrations --dir "$tmp/migrations"
psql -X -q -d "$admin_dsn" -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keygate_demo_broker')
  THEN CREATE ROLE keygate_demo_broker LOGIN IN ROLE keygate_broker; END IF; END \$\$"

say "making the KEK, the challenge key, TLS certificates, the simulated SEV-SNP chain and its CRL"
"$kg" key generate-kek "$tmp/kek"
head -c 32 /dev/urandom > "$tmp/challenge.key"
kg_make_tls "$tmp/tls"
"$kgc" sim-init "$tmp/sim"
"$kgc" sim-crl "$tmp/sim" "$tmp/sim-crl.der"
"$kg" collateral import --kind snp-crl "$tmp/sim-crl.der" --db "$admin_dsn"
head -c 32 /dev/urandom > "$tmp/disk-key"
"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id demo-disk --file "$tmp/disk-key"
# The audit log's checkpoints are signed with this key; auditors get the vkey.
"$kg" audit keygen --name demo.keygate/audit --out "$tmp/audit.key" > "$tmp/audit.vkey"

port=$(kg_free_port)
cat > "$tmp/keygate.conf" <<CONF
listen = 127.0.0.1:$port
db = $broker_dsn
tls_cert = $tmp/tls/server.pem
tls_key = $tmp/tls/server.key
challenge_key_file = $tmp/challenge.key
kek_file = $tmp/kek
# The simulated chain's root: trusted only because it is configured here.
snp_roots = $tmp/sim/ark.pem
replica = demo
audit_signing_key = $tmp/audit.key
audit_seal_interval = 200
CONF
say "starting the broker on https://127.0.0.1:$port"
"$kg" serve --config "$tmp/keygate.conf" 2>"$tmp/broker.log" &
broker_pid=$!
kg_wait_http "https://127.0.0.1:$port/healthz" "$tmp/tls/ca.pem" 100 || { cat "$tmp/broker.log"; exit 1; }

say "a simulated SEV-SNP CVM asks for its keys"
mkdir -p "$tmp/keys"
"$kgc" --url "https://127.0.0.1:$port" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" \
	--sim-measurement "$meas" --key demo-disk --key demo-session --out-dir "$tmp/keys"
if cmp -s "$tmp/keys/demo-disk" "$tmp/disk-key"; then
	echo "demo: the CVM unwrapped demo-disk, identical to the key the admin imported"
else
	echo "demo: FAILED: unwrapped key differs"; exit 1
fi

say "a CVM running another image is refused"
other=$(printf 'not the demo image' | sha384sum | cut -c1-96)
"$kgc" --url "https://127.0.0.1:$port" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" \
	--sim-measurement "$other" --key demo-disk --retries 0 || echo "demo: denied, as it should be"

say "why: keygate policy explain, condition by condition, for the refused image's evidence"
"$src/build/tests/sim-evidence" snp "$tmp/sim" "$other" "$tmp/other-report.bin" 2>/dev/null &&
	"$kg" policy explain --db "$admin_dsn" --roots "$tmp/sim/ark.pem" --key demo-disk --tee snp "$tmp/other-report.bin" |
	grep -E "^policy|FAIL|decision" || true

say "the audit log"
psql -X -d "$admin_dsn" -c "SELECT at::time(0), key_id, decision, reason, policy_id, left(encode(measurement, 'hex'), 16) AS measurement FROM audit ORDER BY audit_id"
sleep 0.5 # one sealing interval
say "the audit log, verified against its signed checkpoints"
"$kg" audit verify --db "$admin_dsn" --key "@$tmp/audit.vkey"
say "done; stopping everything"
