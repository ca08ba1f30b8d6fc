# SPDX-License-Identifier: Apache-2.0
"""The fleet lifecycle against the real binary (issue 18, catalog part):
renames in place over PATCH (same id, the fleet shows the new name), archive
and purge with confirmation, replace, decommission (the sensor's readings are
then ignored and counted), move (the past stays with the old position), and
bulk commissioning from CSV: `vigil sensor import` with its dry run, bad rows
named by line and nothing written, and the refusal while `vigil serve` runs
(exit 3, pointing to POST /api/v1/sensors/import, which does the same)."""
import sqlite3
import subprocess
import time

import pytest
import requests

from conftest import VIGIL, Gateway
from openapi_check import response_schema, schema_errors


def cli(*args):
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=30)


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - not yet
            last = e
        time.sleep(0.3)
    raise AssertionError("timed out waiting for %s (last: %s)" % (what, last))


class Api:
    def __init__(self, g, token=None, session=None):
        self.g = g
        self.s = session or requests.Session()
        if token:
            self.s.headers["Authorization"] = "Bearer " + token

    def __call__(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return self.s.request(method, self.g.url(path), **kw)

    def ok(self, method, path, status=200, **kw):
        r = self(method, path, **kw)
        assert r.status_code == status, "%s %s → %s %s" % (method, path, r.status_code, r.text)
        return r.json()


@pytest.fixture
def served(tmp_path):
    g = Gateway(tmp_path)
    r = cli("token", "create", "--role", "admin", "--config", g.config)
    assert r.returncode == 0, r.stderr
    g.token = r.stdout.strip()
    g.start()
    yield g
    g.stop()


def plant(api):
    site = api.ok("POST", "/api/v1/sites", 201, json={"name": "North"})["id"]
    asset = api.ok("POST", "/api/v1/assets", 201, json={"site_id": site, "name": "Pump 1"})["id"]
    de = api.ok("POST", "/api/v1/positions", 201, json={"asset_id": asset, "name": "Motor DE", "type": "motor"})["id"]
    nde = api.ok("POST", "/api/v1/positions", 201, json={"asset_id": asset, "name": "Motor NDE", "type": "motor"})["id"]
    return site, asset, de, nde


def db_rows(g, sql, *args):
    con = sqlite3.connect(g.db, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_rename_keeps_the_id_archive_hides_and_purge_needs_the_name(served):
    g = served
    api = Api(g, g.token)
    doc = api.ok("GET", "/api/v1/openapi.json")
    site, asset, de, nde = plant(api)

    renamed = api.ok("PATCH", "/api/v1/assets/%d" % asset, json={"name": "Pump P-101"})
    assert renamed["id"] == asset and renamed["name"] == "Pump P-101"
    assert schema_errors(doc, response_schema(doc, "/api/v1/assets/{id}", "patch"), renamed) == []
    fleet = api.ok("GET", "/api/v1/fleet")
    assets = [a for s in fleet["sites"] for a in s["assets"]]
    assert [(a["id"], a["name"]) for a in assets] == [(asset, "Pump P-101")]
    assert api.ok("PATCH", "/api/v1/sites/%d" % site, json={"name": "North plant"})["id"] == site

    clash = api("PATCH", "/api/v1/positions/%d" % nde, json={"name": "Motor DE"})
    assert clash.status_code == 409 and clash.json()["field"] == "name"
    bad = api("PATCH", "/api/v1/positions/%d" % nde, json={"name": "x\ny"})
    assert bad.status_code == 422 and bad.json()["field"] == "name"
    viewer = Api(g, api.ok("POST", "/api/v1/tokens", 201, json={"name": "v", "role": "viewer"})["token"])
    assert viewer("PATCH", "/api/v1/assets/%d" % asset, json={"name": "nope"}).status_code == 403

    # Archive: gone from the lists and the fleet, its history still readable.
    archived = api.ok("DELETE", "/api/v1/positions/%d" % nde)
    assert archived["archived"] is True
    assert [p["id"] for p in api.ok("GET", "/api/v1/positions")] == [de]
    assert api("GET", "/api/v1/positions/%d/series" % nde).status_code == 200
    # Purge: only with the exact name.
    r = api("DELETE", "/api/v1/positions/%d?mode=purge" % nde)
    assert r.status_code == 422 and r.json()["field"] == "confirm"
    r = api("DELETE", "/api/v1/positions/%d" % nde, params={"mode": "purge", "confirm": "Motor DE"})
    assert r.status_code == 422
    purged = api.ok("DELETE", "/api/v1/positions/%d" % nde, params={"mode": "purge", "confirm": "Motor NDE"})
    assert purged["purged"] is True
    assert api("GET", "/api/v1/positions/%d/series" % nde).status_code == 404

    # Replace a sensor: the position keeps its history, the old sensor is decommissioned.
    old = api.ok("POST", "/api/v1/sensors", 201, json={"address": "C0:FF:EE:00:00:01", "position_id": de})["id"]
    rep = api.ok("POST", "/api/v1/sensors/%d/replace" % old,
                 json={"address": "C0:FF:EE:00:00:02", "key": "00112233445566778899aabbccddeeff"})
    assert rep["old"]["decommissioned"] is True and rep["new"]["position_id"] == de
    assert schema_errors(doc, response_schema(doc, "/api/v1/sensors/{id}/replace", "post"), rep) == []
    sensors = {s["address"]: s for s in api.ok("GET", "/api/v1/sensors")}
    assert sensors["C0:FF:EE:00:00:01"]["decommissioned"] is True
    assert sensors["C0:FF:EE:00:00:02"]["position_id"] == de

    actions = {e["action"] for e in api.ok("GET", "/api/v1/audit", params={"limit": 100})}
    assert {"asset.rename", "site.rename", "position.archive", "position.purge", "sensor.replace"} <= actions


def test_csv_import_with_dry_run_bad_rows_and_refusal_while_serving(tmp_path):
    g = Gateway(tmp_path)
    r = cli("token", "create", "--role", "admin", "--config", g.config)
    assert r.returncode == 0, r.stderr
    api = Api(g, r.stdout.strip())
    g.start()
    try:
        site, asset, de, nde = plant(api)
    finally:
        assert g.stop() == 0

    good = tmp_path / "box.csv"
    good.write_text("address,key,position\n"
                    "C0:FF:EE:00:00:10,00112233445566778899aabbccddeeff,North/Pump 1/Motor DE\n"
                    "c0-ff-ee-00-00-11,,%d\n" % nde)
    bad = tmp_path / "bad.csv"
    bad.write_text("address,key,position\n"
                   "C0:FF:EE:00:00:20,,North/Pump 1/Motor DE\n"
                   "C0:FF:EE:00:00:21,,North/Pump 1/Gearbox\n"
                   "C0:FF:EE:00:00:20,,%d\n" % nde)

    r = cli("sensor", "import", str(bad), "--config", g.config)
    assert r.returncode == 2
    assert "%s:3: no position 'North/Pump 1/Gearbox'" % bad in r.stderr
    assert "%s:4: duplicate address C0:FF:EE:00:00:20 (first on line 2)" % bad in r.stderr
    assert db_rows(g, "SELECT count(*) FROM sensors")[0][0] == 0

    r = cli("sensor", "import", str(good), "--config", g.config, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "%s:2: C0:FF:EE:00:00:10 on position %d: new" % (good, de) in r.stdout
    assert "dry run: 2 new, 0 recommissioned, 0 unchanged; nothing was written" in r.stdout
    assert db_rows(g, "SELECT count(*) FROM sensors")[0][0] == 0

    r = cli("sensor", "import", str(good), "--config", g.config)
    assert r.returncode == 0, r.stderr
    assert "imported: 2 new" in r.stdout
    assert sorted(db_rows(g, "SELECT address, position_id FROM sensors")) == [
        ("C0:FF:EE:00:00:10", de), ("C0:FF:EE:00:00:11", nde)]

    g.start()
    try:
        r = cli("sensor", "import", str(good), "--config", g.config, "--dry-run")
        assert r.returncode == 3
        assert "POST /api/v1/sensors/import" in r.stderr
        # The same over REST while serving: the dry run, then bad rows by line.
        csv = {"Content-Type": "text/csv"}
        dry = api.ok("POST", "/api/v1/sensors/import?dry_run=1", data=good.read_bytes(), headers=csv)
        assert dry["counts"] == {"new": 0, "recommissioned": 0, "unchanged": 2}
        r = api("POST", "/api/v1/sensors/import", data=bad.read_bytes(), headers=csv)
        assert r.status_code == 422
        assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(3, "position"), (4, "address")]
        assert len(api.ok("GET", "/api/v1/sensors")) == 2
    finally:
        g.stop()


def test_decommissioned_sensors_are_ignored_and_moved_ones_leave_their_past(tmp_path):
    # The demo plant's simulated sensors go through the same ingest path as BLE frames.
    g = Gateway(tmp_path, mode="demo")
    g.start()
    try:
        s = requests.Session()
        r = s.post(g.url("/api/v1/auth/setup"), json={"name": "root", "password": "first-admin-pw",
                                                       "setup_code": g.setup_code()}, timeout=15)
        assert r.status_code == 201, r.text
        s.headers["X-CSRF-Token"] = r.json()["csrf"]
        api = Api(g, session=s)

        def sensors_with_data():
            rows = [x for x in api.ok("GET", "/api/v1/sensors") if x["last_seen"] and x["position_id"]]
            return rows if len(rows) >= 3 else None
        rows = wait_for(sensors_with_data, what="demo readings")
        moving, retired = rows[0], rows[1]
        target = rows[2]["position_id"]
        old_pos = moving["position_id"]

        def series_of(pos, sensor_id):
            return [x for x in api.ok("GET", "/api/v1/positions/%d/series" % pos) if x["sensor_id"] == sensor_id]
        old_series = series_of(old_pos, moving["id"])
        assert old_series

        # Move: new readings open series on the new position; the old ones stay put.
        moved = api.ok("POST", "/api/v1/sensors/%d/move" % moving["id"], json={"position_id": target})
        assert moved["position_id"] == target
        wait_for(lambda: any("latest" in x for x in series_of(target, moving["id"])),
                 what="readings of the moved sensor on its new position")
        still = series_of(old_pos, moving["id"])
        assert {x["id"] for x in still} == {x["id"] for x in old_series}
        assert not {x["id"] for x in series_of(target, moving["id"])} & {x["id"] for x in old_series}

        # Decommission: its readings are rejected and counted; its history stays.
        def rejected():
            text = requests.get(g.url("/metrics"), timeout=5).text
            for line in text.splitlines():
                if line.startswith('vigil_ingest_rejected_total{reason="decommissioned"}'):
                    return float(line.split()[-1])
            return 0.0
        before = rejected()
        dec = api.ok("POST", "/api/v1/sensors/%d/decommission" % retired["id"])
        assert dec["decommissioned"] is True
        wait_for(lambda: rejected() > before, what="decommissioned readings counted")
        latest = {x["id"]: x.get("latest", {}).get("ts") for x in series_of(retired["position_id"], retired["id"])}
        time.sleep(2)
        again = {x["id"]: x.get("latest", {}).get("ts") for x in series_of(retired["position_id"], retired["id"])}
        assert latest and latest == again, "a decommissioned sensor's series must not grow"
        actions = {e["action"] for e in api.ok("GET", "/api/v1/audit", params={"limit": 100})}
        assert {"sensor.move", "sensor.decommission"} <= actions
    finally:
        g.stop()
