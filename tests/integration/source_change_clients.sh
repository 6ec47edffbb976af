#!/usr/bin/env bash
# A source change with real clients (issue 23): liquidsoap broadcasts a 440 Hz tone, drops, and
# ezstream takes the mount over within --grace with an 880 Hz tone; ezstream drops and liquidsoap
# returns with 660 Hz. mpv plays throughout, and a second mpv joins just after each return. Each
# mpv decodes to PCM, and the tone of every 100 ms of it tells which source it came from: the
# tones must come in the order the sources were live (440, 880, 660), never an earlier one after
# a later one (no replayed audio), and a listener who joined after a return hears no tone from
# before it. libshout's first, credential-less attempt must not be logged as a warning.
# Usage: source_change_clients.sh path/to/ringcast. Every step is bounded by `timeout`, every
# wait loop by a count, and all children die with the script.
set -euo pipefail

RINGCAST=${1:?usage: source_change_clients.sh path/to/ringcast}
PASSWORD=hackme
source "$(dirname "$0")/harness.sh"

require liquidsoap ezstream mpv ffmpeg curl jq python3 timeout nice

# --grace is long enough for liquidsoap's start (a few seconds on a busy machine): the mount
# must never end between sources, so that every change below is a return within grace.
start_ringcast "$RINGCAST" --source-password "$PASSWORD" --grace 15
pass "ringcast listening on $BASE"

# liquidsoap FREQUENCY NAME: broadcasts a FREQUENCY Hz tone as MP3 to /live.mp3; sets LIQUIDSOAP.
liquidsoap_tone() {
  cat >"$WORK/$2.liq" <<EOF
settings.init.allow_root.set(true)
settings.log.stdout.set(true)
settings.log.file.set(false)
settings.log.level.set(3)
output.icecast(%mp3(bitrate=128, stereo=false), host="127.0.0.1", port=$PORT, password="$PASSWORD",
  mount="/live.mp3", mksafe(sine($1.)))
EOF
  timeout 120 nice liquidsoap "$WORK/$2.liq" >"$WORK/$2.log" 2>&1 &
  LIQUIDSOAP=$!
  CHILDREN+=("$LIQUIDSOAP")
}

# wait_source_count N SECONDS: the mount has seen N source changes (a source's return counts).
wait_source_changes() {
  local wanted=$1 seconds=$2 seen=
  for _ in $(seq 1 $((seconds * 10))); do
    seen=$(mount_stat /live.mp3 source_changes)
    [ "${seen:-0}" -ge "$wanted" ] && return 0
    sleep 0.1
  done
  fail "/live.mp3 did not see $wanted source changes within $seconds s (source_changes=${seen:-none})"
}

# wait_gone: the relay has seen the source leave /live.mp3 (the mount stays, in grace).
wait_gone() {
  local connected=
  for _ in $(seq 1 100); do
    # Not mount_stat: jq's // takes false for missing.
    connected=$(timeout 5 curl -sf "$BASE/stats" | jq -r '.mounts["/live.mp3"].source_connected')
    [ "$connected" = false ] && return 0
    sleep 0.1
  done
  fail "the relay still lists a source on /live.mp3 10 s after it left (source_connected=$connected)"
}

# mpv_listen NAME: mpv decodes /live.mp3 to 16-bit mono PCM in $WORK/NAME.pcm; sets MPV.
mpv_listen() {
  timeout 100 nice mpv --no-config --no-terminal --no-video --ao=pcm --ao-pcm-file="$WORK/$1.pcm" \
    --ao-pcm-waveheader=no --audio-format=s16 --audio-channels=mono --audio-samplerate=44100 \
    --log-file="$WORK/$1-mpv.log" "$BASE/live.mp3" &
  MPV=$!
  CHILDREN+=("$MPV")
}

