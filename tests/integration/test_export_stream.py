# SPDX-License-Identifier: Apache-2.0
"""GET /api/v1/export streams (issue 17, "own your data"): an export larger
than the old 200,000-point cap arrives whole, chunked, with the same rows
`vigil export` writes for the same filters; gzip streams too; a client that
goes away midway leaves the gateway answering; a third concurrent export is
refused with 429; bad parameters keep their 400/404 answers.

The data: a Monitron record creates Hall 3 / P-7 pump / Drive end, then a
CSV import (gateway stopped) adds 260,000 temperature points 3 s apart over
the last 9 days, and `vigil serve` runs on it (no new data arrives, so the
CLI and REST see the same points).
"""
import calendar
import csv
import gzip
import io
import json
import socket
import subprocess
import time

import pytest
import requests

from conftest import VIGIL, Gateway

N_POINTS = 260_000


def start(g):
    """Starts `vigil serve`; waits until it answers (health may say 503: the
    imported data is old and no sensor reports, which is no concern here)."""
    g.proc = subprocess.Popen([VIGIL, "serve", "--config", g.config], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        assert g.proc.poll() is None, g.proc.stderr.read()
        try:
            requests.get(g.url("/api/v1/health"), timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("vigil serve did not answer")


def cli(*args):
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=120)


def _monitron_record(ts):
    return {
        "timestamp": ts, "eventId": "e-" + ts, "version": "2.0", "accountId": "1", "projectName": "Plant",
        "projectId": "p", "eventType": "measurement",
        "eventPayload": {
            "siteName": "Hall 3", "assetName": "P-7 pump", "positionName": "Drive end", "companyName": "ACME",
            "sensor": {"physicalId": "S1", "rssi": -60}, "gateway": {"physicalId": "gw"}, "sequenceNo": 1,
            "features": {"temperature": 40.0},
        },
    }


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    box = tmp_path_factory.mktemp("export")
    g = Gateway(box)
    token = cli("token", "create", "--role", "viewer", "--config", g.config).stdout.strip()
    assert token
    start_ms = (int(time.time()) - 9 * 86400) * 1000
    mon = box / "m.jsonl"
    mon.write_text(json.dumps(_monitron_record(time.strftime("%Y-%m-%d 10:00:00.000", time.gmtime(start_ms / 1000))))
                   + "\n")
    r = cli("import", str(mon), "--config", g.config, "--format", "monitron")
    assert r.returncode == 0, r.stderr
    readings = box / "r.csv"
    with open(readings, "w") as f:
        f.write("timestamp,position,metric,value\n")
        for i in range(N_POINTS):
            f.write("%d,Hall 3/P-7 pump/Drive end,temperature_c,%.3f\n" % (start_ms + 3000 * i + 500, 20 + (i % 1000) / 100))
    r = cli("import", str(readings), "--config", g.config)
    assert r.returncode == 0, r.stdout + r.stderr
    start(g)
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + token
    asset = [a for a in s.get(g.url("/api/v1/assets"), timeout=10).json() if a["name"] == "P-7 pump"][0]
    yield g, s, asset, token
    assert g.stop() == 0


def cli_rows(g, tmp, *filters, fmt="csv"):
    out = tmp / ("cli." + fmt)
    r = cli("export", "--config", g.config, "--out", str(out), "--format", fmt, *filters)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def test_a_large_export_streams_whole_with_the_rows_the_cli_writes(big, tmp_path):
    g, s, asset, _ = big
    t0 = time.time()
    resp = s.get(g.url("/api/v1/export"), params={"asset": asset["id"]}, stream=True, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in resp.headers
    assert resp.headers["Content-Disposition"] == 'attachment; filename="vigil-export-asset%d.csv"' % asset["id"]
    expected = int(resp.headers["X-Vigil-Estimated-Points"])
    assert int(resp.headers["X-Vigil-Export-Points"]) == expected
    assert expected > 200_000
    body = b"".join(resp.iter_content(65536))
    elapsed = time.time() - t0
    want = cli_rows(g, tmp_path, "--asset", str(asset["id"]))
    assert body == want, "REST and CLI exports differ"
    assert body.count(b"\n") - 1 == expected  # the header line, then one line a point
    rows = list(csv.DictReader(io.StringIO(body[:4096].decode())))
    assert rows[0]["asset"] == "P-7 pump"
    print("streamed %d points (%d bytes) in %.2f s" % (expected, len(body), elapsed))


def test_gzip_streams_and_decompresses_to_the_same_rows(big, tmp_path):
    g, s, asset, _ = big
    params = {"asset": asset["id"], "format": "jsonl", "gzip": 1, "from": 0, "to": int(time.time() * 1000) + 86400000}
    resp = s.get(g.url("/api/v1/export"), params=params, stream=True, timeout=60)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/gzip"
    assert resp.headers["Content-Disposition"].endswith('.jsonl.gz"')
    # the raw bytes: requests must not undo the gzip (it is the file, not a Content-Encoding)
    raw = b"".join(resp.raw.stream(65536, decode_content=False))
    text = gzip.decompress(raw)
    want = cli_rows(g, tmp_path, "--asset", str(asset["id"]), "--from", "0", "--to", str(params["to"]), fmt="jsonl")
    assert text == want
    assert text.count(b"\n") == int(resp.headers["X-Vigil-Export-Points"])
    json.loads(text.split(b"\n", 1)[0])


def _start_export(g, token, asset_id):
    """A raw client that asks for an export and reads only the head."""
    sock = socket.create_connection(("127.0.0.1", g.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up quickly: the server must wait
    sock.sendall(("GET /api/v1/export?asset=%d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                  % (asset_id, token)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        assert chunk, head
        head += chunk
    return sock, head


def test_too_many_exports_are_refused_and_a_client_that_goes_away_frees_its_slot(big):
    g, s, asset, token = big
    a, head_a = _start_export(g, token, asset["id"])
    b, head_b = _start_export(g, token, asset["id"])
    try:
        assert head_a.startswith(b"HTTP/1.1 200") and head_b.startswith(b"HTTP/1.1 200")
        # Both stalled clients hold their slots; the gateway keeps answering.
        third = s.get(g.url("/api/v1/export"), params={"asset": asset["id"]}, timeout=10)
        assert third.status_code == 429, third.text
        assert third.json()["code"] == "too_many_exports" and third.headers["Retry-After"]
        assert "2 exports are running" in third.json()["detail"]
        assert s.get(g.url("/api/v1/health"), timeout=5).status_code in (200, 503)
    finally:
        a.close()  # midway: gone without reading the rest
        b.close()
    # The producers notice, give their slots back, and the next export works.
    deadline = time.time() + 10
    while True:
        r = s.get(g.url("/api/v1/export"), params={"asset": asset["id"], "from": 0, "to": 10**13}, stream=True,
                  timeout=30)
        if r.status_code == 200 or time.time() > deadline:
            break
        r.close()
        time.sleep(0.1)
    assert r.status_code == 200, r.text
    n = sum(chunk.count(b"\n") for chunk in r.iter_content(65536))
    assert n - 1 == int(r.headers["X-Vigil-Export-Points"])
    assert s.get(g.url("/api/v1/health"), timeout=5).status_code in (200, 503)


def test_a_complete_download_ends_with_the_last_chunk_and_the_connection(big):
    """Chunked framing is what tells a client the body is complete (a body
    cut short lacks the zero-size last chunk); after it the gateway closes."""
    g, _, asset, token = big
    sock = socket.create_connection(("127.0.0.1", g.port), timeout=10)
    sock.sendall(("GET /api/v1/export?asset=%d&format=jsonl&from=0&to=%d HTTP/1.1\r\nHost: x\r\n"
                  "Authorization: Bearer %s\r\n\r\n" % (asset["id"], int(time.time() * 1000) - 8 * 86400000, token)).encode())
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break  # the gateway closed after the last chunk
        data += chunk
    sock.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Connection: close" in head
    assert body.endswith(b"\r\n0\r\n\r\n")
    # de-chunk: the rows, as many as announced
    text, at = b"", 0
    while True:
        eol = body.index(b"\r\n", at)
        size = int(body[at:eol], 16)
        if size == 0:
            break
        text += body[eol + 2:eol + 2 + size]
        at = eol + 2 + size + 2
    announced = int(dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:])[b"X-Vigil-Export-Points"])
    assert announced > 0 and text.count(b"\n") == announced


def test_bad_parameters_keep_their_answers(big):
    g, s, asset, _ = big
    for bad in ({"format": "xml"}, {"asset": "x"}, {"from": "10", "to": "5"}, {"gzip": "yes"}, {"site": "0"}):
        r = s.get(g.url("/api/v1/export"), params=bad, timeout=10)
        assert r.status_code == 400, bad
        assert r.headers["Content-Type"].startswith("application/problem+json") or r.json()["code"]
        assert r.json()["code"] == "invalid_argument"
    r = s.get(g.url("/api/v1/export"), params={"asset": 999999}, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = requests.get(g.url("/api/v1/export"), params={"asset": asset["id"]}, timeout=10)
    assert r.status_code == 401
    # HEAD: the count and the name, no body, no slot kept
    for _ in range(3):
        h = s.head(g.url("/api/v1/export"), params={"asset": asset["id"]}, timeout=10)
        assert h.status_code == 200 and int(h.headers["X-Vigil-Export-Points"]) > 200_000 and not h.content
    est = s.get(g.url("/api/v1/export/estimate"), params={"asset": asset["id"]}, timeout=10).json()
    assert est["limit"] == 50_000_000 and est["points"] >= N_POINTS


def test_sigterm_stops_the_gateway_promptly_during_a_stalled_export(tmp_path, big):
    g, _, asset, token = big
    sock, head = _start_export(g, token, asset["id"])
    assert head.startswith(b"HTTP/1.1 200")
    t0 = time.time()
    assert g.stop() == 0
    took = time.time() - t0
    sock.close()
    assert took < 5, "stopping took %.1f s" % took
    start(g)  # for any later test of the module
