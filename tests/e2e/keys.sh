#!/usr/bin/env bash
# Keys in the broker (issue #8), end to end: key versions (import, rotate,
# disable, enable, destroy) and the policies' version rules, per-session
# keys derived by two broker processes, the key's kind fixed in the schema
# and bound into its wrapping (a relabelled session root is never released),
# KEK rotation file -> file and file -> PKCS#11 (SoftHSM2) while brokers
# serve, and a hygiene check: no
# key used here appears in the logs, the audit table or the policy history.
# Own PostgreSQL (ops/lib.sh).  Prints TAP; exits non-zero when a test failed.
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
kg=$bld/broker/keygate
kgc=$bld/client/keygate-client
. "$src/ops/lib.sh"

. "$src/tests/e2e/tap.sh"

tmp=$(mktemp -d /tmp/keygate-keys.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	kg_pg_stop "$tmp"
	if [ "$failed" -ne 0 ]; then
		for l in "$tmp"/broker-*.log; do [ -f "$l" ] && { echo "# $l (last lines):"; tail -8 "$l" | sed 's/^/# /'; }; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

kg_pg_start "$tmp" "$(kg_free_port)" || { echo "Bail out! cannot start PostgreSQL"; exit 1; }
kg_psql postgres -c "CREATE DATABASE keygate" || { echo "Bail out! createdb"; exit 1; }
admin=$(kg_pg_dsn keygate postgres)
broker_dsn=$(kg_pg_dsn keygate kgbroker)
sql() { kg_psql keygate -At -c "$1"; }

meas=$(printf 'keygate keys image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig" "$tmp/out"
cat > "$tmp/mig/0100_keys.sql" <<SQL
-- mk: default rule (newest active version); mk-any: every version from 1.
INSERT INTO keys (key_id, kind) VALUES ('mk', 'model'), ('mk-any', 'model'), ('mk-list', 'model'),
  ('sk', 'session'), ('sk-noroot', 'session');
INSERT INTO policies (key_id, tee, measurements) VALUES
  ('mk', 'snp', ARRAY['\\x$meas'::bytea]), ('sk', 'snp', ARRAY['\\x$meas'::bytea]),
  ('sk-noroot', 'snp', ARRAY['\\x$meas'::bytea]);
INSERT INTO policies (key_id, tee, measurements, min_version) VALUES ('mk-any', 'snp', ARRAY['\\x$meas'::bytea], 1);
INSERT INTO policies (key_id, tee, measurements, allowed_versions) VALUES ('mk-list', 'snp', ARRAY['\\x$meas'::bytea], '{2}');
SQL
out=$("$kg" migrate --db "$admin" --dir "$src/db/migrations" --dir "$tmp/mig" 2>&1)
check "migrations apply, 0011_key_lifecycle among them" grep -q "applied 0011_key_lifecycle.sql" <<<"$out"
check "... and 0014_key_kind_immutable, 0015_key_wrap_kind" grep -q "applied 0015_key_wrap_kind.sql" <<<"$out"
kg_psql keygate -c "CREATE ROLE kgbroker LOGIN IN ROLE keygate_broker" >/dev/null
kg_psql keygate -c "CREATE ROLE kgadmin LOGIN IN ROLE keygate_admin" >/dev/null
as_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgadmin -d keygate -c "$1" 2>&1; }
hist0=$(sql "SELECT count(*) FROM policy_history WHERE table_name = 'keys'")
out=$(as_admin "UPDATE keys SET kind = 'model' WHERE key_id = 'sk'"); rc=$?
check "the admin role cannot turn a session key into a model key" test "$rc" -ne 0
check "... refused by the kind trigger" grep -q "the kind of a key never changes" <<<"$out"
out=$(as_admin "UPDATE keys SET kind = 'session' WHERE key_id = 'mk'"); rc=$?
check "... nor a model key into a session key" test "$rc" -ne 0
out=$(sql "UPDATE keys SET kind = 'model' WHERE key_id = 'sk'" 2>&1); rc=$?
check "... nor may the owner" test "$rc" -ne 0
check "the kind stayed, and the refused changes left no history row" test "$(sql "SELECT kind FROM keys WHERE key_id = 'sk'") $(sql "SELECT count(*) FROM policy_history WHERE table_name = 'keys'")" = "session $hist0"
check "the admin role may still change a key's state" as_admin "UPDATE keys SET state = 'active' WHERE key_id = 'sk'"
fmt1=$(printf '01%0112d' 0) # 57 bytes: a format-1 row's least length
out=$(as_admin "INSERT INTO key_versions (key_id, version, wrapped) VALUES ('mk', 99, '\\x$fmt1')"); rc=$?
check "a new row in format 1 (no kind bound) is refused" test "$rc" -ne 0 -a -n "$(grep -F "does not bind the key's kind" <<<"$out")"
check "the broker role still may not change key versions" test "$(sql "SELECT has_table_privilege('kgbroker', 'key_versions', 'UPDATE') OR has_table_privilege('kgbroker', 'key_versions', 'DELETE') OR has_table_privilege('kgbroker', 'policies', 'UPDATE')")" = f
out=$(kg_psql keygate -c "INSERT INTO policies (key_id, tee, measurements, allowed_versions) VALUES ('mk', 'snp', ARRAY['\\x$meas'::bytea], '{0}')" 2>&1); rc=$?
check "a policy allowing version 0 is refused by the schema" test "$rc" -ne 0

kg_make_tls "$tmp/tls"
head -c 32 /dev/urandom > "$tmp/challenge.key"
"$kg" key generate-kek "$tmp/kekA"
"$kg" key generate-kek "$tmp/kekB"
"$kgc" sim-init "$tmp/sim" >/dev/null || { echo "Bail out! sim-init"; exit 1; }
"$kgc" sim-crl "$tmp/sim" "$tmp/crl.der"
"$kg" collateral import --kind snp-crl "$tmp/crl.der" --db "$admin" >/dev/null

# Key material of every kind, kept for the hygiene check at the end.
for k in mk1 mk2 any1 list1 list2 list3; do head -c 32 /dev/urandom > "$tmp/$k.bin"; done
kA() { "$kg" key "$@" --db "$admin" --kek "$tmp/kekA"; }
check "key import: mk version 1" kA import --key mk --file "$tmp/mk1.bin"
out=$(kA rotate --key mk --file "$tmp/mk2.bin" 2>&1)
check "key rotate --file: mk version 2, wrapped under KEK A" grep -q '"version":2.*"kek_id":"file:' <<<"$out"
kA import --key mk-any --file "$tmp/any1.bin" >/dev/null
check "key rotate --generate: mk-any version 2" kA rotate --key mk-any --generate
for f in list1 list2 list3; do kA import --key mk-list --file "$tmp/$f.bin" >/dev/null; done
out=$(kA rotate --key sk 2>&1)
check "key rotate of a session key: a new random root (version 1)" grep -q '"kind":"session","version":1,"length":32' <<<"$out"
out=$(kA rotate --key sk --file "$tmp/mk1.bin" 2>&1); rc=$?
check "... which is never read from a file" test "$rc" -ne 0
out=$("$kg" key create --key sk-new --kind session --db "$admin" --kek "$tmp/kekA" 2>&1)
check "key create --kind session with a KEK stores root version 1" grep -q '"version":1' <<<"$out"
kidA=$("$kg" kek id --kek "$tmp/kekA" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kek_id"])')
kidB=$("$kg" kek id --kek "$tmp/kekB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kek_id"])')
check "every stored version names KEK A ($kidA)" test "$(sql "SELECT count(*) FILTER (WHERE kek_id = '$kidA') || '/' || count(*) FROM key_versions")" = "9/9"
check "KEK ids differ per KEK" test -n "$kidA" -a "$kidA" != "$kidB"

# --- brokers --------------------------------------------------------------
# start_broker NAME KEK-SETTINGS...: a broker on a free port; sets url_NAME.
start_broker() {
	local name=$1 port; shift
	port=$(kg_free_port)
	{
		printf 'listen = 127.0.0.1:%s\ndb = %s\ntls_cert = %s\ntls_key = %s\nchallenge_key_file = %s\n' \
			"$port" "$broker_dsn" "$tmp/tls/server.pem" "$tmp/tls/server.key" "$tmp/challenge.key"
		printf 'snp_roots = %s\nreplica = %s\nthreads = 2\n' "$tmp/sim/ark.pem" "$name"
		printf '%s\n' "$@"
	} > "$tmp/$name.conf"
	"$kg" serve --config "$tmp/$name.conf" 2>"$tmp/broker-$name.log" &
	pids+=($!)
	eval "pid_$name=$!"
	eval "url_$name=https://127.0.0.1:$port"
	kg_wait_http "https://127.0.0.1:$port/healthz" "$tmp/tls/ca.pem" 100
}
stop_broker() { local p; eval "p=\$pid_$1"; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
# rel URL OUT_DIR ARGS...: one release; the answer's JSON on stdout.
rel() {
	local u=$1 d=$2; shift 2
	mkdir -p "$d"
	"$kgc" --url "$u" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" --sim-measurement "$meas" \
		--retries 0 -q --out-dir "$d" "$@" 2>&1
}
deny() { local code=$1 out; shift; out=$(rel "$@"); grep -q "\"error\":\"$code\"" <<<"$out" || { echo "# $out" | head -3; return 1; }; }

start_broker a "kek_file = $tmp/kekA" || { echo "Bail out! broker a"; exit 1; }
start_broker b "kek_file = $tmp/kekA" || { echo "Bail out! broker b"; exit 1; }

# --- versions and their rules ------------------------------------------
out=$(rel "$url_a" "$tmp/out/1" --key mk)
check "release without a version: the newest (2)" grep -q '"key_version":2' <<<"$out"
check "... with version 2's material" cmp -s "$tmp/out/1/mk" "$tmp/mk2.bin"
check "a policy without version rules refuses an older version: key_version_not_allowed" deny key_version_not_allowed "$url_a" "$tmp/out/2" --key mk --key-version 1
out=$(rel "$url_a" "$tmp/out/3" --key mk-any --key-version 1)
check "min_version 1 releases version 1 on request" grep -q '"key_version":1' <<<"$out"
check "... with version 1's material" cmp -s "$tmp/out/3/mk-any" "$tmp/any1.bin"
out=$(rel "$url_a" "$tmp/out/4" --key mk-list)
check "allowed_versions {2}: the newest allowed, not the newest (3)" grep -q '"key_version":2' <<<"$out"
check "... with version 2's material" cmp -s "$tmp/out/4/mk-list" "$tmp/list2.bin"
check "allowed_versions {2}: version 3 is not allowed" deny key_version_not_allowed "$url_a" "$tmp/out/5" --key mk-list --key-version 3
check "an unknown version: key_version_unknown" deny key_version_unknown "$url_a" "$tmp/out/6" --key mk-any --key-version 9
check "a negative version in the body: bad_request" deny bad_request "$url_a" "$tmp/out/6" --key mk-any --key-version -1

check "key disable --version 1" "$kg" key disable --key mk-any --version 1 --db "$admin"
check "a disabled version: key_version_disabled (the cache follows at once)" deny key_version_disabled "$url_a" "$tmp/out/7" --key mk-any --key-version 1
check "... other versions are still released" rel "$url_a" "$tmp/out/7" --key mk-any
check "key enable --version 1" "$kg" key enable --key mk-any --version 1 --db "$admin"
check "... released again" rel "$url_a" "$tmp/out/8" --key mk-any --key-version 1

check "key destroy --version 1" "$kg" key destroy --key mk-any --version 1 --db "$admin"
check "a destroyed version: key_version_destroyed" deny key_version_destroyed "$url_a" "$tmp/out/9" --key mk-any --key-version 1
check "... its wrapped material is gone from PostgreSQL, the row stays as a tombstone" test "$(sql "SELECT state || ' ' || (wrapped IS NULL) || ' ' || (destroyed_at IS NOT NULL) FROM key_versions WHERE key_id = 'mk-any' AND version = 1")" = "destroyed true true"
out=$("$kg" key enable --key mk-any --version 1 --db "$admin" 2>&1); rc=$?
check "a destroyed version cannot be enabled again" test "$rc" -ne 0
check "... version 2 is still released" rel "$url_a" "$tmp/out/10" --key mk-any

"$kg" key disable --key mk --version 2 --db "$admin" >/dev/null
out=$(rel "$url_a" "$tmp/out/11" --key mk)
check "the newest version disabled: the default rule falls back to the newest active (1)" grep -q '"key_version":1' <<<"$out"
"$kg" key enable --key mk --version 2 --db "$admin" >/dev/null
out=$("$kg" key destroy --key mk --db "$admin" 2>&1)
check "key destroy without --version destroys every version" grep -q '"destroyed_versions":2' <<<"$out"
check "... and disables the key: key_disabled" deny key_disabled "$url_a" "$tmp/out/12" --key mk
"$kg" key enable --key mk --db "$admin" >/dev/null
check "... re-enabled, nothing is left to release: key_version_destroyed" deny key_version_destroyed "$url_a" "$tmp/out/13" --key mk
check "the tombstones are in the policy history, without wrapped bytes" test "$(sql "SELECT count(*) FROM policy_history WHERE table_name = 'key_versions' AND new_row->>'state' = 'destroyed' AND NOT (new_row ? 'wrapped')")" = 3
kg_psql keygate -c "CREATE ROLE kgauditor LOGIN IN ROLE keygate_auditor" >/dev/null
out=$(psql -X -At -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgauditor -d keygate -c "SELECT state FROM audit_key_versions WHERE key_id = 'mk-any' AND version = 1" 2>&1)
check "the auditor sees the tombstone (view audit_key_versions)" test "$out" = destroyed
out=$(psql -X -At -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgauditor -d keygate -c "SELECT count(*) FROM key_versions" 2>&1); rc=$?
check "... but not key_versions itself" test "$rc" -ne 0
check "no policy history row holds wrapped bytes" test "$(sql "SELECT count(*) FROM policy_history WHERE coalesce(new_row, old_row) ? 'wrapped'")" = 0
check "the audit records the version a denial asked for" test "$(sql "SELECT count(*) FROM audit WHERE key_id = 'mk-any' AND reason = 'key_version_destroyed' AND key_version = 1")" -ge 1
for code in key_version_not_allowed key_version_unknown key_version_disabled key_version_destroyed; do
	check "denial '$code' is audited" test "$(sql "SELECT count(*) FROM audit WHERE decision = 'deny' AND reason = '$code'")" -ge 1
done

# --- per-session keys: the same id, the same key, from either broker ------
out=$(rel "$url_a" "$tmp/out/s1a" --key sk --session-id train-42)
check "a session key for session id train-42 (broker a)" grep -q '"key_version":1' <<<"$out"
rel "$url_b" "$tmp/out/s1b" --key sk --session-id train-42 >/dev/null
check "... the same key from broker b, for another CVM instance" cmp -s "$tmp/out/s1a/sk" "$tmp/out/s1b/sk"
rel "$url_b" "$tmp/out/s2" --key sk --session-id train-43 >/dev/null
check "the audit rows name the session" test "$(sql "SELECT count(*) FROM audit WHERE key_id = 'sk' AND decision = 'grant' AND session_id = 'train-42'")" -ge 2
check "another session id: another key" test -s "$tmp/out/s2/sk" -a "$(cmp -s "$tmp/out/s1a/sk" "$tmp/out/s2/sk"; echo $?)" = 1
rel "$url_a" "$tmp/out/r1" --key sk >/dev/null; rel "$url_a" "$tmp/out/r2" --key sk >/dev/null
check "no session id: a fresh random key each time, as before" test -s "$tmp/out/r1/sk" -a "$(cmp -s "$tmp/out/r1/sk" "$tmp/out/r2/sk"; echo $?)" = 1
check "... that is not the session's" test "$(cmp -s "$tmp/out/r1/sk" "$tmp/out/s1a/sk"; echo $?)" = 1
check "a malformed session id: session_id_invalid" deny session_id_invalid "$url_a" "$tmp/out/x" --key sk --session-id 'a b'
long=$(head -c 129 /dev/zero | tr '\0' a)
check "a session id over 128 characters: session_id_invalid" deny session_id_invalid "$url_a" "$tmp/out/x" --key sk --session-id "$long"
check "a session key without a root, asked for a session id: key_material_missing" deny key_material_missing "$url_a" "$tmp/out/x" --key sk-noroot --session-id train-42
out=$(rel "$url_a" "$tmp/out/sm" --key mk-any --key sk --session-id train-42)
check "one body for a model key and a session key: the model key ignores the session id" cmp -s "$tmp/out/sm/sk" "$tmp/out/s1a/sk"
"$kg" key rotate --key sk --db "$admin" --kek "$tmp/kekA" >/dev/null
rel "$url_a" "$tmp/out/s1c" --key sk --session-id train-42 >/dev/null
check "after a root rotation the session id gives a new key (version 2)" test -s "$tmp/out/s1c/sk" -a "$(cmp -s "$tmp/out/s1a/sk" "$tmp/out/s1c/sk"; echo $?)" = 1
check "... root version 1 is not released under the default rule" deny key_version_not_allowed "$url_b" "$tmp/out/s1d" --key sk --session-id train-42 --key-version 1
sql "UPDATE policies SET min_version = 1 WHERE key_id = 'sk'" >/dev/null
rel "$url_b" "$tmp/out/s1e" --key sk --session-id train-42 --key-version 1 >/dev/null
check "... (min_version 1: root version 1, the first key again)" cmp -s "$tmp/out/s1a/sk" "$tmp/out/s1e/sk"

# --- the key's kind is bound into its wrapping (0015, keys/kek.h) ----------
check "every stored version is format 3 with its key's kind" test "$(sql "SELECT count(*) FILTER (WHERE get_byte(v.wrapped, 0) = 3 AND get_byte(v.wrapped, 1) = CASE k.kind WHEN 'model' THEN 1 ELSE 2 END) || '/' || count(*) FROM key_versions v JOIN keys k USING (key_id) WHERE v.wrapped IS NOT NULL")" = "$(sql "SELECT count(*) || '/' || count(*) FROM key_versions WHERE wrapped IS NOT NULL")"
# A superuser goes around the trigger: the broker must still not release
# the session key's root as a model key.
setkind() { sql "BEGIN; ALTER TABLE keys DISABLE TRIGGER keys_kind_immutable;
	UPDATE keys SET kind = '$2' WHERE key_id = '$1'; ALTER TABLE keys ENABLE TRIGGER keys_kind_immutable; COMMIT" >/dev/null; }
setkind sk model
check "(a superuser relabelled session key sk as a model key)" test "$(sql "SELECT kind FROM keys WHERE key_id = 'sk'")" = model
out=$(rel "$url_a" "$tmp/out/kind1" --key sk)
check "the broker refuses to release its root: key_kind_mismatch" grep -q '"error":"key_kind_mismatch"' <<<"$out"
check "... and nothing was written out" test ! -e "$tmp/out/kind1/sk"
out=$(rel "$url_b" "$tmp/out/kind2" --key sk --key-version 1)
check "... for any version, from any broker" grep -q '"error":"key_kind_mismatch"' <<<"$out"
check "the refusals are audited as denials with that reason" test "$(sql "SELECT count(*) FROM audit WHERE key_id = 'sk' AND decision = 'deny' AND reason = 'key_kind_mismatch'")" = 2
setkind sk session
rel "$url_a" "$tmp/out/kind3" --key sk --session-id train-42 --key-version 1 >/dev/null
check "relabelled back, the session key is derived as before" cmp -s "$tmp/out/s1a/sk" "$tmp/out/kind3/sk"

# A row from before 0015 (format 1, no kind bound), made here the way
# keygate made it then (XChaCha20-Poly1305, associated data "keygate/v1
# key"): refused unless the broker allows legacy formats, and re-wrapped
# by the KEK rotation below.
head -c 32 /dev/urandom > "$tmp/old1.bin"
old_hex=$(python3 - "$tmp/kekA" "$tmp/old1.bin" <<'PY'
import os, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
def rotl(v, c): return ((v << c) & 0xffffffff) | (v >> (32 - c))
def qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)
def hchacha20(key, n16):  # draft-irtf-cfrg-xchacha §2.2
    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) + struct.unpack("<4I", n16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))
kek = bytes.fromhex(open(sys.argv[1]).read().strip())
key = open(sys.argv[2], "rb").read()
ad = b"keygate/v1 key\0" + struct.pack(">H", 6) + b"mk-old" + struct.pack(">I", 1)
nonce = os.urandom(24)
ct = ChaCha20Poly1305(hchacha20(kek, nonce[:16])).encrypt(b"\0" * 4 + nonce[16:], key, ad)
print((b"\x01" + nonce + ct).hex())
PY
)
sql "INSERT INTO keys (key_id, kind) VALUES ('mk-old', 'model');
	INSERT INTO policies (key_id, tee, measurements) VALUES ('mk-old', 'snp', ARRAY['\\x$meas'::bytea]);
	BEGIN; ALTER TABLE key_versions DISABLE TRIGGER key_versions_format_guard;
	INSERT INTO key_versions (key_id, version, wrapped, kek_id) VALUES ('mk-old', 1, '\\x$old_hex', '$kidA');
	ALTER TABLE key_versions ENABLE TRIGGER key_versions_format_guard; COMMIT" >/dev/null
