# SPDX-License-Identifier: Apache-2.0
"""Learned state that survives a restart (issue 14): `vigil backtest --state`
split in two — by a shorter input, by --stop-after, or by a kill -9 — writes
exactly the output of one run; a gateway killed with -9 and started again on
its database reads every position's baseline and models as before; a corrupt
saved state is reported and that position learns again; a user can ask a
position to learn again (POST /api/v1/positions/{id}/relearn)."""
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import VIGIL, Gateway, get_json, tool


def write_csv(path, rows, seed=3):
    """Hourly machine data: vibration features and a temperature with a daily
    cycle; the bearing starts to fail two thirds of the way in."""
    rng = random.Random(seed)
    t0 = 1_700_000_000
    onset = rows * 2 // 3
    with open(path, "w") as f:
        f.write("timestamp,velocity_rms_mm_s,accel_rms_g,kurtosis,envelope_rms_g,temperature_c\n")
        for i in range(rows):
            fault = 1 + max(0, i - onset) * 0.02
            j = lambda v: v * math.exp(rng.gauss(0, 0.05))  # noqa: E731
            f.write("%d,%.6g,%.6g,%.6g,%.6g,%.4f\n" % (
                t0 + 3600 * i, j(1.2 * (1 + (fault - 1) * 0.2)), j(0.09), j(3.0 * fault), j(0.01 * fault),
                40 + 3 * math.sin(2 * math.pi * i / 24) + rng.gauss(0, 0.2)))


