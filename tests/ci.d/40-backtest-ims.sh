#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CI stage: `vigil backtest` on IMS bearing test 2 must meet the detection
# targets of docs/evaluation.md (scripts/eval-ims.sh checks them) and run the
# 3,936 channel-snapshots within 3 s. Skips, saying so, without the dataset.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export SHARED_DIR="${SHARED_DIR:-$repo/../shared}"
export VIGIL="${VIGIL:-${BUILD_DIR:-$repo/build}/vigil}"
if [[ ! -f "$SHARED_DIR/data/ims-bearing-test2/manifest.json" ]]; then
  echo "40-backtest-ims: SKIPPED: dataset $SHARED_DIR/data/ims-bearing-test2 is absent"
  exit 0
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
start=$(date +%s%N)
OUT_DIR="$out" "$repo/scripts/eval-ims.sh"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [[ $rc -ne 0 ]]; then
  echo "40-backtest-ims: FAILED: IMS detection targets missed (rc $rc)"
  exit 1
fi
echo "40-backtest-ims: targets met; whole stage ${ms} ms"
