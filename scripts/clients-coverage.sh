#!/usr/bin/env bash
# scripts/clients-coverage.sh [TEST...]: which tests of the clients tier reach relay code that
# unit + integration do not. scripts/test.sh runs under AddressSanitizer only the clients tests
# this names; run it again when the clients tier or the integration tier changes (about 15
# minutes: a gcov build in build-cov, unit + integration, then each clients test alone).
#
# Prints, per clients test, the relay source lines it executes that unit + integration never
# do, by file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}" "${RINGCAST_TEST_PACKAGES[@]}"
build=build-cov
out=$build/coverage
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=--coverage \
  -DCMAKE_EXE_LINKER_FLAGS=--coverage >/dev/null
cmake --build "$build" -j"$(nproc)"
mkdir -p "$out"

# collect NAME: the relay's executed lines (file:line) since the last reset, into $out/NAME.json.
collect() {
  python3 - "$build" "$out/$1.json" <<'PY'
import json, os, subprocess, sys
build, out = os.path.abspath(sys.argv[1]), sys.argv[2]
lines = set()
for root, _, files in os.walk(build):
    for f in files:
        if not f.endswith(".gcda"):
            continue
        run = subprocess.run(["gcov", "--stdout", "--json-format", "-o", root, os.path.join(root, f)],
                             capture_output=True, text=True, cwd=root)
        for doc in run.stdout.splitlines():
            if not doc.startswith("{"):
                continue
            for source in json.loads(doc)["files"]:
                name = source["file"]
                if not name.startswith(os.path.dirname(build) + "/") or "/tests/" in name:
                    continue
                name = os.path.relpath(name, os.path.dirname(build))
                lines.update(f"{name}:{l['line_number']}" for l in source["lines"] if l["count"] > 0)
json.dump(sorted(lines), open(out, "w"))
PY
}
reset() { find "$build/" -name '*.gcda' -delete; }

reset
# Under gcov's -O0 a few timing-bound integration tests may fail; their lines still count.
ctest --test-dir "$build" -L '^(unit|integration)$' -j"$(nproc)" --timeout 300 >"$out/base.log" 2>&1 || true
collect base
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ctest --test-dir "$build" -N -L '^clients$' |
  sed -n 's/^ *Test *#[0-9]*: //p' | grep -v '^package$')
for test in "${tests[@]}"; do
  reset
  status=passed
  ctest --test-dir "$build" -R "^${test}\$" --timeout 300 >"$out/$test.log" 2>&1 || status=failed
  collect "$test"
  python3 - "$out" "$test" "$status" <<'PY'
import collections, json, sys
out, test, status = sys.argv[1:]
base = set(json.load(open(f"{out}/base.json")))
mine = set(json.load(open(f"{out}/{test}.json")))
unique = mine - base
print(f"{test} ({status}): {len(mine)} lines, {len(unique)} that unit + integration do not reach")
for name, count in collections.Counter(l.rsplit(":", 1)[0] for l in unique).most_common():
    print(f"  {count:5d} {name}")
PY
done