def backtest(*args, check=True):
    r = subprocess.run([VIGIL, "backtest", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def read(path):
    with open(path, "rb") as f:
        return f.read()


def summary(stdout):
    """The per-state first rows the run prints (its file name aside)."""
    return [line for line in stdout.splitlines() if not line.startswith("backtest:")]


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("learned-state")
    full = str(d / "full.csv")
    write_csv(full, 6000)
    whole_out = str(d / "whole.csv")
    r = backtest("--csv", full, "--learn", "200", "--out", whole_out)
    return d, full, whole_out, r.stdout


def test_a_backtest_split_by_a_shorter_input_continues_exactly(csv_files, tmp_path):
    _, full, whole_out, whole_stdout = csv_files
    lines = open(full).read().splitlines(True)
    half = str(tmp_path / "half.csv")
    with open(half, "w") as f:
        f.writelines(lines[: 1 + 2500])  # header + the first 2,500 rows
    out, state = str(tmp_path / "out.csv"), str(tmp_path / "state.db")
    backtest("--csv", half, "--learn", "200", "--out", out, "--state", state)
    assert len(read(out)) < len(read(whole_out))
    r = backtest("--csv", full, "--learn", "200", "--out", out, "--state", state)
    assert read(out) == read(whole_out)
    assert summary(r.stdout) == summary(whole_stdout)


def test_a_backtest_stopped_after_n_rows_continues_exactly(csv_files, tmp_path):
    _, full, whole_out, whole_stdout = csv_files
    out, state = str(tmp_path / "out.csv"), str(tmp_path / "state.db")
    r = backtest("--csv", full, "--learn", "200", "--out", out, "--state", state, "--stop-after", "150")
    assert "stopped after 150 of 6000 rows" in r.stdout  # still learning: the state holds raw samples
    r = backtest("--csv", full, "--learn", "200", "--out", out, "--state", state, "--stop-after", "3100")
    assert "stopped after 3100 of 6000 rows" in r.stdout
    r = backtest("--csv", full, "--learn", "200", "--out", out, "--state", state)
    assert read(out) == read(whole_out)
    assert summary(r.stdout) == summary(whole_stdout)
    # Done: running it again changes nothing.
    backtest("--csv", full, "--learn", "200", "--out", out, "--state", state)
    assert read(out) == read(whole_out)


def test_a_backtest_killed_mid_way_continues_exactly(csv_files, tmp_path):
    _, full, whole_out, whole_stdout = csv_files
    out, state = str(tmp_path / "out.csv"), str(tmp_path / "state.db")
    proc = subprocess.Popen([VIGIL, "backtest", "--csv", full, "--learn", "200", "--out", out, "--state", state],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = 0
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
        try:
            con = sqlite3.connect("file:%s?mode=ro" % state, uri=True, timeout=0.1)
            row = con.execute("SELECT rows_done FROM backtest_progress").fetchone()
            con.close()
            done = row[0] if row else 0
        except sqlite3.Error:
            pass
        if done >= 1000:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert 1000 <= done < 6000
    r = backtest("--csv", full, "--learn", "200", "--out", out, "--state", state)
    assert read(out) == read(whole_out)
    assert summary(r.stdout) == summary(whole_stdout)


def test_a_state_from_another_run_is_refused(csv_files, tmp_path):
    _, full, _, _ = csv_files
    out, state = str(tmp_path / "out.csv"), str(tmp_path / "state.db")
    backtest("--csv", full, "--learn", "200", "--out", out, "--state", state, "--stop-after", "300")
    r = backtest("--csv", full, "--learn", "100", "--out", out, "--state", state, check=False)
    assert r.returncode == 2
    assert "other options or input" in r.stderr
    other = str(tmp_path / "other.csv")
    write_csv(other, 400, seed=9)
    r = backtest("--csv", other, "--learn", "200", "--out", out, "--state", state, check=False)
    assert r.returncode == 2
    assert "does not continue the run" in r.stderr
    r = backtest("--csv", full, "--out", out, "--stop-after", "10", check=False)
    assert r.returncode == 2 and "--stop-after needs --state" in r.stderr


def test_a_waveform_backtest_stopped_and_continued_is_exactly_one_run(tmp_path):
    d = str(tmp_path / "fan")
    subprocess.run([tool("sim_dataset"), "fan-980rpm-outer", d], check=True, capture_output=True, timeout=300)
    manifest = os.path.join(d, "manifest.json")
    with open(manifest) as f:
        snapshots = len(json.load(f)["timestamps"])
    whole = str(tmp_path / "whole.csv")
    w = backtest("--waveforms", manifest, "--out", whole)
    out, state = str(tmp_path / "out.csv"), str(tmp_path / "state.db")
    half = snapshots // 2
    r = backtest("--waveforms", manifest, "--out", out, "--state", state, "--stop-after", str(half))
    assert "stopped after %d of %d rows" % (half, snapshots) in r.stdout
    r = backtest("--waveforms", manifest, "--out", out, "--state", state)
    assert read(out) == read(whole)
    assert summary(r.stdout) == summary(w.stdout)


# ------------------------------------------------------------------ gateway
def request(url, token, method="GET"):
    req = urllib.request.Request(url, method=method, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def token(config, role):
    r = subprocess.run([VIGIL, "token", "create", "--role", role, "--config", config],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split()[-1]


def vibration_ml(health):
    return [m for m in health["models"] if m["model"] == "vibrationML"]


def ml_baseline(health):
    return {k: v for k, v in health["baseline"].items() if v["model"] == "vibrationML"}


ANALYTICS = {"learning_hours": 1}  # the same analytics settings before and after the restart


def serve_on(tmp_path, db, name):
    """A `vigil serve` on the demo's database (no plant: nothing new arrives)."""
    d = tmp_path / name
    d.mkdir()
    return Gateway(d, extra={"storage": {"path": db, "clock_tolerance_s": 30 * 86400}, "analytics": ANALYTICS})


def test_a_gateway_killed_with_minus_9_restarts_with_what_its_positions_learned(tmp_path):
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    demo = Gateway(demo_dir, mode="demo", extra={"analytics": ANALYTICS,
                                                 "demo": {"time_factor": 3600, "fault_onset_hours": 10000}})
    demo.start()
    learned = {}
    try:
        deadline = time.time() + 90
        while time.time() < deadline and len(learned) < 2:
            _, positions = get_json(demo.url("/api/v1/positions"))
            for p in positions:
                _, h = get_json(demo.url("/api/v1/positions/%d/health" % p["id"]))
                if vibration_ml(h) and vibration_ml(h)[0]["persistent"] not in ("initializing", "unknown") \
                        and ml_baseline(h):
                    learned[p["id"]] = h
            time.sleep(0.5)
        assert len(learned) >= 2, "no position left learning in time"
    finally:
        demo.stop(sig=signal.SIGKILL)  # a power cut
    db = str(demo_dir / "demo.db")

    first = serve_on(tmp_path, db, "serve1")
    viewer = token(first.config, "viewer")
    first.start()
    try:
        after = {}
        for pid, before in learned.items():
            status, h = request(first.url("/api/v1/positions/%d/health" % pid), viewer)
            assert status == 200
            # The learned vibration baseline is the one learned before the power cut, to the last digit,
            # and the model is still past learning.
            assert ml_baseline(h) == ml_baseline(before)
            assert vibration_ml(h)[0]["persistent"] not in ("initializing", "unknown")
            after[pid] = h
        _, all_positions = request(first.url("/api/v1/positions"), viewer)
        everything = {p["id"]: request(first.url("/api/v1/positions/%d/health" % p["id"]), viewer)[1]
                      for p in all_positions}
        assert "learned state" in first.log_text(wait=0.5)
    finally:
        first.stop(sig=signal.SIGKILL)

    # Killed again with nothing new in between: every position reads exactly the same.
    second = serve_on(tmp_path, db, "serve2")
    second.start()
    try:
        for pid, h in everything.items():
            assert request(second.url("/api/v1/positions/%d/health" % pid), viewer)[1] == h
    finally:
        second.stop()

    # A corrupt saved state: reported with its reason and counted; that position learns again, the
    # others keep theirs, and the gateway starts.
    victim, other = list(learned)[:2]
    con = sqlite3.connect(db)
    con.execute("UPDATE learned_state SET state = x'00ff' WHERE position_id = ?", (victim,))
    con.commit()
    con.close()
    third = serve_on(tmp_path, db, "serve3")
    tech = token(third.config, "technician")
    admin = token(third.config, "admin")
    third.start()
    try:
        log = third.log_text(wait=1.0)
        assert "position %d learns again" % victim in log
        assert "not a CBOR document" in log
        status, h = request(third.url("/api/v1/positions/%d/health" % victim), viewer)
        assert status == 200 and h["baseline"] == {} and not vibration_ml(h)
        assert request(third.url("/api/v1/positions/%d/health" % other), viewer)[1] == everything[other]
        with urllib.request.urlopen(third.url("/metrics"), timeout=5) as r:
            text = r.read().decode()
        assert "vigil_analytics_state_rejected_total 1" in text

        # Re-learning on request: technicians and admins, audited; viewers may not.
        assert request(third.url("/api/v1/positions/%d/relearn" % other), viewer, "POST")[0] == 403
        assert request(third.url("/api/v1/positions/999999/relearn"), tech, "POST")[0] == 404
        status, body = request(third.url("/api/v1/positions/%d/relearn" % other), tech, "POST")
        assert status == 202 and body == {"position_id": other, "state": "initializing"}
        deadline = time.time() + 10
        while True:
            h = request(third.url("/api/v1/positions/%d/health" % other), viewer)[1]
            if h["baseline"] == {} or time.time() > deadline:
                break
            time.sleep(0.1)
        assert h["baseline"] == {}
        assert vibration_ml(h)[0]["persistent"] == "initializing"
        _, audit = request(third.url("/api/v1/audit"), admin)
        assert any(e["action"] == "position.relearn" and e["target"] == "position/%d" % other for e in audit)
    finally:
        third.stop(sig=signal.SIGKILL)

    # ... and a restart keeps it learning afresh rather than bringing the old baseline back.
    fourth = serve_on(tmp_path, db, "serve4")
    fourth.start()
    try:
        h = request(fourth.url("/api/v1/positions/%d/health" % other), viewer)[1]
        assert h["baseline"] == {} and vibration_ml(h)[0]["persistent"] == "initializing"
    finally:
        fourth.stop()


def test_a_backtest_with_a_gateways_config_uses_the_machine_classes_its_users_stored(tmp_path):
    # A class added over REST on a running gateway lives in its database; a
    # backtest given that gateway's --config reads it (without taking the
    # database's lock, so while the gateway runs) and scores ISO zones by it.
    from conftest import Gateway
    from test_rest_api import bootstrap

    data = tmp_path / "rig"
    subprocess.run([tool("sim_rig_dataset"), "rig-bearing5", str(data)], check=True, capture_output=True)
    manifest = json.load(open(data / "manifest.json"))
    manifest["machine_class"] = "test_rig_class"
    json.dump(manifest, open(data / "manifest.json", "w"))
    args = ["--waveforms", str(data / "manifest.json"), "--learn", "52"]

    (tmp_path / "gw").mkdir()
    g = Gateway(tmp_path / "gw")
    bootstrap(g)
    g.start()
    try:
        # Without the class: the ISO model cannot score and says why.
        r = backtest(*args, "--out", str(tmp_path / "before.csv"), "--config", g.config)
        assert "test_rig_class" in r.stdout + r.stderr
        zones = {row.split(",")[8] for row in open(tmp_path / "before.csv").read().splitlines()[1:]}
        assert zones == {""}, zones
        # An admin adds it on the running gateway ...
        req = urllib.request.Request(g.url("/api/v1/machine-classes/test_rig_class"), method="PUT",
                                     data=json.dumps({"ab": 0.5, "bc": 1.0, "cd": 2.0}).encode(),
                                     headers={"Authorization": "Bearer " + g.bootstrap_token,
                                              "Content-Type": "application/json"})
        assert urllib.request.urlopen(req, timeout=10).status == 201
        # ... and the next backtest with that gateway's configuration uses it.
        backtest(*args, "--out", str(tmp_path / "after.csv"), "--config", g.config)
        zones = {row.split(",")[8] for row in open(tmp_path / "after.csv").read().splitlines()[1:]}
        assert zones <= {"A", "B", "C", "D"} and len(zones) >= 2, zones
        status, health = get_json(g.url("/api/v1/health"))
        assert status == 200, health  # the gateway was not disturbed
    finally:
        g.stop()
