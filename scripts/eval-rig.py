#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Does vigil stay quiet on a rig it was not tuned on, and still warn in time?

Generates the simulated accelerated-life rig of tests/tools/sim_rig_dataset.cpp
(six bearings run to failure; two axes; 2,560 samples at 25.6 kHz every 10 s;
no bearing geometry; running-in, slow wander and the odd knock), runs

    vigil backtest --waveforms MANIFEST --learn N      N = 10 % of the snapshots

on each bearing with default settings, and checks, per bearing, where its
first warning (any channel in warning or alarm) falls:

  not before 20 % of its life      (no false alarm right after learning)
  not after its last 1 %           (a warning at all, before failure)
  median lead >= 6 % of life       (over the six bearings)

and reports whether the first warning came after the simulated fault's onset.

Usage: scripts/eval-rig.py [--vigil PATH] [--tool PATH] [--keep DIR]
Exit: 0 targets met, 1 targets missed, 2 usage or tool error.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("eval-rig: %s failed (%d): %s" % (" ".join(cmd), r.returncode, (r.stderr or r.stdout).strip()))
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
    ap.add_argument("--vigil", default=os.environ.get("VIGIL", os.path.join(build, "vigil")))
    ap.add_argument("--tool", default=os.path.join(build, "tests", "vigil_test_sim_rig_dataset"))
    ap.add_argument("--keep", help="write the datasets and results here instead of a temp folder")
    a = ap.parse_args()
    for p in (a.vigil, a.tool):
        if not os.access(p, os.X_OK):
            print("eval-rig: %s not found (build first, or set BUILD_DIR / --vigil / --tool)" % p, file=sys.stderr)
            return 2
    work = a.keep or tempfile.mkdtemp(prefix="vigil-eval-rig-")
    failures, leads = [], []
    print("%-14s %5s %6s %6s %14s %8s  %s" % ("bearing", "life", "learn", "onset", "first warning", "lead", "flicker"))
    for name in run([a.tool, "--list"]).split():
        d = os.path.join(work, name)
        run([a.tool, name, d])
        manifest = json.load(open(os.path.join(d, "manifest.json")))
        life, onset = manifest["truth"]["life"], manifest["truth"]["onset_index"]
        learn = max(3, life // 10)
        out = os.path.join(d, "backtest.csv")
        run([a.vigil, "backtest", "--waveforms", os.path.join(d, "manifest.json"), "--learn", str(learn),
             "--out", out])
        bad_by_index = {}
        for r in csv.DictReader(open(out)):
            i = int(r["index"])
            bad_by_index[i] = bad_by_index.get(i, False) or r["state"] in ("warning", "alarm")
        bad = sorted(i for i, b in bad_by_index.items() if b)
        first = bad[0] if bad else None
        # flicker: how often the rolled-up state leaves warning/alarm again
        flips = sum(1 for i in range(1, life) if bad_by_index.get(i - 1) and not bad_by_index.get(i))
        if first is None:
            failures.append("%s: never warned before failure" % name)
            print("%-14s %5d %6d %6d %14s %8s  %d" % (name, life, learn, onset, "never", "-", flips))
            leads.append(0.0)
            continue
        lead = (life - first) / life
        leads.append(lead)
        note = "" if first >= onset else "  (before the fault's onset)"
        print("%-14s %5d %6d %6d %6d (%4.1f%%) %7.1f%%  %d%s" % (name, life, learn, onset, first, 100.0 * first / life,
                                                              100 * lead, flips, note))
        if first < 0.2 * life:
            failures.append("%s: first warning at %d, before 20 %% of its life (%d)" % (name, first, int(0.2 * life)))
        if first > 0.99 * life:
            failures.append("%s: first warning at %d, in its last 1 %%" % (name, first))
    med = statistics.median(leads)
    print("eval-rig: median lead %.1f %% of life (target >= 6 %%)" % (100 * med))
    if med < 0.06:
        failures.append("median lead %.1f %% below 6 %%" % (100 * med))
    for f in failures:
        print("MISS: " + f)
    if not a.keep:
        subprocess.run(["rm", "-rf", work])
    print("eval-rig: %s" % ("all targets met" if not failures else "%d target(s) missed" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
