#!/usr/bin/env bash
# The live dashboard in headless Chromium: two ffmpeg broadcasts, four curl viewers and three
# refusals set up against a real ringcast, then dashboard_check.py loads / and checks that the
# page shows what /stats says (and what was set up), and saves a screenshot.
# Usage: dashboard_test.sh path/to/ringcast [screenshot.png]
#   RINGCAST_DASHBOARD_SCREENSHOT overrides where the screenshot goes (default: the second
#   argument, else dashboard.png here). RINGCAST_DASHBOARD_WARMUP=SECONDS lets the stream run
#   that much longer first, viewers joining one by one (for the picture in docs/operations.md).
# Exits 1 on the first failed check; every wait is bounded and all children die with the script.
set -euo pipefail

RINGCAST=${1:?usage: dashboard_test.sh path/to/ringcast [screenshot.png]}
SCREENSHOT=${RINGCAST_DASHBOARD_SCREENSHOT:-${2:-$PWD/dashboard.png}}
WARMUP=${RINGCAST_DASHBOARD_WARMUP:-0}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PASSWORD=hackme
source "$HERE/harness.sh"

for tool in ffmpeg curl timeout python3 chromium; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh lists it)"
done

# --- the relay, on an ephemeral port ---------------------------------------------------------
start_ringcast "$RINGCAST" --source-password "$PASSWORD" --workers 2
pass "ringcast listening on $BASE"

# push MOUNT [ffmpeg input and output options...]: a live broadcast, in the background, until
# the relay has received its first 20 KB.
push() {
  local mount=$1
  shift
  timeout 120 ffmpeg -hide_banner -nostdin -loglevel warning -re "$@" \
    "icecast://source:$PASSWORD@127.0.0.1:$PORT$mount" 2>"$WORK/push${mount//\//_}.log" &
  CHILDREN+=("$!")
  wait_for_stream "$mount" 20000 "$!"
  pass "ffmpeg is broadcasting on $mount"
}

# watch MOUNT: one curl viewer, in the background, reading until the test ends.
watch() {
  timeout 120 curl -s -o /dev/null "$BASE$1" &
  CHILDREN+=("$!")
}

# wait_viewers MOUNT N: /stats counts N viewers of MOUNT within 10 s.
wait_viewers() {
  local viewers=
  for _ in $(seq 1 100); do
    viewers=$(mount_stat "$1" viewers)
    [ "${viewers:-}" = "$2" ] && return 0
    sleep 0.1
  done
  fail "/stats counts ${viewers:-no} viewers of $1, not $2, after 10 s"
}

push /live.ts -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi -i sine=frequency=440 \
  -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -b:v 400k -c:a aac -b:a 64k \
  -f mpegts -content_type video/mp2t
push /radio.mp3 -f lavfi -i sine=frequency=330 -c:a libmp3lame -b:a 128k -f mp3 \
  -content_type audio/mpeg

# The radio mount's title, as an encoder sets it; the page shows it in the mount's row.
status=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' -u "source:$PASSWORD" \
  "$BASE/admin/metadata?mount=/radio.mp3&mode=updinfo&song=Miles%20Davis%20-%20So%20What") || true
[ "$status" = 200 ] || fail "the title update answered $status"

# Viewers: three of /live.ts, one of /radio.mp3 (spread over the warm-up, if any).
pause=$(awk -v w="$WARMUP" 'BEGIN { printf "%.1f", w / 5 }')
for viewer in 1 2 3; do
  watch /live.ts
  wait_viewers /live.ts "$viewer"
  sleep "$pause"
done
watch /radio.mp3
wait_viewers /radio.mp3 1
sleep "$pause"
pass "3 viewers on /live.ts, 1 on /radio.mp3"

# Refusals: two sources with the wrong password (401), one viewer of no mount (404).
for _ in 1 2; do
  status=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary x \
    -u source:wrong "$BASE/live.ts") || true
  [ "$status" = 401 ] || fail "a wrong password got $status, not 401"
done
status=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "$BASE/nothing-here.ts") || true
[ "$status" = 404 ] || fail "an unknown mount got $status, not 404"
pass "2 refused sources (401), 1 unknown mount (404)"

# The history must have sampled all of it, and hold a few samples for the charts.
uptime_now() { timeout 5 curl -sf "$BASE/stats" | sed -n 's/.*"uptime_seconds": \([0-9.]*\).*/\1/p'; }
newest_sample() {
  timeout 5 curl -sf "$BASE/stats/history" | grep -o '"uptime_seconds":[0-9.]*' | tail -n 1 | cut -d: -f2
}
set_up_at=$(uptime_now)
sampled=
for _ in $(seq 1 60); do
  sampled=$(newest_sample)
  [ -n "$sampled" ] && awk -v a="$sampled" -v b="$set_up_at" 'BEGIN { exit !(a > b) }' && break
  sampled=
  sleep 0.1
done
[ -n "$sampled" ] || fail "/stats/history took no sample within 6 s of uptime $set_up_at"
pass "/stats/history sampled the setup (at uptime $sampled s)"

mkdir -p "$(dirname "$SCREENSHOT")"
timeout 90 python3 "$HERE/dashboard_check.py" "$BASE" "$SCREENSHOT" \
  --expect-viewers /live.ts=3 --expect-viewers /radio.mp3=1 \
  --expect-refused auth=2 --expect-refused not_found=1 --min-history 2 ||
  fail "the dashboard does not show what /stats says (above)"
pass "the dashboard shows what /stats says; screenshot in $SCREENSHOT"

kill -0 "$RELAY" 2>/dev/null || fail "ringcast died during the test"
