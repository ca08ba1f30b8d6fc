# SPDX-License-Identifier: Apache-2.0
"""Hostile clients against the real binary (issue 12): one request must never
stop the gateway, and a hostile network must not take it from its
legitimate users.

- the role matrix over every route of /api/v1/openapi.json: no credentials
  401 (public routes excepted), a viewer 403 on technician and admin routes,
  a technician 403 on admin routes, nobody ever a 5xx; unknown ids 404
- the extremes of every query parameter (int64 min/max, -1, 0, huge
  strings, NUL, bytes that are not UTF-8) and of every path id: never a 5xx,
  the process lives on; time ranges spanning all of int64 on series with
  points not yet checkpointed (the viewer's SIGFPE)
- memory under 10,000 distinct /api/v1/alerts parameters stays flat
- slowloris and idle-connection floods: a legitimate client is still served
  (>= 95 % here; the >= 99 % goal and latencies are in
  tests/bench/hostile_bench.sh)
- setup and login floods: answered cheaply, rate limited with Retry-After,
  and neither the legitimate client nor the real admin is locked out
- malformed HTTP gets a 4xx status line, never a bare reset

Attackers connect from 127.0.0.2 and up, the legitimate client from
127.0.0.1 (hostile_util.py), so per-client limits see them as different
clients. Limits are configured small where this vigil has the option
(config/vigil.json lists them) so the floods stay small and quick.

Run again under TSan + UBSan by tests/ci.d/15-tsan-ubsan.sh; each gateway's exit
status and log are checked for a crash or a sanitizer report at teardown."""
import http.client
import json
import re
import threading
import time

import pytest
import requests

from hostile_util import (ConnectionHog, HostileGateway, KeepAlive, RequestFlood, exchange, known,
                          legit_client, request)

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1

# Small limits for the flood tests, set only where this vigil has the option.
FLOOD_HTTP = {
    "max_connections": 64,
    "max_connections_per_client": 32,
    "header_timeout_s": 2,
    "idle_timeout_s": 2,
    "request_timeout_s": 10,
}


@pytest.fixture
def make_gateway(tmp_path):
    """Makes gateways; at teardown each must stop with status 0 (a crash is
    -SIGNAL, a UBSan report 1) and its log must hold no sanitizer report."""
    made = []

    def make(**kw):
        d = tmp_path / ("gw%d" % len(made))
        d.mkdir()
        g = HostileGateway(d, **kw)
        made.append(g)
        return g

    yield make
    problems = []
    for g in made:
        rc = g.stop()
        log = g.log(tail=10 ** 7)
        if rc not in (0, None):
            problems.append("vigil (%s) exited with status %s" % (g.dir.name, rc))
        if any(mark in log for mark in ("runtime error:", "AddressSanitizer", "ThreadSanitizer")):
            problems.append("sanitizer report in %s:\n%s" % (g.log_path, log[-3000:]))
    assert not problems, "\n".join(problems) + "\n--- log tail ---\n" + (made[-1].log() if made else "")


def assert_alive(g):
    assert g.alive(), "vigil died (status %s):\n%s" % (g.proc.returncode, g.log())
    status, _, body = request(g.port, "GET", "/api/v1/health", timeout=10)
    assert status in (200, 503), body  # 503: a component is down, but the process answers


def ask(g, client, method, target, body=None):
    """client.request, where a dropped connection fails the test naming the
    request that did it and how the gateway ended."""
    try:
        return client.request(method, target, body=body)
    except (OSError, http.client.HTTPException) as e:
        time.sleep(0.5)
        pytest.fail("%s %s: the connection was dropped (%r); vigil %s\n%s" % (
            method, target[:200], e, "runs" if g.alive() else "exited with status %s" % g.proc.returncode,
            g.log(tail=2000)))


def bearer(token):
    return {"Authorization": "Bearer " + token}


def openapi(g):
    status, _, body = request(g.port, "GET", "/api/v1/openapi.json")
    assert status == 200
    return json.loads(body)


