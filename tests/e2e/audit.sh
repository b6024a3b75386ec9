#!/usr/bin/env bash
# The audit log end to end: two brokers write and seal concurrently into one
# real PostgreSQL; `keygate audit verify` accepts the result and names the
# first row a superuser changed, reordered, removed or slipped in; the
# roles keep the broker and the auditor to their part, and a stolen broker
# credential cannot stop sealing.  Prints TAP.
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
kg=$bld/broker/keygate
kgc=$bld/client/keygate-client
. "$src/ops/lib.sh"

. "$src/tests/e2e/tap.sh"

tmp=$(mktemp -d /tmp/keygate-audit.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	kg_pg_stop "$tmp"
	if [ "$failed" -ne 0 ]; then
		for f in "$tmp"/broker*.log; do [ -f "$f" ] && { echo "# $f:"; tail -15 "$f" | sed 's/^/# /'; }; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

pgport=$(kg_free_port)
kg_pg_start "$tmp" "$pgport" || { echo "Bail out! cannot start PostgreSQL"; exit 1; }
kg_psql postgres -c "CREATE DATABASE keygate" >/dev/null || { echo "Bail out! createdb"; exit 1; }
su_dsn=$(kg_pg_dsn keygate postgres)
psql_kg() { kg_psql keygate -At "$@"; }

meas=$(printf 'keygate audit image' | sha384sum | cut -c1-96)
other=$(printf 'another image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
cat > "$tmp/mig/0100_audit_policy.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('k1', 'session');
INSERT INTO policies (key_id, tee, measurements) VALUES ('k1', 'snp', ARRAY['\\x$meas'::bytea]);
SQL
"$kg" migrate --db "$su_dsn" --dir "$src/db/migrations" --dir "$tmp/mig" >/dev/null 2>&1 || { echo "Bail out! migrate"; exit 1; }
psql_kg -c "CREATE ROLE kgbroker LOGIN IN ROLE keygate_broker" >/dev/null
psql_kg -c "CREATE ROLE kgauditor LOGIN IN ROLE keygate_auditor" >/dev/null
broker_dsn=$(kg_pg_dsn keygate kgbroker)
auditor_dsn=$(kg_pg_dsn keygate kgauditor)

vkey=$("$kg" audit keygen --name "keygate.test/audit" --out "$tmp/audit.key")
check "audit keygen makes a key and prints its verifier key" grep -q '^keygate.test/audit+[0-9a-f]\{8\}+' <<<"$vkey"
check "... the signing key file is mode 0600" test "$(stat -c %a "$tmp/audit.key")" = 600
echo "$vkey" > "$tmp/audit.vkey"
"$kg" audit keygen --name "someone.else/audit" --out "$tmp/other.key" > "$tmp/other.vkey"

kg_make_tls "$tmp/tls"
head -c 32 /dev/urandom > "$tmp/challenge.key"
"$kgc" sim-init "$tmp/sim" >/dev/null || { echo "Bail out! sim-init"; exit 1; }
"$kgc" sim-crl "$tmp/sim" "$tmp/crl.der"
"$kg" collateral import --kind snp-crl "$tmp/crl.der" --db "$su_dsn" >/dev/null
cat "$tmp/sim/ask.pem" "$tmp/sim/ark.pem" > "$tmp/roots.pem"

# Two replicas, both sealing every 200 ms: the advisory lock lets one at a time.
urls=()
for i in 1 2; do
	port=$(kg_free_port)
	cat > "$tmp/broker$i.conf" <<CONF
listen = 127.0.0.1:$port
db = $broker_dsn
tls_cert = $tmp/tls/server.pem
tls_key = $tmp/tls/server.key
challenge_key_file = $tmp/challenge.key
snp_roots = $tmp/roots.pem
replica = audit-$i
threads = 4
audit_signing_key = $tmp/audit.key
audit_seal_interval = 200
CONF
	"$kg" serve --config "$tmp/broker$i.conf" 2>"$tmp/broker$i.log" &
	pids+=($!)
	urls+=("https://127.0.0.1:$port")
	kg_wait_http "https://127.0.0.1:$port/healthz" "$tmp/tls/ca.pem" 100 || { echo "Bail out! broker $i"; exit 1; }
done
client() { "$kgc" --ca "$tmp/tls/ca.pem" --tee snp-sim --sim-dir "$tmp/sim" --retries 0 -q "$@"; }

# 24 releases at once, half to each replica, a third of them denied.
for i in $(seq 1 24); do
	m=$meas; [ $((i % 3)) -eq 0 ] && m=$other
	client --url "${urls[$((i % 2))]}" --sim-measurement "$m" --key k1 >/dev/null 2>&1 &
done
wait_clients() { local p; for p in $(jobs -p); do case " ${pids[*]} " in *" $p "*) ;; *) wait "$p" ;; esac; done; }
wait_clients
check "24 concurrent requests through two brokers each left an audit row" test "$(psql_kg -c "SELECT count(*) FROM audit")" = 24
check "... from both replicas" test "$(psql_kg -c "SELECT count(DISTINCT replica) FROM audit")" = 2

