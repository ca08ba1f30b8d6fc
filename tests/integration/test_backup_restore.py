# SPDX-License-Identifier: Apache-2.0
"""Own your data (issue 17): the storage report, backup while the gateway
runs, restore on a new box, and every way a backup can be bad.

A fast demo plant fills a real database (points, waveforms, learned state,
alerts); the commands run beside it as a user would."""
import calendar
import hashlib
import json
import os
import resource
import signal
import sqlite3
import struct
import subprocess
import time

import requests

from conftest import VIGIL, Gateway, free_port


def cli(*args, **kw):
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=120, **kw)


def write_config(path, db, port=None):
    cfg = {"storage": {"path": str(db), "checkpoint_interval_s": 1, "batch_max_delay_ms": 1000},
           "http": {"address": "127.0.0.1", "port": port or free_port(), "tls": False},
           "analytics": {"learning_hours": 1}}  # as the demo below learns
    path.write_text("// box configuration\n" + json.dumps(cfg, indent=2))
    return str(path)


def report(db):
    r = cli("storage", "report", "--db", str(db))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_for(fn, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError("timed out waiting for " + what)


def start_demo(tmp_path):
    g = Gateway(tmp_path, mode="demo", extra={
        "demo": {"time_factor": 7200}, "analytics": {"learning_hours": 1}})
    g.start()
    db = tmp_path / "demo.db"
    wait_for(lambda: (lambda r: r["points"] > 2000 and r["waveforms"] > 5 and r["chunks"] > 0)(report(db)),
             what="the demo to store points, chunks and waveforms")
    return g, db


def plant_of(db):
    """Sites, assets, positions, sensors (with keys) and learned state, read from a stopped database."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        q = lambda sql: sorted(con.execute(sql).fetchall())
        return {
            "sites": q("SELECT id, name FROM sites"),
            "assets": q("SELECT id, site_id, name FROM assets"),
            "positions": q("SELECT id, asset_id, name FROM positions"),
            "sensors": q("SELECT id, address, hex(key), position_id FROM sensors"),
        }
    finally:
        con.close()


def test_storage_report_and_backup_run_beside_the_live_gateway_and_restore_brings_the_plant_back(tmp_path):
    box1 = tmp_path / "box1"
    box1.mkdir()
    g, db = start_demo(box1)
    try:
        before = report(db)
        for key in ("points", "bytes_per_point", "waveforms", "bytes_per_waveform", "db_file_bytes"):
            assert key in before, key
        assert before["bytes_per_point"] > 0 and before["bytes_per_waveform"] > 0
        assert before["db_file_bytes"] == os.path.getsize(db)
        assert before.get("gateway_pid") == g.proc.pid  # bytes written come from the running gateway

        cfg1 = write_config(box1 / "box.json", db)
        passfile = tmp_path / "pass"
        passfile.write_text("correct horse battery staple\n")
        plain, secret = tmp_path / "plain.vgb", tmp_path / "secret.vgb"
        r = cli("backup", "--config", cfg1, "--out", str(plain))
        assert r.returncode == 0, r.stderr
        assert "backup written" in r.stdout
        r = cli("backup", "--config", cfg1, "--out", str(secret), "--passphrase-file", str(passfile))
        assert r.returncode == 0, r.stderr
        assert "encrypted" in r.stdout
        # The gateway kept ingesting during the backups.
        assert requests.get(g.url("/api/v1/health"), timeout=5).status_code == 200
        after = report(db)
        assert after["points"] >= before["points"]

        # An existing --out is never overwritten.
        r = cli("backup", "--config", cfg1, "--out", str(plain))
        assert r.returncode == 1 and "exists" in r.stderr

        # A restore onto the database the gateway runs on is refused.
        r = cli("restore", str(plain), "--config", cfg1)
        assert r.returncode == 3, r.stderr
        assert "running" in r.stderr
    finally:
        assert g.stop() == 0
    source = plant_of(db)

    # A new box: nothing there yet.
    box2 = tmp_path / "box2"
    box2.mkdir()
    db2 = box2 / "vigil.db"
    port2 = free_port()
    cfg2 = write_config(box2 / "vigil.json", db2, port2)

    r = cli("restore", str(secret), "--config", cfg2)
    assert r.returncode == 1 and "give the passphrase" in r.stderr  # encrypted, none given
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    r = cli("restore", str(secret), "--config", cfg2, "--passphrase-file", str(wrong))
    assert r.returncode == 1 and "wrong passphrase" in r.stderr and "nothing was changed" in r.stderr
    assert not db2.exists()

    r = cli("restore", str(secret), "--config", cfg2, "--passphrase-file", str(passfile))
    assert r.returncode == 0, r.stderr
    assert "database restored" in r.stdout
    restored = plant_of(db2)
    assert restored == source  # sensors with their keys, positions, assets, sites
    rep2 = report(db2)
    assert before["points"] <= rep2["points"] <= after["points"] + 100000
    assert rep2["waveforms"] >= before["waveforms"] * 0.5
    # No restore leftovers next to the database.
    assert not [p for p in os.listdir(box2) if p.startswith(".vigil-restore")]

    # The restored box serves the plant: the same assets, history and learned baselines.
    r = cli("token", "create", "--role", "viewer", "--config", cfg2)
    assert r.returncode == 0, r.stderr
    auth = {"Authorization": "Bearer " + r.stdout.strip()}
    g2 = subprocess.Popen([VIGIL, "serve", "--config", cfg2], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = "http://127.0.0.1:%d" % port2

        def answering():
            assert g2.poll() is None, g2.stderr.read()
            try:
                return requests.get(base + "/api/v1/assets", headers=auth, timeout=2).status_code == 200
            except requests.RequestException:
                return False
        # The demo's data runs ahead of the real clock (7200× faster), so the
        # restored box reports its clock as behind (503 health): it still serves.
        wait_for(answering, timeout=30, what="the restored gateway to answer")
        assets = requests.get(base + "/api/v1/assets", headers=auth, timeout=10).json()
        assert sorted(a["name"] for a in assets) == sorted(n for _, _, n in source["assets"])
        positions = requests.get(base + "/api/v1/positions", headers=auth, timeout=10).json()
        learned = 0
        for p in positions:
            h = requests.get(base + "/api/v1/positions/%d/health" % p["id"], headers=auth, timeout=10)
            assert h.status_code == 200
            if h.json().get("baseline"):
                learned += 1
        assert learned > 0, "the learned baselines came back with the backup: %s" % h.text[:500]
        series = requests.get(base + "/api/v1/positions/%d/series" % positions[0]["id"], headers=auth, timeout=10).json()
        assert series, "the position's series came back"
    finally:
        g2.send_signal(signal.SIGTERM)
        assert g2.wait(timeout=30) == 0

    # Restoring again keeps the database it replaces beside it.
    r = cli("restore", str(plain), "--config", cfg2)
    assert r.returncode == 0, r.stderr
    assert "kept as" in r.stdout
    kept = [p for p in os.listdir(box2) if ".before-restore-" in p and not p.endswith("-wal")]
    assert kept


def _archive(manifest, db_bytes):
    """A plain backup file written by hand, as docs/storage.md describes the format."""
    body = b""
    for name, data in (("manifest.json", json.dumps(manifest).encode()), ("vigil.db", db_bytes)):
        body += struct.pack("<BH", 1, len(name)) + name.encode() + struct.pack("<Q", len(data)) + data
    body += b"\x00"
    return b"VIGILBK\x00" + bytes([1, 0]) + body + hashlib.sha256(body).digest()


def test_bad_backups_are_refused_with_the_place_named_and_nothing_changed(tmp_path):
    # A small real database to back up.
    box = tmp_path / "box"
    box.mkdir()
    g = Gateway(box)
    r = cli("token", "create", "--role", "admin", "--config", g.config)
    assert r.returncode == 0, r.stderr
    g.start()
    r = requests.post(g.url("/api/v1/sites"), json={"name": "Hall 1"},
                      headers={"Authorization": "Bearer " + r.stdout.strip()}, timeout=5)
    assert r.status_code in (200, 201), r.text
    cfg = g.config
    good = tmp_path / "good.vgb"
    r = cli("backup", "--config", cfg, "--out", str(good))
    assert r.returncode == 0, r.stderr
    assert g.stop() == 0
    db = box / "vigil.db"
    original = db.read_bytes()
    data = good.read_bytes()

    def refused(blob, *needles):
        bad = tmp_path / ("bad-%d.vgb" % time.time_ns())
        bad.write_bytes(blob)
        r = cli("restore", str(bad), "--config", cfg)
        assert r.returncode != 0, r.stdout
        for n in needles:
            assert n in r.stderr, r.stderr
        assert "nothing was changed" in r.stderr
        assert db.read_bytes() == original
        assert not [p for p in os.listdir(box) if p.startswith(".vigil-restore") or ".before-restore" in p]

    refused(data[: len(data) // 2], "truncated")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    refused(bytes(flipped), "tampered")
    refused(b"PK\x03\x04 not a backup at all", "not a vigil backup")

    # A backup made by a newer vigil (well formed, checksum right) is refused.
    snapshot = sqlite3.connect(str(db))
    snapshot.close()
    newer = _archive({"format": 1, "vigil_version": "99.0.0", "files": []}, original)
    refused(newer, "newer than this vigil")
    # A database that fails SQLite's integrity check is refused before anything is replaced.
    damaged_db = bytearray(original)
    page = 4096
    for off in range(page, len(damaged_db), page):  # every b-tree page but the schema's: bad page type
        damaged_db[off] = 0xFF
    refused(_archive({"format": 1, "vigil_version": "0.0.1", "files": []}, bytes(damaged_db)), "vigil.db")


def test_a_backup_that_hits_a_full_disk_leaves_no_file_behind(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    g = Gateway(box)
    g.start()
    assert g.stop() == 0
    out = tmp_path / "full.vgb"

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    r = subprocess.run([VIGIL, "backup", "--config", g.config, "--out", str(out)], capture_output=True, text=True,
                       timeout=60, preexec_fn=small_disk)
    assert r.returncode == 1
    assert "vigil backup:" in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["box"], os.listdir(tmp_path)


def test_export_of_points_and_waveforms_from_cli_and_rest_beside_the_live_gateway(tmp_path):
    import csv
    import gzip
    import io
    box = tmp_path / "box"
    box.mkdir()
    g, db = start_demo(box)
    try:
        cfg = write_config(box / "box.json", db)
        # The CLI, while the demo ingests: CSV of one asset, JSON Lines gzipped of everything.
        assets = requests.get(g.url("/api/v1/assets"), timeout=10).json()
        asset = assets[0]
        out_csv = tmp_path / "asset.csv"
        r = cli("export", "--config", cfg, "--out", str(out_csv), "--asset", str(asset["id"]))
        assert r.returncode == 0, r.stderr
        rows = list(csv.DictReader(open(out_csv)))
        assert rows, "the asset has stored points"
        assert set(rows[0]) == {"timestamp", "ts_ms", "site", "asset", "position", "sensor", "metric", "unit", "value"}
        assert {row["asset"] for row in rows} == {asset["name"]}
        for row in rows[:50]:
            float(row["value"])
            assert row["timestamp"].endswith("Z")
        out_jsonl = tmp_path / "all.jsonl.gz"
        r = cli("export", "--config", cfg, "--out", str(out_jsonl), "--format", "jsonl", "--gzip")
        assert r.returncode == 0, r.stderr
        lines = gzip.open(out_jsonl, "rt").read().splitlines()
        assert len(lines) > len(rows)
        first = json.loads(lines[0])
        assert {"timestamp", "ts_ms", "metric", "value", "position"} <= set(first)
        # A time window narrows it; a bad time is a clear error.
        mid = int(rows[len(rows) // 2]["ts_ms"])
        out_win = tmp_path / "window.csv"
        r = cli("export", "--config", cfg, "--out", str(out_win), "--asset", str(asset["id"]), "--from", str(mid))
        assert r.returncode == 0, r.stderr
        win = list(csv.DictReader(open(out_win)))
        assert win and all(int(x["ts_ms"]) >= mid for x in win)
        r = cli("export", "--config", cfg, "--out", str(tmp_path / "x.csv"), "--from", "yesterday")
        assert r.returncode == 2 and "--from" in r.stderr

        # REST: the estimate, then the same asset's CSV; gzip on request.
        est = requests.get(g.url("/api/v1/export/estimate"), params={"asset": asset["id"]}, timeout=10).json()
        assert est["points"] >= len(rows) // 2 and est["limit"] == 50_000_000
        # Rows come series by series: the bound is the newest point of all,
        # not the last row's.
        newest = max(int(x["ts_ms"]) for x in rows)
        resp = requests.get(g.url("/api/v1/export"), params={"asset": asset["id"], "to": newest}, timeout=30)
        assert resp.status_code == 200, resp.text
        assert "attachment" in resp.headers["Content-Disposition"]
        rest_rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert len(rest_rows) >= len(rows)  # the gateway kept storing since
        assert int(resp.headers["X-Vigil-Export-Points"]) == len(rest_rows)
        gz = requests.get(g.url("/api/v1/export"), params={"asset": asset["id"], "format": "jsonl", "gzip": 1},
                          timeout=30)
        assert gz.status_code == 200 and gz.headers["Content-Type"] == "application/gzip"
        assert gzip.decompress(gz.content).count(b"\n") >= len(rest_rows)
        for bad in ({"format": "xml"}, {"asset": "x"}, {"from": "10", "to": "5"}, {"gzip": "yes"}):
            assert requests.get(g.url("/api/v1/export"), params=bad, timeout=10).status_code == 400, bad

        # Waveforms: listed per position, downloaded as WAV (the counts) and CSV (g).
        positions = requests.get(g.url("/api/v1/positions"), timeout=10).json()
        listed = []
        for p in positions:
            listed = requests.get(g.url("/api/v1/positions/%d/waveforms" % p["id"]), timeout=10).json()
            if listed:
                break
        assert listed, "the demo stores raw waveforms"
        w = listed[0]
        wav = requests.get(g.url("/api/v1/positions/%d/waveforms/%d" % (p["id"], w["id"])), timeout=10)
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and wav.content[8:16] == b"WAVEfmt "
        channels, rate = struct.unpack("<HI", wav.content[22:28])
        assert channels == w["axes"] and rate == round(w["sample_rate_hz"])
        data_len = struct.unpack("<I", wav.content[40:44])[0]
        assert data_len == 2 * w["axes"] * w["samples_per_axis"] == len(wav.content) - 44
        wcsv = requests.get(g.url("/api/v1/positions/%d/waveforms/%d?format=csv" % (p["id"], w["id"])), timeout=10)
        assert wcsv.status_code == 200
        assert wcsv.text.count("\n") == w["samples_per_axis"] + 1
        assert requests.get(g.url("/api/v1/positions/%d/waveforms/999999" % p["id"]), timeout=10).status_code == 404

        storage = requests.get(g.url("/api/v1/storage"), timeout=30).json()
        assert storage["points"] > 0 and storage["bytes_per_point"] > 0 and storage["waveforms"] > 0
        assert storage["waveform_bytes"] < storage["waveform_raw_bytes"]  # stored compressed
    finally:
        assert g.stop() == 0


def test_an_export_that_hits_a_full_disk_leaves_no_file_behind(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    g, db = start_demo(box)  # running: the export reads beside it
    try:
        cfg = write_config(box / "box.json", db)
        out = tmp_path / "out"
        out.mkdir()

        def small_disk():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

        r = subprocess.run([VIGIL, "export", "--config", cfg, "--out", str(out / "all.csv")], capture_output=True,
                           text=True, timeout=60, preexec_fn=small_disk)
        assert r.returncode == 1 and "disk full" in r.stderr, r.stderr
        assert os.listdir(out) == []
    finally:
        assert g.stop() == 0


def test_the_nightly_backup_catches_up_at_start_and_a_failing_one_raises_an_alert(tmp_path):
    # Backups on: the first start writes one at once (nothing in the last day).
    usb = tmp_path / "usb"
    (tmp_path / "ok").mkdir()
    g = Gateway(tmp_path / "ok", extra={"storage": {"backup_dir": str(usb), "backup_keep": 2}})
    g.start()
    try:
        files = wait_for(lambda: [p for p in os.listdir(usb) if p.endswith(".vgb")] if usb.exists() else None,
                         timeout=30, what="the catch-up backup")
        assert files[0].startswith("vigil-backup-vigil-gw-")
        assert not [p for p in os.listdir(usb) if p.endswith(".partial")]
    finally:
        assert g.stop() == 0
    # The file is a real backup: it restores on another box.
    box2 = tmp_path / "box2"
    box2.mkdir()
    cfg2 = write_config(box2 / "vigil.json", box2 / "vigil.db")
    r = cli("restore", str(usb / files[0]), "--config", cfg2)
    assert r.returncode == 0, r.stderr

    # A backup directory that cannot exist (below a regular file): an alert says so.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    bad = tmp_path / "bad"
    bad.mkdir()
    g2 = Gateway(bad, extra={"storage": {"backup_dir": str(blocker / "backups")}})
    r = cli("token", "create", "--role", "viewer", "--config", g2.config)
    auth = {"Authorization": "Bearer " + r.stdout.strip()}
    g2.start()
    try:
        def failed_alert():
            alerts = requests.get(g2.url("/api/v1/alerts?status=active"), headers=auth, timeout=5).json()
            items = alerts["items"] if isinstance(alerts, dict) else alerts
            return [a for a in items if "backup" in json.dumps(a).lower()]
        found = wait_for(failed_alert, timeout=30, what="the backup_failed alert")
        assert "backups" in json.dumps(found[0])  # names the directory
    finally:
        assert g2.stop() == 0

    # A malformed backup time is a configuration error with its line.
    cfgbad = tmp_path / "badtime.json"
    cfgbad.write_text('{\n  "storage": {\n    "backup_dir": "/tmp/x",\n    "backup_at": "25:00"\n  }\n}\n')
    r = cli("serve", "--config", str(cfgbad))
    assert r.returncode == 1 and "badtime.json:4" in r.stderr and "HH:MM" in r.stderr, r.stderr


def _monitron_record(ts, site, asset, position, sensor, velocity, temperature, event="measurement"):
    return {
        "timestamp": ts, "eventId": "e-" + ts, "version": "2.0", "accountId": "1", "projectName": "Plant",
        "projectId": "p", "eventType": event,
        "eventPayload": {
            "siteName": site, "assetName": asset, "positionName": position, "companyName": "ACME",
            "sensor": {"physicalId": sensor, "rssi": -60}, "gateway": {"physicalId": "gw"}, "sequenceNo": 1,
            "someFieldVigilDoesNotKnow": {"x": 1},
            "features": {
                "acceleration": {"band10To1000Hz": {"totalVibration": {"rms": 1.2, "crestFactor": 3.1, "absMax": 4,
                                                                      "absMin": 0}}},
                "velocity": {"band10To1000Hz": {"totalVibration": {"rms": velocity},
                                                "xAxis": {"rms": velocity * 0.6}}},
                "temperature": temperature,
            },
            "models": {"temperatureML": {"persistentClassificationOutput": "HEALTHY"}},
        },
    }


def test_history_from_a_monitron_export_and_a_csv_imports_once_and_a_broken_file_imports_nothing(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    g = Gateway(box)
    token = cli("token", "create", "--role", "viewer", "--config", g.config).stdout.strip()
    export = tmp_path / "monitron.jsonl"
    # The last few days (inside raw retention), in Monitron's time format.
    day0 = time.gmtime(time.time() - 10 * 86400)
    stamp = lambda d: time.strftime("%Y-%m-%d 10:00:00.000", time.gmtime(calendar.timegm(day0) + d * 86400))
    lines = [json.dumps(_monitron_record(stamp(d), "Hall 3", "P-7 pump", "Drive end", "S1",
                                         1.5 + d / 10, 40 + d)) for d in range(1, 6)]
    lines.insert(2, json.dumps({"timestamp": stamp(2), "version": "2.0",
                                "eventType": "gatewayConnected", "eventPayload": {}}))
    export.write_text("\n".join(lines) + "\n")

    r = cli("import", str(export), "--config", g.config, "--format", "monitron", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "25 points would be imported" in r.stdout and "1 other events skipped" in r.stdout
    # Monitron's model states (issue 17): temperatureML HEALTHY on every day is one state change.
    assert "1 model state changes would be imported (of 5 model states)" in r.stdout, r.stdout
    r = cli("import", str(export), "--config", g.config, "--format", "monitron")
    assert r.returncode == 0, r.stderr
    assert "imported 25 points" in r.stdout and "created 3" in r.stdout
    assert "; 1 model states (4 unchanged or already stored, skipped)" in r.stdout, r.stdout
    again = cli("import", str(export), "--config", g.config, "--format", "monitron")
    assert again.returncode == 0 and "imported 0 points" in again.stdout and "25 already stored" in again.stdout
    assert "; 0 model states (5 unchanged or already stored, skipped)" in again.stdout, again.stdout

    # A broken line: a clear error with its place, nothing imported.
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n" + '{"timestamp": "2025-04-01 10:00:00", "eventType": "measurement", "eventPa\n')
    r = cli("import", str(broken), "--config", g.config, "--format", "monitron")
    assert r.returncode == 2 and "broken.jsonl:2: not JSON" in r.stderr and "nothing was imported" in r.stderr

    # A CSV of readings onto the existing position, by its path.
    csvf = tmp_path / "readings.csv"
    first = time.strftime("%Y-%m-%dT00:00:00Z", day0)
    second_ms = int(calendar.timegm(day0) * 1000) - 86400000
    csvf.write_text("timestamp,position,metric,value,unit\n"
                    "%s,Hall 3/P-7 pump/Drive end,temperature_c,21.5,°C\n"
                    "%d,Hall 3/P-7 pump/Drive end,temperature_c,22.0,°C\n" % (first, second_ms))
    r = cli("import", str(csvf), "--config", g.config)
    assert r.returncode == 0 and "imported 2 points" in r.stdout, r.stdout + r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,position,metric,value\nyesterday,Nowhere/X/Y,temperature_c,abc\n"
                   "2025-02-01T00:00:00Z,Hall 3/P-7 pump/Drive end,temperature_c,9999\n")
    r = cli("import", str(bad), "--config", g.config)
    assert r.returncode == 2 and "bad.csv:2: timestamp" in r.stderr and "bad.csv:3: temperature_c" in r.stderr

    # The served plant has the history on the position, in plant words.
    g.start()
    try:
        r = cli("import", str(csvf), "--config", g.config)
        assert r.returncode == 3 and "running" in r.stderr
        auth = {"Authorization": "Bearer " + token}
        positions = requests.get(g.url("/api/v1/positions"), headers=auth, timeout=10).json()
        pos = [p for p in positions if p["name"] == "Drive end"]
        assert len(pos) == 1
        resp = requests.get(g.url("/api/v1/export"), params={"position": pos[0]["id"]}, headers=auth, timeout=10)
        assert resp.status_code == 200, resp.text
        rows = resp.text.strip().splitlines()[1:]
        temps = [x for x in rows if ",temperature_c," in x]
        assert len(temps) == 7  # 5 from Monitron + 2 from the CSV
        assert any(",velocity_rms_mm_s,mm/s,1.6" in x and stamp(1)[:10] in x for x in rows), rows[:5]
        # The imported state is the position's health history (no live sensor there yet).
        health = requests.get(g.url("/api/v1/positions/%d/health" % pos[0]["id"]), headers=auth, timeout=10)
        assert health.status_code == 200, health.text
        models = {m["model"]: m for m in health.json()["models"]}
        assert models["temperatureML"]["persistent"] == "healthy", health.text
        assert models["temperatureML"]["since"].startswith(stamp(1)[:10]), health.text
    finally:
        assert g.stop() == 0
