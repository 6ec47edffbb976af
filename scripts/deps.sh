# Sourced by run.sh and test.sh: installs the Debian 12 packages that are missing, nothing else.
# Everything comes from Debian's archive; nothing is downloaded at build time.

RINGCAST_BUILD_PACKAGES=(cmake g++ make pkg-config libuv1-dev libconcurrentqueue-dev catch2
  libhttp-parser-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libcurl4-openssl-dev libcrypt-dev libssl-dev libxml2-dev)
RINGCAST_TEST_PACKAGES=(ffmpeg curl clang-14 libclang-rt-14-dev prometheus jq chromium python3
  fonts-dejavu-core liquidsoap ezstream mpv openssl haproxy iproute2 lintian dpkg-dev systemd adduser icecast2)

ensure_packages() {
  local missing=()
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "ringcast: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# configure_and_build DIR [cmake args...]
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
