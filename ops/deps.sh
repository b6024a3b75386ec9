#!/usr/bin/env bash
# Installs what Keygate needs to build, run and test, on Debian 12.
# Usage: ops/deps.sh [--test]   (--test adds the test-only tools)
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc libc6-dev libsodium-dev libssl-dev openssl libpq-dev libmicrohttpd-dev
      libgnutls28-dev libjansson-dev libcbor-dev libcurl4-openssl-dev libcmocka-dev curl ca-certificates
      libxml2-dev libxmlsec1-dev libxmlsec1-openssl
      postgresql postgresql-client python3 util-linux procps libp11-kit-dev)
if [ "${1:-}" = "--test" ]; then
	# fuse3 + libfuse3-dev: fake_tsm (configfs-tsm look-alike); clevis,
	# jose, cryptsetup: the Clevis pin's test; keyutils: keyctl; strace:
	# "no key in argv"; softhsm2: a PKCS#11 token for the KEK tests;
	# opensc: pkcs11-tool; clevis-initramfs: the stock boot hook the
	# initramfs test builds on; xmlsec1: re-signs NVIDIA's RIMs for tests;
	# python3-cryptography: keys.sh writes a pre-0015 wrapped key itself.
	pkgs+=(clang libclang-rt-14-dev nodejs npm fuse3 libfuse3-dev clevis clevis-luks jose cryptsetup-bin keyutils strace
	       softhsm2 opensc clevis-initramfs xmlsec1 python3-cryptography)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian (as on CI images): keep those.
if [ "${1:-}" = "--test" ] && command -v node >/dev/null && command -v npm >/dev/null; then
	m2=()
	for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || m2+=("$p"); done
	missing=("${m2[@]+"${m2[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "ops/deps.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
	exit 1
fi
echo "ops/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# The postgresql package would start a system cluster; Keygate's scripts run
# their own throwaway cluster instead, so keep the service from starting.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
