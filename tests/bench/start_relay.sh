# Sourced by the ctest scripts: start_relay RINGCAST ARGS... starts the relay on an ephemeral
# loopback port and sets $pid and $port (read from its "listening on" log line, polled for at
# most 10 s); the relay is stopped by its pid when the script exits.
start_relay() {
  local relay=$1
  shift
  relay_log=$(mktemp)
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$relay_log"' EXIT
  "$relay" --listen 127.0.0.1:0 "$@" 2>"$relay_log" >/dev/null &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$relay_log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "relay did not start"
  cat "$relay_log"
  exit 1
}
