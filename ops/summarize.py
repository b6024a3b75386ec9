#!/usr/bin/env python3
"""Counts test results from meson's testlog.json files (and extra TAP-like
lines) and prints the closing line "N passed, N failed".  A test program
that reports sub-tests (TAP "ok"/"not ok" lines, cmocka "[ OK ]"/"[ FAILED ]"
lines) counts once per sub-test; any other test counts once.  Exit 1 when
anything failed."""
import argparse
import json
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b")
# cmocka's closing lines: "[  PASSED  ] 6 test(s)." / "[  FAILED  ] 2 test(s), listed below:"
CMOCKA_PASSED = re.compile(r"^\[\s+PASSED\s+\]\s+(\d+) test")
CMOCKA_FAILED = re.compile(r"^\[\s+FAILED\s+\]\s+(\d+) test")


def count_test(entry):
    out = "\n".join(entry.get(k) or "" for k in ("stdout", "stderr", "stdo", "stde"))
    lines = out.splitlines()
    result = entry.get("result", "")
    good = result in ("OK", "EXPECTEDFAIL")
    skipped = result == "SKIP"
    tap_ok = sum(1 for l in lines if TAP.match(l) and l.startswith("ok"))
    tap_bad = sum(1 for l in lines if TAP.match(l) and l.startswith("not ok"))
    cm_ok = sum(int(m.group(1)) for m in map(CMOCKA_PASSED.match, lines) if m)
    cm_bad = sum(int(m.group(1)) for m in map(CMOCKA_FAILED.match, lines) if m)
    passed, failed = tap_ok + cm_ok, tap_bad + cm_bad
    if passed + failed == 0:
        return (0, 0, 1) if skipped else ((1, 0, 0) if good else (0, 1, 0))
    if not good and failed == 0:
        failed = 1  # crashed or timed out after its last report
    return passed, failed, 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--setup-failures", type=int, default=0)
    ap.add_argument("--extra", action="append", default=[])
    ap.add_argument("logs", nargs="*")
    a = ap.parse_args()
    passed, failed, skipped = 0, a.setup_failures, 0
    failures = []
    for path in a.logs:
        try:
            with open(path) as f:
                for line in f:
                    if not line.strip():
                        continue
                    e = json.loads(line)
                    p, fl, s = count_test(e)
                    passed, failed, skipped = passed + p, failed + fl, skipped + s
                    if fl:
                        failures.append(f"{path.rsplit('/', 3)[-3]}: {e.get('name')}")
        except FileNotFoundError:
            failed += 1
            failures.append(f"missing {path}")
    for path in a.extra:
        with open(path) as f:
            for line in f:
                if line.startswith("ok"):
                    passed += 1
                elif line.startswith("not ok"):
                    failed += 1
                    failures.append(line.strip())
    for name in failures:
        print(f"FAILED: {name}")
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
