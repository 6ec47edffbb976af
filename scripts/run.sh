#!/usr/bin/env bash
# Installs what is missing, builds ringcast and runs it (default: 127.0.0.1:8000, a generated
# source password). Extra arguments go to ringcast, e.g. --listen 0.0.0.0:8000.
#   scripts/run.sh --package   builds the Debian package instead, with Debian's hardening flags
#                              (dpkg-buildflags): build-package/ringcast_VERSION_ARCH.deb
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}"
if [ "${1:-}" = --package ]; then
  ensure_packages dpkg-dev  # dpkg-buildflags; dpkg-shlibdeps: the package's Depends
  DEB_BUILD_MAINT_OPTIONS=hardening=+all
  export DEB_BUILD_MAINT_OPTIONS
  configure_and_build build-package -DRINGCAST_BUILD_TESTS=OFF -DRINGCAST_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"
  rm -f build-package/ringcast_*.deb
  (cd build-package && cpack -G DEB)
  exit 0
fi
configure_and_build build -DRINGCAST_BUILD_TESTS=OFF
exec build/relay/ringcast "$@"