def operations(doc):
    """(METHOD, path, role) for every operation; role "" = public."""
    ops = []
    for path, methods in sorted(doc["paths"].items()):
        for method, op in sorted(methods.items()):
            ops.append((method.upper(), path, op.get("x-vigil-role", ""), op.get("x-vigil-module")))
    return ops


def fill(path, id_value="999999", name_value="hostile_missing_class"):
    return path.replace("{id}", str(id_value)).replace("{name}", name_value)


def call(g, method, target, headers=None, timeout=10):
    """One request; a JSON `{}` body for unsafe methods. Event streams are
    cut after their status line."""
    body = {} if method in ("POST", "PUT", "PATCH") else None
    if target.startswith("/api/v1/events"):
        r = requests.request(method, g.url(target), headers=headers or {}, stream=True, timeout=timeout)
        r.close()
        return r.status_code, r.headers.get("Content-Type", ""), b""
    status, hdrs, data = request(g.port, method, target, headers=headers, body=body, timeout=timeout)
    return status, hdrs.get("content-type", ""), data


# ---- the role matrix -----------------------------------------------------------

RANK = {"viewer": 1, "technician": 2, "admin": 3}


def test_every_openapi_route_enforces_its_role_and_never_answers_5xx(make_gateway):
    g = make_gateway()
    tokens = {role: g.token(role) for role in RANK}
    g.start()
    doc = openapi(g)
    ops = operations(doc)
    assert len(ops) >= 40, "the OpenAPI document lists only %d operations" % len(ops)
    wrong = []
    checked = 0
    for method, path, role, module in ops:
        assert role in ("", "viewer", "technician", "admin"), "%s %s: unknown x-vigil-role %r" % (method, path, role)
        target = fill(path)
        status, ctype, body = call(g, method, target)
        if module and status == 404:
            continue  # a module's route (BLE) this gateway does not run
        checked += 1
        who = "anonymous"
        if role == "":
            if status == 401 or status >= 500:
                wrong.append("%s %s as %s: %d %s" % (method, target, who, status, body[:200]))
        elif status != 401 or not ctype.startswith("application/problem+json"):
            wrong.append("%s %s as %s: %d (want 401 problem) %s" % (method, target, who, status, body[:200]))
        for who, tok in tokens.items():
            status, ctype, body = call(g, method, target, headers=bearer(tok))
            allowed = role == "" or RANK[who] >= RANK[role]
            if status >= 500:
                wrong.append("%s %s as %s: %d %s" % (method, target, who, status, body[:200]))
            elif not allowed and status != 403:
                wrong.append("%s %s as %s: %d (want 403) %s" % (method, target, who, status, body[:200]))
            elif allowed and status == 401:
                wrong.append("%s %s as %s: 401 for an allowed role %s" % (method, target, who, body[:200]))
            elif allowed and status == 403 and path != "/api/v1/users/{id}/password":
                # (a password of someone else's id is rightly 403 for non-admins)
                wrong.append("%s %s as %s: 403 for an allowed role %s" % (method, target, who, body[:200]))
    assert checked >= 40
    assert not wrong, "\n".join(wrong)
    assert_alive(g)


def test_methods_the_openapi_document_does_not_list_are_not_served(make_gateway):
    # The role matrix is only complete if every route is in the document: a
    # method it does not list must be 404 or 405, even for an admin.
    g = make_gateway()
    admin = g.token("admin")
    g.start()
    doc = openapi(g)
    wrong = []
    for path, methods in sorted(doc["paths"].items()):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method.lower() in methods:
                continue
            for headers in (None, bearer(admin)):
                status, _, body = call(g, method, fill(path), headers=headers)
                if status not in (401, 404, 405) or (headers and status == 401):
                    wrong.append("%s %s%s: %d %s" % (method, path, " as admin" if headers else "", status, body[:160]))
    assert not wrong, "routes answering outside the OpenAPI document:\n" + "\n".join(wrong)
    assert_alive(g)


