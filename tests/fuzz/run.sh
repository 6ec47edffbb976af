#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 30) on a copy of its
# seed corpus, as many targets at a time as there are cores (each fuzzer is one process on one
# core). New corpus entries and crash files stay in build-fuzz/, never in the repository.
# Exits nonzero when any target crashes or fails a check.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail

seconds=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
targets=(http_request ring chunked ts_tracker renderers proxy origin)

CXX=${CXX:-clang++-14} cmake -S "$root/tests/fuzz" -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc)"

# One target: its exit status goes to $build/$target.status, its output to $build/$target.log.
fuzz_one() {
  local target=$1 corpus=$build/corpus/$1 artifacts=$build/artifacts/$1/ rc=0
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$target/"* "$corpus/"
  "$build/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" 2>"$build/$target.log" || rc=$?
  echo "$rc" >"$build/$target.status"
}

echo "== ${#targets[@]} fuzz targets, ${seconds}s each, $(nproc) at a time"
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait

status=0
for target in "${targets[@]}"; do
  echo "== ${target}_fuzz"
  if [ "$(cat "$build/$target.status")" != "0" ]; then
    status=1
    echo "!! ${target}_fuzz failed; log: $build/$target.log, input in $build/artifacts/$target/"
    grep -E "check failed|ERROR: |runtime error|SUMMARY" "$build/$target.log" | head -5 || true
  fi
  grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec" \
    "$build/$target.log" || true
done
exit $status
