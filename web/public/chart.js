// SPDX-License-Identifier: Apache-2.0
// Canvas charts, hand-written (no dependencies):
//  - TimeChart: min/max band + mean line of downsampled buckets, ISO zone
//    lines, baseline band; wheel/pinch zoom, drag pan, double-click reset.
//    On every view change it redraws at once from what it has and fetches
//    buckets for the new range (one per pixel) after a short pause, so a
//    year of data pans without lag.
//  - SpectrumChart: amplitude vs frequency with labelled markers.
//  - Waterfall: spectra over time as a heat map.

const css = (name, fallback) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

function setupCanvas(canvas, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.parentElement.clientWidth || 300;
  canvas.style.height = cssHeight + 'px';
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(cssHeight * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h: cssHeight };
}

function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) { hi = lo + 1; }
  const span = hi - lo;
  const step0 = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n + 0.5) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

const TIME_STEPS = [60e3, 300e3, 900e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3,
  7 * 86400e3, 14 * 86400e3, 30 * 86400e3, 91 * 86400e3];
function timeTicks(from, to, px) {
  const want = Math.max(2, Math.floor(px / 90));
  const step = TIME_STEPS.find((s) => (to - from) / s <= want) || 365 * 86400e3;
  const tz = new Date().getTimezoneOffset() * 60e3;
  const out = [];
  for (let t = Math.ceil((from - tz) / step) * step + tz; t <= to; t += step) out.push(t);
  return { ticks: out, step };
}
function timeLabel(t, step) {
  const d = new Date(t);
  if (step >= 86400e3) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class TimeChart {
  // opts: { title, unit, height, fetch(from, to, points, signal) → {ts,min,max,mean},
  //         zones: [ab, bc, cd] | null, baseline: {lo, hi, median} | null (the learned
  //         normal band, shaded, with its median dashed), onView(from, to) }
  constructor(container, opts) {
    this.opts = { height: 180, ...opts };
    this.el = document.createElement('div');
    this.el.className = 'chart';
    this.head = document.createElement('div');
    this.head.className = 'chart-head';
    this.titleEl = document.createElement('span');
    this.titleEl.textContent = opts.title + (opts.unit ? ` (${opts.unit})` : '');
    this.readout = document.createElement('span');
    this.readout.className = 'muted readout';
    this.head.append(this.titleEl);
    if (opts.baseline) {
      const b = opts.baseline, f = (v) => String(+v.toPrecision(3));
      this.bandEl = document.createElement('span');
      this.bandEl.className = 'muted band-legend';
      this.bandEl.textContent = `baseline ${f(b.lo)}–${f(b.hi)}`;
      this.bandEl.title = `normal range learned by ${b.model || 'the model'}: median ${f(b.median)}, ` +
        `±${b.sigma || 3} robust standard deviations`;
      this.head.append(this.bandEl);
    }
    this.head.append(this.readout);
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', opts.title + ' trend');
    this.el.append(this.head, this.canvas);
    container.append(this.el);
    this.data = null;
    this.view = null;
    this.hover = null;
    this.pointers = new Map();
    this.bind();
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.canvas);
  }

  destroy() { this.ro.disconnect(); if (this.abort) this.abort.abort(); }

  // Alert markers: [{ts, kind: 'opened' | 'closed', severity, title}], drawn
  // as vertical lines (opened: solid in the severity's colour, closed:
  // dashed grey) with a legend in the chart's head.
  setEvents(events) {
    this.events = events || [];
    if (!this.eventsEl) {
      this.eventsEl = document.createElement('span');
      this.eventsEl.className = 'muted alert-legend';
      this.head.insertBefore(this.eventsEl, this.readout);
    }
    const opened = this.events.filter((e) => e.kind === 'opened').length;
    const closed = this.events.filter((e) => e.kind === 'closed').length;
    this.eventsEl.textContent = this.events.length ? `alerts: ▲ ${opened} opened, ▽ ${closed} closed` : '';
    this.eventsEl.title = this.events.map((e) => `${new Date(e.ts).toLocaleString()} ${e.kind}: ${e.title || e.severity}`).join('\n');
    this.draw();
  }

  setView(from, to, { fetch = true, notify = false } = {}) {
    this.view = { from, to };
    this.draw();
    if (notify && this.opts.onView) this.opts.onView(from, to, this);
    if (fetch) this.scheduleFetch();
  }

  scheduleFetch(delay = 120) {
    clearTimeout(this.fetchTimer);
    this.fetchTimer = setTimeout(() => this.load(), delay);
  }

  async load() {
    if (!this.view) return;
    if (this.abort) this.abort.abort();
    this.abort = new AbortController();
    const { from, to } = this.view;
    const points = Math.max(50, Math.min(2000, Math.round(this.canvas.clientWidth || 600)));
    try {
      const d = await this.opts.fetch(Math.floor(from), Math.ceil(to), points, this.abort.signal);
      this.data = d;
      this.draw();
    } catch (e) {
      if (e.name !== 'AbortError') this.readout.textContent = e.message;
    }
  }

  // A live point: extend the data if it falls in (or just after) the view.
  push(ts, value) {
    if (!this.data || !this.view) return;
    const d = this.data;
    d.ts.push(ts); d.min.push(value); d.max.push(value); d.mean.push(value);
    if (this.follow && ts > this.view.to) {
      const span = this.view.to - this.view.from;
      this.view = { from: ts - span * 0.98, to: ts + span * 0.02 };
    }
    this.draw();
  }

  bind() {
    const c = this.canvas;
    c.style.touchAction = 'none';
    const tAt = (x) => this.view.from + (x / this.plotW()) * (this.view.to - this.view.from);
    c.addEventListener('wheel', (e) => {
      if (!this.view) return;
      e.preventDefault();
      const x = e.offsetX - this.padL;
      const t = tAt(x);
      const k = Math.exp(Math.sign(e.deltaY) * Math.min(Math.abs(e.deltaY), 100) / 300);
      this.follow = false;
      this.zoomAround(t, k);
    }, { passive: false });
    c.addEventListener('pointerdown', (e) => {
      c.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, { x: e.offsetX, view: { ...this.view } });
      this.follow = false;
    });
    c.addEventListener('pointermove', (e) => {
      if (!this.view) return;
      const p = this.pointers.get(e.pointerId);
      if (!p) { this.hover = e.offsetX; this.draw(); return; }
      if (this.pointers.size === 1) {
        const dt = ((e.offsetX - p.x) / this.plotW()) * (p.view.to - p.view.from);
        this.setView(p.view.from - dt, p.view.to - dt, { notify: true });
      } else if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        const other = a === p ? b : a;
        const d0 = Math.abs(p.x - other.x) || 1;
        const d1 = Math.abs(e.offsetX - other.x) || 1;
        const center = tAt((other.x + e.offsetX) / 2 - this.padL);
        const span = (p.view.to - p.view.from) * (d0 / d1);
        this.setView(center - span / 2, center + span / 2, { notify: true });
      }
    });
    const up = (e) => { this.pointers.delete(e.pointerId); };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', up);
    c.addEventListener('pointerleave', () => { this.hover = null; this.draw(); });
    c.addEventListener('dblclick', () => { if (this.opts.onReset) this.opts.onReset(); });
  }

  zoomAround(t, k) {
    const { from, to } = this.view;
    const span = Math.min(Math.max((to - from) * k, 3600e3), 3 * 365 * 86400e3);
    const f = (t - from) / (to - from);
    this.setView(t - f * span, t + (1 - f) * span, { notify: true });
  }

  plotW() { return Math.max(10, (this.canvas.clientWidth || 300) - this.padL - this.padR); }

  draw() {
    if (!this.view) return;
    const { ctx, w, h } = setupCanvas(this.canvas, this.opts.height);
    this.padR = 8;
    const padT = 6, padB = 20;
    const ph = h - padT - padB;
    const fg = css('--fg', '#222'), muted = css('--muted', '#888'), grid = css('--grid', '#ddd');
    const line = this.opts.color || css('--accent', '#0f6b5c');
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    const { from, to } = this.view;
    const d = this.data;
    let lo = Infinity, hi = -Infinity;
    if (d) {
      for (let i = 0; i < d.ts.length; i++) {
        if (d.ts[i] < from || d.ts[i] > to) continue;
        if (d.min[i] < lo) lo = d.min[i];
        if (d.max[i] > hi) hi = d.max[i];
      }
    }
    const zones = this.opts.zones;
    if (zones && hi > -Infinity) hi = Math.max(hi, Math.min(zones[1], hi * 1.6));
    if (this.opts.baseline) { lo = Math.min(lo, this.opts.baseline.lo); hi = Math.max(hi, this.opts.baseline.hi); }
    if (!(hi >= lo)) { lo = 0; hi = 1; }
    if (this.opts.zeroBased !== false && lo > 0 && lo < (hi - lo) * 0.8) lo = 0;
    const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
    hi += pad; if (lo !== 0) lo -= pad;
    // The left margin fits the widest value label (0.02475 needs more than 12).
    const yTicks = niceTicks(lo, hi, Math.max(2, Math.floor(ph / 35)));
    const yLabel = (v) => String(+v.toPrecision(4));
    this.padL = Math.max(36, 8 + Math.ceil(Math.max(0, ...yTicks.map((v) => ctx.measureText(yLabel(v)).width))));
    const pw = w - this.padL - this.padR;
    const X = (t) => this.padL + ((t - from) / (to - from)) * pw;
    const Y = (v) => padT + ph - ((v - lo) / (hi - lo)) * ph;

    // grid + axes
    ctx.strokeStyle = grid; ctx.fillStyle = muted; ctx.lineWidth = 1;
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const v of yTicks) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(this.padL, y); ctx.lineTo(w - this.padR, y); ctx.stroke();
      ctx.fillText(yLabel(v), this.padL - 4, y);
    }
    const tt = timeTicks(from, to, pw);
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const t of tt.ticks) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph); ctx.stroke();
      ctx.fillText(timeLabel(t, tt.step), x, padT + ph + 4);
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(this.padL, padT, pw, ph); ctx.clip();
    // baseline band
    if (this.opts.baseline) {
      ctx.fillStyle = css('--baseline', 'rgba(15,107,92,0.10)');
      const y1 = Y(this.opts.baseline.hi), y0 = Y(this.opts.baseline.lo);
      ctx.fillRect(this.padL, y1, pw, y0 - y1);
      if (this.opts.baseline.median !== undefined) {
        const ym = Math.round(Y(this.opts.baseline.median)) + 0.5;
        ctx.strokeStyle = css('--baseline-line', 'rgba(15,107,92,0.45)'); ctx.setLineDash([2, 3]);
        ctx.beginPath(); ctx.moveTo(this.padL, ym); ctx.lineTo(w - this.padR, ym); ctx.stroke(); ctx.setLineDash([]);
      }
    }
    // ISO zone lines A/B, B/C, C/D
    if (zones) {
      const colors = [css('--ok', '#2e7d32'), css('--warn', '#d08400'), css('--alarm', '#c62828')];
      ['A/B', 'B/C', 'C/D'].forEach((name, i) => {
        const y = Y(zones[i]);
        if (y < padT || y > padT + ph) return;
        ctx.strokeStyle = colors[i]; ctx.setLineDash([5, 4]);
        ctx.beginPath(); ctx.moveTo(this.padL, y); ctx.lineTo(w - this.padR, y); ctx.stroke();
        ctx.setLineDash([]); ctx.fillStyle = colors[i]; ctx.textAlign = 'right'; ctx.textBaseline = 'bottom';
        ctx.fillText(`ISO ${name} ${zones[i]}`, w - this.padR - 2, y - 1);
      });
    }
    if (d && d.ts.length) {
      // min/max band
      ctx.fillStyle = line; ctx.globalAlpha = 0.18;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < d.ts.length; i++) { const x = X(d.ts[i]); if (!started) { ctx.moveTo(x, Y(d.max[i])); started = true; } else ctx.lineTo(x, Y(d.max[i])); }
      for (let i = d.ts.length - 1; i >= 0; i--) ctx.lineTo(X(d.ts[i]), Y(d.min[i]));
      ctx.closePath(); ctx.fill(); ctx.globalAlpha = 1;
      // mean line; gaps larger than 4 buckets break it
      ctx.strokeStyle = line; ctx.lineWidth = 1.5; ctx.beginPath();
      const gap = d.ts.length > 2 ? 4 * Math.max((d.to - d.from) / Math.max(d.ts.length, 1), 1) : Infinity;
      for (let i = 0; i < d.ts.length; i++) {
        const x = X(d.ts[i]), y = Y(d.mean[i]);
        if (i === 0 || d.ts[i] - d.ts[i - 1] > gap * 3) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
      if (d.ts.length < 40) {
        ctx.fillStyle = line;
        for (let i = 0; i < d.ts.length; i++) { ctx.beginPath(); ctx.arc(X(d.ts[i]), Y(d.mean[i]), 2, 0, 7); ctx.fill(); }
      }
    } else {
      ctx.fillStyle = muted; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillText(d ? 'no data in this range' : 'loading…', this.padL + pw / 2, padT + ph / 2);
    }
    // alert markers: opened ▲ (severity colour), closed ▽ (grey, dashed)
    let marks = 0;
    for (const e of this.events || []) {
      if (e.ts < from || e.ts > to) continue;
      marks++;
      const x = Math.round(X(e.ts)) + 0.5;
      const color = e.kind === 'opened' ? (e.severity === 'alarm' ? css('--alarm', '#c62828') : css('--warn', '#c77c00')) : muted;
      ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 1.5;
      ctx.setLineDash(e.kind === 'opened' ? [] : [4, 3]);
      ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph); ctx.stroke(); ctx.setLineDash([]);
      ctx.beginPath();
      if (e.kind === 'opened') { ctx.moveTo(x - 5, padT + 8); ctx.lineTo(x + 5, padT + 8); ctx.lineTo(x, padT); ctx.fill(); }
      else { ctx.moveTo(x - 5, padT); ctx.lineTo(x + 5, padT); ctx.lineTo(x, padT + 8); ctx.closePath(); ctx.stroke(); }
      ctx.lineWidth = 1;
    }
    this.canvas.dataset.alertMarks = String(marks);
    ctx.restore();
    // hover readout
    if (this.hover !== null && d && d.ts.length) {
      const t = from + ((this.hover - this.padL) / pw) * (to - from);
      let best = 0;
      for (let i = 1; i < d.ts.length; i++) if (Math.abs(d.ts[i] - t) < Math.abs(d.ts[best] - t)) best = i;
      const x = X(d.ts[best]);
      ctx.strokeStyle = fg; ctx.globalAlpha = 0.4; ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph); ctx.stroke(); ctx.globalAlpha = 1;
      const f = (v) => (+v.toPrecision(4)).toString();
      this.readout.textContent = `${new Date(d.ts[best]).toLocaleString()} · mean ${f(d.mean[best])}` +
        (d.min[best] !== d.max[best] ? ` (min ${f(d.min[best])}, max ${f(d.max[best])})` : '');
    } else if (d && d.ts.length) {
      const last = d.ts.length - 1;
      this.readout.textContent = `latest ${(+d.mean[last].toPrecision(4))}`;
    }
  }
}

