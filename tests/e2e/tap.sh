# TAP for the end-to-end scripts.  Source it; needs bash.
#   ok NAME, not_ok NAME [DETAIL], skip NAME WHY, check NAME COMMAND...
# The script ends with: echo "1..$n"; [ "$failed" -eq 0 ]
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2" | head -c 2000; echo; }
check() { local name=$1; shift; if "$@" >&2; then ok "$name"; else not_ok "$name" "command: $*"; fi; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
