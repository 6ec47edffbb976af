#!/usr/bin/env bash
# ringcast scraped by a real Prometheus (Debian's): ringcast-bench pushes a stream at a known rate
# to a known number of viewers, and Prometheus's HTTP API must report that viewer count, that
# rate in and out, and fire the example alert of docs/alerts.yml for a silent source. promtool
# lints the live exposition and checks and unit-tests the alert rules.
# Usage: prometheus_test.sh path/to/ringcast path/to/ringcast-bench. Loopback only; every wait
# is bounded by a count, every request by curl --max-time, and every child dies with the script.
set -euo pipefail

RINGCAST=${1:?usage: prometheus_test.sh path/to/ringcast path/to/ringcast-bench}
BENCH=${2:?usage: prometheus_test.sh path/to/ringcast path/to/ringcast-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
ALERTS=$(cd "$HERE/../../docs" && pwd)/alerts.yml
PASSWORD=hackme
VIEWERS=4
RATE_BITS=2000000                      # the broadcaster's rate (ringcast-bench --rate)
RATE_BYTES=$((RATE_BITS / 8))
WINDOW=6                               # seconds of samples behind each rate()
# How far a measured rate may be off, either way: over a window, and over one 250 ms sample
# (ringcast_mount_ingest_bytes_per_second). Runs here land within 1%.
TOLERANCE=0.10
TOLERANCE_INSTANT=0.25
source "$HERE/harness.sh"
require prometheus promtool curl jq awk base64

# near VALUE EXPECTED [TOLERANCE]: VALUE is within TOLERANCE (default $TOLERANCE) of EXPECTED.
near() {
  awk -v value="$1" -v expected="$2" -v tolerance="${3:-$TOLERANCE}" \
    'BEGIN { exit !(value >= expected * (1 - tolerance) && value <= expected * (1 + tolerance)) }'
}

# --- the example alert rules, offline ------------------------------------------------------------
promtool check rules "$ALERTS" >"$WORK/promtool.log" 2>&1 || fail "promtool check rules $ALERTS"
promtool test rules "$HERE/prometheus_alerts_test.yml" >"$WORK/promtool.log" 2>&1 ||
  fail "promtool test rules: an example alert misfires"
pass "promtool checks docs/alerts.yml and its unit tests pass"

# --- the relay, on an ephemeral port ---------------------------------------------------------------
# A long --source-timeout keeps the silent source (below) connected for the whole test.
start_ringcast "$RINGCAST" --source-password "$PASSWORD" --source-timeout 120
pass "ringcast listening on $BASE"

# --- Prometheus, scraping it every second ----------------------------------------------------------
# A static target on loopback and no remote write, alertmanager or service discovery: nothing
# reaches beyond this machine. Port 0: Prometheus logs the port it got.
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $ALERTS
scrape_configs:
  - job_name: ringcast
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
promtool check config "$WORK/prometheus.yml" >"$WORK/promtool.log" 2>&1 || fail "promtool check config"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address=127.0.0.1:0 >/dev/null 2>"$WORK/prometheus.log" &
PROMETHEUS=$!
CHILDREN+=("$PROMETHEUS")
PROM_PORT=$(wait_for_port "$WORK/prometheus.log" '.*msg="Listening on" address=127\.0\.0\.1:\([0-9]*\).*' \
  "$PROMETHEUS" prometheus)
PROM="http://127.0.0.1:$PROM_PORT"

# query EXPR [TIME]: the value of the one sample an instant query returns (fails on none or more).
query() {
  local args=(--data-urlencode "query=$1")
  [ $# -lt 2 ] || args+=(--data-urlencode "time=$2")
  curl -sfG --max-time 5 "${args[@]}" "$PROM/api/v1/query" >"$WORK/query.json" || return 1
  jq -er '.data.result | select(length == 1) | .[0].value[1]' "$WORK/query.json"
}

health=
for _ in $(seq 1 150); do
  health=$(curl -sf --max-time 2 "$PROM/api/v1/targets" |
    jq -r '.data.activeTargets[] | select(.labels.job == "ringcast") | .health' 2>/dev/null) || true
  [ "$health" = up ] && break
  kill -0 "$PROMETHEUS" 2>/dev/null || fail "prometheus exited"
  sleep 0.1
done
[ "$health" = up ] || fail "Prometheus's ringcast target is not up within 15 s (health: ${health:-none})"
pass "Prometheus on $PROM scrapes ringcast (target up)"

# --- the load: a broadcaster at RATE_BITS and VIEWERS viewers, plus a silent source -----------------
"$BENCH" --url "$BASE/bench.ts" --password "$PASSWORD" --relay-pid "$RELAY" -n "$VIEWERS" \
  --rate "$RATE_BITS" --warmup 1 --duration 16 >"$WORK/bench.out" 2>"$WORK/bench.log" &
BENCH_PID=$!
CHILDREN+=("$BENCH_PID")

# A source that sends its head and then nothing: the alert RingcastIngestZero must fire for it.
exec {SILENT}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PUT /silent.mp3 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: audio/mpeg\r\n\r\n' \
  "$(printf 'source:%s' "$PASSWORD" | base64)" >&"$SILENT"

viewers=
for _ in $(seq 1 200); do
  viewers=$(query 'ringcast_viewers{mount="/bench.ts"}') || true
  [ "$viewers" = "$VIEWERS" ] && break
  kill -0 "$BENCH_PID" 2>/dev/null || fail "ringcast-bench exited early"
  sleep 0.1
done
[ "$viewers" = "$VIEWERS" ] || fail "Prometheus reports ringcast_viewers=${viewers:-none}, not $VIEWERS, within 20 s"
# Every join (and its burst) happened before this scrape: rates start a scrape after it.
joined=$(query 'timestamp(ringcast_viewers{mount="/bench.ts"})') || fail "no timestamp for ringcast_viewers"
pass "Prometheus reports ringcast_viewers{mount=\"/bench.ts\"} = $viewers"

# --- the exposition passes promtool's parser and linter, under load ---------------------------------
curl -sf --max-time 5 "$BASE/metrics" >"$WORK/metrics.txt" || fail "GET /metrics failed"
lint=$(promtool check metrics <"$WORK/metrics.txt" 2>&1) || fail "promtool check metrics: $lint"
[ -z "$lint" ] || fail "promtool check metrics reports: $lint"
grep -q '^ringcast_mount_bytes_out_total{mount="/bench.ts"}' "$WORK/metrics.txt" ||
  fail "the linted exposition has no /bench.ts samples"
pass "promtool check metrics finds no problem in $(wc -l <"$WORK/metrics.txt") lines of /metrics"

# --- rates over a window that starts after the joins -------------------------------------------------
at=$(awk -v t="$joined" -v w="$WINDOW" 'BEGIN { printf "%.3f", t + 1.5 + w }')
latest=0
for _ in $(seq 1 300); do
  latest=$(query 'timestamp(ringcast_mount_bytes_out_total{mount="/bench.ts"})') || latest=0
  awk -v l="$latest" -v a="$at" 'BEGIN { exit !(l >= a) }' && break
  kill -0 "$BENCH_PID" 2>/dev/null || fail "ringcast-bench exited before the rate window ended"
  sleep 0.1
done
awk -v l="$latest" -v a="$at" 'BEGIN { exit !(l >= a) }' || fail "Prometheus has no samples up to $at within 30 s"

# expect_rate NAME EXPR EXPECTED [TOLERANCE]: EXPR evaluated at the window's end is near EXPECTED.
expect_rate() {
  local value tolerance=${4:-$TOLERANCE}
  value=$(query "$2" "$at") || fail "no single result for $2: $(cat "$WORK/query.json")"
  near "$value" "$3" "$tolerance" || fail "$1: $2 = $value, expected $3 ±$tolerance"
  pass "$1: $2 = $(printf '%.0f' "$value") (expected $3)"
}
# expect_exact NAME EXPR EXPECTED: EXPR evaluated at the window's end is EXPECTED.
expect_exact() {
  local value
  value=$(query "$2" "$at") || fail "no single result for $2: $(cat "$WORK/query.json")"
  [ "$value" = "$3" ] || fail "$1: $2 = $value, expected $3"
  pass "$1: $2 = $value"
}
range="[${WINDOW}s]"
expect_exact "viewers" 'ringcast_viewers{mount="/bench.ts"}' "$VIEWERS"
expect_exact "viewers by worker" 'sum(ringcast_worker_viewers)' "$VIEWERS"
expect_exact "source connected" 'ringcast_mount_source_connected{mount="/bench.ts"}' 1
expect_exact "silent source connected" 'ringcast_mount_source_connected{mount="/silent.mp3"}' 1
expect_rate "bytes out" "rate(ringcast_mount_bytes_out_total{mount=\"/bench.ts\"}$range)" $((VIEWERS * RATE_BYTES))
expect_rate "bytes out, relay-wide" "rate(ringcast_bytes_out_total$range)" $((VIEWERS * RATE_BYTES))
expect_rate "bytes in" "rate(ringcast_mount_bytes_in_total{mount=\"/bench.ts\"}$range)" "$RATE_BYTES"
expect_rate "ingest gauge" 'ringcast_mount_ingest_bytes_per_second{mount="/bench.ts"}' "$RATE_BYTES" \
  "$TOLERANCE_INSTANT"
expect_rate "ingest gauge, averaged" \
  "avg_over_time(ringcast_mount_ingest_bytes_per_second{mount=\"/bench.ts\"}$range)" "$RATE_BYTES"
bytes_out_rate=$(query "rate(ringcast_mount_bytes_out_total{mount=\"/bench.ts\"}$range)" "$at")

# --- the example alerts, evaluated by this Prometheus -------------------------------------------------
firing=
for _ in $(seq 1 200); do
  curl -sf --max-time 2 "$PROM/api/v1/alerts" >"$WORK/alerts.json" || true
  firing=$(jq -r '[.data.alerts[] | select(.state == "firing") | "\(.labels.alertname) \(.labels.mount)"]
    | join(", ")' "$WORK/alerts.json" 2>/dev/null) || true
  [ -n "$firing" ] && break
  sleep 0.1
done
[ "$firing" = "RingcastIngestZero /silent.mp3" ] ||
  fail "firing alerts are '${firing:-none}', expected only RingcastIngestZero for /silent.mp3"
pass "Prometheus fires RingcastIngestZero for the silent source, and nothing else"
curl -sf --max-time 2 "$PROM/api/v1/rules" >"$WORK/rules.json" || fail "GET /api/v1/rules failed"
unhealthy=$(jq -r '[.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.lastError)"]
  | join("; ")' "$WORK/rules.json")
[ -z "$unhealthy" ] || fail "alert rules that do not evaluate: $unhealthy"
pass "every rule of docs/alerts.yml evaluates without error"

# --- what the viewers themselves counted ---------------------------------------------------------------
for _ in $(seq 1 300); do
  kill -0 "$BENCH_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$BENCH_PID" 2>/dev/null && fail "ringcast-bench did not finish within 30 s"
status=0
reap "$BENCH_PID" || status=$?
[ "$status" -eq 0 ] || fail "ringcast-bench exited with status $status"
summary=$(sed -n 's/^JSON //p' "$WORK/bench.out")
[ -n "$summary" ] || fail "ringcast-bench printed no JSON summary"
connected=$(jq -r '.healthy.connected' <<<"$summary")
pulled=$(jq -r '.delivered_bytes / .window_s' <<<"$summary")
[ "$connected" = "$VIEWERS" ] || fail "ringcast-bench connected $connected viewers, not $VIEWERS"
near "$bytes_out_rate" "$pulled" ||
  fail "Prometheus's bytes-out rate $bytes_out_rate is not near the $pulled B/s the viewers received"
pass "the viewers received $(printf '%.0f' "$pulled") B/s; Prometheus saw $(printf '%.0f' "$bytes_out_rate") B/s"
