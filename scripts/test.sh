#!/usr/bin/env bash
# The test suite in tiers (ctest labels; tests/CMakeLists.txt says what each holds):
#
#   scripts/test.sh --fast   unit + integration in the normal build, tests in parallel: the
#                            command to run after every change (a few minutes with a warm build)
#   scripts/test.sh          everything, as CI runs it (.ci/run): libFuzzer on every fuzz target;
#                            unit + integration under ThreadSanitizer; unit + integration under
#                            AddressSanitizer+UBSan (LeakSanitizer included), with the clients
#                            tests that reach relay code the other tiers do not; then every tier
#                            in the normal build, which runs last so the output ends with
#                            ctest's summary.
#
# Installs what is missing first (Debian packages only). The sanitizer builds leave out the load
# tool: nothing there is the relay's code, and the Prometheus test that drives it runs in the
# normal build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

jobs=$(nproc)
phase() { echo "== $1 ($(date +%T), ${SECONDS}s in)"; }

if [ "${1:-}" = "--fast" ]; then
  ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}"
  phase "fast tier: unit + integration, normal build"
  configure_and_build build
  ctest --test-dir build -L '^(unit|integration)$' -j"$jobs" --output-on-failure --timeout 300
  echo "fast tier passed in ${SECONDS}s"
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: scripts/test.sh [--fast]" >&2; exit 2; }

ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}" "${RINGCAST_TEST_PACKAGES[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# tsan.supp: moodycamel's fence-based block handoff, which TSan cannot model (see the file).
export TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tsan.supp"

phase "libFuzzer: every target, 20 s each from the seed corpus, one per core at a time"
bash tests/fuzz/run.sh 20

# Unit and integration tests run in parallel, as in the fast tier: each integration test has
# its own relay on port 0 and waits for what it observes, with bounds. Under TSan that halves
# the tier (199 s one at a time, 99-131 s two at a time, green in four runs). The clients
# tier runs one at a time: real players and encoders each load a core of their own.
phase "ThreadSanitizer: unit + integration"
configure_and_build build-tsan -DRINGCAST_TSAN=ON -DRINGCAST_BUILD_BENCH=OFF
ctest --test-dir build-tsan -L '^(unit|integration)$' -j"$jobs" --output-on-failure --timeout 300

# The clients tier under ASan: only the tests that execute relay code unit + integration never
# do (scripts/clients-coverage.sh measures it with gcov). On 55fac05 and again on 3abea3c:
# auth 230-236 lines, the Authenticator (users-file hashes on the thread pool, url auth, the
# users file read again when it changes); video 33-82, HLS segments and their metrics (how
# much of that the integration tier reaches too varies with its timing); haproxy_front and
# dashboard, when they reach anything of their own, only what video reaches, plus a 404 for a
# playlist asked before its stream is indexed; every other clients test nothing, or only
# main.cpp's password generator. The normal build below runs the whole tier.
asan_clients='^(auth|video)$'
phase "AddressSanitizer + UBSan: unit + integration + clients that reach code of their own"
configure_and_build build-asan -DRINGCAST_SANITIZE=ON -DRINGCAST_BUILD_BENCH=OFF
ctest --test-dir build-asan -L '^(unit|integration)$' -j"$jobs" --output-on-failure --timeout 300
ctest --test-dir build-asan -L '^clients$' -R "$asan_clients" --output-on-failure --timeout 300

phase "normal build: every tier"
configure_and_build build
# Every test has a tier: one without a label would run in no phase.
unlabelled=$(ctest --test-dir build -N -LE '^(unit|integration|clients|bench|soak)$' | sed -n 's/^Total Tests: //p')
[ "$unlabelled" = "0" ] || { echo "tests without a tier label: $unlabelled" >&2; exit 1; }
ctest --test-dir build -L '^(unit|integration)$' -j"$jobs" --output-on-failure --timeout 300
phase "normal build: clients, bench, soak"
ctest --test-dir build -L '^(clients|bench|soak)$' --output-on-failure --timeout 300
