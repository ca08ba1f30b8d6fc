// SPDX-License-Identifier: Apache-2.0
// A sensor's configuration on the Sensors page (issue 18): what the gateway
// asked for (desired) beside what the sensor last reported, and, for admins,
// a small form to ask for a new one.
//
//   GET /sensors/{id}/config → {state: null|pending|applied|failed, desired,
//       desired_at, desired_by, reported, reported_at, firmware_version,
//       attempts, error, next_attempt_at (pending only)}
//   PUT /sensors/{id}/config {measurement_interval_s, waveform_interval_min,
//       tx_power_dbm} (admin) → 202 the same record, pending; 422 {field,
//       detail}; 409 decommissioned or simulated; 404 when the gateway runs
//       without its BLE module (the route does not exist).
//
// The gateway writes a desired configuration over Bluetooth at the sensor's
// next connection window, so "pending" can last as long as the sensor's
// measurement interval. A state is an icon and words, never colour alone.
// The block is loaded when opened (one request per sensor looked at, not
// one per sensor listed). The pure functions at the top are tested in
// tests/e2e/sensor_config_logic.test.mjs; the ranges are the firmware's
// (src/protocol/dfu.h), checked before sending so most mistakes never reach
// the gateway, whose 422 is still shown beside the field it names.
import { api, h, fmt, toast } from '../api.js';
import { durationText } from './triage.js';
import { FieldErrors, numInput, selectInput } from './notify_form.js';

// ---------------------------------------------------------------- pure logic

export const MEASUREMENT_S = Object.freeze({ min: 10, max: 86400 });
export const WAVEFORM_MIN = Object.freeze({ min: 1, max: 10080 });
export const TX_POWERS = Object.freeze([-20, -16, -12, -8, -4, 0, 4]);
// What a sensor runs with until it is told otherwise (protocol::SensorConfig).
export const DEFAULT_CONFIG = Object.freeze({ measurement_interval_s: 600, waveform_interval_min: 60, tx_power_dbm: 0 });
const FIELDS = ['measurement_interval_s', 'waveform_interval_min', 'tx_power_dbm'];
// The firmware's retry limit (sensor_config.h kMaxConfigAttempts).
export const MAX_ATTEMPTS = 5;

// The gateway has the BLE module whose routes these are: GET /health lists
// its "ble" component (absent: PUT and GET would answer 404). Relays alone
// (no radio of its own) cannot write to a sensor either.
export function configAvailable(health) {
  const b = health && health.components && health.components.ble;
  return !!b && typeof b === 'object' && b.radio !== false;
}

// A simulated sensor (the demo's) or a decommissioned one takes no
// configuration; the block is still readable for a decommissioned one.
export const isSimulated = (s) => !!s && typeof s.address === 'string' && s.address.startsWith('sim:');

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// 600 → "10 minutes", 5400 → "1 hour 30 minutes", 86400 → "1 day".
export function secondsWords(s) {
  const n = Math.round(Number(s));
  if (!Number.isFinite(n) || n <= 0) return '—';
  const parts = [];
  let rest = n;
  for (const [size, one] of [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]) {
    const k = Math.floor(rest / size);
    if (k) parts.push(plural(k, one));
    rest -= k * size;
  }
  return parts.join(' ');
}

// The three settings in words: "every 10 minutes", "every hour", "−8 dBm".
export function everyText(seconds) {
  const w = secondsWords(seconds);
  return w === '—' ? w : `every ${w.replace(/^1 (day|hour|minute|second)$/, '$1')}`;
}
export const dbmText = (v) => (typeof v === 'number' ? `${v > 0 ? '+' : ''}${String(v).replace('-', '\u2212')} dBm` : '—');

export const TX_POWER_WORDS = Object.freeze({
  [-20]: 'shortest range, longest battery life', [-16]: '', [-12]: '', [-8]: '', [-4]: '',
  0: 'the default', 4: 'longest range, shortest battery life',
});

