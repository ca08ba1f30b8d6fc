# SPDX-License-Identifier: Apache-2.0
"""One process owns a live database (issue 12, item 3).

`vigil serve` holds the database's lock while it runs. Admin commands refuse
with exit code 3 and one line saying where to do the work instead; they used
to replay and checkpoint the gateway's ingest log themselves, so after the
gateway's next checkpoint those points were stored twice. A second gateway on
the same database refuses to start, and `vigil demo` never deletes the
database of a demo that is running."""
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.error

from conftest import VIGIL, Gateway, free_port, get, get_json

# An hour two days ago: inside raw retention, behind the clock.
T0 = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 2 * 86_400_000


def cli(*args, stdin=None):
    return subprocess.run([VIGIL, *args], input=stdin, capture_output=True, text=True, timeout=60)


def start(g, *extra, mode="serve"):
    """Starts g with its output in DIR/vigil.log; returns (status, health)
    once /api/v1/health answers, whatever it says."""
    g.log_path = os.path.join(str(g.dir), "vigil-%d.log" % time.time_ns())
    log = open(g.log_path, "wb")
    if mode == "demo":
        args = [VIGIL, "demo", "--port", str(g.port), "--data-dir", str(g.dir), "--config", g.config]
    else:
        args = [VIGIL, "serve", "--config", g.config, *extra]
    g.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert g.proc.poll() is None, "vigil exited at start: %s" % open(g.log_path).read()
        try:
            return get_json(g.url("/api/v1/health"), timeout=1)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError("no answer from /api/v1/health: %s" % open(g.log_path).read())


def seed_log_points(db, n=200):
    """Points in the ingest log, as a gateway leaves them between checkpoints."""
    con = sqlite3.connect(db)
    try:
        sensor = con.execute("SELECT id FROM sensors WHERE address = 'A4:C1:38:00:11:22'").fetchone()[0]
        cur = con.execute("INSERT INTO series(sensor_id, metric, unit) VALUES (?, 'temperature_c', '°C')", (sensor,))
        series = cur.lastrowid
        con.executemany("INSERT INTO ingest_log(series_id, ts, value) VALUES (?, ?, ?)",
                        [(series, T0 + i * 60_000, 20.0 + i / 10) for i in range(n)])
        con.commit()
        return series
    finally:
        con.close()


def series_csv(g, series, token):
    _, _, body = get(g.url("/api/v1/series/%d?format=csv&raw=1&from=%d&to=%d" % (series, T0 - 1, T0 + 10**9)),
                     headers={"Authorization": "Bearer " + token})
    lines = body.decode().splitlines()
    assert lines[0] == "timestamp,value"
    return lines[1:]


REFUSAL = re.compile(r"^vigil (?P<cmd>[a-z ]+): vigil serve \(pid (?P<pid>\d+)\) is running on (?P<db>\S+); "
                     r"(?P<hint>.+), or stop the service first$")


def test_admin_commands_refuse_while_serve_runs_and_no_point_is_stored_twice(tmp_path):
    g = Gateway(tmp_path, extra={"storage": {"checkpoint_interval_s": 3600}, "analytics": {"enabled": False}})
    # Before the gateway runs the CLI owns the database for a moment: it works.
    r = cli("sensor", "add", "--address", "a4:c1:38:00:11:22", "--config", g.config)
    assert r.returncode == 0, r.stderr
    r = cli("token", "create", "--role", "viewer", "--config", g.config)
    assert r.returncode == 0, r.stderr
    viewer = r.stdout.strip()
    series = seed_log_points(g.db)

    status, _ = start(g)
    assert status == 200
    try:
        before = series_csv(g, series, viewer)
        assert len(before) == 200  # replayed from the log, not checkpointed yet

        attempts = {
            "token create": (["token", "create", "--role", "viewer"], None, "POST /api/v1/tokens"),
            "user add": (["user", "add", "carol", "--role", "viewer"], "a-long-password\n", "POST /api/v1/users"),
            "sensor add": (["sensor", "add", "--address", "a4:c1:38:00:99:99"], None, "POST /api/v1/sensors"),
            "sensor list": (["sensor", "list"], None, "GET /api/v1/sensors"),
        }
        for name, (args, stdin, route) in attempts.items():
            r = cli(*args, "--config", g.config, stdin=stdin)
            assert r.returncode == 3, (name, r.returncode, r.stderr)
            assert r.stdout == ""
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1, r.stderr
            m = REFUSAL.match(lines[0])
            assert m, lines[0]
            assert m["cmd"] == name and int(m["pid"]) == g.proc.pid and m["db"] == g.db
            assert route in m["hint"]
        assert "create tokens in the dashboard (Settings › Tokens) or with POST /api/v1/tokens" in \
            cli("token", "create", "--role", "admin", "--config", g.config).stderr

        # The refused commands left the gateway's log alone: still 200 rows.
        con = sqlite3.connect(g.db)
        assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 200
        assert con.execute("SELECT count(*) FROM sensors").fetchone()[0] == 1
        con.close()
        assert series_csv(g, series, viewer) == before
    finally:
        assert g.stop() == 0  # the gateway's checkpoint

    # After the gateway's checkpoint every point is there exactly once.
    status, _ = start(g)
    try:
        after = series_csv(g, series, viewer)
        assert after == before
        assert len(set(after)) == 200
    finally:
        assert g.stop() == 0

    # Once serve has stopped the commands work again.
    r = cli("token", "create", "--role", "viewer", "--config", g.config)
    assert r.returncode == 0 and r.stdout.startswith("vgl_"), r.stderr


def test_a_second_serve_on_the_same_database_refuses_to_start(tmp_path):
    g = Gateway(tmp_path)
    status, _ = start(g)
    assert status == 200
    try:
        other = json.loads(open(g.config).read().split("\n", 1)[1])
        other["http"]["port"] = free_port()  # a free port: only the database is in the way
        path = str(tmp_path / "second.json")
        with open(path, "w") as f:
            json.dump(other, f)
        r = subprocess.run([VIGIL, "serve", "--config", path], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert "vigil serve (pid %d) is already running on %s" % (g.proc.pid, g.db) in lines[0]
        status, health = get_json(g.url("/api/v1/health"))
        assert status == 200 and health["status"] == "ok"
    finally:
        assert g.stop() == 0


def test_demo_never_deletes_the_database_of_a_running_demo(tmp_path):
    g = Gateway(tmp_path, mode="demo")
    status, _ = start(g, mode="demo")
    assert status == 200
    try:
        r = subprocess.run([VIGIL, "demo", "--port", str(free_port()), "--data-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert "vigil demo (pid %d) is using" % g.proc.pid in r.stderr
        assert os.path.exists(str(tmp_path / "demo.db"))
        status, health = get_json(g.url("/api/v1/health"))
        assert status == 200
    finally:
        assert g.stop() == 0
