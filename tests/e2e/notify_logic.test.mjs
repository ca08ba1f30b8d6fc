// SPDX-License-Identifier: Apache-2.0
// Unit tests of the Notifications pages' pure logic (node --test, no
// browser): conditions in plain words, the rule / channel / route forms to
// the REST JSON of docs/notifications.md and back, and a 422 problem's
// `field` to the control that shows it. The module is the very file the
// gateway embeds (web/public/views/notify_logic.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  conditionText, conditionsText, scopeText, previewText, fmtDuration, fmtNum, ruleToForm, formToRule, channelToForm,
  formToChannel, routeToForm, formToRoute, normalizeField, parentField, problemTarget, problemText, problemMessage,
  deliveryStatus,
} from '../../web/public/views/notify_logic.js';

const freezer = {
  name: 'Freezer too warm', enabled: true, severity: 'warning', scope: { asset_id: 4 },
  conditions: [{ metric: 'temperature_c', op: 'above', value: -18, hysteresis: 0.5, for_s: 600 }],
  message: 'Check the door seal and the compressor.',
};

test('a threshold condition reads as a sentence with a real minus sign and its unit', () => {
  assert.equal(conditionText({ metric: 'temperature_c', op: 'above', value: -18, for_s: 600 }), 'temperature above −18 °C for 10 min');
  assert.equal(conditionText(freezer.conditions[0]), 'temperature above −18 °C for 10 min (clears below −18.5 °C)');
  assert.equal(conditionText({ metric: 'velocity_rms_mm_s', op: 'below', value: 0.3 }), 'velocity RMS below 0.3 mm/s');
});

test('every op has its own wording, with the series unit when known', () => {
  const units = { energy_kwh: 'kWh', door_open: '' };
  assert.equal(conditionText({ metric: 'temperature_c', op: 'rate_above', value: 2 }), 'temperature changes by more than 2 °C per min');
  assert.equal(conditionText({ metric: 'temperature_c', op: 'rate_below', value: -1, per_s: 3600 }), 'temperature changes by less than −1 °C per h');
  assert.equal(conditionText({ metric: '*', op: 'no_data', for_s: 1800 }), 'no reading at all for 30 min');
  assert.equal(conditionText({ metric: 'temperature_c', op: 'no_data', for_s: 5400 }), 'no temperature reading for 1 h 30 min');
  assert.equal(conditionText({ metric: 'door_open', op: 'state_held', value: 1, for_s: 300 }, { units }), 'door open is on for 5 min');
  assert.equal(conditionText({ metric: 'energy_kwh', op: 'increase_above', value: 50, window: 'day' }, { units }),
    'energy kwh increases by more than 50 kWh in a calendar day');
  assert.equal(conditionText({ metric: 'temperature_c', op: 'above', value: 40, position_id: 2 }, { positions: { 2: 'Pump · Pump DE' } }),
    'temperature above 40 °C on Pump · Pump DE');
});

test('several conditions join with "and"; scopes and previews read as words', () => {
  assert.equal(conditionsText([{ metric: 'running', op: 'state_held', value: 1 }, { metric: 'temperature_c', op: 'above', value: 80 }]),
    'running is on and temperature above 80 °C');
  assert.equal(scopeText({ asset_id: 4 }, { assets: { 4: 'Freezer F-2' } }), 'asset Freezer F-2');
  assert.equal(scopeText({ site_id: 9 }), 'site site 9');
  assert.equal(scopeText({}), 'every asset');
  assert.equal(previewText(3), 'Would have fired 3 times in the last 7 days');
  assert.equal(previewText(1), 'Would have fired once in the last 7 days');
  assert.equal(previewText(0), 'Would not have fired in the last 7 days');
});

test('durations and numbers are short and exact', () => {
  assert.deepEqual([45, 60, 600, 3600, 5400, 7200, 86400, 90].map(fmtDuration), ['45 s', '1 min', '10 min', '1 h', '1 h 30 min', '2 h', '1 d', '90 s']);
  assert.equal(fmtNum(0.1 + 0.2), '0.3');
  assert.equal(fmtNum(-2.5), '−2.5');
});