check "(a format-1 row, as stored before 0015)" test "$(sql "SELECT get_byte(wrapped, 0) FROM key_versions WHERE key_id = 'mk-old'")" = 1
out=$(rel "$url_a" "$tmp/out/old0" --key mk-old)
check "a format-1 row is refused by default: key_format_legacy" grep -q '"error":"key_format_legacy"' <<<"$out"
check "... audited as a denial" test "$(sql "SELECT count(*) FROM audit WHERE key_id = 'mk-old' AND reason = 'key_format_legacy'")" = 1
start_broker legacy "kek_file = $tmp/kekA" "kek_legacy_formats = 1" || { echo "Bail out! broker legacy"; exit 1; }
rel "$url_legacy" "$tmp/out/old1" --key mk-old >/dev/null
check "a broker with kek_legacy_formats = 1 releases it, with its material" cmp -s "$tmp/out/old1/mk-old" "$tmp/old1.bin"
stop_broker legacy

# --- KEK rotation, file -> file, while a broker serves ----------------------
# The operator's steps: brokers with the new KEK and the previous one
# (rolling restart: broker c replaces a), then `kek rotate`, then brokers
# with the new KEK alone.
start_broker c "kek_file = $tmp/kekB" "kek_previous_file = $tmp/kekA" || { echo "Bail out! broker c"; exit 1; }
stop_broker a
check "a broker with the new KEK and the previous one serves rows still under the old" rel "$url_c" "$tmp/out/c0" --key mk-any --key mk-list
# Releases in a loop through the rotation; every one must succeed.
(
	i=0
	while [ ! -e "$tmp/stop-loop" ]; do
		i=$((i + 1))
		rel "$url_c" "$tmp/out/loop" --key mk-any --key sk --session-id train-42 >/dev/null || echo "fail $i"
	done
	echo "done $i"
) > "$tmp/loop.log" 2>&1 &
loop=$!
sleep 1
out=$("$kg" kek rotate --kek "$tmp/kekB" --previous-kek "$tmp/kekA" --db "$admin" 2>&1)
check "kek rotate re-wraps every live version under KEK B" grep -q "\"rewrapped\":[1-9].*\"kek_id\":\"$kidB\"" <<<"$out"
sleep 1
touch "$tmp/stop-loop"; wait "$loop"
check "every release during the rotation succeeded ($(tail -1 "$tmp/loop.log"))" test -z "$(grep fail "$tmp/loop.log")" -a -n "$(grep done "$tmp/loop.log")"
check "no live version is left under KEK A" test "$(sql "SELECT count(*) FROM key_versions WHERE wrapped IS NOT NULL AND kek_id IS DISTINCT FROM '$kidB'")" = 0
check "... nor in format 1 (the pre-0015 row is format 3 now, bound to its kind)" test "$(sql "SELECT get_byte(wrapped, 0) || ':' || get_byte(wrapped, 1) FROM key_versions WHERE key_id = 'mk-old'")" = "3:1"
out=$("$kg" kek rotate --kek "$tmp/kekB" --previous-kek "$tmp/kekA" --db "$admin" 2>&1)
check "kek rotate again has nothing to do" grep -q '"rewrapped":0' <<<"$out"
check "the policy history records each re-wrap with its new KEK id" test "$(sql "SELECT count(*) FROM policy_history WHERE table_name = 'key_versions' AND operation = 'UPDATE' AND old_row->>'kek_id' = '$kidA' AND new_row->>'kek_id' = '$kidB'")" = "$(sql "SELECT count(*) FROM key_versions WHERE wrapped IS NOT NULL")"
start_broker d "kek_file = $tmp/kekB" || { echo "Bail out! broker d"; exit 1; }
rel "$url_d" "$tmp/out/d1" --key mk-any --key-version 2 --key mk-list >/dev/null
check "a broker with KEK B alone releases every model key after the rotation" cmp -s "$tmp/out/d1/mk-list" "$tmp/list2.bin"
rel "$url_d" "$tmp/out/d1o" --key mk-old >/dev/null
check "... the re-wrapped pre-0015 one too" cmp -s "$tmp/out/d1o/mk-old" "$tmp/old1.bin"
rel "$url_d" "$tmp/out/d2" --key sk --session-id train-42 --key-version 1 >/dev/null
check "... and derives the same session keys (the roots did not change)" cmp -s "$tmp/out/s1a/sk" "$tmp/out/d2/sk"
start_broker e "kek_file = $tmp/kekA" || { echo "Bail out! broker e"; exit 1; }
out=$(rel "$url_e" "$tmp/out/e1" --key mk-list)
check "a broker with only the old KEK cannot: kek_unknown" grep -q '"error":"kek_unknown"' <<<"$out"
stop_broker e

