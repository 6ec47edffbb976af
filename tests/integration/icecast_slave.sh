#!/usr/bin/env bash
# Icecast 2.4.4 (Debian's icecast2) as a slave of a ringcast master, as Icecast operators build
# relay trees: the slave lists the master's mounts with GET /admin/streamlist.txt (Basic auth,
# the relay user), relays each one as a listener with ICY metadata, and its own listeners hear
# them, titles included; a hidden mount is not relayed. And the other way: a ringcast edge
# (--relay-origin) pulls from that Icecast on demand, titles included, and a mount Icecast
# lacks is 404 at the edge (a tree ringcast -> icecast2 -> ringcast); and a ringcast slave
# ([master]) of that Icecast relays every mount it lists.
# Usage: icecast_slave.sh path/to/ringcast. Loopback only; every wait is bounded.
set -euo pipefail

RINGCAST=${1:?usage: icecast_slave.sh path/to/ringcast}
PASSWORD=hackme
RELAY_PASSWORD=relaypw
source "$(dirname "$0")/harness.sh"

require icecast2 ffmpeg ffprobe curl jq python3 timeout

# await WANTED TRIES COMMAND...: runs COMMAND every 0.2 s until it prints WANTED, at most TRIES
# times; SEEN holds what it printed last.
await() {
  local wanted=$1 tries=$2
  shift 2
  for _ in $(seq 1 "$tries"); do
    SEEN=$("$@" || true)
    [ "$SEEN" = "$wanted" ] && return 0
    sleep 0.2
  done
  return 1
}
# stats_field BASE JQ: a value of a ringcast's /stats.
stats_field() { timeout 5 curl -sf "$1/stats" | jq -r "$2"; }

cat >"$WORK/master.toml" <<TOML
relay_password = "$RELAY_PASSWORD"
[mounts."/hidden.mp3"]
hidden = true
TOML
start_ringcast "$RINGCAST" --config "$WORK/master.toml" --source-password "$PASSWORD" --admin-password adminpw
pass "ringcast master on $BASE"

# push MOUNT FREQUENCY: an MP3 tone to the master.
push() {
  timeout 90 nice ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i "sine=frequency=$2" \
    -c:a libmp3lame -b:a 128k -f mp3 -content_type audio/mpeg \
    "icecast://source:$PASSWORD@127.0.0.1:$PORT$1" 2>"$WORK/push${1//\//_}.log" &
  CHILDREN+=("$!")
  wait_for_stream "$1" 16000 "$!" 15
}
push /radio.mp3 440
push /talk.mp3 660
push /hidden.mp3 880
timeout 5 curl -sf -u "admin:adminpw" -G "$BASE/admin/metadata" --data-urlencode mount=/radio.mp3 \
  --data-urlencode mode=updinfo --data-urlencode "song=Master Title" >/dev/null || fail "updinfo on the master failed"
pass "three mounts pushed to the master (one hidden), /radio.mp3 titled 'Master Title'"

# The slave: a free loopback port (icecast2 takes no port 0) and the master's address.
SLAVE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/slave"
chmod 777 "$WORK" "$WORK/slave"  # icecast2 drops root for nobody
CHANGE_OWNER=
[ "$(id -u)" -eq 0 ] && CHANGE_OWNER='<security><changeowner><user>nobody</user><group>nogroup</group></changeowner></security>'
cat >"$WORK/icecast.xml" <<XML
<icecast>
  <limits><sources>10</sources></limits>
  <authentication><source-password>unused</source-password><admin-user>admin</admin-user>
    <admin-password>slaveadmin</admin-password>
    <relay-user>relay</relay-user><relay-password>icerelay</relay-password></authentication>
  <master-server>127.0.0.1</master-server><master-server-port>$PORT</master-server-port>
  <master-update-interval>1</master-update-interval>
  <master-username>relay</master-username><master-password>$RELAY_PASSWORD</master-password>
  <relays-on-demand>0</relays-on-demand>
  <listen-socket><port>$SLAVE_PORT</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>$WORK/slave</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  $CHANGE_OWNER
</icecast>
XML
icecast2 -c "$WORK/icecast.xml" >"$WORK/icecast.log" 2>&1 &
ICECAST=$!
CHILDREN+=("$ICECAST")
SLAVE="http://127.0.0.1:$SLAVE_PORT"