def test_an_unknown_id_is_404_on_every_route_that_names_one(make_gateway):
    g = make_gateway()
    admin = g.token("admin")
    g.start()
    wrong = []
    for method, path, role, module in operations(openapi(g)):
        if "{id}" not in path and "{name}" not in path or module or method == "PUT":
            continue  # PUT /machine-classes/{name} creates
        for missing in ("999999", str(INT64_MAX)):
            target = fill(path, id_value=missing)
            status, _, body = call(g, method, target, headers=bearer(admin))
            want = (404,) if method in ("GET", "DELETE") else (404, 422)  # a POST may check its body first
            if status not in want:
                wrong.append("%s %s: %d (want %s) %s" % (method, target, status, want, body[:160]))
    assert not wrong, "\n".join(wrong)
    assert_alive(g)


# ---- parameter extremes ------------------------------------------------------------

# Query parameters the handlers read, by route (the OpenAPI document names
# them in its summaries; any it declares as "in: query" are added).
QUERY = {
    "/api/v1/assets": ["site_id"],
    "/api/v1/positions": ["asset_id"],
    "/api/v1/series/{id}": ["from", "to", "points", "format", "raw"],
    "/api/v1/alerts": ["status", "severity", "asset_id", "position_id", "since", "limit", "format"],
    "/api/v1/positions/{id}/measurements": ["from", "to", "limit"],
    "/api/v1/positions/{id}/spectra": ["kind", "limit", "at", "measurement_id", "waveform_id", "from_hz", "to_hz",
                                       "cut_hz", "max_bins", "baseline", "resolution"],
    "/api/v1/audit": ["limit"],
}

# Raw (already percent-encoded) values.
EXTREMES = [
    str(INT64_MIN), str(INT64_MAX), str(INT64_MAX + 1), str(INT64_MIN - 1), "99999999999999999999999999",
    "-1", "0", "1", "1e308", "-1e308", "NaN", "inf", "0x7fffffffffffffff", "%201", "1%20", "+1", "--1", "",
    "A" * 8000, "%00", "1%001", "%FF%FE", "%C3%28", "%E2%82", "%ED%A0%80", "..%2F..%2Fetc%2Fpasswd",
    "1'%20OR%20'1'='1", "1;DROP%20TABLE%20users", "%25", "%", "%G0", "csv", "json", "acknowledged,open",
]

IDS = [str(INT64_MIN), str(INT64_MAX), str(INT64_MAX + 1), "-1", "0", "1", "1e3", "0x10", "%00", "1%00",
       "%FF", "A" * 4000, "1.5", "%2F"]


def query_params(doc):
    params = {p: list(v) for p, v in QUERY.items()}
    for path, methods in doc["paths"].items():
        for p in methods.get("get", {}).get("parameters", []):
            if p.get("in") == "query" and p["name"] not in params.setdefault(path, []):
                params[path].append(p["name"])
    return params


def seed_plant(g, admin):
    """One site, asset and position through the API; returns their ids."""
    h = bearer(admin)
    site = requests.post(g.url("/api/v1/sites"), json={"name": "Hostile plant"}, headers=h, timeout=10).json()
    asset = requests.post(g.url("/api/v1/assets"), json={"site_id": site["id"], "name": "Pump"}, headers=h,
                          timeout=10).json()
    pos = requests.post(g.url("/api/v1/positions"), json={"asset_id": asset["id"], "name": "DE", "type": "pump"},
                        headers=h, timeout=10).json()
    return site["id"], asset["id"], pos["id"]