# --- the KEK in a PKCS#11 token (SoftHSM2) ----------------------------------
hsm=$(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so 2>/dev/null | head -1)
if [ -z "$hsm" ] || ! command -v softhsm2-util >/dev/null; then
	skip "PKCS#11 KEK" "SoftHSM2 not installed (ops/deps.sh --test)"
else
	export SOFTHSM2_CONF=$tmp/softhsm2.conf
	mkdir -p "$tmp/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$tmp/tokens" > "$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label keygate --pin 3141 --so-pin 2718 >/dev/null
	echo 3141 > "$tmp/pin"; chmod 600 "$tmp/pin"
	p11="kek_pkcs11_module = $hsm
kek_pkcs11_token = keygate
kek_pkcs11_key = kek-2026
kek_pkcs11_pin_file = $tmp/pin"
	printf '%s\n' "$p11" > "$tmp/p11.conf"
	printf '%s\nkek_previous_file = %s\n' "$p11" "$tmp/kekB" > "$tmp/p11-rotate.conf"
	out=$("$kg" kek generate --pkcs11 --config "$tmp/p11.conf" 2>&1)
	check "kek generate --pkcs11 makes the KEK inside the token" grep -q '"kek_id":"pkcs11:keygate/kek-2026"' <<<"$out"
	if command -v pkcs11-tool >/dev/null; then
		out=$(pkcs11-tool --module "$hsm" --token-label keygate --login --pin 3141 -O 2>&1)
		check "... sensitive and never extractable" grep -q "sensitive.*never extractable" <<<"$out"
	fi
	start_broker f "$p11" "kek_previous_file = $tmp/kekB" || { echo "Bail out! broker f"; exit 1; }
	(
		i=0
		while [ ! -e "$tmp/stop-loop2" ]; do
			i=$((i + 1))
			rel "$url_f" "$tmp/out/loop2" --key mk-list --key sk --session-id train-42 >/dev/null || echo "fail $i"
		done
		echo "done $i"
	) > "$tmp/loop2.log" 2>&1 &
	loop=$!
	sleep 1
	out=$("$kg" kek rotate --config "$tmp/p11-rotate.conf" --db "$admin" 2>&1)
	check "kek rotate file -> PKCS#11 re-wraps every version inside the token" grep -q '"kek_id":"pkcs11:keygate/kek-2026"' <<<"$out"
	sleep 1
	touch "$tmp/stop-loop2"; wait "$loop"
	check "every release during that rotation succeeded ($(tail -1 "$tmp/loop2.log"))" test -z "$(grep fail "$tmp/loop2.log")" -a -n "$(grep done "$tmp/loop2.log")"
	check "every live version is now format 4 (AES-GCM in the token, kind bound)" test "$(sql "SELECT count(*) FILTER (WHERE get_byte(wrapped, 0) = 4) || '/' || count(*) FROM key_versions WHERE wrapped IS NOT NULL")" = "$(sql "SELECT count(*) || '/' || count(*) FROM key_versions WHERE wrapped IS NOT NULL")"
	stop_broker f
	start_broker g "$p11" || { echo "Bail out! broker g"; exit 1; }
	rel "$url_g" "$tmp/out/g1" --key mk-list >/dev/null
	check "a broker with the PKCS#11 KEK alone releases the model key" cmp -s "$tmp/out/g1/mk-list" "$tmp/list2.bin"
	rel "$url_g" "$tmp/out/g2" --key sk --session-id train-42 --key-version 1 >/dev/null
	check "... and the same session key as before both rotations" cmp -s "$tmp/out/s1a/sk" "$tmp/out/g2/sk"
	setkind sk model
	out=$(rel "$url_g" "$tmp/out/g2k" --key sk)
	check "a token-wrapped session root relabelled as a model key: key_kind_mismatch" grep -q '"error":"key_kind_mismatch"' <<<"$out"
	setkind sk session
	head -c 32 /dev/urandom > "$tmp/mk3.bin"
	check "key rotate with the PKCS#11 KEK" "$kg" key rotate --key mk-list --file "$tmp/mk3.bin" --config "$tmp/p11.conf" --db "$admin"
	sql "UPDATE policies SET allowed_versions = '{2,4}' WHERE key_id = 'mk-list'" >/dev/null
	rel "$url_g" "$tmp/out/g3" --key mk-list >/dev/null
	check "... released by the broker (version 4)" cmp -s "$tmp/out/g3/mk-list" "$tmp/mk3.bin"
	echo 0000 > "$tmp/badpin"
	out=$(KEYGATE_KEK_PKCS11_PIN_FILE=$tmp/badpin "$kg" kek id --config "$tmp/p11.conf" 2>&1); rc=$?
	check "a wrong PIN is refused" test "$rc" -ne 0
	stop_broker g
