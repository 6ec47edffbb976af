#!/usr/bin/env bash
# Real radio clients against ringcast: liquidsoap and ezstream (libshout) broadcast MP3 and set
# titles through /admin/metadata, ffmpeg pushes chunked MPEG-TS over a plain http:// PUT, and
# ffmpeg, curl and mpv listen, reading the ICY metadata the relay inserts.
# Usage: radio_clients.sh path/to/ringcast. Exits 1 on the first failed check; every step is
# bounded by `timeout`, every wait loop by a count, and all children die with the script.
set -euo pipefail

RINGCAST=${1:?usage: radio_clients.sh path/to/ringcast}
PASSWORD=hackme
ADMIN_PASSWORD=adminpass
source "$(dirname "$0")/harness.sh"

require liquidsoap ezstream mpv ffmpeg ffprobe curl jq python3 timeout nice

# --- the relay, on an ephemeral port ---------------------------------------------------------
# debug: the relay logs each request's method and path, so the verbs clients use can be checked.
start_ringcast "$RINGCAST" --source-password "$PASSWORD" --admin-password "$ADMIN_PASSWORD" \
  --grace 2 --log-level debug
pass "ringcast listening on $BASE"

# stats_title MOUNT: the mount's current title in /stats (empty if none).
stats_title() {
  timeout 5 curl -sf "$BASE/stats" | jq -r --arg m "$1" '.mounts[$m].title // empty'
}

# status_json: the Icecast-style /status-json.xsl document.
status_json() {
  timeout 5 curl -sf "$BASE/status-json.xsl" || fail "GET /status-json.xsl failed"
}

# status_title MOUNT: the title /status-json.xsl lists for MOUNT (a source object or a list).
status_title() {
  status_json | jq -r --arg m "$1" \
    '[.icestats.source // empty] | flatten | map(select(.listenurl | endswith($m))) | .[0].title // empty'
}

# wait_title MOUNT TITLE SECONDS: /stats and /status-json.xsl both show TITLE for MOUNT.
wait_title() {
  local mount=$1 wanted=$2 seconds=$3 seen= listed=
  for _ in $(seq 1 $((seconds * 5))); do
    seen=$(stats_title "$mount")
    if [ "$seen" = "$wanted" ]; then
      listed=$(status_title "$mount")
      [ "$listed" = "$wanted" ] && return 0
    fi
    sleep 0.2
  done
  fail "$mount never showed title '$wanted' within $seconds s (/stats: '$seen', status-json: '$listed')"
}

# set_title MOUNT USER:PASSWORD SONG: an Icecast updinfo request, as a source client sends it.
set_title() {
  local answer
  answer=$(timeout 5 curl -sf -u "$2" -G "$BASE/admin/metadata" --data-urlencode "mount=$1" \
    --data-urlencode mode=updinfo --data-urlencode "song=$3") ||
    fail "updinfo for $1 as ${2%%:*} failed"
  echo "$answer" | grep -q '<return>1</return>' ||
    fail "updinfo for $1 as ${2%%:*} was not accepted: $answer"
}

# ICY_PARSER HEADERS BODY: prints each StreamTitle in BODY (a listener's bytes read with
# Icy-MetaData: 1) in order; fails on a block that is not `StreamTitle='...';` padded with NULs.
ICY_PARSER=$(
  cat <<'EOF'
import re, sys
headers = open(sys.argv[1], "rb").read().decode("latin-1")
body = open(sys.argv[2], "rb").read()
metaint = [int(v) for k, v in re.findall(r"(?im)^([\w-]+):\s*(\d+)\s*$", headers) if k.lower() == "icy-metaint"]
if metaint != [16000]:
    sys.exit(f"expected one icy-metaint: 16000 header, got {metaint}")
metaint, pos, blocks = metaint[0], 0, 0
block_re = re.compile(rb"StreamTitle='([^\0]*?)';(StreamUrl='[^\0]*?';)?\0*\Z", re.S)
while pos + metaint < len(body):
    pos += metaint
    length = body[pos] * 16
    if pos + 1 + length > len(body):
        break  # the read ended inside this block
    block = body[pos + 1 : pos + 1 + length]
    pos += 1 + length
    blocks += 1
    if length == 0:
        continue  # title unchanged for this listener
    match = block_re.match(block)
    if not match:
        sys.exit(f"block {blocks} at byte {pos - length - 1} is malformed: {block[:80]!r}")
    print(match.group(1).decode("utf-8"))
if blocks < 5:
    sys.exit(f"only {blocks} metadata blocks in {len(body)} bytes")
print(f"{blocks} blocks in {len(body)} bytes", file=sys.stderr)
EOF
)

