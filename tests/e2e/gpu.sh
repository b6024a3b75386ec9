#!/usr/bin/env bash
# NVIDIA GPUs in the release decision, end to end: NVIDIA's RIMs imported as
# collateral, policies that require attested GPUs, keygate policy explain
# with real recorded GPU and NVSwitch evidence, and releases through the
# broker with the simulated GPU (recorded evidence re-signed for this
# release's nonce by a test device PKI).  TAP.
#
#   tests/e2e/gpu.sh        (uses KG_BUILD_ROOT, KG_SOURCE_ROOT, KG_VECTORS)
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
vec=${KG_VECTORS:-$src/../shared/vectors}
. "$src/ops/lib.sh"
. "$src/tests/e2e/broker_env.sh"
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

meas=$(printf 'keygate gpu image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
cat > "$tmp/mig/0100_gpu.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('weights', 'model'), ('weights-rims', 'model'), ('weights-new', 'model'),
  ('weights-switch', 'model'), ('cpu-only', 'model');
-- An attested GPU, RIMs not required (NVIDIA's RIM signers in the vectors have expired).
INSERT INTO policies (key_id, tee, measurements, gpu_count, gpu_require_cc, gpu_require_rims, gpu_min_driver_version)
  VALUES ('weights', 'snp', ARRAY['\\x$meas'::bytea], 1, false, false, '535.86');
INSERT INTO policies (key_id, tee, measurements, gpu_count, gpu_require_cc) VALUES
  ('weights-rims', 'snp', ARRAY['\\x$meas'::bytea], 1, false);
INSERT INTO policies (key_id, tee, measurements, gpu_count, gpu_require_cc, gpu_require_rims, gpu_min_driver_version)
  VALUES ('weights-new', 'snp', ARRAY['\\x$meas'::bytea], 1, false, false, '550.90.07');
INSERT INTO policies (key_id, tee, measurements, gpu_count, nvswitch_count, gpu_require_cc, gpu_require_rims)
  VALUES ('weights-switch', 'snp', ARRAY['\\x$meas'::bytea], 1, 1, false, false);
INSERT INTO policies (key_id, tee, measurements) VALUES ('cpu-only', 'snp', ARRAY['\\x$meas'::bytea]);
INSERT INTO keys (key_id, kind) VALUES ('weights-ocsp', 'model');
INSERT INTO policies (key_id, tee, measurements, gpu_count, gpu_require_cc, gpu_require_rims, gpu_require_ocsp)
  VALUES ('weights-ocsp', 'snp', ARRAY['\\x$meas'::bytea], 1, false, false, true);
SQL
# The simulated GPUs' test device root replaces NVIDIA's; a test RIM root
# replaces NVIDIA's RIM root for the broker, whose RIMs are NVIDIA's real
# ones re-signed (NVIDIA's signers in the vectors have expired since).
"$bld/client/keygate-client" sim-init "$tmp/gpusim" --tee gpu >/dev/null || { echo "Bail out! sim-init --tee gpu"; exit 1; }
rimpki=$tmp/rimpki
mkdir -p "$rimpki"
ossl() { openssl "$@" 2>/dev/null || { echo "Bail out! openssl $1"; exit 1; }; }
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$rimpki/ca.cnf"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$rimpki/leaf.cnf"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -sha384 -nodes -days 30 -subj "/CN=Keygate test RIM root" \
	-keyout "$rimpki/root.key" -out "$rimpki/root.pem" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign"
for who in ca:root:ca.cnf leaf:ca:leaf.cnf; do
	IFS=: read -r name issuer ext <<<"$who"
	ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj "/CN=Keygate test RIM $name" \
		-keyout "$rimpki/$name.key" -out "$rimpki/$name.csr"
	ossl x509 -req -in "$rimpki/$name.csr" -CA "$rimpki/$issuer.pem" -CAkey "$rimpki/$issuer.key" -CAcreateserial \
		-days 30 -sha384 -extfile "$rimpki/$ext" -out "$rimpki/$name.pem"
done
# resign_rim IN OUT: NVIDIA's RIM, its signature and KeyInfo redone by the test PKI.
resign_rim() {
	python3 - "$1" "$2.template" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r'<ds:DigestValue>[^<]*</ds:DigestValue>', '<ds:DigestValue></ds:DigestValue>', s)
s = re.sub(r'<ds:SignatureValue>[^<]*</ds:SignatureValue>', '<ds:SignatureValue></ds:SignatureValue>', s)
s = re.sub(r'<ds:X509Data>.*?</ds:X509Data>', '<ds:X509Data/>', s, flags=re.S)
open(sys.argv[2], 'w').write(s)
PY
	xmlsec1 --sign --privkey-pem "$rimpki/leaf.key,$rimpki/leaf.pem,$rimpki/ca.pem,$rimpki/root.pem" \
		--output "$2" "$2.template" 2>/dev/null
}
export KG_E2E_EXTRA_CONF="gpu_roots = $tmp/gpusim/gpu-root.pem
gpu_rim_roots = $rimpki/root.pem"
kg_e2e_broker_start "$tmp" "$tmp/mig" || { echo "Bail out! cannot start the broker"; exit 1; }
for k in weights weights-rims weights-new weights-switch cpu-only weights-ocsp; do
	head -c 32 /dev/urandom > "$tmp/$k.material"
	"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id "$k" --file "$tmp/$k.material" >/dev/null \
		|| { echo "Bail out! key import $k"; exit 1; }
done
sql() { kg_psql keygate -At -c "$1"; }

# --- policies that cannot be ---------------------------------------------------
bad() { ! kg_psql keygate -c "$1" >/dev/null 2>&1; }
check "a GPU condition without gpu_count is refused by the schema" bad \
	"INSERT INTO policies (key_id, tee, measurements, gpu_min_driver_version) VALUES ('cpu-only', 'snp', ARRAY['\\x$meas'::bytea], '550')"
check "a malformed VBIOS floor is refused" bad \
	"INSERT INTO policies (key_id, tee, measurements, gpu_count, gpu_min_vbios_version) VALUES ('cpu-only', 'snp', ARRAY['\\x$meas'::bytea], 1, '96.00.9F')"
check "more than 16 GPUs is refused" bad \
	"INSERT INTO policies (key_id, tee, measurements, gpu_count) VALUES ('cpu-only', 'snp', ARRAY['\\x$meas'::bytea], 17)"

# --- NVIDIA's RIMs as collateral --------------------------------------------------
prod_rim=$vec/gpu/nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_PROD.swidtag
switch_rim=$vec/gpu/nvat/switch-ls10/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml
out=$("$kg" collateral import --kind nvidia-rim "$prod_rim" --db "$admin_dsn" 2>&1)
check "collateral import stores NVIDIA's VBIOS RIM, named by version" grep -q '"issuer":"vbios:GH100:96.00.5E.00.01"' <<<"$out"
out=$("$kg" collateral import --kind nvidia-rim "$switch_rim" --db "$admin_dsn" 2>&1)
check "... and the NVSwitch BIOS RIM" grep -q '"issuer":"vbios:LS10:96.10.55.00.01"' <<<"$out"
out=$("$kg" collateral import --kind nvidia-rim "$vec/gpu/nvat/hopper-535/hopperCertChain.txt" --db "$admin_dsn" 2>&1); rc=$?
check "collateral import refuses a file that is not a RIM" test "$rc" -eq 1

# --- keygate policy explain with recorded evidence ------------------------------
"$bld/tests/sim-evidence" snp "$tmp/sim" "$meas" "$tmp/ev" || echo "# sim-evidence failed"
explain() { "$kg" policy explain --db "$admin_dsn" --roots "$tmp/sim-roots.pem" --tee snp "$@" "$tmp/ev" 2>&1; }
g535=(--gpu-report "$vec/gpu/nvat/hopper-535/report.bin" --gpu-certs "$vec/gpu/nvat/hopper-535/hopperCertChain.txt")
gsw=(--gpu-report "$vec/gpu/nvat/switch-ls10/switchAttestationReport.txt" --gpu-certs "$vec/gpu/nvat/switch-ls10/switchCertChain.txt")
out=$(explain --key weights "${g535[@]}"); rc=$?
check "explain: a real Hopper report (driver 535.86.09) satisfies an attested-GPU policy" test "$rc" -eq 0
check "... the device is listed with its versions" grep -q '"arch":"hopper".*"driver":"535.86.09".*"result":"ok"' <<<"$out"
check "... and each GPU condition passes" grep -q "pass  gpu_count *1 verified" <<<"$out"
out=$(explain --key weights-new "${g535[@]}"); rc=$?
check "explain: the same GPU under a driver floor of 550.90.07: gpu_driver_too_old" test "$rc" -eq 1
check "... FAIL gpu_min_driver_version with both versions" grep -q "FAIL  gpu_min_driver_version *535.86.9" <<<"$out"
out=$(explain --key weights-rims "${g535[@]}"); rc=$?
check "explain: RIMs required, NVIDIA's VBIOS RIM signer has expired since: gpu_rim_expired" grep -q "decision: deny, gpu_rim_expired" <<<"$out"
out=$(explain --key weights); rc=$?
check "explain: no GPU evidence for a GPU policy: gpu_evidence_missing" grep -q "decision: deny, gpu_evidence_missing" <<<"$out"
out=$(explain --key weights-switch "${g535[@]}" "${gsw[@]}"); rc=$?
check "explain: a GPU and an NVSwitch satisfy a protected-PCIe policy" test "$rc" -eq 0
check "... the switch matched all of its RIM" grep -q '"arch":"nvswitch".*"rims":"ok"' <<<"$out"
out=$(explain --key weights-switch "${g535[@]}"); rc=$?
check "explain: the GPU without its NVSwitch: nvswitch_evidence_missing" grep -q "decision: deny, nvswitch_evidence_missing" <<<"$out"
out=$(explain --key weights --gpu-report "$vec/gpu/nvat/hopper-invalid-signature/hopperAttestationReportInvalidSignature.txt" \
	--gpu-certs "$vec/gpu/nvat/hopper-580/hopperCertChain.txt"); rc=$?
check "explain: a GPU report whose signature is invalid: gpu_signature_invalid" grep -q "decision: deny, gpu_signature_invalid" <<<"$out"
out=$(explain --key cpu-only "${g535[@]}"); rc=$?
check "explain: a policy without GPU conditions ignores GPUs" test "$rc" -eq 0

# --- releases through the broker --------------------------------------------------
client() { "$kgc" --url "$url" --ca "$ca" --tee snp-sim --sim-dir "$tmp/sim" --retries 0 -q --sim-measurement "$meas" "$@"; }
expect_deny() {
	local code=$1 out rc; shift
	out=$(client "$@" 2>&1); rc=$?
	[ "$rc" -eq 1 ] && grep -q "\"error\":\"$code\"" <<<"$out" || { echo "# got rc=$rc: $out" | head -5; return 1; }
}
check "a CVM without GPU evidence is refused a GPU key: gpu_evidence_missing" expect_deny gpu_evidence_missing --key weights
check "... and the denial is audited" test "$(sql "SELECT count(*) FROM audit WHERE key_id = 'weights' AND reason = 'gpu_evidence_missing'")" = 1
mkdir -p "$tmp/out"
check "a key without GPU conditions is still released to it" client --key cpu-only --out-dir "$tmp/out"

# Simulated GPUs: NVIDIA's recorded reports re-issued for this release's nonce.
r535=$vec/gpu/nvat/hopper-535/hopperAttestationReport.txt
r580=$vec/gpu/nvat/hopper-580/report.bin
gclient() { client --gpu-sim "$tmp/gpusim" "$@"; }
out=$(gclient --gpu-recorded "$r535" --key weights --out-dir "$tmp/out" 2>&1); rc=$?
check "a CVM with an attested GPU gets the model key its policy gives only with a GPU" test "$rc" -eq 0
check "... the key is the imported one" cmp -s "$tmp/out/weights" "$tmp/weights.material"
row=$(sql "SELECT gpus::text FROM audit WHERE key_id = 'weights' AND decision = 'grant' ORDER BY audit_id DESC LIMIT 1")
check "... and its audit row lists the GPU with its driver and verdict" grep -q '"arch": "hopper".*"driver": "535.86.09".*"result": "ok"' <<<"$row"
check "two GPUs, one of them with an older driver than the floor: gpu_driver_too_old" \
	expect_deny gpu_driver_too_old --gpu-sim "$tmp/gpusim" --gpu-recorded "$r580" --gpu-recorded "$r535" --key weights-new
check "GPU evidence made for another nonce: gpu_nonce_mismatch" \
	expect_deny gpu_nonce_mismatch --gpu-sim "$tmp/gpusim" --gpu-recorded "$r535" --fault gpu-nonce --key weights
check "claims that bind other GPU evidence: gpu_evidence_unbound" \
	expect_deny gpu_evidence_unbound --gpu-sim "$tmp/gpusim" --gpu-recorded "$r535" --fault gpu-hash --key weights
gclient --gpu-recorded "$r535" --key cpu-only --gpu-evidence-out "$tmp/ev1" >/dev/null 2>&1
out=$(client --gpu-replay "$tmp/ev1" --key weights 2>&1); rc=$?
check "GPU evidence from another release, replayed: gpu_nonce_mismatch" grep -q '"error":"gpu_nonce_mismatch"' <<<"$out"
check "RIMs required, and the VBIOS RIM the broker holds is not signed by its RIM root: gpu_rim_chain_invalid" \
	expect_deny gpu_rim_chain_invalid --gpu-sim "$tmp/gpusim" --gpu-recorded "$r535" --key weights-rims
resign_rim "$prod_rim" "$tmp/prod-resigned.xml"
"$kg" collateral import --kind nvidia-rim "$tmp/prod-resigned.xml" --db "$admin_dsn" >/dev/null
# seen CODE ARGS...: the broker reloads collateral on NOTIFY; give it a moment.
seen() {
	local i code=$1; shift
	for i in $(seq 1 25); do
		expect_deny "$code" --gpu-sim "$tmp/gpusim" "$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
check "the VBIOS RIM alone does not cover a GPU (its driver RIM is missing): gpu_rim_missing" \
	seen gpu_rim_missing --gpu-recorded "$r535" --key weights-rims
# NVIDIA's 535.86.09 driver RIM exists in the vectors only as attestation-sdk
# hand-edited it to mismatch; with the edited values set back to the
# device's it stands for the genuine one.
drv_mm=$vec/gpu/nvat/rims/NV_GPU_DRIVER_GH100_535.86.09_measurement_mismatch.xml
"$kg" evidence verify --tee nvidia-gpu "$vec/gpu/nvat/hopper-535/report.bin" \
	--certs "$vec/gpu/nvat/hopper-535/hopperCertChain.txt" > "$tmp/535.json" 2>/dev/null
python3 - "$drv_mm" "$tmp/535.json" "$tmp/drv-restored.in" <<'PY'
import json, re, sys
xml, claims, out = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), sys.argv[3]
blocks = {m["index"]: m["value"] for m in claims["measurements"]}
def fix(m):
    tag, idx = m.group(0), int(re.search(r' index="(\d+)"', m.group(0)).group(1))
    if 'active="True"' not in tag or idx + 1 not in blocks:
        return tag
    return re.sub(r'(:Hash0=")[0-9a-fA-F]*(")', lambda h: h.group(1) + blocks[idx + 1] + h.group(2), tag)
open(out, "w").write(re.sub(r'<ns0:Resource [^>]*/>', fix, xml))
PY
resign_rim "$tmp/drv-restored.in" "$tmp/drv-restored.xml"
"$kg" collateral import --kind nvidia-rim "$tmp/drv-restored.xml" --db "$admin_dsn" >/dev/null
granted() {
	local i
	for i in $(seq 1 25); do
		gclient --gpu-recorded "$r535" --key weights-rims --out-dir "$tmp/out" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
check "with its driver and VBIOS RIMs, every measurement of the GPU matches: the RIM-requiring key is released" granted
check "... and the audit row says the RIMs matched" grep -q '"rims": "ok"' <<<"$(sql "SELECT gpus::text FROM audit WHERE key_id = 'weights-rims' AND decision = 'grant'")"
resign_rim "$drv_mm" "$tmp/drv-mismatch.xml"
"$kg" collateral import --kind nvidia-rim "$tmp/drv-mismatch.xml" --db "$admin_dsn" >/dev/null
check "NVIDIA's hand-edited driver RIM (newer, same version): gpu_measurement_mismatch" \
	seen gpu_measurement_mismatch --gpu-recorded "$r535" --key weights-rims
check "the same GPU's evidence twice does not count as two GPUs: gpu_evidence_duplicate" \
	expect_deny gpu_evidence_duplicate --gpu-sim "$tmp/gpusim" --gpu-recorded "$r580" --gpu-recorded "$r580" --key weights
check "every GPU denial is audited with its devices" \
	test "$(sql "SELECT count(*) FROM audit WHERE reason LIKE 'gpu_%' AND gpus IS NOT NULL")" -ge 4

# Revocation: OCSP responses about the device chain's CAs, as collateral.
check "a policy that requires OCSP, and no response held: gpu_ocsp_missing" \
	expect_deny gpu_ocsp_missing --gpu-sim "$tmp/gpusim" --gpu-recorded "$r535" --key weights-ocsp
ocsp=$tmp/ocsp
mkdir -p "$ocsp"
awk -v d="$ocsp" '/BEGIN/ {n++} {print > (d "/c" n - 1 ".pem")}' "$tmp/gpusim/gpu-chain.pem"
cp "$tmp/gpusim/gpu-root.pem" "$ocsp/root.pem"
# ocsp_response N STATUS: a response about chain certificate N, signed by its issuer.
ocsp_response() {
	local i=$1 st=$2 iss key serial subj
	case $i in 0) iss=c1 key=gpu-provisioner-key ;; 1) iss=c2 key=gpu-identity-key ;; 2) iss=root key=gpu-root-key ;; esac
	serial=$(openssl x509 -in "$ocsp/c$i.pem" -noout -serial | cut -d= -f2)
	subj=$(openssl x509 -in "$ocsp/c$i.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
	if [ "$st" = good ]; then
		printf 'V\t301231235959Z\t\t%s\tunknown\t%s\n' "$serial" "$subj" > "$ocsp/index"
	else
		printf 'R\t301231235959Z\t%s\t%s\tunknown\t%s\n' "$(date -u +%y%m%d%H%M%SZ)" "$serial" "$subj" > "$ocsp/index"
	fi
	openssl ocsp -issuer "$ocsp/$iss.pem" -cert "$ocsp/c$i.pem" -reqout "$ocsp/req.der" -no_nonce 2>/dev/null &&
		openssl ocsp -index "$ocsp/index" -rsigner "$ocsp/$iss.pem" -rkey "$tmp/gpusim/$key.pem" -CA "$ocsp/$iss.pem" \
			-reqin "$ocsp/req.der" -respout "$ocsp/resp$i-$st.der" -ndays 1 >/dev/null 2>&1
}
for i in 0 1 2; do ocsp_response $i good; done
out=$("$kg" collateral import --kind nvidia-ocsp "$ocsp/resp0-good.der" --db "$admin_dsn" 2>&1)
check "collateral import stores an OCSP response, named by the certificate's serial" grep -q '"kind":"nvidia_ocsp","issuer":"ocsp:' <<<"$out"
"$kg" collateral import --kind nvidia-ocsp "$ocsp/resp1-good.der" --db "$admin_dsn" >/dev/null
out=$("$kg" collateral import --kind nvidia-ocsp "$r535" --db "$admin_dsn" 2>&1); rc=$?
check "collateral import refuses a file that is not an OCSP response" test "$rc" -eq 1
check "two of the three CAs checked: still gpu_ocsp_missing" \
	seen gpu_ocsp_missing --gpu-recorded "$r535" --key weights-ocsp
"$kg" collateral import --kind nvidia-ocsp "$ocsp/resp2-good.der" --db "$admin_dsn" >/dev/null
ocsp_granted() {
	local i
	for i in $(seq 1 25); do
		gclient --gpu-recorded "$r535" --key weights-ocsp --out-dir "$tmp/out" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
check "every CA of the GPU's chain with a good OCSP response: the key is released" ocsp_granted
check "... and the audit row counts the good responses" grep -q '"ocsp_good": 3' <<<"$(sql "SELECT gpus::text FROM audit WHERE key_id = 'weights-ocsp' AND decision = 'grant'")"
ocsp_response 1 revoked
"$kg" collateral import --kind nvidia-ocsp "$ocsp/resp1-revoked.der" --db "$admin_dsn" >/dev/null
check "an intermediate revoked since: gpu_cert_revoked, for any key that asks for GPUs" \
	seen gpu_cert_revoked --gpu-recorded "$r535" --key weights

echo "1..$n"
[ "$failed" -eq 0 ]
