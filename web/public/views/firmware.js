// SPDX-License-Identifier: Apache-2.0
// Firmware: sensor firmware images and their rollouts (issue 18; the REST
// contract is src/http/api_firmware.h, the gateway's behaviour
// docs/firmware.md), for reliability engineers and plant IT.
//
//   GET    /firmware/images                 → [{id, board, version, sha256, size, uploaded_by, uploaded_at}]
//   POST   /firmware/images (admin)         the .vgfw bytes, application/octet-stream, ≤ 128 KiB → 201 image;
//                                            422/409/413/415 {detail} naming the cause, shown as the gateway says it
//   DELETE /firmware/images/{id} (admin)    409 while a rollout uses it
//   POST   /firmware/rollouts (admin)       {image_id, tag?, percent?, wave_size, failure_threshold, force?} → 201 rollout
//   GET    /firmware/rollouts               → [{id, image_id, state, reason, tag, percent, wave_size,
//                                               failure_threshold, force, created_by, created_at, targets: [...]}]
//   POST   /firmware/rollouts/{id}/stop|resume (admin)
//
// A state is an icon and words, never colour alone. While a rollout is
// running (or paused) the page refreshes every few seconds; leaving the page
// stops it (app.cleanup). The pure functions at the top are tested in
// tests/e2e/firmware_logic.test.mjs; the form's checks are the gateway's
// (src/firmware/rollouts.cpp), made before sending so most mistakes never
// reach it, whose refusal is still shown in its own words.
import { api, h, fmt, toast } from '../api.js';
import { fmtBytes } from './storage.js';
import { FieldErrors, numInput, textInput, selectInput, checkbox } from './notify_form.js';

// ---------------------------------------------------------------- pure logic

export const MAX_IMAGE_BYTES = 128 * 1024;  // kMaxFirmwareUploadBytes
export const WAVE_SIZE = Object.freeze({ min: 1, max: 10000 });
export const REFRESH_MS = 3000;

// A sensor's way through a rollout, in order; the last three are final.
export const TARGET_ORDER = ['queued', 'transferring', 'verifying', 'test_boot', 'confirmed', 'failed', 'reverted'];
export const FINAL_STATES = ['confirmed', 'failed', 'reverted'];
export const TARGET_STATES = Object.freeze({
  queued: { icon: '◷', word: 'Queued', meaning: 'Waiting for its turn: sensors are updated one at a time, wave after wave.' },
  transferring: { icon: '⇪', word: 'Transferring', meaning: 'The image is being sent to the sensor over Bluetooth. A dropped connection resumes where it stopped.' },
  verifying: { icon: '≟', word: 'Verifying', meaning: 'The sensor checks the image it received: its checksum, its board and the gateway’s signature for this sensor.' },
  test_boot: { icon: '↻', word: 'Test boot', meaning: 'The sensor restarted on the new firmware and must confirm that it works; otherwise it goes back to the old one by itself.' },
  confirmed: { icon: '✓', word: 'Updated', meaning: 'The sensor runs the new firmware and confirmed it.' },
  failed: { icon: '✕', word: 'Failed', meaning: 'The sensor refused the image (checksum, board, signature) or could not be reached after several attempts. It still runs its old firmware.' },
  reverted: { icon: '↩', word: 'Reverted', meaning: 'The new firmware did not confirm after its test boot: the sensor went back to its old firmware.' },
});
export const ROLLOUT_STATES = Object.freeze({
  running: { icon: '▶', word: 'Running', meaning: 'Sensors are being updated, one at a time.' },
  paused: { icon: '⏸', word: 'Paused', meaning: 'Held by the gateway; an admin can stop or resume it.' },
  stopped: { icon: '■', word: 'Stopped', meaning: 'Stopped by an admin before the next sensor; an admin can resume it.' },
  completed: { icon: '✓', word: 'Completed', meaning: 'Every sensor of the rollout finished.' },
  failed: { icon: '✕', word: 'Failed', meaning: 'Too many sensors failed or reverted (the failure threshold): nothing more starts.' },
});

