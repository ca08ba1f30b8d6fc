// SPDX-License-Identifier: Apache-2.0
// Thin fetch wrapper: JSON in and out, the CSRF header on unsafe methods,
// problem+json errors turned into ApiError with the stable `code` (and a
// 422's `field`).

export class ApiError extends Error {
  constructor(status, code, detail, field) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = field;  // a 422 validation problem names the member it refuses
  }
}

function cookie(name) {
  const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : '';
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }
// Reachability: told after every request whether the gateway answered
// (app.js shows the "gateway unreachable" banner and the "as of" time).
let onNetwork = () => {};
export function setNetworkHandler(fn) { onNetwork = fn; }

export async function api(path, { method = 'GET', body, signal, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = cookie('vigil_csrf');
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    onNetwork(false);
    throw new ApiError(0, 'unreachable', 'The gateway is not answering (network or gateway down).');
  }
  onNetwork(res.status < 502 || res.status > 504);
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    if (res.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(res.status, data && data.code, data && data.detail, data && data.field);
  }
  return data;
}

// Small DOM helper: h('div.card', {onclick}, child, 'text', …)
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && k !== 'list' && k !== 'form') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function toast(msg, bad = false) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = 'toast' + (bad ? ' bad' : '');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = 'toast hidden'; }, 4000);
}

export const fmt = {
  num(v, d = 2) {
    if (v === null || v === undefined || Number.isNaN(v)) return '—';
    const a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : v.toFixed(d);
  },
  ago(iso, now = Date.now()) {
    if (!iso) return 'never';
    const s = Math.max(0, (now - new Date(iso).getTime()) / 1000);
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 129600) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  },
  time(ms) {
    return new Date(ms).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  },
};

export const METRICS = {
  velocity_rms_mm_s: { label: 'Velocity RMS', unit: 'mm/s' },
  accel_rms_g: { label: 'Acceleration RMS', unit: 'g' },
  accel_peak_g: { label: 'Acceleration peak', unit: 'g' },
  crest_factor: { label: 'Crest factor', unit: '' },
  kurtosis: { label: 'Kurtosis', unit: '' },
  temperature_c: { label: 'Temperature', unit: '°C' },
  battery_pct: { label: 'Battery', unit: '%' },
  running: { label: 'Running', unit: '' },
  rssi_dbm: { label: 'RSSI', unit: 'dBm' },
};
export const metricLabel = (m) => (METRICS[m] ? METRICS[m].label : m.replace(/_/g, ' '));
export const metricUnit = (m, fallback = '') => (METRICS[m] ? METRICS[m].unit : fallback);
