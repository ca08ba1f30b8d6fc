# SPDX-License-Identifier: Apache-2.0
"""A plant of gateways on one real mosquitto (TLS, client certificates), and
BLE adverts relayed over MQTT in the OpenMQTTGateway/Theengs JSON shape
(docs/plant.md). Broker and certificates: test_uplink.py's helpers.

  plant view     two `vigil serve` with the same plant.id each list both
                 online in GET /api/v1/plant; a gateway of another plant and
                 forged/malformed documents are counted, never listed.
  last will      kill -9 of one: the other shows it offline (the broker's
                 retained will) within the keep-alive; a restarted gateway
                 rebuilds the view from retained messages.
  broker restart two gateways ride out a mosquitto restart: the plant view
                 recovers by itself, a relayed advert published before and
                 after (and again after) is stored once.
  relay rate     a relay over ble.relay_rate_per_s is cut at its rate and the
                 excess counted as vigil_ble_relay_rejected_total{reason="rate"}.
  relays         a Theengs-shaped JSON with a valid encrypted BTHome advert of
                 a commissioned sensor is stored once (published twice: still
                 once; a replay refused); malformed JSON, bad hex and unknown
                 sensors are counted, not stored; a gap in the frame counter
                 is counted as frames lost (vigil_ble_frames_lost_total).
  gateway relay  two gateways, each with its own radio (a python-dbusmock
                 BlueZ on its own bus): a sensor commissioned on gw-a and heard
                 only by gw-b's radio is relayed by gw-b, still encrypted, and
                 stored once by gw-a, never by gw-b; a frame heard by both
                 radios is stored once.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import time

import pytest
import requests

from conftest import VIGIL, Gateway
from test_uplink import Broker, broker, pki, uplink_cfg  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                                reason="mosquitto not installed")

SENSOR = "A4:C1:38:00:19:01"
STRANGER = "A4:C1:38:00:19:99"
KEY = "231d39c1d7cc1ab1aee224cd096db932"
RELAY_TOPIC = "relays/esp32-hall2/BTtoMQTT/A4C138001901"


def cli(*args):
    r = subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (requests.RequestException, KeyError, ValueError) as e:
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def pub(pki, broker, topic, payload, retain=False):
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", pki("ca.crt"),
            "--cert", pki("subscriber.crt"), "--key", pki("subscriber.key"), "-q", "1", "-t", topic, "-s"]
    if retain:
        args.append("-r")
    subprocess.run(args, input=payload.encode() if isinstance(payload, str) else payload, check=True, timeout=10)


def start(tmp_path, name, pki, broker, plant="hall", extra=None):
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    cfg = {"gateway": {"id": name, "name": "Hall " + name},
           "uplink": uplink_cfg(pki, broker, keepalive_s=5, client_id=name),
           "plant": {"id": plant, "state_interval_s": 5}}
    for k, v in (extra or {}).items():
        cfg.setdefault(k, {}).update(v)
    g = Gateway(d, extra=cfg)
    g.admin_token = cli("token", "create", "--role", "admin", "--config", g.config)
    g.start()
    return g


def auth(g):
    return {"Authorization": "Bearer " + g.admin_token}


def plant(g):
    r = requests.get(g.url("/api/v1/plant"), headers=auth(g), timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def gw(view, gid):
    for x in view["gateways"]:
        if x["id"] == gid:
            return x
    return None


def metric(g, name):
    text = requests.get(g.url("/metrics"), timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{") and line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_two_gateways_form_a_plant_and_a_killed_one_goes_offline_by_its_will(tmp_path, pki, broker):
    a = start(tmp_path, "gw-a", pki, broker)
    b = start(tmp_path, "gw-b", pki, broker)
    other = start(tmp_path, "gw-x", pki, broker, plant="elsewhere")
    try:
        # A site and an asset on gw-b: they appear in gw-a's plant view.
        site = requests.post(b.url("/api/v1/sites"), json={"name": "hall B"}, headers=auth(b), timeout=5).json()["id"]
        requests.post(b.url("/api/v1/assets"), json={"site_id": site, "name": "press 7"}, headers=auth(b), timeout=5)

        def both_online(g):
            v = plant(g)
            x, y = gw(v, "gw-a"), gw(v, "gw-b")
            return v if x and y and x["online"] and y["online"] else None
        va = wait_for(lambda: both_online(a), what="gw-a lists gw-a and gw-b online")
        vb = wait_for(lambda: both_online(b), what="gw-b lists gw-a and gw-b online")
        assert va["plant_id"] == "hall" and vb["plant_id"] == "hall"
        assert va["connected"] is True and gw(va, "gw-b")["stale"] is False
        assert va["gateways"][0]["id"] == "gw-a" and va["gateways"][0]["self"] is True
        assert gw(va, "gw-x") is None and gw(vb, "gw-x") is None
        assert [x["id"] for x in plant(other)["gateways"]] == ["gw-x"]
        gb = gw(va, "gw-b")
        assert gb["name"] == "Hall gw-b" and gb["url"].endswith(":%d/" % b.port)
        assert gb["last_seen"] is not None
        # gw-b republishes every 5 s: its new asset reaches gw-a.
        wait_for(lambda: any(x["name"] == "press 7" for x in gw(plant(a), "gw-b")["assets"]),
                 what="gw-b's asset in gw-a's view")

        # Forged and malformed documents on the plant's topics: counted, not listed.
        forged = {"v": 1, "type": "vigil.plant.state", "plant_id": "elsewhere", "gateway_id": "gw-evil",
                  "online": True}
        pub(pki, broker, "vigil/plant/hall/gateways/gw-evil/state", json.dumps(forged))
        pub(pki, broker, "vigil/plant/hall/gateways/gw-bad/state", "{not json")
        pub(pki, broker, "vigil/plant/hall/gateways/gw-big/state", "x" * (70 * 1024))
        wait_for(lambda: metric(a, 'vigil_plant_messages_dropped_total{reason="other_plant"}') >= 1 and
                 metric(a, 'vigil_plant_messages_dropped_total{reason="malformed_json"}') >= 1,
                 what="dropped plant messages counted")
        wait_for(lambda: metric(a, "vigil_uplink_inbound_dropped_total") >= 1, what="oversized dropped")
        assert {x["id"] for x in plant(a)["gateways"]} == {"gw-a", "gw-b"}

        # kill -9: no DISCONNECT, so the broker publishes gw-b's will within 1.5 x keep-alive.
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=10)
        t0 = time.time()
        off = wait_for(lambda: (lambda x: x if x and not x["online"] else None)(gw(plant(a), "gw-b")), timeout=20,
                       what="gw-b offline at gw-a")
        assert time.time() - t0 < 15
        assert off["name"] == "Hall gw-b" and off["last_seen"] is not None  # greyed, with what was known
        assert any(x["name"] == "press 7" for x in off["assets"])

        # A restarted gw-a rebuilds the view from retained messages: gw-b offline.
        a.stop()
        a.start()
        wait_for(lambda: (lambda x: x is not None and not x["online"])(gw(plant(a), "gw-b")),
                 what="gw-b offline after gw-a's restart")
        # gw-b comes back: online again at gw-a.
        b.start()
        wait_for(lambda: (lambda x: x is not None and x["online"])(gw(plant(a), "gw-b")), what="gw-b back online")
        # A graceful stop (SIGTERM) shows it offline at once, too.
        b.stop()
        wait_for(lambda: (lambda x: x is not None and not x["online"])(gw(plant(a), "gw-b")), timeout=10,
                 what="gw-b offline after SIGTERM")
    finally:
        for g in (a, b, other):
            g.stop()


def test_an_mqtt311_gateway_is_in_the_plant_and_leaves_it_offline(tmp_path, pki, broker):
    a = start(tmp_path, "gw-5", pki, broker)
    b = start(tmp_path, "gw-311", pki, broker, extra={"uplink": {"protocol": "mqttv311"}})
    try:
        wait_for(lambda: (lambda x: x is not None and x["online"])(gw(plant(a), "gw-311")), what="gw-311 online")
        wait_for(lambda: (lambda x: x is not None and x["online"])(gw(plant(b), "gw-5")), what="gw-5 seen by gw-311")
        # MQTT 3.1.1 has no "disconnect with will": vigil publishes it itself on a clean stop.
        b.stop()
        wait_for(lambda: (lambda x: x is not None and not x["online"])(gw(plant(a), "gw-311")), timeout=10,
                 what="gw-311 offline after SIGTERM")
    finally:
        a.stop()
        b.stop()


# ---- relays ----

def bthome_encrypted(mac, key, counter, temp_c):
    """Encrypted BTHome v2 service data (without the UUID), as Theengs prints it in "servicedata"."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    info = 0x41
    objects = bytes([0x02]) + int(round(temp_c * 100)).to_bytes(2, "little", signed=True)
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc" + bytes([info]) + struct.pack("<I", counter)
    sealed = AESCCM(bytes.fromhex(key), tag_length=4).encrypt(nonce, objects, None)
    return bytes([info]) + sealed[:-4] + struct.pack("<I", counter) + sealed[-4:]


