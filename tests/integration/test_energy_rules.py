# SPDX-License-Identifier: Apache-2.0
"""`vigil backtest --csv FILE --rules RULES.json`: the real binary runs rules
over a CSV. The energy case of issue 15: a meter's daily increase over a
budget, where "day" is the site's calendar day, across the spring DST change
(Europe/Berlin, 2026-03-29 has 23 hours)."""
import csv
import datetime as dt
import json
import subprocess
from zoneinfo import ZoneInfo

from conftest import VIGIL

BERLIN = ZoneInfo("Europe/Berlin")


def energy_csv(path):
    """Hourly kWh counter readings, 4 kWh per hour, plus 30 kWh in the first
    local hour of 30 March (22:00-23:00 UTC on 29 March, after the switch to
    CEST): in Berlin time that burst belongs to the 30th, in UTC to the 29th."""
    start = dt.datetime(2026, 3, 27, 0, 0, tzinfo=BERLIN).astimezone(dt.timezone.utc)
    end = dt.datetime(2026, 4, 1, 0, 0, tzinfo=BERLIN).astimezone(dt.timezone.utc)
    burst_at = dt.datetime(2026, 3, 30, 0, 0, tzinfo=BERLIN).astimezone(dt.timezone.utc)
    t, kwh = start, 1000.0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "energy_kwh"])
        while t <= end:
            w.writerow([t.strftime("%Y-%m-%dT%H:%M:%SZ"), "%.3f" % kwh])
            kwh += 4.0 + (30.0 if t == burst_at else 0.0)
            t += dt.timedelta(hours=1)


def run(tmp_path, timezone):
    data = tmp_path / "energy.csv"
    energy_csv(data)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [
        {"name": "Daily energy over budget", "severity": "warning",
         "conditions": [{"metric": "energy_kwh", "op": "increase_above", "value": 110, "window": "day"}]}]}))
    out = tmp_path / ("fires-%s.csv" % timezone.replace("/", "_"))
    r = subprocess.run([VIGIL, "backtest", "--csv", str(data), "--rules", str(rules), "--timezone", timezone,
                        "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0].keys())[:3] == ["timestamp", "rule", "event"], rows[:1]
    return [dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")) for row in rows], rows


def test_a_daily_energy_budget_counts_the_site_calendar_day_across_dst(tmp_path):
    fires, rows = run(tmp_path, "Europe/Berlin")
    days = sorted({f.astimezone(BERLIN).date().isoformat() for f in fires})
    # 23 or 24 hours at 4 kWh stay under 110; only the day with the burst goes over.
    assert days == ["2026-03-30"], rows
    assert all(r["rule"] == "Daily energy over budget" for r in rows)


def test_the_same_meter_in_utc_puts_the_burst_on_the_previous_day(tmp_path):
    fires, rows = run(tmp_path, "UTC")
    days = sorted({f.astimezone(dt.timezone.utc).date().isoformat() for f in fires})
    assert days == ["2026-03-29"], rows


def test_a_bad_rules_file_is_a_clear_error_naming_the_field(tmp_path):
    data = tmp_path / "energy.csv"
    energy_csv(data)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"name": "x", "conditions": [{"metric": "energy_kwh", "op": "increase_above",
                                                              "value": 1, "window": "fortnight"}]}]))
    r = subprocess.run([VIGIL, "backtest", "--csv", str(data), "--rules", str(rules), "--out",
                        str(tmp_path / "o.csv")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "window" in r.stderr, r.stderr
