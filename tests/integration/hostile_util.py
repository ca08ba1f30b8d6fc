# SPDX-License-Identifier: Apache-2.0
"""Hostile clients for tests/integration/test_hostile.py and
tests/bench/hostile_bench.py: a gateway whose log goes to a file (a flood
makes it log more than a pipe holds), raw-socket exchanges, slowloris and
idle-connection floods, request floods, and a legitimate client that
measures what it gets while they run.

Addresses. Everything runs on loopback, but attackers and the legitimate
client use different source addresses (Linux routes all of 127.0.0.0/8 to
lo): attackers connect from 127.0.0.2 and up, the legitimate client from
127.0.0.1. A gateway that limits connections per client therefore sees them
as the different clients they would be on a plant network; one that does not
is flooded exactly as before."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from conftest import ROOT, VIGIL, free_port

LEGIT_ADDR = "127.0.0.1"


def attacker_addr(i):
    """The i-th attacker source address: 127.0.0.2, 127.0.0.3, ..."""
    return "127.0.%d.%d" % ((i + 2) // 256, (i + 2) % 256)


# ---- configuration ---------------------------------------------------------

def shipped_options(section):
    """The option names config/vigil.json lists in `section` (it lists every
    option vigil knows). Tests use it to set a limit only where this build of
    vigil has it: unknown keys are configuration errors."""
    with open(os.path.join(ROOT, "config", "vigil.json")) as f:
        text = f.read()
    # Strip // and /* */ comments outside strings.
    out, i, in_str = [], 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif text.startswith("/*", i):
            i = text.find("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return set(json.loads("".join(out)).get(section, {}).keys())


def known(section, wanted):
    """`wanted` without the options this vigil does not have."""
    names = shipped_options(section)
    return {k: v for k, v in wanted.items() if k in names}


def cli(*args, stdin=None, timeout=60):
    return subprocess.run([VIGIL, *args], input=stdin, capture_output=True, text=True, timeout=timeout)


# ---- the gateway -------------------------------------------------------------

class HostileGateway:
    """`vigil serve` (or `vigil demo`) with its output in DIR/vigil.log.

    Accounts are made with the CLI before start (`tokens`, `users`), so the
    tests do not depend on whether the CLI may write while serve runs."""

    def __init__(self, tmp_path, http=None, extra=None, mode="serve"):
        self.port = free_port()
        self.dir = tmp_path
        self.db = str(tmp_path / "vigil.db")
        self.mode = mode
        self.log_path = str(tmp_path / "vigil.log")
        cfg = {
            "storage": {"path": self.db, "checkpoint_interval_s": 1, "batch_max_delay_ms": 1000},
            "http": {"address": "127.0.0.1", "port": self.port, "tls": False},
        }
        cfg["http"].update(http or {})
        for section, values in (extra or {}).items():
            cfg.setdefault(section, {}).update(values)
        self.config = str(tmp_path / "vigil.json")
        with open(self.config, "w") as f:
            f.write("// hostile-client test configuration\n" + json.dumps(cfg, indent=2))
        self.proc = None
        self._log = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def token(self, role):
        r = cli("token", "create", "--role", role, "--name", "hostile-" + role, "--config", self.config)
        assert r.returncode == 0, r.stderr
        token = r.stdout.strip()
        # Scripts do TOKEN=$(vigil token create ...): stdout is the token alone.
        assert re.fullmatch(r"vgl_[0-9a-f]{64}", token), "token create printed %r" % r.stdout
        return token

    def user(self, name, role, password):
        r = cli("user", "add", name, "--role", role, "--config", self.config, stdin=password + "\n")
        assert r.returncode == 0, r.stderr

    def start(self, timeout=30):
        if self.mode == "demo":
            args = [VIGIL, "demo", "--port", str(self.port), "--data-dir", str(self.dir), "--config", self.config]
        else:
            args = [VIGIL, "serve", "--config", self.config]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, "vigil exited at start (%s):\n%s" % (self.proc.returncode, self.log())
            try:
                status, _, _ = request(self.port, "GET", "/api/v1/health", timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("vigil did not answer /api/v1/health within %ss:\n%s" % (timeout, self.log()))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-tail:]
        except OSError:
            return ""

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def stop(self, timeout=30):
        """SIGTERM; the exit status (a crash shows as -SIGNAL, a UBSan report as 1)."""
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError("vigil did not stop within %ss of SIGTERM" % timeout)
            return self.proc.returncode if self.proc else None
        finally:
            if self._log:
                self._log.close()
                self._log = None


# ---- plain and raw requests --------------------------------------------------

def request(port, method, target, headers=None, body=None, timeout=10, source=None):
    """One request on a new connection; `target` goes on the wire as given
    (no client-side quoting). Returns (status, headers dict lower-case, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class KeepAlive:
    """A keep-alive client for many quick requests (raw targets); reconnects
    once when the server closed the connection between requests."""

    def __init__(self, port, headers=None, timeout=10, source=None):
        self.port, self.headers, self.timeout, self.source = port, dict(headers or {}), timeout, source
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                               source_address=(self.source, 0) if self.source else None)

    def request(self, method, target, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.putrequest(method, target, skip_accept_encoding=True)
                hdrs = dict(self.headers)
                data = None
                if body is not None:
                    data = json.dumps(body).encode()
                    hdrs["Content-Type"] = "application/json"
                    hdrs["Content-Length"] = str(len(data))
                for k, v in hdrs.items():
                    self.conn.putheader(k, v)
                self.conn.endheaders(data)
                r = self.conn.getresponse()
                payload = r.read()
                if r.will_close:
                    self.close()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, payload
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a keep-alive connection the server closed between requests: once more on a new one
                self.close()
                if attempt == 1:
                    raise
            except Exception:
                self.close()
                raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _complete(data):
    """True once `data` holds a whole response with a Content-Length body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    return bool(m) and len(body) >= int(m.group(1))


def exchange(port, payload, timeout=5, source=None):
    """Sends raw bytes and reads until the server closes (or `timeout`).
    Returns (status or None, first bytes of the reply, how it ended:
    "answered" (a whole response arrived), "closed", "reset" or "timeout")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    data, how = b"", "closed"
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            how = "reset"  # the server gave up on us while we were still sending; read what it said
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                how = "timeout"
                break
            except ConnectionResetError:
                how = "reset"
                break
            if not chunk:
                break
            data += chunk
            if _complete(data):
                how = "answered"
                break
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return (int(m.group(1)) if m else None), data[:300], how


# ---- attackers -----------------------------------------------------------------

class _Attacker(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.halt = threading.Event()
        self.opened = 0
        self.dropped = 0      # connections the server closed or reset
        self.refused = 0      # connect() failed
        self.errors = []

    def stop(self):
        self.halt.set()
        self.join(timeout=30)


class ConnectionHog(_Attacker):
    """Keeps `count` connections open, spread over `addresses` source
    addresses (attacker_addr(first) and up). With `trickle_s` it is slowloris: each connection sends a
    request line at once and then one more header line every `trickle_s`
    seconds, never finishing the head; without it the connections send nothing
    at all (an idle flood). A connection the server closes is opened again at
    the next tick (at most `reopen_per_tick` of them), as attack tools do."""

    def __init__(self, port, count, addresses=1, trickle_s=None, tick_s=1.0, reopen_per_tick=None, first=0):
        super().__init__()
        self.port, self.count, self.addresses, self.first = port, count, addresses, first
        self.trickle_s, self.tick_s = trickle_s, tick_s
        self.reopen_per_tick = reopen_per_tick or count
        self.socks = []
        self._n = 0

    def _open(self):
        src = attacker_addr(self.first + self._n % self.addresses)
        self._n += 1
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(True)
            s.settimeout(2)
            s.bind((src, 0))
            s.connect(("127.0.0.1", self.port))
            if self.trickle_s:
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: vigil\r\n")
            s.setblocking(False)
            self.opened += 1
            return [s, time.time()]
        except OSError:
            self.refused += 1
            return None

    def _alive(self, s):
        try:
            return s.recv(4096) != b""  # data: the server answered (and will close); b"": closed
        except BlockingIOError:
            return True
        except OSError:
            return False

    def ready(self, timeout=60):
        """Waits until `count` connections have been opened once."""
        deadline = time.time() + timeout
        while self.opened < self.count and time.time() < deadline and self.is_alive():
            time.sleep(0.05)

    def run(self):
        while len(self.socks) < self.count and not self.halt.is_set():
            s = self._open()
            if s:
                self.socks.append(s)
        k = 0
        while not self.halt.wait(self.tick_s):
            now = time.time()
            keep = []
            for entry in self.socks:
                s, last = entry
                ok = self._alive(s)
                if ok and self.trickle_s and now - last >= self.trickle_s:
                    try:
                        s.send(b"X-Slow-%d: %d\r\n" % (k, k))
                        entry[1] = now
                    except OSError:
                        ok = False
                if ok:
                    keep.append(entry)
                else:
                    self.dropped += 1
                    s.close()
                k += 1
            self.socks = keep
            for _ in range(min(self.count - len(self.socks), self.reopen_per_tick)):
                if self.halt.is_set():
                    break
                s = self._open()
                if s:
                    self.socks.append(s)
        for s, _ in self.socks:
            s.close()


class RequestFlood(_Attacker):
    """`clients` threads sending `method path` with a JSON body as fast as
    the server answers, each on its own keep-alive connection from one of
    `addresses` attacker addresses from attacker_addr(first); counts the
    statuses."""

    def __init__(self, port, method, path, body, clients=16, addresses=1, timeout=10, first=0):
        super().__init__()
        self.port, self.method, self.path, self.body = port, method, path, body
        self.clients, self.addresses, self.timeout, self.first = clients, addresses, timeout, first
        self.statuses = {}
        self.retry_after = []
        self._lock = threading.Lock()

    def _client(self, i):
        c = KeepAlive(self.port, timeout=self.timeout, source=attacker_addr(self.first + i % self.addresses))
        while not self.halt.is_set():
            try:
                status, headers, _ = c.request(self.method, self.path, self.body)
            except (OSError, http.client.HTTPException) as e:
                with self._lock:
                    self.dropped += 1
                    if len(self.errors) < 5:
                        self.errors.append(repr(e))
                c.close()
                time.sleep(0.01)
                continue
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if "retry-after" in headers and len(self.retry_after) < 1000:
                    self.retry_after.append(headers["retry-after"])
        c.close()

    def run(self):
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# ---- the legitimate client ---------------------------------------------------

class LegitResult:
    def __init__(self):
        self.latencies_ms = []   # successful requests only
        self.failures = []       # (what happened) for the others

    @property
    def total(self):
        return len(self.latencies_ms) + len(self.failures)

    @property
    def success_rate(self):
        return len(self.latencies_ms) / self.total if self.total else 0.0

    def percentile(self, p):
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]

    def summary(self):
        return "%d/%d served (%.1f %%), p50 %.1f ms, p99 %.1f ms%s" % (
            len(self.latencies_ms), self.total, 100 * self.success_rate, self.percentile(50),
            self.percentile(99), ("; failures: %s" % sorted(set(self.failures))[:5]) if self.failures else "")


def legit_client(port, path, headers, rate_hz, duration_s, timeout=5, source=LEGIT_ADDR):
    """Sequential requests at `rate_hz` for `duration_s`, each on a new
    connection (as a script or a health probe does); behind schedule, the next
    one starts at once. A request succeeds when it answers 200 within
    `timeout` seconds."""
    res = LegitResult()
    period = 1.0 / rate_hz
    start = time.monotonic()
    n = 0
    while True:
        due = start + n * period
        now = time.monotonic()
        if due - start >= duration_s or now - start >= duration_s:
            break  # (a slow server gets fewer requests, not a longer test)
        if due > now:
            time.sleep(due - now)
        n += 1
        t0 = time.monotonic()
        try:
            status, _, _ = request(port, "GET", path, headers=headers, timeout=timeout, source=source)
        except (OSError, http.client.HTTPException) as e:
            res.failures.append(type(e).__name__)
            continue
        ms = (time.monotonic() - t0) * 1000
        if status == 200:
            res.latencies_ms.append(ms)
        else:
            res.failures.append("HTTP %d" % status)
    return res