// A record's state as {state, icon, text, detail}: detail (or '') adds why
// a pending one is still waiting.
export function configStateWords(cfg, now = Date.now()) {
  const state = cfg && typeof cfg.state === 'string' ? cfg.state : null;
  const attempts = cfg && Number.isInteger(cfg.attempts) && cfg.attempts > 0 ? cfg.attempts : 0;
  switch (state) {
    case null:
      return { state: 'none', icon: '–', text: 'Not changed from this gateway: the sensor runs with its own settings', detail: '' };
    case 'pending': {
      const bits = [];
      if (attempts && cfg.error) bits.push(`Last try: ${cfg.error}`);
      if (attempts && typeof cfg.next_attempt_at === 'number' && cfg.next_attempt_at > now) bits.push(`next try in ${durationText(cfg.next_attempt_at - now)} at the earliest`);
      return { state, icon: '⏳', text: `Waiting for the sensor's next connection (attempt ${Math.min(attempts + 1, MAX_ATTEMPTS)})`, detail: bits.join('; ') };
    }
    case 'applied':
      return { state, icon: '✓', text: cfg.reported_at ? `Applied ${fmt.ago(cfg.reported_at, now)}` : 'Applied', detail: '' };
    case 'failed':
      return { state, icon: '✕', text: `Failed: ${cfg.error || 'no reason given'}`, detail: attempts ? `after ${plural(attempts, 'attempt')}` : '' };
    default:
      return { state: 'unknown', icon: '?', text: 'State unknown', detail: '' };
  }
}

// The Desired | Reported table: [[setting, desired, reported]].
export function configRows(cfg) {
  const d = (cfg && cfg.desired) || null;
  const r = (cfg && cfg.reported) || null;
  const cell = (c, f) => (c ? f(c) : '—');
  return [
    ['Measurement interval', cell(d, (c) => everyText(c.measurement_interval_s)), cell(r, (c) => everyText(c.measurement_interval_s))],
    ['Waveform interval', cell(d, (c) => everyText(c.waveform_interval_min * 60)), cell(r, (c) => everyText(c.waveform_interval_min * 60))],
    ['Advertising power', cell(d, (c) => dbmText(c.tx_power_dbm)), cell(r, (c) => dbmText(c.tx_power_dbm))],
  ];
}

// The form's starting values: the desired configuration, else what the
// sensor reported, else the firmware's defaults; intervals in the largest
// whole unit ("10" minutes, "1" hour).
export function configToForm(cfg) {
  const c = (cfg && (cfg.desired || cfg.reported)) || DEFAULT_CONFIG;
  const s = c.measurement_interval_s;
  const m = c.waveform_interval_min;
  return {
    measurement: String(s % 60 === 0 ? s / 60 : s), measurementUnit: s % 60 === 0 ? 'min' : 's',
    waveform: String(m % 60 === 0 ? m / 60 : m), waveformUnit: m % 60 === 0 ? 'h' : 'min',
    txPower: String(c.tx_power_dbm),
  };
}

const num = (v) => (typeof v === 'number' ? v : String(v ?? '').trim() === '' ? NaN : Number(String(v).trim().replace(',', '.')));
export const UNIT_S = Object.freeze({ s: 1, min: 60, h: 3600, d: 86400 });
// A number and its unit ("s", "min", "h", "d") → seconds, or NaN.
export function toSeconds(value, unit) {
  const n = num(value) * (UNIT_S[unit] || NaN);
  return Number.isFinite(n) ? Math.round(n * 1e6) / 1e6 : NaN;
}

