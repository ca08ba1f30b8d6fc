#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CI stage: a machine vigil was not tuned on. scripts/eval-rig.py generates a
# simulated accelerated-life rig (tests/tools/sim_rig_dataset.cpp: six
# bearings, two axes, 2,560 samples at 25.6 kHz every 10 s, no bearing
# geometry, running-in, wander and knocks), runs `vigil backtest --learn N`
# with N = 10 % of each life, and fails when a bearing's first warning falls
# before 20 % of its life or in its last 1 %, or the median lead is under 6 %
# of life. About 5 s.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$repo/build}"
/usr/bin/python3 "$repo/scripts/eval-rig.py"
