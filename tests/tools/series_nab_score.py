# SPDX-License-Identifier: Apache-2.0
"""NAB-style scoring of anomaly detections, standard application profile.

Implements the scoring rules of the Numenta Anomaly Benchmark as published
(Lavin & Ahmad 2015, "Evaluating Real-time Anomaly Detection Algorithms"):

* Each labelled anomaly has a window of rows. A detection inside a window is a
  true positive worth A_TP times a scaled sigmoid of its position: 1 at the
  window's start, 0 at its end (so earlier is better). Only the best (the
  earliest) detection of a window counts; a window without one is a false
  negative worth A_FN.
* A detection outside every window is a false positive worth A_FP times the
  scaled sigmoid of its distance past the previous window's end (in window
  widths): a detection just after a window costs almost nothing, one far from
  any window the full A_FP.
* Rows of the probationary period (the first 15 % of a series, at most 750
  rows) are not scored.
* The corpus score is normalised: 0 = a detector that never fires (every
  window missed), 100 = a perfect one (every window caught at its start).

Standard profile: A_TP = 1, A_FP = -0.11, A_FN = -1.

Two ways to score a detector:
  score_detections(series)  detections given as row flags (here: the onsets of
                            warning/alarm in vigil's `state` column);
  sweep_scores(series)      a continuous `score` per row: every row at or above a
                            threshold is a detection, and the threshold that
                            maximises the corpus score is searched (as NAB's
                            optimiser does), so only the ranking of scores
                            across all series matters.

A series is a dict: {"n": rows, "windows": [(first_row, last_row), ...],
"detections": [bool]*n or "scores": [float|None]*n}.
"""
import math

A_TP, A_FP, A_FN = 1.0, -0.11, -1.0


def probation(n):
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


def scaled_sigmoid(x):
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def row_weights(n, windows):
    """Per row: (window index or -1, weight). In a window the weight is the
    normalised TP value of a detection there; outside, the (negative) FP
    value."""
    out = [(-1, A_FP)] * n
    prev_end, prev_width = None, None
    wi = 0
    windows = sorted(windows)
    i = 0
    while i < n:
        if wi < len(windows) and windows[wi][0] <= i <= windows[wi][1]:
            a, b = windows[wi]
            width = b - a + 1
            for j in range(a, min(b, n - 1) + 1):
                pos = -(b - j + 1) / float(width)
                out[j] = (wi, scaled_sigmoid(pos) * A_TP / MAX_TP)
            prev_end, prev_width = b, width
            wi += 1
            i = b + 1
            continue
        if prev_end is None:
            out[i] = (-1, A_FP)
        else:
            past = abs(prev_end - i) / float(max(prev_width - 1, 1))
            # scaled_sigmoid is <= 0 past a window; times |A_FP| gives the cost
            out[i] = (-1, scaled_sigmoid(past) * abs(A_FP))
        i += 1
    return out


def _null_perfect(corpus):
    nw = sum(len(s["windows"]) for s in corpus)
    return A_FN * nw, A_TP * nw


def normalise(raw, corpus):
    null, perfect = _null_perfect(corpus)
    if perfect == null:
        return 100.0 if raw >= 0 else 0.0
    return 100.0 * (raw - null) / (perfect - null)


def raw_score_of_flags(s):
    n, windows = s["n"], s["windows"]
    w = row_weights(n, windows)
    start = probation(n)
    best = {}
    total = 0.0
    fps = 0
    for i, d in enumerate(s["detections"]):
        if not d or i < start:
            continue
        wi, val = w[i]
        if wi >= 0:
            best[wi] = max(best.get(wi, -1e9), val)
        else:
            total += val
            fps += 1
    tp = len(best)
    total += sum(best.values()) + A_FN * (len(windows) - tp)
    return total, tp, len(windows) - tp, fps


def score_detections(corpus):
    """corpus: series with "detections". Returns (normalised, details)."""
    raw, tp, fn, fp = 0.0, 0, 0, 0
    per = []
    for s in corpus:
        r, a, b, c = raw_score_of_flags(s)
        raw += r
        tp, fn, fp = tp + a, fn + b, fp + c
        per.append((s.get("name", "?"), r, a, b, c))
    return normalise(raw, corpus), {"raw": raw, "tp": tp, "fn": fn, "fp": fp, "per_series": per}


def sweep_scores(corpus):
    """corpus: series with "scores". Searches the threshold maximising the
    corpus score. Returns (normalised, threshold, details)."""
    events = []  # (score, series index, row)
    weights = []
    for k, s in enumerate(corpus):
        w = row_weights(s["n"], s["windows"])
        weights.append(w)
        start = probation(s["n"])
        for i, v in enumerate(s["scores"]):
            if i < start or v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            events.append((v, k, i))
    events.sort(key=lambda e: -e[0])
    null, _ = _null_perfect(corpus)
    total = null  # nothing detected: every window missed
    best_in_window = {}
    best_total, best_thr = total, float("inf")
    j = 0
    while j < len(events):
        thr = events[j][0]
        while j < len(events) and events[j][0] == thr:
            _, k, i = events[j]
            wi, val = weights[k][i]
            if wi >= 0:
                key = (k, wi)
                old = best_in_window.get(key)
                if old is None:
                    total += val - A_FN
                    best_in_window[key] = val
                elif val > old:
                    total += val - old
                    best_in_window[key] = val
            else:
                total += val
            j += 1
        if total > best_total:
            best_total, best_thr = total, thr
    return normalise(best_total, corpus), best_thr, {"raw": best_total}
