#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything vigil needs to build, test and package itself on Debian 12.
# Idempotent: packages already present are skipped, so a warm machine pays ~1 s.
#   packaging/install-deps.sh            build + run deps (what `vigil demo` needs)
#   packaging/install-deps.sh --test     also test, fuzz, firmware and browser tools
set -euo pipefail

build_pkgs=(
  cmake ninja-build g++ pkg-config git ca-certificates
  libboost1.81-dev libsdbus-c++-dev libssl-dev libsqlite3-dev sqlite3
  libeigen3-dev libfftw3-dev nlohmann-json3-dev catch2 libmosquitto-dev
  libsystemd-dev libcli11-dev libspdlog-dev libfmt-dev libcurl4-openssl-dev
  libhowardhinnant-date-dev zlib1g-dev
)
test_pkgs=(
  clang libclang-rt-14-dev
  dbus python3-dbusmock python3-pytest python3-requests python3-aiosmtpd
  mosquitto mosquitto-clients openssl
  lintian dpkg-dev fakeroot file
  chromium nodejs npm
  wrk nginx-light curl procps
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-dev qemu-system-arm
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from outside Debian's archive on dev boxes: a working
  # binary on PATH is enough.
  case "$p" in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