# The brokers seal on their own within a few intervals.
for _ in $(seq 1 50); do [ "$(psql_kg -c "SELECT count(*) FROM audit_queue")" = 0 ] && break; sleep 0.1; done
check "the brokers sealed every row" test "$(psql_kg -c "SELECT count(*) FROM audit_tree")" = 24
check "tree positions are 0..23 without gaps" test "$(psql_kg -c "SELECT max(seq) - min(seq) + 1 = count(*) AND min(seq) = 0 FROM audit_tree")" = t
check "the last checkpoint covers the whole tree" test "$(psql_kg -c "SELECT max(size) FROM audit_checkpoints")" = 24

verify() { "$kg" audit verify --db "$auditor_dsn" --key "@$tmp/audit.vkey" "$@" 2>&1; }
out=$(verify); rc=$?
check "audit verify (as the auditor role) accepts the log two brokers wrote" test "$rc" -eq 0
check "... and reports 24 sealed rows" grep -q "rows: 24  sealed: 24" <<<"$out"
out=$(verify --json)
check "audit verify --json says ok" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["tree_size"] == 24 and d["problems"] == 0' "$out"
out=$("$kg" audit verify --db "$auditor_dsn" --key "@$tmp/other.vkey" 2>&1); rc=$?
check "a verifier key that did not sign the checkpoints: not verified (signature)" test "$rc" -eq 1
check "... named as a signature problem" grep -q "first problem (signature)" <<<"$out"
out=$("$kg" audit verify --db "$auditor_dsn" 2>&1); rc=$?
check "audit verify without --key is a usage error (exit 2)" test "$rc" -eq 2
"$kg" audit checkpoint --db "$auditor_dsn" > "$tmp/pinned.note"
check "audit checkpoint prints the latest signed checkpoint" grep -q "^keygate.test/audit$" "$tmp/pinned.note"
check "... whose tree size is 24" test "$(sed -n 2p "$tmp/pinned.note")" = 24

# --- what the roles allow -----------------------------------------------------
as_broker() { psql -X -q -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgbroker -d keygate -c "$1" >/dev/null 2>&1; }
as_auditor() { psql -X -q -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgauditor -d keygate -c "$1" >/dev/null 2>&1; }
check "the broker role cannot UPDATE audit rows" test "$(as_broker "UPDATE audit SET peer = 'x'"; echo $?)" -ne 0
check "the broker role cannot DELETE audit rows" test "$(as_broker "DELETE FROM audit"; echo $?)" -ne 0
check "the broker role cannot rewrite the tree" test "$(as_broker "UPDATE audit_tree SET leaf_hash = leaf_hash"; echo $?)" -ne 0
check "the broker role cannot queue rows itself" test "$(as_broker "INSERT INTO audit_queue VALUES (99999)"; echo $?)" -ne 0
check "the broker role cannot append to the tree itself" test "$(as_broker "INSERT INTO audit_tree VALUES (24, 1, sha256(''))"; echo $?)" -ne 0
check "... nor store a checkpoint itself" test "$(as_broker "INSERT INTO audit_checkpoints (size, root, frontier, note, replica) VALUES (1000, sha256(''), '', 'x', 'rogue')"; echo $?)" -ne 0
check "... nor drop queued rows" test "$(as_broker "DELETE FROM audit_queue"; echo $?)" -ne 0
check "... nor store a checkpoint, through the function, for a size the tree does not have" test "$(as_broker "SELECT kg_audit_checkpoint(1000, sha256(''), '', 'x', 'rogue')"; echo $?)" -ne 0
check "... (the grants say so too)" test "$(psql_kg -c "SELECT has_table_privilege('kgbroker', 'audit_tree', 'INSERT') OR has_table_privilege('kgbroker', 'audit_checkpoints', 'INSERT') OR has_table_privilege('kgbroker', 'audit_queue', 'DELETE')")" = f
check "the broker role cannot change policies" test "$(as_broker "UPDATE policies SET allow_debug = true"; echo $?)" -ne 0
check "the auditor reads the audit views" as_auditor "SELECT * FROM audit_log, audit_denials LIMIT 1"
check "the auditor cannot read the audit table itself" test "$(as_auditor "SELECT * FROM audit LIMIT 1"; echo $?)" -ne 0
check "the auditor cannot read keys or key material" test "$(as_auditor "SELECT * FROM key_versions LIMIT 1"; echo $?)" -ne 0

