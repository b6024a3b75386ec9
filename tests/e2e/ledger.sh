#!/usr/bin/env bash
# keygate-ledger end to end: run a ledger, publish releases and a
# revocation, cosign as two witnesses, ship bundles and verify them the way
# the broker will (every ledger_* reason the verifier can give), and check
# the static tlog-tiles files with an independent RFC 6962 computation in
# Python.  Prints TAP.
set -uo pipefail
src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
kl=$bld/ledger/keygate-ledger
. "$src/tests/e2e/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
m() { printf '%094x%02x' "$1" "$1"; }   # a 48-byte SEV-SNP measurement, hex
T0=1750000000

# verify_is NAME CODE|ok BUNDLE ARGS...: exit status and reason code.
verify_is() {
	local name=$1 want=$2 bundle=$3 out rc; shift 3
	out=$("$kl" verify "$bundle" --vkey "$vkey" "$@" 2>/dev/null); rc=$?
	if [ "$want" = ok ]; then
		check "$name: verifies (exit 0)" test "$rc" -eq 0 -a -z "$(grep '"error"' <<<"$out")"
	else
		check "$name: exit 1 with $want" test "$rc" -eq 1 -a -n "$(grep "\"error\":\"$want\"" <<<"$out")"
	fi
}

vkey=$("$kl" init "$log" --origin example.com/keygate-e2e); check "init exits 0" test $? -eq 0
check "init prints an Ed25519 vkey named after the origin" grep -qE '^example\.com/keygate-e2e\+[0-9a-f]{8}\+A' <<<"$vkey"
check "private key is mode 0600" test "$(stat -c %a "$log/ledger.key")" = 600
check "private key is outside the served root" test ! -e "$log/public/ledger.key"
"$kl" init "$log" --origin example.com/keygate-e2e >/dev/null 2>&1; check "init refuses an existing ledger (exit 1)" test $? -eq 1
w1=$("$kl" witness-init "$tmp/w1.key" --name w1.example) && w2=$("$kl" witness-init "$tmp/w2.key" --name w2.example)
check "witness-init prints cosignature (0x04) vkeys" grep -qE '^w1\.example\+[0-9a-f]{8}\+B' <<<"$w1"
wit=(--witness "$w1" --witness "$w2")

