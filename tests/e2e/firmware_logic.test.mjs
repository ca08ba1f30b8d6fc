// SPDX-License-Identifier: Apache-2.0
// The Firmware page (views/firmware.js): sensor and rollout states in words
// with an icon, a rollout's progress counted per state and per wave, bytes
// sent as a share of the image, the "Roll out…" form checked as the gateway
// checks it and turned into the POST body, a file checked before upload,
// the gateway's refusals shown in its own words. Pure logic, node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  targetStateWords, rolloutStateWords, rolloutProgress, countsText, bytesPercent, formToRollout, thresholdProblem,
  thresholdText, selectionText, waveNumber, fileProblem, refusalText, rolloutActions, needsPolling, imageLabel,
  TARGET_ORDER, TARGET_STATES, ROLLOUT_STATES, MAX_IMAGE_BYTES,
} from '../../web/public/views/firmware.js';

const target = (sensor_id, wave, state, extra = {}) => ({ sensor_id, address: `AA:BB:CC:DD:EE:0${sensor_id}`, wave, state,
  reason: '', attempts: 0, bytes_sent: 0, started_at: null, finished_at: null, ...extra });
const rollout = (targets, extra = {}) => ({ id: 7, image_id: 3, state: 'running', reason: '', tag: null, percent: null, wave_size: 2,
  failure_threshold: '1', force: false, created_by: 'admin', created_at: '2026-12-02T10:00:00Z', targets, ...extra });

test('every sensor state reads as an icon and words, never colour alone', () => {
  for (const s of TARGET_ORDER) {
    const w = targetStateWords(s);
    assert.equal(w.state, s);
    assert.ok(w.icon && w.text && w.text !== s.replace('_', ' ').toUpperCase(), `${s} has an icon and words`);
    assert.ok(TARGET_STATES[s].meaning.length > 30, `${s} is explained in the glossary`);
  }
  assert.deepEqual(targetStateWords('test_boot'), { state: 'test_boot', icon: '↻', text: 'Test boot' });
  assert.deepEqual(targetStateWords('confirmed'), { state: 'confirmed', icon: '✓', text: 'Updated' });
  assert.deepEqual(targetStateWords('reverted'), { state: 'reverted', icon: '↩', text: 'Reverted' });
  assert.deepEqual(targetStateWords('exploded'), { state: 'unknown', icon: '?', text: 'exploded' });
  assert.equal(targetStateWords(undefined).text, 'Unknown');
});

test('every rollout state reads as an icon and words', () => {
  for (const s of ['running', 'paused', 'stopped', 'completed', 'failed']) {
    const w = rolloutStateWords(s);
    assert.ok(w.icon && w.text && ROLLOUT_STATES[s].meaning, s);
  }
  assert.deepEqual(rolloutStateWords('stopped'), { state: 'stopped', icon: '■', text: 'Stopped' });
});

test('a rollout\'s progress counts its sensors per state and names the wave in progress', () => {
  const r = rollout([target(1, 0, 'confirmed'), target(2, 0, 'failed'), target(3, 1, 'transferring'), target(4, 1, 'queued'), target(5, 2, 'queued')]);
  const p = rolloutProgress(r);
  assert.equal(p.total, 5);
  assert.equal(p.finished, 2);
  assert.equal(p.confirmed, 1);
  assert.equal(p.problems, 1);
  assert.equal(p.fraction, 0.4);
  assert.deepEqual([p.waves, p.wave], [3, 2]);
  assert.deepEqual(p.counts, { queued: 2, transferring: 1, verifying: 0, test_boot: 0, confirmed: 1, failed: 1, reverted: 0 });
  assert.equal(p.text, '2 of 5 sensors finished (1 updated, 1 failed) · wave 2 of 3');
  assert.equal(countsText(p.counts), '2 queued · 1 transferring · 1 updated · 1 failed');
  assert.deepEqual([0, 1, 2, 9].map((w) => waveNumber(r, w)), [1, 2, 3, null], 'waves are counted from 1 for people');
});

test('a finished rollout has no wave in progress; an empty one says so', () => {
  const done = rolloutProgress(rollout([target(1, 0, 'confirmed'), target(2, 1, 'reverted')], { state: 'completed' }));
  assert.equal(done.wave, null);
  assert.equal(done.fraction, 1);
  assert.equal(done.text, '2 of 2 sensors finished (1 updated, 1 reverted) · 2 waves');
  const one = rolloutProgress(rollout([target(1, 0, 'queued')]));
  assert.equal(one.text, '0 of 1 sensor finished (0 updated) · wave 1 of 1');
  const none = rolloutProgress(rollout([]));
  assert.deepEqual([none.total, none.fraction, none.text], [0, 0, 'No sensors']);
  assert.equal(countsText(none.counts), 'no sensors');
});

test('bytes sent read as a share of the image, never over 100 %', () => {
  assert.equal(bytesPercent(0, 40000), '0 %');
  assert.equal(bytesPercent(100, 40000), '<1 %');
  assert.equal(bytesPercent(18000, 40000), '45 %');
  assert.equal(bytesPercent(40000, 40000), '100 %');
  assert.equal(bytesPercent(50000, 40000), '100 %');
  assert.equal(bytesPercent(10, 0), '—');
  assert.equal(bytesPercent(null, 40000), '—');
});

