// SPDX-License-Identifier: Apache-2.0
// The asset page's charts after a sensor was replaced or moved: a metric's
// history on a position spans several series and is shown as one, in time
// order (node --test, fetch stubbed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { positionHistory } from '../../web/public/views/asset.js';

const data = {
  7: { series_id: 7, from: 0, to: 100, ts: [10, 20], count: [1, 1], min: [1, 2], max: [1, 2], mean: [1, 2] },
  9: { series_id: 9, from: 0, to: 100, ts: [30, 40], count: [1, 2], min: [3, 4], max: [3, 5], mean: [3, 4.5] },
};
const asked = [];
globalThis.fetch = async (url) => {
  asked.push(url);
  const id = Number(url.match(/\/series\/(\d+)/)[1]);
  return { ok: true, status: 200, headers: { get: () => 'application/json' }, json: async () => data[id] };
};

test('a position whose sensor was replaced charts the old and the new series as one history', async () => {
  const d = await positionHistory([{ id: 9 }, { id: 7 }], 0, 100, 500);
  assert.deepEqual(d.ts, [10, 20, 30, 40]);
  assert.deepEqual(d.mean, [1, 2, 3, 4.5]);
  assert.deepEqual(d.count, [1, 1, 1, 2]);
  assert.equal(asked.length, 2);
  assert.ok(asked.every((u) => u.includes('from=0&to=100&points=500')));
});

test('one series is passed through as the API answered it', async () => {
  assert.deepEqual(await positionHistory([{ id: 7 }], 0, 100, 500), data[7]);
});
