#!/usr/bin/env bash
# The cost of a relay tree, on this machine: one origin fed by ringcast-bench's broadcaster,
# and byte-verified viewers reading from the origin itself, from one edge, or spread over two
# edges (--relay-origin). Each cell is run RUNS times (median reported); every run is bounded.
#
#   direct   viewers on the origin: its CPU per delivered GB and the viewers' latency
#   edge1    viewers on one edge: the edge's CPU, the latency through the hop, the origin's CPU
#   edge2    viewers split over two edges: the origin's CPU (it must not grow with the edges'
#            audiences: it serves one listener per edge)
#
# Usage: scripts/bench-relay-tree.sh [BUILD_DIR]   (default: build)
# Environment: VIEWERS (2000), RATE (1M), CHUNK (4096), WARMUP (3), DURATION (8), RUNS (3),
# CELLS ("direct edge1 edge2"), EXPECT_CLEAN (1: exit 1 when a run is not clean). A run that is
# not clean prints why and keeps the bench's output.
set -euo pipefail

BUILD=${1:-build}
RINGCAST=$BUILD/relay/ringcast
BENCH=$BUILD/tests/bench/ringcast-bench
VIEWERS=${VIEWERS:-2000}
RATE=${RATE:-1M}
CHUNK=${CHUNK:-4096}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-8}
RUNS=${RUNS:-3}
PASSWORD=bench-tree
[ -x "$RINGCAST" ] && [ -x "$BENCH" ] || { echo "build $RINGCAST and $BENCH first" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME ARGS...: a ringcast on a free loopback port; sets PORT and PID.
start() {
  local name=$1
  shift
  "$RINGCAST" --listen 127.0.0.1:0 --source-password "$PASSWORD" "$@" >/dev/null 2>"$WORK/$name.log" &
  PID=$!
  PIDS+=("$PID")
  PORT=
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$WORK/$name.log" | head -n 1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "$name did not start: $(cat "$WORK/$name.log")" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run CELL: one run of the cell; prints "cell server_cpu_s_per_gb p50_us p99_us origin_cpu_s delivered_gb clean".
run() {
  local cell=$1 sampled viewer_ports=() origin_pid
  start origin
  local origin_port=$PORT
  origin_pid=$PID
  case $cell in
    direct) sampled=$origin_pid ;;
    edge1)
      start edge1 --relay-origin "http://127.0.0.1:$origin_port"
      sampled=$PID
      viewer_ports=(--viewer-ports "$PORT")
      ;;
    edge2)
      start edge1 --relay-origin "http://127.0.0.1:$origin_port"
      sampled=$PID
      local first=$PORT
      start edge2 --relay-origin "http://127.0.0.1:$origin_port"
      viewer_ports=(--viewer-ports "$first,$PORT")
      ;;
  esac
  local before after
  before=$(cpu_ticks "$origin_pid")
  timeout $((WARMUP + DURATION + 120)) "$BENCH" --port "$origin_port" "${viewer_ports[@]}" --password "$PASSWORD" \
    --relay-pid "$sampled" -n "$VIEWERS" --rate "$RATE" --chunk "$CHUNK" --warmup "$WARMUP" \
    --duration "$DURATION" >"$WORK/bench.out" 2>"$WORK/bench.err" || true
  after=$(cpu_ticks "$origin_pid")
  local json
  json=$(sed -n 's/^JSON //p' "$WORK/bench.out")
  [ -n "$json" ] || { echo "the bench failed: $(tail -5 "$WORK/bench.err")" >&2; exit 1; }
  if [ "$(jq -r .clean <<<"$json")" != true ]; then
    echo "$cell: not clean: $(jq -c .failures <<<"$json")" >&2
    cp "$WORK/bench.out" "${KEEP_DIR:-/tmp}/bench-relay-tree-$cell-unclean.out"
    echo "$cell" >>"$WORK/unclean"
  fi
  # The origin's CPU over the whole run (ramp, warm-up and window), per second of it.
  local hz
  hz=$(getconf CLK_TCK)
  jq -r --arg cell "$cell" --argjson ticks $((after - before)) --argjson hz "$hz" \
    '[$cell, (.server_cpu_s_per_gb | tostring), (.healthy.latency_p50_us | tostring),
      (.healthy.latency_p99_us | tostring), (($ticks / $hz) | tostring),
      ((.delivered_bytes / 1e9) | tostring), (.clean | tostring)] | join(" ")' <<<"$json"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "relay tree: $VIEWERS viewers at $RATE bit/s, $CHUNK-byte source writes, ${DURATION} s windows, median of $RUNS"
printf '%-7s %22s %10s %10s %24s %8s\n' cell "CPU-s/GB (sampled)" "p50 µs" "p99 µs" "origin CPU-s (whole run)" clean
for cell in ${CELLS:-direct edge1 edge2}; do
  : >"$WORK/$cell.rows"
  for _ in $(seq 1 "$RUNS"); do run "$cell" >>"$WORK/$cell.rows"; done
  printf '%-7s %22s %10s %10s %24s %8s\n' "$cell" \
    "$(cut -d' ' -f2 "$WORK/$cell.rows" | median)" "$(cut -d' ' -f3 "$WORK/$cell.rows" | median)" \
    "$(cut -d' ' -f4 "$WORK/$cell.rows" | median)" "$(cut -d' ' -f5 "$WORK/$cell.rows" | median)" \
    "$(cut -d' ' -f7 "$WORK/$cell.rows" | sort -u | tr '\n' ' ')"
done
if [ "${EXPECT_CLEAN:-0}" = 1 ] && [ -s "$WORK/unclean" ]; then
  echo "not clean: $(sort -u "$WORK/unclean" | tr '\n' ' ')" >&2
  exit 1
fi
