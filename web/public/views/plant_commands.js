// SPDX-License-Identifier: Apache-2.0
// Commands to other gateways of the plant (admin role; docs/plant.md,
// "Commands between gateways"). This gateway's REST API carries a sensor
// lifecycle call, sealed, over the plant's broker to the gateway that owns
// the sensor, which applies it as if its own admin had made it:
//
//   POST /plant/commands {"gateway","method","path","body"} → 202 a command
//   GET  /plant/commands/{id}  its state: pending → applied | failed | no_answer
//   GET  /plant/commands       the commands sent from here, newest first
//   POST /sensors/{id}/reassign {"gateway","position_id","name"?} → 202 a command
//
// What this module draws:
//  * plantManage(view): on the Plant page, a "Manage sensors on <name>"
//    disclosure for every other online gateway (what its radio hears and
//    commissioning it, a manual commission form, its sensors with
//    Decommission, the log of commands sent to it), or a note when commands
//    are off on this gateway;
//  * reassignAction(view, reload): on the Sensors page, a "Re-assign to
//    another gateway…" action per commissioned sensor.
// Every answer is awaited by polling the command once a second; a state is
// an icon and words, never colour alone. The pure functions at the top are
// tested in tests/e2e/plant_logic.test.mjs.
import { api, h, toast, fmt } from '../api.js';

// ---------------------------------------------------------------- pure logic

export const FINAL_STATES = Object.freeze(['applied', 'failed', 'no_answer']);
export const isFinal = (state) => FINAL_STATES.includes(state);

export const DISCOVERED_PATH = '/api/v1/sensors/discovered';
export const SENSORS_PATH = '/api/v1/sensors';
const MAC = /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/;

// Why a command failed, in a line: the remote gateway's problem detail, its
// error code, or its HTTP status.
export function failureDetail(cmd) {
  const r = cmd && cmd.result;
  let d = '';
  if (r && typeof r === 'object' && !Array.isArray(r)) {
    for (const k of ['detail', 'title', 'error', 'code']) if (!d && typeof r[k] === 'string') d = r[k].trim();
  }
  if (!d && cmd && typeof cmd.status === 'number') d = `HTTP ${cmd.status}`;
  return (d || 'no reason given').slice(0, 240);
}

// A command's state in words with an icon: {state, icon, text}.
export function commandWords(cmd) {
  const state = cmd && typeof cmd.state === 'string' ? cmd.state : 'unknown';
  switch (state) {
    case 'applied': return { state, icon: '✓', text: 'Applied' };
    case 'failed': return { state, icon: '✕', text: `Failed: ${failureDetail(cmd)}` };
    case 'pending': return { state, icon: '…', text: 'Waiting for answer' };
    case 'no_answer': return { state, icon: '⏱', text: 'No answer within 30 s' };
    default: return { state: 'unknown', icon: '?', text: 'State unknown' };
  }
}

// What a command asked, in words, from its method and REST path.
export function describeCommand(method, path) {
  const p = String(path || '');
  if (method === 'GET' && p === DISCOVERED_PATH) return 'List what its radio hears';
  if (method === 'GET' && p === SENSORS_PATH) return 'List its sensors';
  if (method === 'POST' && p === SENSORS_PATH) return 'Commission a sensor';
  const m = /^\/api\/v1\/sensors\/(\d+)(?:\/(decommission|move|replace|reassign))?$/.exec(p);
  if (m) {
    const verb = { decommission: 'Decommission', move: 'Move', replace: 'Replace', reassign: 'Re-assign' }[m[2]];
    if (verb && method === 'POST') return `${verb} sensor ${m[1]}`;
    if (!m[2] && method === 'PATCH') return `Edit sensor ${m[1]}`;
  }
  return `${method || '?'} ${p}`.slice(0, 160);
}

// The last `max` commands sent to gateway `to`, for the log:
// [{id, what, actor, sentAt (ms or ISO), words}]. Takes GET /plant/commands'
// answer or its array.
export function commandLog(answer, to, max = 8) {
  const list = Array.isArray(answer) ? answer : answer && Array.isArray(answer.commands) ? answer.commands : [];
  return list.filter((c) => c && c.to === to).slice(0, max).map((c) => ({
    id: String(c.id), what: describeCommand(c.method, c.path), actor: typeof c.actor === 'string' ? c.actor : '',
    sentAt: c.sent_at ?? null, words: commandWords(c),
  }));
}

