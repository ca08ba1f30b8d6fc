# SPDX-License-Identifier: Apache-2.0
"""The gateway process as a user and plant IT meet it: start, serve, stop, fail clearly."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time

from conftest import VIGIL, Gateway, free_port, get, get_json


def run(*args, timeout=20):
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=timeout)


def test_serve_answers_health_and_stops_cleanly_on_sigterm(gateway):
    health = gateway.start()
    assert health["status"] == "ok"
    assert "version" in health
    assert gateway.stop(signal.SIGTERM) == 0


def test_metrics_are_prometheus_text(gateway):
    gateway.start()
    status, headers, body = get(gateway.url("/metrics"))
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert "# TYPE vigil_ingest_rejected_total counter" in text
    assert 'vigil_ingest_rejected_total{reason="unknown_source"}' in text


def test_dashboard_is_served_from_the_binary_compressed(gateway):
    gateway.start()
    status, headers, body = get(gateway.url("/"), headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers.get("Content-Encoding") in (None, "gzip")
    status, headers, body = get(gateway.url("/"))
    assert b"<html" in body.lower() or b"<!doctype html" in body.lower()


def test_unknown_api_paths_are_json_problems(gateway):
    gateway.start()
    try:
        get(gateway.url("/api/v1/nope"))
        raise AssertionError("expected 404")
    except Exception as e:  # urllib raises HTTPError
        assert e.code == 404
        problem = json.loads(e.read())
        assert problem["code"] == "not_found"


def test_malformed_config_is_one_line_with_file_and_line(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{\n  "http": {\n    "port": "eighty"\n  }\n}\n')
    r = run("serve", "--config", str(cfg))
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert "%s:3:" % cfg in lines[0]
    assert "http.port must be an integer" in lines[0]


def test_unknown_config_key_is_rejected(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"storage": {"path": "/tmp/x.db", "colour": "red"}}')
    r = run("serve", "--config", str(cfg))
    assert r.returncode != 0
    assert "unknown key 'colour'" in r.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        g = Gateway(tmp_path)
        g.port = port
        cfg = json.loads(open(g.config).read().split("\n", 1)[1])
        cfg["http"]["port"] = port
        with open(g.config, "w") as f:
            json.dump(cfg, f)
        r = run("serve", "--config", g.config)
    assert r.returncode != 0
    assert "already in use" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2


def test_a_corrupt_database_is_a_clear_error_and_is_not_overwritten(tmp_path):
    g = Gateway(tmp_path)
    garbage = os.urandom(8192)
    with open(g.db, "wb") as f:
        f.write(garbage)
    r = run("serve", "--config", g.config)
    assert r.returncode != 0
    assert "not a usable SQLite database" in r.stderr
    assert open(g.db, "rb").read() == garbage


def test_a_missing_data_directory_is_a_clear_error(tmp_path):
    g = Gateway(tmp_path)
    cfg = json.loads(open(g.config).read().split("\n", 1)[1])
    cfg["storage"]["path"] = str(tmp_path / "no" / "such" / "dir" / "v.db")
    with open(g.config, "w") as f:
        json.dump(cfg, f)
    r = run("serve", "--config", g.config)
    assert r.returncode != 0
    assert "does not exist" in r.stderr


def test_an_unwritable_data_directory_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        # root ignores permissions: use a directory on a read-only bind instead.
        ro = "/proc/vigil-test.db"
        path = ro
    else:
        d = tmp_path / "ro"
        d.mkdir()
        os.chmod(d, 0o500)
        path = str(d / "v.db")
    g = Gateway(tmp_path)
    cfg = json.loads(open(g.config).read().split("\n", 1)[1])
    cfg["storage"]["path"] = path
    with open(g.config, "w") as f:
        json.dump(cfg, f)
    r = run("serve", "--config", g.config)
    assert r.returncode != 0
    assert "store" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_sighup_rereads_the_log_level_and_keeps_running(gateway):
    gateway.start()
    cfg = json.loads(open(gateway.config).read().split("\n", 1)[1])
    cfg["gateway"] = {"log_level": "debug"}
    with open(gateway.config, "w") as f:
        json.dump(cfg, f)
    gateway.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    status, j = get_json(gateway.url("/api/v1/health"))
    assert status == 200
    assert gateway.stop() == 0
    assert "log level debug" in gateway.proc.stderr.read()


def test_demo_plant_shows_six_assets_and_twelve_positions_with_live_readings(tmp_path):
    g = Gateway(tmp_path, mode="demo")
    g.start()
    try:
        deadline = time.time() + 20
        while True:
            _, assets = get_json(g.url("/api/v1/assets"))
            positions = [p for a in assets for p in a["positions"]]
            with_readings = [p for p in positions if "velocity_rms_mm_s" in p["latest"] and "temperature_c" in p["latest"]]
            if len(with_readings) == 12 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert len(assets) == 6
        assert len(positions) == 12
        assert len(with_readings) == 12
        first = {p["id"]: p["latest"]["velocity_rms_mm_s"]["ts"] for p in with_readings}
        time.sleep(2)
        _, assets = get_json(g.url("/api/v1/assets"))
        later = {p["id"]: p["latest"]["velocity_rms_mm_s"]["ts"] for a in assets for p in a["positions"]}
        assert any(later[k] > first[k] for k in first), "readings did not update"
        # A range query returns the stored series.
        sid = with_readings[0]["latest"]["velocity_rms_mm_s"]["series_id"]
        _, series = get_json(g.url("/api/v1/series/%d?from=0&to=%d&points=100" % (sid, 2**62)))
        assert len(series["ts"]) >= 1
        assert all(lo <= m <= hi for lo, m, hi in zip(series["min"], series["mean"], series["max"]))
    finally:
        assert g.stop() == 0
    # Everything the demo reported as committed is in the file after a clean stop.
    con = sqlite3.connect(os.path.join(str(tmp_path), "demo.db"))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 0  # checkpointed at stop
    assert con.execute("SELECT count(*) FROM chunks").fetchone()[0] > 0


def test_sensor_add_commissions_into_the_configured_database(tmp_path):
    g = Gateway(tmp_path)
    r = run("sensor", "add", "--address", "a4:c1:38:00:11:22", "--key", "231d39c1d7cc1ab1aee224cd096db932",
            "--config", g.config)
    assert r.returncode == 0, r.stderr
    r = run("sensor", "list", "--config", g.config)
    sensors = json.loads(r.stdout)
    assert sensors[0]["address"] == "A4:C1:38:00:11:22"
    assert "key" not in sensors[0]
    r = run("sensor", "add", "--address", "nonsense", "--config", g.config)
    assert r.returncode != 0
    assert "not a MAC address" in r.stderr


def test_version_prints_the_version():
    r = run("version")
    assert r.returncode == 0
    assert r.stdout.startswith("vigil ")
