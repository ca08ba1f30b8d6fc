// SPDX-License-Identifier: Apache-2.0
// The Plant page's rows (views/plant_view.js), the Sensors page's "heard
// by" line (views/sensors.js) and the commands to other gateways
// (views/plant_commands.js): pure logic, node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayRows } from '../../web/public/views/plant_view.js';
import { heardBy } from '../../web/public/views/sensors.js';
import {
  commandWords, describeCommand, commandLog, sendErrorWords, positionOptions, commandTargets,
  parseDiscovered, parseSensors, commissionBody, reassignBody, isFinal, dbm,
} from '../../web/public/views/plant_commands.js';

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

test('gateways: active alerts in words, worst as sent, named by asset and position', () => {
  const rows = gatewayRows({
    gateways: [{
      id: 'gw-b', online: true,
      assets: [{ id: 7, name: 'press 7', positions: [{ id: 12, name: 'motor DE' }] }],
      alerts: [
        { id: 3, asset_id: 7, position_id: 12, severity: 'alarm', status: 'open', title: 'Vibration alarm', opened_at: '2026-12-02T09:00:00Z' },
        { id: 4, asset_id: 99, severity: 'warning', status: 'acknowledged', title: '' },
        'junk',
      ],
    }],
  });
  const a = rows[0].alerts;
  assert.equal(a.length, 2);
  assert.deepEqual([a[0].words, a[0].icon, a[0].title, a[0].where], ['Alarm', '▲', 'Vibration alarm', 'press 7 · motor DE']);
  assert.deepEqual([a[1].words, a[1].title, a[1].where, a[1].acknowledged], ['Warning', 'Alert', '—', true]);
  assert.deepEqual(gatewayRows({ gateways: [{ id: 'x' }] })[0].alerts, []);
});

test('sensors: heard by radio or relay, at what RSSI, how long ago', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  assert.equal(heardBy({ heard_via: 'radio', rssi_dbm: -67, heard_at: '2026-12-02T09:58:00Z' }, now),
    'heard by radio at \u221267 dBm, 2 min ago');
  assert.equal(heardBy({ heard_via: 'relay:home/omg/BTtoMQTT/A4C138001901', rssi_dbm: null, heard_at: '2026-12-02T09:59:50Z' }, now),
    'heard by relay home/omg/BTtoMQTT/A4C138001901, 10 s ago');
  assert.equal(heardBy({ heard_via: null }), '');
});

// A plant of three: this gateway, another online with two assets, one offline.
const PLANT = {
  plant_id: 'north-works', commands: true, gateways: [
    { id: 'gw-a', self: true, online: true, name: 'Hall A', assets: [{ id: 1, name: 'press', positions: [{ id: 1, name: 'DE' }] }] },
    { id: 'gw-b', online: true, name: 'Hall B', truncated: true, assets: [
      { id: 4, name: 'fan 2', positions: [{ id: 11, name: 'Motor DE' }, { id: 12, name: '' }, { id: 11, name: 'again' }, { id: 'x' }] },
      { id: 5, name: '', positions: [{ id: 13, name: 'NDE' }] },
      { id: 6, name: 'no positions' }] },
    { id: 'gw-c', online: false, name: 'Hall C', assets: [{ id: 1, name: 'pump', positions: [{ id: 2, name: 'DE' }] }] },
  ],
};

test('commands: each state in words with an icon, failures say why', () => {
  assert.deepEqual(commandWords({ state: 'applied', status: 201 }), { state: 'applied', icon: '✓', text: 'Applied' });
  assert.equal(commandWords({ state: 'pending' }).text, 'Waiting for answer');
  assert.equal(commandWords({ state: 'no_answer' }).text, 'No answer within 30 s');
  assert.equal(commandWords({ state: 'failed', status: 409, result: { code: 'conflict', detail: 'address already commissioned' } }).text,
    'Failed: address already commissioned');
  assert.equal(commandWords({ state: 'failed', status: 403, result: { error: 'route_not_allowed', detail: '' } }).text, 'Failed: route_not_allowed');
  assert.equal(commandWords({ state: 'failed', status: 500, result: null }).text, 'Failed: HTTP 500');
  assert.equal(commandWords(null).text, 'State unknown');
  for (const s of ['applied', 'failed', 'no_answer']) assert.ok(isFinal(s), `${s} is final`);
  assert.ok(!isFinal('pending'));
});

test('commands: the request in words, and the log lists only those sent to one gateway, newest first', () => {
  assert.equal(describeCommand('GET', '/api/v1/sensors/discovered'), 'List what its radio hears');
  assert.equal(describeCommand('GET', '/api/v1/sensors'), 'List its sensors');
  assert.equal(describeCommand('POST', '/api/v1/sensors'), 'Commission a sensor');
  assert.equal(describeCommand('POST', '/api/v1/sensors/12/decommission'), 'Decommission sensor 12');
  assert.equal(describeCommand('POST', '/api/v1/sensors/3/reassign'), 'Re-assign sensor 3');
  assert.equal(describeCommand('PATCH', '/api/v1/sensors/3'), 'Edit sensor 3');
  const sent = [
    { id: 'gw-a-3', to: 'gw-b', method: 'POST', path: '/api/v1/sensors', actor: 'ada', sent_at: 3000, state: 'pending' },
    { id: 'gw-a-2', to: 'gw-c', method: 'GET', path: '/api/v1/sensors', actor: 'ada', sent_at: 2000, state: 'no_answer' },
    { id: 'gw-a-1', to: 'gw-b', method: 'GET', path: '/api/v1/sensors/discovered', actor: 'ada', sent_at: 1000, state: 'failed', status: 404, result: { detail: 'no such resource' } },
  ];
  const log = commandLog({ commands: sent }, 'gw-b');
  assert.deepEqual(log.map((r) => [r.id, r.what, r.words.text]), [
    ['gw-a-3', 'Commission a sensor', 'Waiting for answer'],
    ['gw-a-1', 'List what its radio hears', 'Failed: no such resource']]);
  assert.deepEqual(commandLog(sent, 'gw-b', 1).map((r) => r.id), ['gw-a-3']);
  assert.deepEqual(commandLog(null, 'gw-b'), []);
});

