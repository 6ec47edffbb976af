#!/usr/bin/env bash
# ringcast behind Debian's haproxy, as docs/operations.md deploys it (issue 26), in two network
# namespaces this test creates and deletes: a server side (haproxy and the relays, 10.77.0.1)
# and a client side with its own address (10.77.0.2), joined by a veth pair. Nothing leaves them.
#
# 1. TLS front: haproxy terminates TLS (a certificate made here) and passes each connection to
#    ringcast with a PROXY v2 header. ffmpeg pushes icecast:// with -tls 1; curl and ffprobe
#    read https; /admin/listclients and the access log show the client's own address; a forged
#    X-Forwarded-For is not believed; a PROXY header straight from the client is refused.
# 2. Edge tier: haproxy balances two relays by mount (balance uri, hash-type consistent,
#    health-checked with GET /health): every request for a mount reaches the same relay; one
#    relay drained with SIGTERM keeps its listener to the end of its drain, and new requests for
#    its mounts reach the other.
# Usage: haproxy_front.sh path/to/ringcast. Needs root (namespaces). Every wait is bounded.
set -euo pipefail

RINGCAST=$(realpath "${1:?usage: haproxy_front.sh path/to/ringcast}")
PASSWORD=hackme
ADMIN_PASSWORD=adminpass
source "$(dirname "$0")/harness.sh"

require haproxy ip openssl ffmpeg ffprobe curl jq python3 timeout chromium
[ "$(id -u)" -eq 0 ] || fail "needs root to create network namespaces"

SERVER=rcs$$
CLIENT=rcc$$
cleanup_namespaces() {
  cleanup
  ip netns del "$SERVER" 2>/dev/null || true
  ip netns del "$CLIENT" 2>/dev/null || true
}
trap cleanup_namespaces EXIT

ip netns add "$SERVER"
ip netns add "$CLIENT"
ip link add "v$SERVER" type veth peer name "v$CLIENT"
ip link set "v$SERVER" netns "$SERVER"
ip link set "v$CLIENT" netns "$CLIENT"
ip -n "$SERVER" addr add 10.77.0.1/24 dev "v$SERVER"
ip -n "$CLIENT" addr add 10.77.0.2/24 dev "v$CLIENT"
for ns in "$SERVER" "$CLIENT"; do
  ip -n "$ns" link set lo up
done
ip -n "$SERVER" link set "v$SERVER" up
ip -n "$CLIENT" link set "v$CLIENT" up
# For commands waited on. A background child is started with `ip netns exec` itself, which
# execs the command: its pid ($!) is the command's, so signals reach it.
on_server() { ip netns exec "$SERVER" "$@"; }
on_client() { ip netns exec "$CLIENT" "$@"; }
pass "namespaces: server 10.77.0.1, client 10.77.0.2"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ringcast.test \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || fail "openssl could not make a certificate"
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/front.pem"

# start_relay NAME PORT ARGS...: ringcast NAME on 10.77.0.1:PORT in the server namespace.
start_relay() {
  local name=$1 port=$2
  shift 2
  ip netns exec "$SERVER" "$RINGCAST" --listen "10.77.0.1:$port" --source-password "$PASSWORD" \
    --admin-password "$ADMIN_PASSWORD" "$@" >/dev/null 2>"$WORK/$name.log" &
  CHILDREN+=("$!")
  eval "${name^^}=$!"
  wait_for_port "$WORK/$name.log" '.*listening on http://10\.77\.0\.1:\([0-9]*\)/.*' "$!" "$name" >/dev/null
}

# The haproxy config docs/operations.md shows, with this test's addresses and files.
sed -e "s|@CERT@|$WORK/front.pem|" "$(dirname "$0")/haproxy_front.cfg" >"$WORK/haproxy.cfg"
on_server haproxy -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy-check.log" 2>&1 || fail "haproxy -c refused the config"

# --- 1. the TLS front ---------------------------------------------------------------------------
start_relay front 8001 --proxy-protocol --trusted-proxy 10.77.0.1 --admin-listen 127.0.0.1:9001 \
  --access-log "$WORK/access.log"
# The edge tier's relays: haproxy adds X-Forwarded-For; a drain of 6 s on SIGTERM.
start_relay edge_a 8002 --trusted-proxy 10.77.0.1 --drain 6
start_relay edge_b 8003 --trusted-proxy 10.77.0.1 --drain 6
ip netns exec "$SERVER" haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
HAPROXY=$!
CHILDREN+=("$HAPROXY")
for _ in $(seq 1 100); do
  on_client curl -sk -o /dev/null --max-time 2 https://10.77.0.1:8443/health && break
  sleep 0.1