fi

# --- hygiene: no key used here in logs, audit or policy history -----------
sql "SELECT row_to_json(a)::text FROM audit a" > "$tmp/audit.dump"
sql "SELECT row_to_json(h)::text FROM policy_history h" > "$tmp/history.dump"
cat "$tmp"/broker-*.log > "$tmp/logs.dump"
secrets=("$tmp"/kekA "$tmp"/kekB "$tmp"/*.bin)
for f in "$tmp"/out/*/*; do [ -f "$f" ] && secrets+=("$f"); done
found=$(python3 - "$tmp/audit.dump" "$tmp/history.dump" "$tmp/logs.dump" -- "${secrets[@]}" <<'PY'
import base64, binascii, sys
args = sys.argv[1:]
sep = args.index("--")
hay = b"".join(open(p, "rb").read() for p in args[:sep]).lower()
hits, forms = [], 0
for p in args[sep + 1:]:
    raw = open(p, "rb").read()
    if raw.strip() and len(raw.strip()) == 64 and all(c in b"0123456789abcdefABCDEF" for c in raw.strip()):
        raw = binascii.unhexlify(raw.strip())      # a hex KEK file
    if len(raw) < 16:
        continue
    for f in (raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw),
              base64.b64encode(raw).rstrip(b"="), raw):
        forms += 1
        if f.lower() in hay:
            hits.append(p)
print(f"{forms} forms of {len(args) - sep - 1} keys; found: {' '.join(sorted(set(hits))) or 'none'}")
PY
)
echo "# hygiene: $found"
check "no key (hex, base64, raw) appears in the broker logs, the audit table or the policy history" grep -q "found: none" <<<"$found"
check "... and the search looked at something" test "$(wc -c < "$tmp/audit.dump")" -gt 1000 -a "$(wc -c < "$tmp/logs.dump")" -gt 1000

echo "1..$n"
[ "$failed" -eq 0 ]
