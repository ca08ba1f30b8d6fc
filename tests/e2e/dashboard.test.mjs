// SPDX-License-Identifier: Apache-2.0
// Drives the dashboard of a running `vigil demo` (URL in VIGIL_URL, its
// database in VIGIL_DB) with Chromium: first-start admin, sign-in, fleet,
// asset page, chart zoom and the learned baseline band, alert acknowledge +
// close, spectra with defect markers and the waterfall, an API token's
// life, sensor commissioning, a machine class of one's own, building the
// plant (an asset with bearing and envelope band, a position). Screenshots of
// failures go to tests/e2e/artifacts/.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const BASE = process.env.VIGIL_URL || 'http://127.0.0.1:8080';
const DB = process.env.VIGIL_DB;
// The gateway's log: first-start setup needs the one-time code it prints there.
const LOG = process.env.VIGIL_LOG;

function setupCode() {
  const m = /with setup code ([A-Z0-9]{5}-[A-Z0-9]{5})/.exec(LOG ? readFileSync(LOG, 'utf8') : '');
  assert.ok(m, `no setup code in the gateway's log ${LOG}`);
  return m[1];
}
const ART = new URL('./artifacts/', import.meta.url).pathname;
mkdirSync(ART, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });  // a phone
const page = await context.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, 'ok', Date.now() - t0]);
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    const file = ART + name.replace(/\W+/g, '_') + '.png';
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.log(`FAIL ${name}: ${e.message}\n     screenshot: ${file}`);
    results.push([name, 'FAIL', Date.now() - t0]);
    throw e;
  }
}

function sql(statement) {
  execFileSync('/usr/bin/python3', ['-c',
    'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=10); c.execute(sys.argv[2]); c.commit()', DB, statement]);
}