# slave_mounts: the mounts the slave's status-json lists, sorted (icecast2 must be running).
slave_mounts() {
  kill -0 "$ICECAST" 2>/dev/null || fail "icecast2 exited"
  timeout 5 curl -sf "$SLAVE/status-json.xsl" |
    jq -r '[.icestats.source // empty] | flatten | map(.listenurl | sub(".*/"; "/")) | sort | join(" ")'
}
await "/radio.mp3 /talk.mp3" 100 slave_mounts || fail "the slave relays '$SEEN', not /radio.mp3 /talk.mp3"
grep -q "Master accepted streamlist request" "$WORK/slave/error.log" || fail "the slave's streamlist request was not accepted"
pass "the Icecast slave relays /radio.mp3 and /talk.mp3, not the hidden mount"

status=0
timeout 10 curl -s --max-time 3 -o "$WORK/relayed.mp3" "$SLAVE/radio.mp3" || status=$?
[ "$status" -eq 28 ] || fail "curl from the slave exited with $status"
codec=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$WORK/relayed.mp3" 2>/dev/null || true)
[ "$codec" = mp3 ] || fail "what the slave relays is '$codec', not mp3"
pass "a listener of the slave gets $(stat -c %s "$WORK/relayed.mp3") bytes of MP3 from /radio.mp3"

slave_title() {
  timeout 5 curl -sf "$SLAVE/status-json.xsl" |
    jq -r '[.icestats.source] | flatten | map(select(.listenurl | endswith("/radio.mp3"))) | .[0].title // empty'
}
await "Master Title" 50 slave_title || fail "the slave shows title '$SEEN' for /radio.mp3, not the master's"
pass "the master's title reaches the slave through the relayed ICY metadata"

agents=$(timeout 5 curl -sf -u admin:adminpw "$BASE/admin/listclients?mount=/radio.mp3&format=json" |
  jq -r '[.viewers[].user_agent] | join(",")')
[[ $agents == *Icecast* ]] || fail "the master does not list the slave among /radio.mp3's listeners: $agents"
pass "the master lists the slave as one of /radio.mp3's listeners ($agents)"

# --- a ringcast edge of the Icecast slave --------------------------------------------------------
MASTER_RELAY=$RELAY
start_ringcast "$RINGCAST" --relay-origin "$SLAVE"
status=0
timeout 10 curl -s --max-time 3 -o "$WORK/edge.mp3" "$BASE/radio.mp3" || status=$?
[ "$status" -eq 28 ] || fail "curl from the edge exited with $status"
codec=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$WORK/edge.mp3" 2>/dev/null || true)
[ "$codec" = mp3 ] || fail "what the edge serves is '$codec', not mp3"
state=$(stats_field "$BASE" '.mounts["/radio.mp3"].relay.state // empty')
[ "$state" = streaming ] || fail "the edge's pull of /radio.mp3 is '$state'"
pass "a ringcast edge pulls /radio.mp3 from icecast2: $(stat -c %s "$WORK/edge.mp3") bytes of MP3"
await "Master Title" 50 stats_field "$BASE" '.mounts["/radio.mp3"].title // empty' ||
  fail "the edge's title for /radio.mp3 is '$SEEN', not icecast2's"
pass "icecast2's ICY title reaches the edge ('$SEEN')"
code=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' "$BASE/missing.mp3")
[ "$code" = 404 ] || fail "a mount icecast2 lacks answered $code at the edge, not 404"
pass "a mount icecast2 lacks is 404 at the edge"
stop_ringcast

# --- a ringcast slave of the Icecast server (master/slave, the other way) ----------------------
cat >"$WORK/slave.toml" <<TOML
[master]
url = "http://relay:icerelay@127.0.0.1:$SLAVE_PORT"
update_interval = 1
TOML
start_ringcast "$RINGCAST" --config "$WORK/slave.toml"
await "/radio.mp3 /talk.mp3" 100 stats_field "$BASE" \
  '[.mounts | to_entries[] | select(.value.relay.state == "streaming") | .key] | sort | join(" ")' ||
  fail "the ringcast slave of icecast2 relays '$SEEN', not /radio.mp3 /talk.mp3"
await "Master Title" 50 stats_field "$BASE" '.mounts["/radio.mp3"].title // empty' ||
  fail "the ringcast slave's title for /radio.mp3 is '$SEEN'"
pass "a ringcast slave lists icecast2's mounts (streamlist.txt, its relay user) and relays both, titles included"
stop_ringcast

kill "$ICECAST" 2>/dev/null || true
reap "$ICECAST" || true
RELAY=$MASTER_RELAY
stop_ringcast
