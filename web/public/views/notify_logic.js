// SPDX-License-Identifier: Apache-2.0
// Pure logic of the Notifications pages (no DOM; tested by
// tests/e2e/notify_logic.test.mjs): rule conditions in plain words, the
// editor forms <-> the REST JSON of docs/notifications.md, and a 422
// problem's `field` (e.g. "conditions[0].for_s") -> the form control that
// shows it. Form models hold what the inputs hold (strings, booleans,
// durations in minutes); the JSON holds what the API takes (numbers, seconds).
import { metricLabel, metricUnit } from '../api.js';

export const OPS = [
  ['above', 'is above'], ['below', 'is below'], ['rate_above', 'rises faster than'], ['rate_below', 'falls faster than'],
  ['no_data', 'has no data for'], ['state_held', 'stays in state'], ['increase_above', 'increases (counter) by more than'],
];
// Which inputs each op uses (the rest are hidden and not sent).
export const OP_FIELDS = {
  above: ['value', 'hysteresis', 'for_s'],
  below: ['value', 'hysteresis', 'for_s'],
  rate_above: ['value', 'per_s', 'for_s'],
  rate_below: ['value', 'per_s', 'for_s'],
  no_data: ['for_s'],
  state_held: ['value', 'for_s'],
  increase_above: ['value', 'window'],
};
export const WINDOWS = ['day', 'week', 'month'];
export const SEVERITIES = ['warning', 'alarm'];
export const TEMPLATE_PLACEHOLDERS = ['{{alert.title}}', '{{alert.severity}}', '{{alert.status}}', '{{alert.asset}}',
  '{{alert.position}}', '{{alert.explanation}}', '{{alert.id}}', '{{event}}', '{{actor}}', '{{link}}', '{{ack_link}}', '{{gateway}}'];
export const DELIVERY_STATUSES = ['pending', 'retrying', 'sent', 'failed'];
// What the API answers for a header value (and takes back as "keep it").
export const REDACTED = '•••';

// -18 -> "−18" (a real minus sign), 0.1 + 0.2 -> "0.3".
export function fmtNum(v) {
  if (v === null || v === undefined || v === '' || !Number.isFinite(+v)) return '?';
  const s = String(+(+v).toPrecision(10));
  return s.replace(/^-/, '−');
}

// Seconds in words: 45 s, 10 min, 1 h 30 min, 2 h, 1 d.
export function fmtDuration(s) {
  s = Math.round(+s);
  if (s < 60 || s % 60) return `${s} s`;
  if (s % 86400 === 0) return `${s / 86400} d`;
  if (s < 3600 || s % 3600 === 0) return s < 3600 ? `${s / 60} min` : `${s / 3600} h`;
  return `${Math.floor(s / 3600)} h ${(s % 3600) / 60} min`;
}

// "Temperature" -> "temperature", but "RSSI" stays.
function lowerFirst(t) { return /^[A-Z][a-z]/.test(t) ? t[0].toLowerCase() + t.slice(1) : t; }
const withUnit = (v, u) => (u ? `${fmtNum(v)} ${u}` : fmtNum(v));