def test_extreme_query_parameters_and_ids_never_answer_5xx_and_the_gateway_lives(make_gateway):
    g = make_gateway()
    admin = g.token("admin")
    g.start()
    doc = openapi(g)
    params = query_params(doc)
    for path in params:
        assert path in doc["paths"], "%s is not in the OpenAPI document" % path
    _, asset_id, pos_id = seed_plant(g, admin)
    c = KeepAlive(g.port, headers=bearer(admin), timeout=20)
    wrong, sent = [], 0
    for path, names in sorted(params.items()):
        base = fill(path, id_value=pos_id if "positions" in path else 1)
        for name in names:
            for value in EXTREMES:
                target = "%s?%s=%s" % (base, name, value)
                status, _, body = ask(g, c, "GET", target)
                sent += 1
                if status >= 500:
                    wrong.append("GET %s: %d %s" % (target[:160], status, body[:200]))
    # every path id, every method
    for method, path, role, module in operations(doc):
        if "{id}" not in path or module or path == "/api/v1/events":
            continue
        for value in IDS:
            if method == "DELETE" and value == "1":
                continue  # token 1 is the one this test uses
            target = fill(path, id_value=value)
            status, _, body = ask(g, c, method, target, body={} if method not in ("GET", "DELETE") else None)
            sent += 1
            if status >= 500:
                wrong.append("%s %s: %d %s" % (method, target[:160], status, body[:200]))
    c.close()
    assert sent > 400
    assert not wrong, "\n".join(wrong)
    assert_alive(g)
    # The plant is still there and readable: nothing above wrote or broke it.
    r = requests.get(g.url("/api/v1/assets/%d" % asset_id), headers=bearer(admin), timeout=10)
    assert r.status_code == 200 and r.json()["name"] == "Pump"


def test_time_ranges_spanning_all_of_int64_on_live_series_do_not_crash(make_gateway):
    # The viewer's SIGFPE: `to - from` overflowed on a series with points not
    # yet checkpointed (so the demo checkpoints rarely here), the bucket width
    # became 0 and the division trapped.
    g = make_gateway(mode="demo", extra={"storage": {"checkpoint_interval_s": 3600}})
    g.start()
    # In the demo, loopback clients are technicians: no token needed.
    series = []
    deadline = time.time() + 20
    while time.time() < deadline and not series:
        for p in requests.get(g.url("/api/v1/positions"), timeout=10).json()[:2]:
            for s in requests.get(g.url("/api/v1/positions/%d/series" % p["id"]), timeout=10).json():
                d = requests.get(g.url("/api/v1/series/%d?points=10" % s["id"]), timeout=10).json()
                if sum(d.get("count", [])) > 0:
                    series.append(s["id"])
        if not series:
            time.sleep(0.5)
    assert series, "the demo produced no readings within 20 s"
    now = int(time.time() * 1000)
    ranges = [(INT64_MIN, INT64_MAX), (INT64_MIN, 0), (0, INT64_MAX), (INT64_MIN, now), (-1, INT64_MAX),
              (INT64_MIN, INT64_MIN), (INT64_MAX, INT64_MAX), (INT64_MAX - 1, INT64_MAX), (INT64_MIN, INT64_MIN + 1),
              (now - 1, INT64_MAX), (INT64_MIN, -1)]
    c = KeepAlive(g.port, timeout=30)
    wrong = []
    targets = []
    for sid in series[:3]:
        for frm, to in ranges:
            for extra in ("points=1", "points=2", "points=10000", "format=csv", "format=csv&raw=1"):
                targets.append("/api/v1/series/%d?from=%d&to=%d&%s" % (sid, frm, to, extra))
    positions = [p["id"] for p in requests.get(g.url("/api/v1/positions"), timeout=10).json()[:2]]
    for pid in positions:
        for frm, to in ranges:
            targets.append("/api/v1/positions/%d/measurements?from=%d&to=%d&limit=5000" % (pid, frm, to))
    for since in (INT64_MIN, INT64_MAX, -1):
        targets.append("/api/v1/alerts?since=%d&limit=10000" % since)
    for t in targets:
        status, _, body = ask(g, c, "GET", t)
        if status >= 500:
            wrong.append("GET %s: %d %s" % (t, status, body[:200]))
    c.close()
    assert not wrong, "\n".join(wrong)
    assert_alive(g)


# ---- memory ----------------------------------------------------------------------

