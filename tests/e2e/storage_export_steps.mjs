// SPDX-License-Identifier: Apache-2.0
// Browser checks of "own your data" on the dashboard (dashboard.test.mjs
// runs them at phone and desktop size): the Storage card of the settings
// page, the asset page's export (a streamed CSV download with a progress bar
// counting the points received against the gateway's count) and the
// position's raw-waveform downloads.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export const CSV_HEADER = 'timestamp,ts_ms,site,asset,position,sensor,metric,unit,value';

// The Storage card: bytes per point, the projection in words, nothing
// unfilled; every line explained.
export async function storageCardShows(p, base) {
  await p.goto(base + '/#/settings');
  const card = p.locator('section.storage');
  await card.getByRole('heading', { name: 'Storage' }).waitFor();
  const bpp = card.locator('dd[data-field="Bytes per point"]');
  await bpp.filter({ hasText: /^\d+(\.\d)? B$/ }).waitFor({ timeout: 10000 });
  const until = (await card.locator('dd[data-field="Until full"]').textContent()).trim();
  assert.match(until, /^(about .+ until the disk is full at the current rate \(.+ a day\)|less than a day of data: no projection yet|the database is not growing: no projection)$/);
  await card.locator('summary', { hasText: 'What do these lines mean?' }).click();
  await card.locator('details.storage-help dd', { hasText: 'Disk space one stored value costs' }).waitFor();
  const text = await card.innerText();
  assert.ok(!/\b(null|undefined|NaN)\b/.test(text), `the storage card shows: ${text}`);
  for (const dt of await card.locator('dl.storage-list dt').all()) assert.ok((await dt.getAttribute('title')).length > 20, 'each line is explained');
  return { bytesPerPoint: await bpp.textContent(), until };
}

const readDownload = async (d) => {
  const buf = readFileSync(await d.path());
  return (d.suggestedFilename().endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
};

// Export a CSV of the asset page open on `p`, opened with the page's
// "Export…" button. The download is one streamed file; every text the
// progress line showed is recorded in the page, and with `progress` at least
// one must be "N of M points" (gzip too: the browser counts the rows of the
// decompressed copy). The file must hold the points the page reports.
export async function exportCsv(p, { range = '24h', gzip = false, progress = false } = {}) {
  await p.getByRole('button', { name: 'Export…' }).click();
  const form = p.locator('form.export-form');
  await form.waitFor();
  await form.getByLabel('Data of').selectOption('');  // the whole asset
  await form.getByLabel('Format').selectOption('csv');
  await form.getByLabel('Time range').selectOption(range);
  await form.getByLabel('Compress (gzip)').setChecked(gzip);
  const downloads = [];
  const onDownload = (d) => downloads.push(d);
  p.on('download', onDownload);
  await form.locator('.export-progress-text').evaluate((el) => {
    window.__exportTexts = [];
    new MutationObserver(() => window.__exportTexts.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  try {
    await form.getByRole('button', { name: 'Export' }).click();
    await form.locator('.export-estimate', { hasText: /^About [\d,]+ points in \d+ series\./ }).waitFor({ timeout: 20000 });
    const done = form.locator('.export-progress-text', { hasText: /^Done: / });
    await done.waitFor({ timeout: 60000 });
    assert.equal(await form.locator('.export-error').isVisible(), false, 'no error');
    const m = /^Done: ([\d,]+) points, .+\.$/.exec(await done.textContent());
    assert.ok(m, await done.textContent());
    const bar = form.getByRole('progressbar', { name: 'Export progress' });
    assert.equal(await bar.getAttribute('value'), await bar.getAttribute('max'), 'the bar is full');
    const texts = await p.evaluate(() => window.__exportTexts);
    if (progress) assert.ok(texts.some((t) => /^[\d,]+ of [\d,]+ points$/.test(t)), `progress shown as points: ${texts.slice(0, 5).join(' | ')}`);
    for (let i = 0; i < 50 && downloads.length < 1; ++i) await p.waitForTimeout(100);
    assert.equal(downloads.length, 1, 'one file');
    const d = downloads[0];
    assert.match(d.suggestedFilename(), gzip ? /\.csv\.gz$/ : /\.csv$/);
    const lines = (await readDownload(d)).split('\n').filter(Boolean);
    assert.equal(lines[0], CSV_HEADER);
    for (const l of lines.slice(1)) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,\d+,/);
    const rows = lines.length - 1;
    assert.equal(rows, +m[1].replace(/,/g, ''), 'the file holds the points the page reports');
    assert.ok(rows > 0, 'the export holds points');
    return { files: 1, rows, names: [d.suggestedFilename()] };
  } finally {
    p.off('download', onDownload);
  }
}

// The raw-waveform list of the position shown: newest first, WAV and CSV
// links that answer audio/wav and a CSV of time and g.
export async function waveformDownloads(p) {
  const list = p.locator('section.waveform-list');
  await list.getByRole('heading', { name: 'Raw waveforms' }).waitFor();
  const wav = list.locator('li a[data-format=wav]').first();
  await wav.waitFor({ timeout: 30000 });
  const stamps = await list.locator('li time').evaluateAll((ts) => ts.map((t) => Date.parse(t.dateTime)));
  assert.deepEqual(stamps, [...stamps].sort((a, b) => b - a), 'newest first');
  const shown = await list.locator('li time').first().textContent();
  assert.ok(shown.trim() && !/null|NaN|Invalid/.test(shown), `time shown: ${shown}`);
  const got = await p.evaluate(async ([w, c]) => {
    const a = await fetch(w, { credentials: 'same-origin' });
    const bytes = new Uint8Array(await a.arrayBuffer());
    const b = await fetch(c, { credentials: 'same-origin' });
    return { status: a.status, type: a.headers.get('Content-Type'), magic: String.fromCharCode(...bytes.slice(0, 4)), size: bytes.length,
      csvType: b.headers.get('Content-Type'), csvHead: (await b.text()).split('\n')[0] };
  }, [await wav.getAttribute('href'), await list.locator('li a[data-format=csv]').first().getAttribute('href')]);
  assert.equal(got.status, 200);
  assert.equal(got.type, 'audio/wav');
  assert.equal(got.magic, 'RIFF');
  assert.ok(got.size > 44, 'the WAV holds samples');
  assert.match(got.csvType, /^text\/csv/);
  assert.match(got.csvHead, /^t_s,axis0_g/);
  return { count: stamps.length, shown, wavBytes: got.size };
}