# TS_CHECKER FILE: every whole 188-byte packet of FILE starts with the 0x47 sync byte; at least 100.
TS_CHECKER=$(
  cat <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
packets = len(data) // 188
if packets < 100:
    sys.exit(f"only {packets} packets ({len(data)} bytes)")
bad = [i for i in range(packets) if data[i * 188] != 0x47]
if bad:
    sys.exit(f"{len(bad)} of {packets} packets lack the sync byte, first at byte {bad[0] * 188}: 0x{data[bad[0] * 188]:02x}")
print(packets)
EOF
)

# --- 1. liquidsoap: output.icecast(%mp3) with a new title every 3 s ------------------------------
cat >"$WORK/radio.liq" <<EOF
settings.init.allow_root.set(true)
settings.log.stdout.set(true)
settings.log.file.set(false)
settings.log.level.set(3)
track = ref(0)
tone = insert_metadata(sine(440.))
def next_title() =
  track := !track + 1
  tone.insert_metadata([("title", "tone #{!track}")])
end
thread.run(every=3., next_title)
output.icecast(%mp3(bitrate=128), host="127.0.0.1", port=$PORT, password="$PASSWORD",
  mount="/radio.mp3", mksafe(tone))
EOF
timeout 150 nice liquidsoap "$WORK/radio.liq" >"$WORK/liquidsoap.log" 2>&1 &
LIQUIDSOAP=$!
CHILDREN+=("$LIQUIDSOAP")
wait_for_stream /radio.mp3 16000 "$LIQUIDSOAP" 30
grep -qE '(PUT|SOURCE) /radio\.mp3' "$WORK/relay.log" || fail "the relay did not log liquidsoap's request"
pass "liquidsoap is broadcasting on /radio.mp3 ($(grep -oE '(PUT|SOURCE) /radio\.mp3' "$WORK/relay.log" | head -n 1))"

# --- 5a. status-json.xsl with one live mount: icestats.source is an object -----------------------
type=$(status_json | jq -r '.icestats.source | type')
[ "$type" = object ] || fail "with one live mount icestats.source is a $type, not an object"
status_json | jq -e '.icestats.source.listenurl | endswith("/radio.mp3")' >/dev/null ||
  fail "status-json.xsl does not list /radio.mp3: $(status_json)"
pass "status-json.xsl with one live mount: icestats.source is an object"

# --- 2. ezstream (libshout): a playlist of two tagged MP3 files to /ez.mp3 -----------------------
for track in one two; do
  timeout 30 nice ffmpeg -hide_banner -nostdin -loglevel error -f lavfi -i sine=frequency=660:duration=10 \
    -ac 2 -c:a libmp3lame -b:a 128k -metadata title="ez $track" -metadata artist=ringcast \
    "$WORK/ez_$track.mp3" || fail "ffmpeg could not make ez_$track.mp3"
