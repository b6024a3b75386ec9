#!/usr/bin/env bash
# keygate-client's GPU evidence, end to end: simulated GPUs re-issuing real
# recorded NVIDIA reports (attest/gpu_sim), NVML through a stand-in
# libnvidia-ml and NVSwitches through a stand-in libnvidia-nscq, sent as
# "gpus" in releases through a real broker and PostgreSQL.  The binding is
# checked offline on what the client sent (--gpu-evidence-out): each device
# verifies with `keygate evidence verify --tee nvidia-gpu` against the
# simulator's root and the nonce the release expects, the claims' hash is
# kg_gpu_evidence_hash of the body's devices, and each --fault and a replay
# break exactly their binding.  The broker, trusting the simulator's root,
# judges a protected-PCIe policy (gpu_count and nvswitch_count) on GPUs
# from NVML and switches from NSCQ.  TAP.
#
#   tests/e2e/gpu_client.sh   (uses KG_BUILD_ROOT, KG_SOURCE_ROOT, KG_VECTORS)
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
vec=${KG_VECTORS:-$src/../shared/vectors}
. "$src/ops/lib.sh"
. "$src/tests/e2e/broker_env.sh"
fake_nvml=$bld/tests/libfake_nvml.so
fake_nscq=$bld/tests/libfake_nscq.so

. "$src/tests/e2e/tap.sh"

