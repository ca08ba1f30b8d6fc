#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Reproduces the IMS bearing test 2 evaluation (docs/evaluation.md): runs
# `vigil backtest` with default settings over ../shared/data/ims-bearing-test2,
# prints the first snapshot of each state per bearing and checks the targets:
#   bearing1 persistent warning (or worse) at snapshot index <= 545
#   bearing2-4 no warning/alarm up to and including snapshot 700
#   the final snapshot reads not_running
# Exit: 0 targets met, 1 targets missed, 2 usage/tool error, 3 dataset absent.
#
# Environment: VIGIL (path to the vigil binary; default $BUILD_DIR/vigil or
# build/vigil), SHARED_DIR (default ../shared beside the repository), OUT_DIR.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED_DIR:-$repo/../shared}"
data="$shared/data/ims-bearing-test2"
vigil="${VIGIL:-${BUILD_DIR:-$repo/build}/vigil}"
out_dir="${OUT_DIR:-$(mktemp -d)}"

if [[ ! -f "$data/manifest.json" ]]; then
  echo "eval-ims: dataset absent: $data/manifest.json not found (set SHARED_DIR); nothing evaluated" >&2
  exit 3
fi
if [[ ! -x "$vigil" ]]; then
  echo "eval-ims: vigil binary not found at $vigil (set VIGIL or BUILD_DIR)" >&2
  exit 2
fi

csv="$out_dir/ims-test2-backtest.csv"
start=$(date +%s.%N)
"$vigil" backtest --waveforms "$data/manifest.json" --out "$csv" "$@"
end=$(date +%s.%N)
echo "eval-ims: backtest wall time $(echo "$end - $start" | bc) s; CSV: $csv"

awk -F, '
  NR == 1 { next }
  {
    i = $1 + 0; ch = $3; st = $5
    if (!(ch in seen)) { order[++n] = ch; seen[ch] = 1 }
    key = ch SUBSEP st
    if (!(key in first)) { first[key] = i; ts[key] = $2 }
    if ((st == "warning" || st == "alarm") && !((ch, "bad") in first)) first[ch, "bad"] = i
    last_i = i; last_state[ch] = st
  }
  END {
    split("initializing healthy warning alarm not_running", states, " ")
    printf "%-10s", "channel"; for (k = 1; k <= 5; k++) printf " %-26s", states[k]; printf "\n"
    for (c = 1; c <= n; c++) {
      ch = order[c]; printf "%-10s", ch
      for (k = 1; k <= 5; k++) {
        key = ch SUBSEP states[k]
        if (key in first) printf " %-26s", first[key] " (" ts[key] ")"; else printf " %-26s", "never"
      }
      printf "\n"
    }
    fail = 0
    b1 = (("bearing1", "bad") in first) ? first["bearing1", "bad"] : -1
    if (b1 < 0 || b1 > 545) { print "MISS: bearing1 first warning at " b1 " (target <= 545)"; fail = 1 }
    else print "ok:   bearing1 first persistent warning at " b1 " (target <= 545)"
    for (c = 2; c <= 4; c++) {
      ch = "bearing" c
      w = ((ch, "bad") in first) ? first[ch, "bad"] : 99999
      if (w <= 700) { print "MISS: " ch " warning at " w " (target: healthy through 700)"; fail = 1 }
      else print "ok:   " ch " healthy through 700 (first warning " (w == 99999 ? "never" : w) ")"
    }
    for (c = 1; c <= n; c++) if (last_state[order[c]] != "not_running") {
      print "MISS: " order[c] " final snapshot " last_i " reads " last_state[order[c]]; fail = 1 }
    if (!fail) print "ok:   final snapshot " last_i " reads not_running on every bearing"
    exit fail
  }' "$csv"
