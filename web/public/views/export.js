// SPDX-License-Identifier: Apache-2.0
// Asset page: "Export data" (CSV or JSON Lines, gzip on request, a time
// range) and the position's "Raw waveforms" (WAV / CSV downloads).
//
// An export asks GET /api/v1/export/estimate first ("about N points"), then
// downloads GET /api/v1/export as a stream (fetch + ReadableStream): the
// gateway streams one snapshot of any size (up to its `limit`) and says in
// X-Vigil-Export-Points how many points the file holds, so the progress bar
// counts the lines received against it ("12,400 of 50,000 points"; gzip:
// counted through DecompressionStream where the browser has it, else the
// bytes received). Cancel aborts the fetch. The parts are kept and saved
// as one file (Blob + a download link) once complete.
import { api, ApiError, h } from '../api.js';
import { fmtBytes, fmtCount } from './storage.js';

const DAY = 86400e3;
export const RANGES = [['24h', 'Last 24 h', DAY], ['7d', 'Last 7 days', 7 * DAY], ['30d', 'Last 30 days', 30 * DAY],
  ['all', 'All stored data', null], ['custom', 'Custom dates…', null]];

// "YYYY-MM-DD" (a date input) → epoch ms of that local day's start (or end).
export function parseDay(s, end = false) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
  if (!m) return null;
  const d = new Date(+m[1], +m[2] - 1, +m[3]);
  if (Number.isNaN(d.getTime())) return null;
  return end ? new Date(+m[1], +m[2] - 1, +m[3] + 1).getTime() - 1 : d.getTime();
}

// The range to export: {from, to} in epoch ms (inclusive), {all: true}, or
// {error} in plain words. `now` is the gateway's time.
export function rangeFor(choice, now, fromDay, toDay) {
  if (choice === 'all') return { all: true };
  if (choice === 'custom') {
    const from = parseDay(fromDay), to = parseDay(toDay, true);
    if (from === null) return { error: 'Choose the first day to export.', field: 'from' };
    if (to === null) return { error: 'Choose the last day to export.', field: 'to' };
    if (to < from) return { error: 'The last day is before the first day.', field: 'to' };
    return { from, to };
  }
  const r = RANGES.find((x) => x[0] === choice);
  if (!r || !r[2]) return { error: 'Choose a time range.' };
  return { from: Math.floor(now - r[2]), to: Math.ceil(now) };
}

// Newline bytes (0x0a) in a part of the body: one per exported row (CSV:
// plus the header line).
export function countNewlines(bytes) {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) ++n;
  return n;
}

// The progress bar's state from the lines received so far. `total` is the
// gateway's count (X-Vigil-Export-Points; `exact` false when only an
// estimate is known), `bytes` what arrived; lines === null when the rows
// cannot be counted (gzip without DecompressionStream).
export function exportProgress({ lines, bytes = 0, total, format = 'csv', exact = true }) {
  if (lines === null || lines === undefined || !(total > 0)) {
    return { value: null, max: 1, text: `${fmtBytes(bytes)} received…` };
  }
  const points = Math.max(0, format === 'csv' ? lines - 1 : lines);
  const value = Math.min(points, total);
  return { value, max: total, points, text: `${fmtCount(points)} of ${exact ? '' : '~'}${fmtCount(total)} points` };
}

const safe = (s) => String(s).normalize('NFKD').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'export';
const day = (ms) => new Date(ms).toISOString().slice(0, 10);

// vigil-<scope>-<from day>_<to day>[-part2of3].csv[.gz]
export function sliceName(scope, slice, k, n, format, gzip) {
  const span = slice ? `-${day(slice.from)}_${day(slice.to)}` : '-all';
  return `vigil-${safe(scope)}${span}${n > 1 ? `-part${k}of${n}` : ''}.${format}${gzip ? '.gz' : ''}`;
}

// Plain words for what went wrong.
export function exportError(e) {
  if (e && e.name === 'AbortError') return 'Export cancelled.';
  if (e instanceof ApiError) {
    if (e.status === 0) return 'The gateway is not answering: check the network and try again.';
    if (e.status === 413) return 'Too many points for one download: choose a shorter range. (' + e.message + ')';
    if (e.status === 429 || e.status === 503) return 'The gateway is busy with other exports: try again in a moment.';
    if (e.status === 401 || e.status === 403) return 'You are no longer signed in, or may not export data.';
    if (e.status === 404) return 'This asset or position no longer exists.';
    return `The gateway refused the export: ${e.message}`;
  }
  return (e && e.message) || String(e);
}