let failed = false;
try {
  let firstLoadBytes = 0;
  await step('first load is small and offers admin setup', async () => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.loadingFinished', (e) => { firstLoadBytes += e.encodedDataLength; });
    // (the live-update stream stays open, so 'networkidle' never comes)
    await page.goto(BASE + '/#/settings', { waitUntil: 'load' });
    await page.getByRole('heading', { name: 'Create the admin account' }).waitFor();
    await page.waitForTimeout(500);
    assert.ok(firstLoadBytes < 300 * 1024, `first load ${firstLoadBytes} bytes`);
    console.log(`     first load transferred ${firstLoadBytes} bytes`);
  });

  await step('create the admin and sign in', async () => {
    const form = page.locator('form.card').filter({ hasText: 'Create the admin account' });
    await form.locator('input[name=setup_code]').fill(setupCode());
    await form.locator('input[name=name]').fill('admin');
    await form.locator('input[name=password]').fill('e2e-admin-password');
    await form.getByRole('button', { name: 'Create admin' }).click();
    await page.locator('#who').getByText('admin · admin').waitFor();
    // sign out and back in through the sign-in form
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.context().clearCookies();
    await page.goto(BASE + '/#/fleet');
    await page.getByRole('button', { name: /sign in/i }).first().click();
    await page.locator('input[name=name]').fill('admin');
    await page.locator('input[name=password]').fill('e2e-admin-password');
    await page.locator('form.auth button[type=submit]').click();
    await page.locator('#who').getByText('admin · admin').waitFor();
  });

  await step('the fleet shows six assets with live readings', async () => {
    await page.goto(BASE + '/#/fleet');
    await page.locator('a.tile').first().waitFor();
    assert.equal(await page.locator('a.tile').count(), 6);
    // Locator waits run in Playwright's own world; waitForFunction would need
    // eval in the page, which the dashboard's CSP (rightly) forbids.
    await page.locator('#live.on').waitFor();
  });

  await step('open an asset and zoom a chart', async () => {
    await page.locator('a.tile', { hasText: 'Cooling water pump' }).click();
    await page.waitForURL(/#\/asset\/\d+/);
    const canvas = page.locator('.chart canvas').first();
    await canvas.waitFor();
    if (await page.locator('.readout').count() > 0) await page.locator('.readout', { hasText: /\S/ }).first().waitFor();
    const box = await canvas.boundingBox();
    // Wait for the zoom's own fetch: the first charts' initial loads and live
    // refreshes (the default 25 h view) may still be in flight, and a chart
    // ignores the wheel until its first data has arrived, so wheel again
    // until a narrower range is requested.
    const span = (r) => { const u = new URL(r.url()); return +u.searchParams.get('to') - +u.searchParams.get('from'); };
    const narrower = (r) => r.url().includes('/api/v1/series/') && span(r) < 86400e3 + 3600e3;
    let req = null;
    for (let i = 0; i < 20 && !req; ++i) {
      const next = page.waitForRequest(narrower, { timeout: 1500 }).catch(() => null);
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      await page.mouse.wheel(0, -300);
      req = await next;
    }
    assert.ok(req, 'zooming a chart fetched a narrower range');
    const u = new URL(req.url());
    assert.ok(+u.searchParams.get('to') - +u.searchParams.get('from') < 86400e3 + 3600e3, 'zoom narrows the range');
    await page.locator('button', { hasText: '30d' }).click();
  });

  await step('the trends show the learned baseline band', async () => {
    // The demo's models learn for 2 simulated hours (the e2e config); the
    // page reads the bands when it opens, so reopen it until they are there.
    const url = page.url();
    let legend = null;
    for (let i = 0; i < 30 && !legend; ++i) {
      await page.locator('.chart canvas').first().waitFor();
      const n = await page.locator('.band-legend').count();
      if (n > 0) { legend = page.locator('.band-legend').first(); break; }
      await page.waitForTimeout(1000);
      await page.goto('about:blank');
      await page.goto(url);
    }
    assert.ok(legend, 'a baseline band appeared on the trend charts');
    const text = await legend.textContent();
    const m = /baseline ([\d.e+-]+)–([\d.e+-]+)/.exec(text);
    assert.ok(m && +m[1] < +m[2], `band legend "${text}" names lo < hi`);
  });

  await step('the asset shows its spectra in plain words, with shaft and bearing-defect markers, and a waterfall', async () => {
    // Still on the cooling-water pump (1480 rpm, bearing geometry known).
    // Spectra come with the demo's waveforms; the page reloads them every 15 s.
    const env = page.locator('.spectra .chart', { hasText: 'Envelope spectrum' });
    await env.locator('.spectrum-summary', { hasText: /^peak [\d.e+-]+ g at [\d.]+ Hz/ }).waitFor({ timeout: 40000 });
    const markers = (await env.locator('canvas').getAttribute('data-markers')).split(' ');
    for (const m of ['1×', '2×', 'BPFO', 'BPFI', 'BSF', 'FTF']) assert.ok(markers.includes(m), `envelope markers ${markers} include ${m}`);
    assert.match(await env.locator('canvas').getAttribute('aria-label'), /^Envelope spectrum: peak /);
    await page.locator('p.envelope-band', { hasText: 'automatic band' }).waitFor();  // the demo sets no band
    const accel = page.locator('.spectra .chart', { hasText: 'Acceleration spectrum' });
    await accel.locator('.spectrum-summary', { hasText: /^peak / }).waitFor();
    const wf = page.locator('canvas.waterfall');
    await wf.and(page.locator('[data-rows]')).waitFor();
    assert.ok(+(await wf.getAttribute('data-rows')) >= 1, 'the waterfall draws at least one spectrum');
    assert.match(await wf.getAttribute('aria-label'), /^Waterfall of \d+ spectra/);
  });

  await step('an admin creates an API token, sees it once, and revokes it', async () => {
    await page.goto(BASE + '/#/settings');
    const card = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'API tokens' }) });
    await card.waitFor();
    await card.locator('input').first().fill('e2e-scada');
    await card.locator('select').first().selectOption('admin');
    await card.getByRole('button', { name: /create/i }).click();
    const shown = page.getByText(/vgl_[0-9a-f]{64}/).first();
    await shown.waitFor();
    const tok = /vgl_[0-9a-f]{64}/.exec(await shown.textContent())[0];
    // The token works for the API, as an integration would use it (Node's
    // fetch: no session cookie; an admin-only route, since the demo lets
    // loopback requests without credentials read as a technician)...
    const users = () => fetch(BASE + '/api/v1/users', { headers: { Authorization: 'Bearer ' + tok } });
    assert.equal((await users()).status, 200);
    const row = page.locator('tr', { hasText: 'e2e-scada' });
    await row.getByRole('button', { name: 'revoke' }).click();
    await page.locator('tr', { hasText: 'e2e-scada' }).getByText('revoked').waitFor();
    // ...and is refused once revoked.
    assert.equal((await users()).status, 401);
  });

  await step('acknowledge and close an alert', async () => {
    assert.ok(DB, 'VIGIL_DB must point at the demo database');
    const now = Date.now();
    sql(`INSERT INTO alerts(asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation)
         VALUES(1, 1, 'vibrationML', 'alarm', 'open', ${now}, ${now}, 'e2e bearing alert', 'velocity RMS is 3.2× its baseline')`);
    await page.goto(BASE + '/#/alerts');
    const card = page.locator('article.alert-card', { hasText: 'e2e bearing alert' });
    await card.waitFor();
    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await card.locator('.pill.status', { hasText: 'acknowledged' }).waitFor();
    await card.getByRole('button', { name: 'Close…' }).click();
    await card.locator('select[name=failure_mode]').selectOption('LUBRICATION');
    await card.locator('select[name=failure_cause]').selectOption('MAINTENANCE');
    await card.locator('select[name=action_taken]').selectOption('LUBRICATE');
    await card.locator('textarea[name=notes]').fill('greased the DE bearing');
    await card.getByRole('button', { name: 'Close alert' }).click();
    await page.locator('.toast', { hasText: 'closed' }).waitFor();
    await page.locator('button.tab', { hasText: 'Closed' }).click();
    await page.locator('article.alert-card', { hasText: 'e2e bearing alert' }).getByText(/Closed by admin/).waitFor();
  });

  await step('commission a sensor by pasting its QR code', async () => {
    await page.goto(BASE + '/#/sensors');
    await page.getByRole('heading', { name: 'Commission a sensor' }).waitFor();
    await page.getByPlaceholder('or paste the QR code text here').fill('vigil:A4:C1:38:5A:1B:2C:00112233445566778899aabbccddeeff');
    assert.equal(await page.locator('input[name=address]').inputValue(), 'A4:C1:38:5A:1B:2C');
    await page.locator('select[name=position_id]').selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Commission', exact: true }).click();
    await page.locator('tr[data-address="A4:C1:38:5A:1B:2C"]').waitFor();
  });

  await step('add and delete a machine class of our own', async () => {
    await page.goto(BASE + '/#/settings');
    const card = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'Machine classes' }) });
    await card.locator('tr[data-cls="iso10816_class2"]').getByText('builtin').waitFor();
    await card.getByPlaceholder('class name').fill('e2e_fan');
    await card.getByPlaceholder('A/B').fill('1.5');
    await card.getByPlaceholder('B/C').fill('3.5');
    await card.getByPlaceholder('C/D').fill('6');
    await card.getByRole('button', { name: 'Save class' }).click();
    const row = page.locator('tr[data-cls="e2e_fan"]');
    await row.getByText('1.50 · 3.50 · 6.00').waitFor();
    await row.getByText('user').waitFor();
    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'delete' }).click();
    await page.locator('.toast', { hasText: 'Class deleted' }).waitFor();
    await page.locator('tr[data-cls="e2e_fan"]').waitFor({ state: 'detached' });
  });

  await step('an admin adds an asset with speed, bearing and envelope band, and a position; the fleet shows it', async () => {
    await page.goto(BASE + '/#/settings');
    const card = page.locator('section.card.plant');
    await card.waitFor();
    await card.locator('select[name=site_id]').selectOption({ index: 0 });
    await card.locator('input[name=asset_name]').fill('E2E blower B-9');
    await card.locator('select[name=machine_class]').selectOption('iso10816_class3');
    await card.locator('input[name=shaft_rpm]').fill('1780');
    await card.locator('input[name=rolling_elements]').fill('8');
    await card.locator('input[name=element_diameter_mm]').fill('12.7');
    await card.locator('input[name=pitch_diameter_mm]').fill('60');
    // A reversed band is refused with the API's reason, and nothing is saved.
    await card.locator('input[name=envelope_lo_khz]').fill('3.5');
    await card.locator('input[name=envelope_hi_khz]').fill('1.5');
    await card.getByRole('button', { name: 'Save asset' }).click();
    await page.locator('.toast', { hasText: /envelope band must be/ }).waitFor();
    assert.equal(await card.locator('tr[data-asset="E2E blower B-9"]').count(), 0);
    await card.locator('input[name=envelope_lo_khz]').fill('1.5');
    await card.locator('input[name=envelope_hi_khz]').fill('3.5');
    await card.getByRole('button', { name: 'Save asset' }).click();
    await page.locator('section.card.plant tr[data-asset="E2E blower B-9"]', { hasText: 'envelope 1.5–3.5 kHz' }).waitFor();
    const plant = page.locator('section.card.plant');
    await plant.locator('select[name=asset_id]').selectOption({ label: 'E2E blower B-9' });
    await plant.locator('input[name=position_name]').fill('Blower DE');
    await plant.locator('select[name=type]').selectOption('fan');
    await plant.getByRole('button', { name: 'Save position' }).click();
    await page.locator('.toast', { hasText: 'Position Blower DE saved' }).waitFor();
    await page.goto(BASE + '/#/fleet');
    const tile = page.locator('a.tile', { hasText: 'E2E blower B-9' });
    await tile.waitFor();
    await tile.click();
    await page.locator('p.envelope-band', { hasText: '1.5–3.5 kHz (set for this asset)' }).waitFor();
  });

  await step('no script errors', async () => {
    assert.deepEqual(errors.filter((e) => !/EventSource|net::ERR|the server responded with a status of 4\d\d/.test(e)), []);
  });
} catch {
  failed = true;
} finally {
  await browser.close();
}
console.log(`${results.filter((r) => r[1] === 'ok').length}/${results.length} steps passed`);
process.exit(failed ? 1 : 0);
