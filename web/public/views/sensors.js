// SPDX-License-Identifier: Apache-2.0
// Sensors: commissioned and discovered, battery, RSSI, last seen; commission
// by pasting or scanning a QR code (BarcodeDetector where available); each
// sensor's configuration, desired beside reported (views/sensor_config.js).
import { api, h, fmt, toast } from '../api.js';
import { plainWord, show } from './triage.js';
import { fleetAdminPanel } from './fleet_admin.js';
import { reassignAction } from './plant_commands.js';
import { configAction } from './sensor_config.js';

// QR payloads we understand: "vigil:MAC[:KEY]", JSON {"address","key"},
// or free text holding a MAC and an optional 32-hex-digit key.
export function parseSensorCode(text) {
  const t = String(text).trim();
  try {
    const j = JSON.parse(t);
    if (j && j.address) return { address: j.address, key: j.key || '' };
  } catch { /* not JSON */ }
  const mac = t.match(/([0-9a-f]{2}[:-]){5}[0-9a-f]{2}/i);
  const key = t.replace(mac ? mac[0] : '', '').match(/\b[0-9a-f]{32}\b/i);
  return mac ? { address: mac[0].toUpperCase().replace(/-/g, ':'), key: key ? key[0] : '' } : null;
}

// "heard by radio at −67 dBm, 2 min ago" / "heard by relay home/x at …":
// which radio heard the sensor last (GET /sensors heard_via, heard_at).
export function heardBy(s, now = Date.now()) {
  if (!s || !s.heard_via) return '';
  const via = s.heard_via === 'radio' ? 'radio' : s.heard_via.startsWith('relay:') ? `relay ${s.heard_via.slice(6)}` : s.heard_via;
  const dbm = typeof s.rssi_dbm === 'number' ? ` at ${String(s.rssi_dbm).replace('-', '\u2212')} dBm` : '';
  return `heard by ${via}${dbm}, ${fmt.ago(s.heard_at, now)}`;
}

export async function renderSensors(main, app) {
  const [sensors, discovered, fleet, plant, health] = await Promise.all([api('/sensors'), api('/sensors/discovered').catch(() => []), api('/fleet'),
    app.can('admin') ? api('/plant').catch(() => null) : null, api('/health').catch(() => null)]);
  // Admins: "Re-assign to another gateway…" when the plant takes commands (views/plant_commands.js).
  const reassign = app.can('admin') ? reassignAction(plant, () => renderSensors(main, app)) : null;
  // Everybody: "Configuration…", desired beside reported (admins also change
  // it) when this gateway configures sensors over Bluetooth (views/sensor_config.js).
  const config = configAction(health, app.can('admin'));
  const positions = [];
  for (const s of fleet.sites) for (const a of s.assets) for (const p of a.positions) positions.push({ id: p.id, name: `${a.name} · ${p.name}` });
  const posName = Object.fromEntries(positions.map((p) => [p.id, p.name]));
  const rows = sensors.map((s) => h('tr', { dataset: { address: s.address } },
    h('td', h('code', s.address), s.name ? h('div.muted', s.name) : null, config ? config(s) : null, reassign ? reassign(s) : null),
    h('td', s.position_id ? posName[s.position_id] || `Position ${s.position_id}` : h('span.muted', 'Not assigned')),
    h('td', typeof s.battery_pct === 'number' ? `${fmt.num(s.battery_pct, 0)} %` : '—'),
    h('td', typeof s.rssi_dbm === 'number' ? `${s.rssi_dbm} dBm` : '—', heardBy(s) ? h('div.muted.heard-by', heardBy(s)) : null),
    h('td', { title: s.last_seen || '' }, s.last_seen ? new Date(s.last_seen).toLocaleString() : 'No data yet'),
    h('td', s.decommissioned ? 'Decommissioned' : show(s.format && plainWord(s.format)))));
  main.replaceChildren(
    h('div.page-head', h('h1', 'Sensors'), h('span.muted', `${sensors.length} commissioned`)),
    h('div.table-wrap', { tabIndex: 0, role: 'region', 'aria-label': 'Commissioned sensors' }, h('table', h('thead', h('tr', ['Address', 'Position', 'Battery', 'Signal (RSSI)', 'Last seen', 'Sensor type'].map((c) => h('th', c)))), h('tbody', rows))),
    discovered.length ? h('section', h('h2', 'Discovered, not commissioned'), h('ul', discovered.map((d) => h('li', h('code', show(d.address)), typeof d.rssi_dbm === 'number' ? ` · ${d.rssi_dbm} dBm` : '')))) : '',
    app.can('admin') ? commissionForm(positions) : h('p.muted', 'Commissioning needs the admin role.'),
    app.can('admin') ? fleetAdminPanel(sensors, positions, () => renderSensors(main, app)) : '');
}

function commissionForm(positions) {
  const address = h('input', { name: 'address', placeholder: 'AA:BB:CC:DD:EE:FF', required: true, autocapitalize: 'characters', pattern: '([0-9A-Fa-f]{2}[:\\-]?){5}[0-9A-Fa-f]{2}' });
  const key = h('input', { name: 'key', placeholder: '32 hex digits (optional)', pattern: '[0-9A-Fa-f]{32}', autocomplete: 'off' });
  const name = h('input', { name: 'name', placeholder: 'optional' });
  const pos = h('select', { name: 'position_id' }, h('option', { value: '' }, 'unassigned'), positions.map((p) => h('option', { value: p.id }, p.name)));
  const paste = h('input', { placeholder: 'or paste the QR code text here', 'aria-label': 'QR code text', oninput: () => fill(paste.value) });
  const video = h('video.scan.hidden', { playsInline: true, muted: true });
  function fill(text) {
    const c = parseSensorCode(text);
    if (c) { address.value = c.address; key.value = c.key; }
  }
  const scanBtn = h('button', { type: 'button', onclick: () => scan() }, 'Scan QR code');
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices) { scanBtn.disabled = true; scanBtn.title = 'this browser has no BarcodeDetector; paste the code instead'; }
  async function scan() {
    try {
      const det = new window.BarcodeDetector({ formats: ['qr_code'] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      video.srcObject = stream; video.classList.remove('hidden'); await video.play();
      const stop = () => { stream.getTracks().forEach((t) => t.stop()); video.classList.add('hidden'); };
      const tick = async () => {
        if (video.classList.contains('hidden')) return;
        const codes = await det.detect(video).catch(() => []);
        if (codes.length) { fill(codes[0].rawValue); stop(); toast('QR code read'); return; }
        requestAnimationFrame(tick);
      };
      tick();
      setTimeout(stop, 30000);
    } catch (e) { toast('Camera: ' + e.message, true); }
  }
  const form = h('form.card.commission', {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { address: address.value, name: name.value || undefined, key: key.value || undefined };
        if (pos.value) body.position_id = +pos.value;
        const s = await api('/sensors', { method: 'POST', body });
        toast(`Sensor ${s.address} commissioned`);
        location.hash = '#/sensors'; window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (x) { toast(x.message, true); }
    },
  }, h('h2', 'Commission a sensor'), h('div.row', paste, scanBtn), video,
  h('label', 'Address', address), h('label', 'Key', key), h('label', 'Name', name), h('label', 'Position', pos),
  h('button.primary', { type: 'submit' }, 'Commission'));
  return form;
}