done
on_client curl -skf --max-time 2 https://10.77.0.1:8443/health >/dev/null || fail "no answer through the TLS front"
pass "haproxy terminates TLS on 10.77.0.1:8443 and sends PROXY v2 to ringcast"

ip netns exec "$CLIENT" timeout 60 ffmpeg -hide_banner -nostdin -loglevel warning -re -f lavfi -i sine=frequency=440 \
  -c:a libmp3lame -b:a 128k -f mp3 -content_type audio/mpeg -tls 1 \
  "icecast://source:$PASSWORD@10.77.0.1:8443/radio.mp3" 2>"$WORK/push.log" &
PUSHER=$!
CHILDREN+=("$PUSHER")
# front_stat FIELD: a number from /radio.mp3's /stats block, read on the admin listener.
front_stat() {
  on_server curl -sf --max-time 5 http://127.0.0.1:9001/stats | jq -r --arg f "$1" '.mounts["/radio.mp3"][$f] // empty'
}
bytes=0
for _ in $(seq 1 100); do
  bytes=$(front_stat bytes_in)
  [ "${bytes:-0}" -gt 16000 ] && break
  kill -0 "$PUSHER" 2>/dev/null || fail "ffmpeg's push over TLS exited"
  sleep 0.1
done
[ "${bytes:-0}" -gt 16000 ] || fail "ffmpeg's push over TLS did not arrive (bytes_in=${bytes:-none})"
pass "ffmpeg pushes icecast:// -tls 1 through the front"

