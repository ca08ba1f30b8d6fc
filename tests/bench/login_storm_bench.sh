#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Series and fleet latency while 10 logins/s and a checkpoint every second
# run (docs/benchmarks.md, "Under a login storm"; issue 13). Goal: p99 < 25 ms.
# Usage: tests/bench/login_storm_bench.sh [BUILD_DIR]
#   env: DURATION=20 RATE=20 LOGINS_PER_S=10 TIME_FACTOR=600
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
export VIGIL_BIN=${VIGIL_BIN:-$BUILD/vigil}
[ -x "$VIGIL_BIN" ] || { echo "no vigil binary at $VIGIL_BIN (build first)"; exit 1; }
echo "login_storm_bench: $VIGIL_BIN on $(nproc) cores; clients and gateway share them"
exec /usr/bin/python3 "$ROOT/tests/bench/login_storm_bench.py"