for i in $(seq 1 9); do "$kl" add "$log" --measurement "$(m "$i")" --name "img-$i" --version "1.$i" 2>/dev/null >/dev/null; done
idx=$("$kl" add "$log" --measurement "$(m 10)" --name web --version 2.0 --provenance https://ci.example.com/r/10 2>/dev/null)
check "add prints the future index" test "$idx" = 9
check "checkpoint signs over all entries" test "$("$kl" checkpoint "$log")" = 10
check "checkpoint file is served" test -s "$log/public/checkpoint"
check "level-0 partial tile tile/0/000.p/10" test "$(stat -c %s "$log/public/tile/0/000.p/10")" = 320
check "entry bundle tile/entries/000.p/10" test -s "$log/public/tile/entries/000.p/10"
"$kl" cosign "$log" --witness-key "$tmp/w1.key" --time $T0 && "$kl" cosign "$log" --witness-key "$tmp/w2.key" --time $((T0 + 5))
check "two cosignatures on the checkpoint" test "$(grep -c '^— w[12]\.example ' "$log/public/checkpoint")" = 2

"$kl" bundle "$log" --measurement "$(m 10)" >"$tmp/b10"; check "bundle exits 0" test $? -eq 0
check "bundle is a c2sp.org/tlog-proof@v1" test "$(head -1 "$tmp/b10")" = c2sp.org/tlog-proof@v1
verify_is "release bundle, 2 of 2 witnesses, fresh" ok "$tmp/b10" "${wit[@]}" --max-age 600 --at $((T0 + 60)) --measurement "$(m 10)"
out=$("$kl" verify "$tmp/b10" --vkey "$vkey" "${wit[@]}" --at $((T0 + 60)))
check "verdict names the entry" grep -q '"name":"web","version":"2.0","provenance":"https://ci.example.com/r/10"' <<<"$out"
check "verdict has index and size" grep -q '"index":9,"size":10' <<<"$out"
verify_is "attested measurement differs" ledger_not_in_ledger "$tmp/b10" "${wit[@]}" --at $((T0 + 60)) --measurement "$(m 9)"
verify_is "checkpoint older than --max-age" ledger_stale_checkpoint "$tmp/b10" "${wit[@]}" --max-age 600 --at $((T0 + 700))
w3=$("$kl" witness-init "$tmp/w3.key" --name w3.example)
verify_is "3 of 3 witnesses required, 2 cosigned" ledger_too_few_witnesses "$tmp/b10" "${wit[@]}" --witness "$w3" --at $((T0 + 60))
verify_is "2 of 3 witnesses" ok "$tmp/b10" "${wit[@]}" --witness "$w3" --threshold 2 --at $((T0 + 60))
other=$("$kl" init "$tmp/other" --origin example.com/keygate-e2e)
"$kl" verify "$tmp/b10" --vkey "$other" >"$tmp/out" 2>/dev/null
check "another key of the same name: ledger_unknown_key" grep -q '"error":"ledger_unknown_key"' "$tmp/out"
verify_is "another origin" ledger_unknown_origin "$tmp/b10" --origin example.com/elsewhere
sed 's/^index 9$/index 8/' "$tmp/b10" >"$tmp/b10-idx"
verify_is "index changed" ledger_proof_invalid "$tmp/b10-idx"
"$kl" bundle "$log" --measurement "$(m 3)" >"$tmp/b3"
python3 - "$tmp/b10" "$tmp/b3" "$tmp/b-swap" <<'EOF'
import sys
a = open(sys.argv[1]).read().split('\n'); b = open(sys.argv[2]).read().split('\n')
a[1] = b[1]  # entry 2's extra line with entry 9's proof
open(sys.argv[3], 'w').write('\n'.join(a))
EOF
verify_is "proof for another leaf" ledger_proof_invalid "$tmp/b-swap"
python3 - "$tmp/b10" "$tmp/b-badsig" <<'EOF'
import sys
t = open(sys.argv[1]).read(); i = t.index('— example.com/keygate-e2e ') + 40
c = 'B' if t[i] == 'A' else 'A'
open(sys.argv[2], 'w').write(t[:i] + c + t[i + 1:])
EOF
verify_is "log signature altered" ledger_bad_signature "$tmp/b-badsig"
head -c 200 "$tmp/b10" >"$tmp/b-trunc"
verify_is "truncated bundle" ledger_bundle_malformed "$tmp/b-trunc"

# The log grows; a broker that saw size 10 needs a consistency proof.
seen_root=$(sed -n 3p "$log/public/checkpoint")
"$kl" add "$log" --measurement "$(m 11)" --name img-11 --version 1.11 >/dev/null 2>&1
"$kl" revoke "$log" --measurement "$(m 3)" --reason "debug shell" >/dev/null 2>&1
check "checkpoint after revoke" test "$("$kl" checkpoint "$log")" = 12
"$kl" cosign "$log" --witness-key "$tmp/w1.key" --time $((T0 + 100)) && "$kl" cosign "$log" --witness-key "$tmp/w2.key" --time $((T0 + 100))
"$kl" bundle "$log" --measurement "$(m 11)" >"$tmp/b11"
verify_is "newer checkpoint without a proof" ledger_consistency_missing "$tmp/b11" --seen-size 10 --seen-root "$seen_root"
"$kl" consistency "$log" --from 10 >"$tmp/c10"; check "consistency exits 0" test $? -eq 0
check "consistency proof text starts 'old 10'" test "$(head -1 "$tmp/c10")" = "old 10"
verify_is "newer checkpoint with its proof" ok "$tmp/b11" --seen-size 10 --seen-root "$seen_root" --consistency "$tmp/c10"
out=$("$kl" verify "$tmp/b11" --vkey "$vkey" --seen-size 10 --seen-root "$seen_root" --consistency "$tmp/c10")
check "verdict asks to update the seen checkpoint" grep -q '"update_seen":true' <<<"$out"
bad_root=$(python3 -c 'import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[0]^=1; print(base64.b64encode(bytes(b)).decode())' "$seen_root")
verify_is "fork: same size, other root" ledger_inconsistent "$tmp/b10" --seen-size 10 --seen-root "$bad_root"
verify_is "fork: proof from another root" ledger_inconsistent "$tmp/b11" --seen-size 10 --seen-root "$bad_root" --consistency "$tmp/c10"
new_root=$(sed -n 3p "$log/public/checkpoint")
verify_is "rollback to size 10 after 12 was seen" ledger_rollback "$tmp/b10" --seen-size 12 --seen-root "$new_root"
verify_is "older view proven a prefix of what was seen" ok "$tmp/b10" --seen-size 12 --seen-root "$new_root" --consistency "$tmp/c10"

"$kl" bundle "$log" --measurement "$(m 3)" >"$tmp/b3r" 2>"$tmp/err"
check "bundle warns about a later revocation" grep -q revokes "$tmp/err"
"$kl" proof "$log" --index 11 >"$tmp/brev"
verify_is "the revoke entry's own bundle" ledger_revoked "$tmp/brev"
check "revoked lists the revoked measurement" test "$("$kl" revoked "$log")" = "snp $(m 3)"

# The served files, checked without Keygate's code.
check "tiles and entry bundles hash to the signed root (Python RFC 6962)" python3 - "$log/public" <<'EOF'
import base64, hashlib, os, struct, sys
root = sys.argv[1]
H = lambda b: hashlib.sha256(b).digest()
lines = open(os.path.join(root, 'checkpoint')).read().split('\n')
size, want = int(lines[1]), base64.b64decode(lines[2])
d = open(os.path.join(root, 'tile/entries/000.p/%d' % size), 'rb').read()
ents, i = [], 0
while i < len(d):
    n = struct.unpack('>H', d[i:i + 2])[0]; ents.append(d[i + 2:i + 2 + n]); i += 2 + n
leaves = [H(b'\0' + e) for e in ents]
def mth(l):
    if len(l) == 1: return l[0]
    k = 1
    while k * 2 < len(l): k *= 2
    return H(b'\1' + mth(l[:k]) + mth(l[k:]))
tile = open(os.path.join(root, 'tile/0/000.p/%d' % size), 'rb').read()
sys.exit(0 if len(ents) == size and mth(leaves) == want and tile == b''.join(leaves) else 1)
EOF

# Usage.
"$kl" >/dev/null 2>&1; check "no command: exit 2" test $? -eq 2
"$kl" nonsense >/dev/null 2>&1; check "unknown command: exit 2" test $? -eq 2
"$kl" add "$log" --measurement 00 --name a --version 1 >/dev/null 2>&1; check "short measurement: exit 2" test $? -eq 2
"$kl" checkpoint "$log" --origin x >/dev/null 2>&1; check "option the command does not take: exit 2" test $? -eq 2
"$kl" --help >/dev/null 2>&1; check "keygate-ledger --help exits 0" test $? -eq 0
for c in init add revoke checkpoint witness-init cosign bundle proof consistency revoked verify; do
	"$kl" $c --help >/dev/null 2>&1; check "keygate-ledger $c --help exits 0" test $? -eq 0
done

echo "1..$n"
[ "$failed" -eq 0 ]
