// SPDX-License-Identifier: Apache-2.0
// Unit tests of the dashboard's pure logic (node --test, no browser): the
// spectrum summary, bearing defect frequencies, QR code parsing. The
// modules are the very files the gateway embeds (web/public).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeSpectrum } from '../../web/public/chart.js';
import { bearingFrequencies } from '../../web/public/views/asset.js';
import { parseSensorCode } from '../../web/public/views/sensors.js';

const noise = (n, seed = 7) => {
  let x = seed;
  return Array.from({ length: n }, () => { x = (x * 1103515245 + 12345) % 2147483648; return 0.001 + 0.0005 * (x / 2147483648); });
};
const markers = [{ f: 24.7, label: '1×' }, { f: 49.3, label: '2×' }, { f: 88.4, label: 'BPFO' }, { f: 133.6, label: 'BPFI' }];

test('a line standing out at BPFO is named, within the 3 % slip allowance', () => {
  const bins = noise(200);
  bins[Math.round(86.0 / 1.25)] = 0.02;  // 86 Hz: 2.7 % below BPFO, as a slipping bearing puts it
  assert.equal(summarizeSpectrum({ df_hz: 1.25, bins }, markers, 250, 'g'), 'peak 0.02 g at 86.3 Hz, at BPFO (88.4 Hz)');
});

test('a line more than 3 % from every marker names none', () => {
  const bins = noise(200);
  bins[Math.round(110 / 1.25)] = 0.02;
  assert.equal(summarizeSpectrum({ df_hz: 1.25, bins }, markers, 250, 'g'), 'peak 0.02 g at 110 Hz');
});

test('a peak in a flat noise floor is not read as a defect', () => {
  const text = summarizeSpectrum({ df_hz: 1.25, bins: noise(200) }, markers, 250, 'g');
  assert.match(text, /^peak [\d.]+ g at [\d.]+ Hz \(no dominant line\)$/);
});

test('DC and the high-pass skirt below bin 2 and lines above maxHz are ignored', () => {
  const bins = noise(400);
  bins[0] = 5; bins[1] = 3; bins[300] = 1;  // DC, skirt, and a line at 375 Hz beyond maxHz 250
  bins[Math.round(24.7 / 1.25)] = 0.05;
  assert.equal(summarizeSpectrum({ df_hz: 1.25, bins }, markers, 250, 'g'), 'peak 0.05 g at 25.0 Hz, at 1× (24.7 Hz)');
});

test('bearing defect frequencies follow the kinematic formulas', () => {
  // 9 balls of 7.94 mm on a 39 mm pitch circle, 0° contact, 1480 rpm (the demo pump)
  const f = bearingFrequencies({ rolling_elements: 9, element_diameter_mm: 7.94, pitch_diameter_mm: 39, contact_angle_deg: 0 }, 1480);
  assert.ok(Math.abs(f.BPFO - 88.40) < 0.01);
  assert.ok(Math.abs(f.BPFI - 133.60) < 0.01);
  assert.ok(Math.abs(f.FTF - 9.822) < 0.001);
  assert.ok(Math.abs(f.BSF - 58.07) < 0.01);
  assert.ok(Math.abs(f.BPFO + f.BPFI - 9 * 1480 / 60) < 1e-9, 'BPFO + BPFI = n × shaft frequency');
  assert.equal(bearingFrequencies(null, 1480), null);
  assert.equal(bearingFrequencies(f, 0), null);
});

test('sensor QR codes parse in the vigil, JSON and free-text forms', () => {
  assert.deepEqual(parseSensorCode('vigil:a4:c1:38:5a:1b:2c:00112233445566778899aabbccddeeff'),
    { address: 'A4:C1:38:5A:1B:2C', key: '00112233445566778899aabbccddeeff' });
  assert.deepEqual(parseSensorCode('{"address":"A4:C1:38:5A:1B:2C","key":""}'), { address: 'A4:C1:38:5A:1B:2C', key: '' });
  assert.deepEqual(parseSensorCode('MAC A4-C1-38-5A-1B-2C'), { address: 'A4:C1:38:5A:1B:2C', key: '' });
  assert.equal(parseSensorCode('no address here'), null);
});

