# SPDX-License-Identifier: Apache-2.0
"""The vibration analyst's spectra against the real binary (issue 16): on the
demo plant on a fast clock, GET /api/v1/positions/{id}/spectra gives the
stored waveform's spectrum at full resolution (bin width fs/n), a zoom band
of full-resolution bins, the velocity spectrum (accel/(2πf) in mm/s, zero
below the cut), an older spectrum with at=, the baseline spectrum of the
learning period, markers named only where the bin width resolves them, and
clear 400/422/404 answers for bad or conflicting parameters."""
import math
import time

import requests

from conftest import Gateway

G_MM = 9806.65  # mm/s² per g


def fast_demo(tmp_path):
    return Gateway(tmp_path, mode="demo", extra={
        "demo": {"time_factor": 7200},
        "analytics": {"learning_hours": 1},
    })


def spectra(g, pos, **params):
    r = requests.get(g.url("/api/v1/positions/%d/spectra" % pos), params=params, timeout=20)
    return r


def ok(g, pos, **params):
    r = spectra(g, pos, **params)
    assert r.status_code == 200, (params, r.status_code, r.text)
    return r.json()


def pump_position(g):
    """A position whose asset has a speed and a bearing (markers), with at
    least four stored spectra."""
    assets = requests.get(g.url("/api/v1/assets"), timeout=10).json()
    candidates = [(a, p) for a in assets if a.get("shaft_rpm") and a.get("bearing") for p in a["positions"]]
    assert candidates, assets
    deadline = time.time() + 60
    while time.time() < deadline:
        for a, p in candidates:
            if len(ok(g, p["id"], limit=4)) >= 4:
                return a, p["id"]
        time.sleep(0.5)
    raise AssertionError("no position stored four spectra in time")


def check_markers(s):
    for m in s["markers"]:
        assert m["resolved"] == (s["df_hz"] < m["gap_hz"] / 2), (s["df_hz"], m)
        if not m["resolved"]:
            assert m["amplitude"] is None, m  # an unresolved marker names no amplitude
        lo = s["f0_hz"]
        assert lo <= m["hz"] <= lo + len(s["bins"]) * s["df_hz"] + 1e-6


