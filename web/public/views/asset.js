// SPDX-License-Identifier: Apache-2.0
// Asset: per position, linked trend charts (velocity RMS with ISO zone lines,
// acceleration, temperature, anomaly score; the learned baseline band once
// the position's models have learned) that zoom and pan together and
// fetch downsampled buckets for the visible range, with the position's
// alerts marked where they opened and closed; the spectra (spectra.js).
import { api, h, fmt, metricLabel, metricUnit, toast } from '../api.js';
import { TimeChart } from '../chart.js';
import { describe, worstPosition, plainWord, plainText } from './triage.js';
import { stateBadge } from './fleet.js';
import { spectraSection } from './spectra.js';
import { exportSection, openExport, waveformSection } from './export.js';
import { catalogAdmin } from './fleet_admin.js';

const TREND_METRICS = ['velocity_rms_mm_s', 'accel_rms_g', 'temperature_c'];
const RANGES = [['1d', 86400e3], ['7d', 7 * 86400e3], ['30d', 30 * 86400e3], ['1y', 365 * 86400e3]];

export function bearingFrequencies(b, rpm) {
  if (!b || !rpm) return null;
  const fr = rpm / 60, ratio = (b.element_diameter_mm / b.pitch_diameter_mm) * Math.cos((b.contact_angle_deg * Math.PI) / 180);
  const n = b.rolling_elements;
  return {
    BPFO: (n / 2) * fr * (1 - ratio),
    BPFI: (n / 2) * fr * (1 + ratio),
    FTF: (fr / 2) * (1 - ratio),
    BSF: (b.pitch_diameter_mm / (2 * b.element_diameter_mm)) * fr * (1 - ratio * ratio),
  };
}

// A model's pill: "model: state", and while it learns the progress, short
// enough for a phone ("vibrationML: initializing · 1.2 h of 2.0 h …"); the
// whole `learning` text of GET /positions/{id}/health (progress, measurement
// count, why learning continues) is the pill's title.
export function modelPill(m) {
  // per-metric models ("metric:battery_pct") by their plant word ("Battery")
  const text = `${m.model.startsWith('metric:') ? plainWord(m.model) : m.model}: ${m.persistent.replace(/_/g, ' ')}`;
  if (!m.learning) return { text, title: '' };
  const progress = m.learning.split(';')[0].replace(/\s*\([^)]*\)\s*$/, '').trim();
  return { text: `${text} · ${progress}${progress !== m.learning.trim() ? ' …' : ''}`, title: m.learning };
}

// The buckets of every series of one metric on a position, merged in time
// order (one request per series; usually there is one).
export async function positionHistory(list, from, to, points, signal) {
  const parts = await Promise.all(list.map((x) => api(`/series/${x.id}?from=${from}&to=${to}&points=${points}`, { signal })));
  if (parts.length === 1) return parts[0];
  const rows = [];
  for (const p of parts) for (let i = 0; i < p.ts.length; i++) rows.push([p.ts[i], p.count[i], p.min[i], p.max[i], p.mean[i]]);
  rows.sort((a, b) => a[0] - b[0]);
  return { ...parts[parts.length - 1], ts: rows.map((r) => r[0]), count: rows.map((r) => r[1]),
           min: rows.map((r) => r[2]), max: rows.map((r) => r[3]), mean: rows.map((r) => r[4]) };
}

