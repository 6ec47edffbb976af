#!/usr/bin/env bash
# Video viewers against ringcast with real ffmpeg: H.264/AAC MPEG-TS (a GOP of 2 s) is pushed,
# and joins land on a keyframe (ffmpeg decodes with zero warnings, the first bytes are PAT, PMT
# and a keyframe), HLS is cut from the ring (ffprobe and ffmpeg read the playlist, segments start
# with PAT, PMT and a keyframe, the media sequence advances, an overwritten segment is 404), and
# ?rewind=10 starts about 10 s behind live (by the PTS gap to a live viewer). An edge
# (--relay-origin) pulls the mount on demand and serves keyframe joins and HLS of it.
# Usage: video_test.sh path/to/ringcast. Every step is bounded by `timeout`, every wait loop by a
# count, and all children die with the script.
set -euo pipefail

RINGCAST=${1:?usage: video_test.sh path/to/ringcast}
PASSWORD=hackme
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/harness.sh"

require ffmpeg ffprobe curl jq python3 timeout

# --- a 12 s clip, encoded once, looped live with -c copy (cheap on a 2-core machine) ----------
timeout 60 ffmpeg -hide_banner -nostdin -loglevel error \
  -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 12 \
  -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p -b:v 800k \
  -c:a aac -b:a 96k -f mpegts -y "$WORK/clip.ts" || fail "could not encode the test clip"
pass "encoded a 12 s H.264/AAC clip (GOP 2 s)"

# /small.ts has a 2 MiB ring (about 16 s at ~1 Mbit/s): its early segments get overwritten.
cat >"$WORK/ringcast.toml" <<TOML
[mounts."/small.ts"]
ring_size = "2MiB"
TOML
start_ringcast "$RINGCAST" --source-password "$PASSWORD" --grace 2 --config "$WORK/ringcast.toml"
pass "ringcast listening on $BASE"

# push MOUNT: the clip, looped at its own pace, as ffmpeg's PUT.
push() {
  timeout 150 ffmpeg -hide_banner -nostdin -loglevel warning -re -stream_loop -1 -i "$WORK/clip.ts" \
    -c copy -f mpegts -method PUT -content_type video/mp2t \
    "http://source:$PASSWORD@127.0.0.1:$PORT$1" 2>"$WORK/push${1//\//_}.log" &
  PUSHER=$!
  CHILDREN+=("$PUSHER")
  wait_for_stream "$1" 100000 "$PUSHER"
}
push /live.ts
push /small.ts
SMALL_PUSHER=$PUSHER
pass "ffmpeg is broadcasting /live.ts and /small.ts"

# seconds_of MOUNT SECONDS: waits until the mount's tracker has indexed a keyframe per 2 s.
seconds_of() {
  local keyframes=0
  for _ in $(seq 1 $(($2 * 10 + 100))); do
    keyframes=$(timeout 5 curl -sf "$BASE/stats" | jq -r --arg m "$1" '.mounts[$m].video.keyframes // 0')
    [ "$keyframes" -ge $(($2 / 2 + 1)) ] && return 0
    sleep 0.1
  done
  fail "$1 has only $keyframes keyframes after waiting for $2 s of it"
}
seconds_of /live.ts 4
codec=$(timeout 5 curl -sf "$BASE/stats" | jq -r '.mounts["/live.ts"].video.codec')
[ "$codec" = h264 ] || fail "/stats names the video codec '$codec', not h264"
pass "/stats follows the stream's structure: h264, keyframes indexed"

# --- joins at a keyframe -----------------------------------------------------------------------
timeout 5 curl -s --max-time 1 "$BASE/live.ts" -o "$WORK/join.ts" -w '%{time_starttransfer}\n' \
  >"$WORK/join_time.txt" || true
first=$(python3 "$HERE/ts_check.py" "$WORK/join.ts") || fail "a join starts with: $first"
first_byte=$(cat "$WORK/join_time.txt")
python3 -c "import sys; sys.exit(0 if float('$first_byte') < 1.0 else 1)" ||
  fail "the first byte of a join took $first_byte s"
pass "a join starts with PAT, PMT and a keyframe, $first_byte s after the request"

timeout 30 ffmpeg -hide_banner -nostdin -v warning -i "$BASE/live.ts" -t 4 -f null - \
  2>"$WORK/join_decode.log" || fail "ffmpeg could not decode /live.ts"
if [ -s "$WORK/join_decode.log" ]; then
  cat "$WORK/join_decode.log" >&2
  fail "ffmpeg warned while decoding a fresh join of /live.ts"
fi
pass "ffmpeg decodes a fresh join with zero warnings"

# A stream that is not MPEG-TS joins as before, and has no HLS.
code=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "$BASE/nowhere.ts/index.m3u8")
[ "$code" = 404 ] || fail "HLS of a missing mount answered $code, not 404"

