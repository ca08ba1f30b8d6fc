#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Hostile-network benchmark of `vigil serve` (docs/benchmarks.md, section
# "Under attack"; issue 12): a legitimate client's success rate and p99 on an
# idle gateway, then while 520 slowloris connections and a 16-client
# POST /api/v1/auth/setup flood run. Goal: >= 99 % served, p99 < 100 ms.
# Usage: tests/bench/hostile_bench.sh [BUILD_DIR]
#   env: DURATION=30 RATE=10 SLOW=520 TRICKLE=5 ATTACK_ADDRESSES=8 FLOOD=16 TIMEOUT=5
# Needs `ulimit -n` above SLOW + 600 (it raises the soft limit itself).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
export VIGIL_BIN=${VIGIL_BIN:-$BUILD/vigil}
[ -x "$VIGIL_BIN" ] || { echo "no vigil binary at $VIGIL_BIN (build first)"; exit 1; }
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "hostile_bench: $VIGIL_BIN on $(nproc) cores; attackers, client and gateway share them"
exec /usr/bin/python3 "$ROOT/tests/bench/hostile_bench.py"
