#!/usr/bin/env bash
# HPKE interop test: Keygate's hpke-tool against @hpke/core from npm.
#
#   bash tests/interop/run.sh /path/to/hpke-tool
#
# Installs the pinned npm packages (npm ci from package-lock.json) into
# tests/interop/node_modules when they are missing, then runs interop.mjs.
# Exits 0 only when every check passed; a missing node or npm is a failure,
# not a skip, so that the interop claim never passes silently.
set -euo pipefail

tool=${1:-}
if [[ -z "$tool" ]]; then
	echo "usage: $0 /path/to/hpke-tool" >&2
	exit 2
fi
if [[ ! -x "$tool" ]]; then
	echo "run.sh: $tool is not an executable" >&2
	exit 1
fi
tool=$(cd "$(dirname "$tool")" && pwd)/$(basename "$tool")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for prog in node npm; do
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "run.sh: $prog is not installed; the HPKE interop test cannot run" >&2
		exit 1
	fi
done

# Two builds (e.g. plain and sanitizer) may run this test at once: the
# install is serialised on a lock of this directory.
install_deps() {
	if [[ -f "$here/node_modules/@hpke/core/package.json" &&
		-f "$here/node_modules/@hpke/chacha20poly1305/package.json" ]]; then
		return 0
	fi
	echo "run.sh: installing npm packages in $here" >&2
	if [[ -f "$here/package-lock.json" ]]; then
		(cd "$here" && npm ci --no-audit --no-fund >&2)
	else
		(cd "$here" && npm install --no-audit --no-fund >&2)
	fi
}
exec 9<"$here"
flock 9
install_deps
flock -u 9
exec 9<&-

cd "$here"
exec node "$here/interop.mjs" "$tool"