// Streams GET url, reporting progress, and saves the body as `name`.
// Throws ApiError for a refusal, AbortError when cancelled, and an error
// when the body arrives incomplete (the stream broke off).
async function download(url, name, signal, onProgress, format, gzip) {
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', signal });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'The gateway is not answering.');
  }
  if (!res.ok) {
    const p = await res.json().catch(() => ({}));
    throw new ApiError(res.status, p.code, p.detail || res.statusText);
  }
  const exactHeader = res.headers.get('X-Vigil-Export-Points');
  const total = +(exactHeader || res.headers.get('X-Vigil-Estimated-Points') || 0);
  const parts = [];
  let bytes = 0, lines = gzip ? null : 0;
  const report = () => onProgress(exportProgress({ lines, bytes, total, format, exact: !!exactHeader }));
  let counting = null;
  let body = res.body;
  if (gzip && body && typeof DecompressionStream === 'function') {
    // count the rows of the decompressed copy; the file keeps the gzip bytes
    const [keep, count] = body.tee();
    body = keep;
    lines = 0;
    counting = (async () => {
      const r = count.pipeThrough(new DecompressionStream('gzip')).getReader();
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        lines += countNewlines(value);
        report();
      }
    })().catch(() => {});
  }
  try {
    if (body && body.getReader) {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        bytes += value.length;
        if (!gzip) lines += countNewlines(value);
        report();
      }
    } else {
      parts.push(new Uint8Array(await res.arrayBuffer()));
    }
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new Error('The download broke off before the end: try again.');
  }
  if (counting) await counting;
  const blob = new Blob(parts, { type: res.headers.get('Content-Type') || 'application/octet-stream' });
  const href = URL.createObjectURL(blob);
  const a = h('a', { href, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
  report();
  return { bytes: blob.size, points: total };
}

// The "Export data" card of an asset. now() is the gateway's time.
export function exportSection(asset, now, positionId = null) {
  const ids = { fmt: 'exp-format', gz: 'exp-gzip', range: 'exp-range', scope: 'exp-scope', from: 'exp-from', to: 'exp-to' };
  const scope = h('select', { id: ids.scope, name: 'scope' }, h('option', { value: '' }, 'The whole asset'),
    asset.positions.map((p) => h('option', { value: String(p.id), selected: p.id === positionId }, `Position ${p.name}`)));
  const format = h('select', { id: ids.fmt, name: 'format' }, h('option', { value: 'csv' }, 'CSV (spreadsheets)'),
    h('option', { value: 'jsonl' }, 'JSON Lines (scripts)'));
  const gzip = h('input', { id: ids.gz, name: 'gzip', type: 'checkbox' });
  const range = h('select', { id: ids.range, name: 'range' }, RANGES.map(([v, label]) => h('option', { value: v }, label)));
  const today = new Date(now()).toISOString().slice(0, 10);
  const fromDay = h('input', { id: ids.from, name: 'from', type: 'date', value: today, max: today });
  const toDay = h('input', { id: ids.to, name: 'to', type: 'date', value: today, max: today });
  const custom = h('div.row.export-custom', { hidden: true },
    h('label', { for: ids.from }, 'From (first day)', fromDay), h('label', { for: ids.to }, 'To (last day)', toDay));
  range.addEventListener('change', () => { custom.hidden = range.value !== 'custom'; estimateLine.textContent = ''; });
  const go = h('button.primary', { type: 'submit' }, 'Export');
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
  const estimateLine = h('p.export-estimate', { role: 'status', 'aria-live': 'polite' });
  const bar = h('progress.export-progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Export progress' });
  const barText = h('span.export-progress-text');
  const progress = h('div.export-progress-row', { role: 'status', 'aria-live': 'polite' }, bar, barText);
  const err = h('p.field-error.export-error', { role: 'alert', hidden: true });
  let ctl = null;
  cancel.addEventListener('click', () => ctl && ctl.abort());

  const params = (extra) => {
    const q = new URLSearchParams({ asset: String(asset.id) });
    if (scope.value) { q.delete('asset'); q.set('position', scope.value); }
    for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null) q.set(k, String(v));
    return q.toString();
  };
  const setProgress = (pr) => {
    bar.hidden = false;
    bar.max = Math.max(1, pr.max);
    if (pr.value === null) bar.removeAttribute('value');  // indeterminate
    else bar.value = pr.value;
    bar.setAttribute('aria-valuetext', pr.text);
    barText.textContent = pr.text;
  };
  const fail = (msg) => { err.textContent = msg; err.hidden = false; };

  const form = h('form.export-form', {
    'aria-labelledby': 'export-h',
    onsubmit: async (e) => {
      e.preventDefault();
      err.hidden = true; err.textContent = '';
      fromDay.removeAttribute('aria-invalid'); toDay.removeAttribute('aria-invalid');
      const r = rangeFor(range.value, now(), fromDay.value, toDay.value);
      if (r.error) {
        if (r.field) (r.field === 'from' ? fromDay : toDay).setAttribute('aria-invalid', 'true');
        return fail(r.error);
      }
      ctl = new AbortController();
      const { signal } = ctl;
      go.disabled = true; cancel.hidden = false;
      bar.hidden = true; barText.textContent = '';
      estimateLine.textContent = 'Counting the points…';
      try {
        const est = (from, to) => api(`/export/estimate?${params({ from, to })}`, { signal });
        const whole = await est(r.all ? undefined : r.from, r.all ? undefined : r.to);
        estimateLine.textContent = whole.points ? `About ${fmtCount(whole.points)} points in ${fmtCount(whole.series)} series.`
          : 'Nothing is stored for this choice and range.';
        if (!whole.points) return;
        if (whole.points > whole.limit) estimateLine.textContent += ` One download holds at most ${fmtCount(whole.limit)}: the gateway may refuse; choose a shorter range or use \`vigil export\` on the gateway.`;
        const ext = format.value, gz = gzip.checked;
        const scopeName = asset.name + (scope.value ? '-' + scope.selectedOptions[0].textContent.replace(/^Position /, '') : '');
        setProgress({ value: 0, max: whole.points, text: 'Starting the download…' });
        const got = await download(`/api/v1/export?${params({ from: r.all ? undefined : r.from, to: r.all ? undefined : r.to, format: ext, gzip: gz ? 1 : undefined })}`,
          sliceName(scopeName, r.all ? null : r, 1, 1, ext, gz), signal, setProgress, ext, gz);
        const doneText = `Done: ${fmtCount(got.points)} points, ${fmtBytes(got.bytes)}.`;
        setProgress({ value: Math.max(1, got.points), max: Math.max(1, got.points), text: doneText });
      } catch (x) {
        fail(exportError(x));
        if (x && x.name === 'AbortError') bar.hidden = true;
      } finally {
        go.disabled = false; cancel.hidden = true; ctl = null;
      }
    },
  },
  h('div.row.export-controls',
    h('label', { for: ids.scope }, 'Data of', scope),
    h('label', { for: ids.fmt }, 'Format', format),
    h('label', { for: ids.range }, 'Time range', range),
    h('label.check', { for: ids.gz }, gzip, ' Compress (gzip)')),
  custom, h('div.row', go, cancel), estimateLine, progress, err);
  return h('section.card.export', { 'aria-labelledby': 'export-h' },
    h('h2', { id: 'export-h' }, 'Export data'),
    h('p.muted.small', 'Every stored reading of this asset as a file: one line per value with its time (UTC), site, asset, position, sensor, metric and unit. '
      + 'Larger exports are split into several files.'),
    form);
}

