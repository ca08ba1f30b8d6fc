# SPDX-License-Identifier: Apache-2.0
"""The alerts table belongs to the alert service, health_states to the
analytics (issue 13): against the real binary, a database made by the
previous schema (both tables from the store's core schema) still serves and
acts on its alerts, every alert action reaches the live stream, and a fresh
database has both tables even with the analytics disabled."""
import json
import socket
import sqlite3
import subprocess
import time

import requests

from conftest import VIGIL, Gateway

# The store's core schema v1..v3 as vigil created it before the alerts
# module and the analytics owned their tables (src/store/schema.cpp then).
PREVIOUS_CORE_SCHEMA = """
CREATE TABLE sites(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, timezone TEXT NOT NULL DEFAULT 'UTC');
CREATE TABLE assets(id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id), name TEXT NOT NULL,
  machine_class TEXT NOT NULL, shaft_rpm REAL NOT NULL DEFAULT 0, bearing_json TEXT, UNIQUE(site_id, name));
CREATE TABLE positions(id INTEGER PRIMARY KEY, asset_id INTEGER NOT NULL REFERENCES assets(id), name TEXT NOT NULL,
  type TEXT NOT NULL, UNIQUE(asset_id, name));
CREATE TABLE sensors(id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL, key BLOB, position_id INTEGER REFERENCES positions(id), commissioned_at INTEGER NOT NULL,
  decommissioned_at INTEGER);
CREATE TABLE series(id INTEGER PRIMARY KEY, sensor_id INTEGER NOT NULL REFERENCES sensors(id),
  position_id INTEGER REFERENCES positions(id), metric TEXT NOT NULL, unit TEXT NOT NULL DEFAULT '',
  UNIQUE(sensor_id, metric));
CREATE INDEX series_position ON series(position_id);
CREATE TABLE ingest_log(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
CREATE TABLE chunks(series_id INTEGER NOT NULL, t0 INTEGER NOT NULL, t1 INTEGER NOT NULL, n INTEGER NOT NULL,
  data BLOB NOT NULL, PRIMARY KEY(series_id, t0)) WITHOUT ROWID;
CREATE TABLE rollup_daily(series_id INTEGER NOT NULL, day INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(series_id, day)) WITHOUT ROWID;
CREATE TABLE waveforms(id INTEGER PRIMARY KEY, position_id INTEGER NOT NULL, ts INTEGER NOT NULL,
  sample_rate_hz REAL NOT NULL, axes INTEGER NOT NULL, scale REAL NOT NULL, samples BLOB NOT NULL);
CREATE INDEX waveforms_position_ts ON waveforms(position_id, ts);
CREATE TABLE measurements(id INTEGER PRIMARY KEY, position_id INTEGER NOT NULL, ts INTEGER NOT NULL,
  features TEXT NOT NULL, score REAL, state TEXT NOT NULL DEFAULT 'unknown', explanation TEXT NOT NULL DEFAULT '',
  waveform_id INTEGER);
CREATE INDEX measurements_position_ts ON measurements(position_id, ts);
CREATE TABLE health_states(id INTEGER PRIMARY KEY, scope TEXT NOT NULL CHECK (scope IN ('position','asset')),
  scope_id INTEGER NOT NULL, model TEXT NOT NULL, ts INTEGER NOT NULL, pointwise TEXT NOT NULL,
  persistent TEXT NOT NULL);
CREATE INDEX health_states_scope ON health_states(scope, scope_id, model, ts);
CREATE TABLE alerts(id INTEGER PRIMARY KEY, asset_id INTEGER, position_id INTEGER, model TEXT NOT NULL,
  severity TEXT NOT NULL, status TEXT NOT NULL, opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  closed_at INTEGER, title TEXT NOT NULL, explanation TEXT NOT NULL DEFAULT '', measurement_id INTEGER,
  failure_mode TEXT, failure_cause TEXT, action_taken TEXT, closed_by TEXT, notes TEXT);
CREATE INDEX alerts_status ON alerts(status, opened_at);
CREATE TABLE audit_log(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE machine_classes(name TEXT PRIMARY KEY, ab REAL NOT NULL, bc REAL NOT NULL, cd REAL NOT NULL)
  WITHOUT ROWID;
ALTER TABLE assets ADD COLUMN envelope_lo_hz REAL NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN envelope_hi_hz REAL NOT NULL DEFAULT 0;
CREATE TABLE schema_migrations(module TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO schema_migrations(module, version) VALUES('core', 3);
PRAGMA user_version = 3;
"""

NOW_MS = int(time.time() * 1000)


def make_previous_database(path):
    db = sqlite3.connect(path)
    db.executescript(PREVIOUS_CORE_SCHEMA)
    db.executescript("""
INSERT INTO sites(id, name) VALUES(1, 'Plant');
INSERT INTO assets(id, site_id, name, machine_class, shaft_rpm) VALUES(1, 1, 'Pump P-1', 'iso10816_class2', 1480);
INSERT INTO positions(id, asset_id, name, type) VALUES(1, 1, 'Pump DE', 'pump');
INSERT INTO health_states(scope, scope_id, model, ts, pointwise, persistent)
  VALUES('position', 1, 'vibrationML', %(t)d, 'warning', 'warning');
INSERT INTO alerts(id, asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation)
  VALUES(1, 1, 1, 'vibrationML', 'warning', 'open', %(t)d, %(t)d, 'Warning: vibrationML on position 1',
         'velocity RMS 3.1x its baseline');
INSERT INTO alerts(id, asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation)
  VALUES(2, 1, 1, 'sensorHealth', 'warning', 'open', %(t)d, %(t)d, 'Sensor AA:BB:CC:DD:EE:01: battery low', '18 %%');
""" % {"t": NOW_MS - 3600 * 1000})
    db.commit()
    db.close()


