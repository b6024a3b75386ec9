#!/usr/bin/env bash
# End-to-end tests: a real PostgreSQL cluster (throwaway, started here), the
# real broker over real TLS 1.3, keygate-client with the simulated SEV-SNP
# backend, and raw HTTPS requests with curl for malformed input.
# Prints TAP; exits non-zero when a test failed.
#
#   tests/e2e/e2e.sh            (uses KG_BUILD_ROOT, KG_SOURCE_ROOT, else ./build and .)
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
kg=$bld/broker/keygate
kgc=$bld/client/keygate-client
. "$src/ops/lib.sh"

. "$src/tests/e2e/tap.sh"

tmp=$(mktemp -d /tmp/keygate-e2e.XXXXXX)
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	kg_pg_stop "$tmp"
	if [ "$failed" -ne 0 ] && [ -f "$tmp/broker.log" ]; then
		echo "# broker log (last lines):"; tail -20 "$tmp/broker.log" | sed 's/^/# /'
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

pgport=$(kg_free_port)
kg_pg_start "$tmp" "$pgport" || { echo "Bail out! cannot start PostgreSQL"; exit 1; }
kg_psql postgres -c "CREATE DATABASE keygate" || { echo "Bail out! createdb"; exit 1; }
admin_dsn=$(kg_pg_dsn keygate postgres)
broker_dsn=$(kg_pg_dsn keygate kgbroker)
psql_kg() { kg_psql keygate -At "$@"; }

