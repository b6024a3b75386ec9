#!/usr/bin/env bash
# Measures one SEV-SNP release on this machine: throughput, latency, and the
# broker's CPU time per release (utime+stime from /proc), with a throwaway
# PostgreSQL and the simulated attester.  Each release is a new TLS 1.3
# connection with the RA-TLS client certificate: handshake, evidence check
# (P-384 report signature; the VCEK chain is cached after the first),
# policy query, HPKE seal, durable audit INSERT.
#   ops/bench.sh [RELEASES_PER_CLIENT] [CLIENTS]
# KG_BENCH_KEY selects the key released: session (default: random, no KEK),
# file (a model key unwrapped with a file KEK) or pkcs11 (unwrapped inside
# a SoftHSM2 token).  KG_BUILD_ROOT: a build directory other than ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
per=${1:-500} clients=${2:-2}
mode=${KG_BENCH_KEY:-session}
bld=${KG_BUILD_ROOT:-build}
[ -f "$bld/build.ninja" ] || meson setup "$bld" >/dev/null
ninja -C "$bld" >/dev/null
. ops/lib.sh
kg=$(cd "$bld" && pwd)/broker/keygate kgc=$(cd "$bld" && pwd)/client/keygate-client
tmp=$(mktemp -d /tmp/keygate-bench.XXXXXX)
broker_pid=
trap '[ -n "$broker_pid" ] && kill $broker_pid 2>/dev/null; wait 2>/dev/null; kg_pg_stop "$tmp"; rm -rf "$tmp"' EXIT

kg_pg_start "$tmp" "$(kg_free_port)"
kg_psql postgres -c "CREATE DATABASE keygate"
meas=$(printf 'bench image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
kind=session; [ "$mode" = session ] || kind=model
cat > "$tmp/mig/0100_bench.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('bench', '$kind');
INSERT INTO policies (key_id, tee, measurements) VALUES ('bench', 'snp', ARRAY['\\x$meas'::bytea]);
SQL
"$kg" migrate --db "$(kg_pg_dsn keygate postgres)" --dir db/migrations --dir "$tmp/mig" >/dev/null
kg_psql keygate -c "CREATE ROLE kgbench LOGIN IN ROLE keygate_broker" >/dev/null
kg_make_tls "$tmp/tls"
head -c 32 /dev/urandom > "$tmp/ck"
"$kgc" sim-init "$tmp/sim"
# As in production: the broker also seals the audit log.
"$kg" audit keygen --name bench/audit --out "$tmp/audit.key" > "$tmp/audit.vkey"
"$kgc" sim-crl "$tmp/sim" "$tmp/crl.der"
"$kg" collateral import --kind snp-crl "$tmp/crl.der" --db "$(kg_pg_dsn keygate postgres)" >/dev/null
kekconf=
case $mode in
file)
	"$kg" key generate-kek "$tmp/kek"
	kekconf="kek_file=$tmp/kek" ;;
pkcs11)
	export SOFTHSM2_CONF=$tmp/softhsm2.conf
	mkdir -p "$tmp/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$tmp/tokens" > "$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 >/dev/null
	echo 1234 > "$tmp/pin"
	kekconf=$(printf 'kek_pkcs11_module=/usr/lib/softhsm/libsofthsm2.so\nkek_pkcs11_token=bench\nkek_pkcs11_key=kek\nkek_pkcs11_pin_file=%s' "$tmp/pin")
	printf '%s\n' "$kekconf" > "$tmp/kek.conf"
	"$kg" kek generate --pkcs11 --config "$tmp/kek.conf" >/dev/null ;;
esac
if [ "$mode" != session ]; then
	printf '%s\n' "$kekconf" > "$tmp/kek.conf"
	head -c 32 /dev/urandom > "$tmp/model.key"
	"$kg" key import --id bench --file "$tmp/model.key" --config "$tmp/kek.conf" --db "$(kg_pg_dsn keygate postgres)" >/dev/null
fi
port=$(kg_free_port)
KEYGATE_LOG_LEVEL=warn "$kg" serve --listen "127.0.0.1:$port" --db "$(kg_pg_dsn keygate kgbench)" \
	--config <(printf 'tls_cert=%s\ntls_key=%s\nchallenge_key_file=%s\nsnp_roots=%s\nthreads=4\naudit_signing_key=%s\n%s\n' \
		"$tmp/tls/server.pem" "$tmp/tls/server.key" "$tmp/ck" "$tmp/sim/ark.pem" "$tmp/audit.key" "$kekconf") 2>"$tmp/broker.log" &
broker_pid=$!
kg_wait_http "https://127.0.0.1:$port/healthz" "$tmp/tls/ca.pem" 100
# Warm up (first VCEK chain verification, connections to PostgreSQL).
"$kgc" --url "https://127.0.0.1:$port" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" \
	--sim-measurement "$meas" --key bench --repeat 20 >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$broker_pid/stat"; }
tick=$(getconf CLK_TCK)
c0=$(cpu); t0=$(date +%s.%N)
for i in $(seq "$clients"); do
	"$kgc" --url "https://127.0.0.1:$port" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" \
		--sim-measurement "$meas" --key bench --repeat "$per" > "$tmp/client.$i" &
done
wait $(jobs -p | grep -v "^$broker_pid\$") 2>/dev/null || true
c1=$(cpu); t1=$(date +%s.%N)
cat "$tmp"/client.*
total=$((per * clients))
python3 - "$c0" "$c1" "$t0" "$t1" "$tick" "$total" "$mode" <<'PY'
import sys
c0, c1, t0, t1, tick, n = map(float, sys.argv[1:7])
print(f'{{"key": "{sys.argv[7]}", "releases": {int(n)}, "wall_s": {t1 - t0:.2f}, "releases_per_s": {n / (t1 - t0):.0f}, '
      f'"broker_cpu_ms_per_release": {(c1 - c0) / tick * 1000 / n:.3f}}}')
PY
# Every release of the run is in the audit log, sealed and verifiable.
sleep 1.5
"$kg" audit verify --db "$(kg_pg_dsn keygate postgres)" --key "@$tmp/audit.vkey" | sed 's/^/# /' >&2
