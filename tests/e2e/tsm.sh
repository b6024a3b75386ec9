#!/usr/bin/env bash
# keygate-client's kernel evidence backends and key outputs, end to end:
# --tee tsm against fake_tsm (a FUSE file system that behaves as
# configfs-tsm, signing with the SEV-SNP and TDX simulators), releases
# through a real broker and PostgreSQL, the outputs (file, stdout raw and
# JWK, kernel keyring), and each failure with its reason.  TAP.
#
#   tests/e2e/tsm.sh     (uses KG_BUILD_ROOT, KG_SOURCE_ROOT, else ./build and .)
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
. "$src/ops/lib.sh"
. "$src/tests/e2e/broker_env.sh"
fake=$bld/tests/fake_tsm

. "$src/tests/e2e/tap.sh"

tmp=$(mktemp -d /tmp/keygate-tsm.XXXXXX)
mounts=()
cleanup() {
	local m
	for m in "${mounts[@]+"${mounts[@]}"}"; do fusermount3 -u "$m" 2>/dev/null; done
	kg_e2e_broker_stop "$tmp"
	if [ "$failed" -ne 0 ] && [ -f "$tmp/broker.log" ]; then
		echo "# broker log (last lines):"; tail -20 "$tmp/broker.log" | sed 's/^/# /'
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

[ -x "$fake" ] || { echo "Bail out! $fake missing (needs libfuse3-dev: ops/deps.sh --test)"; exit 1; }
[ -c /dev/fuse ] || { echo "Bail out! no /dev/fuse: fake_tsm cannot mount"; exit 1; }

meas=$(printf 'keygate tsm image' | sha384sum | cut -c1-96)
other=$(printf 'some other image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
cat > "$tmp/mig/0100_tsm.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('disk', 'model');
INSERT INTO keys (key_id, kind) VALUES ('sess', 'session');
INSERT INTO policies (key_id, tee, measurements) VALUES
  ('disk', 'snp', ARRAY['\\x$meas'::bytea]), ('disk', 'tdx', ARRAY['\\x$meas'::bytea]),
  ('sess', 'snp', ARRAY['\\x$meas'::bytea]);
SQL
kg_e2e_broker_start "$tmp" "$tmp/mig" || { echo "Bail out! cannot start the broker"; exit 1; }
head -c 32 /dev/urandom > "$tmp/disk.material"
"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id disk --file "$tmp/disk.material" >/dev/null \
	|| { echo "Bail out! key import"; exit 1; }

# fake NAME ARGS...: a configfs-tsm look-alike mounted at $tmp/NAME.
fake() {
	local name=$1 i; shift
	mkdir -p "$tmp/$name"
	"$fake" "$tmp/$name" "$@" 2>"$tmp/$name.log" &
	for i in $(seq 1 100); do
		[ "$(stat -f -c %T "$tmp/$name" 2>/dev/null)" = fuseblk ] || [ "$(stat -f -c %T "$tmp/$name" 2>/dev/null)" = fuse ] \
			&& { mounts+=("$tmp/$name"); return 0; }
		sleep 0.05
	done
	echo "Bail out! fake_tsm did not mount $name"; cat "$tmp/$name.log"; exit 1
}
fake snp --sim-dir "$tmp/sim" --provider sev_guest --sim-measurement "$meas"
fake tdx --sim-dir "$tmp/tdxsim" --provider tdx_guest --sim-measurement "$meas"
fake snp-other --sim-dir "$tmp/sim" --provider sev_guest --sim-measurement "$other"
fake noprov --sim-dir "$tmp/sim" --provider none
fake race --sim-dir "$tmp/sim" --provider sev_guest --sim-measurement "$meas" --fault race
fake short --sim-dir "$tmp/sim" --provider sev_guest --sim-measurement "$meas" --fault short
fake tdx-short --sim-dir "$tmp/tdxsim" --provider tdx_guest --sim-measurement "$meas" --fault short
fake stale --sim-dir "$tmp/sim" --provider sev_guest --sim-measurement "$meas" --fault other-inblob

client() { "$bld/client/keygate-client" --url "$url" --ca "$ca" --retries 0 -q "$@"; }
# fails ROOT CODE TEXT ARGS...: the tsm client fails with exit 1, naming CODE and TEXT.
fails() {
	local root=$1 code=$2 text=$3 out rc; shift 3
	out=$(client --tee tsm --tsm-root "$root" --key disk "$@" 2>&1); rc=$?
	[ "$rc" -eq 1 ] && grep -q "($code)" <<<"$out" && grep -q -- "$text" <<<"$out" \
		|| { echo "# rc=$rc: $out" | head -5; return 1; }
}
empty() { [ -z "$(ls -A "$1")" ]; }

# --- configfs-tsm, SEV-SNP and TDX -------------------------------------------
mkdir -p "$tmp/out"
out=$(client --tee tsm --tsm-root "$tmp/snp" --key disk --out-dir "$tmp/out" 2>&1); rc=$?
check "tsm (sev_guest): the model key is released" test "$rc" -eq 0
check "... and equals the imported material" cmp -s "$tmp/out/disk" "$tmp/disk.material"
check "... and the report entry is removed afterwards" empty "$tmp/snp"
rm -f "$tmp/out/disk"
out=$(client --tee tsm --tsm-root "$tmp/tdx" --key disk --out-dir "$tmp/out" 2>&1); rc=$?
check "tsm (tdx_guest): the model key is released against the TDX policy" test "$rc" -eq 0
check "... and equals the imported material" cmp -s "$tmp/out/disk" "$tmp/disk.material"
check "... and the report entry is removed afterwards" empty "$tmp/tdx"
out=$(client --tee tsm --tsm-root "$tmp/snp" --key disk --privlevel 1 2>&1); rc=$?
check "tsm --privlevel 1 reaches the report (VMPL 1 is refused by the default policy)" \
	grep -q '"error":"vmpl_not_allowed"' <<<"$out"
out=$(client --tee tsm --tsm-root "$tmp/snp-other" --key disk 2>&1); rc=$?
check "tsm: an image not in the policy is denied (measurement_not_allowed)" \
	test "$rc" -eq 1 -a -n "$(grep '"error":"measurement_not_allowed"' <<<"$out")"

# --- outputs: stdout (raw, JWK), the kernel keyring ----------------------------
client --tee tsm --tsm-root "$tmp/snp" --key disk --stdout raw >"$tmp/raw" 2>"$tmp/raw.err"; rc=$?
check "--stdout raw writes exactly the key to stdout" test "$rc" -eq 0 -a "$(cmp -s "$tmp/raw" "$tmp/disk.material"; echo $?)" = 0
check "... and the JSON line to stderr" grep -q '"key_id":"disk"' "$tmp/raw.err"
client --tee tsm --tsm-root "$tmp/snp" --key disk --stdout jwk >"$tmp/jwk" 2>/dev/null
check "--stdout jwk writes an oct JWK of the key, with its id and version" python3 - "$tmp/jwk" "$tmp/disk.material" <<'PY'
import base64, json, sys
j = json.load(open(sys.argv[1]))
k = base64.urlsafe_b64decode(j["k"] + "=" * (-len(j["k"]) % 4))
assert j["kty"] == "oct" and j["kid"] == "disk" and j["key_version"] == 1, j.keys()
assert k == open(sys.argv[2], "rb").read()
PY
out=$(client --tee tsm --tsm-root "$tmp/snp" --key disk --key sess --stdout raw 2>&1); rc=$?
check "--stdout with two keys is a usage error (exit 2)" test "$rc" -eq 2
out=$(client --tee tsm --tsm-root "$tmp/snp" --key disk --stdout pem 2>&1); rc=$?
check "--stdout with an unknown format is a usage error (exit 2)" test "$rc" -eq 2
if command -v script >/dev/null; then
	out=$(script -qec "$bld/client/keygate-client --url $url --ca $ca -q --tee tsm --tsm-root $tmp/snp --key disk --stdout raw" /dev/null 2>&1); rc=$?
	check "--stdout refuses to write a key to a terminal (exit 2)" test "$rc" -eq 2 -a -n "$(grep "terminal" <<<"$out")"
fi
# The keyring: a session keyring of this test's own, so nothing outlives it.
if probe=$(keyctl session - sh -c 'keyctl add user keygate-probe x @s' 2>&1); then
	out=$(KGC="$bld/client/keygate-client" URL=$url CA=$ca ROOT=$tmp/snp J=$tmp/keyring.json keyctl session - sh -c \
		'"$KGC" --url "$URL" --ca "$CA" --retries 0 -q --tee tsm --tsm-root "$ROOT" --key disk --keyring session >"$J" &&
		 keyctl pipe %user:keygate:disk' 2>/dev/null | od -An -tx1 -v | tr -d ' \n')
	check "--keyring session adds the key as user key keygate:disk" \
		test -n "$out" -a "$out" = "$(od -An -tx1 -v "$tmp/disk.material" | tr -d ' \n')"
	check "... and reports its serial in the JSON line" grep -q '"keyring_serial":[0-9]' "$tmp/keyring.json"
else
	n=$((n + 1)); echo "ok $n - --keyring session # SKIP the kernel keyring is refused here: $probe"
fi
out=$(client --tee tsm --tsm-root "$tmp/snp" --key disk --keyring bogus 2>&1); rc=$?
check "--keyring with an unknown keyring is a usage error (exit 2)" test "$rc" -eq 2

# --- failures, each with its reason -----------------------------------------------
check "no provider attribute: tsm_provider_unknown" fails "$tmp/noprov" tsm_provider_unknown "provider: missing"
check "... and the entry is removed" empty "$tmp/noprov"
check "generation moved while reading outblob: tsm_generation_changed" \
	fails "$tmp/race" tsm_generation_changed "generation went from 0 to 2"
check "... and the entry is removed" empty "$tmp/race"
check "a short SEV-SNP outblob: evidence_size_invalid" fails "$tmp/short" evidence_size_invalid "outblob of 100 bytes"
check "a short TDX outblob: evidence_size_invalid" fails "$tmp/tdx-short" evidence_size_invalid "outblob of 100 bytes"
check "an outblob for another inblob: evidence_report_data_mismatch" \
	fails "$tmp/stale" evidence_report_data_mismatch "does not carry our REPORT_DATA"
check "no tsm root: tsm_unavailable" fails "$tmp/nonexistent" tsm_unavailable "No such file or directory"
mkdir -p "$tmp/plain"
check "a plain directory, not configfs-tsm: tsm_provider_unknown" fails "$tmp/plain" tsm_provider_unknown "provider: missing"
check "... and the directory made in it is removed" empty "$tmp/plain"
echo sev_guest > "$tmp/notadir"
check "a tsm root that is a file: tsm_unavailable" fails "$tmp/notadir" tsm_unavailable "Not a directory"
out=$(client --tee tsm --tsm-root "$tmp/snp" --key disk --privlevel 4 2>&1); rc=$?
check "--privlevel above 3 is a usage error (exit 2)" test "$rc" -eq 2
out=$(client --tee sev-guest --sev-guest-dev "$tmp/no-sev-guest" --key disk 2>&1); rc=$?
check "--tee sev-guest without the device: sev_guest_failed, exit 1" \
	test "$rc" -eq 1 -a -n "$(grep '(sev_guest_failed)' <<<"$out")" -a -n "$(grep 'No such file' <<<"$out")"
out=$(client --tee sev-guest --sev-guest-dev /dev/null --key disk 2>&1); rc=$?
check "--tee sev-guest on a device that is not sev-guest: sev_guest_failed" \
	test "$rc" -eq 1 -a -n "$(grep 'SNP_GET_EXT_REPORT' <<<"$out")"
out=$(client --tee nitro --key disk 2>&1); rc=$?
check "an unknown --tee is refused (exit 2)" test "$rc" -eq 2
check "the broker audited the grants (5) and the denials (2) of the tsm evidence" \
	test "$(kg_psql keygate -At -c "SELECT count(*) FILTER (WHERE decision = 'grant') || ' ' || count(*) FILTER (WHERE decision = 'deny') FROM audit WHERE key_id = 'disk'")" = "5 2"

echo "1..$n"
[ "$failed" -eq 0 ]
