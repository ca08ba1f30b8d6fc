# SPDX-License-Identifier: Apache-2.0
"""Commands between the gateways of a plant (docs/plant.md, "Commands between
gateways"), on a real mosquitto with TLS and real `vigil serve` processes:

  commission    gw-a's admin commissions a sensor on gw-b through gw-a's API;
                gw-b applies it (its own checks, audited as plant:gw-a:<user>),
                the result comes back to gw-a; the sensor key never crosses
                the broker in the clear.
  re-assign     a sensor of gw-a is re-assigned to a position of gw-b: gw-b
                commissions it, then gw-a decommissions it; asked from gw-b's
                dashboard (a command to gw-a, which sends one to gw-b).
  forged        a gateway of the plant with another command key (or a client
                publishing by hand) is refused and counted; nothing applied.
  refused       routes outside the sensor lifecycle (422), no key configured
                (409).
"""
import json
import subprocess
import time

import requests

from test_plant import auth, pub, start, wait_for
from test_uplink import Broker, broker, pki, uplink_cfg  # noqa: F401 - fixtures

KEY_AB = "6f1c2a7e9b0d4c3f8a5e1d2c7b9f0a3e6d4c1b8a2f7e5d9c0b3a6f1e4d8c2b7a"
KEY_X = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
SENSOR_KEY = "231d39c1d7cc1ab1aee224cd096db932"


def gateway(tmp_path, name, pki, broker, key):
    extra = {}
    if key:
        (tmp_path / (name + ".key")).write_text(key + "\n")
        extra = {"plant": {"command_key_file": str(tmp_path / (name + ".key"))}}
    return start(tmp_path, name, pki, broker, extra=extra)


def api(g, method, path, body=None):
    return requests.request(method, g.url(path), json=body, headers=auth(g), timeout=10)


def position_on(g, site="hall", asset="press", pos="motor DE"):
    s = api(g, "POST", "/api/v1/sites", {"name": site}).json()["id"]
    a = api(g, "POST", "/api/v1/assets", {"site_id": s, "name": asset}).json()["id"]
    return api(g, "POST", "/api/v1/positions", {"asset_id": a, "name": pos, "type": "motor"}).json()["id"]


def sensors(g):
    """The sensors a gateway decodes (decommissioned ones are listed, flagged)."""
    return {s["address"]: s for s in api(g, "GET", "/api/v1/sensors").json() if not s.get("decommissioned")}


def both_online(a, b):
    def check():
        v = api(a, "GET", "/api/v1/plant").json()
        ids = {x["id"]: x["online"] for x in v["gateways"]}
        return ids.get(b.name) is True
    wait_for(check, what="%s sees %s online" % (a.name, b.name))


def finished(g, cid):
    def check():
        c = api(g, "GET", "/api/v1/plant/commands/" + cid).json()
        return c if c["state"] in ("applied", "failed") else None
    return wait_for(check, what="command %s answered" % cid)


def metric(g, name, labels):
    for line in requests.get(g.url("/metrics"), timeout=5).text.splitlines():
        if line.startswith(name + labels + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_sensor_is_commissioned_on_another_gateway_and_reassigned_between_them(tmp_path, pki, broker):
    a = gateway(tmp_path, "gw-a", pki, broker, KEY_AB)
    b = gateway(tmp_path, "gw-b", pki, broker, KEY_AB)
    a.name, b.name = "gw-a", "gw-b"
    sniffer = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", pki("ca.crt"), "--cert",
         pki("subscriber.crt"), "--key", pki("subscriber.key"), "-t", "vigil/plant/hall/gateways/+/cmd", "-v"],
        stdout=subprocess.PIPE, text=True)
    try:
        both_online(a, b)
        pos_b = position_on(b)
        assert api(a, "GET", "/api/v1/plant").json()["commands"] is True

        # Commission on gw-b from gw-a's dashboard.
        r = api(a, "POST", "/api/v1/plant/commands",
                {"gateway": "gw-b", "method": "POST", "path": "/api/v1/sensors",
                 "body": {"address": "A4:C1:38:00:29:01", "key": SENSOR_KEY, "position_id": pos_b}})
        assert r.status_code == 202, r.text
        c = finished(a, r.json()["id"])
        assert c["state"] == "applied" and c["status"] == 201, c
        s = sensors(b)["A4:C1:38:00:29:01"]
        assert s["position_id"] == pos_b
        assert "A4:C1:38:00:29:01" not in sensors(a)
        log_b = api(b, "GET", "/api/v1/audit").json()
        assert any(e["actor"].startswith("plant:gw-a:") for e in log_b), log_b[:5]
        log_a = api(a, "GET", "/api/v1/audit").json()
        assert any(e["action"] == "plant.cmd.sent" and e["target"] == "gateway/gw-b" for e in log_a), log_a[:5]

        # A refusal on the owner comes back as the owner's answer.
        r = api(a, "POST", "/api/v1/plant/commands",
                {"gateway": "gw-b", "path": "/api/v1/sensors",
                 "body": {"address": "not-a-mac", "position_id": pos_b}})
        c = finished(a, r.json()["id"])
        assert c["state"] == "failed" and c["status"] == 422 and "address" in json.dumps(c["result"])

        # Re-assign gw-a's own sensor to gw-b.
        sid = api(a, "POST", "/api/v1/sensors", {"address": "A4:C1:38:00:29:02", "key": SENSOR_KEY}).json()["id"]
        r = api(a, "POST", "/api/v1/sensors/%d/reassign" % sid, {"gateway": "gw-b", "position_id": pos_b})
        assert r.status_code == 202, r.text
        c = finished(a, r.json()["id"])
        assert c["state"] == "applied", c
        wait_for(lambda: "A4:C1:38:00:29:02" not in sensors(a), what="gw-a decommissioned the re-assigned sensor")
        assert sensors(b)["A4:C1:38:00:29:02"]["position_id"] == pos_b

        # The same, asked from gw-b's dashboard: a command to gw-a, which sends one to gw-b.
        sid = api(a, "POST", "/api/v1/sensors", {"address": "A4:C1:38:00:29:03", "key": SENSOR_KEY}).json()["id"]
        r = api(b, "POST", "/api/v1/plant/commands",
                {"gateway": "gw-a", "path": "/api/v1/sensors/%d/reassign" % sid,
                 "body": {"gateway": "gw-b", "position_id": pos_b}})
        assert r.status_code == 202, r.text
        c = finished(b, r.json()["id"])
        assert c["status"] == 202, c
        wait_for(lambda: "A4:C1:38:00:29:03" in sensors(b), what="gw-b commissioned the sensor gw-a re-assigned")
        wait_for(lambda: "A4:C1:38:00:29:03" not in sensors(a), what="gw-a let go of it")
    except AssertionError:
        print("--- gw-a log\n" + a.log_text()[-6000:] + "\n--- gw-b log\n" + b.log_text()[-6000:])
        raise
    finally:
        sniffer.terminate()
        seen, _ = sniffer.communicate(timeout=10)
        a.stop()
        b.stop()
    # Three commands carried the sensor key; none of them in the clear.
    assert seen.count("vigil/plant/hall/gateways/") >= 3
    assert SENSOR_KEY not in seen and "A4:C1:38:00:29" not in seen