// A sensor's state as {state, icon, text}.
export function targetStateWords(state) {
  const s = TARGET_STATES[state];
  return s ? { state, icon: s.icon, text: s.word } : { state: 'unknown', icon: '?', text: state ? String(state) : 'Unknown' };
}

// A rollout's state as {state, icon, text}.
export function rolloutStateWords(state) {
  const s = ROLLOUT_STATES[state];
  return s ? { state, icon: s.icon, text: s.word } : { state: 'unknown', icon: '?', text: state ? String(state) : 'Unknown' };
}

// A rollout that can still change by itself: the page keeps polling.
export const isActive = (r) => !!r && (r.state === 'running' || r.state === 'paused');
export const needsPolling = (rollouts) => Array.isArray(rollouts) && rollouts.some(isActive);

// Stop while it runs (or is paused), resume once stopped (or paused).
export function rolloutActions(r) {
  const st = r && r.state;
  return { stop: st === 'running' || st === 'paused', resume: st === 'stopped' || st === 'paused' };
}

// Progress of one rollout: {total, counts (every state, 0 when none),
// finished, confirmed, problems (failed + reverted), fraction (0..1), waves,
// wave (the lowest wave with unfinished sensors, or null), text}.
export function rolloutProgress(r) {
  const targets = (r && Array.isArray(r.targets)) ? r.targets : [];
  const counts = Object.fromEntries(TARGET_ORDER.map((s) => [s, 0]));
  const waves = new Set();
  let wave = null;
  for (const t of targets) {
    counts[t.state] = (counts[t.state] || 0) + 1;
    waves.add(t.wave);
    if (!FINAL_STATES.includes(t.state) && (wave === null || t.wave < wave)) wave = t.wave;
  }
  const total = targets.length;
  const finished = FINAL_STATES.reduce((n, s) => n + counts[s], 0);
  const problems = counts.failed + counts.reverted;
  const waveList = [...waves].sort((a, b) => a - b);
  const waveNo = wave === null ? null : waveList.indexOf(wave) + 1;
  let text = total ? `${finished} of ${plural(total, 'sensor')} finished` : 'No sensors';
  if (total) {
    const bits = [`${counts.confirmed} updated`];
    if (counts.failed) bits.push(`${counts.failed} failed`);
    if (counts.reverted) bits.push(`${counts.reverted} reverted`);
    text += ` (${bits.join(', ')})`;
  }
  if (waveList.length > 1 || waveNo !== null) {
    text += waveNo !== null ? ` · wave ${waveNo} of ${waveList.length}` : ` · ${plural(waveList.length, 'wave')}`;
  }
  return { total, counts, finished, confirmed: counts.confirmed, problems, fraction: total ? finished / total : 0,
    waves: waveList.length, wave: waveNo, text };
}

// A wave as people count it: 1 for the rollout's first wave (the gateway
// numbers them from 0).
export function waveNumber(r, wave) {
  const waves = [...new Set(((r && r.targets) || []).map((t) => t.wave))].sort((a, b) => a - b);
  const i = waves.indexOf(wave);
  return i >= 0 ? i + 1 : null;
}

// "2 updated · 1 transferring · 7 queued": the states present, in order.
export function countsText(counts) {
  const parts = TARGET_ORDER.filter((s) => counts && counts[s] > 0).map((s) => `${counts[s]} ${TARGET_STATES[s].word.toLowerCase()}`);
  return parts.length ? parts.join(' · ') : 'no sensors';
}

// Bytes sent as a share of the image: "45 %", "—" when unknown.
export function bytesPercent(sent, size) {
  if (!(size > 0) || typeof sent !== 'number' || !Number.isFinite(sent) || sent < 0) return '—';
  const p = Math.min(100, (100 * sent) / size);
  return `${p > 0 && p < 1 ? '<1' : Math.floor(p)} %`;
}

// Which sensors a rollout takes, in words.
export function selectionText(r) {
  const what = r && r.tag ? `sensors tagged ${r.tag}` : 'all sensors of the board';
  return r && typeof r.percent === 'number' ? `the first ${fmtPct(r.percent)} of ${what}` : what;
}
const fmtPct = (p) => `${Math.round(p * 100) / 100} %`;

