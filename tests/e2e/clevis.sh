#!/usr/bin/env bash
# The Clevis pin "keygate" end to end, with real Clevis, jose and
# cryptsetup: a LUKS2 image in a regular file (no loop device) is bound
# while a simulated SEV-SNP CVM attests to a real broker; `clevis luks pass`
# yields a passphrase cryptsetup accepts; once the CVM's measurement leaves
# the policy, the same command fails.  Plus the pin's own refusals, key
# rotation, and no key on any command line.  TAP.
#
#   tests/e2e/clevis.sh     (uses KG_BUILD_ROOT, KG_SOURCE_ROOT, else ./build and .)
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
. "$src/ops/lib.sh"
. "$src/tests/e2e/broker_env.sh"

. "$src/tests/e2e/tap.sh"

for t in clevis jose cryptsetup; do
	command -v "$t" >/dev/null || { echo "Bail out! $t missing (ops/deps.sh --test installs clevis, clevis-luks, jose, cryptsetup-bin)"; exit 1; }
done

tmp=$(mktemp -d /tmp/keygate-clevis.XXXXXX)
cleanup() {
	fusermount3 -u "$tmp/tsm" 2>/dev/null
	kg_e2e_broker_stop "$tmp"
	if [ "$failed" -ne 0 ] && [ -f "$tmp/broker.log" ]; then
		echo "# broker log (last lines):"; tail -20 "$tmp/broker.log" | sed 's/^/# /'
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

meas=$(printf 'keygate clevis image' | sha384sum | cut -c1-96)
other=$(printf 'some other image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
cat > "$tmp/mig/0100_clevis.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('disk', 'model'), ('short', 'model'), ('sess', 'session');
INSERT INTO policies (key_id, tee, measurements) VALUES
  ('disk', 'snp', ARRAY['\\x$meas'::bytea]), ('short', 'snp', ARRAY['\\x$meas'::bytea]),
  ('sess', 'snp', ARRAY['\\x$meas'::bytea]);
SQL
kg_e2e_broker_start "$tmp" "$tmp/mig" || { echo "Bail out! cannot start the broker"; exit 1; }
head -c 32 /dev/urandom > "$tmp/disk.material"
head -c 16 /dev/urandom > "$tmp/short.material"
for k in disk short; do
	"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id "$k" --file "$tmp/$k.material" >/dev/null \
		|| { echo "Bail out! key import $k"; exit 1; }
done
psql_kg() { kg_psql keygate -At "$@"; }

# Clevis finds pins on PATH; the pin finds keygate-client there.
export PATH="$src/client/clevis:$bld/client:$PATH"
cfg() { # cfg KEY [MEASUREMENT]: a pin configuration for the simulated CVM
	printf '{"url":"%s","key":"%s","ca":"%s","tee":"snp-sim","sim_dir":"%s","sim_measurement":"%s"}' \
		"$url" "$1" "$ca" "$tmp/sim" "${2:-$meas}"
}
b64url() { python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(open(sys.argv[1],"rb").read()).decode().rstrip("="))' "$1"; }
hexof() { od -An -tx1 -v "$1" | tr -d ' \n'; }
kb64=$(b64url "$tmp/disk.material")
khex=$(hexof "$tmp/disk.material")

# --- the pin alone ------------------------------------------------------------------
printf 'a LUKS passphrase, say' > "$tmp/plain"
clevis encrypt keygate "$(cfg disk)" < "$tmp/plain" > "$tmp/jwe" 2>"$tmp/enc.err"; rc=$?
check "clevis encrypt keygate: the attested CVM binds" test "$rc" -eq 0 -a -s "$tmp/jwe"
hdr=$(cut -d. -f1 "$tmp/jwe" | jose b64 dec -i- 2>/dev/null)
hj() { python3 -c 'import json,sys; h=json.loads(sys.argv[1]); print(" ".join(str(eval(e, {"h": h})) for e in sys.argv[2:]))' "$hdr" "$@" 2>/dev/null; }
check "... a compact JWE, alg dir, enc A256GCM, pin keygate" \
	test "$(hj 'h["alg"]' 'h["enc"]' 'h["clevis"]["pin"]')" = "dir A256GCM keygate"
check "... whose header records key, key version 1, broker URL and backend" \
	test "$(hj 'h["clevis"]["keygate"]["key"]' 'h["clevis"]["keygate"]["key_version"]' 'h["clevis"]["keygate"]["urls"]' 'h["clevis"]["keygate"]["tee"]')" = "disk 1 ['$url'] snp-sim"
check "... and the CA itself, so decryption needs no file" grep -q "BEGIN CERTIFICATE" <<<"$(jose fmt -j "$hdr" -g clevis -g keygate -g ca_pem -u- 2>/dev/null)"
check "... and no key material (no k, not the key's base64url)" test -z "$(grep -e "$kb64" -e '"k"' <<<"$hdr")" -a -z "$(grep -F "$kb64" "$tmp/jwe")"
out=$(clevis decrypt < "$tmp/jwe" 2>"$tmp/dec.err"); rc=$?
check "clevis decrypt: the same CVM gets the plaintext back" test "$rc" -eq 0 -a "$out" = "$(cat "$tmp/plain")"
# Anyone holding the model key can open the JWE (what a leak means, docs/clevis.md).
out=$( (printf '{"kty":"oct","k":"%s"}' "$kb64"; cat "$tmp/jwe") | jose jwe dec -k- -i- 2>/dev/null)
check "the content-encryption key is the model key itself (alg dir)" test "$out" = "$(cat "$tmp/plain")"
python3 - "$tmp/jwe" "$tmp/jwe.bad" <<'PY'
import sys
p = open(sys.argv[1]).read().strip().split(".")
c = list(p[3]); c[0] = "A" if c[0] != "A" else "B"; p[3] = "".join(c)
open(sys.argv[2], "w").write(".".join(p))
PY
out=$(clevis decrypt < "$tmp/jwe.bad" 2>&1); rc=$?
check "a JWE with a changed ciphertext does not decrypt" test "$rc" -ne 0 -a "$out" != "$(cat "$tmp/plain")"
out=$(clevis decrypt < <(printf '%s' "$(cfg disk)" | jose b64 enc -I-; printf '..x.y.z') 2>&1); rc=$?
check "a JWE of another pin is refused" test "$rc" -ne 0
out=$(clevis encrypt keygate "$(cfg disk "$other")" < "$tmp/plain" 2>&1); rc=$?
check "a CVM whose measurement the policy does not allow cannot bind" \
	test "$rc" -eq 1 -a -n "$(grep measurement_not_allowed <<<"$out")"
out=$(clevis encrypt keygate "$(cfg sess)" < "$tmp/plain" 2>&1); rc=$?
check "a session key is refused (it would differ at decryption)" test "$rc" -eq 1 -a -n "$(grep "session key" <<<"$out")"
out=$(clevis encrypt keygate "$(cfg short)" < "$tmp/plain" 2>&1); rc=$?
check "a key of other than 32 bytes is refused" test "$rc" -eq 1 -a -n "$(grep "32-byte" <<<"$out")"
out=$(clevis encrypt keygate '{"url":"'"$url"'","ca":"'"$ca"'"}' < "$tmp/plain" 2>&1); rc=$?
check "a configuration without 'key' is refused" test "$rc" -eq 1 -a -n "$(grep "'key'" <<<"$out")"
out=$(clevis encrypt keygate '{"key":"disk","ca":"'"$ca"'"}' < "$tmp/plain" 2>&1); rc=$?
check "a configuration without 'url' is refused" test "$rc" -eq 1 -a -n "$(grep "'url'" <<<"$out")"
out=$(clevis encrypt keygate '{"url":"http://127.0.0.1:1","key":"disk","ca":"'"$ca"'"}' < "$tmp/plain" 2>&1); rc=$?
check "a plain-HTTP broker URL is refused" test "$rc" -eq 1 -a -n "$(grep "not https" <<<"$out")"
out=$(clevis encrypt keygate '{"url":"'"$url"'","key":"disk"}' < "$tmp/plain" 2>&1); rc=$?
check "a configuration without a CA is refused" test "$rc" -eq 1 -a -n "$(grep "ca_pem" <<<"$out")"
out=$(clevis encrypt keygate '{"url":"'"$url"'","key":"--help","ca":"'"$ca"'"}' < "$tmp/plain" 2>&1); rc=$?
check "a key id that looks like an option is refused" test "$rc" -eq 1
out=$(clevis encrypt keygate "$(cfg disk | sed 's/"snp-sim"/"nitro"/')" < "$tmp/plain" 2>&1); rc=$?
check "an unknown tee is refused" test "$rc" -eq 1 -a -n "$(grep "unknown 'tee'" <<<"$out")"
out=$(clevis encrypt keygate 'not json' < "$tmp/plain" 2>&1); rc=$?
check "a configuration that is not JSON is refused" test "$rc" -eq 1

# The pin with the configfs-tsm backend and its options (tsm_root, privlevel),
# against fake_tsm (see tests/e2e/tsm.sh).
fake=$bld/tests/fake_tsm
if [ -x "$fake" ] && [ -c /dev/fuse ]; then
	mkdir -p "$tmp/tsm"
	"$fake" "$tmp/tsm" --sim-dir "$tmp/sim" --provider sev_guest --sim-measurement "$meas" 2>"$tmp/tsm.log" &
	for i in $(seq 1 100); do
		case "$(stat -f -c %T "$tmp/tsm" 2>/dev/null)" in fuse*) break ;; esac
		sleep 0.05
	done
	tcfg='{"url":"'"$url"'","key":"disk","ca":"'"$ca"'","tee":"tsm","tsm_root":"'"$tmp/tsm"'","privlevel":0}'
	clevis encrypt keygate "$tcfg" < "$tmp/plain" > "$tmp/jwe.tsm" 2>"$tmp/enc.tsm.err"; rc=$?
	out=$(clevis decrypt < "$tmp/jwe.tsm" 2>&1); rc2=$?
	check "the pin with tee tsm (configfs-tsm) binds and decrypts" test "$rc" -eq 0 -a "$rc2" -eq 0 -a "$out" = "$(cat "$tmp/plain")"
	hdr=$(cut -d. -f1 "$tmp/jwe.tsm" | jose b64 dec -i- 2>/dev/null)
	check "... recording tsm_root and privlevel in the header" \
		test "$(hj 'h["clevis"]["keygate"]["tsm_root"]' 'h["clevis"]["keygate"]["privlevel"]')" = "$tmp/tsm 0"
	fusermount3 -u "$tmp/tsm"
	out=$(clevis decrypt < "$tmp/jwe.tsm" 2>&1); rc=$?
	check "... and without configfs-tsm, decryption fails saying why" test "$rc" -ne 0 -a -n "$(grep tsm_ <<<"$out")"
else
	skip "the pin with tee tsm" "fake_tsm is not built (libfuse3-dev) or no /dev/fuse"
fi

# --- LUKS2 in a regular file ---------------------------------------------------------
truncate -s 32M "$tmp/img"
head -c 32 /dev/urandom > "$tmp/recovery.key"
out=$(cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$tmp/recovery.key" "$tmp/img" 2>&1); rc=$?
check "cryptsetup makes a LUKS2 image in a file" test "$rc" -eq 0
out=$(clevis luks bind -y -d "$tmp/img" -k "$tmp/recovery.key" keygate "$(cfg disk)" 2>&1); rc=$?
check "clevis luks bind ... keygate binds the image while the CVM attests" test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "# $out" | head -5
# clevis luks list names only the pins it knows (tang, tpm2, sss): the
# keyslot comes from the LUKS2 token.
list=$(clevis luks list -d "$tmp/img" 2>&1)
check "clevis luks list shows the keygate binding" grep -q keygate <<<"$list"
slot=$(cryptsetup token export --token-id 0 "$tmp/img" 2>/dev/null | jose fmt -j- -Og keyslots -Ag 0 -u- 2>/dev/null)
check "the image's clevis token names the bound keyslot" test -n "$slot" -a "$slot" != 0
slot=${slot:-1}
check "the LUKS2 token holds the JWE but not the model key" \
	test -n "$(cryptsetup token export --token-id 0 "$tmp/img" 2>/dev/null | grep -F '"jwe"')" \
	-a -z "$(cryptsetup token export --token-id 0 "$tmp/img" 2>/dev/null | grep -F -e "$kb64" -e "$khex")"
clevis luks pass -d "$tmp/img" -s "$slot" > "$tmp/pass" 2>"$tmp/pass.err"; rc=$?
check "clevis luks pass yields the slot's passphrase" test "$rc" -eq 0 -a -s "$tmp/pass"
out=$(cryptsetup open --test-passphrase --key-slot "$slot" --key-file "$tmp/pass" "$tmp/img" 2>&1); rc=$?
check "... which cryptsetup accepts for that slot" test "$rc" -eq 0
head -c 32 /dev/urandom > "$tmp/wrong.pass"
out=$(cryptsetup open --test-passphrase --key-slot "$slot" --key-file "$tmp/wrong.pass" "$tmp/img" 2>&1); rc=$?
check "... and another passphrase it does not" test "$rc" -ne 0

# No key on a command line: every execve of an unlock, traced.
if command -v strace >/dev/null && strace -f -qq -e trace=execve -o /dev/null true 2>/dev/null; then
	strace -f -qq -s 65535 -e trace=execve -o "$tmp/execve.log" clevis luks pass -d "$tmp/img" -s "$slot" >/dev/null 2>&1
	pass_hex=$(hexof "$tmp/pass")
	check "an unlock passes neither the model key nor the passphrase in any argv (strace)" \
		test "$(grep -c execve "$tmp/execve.log")" -gt 5 -a -z "$(grep -F -e "$kb64" -e "$khex" "$tmp/execve.log")" \
		-a -z "$(grep -F -f "$tmp/pass" "$tmp/execve.log")" -a -n "$pass_hex"
else
	skip "no key or passphrase in any argv" "strace is unavailable or not permitted here"
fi

# --- the policy decides ---------------------------------------------------------------
psql_kg -c "UPDATE policies SET measurements = ARRAY['\\x$other'::bytea] WHERE key_id = 'disk'" >/dev/null
# The broker's policy cache empties on NOTIFY: wait until it has.
settled() {
	local i
	for i in $(seq 1 50); do
		"$bld/client/keygate-client" --url "$url" --ca "$ca" --retries 0 -q --tee snp-sim --sim-dir "$tmp/sim" \
			--sim-measurement "$meas" --key disk 2>&1 | grep -q "$1" && return 0
		sleep 0.1
	done
	return 1
}
settled measurement_not_allowed
out=$(clevis luks pass -d "$tmp/img" -s "$slot" 2>&1 >"$tmp/pass2"); rc=$?
check "with the CVM's measurement out of the policy, clevis luks pass fails" test "$rc" -ne 0 -a ! -s "$tmp/pass2"
check "... and says why (measurement_not_allowed)" grep -q measurement_not_allowed <<<"$out"
check "... and the broker audited the denial" \
	test "$(psql_kg -c "SELECT count(*) FROM audit WHERE key_id = 'disk' AND decision = 'deny' AND reason = 'measurement_not_allowed'")" -ge 1
out=$(cryptsetup open --test-passphrase --key-file "$tmp/recovery.key" "$tmp/img" 2>&1); rc=$?
check "the recovery key still opens the image" test "$rc" -eq 0
psql_kg -c "UPDATE policies SET measurements = ARRAY['\\x$meas'::bytea] WHERE key_id = 'disk'" >/dev/null
settled '"key_version":1'
clevis luks pass -d "$tmp/img" -s "$slot" > "$tmp/pass3" 2>/dev/null; rc=$?
check "with the measurement back in the policy, it unlocks again" test "$rc" -eq 0 -a "$(cmp -s "$tmp/pass" "$tmp/pass3"; echo $?)" = 0

# --- rotation -----------------------------------------------------------------------
head -c 32 /dev/urandom > "$tmp/disk2.material"
"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id disk --file "$tmp/disk2.material" >/dev/null
settled '"key_version":2'
out=$(clevis luks pass -d "$tmp/img" -s "$slot" 2>&1 >/dev/null); rc=$?
check "after the key is rotated (version 2), the version-1 binding refuses, saying so" \
	test "$rc" -ne 0 -a -n "$(grep "bound to version 1" <<<"$out")"
out=$(clevis luks unbind -f -d "$tmp/img" -s "$slot" 2>&1 && \
	clevis luks bind -y -d "$tmp/img" -k "$tmp/recovery.key" keygate "$(cfg disk)" 2>&1); rc=$?
check "re-binding with the recovery key takes the new version" test "$rc" -eq 0
slot=$(cryptsetup token export --token-id 0 "$tmp/img" 2>/dev/null | jose fmt -j- -Og keyslots -Ag 0 -u- 2>/dev/null)
clevis luks pass -d "$tmp/img" -s "${slot:-1}" > "$tmp/pass4" 2>/dev/null; rc=$?
out=$(cryptsetup open --test-passphrase --key-file "$tmp/pass4" "$tmp/img" 2>&1); rc2=$?
check "... and unlocks" test "$rc" -eq 0 -a "$rc2" -eq 0

echo "1..$n"
[ "$failed" -eq 0 ]