// One condition in plain words. ctx.units: metric -> unit (from the series);
// ctx.positions: id -> name, for a condition pinned to a position.
export function conditionText(c, ctx = {}) {
  const units = ctx.units || {};
  const unit = units[c.metric] ?? metricUnit(c.metric || '');
  const what = c.metric === '*' ? 'any metric' : lowerFirst(metricLabel(c.metric || '?'));
  const dur = c.for_s ? ` for ${fmtDuration(c.for_s)}` : '';
  const per = fmtDuration(c.per_s || 60).replace(/^1 (min|h|d)$/, '$1');
  let t;
  switch (c.op) {
    case 'above':
    case 'below': {
      t = `${what} ${c.op} ${withUnit(c.value, unit)}${dur}`;
      if (c.hysteresis) t += ` (clears ${c.op === 'above' ? 'below' : 'above'} ${withUnit(+c.value + (c.op === 'above' ? -1 : 1) * c.hysteresis, unit)})`;
      break;
    }
    case 'rate_above': t = `${what} changes by more than ${withUnit(c.value, unit)} per ${per}${dur}`; break;
    case 'rate_below': t = `${what} changes by less than ${withUnit(c.value, unit)} per ${per}${dur}`; break;
    case 'no_data': t = c.metric === '*' ? `no reading at all for ${fmtDuration(c.for_s || 0)}` : `no ${what} reading for ${fmtDuration(c.for_s || 0)}`; break;
    case 'state_held': t = `${what} is ${+c.value ? 'on' : 'off'}${dur}`; break;
    case 'increase_above': t = `${what} increases by more than ${withUnit(c.value, unit)} in a calendar ${c.window || 'day'}`; break;
    default: t = `${what} ${c.op} ${fmtNum(c.value)}`;
  }
  if (c.position_id) t += ` on ${(ctx.positions && ctx.positions[c.position_id]) || 'position ' + c.position_id}`;
  return t;
}

export function conditionsText(conds, ctx) {
  return (conds || []).map((c) => conditionText(c, ctx)).join(' and ');
}

// ctx.sites / assets / positions: id -> name.
export function scopeText(scope, ctx = {}) {
  const s = scope || {};
  const name = (kind, id) => (ctx[kind + 's'] && ctx[kind + 's'][id]) || `${kind} ${id}`;
  if (s.position_id) return `position ${name('position', s.position_id)}`;
  if (s.asset_id) return `asset ${name('asset', s.asset_id)}`;
  if (s.site_id) return `site ${name('site', s.site_id)}`;
  return 'every asset';
}

export function previewText(fires, days = 7) {
  const span = days === 1 ? 'the last day' : `the last ${days} days`;
  if (!fires) return `Would not have fired in ${span}`;
  return `Would have fired ${fires === 1 ? 'once' : fires + ' times'} in ${span}`;
}

// -------- rule form <-> JSON
const str = (v) => (v === null || v === undefined ? '' : String(v));
const minutes = (s) => (s === null || s === undefined || s === '' ? '' : String(+(s / 60).toPrecision(10)));

export function emptyCondition() {
  return { metric: '', op: 'above', value: '', hysteresis: '', for_min: '', per_min: '', window: 'day', position_id: '' };
}

export function ruleToForm(rule) {
  const r = rule || {};
  const sc = r.scope || {};
  const kind = sc.position_id ? 'position' : sc.asset_id ? 'asset' : sc.site_id ? 'site' : 'all';
  return {
    name: str(r.name), enabled: r.enabled !== false, severity: r.severity || 'warning', message: str(r.message),
    scope: { kind, id: kind === 'all' ? '' : str(sc[kind + '_id']) },
    conditions: (r.conditions && r.conditions.length ? r.conditions : [null]).map((c) => (c ? {
      metric: str(c.metric), op: c.op || 'above', value: str(c.value), hysteresis: str(c.hysteresis),
      for_min: minutes(c.for_s), per_min: minutes(c.per_s), window: c.window || 'day', position_id: str(c.position_id),
    } : emptyCondition())),
  };
}

// Number from an input string: '' -> null, junk -> NaN.
const num = (v) => (str(v).trim() === '' ? null : Number(str(v).trim()));

