#!/usr/bin/env bash
# The command-line interfaces, offline: `keygate evidence verify` on real
# AMD SEV-SNP reports (values from ../shared/vectors/EXPECTED.md §1), exit
# codes and --help.  Prints TAP.
set -uo pipefail
src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
vec=${KG_VECTORS:-$src/../shared/vectors}
kg=$bld/broker/keygate kgc=$bld/client/keygate-client
. "$src/tests/e2e/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify_ok NAME REPORT CERTS AT MEASUREMENT CHIP_PREFIX
verify_ok() {
	local out rc
	out=$("$kg" evidence verify --tee snp "$2" --certs "$3" --at "$4" 2>"$tmp/err"); rc=$?
	check "$1: verifies (exit 0)" test "$rc" -eq 0
	check "$1: measurement as EXPECTED.md says" test "$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["measurement"])' <<<"$out" 2>/dev/null)" = "$5"
	check "$1: chip id as EXPECTED.md says" grep -q "\"chip_id\": \"$6" <<<"$out"
}
verify_ok "gsg-milan (v2)" "$vec/snp/gsg-milan/attestation.bin" "$vec/snp/gsg-milan" 2024-06-01T00:00:00Z \
	b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01 3ac3fe21e13fb099
mkdir -p "$tmp/virtee" && cp "$vec/snp/virtee-milan/vcek_milan.der" "$tmp/virtee/vcek.der"
verify_ok "virtee-milan (v2)" "$vec/snp/virtee-milan/report_milan.bin" "$tmp/virtee" 2024-06-01T00:00:00Z \
	7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f d49554ec717f4e5b
mkdir -p "$tmp/trustee" && cp "$vec/snp/trustee-milan/test-vcek.der" "$tmp/trustee/vcek.der"
verify_ok "trustee-milan (REPORTED_TCB != CURRENT_TCB)" "$vec/snp/trustee-milan/test-report.bin" "$tmp/trustee" 2024-06-01T00:00:00Z \
	a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c c38427a30d4c7af9
verify_ok "trustee-genoa (v3)" "$vec/snp/trustee-genoa-e2e/report.bin" "$vec/snp/trustee-genoa-e2e" 2025-07-01T00:00:00Z \
	6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e 371c55d6d15cb50f
mkdir -p "$tmp/vlek" && cp "$vec/snp/trustee-milan-vlek-aws/test-vlek.der" "$tmp/vlek/vlek.der"
verify_ok "aws VLEK (v3, VMPL 1)" "$vec/snp/trustee-milan-vlek-aws/test-vlek-report.bin" "$tmp/vlek" 2025-06-01T00:00:00Z \
	8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0 0000000000000000

# verify_fails NAME CODE ARGS...
verify_fails() {
	local name=$1 code=$2 out rc; shift 2
	out=$("$kg" evidence verify --tee snp "$@" 2>/dev/null); rc=$?
	check "$name: exit 1 with $code" test "$rc" -eq 1 -a -n "$(grep "\"error\":\"$code\"" <<<"$out")"
}
verify_fails "VLEK after its expiry (now)" snp_chain_expired "$vec/snp/trustee-milan-vlek-aws/test-vlek-report.bin" --certs "$tmp/vlek"
verify_fails "GSG VCEK before its validity" snp_chain_expired "$vec/snp/gsg-milan/attestation.bin" --certs "$vec/snp/gsg-milan" --at 2021-01-01T00:00:00Z
cp "$vec/snp/virtee-milan/report_milan.bin" "$tmp/flipped.bin"
printf '\x95' | dd of="$tmp/flipped.bin" bs=1 seek=21 conv=notrunc status=none   # byte 21 ^ 0x80 (0x15 -> 0x95)
verify_fails "report with a flipped bit" snp_signature_invalid "$tmp/flipped.bin" --certs "$tmp/virtee" --at 2024-06-01T00:00:00Z
verify_fails "report without its VCEK" snp_vcek_missing "$vec/snp/virtee-milan/report_milan.bin" --at 2024-06-01T00:00:00Z
head -c 1000 "$vec/snp/virtee-milan/report_milan.bin" > "$tmp/short.bin"
verify_fails "truncated report" snp_report_size "$tmp/short.bin" --certs "$tmp/virtee"
"$kgc" sim-init "$tmp/sim" 2>/dev/null
verify_fails "a real report under a test root only" snp_root_untrusted "$vec/snp/gsg-milan/attestation.bin" --certs "$vec/snp/gsg-milan" --roots "$tmp/sim/ark.pem" --at 2024-06-01T00:00:00Z

# Intel TDX: a real quote with Intel's 2023 collateral (EXPECTED.md §2.4).
tdx=$vec/tdx
out=$("$kg" evidence verify --tee tdx "$tdx/trustee-v4/quote.dat" --collateral "$tdx/gtg-v4-spr" --collateral "$tdx/intel-roots" \
	--at 2023-07-01T00:00:00Z 2>/dev/null); rc=$?
