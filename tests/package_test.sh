#!/usr/bin/env bash
# The Debian package (issue 26): cpack builds it from BUILD_DIR, lintian passes it (no error or
# warning), apt-get installs it on this machine, the installed unit passes systemd-analyze
# verify, the installed binary checks the installed config and serves /health as the package's
# user, and apt-get purge removes it all (binary, config, user).
# Usage: package_test.sh BUILD_DIR. Needs root; refuses to touch a ringcast already installed.
set -euo pipefail

BUILD=$(realpath "${1:?usage: package_test.sh BUILD_DIR}")
source "$(dirname "$0")/integration/harness.sh"

require cpack lintian apt-get dpkg-deb systemd-analyze setpriv curl
[ "$(id -u)" -eq 0 ] || fail "needs root (it installs the package)"
if dpkg-query -W -f '${Status}' ringcast 2>/dev/null | grep -q installed; then
  fail "ringcast is installed on this machine already; this test installs and purges it"
fi
# As the package's user: setpriv execs the command, so a background one's pid is the command's.
AS_RINGCAST=(setpriv --reuid=ringcast --regid=ringcast --clear-groups)
purge() { apt-get purge -y ringcast >>"$WORK/apt.log" 2>&1 || true; }
trap 'cleanup; purge' EXIT

(cd "$BUILD" && rm -f ringcast_*.deb && cpack -G DEB >"$WORK/cpack.log" 2>&1) || fail "cpack failed"
DEB=$(ls "$BUILD"/ringcast_*.deb)
pass "cpack built $(basename "$DEB")"

lintian -I --fail-on error,warning "$DEB" >"$WORK/lintian.log" 2>&1 || fail "lintian: $(cat "$WORK/lintian.log")"
pass "lintian: no error or warning; informational: $(sed -n 's/^I: ringcast: \([^ ]*\).*/\1/p' "$WORK/lintian.log" | sort -u | paste -sd, -) (docs/operations.md says why)"

apt-get install -y "$DEB" >"$WORK/apt.log" 2>&1 || fail "apt-get install failed"
[ -x /usr/bin/ringcast ] || fail "/usr/bin/ringcast was not installed"
getent passwd ringcast >/dev/null || fail "the ringcast system user was not created"
[ "$(stat -c '%U:%G %a' /etc/ringcast/ringcast.toml)" = "root:ringcast 640" ] ||
  fail "/etc/ringcast/ringcast.toml is $(stat -c '%U:%G %a' /etc/ringcast/ringcast.toml), not root:ringcast 640"
dpkg-query -W -f '${Conffiles}' ringcast | grep -q /etc/ringcast/ringcast.toml ||
  fail "/etc/ringcast/ringcast.toml is not a conffile"
man -w ringcast >/dev/null 2>&1 || [ -f /usr/share/man/man1/ringcast.1.gz ] || fail "no manual page"
pass "apt-get installed it: the binary, the user, the config (a conffile, root:ringcast 640), the manual"

systemd-analyze verify /lib/systemd/system/ringcast.service >"$WORK/verify.log" 2>&1 ||
  fail "systemd-analyze verify: $(cat "$WORK/verify.log")"
for option in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes 'CapabilityBoundingSet=$' User=ringcast; do
  grep -q "^$option" /lib/systemd/system/ringcast.service || fail "the unit lacks $option"
done
pass "systemd-analyze verify passes the installed unit, which runs as ringcast with capabilities dropped"

"${AS_RINGCAST[@]}" /usr/bin/ringcast --check-config /etc/ringcast/ringcast.toml >"$WORK/check.log" 2>&1 ||
  fail "the installed binary refused the installed config: $(cat "$WORK/check.log")"
pass "as the ringcast user, the installed binary checks the installed config: $(grep ': ok' "$WORK/check.log")"

"${AS_RINGCAST[@]}" /usr/bin/ringcast --config /etc/ringcast/ringcast.toml --listen 127.0.0.1:0 \
  >/dev/null 2>"$WORK/relay.log" &
RELAY=$!
CHILDREN+=("$RELAY")
PORT=$(wait_for_port "$WORK/relay.log" '.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*' "$RELAY" ringcast)
[ "$(curl -s --max-time 5 "http://127.0.0.1:$PORT/health")" = ok ] || fail "the installed relay's /health is not ok"
kill -INT "$RELAY"
reap "$RELAY" || fail "the installed relay did not exit 0 on SIGINT"
pass "the installed relay runs as the ringcast user and answers /health"

apt-get purge -y ringcast >>"$WORK/apt.log" 2>&1 || fail "apt-get purge failed"
[ ! -e /usr/bin/ringcast ] || fail "/usr/bin/ringcast is left after purge"
[ ! -e /etc/ringcast ] || fail "/etc/ringcast is left after purge"
getent passwd ringcast >/dev/null && fail "the ringcast user is left after purge"
pass "apt-get purge removed the binary, the config and the user"
