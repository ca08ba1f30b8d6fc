#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz stage: builds the protocol decoder's libFuzzer target with clang
# (ASan + UBSan) and runs it for FUZZ_SECONDS (default 60) from the seed
# corpus. Any crash, leak or sanitizer report fails the stage.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DVIGIL_FUZZ=ON -DVIGIL_ONLY_LIBS_AND_UNIT=ON -DVIGIL_TESTS=OFF
cmake --build "$BUILD" --target fuzz_protocol_decode -j 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/protocol/* "$work/"
echo "== fuzz_protocol_decode for ${SECONDS_TO_RUN}s"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  "$BUILD/tests/fuzz/fuzz_protocol_decode" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
  -artifact_prefix="$work/crash-" "$work"
echo "== fuzz: no crash in ${SECONDS_TO_RUN}s"