def test_full_resolution_zoom_velocity_baseline_and_bounds(tmp_path):
    g = fast_demo(tmp_path)
    g.start()
    try:
        asset, pos = pump_position(g)
        rpm = asset["shaft_rpm"]

        # The newest display spectrum: the fields older clients read, plus the new ones.
        [d] = ok(g, pos)
        for key in ("measurement_id", "ts", "time", "kind", "df_hz", "bins"):
            assert key in d
        assert d["resolution"] == "display" and d["kind"] == "accel" and d["unit"] == "g"
        assert len(d["bins"]) <= 1024
        assert d["shaft_hz"] == round(rpm / 60, 6) and d["shaft_rpm"] == rpm
        check_markers(d)
        assert len(ok(g, pos, limit=4)) == 4

        # Full resolution: one FFT bin per fs/n.
        [f] = ok(g, pos, resolution="full")
        assert f["resolution"] == "full" and f["reduced"] is False
        assert f["df_hz"] == f["resolution_hz"] == f["sample_rate_hz"] / f["samples"]
        assert len(f["bins"]) == f["samples"] // 2 + 1
        assert f["df_hz"] < d["df_hz"]
        assert f["waveform_id"] is not None and f["f0_hz"] == 0
        check_markers(f)
        one_x = [m for m in f["markers"] if m["label"] == "1×"]
        assert one_x and one_x[0]["resolved"], f["markers"][:3]  # 3.125 Hz bins resolve 1× and 2×
        wid = f["waveform_id"]

        # Velocity of the same waveform: accel·g/(2πf) above the cut, 0 below.
        [a] = ok(g, pos, waveform_id=wid)
        [v] = ok(g, pos, waveform_id=wid, kind="velocity")
        assert v["unit"] == "mm/s" and v["kind"] == "velocity" and v["resolution"] == "full"
        assert v["cut_hz"] == (2.0 if rpm < 600 else 10.0)
        assert len(v["bins"]) == len(a["bins"])
        checked = 0
        for k, (av, vv) in enumerate(zip(a["bins"], v["bins"])):
            fk = k * a["df_hz"]
            if fk < v["cut_hz"]:
                assert vv == 0, (k, vv)
            elif av > 1e-3:
                assert math.isclose(vv, av * G_MM / (2 * math.pi * fk), rel_tol=2e-3, abs_tol=2e-6), (k, av, vv)
                checked += 1
        assert checked > 5
        [vc] = ok(g, pos, waveform_id=wid, kind="velocity", cut_hz=50)
        assert all(x == 0 for k, x in enumerate(vc["bins"]) if k * vc["df_hz"] < 50)

        # Zoom: the full-resolution bins of the band, the same values.
        [z] = ok(g, pos, waveform_id=wid, from_hz=20, to_hz=120)
        df = a["df_hz"]
        k0, k1 = math.ceil(20 / df - 1e-9), math.floor(120 / df + 1e-9)
        assert z["df_hz"] == df and z["f0_hz"] == round(k0 * df, 6)
        assert z["bins"] == a["bins"][k0:k1 + 1]
        check_markers(z)
        # The newest spectrum zoomed (no waveform_id) is a full-resolution one too.
        [zn] = ok(g, pos, from_hz=20, to_hz=120)
        assert zn["resolution"] == "full" and zn["df_hz"] < d["df_hz"]
        # A band wider than max_bins is max-hold reduced, and says so.
        [r] = ok(g, pos, waveform_id=wid, max_bins=16)
        assert r["reduced"] is True and len(r["bins"]) <= 16 and r["df_hz"] > df
        assert max(r["bins"]) == max(a["bins"])
        check_markers(r)

        # at= picks the stored one at or before: an older spectrum than the newest.
        recent = ok(g, pos, limit=4)
        older = recent[2]
        [o] = ok(g, pos, at=older["ts"] + 1)
        assert o["ts"] == older["ts"] and o["ts"] < recent[0]["ts"]
        assert o["measurement_id"] == older["measurement_id"]
        assert o["resolution"] == "full"
        [om] = ok(g, pos, measurement_id=older["measurement_id"], kind="envelope")
        assert om["ts"] == older["ts"] and om["kind"] == "envelope"
        assert ok(g, pos, at=1) == []  # nothing that old
        [od] = ok(g, pos, at=older["ts"], resolution="display")
        assert od["resolution"] == "display" and od["ts"] == older["ts"]
        assert od["bins"] == older["bins"]
        # The stored display spectrum is the max-hold of the full one: the
        # full resolution is recomputed from the very waveform the analytics saw.
        group = round(od["df_hz"] / o["df_hz"])
        assert math.isclose(od["df_hz"], group * o["df_hz"], rel_tol=1e-9)
        for k in range(1, min(len(od["bins"]), 200)):
            want = max(o["bins"][k * group:(k + 1) * group])
            assert math.isclose(od["bins"][k], want, rel_tol=1e-3, abs_tol=2e-6), (k, od["bins"][k], want)

        # The baseline spectrum of the learning period.
        [b] = ok(g, pos, baseline=1)
        assert b["baseline"] is True and b["measurement_id"] is None
        assert b["baseline_count"] >= 1 and len(b["bins"]) == len(d["bins"])
        assert b["baseline_from"] <= b["baseline_to"]
        [bv] = ok(g, pos, baseline=1, kind="velocity")
        assert bv["unit"] == "mm/s" and bv["baseline"] is True
        [be] = ok(g, pos, baseline=1, kind="envelope")
        assert be["kind"] == "envelope"
        [bz] = ok(g, pos, baseline=1, from_hz=100, to_hz=400)
        assert bz["f0_hz"] <= 100 < bz["f0_hz"] + bz["df_hz"]

        # Bounds and conflicts: 400 malformed, 422 conflicting, 404 unknown.
        for params, status, field in [
            ({"limit": 201}, 400, "limit"),
            ({"limit": 0}, 400, "limit"),
            ({"kind": "power"}, 400, "kind"),
            ({"from_hz": "abc"}, 400, "from_hz"),
            ({"to_hz": "nan"}, 400, "to_hz"),
            ({"max_bins": 100000}, 400, "max_bins"),
            ({"at": "yesterday"}, 400, "at"),
            ({"baseline": "maybe"}, 400, "baseline"),
            ({"resolution": "high"}, 400, "resolution"),
            ({"from_hz": 100, "to_hz": 50}, 422, "to_hz"),
            ({"limit": 5, "resolution": "full"}, 422, "limit"),
            ({"limit": 5, "at": 1}, 422, "limit"),
            ({"from_hz": 1e5}, 422, "from_hz"),
            ({"cut_hz": 5}, 422, "cut_hz"),
            ({"at": 1, "measurement_id": 1}, 422, "at"),
            ({"baseline": 1, "at": 1}, 422, "baseline"),
        ]:
            r = spectra(g, pos, **params)
            assert r.status_code == status, (params, r.status_code, r.text)
            assert r.json().get("field") == field, (params, r.text)
        assert spectra(g, 999999).status_code == 404
        assert spectra(g, pos, measurement_id=999999999).status_code == 404
        assert spectra(g, pos, waveform_id=999999999).status_code == 404
    finally:
        g.stop()