def theengs(mac, sd, rssi=-71):
    return json.dumps({"id": mac, "mac_type": 0, "adv_type": 0, "name": "vigil-th", "manufacturerdata": None,
                       "rssi": rssi, "servicedata": sd.hex(), "servicedatauuid": "0xfcd2", "brand": "vigil"})


def test_relayed_theengs_adverts_are_decoded_and_stored_once(tmp_path, pki, broker):
    pytest.importorskip("cryptography")
    g = start(tmp_path, "gw-r", pki, broker, extra={"ble": {"relay_topics": ["relays/+/BTtoMQTT/#"]}})
    try:
        h = auth(g)
        site = requests.post(g.url("/api/v1/sites"), json={"name": "hall"}, headers=h, timeout=5).json()["id"]
        asset = requests.post(g.url("/api/v1/assets"), json={"site_id": site, "name": "fridge"}, headers=h,
                              timeout=5).json()["id"]
        pos = requests.post(g.url("/api/v1/positions"), json={"asset_id": asset, "name": "cabinet", "type": "other"},
                            headers=h, timeout=5).json()["id"]
        r = requests.post(g.url("/api/v1/sensors"), headers=h, timeout=5,
                          json={"address": SENSOR, "key": KEY, "position_id": pos, "format": "bthome"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        wait_for(lambda: requests.get(g.url("/api/v1/ble/health"), headers=h, timeout=5).json()["commissioned"] == 1,
                 what="sensor picked up")
        wait_for(lambda: requests.get(g.url("/api/v1/health"), timeout=5).json()["components"]["uplink"]["connected"],
                 what="uplink connected")
        assert requests.get(g.url("/api/v1/health"), timeout=5).json()["components"]["ble"]["status"] == "relays_only"

        frame = bthome_encrypted(SENSOR, KEY, 1, 4.25)
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, frame, rssi=-83))

        def health():
            return requests.get(g.url("/api/v1/sensors/%d/health" % sid), headers=h, timeout=5).json()
        wait_for(lambda: health()["frames_accepted"] == 1, what="relayed frame accepted")
        hh = health()
        assert hh["heard_via"] == "relay:" + RELAY_TOPIC and hh["rssi_dbm"] == -83

        def sensor_row():
            for s in requests.get(g.url("/api/v1/sensors"), headers=h, timeout=5).json():
                if s["address"] == SENSOR and "temperature_c" in s["latest"]:
                    return s
        s = wait_for(sensor_row, what="the relayed reading in /api/v1/sensors")
        assert s["latest"]["temperature_c"] == pytest.approx(4.25)
        # The sensors list says which radio heard it last, and at what RSSI.
        assert s["heard_via"] == "relay:" + RELAY_TOPIC and s["rssi_dbm"] == -83 and s["heard_at"]
        # Relay metrics: every message counted, the decoded one has a latency sample.
        assert metric(g, "vigil_ble_relay_messages_total") >= 1
        assert metric(g, "vigil_ble_relay_latency_seconds_count") >= 1
        assert metric(g, 'vigil_ble_relay_latency_seconds_bucket{le="+Inf"}') >= 1
        fleet = requests.get(g.url("/api/v1/fleet"), headers=h, timeout=5).json()
        series_id = fleet["sites"][0]["assets"][0]["positions"][0]["latest"]["temperature_c"]["series_id"]

        # The same advert again (another relay heard it too), then a replay of
        # nothing new: one frame accepted, one point stored.
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, frame, rssi=-90))
        pub(pki, broker, "relays/esp32-hall3/BTtoMQTT/A4C138001901", theengs(SENSOR, frame, rssi=-95))
        wait_for(lambda: health()["frames_rejected"].get("duplicate", 0) >= 2, what="duplicates counted")
        assert health()["frames_accepted"] == 1

        # Bad input: malformed JSON, bad hex, no payload, an unknown sensor: counted, never stored.
        pub(pki, broker, RELAY_TOPIC, "{\"id\": \"%s\", " % SENSOR)
        pub(pki, broker, RELAY_TOPIC, json.dumps({"id": SENSOR, "servicedata": "zz11", "servicedatauuid": "0xfcd2"}))
        pub(pki, broker, RELAY_TOPIC, json.dumps({"id": SENSOR, "rssi": -50}))
        pub(pki, broker, RELAY_TOPIC, "x" * 5000)
        pub(pki, broker, "relays/esp32-hall2/BTtoMQTT/A4C138001999",
            theengs(STRANGER, bthome_encrypted(STRANGER, KEY, 1, 30.0)))
        wait_for(lambda: metric(g, 'vigil_ble_relay_rejected_total{reason="malformed_json"}') >= 1 and
                 metric(g, 'vigil_ble_relay_rejected_total{reason="bad_hex"}') >= 1 and
                 metric(g, 'vigil_ble_relay_rejected_total{reason="no_payload"}') >= 1 and
                 metric(g, 'vigil_ble_relay_rejected_total{reason="not_commissioned"}') >= 1,
                 what="bad relay messages counted")
        wait_for(lambda: metric(g, "vigil_uplink_inbound_dropped_total") >= 1, what="oversized relay message dropped")

        # A newer frame is stored: two points in all.
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, bthome_encrypted(SENSOR, KEY, 2, 4.5)))
        wait_for(lambda: health()["frames_accepted"] == 2, what="second frame accepted")
        # A replay of the first frame through a relay: refused (counter not after 2).
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, frame))
        wait_for(lambda: health()["frames_rejected"].get("replay", 0) == 1, what="replay refused")
        now = int(time.time() * 1000)

        def points():
            r = requests.get(g.url("/api/v1/series/%d?from=0&to=%d&raw=1&format=csv" % (series_id, now + 60000)),
                             headers=h, timeout=5)
            assert r.status_code == 200, r.text
            return [ln for ln in r.text.splitlines()[1:] if ln.strip()]
        wait_for(lambda: len(points()) == 2, what="two stored points")
        time.sleep(1)
        assert len(points()) == 2
        db_sensors = requests.get(g.url("/api/v1/sensors"), headers=h, timeout=5).json()
        assert [x["address"] for x in db_sensors] == [SENSOR]

        # Frames 1, 2, then 5: frames 3 and 4 never arrived. The duplicates and
        # the replay above are not loss.
        assert metric(g, 'vigil_ble_frames_lost_total{via="relay"}') == 0
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, bthome_encrypted(SENSOR, KEY, 5, 4.75)))
        wait_for(lambda: health()["frames_accepted"] == 3, what="frame 5 accepted")
        assert metric(g, 'vigil_ble_frames_lost_total{via="relay"}') == 2
        assert metric(g, 'vigil_ble_frames_lost_total{via="radio"}') == 0
        row = requests.get(g.url("/api/v1/sensors"), headers=h, timeout=5).json()[0]
        assert row["frames_lost"] == 2 and row["loss_ratio"] == pytest.approx(2 / 5)
        assert health()["frames_lost"] == 2
    finally:
        g.stop()


