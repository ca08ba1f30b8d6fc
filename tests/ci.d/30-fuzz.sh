#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz stage: builds every libFuzzer target (tests/fuzz/) with clang, ASan
# and UBSan, and runs each from its seed corpus (tests/fuzz/corpus/<name>):
#   protocol_decode  BLE adverts and GATT waveform chunks (FUZZ_SECONDS, default 60)
#   http_api         REST requests through the router, auth and a real Store
#   uplink_command   commands from the cloud broker (topic + payload)
#   config           the configuration file
#   csv_series       `vigil backtest --csv` input and timestamps
#   rule_json        rules as JSON (REST, preview, backtest --rules) and the rule evaluator
#   sensor_csv       the bulk-commissioning CSV (POST /api/v1/sensors/import, vigil sensor import)
#   fleet_query      the fleet filter language (GET /api/v1/fleet/search?q=)
#   storage_formats  chunk, roll-up and waveform blobs read back from disk; backup archives
#   import_formats   `vigil import`: Monitron export lines, imported timestamps
#   firmware_image   a .vgfw image an admin uploads (src/firmware/image.h)
# The others run FUZZ_SECONDS_SMALL each (default 15). Any crash, leak,
# sanitizer report or oracle failure (see each target's header) fails the
# stage (tests/fuzz/<name>.dict, where present, is its dictionary); the reproducer is printed as base64 and kept under $FUZZ_ARTIFACTS.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
BIG=${FUZZ_SECONDS:-60}
SMALL=${FUZZ_SECONDS_SMALL:-15}
ART=${FUZZ_ARTIFACTS:-$(pwd)/tests/fuzz/artifacts}
# -O1 -g1: the usual fuzzing build (sanitizers stay fast, compiles in about
# half the time of -O2 -g; the whole tree is instrumented for five targets).
# FUZZ_PREBUILT=1: scripts/test's ASan + UBSan build (clang, VIGIL_FUZZ=ON)
# already holds the targets in $FUZZ_BUILD_DIR; only bring it up to date.
if [[ -z "${FUZZ_PREBUILT:-}" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DVIGIL_FUZZ=ON -DVIGIL_ONLY_LIBS_AND_UNIT=ON -DVIGIL_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
fi
cmake --build "$BUILD" --target fuzz_all -j 2
mkdir -p "$ART"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # name seconds corpus-dir
  local name=$1 secs=$2 seeds=$3
  mkdir -p "$work/$name"
  cp "tests/fuzz/corpus/$seeds"/* "$work/$name/"
  local dict=()
  [[ -f "tests/fuzz/$name.dict" ]] && dict=(-dict="tests/fuzz/$name.dict")
  echo "== fuzz_$name for ${secs}s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
      "$BUILD/tests/fuzz/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 -max_len=8192 "${dict[@]}" \
      -artifact_prefix="$ART/$name-" "$work/$name" >"$work/$name.log" 2>&1; then
    tail -60 "$work/$name.log"
    for f in "$ART/$name"-*; do [[ -e "$f" ]] && { echo "reproducer $f (base64):"; base64 -w0 "$f"; echo; }; done
    echo "== fuzz_$name FAILED"
    return 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$name.log" | sed "s/^/   /"
}

# Two at a time (libFuzzer uses one core): the long run beside the short ones.
run protocol_decode "$BIG" protocol >"$work/big.out" 2>&1 &
big=$!
rc=0
run http_api "$SMALL" http || rc=1
run uplink_command "$SMALL" command || rc=1
run config "$SMALL" config || rc=1
run csv_series "$SMALL" csv || rc=1
run rule_json "$SMALL" rules || rc=1
run relay_plant "$SMALL" relay_plant || rc=1
run sensor_csv "$SMALL" sensor_csv || rc=1
run fleet_query "$SMALL" fleet_query || rc=1
run storage_formats "$SMALL" storage || rc=1
run import_formats "$SMALL" import || rc=1
run firmware_image "$SMALL" firmware_image || rc=1
wait "$big" || rc=1
cat "$work/big.out"
[[ $rc -eq 0 ]] || { echo "== fuzz: a target failed (above)"; exit 1; }
echo "== fuzz: no crash in any target"