def test_ten_thousand_distinct_alert_filters_do_not_grow_memory(make_gateway):
    # Each distinct since/asset_id/position_id/limit used to become a new
    # prepared statement kept forever on every reader connection (+166 MB
    # for 10,000). Checked every 500 requests so today's build fails fast.
    limit_mb = 20
    g = make_gateway()
    viewer = g.token("viewer")
    g.start()
    c = KeepAlive(g.port, headers=bearer(viewer), timeout=30)
    base_ts = 1_700_000_000_000
    for i in range(600):  # warm-up: reader connections, pools, the allocator's arenas
        status, _, _ = c.request("GET", "/api/v1/alerts?since=%d&limit=%d" % (base_ts + i % 30, 1 + i % 30))
        assert status == 200
    before = g.rss_kb()
    sent, growth_mb = 0, 0.0
    for name in ("since", "asset_id", "position_id", "limit"):
        for i in range(2500):
            value = base_ts + 1000 + i if name == "since" else (1 + i if name == "limit" else 1000 + i)
            status, _, body = c.request("GET", "/api/v1/alerts?%s=%d" % (name, value))
            assert status < 500, body
            sent += 1
            if sent % 500 == 0:
                growth_mb = (g.rss_kb() - before) / 1024.0
                if growth_mb > limit_mb:
                    break
        if growth_mb > limit_mb:
            break
    c.close()
    growth_mb = (g.rss_kb() - before) / 1024.0
    print("RSS %.1f MB before, %+.1f MB after %d distinct /api/v1/alerts filters" % (before / 1024.0, growth_mb, sent))
    assert growth_mb < limit_mb, "RSS grew %.1f MB after %d distinct /api/v1/alerts filters" % (growth_mb, sent)
    assert sent == 10000
    assert_alive(g)


# ---- connection floods -----------------------------------------------------------

def run_flood_against_legit(g, attacker, path, headers, seconds=8, rate_hz=10):
    attacker.start()
    try:
        attacker.ready(timeout=60)
        assert attacker.opened >= attacker.count, "the attacker opened only %d connections" % attacker.opened
        time.sleep(0.5)
        res = legit_client(g.port, path, headers, rate_hz=rate_hz, duration_s=seconds, timeout=5)
        still_holding = len(attacker.socks)
    finally:
        attacker.stop()
    return res, still_holding


def test_slowloris_from_many_addresses_leaves_a_legitimate_client_served(make_gateway):
    # 160 connections from 8 addresses, each sending a header line every
    # second and never finishing its request head, against a cap of 64.
    g = make_gateway(http=known("http", FLOOD_HTTP))
    viewer = g.token("viewer")
    g.start()
    hog = ConnectionHog(g.port, count=160, addresses=8, trickle_s=1.0, tick_s=0.5)
    res, _ = run_flood_against_legit(g, hog, "/api/v1/fleet", bearer(viewer))
    print("slowloris: legit %s; attacker opened %d, dropped %d" % (res.summary(), hog.opened, hog.dropped))
    assert res.success_rate >= 0.95 and res.total >= 20, res.summary()
    assert_alive(g)


def test_an_idle_connection_flood_leaves_a_legitimate_client_served(make_gateway):
    # 150 connections that never send a byte, from one address, against a
    # cap of 64: they used to fill the cap and every new client was reset.
    g = make_gateway(http=known("http", FLOOD_HTTP))
    viewer = g.token("viewer")
    g.start()
    hog = ConnectionHog(g.port, count=150, addresses=1, trickle_s=None, tick_s=0.5)
    res, _ = run_flood_against_legit(g, hog, "/api/v1/fleet", bearer(viewer))
    print("idle flood: legit %s; attacker opened %d, dropped %d" % (res.summary(), hog.opened, hog.dropped))
    assert res.success_rate >= 0.95 and res.total >= 20, res.summary()
    assert_alive(g)


# ---- request floods ----------------------------------------------------------------

# A legitimate request during a request flood succeeds when it is answered
# 200 within this many seconds: 20x the benchmark's p99 goal, so a loaded CI
# machine passes, while a gateway that queues /health behind password hashes
# (seconds, issue 12) does not.
PROBE_TIMEOUT_S = 2