def commission(g):
    """A site, asset and position on g, and SENSOR commissioned there; returns (sensor id, headers)."""
    h = auth(g)
    site = requests.post(g.url("/api/v1/sites"), json={"name": "hall"}, headers=h, timeout=5).json()["id"]
    asset = requests.post(g.url("/api/v1/assets"), json={"site_id": site, "name": "fridge"}, headers=h,
                          timeout=5).json()["id"]
    pos = requests.post(g.url("/api/v1/positions"), json={"asset_id": asset, "name": "cabinet", "type": "other"},
                        headers=h, timeout=5).json()["id"]
    r = requests.post(g.url("/api/v1/sensors"), headers=h, timeout=5,
                      json={"address": SENSOR, "key": KEY, "position_id": pos, "format": "bthome"})
    assert r.status_code == 201, r.text
    wait_for(lambda: requests.get(g.url("/api/v1/ble/health"), headers=h, timeout=5).json()["commissioned"] == 1,
             what="sensor picked up")
    return r.json()["id"], h


def connected(g):
    return requests.get(g.url("/api/v1/health"), timeout=5).json()["components"]["uplink"]["connected"]


def test_a_broker_restart_heals_by_itself_and_stores_nothing_twice(tmp_path, pki, broker):
    pytest.importorskip("cryptography")
    a = start(tmp_path, "gw-a", pki, broker, extra={"ble": {"relay_topics": ["relays/+/BTtoMQTT/#"]}})
    b = start(tmp_path, "gw-b", pki, broker)
    try:
        sid, h = commission(a)

        def both_online(g):
            v = plant(g)
            x, y = gw(v, "gw-a"), gw(v, "gw-b")
            return v["connected"] and x and y and x["online"] and y["online"]
        wait_for(lambda: both_online(a) and both_online(b), what="the plant of two")
        wait_for(lambda: connected(a), what="gw-a connected")

        def health():
            return requests.get(a.url("/api/v1/sensors/%d/health" % sid), headers=h, timeout=5).json()
        frame1 = bthome_encrypted(SENSOR, KEY, 1, 5.0)
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, frame1))
        wait_for(lambda: health()["frames_accepted"] == 1, what="frame 1 before the restart")

        broker.stop()
        wait_for(lambda: not connected(a) and not plant(b)["connected"], timeout=30, what="both see the link down")
        broker.start()  # same port, persistence on: retained state documents survive
        wait_for(lambda: both_online(a) and both_online(b), timeout=60, what="the plant view back by itself")

        # Frame 1 again (a relay retrying) and frame 2: one new point, one duplicate.
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, frame1))
        pub(pki, broker, RELAY_TOPIC, theengs(SENSOR, bthome_encrypted(SENSOR, KEY, 2, 5.5)))
        wait_for(lambda: health()["frames_accepted"] == 2, what="frame 2 after the restart")
        wait_for(lambda: sum(health()["frames_rejected"].get(k, 0) for k in ("duplicate", "replay")) >= 1,
                 what="frame 1 refused the second time")
        fleet = requests.get(a.url("/api/v1/fleet"), headers=h, timeout=5).json()
        series_id = fleet["sites"][0]["assets"][0]["positions"][0]["latest"]["temperature_c"]["series_id"]
        now = int(time.time() * 1000)

        def points():
            r = requests.get(a.url("/api/v1/series/%d?from=0&to=%d&raw=1&format=csv" % (series_id, now + 60000)),
                             headers=h, timeout=5)
            assert r.status_code == 200, r.text
            return [ln for ln in r.text.splitlines()[1:] if ln.strip()]
        wait_for(lambda: len(points()) == 2, what="two stored points")
        time.sleep(1)
        assert len(points()) == 2
        assert health()["frames_accepted"] == 2
    finally:
        for g in (a, b):
            g.stop()


