#!/usr/bin/env bash
# Installs what is missing, builds ringcast and runs it (default: 127.0.0.1:8000, a generated
# source password). Extra arguments go to ringcast, e.g. --listen 0.0.0.0:8000.
#   scripts/run.sh --package   builds the Debian package instead: build/ringcast_VERSION_ARCH.deb
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}"
if [ "${1:-}" = --package ]; then
  ensure_packages dpkg-dev  # dpkg-shlibdeps: the package's Depends
  configure_and_build build -DRINGCAST_BUILD_TESTS=OFF
  rm -f build/ringcast_*.deb
  (cd build && cpack -G DEB)
  exit 0
fi
configure_and_build build -DRINGCAST_BUILD_TESTS=OFF
exec build/relay/ringcast "$@"
