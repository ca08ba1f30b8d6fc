// SPDX-License-Identifier: Apache-2.0
// Browser check of the Firmware page (views/firmware.js), run by
// dashboard.test.mjs as the signed-in admin on the phone-sized page. The
// demo has no vendor signing key and its sensors are simulated, so the
// gateway's answers (one image, one running rollout over three waves) are
// played here; the routes themselves are tested in
// tests/integration/test_firmware.py. Checks: images and rollout render with
// states in words and icons, a progress bar with text, bytes sent as %, an
// upload refusal in the gateway's words, the form refusing a bad threshold
// beside its field before sending, Stop and Resume, polling while running and not
// after leaving the page, and no serious or critical axe-core violation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const json = (body, status = 200) => ({ status, contentType: status >= 400 ? 'application/problem+json' : 'application/json', body: JSON.stringify(body) });

export function firmwareFixture(now = Date.now()) {
  const iso = (dt) => new Date(now - dt).toISOString();
  const image = { id: 3, board: 'nrf52840', version: '1.4.0', sha256: 'ab'.repeat(32), size: 40000, uploaded_by: 'admin', uploaded_at: iso(3600e3) };
  const t = (sensor_id, wave, state, extra = {}) => ({ sensor_id, address: `A4:C1:38:00:00:0${sensor_id}`, wave, state, reason: '', attempts: 0,
    bytes_sent: 0, started_at: null, finished_at: null, updated_at: iso(0), ...extra });
  const rollout = { id: 7, image_id: 3, tag: 'line=2', percent: null, wave_size: 2, failure_threshold: '1', force: false, state: 'running', reason: '',
    created_by: 'admin', created_at: iso(600e3), updated_at: iso(0), targets: [
      t(1, 0, 'confirmed', { bytes_sent: 40000, attempts: 1, started_at: iso(500e3), finished_at: iso(400e3) }),
      t(2, 0, 'reverted', { bytes_sent: 40000, attempts: 1, reason: 'the test image did not confirm', started_at: iso(350e3), finished_at: iso(200e3) }),
      t(3, 1, 'transferring', { bytes_sent: 18000, attempts: 1, started_at: iso(60e3) }),
      t(4, 1, 'queued', { reason: 'waiting: firmware update is not yet supported over BLE' }),
      t(5, 2, 'queued')] };
  return { image, rollout };
}