codec=$(on_client timeout 20 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 \
  https://10.77.0.1:8443/radio.mp3 2>"$WORK/ffprobe.log") || fail "ffprobe over https failed"
[ "$codec" = mp3 ] || fail "ffprobe over https found '$codec', not mp3"
pass "ffprobe reads https://…/radio.mp3: $codec"

# A station's web player: an https page (the relay's dashboard, through the front) plays the
# https stream in Chromium.
played=$(on_client timeout 90 python3 "$(dirname "$0")/https_player_check.py" https://10.77.0.1:8443/ \
  https://10.77.0.1:8443/radio.mp3 2>"$WORK/chromium.log") || fail "Chromium in an https page: $played"
pass "Chromium: $played"

# HLS over https: a small H.264 stream pushed through the front, its playlist and segments read
# back through it.
ip netns exec "$CLIENT" timeout 60 ffmpeg -hide_banner -nostdin -loglevel warning -re \
  -f lavfi -i testsrc=size=160x120:rate=10 -c:v libx264 -preset ultrafast -g 10 -f mpegts \
  -content_type video/mp2t -tls 1 "icecast://source:$PASSWORD@10.77.0.1:8443/cam.ts" 2>"$WORK/push-video.log" &
VIDEO=$!
CHILDREN+=("$VIDEO")
segments=0
for _ in $(seq 1 100); do
  segments=$(on_client curl -sk --max-time 2 https://10.77.0.1:8443/cam.ts/index.m3u8 | grep -c '\.ts$' || true)
  [ "$segments" -ge 2 ] && break
  kill -0 "$VIDEO" 2>/dev/null || fail "ffmpeg's video push over TLS exited"
  sleep 0.2
done
[ "$segments" -ge 2 ] || fail "no HLS playlist with two segments at https://…/cam.ts/index.m3u8 within 20 s"
hls=$(on_client timeout 20 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 \
  https://10.77.0.1:8443/cam.ts/index.m3u8 2>"$WORK/ffprobe-hls.log") || fail "ffprobe on HLS over https failed"
# (ffprobe lists the stream once per HLS program as well.)
[ "$(echo "$hls" | grep -v "^$" | sort -u)" = h264 ] || fail "ffprobe found '$hls' in HLS over https, not h264"
kill -INT "$VIDEO" 2>/dev/null || true
reap "$VIDEO" || true
pass "HLS over https: ffprobe reads h264 from https://…/cam.ts/index.m3u8"

# A listener that forges X-Forwarded-For: behind a PROXY header it is not believed.
ip netns exec "$CLIENT" timeout 20 curl -sk --max-time 8 -H 'X-Forwarded-For: 6.6.6.6' -o "$WORK/https.body" \
  https://10.77.0.1:8443/radio.mp3 &
LISTENER=$!
CHILDREN+=("$LISTENER")
listed=
for _ in $(seq 1 100); do
  listed=$(on_server curl -sf --max-time 5 -u "admin:$ADMIN_PASSWORD" \
    'http://127.0.0.1:9001/admin/listclients?mount=/radio.mp3&format=json' | jq -r '[.viewers[].ip] | join(" ")' || true)
  [ -n "$listed" ] && break
  sleep 0.1
done
# (Chromium's listener may still be on the list for a moment: every entry must be 10.77.0.2.)
[ -n "$listed" ] && [ -z "$(echo "$listed" | tr ' ' '\n' | grep -vx 10.77.0.2)" ] ||
  fail "/admin/listclients lists '$listed', not the client's own 10.77.0.2"
pass "/admin/listclients shows the client's address 10.77.0.2 (its forged X-Forwarded-For ignored)"
status=0
reap "$LISTENER" || status=$?
[ "$status" -eq 28 ] || fail "curl over https exited with $status"
[ "$(stat -c %s "$WORK/https.body")" -gt 50000 ] || fail "curl over https got only $(stat -c %s "$WORK/https.body") bytes"
pass "curl read $(stat -c %s "$WORK/https.body") bytes over https"

# A client that reaches the relay itself and claims another address is closed unanswered.
answer=$(on_client timeout 10 python3 - <<'EOF'
import socket
s = socket.create_connection(("10.77.0.1", 8001), timeout=5)
try:  # closed at once: a FIN, or a reset when the bytes arrived first
    s.sendall(b"PROXY TCP4 1.2.3.4 10.77.0.1 1111 8001\r\nGET /radio.mp3 HTTP/1.0\r\n\r\n")
    print(len(s.recv(100)))
except (ConnectionResetError, BrokenPipeError):
    print(0)
EOF
) || fail "the direct connection failed oddly"
[ "$answer" = 0 ] || fail "a PROXY header from the client itself got $answer bytes of answer"
refused=$(on_server curl -sf --max-time 5 http://127.0.0.1:9001/stats | jq -r '.refused.untrusted_proxy')
[ "$refused" = 1 ] || fail "refused.untrusted_proxy is $refused, not 1"
pass "a PROXY header from an untrusted address is refused (refused.untrusted_proxy = 1)"
kill -INT "$PUSHER" 2>/dev/null || true
reap "$PUSHER" || true
# The source's line is written when its session ends.
for _ in $(seq 1 50); do grep -q '"PUT /radio.mp3' "$WORK/access.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^10\.77\.0\.2 - .*"GET /radio.mp3 HTTP/1.1"' "$WORK/access.log" || fail "the access log has no listener line for 10.77.0.2"
grep -q '^10\.77\.0\.2 - .*"PUT /radio.mp3 HTTP/1.1"' "$WORK/access.log" || fail "the access log has no source line for 10.77.0.2"
if grep -q '^10\.77\.0\.1 ' "$WORK/access.log"; then fail "the access log shows haproxy's address"; fi
pass "the access log shows 10.77.0.2 for the source and the listeners, never haproxy's address"

# --- 2. the edge tier: balance uri, consistent hashing, health, drain -----------------------------
# Each mount is pushed to both relays (the relay tree would pull it on demand instead).
MOUNTS=(/m1.mp3 /m2.mp3 /m3.mp3 /m4.mp3 /m5.mp3 /m6.mp3)
ip netns exec "$SERVER" timeout 120 python3 - "$PASSWORD" "${MOUNTS[@]}" >"$WORK/pushers.log" 2>&1 <<'EOF' &
import base64, socket, sys, time
password, mounts = sys.argv[1], sys.argv[2:]
auth = base64.b64encode(f"source:{password}".encode()).decode()
sockets = []
for port in (8002, 8003):
    for mount in mounts:
        s = socket.create_connection(("10.77.0.1", port), timeout=5)
        s.sendall(f"PUT {mount} HTTP/1.0\r\nAuthorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\n\r\n".encode())
        assert s.recv(100).startswith(b"HTTP/1.0 200"), mount
        sockets.append(s)
print("pushing", flush=True)
while True:  # 16 kB/s per mount, until killed
    for s in sockets:
        s.sendall(b"\xff\xfb\x90\x64" + bytes(1596))
    time.sleep(0.1)
EOF
PUSHERS=$!
CHILDREN+=("$PUSHERS")
for _ in $(seq 1 100); do grep -q pushing "$WORK/pushers.log" && break; sleep 0.1; done
grep -q pushing "$WORK/pushers.log" || fail "the test's sources did not connect"

# joins PORT MOUNT: how many listeners the relay on PORT has admitted to MOUNT.
joins() {
  on_server curl -sf --max-time 5 "http://10.77.0.1:$1/stats" | jq -r --arg m "$2" '.mounts[$m].joins // 0'
}
# haproxy's first health checks pass within a second; until then it answers 503.
for _ in $(seq 1 50); do
  code=$(on_client curl -s -o /dev/null --max-time 0.5 -w '%{http_code}' http://10.77.0.1:8080/m1.mp3 || true)
  [ "$code" = 200 ] && break
  sleep 0.2
done
[ "$code" = 200 ] || fail "haproxy's edge front did not serve /m1.mp3 within 10 s (status $code)"
for mount in "${MOUNTS[@]}"; do
  for _ in 1 2 3; do
    on_client curl -s -o /dev/null --max-time 0.5 "http://10.77.0.1:8080$mount" || true
  done
done
placement=()
for mount in "${MOUNTS[@]}"; do
  a=$(joins 8002 "$mount")
  b=$(joins 8003 "$mount")
  [ $((a + b)) -ge 3 ] || fail "$mount: $a + $b joins, not the 3 requests (and the warm-up's)"
  if [ "$a" -ne 0 ] && [ "$b" -ne 0 ]; then fail "$mount was served by both relays ($a and $b joins)"; fi
  placement+=("$mount:$([ "$a" -ne 0 ] && echo a || echo b)")
done
echo "${placement[*]}" | grep -q ':a' && echo "${placement[*]}" | grep -q ':b' ||
  fail "every mount went to one relay: ${placement[*]}"
pass "balance uri: every request for a mount reached the same relay (${placement[*]})"

# Drain the relay that serves /m1.mp3 while one of its listeners plays.
if [[ " ${placement[*]} " == *" /m1.mp3:a "* ]]; then
  DRAINED=$EDGE_A DRAINED_PORT=8002 OTHER_PORT=8003
else
  DRAINED=$EDGE_B DRAINED_PORT=8003 OTHER_PORT=8002
fi
ip netns exec "$CLIENT" timeout 30 curl -s --max-time 20 -o "$WORK/drained.body" http://10.77.0.1:8080/m1.mp3 &
DRAIN_LISTENER=$!
CHILDREN+=("$DRAIN_LISTENER")
for _ in $(seq 1 50); do [ -s "$WORK/drained.body" ] && break; sleep 0.1; done
kill -TERM "$DRAINED"
for _ in $(seq 1 50); do
  [ "$(on_server curl -s -o /dev/null -w '%{http_code}' "http://10.77.0.1:$DRAINED_PORT/health")" = 503 ] && break
  sleep 0.1
done
before=$(stat -c %s "$WORK/drained.body")
# haproxy sees the 503 within two checks and sends the drained relay's mounts to the other.
other_before=$(joins "$OTHER_PORT" /m1.mp3)
moved=
for _ in $(seq 1 50); do
  on_client curl -s -o /dev/null --max-time 0.5 http://10.77.0.1:8080/m1.mp3 || true
  if [ "$(joins "$OTHER_PORT" /m1.mp3)" -gt "$other_before" ]; then moved=yes; break; fi
  sleep 0.1
done
[ -n "$moved" ] || fail "new requests for /m1.mp3 did not move to the other relay during the drain"
pass "while one relay drains, new requests for its mounts reach the other"
sleep 1
after=$(stat -c %s "$WORK/drained.body")
[ "$after" -gt "$before" ] || fail "the drained relay's listener stopped receiving during the drain ($before → $after bytes)"
status=0
reap "$DRAINED" || status=$?
[ "$status" -eq 0 ] || fail "the drained relay exited with $status"
grep -q 'drain period over' "$WORK/edge_$([ "$DRAINED_PORT" = 8002 ] && echo a || echo b).log" ||
  fail "the drained relay did not end with its drain period"
reap "$DRAIN_LISTENER" || true
pass "the drained relay's listener received through the drain ($before → $after bytes), and it exited 0 after it"

kill "$PUSHERS" 2>/dev/null || true
reap "$PUSHERS" || true
kill "$HAPROXY" 2>/dev/null || true
reap "$HAPROXY" || true
