# SPDX-License-Identifier: Apache-2.0
"""Alerts that reach people, end to end with real components: BTHome frames
through the BlueZ stand-in (python-dbusmock on a private bus), the real
`vigil serve`, rules from the REST API, an SMTP relay (aiosmtpd) that demands
STARTTLS and a login, and a webhook receiver (http.server).

- cold chain: a freezer above −18 °C for a few seconds fires its rule after
  the duration and not before; the email (STARTTLS, login) and the signed
  webhook arrive with the asset, state and an acknowledge link; the link
  acknowledges once, audited, and refuses a second use;
- a receiver down while the gateway is killed with -9: every notification
  arrives after it returns, in order, exactly once;
- self-monitoring alerts reach the live stream and the notifications;
- malformed rules and channels are refused naming the field.
"""
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from bluez_mock import BluezMock
from conftest import VIGIL, Gateway
from notify_util import SmtpServer, WebhookReceiver, make_tls_cert

pytest.importorskip("aiosmtpd", reason="python3-aiosmtpd (packaging/install-deps.sh --test)")

FREEZER = "A4:C1:38:00:00:07"
DOOR_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
SECRET = "webhook-s3cret"


def bthome(packet, temp_c=None, door=None):
    """A plain (unencrypted) BTHome v2 service-data frame."""
    b = bytearray([0x40, 0x00, packet & 0xFF])
    if temp_c is not None:
        b += bytes([0x02]) + int(round(temp_c * 100)).to_bytes(2, "little", signed=True)
    if door is not None:
        b += bytes([0x1A, 1 if door else 0])
    return bytes(b)


def cli(*args):
    r = subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


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
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %s)" % (what, last))