def admin_token(g):
    r = subprocess.run([VIGIL, "token", "create", "--role", "admin", "--config", g.config],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]  # the token is the last line


class LiveStream:
    """A raw-socket SSE client: connect first, act, then read what arrived."""

    def __init__(self, port, token, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                           "Authorization: Bearer %s\r\n\r\n" % token).encode())
        self.buf, self.timeout = b"", timeout
        self.read_until(lambda ev: "status" in ev)  # subscribed once the headers are out

    def read_until(self, done):
        events, deadline = [], time.time() + self.timeout
        while time.time() < deadline:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                ev = {}
                for line in block.decode().split("\n"):
                    if line.startswith("HTTP/1.1"):
                        ev["status"] = line
                    k, _, v = line.partition(": ")
                    if k in ("event", "data"):
                        ev[k] = v
                events.append(ev)
                if done(ev):
                    return events
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        raise AssertionError("the live stream did not deliver what was awaited; got %r" % events)

    def next_alert(self):
        evs = self.read_until(lambda ev: ev.get("event") == "alert")
        return json.loads(evs[-1]["data"])

    def close(self):
        self.sock.close()


def test_a_database_from_the_previous_schema_serves_and_acts_on_its_alerts(tmp_path):
    g = Gateway(tmp_path)
    make_previous_database(g.db)
    token = admin_token(g)
    h = {"Authorization": "Bearer " + token}
    g.start()
    try:
        alerts = requests.get(g.url("/api/v1/alerts?status=active"), headers=h, timeout=10)
        assert alerts.status_code == 200, alerts.text
        by_id = {a["id"]: a for a in alerts.json()}
        assert set(by_id) == {1, 2}
        assert by_id[1]["asset_name"] == "Pump P-1" and by_id[1]["position_name"] == "Pump DE"
        assert by_id[2]["model"] == "sensorHealth"
        fleet = requests.get(g.url("/api/v1/fleet"), headers=h, timeout=10)
        assert fleet.status_code == 200, fleet.text
        assert fleet.json()["open_alerts"] == 2

        live = LiveStream(g.port, token)
        try:
            r = requests.post(g.url("/api/v1/alerts/1/acknowledge"), headers=h, json={"note": "crew on site"},
                              timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "acknowledged"
            ev = live.next_alert()
            assert (ev["event"], ev["id"], ev["status"]) == ("acknowledged", 1, "acknowledged")

            r = requests.post(g.url("/api/v1/alerts/2/close"), headers=h, timeout=10,
                              json={"failure_mode": "OTHER", "failure_cause": "WEAR", "action_taken": "REPLACE",
                                    "feedback": "confirmed", "notes": "new battery"})
            assert r.status_code == 200, r.text
            assert r.json()["notes"] == {"text": "new battery", "feedback": "confirmed", "models": []}
            ev = live.next_alert()
            assert (ev["event"], ev["id"], ev["status"]) == ("closed", 2, "closed")
        finally:
            live.close()
        again = requests.post(g.url("/api/v1/alerts/2/close"), headers=h, timeout=10,
                              json={"failure_mode": "OTHER", "failure_cause": "WEAR", "action_taken": "REPLACE"})
        assert again.status_code == 409 and again.json()["code"] == "alert_closed"
        bad = requests.post(g.url("/api/v1/alerts/1/close"), headers=h, timeout=10,
                            json={"failure_mode": "BROKEN", "failure_cause": "WEAR", "action_taken": "REPLACE"})
        assert bad.status_code == 422 and bad.json()["code"] == "bad_code"
    finally:
        assert g.stop() == 0
    db = sqlite3.connect(g.db)
    versions = dict(db.execute("SELECT module, version FROM schema_migrations"))
    assert versions["alerts"] >= 2 and versions["analytics"] >= 2, versions
    assert db.execute("SELECT count(*) FROM health_states").fetchone()[0] >= 1
    assert db.execute("SELECT source FROM alerts WHERE id = 2").fetchone()[0] == ""
    db.close()


def test_a_fresh_database_has_the_alerts_and_states_of_their_owners_also_with_the_analytics_off(tmp_path):
    g = Gateway(tmp_path, extra={"analytics": {"enabled": False}})
    token = admin_token(g)
    h = {"Authorization": "Bearer " + token}
    g.start()
    try:
        for path in ("/api/v1/alerts", "/api/v1/fleet", "/api/v1/closeout-codes"):
            r = requests.get(g.url(path), headers=h, timeout=10)
            assert r.status_code == 200, (path, r.text)
        assert requests.get(g.url("/api/v1/alerts"), headers=h, timeout=10).json() == []
        # The alert service runs without the analytics: an unknown alert is a 404, not a 503.
        r = requests.post(g.url("/api/v1/alerts/7/acknowledge"), headers=h, timeout=10)
        assert r.status_code == 404, r.text
        codes = requests.get(g.url("/api/v1/closeout-codes"), headers=h, timeout=10).json()
        assert codes["feedback"] == ["confirmed", "false_alarm", "unsure"]
    finally:
        assert g.stop() == 0
    db = sqlite3.connect(g.db)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"alerts", "health_states", "spectra"} <= tables
    db.close()