// Marker labels that never overprint: each label (its x and measured width)
// goes into the first of `rows` rows where it clears the previous label by
// `gap` px, kept inside [0, width] (a label at the right edge is drawn left
// of its line, never clipped); a label that fits no row is hidden, and the
// caller lists it (legend, tooltip). items: [{label, x, w}] → {placed:
// [{label, x0, x1, row}], hidden: [label]}.
export function layoutMarkerLabels(items, width, rows = 3, gap = 4) {
  const ends = new Array(rows).fill(-Infinity);
  const placed = [], hidden = [];
  for (const it of [...items].sort((a, b) => a.x - b.x)) {
    let x0 = it.x + 2;
    if (x0 + it.w > width) x0 = Math.max(0, it.x - 2 - it.w);
    const x1 = x0 + it.w;
    const row = ends.findIndex((e) => x0 >= e + gap);
    if (row < 0 || x1 > width) { hidden.push(it.label); continue; }
    ends[row] = x1;
    placed.push({ label: it.label, x0, x1, row });
  }
  return { placed, hidden };
}

const MARKER_COLORS = { shaft: '#4a5250', BPFO: '#c62828', BPFI: '#a15c00', BSF: '#1565c0', FTF: '#6a1b9a' };
export const markerColor = (m) => m.color || MARKER_COLORS[m.family] || '#4a5250';