check "tdx trustee-v4: verifies with its collateral (exit 0)" test "$rc" -eq 0
check "tdx trustee-v4: MRTD as EXPECTED.md says" grep -q '"measurement": "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031"' <<<"$out"
check "tdx trustee-v4: TCB status UpToDate" grep -q '"tcb_status": "UpToDate"' <<<"$out"
check "tdx trustee-v4: the debug bit is reported" grep -q '"debug": true' <<<"$out"
out=$("$kg" evidence verify --tee tdx "$tdx/trustee-v4/quote.dat" --at 2023-07-01T00:00:00Z 2>/dev/null); rc=$?
check "tdx without collateral: exit 1 with tdx_collateral_missing" test "$rc" -eq 1 -a -n "$(grep '"error":"tdx_collateral_missing"' <<<"$out")"
out=$("$kg" evidence verify --tee tdx "$tdx/trustee-v4/quote.dat" --collateral "$tdx/gtg-v4-spr" --collateral "$tdx/intel-roots" \
	--at 2023-07-10T00:00:00Z 2>/dev/null); rc=$?
check "tdx with expired collateral: exit 1 with tdx_collateral_expired" test "$rc" -eq 1 -a -n "$(grep '"error":"tdx_collateral_expired"' <<<"$out")"

"$kgc" sim-crl "$tmp/sim" "$tmp/sim-crl.der" 2>/dev/null
verify_fails "a real report with a CRL that is not its ARK's" snp_crl_invalid "$vec/snp/gsg-milan/attestation.bin" --certs "$vec/snp/gsg-milan" --crl "$tmp/sim-crl.der" --at 2024-06-01T00:00:00Z

# NVIDIA GPU / NVSwitch (EXPECTED.md §7): signature, chain, FWID, nonce, RIMs.
gpu=$vec/gpu
n931=931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb
out=$("$kg" evidence verify --tee nvidia-gpu "$gpu/nvat/switch-ls10/switchAttestationReport.txt" \
	--certs "$gpu/nvat/switch-ls10/switchCertChain.txt" --nonce $n931 --rims "$gpu/nvat/switch-ls10" \
	--at 2026-11-29T00:00:00Z 2>/dev/null); rc=$?
check "gpu switch: verifies and matches its RIM (exit 0)" test "$rc" -eq 0
check "gpu switch: all 31 RIM measurements match" grep -q '"match":31,"mismatch":0,"missing":0,"result":"ok"' <<<"$out"
check "gpu switch: arch and BIOS version" grep -q '"arch":"nvswitch".*"vbios_version":"96.10.55.00.01"' <<<"$out"
out=$("$kg" evidence verify --tee nvidia-gpu "$gpu/nvat/hopper-535/report.bin" --certs "$gpu/nvat/hopper-535/hopperCertChain.txt" \
	--nonce 27a328247bf7935c993341cf587be6f05986ccce4fe7ba2c54100bd616a58f66 --rims "$gpu/nvtrust-lgv-sample/rims" \
	--at 2024-12-01T00:00:00Z 2>/dev/null); rc=$?
check "gpu hopper-535: VBIOS RIM picked by version, 12 match (exit 0)" test "$rc" -eq 0 -a -n "$(grep '"match":12,"mismatch":0' <<<"$out")"
out=$("$kg" evidence verify --tee nvidia-gpu "$gpu/nvat/blackwell/blackwellAttestationReport.txt" \
	--certs "$gpu/nvat/blackwell/blackwellCertChain.txt" --nonce $n931 2>/dev/null); rc=$?
check "gpu blackwell: verifies, FWID bound via fwids[0]" test "$rc" -eq 0 -a -n "$(grep '"fwid":"d090cab1.*"fwid_bound":true' <<<"$out")"
out=$("$kg" evidence verify --tee nvidia-gpu "$gpu/trustee-hopper/report.bin" --certs "$gpu/trustee-hopper/hopper_coco_certs1.txt" \
	--nonce 87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fec 2>/dev/null); rc=$?
check "gpu trustee coco: verifies with its trailing zero byte reported" test "$rc" -eq 0 -a -n "$(grep '"padding_bytes":1' <<<"$out")"
gpu_fails() { # NAME CODE ARGS...
	local name=$1 code=$2 out rc; shift 2
	out=$("$kg" evidence verify --tee nvidia-gpu "$@" 2>/dev/null); rc=$?
	check "gpu $name: exit 1 with $code" test "$rc" -eq 1 -a -n "$(grep "\"error\":\"$code\"" <<<"$out")"
}
gpu_fails "hopper-535 with nonce 00..00" gpu_nonce_mismatch "$gpu/nvat/hopper-535/report.bin" \
	--certs "$gpu/nvat/hopper-535/hopperCertChain.txt" --nonce 0000000000000000000000000000000000000000000000000000000000000000
