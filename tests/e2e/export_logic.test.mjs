// SPDX-License-Identifier: Apache-2.0
// The asset page's export (views/export.js) and the settings page's storage
// card (views/storage.js): time ranges, splitting a large export into
// slices that each fit one download, file names, and the storage report in
// words (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSlices, rangeFor, parseDay, sliceName, exportError } from '../../web/public/views/export.js';
import { ApiError } from '../../web/public/api.js';
import { fmtBytes, daysText, storageLines } from '../../web/public/views/storage.js';

// points at every 1,000 ms from 0 to 999,000: estimate counts them exactly
const pointsIn = (a, b) => Math.max(0, Math.floor(b / 1000) - Math.ceil(a / 1000) + 1);

test('an export that fits is one slice, asked once', async () => {
  let asked = 0;
  const s = await planSlices(0, 999999, 5000, async (a, b) => { asked++; return pointsIn(a, b); });
  assert.deepEqual(s, [{ from: 0, to: 999999, points: 1000 }]);
  assert.equal(asked, 1);
});

test('a large export is split into slices of at most the limit, in time order, covering the range without overlap', async () => {
  const s = await planSlices(0, 999999, 300, async (a, b) => pointsIn(a, b));
  assert.ok(s.length >= 4, `${s.length} slices`);
  assert.ok(s.every((x) => x.points <= 300));
  assert.equal(s.reduce((n, x) => n + x.points, 0), 1000, 'every point in exactly one slice');
  assert.equal(s[0].from, 0);
  assert.equal(s[s.length - 1].to, 999999);
  for (let i = 1; i < s.length; ++i) assert.equal(s[i].from, s[i - 1].to + 1, 'adjacent, inclusive bounds');
});

test('a known first estimate is not asked again; empty halves are left out', async () => {
  const asked = [];
  // all the data is in the last tenth of the range
  const est = async (a, b) => { asked.push([a, b]); return pointsIn(Math.max(a, 900000), b); };
  const s = await planSlices(0, 999999, 60, est, 100);
  assert.ok(!asked.some(([a, b]) => a === 0 && b === 999999), 'the whole range is not estimated again');
  assert.ok(s.every((x) => x.points > 0 && x.points <= 60));
  assert.equal(s.reduce((n, x) => n + x.points, 0), 100);
});

test('a range that cannot be split below the limit is refused in words', async () => {
  await assert.rejects(planSlices(0, 999999, 10, async () => 1e6), /within one second: too many for one download/);
});

test('time ranges: last N from the gateway\'s time, all, custom days with errors in words', () => {
  assert.deepEqual(rangeFor('24h', 10 * 86400e3), { from: 9 * 86400e3, to: 10 * 86400e3 });
  assert.deepEqual(rangeFor('all', 0), { all: true });
  const r = rangeFor('custom', 0, '2026-11-01', '2026-11-02');
  assert.equal(r.from, new Date(2026, 10, 1).getTime());
  assert.equal(r.to, new Date(2026, 10, 3).getTime() - 1);
  assert.match(rangeFor('custom', 0, '', '2026-11-02').error, /first day/);
  assert.match(rangeFor('custom', 0, '2026-11-03', '2026-11-02').error, /before the first day/);
  assert.equal(parseDay('nonsense'), null);
});

test('file names say the asset, the days and the part', () => {
  const slice = { from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 2, 12) };
  assert.equal(sliceName('Cooling water pump P-101', slice, 2, 3, 'csv', true), 'vigil-Cooling-water-pump-P-101-2026-11-01_2026-11-02-part2of3.csv.gz');
  assert.equal(sliceName('Fan', null, 1, 1, 'jsonl', false), 'vigil-Fan-all.jsonl');
});

test('errors in plain words', () => {
  assert.match(exportError(new ApiError(0, 'unreachable', 'x')), /not answering/);
  assert.match(exportError(new ApiError(413, 'too_large', 'the export holds about 300000 points')), /shorter range/);
  assert.match(exportError({ name: 'AbortError' }), /cancelled/);
});

test('the storage report in words: bytes, the projection, compression', () => {
  assert.equal(fmtBytes(999), '999 B');
  assert.equal(fmtBytes(1234567), '1.23 MB');
  assert.equal(fmtBytes(null), '—');
  assert.equal(daysText({ days_until_full: null, oldest_ts: '2026-12-01T00:00:00Z', newest_ts: '2026-12-01T05:00:00Z' }), 'less than a day of data: no projection yet');
  assert.match(daysText({ days_until_full: 412.4, growth_bytes_per_day: 5e6 }), /^about 412 days until the disk is full at the current rate \(5\.00 MB a day\)$/);
  assert.match(daysText({ days_until_full: 5000, growth_bytes_per_day: 1e3 }), /^about 14 years/);
  const lines = storageLines({ points: 1000, bytes_per_point: 2.94, waveforms: 10, bytes_per_waveform: 8800, waveform_bytes: 88000,
    waveform_raw_bytes: 163840, db_file_bytes: 4e6, wal_file_bytes: 0, disk_total_bytes: 32e9, disk_free_bytes: 20e9,
    growth_bytes_per_day: 0, days_until_full: null, oldest_ts: null, newest_ts: null });
  const text = lines.map((l) => l.join(' ')).join('\n');
  assert.match(text, /Bytes per point 2\.9 B/);
  assert.match(text, /compression saves 46 %/);
  assert.match(text, /Free disk 20\.0 GB of 32\.0 GB/);
  assert.ok(!/null|NaN|undefined/.test(text), text);
  for (const l of lines) assert.ok(l[2].length > 20, `${l[0]} is explained`);
});