test('a rule survives the editor unchanged: JSON -> form -> JSON', () => {
  const f = ruleToForm(freezer);
  assert.equal(f.conditions[0].for_min, '10');
  assert.deepEqual(f.scope, { kind: 'asset', id: '4' });
  const { rule, errors } = formToRule(f);
  assert.deepEqual(errors, []);
  assert.deepEqual(rule, freezer);
  const counter = { name: 'Energy', enabled: false, severity: 'alarm', scope: {},
    conditions: [{ metric: 'energy_kwh', op: 'increase_above', value: 50, window: 'week', position_id: 3 },
      { metric: 'temperature_c', op: 'rate_above', value: 2, per_s: 120 }] };
  assert.deepEqual(formToRule(ruleToForm(counter)).rule, counter);
});

test('the form sends only what the op uses, minutes become seconds', () => {
  const f = ruleToForm(null);
  f.name = 'Door';
  f.scope = { kind: 'position', id: '7' };
  f.conditions[0] = { ...f.conditions[0], metric: 'door_open', op: 'state_held', value: '1', hysteresis: '3', for_min: '2.5', per_min: '9' };
  const { rule, errors } = formToRule(f);
  assert.deepEqual(errors, []);
  assert.deepEqual(rule.scope, { position_id: 7 });
  assert.deepEqual(rule.conditions, [{ metric: 'door_open', op: 'state_held', value: 1, for_s: 150 }]);
});

test('form mistakes are named with the field paths the server uses', () => {
  const f = ruleToForm(null);
  f.scope = { kind: 'asset', id: '' };
  f.conditions = [
    { metric: '', op: 'above', value: 'abc', hysteresis: '-1', for_min: '-5', per_min: '', window: 'day', position_id: '' },
    { metric: '*', op: 'above', value: '1', hysteresis: '', for_min: '', per_min: '', window: 'day', position_id: '' },
    { metric: 'running', op: 'state_held', value: '2', hysteresis: '', for_min: '', per_min: '', window: 'day', position_id: '' },
    { metric: '*', op: 'no_data', value: '', hysteresis: '', for_min: '', per_min: '', window: 'day', position_id: '' },
  ];
  const fields = formToRule(f).errors.map((e) => e.field);
  assert.deepEqual(fields, ['name', 'scope.asset_id', 'conditions[0].metric', 'conditions[0].value', 'conditions[0].hysteresis',
    'conditions[0].for_s', 'conditions[1].metric', 'conditions[2].value', 'conditions[3].for_s']);
});

test('a webhook channel keeps its secret and headers unless replaced', () => {
  const fromApi = { id: 2, name: 'Ops hook', type: 'webhook', enabled: true,
    webhook: { url: 'https://ops.example/hook', headers: { Authorization: '•••' }, secret_set: true, verify_tls: true } };
  const f = channelToForm(fromApi);
  assert.equal(f.secret_set, true);
  assert.equal(f.secret, '');
  // Unchanged: no secret sent (the gateway keeps it), the header value goes back as "•••" (keep it).
  assert.deepEqual(formToChannel(f), { channel: { name: 'Ops hook', type: 'webhook', enabled: true,
    webhook: { url: 'https://ops.example/hook', verify_tls: true, headers: { Authorization: '•••' } } }, errors: [] });
  const replaced = formToChannel({ ...f, secret: 'new-key',
    headers: [{ ...f.headers[0], value: 'Bearer new' }, { name: 'X-Env', value: 'plant' }] });
  assert.deepEqual(replaced.errors, []);
  assert.equal(replaced.channel.webhook.secret, 'new-key');
  assert.deepEqual(replaced.channel.webhook.headers, { Authorization: 'Bearer new', 'X-Env': 'plant' });
  // A renamed or new header has no value to keep.
  const renamed = formToChannel({ ...f, headers: [{ ...f.headers[0], name: 'X-Token' }, { name: 'bad name', value: 'v' }] });
  assert.deepEqual(renamed.errors.map((e) => e.field), ['webhook.headers[0].value', 'webhook.headers[1]']);
});

test('an email channel splits recipients and names a bad one by index', () => {
  const { channel, errors } = formToChannel({ name: 'Shift', type: 'email', enabled: true, to: 'a@plant\nb@plant, nope', rate_per_minute: '' });
  assert.deepEqual(channel.email.to, ['a@plant', 'b@plant', 'nope']);
  assert.deepEqual(errors.map((e) => e.field), ['email.to[2]']);
  assert.deepEqual(channelToForm({ name: 'x', type: 'email', email: { to: ['a@p', 'b@p'] } }).to, 'a@p\nb@p');
});

