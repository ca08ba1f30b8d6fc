# SPDX-License-Identifier: Apache-2.0
"""Sensor firmware over the air, end to end (issue 18): `vigil firmware
keygen/sign` make signed images; a real `vigil serve` takes them over REST
and rolls them out in waves through the BlueZ stand-in to 20 live virtual
sensors (the firmware's host port: its DFU service, bootloader, test boot,
confirm and revert run exactly as on the sensor). One sensor's link drops
half way and its transfer resumes; one receives a corrupted image and
rejects it; one boots the new image, fails its self-test and reverts by
itself; a rollout of a broken image stops when its failure threshold is
crossed, before the next sensors are touched.
"""
import os
import subprocess
import time

import pytest
import requests

from bluez_mock import virtual_sensor_bin
from conftest import VIGIL, Gateway
from gatt_sensor import GattSensor
from test_ble import cli, mock, wait_for  # noqa: F401 - mock is a fixture

pytestmark = pytest.mark.skipif(virtual_sensor_bin() is None, reason="build the firmware host port first")

N = 20
IMAGE_BYTES = 16 * 1024   # 69 Data writes of 240 bytes
DROPS, CORRUPTED, FAILS_SELF_TEST = 3, 7, 11


def mac(i):
    return "C0:FF:EE:00:01:%02X" % i


def key(i):
    return "%02x" % (i + 1) * 16


def make_image(tmp_path, vendor_key, version, bad=False, board="host", name=None):
    raw = tmp_path / ("payload-%s%s.bin" % (version, "-bad" if bad else ""))
    args = [virtual_sensor_bin(), "--make-test-image", "--version", version, "--size", str(IMAGE_BYTES),
            "--out", str(raw)]
    if bad:
        args.append("--bad")
    subprocess.run(args, check=True, capture_output=True, timeout=30)
    out = tmp_path / (name or "fw-%s%s.vgfw" % (version, "-bad" if bad else ""))
    cli("firmware", "sign", "--key", str(vendor_key), "--in", str(raw), "--out", str(out), "--version", version,
        "--board", board)
    return out.read_bytes()


def upload(g, admin, data):
    return requests.post(g.url("/api/v1/firmware/images"), data=data, timeout=10,
                         headers=dict(admin, **{"Content-Type": "application/octet-stream"}))


def rollout(g, admin, rid):
    return requests.get(g.url("/api/v1/firmware/rollouts/%d" % rid), headers=admin, timeout=10).json()


