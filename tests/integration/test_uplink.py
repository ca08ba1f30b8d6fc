# SPDX-License-Identifier: Apache-2.0
"""Uplink against a real mosquitto with TLS and client certificates.

Generates a CA, a server and two client certificates (and a rogue CA with a
client certificate it signed) with openssl in a temp dir, starts mosquitto on
a free port (require_certificate, use_identity_as_username, persistence) and
subscribes with mosquitto_sub (persistent session, QoS 1) to vigil's topics.

  delivery           `vigil demo` with the uplink on: heartbeat and hourly
                     summaries (simulated time) arrive with the documented
                     envelope; /api/v1/health shows the uplink connected.
  wrong CA / cert    a clear last_error in /api/v1/health, the process stays
                     up and retries with back-off.
  broker outage      the broker is stopped for a while and restarted: every
                     message arrives, in order, exactly once after de-dup.
  kill -9            a process holding a backlog is killed; a new one
                     delivers the backlog.
  commands           ack/threshold/summary on <prefix>/cmd/…, a wrong one is
                     rejected and counted.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import Gateway, free_port, get_json, tool

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                                reason="mosquitto not installed")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def sh(*args, cwd=None):
    subprocess.run(list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=%s" % name,
       "-keyout", "%s.key" % name, "-out", "%s.crt" % name, cwd=d)


def make_cert(d, name, ca, server=False):
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
       "-keyout", "%s.key" % name, "-out", "%s.csr" % name, cwd=d)
    ext = os.path.join(d, "%s.ext" % name)
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    sh("openssl", "x509", "-req", "-in", "%s.csr" % name, "-CA", "%s.crt" % ca, "-CAkey", "%s.key" % ca,
       "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", "%s.crt" % name, cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    make_ca(d, "ca")
    make_ca(d, "rogue-ca")
    make_cert(d, "server", "ca", server=True)
    make_cert(d, "gw-test", "ca")
    make_cert(d, "subscriber", "ca")
    make_cert(d, "rogue-client", "rogue-ca")
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return lambda n: os.path.join(d, n)


class Broker:
    def __init__(self, pki, d):
        self.pki = pki
        self.port = free_port()
        self.dir = str(d)
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "user root" if os.geteuid() == 0 else "",
                "per_listener_settings false",
                "persistence true",
                "persistence_location %s/" % self.dir,
                "autosave_interval 1",
                "max_queued_messages 100000",
                "max_inflight_messages 100",
                "log_dest file %s/broker.log" % self.dir,
                "listener %d 127.0.0.1" % self.port,
                "cafile %s" % pki("ca.crt"),
                "certfile %s" % pki("server.crt"),
                "keyfile %s" % pki("server.key"),
                "require_certificate true",
                "use_identity_as_username true",
                "allow_anonymous false",
                "tls_version tlsv1.2",
                "",
            ]))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError("mosquitto exited: %s" % self.proc.stderr.read())
                time.sleep(0.05)
        raise AssertionError("mosquitto did not listen on %d" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Subscriber:
    """mosquitto_sub with a persistent session: keeps receiving across broker restarts."""

    def __init__(self, pki, broker, topic, d):
        self.out = os.path.join(str(d), "sub-%d.out" % free_port())
        self.args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", pki("ca.crt"),
                     "--cert", pki("subscriber.crt"), "--key", pki("subscriber.key"), "-q", "1", "-c",
                     "-i", "sub-%d" % broker.port, "-t", topic, "-v"]
        self.proc = None

    def start(self):
        self.f = open(self.out, "a")
        self.proc = subprocess.Popen(self.args, stdout=self.f, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # subscribed

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self.f.close()

    def messages(self):
        out = []
        with open(self.out) as f:
            for line in f:
                topic, _, payload = line.rstrip("\n").partition(" ")
                try:
                    out.append((topic, json.loads(payload)))
                except ValueError:
                    pass
        return out

    def wait_for(self, pred, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.messages()
            if pred(m):
                return m
            time.sleep(0.2)
        return self.messages()


def dedup(msgs):
    seen, out = set(), []
    for topic, m in msgs:
        if m["id"] not in seen:
            seen.add(m["id"])
            out.append((topic, m))
    return out


@pytest.fixture
def broker(pki, tmp_path):
    b = Broker(pki, tmp_path)
    b.start()
    yield b
    b.stop()


def uplink_cfg(pki, broker, **kw):
    c = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "ca_file": pki("ca.crt"),
         "cert_file": pki("gw-test.crt"), "key_file": pki("gw-test.key")}
    c.update(kw)
    return c


def health(g):
    return get_json(g.url("/api/v1/health"))[1]


def test_demo_delivers_heartbeat_and_summaries_over_mutual_tls(pki, broker, tmp_path):
    sub = Subscriber(pki, broker, "vigil/#", tmp_path)
    sub.start()
    g = Gateway(tmp_path, mode="demo", extra={"uplink": uplink_cfg(pki, broker), "demo": {"time_factor": 1200}})
    try:
        g.start()
        # Hourly summaries on the simulated clock: one round every 3 s of wall time at 1200x.
        msgs = sub.wait_for(lambda m: sum(1 for t, j in m if j["type"] == "summary") >= 12, timeout=40)
        types = {j["type"] for _, j in msgs}
        assert "heartbeat" in types and "summary" in types, types
        for topic, j in msgs:
            assert topic == "vigil/vigil-demo/" + j["type"]
            assert j["schema"] == "vigil.uplink/1" and j["gateway_id"] == "vigil-demo"
            assert len(j["id"]) == 36
        s = [j for _, j in msgs if j["type"] == "summary"][0]["data"]
        assert s["position_id"] > 0 and s["state"] in ("unknown", "initializing", "healthy", "warning", "alarm",
                                                       "not_running")
        assert "velocity_rms_mm_s" in s["features"], s
        f = s["features"]["velocity_rms_mm_s"]
        assert f["min"] <= f["mean"] <= f["max"] and f["count"] >= 1
        assert s["sensor"]["status"] == "ok"
        seqs = [j["seq"] for _, j in dedup(msgs)]
        assert seqs == sorted(seqs)
        h = health(g)["components"]["uplink"]
        assert h["connected"] is True and h["last_delivery"] is not None, h
        assert h["last_error"] is None, h
    finally:
        g.stop()
        sub.stop()


@pytest.mark.parametrize("which", ["wrong_ca", "wrong_client_cert"])
def test_wrong_ca_or_certificate_is_a_clear_status_not_a_crash_loop(pki, broker, tmp_path, which):
    if which == "wrong_ca":
        cfg = uplink_cfg(pki, broker, ca_file=pki("rogue-ca.crt"))
    else:
        cfg = uplink_cfg(pki, broker, cert_file=pki("rogue-client.crt"), key_file=pki("rogue-client.key"))
    g = Gateway(tmp_path, extra={"uplink": cfg, "gateway": {"id": "gw-test"}})
    try:
        g.start()
        deadline = time.time() + 15
        h = None
        while time.time() < deadline:
            h = health(g)["components"]["uplink"]
            if h["last_error"] and h["connection_failures"] >= 2:
                break
            time.sleep(0.2)
        assert h["connected"] is False, h
        err = h["last_error"] or ""
        if which == "wrong_ca":
            assert "certificate verify failed" in err, err
        else:
            assert "tls" in err or "alert" in err or "connection" in err, err
        assert g.proc.poll() is None  # still serving
        assert health(g)["status"] == "ok"
        # Back-off: 1 s, 2 s, 4 s … → only a handful of attempts in ~10 s.
        assert h["connection_failures"] <= 6, h
    finally:
        g.stop()


def pump(pki, broker, db, count=0, rate=0, drained=False, timeout=60):
    args = [tool("uplink_pump"), "--db", db, "--host", "127.0.0.1", "--port", str(broker.port),
            "--ca", pki("ca.crt"), "--cert", pki("gw-test.crt"), "--key", pki("gw-test.key"),
            "--gateway-id", "gw-test", "--count", str(count), "--rate", str(rate), "--timeout-s", str(timeout)]
    if drained:
        args.append("--exit-when-drained")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def alerts_n(msgs):
    return [j["data"]["n"] for _, j in dedup(msgs) if j["type"] == "alert"]


def test_broker_outage_every_queued_message_arrives_in_order_exactly_once(pki, broker, tmp_path):
    sub = Subscriber(pki, broker, "vigil/gw-test/alert", tmp_path)
    sub.start()
    n = 400
    p = pump(pki, broker, str(tmp_path / "pump.db"), count=n, rate=40, drained=True, timeout=90)
    try:
        sub.wait_for(lambda m: len(m) >= 40, timeout=20)
        broker.stop()  # ~ message 40..80 of 400
        time.sleep(4)
        broker.start()
        msgs = sub.wait_for(lambda m: len(set(alerts_n(m))) >= n, timeout=60)
        got = alerts_n(msgs)
        assert got == list(range(n)), "missing %s" % sorted(set(range(n)) - set(got))[:20]
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
        sub.stop()


def test_kill_9_with_a_backlog_is_delivered_after_restart(pki, broker, tmp_path):
    db = str(tmp_path / "pump.db")
    sub = Subscriber(pki, broker, "vigil/gw-test/alert", tmp_path)
    sub.start()
    broker.stop()
    n = 200
    p = pump(pki, broker, db, count=n)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stdout.readline()
        if line.startswith("queued"):
            break
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    broker.start()
    p = pump(pki, broker, db, count=0, drained=True)
    try:
        assert p.wait(timeout=60) == 0
        msgs = sub.wait_for(lambda m: len(set(alerts_n(m))) >= n, timeout=30)
        assert alerts_n(msgs) == list(range(n))
    finally:
        if p.poll() is None:
            p.kill()
        sub.stop()


def publish(pki, broker, topic, payload):
    sh("mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", pki("ca.crt"),
       "--cert", pki("subscriber.crt"), "--key", pki("subscriber.key"), "-q", "1", "-t", topic, "-m", payload)


def test_commands_down_are_validated_audited_and_answered(pki, broker, tmp_path):
    sub = Subscriber(pki, broker, "vigil/gw-test/reply", tmp_path)
    sub.start()
    g = Gateway(tmp_path, extra={"uplink": uplink_cfg(pki, broker), "gateway": {"id": "gw-test"}})
    try:
        g.start()
        deadline = time.time() + 10
        while time.time() < deadline and not health(g)["components"]["uplink"]["connected"]:
            time.sleep(0.1)
        time.sleep(0.5)
        publish(pki, broker, "vigil/gw-test/cmd/threshold",
                '{"id":"t-1","machine_class":"iso10816_class2","ab":1.5,"bc":3.0,"cd":5.0,"actor":"ops"}')
        publish(pki, broker, "vigil/gw-test/cmd/summary", '{"id":"s-1"}')
        publish(pki, broker, "vigil/gw-test/cmd/reboot", '{"id":"r-1"}')
        publish(pki, broker, "vigil/gw-test/cmd/ack", '{"id":"a-1","alert_id":"x"}')
        msgs = sub.wait_for(lambda m: len(m) >= 4, timeout=15)
        replies = {j["data"]["command_id"]: j["data"] for _, j in msgs}
        assert replies["t-1"]["ok"] is True, replies
        assert replies["s-1"]["ok"] is True, replies
        assert replies["r-1"]["ok"] is False and "unknown command" in replies["r-1"]["error"]
        assert replies["a-1"]["ok"] is False
        h = health(g)["components"]["uplink"]
        assert h["commands"]["accepted"] == 2 and h["commands"]["rejected"] == 2, h
    finally:
        g.stop()
        sub.stop()


def test_self_monitoring_alerts_reach_the_uplink_as_opened(pki, broker, tmp_path):
    # Gateway conditions go through the one alert service, so the uplink
    # publishes them like any alert (a disk "nearly full" by configuration).
    sub = Subscriber(pki, broker, "vigil/#", tmp_path)
    sub.start()
    g = Gateway(tmp_path, extra={"uplink": uplink_cfg(pki, broker),
                                 "monitoring": {"disk_free_warning_pct": 100, "disk_free_alarm_pct": 0,
                                                "interval_s": 1}})
    try:
        g.start()
        msgs = sub.wait_for(lambda m: any(j["type"] == "alert" for _, j in m), timeout=30)
        alerts = [j["data"] for _, j in msgs if j["type"] == "alert"]
        assert alerts, [j["type"] for _, j in msgs]
        a = alerts[0]
        assert a.get("model") == "gateway" and a.get("event") == "opened", a
        assert "disk" in a.get("title", "").lower(), a
    finally:
        g.stop()
        sub.stop()