tmp=$(mktemp -d /tmp/keygate-gpu.XXXXXX)
cleanup() {
	kg_e2e_broker_stop "$tmp"
	if [ "$failed" -ne 0 ] && [ -f "$tmp/broker.log" ]; then
		echo "# broker log (last lines):"; tail -20 "$tmp/broker.log" | sed 's/^/# /'
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

r580=$vec/gpu/nvat/hopper-580/report.bin
r535=$vec/gpu/nvat/hopper-535/hopperAttestationReport.txt
meas=$(printf 'keygate gpu image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig" "$tmp/out"
cat > "$tmp/mig/0100_gpu_client.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('model', 'model');
INSERT INTO policies (key_id, tee, measurements) VALUES ('model', 'snp', ARRAY['\\x$meas'::bytea]);
-- An HGX machine in protected-PCIe mode: two GPUs and four NVSwitches.
INSERT INTO keys (key_id, kind) VALUES ('hgx', 'model');
INSERT INTO policies (key_id, tee, measurements, gpu_count, nvswitch_count, gpu_require_cc, gpu_require_rims)
  VALUES ('hgx', 'snp', ARRAY['\\x$meas'::bytea], 2, 4, false, false);
SQL
# The simulated devices' test root is the broker's GPU trust anchor.
out=$("$bld/client/keygate-client" sim-init "$tmp/gpusim" --tee gpu 2>&1); rc=$?
export KG_E2E_EXTRA_CONF="gpu_roots = $tmp/gpusim/gpu-root.pem"
kg_e2e_broker_start "$tmp" "$tmp/mig" || { echo "Bail out! cannot start the broker"; exit 1; }
for k in model hgx; do
	head -c 32 /dev/urandom > "$tmp/$k.material"
	"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id "$k" --file "$tmp/$k.material" >/dev/null \
		|| { echo "Bail out! key import $k"; exit 1; }
done

check "sim-init --tee gpu makes the simulated device PKI" \
	test "$rc" -eq 0 -a -s "$tmp/gpusim/gpu-root.pem" -a -s "$tmp/gpusim/gpu-chain.pem" \
	-a "$(stat -c %a "$tmp/gpusim/gpu-brom-key.pem" 2>/dev/null)" = 600
groot=$tmp/gpusim/gpu-root.pem

client() { "$kgc" --url "$url" --ca "$ca" --tee snp-sim --sim-dir "$tmp/sim" --sim-measurement "$meas" \
	--retries 0 -q --key model "$@"; }
gsim() { client --gpu-sim "$tmp/gpusim" --gpu-recorded "$r580" --gpu-recorded "$r535" "$@"; }
# gpuverify DIR N [NONCE]: the verdict on DIR/gpu-N with DIR's nonce.
gpuverify() { "$kg" evidence verify --tee nvidia-gpu "$1/gpu-$2.report" --certs "$1/gpu-$2.pem" \
	--nonce "${3:-$(cat "$1/nonce.hex")}" --roots "$groot" 2>/dev/null; }
# evhash DIR: kg_gpu_evidence_hash (broker/core.h) of DIR's devices.
evhash() { python3 - "$1" <<'PY'
import hashlib, os, struct, sys
d = sys.argv[1]; h = hashlib.sha256(b"keygate/v1 gpu evidence\0"); i = 0
while os.path.exists(f"{d}/gpu-{i}.report"):
    for f in (f"{d}/gpu-{i}.report", f"{d}/gpu-{i}.pem"):
        b = open(f, "rb").read(); h.update(struct.pack(">I", len(b)) + b)
    i += 1
print(h.hexdigest())
PY
}
# A GPU fault's release: the body is accepted ("gpus" is a known field);
# granted while no policy asks about GPUs, or refused with a GPU reason.
body_ok() { grep -q '"error":"\(bad_request\|unknown_field\|bad_json\)"' <<<"$1" && return 1; \
	[ "$2" -eq 0 ] || grep -q '"error":"gpu_' <<<"$1"; }

out=$(gsim --gpu-evidence-out "$tmp/ev1" --out-dir "$tmp/out" 2>&1); rc=$?
check "two simulated GPUs (recorded Hopper 580 and 535 reports): the release is granted" test "$rc" -eq 0
check "... and the model key is the imported one" cmp -s "$tmp/out/model" "$tmp/model.material"
check "--gpu-evidence-out wrote both devices, the nonce and the claims' hash" \
	test -s "$tmp/ev1/gpu-0.report" -a -s "$tmp/ev1/gpu-1.pem" -a -s "$tmp/ev1/nonce.hex" -a -s "$tmp/ev1/evidence-hash.hex"
v0=$(gpuverify "$tmp/ev1" 0); v1=$(gpuverify "$tmp/ev1" 1)
check "each device verifies against the simulator's root with the release's nonce" \
	grep -q '"fwid_bound":true' <<<"$v0"
check "... the 535 recording too (no FWID in the report, as recorded)" \
	grep -q '"driver_version":"535.86.09".*"fwid_bound":false' <<<"$v1"
check "... and not against NVIDIA's pinned root" \
	test -n "$("$kg" evidence verify --tee nvidia-gpu "$tmp/ev1/gpu-0.report" --certs "$tmp/ev1/gpu-0.pem" 2>&1 | grep gpu_root_untrusted)"
check "the claims carry kg_gpu_evidence_hash of the devices sent" test "$(evhash "$tmp/ev1")" = "$(cat "$tmp/ev1/evidence-hash.hex")"

out=$(gsim --gpu-evidence-out "$tmp/ev2" --fault gpu-nonce 2>&1); rc=$?
check "--fault gpu-nonce: the body is accepted (granted without GPU conditions, else a gpu_ reason)" body_ok "$out" "$rc"
check "... its evidence is gpu_nonce_mismatch for the release's nonce" grep -q '"error":"gpu_nonce_mismatch"' <<<"$(gpuverify "$tmp/ev2" 0)"
check "... while the claims' hash still covers it" test "$(evhash "$tmp/ev2")" = "$(cat "$tmp/ev2/evidence-hash.hex")"

out=$(gsim --gpu-evidence-out "$tmp/ev3" --fault gpu-hash 2>&1); rc=$?
check "--fault gpu-hash: the body is accepted" body_ok "$out" "$rc"
check "... the devices answer the release's nonce" grep -q '"fwid_bound":true' <<<"$(gpuverify "$tmp/ev3" 0)"
check "... but the claims carry another hash than the body's evidence" test "$(evhash "$tmp/ev3")" != "$(cat "$tmp/ev3/evidence-hash.hex")"

out=$(client --gpu-replay "$tmp/ev1" --gpu-evidence-out "$tmp/ev4" 2>&1); rc=$?
check "--gpu-replay: the first release's evidence sent in another release" body_ok "$out" "$rc"
check "... it is the same evidence, hashed into the new claims" \
	test "$(cat "$tmp/ev4/evidence-hash.hex")" = "$(cat "$tmp/ev1/evidence-hash.hex")" -a "$(evhash "$tmp/ev4")" = "$(cat "$tmp/ev4/evidence-hash.hex")"
check "... and answers another release's nonce: gpu_nonce_mismatch" \
	test "$(cat "$tmp/ev4/nonce.hex")" != "$(cat "$tmp/ev1/nonce.hex")" -a -n "$(gpuverify "$tmp/ev4" 0 | grep '"error":"gpu_nonce_mismatch"')"

if ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1 '; then
	skip "--gpu nvml without NVIDIA's driver" "this machine has libnvidia-ml.so.1"
else
	out=$(client --gpu nvml 2>&1); rc=$?
	check "--gpu nvml without NVIDIA's driver: nvml_unavailable, exit 1" \
		test "$rc" -eq 1 -a -n "$(grep '(nvml_unavailable).*cannot load libnvidia-ml.so.1' <<<"$out")"
fi
if [ -f "$fake_nvml" ]; then
	out=$(KG_FAKE_NVML_SIM=$tmp/gpusim KG_FAKE_NVML_REPORTS=$r580 \
		client --gpu nvml --nvml-lib "$fake_nvml" --gpu-evidence-out "$tmp/ev5" 2>&1); rc=$?
	check "--gpu nvml through a stand-in libnvidia-ml: granted" test "$rc" -eq 0
	check "... its device verifies with the release's nonce" grep -q '"fwid_bound":true' <<<"$(gpuverify "$tmp/ev5" 0)"
	out=$(KG_FAKE_NVML_SIM=$tmp/gpusim KG_FAKE_NVML_REPORTS=$r580 KG_FAKE_NVML_FAULT=nonce \
		client --gpu nvml --nvml-lib "$fake_nvml" 2>&1); rc=$?
	check "... a GPU answering another nonce is caught by the client: gpu_nonce_mismatch, exit 1" \
		test "$rc" -eq 1 -a -n "$(grep '(gpu_nonce_mismatch)' <<<"$out")"
else
	skip "--gpu nvml through a stand-in libnvidia-ml" "$fake_nvml not built"
fi

# NVSwitches through NSCQ: the four LS10 switches of nvtrust's PPCIe bundle,
# their real reports re-issued for each release's nonce by the stand-in.
python3 - "$vec/gpu/nvtrust-ppcie/switch_evidence.json" "$tmp/sw" <<'PY' || echo "# cannot decode the switch reports"
import base64, json, sys
for i, e in enumerate(json.load(open(sys.argv[1]))):
    open(f"{sys.argv[2]}-{i}.bin", "wb").write(base64.b64decode(e["evidence"]))
PY
switches=$tmp/sw-0.bin:$tmp/sw-1.bin:$tmp/sw-2.bin:$tmp/sw-3.bin
# hgx ARGS...: a release of the hgx key with two GPUs from the stand-in NVML
# and the switches from the stand-in NSCQ ($KG_FAKE_NSCQ_FAULT as set).
hgx() { KG_FAKE_NVML_SIM=$tmp/gpusim KG_FAKE_NVML_REPORTS=$r580:$r535 \
	KG_FAKE_NSCQ_SIM=$tmp/gpusim KG_FAKE_NSCQ_REPORTS=$switches \
	client --gpu nvml --nvml-lib "$fake_nvml" --key hgx "$@"; }
# denied CODE OUTPUT RC: the hgx key refused with CODE, exit 1.
denied() { [ "$3" -eq 1 ] && grep -q "\"key_id\":\"hgx\",\"error\":\"$1\"" <<<"$2" || { echo "# rc=$3: $2" | head -5; return 1; }; }
if [ -f "$fake_nscq" ] && [ -f "$fake_nvml" ]; then
	out=$(hgx --nvswitch nscq --nscq-lib "$fake_nscq" --gpu-evidence-out "$tmp/ev6" --out-dir "$tmp/out" 2>&1); rc=$?
	check "--gpu nvml --nvswitch nscq (two GPUs, four NVSwitches): a protected-PCIe policy's key is released" \
		test "$rc" -eq 0
	check "... and it is the imported one" cmp -s "$tmp/out/hgx" "$tmp/hgx.material"
	check "... the body lists the GPUs first, then the switches" \
		test "$(for i in 0 1 2 3 4 5; do gpuverify "$tmp/ev6" $i | grep -o '"arch":"[a-z]*"'; done | tr -d '\n')" = \
		'"arch":"hopper""arch":"hopper""arch":"nvswitch""arch":"nvswitch""arch":"nvswitch""arch":"nvswitch"'
	allsw() { local i; for i in 2 3 4 5; do gpuverify "$tmp/ev6" $i | grep -q '"leaf_cn":"LS_10 A01 FSP FMC LF"' || return 1; done; }
	check "... each switch verifies against the simulator's root with the release's nonce" allsw
	check "... and the claims carry the hash of all six" test "$(evhash "$tmp/ev6")" = "$(cat "$tmp/ev6/evidence-hash.hex")"
	row=$(kg_psql keygate -At -c "SELECT gpus::text FROM audit WHERE key_id = 'hgx' AND decision = 'grant'")
	check "... and the audit row counts four NVSwitches" test "$(grep -o '"arch": "nvswitch"' <<<"$row" | wc -l)" -eq 4

	out=$(hgx 2>&1); rc=$?
	check "the GPUs without their NVSwitches: nvswitch_evidence_missing" denied nvswitch_evidence_missing "$out" "$rc"
	out=$(KG_FAKE_NSCQ_FAULT=unlocked hgx --nvswitch nscq --nscq-lib "$fake_nscq" 2>&1); rc=$?
	check "a switch not in locked TNVL mode is left out: nvswitch_evidence_missing" \
		denied nvswitch_evidence_missing "$out" "$rc"
	check "... and the client names it" \
		grep -q 'NVSwitch SWX-[0-9A-F-]* not attested: pcie_mode 1' <<<"$out"
	out=$(hgx --nvswitch nscq --nscq-lib "$fake_nscq" --fault nvswitch-nonce 2>&1); rc=$?
	check "switches answering another nonce than the release's: gpu_nonce_mismatch" \
		denied gpu_nonce_mismatch "$out" "$rc"
	check "... audited with the GPUs verified and the switches refused" grep -q '"arch": "hopper".*"result": "ok".*"result": "gpu_nonce_mismatch"' \
		<<<"$(kg_psql keygate -At -c "SELECT gpus::text FROM audit WHERE key_id = 'hgx' AND reason = 'gpu_nonce_mismatch'")"
	out=$(KG_FAKE_NSCQ_FAULT=nonce hgx --nvswitch nscq --nscq-lib "$fake_nscq" 2>&1); rc=$?
	check "a switch answering another nonce is caught by the client: gpu_nonce_mismatch, exit 1" \
		test "$rc" -eq 1 -a -n "$(grep 'cannot get GPU evidence.*(gpu_nonce_mismatch).*NVSwitch SWX' <<<"$out")"
	out=$(KG_FAKE_NSCQ_FAULT=session hgx --nvswitch nscq --nscq-lib "$fake_nscq" 2>&1); rc=$?
	check "NSCQ without a session: nscq_unavailable naming the call, exit 1" \
		test "$rc" -eq 1 -a -n "$(grep '(nscq_unavailable): nscq_session_create: NSCQ_RC_ERROR_DRV' <<<"$out")"
	out=$(KG_FAKE_NSCQ_FAULT=tnvl-off hgx --nvswitch nscq --nscq-lib "$fake_nscq" 2>&1); rc=$?
	check "no switch in locked TNVL mode: nvswitch_not_locked, exit 1" \
		test "$rc" -eq 1 -a -n "$(grep '(nvswitch_not_locked)' <<<"$out")"
else
	skip "--nvswitch nscq through a stand-in libnvidia-nscq" "$fake_nscq or $fake_nvml not built"
fi
if ldconfig -p 2>/dev/null | grep -q 'libnvidia-nscq\.so\.2 '; then
	skip "--nvswitch nscq without NSCQ" "this machine has libnvidia-nscq.so.2"
else
	out=$(client --nvswitch nscq 2>&1); rc=$?
	check "--nvswitch nscq without NSCQ: nscq_unavailable, exit 1" \
		test "$rc" -eq 1 -a -n "$(grep '(nscq_unavailable).*cannot load libnvidia-nscq.so.2' <<<"$out")"
fi
out=$(client --nvswitch nvml 2>&1); rc=$?
check "--nvswitch with another source than nscq: usage error (exit 2)" test "$rc" -eq 2
out=$(client --nscq-lib /x.so 2>&1); rc=$?
check "--nscq-lib without --nvswitch: usage error (exit 2)" test "$rc" -eq 2
out=$(client --gpu-replay "$tmp/ev1" --nvswitch nscq 2>&1); rc=$?
check "--gpu-replay with --nvswitch: usage error (exit 2)" test "$rc" -eq 2

out=$(client --gpu-sim "$tmp/gpusim" 2>&1); rc=$?
check "--gpu-sim without --gpu-recorded: usage error (exit 2)" test "$rc" -eq 2
out=$(client --fault gpu-nonce 2>&1); rc=$?
check "--fault gpu-nonce without GPU evidence: usage error (exit 2)" test "$rc" -eq 2
out=$(client --gpu nvml --gpu-sim "$tmp/gpusim" --gpu-recorded "$r580" 2>&1); rc=$?
check "two GPU sources: usage error (exit 2)" test "$rc" -eq 2
out=$(client --gpu-sim "$tmp/gpusim" --gpu-recorded /nonexistent.bin 2>&1); rc=$?
check "a missing recording: cannot get GPU evidence, exit 1" test "$rc" -eq 1 -a -n "$(grep 'cannot get GPU evidence' <<<"$out")"

echo "1..$n"
[ "$failed" -eq 0 ]