def test_a_relay_over_its_rate_is_cut_and_counted(tmp_path, pki, broker):
    g = start(tmp_path, "gw-rate", pki, broker,
              extra={"ble": {"relay_topics": ["relays/+/BTtoMQTT/#"], "relay_rate_per_s": 5}})
    try:
        wait_for(lambda: connected(g), what="uplink connected")
        # 200 messages from one relay in well under a second (mosquitto_pub -l: one per line).
        lines = "\n".join(json.dumps({"id": STRANGER, "servicedata": "40", "servicedatauuid": "0xfcd2"})
                          for _ in range(200)) + "\n"
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", pki("ca.crt"),
                "--cert", pki("subscriber.crt"), "--key", pki("subscriber.key"), "-q", "1",
                "-t", "relays/flood/BTtoMQTT/A4C138001999", "-l"]
        subprocess.run(args, input=lines.encode(), check=True, timeout=30)
        wait_for(lambda: metric(g, "vigil_ble_relay_messages_total") >= 200, what="all 200 received")
        rate = metric(g, 'vigil_ble_relay_rejected_total{reason="rate"}')
        passed = metric(g, 'vigil_ble_relay_rejected_total{reason="not_commissioned"}')
        assert rate + passed == 200
        assert rate >= 100 and 5 <= passed < 100  # burst of 5, then 5 a second
    finally:
        g.stop()


