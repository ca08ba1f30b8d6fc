#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Reading → email latency through the real BLE road, rules, notifier and an
# SMTP relay with STARTTLS + login (issue 15; goal p99 < 2 s).
# Usage: tests/bench/notify_latency.sh [BUILD_DIR]    env: ROUNDS=40
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
export VIGIL_BIN=${VIGIL_BIN:-$BUILD/vigil} BUILD_DIR=$BUILD
[ -x "$VIGIL_BIN" ] || { echo "no vigil binary at $VIGIL_BIN (build first)"; exit 1; }
exec /usr/bin/python3 "$ROOT/tests/bench/notify_latency.py"
