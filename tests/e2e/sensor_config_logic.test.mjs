// SPDX-License-Identifier: Apache-2.0
// A sensor's configuration on the Sensors page (views/sensor_config.js):
// its state in words, desired beside reported, the form checked in the
// firmware's ranges before sending and turned into the PUT body, the
// gateway's refusals in plain words. Pure logic, node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  configStateWords, configRows, configToForm, formToConfig, configProblemText, configErrorText,
  configAvailable, isSimulated, secondsWords, everyText, dbmText, toSeconds, DEFAULT_CONFIG,
} from '../../web/public/views/sensor_config.js';

const now = Date.parse('2026-12-02T10:00:00Z');
const desired = { seq: 3, measurement_interval_s: 300, waveform_interval_min: 120, tx_power_dbm: -8 };
const reported = { seq: 2, measurement_interval_s: 600, waveform_interval_min: 60, tx_power_dbm: 0 };

test('a pending configuration waits for the sensor\'s next connection and counts its attempts', () => {
  const w = configStateWords({ state: 'pending', desired, attempts: 0, next_attempt_at: now }, now);
  assert.deepEqual([w.state, w.icon, w.text, w.detail], ['pending', '⏳', "Waiting for the sensor's next connection (attempt 1)", '']);
  const retry = configStateWords({ state: 'pending', attempts: 2, error: 'no connection', next_attempt_at: now + 5 * 60e3 }, now);
  assert.equal(retry.text, "Waiting for the sensor's next connection (attempt 3)");
  assert.equal(retry.detail, 'Last try: no connection; next try in 5 min at the earliest');
});

test('an applied configuration says how long ago, a failed one why, in words with an icon', () => {
  const a = configStateWords({ state: 'applied', reported_at: now - 2 * 60e3 }, now);
  assert.deepEqual([a.icon, a.text], ['✓', 'Applied 2 min ago']);
  const f = configStateWords({ state: 'failed', error: 'the sensor refused tx_power_dbm', attempts: 1 }, now);
  assert.deepEqual([f.icon, f.text, f.detail], ['✕', 'Failed: the sensor refused tx_power_dbm', 'after 1 attempt']);
  assert.equal(configStateWords({ state: 'failed', error: null }, now).text, 'Failed: no reason given');
  assert.equal(configStateWords({ sensor_id: 4, state: null, desired: null, reported: null }, now).state, 'none');
  assert.equal(configStateWords({ state: 'bogus' }, now).text, 'State unknown');
  for (const w of [a, f]) assert.ok(w.icon && w.text, 'never colour alone: an icon and words');
});

test('desired and reported stand side by side in plain words, "—" where nothing is known', () => {
  assert.deepEqual(configRows({ desired, reported }), [
    ['Measurement interval', 'every 5 minutes', 'every 10 minutes'],
    ['Waveform interval', 'every 2 hours', 'every hour'],
    ['Advertising power', '\u22128 dBm', '0 dBm'],
  ]);
  assert.deepEqual(configRows({ desired, reported: null }).map((r) => r[2]), ['—', '—', '—']);
  assert.deepEqual(configRows(null).map((r) => r[1]), ['—', '—', '—']);
});

test('intervals and power read as words', () => {
  assert.equal(secondsWords(5400), '1 hour 30 minutes');
  assert.equal(secondsWords(86400), '1 day');
  assert.equal(secondsWords(10), '10 seconds');
  assert.equal(everyText(60), 'every minute');
  assert.equal(everyText(604800), 'every 7 days');
  assert.equal(everyText(null), '—');
  assert.deepEqual([dbmText(4), dbmText(0), dbmText(-20)], ['+4 dBm', '0 dBm', '\u221220 dBm']);
  assert.equal(toSeconds('1,5', 'min'), 90);
  assert.ok(Number.isNaN(toSeconds('', 's')));
});