def test_a_rollout_reaches_twenty_virtual_sensors_through_the_bluez_stand_in(tmp_path, mock):  # noqa: F811
    vendor = tmp_path / "vendor.pem"
    cli("firmware", "keygen", "--out", str(vendor))
    pub = tmp_path / "vendor.pub.pem"
    assert pub.exists()
    other = tmp_path / "other.pem"
    cli("firmware", "keygen", "--out", str(other))
    good = make_image(tmp_path, vendor, "1.1.0")
    broken = make_image(tmp_path, vendor, "1.2.0", bad=True)
    forged = make_image(tmp_path, other, "1.1.1", name="forged.vgfw")
    for_nrf = make_image(tmp_path, vendor, "1.1.2", board="nrf52840", name="nrf.vgfw")

    mock.add_adapter()
    sensors = []
    for i in range(N):
        s = GattSensor(tmp_path, mac(i), key(i), version="1.0.0", self_confirm=(i != FAILS_SELF_TEST))
        if i == DROPS:
            s.drop_data_write_at = 34        # half way through the image
        if i == CORRUPTED:
            s.corrupt_data_write_at = 20     # one flipped byte on the way
        sensors.append(s)

    g = Gateway(tmp_path, extra={
        "ble": {"enabled": True, "discovery_silence_restart_s": 30, "stale_device_s": 600,
                "waveform_pull_interval_s": 3600},
        "firmware": {"signing_public_key_file": str(pub), "engine_interval_s": 1}})
    g.admin_token = cli("token", "create", "--role", "admin", "--config", g.config)
    g.start()
    try:
        admin = {"Authorization": "Bearer " + g.admin_token}
        site = requests.post(g.url("/api/v1/sites"), json={"name": "plant"}, headers=admin, timeout=5).json()["id"]
        asset = requests.post(g.url("/api/v1/assets"), json={"site_id": site, "name": "line 2"}, headers=admin,
                              timeout=5).json()["id"]
        ids = {}
        for i in range(N):
            pos = requests.post(g.url("/api/v1/positions"), headers=admin, timeout=5,
                                json={"asset_id": asset, "name": "p%d" % i, "type": "motor"}).json()["id"]
            r = requests.post(g.url("/api/v1/sensors"), headers=admin, timeout=5,
                              json={"address": mac(i), "key": key(i), "position_id": pos, "format": "vigil"})
            assert r.status_code == 201, r.text
            ids[r.json()["id"]] = i
            r = requests.patch(g.url("/api/v1/sensors/%d" % r.json()["id"]), headers=admin, timeout=5,
                               json={"tags": {"board": "host", "line": "2"}})
            assert r.status_code == 200, r.text
            mock.add_device(mac(i), "vigil-sensor")
            mock.add_gatt_proxy(mac(i), sensors[i].sock_path)
            for ad in sensors[i].adverts():
                mock.advertise(mac(i), ad)

        # Images are checked on upload, each refusal naming its cause.
        r = upload(g, admin, forged)
        assert r.status_code == 422 and "signature" in r.text, r.text
        r = upload(g, admin, for_nrf)
        assert r.status_code == 201, r.text   # a known board: accepted, but no host sensor takes it
        r = upload(g, admin, good[:100])
        assert r.status_code == 422 and "truncated" in r.text, r.text
        r = upload(g, admin, good)
        assert r.status_code == 201, r.text
        good_id = r.json()["id"]
        r = upload(g, admin, broken)
        assert r.status_code == 201, r.text
        broken_id = r.json()["id"]

        # Wave 1: every host sensor, 10 at a time, stop at 5 failures.
        r = requests.post(g.url("/api/v1/firmware/rollouts"), headers=admin, timeout=10,
                          json={"image_id": good_id, "tag": "line=2", "wave_size": 10, "failure_threshold": "5"})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert len(r.json()["targets"]) == N
        wait_for(lambda: rollout(g, admin, rid)["state"] in ("completed", "failed"), timeout=300,
                 what="the rollout to finish")
        ro = rollout(g, admin, rid)
        assert ro["state"] == "completed", ro
        by_sensor = {ids[t["sensor_id"]]: t for t in ro["targets"]}
        for i, t in by_sensor.items():
            if i == CORRUPTED:
                assert t["state"] == "failed" and "crc_mismatch" in t["reason"], t
                assert sensors[i].booted().startswith("booted 1.0.0"), sensors[i].boots
            elif i == FAILS_SELF_TEST:
                assert t["state"] == "reverted", t
                assert sensors[i].boots[-1].split(" ")[1:] == ["1.0.0", "reverted"], sensors[i].boots
            else:
                assert t["state"] == "confirmed", (i, t)
                assert sensors[i].booted().split(" ")[1:] == ["1.1.0", "confirmed"], (i, sensors[i].boots)
        # The dropped transfer resumed: two attempts, and fewer writes than two whole images.
        assert by_sensor[DROPS]["attempts"] == 2, by_sensor[DROPS]
        assert sensors[DROPS].data_writes < 2 * 69, sensors[DROPS].data_writes

        # A broken image: the rollout stops at its threshold, before the next wave.
        r = requests.post(g.url("/api/v1/firmware/rollouts"), headers=admin, timeout=10,
                          json={"image_id": broken_id, "tag": "board=host", "wave_size": 4,
                                "failure_threshold": "2"})
        assert r.status_code == 201, r.text
        rid2 = r.json()["id"]
        wait_for(lambda: rollout(g, admin, rid2)["state"] in ("completed", "failed"), timeout=180,
                 what="the broken rollout to stop")
        ro = rollout(g, admin, rid2)
        assert ro["state"] == "failed", ro
        states = [t["state"] for t in ro["targets"]]
        assert states.count("reverted") == 2, states
        assert all(t["state"] == "queued" for t in ro["targets"] if t["wave"] > ro["targets"][0]["wave"]), states
        untouched = [ids[t["sensor_id"]] for t in ro["targets"] if t["state"] == "queued"]
        assert len(untouched) >= N - 4
        for i in untouched:
            assert not sensors[i].booted().startswith("booted 1.2.0")

        # Rollouts are persisted: a restart shows them as they were.
        g.stop()
        g.start()
        assert rollout(g, admin, rid2)["state"] == "failed"
        assert rollout(g, admin, rid)["state"] == "completed"
    finally:
        g.stop()
        for s in sensors:
            s.stop()