# wait_listeners N: the relay counts N listeners on /live.mp3 within 15 s.
wait_listeners() {
  local seen=
  for _ in $(seq 1 150); do
    seen=$(mount_stat /live.mp3 viewers)
    [ "${seen:-0}" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "/live.mp3 has ${seen:-no} listeners, not $1, 15 s after mpv started"
}

# --- 1. liquidsoap, 440 Hz; mpv starts listening ------------------------------------------------
liquidsoap_tone 440 first
wait_for_stream /live.mp3 48000 "$LIQUIDSOAP" 30
mpv_listen throughout
THROUGHOUT=$MPV
wait_listeners 1
sleep 3  # mpv hears some seconds of the first source
pass "liquidsoap is broadcasting 440 Hz on /live.mp3 and mpv is playing it"

# --- 2. liquidsoap drops; ezstream returns within grace with 880 Hz -----------------------------
kill "$LIQUIDSOAP"
reap "$LIQUIDSOAP" || true
wait_gone
timeout 30 nice ffmpeg -hide_banner -nostdin -loglevel error -f lavfi -i sine=frequency=880:duration=12 \
  -ac 1 -c:a libmp3lame -b:a 128k "$WORK/tone880.mp3" || fail "ffmpeg could not make tone880.mp3"
echo "$WORK/tone880.mp3" >"$WORK/ez.m3u"
cat >"$WORK/ez.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<ezstream>
  <servers><server>
    <protocol>HTTP</protocol><hostname>127.0.0.1</hostname><port>$PORT</port>
    <user>source</user><password>$PASSWORD</password><tls>None</tls>
  </server></servers>
  <streams><stream>
    <mountpoint>/live.mp3</mountpoint><format>MP3</format><stream_bitrate>128</stream_bitrate>
  </stream></streams>
  <intakes><intake>
    <type>playlist</type><filename>$WORK/ez.m3u</filename><stream_once>Yes</stream_once>
  </intake></intakes>
</ezstream>
EOF
start_ezstream "$WORK/ez.xml"
wait_source_changes 1 10
# A listener who joins just after the return: its burst must hold no 440 Hz.
mpv_listen after_ezstream
AFTER_EZSTREAM=$MPV
wait_listeners 2
pass "ezstream took /live.mp3 over within grace with 880 Hz; a second mpv joined"

# --- 3. ezstream drops mid-file; liquidsoap returns with 660 Hz ---------------------------------
sleep 4
kill "$EZSTREAM"
reap "$EZSTREAM" || true
wait_gone
liquidsoap_tone 660 second
wait_source_changes 2 30
mpv_listen after_liquidsoap
AFTER_LIQUIDSOAP=$MPV
wait_listeners 3
sleep 4
pass "liquidsoap returned within grace with 660 Hz; a third mpv joined"

# --- 4. the last source leaves for good: after grace each mpv reaches the end and exits --------
kill "$LIQUIDSOAP"
reap "$LIQUIDSOAP" || true
for pid in "$THROUGHOUT" "$AFTER_EZSTREAM" "$AFTER_LIQUIDSOAP"; do
  status=0
  reap "$pid" || status=$?
  [ "$status" -eq 0 ] || fail "mpv exited with status $status at the end of the stream"
done
pass "every mpv played to the end of the stream once the mount ended"

# TONES PCM: the tone of each 100 ms of 44.1 kHz s16 mono PCM, by zero crossings, run-length
# coded: "440x31 880x52 ...". Windows that are none of the tones (silence, a decoder's
# transition) are left out; a tone counts from 3 windows in a row on.
TONES=$(
  cat <<'EOF'
import array, sys
samples = array.array("h", open(sys.argv[1], "rb").read())
window, runs = 4410, []
for start in range(0, len(samples) - window + 1, window):
    chunk = samples[start : start + window]
    if max(abs(s) for s in chunk) < 1000:
        continue  # silence
    crossings = sum(1 for a, b in zip(chunk, chunk[1:]) if (a < 0) != (b < 0))
    hz = crossings * 5  # crossings per 100 ms * 10 / 2
    tone = next((t for t in (440, 660, 880) if abs(hz - t) <= 25), None)
    if tone is None:
        continue
    if runs and runs[-1][0] == tone:
        runs[-1][1] += 1
    else:
        runs.append([tone, 1])
print(" ".join(f"{tone}x{count}" for tone, count in runs if count >= 3))
EOF
)

# check_order NAME EXPECTED: the tones NAME heard, in order, are exactly EXPECTED (run lengths
# aside): each source once, in the order it was live.
check_order() {
  local heard order
  heard=$(python3 -c "$TONES" "$WORK/$1.pcm") || fail "could not read $1's PCM"
  order=$(echo "$heard" | tr ' ' '\n' | sed 's/x.*//' | paste -sd' ' -)
  [ "$order" = "$2" ] || fail "$1 heard the tones $heard; expected each of $2 once, in that order"
  pass "$1 heard $heard (Hz x 100 ms): each source once, in order"
}
check_order throughout "440 880 660"
check_order after_ezstream "880 660"
check_order after_liquidsoap "660"

if grep -E ' warn .*source refused for /live\.mp3' "$WORK/relay.log"; then
  fail "the relay warned about a radio client's source request"
fi
pass "no warning for libshout's or liquidsoap's first, credential-less request"

stop_ringcast
