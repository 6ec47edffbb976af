#!/usr/bin/env bash
# Listener and source authentication against the real binary: a users file (MD5 hex and
# SHA-512 crypt hashes), and Icecast's url authenticator against a small auth server this test
# starts (allow, deny, a timeout, garbage; listener_remove, mount_add, stream_auth).
# Usage: auth_test.sh path/to/ringcast. Loopback only; every wait is bounded.
set -euo pipefail

RINGCAST=${1:?usage: auth_test.sh path/to/ringcast}
source "$(dirname "$0")/harness.sh"
require curl python3 openssl md5sum timeout ffmpeg jq

# --- the auth server: decides by user name, logs every form it gets ---------------------------
cat >"$WORK/auth_server.py" <<'PY'
import http.server, socketserver, sys, time, urllib.parse

log = open(sys.argv[1], "a", buffering=1)

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = dict(urllib.parse.parse_qsl(body))
        log.write(body + "\n")
        user = form.get("user", "")
        if user == "slow":
            time.sleep(3)
        if user == "garbage":
            self.wfile.write(b"\x00\x01 not http at all\r\n\r\n")
            return
        self.send_response(200)
        allowed = user in ("alice", "source", "limited") or form.get("action") in ("listener_remove", "mount_add", "mount_remove")
        self.send_header("icecast-auth-user", "1" if allowed else "0")
        if user == "limited" and form.get("action") == "listener_add":
            self.send_header("icecast-auth-timelimit", "1")
        if not allowed:
            self.send_header("icecast-auth-message", "not on the list")
        self.send_header("Content-Length", "0")
        self.end_headers()

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

server = Server(("127.0.0.1", 0), Handler)
print(f"auth server on port {server.server_address[1]}", flush=True)
server.serve_forever()
PY
python3 "$WORK/auth_server.py" "$WORK/forms.txt" >"$WORK/auth_server.log" 2>&1 &
AUTH=$!
CHILDREN+=("$AUTH")
AUTH_PORT=$(wait_for_port "$WORK/auth_server.log" 'auth server on port \([0-9]*\)' "$AUTH" "auth server")
AUTH_URL="http://127.0.0.1:$AUTH_PORT/auth"

# --- the relay: a users-file mount, a url-auth mount, a stream_auth mount --------------------
md5=$(printf 'md5-secret' | md5sum | cut -d' ' -f1)
sha512=$(openssl passwd -6 'crypt-secret')
printf '# listeners\nmd5user:%s\ncryptuser:%s\n' "$md5" "$sha512" >"$WORK/listeners.htpasswd"
cat >"$WORK/ringcast.toml" <<TOML
[mounts."/members.mp3"]
listener_users_file = "$WORK/listeners.htpasswd"

[mounts."/shared.mp3"]
listener_users_file = "$WORK/listeners.htpasswd"
allow_duplicate_users = true

[mounts."/paid.mp3"]
listener_add_url = "$AUTH_URL"
listener_remove_url = "$AUTH_URL"
mount_add_url = "$AUTH_URL"
mount_remove_url = "$AUTH_URL"
auth_timeout = 1
auth_headers = "X-Token, Referer"

[mounts."/guarded.mp3"]
stream_auth_url = "$AUTH_URL"
TOML
start_ringcast "$RINGCAST" --source-password hackme --config "$WORK/ringcast.toml"
pass "ringcast listening on $BASE with three authenticated mounts"

# push MOUNT USER PASSWORD: an ffmpeg MP3 source in the background (PUSHER).
push() {
  timeout 60 nice ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i sine=frequency=440 \
    -c:a libmp3lame -b:a 128k -f mp3 -content_type audio/mpeg \
    "icecast://$2:$3@127.0.0.1:$PORT$1" 2>"$WORK/push${1//\//_}.log" &
  PUSHER=$!
  CHILDREN+=("$PUSHER")
}
for mount in /shared.mp3 /members.mp3 /paid.mp3; do
  push "$mount" source hackme
  wait_for_stream "$mount" 16000 "$PUSHER"
done
PAID_PUSHER=$PUSHER
pass "sources live on /shared.mp3, /members.mp3 and /paid.mp3"

# status MOUNT [curl args...]: the HTTP status of a 1 s listen (the stream is cut by --max-time).
status() {
  local mount=$1
  shift
  timeout 10 curl -s -o "$WORK/listen.bin" -w '%{http_code}' --max-time 1 "$@" "$BASE$mount" || true
}
# refusal MOUNT [curl args...]: the status of a request expected to be refused (no stream).
refusal() {
  local mount=$1
  shift
  timeout 10 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$BASE$mount" || true
}