# --- set-up: migrations, keys, trust material ------------------------------
meas=$(printf 'keygate e2e image' | sha384sum | cut -c1-96)
other=$(printf 'some other image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
cat > "$tmp/mig/0100_e2e_policy.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('disk', 'model');
INSERT INTO keys (key_id, kind) VALUES ('session1', 'session');
INSERT INTO keys (key_id, kind, key_len) VALUES ('session64', 'session', 64);
INSERT INTO keys (key_id, kind) VALUES ('tcb-key', 'session');
INSERT INTO keys (key_id, kind, state) VALUES ('disabled-key', 'session', 'disabled');
INSERT INTO keys (key_id, kind) VALUES ('nopolicy-key', 'session');
INSERT INTO keys (key_id, kind) VALUES ('unprovisioned', 'model');
INSERT INTO policies (key_id, tee, measurements) VALUES
  ('disk', 'snp', ARRAY['\\x$other'::bytea, '\\x$meas'::bytea]),
  ('session1', 'snp', ARRAY['\\x$meas'::bytea]),
  ('session64', 'snp', ARRAY['\\x$meas'::bytea]),
  ('disabled-key', 'snp', ARRAY['\\x$meas'::bytea]),
  ('unprovisioned', 'snp', ARRAY['\\x$meas'::bytea]);
INSERT INTO policies (key_id, tee, measurements, min_tcb_microcode) VALUES
  ('tcb-key', 'snp', ARRAY['\\x$meas'::bytea], 250);
-- A TDX policy keeps session64 valid while the test disables its SNP one.
INSERT INTO policies (key_id, tee, measurements) VALUES ('session64', 'tdx', ARRAY['\\x$meas'::bytea]);
SQL
hostdata=$(printf 'tenant 42' | sha256sum | cut -c1-64)
cat > "$tmp/mig/0101_e2e_snp_conditions.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('vmpl1-key', 'session'), ('hd-key', 'session'), ('svn-key', 'session');
INSERT INTO policies (key_id, tee, measurements, allowed_vmpls) VALUES
  ('vmpl1-key', 'snp', ARRAY['\\x$meas'::bytea], '{1}');
INSERT INTO policies (key_id, tee, measurements, host_data) VALUES
  ('hd-key', 'snp', ARRAY['\\x$meas'::bytea], '\\x$hostdata');
INSERT INTO policies (key_id, tee, measurements, min_guest_svn) VALUES
  ('svn-key', 'snp', ARRAY['\\x$meas'::bytea], 3);
INSERT INTO policies (key_id, tee, measurements) VALUES ('hd-key', 'tdx', ARRAY['\\x$meas'::bytea]);
SQL
cat > "$tmp/mig/0102_e2e_tdx.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('tdx-disk', 'session'), ('tdx-ood', 'session');
INSERT INTO policies (key_id, tee, measurements) VALUES ('tdx-disk', 'tdx', ARRAY['\\x$meas'::bytea]);
INSERT INTO policies (key_id, tee, measurements, tdx_tcb_statuses) VALUES
  ('tdx-ood', 'tdx', ARRAY['\\x$meas'::bytea], '{UpToDate,OutOfDate}');
SQL
out=$("$kg" migrate --db "$admin_dsn" --dir "$src/db/migrations" --dir "$tmp/mig" 2>&1)
check "migrate applies the schema and the policy migration" grep -q "applied 0100_e2e_policy.sql" <<<"$out"
out=$("$kg" migrate --db "$admin_dsn" --dir "$src/db/migrations" --dir "$tmp/mig" 2>&1); rc=$?
check "migrate again applies nothing" test "$rc" -eq 0 -a -z "$(grep applied <<<"$out")"

kg_psql keygate -c "CREATE ROLE kgbroker LOGIN IN ROLE keygate_broker" >/dev/null
kg_make_tls "$tmp/tls"
head -c 32 /dev/urandom > "$tmp/challenge.key"
"$kg" key generate-kek "$tmp/kek"
head -c 32 /dev/urandom > "$tmp/disk.material"
check "key import stores a model key" "$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id disk --file "$tmp/disk.material"
stored=$(psql_kg -c "SELECT encode(wrapped, 'hex') FROM key_versions WHERE key_id = 'disk'")
plain=$(xxd -p -c 256 "$tmp/disk.material" 2>/dev/null || od -An -tx1 -v "$tmp/disk.material" | tr -d ' \n')
check "the stored model key is not the plaintext" test -n "$stored" -a "${stored#*$plain}" = "$stored"

"$kgc" sim-init "$tmp/sim" || { echo "Bail out! sim-init"; exit 1; }
"$kgc" sim-init "$tmp/sim-other" || { echo "Bail out! sim-init"; exit 1; }
"$kgc" sim-init "$tmp/tdxsim" --tee tdx || { echo "Bail out! sim-init --tee tdx"; exit 1; }
# AMD's CRL for the (simulated) product, imported as collateral: the broker
# refuses SEV-SNP evidence without a current one.
"$kgc" sim-crl "$tmp/sim" "$tmp/crl.der"
out=$("$kg" collateral import --kind snp-crl "$tmp/crl.der" --db "$admin_dsn" 2>&1)
check "collateral import stores the SEV-SNP CRL" grep -q '"issuer":"ARK-Milan"' <<<"$out"
out=$("$kg" collateral import --kind snp-crl "$tmp/challenge.key" --db "$admin_dsn" 2>&1); rc=$?
check "collateral import refuses a file that is not a CRL" test "$rc" -eq 1
# Intel's real TDX collateral (2023) imports with its own validity.
vec=${KG_VECTORS:-$src/../shared/vectors}
out=$("$kg" collateral import --kind tdx-tcb-info "$vec/tdx/gtg-v4-spr/tcbInfo.json" --db "$admin_dsn" 2>&1)
check "collateral import stores Intel's TCB info, named by FMSPC" grep -q '"issuer":"fmspc:50806f000000"' <<<"$out"
out=$("$kg" collateral import --kind tdx-qe-identity "$vec/tdx/gtg-v4-spr/qeIdentity.json" --db "$admin_dsn" 2>&1)
check "collateral import stores Intel's QE identity" grep -q '"issuer":"id:TD_QE"' <<<"$out"
out=$("$kg" collateral import --kind tdx-tcb-signing-chain "$vec/tdx/intel-roots/TCB_Signing_chain.pem" --db "$admin_dsn" 2>&1)
check "collateral import stores the TCB signing chain" grep -q '"issuer":"Intel SGX TCB Signing"' <<<"$out"
out=$("$kg" collateral import --kind tdx-root-crl "$vec/tdx/intel-roots/IntelSGXRootCA.crl.der" --db "$admin_dsn" 2>&1)
check "collateral import stores the Intel root CRL" grep -q '"issuer":"Intel SGX Root CA"' <<<"$out"
out=$("$kg" collateral import --kind tdx-pck-crl "$vec/tdx/intel-roots/pckcrl_platform.crl.der" --db "$admin_dsn" 2>&1)
check "collateral import stores the PCK CRL" grep -q '"issuer":"Intel SGX PCK Platform CA"' <<<"$out"
out=$("$kg" collateral import --kind tdx-tcb-info "$vec/tdx/gtg-v4-spr/qeIdentity.json" --db "$admin_dsn" 2>&1); rc=$?
check "collateral import refuses a QE identity passed as TCB info" test "$rc" -eq 1
check "the collateral table holds every import once" test "$(psql_kg -c "SELECT count(*) FROM collateral")" = 6
# The simulated TDX platform's collateral, newer than Intel's 2023 files.
for kv in tdx-tcb-info:tcbInfo.json tdx-qe-identity:qeIdentity.json tdx-tcb-signing-chain:TCB_Signing_chain.pem \
	tdx-root-crl:IntelSGXRootCA.crl.der tdx-pck-crl:pckcrl_platform.crl.der; do
	"$kg" collateral import --kind "${kv%%:*}" "$tmp/tdxsim/${kv#*:}" --db "$admin_dsn" >/dev/null || echo "# import ${kv} failed"
done

# The test trust anchor, and its ASK as AMD ships ASKs beside ARKs: a bare
# report (no certificate table) chains through it.
cat "$tmp/sim/ask.pem" "$tmp/sim/ark.pem" > "$tmp/sim-roots.pem"
port=$(kg_free_port)
url=https://127.0.0.1:$port
cat > "$tmp/keygate.conf" <<CONF
# e2e broker
listen = 127.0.0.1:$port
db = $broker_dsn
tls_cert = $tmp/tls/server.pem
tls_key = $tmp/tls/server.key
challenge_key_file = $tmp/challenge.key
kek_file = $tmp/kek
snp_roots = $tmp/sim-roots.pem
tdx_roots = $tmp/tdxsim/root.pem
replica = e2e-1
challenge_ttl = 3
threads = 4
per_ip_connections = 16
CONF

# A broker whose role may rewrite audit rows refuses to start.
out=$(KEYGATE_DB="$admin_dsn" timeout 10 "$kg" serve --config "$tmp/keygate.conf" --db "$admin_dsn" 2>&1); rc=$?
check "broker refuses a database role that can change audit rows" test "$rc" -ne 0
check "... and says why" grep -q "can change or delete audit rows" <<<"$out"
out=$(timeout 10 "$kg" serve --config /nonexistent 2>&1); rc=$?
check "broker refuses a missing configuration file (exit 2)" test "$rc" -eq 2

"$kg" serve --config "$tmp/keygate.conf" 2>"$tmp/broker.log" &
broker_pid=$!
if ! kg_wait_http "$url/healthz" "$tmp/tls/ca.pem" 100; then
	echo "Bail out! broker did not start"; cat "$tmp/broker.log"; exit 1
fi
ok "broker starts and answers /healthz over TLS"

client() { "$kgc" --url "$url" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" --retries 0 -q "$@"; }
# expect_deny CODE ARGS...: the client fails and reports CODE.
expect_deny() {
	local code=$1 out rc; shift
	out=$(client "$@" 2>&1); rc=$?
	[ "$rc" -eq 1 ] && grep -q "\"error\":\"$code\"" <<<"$out" || { echo "# got rc=$rc: $out" | head -5; return 1; }
}

# --- the happy path -------------------------------------------------------
c=$(curl -fsS --cacert "$tmp/tls/ca.pem" "$url/v1/challenge")
chal=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["challenge"])' "$c")
check "GET /v1/challenge returns a 57-byte challenge" test "$(python3 -c 'import base64,sys; s=sys.argv[1]; print(len(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))))' "$chal")" = 57
curl -sS --cacert "$tmp/tls/ca.pem" -X POST "$url/v1/challenge" -o /dev/null -w '%{http_code}' > "$tmp/code" 2>/dev/null
check "POST /v1/challenge is refused with 405" test "$(cat "$tmp/code")" = 405

mkdir -p "$tmp/out"
out=$(client --sim-measurement "$meas" --key disk --key session1 --out-dir "$tmp/out" 2>&1); rc=$?
check "client obtains a model key and a session key over one RA-TLS connection" test "$rc" -eq 0
check "the unwrapped model key equals the imported material" cmp -s "$tmp/out/disk" "$tmp/disk.material"
check "the session key is 32 bytes" test "$(stat -c %s "$tmp/out/session1" 2>/dev/null)" = 32
check "key files are mode 0600" test "$(stat -c %a "$tmp/out/disk" 2>/dev/null)" = 600
cp "$tmp/out/session1" "$tmp/session1.first"
client --sim-measurement "$meas" --key session1 --out-dir "$tmp/out" >/dev/null 2>&1
check "a second release gives a fresh session key" test -s "$tmp/out/session1" -a "$(cmp -s "$tmp/out/session1" "$tmp/session1.first"; echo $?)" = 1
client --sim-measurement "$meas" --key session64 --out-dir "$tmp/out" >/dev/null 2>&1
check "session keys have the configured length (64)" test "$(stat -c %s "$tmp/out/session64" 2>/dev/null)" = 64
rm -f "$tmp/out/disk"
check "AES-256-GCM suite works too" client --sim-measurement "$meas" --key disk --aead aes-256-gcm --out-dir "$tmp/out"
check "... and gives the same model key" cmp -s "$tmp/out/disk" "$tmp/disk.material"

# --- denials from evidence and policy ------------------------------------
check "measurement not in policy: measurement_not_allowed" expect_deny measurement_not_allowed --sim-measurement "$other" --key session1
check "debug-enabled guest: debug_not_allowed" expect_deny debug_not_allowed --sim-measurement "$meas" --sim-debug --key session1
check "TCB below the policy floor: tcb_too_low" expect_deny tcb_too_low --sim-measurement "$meas" --key tcb-key
check "VCEK TCB differs from the report: vcek_tcb_mismatch" expect_deny vcek_tcb_mismatch --sim-measurement "$meas" --fault vcek-tcb --key session1
check "a guest at a lower TCB, with a VCEK for it, is below the floor: tcb_too_low" expect_deny tcb_too_low --sim-measurement "$meas" --sim-tcb 4:0:24:200 --key tcb-key
check "a request from VMPL 1 under the default policy: vmpl_not_allowed" expect_deny vmpl_not_allowed --sim-measurement "$meas" --sim-vmpl 1 --key session1
check "a policy that allows VMPL 1 only refuses VMPL 0" expect_deny vmpl_not_allowed --sim-measurement "$meas" --key vmpl1-key
check "... and grants VMPL 1" client --sim-measurement "$meas" --sim-vmpl 1 --key vmpl1-key
check "HOST_DATA other than the policy's: host_data_mismatch" expect_deny host_data_mismatch --sim-measurement "$meas" --key hd-key
check "... the policy's HOST_DATA is granted" client --sim-measurement "$meas" --sim-host-data "$hostdata" --key hd-key
check "guest SVN below the minimum: guest_svn_too_low" expect_deny guest_svn_too_low --sim-measurement "$meas" --sim-guest-svn 2 --key svn-key
check "a version 2 report (Milan, no CPUID) is verified and granted" client --sim-measurement "$meas" --sim-version 2 --key session1
check "a version 5 report (Turin-era ABI fields) is verified and granted" client --sim-measurement "$meas" --sim-version 5 --key session1
check "unknown key: unknown_key" expect_deny unknown_key --sim-measurement "$meas" --key no-such-key
check "disabled key: key_disabled" expect_deny key_disabled --sim-measurement "$meas" --key disabled-key
check "key without a policy: no_policy" expect_deny no_policy --sim-measurement "$meas" --key nopolicy-key
check "model key with no stored version: key_material_missing" expect_deny key_material_missing --sim-measurement "$meas" --key unprovisioned
out=$("$kgc" --url "$url" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim-other" --retries 0 -q \
	--sim-measurement "$meas" --key session1 2>&1)
check "evidence from an untrusted root: snp_root_untrusted" grep -q '"error":"snp_root_untrusted"' <<<"$out"

# --- Intel TDX (simulated quotes, collateral from PostgreSQL) --------------
tdxc() { "$kgc" --url "$url" --ca "$tmp/tls/ca.pem" --tee tdx-sim --sim-dir "$tmp/tdxsim" --retries 0 -q "$@"; }
tdx_deny() {
	local code=$1 out rc; shift
	out=$(tdxc "$@" 2>&1); rc=$?
	[ "$rc" -eq 1 ] && grep -q "\"error\":\"$code\"" <<<"$out" || { echo "# got rc=$rc: $out" | head -5; return 1; }
}
# A second platform kind with newer collateral: a TCB info for another
# FMSPC, issued after the simulated one's.  Each quote must still be judged
# with its own FMSPC's document.
python3 - "$tmp/tdxsim/tcbInfo.json" "$tmp/other-fmspc.json" <<'PY'
import datetime, json, sys
doc = json.load(open(sys.argv[1]))
doc["tcbInfo"]["fmspc"] = "00a06d080000"
doc["tcbInfo"]["issueDate"] = (datetime.datetime.utcnow() + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump(doc, open(sys.argv[2], "w"))
PY
"$kg" collateral import --kind tdx-tcb-info "$tmp/other-fmspc.json" --db "$admin_dsn" >/dev/null
check "a TDX CVM (quote v4) obtains its key" tdxc --sim-measurement "$meas" --key tdx-disk
check "... judged with its own FMSPC's TCB info, not the newest document" test "$(psql_kg -c "SELECT issuer FROM collateral WHERE kind = 'tdx_tcb_info' ORDER BY this_update DESC LIMIT 1")" = "fmspc:00a06d080000"
check "a TDX CVM with a v5 (TDX 1.5) quote obtains its key" tdxc --sim-measurement "$meas" --sim-version 5 --key tdx-disk
check "TDX: MRTD not in policy: measurement_not_allowed" tdx_deny measurement_not_allowed --sim-measurement "$other" --key tdx-disk
check "TDX: debug TD: debug_not_allowed" tdx_deny debug_not_allowed --sim-measurement "$meas" --sim-debug --key tdx-disk
check "TDX: OutOfDate platform under the default policy: tdx_tcb_status_not_allowed" tdx_deny tdx_tcb_status_not_allowed --sim-measurement "$meas" --sim-out-of-date --key tdx-disk
check "TDX: ... granted where the policy accepts OutOfDate" tdxc --sim-measurement "$meas" --sim-out-of-date --key tdx-ood
check "TDX evidence for a key with only SEV-SNP policies: no_policy" tdx_deny no_policy --sim-measurement "$meas" --key session1

# --- the ledger: release only images published in a transparency log -----
kgl=$bld/ledger/keygate-ledger
L=$tmp/ledger
lvkey=$("$kgl" init "$L" --origin ledger.example/images 2>/dev/null)
w1=$("$kgl" witness-init "$tmp/w1.key" --name witness.example/w1 2>/dev/null)
w2=$("$kgl" witness-init "$tmp/w2.key" --name witness.example/w2 2>/dev/null)
"$kgl" add "$L" --tee snp --measurement "$meas" --name e2e-image --version 1.0 >/dev/null 2>&1
"$kgl" add "$L" --tee snp --measurement "$other" --name other-image --version 2.0 >/dev/null 2>&1
"$kgl" checkpoint "$L" >/dev/null 2>&1
cp -r "$L" "$tmp/fork"   # the same log at size 2, to fork from later
"$kgl" cosign "$L" --witness-key "$tmp/w1.key" >/dev/null 2>&1
"$kgl" bundle "$L" --measurement "$meas" > "$tmp/bundle-2" 2>/dev/null
"$kgl" bundle "$L" --measurement "$other" > "$tmp/bundle-other" 2>/dev/null
kg_psql keygate -c "INSERT INTO ledgers (ledger_id, origin, log_vkey, witness_vkeys, witness_threshold, max_age_seconds)
  VALUES ('images', 'ledger.example/images', '$lvkey', ARRAY['$w1'], 1, 3600),
         ('images-2w', 'ledger.example/images', '$lvkey', ARRAY['$w1', '$w2'], 2, 0);
INSERT INTO keys (key_id, kind) VALUES ('ledger-key', 'session'), ('ledger-2w', 'session');
INSERT INTO policies (key_id, tee, ledger_id) VALUES ('ledger-key', 'snp', 'images'), ('ledger-2w', 'snp', 'images-2w');"
check "an image published in the ledger gets its key (no measurement list)" client --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-2"
check "... and every broker now knows the checkpoint (size 2)" test "$(psql_kg -c "SELECT size FROM ledger_checkpoints WHERE ledger_id = 'images'")" = 2
check "no bundle: ledger_not_in_ledger" expect_deny ledger_not_in_ledger --sim-measurement "$meas" --key ledger-key
check "a bundle for another image than the one attested: ledger_not_in_ledger" expect_deny ledger_not_in_ledger --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-other"
check "too few witness cosignatures: ledger_too_few_witnesses" expect_deny ledger_too_few_witnesses --sim-measurement "$meas" --key ledger-2w --ledger-bundle "$tmp/bundle-2"
"$kgl" init "$tmp/impostor" --origin ledger.example/images >/dev/null 2>&1
"$kgl" add "$tmp/impostor" --tee snp --measurement "$meas" --name e2e-image --version 1.0 >/dev/null 2>&1
"$kgl" checkpoint "$tmp/impostor" >/dev/null 2>&1
"$kgl" cosign "$tmp/impostor" --witness-key "$tmp/w1.key" >/dev/null 2>&1
"$kgl" bundle "$tmp/impostor" --measurement "$meas" > "$tmp/bundle-impostor" 2>/dev/null
out=$(client --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-impostor" 2>&1)
check "a bundle signed by an unknown log key is refused" grep -q '"error":"ledger_\(unknown_key\|bad_signature\)"' <<<"$out"
# The log grows and revokes the image; the CVM fetches a fresh bundle and a
# consistency proof from the size the brokers have seen.
rev_index=$("$kgl" revoke "$L" --tee snp --measurement "$meas" --reason "CVE in e2e-image" 2>/dev/null)
"$kgl" checkpoint "$L" >/dev/null 2>&1
"$kgl" cosign "$L" --witness-key "$tmp/w1.key" >/dev/null 2>&1
"$kgl" bundle "$L" --measurement "$meas" > "$tmp/bundle-3" 2>/dev/null
"$kgl" consistency "$L" --from 2 > "$tmp/cons-2-3" 2>/dev/null
check "a larger checkpoint without a consistency proof: ledger_consistency_missing" expect_deny ledger_consistency_missing --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-3"
check "with its consistency proof it is accepted" client --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-3" --ledger-consistency "$tmp/cons-2-3"
check "... and the brokers' checkpoint advanced to size 3" test "$(psql_kg -c "SELECT size FROM ledger_checkpoints WHERE ledger_id = 'images'")" = 3
check "an older checkpoint than the brokers have seen, unproven: ledger_rollback" expect_deny ledger_rollback --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-2"
"$kgl" add "$tmp/fork" --tee snp --measurement "$meas" --name forked-image --version 6.6 >/dev/null 2>&1
"$kgl" checkpoint "$tmp/fork" >/dev/null 2>&1
"$kgl" cosign "$tmp/fork" --witness-key "$tmp/w1.key" >/dev/null 2>&1
"$kgl" bundle "$tmp/fork" --measurement "$meas" > "$tmp/bundle-fork" 2>/dev/null
out=$(client --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-fork" 2>&1)
check "a split view (another tree of the same size): refused" grep -q '"error":"ledger_\(inconsistent\|rollback\)"' <<<"$out"
out=$("$kg" ledger sync --ledger images --dir "$L" --db "$admin_dsn" 2>&1)
check "keygate ledger sync imports the ledger's revocation" grep -q '"revocations_imported":1' <<<"$out"
out=$("$kg" ledger sync --ledger images --dir "$tmp/fork" --db "$admin_dsn" 2>&1); rc=$?
check "keygate ledger sync refuses a forked copy of the log" test "$rc" -eq 1
check "a measurement the ledger revoked: ledger_revoked" expect_deny ledger_revoked --sim-measurement "$meas" --key ledger-key --ledger-bundle "$tmp/bundle-3"
out=$("$kg" ledger verify "$tmp/bundle-2" --key "$lvkey" --measurement "$meas" 2>/dev/null); rc=$?
check "keygate ledger verify --key: a published image (exit 0)" test "$rc" -eq 0
check "... printing the entry" grep -q '"name": "e2e-image"' <<<"$out"
out=$("$kg" ledger verify "$tmp/bundle-2" --key "$lvkey" --measurement "$other" 2>/dev/null); rc=$?
check "keygate ledger verify: another measurement is not in the ledger (exit 1)" test "$rc" -eq 1 -a -n "$(grep ledger_not_in_ledger <<<"$out")"
out=$("$kg" ledger verify "$tmp/bundle-2" --ledger images --db "$admin_dsn" 2>/dev/null); rc=$?
check "keygate ledger verify --ledger: judged with the brokers' seen checkpoint (rollback)" test "$rc" -eq 1 -a -n "$(grep ledger_rollback <<<"$out")"
out=$("$kg" ledger verify "$tmp/bundle-3" --ledger images --db "$admin_dsn" --measurement "$meas" 2>/dev/null); rc=$?
check "keygate ledger verify --ledger: a revoked image (exit 1)" test "$rc" -eq 1 -a -n "$(grep ledger_revoked <<<"$out")"
out=$("$kg" ledger verify "$tmp/bundle-2" --ledger nosuch --db "$admin_dsn" 2>/dev/null); rc=$?
check "keygate ledger verify --ledger: an unknown ledger (exit 1)" test "$rc" -eq 1
check "the audit row records what the ledger established" test "$(psql_kg -c "SELECT count(*) FROM audit WHERE key_id = 'ledger-key' AND decision = 'grant' AND ledger->0->>'result' = 'ok' AND (ledger->0->>'size')::int >= 2")" = 2

# --- revocation: AMD CRLs as collateral ----------------------------------
"$kgc" sim-crl "$tmp/sim" "$tmp/crl-revoked.der" --revoke-vcek
sleep 1 # a later thisUpdate than the current CRL's
"$kgc" sim-crl "$tmp/sim" "$tmp/crl-revoked.der" --revoke-vcek
"$kg" collateral import --kind snp-crl "$tmp/crl-revoked.der" --db "$admin_dsn" >/dev/null
check "a VCEK revoked by a newly imported CRL is refused at once: snp_cert_revoked" expect_deny snp_cert_revoked --sim-measurement "$meas" --key session1
kg_psql keygate -c "DELETE FROM collateral"
check "no CRL at all: snp_crl_missing" expect_deny snp_crl_missing --sim-measurement "$meas" --key session1
"$kgc" sim-crl "$tmp/sim" "$tmp/crl-expired.der" --expired
"$kg" collateral import --kind snp-crl "$tmp/crl-expired.der" --db "$admin_dsn" >/dev/null
check "only an expired CRL: snp_crl_expired" expect_deny snp_crl_expired --sim-measurement "$meas" --key session1
"$kgc" sim-crl "$tmp/sim" "$tmp/crl-fresh.der"
"$kg" collateral import --kind snp-crl "$tmp/crl-fresh.der" --db "$admin_dsn" >/dev/null
check "releases resume with a current CRL" client --sim-measurement "$meas" --key session1

# --- a report without its certificate table: the VCEK from collateral ----
check "a bare report whose VCEK the broker lacks: snp_vcek_missing" expect_deny snp_vcek_missing --sim-measurement "$meas" --sim-no-cert-table --key session1
out=$("$kg" collateral import --kind snp-vcek "$tmp/sim/vcek.pem" --db "$admin_dsn" 2>&1)
check "collateral import stores a VCEK, named by chip and TCB" grep -q '"issuer":"VCEK Milan tcb=' <<<"$out"
check "... and the bare report is then verified with it" client --sim-measurement "$meas" --sim-no-cert-table --key session1
out=$("$kg" collateral import --kind snp-vcek "$tmp/sim/ark.pem" --db "$admin_dsn" 2>&1); rc=$?
check "collateral import refuses a certificate that is not a VCEK" test "$rc" -eq 1

# --- binding and challenge ------------------------------------------------
check "certificate key not the one in the claims: binding_pubkey_mismatch" expect_deny binding_pubkey_mismatch --sim-measurement "$meas" --fault pubkey-hash --key session1
check "REPORT_DATA not committing to the claims: binding_report_data_mismatch" expect_deny binding_report_data_mismatch --sim-measurement "$meas" --fault report-data --key session1
check "no client certificate: client_cert_missing" expect_deny client_cert_missing --sim-measurement "$meas" --fault no-cert --key session1
# A fresh challenge for the challenge tests: the broker's lifetime is 3 s.
chal=$(curl -fsS --cacert "$tmp/tls/ca.pem" "$url/v1/challenge" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])')
forged=$(python3 -c 'import base64,sys; s=sys.argv[1]; b=bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))); b[20]^=1; print(base64.urlsafe_b64encode(bytes(b)).decode().rstrip("="))' "$chal")
check "forged challenge: challenge_forged" expect_deny challenge_forged --sim-measurement "$meas" --challenge "$forged" --key session1
check "truncated challenge: challenge_malformed" expect_deny challenge_malformed --sim-measurement "$meas" --challenge "${chal:0:40}" --key session1
check "a fresh challenge can be presented again within its lifetime" client --sim-measurement "$meas" --challenge "$chal" --key session1
sleep 5
check "replayed expired challenge: challenge_expired" expect_deny challenge_expired --sim-measurement "$meas" --challenge "$chal" --key session1

# --- malformed requests (raw HTTPS) ---------------------------------------
# raw METHOD PATH [curl args...] -> "STATUS ERROR_CODE"
raw() {
	local m=$1 p=$2; shift 2
	curl -sS --cacert "$tmp/tls/ca.pem" -X "$m" "$url$p" -o "$tmp/raw.json" -w '%{http_code}' "$@" > "$tmp/raw.code" 2>/dev/null
	echo "$(cat "$tmp/raw.code") $(python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1])).get("error",""))
except Exception: print("not-json")' "$tmp/raw.json")"
}
check "malformed JSON: 400 malformed_json" test "$(raw POST /v1/keys/disk/release -d '{')" = "400 malformed_json"
check "unknown field: 400 unknown_field" test "$(raw POST /v1/keys/disk/release -d '{"admin":true}')" = "400 unknown_field"
check "unsupported AEAD: 400 hpke_suite_unsupported" test "$(raw POST /v1/keys/disk/release -d '{"aead":"aes-128-gcm"}')" = "400 hpke_suite_unsupported"
head -c $((256 * 1024 + 1000)) /dev/zero | tr '\0' ' ' > "$tmp/big.json"
check "oversize body: 413 body_too_large" test "$(raw POST /v1/keys/disk/release --data-binary @"$tmp/big.json")" = "413 body_too_large"
check "no client certificate (raw): 401 client_cert_missing" test "$(raw POST /v1/keys/disk/release -d '{}')" = "401 client_cert_missing"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=garbage" \
	-keyout "$tmp/plain.key" -out "$tmp/plain.pem" 2>/dev/null
check "certificate without evidence: 401 ratls_no_evidence" test "$(raw POST /v1/keys/disk/release -d '{}' --cert "$tmp/plain.pem" --key "$tmp/plain.key")" = "401 ratls_no_evidence"
check "invalid key id: 404 unknown_key" test "$(raw POST '/v1/keys/a%20b/release' -d '{}')" = "404 unknown_key"
check "GET on the release endpoint: 405" test "$(raw GET /v1/keys/disk/release)" = "405 method_not_allowed"
check "unknown path: 404 not_found" test "$(raw GET /v1/nothing)" = "404 not_found"
out=$(curl -sS --cacert "$tmp/tls/ca.pem" --tls-max 1.2 "$url/healthz" 2>&1); rc=$?
check "TLS 1.2 is refused" test "$rc" -ne 0

# One address holding every slot it may have gets no more; others' slots
# and its own later connections are unaffected.
python3 - "$port" > "$tmp/slots" 2>&1 <<'PY' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(16)]
print("held", flush=True)
time.sleep(3)
PY
holder=$!
for i in $(seq 50); do grep -q held "$tmp/slots" 2>/dev/null && break; sleep 0.1; done
out=$(curl -sS --max-time 2 --cacert "$tmp/tls/ca.pem" "$url/healthz" 2>&1); rc=$?
check "per-address connection limit: the 17th connection is refused" test "$rc" -ne 0
wait "$holder"
check "... and accepted once the others close" kg_wait_http "$url/healthz" "$tmp/tls/ca.pem" 30

# --- audit --------------------------------------------------------------
grants=$(psql_kg -c "SELECT count(*) FROM audit WHERE decision = 'grant'")
check "every grant is audited (17 grants so far)" test "$grants" = 17
check "grant rows name the policy, the measurement, the chip and the evidence hash" test "$(psql_kg -c "SELECT count(*) FROM audit WHERE decision = 'grant' AND policy_id IS NOT NULL AND encode(measurement, 'hex') = '$meas' AND length(evidence_sha256) = 32 AND (tee = 'tdx' OR (length(chip_id) = 64 AND tcb ? 'microcode'))")" = 17
for code in measurement_not_allowed debug_not_allowed tcb_too_low vcek_tcb_mismatch unknown_key key_disabled no_policy \
	key_material_missing snp_root_untrusted snp_cert_revoked snp_vcek_missing snp_crl_missing snp_crl_expired tdx_tcb_status_not_allowed ledger_not_in_ledger ledger_too_few_witnesses ledger_consistency_missing ledger_rollback ledger_revoked vmpl_not_allowed host_data_mismatch guest_svn_too_low binding_pubkey_mismatch binding_report_data_mismatch client_cert_missing \
	challenge_forged challenge_malformed challenge_expired malformed_json unknown_field body_too_large ratls_no_evidence \
	hpke_suite_unsupported; do
	cnt=$(psql_kg -c "SELECT count(*) FROM audit WHERE decision = 'deny' AND reason = '$code'")
	check "denial '$code' is audited" test "$cnt" -ge 1
done
check "a denial after verification records the measurement" test "$(psql_kg -c "SELECT count(*) FROM audit WHERE reason = 'measurement_not_allowed' AND encode(measurement, 'hex') = '$other'")" -ge 1
out=$(kg_psql keygate -c "UPDATE audit SET decision = 'grant' WHERE reason = 'tcb_too_low'" 2>&1); rc=$?
check "audit rows cannot be updated, even by the owner" test "$rc" -ne 0
out=$(kg_psql keygate -c "DELETE FROM audit" 2>&1); rc=$?
check "audit rows cannot be deleted" test "$rc" -ne 0
out=$(kg_psql keygate -c "TRUNCATE audit" 2>&1); rc=$?
check "audit cannot be truncated" test "$rc" -ne 0
out=$(psql -X -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgbroker -d keygate -c "SELECT count(*) FROM audit" 2>&1); rc=$?
check "the broker role cannot read the audit log" test "$rc" -ne 0
key_hex=$(od -An -tx1 -v "$tmp/disk.material" | tr -d ' \n')
dump=$(kg_psql keygate -At -c "SELECT row_to_json(a)::text FROM audit a")
check "no key material in the audit table" test "${dump#*$key_hex}" = "$dump"
check "no key material in the broker's log" test -z "$(grep -i "$key_hex" "$tmp/broker.log")"

# --- faults: audit failure, database down -------------------------------
kg_psql keygate -c "CREATE FUNCTION e2e_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'e2e'; END \$\$;
CREATE TRIGGER e2e_fail BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION e2e_fail();" >/dev/null
rm -f "$tmp/out/disk"
check "audit insert fails: 503 audit_write_failed" expect_deny audit_write_failed --sim-measurement "$meas" --key disk --out-dir "$tmp/out"
check "... and no key is released" test ! -e "$tmp/out/disk"
kg_psql keygate -c "DROP TRIGGER e2e_fail ON audit" >/dev/null
check "releases resume once the audit works" client --sim-measurement "$meas" --key disk --out-dir "$tmp/out"

# --- the policy cache follows the database at once (LISTEN/NOTIFY) --------
m=$(curl -fsS --cacert "$tmp/tls/ca.pem" "$url/metrics")
check "the policy cache is listening" grep -q '^keygate_policy_cache_listening 1' <<<"$m"
check "repeated releases are served from the policy cache" test "$(awk '/^keygate_policy_cache_hits_total/ {print $2}' <<<"$m")" -gt 0
inv0=$(awk '/^keygate_policy_cache_invalidations_total/ {print $2}' <<<"$m")
t0=$(date +%s%N)
kg_psql keygate -c "UPDATE keys SET state = 'disabled' WHERE key_id = 'session1'"
for i in $(seq 200); do
	inv=$(curl -fsS --cacert "$tmp/tls/ca.pem" "$url/metrics" | awk '/^keygate_policy_cache_invalidations_total/ {print $2}')
	[ "$inv" -gt "$inv0" ] && break
done
t1=$(date +%s%N)
echo "# commit to cache invalidation seen from outside: $(( (t1 - t0) / 1000000 )) ms (psql and curl included)"
check "a key disabled while the broker runs is refused at once: key_disabled" expect_deny key_disabled --sim-measurement "$meas" --key session1
kg_psql keygate -c "UPDATE keys SET state = 'active' WHERE key_id = 'session1'"
check "... and granted again once re-enabled" client --sim-measurement "$meas" --key session1
kg_psql keygate -c "UPDATE policies SET state = 'disabled' WHERE key_id = 'session64' AND tee = 'snp'"
check "a policy disabled while the broker runs grants nothing: no_policy" expect_deny no_policy --sim-measurement "$meas" --key session64
kg_psql keygate -c "UPDATE policies SET not_after = 'epoch' WHERE key_id = 'hd-key' AND tee = 'snp'"
check "a policy that ended at the epoch is expired: policy_expired" expect_deny policy_expired --sim-measurement "$meas" --sim-host-data "$hostdata" --key hd-key
kg_psql keygate -c "UPDATE policies SET not_after = 'infinity', not_before = '-infinity' WHERE key_id = 'hd-key' AND tee = 'snp'"
check "a policy valid from -infinity to infinity grants" client --sim-measurement "$meas" --sim-host-data "$hostdata" --key hd-key
kg_psql keygate -c "UPDATE policies SET not_before = 'infinity', not_after = NULL WHERE key_id = 'hd-key' AND tee = 'snp'"
check "a policy valid from infinity never grants: policy_not_yet_valid" expect_deny policy_not_yet_valid --sim-measurement "$meas" --sim-host-data "$hostdata" --key hd-key
head -c 32 /dev/urandom > "$tmp/disk.v2"
"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id disk --file "$tmp/disk.v2" >/dev/null
out=$(client --sim-measurement "$meas" --key disk --out-dir "$tmp/out" 2>&1)
check "a key version imported while the broker runs is released at once" grep -q '"key_version":2' <<<"$out"
check "... with the new material" cmp -s "$tmp/out/disk" "$tmp/disk.v2"

# --- keygate policy explain: the same decision, condition by condition ----
# (The collateral table was emptied above: TDX collateral comes from files.)
simev=$bld/tests/sim-evidence
"$simev" snp "$tmp/sim" "$meas" "$tmp/ev-good" && "$simev" snp "$tmp/sim" "$other" "$tmp/ev-other" &&
	"$simev" snp "$tmp/sim" "$meas" "$tmp/ev-debug" debug && "$simev" tdx "$tmp/tdxsim" "$meas" "$tmp/ev-tdx" &&
	"$simev" tdx "$tmp/tdxsim" "$meas" "$tmp/ev-tdx-debug" debug || echo "# sim-evidence failed"
explain() { "$kg" policy explain --db "$admin_dsn" --roots "$tmp/sim-roots.pem" "$@" 2>&1; }
# expect_explain RC PATTERN... -- ARGS: exit code RC and every PATTERN in the output.
expect_explain() {
	local want=$1 pats=() out rc; shift
	while [ "$1" != "--" ]; do pats+=("$1"); shift; done; shift
	out=$(explain "$@"); rc=$?
	[ "$rc" -eq "$want" ] || { echo "# rc=$rc: $out" | head -20; return 1; }
	for p in "${pats[@]}"; do grep -q -- "$p" <<<"$out" || { echo "# missing '$p' in: $out" | head -40; return 1; }; done
}
check "policy explain: a grant, every condition passing" expect_explain 0 "decision: grant (policy" "pass  measurements" "pass  min_tcb" -- --key session1 --tee snp "$tmp/ev-good"
check "policy explain: another image, measurements FAIL" expect_explain 1 "FAIL  measurements *$other" "decision: deny, measurement_not_allowed" -- --key session1 --tee snp "$tmp/ev-other"
check "policy explain: a debug guest, allow_debug FAIL" expect_explain 1 "FAIL  allow_debug *debug allowed" "decision: deny, debug_not_allowed" -- --key session1 --tee snp "$tmp/ev-debug"
check "policy explain: TCB below the floor, min_tcb FAIL with both values" expect_explain 1 "FAIL  min_tcb *bootloader=4 tee=0 snp=24 microcode=219" "microcode>=250" "decision: deny, tcb_too_low" -- --key tcb-key --tee snp "$tmp/ev-good"
check "policy explain: VMPL 0 where VMPL 1 is required" expect_explain 1 "FAIL  allowed_vmpls *0" "one of {1}" "decision: deny, vmpl_not_allowed" -- --key vmpl1-key --tee snp "$tmp/ev-good"
check "policy explain: HOST_DATA differs (and the policy starts at infinity)" expect_explain 1 "FAIL  host_data" "$hostdata" "FAIL  not_before" "decision: deny, policy_not_yet_valid" -- --key hd-key --tee snp "$tmp/ev-good"
check "policy explain: guest SVN below the minimum" expect_explain 1 "FAIL  min_guest_svn" ">= 3" "decision: deny, guest_svn_too_low" -- --key svn-key --tee snp "$tmp/ev-good"
check "policy explain: a TDX grant" expect_explain 0 "pass  tdx_tcb_statuses *UpToDate" "decision: grant" -- --key tdx-disk --tee tdx --roots "$tmp/tdxsim/root.pem" --collateral "$tmp/tdxsim" "$tmp/ev-tdx"
check "policy explain: a debug TD" expect_explain 1 "FAIL  allow_debug" "decision: deny, debug_not_allowed" -- --key tdx-disk --tee tdx --roots "$tmp/tdxsim/root.pem" --collateral "$tmp/tdxsim" "$tmp/ev-tdx-debug"
check "policy explain: a key with a policy for another TEE only" expect_explain 1 "decision: deny, no_policy" -- --key tdx-disk --tee snp "$tmp/ev-good"
check "policy explain: an unknown key" expect_explain 1 "decision: deny, unknown_key" -- --key no-such-key --tee snp "$tmp/ev-good"
cp "$tmp/ev-good" "$tmp/ev-bad"; printf '\xff' | dd of="$tmp/ev-bad" bs=1 seek=100 conv=notrunc 2>/dev/null
check "policy explain: evidence that does not verify" expect_explain 1 "evidence: NOT verified, snp_signature_invalid" -- --key session1 --tee snp "$tmp/ev-bad"
out=$(explain --key session1 --tee snp --json "$tmp/ev-other")
check "policy explain --json: the decision and each condition" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["decision"] == "deny" and d["reason"] == "measurement_not_allowed", d
c = {x["name"]: x for x in d["policies"][0]["conditions"]}
assert not c["measurements"]["pass"] and c["measurements"]["reason"] == "measurement_not_allowed"
assert c["allow_debug"]["pass"] and c["min_tcb"]["pass"]' "$out"
out=$(explain --key session1 --tee snp 2>&1); rc=$?
check "policy explain without evidence is a usage error (exit 2)" test "$rc" -eq 2
check "the audit row of a real denial names the failed condition" test "$(psql_kg -c "SELECT explain::text FROM audit WHERE reason = 'measurement_not_allowed' AND key_id = 'session1' ORDER BY audit_id DESC LIMIT 1" | grep -c '"failed": \["measurements"\]')" = 1
check "... and a grant's row names its policy with nothing failed" test "$(psql_kg -c "SELECT count(*) FROM audit WHERE decision = 'grant' AND key_id = 'session1' AND explain @> jsonb_build_array(jsonb_build_object('policy_id', policy_id, 'failed', '[]'::jsonb))")" -ge 1

# --- the auditor's side: views, keygate audit, policy history ------------
kg_psql keygate -c "CREATE ROLE kgauditor LOGIN IN ROLE keygate_auditor" >/dev/null
auditor_dsn=$(kg_pg_dsn keygate kgauditor)
simchip=$(psql_kg -c "SELECT DISTINCT encode(chip_id, 'hex') FROM audit WHERE key_id = 'disk' AND decision = 'grant' LIMIT 1")
out=$("$kg" audit recipients --key disk --json --db "$auditor_dsn" 2>&1)
check "keygate audit recipients: the CVMs (chip, measurement) that received a key" grep -q "\"chip_id\": \"$simchip\"" <<<"$out"
check "... with the measurement they ran" grep -q "\"measurement\": \"$meas\"" <<<"$out"
out=$("$kg" audit denials --since "$(date -u -d '-1 hour' +%FT%TZ)" --db "$auditor_dsn" 2>&1)
check "keygate audit denials: denials with reasons in a time window" grep -q "debug_not_allowed" <<<"$out"
out=$("$kg" audit denials --until "2000-01-01" --json --db "$auditor_dsn" 2>&1)
check "... and none before the window" test "$out" = "[]"
out=$("$kg" audit releases-per-day --key session1 --json --db "$auditor_dsn" 2>&1)
check "keygate audit releases-per-day" grep -q '"grants": "[0-9]' <<<"$out"
out=$("$kg" audit measurements --json --db "$auditor_dsn" 2>&1)
check "keygate audit measurements: first and last release per measurement" grep -q "\"first_release\"" <<<"$out"
out=$("$kg" audit changed-policies --key hd-key --json --db "$auditor_dsn" 2>&1)
check "keygate audit changed-policies: grants under a policy changed since" grep -q '"operation": "UPDATE"' <<<"$out"
check "policy history names the migration that added a policy" test "$(psql_kg -c "SELECT count(*) FROM policy_history WHERE table_name = 'policies' AND operation = 'INSERT' AND migration = '0100_e2e_policy.sql'")" -ge 1
check "policy history keeps old and new rows of an update, with the database user" test "$(psql_kg -c "SELECT count(*) FROM policy_history WHERE table_name = 'keys' AND operation = 'UPDATE' AND old_row->>'state' = 'active' AND new_row->>'state' = 'disabled' AND db_user = 'postgres'")" -ge 1
out=$(kg_psql keygate -c "DELETE FROM policy_history" 2>&1); rc=$?
check "policy history cannot be deleted" test "$rc" -ne 0
out=$(psql -X -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgauditor -d keygate -c "SELECT * FROM key_versions" 2>&1); rc=$?
check "the auditor role cannot read key material" test "$rc" -ne 0

m=$(curl -fsS --cacert "$tmp/tls/ca.pem" "$url/metrics")
check "/metrics counts grants" grep -q 'keygate_releases_total{decision="grant",reason="ok"} 21' <<<"$m"
check "/metrics counts denials by reason" grep -q 'keygate_releases_total{decision="deny",reason="debug_not_allowed"} 2' <<<"$m"

kg_pg_stop "$tmp"
check "database down: 503 database_unavailable" expect_deny database_unavailable --sim-measurement "$meas" --key session1
check "the broker survives the database outage" kg_wait_http "$url/healthz" "$tmp/tls/ca.pem" 5
kg_pg_start_again() { kg_pg_run "$(kg_pg_bindir)/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 60 \
	-o "-p $pgport -k $tmp/pg -c listen_addresses=127.0.0.1" start >/dev/null; }
kg_pg_start_again
check "releases resume when the database is back" client --sim-measurement "$meas" --key session1
for i in $(seq 50); do
	curl -fsS --cacert "$tmp/tls/ca.pem" "$url/metrics" | grep -q '^keygate_policy_cache_listening 1' && break
	sleep 0.1
done
check "the policy cache listens again after the outage" curl -fsS --cacert "$tmp/tls/ca.pem" "$url/metrics" -o "$tmp/m2"
check "... (keygate_policy_cache_listening 1)" grep -q '^keygate_policy_cache_listening 1' "$tmp/m2"
kg_psql keygate -c "UPDATE keys SET state = 'disabled' WHERE key_id = 'session1'"
check "... and sees changes made after it: key_disabled" expect_deny key_disabled --sim-measurement "$meas" --key session1

kill "$broker_pid" && wait "$broker_pid"; rc=$?
broker_pid=
check "SIGTERM stops the broker cleanly" test "$rc" -eq 0

# --- migrations guard themselves ----------------------------------------
cat > "$tmp/mig/0101_bad_policy.sql" <<SQL
INSERT INTO policies (key_id, tee, measurements) VALUES ('session1', 'snp', ARRAY['\\x0102'::bytea]);
SQL
before=$(psql_kg -c "SELECT count(*) FROM policies")
out=$("$kg" migrate --db "$admin_dsn" --dir "$src/db/migrations" --dir "$tmp/mig" 2>&1); rc=$?
check "a policy with a malformed measurement fails its migration" test "$rc" -ne 0
check "... which is rolled back" test "$(psql_kg -c "SELECT count(*) FROM policies")" = "$before" -a "$(psql_kg -c "SELECT count(*) FROM keygate_migrations WHERE name = '0101_bad_policy.sql'")" = 0
rm "$tmp/mig/0101_bad_policy.sql"
# Each kind of invalid policy fails when its migration runs, and is rolled back.
bad_migration() {
	local name=$1 sql=$2 before after rc
	printf '%s\n' "$sql" > "$tmp/mig/0199_bad.sql"
	before=$(psql_kg -c "SELECT count(*) FROM policies")
	"$kg" migrate --db "${3:-$admin_dsn}" --dir "$src/db/migrations" --dir "$tmp/mig" >"$tmp/mig.out" 2>&1; rc=$?
	after=$(psql_kg -c "SELECT count(*) FROM policies")
	rm -f "$tmp/mig/0199_bad.sql"
	[ "$rc" -ne 0 ] && [ "$before" = "$after" ] &&
		[ "$(psql_kg -c "SELECT count(*) FROM keygate_migrations WHERE name = '0199_bad.sql'")" = 0 ] ||
		{ echo "# $name: rc=$rc before=$before after=$after"; cat "$tmp/mig.out"; return 1; }
}
m48="ARRAY['\\x$meas'::bytea]"
check "invalid policy: a TEE nobody supports" bad_migration tee "INSERT INTO policies (key_id, tee, measurements) VALUES ('session1', 'sgx', $m48);"
check "invalid policy: a TDX column on an SNP policy" bad_migration tdxcol "INSERT INTO policies (key_id, tee, measurements, tdx_mr_owner) VALUES ('session1', 'snp', $m48, '\\x$meas');"
check "invalid policy: an SNP column on a TDX policy" bad_migration snpcol "INSERT INTO policies (key_id, tee, measurements, min_tcb_snp) VALUES ('session1', 'tdx', $m48, 8);"
check "invalid policy: a TCB floor out of range" bad_migration tcb "INSERT INTO policies (key_id, tee, measurements, min_tcb_snp) VALUES ('session1', 'snp', $m48, 300);"
check "invalid policy: HOST_DATA of the wrong length" bad_migration hostdata "INSERT INTO policies (key_id, tee, measurements, host_data) VALUES ('session1', 'snp', $m48, '\\x0102');"
check "invalid policy: an unknown TDX TCB status" bad_migration status "INSERT INTO policies (key_id, tee, measurements, tdx_tcb_statuses) VALUES ('session1', 'tdx', $m48, '{Revoked}');"
check "invalid policy: neither measurements nor a ledger" bad_migration nomeas "INSERT INTO policies (key_id, tee) VALUES ('session1', 'snp');"
check "invalid policy: an unknown ledger" bad_migration ledger "INSERT INTO policies (key_id, tee, ledger_id) VALUES ('session1', 'snp', 'no-such-ledger');"
check "invalid policy: an unknown key" bad_migration key "INSERT INTO policies (key_id, tee, measurements) VALUES ('no-such-key', 'snp', $m48);"
check "invalid policy: an end before its start" bad_migration window "INSERT INTO policies (key_id, tee, measurements, not_before, not_after) VALUES ('session1', 'snp', $m48, '2030-01-01', '2029-01-01');"
check "a migration that leaves an active key without a valid policy fails" bad_migration last "UPDATE policies SET state = 'disabled' WHERE key_id = 'svn-key';"
check "... as does one that lets its last policy expire" bad_migration expire "UPDATE policies SET not_after = now() - interval '1 day' WHERE key_id = 'svn-key';"
check "... or deletes it" bad_migration delete "DELETE FROM policies WHERE key_id = 'svn-key';"
# The admin role applies policy migrations; the history names the login.
kg_psql keygate -c "CREATE ROLE kgadmin LOGIN IN ROLE keygate_admin" >/dev/null
kgadmin_dsn=$(kg_pg_dsn keygate kgadmin)
check "the admin role may not change the schema" bad_migration schema "ALTER TABLE policies ADD COLUMN x int;" "$kgadmin_dsn"
check "the admin role may not touch audit rows" bad_migration audit "DELETE FROM audit;" "$kgadmin_dsn"
out=$(psql -X -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgadmin -d keygate -c "INSERT INTO keygate_migrations (name, sha256) VALUES ('0099_future_fix.sql', 'x')" 2>&1); rc=$?
check "the admin role may not mark a schema migration (below 0100) as applied" test "$rc" -ne 0
cat > "$tmp/mig/0103_admin_policy.sql" <<SQL
UPDATE keys SET state = 'disabled' WHERE key_id = 'svn-key';
UPDATE policies SET state = 'disabled' WHERE key_id = 'svn-key';
INSERT INTO policies (key_id, tee, measurements, min_guest_svn) VALUES ('svn-key', 'snp', $m48, 4);
UPDATE keys SET state = 'active' WHERE key_id = 'svn-key';
SQL
out=$("$kg" migrate --db "$kgadmin_dsn" --dir "$src/db/migrations" --dir "$tmp/mig" 2>&1); rc=$?
check "the admin role applies a policy migration (disable the key, replace its policy, enable it)" test "$rc" -eq 0
check "... recorded in the policy history with the admin's login and the migration" test "$(psql_kg -c "SELECT count(*) FROM policy_history WHERE migration = '0103_admin_policy.sql' AND db_user = 'kgadmin'")" -ge 4
out=$(psql -X -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgadmin -d keygate -c "DELETE FROM policy_history" 2>&1); rc=$?
check "the admin role cannot rewrite the policy history" test "$rc" -ne 0
check "collateral imports are in the policy history, without their bodies" test "$(psql_kg -c "SELECT count(*) FROM policy_history WHERE table_name = 'collateral' AND operation = 'INSERT' AND NOT new_row ? 'body'")" -ge 1
echo "-- edited" >> "$tmp/mig/0100_e2e_policy.sql"
out=$("$kg" migrate --db "$admin_dsn" --dir "$src/db/migrations" --dir "$tmp/mig" 2>&1); rc=$?
check "an applied migration that changed is refused" test "$rc" -ne 0
check "... naming the file" grep -q "0100_e2e_policy.sql changed after it was applied" <<<"$out"

# --- denials are audited up to a rate per address --------------------------
rl_port=$(kg_free_port)
sed -e "s/^listen = .*/listen = 127.0.0.1:$rl_port/" -e "s/^replica = .*/replica = e2e-rl/" "$tmp/keygate.conf" > "$tmp/rl.conf"
rl_mport=$(kg_free_port)
printf 'deny_rate = 1\ndeny_burst = 3\nmetrics_listen = 127.0.0.1:%s\n' "$rl_mport" >> "$tmp/rl.conf"
"$kg" serve --config "$tmp/rl.conf" 2>"$tmp/broker-rl.log" &
rl_pid=$!
if kg_wait_http "https://127.0.0.1:$rl_port/healthz" "$tmp/tls/ca.pem" 100; then
	rl_client() { "$kgc" --url "https://127.0.0.1:$rl_port" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" --retries 0 -q "$@"; }
	rl_deny() {
		local code=$1 out rc; shift
		out=$(rl_client "$@" 2>&1); rc=$?
		[ "$rc" -eq 1 ] && grep -q "\"error\":\"$code\"" <<<"$out" || { echo "# got rc=$rc: $out" | head -5; return 1; }
	}
	rl_rows() { psql_kg -c "SELECT count(*) FROM audit WHERE replica = 'e2e-rl' AND reason = '$1'"; }
	# Six releases over one connection, milliseconds apart: no token comes
	# back in between (1/s), however slow the build.
	out=$(rl_client --sim-measurement "$meas" --key vmpl1-key --key vmpl1-key --key vmpl1-key --key vmpl1-key \
		--key vmpl1-key --key vmpl1-key 2>&1)
	got=$(grep -o '"error":"[a-z_]*"' <<<"$out" | cut -d'"' -f4 | tr '\n' ' ')
	check "denials within the burst keep their reasons, the rest are rate_limited ($got)" \
		test "$got" = "vmpl_not_allowed vmpl_not_allowed vmpl_not_allowed rate_limited rate_limited rate_limited "
	check "... the burst audited with its reason" test "$(rl_rows vmpl_not_allowed)" = 3
	check "... the first over it audited as rate_limited" test "$(rl_rows rate_limited)" = 1
	check "... the later ones without audit rows" test "$(psql_kg -c "SELECT count(*) FROM audit WHERE replica = 'e2e-rl'")" = 4
	m=$(curl -fsS "http://127.0.0.1:$rl_mport/metrics")
	check "... and counted in keygate_denials_unrecorded_total (served on metrics_listen)" test "$(awk '/^keygate_denials_unrecorded_total/ {print $2}' <<<"$m")" = 2
	check "with metrics_listen, the TLS port no longer serves /metrics" test "$(curl -sS --cacert "$tmp/tls/ca.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$rl_port/metrics")" = 404
	check "... the metrics port serves /healthz" test "$(curl -fsS "http://127.0.0.1:$rl_mport/healthz")" = '{"status":"ok"}'
	check "... and nothing else" test "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$rl_mport/metrics")" = 405
	check "a grant from the same address is never limited" rl_client --sim-measurement "$meas" --sim-vmpl 1 --key vmpl1-key
	sleep 1.2
	check "a second later a denial is audited with its reason again" rl_deny vmpl_not_allowed --sim-measurement "$meas" --key vmpl1-key
	check "... and the log says how many went unrecorded" grep -q '"event":"rate_limit_ended".*"unrecorded":"2"' "$tmp/broker-rl.log"
else
	check "the rate-limited broker starts" false
fi
kill "$rl_pid" 2>/dev/null; wait "$rl_pid" 2>/dev/null

echo "1..$n"
[ "$failed" -eq 0 ]
