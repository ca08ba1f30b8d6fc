#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stage 15: the unit tests and the integration tests once more, against a
# build with ThreadSanitizer + UndefinedBehaviorSanitizer (CMake preset
# "tsan": VIGIL_TSAN=ON, -O1 -g1):
#   - TSan: data races and lock-order inversions (the lock order of
#     docs/ARCHITECTURE.md is checked here: an inversion anywhere the tests
#     reach is a report) in the gateway's threads — io threads, the HTTP
#     worker pool, the store's writer, the BLE worker, the MQTT thread;
#   - UBSan: a signed overflow, a division by zero, a bad shift or an
#     out-of-range cast a client can reach (issue 12: a viewer's series range
#     overflowed `to - from`) fails CI even where the optimised build survives.
# Every process writes its reports under one directory (log_path); any report
# fails the stage and is printed, even when no test noticed.
#   TSAN_BUILD_DIR   build directory (default build-tsan)
#   TSAN_TESTS       integration tests to run (default: the HTTP surface, where
#                    the io threads, the worker pool, auth and the store meet and
#                    where clients choose numbers; "tests/integration" for all)
#   TSAN_BUILD_ONLY  configure and build, run nothing (scripts/test builds
#                    this in the background while other stages run)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${TSAN_BUILD_DIR:-$root/build-tsan}
tests=${TSAN_TESTS:-"tests/integration/test_gateway.py tests/integration/test_rest_api.py tests/integration/test_hostile.py tests/integration/test_http_limits.py tests/integration/test_auth_hardening.py tests/integration/test_health.py tests/integration/test_notifications.py"}
start=$(date +%s)
say() { printf '15-tsan-ubsan: %s (%ds)\n' "$*" $(( $(date +%s) - start )); }

say "configuring $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DVIGIL_TSAN=ON -DVIGIL_UNITY_LIBS=ON -DVIGIL_WERROR="$([[ "${CI:-}" == true ]] && echo ON || echo OFF)" >/dev/null
say "building vigil and the unit tests"
cmake --build "$build" --target vigil vigil_unit_all -j "$(nproc)"
# (grep -c reads all of nm's output: grep -q would stop early, nm would die of
# SIGPIPE, and pipefail would call an instrumented binary uninstrumented.)
[[ $(nm -u "$build/vigil" | grep -c __tsan_) -gt 0 ]] || { echo "15-tsan-ubsan: FAIL: $build/vigil is not instrumented" >&2; exit 1; }
if [[ -n "${TSAN_BUILD_ONLY:-}" ]]; then say "built (TSAN_BUILD_ONLY)"; exit 0; fi

reports=$(mktemp -d /tmp/vigil-tsan.XXXXXX)
trap 'rm -rf "$reports"' EXIT
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$reports/tsan:suppressions=$root/tests/tsan.supp"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
rc=0
say "unit tests"
ctest --test-dir "$build" -L unit --output-on-failure -j "$(nproc)" || rc=$?
if [[ $rc -eq 0 ]]; then
  say "integration tests against $build/vigil: $tests"
  # The tools the tests drive (virtual sensors, pumps) stay the plain build's.
  VIGIL_BIN="$build/vigil" /usr/bin/python3 -m pytest -q -p no:cacheprovider $tests || rc=$?
fi

found=$(find "$reports" -type f | sort)
if [[ -n "$found" ]]; then
  for f in $found; do
    echo "--- sanitizer report $f" >&2
    head -c 20000 "$f" >&2
  done
  echo "15-tsan-ubsan: FAIL: ThreadSanitizer or UBSan reported (above)" >&2
  exit 1
fi
[[ $rc -eq 0 ]] || { echo "15-tsan-ubsan: FAIL: tests failed under TSan + UBSan (status $rc)" >&2; exit "$rc"; }
say "ok: no data race, lock-order inversion or undefined behaviour reported"
