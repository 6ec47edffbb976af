# The shell integration tests' harness (the counterpart of harness.cpp): a scratch directory
# WORK whose *.log files are shown on failure, children in CHILDREN killed on exit, fail and
# pass, and the port a child logs once it listens. Source it after `set -euo pipefail`.

WORK=$(mktemp -d)
CHILDREN=()

cleanup() {
  local pid
  for pid in "${CHILDREN[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${CHILDREN[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$WORK"/*.log; do
    [ -f "$log" ] || continue
    echo "--- $(basename "$log") (last 30 lines)" >&2
    tail -n 30 "$log" >&2
  done
  exit 1
}
pass() { echo "ok: $*"; }

# reap PID: waits for the child PID, drops it from CHILDREN (so cleanup never signals a pid the
# system may have reused) and returns its exit status.
reap() {
  local pid=$1 status=0 child kept=()
  wait "$pid" || status=$?
  for child in "${CHILDREN[@]}"; do [ "$child" = "$pid" ] || kept+=("$child"); done
  CHILDREN=("${kept[@]}")
  return "$status"
}

# require TOOL...: fails unless every TOOL is on PATH.
require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
  done
}

# wait_for_port LOG PATTERN PID NAME: prints the port a child logs once it listens (PATTERN is a
# sed regex whose \1 is the port), waiting at most 15 s and failing if the child exits first.
wait_for_port() {
  local log=$1 pattern=$2 pid=$3 name=$4 port=
  for _ in $(seq 1 150); do
    port=$(sed -n "s|$pattern|\1|p" "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "$name exited before listening"
    sleep 0.1
  done
  [ -n "$port" ] || fail "$name did not report its port within 15 s"
  echo "$port"
}

# start_ringcast BINARY [ARGS...]: the relay on an ephemeral loopback port, its stderr in
# $WORK/relay.log. Sets RELAY (its pid), PORT and BASE (http://127.0.0.1:PORT).
start_ringcast() {
  local binary=$1
  shift
  "$binary" --listen 127.0.0.1:0 "$@" >/dev/null 2>"$WORK/relay.log" &
  RELAY=$!
  CHILDREN+=("$RELAY")
  PORT=$(wait_for_port "$WORK/relay.log" '.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*' "$RELAY" ringcast)
  BASE="http://127.0.0.1:$PORT"
}

# mount_stat MOUNT FIELD: a number from the mount's block of /stats (empty if none).
mount_stat() {
  timeout 5 curl -sf "$BASE/stats" | jq -r --arg m "$1" --arg f "$2" '.mounts[$m][$f] // empty'
}

# wait_for_stream MOUNT MIN_BYTES PUSHER [SECONDS]: within SECONDS (10) the relay has received
# MIN_BYTES on MOUNT from the source process PUSHER, which must not exit meanwhile.
wait_for_stream() {
  local mount=$1 wanted=$2 pusher=$3 seconds=${4:-10} bytes=0
  for _ in $(seq 1 $((seconds * 10))); do
    kill -0 "$pusher" 2>/dev/null || fail "the source of $mount exited early"
    bytes=$(mount_stat "$mount" bytes_in)
    [ "${bytes:-0}" -gt "$wanted" ] && return 0
    sleep 0.1
  done
  fail "no stream arrived on $mount within $seconds s (bytes_in=${bytes:-none})"
}

# start_ezstream CONFIG: ezstream (libshout) with the XML CONFIG, its output in
# $WORK/ezstream.log; sets EZSTREAM. ezstream refuses a config others can read.
start_ezstream() {
  chmod 600 "$1"
  timeout 60 nice ezstream -v -c "$1" >"$WORK/ezstream.log" 2>&1 &
  EZSTREAM=$!
  CHILDREN+=("$EZSTREAM")
}

# stop_ringcast: SIGTERM, then the relay must exit 0 within 10 s.
stop_ringcast() {
  local status=0
  kill -TERM "$RELAY"
  for _ in $(seq 1 100); do
    kill -0 "$RELAY" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$RELAY" 2>/dev/null && fail "ringcast did not exit within 10 s of SIGTERM"
  reap "$RELAY" || status=$?
  [ "$status" -eq 0 ] || fail "ringcast exited with status $status after SIGTERM"
  pass "ringcast exited 0 on SIGTERM"
}
