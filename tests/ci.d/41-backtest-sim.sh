#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CI stage: the IMS defaults on other machines. scripts/eval-sim.py generates
# simulated run-to-failure datasets (fan, day-shift motor, 300 rpm conveyor,
# healthy load-cycling pump; tests/tools/sim_dataset.cpp), runs
# `vigil backtest` on each with default settings, and fails on a fault
# flagged late or never, a warning before the fault's onset, a false alarm
# on a healthy channel, or a stopped machine that never reads not_running.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$repo/build}"
/usr/bin/python3 "$repo/scripts/eval-sim.py"