# ---- relaying between gateways (plant.relay) ----

def test_a_sensor_heard_only_by_another_gateway_is_relayed_to_its_owner_and_stored_once(tmp_path, pki, broker,
                                                                                      monkeypatch):
    pytest.importorskip("cryptography")
    pytest.importorskip("dbus")
    pytest.importorskip("dbusmock")
    from bluez_mock import BTHOME_UUID, BluezMock

    # One BlueZ stand-in per gateway: two radios in two places of the hall.
    radios = {}
    gateways = []
    try:
        for name in ("gw-a", "gw-b"):
            d = tmp_path / ("r" + name[-1])
            d.mkdir()
            m = BluezMock(d)
            radios[name] = m
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", m.start_bus())
            m.start_bluez()
            m.add_adapter()
            gateways.append(start(tmp_path, name, pki, broker,
                                  extra={"ble": {"enabled": True, "discovery_silence_restart_s": 30}}))
        a, b = gateways
        ra, rb = radios["gw-a"], radios["gw-b"]
        sid, h = commission(a)  # on gw-a only: gw-b has neither the sensor nor its key

        def ble_status(g):
            return requests.get(g.url("/api/v1/health"), timeout=5).json()["components"]["ble"]["status"]
        for g in (a, b):
            wait_for(lambda: ble_status(g) == "scanning", what="%s scanning" % g.config)
            wait_for(lambda: connected(g), what="uplink connected")
        wait_for(lambda: (lambda x: x is not None and x["online"])(gw(plant(a), "gw-b")), what="gw-b in gw-a's plant")

        def health():
            return requests.get(a.url("/api/v1/sensors/%d/health" % sid), headers=h, timeout=5).json()

        # Frame 1: only gw-b's radio hears the sensor.
        rb.add_device(SENSOR, "vigil-th")
        rb.set_rssi(SENSOR, -77)
        rb.set_service_data(SENSOR, {BTHOME_UUID: bthome_encrypted(SENSOR, KEY, 1, 4.25)})
        wait_for(lambda: health()["frames_accepted"] == 1, what="the relayed frame accepted by gw-a")
        hh = health()
        assert hh["heard_via"] == "gateway:gw-b" and hh["rssi_dbm"] == -77
        assert metric(b, "vigil_plant_relay_out_total") >= 1
        assert metric(b, 'vigil_plant_relay_out_dropped_total{reason="rate"}') == 0
        # gw-b ignores its own relayed adverts when the broker hands them back…
        assert metric(b, "vigil_ble_relay_messages_total") == 0
        # …and gw-a relays nothing: the only advert it heard is its own sensor's.
        assert metric(a, "vigil_plant_relay_out_total") == 0
        # gw-b stores nothing: no sensor, no frame decoded (it has no key).
        assert requests.get(b.url("/api/v1/sensors"), headers=auth(b), timeout=5).json() == []
        assert requests.get(b.url("/api/v1/ble/health"), headers=auth(b), timeout=5).json()["frames_accepted"] == 0

        # Frame 2: both radios hear it. Stored once; the second arrival is a duplicate.
        ra.add_device(SENSOR, "vigil-th")
        ra.set_rssi(SENSOR, -60)
        frame2 = {BTHOME_UUID: bthome_encrypted(SENSOR, KEY, 2, 4.5)}
        ra.set_service_data(SENSOR, frame2)
        rb.set_service_data(SENSOR, frame2)
        wait_for(lambda: health()["frames_accepted"] == 2, what="frame 2 accepted")
        wait_for(lambda: metric(b, "vigil_plant_relay_out_total") >= 2, what="gw-b relayed frame 2 too")
        wait_for(lambda: health()["frames_rejected"].get("duplicate", 0) >= 1, what="the second copy refused")

        def series_id():
            fleet = requests.get(a.url("/api/v1/fleet"), headers=h, timeout=5).json()
            return fleet["sites"][0]["assets"][0]["positions"][0]["latest"]["temperature_c"]["series_id"]
        sid_t = wait_for(series_id, what="the temperature series in gw-a's fleet")
        now = int(time.time() * 1000)

        def points():
            r = requests.get(a.url("/api/v1/series/%d?from=0&to=%d&raw=1&format=csv" % (sid_t, now + 60000)),
                             headers=h, timeout=5)
            assert r.status_code == 200, r.text
            return [ln for ln in r.text.splitlines()[1:] if ln.strip()]
        wait_for(lambda: len(points()) == 2, what="two stored points")
        time.sleep(1)
        assert len(points()) == 2
        assert health()["frames_accepted"] == 2
        assert requests.get(b.url("/api/v1/sensors"), headers=auth(b), timeout=5).json() == []
    finally:
        for g in gateways:
            g.stop()
        for m in radios.values():
            m.stop()


def test_every_dashboard_of_the_plant_lists_another_gateways_active_alerts(tmp_path, pki, broker):
    # gw-b's nightly backup cannot be written (a directory under /proc): its
    # catch-up backup at start fails and raises a gateway alert, which gw-a's
    # plant view then lists from gw-b's state document.
    a = start(tmp_path, "gw-a", pki, broker)
    b = start(tmp_path, "gw-b", pki, broker, extra={"storage": {"backup_dir": "/proc/vigil-no-such-dir"}})
    try:
        def alerts_of_b():
            g = gw(plant(a), "gw-b")
            return g["alerts"] if g and g["online"] and g.get("alerts") else None
        listed = wait_for(alerts_of_b, timeout=60, what="gw-a lists gw-b's active alert")
        assert any("backup" in x["title"].lower() for x in listed), listed
        assert all(set(x) >= {"id", "severity", "status", "title", "opened_at"} for x in listed)
        assert gw(plant(a), "gw-a")["alerts"] == []
    finally:
        a.stop()
        b.stop()