// The form → {body, errors}: body for PUT /sensors/{id}/config (all three
// settings, so sending the same values again retries a failed one), or
// errors [{field, detail}] in the firmware's ranges, named as the gateway
// names them.
export function formToConfig(f = {}) {
  const errors = [];
  const body = {};
  const ms = toSeconds(f.measurement, f.measurementUnit || 's');
  if (!Number.isInteger(ms) || ms < MEASUREMENT_S.min || ms > MEASUREMENT_S.max) {
    errors.push({ field: 'measurement_interval_s', detail: 'Between 10 seconds and 24 hours, in whole seconds.' });
  } else body.measurement_interval_s = ms;
  const wm = toSeconds(f.waveform, f.waveformUnit || 'min') / 60;
  if (!Number.isInteger(wm) || wm < WAVEFORM_MIN.min || wm > WAVEFORM_MIN.max) {
    errors.push({ field: 'waveform_interval_min', detail: 'Between 1 minute and 7 days, in whole minutes.' });
  } else if (body.measurement_interval_s && wm * 60 < body.measurement_interval_s) {
    errors.push({ field: 'waveform_interval_min', detail: `Not more often than the sensor measures (${everyText(body.measurement_interval_s)}).` });
  } else body.waveform_interval_min = wm;
  const tx = num(f.txPower);
  if (!TX_POWERS.includes(tx)) errors.push({ field: 'tx_power_dbm', detail: `One of ${TX_POWERS.map(dbmText).join(', ')}.` });
  else body.tx_power_dbm = tx;
  return errors.length ? { body: null, errors } : { body, errors };
}

const FIELD_WORDS = {
  measurement_interval_s: 'the measurement interval (seconds)',
  waveform_interval_min: 'the waveform interval (minutes)',
  tx_power_dbm: 'the advertising power (dBm)',
};
// The gateway's 422 detail in the form's words: "measurement_interval_s must
// be an integer 10..86400" → "The measurement interval (seconds) must be a
// whole number from 10 to 86400".
export function configProblemText(detail) {
  let t = String(detail ?? '').trim();
  for (const [k, v] of Object.entries(FIELD_WORDS)) t = t.replaceAll(k, v);
  t = t.replace(/an integer (-?\d+)\.\.(-?\d+)/g, 'a whole number from $1 to $2').replace(/-(\d)/g, '\u2212$1');
  return t ? t[0].toUpperCase() + t.slice(1) : 'This value was refused.';
}

// A refusal other than a 422 in words.
export function configErrorText(e) {
  if (!e) return 'Not sent';
  if (e.status === 404) return 'This gateway has no sensor configuration (its Bluetooth module is off: ble.enabled), or the sensor is gone.';
  if (e.status === 409 && e.code === 'decommissioned') return 'This sensor is decommissioned: it takes no configuration.';
  if (e.status === 409) return 'A simulated sensor has no configuration to change.';
  if (e.status === 403) return 'Changing a sensor’s configuration needs the admin role.';
  if (e.status === 0) return 'The gateway is not answering: nothing was sent.';
  return configProblemText(e.detail || e.message || `HTTP ${e.status}`);
}

// ----------------------------------------------------------------------- DOM

const GLOSSARY = [
  ['Measurement interval', 'How often the sensor measures vibration and temperature. Shorter gives fresher readings and uses more battery.'],
  ['Waveform interval', 'How often the sensor also records a raw waveform (the spectra are made from it). Never more often than it measures; waveforms cost the most battery.'],
  ['Advertising power', 'How loud the sensor’s radio is. More power reaches the gateway from farther away and through more metal, but drains the battery faster; each +6 dBm roughly doubles the range in open air.'],
  ['Desired', 'What was asked from this gateway, by whom and when.'],
  ['Reported', 'What the sensor said it runs with, the last time the gateway wrote to it.'],
];

function stateLine(w) {
  return h('span.cmd-state', { dataset: { state: w.state } }, h('span.cmd-icon', { 'aria-hidden': 'true' }, w.icon), ' ', w.text);
}