done
printf '%s\n' "$WORK/ez_one.mp3" "$WORK/ez_two.mp3" >"$WORK/ez.m3u"
cat >"$WORK/ez.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<ezstream>
  <servers>
    <server>
      <protocol>HTTP</protocol>
      <hostname>127.0.0.1</hostname>
      <port>$PORT</port>
      <user>source</user>
      <password>$PASSWORD</password>
      <tls>None</tls>
    </server>
  </servers>
  <streams>
    <stream>
      <mountpoint>/ez.mp3</mountpoint>
      <format>MP3</format>
      <stream_name>ringcast ezstream</stream_name>
      <stream_bitrate>128</stream_bitrate>
    </stream>
  </streams>
  <intakes>
    <intake>
      <type>playlist</type>
      <filename>$WORK/ez.m3u</filename>
      <stream_once>Yes</stream_once>
    </intake>
  </intakes>
  <metadata>
    <format_str>@a@ - @t@</format_str>
  </metadata>
</ezstream>
EOF
start_ezstream "$WORK/ez.xml"
wait_for_stream /ez.mp3 16000 "$EZSTREAM" 15
# libshout 2.4.6 sends SOURCE (HTTP/1.0), first without credentials to see the 401, then with them.
verb=$(grep -oE '(PUT|SOURCE) /ez\.mp3' "$WORK/relay.log" | head -n 1)
[ -n "$verb" ] || fail "the relay did not log ezstream's request"
grep -q 'started /ez.mp3 (audio/mpeg' "$WORK/relay.log" || fail "the relay did not log /ez.mp3 as audio/mpeg"
pass "ezstream is broadcasting on /ez.mp3 ($verb)"

# --- 5b. status-json.xsl with two live mounts: icestats.source is a list of both -----------------
mounts=$(status_json | jq -r '.icestats.source | if type == "array" then map(.listenurl | sub(".*/"; "/")) | sort | join(" ") else type end')
[ "$mounts" = "/ez.mp3 /radio.mp3" ] || fail "with two live mounts icestats.source is not a list of both: $mounts"
pass "status-json.xsl with two live mounts: icestats.source is a list ($mounts)"
# ezstream takes the title from the first file's ID3 tags (its first track lasts 10 s).
wait_title /ez.mp3 "ringcast - ez one" 5
pass "/stats and status-json.xsl show ezstream's first title 'ringcast - ez one'"

# --- 1 (continued): the titles liquidsoap inserts, in /stats and to listeners -------------------
first=
for _ in $(seq 1 100); do
  first=$(stats_title /radio.mp3)
  [[ $first =~ ^tone\ [0-9]+$ ]] && break
  sleep 0.2
done
[[ $first =~ ^tone\ [0-9]+$ ]] || fail "/radio.mp3 has no title from liquidsoap in /stats: '$first'"
title=$first
for _ in $(seq 1 50); do
  title=$(stats_title /radio.mp3)
  [ "$title" != "$first" ] && break
  sleep 0.2
done
[[ $title =~ ^tone\ [0-9]+$ && $title != "$first" ]] ||
  fail "/radio.mp3's title in /stats did not change from '$first' within 10 s (now '$title')"
pass "/stats shows liquidsoap's titles on /radio.mp3: '$first', then '$title'"

# Three listeners at once: ffmpeg with -icy 1, curl reading the ICY wire format, curl without it.
timeout 40 ffmpeg -hide_banner -nostdin -loglevel verbose -icy 1 -i "$BASE/radio.mp3" -t 12 -f null - \
  >/dev/null 2>"$WORK/ffmpeg-icy.log" &
ICY_FFMPEG=$!
CHILDREN+=("$ICY_FFMPEG")
timeout 20 curl -s -H 'Icy-MetaData: 1' --max-time 8 -D "$WORK/icy.headers" -o "$WORK/icy.body" \
  "$BASE/radio.mp3" &
