#!/usr/bin/env bash
# CI smoke run of the load tool against the real relay: a few seconds, 20 verifying viewers
# (2 of them stalled for a while), asserting 0 corrupt records and full delivery
# (ringcast-bench --expect-clean exits 1 otherwise).
set -euo pipefail
relay=$1
bench=$2
source "$(dirname "$0")/../integration/harness.sh"
start_ringcast "$relay" --source-password smoke --ring-size 1M
"$bench" relay --url "http://127.0.0.1:$PORT/smoke.ts" --password smoke --relay-pid "$RELAY" \
  --viewers 20 --stall-viewers 2 --stall-after 1 --stall-for 2 --rate 2M \
  --warmup 1 --duration 4 --expect-clean