@pytest.fixture
def tls(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    return make_tls_cert(str(d))


@pytest.fixture
def smtp(tls):
    ca, cert, key = tls
    s = SmtpServer(cert, key).start()
    yield s
    s.stop()


@pytest.fixture
def hook():
    w = WebhookReceiver().start()
    yield w
    w.stop()


@pytest.fixture
def bluez(tmp_path, monkeypatch):
    m = BluezMock(tmp_path)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", m.start_bus())
    m.start_bluez()
    m.add_adapter()
    yield m
    m.stop()


def make_gateway(tmp_path, tls, smtp, ble=True, monitoring=None):
    ca, _, _ = tls
    pw = tmp_path / "smtp.pass"
    pw.write_text("relay-pass\n")
    extra = {"notifications": {"smtp": {"host": "127.0.0.1", "port": smtp.port, "starttls": "required",
                                       "username": "vigil", "password_file": str(pw), "from": "vigil@plant.test",
                                       "ca_file": ca},
                               "email_to": ["ops@plant.test"]}}
    if ble:
        extra["ble"] = {"enabled": True, "discovery_silence_restart_s": 30}
    if monitoring:
        extra["monitoring"] = monitoring
    g = Gateway(tmp_path, extra=extra)
    # The public URL is the gateway's own address here (a phone would use the plant name).
    with open(g.config) as f:
        cfg = json.loads(f.read().split("\n", 1)[1])
    cfg["notifications"]["public_url"] = "http://127.0.0.1:%d" % g.port
    with open(g.config, "w") as f:
        f.write("// test configuration\n" + json.dumps(cfg, indent=2))
    g.admin_token = cli("token", "create", "--role", "admin", "--config", g.config)
    g.h = {"Authorization": "Bearer " + g.admin_token}
    return g


def api(g, method, path, body=None, ok=(200, 201, 202, 204)):
    r = requests.request(method, g.url(path), json=body, headers=g.h, timeout=10)
    assert r.status_code in ok, "%s %s → %d %s" % (method, path, r.status_code, r.text)
    return r.json() if r.text else None


def freezer_plant(g):
    site = api(g, "POST", "/api/v1/sites", {"name": "Depot North"})["id"]
    asset = api(g, "POST", "/api/v1/assets", {"site_id": site, "name": "Truck 7 freezer"})["id"]
    pos = api(g, "POST", "/api/v1/positions", {"asset_id": asset, "name": "cargo box", "type": "other"})["id"]
    api(g, "POST", "/api/v1/sensors", {"address": FREEZER, "position_id": pos, "format": "bthome"})
    wait_for(lambda: api(g, "GET", "/api/v1/ble/health")["commissioned"] == 1, what="sensor picked up by the scanner")
    return site, asset, pos


def alerts_of(g, model="rule"):
    return [a for a in api(g, "GET", "/api/v1/alerts?limit=100") if a["model"] == model]


def test_cold_chain_rule_fires_after_its_duration_and_email_webhook_and_ack_link_close_the_loop(
        tmp_path, tls, smtp, hook, bluez):
    g = make_gateway(tmp_path, tls, smtp)
    g.start()
    try:
        wait_for(lambda: requests.get(g.url("/api/v1/health"), timeout=5).json()["components"]["ble"]["status"]
                 == "scanning", what="ble scanning")
        site, asset, pos = freezer_plant(g)
        bluez.add_device(FREEZER, "ATC_freezer")
        packet = [0]

        def send(temp, door=False):
            packet[0] += 1
            bluez.set_service_data(FREEZER, {DOOR_UUID: bthome(packet[0], temp, door)})

        def arrived():
            send(-21.0)
            return any(s["address"] == FREEZER and "temperature_c" in s["latest"]
                       for s in api(g, "GET", "/api/v1/sensors"))
        wait_for(arrived, what="freezer readings")

        # Routes: the webhook (signed, with a custom header) and the config's email list (channel 0).
        ch = api(g, "POST", "/api/v1/notifications/channels",
                 {"name": "Dispatch Teams", "type": "webhook",
                  "webhook": {"url": hook.url, "secret": SECRET, "headers": {"X-Token": "t0k3n"},
                              "body_template": '{"text": "{{alert.title}} ({{alert.severity}}) at {{alert.asset}}",'
                                               ' "ack": "{{ack_link}}", "event": "{{event}}"}'}})
        assert ch["webhook"]["secret_set"] is True and SECRET not in json.dumps(ch)
        assert "t0k3n" not in json.dumps(api(g, "GET", "/api/v1/notifications/channels"))
        api(g, "POST", "/api/v1/notifications/routes",
            {"name": "cold chain", "severities": ["warning", "alarm"], "channels": [0, ch["id"]]})

        rule = api(g, "POST", "/api/v1/rules",
                   {"name": "Freezer too warm", "severity": "alarm", "scope": {"asset_id": asset},
                    "conditions": [{"metric": "temperature_c", "op": "above", "value": -18, "hysteresis": 0.5,
                                    "for_s": 4}],
                    "message": "Check the door seal and the compressor."})

        # Warm, and kept warm: the rule must wait its 4 s.
        warm_since = time.time()
        stop = threading.Event()

        def keep_warm():
            while not stop.is_set():
                send(-12.5)
                stop.wait(0.5)
        t = threading.Thread(target=keep_warm)
        t.start()
        try:
            time.sleep(2.5)
            assert alerts_of(g) == [], "the rule fired before its duration"
            alert = wait_for(lambda: alerts_of(g), timeout=20, what="the rule's alert")[0]
        finally:
            stop.set()
            t.join()
        fired_after = time.time() - warm_since
        assert fired_after >= 3.5, fired_after
        assert alert["severity"] == "alarm" and alert["asset_id"] == asset
        assert "Freezer too warm" in alert["title"]

        # The email: through STARTTLS with the login, naming asset and state, with both links.
        mails = smtp.wait(1)
        sender, rcpts, msg, _, _ = mails[0]
        assert rcpts == ["ops@plant.test"] and sender == "vigil@plant.test"
        text = msg.get_body(preferencelist=("plain",)).get_content()
        assert "Truck 7 freezer" in text and "alarm" in (msg["Subject"] + text).lower()
        links = re.findall(r"http://127\.0\.0\.1:%d/ack/[A-Za-z0-9_\-\.]+" % g.port, text)
        assert links, text
        assert ("/#/asset/%d" % asset) in text

        # The webhook: templated body, custom header, HMAC-SHA256 over the exact body.
        calls = hook.wait(1)
        path, headers, body, _ = calls[0]
        assert headers["x-token"] == "t0k3n"
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-vigil-signature"] == want
        j = json.loads(body)
        assert j["event"] == "opened" and "Truck 7 freezer" in j["text"] and "/ack/" in j["ack"]

        # The delivery log shows both as sent.
        log = api(g, "GET", "/api/v1/notifications/deliveries?alert_id=%d" % alert["id"])
        assert sorted(d["channel_id"] for d in log if d["status"] == "sent") == sorted([0, ch["id"]])

        # One click from the phone: GET shows a button (prefetching scanners do not acknowledge)...
        link = links[0]
        r = requests.get(link, timeout=5)
        assert r.status_code == 200 and "<form" in r.text and "Freezer too warm" in r.text
        assert api(g, "GET", "/api/v1/alerts/%d" % alert["id"])["status"] == "open"
        # ...POST acknowledges, audited with the recipient...
        r = requests.post(link, timeout=5)
        assert r.status_code == 200 and "Acknowledged" in r.text
        assert api(g, "GET", "/api/v1/alerts/%d" % alert["id"])["status"] == "acknowledged"
        events = api(g, "GET", "/api/v1/alerts/%d/events" % alert["id"])
        assert [e["event"] for e in events] == ["opened", "acknowledged"]
        assert events[1]["actor"] == "link:ops@plant.test"
        # ...and the link is single use; a tampered one is refused.
        assert requests.post(link, timeout=5).status_code in (200, 410)
        assert requests.post(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"), timeout=5).status_code == 404

        # No second notification while the condition simply continues.
        time.sleep(1.5)
        assert len(smtp.messages) == 1 and len(hook.calls) == 1
        assert rule["id"] > 0
    finally:
        g.stop()


def test_a_receiver_down_and_a_kill_9_lose_nothing_and_repeat_nothing(tmp_path, tls, smtp, hook, bluez):
    g = make_gateway(tmp_path, tls, smtp)
    g.start()
    hook.down = True
    try:
        wait_for(lambda: requests.get(g.url("/api/v1/health"), timeout=5).json()["components"]["ble"]["status"]
                 == "scanning", what="ble scanning")
        site, asset, pos = freezer_plant(g)
        bluez.add_device(FREEZER, "ATC_freezer")
        ch = api(g, "POST", "/api/v1/notifications/channels",
                 {"name": "CMMS", "type": "webhook", "webhook": {"url": hook.url}})
        api(g, "POST", "/api/v1/notifications/routes", {"name": "all", "channels": [ch["id"]]})
        # Three rules, three thresholds: a rising temperature opens three alerts in order.
        for n, limit in enumerate((-15, -10, -5)):
            api(g, "POST", "/api/v1/rules",
                {"name": "Freezer above %d" % limit, "severity": "warning", "scope": {"asset_id": asset},
                 "conditions": [{"metric": "temperature_c", "op": "above", "value": limit}]})
        for i, temp in enumerate((-20, -13, -8, -2)):
            bluez.set_service_data(FREEZER, {DOOR_UUID: bthome(i + 1, temp)})
            if i:
                wait_for(lambda: len(alerts_of(g)) == i, what="alert %d" % i)
        opened = sorted(alerts_of(g), key=lambda a: a["id"])
        assert len(opened) == 3
        wait_for(lambda: hook.attempts >= 1, what="a first (failing) delivery attempt")
        failing = api(g, "GET", "/api/v1/notifications/deliveries")
        assert any(d["status"] == "retrying" and d["last_error"] for d in failing), failing

        g.stop(sig=signal.SIGKILL)
        hook.down = False
        g.start()
        calls = hook.wait(3, timeout=90)
        time.sleep(2)  # nothing more arrives
        bodies = hook.bodies()
        assert len(bodies) == 3, bodies
        ids = [b["alert"]["id"] for b in bodies]
        assert ids == [a["id"] for a in opened], "order"
        log = api(g, "GET", "/api/v1/notifications/deliveries?channel_id=%d" % ch["id"])
        assert sorted(d["status"] for d in log) == ["sent"] * 3
        # The first was tried before the kill and again after; the others waited behind it (order per channel).
        oldest = min(log, key=lambda d: d["id"])
        assert oldest["attempts"] >= 2 and all(d["attempts"] >= 1 for d in log), log
        assert len(calls) == 3
    finally:
        g.stop()


def test_self_monitoring_alerts_reach_the_live_stream_and_email(tmp_path, tls, smtp):
    # A disk "nearly full" by configuration: every disk has less than 100 % free.
    g = make_gateway(tmp_path, tls, smtp, ble=False,
                     monitoring={"disk_free_warning_pct": 100, "disk_free_alarm_pct": 0, "interval_s": 1})
    g.start()
    try:
        seen = []

        def listen():
            with requests.get(g.url("/api/v1/events"), headers=g.h, stream=True, timeout=30) as r:
                for line in r.iter_lines(decode_unicode=True):
                    if line and line.startswith("data:") and '"gateway"' in line:
                        seen.append(json.loads(line[5:]))
                        return
        t = threading.Thread(target=listen, daemon=True)
        t.start()
        alert = wait_for(lambda: alerts_of(g, "gateway"), what="disk alert")[0]
        assert "disk" in alert["title"].lower() and alert["severity"] == "warning"
        mails = smtp.wait(1)
        assert "disk" in mails[0][2]["Subject"].lower()
        t.join(timeout=15)
        assert seen and seen[0].get("model") == "gateway"
    finally:
        g.stop()


def test_malformed_rules_and_channels_are_refused_naming_the_field(tmp_path, tls, smtp):
    g = make_gateway(tmp_path, tls, smtp, ble=False)
    g.start()
    try:
        bad = [
            ({"name": "x", "conditions": [{"metric": "no_such_metric", "op": "above", "value": 1}]}, "conditions[0].metric"),
            ({"name": "x", "conditions": [{"metric": "temperature_c", "op": "above", "value": 1, "for_s": -5}]},
             "conditions[0].for_s"),
            ({"name": "x", "conditions": [{"metric": "temperature_c", "op": "above", "value": 5},
                                          {"metric": "temperature_c", "op": "below", "value": 3}]}, "conditions"),
        ]
        for body, field in bad:
            r = requests.post(g.url("/api/v1/rules"), json=body, headers=g.h, timeout=5)
            assert r.status_code == 422, r.text
            assert r.json().get("field", "").startswith(field), r.json()
        for url in ("ftp://example.com/x", "http://127.0.0.1:%d/api/v1/alerts" % g.port):
            r = requests.post(g.url("/api/v1/notifications/channels"), headers=g.h, timeout=5,
                              json={"name": "w", "type": "webhook", "webhook": {"url": url}})
            assert r.status_code == 422, r.text
            assert r.json().get("field", "").startswith("webhook.url"), r.json()
        # A viewer reads rules but cannot write them.
        viewer = {"Authorization": "Bearer " + requests.post(g.url("/api/v1/tokens"), json={"role": "viewer"},
                                                             headers=g.h, timeout=5).json()["token"]}
        assert requests.get(g.url("/api/v1/rules"), headers=viewer, timeout=5).status_code == 200
        assert requests.post(g.url("/api/v1/rules"), headers=viewer, timeout=5,
                             json={"name": "x", "conditions": []}).status_code == 403
    finally:
        g.stop()
