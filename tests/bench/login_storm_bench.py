# SPDX-License-Identifier: Apache-2.0
"""Read latency while logins and checkpoints run (issue 13; docs/benchmarks.md,
section "Under a login storm"). Run through tests/bench/login_storm_bench.sh.

A `vigil demo` gateway ingests its simulated plant at TIME_FACTOR× real time
and checkpoints every second (storage.checkpoint_interval_s = 1), so the
store's writer holds its lock again and again. Two readers — a 30-day
downsampled series (500 buckets) and the fleet overview — are measured
sequentially, each RATE requests per second on a new connection:

  1. reference: ingest and checkpoints only;
  2. storm: the same, plus LOGINS_PER_S logins per second with the right
     password (each one a 32 MiB scrypt), one a second from each of ten
     client addresses, so the per-address limiter (1/s) lets them through.

Goal (issue 13): series and fleet p99 under 25 ms during the storm — a login
must not block an io thread, a checkpoint must not block a reader. Prints both
runs side by side with the logins answered and the checkpoints made; exits 1
only if the gateway died."""
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from hostile_util import HostileGateway, KeepAlive, attacker_addr, legit_client, request  # noqa: E402

DURATION = float(os.environ.get("DURATION", "20"))
RATE = float(os.environ.get("RATE", "20"))
LOGINS_PER_S = float(os.environ.get("LOGINS_PER_S", "10"))
TIME_FACTOR = float(os.environ.get("TIME_FACTOR", "600"))
GOAL_P99_MS = 25.0
PASSWORD = "bench-admin-password"


def storm(port, ready, halt, report):
    """LOGINS_PER_S logins per second, paced, from ten addresses."""
    statuses, lock = {}, threading.Lock()
    per = LOGINS_PER_S / 10

    def client(i):
        c = KeepAlive(port, timeout=10, source=attacker_addr(i))
        period, t0, n = 1.0 / per, time.monotonic(), 0
        while not halt.is_set():
            due = t0 + n * period
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            n += 1
            try:
                status, _, _ = c.request("POST", "/api/v1/auth/login", {"name": "admin", "password": PASSWORD})
            except Exception as e:  # noqa: BLE001 - counted, the storm goes on
                status = type(e).__name__
                c.close()
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(10)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    ready.set()
    halt.wait()
    for t in threads:
        t.join(15)
    report.put(statuses)


def checkpoints(port):
    _, _, body = request(port, "GET", "/api/v1/system")
    return json.loads(body)["store"]["checkpoints"]


def measure(port, paths):
    """Both readers at once, each in its own thread, RATE/s for DURATION s."""
    out = {}

    def run(name, path):
        out[name] = legit_client(port, path, {}, rate_hz=RATE, duration_s=DURATION, timeout=5)

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in paths.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def row(name, res):
    return "%-44s %5d/%-5d  p50 %7.2f ms  p99 %7.2f ms  max %7.1f ms" % (
        name, len(res.latencies_ms), res.total, res.percentile(50), res.percentile(99),
        max(res.latencies_ms) if res.latencies_ms else float("nan"))


def main():
    tmp = Path(tempfile.mkdtemp(prefix="vigil-login-storm."))
    g = HostileGateway(tmp, mode="demo", extra={"gateway": {"log_level": "warn"},
                                                 "storage": {"checkpoint_interval_s": 1},
                                                 "demo": {"time_factor": TIME_FACTOR}})
    g.start()
    try:
        # The demo recreates its database at start: its first admin is made
        # with the one-time setup code it logs.
        import re
        m = re.search(r"with setup code ([A-Z0-9]{5}-[A-Z0-9]{5})", g.log(100000))
        if not m:
            raise SystemExit("no setup code in the demo's log")
        status, _, body = request(g.port, "POST", "/api/v1/auth/setup",
                                  body=json.dumps({"name": "admin", "password": PASSWORD,
                                                   "setup_code": m.group(1)}).encode(),
                                  headers={"Content-Type": "application/json"})
        if status not in (200, 201):
            raise SystemExit("setting up the admin failed: %d %s" % (status, body[:200]))
        # Wait for a series with data; the demo's loopback clients are technicians.
        series_id, deadline = None, time.time() + 60
        while series_id is None and time.time() < deadline:
            _, _, body = request(g.port, "GET", "/api/v1/positions")
            for pos in json.loads(body)[:1]:
                _, _, sbody = request(g.port, "GET", "/api/v1/positions/%d/series" % pos["id"])
                for s in json.loads(sbody)[:1]:
                    series_id = s["id"]
            if series_id is None:
                time.sleep(0.5)
        if series_id is None:
            raise SystemExit("the demo produced no series within 60 s")
        now = int(time.time() * 1000)
        paths = {"series": "/api/v1/series/%d?from=%d&to=%d&points=500" % (series_id, now - 30 * 86400000,
                                                                            now + 30 * 86400000),
                 "fleet": "/api/v1/fleet"}
        measure(g.port, {k: v for k, v in paths.items()})  # warm-up (short: DURATION applies)
        c0 = checkpoints(g.port)
        ref = measure(g.port, paths)
        c1 = checkpoints(g.port)

        ctx = multiprocessing.get_context("fork")
        ready, halt, report = ctx.Event(), ctx.Event(), ctx.Queue()
        p = ctx.Process(target=storm, args=(g.port, ready, halt, report), daemon=True)
        p.start()
        if not ready.wait(60):
            raise SystemExit("the login storm did not start within 60 s")
        t0 = time.monotonic()
        hot = measure(g.port, paths)
        elapsed = time.monotonic() - t0
        c2 = checkpoints(g.port)
        halt.set()
        logins = report.get(timeout=60)
        p.join(30)
    finally:
        alive = g.alive()
        rc = g.stop()
    print("vigil demo at %.0f× real time, checkpoint every 1 s; readers %.0f/s each for %.0f s, new connection each"
          % (TIME_FACTOR, RATE, DURATION))
    print()
    print(row("series, ingest + checkpoints (reference)", ref["series"]))
    print(row("fleet,  ingest + checkpoints (reference)", ref["fleet"]))
    print(row("series, + %.0f logins/s" % LOGINS_PER_S, hot["series"]))
    print(row("fleet,  + %.0f logins/s" % LOGINS_PER_S, hot["fleet"]))
    print()
    ok_logins = logins.get(200, 0)
    print("logins during the storm: %s (%.1f successful logins/s, each a 32 MiB scrypt); checkpoints: %d in the "
          "reference run, %d in the storm run" % (dict(sorted(logins.items(), key=str)), ok_logins / elapsed,
                                                   c1 - c0, c2 - c1))
    worst = max(hot["series"].percentile(99), hot["fleet"].percentile(99))
    print("goal (storm): series and fleet p99 < %.0f ms: %s (worst %.2f ms)" % (
        GOAL_P99_MS, "MET" if worst < GOAL_P99_MS else "NOT MET", worst))
    if not alive or rc not in (0, None):
        print("vigil died during the benchmark (exit status %s); log: %s" % (rc, g.log_path))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
