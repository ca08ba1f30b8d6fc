# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the vigil binary, temp configs, a running gateway."""
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
VIGIL = os.environ.get("VIGIL_BIN", os.path.join(BUILD, "vigil"))


def tool(name):
    return os.path.join(BUILD, "tests", "vigil_test_" + name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers, r.read()


def get_json(url, **kw):
    status, _, body = get(url, **kw)
    return status, json.loads(body)


def wait_healthy(port, proc, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("vigil exited early with %s: %s" % (proc.returncode, proc.stderr.read()))
        try:
            status, j = get_json("http://127.0.0.1:%d/api/v1/health" % port, timeout=1)
            if status == 200 and j["status"] == "ok":
                return j
        except Exception as e:  # noqa: BLE001 - still starting
            last = e
        time.sleep(0.1)
    raise AssertionError("vigil did not become healthy: %s" % last)


class Gateway:
    def __init__(self, tmp_path, extra=None, mode="serve"):
        self.port = free_port()
        self.dir = tmp_path
        self.db = str(tmp_path / "vigil.db")
        cfg = {
            "storage": {"path": self.db, "checkpoint_interval_s": 1, "batch_max_delay_ms": 1000},
            "http": {"address": "127.0.0.1", "port": self.port, "tls": False},
        }
        for section, values in (extra or {}).items():
            cfg.setdefault(section, {}).update(values)
        self.config = str(tmp_path / "vigil.json")
        with open(self.config, "w") as f:
            f.write("// test configuration\n" + json.dumps(cfg, indent=2))
        self.mode = mode
        self.proc = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log_text(self, wait=0.0):
        """Everything the running gateway wrote to stderr so far (read from its
        pipe, waiting up to `wait` seconds for more)."""
        if getattr(self, "_log_proc", None) is not self.proc:  # a new start, a new log
            self._log_proc, self._log = self.proc, ""
        fd = self.proc.stderr.fileno()
        deadline = time.time() + wait
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
            if not ready:
                return self._log
            chunk = os.read(fd, 65536)
            if not chunk:
                return self._log
            self._log += chunk.decode("utf-8", "replace")

    def setup_code(self, timeout=10):
        """The one-time setup code from the gateway's log line "... with
        setup code XXXXX-XXXXX ..." (logged at start while no user exists)."""
        deadline = time.time() + timeout
        while True:
            m = re.search(r"with setup code ([A-Z0-9]{5}-[A-Z0-9]{5})", self.log_text())
            if m:
                return m.group(1)
            if time.time() >= deadline:
                raise AssertionError("no setup code in the gateway's log: %r" % self._log[-2000:])
            self.log_text(wait=0.2)

    def start(self):
        if self.mode == "demo":
            args = [VIGIL, "demo", "--port", str(self.port), "--data-dir", str(self.dir), "--config", self.config]
        else:
            args = [VIGIL, "serve", "--config", self.config]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return wait_healthy(self.port, self.proc)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vigil did not stop within %ss of signal %s" % (timeout, sig))
        return self.proc.returncode if self.proc else None


@pytest.fixture
def gateway(tmp_path):
    g = Gateway(tmp_path)
    yield g
    g.stop()