def legit_during(g, flood, probes, seconds=6):
    """Runs `flood` while each (path, headers) in `probes` is requested 5
    times a second from 127.0.0.1; returns their results."""
    results = [None] * len(probes)

    def probe(i, path, headers):
        results[i] = legit_client(g.port, path, headers, rate_hz=5, duration_s=seconds, timeout=PROBE_TIMEOUT_S)

    flood.start()
    try:
        time.sleep(1.0)  # let the flood reach full speed
        threads = [threading.Thread(target=probe, args=(i, p, h)) for i, (p, h) in enumerate(probes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        flood.stop()
    return results


def test_a_setup_flood_on_a_set_up_gateway_is_answered_cheaply_and_health_stays_served(make_gateway):
    # 16 clients POST /api/v1/auth/setup on a gateway that has its admin:
    # it used to hash each password before noticing (/health 0.7 ms → 10.5 s).
    g = make_gateway()
    g.user("admin", "admin", "the-real-admin-pw")
    viewer = g.token("viewer")
    g.start()
    flood = RequestFlood(g.port, "POST", "/api/v1/auth/setup",
                         {"name": "mallory", "password": "mallory-pw-123", "setup_code": "AAAAA-AAAAA"}, clients=16)
    health, fleet = legit_during(g, flood, [("/api/v1/health", {}), ("/api/v1/fleet", bearer(viewer))])
    print("setup flood: %s; health %s; fleet %s" % (flood.statuses, health.summary(), fleet.summary()))
    assert sum(flood.statuses.values()) > 50, flood.statuses
    assert set(flood.statuses) <= {409, 429, 503}, flood.statuses  # already set up / limited / shed, never 201 or 500
    assert health.success_rate >= 0.95 and health.total >= 10, health.summary()
    assert fleet.success_rate >= 0.95 and fleet.total >= 10, fleet.summary()
    r = requests.post(g.url("/api/v1/auth/login"), json={"name": "admin", "password": "the-real-admin-pw"}, timeout=10)
    assert r.status_code == 200, r.text
    assert_alive(g)


def setup_code_from_log(g, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(r"setup code ([A-Za-z0-9-]+)", g.log(tail=10 ** 6))
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise AssertionError("no setup code in the log of a gateway without users:\n" + g.log())


def test_a_wrong_setup_code_flood_is_rate_limited_and_the_operator_still_sets_up(make_gateway):
    # First start: anyone reaching the port could claim the admin. Now a
    # setup code from the log is needed; guessing it from another address is
    # rate limited (429 + Retry-After) without costing the operator.
    g = make_gateway()
    g.start()
    code = setup_code_from_log(g)
    flood = RequestFlood(g.port, "POST", "/api/v1/auth/setup",
                         {"name": "mallory", "password": "mallory-pw-123", "setup_code": "AAAAA-AAAAA"}, clients=16)
    (health,) = legit_during(g, flood, [("/api/v1/health", {})], seconds=5)
    print("setup-code flood: %s; health %s" % (flood.statuses, health.summary()))
    assert flood.statuses.get(201, 0) == 0, flood.statuses
    assert set(flood.statuses) <= {403, 429, 503}, flood.statuses
    assert flood.statuses.get(429, 0) > 0, flood.statuses
    assert flood.retry_after and all(v.isdigit() and int(v) >= 1 for v in flood.retry_after), flood.retry_after[:5]
    assert health.success_rate >= 0.95 and health.total >= 10, health.summary()
    r = requests.post(g.url("/api/v1/auth/setup"), json={"name": "operator", "password": "operator-pw-123",
                                                         "setup_code": code}, timeout=10)
    assert r.status_code == 201, r.text
    assert_alive(g)


def test_a_password_guessing_flood_neither_stalls_the_gateway_nor_locks_out_the_admin(make_gateway):
    # Five wrong passwords from anywhere used to lock the real admin out for
    # 15 minutes. Lock-out is per client address and account now.
    g = make_gateway()
    g.user("admin", "admin", "the-real-admin-pw")
    g.start()
    flood = RequestFlood(g.port, "POST", "/api/v1/auth/login", {"name": "admin", "password": "guess-guess-1"},
                         clients=16, addresses=4)
    (health,) = legit_during(g, flood, [("/api/v1/health", {})], seconds=5)
    print("login flood: %s; health %s" % (flood.statuses, health.summary()))
    assert flood.statuses.get(200, 0) == 0, flood.statuses
    assert set(flood.statuses) <= {401, 429, 503}, flood.statuses
    assert flood.statuses.get(429, 0) > 0, flood.statuses
    assert all(v.isdigit() and int(v) >= 1 for v in flood.retry_after), flood.retry_after[:5]
    assert health.success_rate >= 0.95 and health.total >= 10, health.summary()
    r = requests.post(g.url("/api/v1/auth/login"), json={"name": "admin", "password": "the-real-admin-pw"}, timeout=10)
    assert r.status_code == 200, r.text
    assert_alive(g)


# ---- malformed HTTP ----------------------------------------------------------------

MALFORMED = {
    "oversized header": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    "many headers": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(1000)) + b"\r\n",
    "oversized request line": b"GET /api/v1/health?" + b"q" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-numeric Content-Length": b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    "negative Content-Length": b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
    "huge Content-Length": b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
    "two Content-Lengths": b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "Content-Length and chunked": b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n{}",
    "bad chunk size": b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "HTTP/0.9 with a path": b"GET /api/v1/health\r\n",
    "no version": b"GET /api/v1/health \r\nHost: x\r\n\r\n",
    "bad version": b"GET /api/v1/health HTTP/9.9x\r\nHost: x\r\n\r\n",
    "space in header name": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "NUL in request line": b"GET /api/v1/\x00health HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare LF garbage": b"\x01\x02\x03\x04\n\n",
    "TLS hello on the HTTP port": bytes.fromhex("16030100a1010000") + b"\x00" * 64,
}


def test_malformed_http_gets_a_4xx_status_line_not_a_reset(make_gateway):
    g = make_gateway(http=known("http", {"header_timeout_s": 3}))
    g.start()
    wrong = []
    for name, payload in sorted(MALFORMED.items()):
        status, head, how = exchange(g.port, payload, timeout=8)
        if status is None or not 400 <= status < 500:
            wrong.append("%s: %s, got %r" % (name, how, head[:120]))
        assert g.alive(), "vigil died on %s:\n%s" % (name, g.log())
    assert not wrong, "\n".join(wrong)
    assert_alive(g)


def test_an_http2_preface_gets_a_status_line(make_gateway):
    g = make_gateway()
    g.start()
    status, head, how = exchange(g.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", timeout=8)
    assert status is not None and (400 <= status < 500 or status == 505), "%s, got %r" % (how, head)
    assert_alive(g)


def test_percent_encoded_garbage_in_paths_and_queries_is_answered(make_gateway):
    g = make_gateway()
    viewer = g.token("viewer")
    g.start()
    wrong = []
    for raw in ("/api/v1/%00", "/api/v1/sites%00", "/api/v1/%FF%FE%FD", "/%2e%2e/%2e%2e/etc/passwd",
                "/api/v1/../../etc/passwd", "/api/v1/alerts?%FF=%FE", "/api/v1/alerts?a=%00&b=%",
                "/api/v1/series/1?from=%2D9223372036854775808&to=9223372036854775807&points=1",
                "/" + "%41" * 3000, "/api/v1/alerts?" + "&".join("p%d=%d" % (i, i) for i in range(500))):
        status, _, body = ask(g, KeepAlive(g.port, headers=bearer(viewer)), "GET", raw)
        if status >= 500 or status < 200:
            wrong.append("GET %s: %d %s" % (raw[:100], status, body[:160]))
        if b"root:x:0:0" in body:
            wrong.append("GET %s served /etc/passwd" % raw)
    assert not wrong, "\n".join(wrong)
    assert_alive(g)