# --- HLS from the ring --------------------------------------------------------------------------
seconds_of /live.ts 8
playlist=$(timeout 5 curl -sf -D "$WORK/playlist.head" "$BASE/live.ts/index.m3u8") || fail "no playlist"
grep -qi '^Content-Type: application/vnd.apple.mpegurl' "$WORK/playlist.head" ||
  fail "the playlist's content type: $(grep -i content-type "$WORK/playlist.head")"
grep -qi '^Access-Control-Allow-Origin: \*' "$WORK/playlist.head" || fail "the playlist has no CORS header"
for tag in '#EXTM3U' '#EXT-X-TARGETDURATION:' '#EXT-X-MEDIA-SEQUENCE:' '#EXT-X-PROGRAM-DATE-TIME:' '#EXTINF:'; do
  grep -q "^$tag" <<<"$playlist" || fail "the playlist lacks $tag: $playlist"
done
! grep -q '#EXT-X-ENDLIST' <<<"$playlist" || fail "a live playlist ends with EXT-X-ENDLIST"
pass "the playlist is a live HLS media playlist"

streams=$(timeout 30 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$BASE/live.ts/index.m3u8" |
  grep . | sort -u | paste -sd ' ')
[ "$streams" = "aac h264" ] || fail "ffprobe found '$streams' in the HLS playlist, not aac and h264"
timeout 40 ffmpeg -hide_banner -nostdin -v error -i "$BASE/live.ts/index.m3u8" -t 4 -f null - \
  2>"$WORK/hls_decode.log" || fail "ffmpeg could not read the HLS playlist"
[ ! -s "$WORK/hls_decode.log" ] || fail "ffmpeg reported errors reading HLS: $(head -5 "$WORK/hls_decode.log")"
pass "ffprobe and ffmpeg read /live.ts/index.m3u8 as HLS (h264 + aac)"

segment=$(grep -v '^#' <<<"$playlist" | tail -n 1)
timeout 10 curl -sf -D "$WORK/segment.head" "$BASE/live.ts/$segment" -o "$WORK/segment.ts" ||
  fail "GET $segment failed"
first=$(python3 "$HERE/ts_check.py" "$WORK/segment.ts") || fail "segment $segment starts with: $first"
length=$(sed -n 's/^Content-Length: \([0-9]*\).*/\1/ip' "$WORK/segment.head")
[ "$length" = "$(stat -c %s "$WORK/segment.ts")" ] || fail "segment $segment: Content-Length $length"
head_length=$(timeout 5 curl -sfI "$BASE/live.ts/$segment" | sed -n 's/^Content-Length: \([0-9]*\).*/\1/ip')
[ "$head_length" = "$length" ] || fail "HEAD of $segment says $head_length bytes, GET sent $length"
pass "segment $segment ($length bytes) starts with PAT, PMT and a keyframe; HEAD agrees"

sequence() { timeout 5 curl -sf "$BASE/$1/index.m3u8" | sed -n 's/^#EXT-X-MEDIA-SEQUENCE:\([0-9]*\).*/\1/p'; }
last_segment() { timeout 5 curl -sf "$BASE/$1/index.m3u8" | grep -v '^#' | tail -n 1; }
before=$(last_segment live.ts)
for _ in $(seq 1 60); do
  [ "$(last_segment live.ts)" != "$before" ] && break
  sleep 0.2
done
[ "$(last_segment live.ts)" != "$before" ] || fail "no new segment after $before within 12 s"
pass "the playlist advances ($before, then $(last_segment live.ts))"

# /small.ts: once its sequence is past what 2 MiB holds, segment 0 is gone.
for _ in $(seq 1 300); do
  [ "$(sequence small.ts)" -ge 3 ] && break
  sleep 0.2
done
[ "$(sequence small.ts)" -ge 3 ] || fail "/small.ts's playlist never slid past segment 0"
# Unlisted, a segment stays servable a while (a player may have just read the playlist); once
# the writer nears it, it is 404.
for _ in $(seq 1 150); do
  code=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "$BASE/small.ts/0.ts")
  [ "$code" = 404 ] && break
  sleep 0.2
done
[ "$code" = 404 ] || fail "an overwritten segment answered $code, not 404"
code=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "$BASE/small.ts/$(last_segment small.ts)")
[ "$code" = 200 ] || fail "a listed segment of /small.ts answered $code"
pass "the playlist slides with the ring: overwritten segment 0 of /small.ts is 404"

sessions=$(timeout 5 curl -sf "$BASE/stats" | jq -r '.mounts["/live.ts"].hls.sessions')
[ "$sessions" -ge 1 ] || fail "/stats counts $sessions HLS sessions"
metrics=$(timeout 5 curl -sf "$BASE/metrics") || fail "GET /metrics failed"
grep -q '^ringcast_mount_hls_sessions{mount="/live.ts"} [1-9]' <<<"$metrics" ||
  fail "/metrics has no HLS sessions for /live.ts"