# --- the users file ----------------------------------------------------------------------------
[ "$(status /members.mp3 -u md5user:md5-secret)" = 200 ] || fail "md5user was not let in"
[ "$(stat -c %s "$WORK/listen.bin")" -gt 1000 ] || fail "md5user got no stream"
[ "$(status /members.mp3 -u cryptuser:crypt-secret)" = 200 ] || fail "cryptuser (SHA-512 crypt) was not let in"
[ "$(refusal /members.mp3 -u md5user:wrong)" = 401 ] || fail "a wrong password was not refused with 401"
[ "$(refusal /members.mp3 -u nobody:x)" = 401 ] || fail "an unknown user was not refused with 401"
challenge=$(timeout 5 curl -s -D - -o /dev/null "$BASE/members.mp3" | tr -d '\r' | grep -i '^WWW-Authenticate:' || true)
[ -n "$challenge" ] || fail "a listener without credentials got no Basic challenge"
grep -q 'listener nobody refused for /members.mp3: unknown user: 401' "$WORK/relay.log" ||
  fail "the unknown user's refusal was not logged as such"
pass "users file: MD5 hex and SHA-512 crypt users admitted; wrong password, unknown user, no credentials: 401"

# Edited while the relay runs: the new user is let in without a SIGHUP (checked once a second).
newmd5=$(printf 'new-secret' | md5sum | cut -d' ' -f1)
printf 'newuser:%s\n' "$newmd5" >>"$WORK/listeners.htpasswd"
admitted=
for _ in $(seq 1 50); do
  [ "$(status /members.mp3 -u newuser:new-secret)" = 200 ] && { admitted=1; break; }
  sleep 0.1
done
[ -n "$admitted" ] || fail "a user added to the users file was not let in"
[ "$(stat -c %s "$WORK/listen.bin")" -gt 1000 ] || fail "the new user got no stream"
grep -q 'users file .*listeners.htpasswd of /members.mp3 changed: read again, 3 users' "$WORK/relay.log" ||
  fail "the users file's re-read was not logged"
pass "users file edited while the relay runs: re-read within seconds, the new user admitted"

# One connection per user and mount (Icecast's duplicate-user rule), unless the mount allows more.
timeout 10 curl -s -o /dev/null --max-time 6 -u md5user:md5-secret "$BASE/members.mp3" &
HOLDER=$!
for _ in $(seq 1 50); do
  [ "$(timeout 5 curl -sf "$BASE/stats" | jq '.mounts["/members.mp3"].viewers')" = 1 ] && break
  sleep 0.1
done
[ "$(refusal /members.mp3 -u md5user:md5-secret)" = 403 ] || fail "a second connection of md5user was not refused"
[ "$(status /members.mp3 -u cryptuser:crypt-secret)" = 200 ] || fail "another user was refused while md5user listened"
[ "$(status /shared.mp3 -u md5user:md5-secret)" = 200 ] || fail "allow_duplicate_users: md5user on /shared.mp3 refused"
wait "$HOLDER" || true
for _ in $(seq 1 50); do
  [ "$(timeout 5 curl -sf "$BASE/stats" | jq '.mounts["/members.mp3"].viewers')" = 0 ] && break
  sleep 0.1
done
[ "$(status /members.mp3 -u md5user:md5-secret)" = 200 ] || fail "md5user was refused after its first connection ended"
pass "duplicate users: a second connection of a listening user 403, others and allow_duplicate_users mounts served, free again once it left"

# --- the url authenticator ---------------------------------------------------------------------
[ "$(status /paid.mp3 -u alice:pw -A 'TestAgent/1')" = 200 ] || fail "the auth server's allowed listener got no stream"
grep -q 'action=listener_add&server=127.0.0.1&port='"$PORT"'&client=[0-9]*&mount=%2Fpaid.mp3&user=alice&pass=pw&ip=127.0.0.1&agent=TestAgent%2F1' \
  "$WORK/forms.txt" || fail "listener_add did not carry Icecast's fields: $(cat "$WORK/forms.txt")"
for _ in $(seq 1 50); do
  grep -q 'action=listener_remove.*user=alice.*&duration=[0-9]' "$WORK/forms.txt" && break
  sleep 0.1