// The read-only block: state, Desired | Reported, who asked, firmware.
function configBlock(cfg, sensor, now = Date.now()) {
  const w = configStateWords(cfg, now);
  const rows = configRows(cfg);
  return h('div.sensor-config-view', { dataset: { state: w.state } },
    h('p.cmd-status', { tabIndex: -1 }, stateLine(w), w.detail ? h('span.muted', ` · ${w.detail}`) : null),
    h('table.sensor-config-table',
      h('caption.sr-only', `Configuration of sensor ${sensor.address}: desired and reported`),
      h('thead', h('tr', h('th', { scope: 'col' }, 'Setting'), h('th', { scope: 'col' }, 'Desired'), h('th', { scope: 'col' }, 'Reported'))),
      h('tbody', rows.map(([k, d, r]) => h('tr', { dataset: { setting: k } }, h('th', { scope: 'row' }, k), h('td', d), h('td', r))))),
    h('p.muted.small',
      cfg && cfg.desired && cfg.desired_at ? `Asked ${fmt.ago(cfg.desired_at, now)}${cfg.desired_by ? ` by ${cfg.desired_by}` : ''}. ` : '',
      cfg && cfg.reported_at ? `Reported ${fmt.ago(cfg.reported_at, now)}. ` : 'Nothing reported yet. ',
      cfg && cfg.firmware_version ? `Firmware ${cfg.firmware_version}.` : 'Firmware version not reported yet.'),
    h('details.glossary', h('summary', 'What do these settings mean?'),
      h('dl', GLOSSARY.map(([k, v]) => [h('dt', k), h('dd', v)]))));
}

// The admin's form; onSent(record) gets the 202 answer.
function configForm(sensor, cfg, onSent, onCancel) {
  const f = configToForm(cfg);
  const errs = new FieldErrors();
  const ms = numInput('measurement_interval', f.measurement, { min: '0', required: true });
  const msUnit = selectInput('measurement_unit', [['s', 'seconds'], ['min', 'minutes'], ['h', 'hours']], f.measurementUnit);
  msUnit.setAttribute('aria-label', 'Measurement interval unit');
  const wf = numInput('waveform_interval', f.waveform, { min: '0', required: true });
  const wfUnit = selectInput('waveform_unit', [['min', 'minutes'], ['h', 'hours'], ['d', 'days']], f.waveformUnit);
  wfUnit.setAttribute('aria-label', 'Waveform interval unit');
  const tx = selectInput('tx_power_dbm', TX_POWERS.map((p) => [p, dbmText(p) + (TX_POWER_WORDS[p] ? ` (${TX_POWER_WORDS[p]})` : '')]), f.txPower);
  const msField = errs.field('measurement_interval_s', 'Measurement interval', ms,
    'How often the sensor measures: from 10 seconds to 24 hours. Shorter gives fresher readings and a shorter battery life.');
  const wfField = errs.field('waveform_interval_min', 'Waveform interval', wf,
    'How often it also records a raw waveform (for the spectra): from 1 minute to 7 days, never more often than it measures.');
  const txField = errs.field('tx_power_dbm', 'Advertising power', tx,
    'More power reaches the gateway from farther away (each +6 dBm about doubles the range in open air) but drains the battery faster; less saves battery when the gateway is close.');
  // Each number with its unit on one line, and the interval in words as it
  // is typed. The unit and the words sit inside the <label>: each control is
  // named by the label's own text only (not "… minutes every 10 minutes").
  const msWords = h('span.hint.config-words');
  const wfWords = h('span.hint.config-words');
  for (const [input, unit, said] of [[ms, msUnit, msWords], [wf, wfUnit, wfWords]]) {
    const line = h('span.row');
    input.replaceWith(line);
    line.append(input, unit, said);
  }
  for (const [field, input] of [[msField, ms], [wfField, wf], [txField, tx]]) {
    const text = field.querySelector('.label-text');
    text.id = `${input.name}-${sensor.id}-label`;
    input.setAttribute('aria-labelledby', text.id);
  }
  const words = () => {
    const s = toSeconds(ms.value, msUnit.value);
    const w = toSeconds(wf.value, wfUnit.value);
    msWords.textContent = s > 0 ? everyText(s) : '';
    wfWords.textContent = w > 0 ? everyText(w) : '';
  };
  const read = () => ({ measurement: ms.value, measurementUnit: msUnit.value, waveform: wf.value, waveformUnit: wfUnit.value, txPower: tx.value });
  for (const el of [ms, msUnit, wf, wfUnit]) el.addEventListener('input', words);
  words();
  const submit = h('button.primary', { type: 'submit' }, 'Send to the sensor');
  const form = h('form.stack.cmd-inline.sensor-config-form', {
    noValidate: true,  // our own messages, beside each field (formToConfig)
    'aria-label': `Change the configuration of sensor ${sensor.address}`,
    onsubmit: async (e) => {
      e.preventDefault();
      errs.clear();
      const r = formToConfig(read());
      if (r.errors.length) { errs.show(r.errors); return; }
      submit.disabled = true;
      try {
        const rec = await api(`/sensors/${encodeURIComponent(sensor.id)}/config`, { method: 'PUT', body: r.body });
        toast(`Configuration of ${sensor.address} saved: the gateway writes it at the sensor's next connection`);
        onSent(rec);
      } catch (x) {
        if (x && x.status === 422) errs.show([{ field: x.field || '', detail: configProblemText(x.detail || x.message) }]);
        else if (x && x.status > 0 && x.status < 500) errs.top.append(h('p.error', configErrorText(x)));
        else toast(configErrorText(x), true);
      } finally { submit.disabled = false; }
    },
  }, h('h3', 'Change the configuration'), errs.top, msField, wfField, txField,
  h('div.row', submit, h('button', { type: 'button', onclick: onCancel }, 'Cancel')));
  return form;
}

