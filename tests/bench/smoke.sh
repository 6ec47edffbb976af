#!/usr/bin/env bash
# CI smoke run of the load tool against the real relay: a few seconds, 20 verifying viewers
# (2 of them stalled for a while), asserting 0 corrupt records and full delivery
# (ringcast-bench --expect-clean exits 1 otherwise); then 10 ICY listeners of a radio mount
# for a few seconds, with a title update a second: every metadata block well formed, the
# stream byte-exact around them, and every listener has the last title in time.
set -euo pipefail
relay=$1
bench=$2
source "$(dirname "$0")/../integration/harness.sh"
start_ringcast "$relay" --source-password smoke --ring-size 1M
"$bench" relay --url "http://127.0.0.1:$PORT/smoke.ts" --password smoke --relay-pid "$RELAY" \
  --viewers 20 --stall-viewers 2 --stall-after 1 --stall-for 2 --rate 2M \
  --warmup 1 --duration 4 --expect-clean
"$bench" relay --url "http://127.0.0.1:$PORT/smoke.mp3" --password smoke --relay-pid "$RELAY" \
  --viewers 10 --rate 1M --chunk 1024 --content-type audio/mpeg --icy --title-every 1 \
  --warmup 1 --duration 2 --expect-clean