test('the form becomes the POST body: all sensors, by tag, by percentage, forced', () => {
  const base = { imageId: '3', waveSize: '5', threshold: '10 %' };
  assert.deepEqual(formToRollout({ ...base, selection: 'all', tag: 'ignored=1' }),
    { body: { image_id: 3, wave_size: 5, failure_threshold: '10%' }, errors: [] });
  assert.deepEqual(formToRollout({ ...base, selection: 'tag', tag: ' line=2 ', threshold: '3' }).body,
    { image_id: 3, tag: 'line=2', wave_size: 5, failure_threshold: '3' });
  assert.deepEqual(formToRollout({ ...base, selection: 'percent', percent: '12,5' }).body,
    { image_id: 3, percent: 12.5, wave_size: 5, failure_threshold: '10%' });
  assert.equal(formToRollout({ ...base, force: true }).body.force, true);
  assert.equal('force' in formToRollout({ ...base, force: false }).body, false, 'force is sent only when asked for');
});

test('the form refuses what the gateway would refuse, beside the field it names', () => {
  const r = formToRollout({ imageId: '', selection: 'tag', tag: 'line', waveSize: '0', threshold: 'many' });
  assert.equal(r.body, null);
  assert.deepEqual(r.errors.map((e) => e.field), ['image_id', 'tag', 'wave_size', 'failure_threshold']);
  assert.deepEqual(formToRollout({ imageId: '1', selection: 'tag', tag: '=2', waveSize: '1', threshold: '1' }).errors.map((e) => e.field), ['tag']);
  assert.deepEqual(formToRollout({ imageId: '1', selection: 'percent', percent: '0', waveSize: '1', threshold: '1' }).errors.map((e) => e.field), ['percent']);
  assert.deepEqual(formToRollout({ imageId: '1', selection: 'percent', percent: '101', waveSize: '1.5', threshold: '1' }).errors.map((e) => e.field), ['percent', 'wave_size']);
  assert.deepEqual(formToRollout({ imageId: '1', waveSize: '10001', threshold: '1' }).errors.map((e) => e.field), ['wave_size']);
});

test('a failure threshold is a whole count ≥ 1 or a percentage in (0, 100], as the gateway checks it', () => {
  for (const ok of ['1', '3', '10%', '0.5%', '100%']) assert.equal(thresholdProblem(ok), '', ok);
  for (const bad of ['', '0', '1.5', '-1', '0%', '101%', '%', 'ten', '3 sensors']) assert.ok(thresholdProblem(bad), `${bad} is refused`);
  assert.equal(thresholdText('1'), 'stops at the first sensor that fails or reverts');
  assert.equal(thresholdText('3'), 'stops when 3 sensors failed or reverted');
  assert.equal(thresholdText('10%'), 'stops when 10 % of its sensors failed or reverted');
});

test('the selection of a rollout is said in words', () => {
  assert.equal(selectionText(rollout([])), 'all sensors of the board');
  assert.equal(selectionText(rollout([], { tag: 'line=2' })), 'sensors tagged line=2');
  assert.equal(selectionText(rollout([], { tag: 'line=2', percent: 25 })), 'the first 25 % of sensors tagged line=2');
});

test('a file is checked before it is sent: present, not empty, at most 128 KiB', () => {
  assert.match(fileProblem(null), /Choose a \.vgfw file/);
  assert.match(fileProblem({ name: 'a.vgfw', size: 0 }), /empty/);
  assert.match(fileProblem({ name: 'a.vgfw', size: MAX_IMAGE_BYTES + 1 }), /at most 128 KiB/);
  assert.equal(fileProblem({ name: 'a.vgfw', size: MAX_IMAGE_BYTES }), '');
});

test('the gateway\'s refusal is shown in its own words', () => {
  assert.equal(refusalText({ status: 422, detail: 'wrong signature: the image is not signed by the configured vendor key' }),
    'Wrong signature: the image is not signed by the configured vendor key');
  assert.equal(refusalText({ status: 409, detail: 'no vendor signing key configured (firmware.signing_public_key_file)' }),
    'No vendor signing key configured (firmware.signing_public_key_file)', 'the config key stays as written');
  assert.match(refusalText({ status: 409, detail: 'downgrade: sensor AA:BB runs 1.5.0, newer than 1.4.0 (set force to roll it out anyway)' }), /^Downgrade: sensor AA:BB runs 1\.5\.0/);
  assert.match(refusalText({ status: 415, detail: 'send the .vgfw bytes as application/octet-stream' }), /not sent as an image/);
  assert.equal(refusalText({ status: 0, message: 'x' }), 'The gateway is not answering: nothing was sent.');
  assert.equal(refusalText({ status: 403, detail: 'forbidden' }), 'This needs the admin role.');
});

test('Stop while running or paused, Resume once stopped; the page polls only while a rollout can change', () => {
  assert.deepEqual(rolloutActions({ state: 'running' }), { stop: true, resume: false });
  assert.deepEqual(rolloutActions({ state: 'stopped' }), { stop: false, resume: true });
  assert.deepEqual(rolloutActions({ state: 'paused' }), { stop: true, resume: true });
  for (const s of ['completed', 'failed']) assert.deepEqual(rolloutActions({ state: s }), { stop: false, resume: false });
  assert.equal(needsPolling([{ state: 'completed' }, { state: 'running' }]), true);
  assert.equal(needsPolling([{ state: 'completed' }, { state: 'stopped' }]), false);
  assert.equal(needsPolling([]), false);
  assert.equal(imageLabel({ version: '1.4.0', board: 'nrf52840' }), '1.4.0 · nrf52840');
});