ICY_CURL=$!
CHILDREN+=("$ICY_CURL")
timeout 20 curl -s --max-time 3 -D "$WORK/plain.headers" -o "$WORK/plain.body" "$BASE/radio.mp3" &
PLAIN_CURL=$!
CHILDREN+=("$PLAIN_CURL")
status=0
reap "$ICY_FFMPEG" || status=$?
[ "$status" -eq 0 ] || fail "ffmpeg -icy 1 reading /radio.mp3 exited with status $status"
for pid in "$ICY_CURL" "$PLAIN_CURL"; do
  status=0
  reap "$pid" || status=$?
  # 28: --max-time ended the endless stream, as intended.
  [ "$status" -eq 28 ] || fail "curl reading /radio.mp3 exited with status $status"
done

# ffmpeg's http protocol logs each StreamTitle it reads; 8 s of live stream span two changes.
heard=$(sed -n 's/.*Metadata update for StreamTitle: //p' "$WORK/ffmpeg-icy.log" | sort -u)
[ "$(echo "$heard" | grep -cE '^tone [0-9]+$')" -ge 2 ] ||
  fail "ffmpeg -icy 1 did not see two of liquidsoap's titles on /radio.mp3: $(echo $heard)"
pass "ffmpeg -icy 1 read changing StreamTitles from /radio.mp3: $(echo "$heard" | paste -sd, -)"

wire=$(python3 -c "$ICY_PARSER" "$WORK/icy.headers" "$WORK/icy.body" 2>"$WORK/icy-parser.log") ||
  fail "ICY stream from /radio.mp3: $(cat "$WORK/icy-parser.log")"
[ "$(echo "$wire" | sort -u | grep -cE '^tone [0-9]+$')" -ge 2 ] ||
  fail "the ICY blocks curl read from /radio.mp3 carry fewer than two titles: $(echo $wire)"
pass "curl: icy-metaint 16000, $(cat "$WORK/icy-parser.log"), titles $(echo "$wire" | paste -sd, -)"

grep -qi '^icy-metaint' "$WORK/plain.headers" && fail "a listener without Icy-MetaData got icy-metaint"
grep -aq "StreamTitle=" "$WORK/plain.body" && fail "a listener without Icy-MetaData got metadata blocks"
pass "a listener without Icy-MetaData gets $(stat -c %s "$WORK/plain.body") bytes without metadata"

probed=$(timeout 20 ffprobe -v error -icy 1 -show_entries format_tags=StreamTitle -of default=nw=1:nk=1 \
  "$BASE/radio.mp3" 2>"$WORK/ffprobe.log") || fail "ffprobe -icy 1 on /radio.mp3 failed"
[[ $probed =~ ^tone\ [0-9]+$ ]] || fail "ffprobe -icy 1 on /radio.mp3 shows StreamTitle '$probed'"
pass "ffprobe -icy 1 shows StreamTitle '$probed' on /radio.mp3"

kill "$LIQUIDSOAP" 2>/dev/null || true
reap "$LIQUIDSOAP" || true

# --- 2 (continued): ezstream's next title, sent on its track change ------------------------------
wait_title /ez.mp3 "ringcast - ez two" 20
pass "/stats and status-json.xsl show ezstream's second title 'ringcast - ez two'"
grep -q 'title of /ez.mp3: ringcast - ez two' "$WORK/relay.log" || fail "the relay did not log ezstream's title update"
status=0
reap "$EZSTREAM" || status=$?
[ "$status" -eq 0 ] || fail "ezstream exited with status $status at the end of its playlist"
pass "ezstream played its playlist once and exited 0"
# libshout asks without credentials first, then again with them: routine, never a warning.
if grep -E ' warn .*source refused for /(ez|radio)\.mp3' "$WORK/relay.log"; then
  fail "the relay warned about a radio client's source request"
fi
pass "no warning for libshout's or liquidsoap's first, credential-less request"

# --- 3. ffmpeg: plain http:// PUT, chunked by default ---------------------------------------------
timeout 60 nice ffmpeg -hide_banner -nostdin -loglevel warning -re -f lavfi -i testsrc=size=320x240:rate=25 \
  -c:v mpeg2video -b:v 800k -f mpegts -content_type video/mp2t -method PUT \
  "http://source:$PASSWORD@127.0.0.1:$PORT/chunked.ts" 2>"$WORK/push_chunked.log" &