// "1" → "stops at the first failed sensor"; "10%" → "stops when 10 % of the sensors failed".
export function thresholdText(t) {
  const s = String(t ?? '').trim();
  if (s.endsWith('%')) return `stops when ${s.slice(0, -1)} % of its sensors failed or reverted`;
  const n = Number(s);
  if (n === 1) return 'stops at the first sensor that fails or reverts';
  return Number.isFinite(n) ? `stops when ${n} sensors failed or reverted` : s;
}

// The gateway's rule for failure_threshold (firmware::check_threshold): a
// whole count ≥ 1 or a percentage in (0, 100]. Returns a problem or ''.
export function thresholdProblem(t) {
  const s = String(t ?? '').trim();
  const pct = s.endsWith('%');
  const num = pct ? s.slice(0, -1).trim() : s;
  if (!num || !/^[0-9]+(\.[0-9]+)?$/.test(num)) return 'A number of sensors (3) or a percentage (10%).';
  const v = Number(num);
  if (pct ? !(v > 0 && v <= 100) : !(Number.isInteger(v) && v >= 1 && v <= 1e6)) {
    return pct ? 'A percentage above 0 and at most 100.' : 'A whole number of sensors, 1 or more.';
  }
  return '';
}

const num = (v) => (typeof v === 'number' ? v : String(v ?? '').trim() === '' ? NaN : Number(String(v).trim().replace(',', '.')));

// The "Roll out…" form → {body, errors}: the body for POST
// /firmware/rollouts, or problems [{field, detail}] named as the gateway
// names them. f = {imageId, selection: 'all'|'tag'|'percent', tag, percent,
// waveSize, threshold, force}.
export function formToRollout(f = {}) {
  const errors = [];
  const body = {};
  const id = num(f.imageId);
  if (!Number.isInteger(id) || id < 1) errors.push({ field: 'image_id', detail: 'Choose the image to roll out.' });
  else body.image_id = id;
  const sel = f.selection || 'all';
  if (sel === 'tag') {
    const tag = String(f.tag ?? '').trim();
    const eq = tag.indexOf('=');
    if (eq <= 0 || eq === tag.length - 1) errors.push({ field: 'tag', detail: 'A tag as key=value, e.g. line=2.' });
    else body.tag = tag;
  }
  if (sel === 'percent') {
    const p = num(f.percent);
    if (!(p > 0 && p <= 100)) errors.push({ field: 'percent', detail: 'A percentage above 0 and at most 100.' });
    else body.percent = p;
  }
  const w = num(f.waveSize);
  if (!Number.isInteger(w) || w < WAVE_SIZE.min || w > WAVE_SIZE.max) {
    errors.push({ field: 'wave_size', detail: 'A whole number of sensors from 1 to 10000.' });
  } else body.wave_size = w;
  const t = String(f.threshold ?? '').trim().replace(/\s+/g, '');
  const tp = thresholdProblem(t);
  if (tp) errors.push({ field: 'failure_threshold', detail: tp });
  else body.failure_threshold = t;
  if (f.force) body.force = true;
  return errors.length ? { body: null, errors } : { body, errors };
}

// A chosen file before upload: a problem in words, or ''.
export function fileProblem(file) {
  if (!file) return 'Choose a .vgfw file first.';
  if (!(file.size > 0)) return 'This file is empty.';
  if (file.size > MAX_IMAGE_BYTES) return `This file has ${fmtBytes(file.size)}: a firmware image is at most 128 KiB (${fmtBytes(MAX_IMAGE_BYTES)}).`;
  return '';
}

// A refusal in words: the gateway's own text (it names the cause: unsigned,
// wrong signature, other board, truncated, duplicate, no signing key…),
// with a word of context for the statuses that need one.
export function refusalText(e) {
  if (!e) return 'Not sent.';
  if (e.status === 0) return 'The gateway is not answering: nothing was sent.';
  if (e.status === 403) return 'This needs the admin role.';
  const d = String(e.detail || e.message || `HTTP ${e.status}`).trim();
  const t = d ? d[0].toUpperCase() + d.slice(1) : d;
  if (e.status === 415) return `${t} (the file was not sent as an image).`;
  return t;
}

