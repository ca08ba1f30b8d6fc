#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CI stage: generic (non-vibration) metric series. scripts/eval-series.py
# generates the development corpus of tests/tools/series_corpus.py (seasonal
# temperatures, a freezer's defrost cycles, day-shift power, energy counters,
# traffic counts, random walks, latencies, controls; labelled windows), runs
# `vigil backtest --csv FILE --learn N` on every series (N = 15 % of its rows,
# at most 750) and scores the onsets of warning/alarm and the `score` column
# with the NAB standard profile (0 = never firing, 100 = perfect). Fails
# below the floors (docs/evaluation.md, "Generic series"). About 10 s.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$repo/build}"
/usr/bin/python3 "$repo/scripts/eval-series.py" --min-onsets "${SERIES_MIN_ONSETS:-50}" --min-score "${SERIES_MIN_SCORE:-25}"
