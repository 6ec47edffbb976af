#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole suite (unit, integration, real clients,
# load-tool smoke run) three ways: the relay built with ThreadSanitizer, with AddressSanitizer
# + UndefinedBehaviorSanitizer (LeakSanitizer included), and normally. The normal build runs
# last, so the output ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}" "${RINGCAST_TEST_PACKAGES[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# tsan.supp: moodycamel's fence-based block handoff, which TSan cannot model (see the file).
export TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tsan.supp"

echo "== libFuzzer: request heads and the ring, 20 s each from the seed corpus"
bash tests/fuzz/run.sh 20

echo "== ThreadSanitizer: whole suite"
configure_and_build build-tsan -DRINGCAST_TSAN=ON
ctest --test-dir build-tsan --output-on-failure --timeout 300

echo "== AddressSanitizer + UBSan: whole suite"
configure_and_build build-asan -DRINGCAST_SANITIZE=ON
ctest --test-dir build-asan --output-on-failure --timeout 300

echo "== Release build: whole suite"
configure_and_build build
ctest --test-dir build --output-on-failure --timeout 300
