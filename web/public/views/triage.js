// SPDX-License-Identifier: Apache-2.0
// Pure logic of the fleet, asset and alert views (no DOM; node --test in
// tests/e2e/web_logic.test.mjs): which state a tile shows, in what words and
// with what icon, worst first; time-ago and duration text; internal words
// turned into plant words; "—" instead of null.
//
// Contract with GET /api/v1/fleet: an asset/position has `state`
// (alarm | warning | not_running | initializing | healthy | unknown, and
// `no_data` / `learning` when the gateway sends them) and may have
// `severity_rank`, `learning` {learned_hours, learning_hours,
// remaining_hours} and `last_seen` (ISO time or ms). Every one of the newer
// fields is optional: without them the state falls back to `state`, the
// latest readings' times and open alert counts.

// Worst first. The rank is ours (the server's severity_rank only breaks ties
// inside a state, since its scale is not ours to assume).
export const STATE_ORDER = ['alarm', 'warning', 'no_data', 'not_running', 'learning', 'healthy', 'unknown'];

export const STATES = {
  alarm: { word: 'Alarm', icon: '⛔', meaning: 'A model sees a serious deviation from this machine’s normal or an ISO zone D level: act now.' },
  warning: { word: 'Warning', icon: '▲', meaning: 'Something is moving away from normal (ISO zone C or a rising anomaly score): plan an inspection.' },
  no_data: { word: 'No data', icon: '⌀', meaning: 'The gateway has heard nothing from this machine’s sensors for a while: check the sensor, its battery and the radio link.' },
  not_running: { word: 'Not running', icon: '⏸', meaning: 'The machine is stopped: nothing is scored until it runs again.' },
  learning: { word: 'Learning', icon: '◔', meaning: 'Still learning what normal looks like for this machine (48 hours of running by default); alerts come from ISO limits only meanwhile.' },
  healthy: { word: 'Healthy', icon: '✓', meaning: 'Running, and every model reads it as normal.' },
  unknown: { word: 'Unknown', icon: '?', meaning: 'No measurement yet, e.g. a new position whose sensor has not reported.' },
};

export const MODELS = {
  vibrationISO: { word: 'Vibration (ISO limits)', meaning: 'Velocity RMS compared with the ISO 10816 / 20816 zone limits of the machine class: A/B good, C watch, D damage likely.' },
  vibrationML: { word: 'Vibration pattern (learned)', meaning: 'Vibration features (envelope bands at bearing defect frequencies, crest factor, kurtosis…) compared with what this position learned as normal.' },
  temperatureML: { word: 'Temperature (learned)', meaning: 'Surface temperature compared with what this position learned as normal for its running state.' },
};

// A server state word → one of STATE_ORDER.
export function normalizeState(s) {
  if (s === 'initializing' || s === 'learning') return 'learning';
  if (s === 'no_data' || s === 'stale' || s === 'offline') return 'no_data';
  return STATES[s] ? s : 'unknown';
}

const toMs = (t) => (t === null || t === undefined || t === '' ? null : typeof t === 'number' ? t : Date.parse(t));

// Newest time of anything heard for a position: `last_seen`, else its latest readings.
export function lastSeenMs(p) {
  const direct = toMs(p && p.last_seen);
  if (direct !== null && !Number.isNaN(direct)) return direct;
  let best = null;
  for (const v of Object.values((p && p.latest) || {})) {
    const t = toMs(v && (v.ts !== undefined ? v.ts : v.time));
    if (t !== null && !Number.isNaN(t) && (best === null || t > best)) best = t;
  }
  return best;
}

