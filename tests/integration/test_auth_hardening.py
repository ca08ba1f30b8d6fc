# SPDX-License-Identifier: Apache-2.0
"""Authentication hardening against the real binary: the first admin needs the
one-time setup code the gateway logs; setup on a set-up gateway is refused
cheaply; failed sign-ins back off per client address and account (a second
loopback address, 127.0.0.2, plays the other client — the gateway trusts only
the TCP peer, never X-Forwarded-For); deleting or demoting a user revokes their
tokens and sessions; tokens record their last use; user and token names are
checked."""
import http.client
import json
import time

import pytest
import requests

from conftest import Gateway


@pytest.fixture
def gw(tmp_path):
    g = Gateway(tmp_path)
    g.start()
    yield g
    g.stop()


def call(g, method, path, body=None, source="127.0.0.1", headers=None):
    """One request from a chosen loopback source address: (status, headers, JSON or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=15, source_address=(source, 0))
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, doc
    finally:
        conn.close()


def set_up(g, name="root", password="first-admin-pw"):
    """Creates the first admin with the code from the log; a signed-in session."""
    s = requests.Session()
    r = s.post(g.url("/api/v1/auth/setup"), json={"name": name, "password": password, "setup_code": g.setup_code()},
               timeout=15)
    assert r.status_code == 201, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf"]
    return s


def sign_in(g, name, password):
    s = requests.Session()
    r = s.post(g.url("/api/v1/auth/login"), json={"name": name, "password": password}, timeout=15)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf"]
    return s


def test_the_first_admin_needs_the_setup_code_printed_in_the_log(gw):
    code = gw.setup_code()
    assert len(code) == 11 and code[5] == "-"
    log = gw.log_text()
    assert "no users yet" in log and "vigil user add NAME --role admin" in log
    assert requests.get(gw.url("/api/v1/auth/session"), timeout=5).json()["setup_required"] is True
    body = {"name": "root", "password": "first-admin-pw"}
    r = requests.post(gw.url("/api/v1/auth/setup"), json=body, timeout=15)
    assert r.status_code == 403 and r.json()["code"] == "bad_setup_code"
    wrong = "AAAAA-AAAAA" if code != "AAAAA-AAAAA" else "BBBBB-BBBBB"
    r = requests.post(gw.url("/api/v1/auth/setup"), json=dict(body, setup_code=wrong), timeout=15)
    assert r.status_code == 403
    # lower case without the dash is the same code
    r = requests.post(gw.url("/api/v1/auth/setup"), json=dict(body, setup_code=code.replace("-", "").lower()),
                      timeout=15)
    assert r.status_code == 201, r.text
    s = requests.Session()
    s.cookies = r.cookies
    s.headers["X-CSRF-Token"] = r.json()["csrf"]
    audit = s.get(gw.url("/api/v1/audit"), timeout=5).json()
    assert any(e["action"] == "setup.admin" and "127.0.0.1" in e.get("detail", "") for e in audit)
    deadline = time.time() + 5
    while "first admin 'root' created from 127.0.0.1" not in gw.log_text() and time.time() < deadline:
        gw.log_text(wait=0.2)
    assert "first admin 'root' created from 127.0.0.1" in gw.log_text()


def test_wrong_setup_codes_back_off_that_address_only(gw):
    code = gw.setup_code()
    body = {"name": "root", "password": "first-admin-pw", "setup_code": "22222-22222"}
    statuses = [call(gw, "POST", "/api/v1/auth/setup", body)[0] for _ in range(3)]
    assert statuses == [403, 403, 403]
    status, headers, doc = call(gw, "POST", "/api/v1/auth/setup", dict(body, setup_code=code))
    assert status == 429 and doc["code"] == "rate_limited" and int(headers["retry-after"]) >= 1
    status, _, doc = call(gw, "POST", "/api/v1/auth/setup", dict(body, setup_code=code), source="127.0.0.2")
    assert status == 201, doc


def test_setup_on_a_set_up_gateway_is_refused_fast_and_never_fails(gw):
    set_up(gw)
    t0 = time.monotonic()
    statuses = [call(gw, "POST", "/api/v1/auth/setup",
                     {"name": "evil%d" % i, "password": "second-admin", "setup_code": "AAAAA-AAAAA"})[0]
                for i in range(20)]
    elapsed = time.monotonic() - t0
    print("20 setup calls on a set-up gateway: %s in %.3f s" % (sorted(set(statuses)), elapsed))
    assert set(statuses) <= {409, 429}, statuses
    assert 409 in statuses  # refused as "already set up", not starved by the rate limit
    # bad JSON and missing fields are plain 4xx as well
    status, _, _ = call(gw, "POST", "/api/v1/auth/setup", None, headers={"Content-Type": "application/json"})
    assert status == 400


def test_a_wrong_password_from_one_address_does_not_lock_the_account_out_for_another(gw):
    admin = set_up(gw)
    assert admin.post(gw.url("/api/v1/users"), json={"name": "ops", "password": "ops-password-1", "role": "viewer"},
                      timeout=15).status_code == 201
    bad = {"name": "ops", "password": "not-the-password"}
    assert [call(gw, "POST", "/api/v1/auth/login", bad)[0] for _ in range(3)] == [401, 401, 401]
    status, headers, doc = call(gw, "POST", "/api/v1/auth/login", {"name": "ops", "password": "ops-password-1"})
    assert status == 429 and int(headers["retry-after"]) >= 1, doc
    # the same account from another address signs in at once
    status, headers, doc = call(gw, "POST", "/api/v1/auth/login", {"name": "ops", "password": "ops-password-1"},
                                source="127.0.0.2")
    assert status == 200 and doc["user"]["name"] == "ops", doc
    # X-Forwarded-For does not make the first address someone else
    status, _, _ = call(gw, "POST", "/api/v1/auth/login", {"name": "ops", "password": "ops-password-1"},
                        headers={"X-Forwarded-For": "198.51.100.1"})
    assert status == 429


def test_a_deleted_users_token_answers_401_and_tokens_record_their_last_use(gw):
    admin = set_up(gw)
    r = admin.post(gw.url("/api/v1/users"), json={"name": "leaver", "password": "leaver-pass-1", "role": "admin"},
                   timeout=15)
    assert r.status_code == 201
    uid = r.json()["id"]
    leaver = sign_in(gw, "leaver", "leaver-pass-1")
    r = leaver.post(gw.url("/api/v1/tokens"), json={"name": "integration", "role": "viewer"}, timeout=15)
    assert r.status_code == 201, r.text
    tok, tid = r.json()["token"], r.json()["id"]
    h = {"Authorization": "Bearer " + tok}
    assert requests.get(gw.url("/api/v1/sensors"), headers=h, timeout=5).status_code == 200
    listed = {t["id"]: t for t in admin.get(gw.url("/api/v1/tokens"), timeout=5).json()}
    assert listed[tid]["last_used_at"] is not None
    assert listed[tid]["created_by"] == "leaver"
    assert admin.delete(gw.url("/api/v1/users/%d" % uid), timeout=15).status_code == 200
    r = requests.get(gw.url("/api/v1/sensors"), headers=h, timeout=5)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert leaver.get(gw.url("/api/v1/users"), timeout=5).status_code == 401  # session ended too
    listed = {t["id"]: t for t in admin.get(gw.url("/api/v1/tokens"), timeout=5).json()}
    assert listed[tid]["revoked"] is True


def test_demoting_a_user_revokes_their_tokens_above_the_new_role_and_their_sessions(gw):
    admin = set_up(gw)
    uid = admin.post(gw.url("/api/v1/users"), json={"name": "ops", "password": "ops-password-1", "role": "admin"},
                     timeout=15).json()["id"]
    ops = sign_in(gw, "ops", "ops-password-1")
    admin_tok = ops.post(gw.url("/api/v1/tokens"), json={"name": "a", "role": "admin"}, timeout=15).json()["token"]
    view_tok = ops.post(gw.url("/api/v1/tokens"), json={"name": "v", "role": "viewer"}, timeout=15).json()["token"]
    r = admin.patch(gw.url("/api/v1/users/%d" % uid), json={"role": "technician"}, timeout=15)
    assert r.status_code == 200 and r.json()["role"] == "technician", r.text
    assert requests.get(gw.url("/api/v1/tokens"), headers={"Authorization": "Bearer " + admin_tok},
                        timeout=5).status_code == 401
    assert requests.get(gw.url("/api/v1/sensors"), headers={"Authorization": "Bearer " + view_tok},
                        timeout=5).status_code == 200
    assert ops.get(gw.url("/api/v1/sensors"), timeout=5).status_code == 401
    r = admin.patch(gw.url("/api/v1/users/%d" % uid), json={"role": "owner"}, timeout=15)
    assert r.status_code == 422
    me = [u for u in admin.get(gw.url("/api/v1/users"), timeout=5).json() if u["name"] == "root"][0]
    r = admin.patch(gw.url("/api/v1/users/%d" % me["id"]), json={"role": "viewer"}, timeout=15)
    assert r.status_code == 409 and r.json()["code"] == "last_admin"
    audit = admin.get(gw.url("/api/v1/audit"), timeout=5).json()
    assert any(e["action"] == "user.role" and e["target"] == "ops" for e in audit)
    doc = requests.get(gw.url("/api/v1/openapi.json"), timeout=5).json()
    assert "patch" in doc["paths"]["/api/v1/users/{id}"]


def test_user_and_token_names_are_checked(gw):
    admin = set_up(gw)
    for name in ("", "x" * 65, "nul\u0000name", "line\nbreak", "x" * 100000):
        r = admin.post(gw.url("/api/v1/users"), json={"name": name, "password": "password-123", "role": "viewer"},
                       timeout=15)
        assert r.status_code == 422, (name[:20], r.text)
        assert "user name" in r.json()["detail"]
    r = admin.post(gw.url("/api/v1/tokens"), json={"name": "bad\u0000name", "role": "viewer"}, timeout=15)
    assert r.status_code == 422 and "control characters" in r.json()["detail"]
    status, _, doc = call(gw, "POST", "/api/v1/auth/login", {"name": "x" * 100000, "password": "whatever-1"})
    assert status == 422, doc
