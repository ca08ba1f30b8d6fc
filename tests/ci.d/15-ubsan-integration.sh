#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stage 15: integration tests against a gateway built with UndefinedBehavior-
# Sanitizer, so a signed overflow, a division by zero, a bad shift or an out-
# of-range float→integer cast that a client can reach fails CI even where the
# optimised build happens to survive it (issue 12: a viewer's series range
# overflowed `to - from`).
#   1. builds only the `vigil` binary in build-ubsan/ (UBSAN_BUILD_DIR) with
#      -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all,
#      -O1 -g1 (the usual sanitizer build: fast enough, readable stacks)
#   2. runs tests/integration/test_hostile.py and test_rest_api.py (and
#      UBSAN_TESTS, space-separated, to widen it) with VIGIL_BIN pointing at
#      that binary; the test tools (vigil_test_*) still come from BUILD_DIR
#   3. every process writes its UBSan reports to a per-run directory
#      (UBSAN_OPTIONS log_path); any report fails the stage and is printed,
#      even when no test noticed the gateway exit (halt_on_error: a report
#      also ends the process with status 1, which stop()==0 checks catch)
# Skipped when VIGIL_SKIP_SANITIZE is set (as scripts/test's sanitizer pass).
# Time on an idle 2-core machine: ~4 min to build, ~50 s of tests
# (docs/benchmarks.md, "Under attack").
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -n "${VIGIL_SKIP_SANITIZE:-}" ]]; then
  echo "15-ubsan: skipped (VIGIL_SKIP_SANITIZE is set)"
  exit 0
fi
root=$(pwd)
build=${UBSAN_BUILD_DIR:-$root/build-ubsan}
tests=${UBSAN_TESTS:-"tests/integration/test_hostile.py tests/integration/test_rest_api.py"}
start=$(date +%s)
say() { printf '15-ubsan: %s (%ds)\n' "$*" $(( $(date +%s) - start )); }

flags="-O1 -g1 -fno-omit-frame-pointer -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all"
say "configuring $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_TESTS=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=undefined,float-cast-overflow" >/dev/null
say "building vigil with UBSan"
cmake --build "$build" --target vigil -j "$(nproc)"
undefined=$(nm -u "$build/vigil" 2>/dev/null || true)
grep -q __ubsan_handle <<<"$undefined" || { echo "15-ubsan: FAIL: $build/vigil is not instrumented" >&2; exit 1; }

reports=$(mktemp -d /tmp/vigil-ubsan.XXXXXX)
trap 'rm -rf "$reports"' EXIT
export VIGIL_BIN="$build/vigil"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
say "integration tests under UBSan: $tests"
rc=0
# shellcheck disable=SC2086
/usr/bin/python3 -m pytest -q -p no:cacheprovider $tests || rc=$?

found=$(find "$reports" -type f -name 'ubsan*' | sort)
if [[ -n "$found" ]]; then
  for f in $found; do
    echo "--- UBSan report $f" >&2
    cat "$f" >&2
  done
  echo "15-ubsan: FAIL: undefined behaviour reported (above)" >&2
  exit 1
fi
[[ $rc -eq 0 ]] || { echo "15-ubsan: FAIL: integration tests failed under UBSan (pytest status $rc)" >&2; exit "$rc"; }
say "ok: no undefined behaviour reported"
