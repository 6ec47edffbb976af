#!/usr/bin/env bash
# Runs the same ringcast-bench load against the limit-mode writer (the ceiling), ringcast and,
# if installed, Icecast 2.4, all on loopback, and prints CPU-seconds per delivered GB and each
# server's ratio to the ceiling. Every server it starts is stopped by its pid on exit.
#
# usage: scripts/bench-vs-icecast.sh [extra ringcast-bench options, e.g. -n 2000 --rate 4M]
# env:   BUILD=build  BENCH=$BUILD/tests/bench/ringcast-bench  RINGCAST=$BUILD/relay/ringcast
#        ICECAST=icecast2 (skipped when not found)  OUT=directory for logs and JSON lines
#        LIMIT_ARGS="--limit-flush-ms 20" to compare with a relay that coalesces writes
set -euo pipefail

BUILD=${BUILD:-build}
BENCH=${BENCH:-$BUILD/tests/bench/ringcast-bench}
RINGCAST=${RINGCAST:-$BUILD/relay/ringcast}
ICECAST=${ICECAST:-$(command -v icecast2 || command -v icecast || true)}
OUT=${OUT:-$(mktemp -d /tmp/bench-vs-icecast.XXXXXX)}
PASSWORD=bench-$$
ARGS=(-n 200 --rate 4M --warmup 2 --duration 10 "$@")
command -v jq >/dev/null || { echo "jq is required" >&2; exit 2; }
[[ -x $BENCH ]] || { echo "no ringcast-bench at $BENCH (set BENCH=)" >&2; exit 2; }

SERVER_PIDS=()
cleanup() { for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Waits (bounded) for a log line matching a regex and prints its first capture group.
wait_for_log() {
  local log=$1 regex=$2
  for _ in $(seq 100); do
    if [[ $(cat "$log" 2>/dev/null) =~ $regex ]]; then echo "${BASH_REMATCH[1]}"; return 0; fi
    sleep 0.05
  done
  return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_bench() {  # name, then ringcast-bench arguments; leaves the JSON line in $OUT/name.json
  local name=$1; shift
  echo "== $name" >&2
  "$BENCH" "$@" "${ARGS[@]}" >"$OUT/$name.txt" 2>"$OUT/$name.progress" || true
  grep '^JSON ' "$OUT/$name.txt" | cut -c6- >"$OUT/$name.json"
  grep -v '^JSON ' "$OUT/$name.txt" >&2
}

run_bench limit limit ${LIMIT_ARGS:-}

if [[ -x $RINGCAST ]]; then
  "$RINGCAST" --listen 127.0.0.1:0 --source-password "$PASSWORD" 2>"$OUT/ringcast.log" &
  SERVER_PIDS+=($!)
  port=$(wait_for_log "$OUT/ringcast.log" 'listening on http://127\.0\.0\.1:([0-9]+)/') ||
    { echo "ringcast did not start; see $OUT/ringcast.log" >&2; exit 2; }
  run_bench ringcast --port "$port" --password "$PASSWORD" --relay-pid "${SERVER_PIDS[-1]}"
else
  echo "no ringcast at $RINGCAST: skipped" >&2
fi

if [[ -n $ICECAST ]]; then
  port=$(free_port)
  mkdir -p "$OUT/icecast/log"
  cat >"$OUT/icecast/icecast.xml" <<XML
<icecast>
  <limits><clients>100000</clients><sources>2</sources><queue-size>524288</queue-size>
    <burst-size>65536</burst-size><source-timeout>10</source-timeout></limits>
  <authentication><source-password>$PASSWORD</source-password>
    <admin-user>admin</admin-user><admin-password>$PASSWORD</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$port</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><logdir>$OUT/icecast/log</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><errorlog>-</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
XML
  "$ICECAST" -c "$OUT/icecast/icecast.xml" >"$OUT/icecast.log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.05
  done
  run_bench icecast --port "$port" --password "$PASSWORD" --relay-pid "${SERVER_PIDS[-1]}"
else
  echo "no icecast2 on PATH: skipped" >&2
fi

limit_cost=$(jq '.server_cpu_s_per_gb // 0' "$OUT/limit.json")
printf '\n%-9s %8s %10s %9s %8s %8s %s\n' server clean cpu-s/GB "x limit" "p99 ms" "rss MB" failures
for name in limit ringcast icecast; do
  [[ -s $OUT/$name.json ]] || continue
  jq -r --argjson limit "$limit_cost" --arg name "$name" '
    [$name, (.clean|tostring), (.server_cpu_s_per_gb // 0),
     (if $limit > 0 then (.server_cpu_s_per_gb // 0) / $limit else 0 end),
     (.healthy.latency_p99_us / 1000), ((.server_rss_end_bytes // 0) / 1e6),
     (.failures | join("; "))] | @tsv' "$OUT/$name.json" |
    awk -F'\t' '{ printf "%-9s %8s %10.3f %9.2f %8.2f %8.1f %s\n", $1, $2, $3, $4, $5, $6, $7 }'
done
echo "logs and JSON: $OUT" >&2