// For the Sensors page (views/sensors.js): null when this gateway has no
// sensor configuration (configAvailable), else sensor → its action element
// ("Configuration…"), or null for a simulated sensor. Everybody sees the
// block; `admin` adds the form.
export function configAction(health, admin) {
  if (!configAvailable(health)) return null;
  return (sensor) => (isSimulated(sensor) ? null : configControl(sensor, admin && !sensor.decommissioned));
}

function configControl(sensor, admin) {
  const box = h('div.sensor-config-action');
  const open = h('button.link', { type: 'button', 'aria-expanded': 'false' }, 'Configuration…');
  let row = null;
  // The block opens in a row of its own under the sensor's (the table's
  // full width), as the re-assign form does; outside a table, below the button.
  async function show(on) {
    open.setAttribute('aria-expanded', String(on));
    if (row) { row.remove(); row = null; }
    if (!on) { open.focus(); return; }
    const body = h('section.sensor-config', { 'aria-label': `Configuration of sensor ${sensor.address}` },
      h('h2.small', `Configuration of ${sensor.address}`), h('p.muted', { role: 'status' }, 'Loading…'));
    const tr = box.closest('tr');
    row = tr ? h('tr.sensor-config-row', h('td', { colSpan: tr.children.length }, body)) : body;
    if (tr) tr.after(row); else box.append(row);
    const mine = row;
    let cfg;
    try {
      cfg = await api(`/sensors/${encodeURIComponent(sensor.id)}/config`);
    } catch (e) {
      if (row === mine) body.replaceChildren(h('h2.small', `Configuration of ${sensor.address}`), h('p.error', configErrorText(e)));
      return;
    }
    if (row !== mine) return;  // closed (or re-opened) meanwhile
    const draw = (c, withForm) => {
      const parts = [h('h2.small', `Configuration of ${sensor.address}`), configBlock(c, sensor)];
      if (withForm) parts.push(configForm(sensor, c, (rec) => { draw(rec, true); body.querySelector('.cmd-status').focus(); }, () => show(false)));
      else parts.push(h('div.row', h('button', { type: 'button', onclick: () => show(false) }, 'Close')));
      body.replaceChildren(...parts);
    };
    draw(cfg, admin);
    const first = body.querySelector('form input');
    if (first) first.focus();
  }
  open.addEventListener('click', () => show(open.getAttribute('aria-expanded') !== 'true'));
  box.append(open);
  return box;
}
