// SPDX-License-Identifier: Apache-2.0
// The asset page's spectra, as a vibration analyst reads them
// (GET /positions/{id}/spectra, docs/dashboard.md "Spectra"):
//  - acceleration (g) or velocity (mm/s, integrated by the gateway, zero
//    below its low-frequency cut) at full resolution: zooming (wheel,
//    pinch-free buttons, drag) fetches the band's stored full-resolution bins;
//  - any stored spectrum ("Spectrum of"), a second date to compare and the
//    baseline spectrum of the learning period, overlaid with a legend;
//  - shaft-harmonic and bearing-defect markers from the gateway, labelled
//    only where the bin width resolves them, labels never overprinting
//    (hidden and unresolved ones are listed under the chart);
//  - the envelope spectrum and a waterfall with the same markers.
import { api, h, fmt } from '../api.js';
import { SpectrumChart, drawWaterfall } from '../chart.js';

const COMPARE_COLOR = '#b5540a';
const BASELINE_COLOR = '#6b7370';
const UNITS = { accel: 'g', velocity: 'mm/s' };

export function spectraSection(body, asset, position, charts) {
  const state = { kind: 'accel', at: null, compare: null, baseline: true, band: null, envBand: null };
  const unitBtn = (kind, text) => h('button.unit', {
    type: 'button', 'aria-pressed': String(kind === state.kind), dataset: { kind },
    onclick: () => { if (state.kind !== kind) { state.kind = kind; reload(); } },
  }, text);
  const units = h('div.segmented', { role: 'group', 'aria-label': 'Spectrum amplitude' },
    unitBtn('accel', 'Acceleration (g)'), unitBtn('velocity', 'Velocity (mm/s)'));
  const pickA = h('select', { id: 'spec-at', onchange: () => { state.at = pickA.value ? +pickA.value : null; reload(); } });
  const pickB = h('select', { id: 'spec-compare', onchange: () => { state.compare = pickB.value ? +pickB.value : null; reload(); } });
  const baseBox = h('input', { id: 'spec-baseline', type: 'checkbox', checked: true, onchange: () => { state.baseline = baseBox.checked; reload(); } });
  const note = h('p.muted.spectra-note');
  const band = asset.envelope_band_hz;
  const spec = h('div.spectra');
  const wfCanvas = h('canvas.waterfall');
  const wfTitle = h('h3');
  body.append(h('h2', 'Spectra'),
    h('p.muted.envelope-band', band ? `Envelope demodulated in ${(band[0] / 1000).toFixed(1)}–${(band[1] / 1000).toFixed(1)} kHz (set for this asset)`
      : 'Envelope demodulated in the automatic band (from fs/8); an admin can set this asset\'s envelope band to its housing resonance under Settings.'),
    h('div.spectrum-controls', units,
      h('label', { for: 'spec-at' }, 'Spectrum of ', pickA),
      h('label', { for: 'spec-compare' }, 'Compare with ', pickB),
      h('label.check', { for: 'spec-baseline' }, baseBox, ' Baseline (learning period)')),
    note, spec, wfTitle, wfCanvas);
  const main = new SpectrumChart(spec, { title: 'Acceleration spectrum', unit: 'g', maxHz: 1000, onZoom: (lo, hi) => { state.band = lo === null ? null : { lo, hi }; loadMain(); } });
  const env = new SpectrumChart(spec, { title: 'Envelope spectrum', unit: 'g', maxHz: 500, onZoom: (lo, hi) => { state.envBand = lo === null ? null : { lo, hi }; loadEnv(); } });
  charts.push(main, env);

  const base = `/positions/${position.id}/spectra`;
  const bandQuery = (b, maxHz) => `&from_hz=${b ? b.lo.toFixed(2) : 0}&to_hz=${b ? b.hi.toFixed(2) : maxHz}&max_bins=4096`;
  const one = (q) => api(`${base}?${q}`).then((r) => r[0] || null).catch(() => null);
  const when = (s) => fmt.time(s.ts);
  let seq = 0;

  async function overlay(kind, b, maxHz) {
    const q = `kind=${kind}${bandQuery(b, maxHz)}`;
    const [a, c, bl] = await Promise.all([
      one(q + (state.at ? `&at=${state.at}` : '')),
      state.compare ? one(q + `&at=${state.compare}`) : null,
      state.baseline ? one(q + '&baseline=1') : null,
    ]);
    const list = [];
    if (a) list.push({ s: a, label: `${when(a)}${state.at ? '' : ' (newest)'}` });
    if (c) list.push({ s: c, label: when(c), color: COMPARE_COLOR });
    if (bl) list.push({ s: bl, label: `Baseline (mean of ${bl.baseline_count} spectra while learning${bl.baseline_complete ? '' : ', still learning'})`, color: BASELINE_COLOR, dash: true });
    return list;
  }

  async function loadMain() {
    const my = ++seq;
    const kind = state.kind;
    const list = await overlay(kind, state.band, 1000);
    if (my !== seq) return;
    main.setTitle(kind === 'velocity' ? 'Velocity spectrum' : 'Acceleration spectrum', UNITS[kind]);
    main.set(list);
    const a = list[0] && list[0].s;
    note.textContent = a ? `${kind === 'velocity' ? `Velocity in mm/s (peak), integrated from acceleration; zero below ${a.cut_hz} Hz. ` : 'Acceleration in g (peak). '}` +
      `${a.resolution === 'full' ? 'Full resolution' : 'Display resolution (the waveform is no longer kept)'}: ${+a.df_hz.toPrecision(3)} Hz bins` +
      `${a.shaft_hz ? `; shaft speed 1× = ${a.shaft_hz.toFixed(1)} Hz (${a.shaft_rpm} rpm rated)` : '; shaft speed not set, so no markers'}.` : '';
  }
  async function loadEnv() {
    const list = await overlay('envelope', state.envBand, 500);
    env.set(list);
  }
  async function loadWaterfall() {
    const wf = await api(`${base}?kind=${state.kind}&limit=60`);
    wfTitle.textContent = `Waterfall (${state.kind === 'velocity' ? 'velocity, mm/s' : 'acceleration, g'}, newest at the top)`;
    drawWaterfall(wfCanvas, wf, 1000, 240, wf[0] ? wf[0].markers : []);
    // the dates to choose from: the stored spectra, newest first
    for (const [sel, first, cur] of [[pickA, 'Newest', state.at], [pickB, 'None', state.compare]]) {
      const opts = [h('option', { value: '' }, first), ...wf.map((s) => h('option', { value: String(s.ts) }, when(s)))];
      if (cur && !wf.some((s) => s.ts === cur)) opts.push(h('option', { value: String(cur) }, fmt.time(cur)));
      sel.replaceChildren(...opts);
      sel.value = cur ? String(cur) : '';
    }
  }
  function reload() {
    for (const b of units.children) b.setAttribute('aria-pressed', String(b.dataset.kind === state.kind));
    return Promise.all([loadMain(), loadEnv(), loadWaterfall()]);
  }
  return { reload };
}
