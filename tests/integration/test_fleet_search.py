# SPDX-License-Identifier: Apache-2.0
"""Tags and the fleet search against a real `vigil serve`: tags set with
PATCH on assets, positions and sensors (bounded, 422 naming the field),
kept in SQLite (core schema v6), and GET /api/v1/fleet/search with the
filter language (400 naming a malformed term), its answer matching the
OpenAPI document."""
import requests

from openapi_check import response_schema, schema_errors
from test_fleet_lifecycle import Api, db_rows, plant, served  # noqa: F401 - the fixture


def test_tags_and_the_fleet_search(served):
    api = Api(served, served.token)
    site, asset, de, nde = plant(api)
    a = api.ok("POST", "/api/v1/sensors", 201, json={"address": "AA:BB:CC:DD:EE:01", "position_id": de})["id"]
    b = api.ok("POST", "/api/v1/sensors", 201, json={"address": "AA:BB:CC:DD:EE:02", "position_id": nde})["id"]

    node = api.ok("PATCH", "/api/v1/assets/%d" % asset, json={"tags": {"line": "2", "criticality": "A"}})
    assert node["tags"] == {"line": "2", "criticality": "A"} and node["name"] == "Pump 1"
    api.ok("PATCH", "/api/v1/positions/%d" % nde, json={"tags": {"side": "NDE"}})
    api.ok("PATCH", "/api/v1/sensors/%d" % b, json={"tags": {"batch": "7"}})
    rows = db_rows(served, "SELECT kind, id, key, value FROM catalog_tags ORDER BY kind, key")
    assert ("asset", asset, "criticality", "A") in rows and ("sensor", b, "batch", "7") in rows

    bad = api("PATCH", "/api/v1/sensors/%d" % a, json={"tags": {"bad key": "x"}})
    assert bad.status_code == 422 and bad.json()["field"] == "tags"

    def search(q):
        return api.ok("GET", "/api/v1/fleet/search", params={"q": q})

    assert {s["id"] for s in search("criticality=A line=2")["sensors"]} == {a, b}
    assert [s["id"] for s in search("side=NDE")["sensors"]] == [b]
    assert [s["id"] for s in search("batch!=7 line=2")["sensors"]] == [a]
    # Nothing heard from either yet: both silent, no battery known.
    assert search("no_data>2h")["count"] == 2
    assert search("battery<20")["count"] == 0
    r = search("line=2")
    doc = requests.get(served.url("/api/v1/openapi.json"), timeout=5).json()
    assert schema_errors(doc, response_schema(doc, "/api/v1/fleet/search"), r) == []

    bad = api("GET", "/api/v1/fleet/search", params={"q": "line=2 battery<<3"})
    assert bad.status_code == 400
    assert bad.json()["term"] == "battery<<3" and "battery<<3" in bad.json()["detail"]
    # A decommissioned sensor leaves the results.
    api.ok("POST", "/api/v1/sensors/%d/decommission" % b)
    assert [s["id"] for s in search("line=2")["sensors"]] == [a]
