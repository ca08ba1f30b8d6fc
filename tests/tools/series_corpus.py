# SPDX-License-Identifier: Apache-2.0
"""A development corpus of generic metric series with labelled anomalies.

Deterministic (every series has its own seed) and written from nothing but
this file, so anyone can regenerate it. It is meant to differ from vibration
data and from any single benchmark: the kinds of signal a plant gateway sees
besides vibration, each with the kind of fault it has.

  level, daily cycle    ambient/room temperature, a freezer with defrost
                        cycles, a machine's temperature; level shifts, drifts,
                        a compressor failure, a planned shutdown
  level, weekly cycle   a day-shift machine's power (weekends off); a night
                        left running, a spike
  counter               an energy meter (kWh, monotone) whose rate doubles
                        or stops
  counts                traffic-like Poisson counts with a daily cycle; a
                        burst, an outage
  random walk           a wandering level whose volatility quadruples
  flat, then noisy      a quantised constant that starts to move
  heavy tails           latency-like log-normal noise; a sustained slow-down;
                        spikes whose density rises
  controls              noise and daily cycles with no anomaly at all (any
                        detection is a false positive)

Windows are built as NAB builds them: 10 % of the series' rows, shared equally
by its anomalies, each window centred on its anomaly's first row.

Usage: series_corpus.py OUT_DIR   writes OUT_DIR/<name>.csv (timestamp,value
with a header) and OUT_DIR/labels.json ({name: {"windows": [[a, b], ...],
"anomalies": [row, ...], "kind": ...}}).
"""
import json
import math
import os
import random
import sys

T0 = 1767225600  # 2026-01-01T00:00:00Z
DAY = 86400.0