test('commands: a refused send says nothing was sent, and why', () => {
  assert.match(sendErrorWords({ status: 409, code: 'plant_commands_off' }), /^Not sent: commands to other gateways are off/);
  assert.equal(sendErrorWords({ status: 503, code: 'broker_unreachable' }), 'Not sent: the broker is not reachable from this gateway.');
  assert.equal(sendErrorWords({ status: 422, detail: 'gateway: not a gateway id' }), 'Not sent: gateway: not a gateway id');
});

test('positions of another gateway come from its state document, named by asset, without duplicates or bad ids', () => {
  assert.deepEqual(positionOptions(PLANT.gateways[1]), [
    { id: 11, label: 'fan 2 · Motor DE' }, { id: 12, label: 'fan 2 · Position 12' }, { id: 13, label: 'Asset 5 · NDE' }]);
  assert.deepEqual(positionOptions({}), []);
});

test('commands go only to other gateways that are online, and only when commands are on here', () => {
  assert.deepEqual(commandTargets(PLANT).map((t) => [t.id, t.name, t.positions.length, t.truncated]), [['gw-b', 'Hall B', 3, true]]);
  assert.deepEqual(commandTargets({ ...PLANT, commands: false }), []);
  assert.deepEqual(commandTargets(null), []);
});

test('what another gateway\'s radio hears: uncommissioned devices, loudest first; a truncated or failed answer says so', () => {
  const { devices, error } = parseDiscovered({ state: 'applied', status: 200, result: [
    { address: 'a4:c1:38:00:19:02', name: '', rssi_dbm: -80, last_seen: '2026-12-02T09:59:00Z', commissioned: false },
    { address: 'A4:C1:38:00:19:01', name: 'ATC_1901', rssi_dbm: -60, format: 'bthome', commissioned: false },
    { address: 'A4:C1:38:00:19:03', commissioned: true },
    { address: 'A4:C1:38:00:19:04', decommissioned: true },
    { address: 'not a mac' }, null] });
  assert.equal(error, null);
  assert.deepEqual(devices.map((d) => [d.address, d.name, d.rssi]), [['A4:C1:38:00:19:01', 'ATC_1901', -60], ['A4:C1:38:00:19:02', '', -80]]);
  assert.equal(dbm(devices[0].rssi), '\u221260 dBm');
  assert.match(parseDiscovered({ state: 'applied', result: { truncated: true, bytes: 20000 } }).error, /too large to carry over the plant \(20000 bytes\)/);
  assert.equal(parseDiscovered({ state: 'failed', status: 404, result: { detail: 'no such resource' } }).error, 'Failed: no such resource');
  assert.equal(parseDiscovered({ state: 'applied', result: { detail: 'x' } }).error, 'The answer was not a list.');
});

test('another gateway\'s sensors: the commissioned first, each with its id and position', () => {
  const { sensors } = parseSensors({ state: 'applied', result: [
    { id: 2, address: 'A4:C1:38:00:00:02', decommissioned: true },
    { id: 1, address: 'A4:C1:38:00:00:01', name: 'fan', position_id: 11 },
    { address: 'no id' }] });
  assert.deepEqual(sensors.map((s) => [s.id, s.positionId, s.decommissioned]), [[1, 11, false], [2, null, true]]);
});

test('a commission form is checked before it is sent: address in any spelling, a 32-digit key, a position', () => {
  assert.deepEqual(commissionBody({ address: 'a4c138001901', key: '00112233445566778899AABBCCDDEEFF', position: '11', name: ' fan DE ' }),
    { body: { address: 'A4:C1:38:00:19:01', key: '00112233445566778899aabbccddeeff', position_id: 11, name: 'fan DE' } });
  assert.deepEqual(commissionBody({ address: 'A4-C1-38-00-19-01', key: '00112233445566778899aabbccddeeff', position: 12 }).body,
    { address: 'A4:C1:38:00:19:01', key: '00112233445566778899aabbccddeeff', position_id: 12 });
  assert.deepEqual(Object.keys(commissionBody({ address: 'A4:C1', key: 'abc', position: '' }).errors), ['address', 'key', 'position_id']);
});

test('a re-assignment names an online gateway and one of its positions', () => {
  const targets = commandTargets(PLANT);
  assert.deepEqual(reassignBody({ gateway: 'gw-b', position: '13', name: '' }, targets), { body: { gateway: 'gw-b', position_id: 13 } });
  assert.deepEqual(Object.keys(reassignBody({ gateway: 'gw-b', position: '2' }, targets).errors), ['position_id']);
  assert.deepEqual(Object.keys(reassignBody({ gateway: 'gw-c', position: '2' }, targets).errors), ['gateway']);
});
