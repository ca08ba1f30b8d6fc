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