// "1.4.0 · nrf52840"
export const imageLabel = (img) => (img ? `${img.version} · ${img.board}` : '—');

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ----------------------------------------------------------------------- DOM

function csrf() {
  const m = document.cookie.match(/(?:^|; )vigil_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

// POST the file's bytes (api() sends JSON only); resolves to the image or
// throws {status, code, detail} as api() does.
async function uploadImage(file) {
  let res;
  try {
    res = await fetch('/api/v1/firmware/images', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json', 'X-CSRF-Token': csrf() },
      body: file,
    });
  } catch {
    throw Object.assign(new Error('The gateway is not answering.'), { status: 0 });
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw Object.assign(new Error((body && body.detail) || `HTTP ${res.status}`), { status: res.status, code: body && body.code, detail: body && body.detail });
  return body;
}

function stateBadge(w, cls) {
  return h(`span.cmd-state.${cls}`, { dataset: { state: w.state } }, h('span.cmd-icon', { 'aria-hidden': 'true' }, w.icon), ' ', w.text);
}

const when = (iso) => (iso ? h('time', { dateTime: iso, title: new Date(iso).toLocaleString() }, fmt.ago(iso)) : '—');

const GLOSSARY = [
  ...TARGET_ORDER.map((s) => [`${TARGET_STATES[s].icon} ${TARGET_STATES[s].word}`, TARGET_STATES[s].meaning]),
  ['Wave', 'The sensors are split into waves of the chosen size, in order. A wave starts only when the previous one finished, so a bad image reaches few sensors.'],
  ['Failure threshold', 'How many failed or reverted sensors stop the whole rollout: a number (3) or a share of its sensors (10%).'],
  ['Downgrade (force)', 'Installing an older version than a sensor runs. Refused unless forced; use it only to roll back a bad release.'],
  ['Signature', 'The gateway only accepts images signed with the vendor key configured in firmware.signing_public_key_file, and each sensor checks a tag made with its own key.'],
];

export async function renderFirmware(main, app) {
  const admin = app.can('admin');
  const ui = { open: new Map(), stopped: false, timer: null, seq: 0 };
  app.cleanup.push(() => { ui.stopped = true; clearTimeout(ui.timer); });

  const imagesBox = h('div');
  const rolloutBox = h('div');
  const formBox = h('div');
  // Not a live region: it changes every few seconds while a rollout runs.
  const status = h('p.muted.small.fw-updated');
  let images = [];
  let rollouts = [];

  // The first load throws (the router shows "Could not load this page");
  // a failed refresh says so under the rollouts and tries again later. Only
  // the latest of overlapping loads (a timer and a button) draws and sets
  // the next timer, so there is never more than one polling chain.
  async function load(first = false) {
    clearTimeout(ui.timer);
    if (ui.stopped) return;
    const seq = ++ui.seq;
    let got;
    try {
      got = await Promise.all([api('/firmware/images'), api('/firmware/rollouts')]);
    } catch (e) {
      if (first) throw e;
      if (ui.stopped || seq !== ui.seq) return;
      status.textContent = `Could not refresh: ${e.message}`;
      ui.timer = setTimeout(load, REFRESH_MS * 3);
      return;
    }
    if (ui.stopped || seq !== ui.seq) return;
    clearTimeout(ui.timer);
    [images, rollouts] = got;
    drawImages();
    drawRollouts();
    if (admin) drawForm();
    const live = needsPolling(rollouts);
    status.textContent = `Updated ${new Date().toLocaleTimeString()}${live ? ` · refreshes every ${REFRESH_MS / 1000} s while a rollout runs` : ''}`;
    if (live) ui.timer = setTimeout(load, REFRESH_MS);
  }

  // ------------------------------------------------------------ images
  function drawImages() {
    const inUse = new Set(rollouts.map((r) => r.image_id));
    const rows = images.map((img) => h('tr', { dataset: { imageId: img.id } },
      h('td', h('strong', img.version)), h('td', img.board), h('td.num', fmtBytes(img.size)),
      h('td', h('code', { title: img.sha256 }, String(img.sha256 || '').slice(0, 12) + '…')),
      h('td', when(img.uploaded_at), img.uploaded_by ? h('div.muted.small', `by ${img.uploaded_by}`) : null),
      admin ? h('td', inUse.has(img.id) ? h('span.muted.small', 'used by a rollout')
        : h('button.link', { type: 'button', 'aria-label': `Delete image ${imageLabel(img)}`, onclick: () => del(img) }, 'Delete')) : null));
    imagesBox.replaceChildren(images.length
      ? h('div.table-wrap', { tabIndex: 0, role: 'region', 'aria-label': 'Firmware images' }, h('table.fw-images',
        h('thead', h('tr', ['Version', 'Board', 'Size', 'SHA-256', 'Uploaded', ...(admin ? ['Action'] : [])].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', rows)))
      : h('p.muted', 'No firmware image uploaded yet.'));
  }

  async function del(img) {
    if (!confirm(`Delete the image ${imageLabel(img)}?`)) return;
    try { await api(`/firmware/images/${img.id}`, { method: 'DELETE' }); toast(`Image ${imageLabel(img)} deleted`); load(); } catch (e) { toast(refusalText(e), true); }
  }

  function uploadForm() {
    const file = h('input', { type: 'file', name: 'image', accept: '.vgfw,application/octet-stream', 'aria-describedby': 'fw-upload-hint fw-upload-err' });
    const err = h('div.form-errors', { id: 'fw-upload-err', role: 'alert' });
    const send = h('button.primary', { type: 'submit' }, 'Upload');
    return h('form.stack.fw-upload', {
      'aria-label': 'Upload a firmware image',
      onsubmit: async (e) => {
        e.preventDefault();
        err.replaceChildren();
        const f = file.files && file.files[0];
        const p = fileProblem(f);
        if (p) { err.append(h('p.error', p)); file.setAttribute('aria-invalid', 'true'); file.focus(); return; }
        file.removeAttribute('aria-invalid');
        send.disabled = true;
        try {
          const img = await uploadImage(f);
          toast(`Image ${imageLabel(img)} uploaded`);
          file.value = '';
          load();
        } catch (x) {
          err.append(h('p.error', `Refused: ${refusalText(x)}`));
          file.setAttribute('aria-invalid', 'true');
        } finally { send.disabled = false; }
      },
    }, h('h3', 'Upload an image'),
    h('label', h('span.label-text', 'Firmware image (.vgfw)'), file,
      h('span.hint', { id: 'fw-upload-hint' }, 'A signed .vgfw file of at most 128 KiB, made with “vigil firmware sign”. The gateway checks its signature and board.')),
    err, h('div.row', send));
  }

  // ---------------------------------------------------------- roll out
  let imageSelect = null;
  // The form is built once (what is typed survives a refresh); until an
  // image exists, a note says to upload one.
  function drawForm() {
    if (!images.length) { imageSelect = null; formBox.replaceChildren(h('p.muted', 'Upload an image first: a rollout sends one of the images above.')); return; }
    if (!imageSelect) formBox.replaceChildren(rolloutForm());
    else refreshImageChoice();
  }
  function refreshImageChoice() {
    const keep = imageSelect.value;
    imageSelect.replaceChildren(...images.map((img) => h('option', { value: String(img.id) }, imageLabel(img))));
    if (images.some((i) => String(i.id) === keep)) imageSelect.value = keep;
  }

  function rolloutForm() {
    const errs = new FieldErrors();
    imageSelect = selectInput('image_id', images.map((img) => [img.id, imageLabel(img)]));
    const sel = selectInput('selection', [['all', 'All sensors of the image’s board'], ['tag', 'Sensors with a tag'], ['percent', 'A percentage of the sensors']], 'all');
    const tag = textInput('tag', '', { placeholder: 'line=2' });
    const pct = numInput('percent', '10', { min: '0', max: '100' });
    const wave = numInput('wave_size', '5', { min: '1', max: '10000', step: '1' });
    const thr = textInput('failure_threshold', '1');
    const force = checkbox('force', false, 'Allow a downgrade (force)');
    const warn = h('p.fw-force-warning', { id: 'fw-force-warning' }, h('span', { 'aria-hidden': 'true' }, '⚠ '),
      'Forcing installs this image even on sensors that run a newer version: it allows a downgrade. Use it only to roll back a bad release.');
    force.input.setAttribute('aria-describedby', warn.id);
    const tagField = errs.field('tag', 'Tag (key=value)', tag, 'Only sensors with this tag, e.g. line=2 or zone=north.');
    const pctField = errs.field('percent', 'Percentage', pct, 'The first part of the matching sensors, by sensor id (rounded up): a small canary first.');
    const showSel = () => { tagField.hidden = sel.value !== 'tag'; pctField.hidden = sel.value !== 'percent'; };
    sel.addEventListener('change', showSel);
    showSel();
    // Each control is named by its label's own words (not its hint's too).
    const named = (field) => {
      const text = field.querySelector('.label-text');
      const input = field.querySelector('input, select');
      text.id = `fw-${input.name}-label`;
      input.setAttribute('aria-labelledby', text.id);
      return field;
    };
    const submit = h('button.primary', { type: 'submit' }, 'Start the rollout');
    const form = h('form.stack.fw-rollout-form', {
      noValidate: true,
      'aria-label': 'Roll out a firmware image',
      onsubmit: async (e) => {
        e.preventDefault();
        errs.clear();
        const r = formToRollout({ imageId: imageSelect.value, selection: sel.value, tag: tag.value, percent: pct.value,
          waveSize: wave.value, threshold: thr.value, force: force.input.checked });
        if (r.errors.length) { errs.show(r.errors); return; }
        submit.disabled = true;
        try {
          const ro = await api('/firmware/rollouts', { method: 'POST', body: r.body });
          toast(`Rollout ${ro.id} started for ${plural((ro.targets || []).length, 'sensor')}`);
          force.input.checked = false;
          ui.open.set(ro.id, true);
          load();
        } catch (x) {
          if (x && x.status === 422 && x.field && x.field !== 'body') errs.show([{ field: x.field, detail: x.detail || x.message }]);
          else if (x && x.status >= 400 && x.status < 500) errs.top.append(h('p.error', refusalText(x)));
          else toast(refusalText(x), true);
        } finally { submit.disabled = false; }
      },
    }, errs.top,
    named(errs.field('image_id', 'Image', imageSelect)),
    named(errs.field('selection', 'Which sensors', sel, 'Commissioned sensors of the image’s board; those that already run this version are left out.')),
    named(tagField), named(pctField),
    named(errs.field('wave_size', 'Wave size', wave, 'Sensors per wave; a wave starts when the previous one finished.')),
    named(errs.field('failure_threshold', 'Failure threshold', thr, 'Failed or reverted sensors that stop the rollout: a number (3) or a percentage (10%).')),
    errs.group('force', h('div.stack', force.el, warn)),
    h('div.row', submit));
    return form;
  }

  // ----------------------------------------------------------- rollouts
  function drawRollouts() {
    const byId = Object.fromEntries(images.map((i) => [i.id, i]));
    const focused = document.activeElement && rolloutBox.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    const sorted = [...rollouts].sort((a, b) => b.id - a.id);
    rolloutBox.replaceChildren(...(sorted.length ? sorted.map((r) => rolloutCard(r, byId[r.image_id])) : [h('p.muted', 'No rollout yet.')]));
    if (focused) { const el = rolloutBox.querySelector(`[data-focus-key="${focused}"]`); if (el) el.focus(); }
  }

  function rolloutCard(r, img) {
    const p = rolloutProgress(r);
    const w = rolloutStateWords(r.state);
    const acts = rolloutActions(r);
    const label = `Rollout ${r.id}`;
    const buttons = admin ? [
      acts.stop ? h('button', { type: 'button', dataset: { focusKey: `stop-${r.id}` }, onclick: () => act(r, 'stop') }, 'Stop') : null,
      acts.resume ? h('button', { type: 'button', dataset: { focusKey: `resume-${r.id}` }, onclick: () => act(r, 'resume') }, 'Resume') : null,
    ].filter(Boolean) : [];
    const open = ui.open.has(r.id) ? ui.open.get(r.id) : isActive(r);
    const details = h('details.fw-targets', { open, ontoggle: () => ui.open.set(r.id, details.open) },
      h('summary', `Sensors (${p.total})`), targetTable(r, img));
    return h('section.card.fw-rollout', { 'aria-labelledby': `fw-ro-${r.id}`, dataset: { rolloutId: r.id, state: r.state } },
      h('div.page-head', h('h3', { id: `fw-ro-${r.id}` }, `${label}: ${img ? imageLabel(img) : `image ${r.image_id}`}`), stateBadge(w, 'fw-rollout-state')),
      r.reason ? h('p.small', r.reason) : null,
      h('div.export-progress-row.fw-progress',
        h('progress.export-progress', { max: Math.max(1, p.total), value: p.finished, 'aria-label': `${label} progress`, 'aria-valuetext': p.text }),
        h('span.fw-progress-text', p.text)),
      h('p.small.fw-counts', countsText(p.counts)),
      h('dl.kv-list',
        h('dt', 'Sensors'), h('dd', selectionText(r)),
        h('dt', 'Waves'), h('dd', `${plural(r.wave_size, 'sensor')} each${p.waves ? ` · ${plural(p.waves, 'wave')}` : ''}`),
        h('dt', 'Failure threshold'), h('dd', `${r.failure_threshold}: ${thresholdText(r.failure_threshold)}`),
        r.force ? [h('dt', 'Downgrade'), h('dd', 'allowed (forced)')] : null,
        h('dt', 'Started'), h('dd', when(r.created_at), r.created_by ? ` by ${r.created_by}` : '')),
      buttons.length ? h('div.actions', buttons) : null,
      details);
  }

  function targetTable(r, img) {
    const cols = ['Sensor', 'Wave', 'State', 'Sent', 'Attempts', 'Reason', 'Finished'];
    const rows = (r.targets || []).map((t) => {
      const w = targetStateWords(t.state);
      const row = h('tr', { dataset: { sensorId: t.sensor_id, state: t.state } },
        h('td', h('code', t.address)), h('td.num', String(waveNumber(r, t.wave) ?? '—')), h('td', stateBadge(w, 'fw-target-state')),
        h('td.num', img ? bytesPercent(t.bytes_sent, img.size) : fmtBytes(t.bytes_sent)),
        h('td.num', String(t.attempts ?? 0)), h('td.lasterr', t.reason || ''),
        h('td', t.finished_at ? when(t.finished_at) : t.started_at ? ['started ', when(t.started_at)] : '—'));
      [...row.children].forEach((td, i) => { td.dataset.label = cols[i]; });
      return row;
    });
    return h('div.table-wrap', { tabIndex: 0, role: 'region', 'aria-label': `Sensors of rollout ${r.id}` }, h('table.fw-target-table',
      h('caption.sr-only', `Sensors of rollout ${r.id}, by wave`),
      h('thead', h('tr', cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', rows)));
  }

  async function act(r, action) {
    try {
      await api(`/firmware/rollouts/${r.id}/${action}`, { method: 'POST' });
      toast(action === 'stop' ? `Rollout ${r.id} stopped: no new sensor starts` : `Rollout ${r.id} resumed`);
    } catch (e) { toast(refusalText(e), true); }
    load();
  }

  main.replaceChildren(...[
    h('div.page-head', h('h1', 'Firmware'), h('span.muted', 'sensor firmware updates over Bluetooth')),
    h('section.card', { 'aria-labelledby': 'fw-images-h' }, h('h2', { id: 'fw-images-h' }, 'Images'), imagesBox,
      admin ? uploadForm() : h('p.muted.small', 'Uploading images and starting rollouts need the admin role.')),
    admin ? h('section.card', { 'aria-labelledby': 'fw-new-h' }, h('h2', { id: 'fw-new-h' }, 'Roll out…'), formBox) : null,
    h('section', { 'aria-labelledby': 'fw-ro-h' }, h('h2', { id: 'fw-ro-h' }, 'Rollouts'), rolloutBox, status),
    h('details.glossary', h('summary', 'What do these states and words mean?'),
      h('dl', GLOSSARY.map(([k, v]) => [h('dt', k), h('dd', v)])))].filter(Boolean));  // (a viewer has no form)
  await load(true);
}