pass "HLS players count as their own kind in /stats and /metrics ($sessions)"

# --- timeshift ----------------------------------------------------------------------------------
seconds_of /live.ts 14
first_pts() {
  timeout 15 ffprobe -v error -select_streams v -show_entries packet=pts_time -read_intervals '%+#1' \
    -of csv=p=0 "$BASE/$1" | head -n 1 | tr -d ,
}
# A live answer has no end: curl stops it after a second (exit status 28), the head is kept.
timeout 5 curl -s --max-time 1 -D "$WORK/rewind.head" -o /dev/null "$BASE/live.ts?rewind=10" || true
behind=$(sed -n 's/^X-Timeshift: \([0-9.]*\).*/\1/ip' "$WORK/rewind.head")
rewound=$(first_pts 'live.ts?rewind=10')
live=$(first_pts live.ts)
gap=$(python3 -c "print(round($live - $rewound, 3))")
python3 -c "import sys; sys.exit(0 if 9.5 <= float('${behind:-0}') <= 13 else 1)" ||
  fail "?rewind=10 says it starts ${behind:-nothing} s behind"
python3 -c "import sys; sys.exit(0 if 7.5 <= $gap <= 12.5 else 1)" ||
  fail "?rewind=10 starts $gap s of PTS before a live viewer"
code=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "$BASE/live.ts?rewind=soon")
[ "$code" = 400 ] || fail "?rewind=soon answered $code, not 400"
pass "?rewind=10 starts $behind s behind live (X-Timeshift), a PTS gap of $gap s to a live viewer"

# --- a source change: the playlist marks it ------------------------------------------------------
kill -INT "$SMALL_PUSHER" 2>/dev/null || true
reap "$SMALL_PUSHER" || true
push /small.ts  # within --grace: the mount, its ring and its segments go on
marked=
for _ in $(seq 1 100); do
  playlist=$(timeout 5 curl -sf "$BASE/small.ts/index.m3u8") || fail "no playlist for /small.ts"
  if grep -q '^#EXT-X-DISCONTINUITY$' <<<"$playlist" || grep -q '^#EXT-X-DISCONTINUITY-SEQUENCE:[1-9]' <<<"$playlist"; then
    marked=yes
    break
  fi
  sleep 0.2
done
[ -n "$marked" ] || fail "after a source change the playlist shows no discontinuity: $playlist"
pass "a new source's first segment is marked EXT-X-DISCONTINUITY"

# --- an edge: the same mount pulled from this relay on demand ------------------------------------
ORIGIN_BASE=$BASE
start_ringcast "$RINGCAST" --relay-origin "$ORIGIN_BASE"
EDGE_BASE=$BASE
timeout 10 curl -s --max-time 2 "$EDGE_BASE/live.ts" -o "$WORK/edge_join.ts" || true
first=$(python3 "$HERE/ts_check.py" "$WORK/edge_join.ts") || fail "a join at the edge starts with: $first"
timeout 30 ffmpeg -hide_banner -nostdin -v warning -i "$EDGE_BASE/live.ts" -t 4 -f null - \
  2>"$WORK/edge_decode.log" || fail "ffmpeg could not decode the edge's /live.ts"
if [ -s "$WORK/edge_decode.log" ]; then
  cat "$WORK/edge_decode.log" >&2
  fail "ffmpeg warned while decoding a join of the edge's /live.ts"
fi
viewers=$(timeout 5 curl -sf "$ORIGIN_BASE/stats" | jq -r '.mounts["/live.ts"].relay // "none"')
[ "$viewers" = none ] || fail "the origin's own mount says it is relayed: $viewers"
pass "an edge's first listener starts a pull; its join starts with PAT, PMT and a keyframe and decodes clean"
# HLS at the edge, cut from the edge's own ring (the pull lingers 10 s after the last listener).
seconds_of /live.ts 4
timeout 40 ffmpeg -hide_banner -nostdin -v error -i "$EDGE_BASE/live.ts/index.m3u8" -t 3 -f null - \
  2>"$WORK/edge_hls.log" || fail "ffmpeg could not read the edge's HLS playlist: $(head -5 "$WORK/edge_hls.log")"
[ ! -s "$WORK/edge_hls.log" ] || fail "ffmpeg reported errors reading the edge's HLS: $(head -5 "$WORK/edge_hls.log")"
relay=$(timeout 5 curl -sf "$EDGE_BASE/stats" | jq -r '.mounts["/live.ts"].relay.state')
[ "$relay" = streaming ] || fail "the edge's /live.ts relay state is '$relay'"
pass "the edge serves HLS of the pulled mount (ffmpeg reads it clean)"

echo "all video checks passed"