test('a route with quiet hours and escalation round-trips', () => {
  const route = { name: 'Night shift', severities: ['alarm'], site_ids: [1], asset_ids: [], channels: [2, 3],
    quiet_hours: { from: '22:00', to: '06:00', timezone: 'Europe/Berlin', alarms_too: false }, escalate_after_min: 30, escalate_to: [4] };
  assert.deepEqual(formToRoute(routeToForm(route)), { route, errors: [] });
  const plain = formToRoute({ ...routeToForm(route), quiet: false, escalate: false }).route;
  assert.equal(plain.quiet_hours, null);
  assert.equal(plain.escalate_after_min, 0);
  assert.deepEqual(formToRoute(routeToForm({ ...route, events: ['opened'] })).route.events, ['opened'], 'events (not on the form) are kept');
  const bad = formToRoute({ ...routeToForm(route), channels: [], escalate: false, quiet_from: '25:00' });
  assert.deepEqual(bad.errors.map((e) => e.field), ['channels', 'quiet_hours.from']);
  const late = formToRoute({ ...routeToForm(route), channels: [], escalate_after_min: '0', escalate_to: [] });
  assert.deepEqual(late.errors.map((e) => e.field), ['escalate_after_min', 'escalate_to'], 'escalating alone needs a delay and channels');
});

test('a problem field finds the nearest control, in any path spelling', () => {
  assert.equal(normalizeField('/conditions/0/for_s'), 'conditions[0].for_s');
  assert.equal(normalizeField('conditions.1.value'), 'conditions[1].value');
  assert.equal(normalizeField('conditions[0].for_s'), 'conditions[0].for_s');
  assert.equal(parentField('conditions[0].for_s'), 'conditions[0]');
  assert.equal(parentField('conditions[0]'), 'conditions');
  assert.equal(parentField('conditions'), null);
  const keys = ['name', 'conditions', 'conditions[0]', 'conditions[0].for_s', 'email.to', 'scope'];
  assert.equal(problemTarget('conditions[0].for_s', keys), 'conditions[0].for_s');
  assert.equal(problemTarget('conditions[0].window', keys), 'conditions[0]');
  assert.equal(problemTarget('conditions[3].metric', keys), 'conditions');
  assert.equal(problemTarget('email.to[2]', keys), 'email.to');
  assert.equal(problemTarget('scope.asset_id', keys), 'scope');
  assert.equal(problemTarget('gateway', keys), null);
});

test('server problem details read in the words of the form', () => {
  assert.equal(problemText('conditions[0].for_s must not be negative'), 'Duration must not be negative');
  assert.equal(problemText("field 'name' is required"), 'Name is required');
  assert.equal(problemText('unknown metric temperature_x'), 'Unknown metric temperature_x');
  assert.equal(problemText('per_s must be positive'), 'Period must be positive');
  assert.equal(problemText('the rule can never fire (above 5 and below 3 on one metric), e.g. check it'),
    'The rule can never fire (above 5 and below 3 on one metric), e.g. check it');
  assert.equal(problemText(''), 'This value was refused.');
});

test("the gateway's \"path: why\" loses the path beside its own control, keeps the member beside a parent", () => {
  const show = (field, detail, keys) => { const t = problemTarget(field, keys); return [t, problemMessage(field, detail, t)]; };
  assert.deepEqual(show('conditions[0].for_s', 'conditions[0].for_s: must be >= 0', ['conditions[0].for_s']), ['conditions[0].for_s', 'Must be 0 or more']);
  assert.deepEqual(show('rule.conditions[1]', 'rule.conditions[1]: can never hold together with conditions[0] (above 5, below 3)', ['conditions[1]']),
    ['conditions[1]', 'Can never hold together with condition 1 (above 5, below 3)']);
  assert.deepEqual(show('rule.conditions[0].window', 'rule.conditions[0].window: only for increase_above', ['conditions[0]']),
    ['conditions[0]', 'Window: only for increase_above']);
  assert.deepEqual(show('webhook.headers.X-Env', 'webhook.headers.X-Env: set by vigil', ['webhook.headers']), ['webhook.headers', 'X-Env: set by vigil']);
  assert.deepEqual(show('scope.asset_id', 'scope.asset_id: no asset 99', ['scope']), ['scope', 'Asset: no asset 99']);
  assert.deepEqual(show('to', 'to: before from', ['name']), [null, 'To: before from']);
});

test('delivery status is an icon and a word', () => {
  assert.deepEqual(deliveryStatus('failed'), { icon: '✕', text: 'Failed' });
  assert.deepEqual(deliveryStatus('sent'), { icon: '✓', text: 'Sent' });
  assert.equal(deliveryStatus('weird').text, 'weird');
});
