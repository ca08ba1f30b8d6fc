# SPDX-License-Identifier: Apache-2.0
"""The technician's day against the real binary (issue 16): on the demo plant
on a fast clock, the growing bearing fault makes one alert per position and
model family, titled in plant words; the fleet never reads healthy beside an
active alert, sorts worst first and says how long learning has left; the
close-out preview names the models a closure would re-learn, and a closure
that would re-learn a model still in alarm is refused until confirmed."""
import time

import requests

from conftest import Gateway

FAMILY = {"vibrationISO": "vibration", "vibrationML": "vibration", "temperatureML": "temperature"}
RANK = {"alarm": 6, "warning": 5, "no_data": 4, "not_running": 3, "learning": 2, "healthy": 1, "unknown": 0}


def fast_demo(tmp_path):
    # 2 simulated hours per wall second: learning (1 h) is over in about a
    # second, the fault starts after 3 h and is severe 6 h later.
    return Gateway(tmp_path, mode="demo", extra={
        "demo": {"time_factor": 7200, "fault_onset_hours": 3, "fault_growth_hours": 6},
        "analytics": {"learning_hours": 1},
    })


def active_alerts(g):
    r = requests.get(g.url("/api/v1/alerts?status=active&sort=worst"), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def check_fleet(g):
    fleet = requests.get(g.url("/api/v1/fleet"), timeout=10)
    assert fleet.status_code == 200, fleet.text
    j = fleet.json()
    for site in j["sites"]:
        ranks = [a["severity_rank"] for a in site["assets"]]
        assert ranks == sorted(ranks, reverse=True), ranks  # worst first
        for a in site["assets"]:
            assert a["severity_rank"] == RANK[a["triage_state"]]
            for p in a["positions"]:
                if p["active_alerts"]:
                    assert p["state"] in ("warning", "alarm"), p  # never healthy beside an active alert
                    assert p["triage_state"] in ("warning", "alarm"), p
                if p["triage_state"] == "learning" and p["learning"] is not None:
                    left = p["learning"]["remaining_hours"]
                    assert 0 <= left <= p["learning"]["learning_hours"]
    return j


def test_one_alert_per_family_plant_words_worst_first_and_a_guarded_close_out(tmp_path):
    g = fast_demo(tmp_path)
    g.start()
    try:
        # While the plant learns, the fleet says so (and how long is left, if it knows yet).
        check_fleet(g)

        deadline = time.time() + 90
        alerts = []
        while time.time() < deadline and not alerts:
            alerts = [a for a in active_alerts(g) if a["family"] == "vibration"]
            time.sleep(1)
        assert alerts, "the demo's bearing fault raised no vibration alert in time"
        time.sleep(5)  # let more state changes of the same fault arrive

        everything = active_alerts(g)
        keys = [(a["position_id"], a["family"]) for a in everything if a["position_id"] is not None]
        assert len(keys) == len(set(keys)), everything  # one abnormality per position and family
        sev = [a["severity"] == "alarm" for a in everything]
        assert sev == sorted(sev, reverse=True)  # sort=worst: alarms first
        for a in everything:
            if a["model"] in FAMILY:
                assert a["family"] == FAMILY[a["model"]]
                assert a["title"].startswith(a["asset_name"] + ", " + a["position_name"] + ": "), a["title"]
                assert " on position " not in a["title"]
                assert a["flagged_by"] and a["flagged_by"][0] == a["model"]
                assert a["value"] is None or a["value"]["kind"] in ("velocity_mm_s", "anomaly_score")
        check_fleet(g)

        vib = next(a for a in active_alerts(g) if a["family"] == "vibration")
        base = g.url("/api/v1/alerts/%d" % vib["id"])
        preview = requests.get(base + "/closeout-preview?action_taken=LUBRICATE", timeout=10)
        assert preview.status_code == 200, preview.text
        p = preview.json()
        assert [m["model"] for m in p["relearn"]] == ["vibrationML"]
        ml_state = p["relearn"][0]["state"]
        assert p["needs_confirmation"] == (ml_state in ("warning", "alarm"))
        replace = requests.get(base + "/closeout-preview?action_taken=REPLACE", timeout=10).json()
        assert "vibrationML" in [m["model"] for m in replace["relearn"]]
        assert "vibrationISO" not in [m["model"] for m in replace["relearn"]]
        assert requests.get(base + "/closeout-preview?action_taken=PAINT", timeout=10).status_code == 400

        close = {"failure_mode": "LUBRICATION", "failure_cause": "WEAR", "action_taken": "LUBRICATE"}
        if p["needs_confirmation"]:
            r = requests.post(base + "/close", json=close, timeout=10)
            assert r.status_code == 409, r.text
            assert r.json()["code"] == "relearn_needs_confirmation"
            assert "vibrationML" in r.json()["detail"]
            assert r.json()["relearn"][0]["model"] == "vibrationML"
            assert requests.get(base, timeout=10).json()["status"] != "closed"
        r = requests.post(base + "/close", json=dict(close, confirm_relearn=True), timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "closed"
        events = requests.get(base + "/events", timeout=10).json()
        assert events[0]["event"] == "opened" and events[-1]["event"] == "closed"
    finally:
        assert g.stop() == 0
