#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Plant relay benchmark (issue 19): N simulated gateways x M relayed sensors at
1 advert/s on one mosquitto.

Each gateway is a `vigil serve` with ble.enabled false, subscribed to its own
relay topics (bench/<gw>/+/BTtoMQTT/#), with its M sensors commissioned (keys)
through the bulk import (POST /api/v1/sensors/import, the CSV of
`vigil sensor import`). A publisher (a raw MQTT 3.1.1 client over a socket: no
paho here) plays two relays per gateway: every advert — an encrypted BTHome
frame, Theengs JSON with the relay's "time" — is published by BOTH relays, so
each gateway decodes one and must refuse the other as a duplicate.

Measured, per gateway and in all:
  - exactly once: after the run each gateway's temperature_c points
    (`vigil export --metric temperature_c`) are compared with the adverts sent:
    every (sensor, advert) stored once, nothing missing, nothing twice;
  - relay latency (relay "time" -> ingest): p50/p99 from the cumulative
    histogram vigil_ble_relay_latency_seconds_bucket (linear within a bucket),
    and the largest vigil_ble_relay_latency_p99_seconds seen (last 1,024);
  - frames lost (vigil_ble_frames_lost_total{via="relay"}) and duplicates;
  - CPU seconds of each gateway, the broker and the publisher over the
    publishing window (/proc/<pid>/stat utime+stime);
  - the broker's messages received/sent per second ($SYS/broker/messages/*)
    next to a same-run reference on the same listener with no gateways
    attached: `mosquitto_pub -l` pushing the same payloads to one
    `mosquitto_sub`, and the raw publisher flat out to the same subscriber.

Run (not from CI: it is a benchmark):
  /usr/bin/python3 tests/bench/plant_relay.py [--gateways 10]
      [--sensors-per-gateway 1000] [--seconds 30] [--vigil build/vigil]
  VIGIL_BENCH_QUICK=1 /usr/bin/python3 tests/bench/plant_relay.py   # 3 x 200 x 10 s
Exit code 0 when every gateway stored every advert exactly once, else 1.
"""
import argparse
import csv
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import requests
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TICKS = sys.platform.startswith("linux") and os.sysconf("SC_CLK_TCK") or 100
SLICES_PER_S = 20  # adverts of a second are spread over 50 ms slices


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# ---- a raw MQTT 3.1.1 publisher (QoS 0) ----

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def mqtt_connect(port, client_id):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = mqtt_str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0) + mqtt_str(client_id)
    s.sendall(bytes([0x10]) + varint(len(body)) + body)
    ack = s.recv(4)
    if len(ack) < 4 or ack[0] != 0x20 or ack[3] != 0:
        raise RuntimeError("CONNACK refused: %r" % ack)
    return s


def mqtt_publish(topic, payload):
    body = mqtt_str(topic) + payload
    return bytes([0x30]) + varint(len(body)) + body


# ---- sensors and adverts ----

def mac_of(g, i):
    return "B0:%02X:%02X:%02X:%02X:%02X" % (g, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x42)


def key_of(g, i):
    return ("%02x%06x" % (g, i)) * 4


def temp_of(counter):
    return (counter % 30000) / 100.0  # the advert's counter, readable back from the stored value


def sealed_hex(aead, mac_bytes, counter):
    """Encrypted BTHome v2 service data (after the UUID), hex: temperature = counter / 100."""
    info = 0x41
    objects = bytes([0x02]) + int(round(temp_of(counter) * 100)).to_bytes(2, "little", signed=True)
    nonce = mac_bytes + b"\xd2\xfc" + bytes([info]) + struct.pack("<I", counter)
    sealed = aead.encrypt(nonce, objects, None)
    return (bytes([info]) + sealed[:-4] + struct.pack("<I", counter) + sealed[-4:]).hex()


# ---- processes ----

def sh(*args, cwd=None):
    subprocess.run(list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """A CA, the broker's server certificate and one client certificate the
    gateways share (vigil's uplink is TLS with a client certificate)."""
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench-ca",
       "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    for name, ext in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("gateway", "extendedKeyUsage=clientAuth\n")):
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", name + ".key",
           "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
           "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt", cwd=d)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return lambda n: os.path.join(d, n)


class Broker:
    """One mosquitto, two listeners: TLS with client certificates for the
    gateways' uplinks, plain TCP for the relays (and the reference)."""

    def __init__(self, d):
        self.port = free_port()      # plain: relays, reference, $SYS
        self.tls_port = free_port()  # gateways
        pki_dir = os.path.join(d, "pki")
        os.makedirs(pki_dir)
        self.pki = make_pki(pki_dir)
        self.conf = os.path.join(d, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "user root" if os.geteuid() == 0 else "",
                "per_listener_settings true",
                "persistence false",
                "sys_interval 1",
                "max_queued_messages 1000000",
                "max_inflight_messages 0",
                "log_type error",
                "log_dest stderr",
                "listener %d 127.0.0.1" % self.port,
                "allow_anonymous true",
                "listener %d 127.0.0.1" % self.tls_port,
                "cafile %s" % self.pki("ca.crt"),
                "certfile %s" % self.pki("server.crt"),
                "keyfile %s" % self.pki("server.key"),
                "require_certificate true",
                "use_identity_as_username true",
                "allow_anonymous false",
                "tls_version tlsv1.2",
                ""]))
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", self.conf], stderr=open(os.path.join(d, "mosquitto.log"), "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited; see %s/mosquitto.log" % d)
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def sys_value(self, topic):
        r = subprocess.run(["mosquitto_sub", "-p", str(self.port), "-t", topic, "-C", "1", "-W", "5"],
                           capture_output=True, text=True, timeout=10)
        return int(r.stdout.strip() or 0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Gw:
    def __init__(self, vigil, d, idx, broker, sensors):
        self.idx, self.id, self.vigil = idx, "gw-%02d" % idx, vigil
        self.dir = os.path.join(d, self.id)
        os.makedirs(self.dir)
        self.port = free_port()
        self.sensors = sensors
        cfg = {"gateway": {"id": self.id, "name": "bench " + self.id},
               "storage": {"path": os.path.join(self.dir, "vigil.db")},
               "http": {"address": "127.0.0.1", "port": self.port, "tls": False},
               "ble": {"enabled": False, "relay_topics": ["bench/%s/+/BTtoMQTT/#" % self.id],
                       "relay_rate_per_s": 100000},
               "uplink": {"enabled": True, "host": "127.0.0.1", "port": broker.tls_port, "keepalive_s": 30,
                          "ca_file": broker.pki("ca.crt"), "cert_file": broker.pki("gateway.crt"),
                          "key_file": broker.pki("gateway.key"), "client_id": self.id},
               "plant": {"id": "bench", "state_interval_s": 60}}
        self.config = os.path.join(self.dir, "vigil.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=2)
        r = subprocess.run([vigil, "token", "create", "--role", "admin", "--config", self.config],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("token create: " + r.stderr)
        self.h = {"Authorization": "Bearer " + r.stdout.strip()}
        self.log = open(os.path.join(self.dir, "vigil.log"), "w")
        self.proc = None

    def url(self, p):
        return "http://127.0.0.1:%d%s" % (self.port, p)

    def start(self):
        self.proc = subprocess.Popen([self.vigil, "serve", "--config", self.config], stdout=self.log,
                                     stderr=self.log)

    def wait_healthy(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%d); see %s" % (self.id, self.proc.returncode, self.log.name))
            try:
                if requests.get(self.url("/api/v1/health"), timeout=2).status_code in (200, 503):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(self.id + " not healthy")

    def commission(self):
        post = lambda p, j: requests.post(self.url(p), json=j, headers=self.h, timeout=30).json()["id"]  # noqa: E731
        site = post("/api/v1/sites", {"name": "hall " + self.id})
        asset = post("/api/v1/assets", {"site_id": site, "name": "line"})
        # One position per sensor, created through REST (no bulk catalog import yet).
        rows = ["address,key,position"]
        for i, (mac, key) in enumerate(self.sensors):
            pos = post("/api/v1/positions", {"asset_id": asset, "name": "p%04d" % i, "type": "other"})
            rows.append("%s,%s,%d" % (mac, key, pos))
        r = requests.post(self.url("/api/v1/sensors/import"), data="\n".join(rows) + "\n",
                          headers=dict(self.h, **{"Content-Type": "text/csv"}), timeout=120)
        if r.status_code not in (200, 201):
            raise RuntimeError("%s import: %d %s" % (self.id, r.status_code, r.text[:500]))

    def ready(self):
        ble = requests.get(self.url("/api/v1/ble/health"), headers=self.h, timeout=5).json()
        up = requests.get(self.url("/api/v1/health"), timeout=5).json()["components"]["uplink"]["connected"]
        return ble.get("commissioned") == len(self.sensors) and up

    def metrics(self):
        out = {}
        for line in requests.get(self.url("/metrics"), timeout=10).text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stored(self):
        """(sensor address, temperature) of every stored temperature_c point."""
        r = subprocess.run([self.vigil, "export", "--config", self.config, "--out", "-", "--metric", "temperature_c",
                            "--format", "csv"], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("%s export: %s" % (self.id, r.stderr[:500]))
        return [(row["sensor"], float(row["value"])) for row in csv.DictReader(io.StringIO(r.stdout))]


def hist_quantile(m, q, since=None):
    """Quantile from the cumulative latency buckets (of the samples after
    `since`, an earlier scrape, when given), linear within a bucket (s)."""
    bounds = []
    for k, v in m.items():
        if k.startswith('vigil_ble_relay_latency_seconds_bucket{le="'):
            le = k.split('"')[1]
            bounds.append((float("inf") if le == "+Inf" else float(le), v - (since or {}).get(k, 0)))
    bounds.sort()
    total = bounds[-1][1] if bounds else 0
    if not total:
        return None
    want, lo, below = q * total, 0.0, 0.0
    for le, n in bounds:
        if n >= want:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * ((want - below) / max(n - below, 1e-9))
        lo, below = le, n
    return lo


# ---- the runs ----

def reference(broker, payloads, topic="ref/relay/BTtoMQTT"):
    """Messages/s through the broker to one subscriber, no gateways attached:
    `mosquitto_pub -l` of the same payloads, and the raw publisher flat out."""
    n = len(payloads)
    out = {}
    for name in ("mosquitto_pub -l", "raw publisher"):
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-t", topic, "-C", str(n), "-W", "120"],
                               stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        t0 = time.time()
        if name == "mosquitto_pub -l":
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-l"],
                           input=b"\n".join(payloads) + b"\n", check=True, timeout=300)
        else:
            s = mqtt_connect(broker.port, "bench-ref")
            buf = bytearray()
            for p in payloads:
                buf += mqtt_publish(topic, p)
                if len(buf) > 1 << 16:
                    s.sendall(buf)
                    buf.clear()
            s.sendall(buf)
            s.sendall(b"\xe0\x00")  # DISCONNECT
            s.close()
        rc = sub.wait(timeout=180)
        dt = time.time() - t0
        out[name] = (n / dt if rc == 0 else None, dt)
    return out


def main():
    quick = os.environ.get("VIGIL_BENCH_QUICK") == "1"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateways", type=int, default=3 if quick else 10)
    ap.add_argument("--sensors-per-gateway", type=int, default=200 if quick else 1000)
    ap.add_argument("--seconds", type=int, default=10 if quick else 30)
    ap.add_argument("--vigil", default=os.environ.get("VIGIL_BIN", os.path.join(ROOT, "build", "vigil")))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    G, M, S = a.gateways, a.sensors_per_gateway, a.seconds
    work = tempfile.mkdtemp(prefix="vigil-plant-bench-")
    broker, gws = None, []
    print("plant relay bench: %d gateways x %d sensors x %d s at 1 advert/s, each advert by 2 relays (%s)"
          % (G, M, S, work), flush=True)
    try:
        # A private copy: a rebuild of the tree's binary during the run must not disturb it.
        exe = os.path.join(work, "vigil")
        shutil.copy2(a.vigil, exe)
        a.vigil = exe
        broker = Broker(work)
        sensors = [[(mac_of(g, i), key_of(g, i)) for i in range(M)] for g in range(G)]

        # Adverts, sealed before the run so the publisher only sends.
        t0 = time.time()
        sealed = []  # [g][i][s]
        for g in range(G):
            per = []
            for mac, key in sensors[g]:
                aead, mb = AESCCM(bytes.fromhex(key), tag_length=4), bytes.fromhex(mac.replace(":", ""))
                per.append([sealed_hex(aead, mb, c) for c in range(1, S + 1)])
            sealed.append(per)
        print("sealed %d adverts in %.1f s" % (G * M * S, time.time() - t0), flush=True)

        def message(g, i, s, relay, now_ms):
            mac = sensors[g][i][0]
            body = ('{"id":"%s","mac_type":0,"rssi":-%d,"servicedatauuid":"0xfcd2","servicedata":"%s",'
                    '"name":"bench","time":%d}' % (mac, 60 + relay, sealed[g][i][s], now_ms)).encode()
            return "bench/%s/relay%s/BTtoMQTT/%s" % (gws[g].id if gws else "gw-%02d" % g, "AB"[relay],
                                                    mac.replace(":", "")), body

        # Reference on the same listener, nothing else attached.
        ref_n = 60000
        ref_payloads = [message(k % G, (k // G) % M, 0, k & 1, int(time.time() * 1000))[1] for k in range(ref_n)]
        ref = reference(broker, ref_payloads)
        for name, (rate, dt) in ref.items():
            print("reference %-17s %d msgs in %.2f s: %s msgs/s" % (name, ref_n, dt, "%.0f" % rate if rate else "FAILED"),
                  flush=True)

        # Gateways.
        t0 = time.time()
        gws = [Gw(a.vigil, work, g, broker, sensors[g]) for g in range(G)]
        for gw in gws:
            gw.start()
        for gw in gws:
            gw.wait_healthy()
            gw.commission()
        deadline = time.time() + 120
        while not all(gw.ready() for gw in gws):
            if time.time() > deadline:
                raise RuntimeError("gateways not ready (commissioned + uplink connected)")
            time.sleep(0.5)
        print("%d gateways up and commissioned in %.1f s" % (G, time.time() - t0), flush=True)

        # Publish: second s, slice k: sensors i with i % SLICES == k, each by relay A then relay B.
        socks = [[mqtt_connect(broker.port, "bench-%s-relay%s" % (gw.id, r)) for r in "AB"] for gw in gws]
        time.sleep(1.2)
        sys_t0 = time.time()
        recv0, sent0 = broker.sys_value("$SYS/broker/messages/received"), broker.sys_value("$SYS/broker/messages/sent")
        pids = {gw.id: gw.proc.pid for gw in gws}
        cpu0 = {k: cpu_s(p) for k, p in pids.items()}
        broker_cpu0, me_cpu0 = cpu_s(broker.proc.pid), cpu_s(os.getpid())
        published, behind = 0, 0.0
        warmup = min(5, S // 3)  # the first adverts create each sensor's series: latency apart
        warm = None
        start = time.time()
        for s in range(S):
            if s == warmup and warmup:
                warm = [gw.metrics() for gw in gws]
            for k in range(SLICES_PER_S):
                due = start + s + k / SLICES_PER_S
                lag = time.time() - due
                if lag < 0:
                    time.sleep(-lag)
                else:
                    behind = max(behind, lag)
                now_ms = int(time.time() * 1000)
                for g in range(G):
                    for r in (0, 1):
                        buf = bytearray()
                        for i in range(k, M, SLICES_PER_S):
                            topic, body = message(g, i, s, r, now_ms)
                            buf += mqtt_publish(topic, body)
                            published += 1
                        socks[g][r].sendall(buf)
        pub_wall = time.time() - start
        me_cpu = cpu_s(os.getpid()) - me_cpu0
        for pair in socks:
            for sk in pair:
                sk.sendall(b"\xe0\x00")
                sk.close()
        # Drain: every relay message received and handled by its gateway — decoded
        # (vigil_ble_relay_adverts_total counts duplicates too) or rejected — or
        # no progress for 10 s. A stop drops what the BLE worker still queues.
        want = 2 * M * S

        def handled(m):
            return m.get("vigil_ble_relay_adverts_total", 0) + sum(
                v for k, v in m.items() if k.startswith("vigil_ble_relay_rejected_total"))
        last, still = None, time.time()
        while True:
            got = [handled(gw.metrics()) for gw in gws]
            if all(x >= want for x in got):
                break
            if got != last:
                last, still = got, time.time()
            elif time.time() - still > 10:
                break
            time.sleep(0.5)
        drain = time.time() - start - pub_wall
        window = time.time() - start
        cpu = {k: cpu_s(p) - cpu0[k] for k, p in pids.items()}
        broker_cpu = cpu_s(broker.proc.pid) - broker_cpu0
        time.sleep(1.2)  # $SYS counters are republished every sys_interval (1 s)
        recv = broker.sys_value("$SYS/broker/messages/received") - recv0
        sent = broker.sys_value("$SYS/broker/messages/sent") - sent0
        sys_span = time.time() - sys_t0
        ms = [gw.metrics() for gw in gws]

        # Stop, then read what each stored.
        for gw in gws:
            gw.stop()
        rows, ok_all = [], True
        for g, gw in enumerate(gws):
            pts = gw.stored()
            expect = {(mac, temp_of(c)) for mac, _ in sensors[g] for c in range(1, S + 1)}
            seen = {}
            for p in pts:
                seen[p] = seen.get(p, 0) + 1
            missing = len(expect - set(seen))
            twice = sum(n - 1 for n in seen.values() if n > 1)
            foreign = len(set(seen) - expect)
            ok = missing == 0 and twice == 0 and foreign == 0 and len(pts) == len(expect)
            ok_all &= ok
            m = ms[g]
            rejected = int(sum(v for k, v in m.items() if k.startswith("vigil_ble_relay_rejected_total")))
            rows.append((gw.id, M * S, int(m.get("vigil_ble_relay_messages_total", 0)),
                         int(m.get("vigil_ble_frames_accepted_total", 0)),
                         "%d/%d" % (int(m.get('vigil_protocol_rejected_total{reason="duplicate"}', 0)), rejected),
                         len(pts), missing, twice, "yes" if ok else "NO",
                         int(m.get('vigil_ble_frames_lost_total{via="relay"}', 0)),
                         hist_quantile(m, 0.5), hist_quantile(m, 0.99),
                         hist_quantile(m, 0.99, warm[g]) if warm else None,
                         m.get("vigil_ble_relay_latency_p99_seconds", 0.0), cpu[gw.id]))

        hdr = ("gateway", "adverts", "relay msgs", "decoded", "dup/rej", "stored", "missing", "twice", "once",
               "lost", "lat p50", "lat p99", "p99 >%ds" % warmup, "p99 last1k", "CPU s", "CPU %")
        fmt = "%-7s %8s %10s %8s %9s %7s %7s %5s %4s %5s %8s %8s %8s %10s %6s %5s"
        ms_ = lambda v: "%.0f ms" % (v * 1000) if v is not None else "-"  # noqa: E731
        print()
        print(fmt % hdr)
        for r in rows:
            print(fmt % (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], ms_(r[10]), ms_(r[11]),
                         ms_(r[12]), ms_(r[13]), "%.1f" % r[14], "%.0f" % (100 * r[14] / window)))
        tot_cpu = sum(cpu.values())
        print(fmt % ("all", G * M * S, sum(r[2] for r in rows), sum(r[3] for r in rows),
                     "%d/%d" % tuple(sum(int(r[4].split("/")[j]) for r in rows) for j in (0, 1)),
                     sum(r[5] for r in rows), sum(r[6] for r in rows), sum(r[7] for r in rows),
                     "yes" if ok_all else "NO", sum(r[9] for r in rows), "", "", "", "", "%.1f" % tot_cpu,
                     "%.0f" % (100 * tot_cpu / window)))
        print("CPU %% = of one core over the window; latency from the relay's \"time\" to ingest, from the "
              "cumulative buckets (5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5, 10 s; linear within a bucket); "
              "\"p99 >%ds\": adverts after the first %d s (each sensor's first reading creates its series)"
              % (warmup, warmup))
        load = open("/proc/loadavg").read().split()[:3]
        print("load average at the end: %s (2 cores; other processes count too)" % " ".join(load))
        print()
        print("window %.1f s (publishing %.1f s, drain %.1f s); publisher fell behind by at most %.0f ms"
              % (window, pub_wall, drain, behind * 1000))
        print("published %d relay messages = %.0f msgs/s (offered %d/s); publisher CPU %.1f s"
              % (published, published / pub_wall, 2 * G * M, me_cpu))
        print("broker ($SYS, all clients): received %d = %.0f msgs/s, sent %d = %.0f msgs/s "
              "between two readings %.1f s apart; broker CPU %.1f s (%.0f %% of one core)"
              % (recv, recv / sys_span, sent, sent / sys_span, sys_span, broker_cpu, 100 * broker_cpu / window))
        for name, (rate, dt) in ref.items():
            print("reference, same listener, no gateways: %-17s -> 1 subscriber: %s msgs/s"
                  % (name, "%.0f" % rate if rate else "FAILED"))
        reasons = {}
        for m in ms:
            for k, v in m.items():
                if k.startswith("vigil_ble_relay_rejected_total") and v:
                    r = k.split('"')[1]
                    reasons[r] = reasons.get(r, 0) + int(v)
        if reasons:
            print("relay messages rejected, by reason: " + ", ".join("%s %d" % kv for kv in sorted(reasons.items())))
        print("exactly once: %s" % ("every advert stored once on every gateway" if ok_all else "NO (see table)"))
        return 0 if ok_all else 1
    finally:
        for gw in gws:
            gw.stop()
        if broker:
            broker.stop()
        if a.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