CHUNKED=$!
CHILDREN+=("$CHUNKED")
wait_for_stream /chunked.ts 100000 "$CHUNKED"
grep -q 'PUT /chunked.ts' "$WORK/relay.log" || fail "ffmpeg's http:// push did not arrive as a PUT"
grep -q 'started /chunked.ts (video/mp2t, chunked)' "$WORK/relay.log" ||
  fail "the relay did not log /chunked.ts as a chunked source"
pass "ffmpeg is pushing /chunked.ts with a chunked PUT"
streams=$(timeout 30 ffprobe -v error -show_entries stream=codec_type,codec_name -of csv=p=0 \
  "$BASE/chunked.ts" 2>"$WORK/ffprobe.log") || fail "ffprobe on /chunked.ts failed"
echo "$streams" | grep -q '^mpeg2video,video' || fail "ffprobe found no mpeg2video stream on /chunked.ts: $streams"
pass "ffprobe finds mpeg2video video on /chunked.ts"
status=0
timeout 20 curl -s --max-time 2 -o "$WORK/chunked.ts" "$BASE/chunked.ts" || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 28 ] || fail "curl on /chunked.ts failed with status $status"
packets=$(python3 -c "$TS_CHECKER" "$WORK/chunked.ts" 2>&1) || fail "/chunked.ts as read by curl: $packets"
pass "curl read $packets packets of /chunked.ts, every one on the 188-byte sync"
kill -INT "$CHUNKED" 2>/dev/null || true
reap "$CHUNKED" || true

# --- 4. mpv: the icy-title set through updinfo, before and during playback ----------------------
timeout 90 nice ffmpeg -hide_banner -nostdin -loglevel warning -re -f lavfi -i sine=frequency=330 \
  -c:a libmp3lame -b:a 128k -f mp3 "icecast://source:$PASSWORD@127.0.0.1:$PORT/mpv.mp3" \
  2>"$WORK/push_mpv.log" &
MP3_PUSHER=$!
CHILDREN+=("$MP3_PUSHER")
wait_for_stream /mpv.mp3 16000 "$MP3_PUSHER"
set_title /mpv.mp3 "source:$PASSWORD" "before play"
pass "updinfo with the source credentials set /mpv.mp3's title"
# mpv's own property, metadata/by-key/icy-title, logged by a script each time it changes.
cat >"$WORK/icy_title.lua" <<'EOF'
mp.observe_property("metadata/by-key/icy-title", "string", function(_, title)
  if title then mp.msg.info("ICY-TITLE=" .. title) end
end)
EOF
timeout 60 nice mpv --no-config --no-terminal --no-video --ao=null --length=40 \
  --script="$WORK/icy_title.lua" --log-file="$WORK/mpv.log" "$BASE/mpv.mp3" &
MPV=$!
CHILDREN+=("$MPV")
# wait_mpv_title TITLE: mpv reports icy-title TITLE within 20 s.
wait_mpv_title() {
  for _ in $(seq 1 200); do
    grep -q "ICY-TITLE=$1 *\$" "$WORK/mpv.log" 2>/dev/null && return 0
    kill -0 "$MPV" 2>/dev/null || fail "mpv exited before reporting icy-title '$1'"
    sleep 0.1
  done
  fail "mpv did not report icy-title '$1' within 20 s"
}
wait_mpv_title "before play"
pass "mpv reports icy-title 'before play' set before it started"
set_title /mpv.mp3 "admin:$ADMIN_PASSWORD" "during play"
wait_mpv_title "during play"
pass "mpv reports icy-title 'during play' set by the admin while it played"
kill "$MPV" 2>/dev/null || true
reap "$MPV" || true
kill -INT "$MP3_PUSHER" 2>/dev/null || true
reap "$MP3_PUSHER" || true

# --- clean shutdown ------------------------------------------------------------------------------
stop_ringcast