done
grep -q 'action=listener_remove.*user=alice.*&duration=[0-9]' "$WORK/forms.txt" || fail "no listener_remove after alice left"
grep -q 'action=mount_add&mount=%2Fpaid.mp3' "$WORK/forms.txt" || fail "no mount_add when the source started"
[ "$(refusal /paid.mp3 -u mallory:pw)" = 401 ] || fail "the auth server's refusal did not give 401"
started=$(date +%s%N)
[ "$(refusal /paid.mp3 -u slow:pw)" = 503 ] || fail "an auth server slower than auth_timeout did not fail closed"
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
[ "$took_ms" -lt 2500 ] || fail "the timeout took $took_ms ms (auth_timeout is 1 s)"
[ "$(refusal /paid.mp3 -u garbage:pw)" = 503 ] || fail "a garbage answer did not fail closed"
pass "url auth: allow (listener_add with Icecast's fields, listener_remove, mount_add), deny 401, timeout and garbage fail closed (503)"

# Icecast's extras: the mount with its query string, the client's headers the mount forwards,
# and a time limit from the auth server that closes the listener when it runs out.
[ "$(status '/paid.mp3?token=abc' -u alice:pw -H 'X-Token: t0k')" = 200 ] || fail "alice with a token got no stream"
grep -q 'mount=%2Fpaid.mp3%3Ftoken%3Dabc&user=alice.*&ClientHeader.X-Token=t0k' "$WORK/forms.txt" ||
  fail "listener_add did not carry the query string and the forwarded header: $(tail -n 3 "$WORK/forms.txt")"
started=$(date +%s%N)
timeout 10 curl -s -o "$WORK/limited.bin" --max-time 8 -u limited:pw "$BASE/paid.mp3" || true
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
[ "$took_ms" -lt 5000 ] || fail "a listener with a 1 s time limit stayed $took_ms ms"
[ "$(stat -c %s "$WORK/limited.bin")" -gt 1000 ] || fail "the time-limited listener got no stream first"
[ "$(timeout 5 curl -sf "$BASE/stats" | jq '.totals.auth_time_limits')" -ge 1 ] || fail "the time limit was not counted"
grep -q 'its time limit (icecast-auth-timelimit) ran out' "$WORK/relay.log" || fail "the time limit was not logged"
pass "url auth: mount with its query string, forwarded client headers, icecast-auth-timelimit closes after ${took_ms} ms"

# The relay stayed responsive throughout, and counted each outcome.
stats=$(timeout 5 curl -sf "$BASE/stats")
allowed=$(echo "$stats" | jq '.totals.auth_allowed')
denied=$(echo "$stats" | jq '.totals.auth_denied')
errors=$(echo "$stats" | jq '.totals.auth_errors')
[ "$allowed" -ge 3 ] && [ "$denied" -ge 3 ] && [ "$errors" -ge 2 ] ||
  fail "auth counters: allowed=$allowed denied=$denied errors=$errors"
grep -q 'refused for /paid.mp3: auth server said no' "$WORK/relay.log" || fail "a refusal was not logged"
pass "counted: $allowed allowed, $denied denied, $errors errors; each logged"

# mount_remove when the source leaves.
kill -INT "$PAID_PUSHER"
reap "$PAID_PUSHER" || true
for _ in $(seq 1 50); do
  grep -q 'action=mount_remove&mount=%2Fpaid.mp3' "$WORK/forms.txt" && break
  sleep 0.1
done
grep -q 'action=mount_remove&mount=%2Fpaid.mp3' "$WORK/forms.txt" || fail "no mount_remove when the source left"
pass "mount_remove when /paid.mp3's source left"

# --- stream_auth for sources -------------------------------------------------------------------
code=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' -X PUT -u intruder:x -H 'Content-Type: audio/mpeg' \
  --data-binary 'xx' "$BASE/guarded.mp3" || true)
[ "$code" = 401 ] || fail "stream_auth let a refused source in (HTTP $code)"
push /guarded.mp3 source anything
wait_for_stream /guarded.mp3 16000 "$PUSHER"
grep -q 'action=stream_auth&mount=%2Fguarded.mp3&ip=127.0.0.1&server=127.0.0.1&port='"$PORT"'&user=source&pass=anything&admin=0' \
  "$WORK/forms.txt" || fail "stream_auth did not carry Icecast's fields"
pass "stream_auth: the auth server decides who broadcasts on /guarded.mp3"

stop_ringcast