// A refused POST /plant/commands (nothing was sent) in words.
export function sendErrorWords(e) {
  if (!e) return 'Not sent';
  if (e.code === 'plant_commands_off' || e.status === 409) return 'Not sent: commands to other gateways are off on this gateway (plant.command_key_file).';
  if (e.status === 503) return 'Not sent: the broker is not reachable from this gateway.';
  if (e.status === 0) return 'Not sent: this gateway is not answering.';
  if (e.status === 422) return `Not sent: ${e.detail || 'refused'}`;
  return `Not sent: ${e.detail || e.message || 'HTTP ' + e.status}`;
}

// Positions of a gateway's state document as select options, "Asset ·
// Position", ids as that gateway numbers them (duplicates and bad ids left out).
export function positionOptions(gateway) {
  const out = [];
  const seen = new Set();
  for (const a of (gateway && Array.isArray(gateway.assets) ? gateway.assets : [])) {
    if (!a || !Array.isArray(a.positions)) continue;
    const asset = typeof a.name === 'string' && a.name ? a.name : `Asset ${a.id}`;
    for (const p of a.positions) {
      if (!p || !Number.isInteger(p.id) || p.id <= 0 || seen.has(p.id)) continue;
      seen.add(p.id);
      out.push({ id: p.id, label: `${asset} · ${typeof p.name === 'string' && p.name ? p.name : `Position ${p.id}`}` });
    }
  }
  return out;
}

// The other gateways a command may go to: commands on here, online, not us.
export function commandTargets(view) {
  if (!view || view.commands !== true || !Array.isArray(view.gateways)) return [];
  return view.gateways.filter((g) => g && !g.self && g.online === true && typeof g.id === 'string' && g.id)
    .map((g) => ({ id: g.id, name: typeof g.name === 'string' && g.name ? g.name : g.id, positions: positionOptions(g), truncated: !!g.truncated }));
}

// The list a GET command answered, or why there is none.
function answerList(cmd) {
  if (!cmd || cmd.state !== 'applied') return { items: null, error: commandWords(cmd).text };
  const r = cmd.result;
  if (r && typeof r === 'object' && r.truncated === true) {
    return { items: null, error: `The answer was too large to carry over the plant (${Number(r.bytes) || '?'} bytes): use that gateway's own dashboard.` };
  }
  if (!Array.isArray(r)) return { items: null, error: 'The answer was not a list.' };
  return { items: r, error: null };
}

// GET /api/v1/sensors/discovered's answer (devices as GET /sensors/discovered
// lists them: address, name, rssi_dbm, format, last_seen, commissioned,
// decommissioned) → {devices: [{address, name, rssi, format, lastSeen}], error}:
// uncommissioned devices only, loudest first.
export function parseDiscovered(cmd) {
  const { items, error } = answerList(cmd);
  if (error) return { devices: [], error };
  const devices = [];
  const seen = new Set();
  for (const d of items) {
    if (!d || typeof d.address !== 'string' || d.commissioned === true || d.decommissioned === true) continue;
    const address = d.address.toUpperCase();
    if (!MAC.test(address) || seen.has(address)) continue;
    seen.add(address);
    devices.push({
      address, name: typeof d.name === 'string' ? d.name : '',
      rssi: typeof d.rssi_dbm === 'number' ? d.rssi_dbm : null,
      format: typeof d.format === 'string' ? d.format : '',
      lastSeen: typeof d.last_seen === 'string' ? d.last_seen : null,
    });
  }
  devices.sort((a, b) => (b.rssi ?? -1000) - (a.rssi ?? -1000));
  return { devices, error: null };
}

