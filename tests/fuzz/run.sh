#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 30) on a copy of its
# seed corpus. New corpus entries and crash files stay in build-fuzz/, never in the repository.
# Exits nonzero when any target crashes or fails a check.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail

seconds=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}

CXX=${CXX:-clang++-14} cmake -S "$root/tests/fuzz" -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc)"

status=0
for target in http_request ring chunked ts_tracker renderers proxy origin; do
  corpus=$build/corpus/$target
  artifacts=$build/artifacts/$target/
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$target/"* "$corpus/"
  echo "== ${target}_fuzz for ${seconds}s"
  if ! "$build/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" 2>"$build/$target.log"; then
    status=1
    echo "!! ${target}_fuzz failed; log: $build/$target.log, input in $artifacts"
    grep -E "check failed|ERROR: |runtime error|SUMMARY" "$build/$target.log" | head -5 || true
  fi
  grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec" \
    "$build/$target.log" || true
done
exit $status