export async function renderAsset(main, app, id) {
  const asset = await api(`/assets/${id}`);
  const fleetNow = (await api('/fleet')).now;
  // The class's ISO zone limits as the gateway scores them (user classes included).
  const classes = await api('/machine-classes').catch(() => []);
  const cls = classes.find((c) => c.name === asset.machine_class);
  // the site's time zone, for the times of the raw waveforms
  const siteTz = ((await api('/sites').catch(() => [])).find((s) => s.id === asset.site_id) || {}).timezone;
  // Open on the position in trouble (worst state), not the first.
  let position = worstPosition(asset.positions, fleetNow) || asset.positions[0];
  const charts = [];
  const destroyAll = () => { for (const c of charts.splice(0)) c.destroy(); };
  app.cleanup.push(destroyAll);
  let nowTs = fleetNow;  // server (possibly simulated) time, advanced by live readings
  let view = { from: fleetNow - 86400e3, to: fleetNow + 3600e3 };

  const posTabs = h('div.tabs', asset.positions.map((p) => h('button.tab', {
    dataset: { pos: p.id }, onclick: () => { position = p; show(); },
  }, (() => { const d = describe(p, fleetNow); return h('span.st-icon.st-' + d.state, { role: 'img', 'aria-label': d.text, title: d.text }, d.icon); })(), ' ', h('span.tab-name', p.name))));
  const rangeBtns = h('div.ranges', RANGES.map(([label, span]) => h('button', {
    onclick: () => { const to = nowTs + span * 0.02; setAll(to - span, to); },
    title: `show the last ${label}`,
  }, label)));
  const body = h('div');
  const zones = cls ? [cls.ab, cls.bc, cls.cd] : null;
  // Admins rename the asset in place (PATCH: same asset, positions and history).
  const nameEl = h('span.asset-name', asset.name);
  const rename = app.can && app.can('admin') ? h('button.rename', {
    title: 'Rename this asset; its positions and history stay with it',
    onclick: async () => {
      const name = (prompt(`New name for ${asset.name}`, asset.name) || '').trim();
      if (!name || name === asset.name) return;
      try {
        const r = await api(`/assets/${asset.id}`, { method: 'PATCH', body: { name } });
        asset.name = r.name;
        nameEl.textContent = r.name;
        toast(`Renamed to ${r.name}`);
      } catch (e) { toast(e.message, true); }
    },
  }, 'Rename') : null;
  const exportCard = exportSection(asset, () => nowTs);
  // "Export…" beside the charts' CSV: the export card, on the position shown
  const exportOpen = h('button.export-open', { type: 'button', title: 'Download the stored readings of the position shown (or the whole asset) as CSV or JSON Lines',
    onclick: () => openExport(exportCard, position && position.id) }, 'Export…');
  main.replaceChildren(
    h('div.page-head', h('h1', h('a.back', { href: '#/fleet', 'aria-label': 'Back to the fleet' }, '‹ '), nameEl),
      stateBadge(describe(asset, fleetNow)), rename,
      rename ? catalogAdmin('assets', asset, () => { location.hash = '#/fleet'; }) : null,
      asset.open_alerts ? h('a.pill.alerts', { href: '#/alerts' }, `${asset.open_alerts} open alert(s)`) : null),
    h('p.muted', `${plainWord(asset.machine_class)} · ${asset.shaft_rpm ? asset.shaft_rpm + ' rpm rated' : 'speed not set'}`,
      asset.bearing ? ` · bearing: ${asset.bearing.rolling_elements} elements, d ${asset.bearing.element_diameter_mm} mm, D ${asset.bearing.pitch_diameter_mm} mm` : ''),
    posTabs, body, exportCard);

  function setAll(from, to, except) {
    view = { from, to };
    for (const c of charts) if (c !== except && c.setView) c.setView(from, to);
  }

  async function show() {
    destroyAll();
    for (const b of posTabs.children) b.classList.toggle('active', +b.dataset.pos === position.id);
    const series = await api(`/positions/${position.id}/series`);
    const health = await api(`/positions/${position.id}/health`).catch(() => null);
    const byMetric = Object.fromEntries(series.map((s) => [s.metric, s]));  // the newest series per metric
    // History follows the position: after a sensor was replaced or moved
    // here, a metric's past is in older series of the position too.
    const allOf = (m) => series.filter((x) => x.metric === m);
    const trends = h('div.charts');
    const explain = h('div.explain');
    // What the position learned survives restarts; it learns again only when
    // asked (here, technicians and admins), after maintenance, or when the
    // machine's speed, bearing or band changes.
    const relearn = app.can && app.can('technician') ? h('button.relearn', {
      title: 'Forget what this position has learned and learn its normal behaviour again from the next measurements',
      onclick: async () => {
        if (!confirm(`Re-learn ${position.name}? Its learned baselines are forgotten; it reads "initializing" until it has learned again.`)) return;
        try {
          await api(`/positions/${position.id}/relearn`, { method: 'POST' });
          toast(`${position.name} learns again`);
          setTimeout(show, 500);
        } catch (e) { toast(e.message, true); }
      },
    }, 'Re-learn') : null;
    body.replaceChildren(
      health && health.models.length ? h('div.models', health.models.map((m) => {
        const p = modelPill(m);
        return h('span.pill.state-' + m.persistent, { title: p.title || null, dataset: { model: m.model } }, p.text);
      }), relearn) : h('p.muted.no-data', series.length ? 'No model has scored this position yet.' : 'No data yet: this position’s sensor has not reported.'),
      explain,
      h('div.chart-tools', rangeBtns, h('span.muted', 'Scroll or pinch to zoom, drag to pan, double-click to reset.'),
        series.length ? h('a.button', { href: `/api/v1/series/${(byMetric.velocity_rms_mm_s || series[0]).id}?format=csv&points=10000&from=${Math.floor(view.from)}&to=${Math.ceil(view.to)}`, download: '' }, 'CSV') : '', exportOpen),
      trends);
    const onView = (from, to, src) => setAll(from, to, src);
    const onReset = () => setAll(nowTs - 86400e3, nowTs + 3600e3);
    for (const m of TREND_METRICS) {
      const s = byMetric[m];
      if (!s) continue;
      const c = new TimeChart(trends, {
        title: metricLabel(m), unit: metricUnit(m, s.unit), zones: m === 'velocity_rms_mm_s' ? zones : null,
        baseline: (health && health.baseline && health.baseline[m]) || null,
        fetch: (from, to, points, signal) => positionHistory(allOf(m), from, to, points, signal),
        onView, onReset,
      });
      c.seriesId = s.id; c.metric = m;
      charts.push(c);
    }
    // Anomaly score from the measurements (ML model), when analytics runs.
    const scoreChart = new TimeChart(trends, {
      title: 'Anomaly score', unit: '', height: 120, zeroBased: true, color: '#7b4bb7',
      fetch: async (from, to, points, signal) => {
        const ms = await api(`/positions/${position.id}/measurements?from=${from}&to=${to}&limit=5000`, { signal });
        const pts = ms.filter((x) => x.score !== null).sort((a, b) => a.ts - b.ts);
        const step = Math.max(1, Math.ceil(pts.length / points));
        const d = { ts: [], min: [], max: [], mean: [], from, to };
        for (let i = 0; i < pts.length; i += step) {
          const chunk = pts.slice(i, i + step).map((x) => x.score);
          d.ts.push(pts[i].ts); d.min.push(Math.min(...chunk)); d.max.push(Math.max(...chunk));
          d.mean.push(chunk.reduce((a, b) => a + b, 0) / chunk.length);
        }
        const last = ms.length ? ms.reduce((a, b) => (a.ts > b.ts ? a : b)) : null;
        explain.replaceChildren(last && last.explanation ? h('p', h('b', 'Latest assessment: '), plainText(last.explanation)) : '');
        return d;
      },
      onView, onReset,
    });
    charts.push(scoreChart);
    for (const c of charts) c.setView(view.from, view.to);

    // Alert markers on the trends: when this position's alerts opened and closed.
    const loadAlertMarks = async () => {
      const alerts = await api(`/alerts?position_id=${position.id}&limit=200`);
      const events = [];
      for (const a of alerts) {
        events.push({ ts: Date.parse(a.opened_at), kind: 'opened', severity: a.severity, title: a.title });
        if (a.closed_at) events.push({ ts: Date.parse(a.closed_at), kind: 'closed', severity: a.severity, title: a.title });
      }
      for (const c of charts) if (c instanceof TimeChart) c.setEvents(events);
    };
    loadAlertMarks().catch(() => {});

    // spectra: full resolution on zoom, velocity, dates and baseline compared, markers, waterfall
    const spectra = spectraSection(body, asset, position, charts);
    const loadSpectra = () => spectra.reload();
    loadSpectra().catch(() => {});
    // the position's raw waveforms with WAV / CSV downloads (views/export.js)
    const waves = waveformSection(position, siteTz);
    body.append(waves.el);
    waves.reload().catch(() => {});
    const waveTimer = setInterval(() => waves.reload().catch(() => {}), 30000);
    charts.push({ destroy: () => clearInterval(waveTimer) });

    // live: append readings to the charts of this position
    const onReading = (ev) => {
      const r = ev.detail;
      nowTs = Math.max(nowTs, r.ts);
      if (r.position_id !== position.id) return;
      for (const c of charts) if (c.metric && c.metric in r.values) c.push(r.ts, r.values[c.metric]);
    };
    let specTimer = null;
    const onState = () => { clearTimeout(specTimer); specTimer = setTimeout(() => loadSpectra().catch(() => {}), 1000); };
    let alertTimer = null;
    const onAlert = (ev) => {
      if (ev.detail && ev.detail.position_id !== position.id) return;
      clearTimeout(alertTimer); alertTimer = setTimeout(() => loadAlertMarks().catch(() => {}), 500);
    };
    app.live.addEventListener('reading', onReading);
    app.live.addEventListener('state', onState);
    app.live.addEventListener('alert', onAlert);
    const t = setInterval(() => loadSpectra().catch(() => {}), 15000);
    charts.push({ destroy: () => {
      app.live.removeEventListener('reading', onReading); app.live.removeEventListener('state', onState);
      app.live.removeEventListener('alert', onAlert); clearInterval(t); clearTimeout(specTimer); clearTimeout(alertTimer);
    } });
    for (const c of charts) if (c instanceof TimeChart) c.follow = true;
  }
  if (position) await show(); else body.append(h('p.muted', 'This asset has no positions yet.'));
  void fmt;
}
