#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""OTA benchmark (issue 18): one 64 KB signed image to one sensor through the
BlueZ stand-in, the way a rollout does it, and what it costs the battery.

A real `vigil serve` scans a python-dbusmock BlueZ on a private bus; the
sensor is the firmware's host port in --gatt-serve mode behind the
stand-in's GATT proxy (tests/integration/gatt_sensor.py), so START, 274 Data
writes, the Status reads, VERIFY (CRC-32 + AES-CMAC under the sensor's key),
ACTIVATE, the bootloader's swap and the test boot's confirm all run.

Printed:
  - rollout created → sensor confirmed, and the transfer alone (the target's
    started_at → the Status read that shows the test boot), in seconds;
  - same-run reference: the stand-in's own cost, the same number of GATT
    round trips (ReadValue of the DFU Status characteristic through the same
    proxy) with no gateway involved;
  - on air at the configured connection interval (sensor-fw energy model:
    `energy_model --ota-kb 64 --conn-interval-ms 15 --att-payload 244`):
    transfer time and the battery the update costs, in days of life.

Run (not from CI: it is a benchmark):
  /usr/bin/python3 tests/bench/ota_transfer.py [--kb 64] [--conn-interval-ms 15]
Needs build/vigil and sensor-fw/build/host (cmake --preset host && cmake --build --preset host).
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import dbus
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bluez_mock import BluezMock, dev_path, virtual_sensor_bin  # noqa: E402
from conftest import VIGIL, Gateway  # noqa: E402
from gatt_sensor import GattSensor  # noqa: E402

MAC = "C0:FF:EE:00:0B:01"
KEY = "0f" * 16


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit("%s: %s" % (" ".join(args), r.stderr))
    return r.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", type=int, default=64)
    ap.add_argument("--conn-interval-ms", type=float, default=15.0)
    a = ap.parse_args()
    if not virtual_sensor_bin():
        raise SystemExit("build sensor-fw's host port first")
    tmp = tempfile.mkdtemp(prefix="vigil-ota-bench-")
    mock = BluezMock(tmp)
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = mock.start_bus()
    mock.start_bluez()
    mock.add_adapter()
    vendor = os.path.join(tmp, "vendor.pem")
    run(VIGIL, "firmware", "keygen", "--out", vendor)
    raw = os.path.join(tmp, "app.bin")
    run(virtual_sensor_bin(), "--make-test-image", "--version", "1.1.0", "--size", str(a.kb * 1024), "--out", raw)
    img = os.path.join(tmp, "app.vgfw")
    run(VIGIL, "firmware", "sign", "--key", vendor, "--in", raw, "--out", img, "--version", "1.1.0",
        "--board", "host")
    sensor = GattSensor(tmp, MAC, KEY, version="1.0.0")
    g = Gateway(pathlib.Path(tmp), extra={"ble": {"enabled": True, "waveform_pull_interval_s": 3600},
                            "firmware": {"signing_public_key_file": os.path.join(tmp, "vendor.pub.pem"),
                                         "engine_interval_s": 1}})
    g.admin_token = run(VIGIL, "token", "create", "--role", "admin", "--config", g.config)
    g.start()
    try:
        h = {"Authorization": "Bearer " + g.admin_token}
        site = requests.post(g.url("/api/v1/sites"), json={"name": "bench"}, headers=h, timeout=5).json()["id"]
        asset = requests.post(g.url("/api/v1/assets"), json={"site_id": site, "name": "m"}, headers=h,
                              timeout=5).json()["id"]
        pos = requests.post(g.url("/api/v1/positions"), json={"asset_id": asset, "name": "p", "type": "motor"},
                            headers=h, timeout=5).json()["id"]
        sid = requests.post(g.url("/api/v1/sensors"), headers=h, timeout=5,
                            json={"address": MAC, "key": KEY, "position_id": pos, "format": "vigil"}).json()["id"]
        requests.patch(g.url("/api/v1/sensors/%d" % sid), json={"tags": {"board": "host"}}, headers=h, timeout=5)
        mock.add_device(MAC, "vigil-sensor")
        mock.add_gatt_proxy(MAC, sensor.sock_path)
        for ad in sensor.adverts():
            mock.advertise(MAC, ad)
        with open(img, "rb") as f:
            r = requests.post(g.url("/api/v1/firmware/images"), data=f.read(), timeout=10,
                              headers=dict(h, **{"Content-Type": "application/octet-stream"}))
        r.raise_for_status()
        t0 = time.monotonic()
        r = requests.post(g.url("/api/v1/firmware/rollouts"), headers=h, timeout=10,
                          json={"image_id": r.json()["id"], "tag": "board=host", "wave_size": 1,
                                "failure_threshold": "1"})
        r.raise_for_status()
        rid = r.json()["id"]
        t_transfer_end = None
        while time.monotonic() - t0 < 600:
            ro = requests.get(g.url("/api/v1/firmware/rollouts/%d" % rid), headers=h, timeout=10).json()
            t = ro["targets"][0]
            if t["state"] in ("test_boot", "confirmed") and t_transfer_end is None:
                t_transfer_end = time.monotonic()
            if ro["state"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        total = time.monotonic() - t0
        target = ro["targets"][0]
        writes = sensor.data_writes
        # Same-run reference: the stand-in's cost of as many GATT round trips.
        bus = dbus.bus.BusConnection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
        status = dbus.Interface(bus.get_object("org.bluez", dev_path(MAC) + "/service0030/char0013"),
                                "org.bluez.GattCharacteristic1")
        t1 = time.monotonic()
        for _ in range(writes):
            status.ReadValue({})
        ref = time.monotonic() - t1
        energy = run(os.path.join(os.path.dirname(virtual_sensor_bin()), "energy_model"), "--ota-kb", str(a.kb),
                     "--conn-interval-ms", str(a.conn_interval_ms), "--att-payload", "244")
        ota = energy[energy.index("firmware update over GATT"):]
        print("OTA of a %d KB image to one sensor through the BlueZ stand-in (vigil serve, live virtual sensor)"
              % a.kb)
        print("  outcome: rollout %s, sensor %s (%s), %d Data writes" % (ro["state"], target["state"],
                                                                        sensor.booted(), writes))
        print("  rollout created -> confirmed: %.2f s; transfer + VERIFY until the test boot: %.2f s"
              % (total, (t_transfer_end or time.monotonic()) - t0))
        print("  same-run reference: %d GATT round trips through the same stand-in and proxy: %.2f s" % (writes, ref))
        print("  on air (sensor-fw energy model):")
        for line in ota.splitlines()[1:]:
            print("   " + line.strip())
        return 0 if target["state"] == "confirmed" else 1
    finally:
        g.stop()
        sensor.stop()
        mock.stop()


if __name__ == "__main__":
    sys.exit(main())