// -> { rule, errors: [{ field, detail }] } (the errors name fields as the server does).
export function formToRule(f) {
  const errors = [];
  const rule = { name: str(f.name).trim(), enabled: !!f.enabled, severity: f.severity || 'warning', scope: {}, conditions: [] };
  if (!rule.name) errors.push({ field: 'name', detail: 'Give the rule a name.' });
  if (f.message && str(f.message).trim()) rule.message = str(f.message).trim();
  const kind = f.scope && f.scope.kind;
  if (kind && kind !== 'all') {
    const id = num(f.scope.id);
    if (!Number.isInteger(id)) errors.push({ field: `scope.${kind}_id`, detail: `Choose the ${kind}.` });
    else rule.scope[`${kind}_id`] = id;
  }
  (f.conditions || []).forEach((c, i) => {
    const at = `conditions[${i}]`;
    const out = { metric: str(c.metric), op: c.op };
    const uses = OP_FIELDS[c.op] || [];
    if (!out.metric) errors.push({ field: `${at}.metric`, detail: 'Choose a metric.' });
    else if (out.metric === '*' && c.op !== 'no_data') errors.push({ field: `${at}.metric`, detail: '“Any metric” goes only with “has no data”.' });
    if (uses.includes('value')) {
      const v = num(c.value);
      if (v === null || Number.isNaN(v)) errors.push({ field: `${at}.value`, detail: 'Enter a number.' });
      else if (c.op === 'state_held' && v !== 0 && v !== 1) errors.push({ field: `${at}.value`, detail: 'A state is 0 (off) or 1 (on).' });
      else out.value = v;
    }
    if (uses.includes('hysteresis')) {
      const v = num(c.hysteresis);
      if (Number.isNaN(v) || v < 0) errors.push({ field: `${at}.hysteresis`, detail: 'Hysteresis is a number, 0 or more.' });
      else if (v) out.hysteresis = v;
    }
    if (uses.includes('for_s')) {
      const v = num(c.for_min);
      if (Number.isNaN(v) || v < 0) errors.push({ field: `${at}.for_s`, detail: 'The duration is a number of minutes, 0 or more.' });
      else if (c.op === 'no_data' && !v) errors.push({ field: `${at}.for_s`, detail: 'How many minutes without data?' });
      else if (v) out.for_s = Math.round(v * 60);
    }
    if (uses.includes('per_s')) {
      const v = num(c.per_min);
      if (Number.isNaN(v) || (v !== null && v <= 0)) errors.push({ field: `${at}.per_s`, detail: 'The period is a number of minutes above 0.' });
      else if (v) out.per_s = Math.round(v * 60);
    }
    if (uses.includes('window')) out.window = WINDOWS.includes(c.window) ? c.window : 'day';
    const pos = num(c.position_id);
    if (Number.isInteger(pos)) out.position_id = pos;
    rule.conditions.push(out);
  });
  if (!rule.conditions.length) errors.push({ field: 'conditions', detail: 'Add at least one condition.' });
  return { rule, errors };
}

// -------- channel form <-> JSON (secret and header values are write-only)
export function channelToForm(ch) {
  const c = ch || {};
  const w = c.webhook || {};
  return {
    name: str(c.name), type: c.type || 'email', enabled: c.enabled !== false, rate_per_minute: str(c.rate_per_minute),
    to: ((c.email && c.email.to) || []).join('\n'),
    url: str(w.url), secret_set: !!w.secret_set, secret: '', body_template: str(w.body_template), ca_file: str(w.ca_file),
    verify_tls: w.verify_tls !== false,
    headers: Object.keys(w.headers || {}).map((name) => ({ name, value: '', was_set: name })),
  };
}

