# Sourced by the shell integration tests: a scratch folder, children that die with the script,
# fail/pass reporting, and a ringcast started on an ephemeral loopback port.
# After sourcing: WORK (removed on exit), CHILDREN (pids killed on exit), fail, pass, and
# start_relay RINGCAST [flags...], which sets RELAY (its pid), PORT and BASE.

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

# fail MESSAGE: prints it and the tail of every log in WORK, then exits 1.
fail() {
  echo "FAIL: $*" >&2
  for log in "$WORK"/*.log; do
    [ -f "$log" ] || continue
    echo "--- $(basename "$log") (last 30 lines)" >&2
    tail -n 30 "$log" >&2
  done
  exit 1
}
pass() { echo "ok: $*"; }

# start_relay RINGCAST [flags...]: listens on 127.0.0.1, port 0; its log is WORK/relay.log.
start_relay() {
  local binary=$1
  shift
  "$binary" --listen 127.0.0.1:0 "$@" >/dev/null 2>"$WORK/relay.log" &
  RELAY=$!
  CHILDREN+=("$RELAY")
  PORT=
  for _ in $(seq 1 150); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$WORK/relay.log" | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 "$RELAY" 2>/dev/null || fail "ringcast exited before listening"
    sleep 0.1
  done
  [ -n "$PORT" ] || fail "ringcast did not report its port within 15 s"
  BASE="http://127.0.0.1:$PORT"
  pass "ringcast listening on $BASE"
}

# mount_stat MOUNT FIELD: a number from the mount's block of /stats (empty if none).
mount_stat() {
  timeout 5 curl -sf "$BASE/stats" |
    sed -n "/\"${1//\//\\/}\": {/,/}/s/.*\"$2\": \([0-9]*\).*/\1/p" | head -n 1
}

# wait_for_stream MOUNT MIN_BYTES PUSHER: within 10 s the relay has received MIN_BYTES on
# MOUNT from the source process PUSHER, which must not exit meanwhile.
wait_for_stream() {
  local mount=$1 wanted=$2 pusher=$3 bytes=0
  for _ in $(seq 1 100); do
    kill -0 "$pusher" 2>/dev/null || fail "the source of $mount exited early"
    bytes=$(mount_stat "$mount" bytes_in)
    [ "${bytes:-0}" -gt "$wanted" ] && return 0
    sleep 0.1
  done
  fail "no stream arrived on $mount within 10 s (bytes_in=${bytes:-none})"
}