# --- tampering by a superuser -------------------------------------------------
# tamper SQL: as the superuser, with the append-only triggers off for the statement.
tamper() { psql_kg -c "BEGIN; ALTER TABLE audit DISABLE TRIGGER USER; ALTER TABLE audit_tree DISABLE TRIGGER USER;
	ALTER TABLE audit_checkpoints DISABLE TRIGGER USER; $1; ALTER TABLE audit ENABLE TRIGGER USER;
	ALTER TABLE audit_tree ENABLE TRIGGER USER; ALTER TABLE audit_checkpoints ENABLE TRIGGER USER; COMMIT" >/dev/null; }
id_at() { psql_kg -c "SELECT audit_id FROM audit_tree WHERE seq = $1"; }
a5=$(id_at 5) a6=$(id_at 6) a9=$(id_at 9)

peer=$(psql_kg -c "SELECT peer FROM audit WHERE audit_id = $a5")
tamper "UPDATE audit SET peer = '203.0.113.7' WHERE audit_id = $a5"
out=$(verify); rc=$?
check "an edited row: not verified" test "$rc" -eq 1
check "... names the row and calls it changed" grep -q "first problem (changed): audit row $a5 (position 5) was changed" <<<"$out"
tamper "UPDATE audit SET peer = '$peer' WHERE audit_id = $a5"
check "the row restored byte for byte verifies again" verify

tamper "UPDATE audit SET audit_id = -1 WHERE audit_id = $a5; UPDATE audit SET audit_id = $a5 WHERE audit_id = $a6;
    UPDATE audit SET audit_id = $a6 WHERE audit_id = -1"
out=$(verify); rc=$?
check "two rows swapped: not verified" test "$rc" -eq 1
check "... names the first and calls it reordered" grep -q "first problem (reordered): audit row $a5 (position 5) holds the row sealed at position 6" <<<"$out"
tamper "UPDATE audit SET audit_id = -1 WHERE audit_id = $a5; UPDATE audit SET audit_id = $a5 WHERE audit_id = $a6;
    UPDATE audit SET audit_id = $a6 WHERE audit_id = -1"
check "swapped back, the log verifies" verify

psql_kg -c "ALTER TABLE audit DISABLE TRIGGER audit_enqueue" >/dev/null
psql_kg -c "INSERT INTO audit (request_id, replica, key_id, decision, reason)
            VALUES (gen_random_uuid(), 'forged', 'k1', 'deny', 'no_policy')" >/dev/null
psql_kg -c "ALTER TABLE audit ENABLE TRIGGER audit_enqueue" >/dev/null
forged=$(psql_kg -c "SELECT audit_id FROM audit WHERE replica = 'forged'")
out=$(verify); rc=$?
check "a row slipped in around the queue: not verified" test "$rc" -eq 1
check "... named as unsealed" grep -q "first problem (unsealed): audit row $forged is neither sealed nor queued" <<<"$out"
tamper "DELETE FROM audit WHERE audit_id = $forged"
check "without it the log verifies" verify

leaf=$(psql_kg -c "SELECT encode(leaf_hash, 'hex') FROM audit_tree WHERE seq = 9")
peer9=$(psql_kg -c "SELECT peer FROM audit WHERE audit_id = $a9")
tamper "UPDATE audit SET peer = '198.51.100.1' WHERE audit_id = $a9;
    UPDATE audit_tree SET leaf_hash = sha256('\\x00'::bytea || convert_to(
      jsonb_strip_nulls(to_jsonb(a) - 'audit_id')::text, 'UTF8')) FROM audit a WHERE a.audit_id = $a9 AND audit_tree.seq = 9"
check "(the test recomputed the leaf as the sealer does)" test "$(psql_kg -c "SELECT encode(leaf_hash, 'hex') FROM audit_tree WHERE seq = 9")" != "$leaf"
out=$(verify); rc=$?
check "a row rewritten together with its leaf hash: not verified" test "$rc" -eq 1
check "... the signed checkpoint over it no longer matches" grep -q "first problem (tree)" <<<"$out"

# Rows in the queue are not yet covered: one more release, sealed alone.
client --url "${urls[0]}" --sim-measurement "$meas" --key k1 >/dev/null 2>&1
for _ in $(seq 1 50); do [ "$(psql_kg -c "SELECT count(*) FROM audit_queue")" = 0 ] && break; sleep 0.1; done
last=$(psql_kg -c "SELECT audit_id FROM audit_tree WHERE seq = 24")
check "a later release is sealed at position 24" test -n "$last"
# Cut off the newest row with its leaf and checkpoint: only a checkpoint kept
# outside the database can tell.
tamper "DELETE FROM audit WHERE audit_id = $last; DELETE FROM audit_tree WHERE seq = 24;
    DELETE FROM audit_checkpoints WHERE size = 25"
out=$(verify --checkpoint "$tmp/pinned.note"); rc=$?
check "history rewritten before a pinned checkpoint: not verified" test "$rc" -eq 1
tamper "UPDATE audit SET peer = '$peer9' WHERE audit_id = $a9; UPDATE audit_tree SET leaf_hash = decode('$leaf', 'hex') WHERE seq = 9"
check "with the leaf restored the log verifies against the pinned checkpoint" verify --checkpoint "$tmp/pinned.note"
"$kg" audit checkpoint --db "$auditor_dsn" > "$tmp/now.note"
printf 'keygate.test/audit\n25\n' > "$tmp/fake.note"
out=$(verify --checkpoint "$tmp/fake.note"); rc=$?
check "a --checkpoint that is not signed by the key is refused" test "$rc" -eq 1

tamper "DELETE FROM audit WHERE audit_id = $a6"
out=$(verify); rc=$?
check "a deleted row: not verified" test "$rc" -eq 1
check "... names the row and calls it removed" grep -q "first problem (removed): audit row $a6 (position 6) was removed" <<<"$out"

# Sealing on demand, with the CLI, when no broker runs.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
psql_kg -c "INSERT INTO audit (request_id, replica, key_id, decision, reason)
            VALUES (gen_random_uuid(), 'cli', 'k1', 'deny', 'no_policy')" >/dev/null
out=$("$kg" audit seal --db "$broker_dsn" --signing-key "$tmp/audit.key" 2>&1)
check "audit seal (as the broker role) seals the queued row" grep -q '"sealed":1' <<<"$out"
out=$("$kg" audit seal --db "$broker_dsn" --signing-key "$tmp/audit.key" 2>&1)
check "... and nothing the second time" grep -q '"sealed":0' <<<"$out"
check "no key material or evidence in the audit rows" test "$(psql_kg -c "SELECT count(*) FROM audit WHERE to_jsonb(audit)::text ~* 'BEGIN CERT|wrapped|ciphertext'")" = 0

# A checkpoint nobody signed on top: no sealer signs over it.
tamper "INSERT INTO audit_checkpoints (size, root, frontier, note, replica)
        SELECT size + 1, root, frontier, note, 'forged' FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
psql_kg -c "INSERT INTO audit (request_id, replica, key_id, decision, reason)
            VALUES (gen_random_uuid(), 'cli', 'k1', 'deny', 'no_policy')" >/dev/null
out=$("$kg" audit seal --db "$broker_dsn" --signing-key "$tmp/audit.key" 2>&1); rc=$?
check "a forged checkpoint beyond the tree: audit seal refuses to sign on top" test "$rc" -ne 0
check "... and says why" grep -q "a checkpoint covers more leaves than the tree holds" <<<"$out"
tamper "DELETE FROM audit_checkpoints WHERE replica = 'forged'"

# The whole tree wiped and every row queued again, while a broker runs:
# it remembers the tree it signed and refuses to sign a new, rewritten one.
"$kg" serve --config "$tmp/broker1.conf" 2>"$tmp/broker1b.log" &
pids+=($!)
kg_wait_http "${urls[0]}/healthz" "$tmp/tls/ca.pem" 100
for _ in $(seq 1 50); do [ "$(psql_kg -c "SELECT count(*) FROM audit_queue")" = 0 ] && break; sleep 0.1; done
before=$(psql_kg -c "SELECT max(size) FROM audit_checkpoints")
check "a restarted broker seals the queued row on top of the verified tree" test "$before" -ge 26
tamper "DELETE FROM audit_tree; DELETE FROM audit_checkpoints; INSERT INTO audit_queue (audit_id) SELECT audit_id FROM audit"
sleep 1.5
check "the running sealer refuses to re-seal a wiped log" test "$(psql_kg -c "SELECT count(*) FROM audit_tree")" = 0
check "... and logs why" grep -q "smaller than, or differs from, one this sealer signed" "$tmp/broker1b.log"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
"$kg" audit seal --db "$broker_dsn" --signing-key "$tmp/audit.key" >/dev/null 2>&1
out=$(verify --checkpoint "$tmp/pinned.note"); rc=$?
check "a fresh sealer would sign the rewritten log, but a checkpoint kept outside catches it" test "$rc" -eq 1
check "... as a pinned-checkpoint problem" grep -q "first problem (pinned)" <<<"$out"

# The views verify reads must be plain projections of their tables.
psql_kg -c "CREATE OR REPLACE VIEW audit_log AS SELECT * FROM audit WHERE audit_id > 0" >/dev/null
out=$(verify); rc=$?
check "an audit_log view redefined to filter rows: verify refuses to run" test "$rc" -eq 1
check "... and says why" grep -q "could not verify: config_invalid" <<<"$out"

# --- a stolen broker credential cannot stop sealing (0016) --------------------
# A fresh database, two brokers sealing.  The broker role appends the
# queue without a checkpoint, then stores a badly signed checkpoint of the
# tree (the database cannot check signatures); the sealers continue from
# their own newest checkpoint under concurrent requests, and verify names
# the forged one.
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
kg_psql postgres -c "CREATE DATABASE keygate2" >/dev/null || { echo "Bail out! createdb keygate2"; exit 1; }
"$kg" migrate --db "$(kg_pg_dsn keygate2 postgres)" --dir "$src/db/migrations" --dir "$tmp/mig" >/dev/null 2>&1 \
	|| { echo "Bail out! migrate keygate2"; exit 1; }
"$kg" collateral import --kind snp-crl "$tmp/crl.der" --db "$(kg_pg_dsn keygate2 postgres)" >/dev/null
psql_kg2() { kg_psql keygate2 -At "$@"; }
as_broker2() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgbroker -d keygate2 -c "$1" 2>&1; }
for i in 1 2; do
	sed "s|^db = .*|db = $(kg_pg_dsn keygate2 kgbroker)|" "$tmp/broker$i.conf" > "$tmp/broker$i-2.conf"
	"$kg" serve --config "$tmp/broker$i-2.conf" 2>"$tmp/broker$i-2.log" &
	pids+=($!)
	kg_wait_http "${urls[$((i - 1))]}/healthz" "$tmp/tls/ca.pem" 100 || { echo "Bail out! broker $i (keygate2)"; exit 1; }
