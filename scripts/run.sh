#!/usr/bin/env bash
# Installs what is missing, builds ringcast and runs it (default: 127.0.0.1:8000, a generated
# source password). Extra arguments go to ringcast, e.g. --listen 0.0.0.0:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${RINGCAST_BUILD_PACKAGES[@]}"
configure_and_build build -DRINGCAST_BUILD_TESTS=OFF
exec build/relay/ringcast "$@"
