# SPDX-License-Identifier: Apache-2.0
"""Desired and reported sensor configuration, end to end: `vigil serve`
scanning the BlueZ stand-in, a live virtual sensor (the firmware's host
port) behind its GATT proxy. An admin sets a measurement interval and
advertising power over REST; the gateway applies it over GATT at the
sensor's next connection window (right after an advert) and shows desired
and reported side by side; the sensor really runs with it; bad values are
refused naming the field and never reach the sensor; the record survives a
restart.
"""
import os

import pytest
import requests

from bluez_mock import virtual_sensor_bin
from gatt_sensor import GattSensor
from test_ble import db_rows, mock, start_gateway, wait_for  # noqa: F401 - mock is a fixture

SENSOR = "C0:FF:EE:00:00:21"
KEY = "00112233445566778899aabbccddeeff"

pytestmark = pytest.mark.skipif(virtual_sensor_bin() is None, reason="build the firmware host port first")


def commission(g, admin):
    site = requests.post(g.url("/api/v1/sites"), json={"name": "plant"}, headers=admin, timeout=5).json()["id"]
    asset = requests.post(g.url("/api/v1/assets"), json={"site_id": site, "name": "fan 3"}, headers=admin,
                          timeout=5).json()["id"]
    pos = requests.post(g.url("/api/v1/positions"), json={"asset_id": asset, "name": "motor NDE", "type": "motor"},
                        headers=admin, timeout=5).json()["id"]
    r = requests.post(g.url("/api/v1/sensors"), headers=admin, timeout=5,
                      json={"address": SENSOR, "key": KEY, "position_id": pos, "format": "vigil"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_desired_configuration_is_applied_over_gatt_and_reported_back(tmp_path, mock):  # noqa: F811
    mock.add_adapter()
    sensor = GattSensor(tmp_path, SENSOR, KEY, version="1.0.0")
    g = start_gateway(tmp_path)
    try:
        admin = {"Authorization": "Bearer " + g.admin_token}
        viewer = {"Authorization": "Bearer " + requests.post(g.url("/api/v1/tokens"), json={"role": "viewer"},
                                                             headers=admin, timeout=5).json()["token"]}
        sid = commission(g, admin)
        mock.add_device(SENSOR, "vigil-sensor")
        mock.add_gatt_proxy(SENSOR, sensor.sock_path)
        url = g.url("/api/v1/sensors/%d/config" % sid)

        # Nothing asked yet.
        r = requests.get(url, headers=viewer, timeout=5)
        assert r.status_code == 200, r.text
        j = r.json()
        assert j["state"] is None and j["desired"] is None

        # Refusals name the field and store nothing.
        for body, field in (({"measurement_interval_s": 5}, "measurement_interval_s"),
                            ({"tx_power_dbm": 3}, "tx_power_dbm"),
                            ({"measurement_interval_s": 7200, "waveform_interval_min": 60}, "waveform_interval_min"),
                            ({"measurement_interval_s": "300"}, "measurement_interval_s"),
                            ({"interval": 300}, "interval")):
            r = requests.put(url, json=body, headers=admin, timeout=5)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["field"] == field
        assert requests.put(url, json={"tx_power_dbm": -8}, headers=viewer, timeout=5).status_code == 403
        assert requests.put(g.url("/api/v1/sensors/99999/config"), json={}, headers=admin, timeout=5).status_code == 404
        assert requests.get(url, headers=viewer, timeout=5).json()["state"] is None
        assert not any(c.startswith("write 0021") for c in sensor.calls)

        r = requests.put(url, json={"measurement_interval_s": 300, "waveform_interval_min": 30, "tx_power_dbm": -8},
                         headers=admin, timeout=5)
        assert r.status_code == 202, r.text
        j = r.json()
        assert j["state"] == "pending" and j["desired"]["seq"] == 1 and j["reported"] is None

        # The sensor advertises: its connection window is open, the gateway connects.
        def applied():
            for ad in sensor.adverts():
                mock.advertise(SENSOR, ad)
            return requests.get(url, headers=viewer, timeout=5).json()["state"] == "applied"
        wait_for(applied, timeout=40, what="configuration applied")
        j = requests.get(url, headers=viewer, timeout=5).json()
        assert j["reported"] == {"seq": 1, "measurement_interval_s": 300, "waveform_interval_min": 30,
                                 "tx_power_dbm": -8}
        assert j["firmware_version"] == "1.0.0"
        assert j["error"] is None
        # The sensor itself reports it (read straight from the firmware's service).
        rep = bytes.fromhex(sensor.command("read 0022"))
        assert int.from_bytes(rep[0:4], "little") == 1 and int.from_bytes(rep[4:8], "little") == 300

        # Audited.
        audit = requests.get(g.url("/api/v1/audit"), headers=admin, timeout=5)
        assert audit.status_code == 200
        assert [e["target"] for e in audit.json() if e["action"] == "sensor.config"] == ["sensor:%d" % sid]

        # It survives a restart of the gateway.
        g.stop()
        g.start()
        j = requests.get(url, headers=viewer, timeout=5).json()
        assert j["state"] == "applied" and j["reported"]["measurement_interval_s"] == 300
    finally:
        g.stop()
        sensor.stop()


def test_the_gateway_pulls_waveforms_at_the_interval_the_sensor_reports(tmp_path, mock):  # noqa: F811
    """The gateway's own pull interval is an hour; once the sensor reports a
    1-minute waveform interval (applied over GATT), the next pull comes a
    minute after the last one, from the live sensor's waveform service."""
    mock.add_adapter()
    sensor = GattSensor(tmp_path, SENSOR, KEY, version="1.0.0")
    g = start_gateway(tmp_path, waveform_pull_interval_s=3600)  # the first pull 5 s after heard
    try:
        admin = {"Authorization": "Bearer " + g.admin_token}
        sid = commission(g, admin)
        mock.add_device(SENSOR, "vigil-sensor")
        mock.add_gatt_proxy(SENSOR, sensor.sock_path, waveform=True)

        def waveforms():
            return db_rows(g, "SELECT COUNT(*) FROM waveforms")[0][0]

        def advertise_until(pred, timeout, what):
            def step():
                for ad in sensor.adverts():
                    mock.advertise(SENSOR, ad)
                return pred()
            wait_for(step, timeout=timeout, what=what)

        advertise_until(lambda: waveforms() >= 1, 40, "the first waveform pulled")
        r = requests.put(g.url("/api/v1/sensors/%d/config" % sid), headers=admin, timeout=5,
                         json={"measurement_interval_s": 60, "waveform_interval_min": 1})
        assert r.status_code == 202, r.text
        advertise_until(lambda: requests.get(g.url("/api/v1/sensors/%d/config" % sid), headers=admin,
                                             timeout=5).json()["state"] == "applied", 40, "configuration applied")
        first = db_rows(g, "SELECT MIN(ts) FROM waveforms")[0][0]
        # With the gateway's hour there would be no second pull for 59 more minutes.
        advertise_until(lambda: waveforms() >= 2, 100, "a second waveform within the sensor's minute")
        times = [t for (t,) in db_rows(g, "SELECT ts FROM waveforms ORDER BY ts")]
        assert 55_000 <= times[1] - first <= 95_000, times
    finally:
        g.stop()
        sensor.stop()