def windows_for(n, anomalies):
    if not anomalies:
        return []
    width = max(2, int(0.10 * n / len(anomalies)))
    out = []
    for a in sorted(anomalies):
        lo = max(0, a - width // 2)
        hi = min(n - 1, lo + width - 1)
        out.append([lo, hi])
    return out


def hour_of_day(t):
    return ((t - T0) % DAY) / 3600.0


def weekday(t):
    return int(((t - T0) // DAY + 3) % 7)  # 2026-01-01 is a Thursday: 0 = Monday


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def ar1(self, n, phi, sigma):
        x, out = 0.0, []
        for _ in range(n):
            x = phi * x + self.r.gauss(0, sigma)
            out.append(x)
        return out


def ambient_temperature(seed, shift):
    g = Gen(seed)
    dt, n = 300, 4032  # 5 min, 14 days
    noise = g.ar1(n, 0.8, 0.25)
    ts = [T0 + i * dt for i in range(n)]
    a = int(n * (0.55 + 0.1 * g.r.random()))
    dur = 288 if shift else 36
    v = []
    for i, t in enumerate(ts):
        x = 21 + 2.5 * math.sin(2 * math.pi * (hour_of_day(t) - 9) / 24) + noise[i]
        if a <= i < a + dur:
            x += shift if shift else 0
        v.append(x)
    if not shift:  # a sensor glitch instead: a short spike
        for i in range(a, a + 3):
            v[i] += 9.0
    return ts, v, [a], "level, daily cycle: " + ("a day's level shift" if shift else "a spike")


def freezer(seed):
    g = Gen(seed)
    dt, n = 300, 3456  # 5 min, 12 days
    ts = [T0 + i * dt for i in range(n)]
    noise = g.ar1(n, 0.6, 0.15)
    fail = int(n * (0.6 + 0.15 * g.r.random()))
    v = []
    for i, t in enumerate(ts):
        h = hour_of_day(t)
        x = -18.5 + noise[i]
        for d0 in (2, 10, 18):  # defrost: heater on 20 min, then recovery
            dh = (h - d0) * 60
            if 0 <= dh < 20:
                x += 14 * dh / 20
            elif 20 <= dh < 60:
                x += 14 * (1 - (dh - 20) / 40)
        if fail <= i < fail + 120:  # compressor fails for 10 h: warms 1.2 °C/h
            x += min((i - fail) * dt / 3600.0 * 1.2, 12)
        v.append(x)
    return ts, v, [fail], "freezer with defrost cycles: compressor failure"


def machine_temperature(seed):
    g = Gen(seed)
    dt, n = 300, 5760  # 5 min, 20 days
    ts = [T0 + i * dt for i in range(n)]
    noise = g.ar1(n, 0.95, 0.35)
    stop = int(n * (0.35 + 0.1 * g.r.random()))
    drift = int(n * (0.8 + 0.05 * g.r.random()))
    v = []
    for i in range(n):
        x = 84 + noise[i]
        if stop <= i < stop + 144:  # planned 12 h shutdown: cools towards ambient
            x = 22 + 62 * math.exp(-(i - stop) / 12.0) + noise[i] * 0.3
        elif stop + 144 <= i < stop + 200:  # warming up again
            x = 84 - 62 * math.exp(-(i - stop - 144) / 12.0) + noise[i]
        if i >= drift:  # a bearing running hot before failure
            x += min((i - drift) * 0.06, 18)
        v.append(x)
    return ts, v, [stop, drift], "machine temperature: planned shutdown, then a drift before failure"


def dayshift_power(seed):
    g = Gen(seed)
    dt, n = 3600, 2400  # hourly, 100 days
    ts = [T0 + i * dt for i in range(n)]
    night = int(n * (0.45 + 0.1 * g.r.random()))
    # move the night-left-on anomaly to 20:00 of its day
    night = night - (night % 24) + 20
    spike = int(n * (0.75 + 0.1 * g.r.random()))
    v = []
    for i, t in enumerate(ts):
        h, wd = hour_of_day(t), weekday(t)
        on = wd < 5 and 7 <= h < 17
        x = (5200 if on else 800) * (1 + g.r.gauss(0, 0.04))
        if night <= i < night + 8:
            x = 4100 * (1 + g.r.gauss(0, 0.04))
        if spike <= i < spike + 1:
            x *= 2.6
        v.append(x)
    return ts, v, [night, spike], "day-shift power, weekends off: a night left running, a spike"


def energy_counter(seed, mode):
    g = Gen(seed)
    dt, n = 900, 2400  # 15 min, 25 days
    ts = [T0 + i * dt for i in range(n)]
    a = int(n * (0.5 + 0.2 * g.r.random()))
    e, v = 12345.0, []
    for i, t in enumerate(ts):
        h = hour_of_day(t)
        rate = 1.2 + 1.0 * (1 if 6 <= h < 22 else 0)  # kWh per 15 min
        if a <= i < a + 192:
            rate = rate * 2.2 if mode == "double" else 0.02
        e += max(0.0, rate * (1 + g.r.gauss(0, 0.08)))
        v.append(round(e, 2))
    return ts, v, [a], "energy counter (kWh): consumption " + ("doubles" if mode == "double" else "stops") + " for 2 days"


def traffic_counts(seed, mode):
    g = Gen(seed)
    dt, n = 300, 4032  # 5 min, 14 days
    ts = [T0 + i * dt for i in range(n)]
    a = int(n * (0.5 + 0.3 * g.r.random()))

    def poisson(lam):
        if lam > 30:
            return max(0, int(round(g.r.gauss(lam, math.sqrt(lam)))))
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= g.r.random()
            if p <= L:
                return k
            k += 1

    v = []
    for i, t in enumerate(ts):
        h = hour_of_day(t)
        lam = 8 + 40 * math.exp(-((h - 8.5) / 1.5) ** 2) + 35 * math.exp(-((h - 17.5) / 2) ** 2)
        if a <= i < a + (6 if mode == "burst" else 36):
            lam = lam * 5 if mode == "burst" else 0.0
        v.append(poisson(lam))
    return ts, v, [a], "traffic counts, daily cycle: " + ("a burst" if mode == "burst" else "a 3 h outage")


def random_walk(seed):
    g = Gen(seed)
    dt, n = 600, 3000
    ts = [T0 + i * dt for i in range(n)]
    a = int(n * (0.55 + 0.2 * g.r.random()))
    x, v = 50.0, []
    for i in range(n):
        x += g.r.gauss(0, 0.2 if i < a else 1.0)
        v.append(x)
    return ts, v, [a], "random walk: volatility ×5"


def flat_then_noisy(seed):
    g = Gen(seed)
    dt, n = 60, 2000
    ts = [T0 + i * dt for i in range(n)]
    a = int(n * (0.6 + 0.2 * g.r.random()))
    v = [12.0 if i < a else round(12.0 + g.r.gauss(0, 0.4), 1) for i in range(n)]
    return ts, v, [a], "flat, then noisy"


def latency(seed, mode):
    g = Gen(seed)
    dt, n = 300, 4000
    ts = [T0 + i * dt for i in range(n)]
    a = int(n * (0.5 + 0.3 * g.r.random()))
    v = []
    for i in range(n):
        x = math.exp(g.r.gauss(math.log(120), 0.25))
        if g.r.random() < 0.004:
            x *= 3  # the odd slow request: normal for this kind of signal
        if mode == "slow" and a <= i < a + 72:
            x *= 2.0
        v.append(round(x, 1))
    if mode == "density":
        for i in range(a, n):
            if g.r.random() < 0.08:
                v[i] = round(v[i] * 4, 1)
    return ts, v, [a], "latency, heavy tail: " + ("a 6 h slow-down" if mode == "slow" else "spikes get frequent")


def cpu_level_shift(seed):
    g = Gen(seed)
    dt, n = 300, 4000
    ts = [T0 + i * dt for i in range(n)]
    noise = g.ar1(n, 0.7, 2.0)
    a = int(n * (0.5 + 0.3 * g.r.random()))
    v = [max(0, min(100, (32 if i < a else 61) + noise[i])) for i in range(n)]
    return ts, v, [a], "cpu utilisation: a lasting level shift"


def control_noise(seed):
    g = Gen(seed)
    dt, n = 300, 3000
    ts = [T0 + i * dt for i in range(n)]
    v = []
    for _ in range(n):
        t3 = g.r.gauss(0, 1) / math.sqrt(max(1e-9, sum(g.r.gauss(0, 1) ** 2 for _ in range(3)) / 3))
        v.append(40 + 2 * t3)
    return ts, v, [], "control: heavy-tailed noise, no anomaly"


def control_daily(seed):
    g = Gen(seed)
    dt, n = 600, 2880  # 10 min, 20 days
    ts = [T0 + i * dt for i in range(n)]
    noise = g.ar1(n, 0.5, 0.6)
    v = [55 + 12 * math.sin(2 * math.pi * hour_of_day(t) / 24) + 4 * math.sin(4 * math.pi * hour_of_day(t) / 24)
         + noise[i] for i, t in enumerate(ts)]
    return ts, v, [], "control: daily cycle, no anomaly"


def corpus():
    """(name, generator) pairs; every name has its own seed."""
    out = []
    for k in range(2):
        s = 1000 + 100 * k
        out += [
            ("ambient_temp_shift_%d" % k, lambda s=s: ambient_temperature(s + 1, 2.5)),
            ("ambient_temp_spike_%d" % k, lambda s=s: ambient_temperature(s + 2, 0)),
            ("freezer_defrost_%d" % k, lambda s=s: freezer(s + 3)),
            ("machine_temp_%d" % k, lambda s=s: machine_temperature(s + 4)),
            ("dayshift_power_%d" % k, lambda s=s: dayshift_power(s + 5)),
            ("energy_counter_double_%d" % k, lambda s=s: energy_counter(s + 6, "double")),
            ("energy_counter_stop_%d" % k, lambda s=s: energy_counter(s + 7, "stop")),
            ("traffic_burst_%d" % k, lambda s=s: traffic_counts(s + 8, "burst")),
            ("traffic_outage_%d" % k, lambda s=s: traffic_counts(s + 9, "outage")),
            ("random_walk_vol_%d" % k, lambda s=s: random_walk(s + 10)),
            ("flat_then_noisy_%d" % k, lambda s=s: flat_then_noisy(s + 11)),
            ("latency_slow_%d" % k, lambda s=s: latency(s + 12, "slow")),
            ("latency_spike_density_%d" % k, lambda s=s: latency(s + 13, "density")),
            ("cpu_level_shift_%d" % k, lambda s=s: cpu_level_shift(s + 14)),
            ("control_noise_%d" % k, lambda s=s: control_noise(s + 15)),
            ("control_daily_%d" % k, lambda s=s: control_daily(s + 16)),
        ]
    return out


def iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def write(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    labels = {}
    for name, gen in corpus():
        ts, v, anomalies, kind = gen()
        with open(os.path.join(out_dir, name + ".csv"), "w") as f:
            f.write("timestamp,value\n")
            for t, x in zip(ts, v):
                f.write("%s,%s\n" % (iso(t), repr(float(x)) if not isinstance(x, int) else x))
        labels[name] = {"windows": windows_for(len(ts), anomalies), "anomalies": anomalies, "kind": kind,
                        "rows": len(ts)}
    with open(os.path.join(out_dir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1, sort_keys=True)
    return labels


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write(sys.argv[1])