// Server markers ({label, family, hz, resolved}) in the chart's form ({f, label, …}).
export const toMarkers = (list) => (list || []).map((m) => ({ ...m, f: m.f !== undefined ? m.f : m.hz }));

export class SpectrumChart {
  // opts: { title, unit, height, maxHz, onZoom(lo, hi) (null, null = full range) }
  // set(spectrum | [{ s, label, color, dash }], markers): one spectrum or
  // several overlaid (dates compared, the baseline) with a legend; markers
  // default to the first spectrum's server markers. Resolved markers are
  // labelled without overprinting; unresolved ones are drawn faint and
  // listed ("zoom in to resolve"). Wheel or the buttons zoom, drag pans;
  // a changed band is reported through onZoom after a short pause, so the
  // caller can fetch the band at full resolution.
  constructor(container, opts) {
    this.opts = { height: 220, ...opts };
    this.el = document.createElement('div');
    this.el.className = 'chart spectrum';
    const head = document.createElement('div');
    head.className = 'chart-head';
    this.titleEl = document.createElement('span');
    this.titleEl.textContent = opts.title;
    this.readout = document.createElement('span');
    this.readout.className = 'muted readout';
    head.append(this.titleEl, this.readout);
    this.tools = document.createElement('div');
    this.tools.className = 'spectrum-tools';
    const btn = (text, label, fn) => {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = text; b.title = label;
      if (label !== text) b.setAttribute('aria-label', label);
      b.addEventListener('click', fn);
      this.tools.append(b);
      return b;
    };
    btn('+', 'Zoom in', () => this.zoomBy(0.5));
    btn('−', 'Zoom out', () => this.zoomBy(2));
    this.resetBtn = btn('Full range', 'Full range', () => this.setBand(null));
    this.resetBtn.title = 'Show the full frequency range (or double-click the chart)';
    this.resetBtn.disabled = true;
    this.bandEl = document.createElement('span');
    this.bandEl.className = 'muted band';
    this.tools.append(this.bandEl);
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.legend = document.createElement('div');
    this.legend.className = 'spectrum-legend';
    // The spectrum in plain words: its strongest line and the marker it
    // sits on ("peak 0.031 g at 231 Hz, at BPFO (236 Hz)").
    this.summary = document.createElement('p');
    this.summary.className = 'muted spectrum-summary';
    this.el.append(head, this.tools, this.canvas, this.legend, this.summary);
    container.append(this.el);
    this.hover = null;
    this.band = null;
    this.series = [];
    this.markers = [];
    this.bind();
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.canvas);
  }
  destroy() { this.ro.disconnect(); clearTimeout(this.zoomTimer); }
  setTitle(title, unit) { this.opts.title = title; this.opts.unit = unit; this.titleEl.textContent = title; }
  fullRange() {
    const s = this.series[0] && this.series[0].s;
    return [0, this.opts.maxHz || (s ? (s.f0_hz || 0) + s.bins.length * s.df_hz : 1000)];
  }
  range() { return this.band ? [this.band.lo, this.band.hi] : this.fullRange(); }
  setBand(band, { notify = true } = {}) {
    const maxHz = this.opts.maxHz || Infinity;
    if (band) {
      let { lo, hi } = band;
      const span = Math.max(hi - lo, 2);
      lo = Math.max(0, lo); hi = Math.min(maxHz, lo + span); lo = Math.max(0, hi - span);
      band = { lo, hi };
    }
    this.band = band;
    this.bandEl.textContent = band ? `${band.lo.toFixed(band.hi - band.lo < 50 ? 1 : 0)}–${band.hi.toFixed(band.hi - band.lo < 50 ? 1 : 0)} Hz` : '';
    this.resetBtn.disabled = !band;
    this.draw();
    if (notify && this.opts.onZoom) {
      clearTimeout(this.zoomTimer);
      this.zoomTimer = setTimeout(() => this.opts.onZoom(band ? band.lo : null, band ? band.hi : null), 250);
    }
  }
  zoomBy(k, center) {
    const [lo, hi] = this.range();
    const c = center === undefined ? (lo + hi) / 2 : center;
    const f = (c - lo) / (hi - lo || 1);
    const span = Math.max((hi - lo) * k, 2);
    const full = this.opts.maxHz || Infinity;
    if (span >= full) { this.setBand(null); return; }
    this.setBand({ lo: c - f * span, hi: c + (1 - f) * span });
  }
  bind() {
    const c = this.canvas;
    c.style.touchAction = 'pan-y';
    const fAt = (x) => { const [lo, hi] = this.range(); return lo + ((x - this.padL) / (this.pw || 1)) * (hi - lo); };
    c.addEventListener('wheel', (e) => {
      if (!this.series.length) return;
      e.preventDefault();
      this.zoomBy(Math.exp(Math.sign(e.deltaY) * Math.min(Math.abs(e.deltaY), 100) / 200), fAt(e.offsetX));
    }, { passive: false });
    c.addEventListener('pointerdown', (e) => { c.setPointerCapture(e.pointerId); this.drag = { x: e.offsetX, range: this.range() }; });
    c.addEventListener('pointermove', (e) => {
      if (this.drag && this.band) {
        const [lo, hi] = this.drag.range;
        const df = ((e.offsetX - this.drag.x) / (this.pw || 1)) * (hi - lo);
        if (Math.abs(e.offsetX - this.drag.x) > 2) this.setBand({ lo: lo - df, hi: hi - df });
        return;
      }
      this.hover = e.offsetX; this.draw();
    });
    const up = () => { this.drag = null; };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', up);
    c.addEventListener('pointerleave', () => { this.hover = null; this.draw(); });
    c.addEventListener('dblclick', () => this.setBand(null));
  }
  set(spectra, markers) {
    const list = Array.isArray(spectra) ? spectra : [{ s: spectra }];
    this.series = list.filter((x) => x && x.s && x.s.bins && x.s.bins.length);
    const first = this.series[0] && this.series[0].s;
    this.markers = toMarkers(markers || (first && first.markers) || []);
    const text = first ? summarizeSpectrum(first, this.markers, this.range()[1], this.opts.unit, this.range()[0]) : '';
    this.summary.textContent = text;
    this.canvas.setAttribute('aria-label', `${this.opts.title}${text ? ': ' + text : ': no spectrum yet'}`);
    const [lo, hi] = this.range();
    this.canvas.dataset.markers = this.markers.filter((m) => m.f > lo && m.f <= hi).map((m) => m.label).join(' ');
    this.canvas.dataset.series = String(this.series.length);
    this.canvas.dataset.unit = this.opts.unit || '';
    this.canvas.dataset.dfHz = first ? String(first.df_hz) : '';
    // draw() adds the hidden/unresolved notes to the legend: after this
    // plain legend it must do so even when the layout did not change.
    this.legendKey = null;
    this.renderLegend();
    this.draw();
  }
  renderLegend(hidden = [], unresolved = []) {
    const items = [];
    if (this.series.length > 1) {
      for (const x of this.series) {
        const it = document.createElement('span');
        it.className = 'legend-item';
        const sw = document.createElement('span');
        sw.className = 'swatch' + (x.dash ? ' dashed' : '');
        sw.style.borderColor = x.color || css('--accent', '#0f6b5c');
        it.append(sw, document.createTextNode(x.label || ''));
        items.push(it);
      }
    }
    const note = (cls, text, title) => { const n = document.createElement('span'); n.className = 'muted ' + cls; n.textContent = text; n.title = title; items.push(n); };
    if (hidden.length) note('hidden-markers', `+${hidden.length} label${hidden.length > 1 ? 's' : ''} hidden (crowded): ${hidden.join(', ')}`, 'Markers drawn without a label so that labels do not overprint; zoom in to see them labelled.');
    if (unresolved.length) note('unresolved-markers', `Not resolved at ${fmtHz(this.series[0] ? this.series[0].s.df_hz : 0)} bins (zoom in): ${unresolved.join(', ')}`, 'A marker is named only when the bin width is below half the distance to its neighbouring markers.');
    this.legend.replaceChildren(...items);
  }
  draw() {
    const { ctx, w, h } = setupCanvas(this.canvas, this.opts.height);
    const padL = 48, padR = 8, rows = 3, padT = 6 + rows * 12, padB = 20, pw = w - padL - padR, ph = h - padT - padB;
    this.padL = padL; this.pw = pw;
    const muted = css('--muted', '#888'), grid = css('--grid', '#ddd'), line = css('--accent', '#0f6b5c');
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    if (!this.series.length) {
      ctx.fillStyle = muted; ctx.textAlign = 'center'; ctx.fillText('no spectrum yet (analytics stores one per waveform)', w / 2, h / 2);
      this.canvas.dataset.labelBoxes = '[]';
      return;
    }
    const [lo, hi0] = this.range();
    const hiF = hi0 > lo ? hi0 : lo + 1;
    const X = (f) => padL + ((f - lo) / (hiF - lo)) * pw;
    let top = 0;
    for (const { s } of this.series) {
      const f0 = s.f0_hz || 0;
      for (let i = 0; i < s.bins.length; i++) {
        const f = f0 + i * s.df_hz;
        if (f < Math.max(lo, s.df_hz * 1.5) || f > hiF) continue;  // skip DC and the first bin's skirt
        if (s.bins[i] > top) top = s.bins[i];
      }
    }
    top = top * 1.1 || 1;
    const Y = (v) => padT + ph - (Math.min(v, top) / top) * ph;
    ctx.strokeStyle = grid; ctx.fillStyle = muted; ctx.textAlign = 'right'; ctx.textBaseline = 'middle'; ctx.lineWidth = 1;
    for (const v of niceTicks(0, top, 4)) { const y = Math.round(Y(v)) + 0.5; ctx.beginPath(); ctx.moveTo(padL, y); ctx.lineTo(w - padR, y); ctx.stroke(); ctx.fillText(String(+v.toPrecision(3)), padL - 4, y); }
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const f of niceTicks(lo, hiF, Math.max(2, Math.floor(pw / 70)))) { const x = Math.round(X(f)) + 0.5; ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph); ctx.stroke(); ctx.fillText(f + ' Hz', x, padT + ph + 4); }
    // markers: lines, then labels laid out so that none overprints
    const inView = this.markers.filter((m) => m.f > lo && m.f <= hiF);
    const items = [];
    const unresolved = [];
    for (const m of inView) {
      const x = Math.round(X(m.f)) + 0.5;
      const resolved = m.resolved !== false;
      ctx.strokeStyle = markerColor(m); ctx.globalAlpha = resolved ? 0.9 : 0.3;
      ctx.setLineDash(resolved ? [3, 3] : [1, 3]); ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph); ctx.stroke(); ctx.setLineDash([]);
      ctx.globalAlpha = 1;
      if (resolved) items.push({ label: m.label, x, w: ctx.measureText(m.label).width, m });
      else unresolved.push(m.label);
    }
    const layout = layoutMarkerLabels(items, w, rows);
    const boxes = [];
    ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    for (const p of layout.placed) {
      const m = items.find((it) => it.label === p.label).m;
      const y = 3 + p.row * 12;
      ctx.fillStyle = markerColor(m); ctx.fillText(p.label, p.x0, y);
      boxes.push({ label: p.label, x: p.x0, y, w: p.x1 - p.x0, h: 11 });
    }
    this.canvas.dataset.labelBoxes = JSON.stringify(boxes);
    this.canvas.dataset.labels = layout.placed.map((p) => p.label).join(' ');
    this.canvas.dataset.hiddenLabels = layout.hidden.join(' ');
    this.canvas.dataset.unresolved = unresolved.join(' ');
    if (this.legendKey !== layout.hidden.join() + '|' + unresolved.join() + '|' + this.series.length) {
      this.legendKey = layout.hidden.join() + '|' + unresolved.join() + '|' + this.series.length;
      this.renderLegend(layout.hidden, unresolved);
    }
    // series, the first (the chosen spectrum) on top
    ctx.save(); ctx.beginPath(); ctx.rect(padL, padT - 1, pw, ph + 2); ctx.clip();
    for (const x of [...this.series].reverse()) {
      const s = x.s, f0 = s.f0_hz || 0;
      ctx.strokeStyle = x.color || line; ctx.lineWidth = 1.2; ctx.setLineDash(x.dash ? [4, 3] : []); ctx.beginPath();
      let started = false;
      for (let i = 0; i < s.bins.length; i++) {
        const f = f0 + i * s.df_hz;
        if (f < lo - s.df_hz || f > hiF + s.df_hz) continue;
        const px = X(f), py = Y(s.bins[i]);
        if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
      }
      ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.restore();
    const s = this.series[0].s;
    if (this.hover !== null) {
      const f = lo + ((this.hover - padL) / pw) * (hiF - lo);
      const i = Math.max(0, Math.min(s.bins.length - 1, Math.round((f - (s.f0_hz || 0)) / s.df_hz)));
      const near = inView.filter((m) => Math.abs(X(m.f) - this.hover) < 4).map((m) => m.label + (m.resolved === false ? ' (not resolved)' : ''));
      this.readout.textContent = `${((s.f0_hz || 0) + i * s.df_hz).toFixed(1)} Hz · ${(+s.bins[i].toPrecision(3))} ${this.opts.unit || ''}${near.length ? ' · ' + near.join(', ') : ''}`;
    } else {
      this.readout.textContent = `${new Date(s.ts).toLocaleString()} · ${fmtHz(s.df_hz)} bins${s.resolution === 'full' ? ' (full resolution)' : ''}`;
    }
  }
}

