# SPDX-License-Identifier: Apache-2.0
"""/api/v1/health tells the truth (issue 12, items 5 and 6), against the real
binary: a damaged page, a database deleted under the gateway, a write
failure that clears when space comes back, a clock behind the stored data.
Health answers 503 with the failing checks named while the gateway cannot do
its job, and 500 answers carry a log reference, never SQLite's text."""
import json
import os
import re
import resource
import signal
import sqlite3
import subprocess
import time
import urllib.error

from conftest import VIGIL, Gateway, get, get_json

HOUR = 3_600_000


def cli(*args, stdin=None):
    return subprocess.run([VIGIL, *args], input=stdin, capture_output=True, text=True, timeout=60)


def health(g):
    try:
        return get_json(g.url("/api/v1/health"), timeout=5)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def start(g, *extra, mode="serve", preexec_fn=None):
    """Starts g with its output in a log file; returns (status, health) once
    /api/v1/health answers, whatever it says."""
    g.log_path = os.path.join(str(g.dir), "vigil-%d.log" % time.time_ns())
    log = open(g.log_path, "wb")
    if mode == "demo":
        args = [VIGIL, "demo", "--port", str(g.port), "--data-dir", str(g.dir), "--config", g.config]
    else:
        args = [VIGIL, "serve", "--config", g.config, *extra]
    g.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert g.proc.poll() is None, "vigil exited at start: %s" % open(g.log_path).read()
        try:
            return health(g)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("no answer from /api/v1/health: %s" % open(g.log_path).read())


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def api(g, path, token):
    try:
        status, _, body = get(g.url(path), headers={"Authorization": "Bearer " + token})
        return status, body.decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_corrupt_page_starts_with_health_503_and_500_answers_carry_no_sql(tmp_path):
    g = Gateway(tmp_path, extra={"analytics": {"enabled": False}})
    admin = cli("token", "create", "--role", "admin", "--config", g.config).stdout.strip()
    status, h = start(g)
    assert status == 200 and h["checks"]["integrity"]["ok"] is True
    try:
        # Enough changes that the audit log spans pages in the middle of the file.
        import requests
        hdr = {"Authorization": "Bearer " + admin}
        site = requests.post(g.url("/api/v1/sites"), json={"name": "Plant"}, headers=hdr, timeout=5).json()["id"]
        for i in range(300):
            r = requests.post(g.url("/api/v1/assets"), headers=hdr, timeout=5,
                              json={"site_id": site, "name": "Pump %03d with a long enough name to fill pages" % i})
            assert r.status_code == 201, r.text
    finally:
        assert g.stop() == 0

    # One page of the audit log overwritten (a table nothing reads at start:
    # the catalog is read at start, and a damaged catalog page stops it).
    con = sqlite3.connect(g.db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    # A leaf page of the table (not of an index), in the middle.
    con = sqlite3.connect(g.db)
    leaves = [r[0] for r in con.execute(
        "SELECT pageno FROM dbstat WHERE name = 'audit_log' AND pagetype = 'leaf' ORDER BY pageno")]
    con.close()
    assert len(leaves) >= 3
    victim = leaves[len(leaves) // 2]
    assert 1 < victim <= pages
    with open(g.db, "r+b") as f:
        f.seek((victim - 1) * page_size)  # pages count from 1
        f.write(bytes((i * 131 + 7) & 0xFF for i in range(page_size)))

    status, h = start(g)  # it starts: what is intact stays readable
    try:
        assert status == 503
        assert h["status"] == "error"
        assert "integrity" in h["failing"]
        assert h["checks"]["integrity"]["status"] == "failed" and h["checks"]["integrity"]["problems"] >= 1
        assert "version" in h and "store" in h  # the same body as a 200

        status, body = api(g, "/api/v1/audit?limit=1000", admin)
        assert status == 500
        problem = json.loads(body)
        m = re.fullmatch(r"internal error \(ref (\d+)\)", problem["detail"])
        assert m, problem
        for sqlite_text in ("SELECT", "malformed", "sqlite", "step '", "disk image"):
            assert sqlite_text not in body
        # The cause is in the log, under the same reference.
        status, _ = api(g, "/api/v1/assets", admin)
        assert status == 200  # the intact tables still answer
    finally:
        g.stop()
    log = open(g.log_path).read()
    assert "quick_check" in log and "problem(s)" in log
    assert re.search(r"internal error \(ref %s\): .*malformed" % m.group(1), log), log[-3000:]


def test_a_database_deleted_under_the_gateway_is_reported_and_the_next_start_refuses(tmp_path):
    g = Gateway(tmp_path)
    status, _ = start(g)
    assert status == 200
    try:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(g.db + suffix):
                os.remove(g.db + suffix)
        status, h = health(g)
        assert status == 503
        assert h["status"] == "error"
        assert h["failing"] == ["database_file"]
        assert h["checks"]["database_file"] == {"ok": False, "status": "deleted"}
    finally:
        g.stop()
    assert "was deleted while open" in open(g.log_path).read()

    # The next start does not silently make an empty database.
    r = subprocess.run([VIGIL, "serve", "--config", g.config], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "the database %s is missing" % g.db in lines[0]
    assert "restore it from a backup" in lines[0] and "--new-database" in lines[0]
    assert not os.path.exists(g.db)
    # Admin commands refuse the same way.
    r = cli("token", "create", "--role", "viewer", "--config", g.config)
    assert r.returncode != 0 and "is missing" in r.stderr and not os.path.exists(g.db)

    # The operator says so explicitly: an empty database.
    status, h = start(g, "--new-database")
    try:
        assert status == 200 and h["status"] == "ok"
    finally:
        assert g.stop() == 0


def test_writes_failing_for_lack_of_space_turn_health_503_until_space_comes_back(tmp_path):
    # The demo writes all the time. A file size limit (RLIMIT_FSIZE, with
    # SIGXFSZ ignored) makes its writes fail as on a full disk; lifting the
    # limit is the space coming back.
    g = Gateway(tmp_path, mode="demo")

    def ignore_sigxfsz():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    status, _ = start(g, mode="demo", preexec_fn=ignore_sigxfsz)
    assert status == 200
    try:
        db = str(tmp_path / "demo.db")
        biggest = max(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
        resource.prlimit(g.proc.pid, resource.RLIMIT_FSIZE, (biggest + 4096, resource.RLIM_INFINITY))

        def failing():
            s, h = health(g)
            return (s, h) if s == 503 and "disk" in h["failing"] else None

        status, h = wait_for(failing, what="health to report the failing writes")
        assert h["status"] == "degraded"
        assert h["checks"]["disk"]["ok"] is False
        assert h["store"]["last_error"] != ""
        errors_during = h["store"]["write_errors"]
        assert errors_during >= 1

        resource.prlimit(g.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        status, h = wait_for(lambda: (lambda s_h: s_h if s_h[0] == 200 else None)(health(g)),
                             what="health to recover")
        assert h["status"] == "ok"
        assert h["checks"]["disk"]["ok"] is True
        assert h["store"]["last_error"] == ""
        assert h["store"]["write_errors"] >= errors_during  # the past stays counted
    finally:
        g.stop()


def test_a_clock_behind_the_newest_stored_reading_turns_health_503(tmp_path):
    g = Gateway(tmp_path, extra={"storage": {"clock_tolerance_s": 60}, "analytics": {"enabled": False}})
    r = cli("sensor", "add", "--address", "a4:c1:38:00:11:22", "--config", g.config)
    assert r.returncode == 0, r.stderr
    # A reading stamped two hours ahead, as a clock that then jumped back left it.
    ahead = int(time.time() * 1000) + 2 * HOUR
    con = sqlite3.connect(g.db)
    sensor = con.execute("SELECT id FROM sensors").fetchone()[0]
    series = con.execute("INSERT INTO series(sensor_id, metric, unit) VALUES (?, 'temperature_c', '°C')",
                         (sensor,)).lastrowid
    con.execute("INSERT INTO ingest_log(series_id, ts, value) VALUES (?, ?, 21.5)", (series, ahead))
    con.commit()
    con.close()

    status, h = start(g)
    try:
        assert status == 503
        assert h["status"] == "degraded"
        assert h["failing"] == ["clock"]
        clock = h["checks"]["clock"]
        assert clock["ok"] is False
        assert 1.9 * HOUR < clock["behind_ms"] <= 2 * HOUR
        assert clock["newest_point"].startswith(time.strftime("%Y-", time.gmtime(ahead / 1000)))
    finally:
        assert g.stop() == 0
