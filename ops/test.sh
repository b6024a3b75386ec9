#!/usr/bin/env bash
# Runs every Keygate test on a Debian 12 machine, installing what is missing:
#   1. build (warnings are errors) and run all suites: unit, fuzz-corpus replay,
#      HPKE interop with @hpke/core, end to end against a real PostgreSQL;
#   2. the same suites again in an ASan+UBSan build;
#   3. each libFuzzer target for KG_FUZZ_SECONDS (default 20) seconds.
# The last line is "N passed, N failed"; the exit code is 0 only if none failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

ops/deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }

logs=()
fail_setup=0
# build DIR [meson options...]: configure once, then build.
build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -50 "$dir.ninja.log"; return 1; }
}

echo "== build (gcc, -Werror)"
if build build; then
	meson test -C build --print-errorlogs --num-processes 2 || true
	logs+=(build/meson-logs/testlog.json)
else
	fail_setup=$((fail_setup + 1))
fi

echo "== ASan + UBSan build"
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite fuzz-replay --suite e2e || true
	logs+=(build-asan/meson-logs/testlog.json)
else
	fail_setup=$((fail_setup + 1))
fi

echo "== libFuzzer, ${KG_FUZZ_SECONDS:-20} s per target"
fuzz_results=$(mktemp)
if CC=clang build build-fuzz -Dfuzzing=true -Dwerror=false; then
	for t in tests/fuzz/fuzz_*.c; do
		name=$(basename "$t" .c)
		work=$(mktemp -d)
		cp -r "tests/fuzz/corpus/$name/." "$work/"
		if (cd "$work" && "$root/build-fuzz/tests/$name" -max_total_time="${KG_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 \
			-print_final_stats=0 . >"$work.log" 2>&1); then
			echo "ok fuzz $name" | tee -a "$fuzz_results"
		else
			echo "not ok fuzz $name" | tee -a "$fuzz_results"
			grep -A30 -E "ERROR|SUMMARY|crash-" "$work.log" | head -60
			mkdir -p build-fuzz/crashes && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* build-fuzz/crashes/ 2>/dev/null
		fi
		rm -rf "$work" "$work.log"
	done
else
	fail_setup=$((fail_setup + 1))
fi

python3 ops/summarize.py --setup-failures "$fail_setup" --extra "$fuzz_results" "${logs[@]}"
