#!/usr/bin/env bash
# CI soak run of the load tool against the real relay, about a minute: 200 verifying viewers,
# 10 of them stalled for a while, 50 churning (10 leave per second, each replaced at once by a
# fresh connection) and the broadcaster reconnecting every 10 s with its last record cut short.
# ringcast-bench --expect-clean exits 1 unless: 0 corrupt records in every class, every steady
# viewer at full rate, every churned connection served, and (uninstrumented relay only) the
# relay's RSS flat after the warm-up.
# usage: soak_short.sh RINGCAST RINGCAST_BENCH
set -euo pipefail
relay=$1
bench=$2
source "$(dirname "$0")/../integration/harness.sh"
# 1 MiB ring: full within the warm-up, so its pages are resident before RSS is measured.
start_ringcast "$relay" --source-password soak --ring-size 1M

# Under ASan or TSan (the relay maps the runtime) the relay runs several times slower and
# ASan's quarantine keeps freed memory resident: a lighter stream, and no RSS bound.
rate=4M
rss_bound=(--max-rss-growth 2048)
if grep -qE 'libasan|libtsan' "/proc/$RELAY/maps"; then
  rate=1M
  rss_bound=()
  echo "instrumented relay: --rate $rate, RSS reported but not bounded"
fi
"$bench" relay --url "http://127.0.0.1:$PORT/soak.ts" --password soak --relay-pid "$RELAY" \
  --viewers 200 --ramp 200 --rate "$rate" --warmup 10 --duration 45 \
  --stall-viewers 10 --stall-after 10 --stall-for 3 \
  --churn 10 --churn-viewers 50 --source-reconnect-every 10 \
  "${rss_bound[@]}" --expect-clean