const fmtHz = (df) => `${(+(+df).toPrecision(3))} Hz`;

// The strongest line of a spectrum in [minHz, maxHz] (ignoring the first
// bins, which hold DC and the high-pass skirt) and, when it stands out (at
// least 4× the median bin), the nearest marker within 3 % of it (the defect
// windows' tolerance: bearings slip). A peak in a flat noise floor names no
// marker: a technician should not read "BPFI" into noise; nor does a marker
// the bin width cannot resolve (resolved: false): 15.6 Hz bins cannot tell
// 1× at 24.7 Hz from 2×. Bins lie at f0_hz + k·df_hz (f0_hz: a zoom band).
export function summarizeSpectrum(s, markers, maxHz, unit, minHz = 0) {
  const f0 = s.f0_hz || 0;
  const fAt = (i) => f0 + i * s.df_hz;
  let k = -1;
  const vals = [];
  for (let i = 0; i < s.bins.length; i++) {
    const f = fAt(i);
    if (f < Math.max(minHz, 1.5 * s.df_hz) || f > (maxHz || Infinity)) continue;
    vals.push(s.bins[i]);
    if (k < 0 || s.bins[i] > s.bins[k]) k = i;
  }
  if (k < 0) return '';
  const f = fAt(k);
  let text = `peak ${+s.bins[k].toPrecision(3)} ${unit || ''} at ${f.toFixed(f < 100 ? 1 : 0)} Hz`;
  const sorted = vals.sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] || 0;
  if (!(s.bins[k] >= 4 * median)) return text + ' (no dominant line)';
  let best = null;
  for (const m of markers || []) {
    if (m.resolved === false) continue;
    if (m.f > 0 && Math.abs(f - m.f) <= Math.max(0.03 * m.f, s.df_hz) && (!best || Math.abs(f - m.f) < Math.abs(f - best.f))) best = m;
  }
  if (best) text += `, at ${best.label} (${best.f.toFixed(best.f < 100 ? 1 : 0)} Hz)`;
  return text;
}