export async function firmwarePageShows(page, context, base) {
  const { image, rollout } = firmwareFixture();
  const seen = { rolloutGets: 0, stops: 0, uploads: 0, creates: 0 };
  await page.route('**/api/v1/firmware/images', (r) => {
    if (r.request().method() === 'POST') {
      seen.uploads += 1;
      return r.fulfill(json({ type: 'about:blank', title: 'Unprocessable Content', status: 422, code: 'bad_signature', field: 'body',
        detail: 'wrong signature: the image is not signed by the configured vendor key' }, 422));
    }
    return r.fulfill(json([image]));
  });
  await page.route('**/api/v1/firmware/rollouts', (r) => {
    if (r.request().method() === 'POST') { seen.creates += 1; return r.fulfill(json({ detail: 'unexpected' }, 500)); }
    seen.rolloutGets += 1;
    return r.fulfill(json([rollout]));
  });
  await page.route('**/api/v1/firmware/rollouts/7/stop', (r) => {
    seen.stops += 1;
    rollout.state = 'stopped';
    rollout.reason = 'stopped by an admin';
    return r.fulfill(json(rollout));
  });
  await page.route('**/api/v1/firmware/rollouts/7/resume', (r) => {
    rollout.state = 'running';
    rollout.reason = '';
    return r.fulfill(json(rollout));
  });
  try {
    await page.goto(base + '/#/fleet');
    await page.locator('nav a', { hasText: 'Firmware' }).click();
    await page.getByRole('heading', { name: 'Firmware', level: 1 }).waitFor();
    assert.ok(await page.locator('nav a[data-nav="firmware"].active').count(), 'the navigation marks the page');
    // The image, and the rollout with its progress in words and as a bar.
    await page.locator('table.fw-images tr[data-image-id="3"]').getByText('1.4.0').waitFor();
    const card = page.locator('section.fw-rollout[data-rollout-id="7"]');
    await card.getByRole('heading', { name: 'Rollout 7: 1.4.0 · nrf52840' }).waitFor();
    assert.equal((await card.locator('.fw-rollout-state').textContent()).trim(), '▶ Running');
    assert.equal(await card.locator('.fw-progress-text').textContent(), '2 of 5 sensors finished (1 updated, 1 reverted) · wave 2 of 3');
    const bar = card.getByRole('progressbar', { name: 'Rollout 7 progress' });
    assert.deepEqual([await bar.getAttribute('max'), await bar.evaluate((b) => b.value)], ['5', 2]);
    assert.equal(await card.locator('.fw-counts').textContent(), '2 queued · 1 transferring · 1 updated · 1 reverted');
    // Each sensor: state as icon and words, bytes sent as %, attempts, reason.
    const moving = card.locator('tr[data-sensor-id="3"] td');
    assert.deepEqual((await moving.allTextContents()).slice(0, 5), ['A4:C1:38:00:00:03', '2', '⇪ Transferring', '45 %', '1']);
    assert.equal(await card.locator('tr[data-sensor-id="3"] .cmd-icon').getAttribute('aria-hidden'), 'true');
    await card.locator('tr[data-sensor-id="2"]').getByText('the test image did not confirm').waitFor();
    await card.locator('tr[data-sensor-id="2"]').getByText('↩ Reverted').waitFor();
    const text = await page.locator('main').innerText();
    assert.ok(!/\b(null|undefined|NaN)\b/.test(text), `no unfilled value on the Firmware page: ${text}`);
    // It polls while the rollout runs.
    const before = seen.rolloutGets;
    await page.waitForTimeout(3500);
    assert.ok(seen.rolloutGets > before, 'the running rollout is refreshed');
    // An upload the gateway refuses: its words, beside the file input.
    const upload = page.locator('form.fw-upload');
    await upload.locator('input[type=file]').setInputFiles({ name: 'app-1.4.1.vgfw', mimeType: 'application/octet-stream', buffer: Buffer.alloc(256, 7) });
    await upload.getByRole('button', { name: 'Upload' }).click();
    await upload.locator('.form-errors').getByText('Refused: Wrong signature: the image is not signed by the configured vendor key').waitFor();
    assert.equal(seen.uploads, 1);
    // The form refuses a bad threshold beside the field, before sending; the
    // downgrade warning stands beside "force".
    const form = page.locator('form.fw-rollout-form');
    await form.getByText('it allows a downgrade').waitFor();
    await form.getByRole('textbox', { name: 'Failure threshold' }).fill('many');
    await form.getByRole('button', { name: 'Start the rollout' }).click();
    await form.locator('label[data-field="failure_threshold"] .field-error').getByText('A number of sensors (3) or a percentage (10%).').waitFor();
    assert.equal(seen.creates, 0, 'nothing sent');
    // axe-core on the page (the phone context keeps its CSP: inject through
    // the DevTools protocol, as the other axe steps do).
    await card.locator('details.fw-targets').evaluate((d) => { d.open = true; });
    await page.locator('details.glossary').evaluate((d) => { d.open = true; });
    const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Runtime.evaluate', { expression: axeSource });
    await cdp.detach();
    const found = await page.evaluate(async () => {
      const r = await window.axe.run('main', { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(found, [], 'no serious or critical accessibility violation on the Firmware page');
    // Stop: the rollout reads Stopped, offers Resume, and polling ends.
    await card.getByRole('button', { name: 'Stop' }).click();
    await card.locator('.fw-rollout-state', { hasText: 'Stopped' }).waitFor();
    await card.getByRole('button', { name: 'Resume' }).waitFor();
    assert.equal(seen.stops, 1);
    // Resumed, it polls again; once the page is left, no more requests.
    await card.getByRole('button', { name: 'Resume' }).click();
    await card.locator('.fw-rollout-state', { hasText: 'Running' }).waitFor();
    const resumed = seen.rolloutGets;
    await page.waitForTimeout(3500);
    assert.ok(seen.rolloutGets > resumed, 'the resumed rollout is refreshed again');
    await page.locator('nav a', { hasText: 'Fleet' }).click();
    await page.locator('a.tile').first().waitFor();
    const left = seen.rolloutGets;
    await page.waitForTimeout(3500);
    assert.equal(seen.rolloutGets, left, 'no refresh after leaving the page');
  } finally {
    await page.unroute('**/api/v1/firmware/images');
    await page.unroute('**/api/v1/firmware/rollouts');
    await page.unroute('**/api/v1/firmware/rollouts/7/stop');
    await page.unroute('**/api/v1/firmware/rollouts/7/resume');
  }
}
