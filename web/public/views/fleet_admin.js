// SPDX-License-Identifier: Apache-2.0
// Fleet administration on the Sensors page (admin role): search the fleet
// (GET /fleet/search?q=…, the one filter language), decommission, move and
// replace a sensor, and the bulk CSV import with its dry-run preview
// (POST /sensors/import?dry_run=1, then the same file for real).
import { api, h, toast } from '../api.js';

function csrf() {
  const m = document.cookie.match(/(?:^|; )vigil_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

// POST the CSV as text/csv; resolves to { status, body } (a 422 lists bad rows).
export async function postImport(csv, dryRun) {
  const res = await fetch('/api/v1/sensors/import?dry_run=' + (dryRun ? '1' : '0'), {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'text/csv', Accept: 'application/json', 'X-CSRF-Token': csrf() },
    body: csv,
  });
  let body = {};
  try { body = await res.json(); } catch { /* not JSON */ }
  return { status: res.status, body };
}

// The import answer as preview rows: [line, address, outcome or error].
export function importRows(body) {
  const out = [];
  for (const r of (body && body.rows) || []) out.push([r.line, r.address, r.action + (r.position_id ? ` → position ${r.position_id}` : '')]);
  for (const e of (body && body.errors) || []) out.push([e.line, e.field, 'error: ' + e.message]);
  return out.sort((a, b) => a[0] - b[0]);
}

function table(head, rows) {
  return h('div.table-wrap', h('table', h('thead', h('tr', head.map((c) => h('th', c)))),
    h('tbody', rows.map((r) => h('tr', r.map((c) => h('td', String(c))))))));
}

function searchCard() {
  const q = h('input', { placeholder: 'battery<20  firmware<1.3  no_data>2h  criticality=A line=2', 'aria-label': 'Fleet search', size: 48 });
  const out = h('div');
  const form = h('form.card', {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api('/fleet/search?q=' + encodeURIComponent(q.value));
        out.replaceChildren(h('p.muted', `${r.count} sensor(s)${r.truncated ? ' (first shown)' : ''}`),
          table(['Address', 'Asset · position', 'Battery', 'Firmware', 'Last data', 'Tags'], r.sensors.map((s) => [
            s.address, s.asset ? `${s.asset} · ${s.position}` : '—',
            typeof s.battery_pct === 'number' ? `${Math.round(s.battery_pct)} %` : '—', s.firmware || '—',
            s.last_data ? new Date(s.last_data).toLocaleString() : 'never',
            Object.entries(s.tags || {}).map(([k, v]) => `${k}=${v}`).join(' ')])));
      } catch (err) { toast(err.message, true); }
    },
  }, h('h2', 'Search the fleet'), q, h('button', { type: 'submit' }, 'Search'), out);
  return form;
}

function sensorActions(sensors, positions, reload) {
  const sel = h('select', { 'aria-label': 'Sensor' }, sensors.filter((s) => !s.decommissioned)
    .map((s) => h('option', { value: s.id }, s.address + (s.name ? ` (${s.name})` : ''))));
  const target = h('select', { 'aria-label': 'Move to position' }, positions.map((p) => h('option', { value: p.id }, p.name)));
  const addr = h('input', { placeholder: 'new sensor AA:BB:…', 'aria-label': 'Replacement address' });
  const key = h('input', { placeholder: 'its key (32 hex, optional)', 'aria-label': 'Replacement key', autocomplete: 'off' });
  const run = (what, fn) => async () => {
    if (!sel.value) return;
    if (!window.confirm(`${what} sensor ${sel.selectedOptions[0].textContent}?`)) return;
    try { await fn(sel.value); toast(`${what}: done`); reload(); } catch (e) { toast(e.message, true); }
  };
  return h('section.card.fleet-admin', h('h2', 'Sensor lifecycle'), sel,
    h('div', h('button', { type: 'button', onclick: run('Decommission', (id) => api(`/sensors/${id}/decommission`, { method: 'POST' })) }, 'Decommission')),
    h('div', target, h('button', { type: 'button', onclick: run('Move', (id) => api(`/sensors/${id}/move`, { method: 'POST', body: { position_id: Number(target.value) } })) }, 'Move')),
    h('div', addr, key, h('button', { type: 'button', onclick: run('Replace', (id) => api(`/sensors/${id}/replace`, { method: 'POST', body: key.value ? { address: addr.value, key: key.value } : { address: addr.value } })) }, 'Replace')));
}

function importCard(reload) {
  const file = h('input', { type: 'file', accept: '.csv,text/csv', 'aria-label': 'CSV file' });
  const text = h('textarea', { rows: 5, placeholder: 'address,key,position\nAA:BB:CC:DD:EE:01,00112233…,Site/Asset/Position' , 'aria-label': 'CSV' });
  const preview = h('div');
  const apply = h('button', { type: 'button', disabled: true }, 'Import these rows');
  file.addEventListener('change', async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const dry = h('button', { type: 'button', onclick: async () => {
    apply.disabled = true;
    const { status, body } = await postImport(text.value, true);
    const rows = importRows(body);
    preview.replaceChildren(h('p', status === 200 ? `Dry run: ${rows.length} row(s) would be imported` : (body.detail || `Refused (${status})`)),
      table(['Line', 'Address / field', 'Outcome'], rows));
    apply.disabled = status !== 200 || !rows.length;
  } }, 'Preview (dry run)');
  apply.addEventListener('click', async () => {
    const { status, body } = await postImport(text.value, false);
    if (status === 200) { toast(`Imported ${(body.rows || []).length} sensor(s)`); reload(); } else toast(body.detail || `Import refused (${status})`, true);
    apply.disabled = true;
  });
  return h('section.card.fleet-import', h('h2', 'Bulk import (CSV)'), file, text, h('div', dry, apply), preview);
}

// The admin panel below the sensor list; reload re-renders the page.
export function fleetAdminPanel(sensors, positions, reload) {
  return h('div.fleet-admin-panel', searchCard(), sensorActions(sensors, positions, reload), importCard(reload));
}

// An asset's or position's archive button (DELETE, mode=archive) and, when
// the node's tags are known (node.tags; saving replaces them all), a tags
// editor (PATCH {"tags"}); kind is "assets" or "positions".
export function catalogAdmin(kind, node, reload) {
  const archive = h('button', { type: 'button', onclick: async () => {
    if (!window.confirm(`Archive ${node.name}? Its history is kept and it can be brought back.`)) return;
    try { await api(`/${kind}/${node.id}`, { method: 'DELETE' }); toast('Archived'); reload(); } catch (e) { toast(e.message, true); }
  } }, 'Archive');
  if (!node.tags) return h('span.catalog-admin', archive);
  const tags = h('input', { value: Object.entries(node.tags || {}).map(([k, v]) => `${k}=${v}`).join(' '), placeholder: 'line=2 area=north criticality=A', 'aria-label': 'Tags' });
  return h('div.catalog-admin',
    tags, h('button', { type: 'button', onclick: async () => {
      const t = {};
      for (const kv of tags.value.split(/\s+/).filter(Boolean)) { const i = kv.indexOf('='); if (i > 0) t[kv.slice(0, i)] = kv.slice(i + 1); }
      try { await api(`/${kind}/${node.id}`, { method: 'PATCH', body: { tags: t } }); toast('Tags saved'); } catch (e) { toast(e.message, true); }
    } }, 'Save tags'), archive);
}
