#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Do vigil's default settings hold on machines other than the IMS rig?

Generates the simulated run-to-failure datasets of tests/tools/sim_dataset.cpp
(a fan, the same fan with its envelope band set to its housing resonance, a
day-shift motor, a slow conveyor, a healthy load-cycling pump; each with a
faulty and a healthy channel), runs `vigil backtest --waveforms` on
each with default settings (nothing tuned: the same defaults as the IMS
evaluation; a manifest's envelope_band_hz is the machine's own setting, as an
asset's is in the gateway), and checks, per scenario:

  faulty channel   no warning/alarm before the fault's onset, and a
                   persistent warning before its severity reaches 0.5
  healthy channels no warning or alarm at all (false alarms)
  stopped machine  reads not_running while it is stopped

It prints the first snapshot of each state, the hours from onset to the
first warning, and whether the first warning's explanation names the
defect's envelope band (BPFO / BPFI): reported, not gated.

Usage: scripts/eval-sim.py [--vigil PATH] [--tool PATH] [--keep DIR]
Exit: 0 targets met, 1 targets missed, 2 usage or tool error.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("eval-sim: %s failed (%d): %s" % (" ".join(cmd), r.returncode, (r.stderr or r.stdout).strip()))
    return r.stdout


def evaluate(name, manifest, out_csv):
    truth = manifest["truth"]
    hours_per_snapshot = manifest["snapshot_interval_s"] / 3600.0
    rows = list(csv.DictReader(open(out_csv)))
    failures, lines = [], []
    for ch in manifest["channels"]:
        mine = [r for r in rows if r["channel"] == ch]
        first = {}
        for r in mine:
            first.setdefault(r["state"], int(r["index"]))
        bad = [r for r in mine if r["state"] in ("warning", "alarm")]
        states = " ".join("%s=%d" % (s, first[s]) for s in
                          ("initializing", "healthy", "warning", "alarm", "not_running") if s in first)
        note = ""
        faulty = ch == "faulty" and truth["fault"] != "none"
        if faulty:
            onset, half = truth["onset_index"], truth["severity_half_index"]
            if not bad:
                failures.append("%s/%s: the fault was never flagged" % (name, ch))
            else:
                w = int(bad[0]["index"])
                band = "BPFO" if truth["fault"] == "outer_race" else "BPFI"
                names = band in bad[0]["explanation"]
                note = "onset %d, warning %+.1f h after onset (severity 0.5 at %d); explanation %s %s" % (
                    onset, (w - onset) * hours_per_snapshot, half, "names" if names else "does not name", band)
                if w < onset:
                    failures.append("%s/%s: warning at %d, before the fault's onset at %d" % (name, ch, w, onset))
                elif half >= 0 and w > half:
                    failures.append("%s/%s: first warning at %d, after severity 0.5 at %d" % (name, ch, w, half))
        else:
            note = "false alarms: %d" % len(bad)
            if bad:
                failures.append("%s/%s: %d false warnings/alarms, first at %s: %s" % (
                    name, ch, len(bad), bad[0]["index"], bad[0]["explanation"][:160]))
        if truth.get("stopped_hours_utc") and "not_running" not in first:
            failures.append("%s/%s: the machine stops daily but never read not_running" % (name, ch))
        lines.append("  %-8s %-60s %s" % (ch, states, note))
    return failures, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
    ap.add_argument("--vigil", default=os.environ.get("VIGIL", os.path.join(build, "vigil")))
    ap.add_argument("--tool", default=os.path.join(build, "tests", "vigil_test_sim_dataset"))
    ap.add_argument("--keep", help="write the datasets and results here instead of a temp folder")
    a = ap.parse_args()
    for p in (a.vigil, a.tool):
        if not os.access(p, os.X_OK):
            print("eval-sim: %s not found (build first, or set BUILD_DIR / --vigil / --tool)" % p, file=sys.stderr)
            return 2
    work = a.keep or tempfile.mkdtemp(prefix="vigil-eval-sim-")
    failures = []
    for name in run([a.tool, "--list"]).split():
        d = os.path.join(work, name)
        run([a.tool, name, d])
        out = os.path.join(d, "backtest.csv")
        run([a.vigil, "backtest", "--waveforms", os.path.join(d, "manifest.json"), "--out", out])
        manifest = json.load(open(os.path.join(d, "manifest.json")))
        f, lines = evaluate(name, manifest, out)
        band = manifest.get("envelope_band_hz")
        print("%s — %s%s" % (name, manifest["description"],
                             "" if not band else " [envelope band %g–%g Hz]" % tuple(band)))
        print("\n".join(lines))
        failures += f
    for f in failures:
        print("MISS: " + f)
    if not a.keep:
        subprocess.run(["rm", "-rf", work])
    print("eval-sim: %s" % ("all targets met" if not failures else "%d target(s) missed" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
