#!/bin/bash
# dracut module 60clevis-pin-keygate (installed as
# /usr/lib/dracut/modules.d/60clevis-pin-keygate/module-setup.sh): the
# Keygate Clevis pin and keygate-client, beside clevis-dracut's modules, so
# that its systemd units unlock volumes bound with the keygate pin.
# See docs/clevis.md, "At boot".

depends() {
	echo clevis network
	return 0
}

install() {
	# The broker is on the network: bring it up in the initramfs.
	if [ "${hostonly_cmdline}" = "yes" ]; then
		echo "rd.neednet=1" > "${initdir}/etc/cmdline.d/99clevis-pin-keygate.conf"
	fi
	inst_multiple clevis-decrypt-keygate keygate-client mktemp sed rm cat
	inst_libdir_file "libnss_dns.so.*" "libnss_files.so.*"
}

installkernel() {
	# The guest drivers behind configfs-tsm and /dev/sev-guest.
	instmods sev-guest tdx-guest
}