// The asset page's "Export…" button: brings the export card into view with
// the position shown chosen (null: the whole asset) and focuses its first
// control.
export function openExport(card, positionId = null) {
  const scope = card.querySelector('select[name="scope"]');
  if (scope && positionId !== null && scope.querySelector(`option[value="${positionId}"]`)) scope.value = String(positionId);
  card.scrollIntoView({ behavior: 'smooth', block: 'start' });
  if (scope) scope.focus({ preventScroll: true });
}

// Waveform times: in the site's time zone when it has one other than UTC,
// else in the browser's.
export function waveformTime(ms, tz) {
  const opts = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' };
  if (tz && tz !== 'UTC') {
    try { return new Date(ms).toLocaleString([], { ...opts, timeZone: tz, timeZoneName: 'short' }); } catch { /* unknown zone */ }
  }
  return new Date(ms).toLocaleString([], opts);
}

const WAVEFORM_LIST = 20;

// The stored raw waveforms of a position, newest first, with downloads.
export function waveformSection(position, tz) {
  const list = h('ul.waveforms');
  const note = h('p.muted.small');
  const el = h('section.waveform-list', { 'aria-labelledby': 'wf-h' },
    h('h3', { id: 'wf-h' }, 'Raw waveforms'), note, list);
  async function reload() {
    let ws;
    try { ws = await api(`/positions/${position.id}/waveforms?limit=${WAVEFORM_LIST}`); } catch (e) {
      note.textContent = 'The waveform list could not be loaded: ' + e.message;
      return;
    }
    note.textContent = ws.length
      ? `The recordings the spectra are computed from, newest first${ws.length >= WAVEFORM_LIST ? ` (the newest ${WAVEFORM_LIST})` : ''}. WAV: the recorded counts as 16-bit sound, one channel per axis; CSV: time and acceleration in g.`
      : 'No raw waveform stored for this position yet.';
    list.replaceChildren(...ws.map((w) => {
      const when = waveformTime(w.ts_ms, tz);
      const href = (f) => `/api/v1/positions/${position.id}/waveforms/${w.id}?format=${f}`;
      return h('li', { dataset: { waveform: w.id } },
        h('time', { dateTime: w.ts }, when),
        h('span.muted.small', ` ${fmtCount(w.samples_per_axis)} samples at ${(w.sample_rate_hz / 1000).toFixed(1)} kHz${w.axes > 1 ? `, ${w.axes} axes` : ''} `),
        h('a.button', { href: href('wav'), download: '', dataset: { format: 'wav' }, 'aria-label': `Download the waveform of ${when} as WAV` }, 'WAV'),
        h('a.button', { href: href('csv'), download: '', dataset: { format: 'csv' }, 'aria-label': `Download the waveform of ${when} as CSV` }, 'CSV'));
    }));
  }
  return { el, reload };
}