// ---- triage: fleet order, state words, time text, plant words (views/triage.js)
import { describe as describeState, sortWorstFirst, filterAssets, learningText, durationText, agoText,
  plainWord, show, worstPosition, alertTitle, eventText, relearnText, STATE_ORDER, STATES } from '../../web/public/views/triage.js';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const pos = (state, extra = {}) => ({ state, latest: { temperature_c: { value: 40, ts: NOW - 60e3 } }, ...extra });
const asset = (name, state, extra = {}) => ({ name, state, open_alerts: 0, positions: [pos(state)], ...extra });

test('the fleet sorts worst first: alarm, warning, no data, not running, learning, healthy, unknown', () => {
  const fleet = [
    asset('H', 'healthy'), asset('U', 'unknown', { positions: [{ state: 'unknown', latest: {} }] }),
    asset('L', 'initializing'), asset('N', 'not_running'), asset('A', 'alarm'), asset('W', 'warning'),
    asset('D', 'healthy', { positions: [pos('healthy', { latest: { temperature_c: { value: 1, ts: NOW - 3 * 3600e3 } } })] }),
  ];
  assert.deepEqual(sortWorstFirst(fleet, NOW).map((a) => a.name), ['A', 'W', 'D', 'N', 'L', 'H', 'U']);
  assert.deepEqual(STATE_ORDER, ['alarm', 'warning', 'no_data', 'not_running', 'learning', 'healthy', 'unknown']);
});

test('ties inside a state follow the server severity_rank, then open alerts, then name', () => {
  const fleet = [asset('b', 'warning'), asset('a', 'warning'), asset('c', 'warning', { open_alerts: 2 }), asset('z', 'warning', { severity_rank: 9 })];
  assert.deepEqual(sortWorstFirst(fleet, NOW).map((a) => a.name), ['z', 'c', 'a', 'b']);
});

test('an asset with an open alert never reads healthy', () => {
  const d = describeState(asset('P', 'healthy', { open_alerts: 2 }), NOW);
  assert.equal(d.state, 'warning');
  assert.equal(d.text, 'Warning — 2 open alerts');
});

test('states read in words with an icon, never colour alone', () => {
  for (const s of STATE_ORDER) { assert.ok(STATES[s].word && STATES[s].icon && STATES[s].meaning, s); }
  assert.notEqual(STATES.alarm.icon, STATES.warning.icon);
  assert.equal(describeState(asset('N', 'not_running'), NOW).text, 'Not running');
  assert.equal(describeState({ state: 'unknown', latest: {} }, NOW).text, 'No data yet');
});

test('learning shows how long is left, from the gateway learning progress', () => {
  assert.equal(learningText({ learned_hours: 32, learning_hours: 48, remaining_hours: 14 }), 'Learning — about 14 h left (32 of 48 h)');
  assert.equal(learningText({ learned_hours: 0.5, learning_hours: 2 }), 'Learning — about 1.5 h left (0.5 of 2 h)');
  assert.equal(learningText(null), 'Learning');
  const d = describeState(asset('L', 'initializing', { positions: [pos('initializing', { learning: { learned_hours: 32, learning_hours: 48, remaining_hours: 14 } })] }), NOW);
  assert.equal(d.text, 'Learning — about 14 h left (32 of 48 h)');
});

test('a position silent for 3 h reads "No data for 3 h", from last_seen or its latest readings', () => {
  const old = { state: 'healthy', latest: { temperature_c: { value: 1, ts: NOW - 3 * 3600e3 } } };
  assert.equal(describeState(old, NOW).text, 'No data for 3 h');
  assert.equal(describeState({ state: 'healthy', last_seen: new Date(NOW - 3 * 3600e3).toISOString(), latest: {} }, NOW).text, 'No data for 3 h');
  assert.equal(describeState({ state: 'no_data', last_seen: null, latest: {} }, NOW).text, 'No data yet');
  // a machine in alarm stays alarm, however old its data
  assert.equal(describeState({ state: 'alarm', latest: old.latest }, NOW).state, 'alarm');
});

test('durations and time-ago read in round plant units', () => {
  assert.equal(durationText(30e3), '30 s');
  assert.equal(durationText(45 * 60e3), '45 min');
  assert.equal(durationText(3 * 3600e3), '3 h');
  assert.equal(durationText(3 * 86400e3), '3 d');
  assert.equal(agoText(NOW - 120e3, NOW), '2 min ago');
  assert.equal(agoText(null, NOW), 'never');
});

