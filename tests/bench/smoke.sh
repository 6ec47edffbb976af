#!/usr/bin/env bash
# CI smoke run of the load tool against the real relay: a few seconds, 20 verifying viewers
# (2 of them stalled for a while), asserting 0 corrupt records and full delivery
# (ringcast-bench --expect-clean exits 1 otherwise).
set -euo pipefail
relay=$1
bench=$2
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
"$relay" --listen 127.0.0.1:0 --source-password smoke --ring-size 1M 2>"$log" >/dev/null &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "relay did not start"; cat "$log"; exit 1; }
"$bench" relay --url "http://127.0.0.1:$port/smoke.ts" --password smoke --relay-pid "$pid" \
  --viewers 20 --stall-viewers 2 --stall-after 1 --stall-for 2 --rate 2M \
  --warmup 1 --duration 4 --expect-clean