// Spectra over time: one row per spectrum (newest at the top), colour = log
// amplitude, with the markers (lines over the rows, labels above them laid
// out so that none overprints or is clipped; hidden and unresolved ones are
// listed in the canvas's title) and date labels in a margin that fits them.
export function drawWaterfall(canvas, spectra, maxHz, height = 240, markers = []) {
  const { ctx, w, h } = setupCanvas(canvas, height);
  ctx.clearRect(0, 0, w, h);
  const muted = css('--muted', '#888');
  ctx.font = '11px system-ui, sans-serif';
  canvas.setAttribute('role', 'img');
  canvas.dataset.rows = String(spectra.length);
  canvas.setAttribute('aria-label', spectra.length ? `Waterfall of ${spectra.length} spectra, ${new Date(spectra[spectra.length - 1].ts).toLocaleString()} to ${new Date(spectra[0].ts).toLocaleString()}` : 'Waterfall: no spectra yet');
  if (!spectra.length) { ctx.fillStyle = muted; ctx.textAlign = 'center'; ctx.fillText('no spectra yet', w / 2, h / 2); canvas.dataset.markers = ''; return; }
  const dateLabel = (t) => new Date(t).toLocaleDateString([], { month: 'short', day: 'numeric', hour: '2-digit' });
  const rows = spectra.length;
  const dates = [dateLabel(spectra[0].ts), dateLabel(spectra[rows - 1].ts)];
  const padL = Math.ceil(Math.max(...dates.map((d) => ctx.measureText(d).width))) + 8, padR = 10;
  const labelRows = 2, padT = 4 + labelRows * 12, padB = 18;
  const pw = Math.max(10, w - padL - padR), ph = Math.max(10, h - padT - padB);
  const df = spectra[0].df_hz, n = spectra[0].bins.length;
  const top = Math.min(maxHz || Infinity, n * df);
  const nShown = Math.max(2, Math.min(n, Math.ceil(top / df)));
  let hi = 1e-9;
  for (const s of spectra) for (let i = 1; i < nShown; i++) hi = Math.max(hi, s.bins[i] || 0);
  const lo = hi / 1000;
  const img = ctx.createImageData(Math.max(1, Math.floor(pw)), Math.max(1, Math.floor(ph)));
  for (let y = 0; y < img.height; y++) {
    const s = spectra[Math.min(rows - 1, Math.floor((y / img.height) * rows))];
    for (let x = 0; x < img.width; x++) {
      const v = s.bins[Math.min(nShown - 1, Math.floor((x / img.width) * nShown))] || 0;
      const t = Math.max(0, Math.min(1, Math.log10(Math.max(v, lo) / lo) / 3));
      const o = (y * img.width + x) * 4;
      // dark blue → teal → yellow
      img.data[o] = Math.round(255 * Math.max(0, t * 2 - 1));
      img.data[o + 1] = Math.round(40 + 200 * t);
      img.data[o + 2] = Math.round(90 + 80 * (1 - t));
      img.data[o + 3] = 255;
    }
  }
  const tmp = document.createElement('canvas');
  tmp.width = img.width; tmp.height = img.height;
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, padL, padT, pw, ph);
  const X = (f) => padL + (f / top) * pw;
  // markers: white lines over the rows, labels above
  const list = toMarkers(markers).filter((m) => m.f > 0 && m.f <= top);
  const items = [], unresolved = [];
  for (const m of list) {
    const x = Math.round(X(m.f)) + 0.5;
    const resolved = m.resolved !== false;
    ctx.strokeStyle = '#fff'; ctx.globalAlpha = resolved ? 0.75 : 0.3; ctx.setLineDash(resolved ? [3, 3] : [1, 3]);
    ctx.beginPath(); ctx.moveTo(x, padT); ctx.lineTo(x, padT + ph); ctx.stroke(); ctx.setLineDash([]); ctx.globalAlpha = 1;
    ctx.strokeStyle = markerColor(m); ctx.beginPath(); ctx.moveTo(x, padT - 4); ctx.lineTo(x, padT); ctx.stroke();
    if (resolved) items.push({ label: m.label, x, w: ctx.measureText(m.label).width, m });
    else unresolved.push(m.label);
  }
  const layout = layoutMarkerLabels(items, w, labelRows);
  const boxes = [];
  ctx.textAlign = 'left'; ctx.textBaseline = 'top';
  for (const p of layout.placed) {
    const m = items.find((it) => it.label === p.label).m;
    ctx.fillStyle = markerColor(m); ctx.fillText(p.label, p.x0, 2 + p.row * 12);
    boxes.push({ label: p.label, x: p.x0, y: 2 + p.row * 12, w: p.x1 - p.x0, h: 11 });
  }
  canvas.dataset.markers = layout.placed.map((p) => p.label).join(' ');
  canvas.dataset.labelBoxes = JSON.stringify(boxes);
  canvas.title = [layout.hidden.length ? `Labels hidden (crowded): ${layout.hidden.join(', ')}` : '',
    unresolved.length ? `Not resolved at ${+(+df).toPrecision(3)} Hz bins: ${unresolved.join(', ')}` : ''].filter(Boolean).join('\n');
  // frequency axis (end labels kept inside the canvas) and dates
  ctx.fillStyle = muted; ctx.textBaseline = 'top';
  for (const f of niceTicks(0, top, Math.max(2, Math.floor(pw / 70)))) {
    const text = f + ' Hz', tw = ctx.measureText(text).width;
    ctx.textAlign = 'left';
    ctx.fillText(text, Math.max(0, Math.min(w - tw, X(f) - tw / 2)), padT + ph + 3);
  }
  ctx.textAlign = 'right'; ctx.textBaseline = 'top';
  ctx.fillText(dates[0], padL - 4, padT);
  ctx.textBaseline = 'bottom';
  ctx.fillText(dates[1], padL - 4, padT + ph);
}
