// SPDX-License-Identifier: Apache-2.0
// The bulk import preview of the Sensors page (views/fleet_admin.js): the
// dry run's answer as table rows, good and bad lines in file order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importRows } from '../../web/public/views/fleet_admin.js';

test('a dry run answer becomes preview rows sorted by line, errors named', () => {
  const rows = importRows({
    rows: [{ line: 3, address: 'AA:BB:CC:DD:EE:02', action: 'new', position_id: 7 },
      { line: 2, address: 'AA:BB:CC:DD:EE:01', action: 'unchanged', position_id: 7 }],
    errors: [{ line: 4, field: 'key', message: 'not 32 hex digits' }],
  });
  assert.deepEqual(rows, [
    [2, 'AA:BB:CC:DD:EE:01', 'unchanged → position 7'],
    [3, 'AA:BB:CC:DD:EE:02', 'new → position 7'],
    [4, 'key', 'error: not 32 hex digits'],
  ]);
  assert.deepEqual(importRows({}), []);
  assert.deepEqual(importRows(null), []);
});
