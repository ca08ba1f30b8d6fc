// SPDX-License-Identifier: Apache-2.0
// The asset page's export (views/export.js) and the settings page's storage
// card (views/storage.js): time ranges, the streamed download's progress
// (rows counted against the gateway's count), file names, and the storage
// report in words (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeFor, parseDay, sliceName, exportError, countNewlines, exportProgress } from '../../web/public/views/export.js';
import { ApiError } from '../../web/public/api.js';
import { fmtBytes, daysText, storageLines } from '../../web/public/views/storage.js';

test('newlines are counted in each received part', () => {
  const enc = new TextEncoder();
  assert.equal(countNewlines(enc.encode('')), 0);
  assert.equal(countNewlines(enc.encode('a,b\n1,2\n3,4')), 2);
  assert.equal(countNewlines(enc.encode('\n\n\n')), 3);
  // parts split mid-line add up to the whole
  const text = 'timestamp,ts_ms\n' + Array.from({ length: 500 }, (_, i) => `t${i},${i}\n`).join('');
  const bytes = enc.encode(text);
  let n = 0;
  for (let i = 0; i < bytes.length; i += 37) n += countNewlines(bytes.subarray(i, i + 37));
  assert.equal(n, 501);
});

test('progress: points received of the gateway\'s count, the CSV header not a point', () => {
  const p = exportProgress({ lines: 12401, total: 50000, format: 'csv' });
  assert.deepEqual([p.value, p.max, p.points], [12400, 50000, 12400]);
  assert.equal(p.text, '12,400 of 50,000 points');
  assert.equal(exportProgress({ lines: 12400, total: 50000, format: 'jsonl', exact: false }).text, '12,400 of ~50,000 points');
  assert.equal(exportProgress({ lines: 1, total: 10, format: 'csv' }).value, 0, 'the header alone is no point');
  assert.equal(exportProgress({ lines: 0, total: 10, format: 'csv' }).value, 0);
  // never past the bar's end
  assert.equal(exportProgress({ lines: 20, total: 10, format: 'jsonl' }).value, 10);
});

test('progress without a count or countable rows is the bytes received, indeterminate', () => {
  const p = exportProgress({ lines: null, bytes: 1234567, total: 5000, format: 'csv' });
  assert.equal(p.value, null);
  assert.equal(p.text, '1.23 MB received…');
  assert.equal(exportProgress({ lines: 5, bytes: 10, total: 0 }).value, null);
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
  assert.match(exportError(new ApiError(429, 'too_many_exports', '2 exports are running already')), /busy with other exports/);
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