// GET /api/v1/sensors' answer → {sensors: [{id, address, name, positionId,
// decommissioned}], error}, commissioned first.
export function parseSensors(cmd) {
  const { items, error } = answerList(cmd);
  if (error) return { sensors: [], error };
  const sensors = items.filter((s) => s && Number.isInteger(s.id) && s.id > 0 && typeof s.address === 'string')
    .map((s) => ({
      id: s.id, address: s.address, name: typeof s.name === 'string' ? s.name : '',
      positionId: Number.isInteger(s.position_id) ? s.position_id : null, decommissioned: !!s.decommissioned,
    }));
  sensors.sort((a, b) => Number(a.decommissioned) - Number(b.decommissioned));
  return { sensors, error: null };
}

// "−67 dBm" (a real minus sign), or '' without a reading.
export const dbm = (v) => (typeof v === 'number' ? `${String(v).replace('-', '\u2212')} dBm` : '');

// The commission form's fields → {body} for POST /api/v1/sensors on the other
// gateway, or {errors: {field: message}}. The address may be typed with
// colons, dashes or none; the key (32 hex digits) and a position are needed.
export function commissionBody({ address, key, position, name } = {}) {
  const errors = {};
  let mac = String(address || '').trim().toUpperCase().replace(/-/g, ':');
  if (/^[0-9A-F]{12}$/.test(mac)) mac = mac.match(/../g).join(':');
  if (!MAC.test(mac)) errors.address = 'Address: six pairs of hex digits, e.g. A4:C1:38:00:19:01';
  const k = String(key || '').trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(k)) errors.key = 'Key: 32 hex digits (from the sensor’s label or QR code)';
  const pid = Number(position);
  if (!position || !Number.isInteger(pid) || pid <= 0) errors.position_id = 'Choose a position';
  const n = String(name || '').trim();
  if (n.length > 200) errors.name = 'Name: at most 200 characters';
  if (Object.keys(errors).length) return { errors };
  const body = { address: mac, key: k, position_id: pid };
  if (n) body.name = n;
  return { body };
}

// The re-assign form's fields → {body} for POST /sensors/{id}/reassign, or
// {errors}: a gateway among `targets` and one of its positions.
export function reassignBody({ gateway, position, name } = {}, targets = []) {
  const errors = {};
  const t = targets.find((x) => x.id === gateway);
  if (!t) errors.gateway = 'Choose a gateway';
  const pid = Number(position);
  if (t && !t.positions.some((p) => p.id === pid)) errors.position_id = 'Choose a position on that gateway';
  const n = String(name || '').trim();
  if (n.length > 200) errors.name = 'Name: at most 200 characters';
  if (Object.keys(errors).length) return { errors };
  const body = { gateway: t.id, position_id: pid };
  if (n) body.name = n;
  return { body };
}

// ------------------------------------------------------------------ requests

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// Polls a command once a second until its state is final (the sending
// gateway calls it no_answer after 30 s), `alive()` turns false (the page
// was left) or maxPolls ran out; returns the last record seen. A poll that
// finds this gateway unreachable is retried; other errors end the wait.
export async function waitForCommand(cmd, { alive = () => true, onUpdate = () => {}, intervalMs = 1000, maxPolls = 45 } = {}) {
  let c = cmd;
  for (let i = 0; c && !isFinal(c.state) && i < maxPolls && alive(); i++) {
    await sleep(intervalMs);
    if (!alive()) break;
    try {
      c = await api('/plant/commands/' + encodeURIComponent(c.id));
    } catch (e) {
      if (e && (e.status === 0 || e.status >= 502)) continue;
      break;
    }
    onUpdate(c);
  }
  return c;
}

function wordsLine(w) {
  return h('span.cmd-state', { dataset: { state: w.state } }, h('span.cmd-icon', { 'aria-hidden': 'true' }, w.icon), ' ', w.text);
}
const stateLine = (cmd) => wordsLine(commandWords(cmd));

function errorsInto(box, errors) {
  box.replaceChildren(...Object.values(errors).map((m) => h('p.field-error', m)));
}

// ------------------------------------------------------- Plant page section