test('the fleet filter matches state, site and text in asset, site or position names', () => {
  const fleet = [asset('Pump P-101', 'alarm', { site_id: 1, site_name: 'North' }), asset('Fan F-301', 'healthy', { site_id: 2, site_name: 'South', positions: [{ ...pos('healthy'), name: 'Fan DE' }] })];
  assert.deepEqual(filterAssets(fleet, { state: 'alarm' }, NOW).map((a) => a.name), ['Pump P-101']);
  assert.deepEqual(filterAssets(fleet, { site: '2' }, NOW).map((a) => a.name), ['Fan F-301']);
  assert.deepEqual(filterAssets(fleet, { q: 'fan de' }, NOW).map((a) => a.name), ['Fan F-301']);
  assert.deepEqual(filterAssets(fleet, { q: 'south' }, NOW).map((a) => a.name), ['Fan F-301']);
  assert.equal(filterAssets(fleet, {}, NOW).length, 2);
});

test('the asset page opens on the worst position', () => {
  const ps = [{ id: 1, ...pos('healthy') }, { id: 2, ...pos('warning') }, { id: 3, ...pos('alarm') }, { id: 4, ...pos('alarm') }];
  assert.equal(worstPosition(ps, NOW).id, 3);
  assert.equal(worstPosition([], NOW), null);
});

test('internal words become plant words; null becomes a dash', () => {
  assert.equal(plainWord('metric:battery_pct'), 'Battery');
  assert.equal(plainWord('iso10816_class2'), 'ISO 10816 class II');
  assert.equal(plainWord('iso10816_class3'), 'ISO 10816 class III');
  assert.equal(plainWord('sim'), 'Simulated sensor');
  assert.equal(plainWord('envelope_band_hz'), 'Envelope band');
  assert.equal(plainWord(null), '—');
  for (const v of [null, undefined, NaN, 'null', '']) assert.equal(show(v), '—');
  assert.equal(show(3, ' %'), '3 %');
});

test('alert titles and timeline lines read in plant words', () => {
  assert.equal(alertTitle({ title: 'vibrationML on Pump DE', model: 'vibrationML', asset_name: 'Pump P-101', position_name: 'Pump DE' }),
    'Pump P-101, Pump DE: vibration pattern (learned) out of normal');
  assert.equal(alertTitle({ title: 'bearing outer-race pattern rising', model: 'vibrationML', asset_name: 'P-101 pump', position_name: 'drive end' }),
    'P-101 pump, drive end: bearing outer-race pattern rising');
  assert.equal(eventText({ event: 'acknowledged', actor: 'anna', note: 'on my way' }), 'Acknowledged by anna — “on my way”');
  assert.equal(eventText({ event: 'opened', actor: 'analytics', note: '' }), 'Opened');
  assert.equal(relearnText({ relearn: ['temperatureML'] }), 'Temperature (learned) will re-learn (their baselines start again from the next measurements).');
  assert.equal(relearnText({ relearn: [] }), 'No model will re-learn: what was learned is kept.');
});

test('learning with nothing left to wait for reads "almost done", not "about 0 h left"', () => {
  assert.equal(learningText({ learned_hours: 2, learning_hours: 2, remaining_hours: 0 }), 'Learning — almost done (2 of 2 h)');
});

test('internal words inside the gateway explanations become plant words', async () => {
  const { plainText } = await import('../../web/public/views/triage.js');
  assert.equal(plainText('velocity RMS 2.82 mm/s, zone C (iso10816_class2)'), 'velocity RMS 2.82 mm/s, zone C (ISO 10816 class II)');
  assert.equal(plainText('metric:battery_pct below 20'), 'Battery below 20');
  assert.equal(plainText(null), '');
});

test('a per-metric model pill reads its plant word, not metric:battery_pct', async () => {
  const { modelPill } = await import('../../web/public/views/asset.js');
  assert.equal(modelPill({ model: 'metric:battery_pct', persistent: 'healthy' }).text, 'Battery: healthy');
  assert.equal(modelPill({ model: 'vibrationML', persistent: 'not_running' }).text, 'vibrationML: not running');
});