gpu_fails "invalid signature" gpu_signature_invalid "$gpu/nvat/hopper-invalid-signature/hopperAttestationReportInvalidSignature.txt" \
	--certs "$gpu/nvat/hopper-570-expired-rim/hopperCertChainExpired.txt"
gpu_fails "switch invalid signature" gpu_signature_invalid "$gpu/nvat/switch-ls10/switchAttestationReportInvalidSignature.txt" \
	--certs "$gpu/nvat/switch-ls10/switchCertChain.txt"
gpu_fails "chain of the root only" gpu_chain_incomplete "$gpu/nvtrust-lgv-sample/report.bin" --certs "$gpu/trustee-hopper/hopper_cert_chain_case2.txt"
gpu_fails "chain missing an intermediate" gpu_chain_issuer_missing "$gpu/nvtrust-lgv-sample/report.bin" --certs "$gpu/trustee-hopper/hopper_cert_chain_case3.txt"
gpu_fails "chain without the FWID leaf" gpu_cert_fwid_missing "$gpu/nvtrust-lgv-sample/report.bin" --certs "$gpu/trustee-hopper/hopper_cert_chain_case4.txt"
gpu_fails "VBIOS RIM whose signer expired" gpu_rim_expired "$gpu/nvat/hopper-535/report.bin" \
	--certs "$gpu/nvat/hopper-535/hopperCertChain.txt" --rims "$gpu/nvtrust-lgv-sample/rims" --at 2026-11-29T00:00:00Z
out=$("$kg" evidence verify --tee nvidia-gpu "$gpu/nvtrust-lgv-sample/report.bin" --certs "$gpu/nvtrust-lgv-sample/hopperCertChain.txt" \
	--rims "$gpu/nvat/rims" 2>/dev/null); rc=$?
check "gpu sample report with no RIM of its versions: claims, exit 1" test "$rc" -eq 1 -a -n "$(grep '"rims":null' <<<"$out")"
out=$("$kg" evidence verify --tee nvidia-gpu "$gpu/nvtrust-lgv-sample/report.bin" --certs "$gpu/nvtrust-lgv-sample/hopperCertChain.txt" \
	--nonce $n931 --rims "$gpu/nvtrust-lgv-sample/rims/Driver_RIM_test_no_gpu.swidtag" \
	--rims "$gpu/nvtrust-lgv-sample/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag" --at 2024-12-01T00:00:00Z 2>/dev/null); rc=$?
check "gpu sample report with its test_no_gpu RIMs: 20 mismatches, exit 1" \
	test "$rc" -eq 1 -a -n "$(grep '"match":12,"mismatch":20,"missing":0,"result":"gpu_rim_version_mismatch"' <<<"$out")"
gpu_fails "--require-ocsp without responses" gpu_ocsp_missing "$gpu/nvat/hopper-535/report.bin" \
	--certs "$gpu/nvat/hopper-535/hopperCertChain.txt" --require-ocsp
gpu_fails "--ocsp FILE that is not OCSP" gpu_ocsp_invalid "$gpu/nvat/hopper-535/report.bin" \
	--certs "$gpu/nvat/hopper-535/hopperCertChain.txt" --ocsp "$gpu/nvat/hopper-535/report.bin"
"$kg" evidence verify --tee nvidia-gpu "$gpu/nvat/hopper-535/report.bin" >/dev/null 2>&1; check "gpu without --certs is a usage error (exit 2)" test $? -eq 2
"$kg" evidence verify --tee nvidia-gpu --help >/dev/null 2>&1; check "gpu --help exits 0" test $? -eq 0

"$kg" evidence verify --tee tpm x >/dev/null 2>&1; check "unknown --tee is a usage error (exit 2)" test $? -eq 2
"$kg" evidence verify --tee snp >/dev/null 2>&1; check "missing FILE is a usage error (exit 2)" test $? -eq 2
"$kg" nonsense >/dev/null 2>&1; check "unknown command: exit 2" test $? -eq 2
for c in "" serve migrate "evidence" key collateral ledger audit; do
	"$kg" $c --help >/dev/null 2>&1; check "keygate $c --help exits 0" test $? -eq 0
done
"$kgc" --help >/dev/null 2>&1; check "keygate-client --help exits 0" test $? -eq 0
"$kgc" --url https://127.0.0.1:1 --ca /dev/null --tee tdx --key k >/dev/null 2>&1; check "keygate-client: unknown TEE is a usage error (exit 2)" test $? -eq 2
"$kgc" --url https://127.0.0.1:1 --ca /dev/null --tee snp-sim --sim-dir "$tmp/sim" --key k --retries 0 >/dev/null 2>&1
check "keygate-client: unreachable broker fails (exit 1)" test $? -eq 1

echo "1..$n"
[ "$failed" -eq 0 ]