// One "Manage sensors on <name>" disclosure for gateway `t` (commandTargets).
function manageSection(t) {
  const root = h('details.plant-manage', { dataset: { manage: t.id } });
  const alive = () => root.isConnected;
  const logList = h('ul.cmd-log');

  // Sends one command to t and shows its state in `status` until final.
  async function run(method, path, body, status) {
    status.replaceChildren(h('span.muted', 'Sending…'));
    let c;
    try {
      c = await api('/plant/commands', { method: 'POST', body: body ? { gateway: t.id, method, path, body } : { gateway: t.id, method, path } });
    } catch (e) {
      const msg = sendErrorWords(e);
      status.replaceChildren(h('span.error', msg));
      toast(msg, true);
      return null;
    }
    status.replaceChildren(stateLine(c));
    refreshLog();
    c = await waitForCommand(c, { alive, onUpdate: (x) => status.replaceChildren(stateLine(x)) });
    status.replaceChildren(stateLine(c));
    refreshLog();
    return c;
  }

  async function refreshLog() {
    if (!alive() || !root.open) return;
    try {
      const rows = commandLog(await api('/plant/commands'), t.id);
      logList.replaceChildren(...(rows.length ? rows.map((r) => h('li',
        h('span', r.what), r.sentAt ? h('span.muted', fmt.ago(r.sentAt)) : null, r.actor ? h('span.muted', `by ${r.actor}`) : null,
        wordsLine(r.words)))
        : [h('li.muted', 'No commands sent to it from here yet.')]));
    } catch (e) { logList.replaceChildren(h('li.error', `Could not load the log: ${e.message}`)); }
  }

  // A commission form; `device` (from its radio) fixes the address.
  function commissionForm(device, onApplied) {
    const address = h('input', { name: 'address', required: true, autocapitalize: 'characters', autocomplete: 'off', placeholder: 'AA:BB:CC:DD:EE:FF', value: device ? device.address : '', readOnly: !!device });
    const key = h('input', { name: 'key', required: true, autocomplete: 'off', placeholder: '32 hex digits' });
    const pos = h('select', { name: 'position_id', required: true }, h('option', { value: '' }, t.positions.length ? 'Choose…' : 'No positions'),
      t.positions.map((p) => h('option', { value: p.id }, p.label)));
    const name = h('input', { name: 'name', placeholder: 'optional', maxLength: 200, value: device && device.name ? device.name : '' });
    const errs = h('div', { role: 'alert' });
    const status = h('p.cmd-status', { role: 'status' });
    const submit = h('button.primary', { type: 'submit', disabled: !t.positions.length }, `Commission on ${t.name}`);
    const form = h('form.stack.plant-commission', {
      noValidate: true,  // our own messages, beside the form (commissionBody)
      onsubmit: async (e) => {
        e.preventDefault();
        const r = commissionBody({ address: address.value, key: key.value, position: pos.value, name: name.value });
        if (r.errors) { errorsInto(errs, r.errors); return; }
        errs.replaceChildren();
        submit.disabled = true;
        const c = await run('POST', SENSORS_PATH, r.body, status);
        submit.disabled = false;
        if (c && c.state === 'applied') {
          toast(`Sensor ${r.body.address} commissioned on ${t.name}`);
          key.value = '';
          if (onApplied) onApplied(c);
        }
      },
    },
    h('div.row', h('label', 'Address', address), h('label', 'Key', key)),
    h('div.row', h('label', `Position on ${t.name}`, pos), h('label', 'Name', name)),
    errs, h('div.row', submit), status);
    return form;
  }

  // (a) what its radio hears
  const heardStatus = h('p.cmd-status', { role: 'status' });
  const heardList = h('ul.cmd-list', { 'aria-label': `Devices heard by ${t.name}` });
  const heardBtn = h('button', { type: 'button' }, 'Heard by its radio');
  heardBtn.addEventListener('click', async () => {
    heardBtn.disabled = true;
    heardList.replaceChildren();
    const c = await run('GET', DISCOVERED_PATH, null, heardStatus);
    heardBtn.disabled = false;
    if (!c || c.state !== 'applied' || !alive()) return;
    const { devices, error } = parseDiscovered(c);
    if (error) { heardStatus.append(h('span.error', ' · ' + error)); return; }
    heardList.replaceChildren(...(devices.length ? devices.map((d) => {
      const li = h('li', { dataset: { address: d.address } }, h('code', d.address), d.name ? h('span', d.name) : null,
        d.rssi !== null ? h('span.muted', dbm(d.rssi)) : null, d.lastSeen ? h('span.muted', `heard ${fmt.ago(d.lastSeen)}`) : null);
      const open = h('button.link', { type: 'button', 'aria-expanded': 'false' }, 'Commission…');
      let form = null;
      open.addEventListener('click', () => {
        if (form) { form.remove(); form = null; open.setAttribute('aria-expanded', 'false'); return; }
        form = commissionForm(d, () => { open.remove(); li.append(h('strong', ' ✓ Commissioned')); });
        form.classList.add('cmd-inline');
        li.append(form);
        open.setAttribute('aria-expanded', 'true');
        form.querySelector('input[name=key]').focus();
      });
      li.append(open);
      return li;
    }) : [h('li.muted', `${t.name}'s radio hears no uncommissioned device right now.`)]));
  });

  // (c) its sensors, each with Decommission
  const sensorsStatus = h('p.cmd-status', { role: 'status' });
  const sensorsOut = h('div');
  const sensorsBtn = h('button', { type: 'button' }, 'Sensors');
  const posLabel = Object.fromEntries(t.positions.map((p) => [p.id, p.label]));
  async function loadSensors() {
    sensorsBtn.disabled = true;
    const c = await run('GET', SENSORS_PATH, null, sensorsStatus);
    sensorsBtn.disabled = false;
    if (!c || c.state !== 'applied' || !alive()) return;
    const { sensors, error } = parseSensors(c);
    if (error) { sensorsStatus.append(h('span.error', ' · ' + error)); return; }
    if (!sensors.length) { sensorsOut.replaceChildren(h('p.muted', `No sensors on ${t.name}.`)); return; }
    sensorsOut.replaceChildren(h('ul.cmd-list', { 'aria-label': `Sensors on ${t.name}` }, sensors.map((s) => h('li', { dataset: { address: s.address } },
      h('code', s.address), s.name ? h('span', s.name) : null,
      h('span.muted', s.positionId ? posLabel[s.positionId] || `Position ${s.positionId}` : 'Not assigned'),
      s.decommissioned ? h('strong', 'Decommissioned') : h('button', {
        type: 'button', 'aria-label': `Decommission ${s.address} on ${t.name}`,
        onclick: async (e) => {
          const btn = e.currentTarget;
          if (!window.confirm(`Decommission sensor ${s.address}${s.name ? ` (${s.name})` : ''} on ${t.name}? It is no longer measured there; its history stays.`)) return;
          btn.disabled = true;
          const d = await run('POST', `${SENSORS_PATH}/${s.id}/decommission`, null, sensorsStatus);
          btn.disabled = false;
          if (d && d.state === 'applied') { toast(`Sensor ${s.address} decommissioned on ${t.name}`); loadSensors(); } else if (d) toast(commandWords(d).text, true);
        },
      }, 'Decommission')))));
  }
  sensorsBtn.addEventListener('click', loadSensors);

  root.addEventListener('toggle', () => { if (root.open) refreshLog(); });
  root.append(...[
    h('summary', `Manage sensors on ${t.name}`),
    h('p.muted.small', `Sent sealed over the plant’s broker; ${t.name} applies each change as its own admin would and answers within seconds.`),
    t.positions.length ? null : h('p.muted.small', `${t.name} lists no positions: add one on its own dashboard before commissioning.`),
    t.truncated ? h('p.muted.small', 'Only some of its assets (and their positions) are listed: its state document was full.') : null,
    h('h3', 'Heard by its radio'), h('div.row', heardBtn), heardStatus, heardList,
    h('h3', 'Commission by address'), commissionForm(null, null),
    h('h3', 'Its sensors'), h('div.row', sensorsBtn), sensorsStatus, sensorsOut,
    h('h3', `Commands sent to ${t.name}`), logList,
  ].filter(Boolean));
  return root;
}