done
burst() {
	local i m
	for i in $(seq 1 "$1"); do
		m=$meas; [ $((i % 3)) -eq 0 ] && m=$other
		client --url "${urls[$((i % 2))]}" --sim-measurement "$m" --key k1 >/dev/null 2>&1 &
	done
	wait_clients
}
drained() { for _ in $(seq 1 50); do [ "$(psql_kg2 -c "SELECT count(*) FROM audit_queue")" = 0 ] && return 0; sleep 0.1; done; return 1; }
covered() { for _ in $(seq 1 50); do [ "$(psql_kg2 -c "SELECT (SELECT count(*) FROM audit_tree) = (SELECT max(size) FROM audit_checkpoints)")" = t ] && return 0; sleep 0.1; done; return 1; }
rogue_row="INSERT INTO audit (request_id, replica, key_id, decision, reason) VALUES (gen_random_uuid(), 'rogue', 'k1', 'deny', 'no_policy')"
burst 12
drained; covered
check "(keygate2: 12 concurrent requests sealed by two brokers)" test "$(psql_kg2 -c "SELECT count(*) FROM audit_tree")" = 12
out=$(as_broker2 "BEGIN; $rogue_row; SELECT count(*) FROM kg_audit_append(1000); COMMIT")
check "the broker role can append the queue through kg_audit_append(), and only as the rows give it" test "$(psql_kg2 -c "SELECT count(*) FROM audit_tree")" = 13
check "... and the sealers cover those leaves with a signed checkpoint" covered
out=$(as_broker2 "BEGIN; $rogue_row; SELECT count(*) FROM kg_audit_append(1000);
	SELECT kg_audit_checkpoint((SELECT max(seq) + 1 FROM audit_tree), sha256(''), '', 'forged', 'rogue'); COMMIT"); rc=$?
check "the broker role can store a badly signed checkpoint of the current tree" test "$rc" -eq 0 -a "$(psql_kg2 -c "SELECT size FROM audit_checkpoints WHERE replica = 'rogue'")" = 14
burst 24
drained
covered
check "sealing goes on past it under concurrent requests from two brokers" test "$(psql_kg2 -c "SELECT count(*) FROM audit_tree")" = 38 -a "$(psql_kg2 -c "SELECT max(size) FROM audit_checkpoints")" = 38
check "... every row sealed once, at positions 0..37" test "$(psql_kg2 -c "SELECT count(*) = 38 AND count(DISTINCT audit_id) = 38 AND min(seq) = 0 AND max(seq) = 37 FROM audit_tree")" = t
check "... and the sealers said what they passed over" grep -q audit_checkpoint_not_own "$tmp/broker1-2.log" "$tmp/broker2-2.log"
verify2() { "$kg" audit verify --db "$(kg_pg_dsn keygate2 kgauditor)" --key "@$tmp/audit.vkey" "$@" 2>&1; }
out=$(verify2); rc=$?
check "audit verify names the forged checkpoint" test "$rc" -eq 1 -a -n "$(grep "first problem (signature)" <<<"$out")"
psql_kg2 -c "BEGIN; ALTER TABLE audit_checkpoints DISABLE TRIGGER USER; DELETE FROM audit_checkpoints WHERE replica = 'rogue';
	ALTER TABLE audit_checkpoints ENABLE TRIGGER USER; COMMIT" >/dev/null
out=$(verify2); rc=$?
check "without it, everything the brokers and the broker role appended verifies" test "$rc" -eq 0 -a -n "$(grep "rows: 38  sealed: 38" <<<"$out")"

# --- forged checkpoints at every size (0017) --------------------------------
# The attack that 0016 left open: the broker role polls the queue and,
# whenever a row appears, appends it and stores a junk checkpoint of the
# new size in the same transaction.  With size as the checkpoints' key the
# sealers could then never store theirs and signed nothing while the queue
# stayed empty.  Now a size takes several checkpoints and the sealers sign
# whenever none of their key covers the tree.
forge="SELECT count(*) FROM kg_audit_append(1000);
	SELECT kg_audit_checkpoint((SELECT COALESCE(max(seq) + 1, 0) FROM audit_tree), sha256(''), '', 'junk', 'rogue')"
attacker() {
	while :; do
		if [ "$(as_broker2 "SELECT count(*) FROM audit_queue")" != 0 ]; then
			as_broker2 "BEGIN; $forge; COMMIT" >/dev/null
		fi
		sleep 0.02
	done
}
signed_size() { "$kg" audit checkpoint --db "$(kg_pg_dsn keygate2 kgauditor)" --key "@$tmp/audit.vkey" 2>/dev/null | sed -n 2p; }
signed_all() {
	for _ in $(seq 1 50); do
		[ "$(signed_size)" = "$(psql_kg2 -c "SELECT count(*) FROM audit")" ] && return 0
		sleep 0.1
	done
	return 1
}
attacker & apid=$!
pids+=("$apid")
for round in 1 2 3 4; do
	burst 6
	as_broker2 "BEGIN; $rogue_row; $forge; COMMIT" >/dev/null
	sleep 0.3
done
kill "$apid"; wait "$apid" 2>/dev/null
pids=("${pids[@]/$apid}")
drained
# One more at the size the sealers already signed: the newest checkpoint is a forged one.
as_broker2 "BEGIN; $forge; COMMIT" >/dev/null
forged=$(psql_kg2 -c "SELECT count(*) FROM audit_checkpoints WHERE replica = 'rogue'")
rows=$(psql_kg2 -c "SELECT count(*) FROM audit")
check "(the attacker stored forged checkpoints at several sizes: $forged at $(psql_kg2 -c "SELECT count(DISTINCT size) FROM audit_checkpoints WHERE replica = 'rogue'") sizes)" \
	test "$(psql_kg2 -c "SELECT count(DISTINCT size) FROM audit_checkpoints WHERE replica = 'rogue'")" -ge 4
check "the sealers still signed a checkpoint of their key covering every row ($rows)" signed_all
check "... and after every forged checkpoint, stored one of their own of that size or larger" test "$(psql_kg2 -c "SELECT count(*)
	FROM audit_checkpoints f WHERE f.replica = 'rogue' AND NOT EXISTS (SELECT 1 FROM audit_checkpoints c
	WHERE c.replica LIKE 'audit-_' AND c.checkpoint_id < f.checkpoint_id AND c.size = f.size
	   OR c.replica LIKE 'audit-_' AND c.checkpoint_id > f.checkpoint_id AND c.size >= f.size)")" = 0
"$kg" audit checkpoint --db "$(kg_pg_dsn keygate2 kgauditor)" --key "@$tmp/audit.vkey" > "$tmp/pinned2.note"
check "audit checkpoint --key prints the newest signed one, not the newer forged one" \
	test "$(sed -n 2p "$tmp/pinned2.note")" = "$rows" -a "$(psql_kg2 -c "SELECT replica FROM audit_checkpoints ORDER BY checkpoint_id DESC LIMIT 1")" = rogue
# The expected verdict: not verified, and every problem is one forged
# checkpoint named as a `signature` problem (an unsigned row would add an
# `uncovered` one, a wrong leaf `tree` or `changed`):
#   audit log: NOT VERIFIED
#   first problem (signature): the checkpoint of size S (checkpoint I) is not signed by the audit key, or its note differs
#   problems: F (signature F)
#   rows: R  sealed: R  queued: 0 (oldest 0.0 s)  checkpoints: C  tree size: R
out=$(verify2 --checkpoint "$tmp/pinned2.note"); rc=$?
first=$(psql_kg2 -c "SELECT size || ' (checkpoint ' || checkpoint_id || ')' FROM audit_checkpoints WHERE replica = 'rogue' ORDER BY size, checkpoint_id LIMIT 1")
check "audit verify (pinned to the newest signed checkpoint): exit 1" test "$rc" -eq 1
check "... the first problem is the first forged checkpoint, as a signature problem" \
	grep -qx "first problem (signature): the checkpoint of size $first is not signed by the audit key, or its note differs" <<<"$out"
check "... every problem is a forged checkpoint ($forged), nothing else" grep -qx "problems: $forged (signature $forged)" <<<"$out"
check "... every row sealed, none queued" grep -q "^rows: $rows  sealed: $rows  queued: 0 " <<<"$out"
out=$(verify2 --json)
check "... audit verify --json: problems_by_kind is {signature: $forged}" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert not d["ok"] and d["problems_by_kind"] == {"signature": int(sys.argv[2])} and d["first_problem"]["kind"] == "signature" and d["tree_size"] == d["rows"], d' "$out" "$forged"

# A pile of junk checkpoints at one size costs each sealer one look, not
# one per sealing.
as_broker2 "BEGIN; SELECT count(kg_audit_checkpoint((SELECT max(seq) + 1 FROM audit_tree), sha256(''), '', 'junk', 'rogue'))
	FROM generate_series(1, 3000); COMMIT" >/dev/null
looked() { grep audit_checkpoint_not_own "$1" | grep -q '"skipped":"3000"'; }
for _ in $(seq 1 50); do looked "$tmp/broker1-2.log" && looked "$tmp/broker2-2.log" && break; sleep 0.1; done
check "3000 junk checkpoints at one size: each sealer passed over them (logged: 3000 skipped)" \
	eval 'looked "$tmp/broker1-2.log" && looked "$tmp/broker2-2.log"'
looks=$(cat "$tmp"/broker[12]-2.log | grep -c audit_checkpoint_not_own)
burst 6
drained
check "... still signs every row after them" signed_all
sleep 1
check "... and looked at them once: no sealing since passed over any (no new audit_checkpoint_not_own)" \
	test "$(cat "$tmp"/broker[12]-2.log | grep -c audit_checkpoint_not_own)" = "$looks"

# The size check must see the tree as it is once the lock is granted: a
# REPEATABLE READ snapshot taken before would show an older size.
stale=$(psql_kg2 -c "SELECT max(seq) + 1 FROM audit_tree")
(echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT max(seq) + 1 FROM audit_tree;"
	while [ "$(psql_kg2 -c "SELECT max(seq) + 1 FROM audit_tree")" = "$stale" ]; do sleep 0.1; done
	echo "SELECT kg_audit_checkpoint($stale, sha256(''), '', 'stale', 'rogue'); COMMIT;") |
	psql -X -q -At -v ON_ERROR_STOP=1 -h "$KG_PGHOST" -p "$KG_PGPORT" -U kgbroker -d keygate2 >"$tmp/stale.out" 2>&1 &
spid=$!
pids+=("$spid")
sleep 0.3
burst 3
drained
wait "$spid"; rc=$?
pids=("${pids[@]/$spid}")
check "(the tree grew past $stale meanwhile)" test "$(psql_kg2 -c "SELECT max(seq) + 1 FROM audit_tree")" -gt "$stale"
check "kg_audit_checkpoint() in a REPEATABLE READ snapshot from before the sealing: refused" \
	test "$rc" -ne 0 -a "$(psql_kg2 -c "SELECT count(*) FROM audit_checkpoints WHERE note = 'stale'")" = 0
out=$(as_broker2 "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT kg_audit_checkpoint((SELECT max(seq) + 1 FROM audit_tree), sha256(''), '', 'rr', 'rogue'); COMMIT"); rc=$?
check "... even at the current size, and says why" test "$rc" -ne 0 -a -n "$(grep "only in READ COMMITTED transactions, not repeatable read" <<<"$out")"
out=$(as_broker2 "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM kg_audit_append(10); COMMIT"); rc=$?
check "kg_audit_append() outside READ COMMITTED: refused" test "$rc" -ne 0 -a -n "$(grep "only in READ COMMITTED" <<<"$out")"
psql_kg2 -c "ALTER DATABASE keygate2 SET default_transaction_isolation = 'repeatable read'" >/dev/null
for p in "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
pids=()
psql_kg2 -c "INSERT INTO audit (request_id, replica, key_id, decision, reason)
            VALUES (gen_random_uuid(), 'cli', 'k1', 'deny', 'no_policy')" >/dev/null
out=$("$kg" audit seal --db "$(kg_pg_dsn keygate2 kgbroker)" --signing-key "$tmp/audit.key" 2>&1)
check "a database whose default is REPEATABLE READ: the sealer asks for READ COMMITTED and seals" grep -q '"sealed":1' <<<"$out"
check "... covering every row" signed_all

# Leaves someone else appended are signed only as their rows give them.
as_broker2 "BEGIN ISOLATION LEVEL READ COMMITTED; $rogue_row; SELECT count(*) FROM kg_audit_append(1000); COMMIT" >/dev/null
psql_kg2 -c "BEGIN; ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET peer = '192.0.2.9' WHERE audit_id = (SELECT max(audit_id) FROM audit);
	ALTER TABLE audit ENABLE TRIGGER USER; COMMIT" >/dev/null
out=$("$kg" audit seal --db "$(kg_pg_dsn keygate2 kgbroker)" --signing-key "$tmp/audit.key" 2>&1); rc=$?
check "a leaf appended without a checkpoint whose row changed since: audit seal refuses to sign it" \
	test "$rc" -ne 0 -a -n "$(grep "a stored leaf is not the hash of its row's entry" <<<"$out")"

echo "1..$n"
[ "$failed" -eq 0 ]