def test_forged_and_off_route_commands_are_refused_and_nothing_is_applied(tmp_path, pki, broker):
    b = gateway(tmp_path, "gw-b", pki, broker, KEY_AB)
    x = gateway(tmp_path, "gw-x", pki, broker, KEY_X)   # in the plant, with another key
    n = gateway(tmp_path, "gw-n", pki, broker, None)    # in the plant, no key: commands off
    b.name, x.name = "gw-b", "gw-x"
    try:
        both_online(x, b)
        pos_b = position_on(b)
        r = api(x, "POST", "/api/v1/plant/commands",
                {"gateway": "gw-b", "path": "/api/v1/sensors",
                 "body": {"address": "A4:C1:38:00:39:01", "key": SENSOR_KEY, "position_id": pos_b}})
        assert r.status_code == 202, r.text
        wait_for(lambda: metric(b, "vigil_plant_commands_rejected_total", '{reason="bad_seal"}') >= 1,
                 what="gw-b counts the forged command")
        # Hand-made envelopes: garbage and a well-formed one with a made-up seal.
        topic = "vigil/plant/hall/gateways/gw-b/cmd"
        pub(pki, broker, topic, "{not json")
        pub(pki, broker, topic, json.dumps({"v": 1, "type": "vigil.plant.command", "plant_id": "hall", "from": "gw-a",
                                            "to": "gw-b", "id": "x-1", "ts_ms": int(time.time() * 1000),
                                            "sealed": "00" * 40}))
        wait_for(lambda: metric(b, "vigil_plant_commands_rejected_total", '{reason="bad_seal"}') >= 2
                 and metric(b, "vigil_plant_commands_rejected_total", '{reason="malformed"}') >= 1,
                 what="gw-b counts the hand-made ones")
        assert "A4:C1:38:00:39:01" not in sensors(b)
        assert api(x, "GET", "/api/v1/plant/commands").json()["commands"][0]["state"] == "pending"

        r = api(x, "POST", "/api/v1/plant/commands", {"gateway": "gw-b", "path": "/api/v1/tokens", "body": {}})
        assert r.status_code == 422 and "may not be called" in r.json()["detail"]
        r = api(x, "POST", "/api/v1/plant/commands", {"gateway": "gw-b", "path": "/api/v1/sensors", "extra": 1})
        assert r.status_code == 422
        r = api(n, "POST", "/api/v1/plant/commands", {"gateway": "gw-b", "path": "/api/v1/sensors", "body": {}})
        assert r.status_code == 409 and "plant_commands_off" in r.text, r.text
        assert api(n, "GET", "/api/v1/plant").json()["commands"] is False
    except AssertionError:
        print("--- gw-x log\n" + x.log_text()[-6000:] + "\n--- gw-b log\n" + b.log_text()[-6000:])
        print(requests.get(b.url("/metrics"), timeout=5).text[-3000:])
        raise
    finally:
        for g in (b, x, n):
            g.stop()