// For the Plant page (views/plant_view.js): {note, sectionFor(gatewayId)}.
// Admins only; nothing outside a plant.
export async function plantManage(view) {
  const none = { note: null, sectionFor: () => null };
  if (!view || !view.plant_id) return none;
  const session = await api('/auth/session').catch(() => null);
  if (!session || !session.user || session.user.role !== 'admin') return none;
  if (view.commands !== true) {
    return { note: h('p.muted.plant-commands-off', 'Commands to other gateways are off: set plant.command_key_file (docs/plant.md)'), sectionFor: () => null };
  }
  const byId = new Map(commandTargets(view).map((t) => [t.id, t]));
  return { note: null, sectionFor: (id) => (byId.has(id) ? manageSection(byId.get(id)) : null) };
}

// ------------------------------------------------------ Sensors page action

// For the Sensors page (views/sensors.js): null when no other online gateway
// can take a sensor (or commands are off), else sensor → its action element.
// `reload` redraws the page after a re-assignment was applied.
export function reassignAction(view, reload) {
  const targets = commandTargets(view);
  if (!targets.length) return null;
  return (sensor) => (sensor.decommissioned ? null : reassignControl(sensor, targets, reload));
}

function reassignControl(sensor, targets, reload) {
  const box = h('div.reassign');
  const open = h('button.link', { type: 'button', 'aria-expanded': 'false' }, 'Re-assign to another gateway…');
  const gw = h('select', { name: 'gateway', required: true }, targets.map((t) => h('option', { value: t.id }, t.name)));
  const pos = h('select', { name: 'position_id', required: true });
  const fillPositions = () => {
    const t = targets.find((x) => x.id === gw.value);
    const ps = t ? t.positions : [];
    pos.replaceChildren(h('option', { value: '' }, ps.length ? 'Choose…' : 'No positions there'), ...ps.map((p) => h('option', { value: p.id }, p.label)));
  };
  gw.addEventListener('change', fillPositions);
  fillPositions();
  const name = h('input', { name: 'name', placeholder: sensor.name ? `optional; else ${sensor.name}` : 'optional', maxLength: 200 });
  const errs = h('div', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Re-assign');
  const form = h('form.stack.cmd-inline', {
    noValidate: true,  // our own messages (reassignBody)
    hidden: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const r = reassignBody({ gateway: gw.value, position: pos.value, name: name.value }, targets);
      if (r.errors) { errorsInto(errs, r.errors); return; }
      errs.replaceChildren();
      const t = targets.find((x) => x.id === r.body.gateway);
      const where = t.positions.find((p) => p.id === r.body.position_id).label;
      if (!window.confirm(`Re-assign sensor ${sensor.address} to ${t.name} (${where})? It is commissioned there, then decommissioned here; its history stays here.`)) return;
      submit.disabled = true;
      let c;
      try {
        c = await api(`/sensors/${sensor.id}/reassign`, { method: 'POST', body: r.body });
      } catch (x) { submit.disabled = false; toast(sendErrorWords(x), true); return; }
      toast(`Re-assign of ${sensor.address} sent to ${t.name}: waiting for its answer`);
      c = await waitForCommand(c);
      submit.disabled = false;
      const w = commandWords(c);
      if (w.state === 'applied') {
        toast(`Sensor ${sensor.address} re-assigned to ${t.name}; decommissioned here`);
        if (box.isConnected) reload();
      } else if (w.state === 'pending' || w.state === 'no_answer') {
        toast(`${t.name} has not answered yet: ${sensor.address} stays here until it does`, true);
      } else toast(`Re-assign of ${sensor.address}: ${w.text}; it stays here`, true);
    },
  },
  h('label', 'Gateway', gw), h('label', 'Position there', pos), h('label', 'Name there', name), errs,
  h('div.row', submit, h('button', { type: 'button', onclick: () => toggle(false) }, 'Cancel')));
  // The form opens in a row of its own under the sensor's (the table's full
  // width, readable at phone width), or below the button outside a table.
  let formRow = null;
  function toggle(show) {
    form.hidden = !show;
    open.setAttribute('aria-expanded', String(show));
    const tr = box.closest('tr');
    if (show && tr && !formRow) {
      formRow = h('tr.reassign-row', h('td', { colSpan: tr.children.length }, form));
      tr.after(formRow);
    } else if (!show && formRow) { formRow.remove(); formRow = null; }
    if (show) gw.focus();
  }
  open.addEventListener('click', () => toggle(form.hidden));
  box.append(open, form);
  return box;
}
