#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Firmware stage: host workflow (core tests, virtual sensor, energy model) and
# nrf52 workflow (cross-build, flash/RAM budget, core tests under qemu), each
# from a fresh build directory.
set -euo pipefail
cd "$(dirname "$0")/../../sensor-fw"
for preset in host nrf52; do
  echo "== sensor-fw: cmake --workflow --preset $preset (fresh build/$preset)"
  rm -rf "build/$preset"
  cmake --workflow --preset "$preset"
done
echo "== sensor-fw: host and nrf52 workflows passed"
