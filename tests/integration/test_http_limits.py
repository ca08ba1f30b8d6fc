# SPDX-License-Identifier: Apache-2.0
"""HTTP limits against the real `vigil serve`: slowloris and idle-connection
floods past the connection caps leave a legitimate client served; malformed
HTTP gets a 4xx (or 505) status line instead of a reset; API replies are not
cacheable; TLS refuses CBC suites and sends HSTS.

The caps and timeouts are configured small so each test runs in seconds; the
attacker shares 127.0.0.1 with the legitimate client, as it may in real life.
"""
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import VIGIL, Gateway, get

LIMITS = {
    "max_connections": 40,
    "max_connections_per_client": 32,
    "header_timeout_s": 2,
    "idle_timeout_s": 2,
}


@pytest.fixture
def limited(tmp_path):
    g = Gateway(tmp_path, extra={"http": LIMITS})
    g.start()
    yield g
    g.stop()


def metric(g, name):
    """Sum of a counter family on /metrics (every label set)."""
    _, _, body = get(g.url("/metrics"))
    total = 0
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Flood:
    """Keeps `slow` slowloris connections (a header line every 0.5 s, never
    finishing the head) and `idle` silent connections open against the port,
    reconnecting whichever the server closes, until stopped."""

    def __init__(self, port, slow, idle):
        self.port, self.slow_n, self.idle_n = port, slow, idle
        self.stop_flag = threading.Event()
        self.reconnects = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self, slow):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        if slow:
            s.send(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        return s

    @staticmethod
    def alive(s, line):
        try:
            if line is not None:
                s.send(line)
            data = s.recv(4096)
            return data != b""  # b"": the server closed it
        except BlockingIOError:
            return True
        except OSError:
            return False

    def run(self):
        conns = [[self.connect(True), True] for _ in range(self.slow_n)]
        conns += [[self.connect(False), False] for _ in range(self.idle_n)]
        self.ready = True
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            for c in conns:
                line = b"X-Slow-%d: 1\r\n" % i if c[1] else None
                if not self.alive(c[0], line):
                    c[0].close()
                    try:
                        c[0] = self.connect(c[1])
                        self.reconnects += 1
                    except OSError:
                        pass
            self.stop_flag.wait(0.5)
        for c in conns:
            c[0].close()

    def __enter__(self):
        self.ready = False
        self.thread.start()
        deadline = time.time() + 20
        while not self.ready and time.time() < deadline:
            time.sleep(0.05)
        assert self.ready, "the flood could not open its connections"
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(timeout=10)


def legit_request(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/api/v1/health")
        r = c.getresponse()
        r.read()
        return r.status
    except OSError as e:
        return repr(e)
    finally:
        c.close()


def test_a_legitimate_client_is_served_through_slowloris_and_idle_floods_past_the_caps(limited):
    # 30 trickling heads and 30 silent connections against caps of 40 in all
    # and 32 per client, all from 127.0.0.1 like the legitimate client.
    # Before: a full table closed every newcomer at once.
    with Flood(limited.port, slow=30, idle=30) as flood:
        time.sleep(1.0)
        results = []
        for _ in range(60):
            results.append(legit_request(limited.port))
            time.sleep(0.05)
        reconnects = flood.reconnects
    assert results == [200] * len(results), results
    assert reconnects > 0, "the server never closed a flooding connection"
    assert metric(limited, "vigil_http_connections_evicted_total") > 0


def test_a_request_head_trickled_in_is_cut_off_at_the_header_deadline(limited):
    # Under the caps, so only the deadline can end them: a header line every
    # 0.5 s would keep a per-read timeout happy for ever.
    with Flood(limited.port, slow=5, idle=0) as flood:
        deadline = time.time() + 20
        while flood.reconnects < 5 and time.time() < deadline:
            time.sleep(0.1)
        reconnects = flood.reconnects
    assert reconnects >= 5, "trickling connections were not closed"
    assert metric(limited, "vigil_http_timeouts_total") >= 5
    assert legit_request(limited.port) == 200


def raw(port, payload, read_timeout=10):
    """Send raw bytes; return everything the server sends before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(payload)
        except OSError:
            pass  # the server may answer and close before it has read it all
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.parametrize(
    "name,payload,status",
    [
        ("oversized headers", b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", 431),
        ("bad Content-Length", b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n{}", 400),
        ("negative Content-Length", b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
        ("HTTP/0.9", b"GET /\r\n\r\n", 400),
        ("garbage request line", b"\x16\x03\x01 hello\r\n\r\n", 400),
        ("HTTP/2.0 request line", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("body over the limit", b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{", 413),
    ],
)
def test_malformed_http_gets_a_status_line_not_a_reset(limited, name, payload, status):
    out = raw(limited.port, payload)
    assert out.startswith(b"HTTP/1.1 %d " % status), (name, out[:200])
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head, head
    assert b"application/problem+json" in head, head
    assert json.loads(body)["status"] == status
    # The gateway is unharmed.
    assert legit_request(limited.port) == 200


def test_api_replies_are_not_cacheable_and_static_files_keep_their_own(limited):
    _, headers, _ = get(limited.url("/api/v1/health"))
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP
    _, headers, _ = get(limited.url("/"))
    assert headers["Cache-Control"] != "no-store"


# ---- TLS ----------------------------------------------------------------


def tls_context(maximum=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the gateway's self-signed certificate
    if maximum:
        ctx.maximum_version = maximum
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def https_get(port, path, ctx):
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status, r.getheaders(), c.sock.version(), c.sock.cipher()[0]
    finally:
        c.close()


@pytest.fixture
def tls_gateway(tmp_path):
    g = Gateway(tmp_path, extra={"http": {"tls": True}})
    g.proc = subprocess.Popen([VIGIL, "serve", "--config", g.config],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    last = None
    while time.time() < deadline:
        assert g.proc.poll() is None, g.proc.stderr.read()
        try:
            if https_get(g.port, "/api/v1/health", tls_context())[0] == 200:
                break
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.1)
    else:
        raise AssertionError("vigil (TLS) did not become healthy: %s" % last)
    yield g
    g.stop()


@pytest.mark.parametrize("ciphers", ["AES128-SHA", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA256"])
def test_tls_1_2_refuses_cbc_suites(tls_gateway, ciphers):
    ctx = tls_context(ssl.TLSVersion.TLSv1_2, ciphers)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        https_get(tls_gateway.port, "/api/v1/health", ctx)


def test_tls_offers_ecdhe_aead_and_tls_1_3_with_hsts_on_every_reply(tls_gateway):
    status, headers, version, cipher = https_get(
        tls_gateway.port, "/api/v1/health", tls_context(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"))
    assert (status, version, cipher) == (200, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert dict(headers)["Strict-Transport-Security"] == "max-age=31536000"
    for path in ("/api/v1/health", "/", "/api/v1/no-such-route"):
        status, headers, version, _ = https_get(tls_gateway.port, path, tls_context())
        assert version == "TLSv1.3"
        assert dict(headers).get("Strict-Transport-Security") == "max-age=31536000", (path, status)