// "3 h", "45 min", "2 d": a duration in words (rounded, never "0 min").
export function durationText(ms) {
  const s = Math.max(0, ms / 1000);
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function agoText(t, now = Date.now()) {
  const ms = toMs(t);
  if (ms === null || Number.isNaN(ms)) return 'never';
  return `${durationText(now - ms)} ago`;
}

const hours = (x) => (x >= 10 ? String(Math.round(x)) : String(Math.round(x * 10) / 10));

// "Learning — about 14 h left (32 of 48 h)"; without progress, "Learning".
export function learningText(l) {
  if (!l || typeof l !== 'object' || !(l.learning_hours > 0)) return 'Learning';
  const learned = Math.max(0, Math.min(l.learned_hours || 0, l.learning_hours));
  const left = l.remaining_hours !== undefined && l.remaining_hours !== null ? Math.max(0, l.remaining_hours) : l.learning_hours - learned;
  if (left < 0.1) return `Learning — almost done (${hours(learned)} of ${hours(l.learning_hours)} h)`;
  return `Learning — about ${hours(left)} h left (${hours(learned)} of ${hours(l.learning_hours)} h)`;
}

// No reading for this long reads "No data" (the gateway's own `no_data`
// state wins when it sends one).
export const NO_DATA_AFTER_MS = 3600e3;

// What one position or asset shows: {state, word, icon, text, rank}.
// `item` is a fleet asset or position; `now` the server's clock (fleet.now).
export function describe(item, now) {
  let state = normalizeState(item && item.state);
  const positions = (item && item.positions) || [item];
  const seen = positions.map(lastSeenMs).filter((t) => t !== null);
  const last = item && item.last_seen !== undefined ? lastSeenMs(item) : (seen.length ? Math.max(...seen) : null);
  if (item && item.open_alerts > 0 && (state === 'healthy' || state === 'learning' || state === 'unknown')) state = 'warning';
  let text = STATES[state].word;
  if (state === 'warning' && normalizeState(item.state) !== 'warning') text = `Warning — ${item.open_alerts} open alert${item.open_alerts > 1 ? 's' : ''}`;
  const stale = last !== null && now - last > NO_DATA_AFTER_MS;
  if (state === 'no_data' || (stale && (state === 'healthy' || state === 'learning'))) {
    state = 'no_data';
    text = last !== null ? `No data for ${durationText(now - last)}` : 'No data yet';
  } else if (state === 'learning') {
    text = learningText(item.learning || worstLearning(positions));
  } else if (state === 'unknown' && last === null) {
    text = 'No data yet';
  }
  return { state, word: STATES[state].word, icon: STATES[state].icon, text, rank: STATE_ORDER.indexOf(state) };
}

function worstLearning(positions) {
  let best = null;
  for (const p of positions) {
    const l = p && p.learning;
    if (l && typeof l === 'object' && (!best || (l.remaining_hours || 0) > (best.remaining_hours || 0))) best = l;
  }
  return best;
}

// Worst first; ties: the server's severity_rank (higher first) when given,
// then more open alerts, then name. Returns a new array.
export function sortWorstFirst(assets, now) {
  const keyed = assets.map((a) => ({ a, d: describe(a, now) }));
  keyed.sort((x, y) => x.d.rank - y.d.rank
    || (y.a.severity_rank || 0) - (x.a.severity_rank || 0)
    || (y.a.open_alerts || 0) - (x.a.open_alerts || 0)
    || String(x.a.name).localeCompare(String(y.a.name)));
  return keyed.map((k) => k.a);
}

// The position the asset page opens on: the worst one (first on ties).
export function worstPosition(positions, now) {
  let best = null, bestRank = Infinity;
  for (const p of positions || []) {
    const r = describe(p, now).rank;
    if (r < bestRank) { best = p; bestRank = r; }
  }
  return best;
}

// Fleet filter: {state: '' | one of STATE_ORDER, site: '' | site id, q: text}.
// `assets` carry `site_name` (added by the caller); text matches asset,
// site and position names, case-insensitive.
export function filterAssets(assets, { state = '', site = '', q = '' } = {}, now = Date.now()) {
  const needle = q.trim().toLowerCase();
  return assets.filter((a) => {
    if (state && describe(a, now).state !== state) return false;
    if (site && String(a.site_id) !== String(site)) return false;
    if (!needle) return true;
    const hay = [a.name, a.site_name, ...(a.positions || []).map((p) => p.name)].join(' ').toLowerCase();
    return hay.includes(needle);
  });
}

// A value for the screen: "—" for null / undefined / NaN / "null".
export function show(v, suffix = '') {
  if (v === null || v === undefined || v === '' || v === 'null' || v === 'undefined' || (typeof v === 'number' && !Number.isFinite(v))) return '—';
  return `${v}${suffix}`;
}

const ROMAN = ['', 'I', 'II', 'III', 'IV', 'V', 'VI'];
const WORDS = {
  sim: 'Simulated sensor', envelope_band_hz: 'Envelope band', battery_pct: 'Battery', rssi_dbm: 'Signal strength',
  velocity_rms_mm_s: 'Velocity RMS', accel_rms_g: 'Acceleration RMS', accel_peak_g: 'Acceleration peak',
  temperature_c: 'Temperature', crest_factor: 'Crest factor', kurtosis: 'Kurtosis', running: 'Running',
  not_running: 'Not running', initializing: 'Learning', no_data: 'No data',
  vibrationISO: 'Vibration (ISO limits)', vibrationML: 'Vibration pattern (learned)', temperatureML: 'Temperature (learned)',
};
// Internal words → plant words: "metric:battery_pct" → "Battery",
// "iso10816_class2" → "ISO 10816 class II", "sim" → "Simulated sensor".
export function plainWord(w) {
  if (w === null || w === undefined) return '—';
  const s = String(w).replace(/^metric:/, '');
  if (WORDS[s]) return WORDS[s];
  const iso = /^iso(\d{5})_class(\d)$/.exec(s);
  if (iso) return `ISO ${iso[1]} class ${ROMAN[+iso[2]] || iso[2]}`;
  if (/^[a-z0-9]+(_[a-z0-9]+)+$/.test(s) || /^[a-z]+$/.test(s)) return (s.charAt(0).toUpperCase() + s.slice(1)).replace(/_/g, ' ');
  return s;
}

// Internal words inside a sentence from the gateway (an explanation):
// "zone C (iso10816_class2)" → "zone C (ISO 10816 class II)".
export function plainText(text) {
  if (text === null || text === undefined) return '';
  return String(text)
    .replace(/\biso\d{5}_class\d\b/g, (w) => plainWord(w))
    .replace(/\bmetric:([a-z0-9_]+)/g, (w) => plainWord(w))
    .replace(/\benvelope_band_hz\b/g, 'envelope band');
}

// A Monitron code for the screen: "BEARING_FAILURE" → "Bearing failure".
export const codeWord = (c) => (c ? String(c).toLowerCase().replace(/_/g, ' ').replace(/^\w/, (x) => x.toUpperCase()) : '—');

// An alert's title in plant words: the gateway's title unless it is the
// bare "<model> on <position>", then "Asset, position: what the model saw".
export function alertTitle(a) {
  const where = [a.asset_name, a.position_name].filter(Boolean).join(', ');
  const t = a.title || '';
  if (t && !/^\w+ on /.test(t)) return where && !t.includes(a.asset_name || '\u0000') ? `${where}: ${t}` : t;
  const what = (MODELS[a.model] ? MODELS[a.model].word.toLowerCase() : plainWord(a.model).toLowerCase()) + ' out of normal';
  return where ? `${where}: ${what}` : what.charAt(0).toUpperCase() + what.slice(1);
}

const EVENT_WORDS = {
  opened: 'Opened', escalated: 'Escalated to alarm', acknowledged: 'Acknowledged', muted: 'Muted', unmuted: 'Unmuted',
  closed: 'Closed', note: 'Note', updated: 'Updated', reopened: 'Reopened',
};
// One timeline line: "Acknowledged by anna — “on my way”".
export function eventText(e) {
  const what = EVENT_WORDS[e.event] || plainWord(e.event);
  const who = e.actor && e.actor !== 'analytics' && e.actor !== 'rules' ? ` by ${e.actor}` : '';
  const note = e.note ? ` — “${plainText(e.note)}”` : '';
  return `${what}${who}${note}`;
}

// The close-out preview's models in words ("Vibration pattern (learned)
// and Temperature (learned) will re-learn"), or '' when nothing re-learns.
export function relearnText(preview) {
  if (!preview) return '';
  const list = preview.relearn || preview.models_relearn || preview.will_relearn || [];
  const names = list.map((m) => plainWord(typeof m === 'string' ? m : m.model));
  if (!names.length) return 'No model will re-learn: what was learned is kept.';
  const joined = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `${joined} will re-learn (their baselines start again from the next measurements).`;
}