export function splitRecipients(text) {
  return str(text).split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

export function formToChannel(f) {
  const errors = [];
  const ch = { name: str(f.name).trim(), type: f.type, enabled: !!f.enabled };
  if (!ch.name) errors.push({ field: 'name', detail: 'Give the channel a name.' });
  const rate = num(f.rate_per_minute);
  if (rate !== null && !(Number.isInteger(rate) && rate >= 0 && rate <= 6000)) errors.push({ field: 'rate_per_minute', detail: 'A whole number from 0 (unlimited) to 6000.' });
  else if (rate !== null) ch.rate_per_minute = rate;
  if (f.type === 'email') {
    const to = splitRecipients(f.to);
    if (!to.length) errors.push({ field: 'email.to', detail: 'Enter at least one address.' });
    to.forEach((a, i) => { if (!/^[^@\s]+@[^@\s]+$/.test(a)) errors.push({ field: `email.to[${i}]`, detail: `“${a}” is not an email address.` }); });
    ch.email = { to };
  } else {
    const url = str(f.url).trim();
    const w = { url, verify_tls: !!f.verify_tls };
    if (!/^https?:\/\/\S+$/i.test(url)) errors.push({ field: 'webhook.url', detail: 'The URL starts with http:// or https://.' });
    if (str(f.secret)) w.secret = str(f.secret);
    if (str(f.body_template).trim()) {
      w.body_template = str(f.body_template);
      if (!/^\s*[[{]/.test(w.body_template)) errors.push({ field: 'webhook.body_template', detail: 'The body template is JSON (starts with { or [).' });
    }
    if (str(f.ca_file).trim()) w.ca_file = str(f.ca_file).trim();
    // A header value left empty keeps the one the gateway has (sent back as
    // REDACTED); a new or renamed header needs its value.
    w.headers = {};
    (f.headers || []).forEach((hd, i) => {
      const name = str(hd.name).trim();
      if (!name) return;
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) errors.push({ field: `webhook.headers[${i}]`, detail: `“${name}” is not a header name.` });
      else if (str(hd.value)) w.headers[name] = str(hd.value);
      else if (hd.was_set === name) w.headers[name] = REDACTED;
      else errors.push({ field: `webhook.headers[${i}].value`, detail: `Enter the value of ${name}.` });
    });
    ch.webhook = w;
  }
  return { channel: ch, errors };
}

// -------- route form <-> JSON
export function routeToForm(r) {
  const x = r || {};
  const q = x.quiet_hours;
  return {
    name: str(x.name), events: x.events, severities: x.severities && x.severities.length ? [...x.severities] : [...SEVERITIES],
    site_ids: (x.site_ids || []).map(String), asset_ids: (x.asset_ids || []).map(String), channels: (x.channels || []).map(String),
    quiet: !!q, quiet_from: q ? str(q.from) : '22:00', quiet_to: q ? str(q.to) : '06:00',
    timezone: q ? str(q.timezone) : '', alarms_too: !!(q && q.alarms_too),
    escalate: !!x.escalate_after_min, escalate_after_min: str(x.escalate_after_min || ''), escalate_to: (x.escalate_to || []).map(String),
  };
}

export function formToRoute(f) {
  const errors = [];
  const ids = (a) => (a || []).map(Number).filter(Number.isInteger);
  const route = {
    name: str(f.name).trim(), severities: (f.severities || []).filter((s) => SEVERITIES.includes(s)),
    site_ids: ids(f.site_ids), asset_ids: ids(f.asset_ids), channels: ids(f.channels),
    quiet_hours: null, escalate_after_min: 0, escalate_to: [],
  };
  if (f.events && f.events.length) route.events = [...f.events];  // not on the form: kept as it was
  if (!route.name) errors.push({ field: 'name', detail: 'Give the route a name.' });
  if (!route.channels.length && !f.escalate) errors.push({ field: 'channels', detail: 'Choose at least one channel.' });
  if (f.quiet) {
    const hhmm = /^([01]\d|2[0-3]):[0-5]\d$/;
    if (!hhmm.test(str(f.quiet_from))) errors.push({ field: 'quiet_hours.from', detail: 'A time like 22:00.' });
    if (!hhmm.test(str(f.quiet_to))) errors.push({ field: 'quiet_hours.to', detail: 'A time like 06:00.' });
    if (!str(f.timezone).trim()) errors.push({ field: 'quiet_hours.timezone', detail: 'A time zone like Europe/Berlin.' });
    route.quiet_hours = { from: str(f.quiet_from), to: str(f.quiet_to), timezone: str(f.timezone).trim(), alarms_too: !!f.alarms_too };
  }
  if (f.escalate) {
    const n = num(f.escalate_after_min);
    if (!Number.isInteger(n) || n < 1) errors.push({ field: 'escalate_after_min', detail: 'Whole minutes, 1 or more.' });
    else route.escalate_after_min = n;
    route.escalate_to = ids(f.escalate_to);
    if (!route.escalate_to.length) errors.push({ field: 'escalate_to', detail: 'Choose whom to escalate to.' });
  }
  return { route, errors };
}

// -------- 422 problem -> form control
// "/conditions/0/for_s" (JSON pointer) and "conditions.0.for_s" read as "conditions[0].for_s".
export function normalizeField(field) {
  return str(field).replace(/^\//, '').split(/[/.]/).filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : (i ? '.' : '') + p)).join('').replace(/\.\[/g, '[');
}

// "conditions[0].for_s" -> "conditions[0]" -> "conditions" -> null.
export function parentField(field) {
  const m = /^(.*)(\[\d+\]|\.[^.[\]]+)$/.exec(field);
  return m ? m[1] : null;
}

// The nearest registered control for a problem's field, else null (then
// the form shows it at its top).
// A preview's problems name the member inside its body's "rule".
export function problemTarget(field, keys) {
  const have = new Set(keys);
  const start = normalizeField(field).replace(/^rule\./, '');
  for (let f = start; f; f = parentField(f)) if (have.has(f)) return f;
  return null;
}

// The words shown beside the control `target` for a problem on `field`:
// the gateway's "path: why" loses the path (the control names it) unless
// the control is a parent, which then learns which member is meant.
export function problemMessage(field, detail, target) {
  const f = normalizeField(field);
  let d = str(detail).trim();
  const m = /^([^\s:]+): (.*)$/s.exec(d);
  if (m && normalizeField(m[1]) === f) {
    d = m[2];
    const rest = target ? f.replace(/^rule\./, '').slice(target.length).replace(/^[.[]|\]$/g, '').replace(/^\d+\]\.?/, '') : f;
    if (rest) d = `${rest}: ${d}`;
  }
  return problemText(d);
}

const MEMBER_WORDS = {
  for_s: 'duration', per_s: 'period', hysteresis: 'hysteresis', value: 'value', metric: 'metric', op: 'condition',
  window: 'window', position_id: 'position', asset_id: 'asset', site_id: 'site', rate_per_minute: 'rate limit',
  url: 'URL', body_template: 'body template', ca_file: 'CA file', escalate_after_min: 'escalation delay',
  escalate_to: 'escalation channels', timezone: 'time zone',
};
// The server's detail in plain words: member paths ("conditions[0].for_s",
// "field 'for_s'") become the words on the form.
export function problemText(detail) {
  const t = str(detail).trim().replace(/'([^']*)'/g, '$1')
    .replace(/\bmust be >= 0\b/g, 'must be 0 or more').replace(/\bmust be > 0\b/g, 'must be more than 0')
    .replace(/^required$/, 'required: please fill this in')
    .replace(/\b[a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*/g, (m) => {
      const cond = /^conditions\[(\d+)\]$/.exec(m);
      if (cond) return `condition ${+cond[1] + 1}`;
      const parts = m.replace(/\[\d+\]/g, '').split('.');
      const path = /\[/.test(m) || (parts.length > 1 && parts.every((p) => p.length > 1));
      if (!path && !(m in MEMBER_WORDS && m.includes('_')) && m !== 'name') return m;
      const last = parts.pop();
      return MEMBER_WORDS[last] || last.replace(/_/g, ' ');
    })
    .replace(/^field /, '');
  return t ? t[0].toUpperCase() + t.slice(1) : 'This value was refused.';
}

export function deliveryStatus(status) {
  return ({
    pending: { icon: '⏳', text: 'Pending' }, retrying: { icon: '↻', text: 'Retrying' },
    sent: { icon: '✓', text: 'Sent' }, failed: { icon: '✕', text: 'Failed' },
  })[status] || { icon: '?', text: str(status) || 'Unknown' };
}

export function toMs(ts) {
  if (typeof ts === 'number') return ts < 1e11 ? ts * 1000 : ts;
  const n = Date.parse(ts);
  return Number.isNaN(n) ? null : n;
}
