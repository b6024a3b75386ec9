#!/usr/bin/env bash
# The boot path of the Clevis pin: Clevis's own initramfs-tools hook and
# Keygate's (client/clevis/initramfs-tools/keygate) build an initramfs tree;
# in a chroot of that tree — only what the hooks copied — the stock
# `clevis decrypt` unlocks a secret bound to a Keygate key while the
# simulated CVM attests, and fails once its measurement leaves the policy.
# TAP.
#
#   tests/e2e/initramfs.sh  (uses KG_BUILD_ROOT, KG_SOURCE_ROOT, else ./build and .)
set -uo pipefail

src=${KG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KG_BUILD_ROOT:-$src/build}
. "$src/ops/lib.sh"
. "$src/tests/e2e/broker_env.sh"

. "$src/tests/e2e/tap.sh"

stock_hook=/usr/share/initramfs-tools/hooks/clevis
[ -x "$stock_hook" ] || { echo "Bail out! $stock_hook missing (ops/deps.sh --test installs clevis-initramfs)"; exit 1; }

tmp=$(mktemp -d /tmp/keygate-initramfs.XXXXXX)
root=$tmp/initrd
cleanup() {
	umount "$root/proc" 2>/dev/null
	umount "$root/dev" 2>/dev/null
	kg_e2e_broker_stop "$tmp"
	if [ "$failed" -ne 0 ] && [ -f "$tmp/broker.log" ]; then
		echo "# broker log (last lines):"; tail -20 "$tmp/broker.log" | sed 's/^/# /'
	fi
	# Never follow a bind mount that is still in place.
	mountpoint -q "$root/dev" || mountpoint -q "$root/proc" || rm -rf "$tmp"
}
trap cleanup EXIT

meas=$(printf 'keygate initramfs image' | sha384sum | cut -c1-96)
other=$(printf 'some other image' | sha384sum | cut -c1-96)
mkdir -p "$tmp/mig"
cat > "$tmp/mig/0100_boot.sql" <<SQL
INSERT INTO keys (key_id, kind) VALUES ('root-disk', 'model');
INSERT INTO policies (key_id, tee, measurements) VALUES ('root-disk', 'snp', ARRAY['\\x$meas'::bytea]);
SQL
kg_e2e_broker_start "$tmp" "$tmp/mig" || { echo "Bail out! cannot start the broker"; exit 1; }
head -c 32 /dev/urandom > "$tmp/disk.material"
"$kg" key import --db "$admin_dsn" --kek "$tmp/kek" --id root-disk --file "$tmp/disk.material" >/dev/null \
	|| { echo "Bail out! key import"; exit 1; }

# Bind on the running system, as `clevis luks bind` would.
export PATH="$src/client/clevis:$bld/client:$PATH"
cfg=$(printf '{"url":"%s","key":"root-disk","ca":"%s","tee":"snp-sim","sim_dir":"%s","sim_measurement":"%s"}' \
	"$url" "$ca" "$tmp/sim" "$meas")
printf 'the volume key' | clevis encrypt keygate "$cfg" > "$tmp/jwe" 2>"$tmp/enc.err"
check "clevis encrypt keygate binds a secret while the CVM attests" test -s "$tmp/jwe"

# The initramfs tree, made by the hooks as mkinitramfs runs them, on the
# layout mkinitramfs prepares (usr-merged like the host).
mkdir -p "$root/etc" "$root/run" "$root/scripts" "$root/conf/conf.d"
for d in /bin /lib* /sbin; do
	mkdir -p "$root/usr$d"
	ln -s "usr$d" "$root$d"
done
export DESTDIR=$root verbose=n version=keygate-test-no-modules
"$stock_hook" >"$tmp/hook.log" 2>&1; rc=$?
check "Clevis's own initramfs-tools hook runs" test "$rc" -eq 0
"$src/client/clevis/initramfs-tools/keygate" >>"$tmp/hook.log" 2>&1; rc=$?
check "Keygate's initramfs-tools hook runs after it" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/hook.log"
out=$("$src/client/clevis/initramfs-tools/keygate" prereqs)
check "... and asks to run after Clevis's hook" test "$out" = clevis
for f in keygate-client clevis-decrypt-keygate clevis clevis-decrypt jose bash mktemp; do
	check "the initramfs holds $f" test -x "$root$(command -v "$f")"
done
unset DESTDIR verbose version
bash -n "$src/client/clevis/dracut/module-setup.sh"
check "the dracut module parses" test $? -eq 0

# At boot: only the initramfs, the kernel's /dev and /proc, the network.
mkdir -p "$root/dev" "$root/proc" "$root/tmp" "$root$tmp"
cp -r "$tmp/sim" "$root$tmp/sim"   # the simulated CVM's platform, at the path the JWE names
cp "$tmp/jwe" "$root/jwe"
if mount --bind /dev "$root/dev" && mount -t proc proc "$root/proc"; then
	check "keygate-client starts in the initramfs (every library it links is there)" \
		chroot "$root" "$(command -v keygate-client)" --help
	# The hooks copy each program to the path it has here (/usr/bin once
	# installed; the build and source folders in this test).
	boot_path=$src/client/clevis:$bld/client:/usr/sbin:/usr/bin:/sbin:/bin
	boot_decrypt() { env -i PATH="$boot_path" chroot "$root" clevis decrypt < "$root/jwe"; }
	out=$(boot_decrypt 2>"$tmp/dec.err"); rc=$?
	check "in the initramfs, stock 'clevis decrypt' unlocks through the keygate pin" test "$rc" -eq 0 -a "$out" = "the volume key"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/dec.err"
	kg_psql keygate -c "UPDATE policies SET measurements = ARRAY['\\x$other'::bytea] WHERE key_id = 'root-disk'" >/dev/null
	out=$(boot_decrypt 2>"$tmp/dec.err"); rc=$?
	check "once the measurement leaves the policy, the initramfs cannot unlock" test "$rc" -ne 0 -a -z "$out"
	check "... and says why" grep -q "measurement_not_allowed" "$tmp/dec.err"
	umount "$root/proc"
	umount "$root/dev"
else
	not_ok "mount /dev and /proc into the initramfs chroot" "needs CAP_SYS_ADMIN"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
