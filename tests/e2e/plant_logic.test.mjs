// SPDX-License-Identifier: Apache-2.0
// The Plant page's rows (views/plant_view.js) and the Sensors page's "heard
// by" line (views/sensors.js): pure logic, node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayRows } from '../../web/public/views/plant_view.js';
import { heardBy } from '../../web/public/views/sensors.js';

test('gateways: online/offline in words and icon, alerts summed, bad urls not linked', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  const rows = gatewayRows({
    plant_id: 'hall', connected: true, gateways: [
      { id: 'gw-a', self: true, online: true, name: 'Hall A', url: 'http://gw-a:8080/', last_seen: '2026-12-02T09:59:30Z',
        open_alerts: 2, assets: [{ id: 7, name: 'press 7', state: 'alarm', open_alerts: 2 }] },
      { id: 'gw-b', online: false, stale: true, url: 'javascript:alert(1)', last_seen: null,
        assets: [{ id: 1, name: 'fan', state: 'healthy', open_alerts: 1 }, { id: 2, state: 'warning' }] },
    ],
  }, now);
  assert.equal(rows.length, 2);
  assert.deepEqual([rows[0].status, rows[0].icon, rows[0].lastSeen, rows[0].openAlerts, rows[0].url],
    ['Online', '●', '30 s ago', 2, 'http://gw-a:8080/']);
  assert.deepEqual([rows[1].status, rows[1].icon, rows[1].lastSeen, rows[1].url, rows[1].name],
    ['Offline (silent)', '○', 'never', null, 'gw-b']);
  assert.equal(rows[1].openAlerts, 1);  // no gateway total: the assets' sum
  assert.equal(rows[1].assets[1].name, 'Asset 2');
  assert.deepEqual(gatewayRows({}), []);
});

test('sensors: heard by radio or relay, at what RSSI, how long ago', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  assert.equal(heardBy({ heard_via: 'radio', rssi_dbm: -67, heard_at: '2026-12-02T09:58:00Z' }, now),
    'heard by radio at \u221267 dBm, 2 min ago');
  assert.equal(heardBy({ heard_via: 'relay:home/omg/BTtoMQTT/A4C138001901', rssi_dbm: null, heard_at: '2026-12-02T09:59:50Z' }, now),
    'heard by relay home/omg/BTtoMQTT/A4C138001901, 10 s ago');
  assert.equal(heardBy({ heard_via: null }), '');
});
