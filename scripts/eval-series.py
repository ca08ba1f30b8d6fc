#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""How well does vigil score generic (non-vibration) metric series?

Generates the development corpus of tests/tools/series_corpus.py (seasonal
temperatures, a freezer's defrost cycles, day-shift power, energy counters,
traffic counts, random walks, latencies, controls without anomalies; labelled
windows), feeds every series whole through

    vigil backtest --csv FILE --learn N --out OUT      N = 15 % of its rows (<= 750)

exactly as a user would, and scores the result with the NAB standard profile
(tests/tools/series_nab_score.py: 0 = a detector that never fires, 100 =
perfect) two ways:

  onsets   the rows where `state` enters warning or alarm are the detections
  score    the `score` column, every row at or above one threshold for the
           whole corpus is a detection; the best threshold is searched

Usage: scripts/eval-series.py [--vigil PATH] [--keep DIR] [--min-onsets X] [--min-score X] [-v]
Exit: 0 (floors met), 1 (a floor missed), 2 (usage or tool error).
"""
import argparse
import concurrent.futures
import csv
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import series_corpus  # noqa: E402
import series_nab_score as nab  # noqa: E402


def learn_count(rows):
    return max(3, min(int(0.15 * rows), 750))


def run_one(vigil, work, name, rows):
    src = os.path.join(work, name + ".csv")
    out = os.path.join(work, name + ".out.csv")
    r = subprocess.run([vigil, "backtest", "--csv", src, "--learn", str(learn_count(rows)), "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: vigil backtest failed (%d): %s" % (name, r.returncode, (r.stderr or r.stdout).strip()))
    scores, onsets, states = [], [], []
    prev_bad = False
    with open(out) as f:
        for row in csv.DictReader(f):
            s = row.get("score", "")
            scores.append(float(s) if s not in ("", None) else None)
            bad = row["state"] in ("warning", "alarm")
            onsets.append(bad and not prev_bad)
            prev_bad = bad
            states.append(row["state"])
    return scores, onsets, states


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
    ap.add_argument("--vigil", default=os.environ.get("VIGIL", os.path.join(build, "vigil")))
    ap.add_argument("--keep", help="write the corpus and results here instead of a temp folder")
    ap.add_argument("--min-onsets", type=float, help="fail below this normalised score of the state onsets")
    ap.add_argument("--min-score", type=float, help="fail below this normalised score of the score column")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-series lines")
    a = ap.parse_args()
    if not os.access(a.vigil, os.X_OK):
        print("eval-series: %s not found (build first, or set BUILD_DIR / --vigil)" % a.vigil, file=sys.stderr)
        return 2
    work = a.keep or tempfile.mkdtemp(prefix="vigil-eval-series-")
    labels = series_corpus.write(work)
    names = sorted(labels)
    results = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            futs = {ex.submit(run_one, a.vigil, work, n, labels[n]["rows"]): n for n in names}
            for fu in concurrent.futures.as_completed(futs):
                results[futs[fu]] = fu.result()
    except RuntimeError as e:
        print("eval-series: %s" % e, file=sys.stderr)
        return 2
    onset_corpus, score_corpus = [], []
    for n in names:
        scores, onsets, _ = results[n]
        w = [tuple(x) for x in labels[n]["windows"]]
        onset_corpus.append({"name": n, "n": len(onsets), "windows": w, "detections": onsets})
        score_corpus.append({"name": n, "n": len(scores), "windows": w, "scores": scores})
    onset_score, det = nab.score_detections(onset_corpus)
    sweep_score, thr, _ = nab.sweep_scores(score_corpus)
    if a.verbose:
        print("%-28s %7s %3s %3s %4s  %s" % ("series", "raw", "tp", "fn", "fp", "kind"))
        for (name, raw, tp, fn, fp) in det["per_series"]:
            print("%-28s %7.2f %3d %3d %4d  %s" % (name, raw, tp, fn, fp, labels[name]["kind"]))
    nw = sum(len(labels[n]["windows"]) for n in names)
    print("eval-series: %d series, %d labelled windows, learning on the first 15 %% (<= 750 rows)" % (len(names), nw))
    print("eval-series: state onsets: NAB standard %.1f (tp %d, fn %d, fp %d)" % (
        onset_score, det["tp"], det["fn"], det["fp"]))
    print("eval-series: score column: NAB standard %.1f at the best threshold %s" % (
        sweep_score, "%.6g" % thr if thr != float("inf") else "(none: never firing is best)"))
    failed = []
    if a.min_onsets is not None and onset_score < a.min_onsets:
        failed.append("state onsets %.1f below the floor %.1f" % (onset_score, a.min_onsets))
    if a.min_score is not None and sweep_score < a.min_score:
        failed.append("score column %.1f below the floor %.1f" % (sweep_score, a.min_score))
    for f in failed:
        print("MISS: " + f)
    if not a.keep:
        subprocess.run(["rm", "-rf", work])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