test('the form starts from the desired configuration in the largest whole unit, else the defaults', () => {
  assert.deepEqual(configToForm({ desired, reported }),
    { measurement: '5', measurementUnit: 'min', waveform: '2', waveformUnit: 'h', txPower: '-8' });
  assert.deepEqual(configToForm({ desired: { ...desired, measurement_interval_s: 45, waveform_interval_min: 90 } }),
    { measurement: '45', measurementUnit: 's', waveform: '90', waveformUnit: 'min', txPower: '-8' });
  assert.deepEqual(formToConfig(configToForm(null)).body, { ...DEFAULT_CONFIG });
});

test('a good form becomes the PUT body with all three settings in the gateway\'s units', () => {
  const r = formToConfig({ measurement: '2', measurementUnit: 'min', waveform: '1', waveformUnit: 'd', txPower: '4' });
  assert.deepEqual(r, { body: { measurement_interval_s: 120, waveform_interval_min: 1440, tx_power_dbm: 4 }, errors: [] });
  assert.deepEqual(formToConfig({ measurement: '10', measurementUnit: 's', waveform: '7', waveformUnit: 'd', txPower: '-20' }).body,
    { measurement_interval_s: 10, waveform_interval_min: 10080, tx_power_dbm: -20 });
});

test('values out of the firmware\'s ranges are refused before sending, each naming its field', () => {
  const fields = (f) => formToConfig(f).errors.map((e) => e.field);
  const ok = { measurement: '10', measurementUnit: 'min', waveform: '1', waveformUnit: 'h', txPower: '0' };
  assert.deepEqual(fields({ ...ok, measurement: '5', measurementUnit: 's' }), ['measurement_interval_s']);
  assert.deepEqual(fields({ ...ok, measurement: '25', measurementUnit: 'h' }), ['measurement_interval_s']);
  assert.deepEqual(fields({ ...ok, measurement: '' }), ['measurement_interval_s']);
  assert.deepEqual(fields({ ...ok, measurement: '10.5', measurementUnit: 's' }), ['measurement_interval_s']);
  assert.deepEqual(fields({ ...ok, waveform: '8', waveformUnit: 'd' }), ['waveform_interval_min']);
  assert.deepEqual(fields({ ...ok, waveform: '30', waveformUnit: 's' }), ['waveform_interval_min']);
  assert.deepEqual(fields({ ...ok, txPower: '3' }), ['tx_power_dbm']);
  assert.equal(formToConfig({ ...ok, txPower: '3' }).body, null);
  // a waveform more often than the sensor measures
  const r = formToConfig({ ...ok, measurement: '2', measurementUnit: 'h', waveform: '60', waveformUnit: 'min' });
  assert.deepEqual(r.errors, [{ field: 'waveform_interval_min', detail: 'Not more often than the sensor measures (every 2 hours).' }]);
});

test('the gateway\'s refusals read in the form\'s words', () => {
  assert.equal(configProblemText('measurement_interval_s must be an integer 10..86400'),
    'The measurement interval (seconds) must be a whole number from 10 to 86400');
  assert.equal(configProblemText('tx_power_dbm must be one of -20, -16, -12, -8, -4, 0, 4'),
    'The advertising power (dBm) must be one of \u221220, \u221216, \u221212, \u22128, \u22124, 0, 4');
  assert.equal(configProblemText(''), 'This value was refused.');
  assert.match(configErrorText({ status: 404 }), /Bluetooth module is off/);
  assert.match(configErrorText({ status: 409, code: 'decommissioned' }), /decommissioned/);
  assert.match(configErrorText({ status: 409, code: 'not_configurable' }), /simulated/);
});

test('the action is offered only where the gateway configures sensors, and never for a simulated sensor', () => {
  assert.equal(configAvailable({ components: { ble: { status: 'scanning' } } }), true);
  assert.equal(configAvailable({ components: { ble: { status: 'relays_only', radio: false } } }), false);
  assert.equal(configAvailable({ components: {} }), false);
  assert.equal(configAvailable(null), false);
  assert.equal(isSimulated({ address: 'sim:pump/motor-de' }), true);
  assert.equal(isSimulated({ address: 'A4:C1:38:5A:1B:2C' }), false);
});
