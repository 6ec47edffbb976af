#!/usr/bin/env bash
# Real clients against ringcast: ffmpeg pushes a generated MPEG-TS stream (PUT, then the legacy
# SOURCE verb), ffprobe finds its streams, ffmpeg decodes frames from it and curl reads it raw.
# Usage: real_clients.sh path/to/ringcast. Exits 1 on the first failed check; every step is
# bounded by `timeout`, every wait loop by a count, and all children die with the script.
set -euo pipefail

RINGCAST=${1:?usage: real_clients.sh path/to/ringcast}
PASSWORD=hackme
source "$(dirname "$0")/harness.sh"

require ffmpeg ffprobe curl timeout od

# --- the relay, on an ephemeral port ---------------------------------------------------------
# debug: the relay logs each request's method, so the SOURCE run can be told from a PUT.
start_ringcast "$RINGCAST" --source-password "$PASSWORD" --grace 2 --log-level debug
pass "ringcast listening on $BASE"

# push MOUNT [ffmpeg output options...]: a live 25 fps MPEG-2 + MP2 test stream, in the background.
push() {
  local mount=$1
  shift
  timeout 90 ffmpeg -hide_banner -nostdin -loglevel warning -re \
    -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440 \
    -c:v mpeg2video -b:v 800k -c:a mp2 -f mpegts -content_type video/mp2t "$@" \
    "icecast://source:$PASSWORD@127.0.0.1:$PORT$mount" 2>"$WORK/push${mount//\//_}.log" &
  PUSHER=$!
  CHILDREN+=("$PUSHER")
  # Live once the relay has a second of it (800 kb/s: ~100 KB).
  wait_for_stream "$mount" 100000 "$PUSHER"
  pass "ffmpeg is broadcasting on $mount (${*:-default options})"
}

stop_push() {
  kill -INT "$PUSHER" 2>/dev/null || true
  wait "$PUSHER" 2>/dev/null || true
}

# probe MOUNT: ffprobe finds a video and an audio stream.
probe() {
  local streams
  streams=$(timeout 30 ffprobe -v error -show_entries stream=codec_type,codec_name -of csv=p=0 \
    "$BASE$1" 2>"$WORK/ffprobe.log") || fail "ffprobe on $1 failed"
  echo "$streams" | grep -q '^mpeg2video,video' || fail "ffprobe found no mpeg2video stream on $1: $streams"
  echo "$streams" | grep -q '^mp2,audio' || fail "ffprobe found no mp2 audio stream on $1: $streams"
  pass "ffprobe finds mpeg2video video and mp2 audio on $1"
}

# decode MOUNT: ffmpeg decodes 3 s of it without error exit and counts the video frames.
decode() {
  local progress="$WORK/progress.txt" frames
  timeout 30 ffmpeg -hide_banner -nostdin -v error -i "$BASE$1" -t 3 -f null - \
    -progress "$progress" 2>"$WORK/decode.log" || fail "ffmpeg decoding $1 exited non-zero"
  frames=$(sed -n 's/^frame=\([0-9]*\)$/\1/p' "$progress" | tail -n 1)
  # 3 s at 25 fps is 75 frames; a join mid-GOP may cost the first few.
  [ "${frames:-0}" -ge 50 ] || fail "ffmpeg decoded only ${frames:-0} video frames from $1"
  pass "ffmpeg decoded $frames video frames from $1"
}

# raw MOUNT: curl reads the viewer stream; it must start on a TS packet boundary.
raw() {
  local file="$WORK/raw.ts" status=0 size
  timeout 20 curl -s --max-time 2 -o "$file" "$BASE$1" || status=$?
  # 28: --max-time ended the endless stream, as intended.
  [ "$status" -eq 0 ] || [ "$status" -eq 28 ] || fail "curl on $1 failed with status $status"
  size=$(stat -c %s "$file")
  [ "$size" -ge $((188 * 100)) ] || fail "curl got only $size bytes from $1"
  local offset byte
  for offset in 0 188 376 $((188 * 99)); do
    byte=$(od -An -tx1 -j "$offset" -N1 "$file" | tr -d ' ')
    [ "$byte" = 47 ] || fail "byte $offset of $1 is 0x$byte, not the 0x47 sync byte"
  done
  pass "curl read $size bytes of $1, starting on a 188-byte packet boundary"
}

# --- PUT (ffmpeg's default) --------------------------------------------------------------------
push /live.ts
grep -q 'PUT /live.ts' "$WORK/relay.log" || fail "ffmpeg's default push did not arrive as a PUT"
probe /live.ts
decode /live.ts
raw /live.ts
stop_push

# --- the legacy SOURCE verb ----------------------------------------------------------------------
push /legacy.ts -legacy_icecast 1
grep -q 'SOURCE /legacy.ts' "$WORK/relay.log" || fail "ffmpeg -legacy_icecast 1 did not arrive as SOURCE"
probe /legacy.ts
raw /legacy.ts
stop_push

# --- clean shutdown ------------------------------------------------------------------------------
stop_ringcast
