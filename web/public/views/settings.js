// SPDX-License-Identifier: Apache-2.0
// Settings: system and cloud uplink status, machine classes (ISO zones),
// the plant (sites, assets, positions), users, API tokens.
import { api, h, fmt, toast } from '../api.js';
import { plantCard } from './plant.js';
import { storageCard } from './storage.js';

export async function renderSettings(main, app) {
  const sys = await api('/system');
  const health = await api('/health');
  const parts = [h('div.page-head', h('h1', 'Settings'))];
  if (app.session.setup_required) parts.push(setupCard());
  parts.push(h('section.card', h('h2', 'System'),
    h('dl.kv-list',
      h('dt', 'Gateway'), h('dd', `${sys.gateway.name} (${sys.gateway.id})`),
      h('dt', 'Version'), h('dd', sys.version + (sys.demo ? ' · demo' : '')),
      h('dt', 'Clock'), h('dd', new Date(sys.time).toLocaleString()),
      h('dt', 'Uptime'), h('dd', `${Math.round(sys.uptime_s / 60)} min`),
      h('dt', 'Database'), h('dd', h('code', sys.store.path)),
      h('dt', 'Points stored'), h('dd', String(sys.store.points_committed)),
      h('dt', 'Live clients'), h('dd', String(sys.live.clients)),
      h('dt', 'Signed in as'), h('dd', `${sys.you.name} (${sys.you.role})`),
      ...lastUpgrade(sys.last_upgrade))));
  parts.push(await storageCard());
  const comps = Object.entries(health.components || {});
  parts.push(h('section.card', h('h2', 'Cloud uplink and components'),
    comps.length ? h('dl.kv-list', comps.flatMap(([k, v]) => [h('dt', k), h('dd', typeof v === 'object' ? (v.status || '') + ' ' + JSON.stringify(v) : String(v))]))
      : h('p.muted', 'No uplink configured (the gateway works fully offline).')));
  parts.push(await classesCard(main, app));
  if (app.can('admin')) {
    parts.push(await plantCard(() => renderSettings(main, app)), await usersCard(main, app), await tokensCard(main, app));
  }
  main.replaceChildren(...parts);
}

// The package's record of the last upgrade: from which version, when, and
// the backup it took before the new version migrated anything.
export function lastUpgrade(u) {
  if (!u || !u.from) return [];
  const when = u.at ? new Date(u.at).toLocaleString() : '';
  const backup = u.backup_ok
    ? h('span', '✓ Backup taken before migrating: ', h('code', u.backup))
    : h('span.error', '✕ The backup before migrating failed' + (u.error ? `: ${u.error}` : '') +
      '. Take one now (vigil backup) and keep it.');
  return [h('dt', 'Last upgrade'), h('dd', `From ${u.from} to ${u.to || '?'}${when ? ', ' + when : ''}. `, backup)];
}

function setupCard() {
  const code = h('input', { name: 'setup_code', required: true, autocomplete: 'off', placeholder: 'XXXXX-XXXXX' });
  const name = h('input', { name: 'name', required: true, autocomplete: 'username' });
  const pw = h('input', { name: 'password', type: 'password', minLength: 8, required: true, autocomplete: 'new-password' });
  return h('form.card', {
    onsubmit: async (e) => {
      e.preventDefault();
      try { await api('/auth/setup', { method: 'POST', body: { name: name.value, password: pw.value, setup_code: code.value } }); location.reload(); } catch (x) { toast(x.message, true); }
    },
  }, h('h2', 'Create the admin account'),
  h('p.muted', 'No account exists yet; admin actions need one. The setup code is in the gateway\'s log from its start ("vigil: no users yet … with setup code …"; journalctl -u vigil under systemd).'),
  h('label', 'Setup code', code), h('label', 'User name', name), h('label', 'Password', pw), h('button.primary', { type: 'submit' }, 'Create admin'));
}

async function usersCard(main, app) {
  const users = await api('/users');
  const name = h('input', { required: true, placeholder: 'name', 'aria-label': 'User name' });
  const pw = h('input', { type: 'password', minLength: 8, required: true, placeholder: 'password (8+)', 'aria-label': 'Password (at least 8 characters)', autocomplete: 'new-password' });
  const role = h('select', { 'aria-label': 'Role' }, ['viewer', 'technician', 'admin'].map((r) => h('option', { value: r }, r)));
  return h('section.card', h('h2', 'Users'),
    h('table', h('tbody', users.map((u) => h('tr', h('td', u.name), h('td', u.role), h('td.muted', new Date(u.created_at).toLocaleDateString()),
      h('td', h('button.link', { onclick: async () => { if (!confirm(`Delete ${u.name}?`)) return; try { await api(`/users/${u.id}`, { method: 'DELETE' }); renderSettings(main, app); } catch (e) { toast(e.message, true); } } }, 'delete')))))),
    h('form.row', {
      onsubmit: async (e) => {
        e.preventDefault();
        try { await api('/users', { method: 'POST', body: { name: name.value, password: pw.value, role: role.value } }); toast('User added'); renderSettings(main, app); } catch (x) { toast(x.message, true); }
      },
    }, name, pw, role, h('button.primary', { type: 'submit' }, 'Add user')));
}

async function tokensCard(main, app) {
  const tokens = await api('/tokens');
  const name = h('input', { placeholder: 'what it is for', 'aria-label': 'Token name (what it is for)', required: true });
  const role = h('select', { 'aria-label': 'Role' }, ['viewer', 'technician', 'admin'].map((r) => h('option', { value: r }, r)));
  const shown = h('div');
  // Revoking changes only its own row, so a token just created (and shown
  // once, below) stays on screen for copying.
  const row = (t) => {
    const state = h('td');
    const revoke = h('button.link', {
      onclick: async () => {
        try { await api(`/tokens/${t.id}`, { method: 'DELETE' }); state.replaceChildren('revoked'); toast('Token revoked'); } catch (e) { toast(e.message, true); }
      },
    }, 'revoke');
    state.append(t.revoked ? 'revoked' : revoke);
    return h('tr', { 'data-token-id': String(t.id) }, h('td', t.name), h('td', t.role), h('td.muted', `by ${t.created_by}, ${new Date(t.created_at).toLocaleDateString()}`), state);
  };
  const tbody = h('tbody', tokens.map(row));
  return h('section.card', h('h2', 'API tokens'),
    h('p.muted', 'For scripts and integrations: send Authorization: Bearer TOKEN. The token is shown once.'),
    h('table', tbody),
    h('form.row', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const t = await api('/tokens', { method: 'POST', body: { name: name.value, role: role.value } });
          tbody.append(row(t));
          name.value = '';
          shown.replaceChildren(h('p', 'New token (copy it now): ', h('code.token', t.token)));
        } catch (x) { toast(x.message, true); }
      },
    }, name, role, h('button.primary', { type: 'submit' }, 'Create token')), shown);
}

// ISO zone limits per machine class; admins add, replace (also over a
// built-in or configured class) and delete their own classes.
async function classesCard(main, app) {
  const classes = await api('/machine-classes').catch((e) => { toast(e.message, true); return []; });
  const admin = app.can('admin');
  const name = h('input', { required: true, placeholder: 'class name', 'aria-label': 'Class name', maxLength: 64, pattern: '[A-Za-z0-9._\\-]{1,64}', title: 'letters, digits, . _ -' });
  const limit = (label) => h('input', { type: 'number', required: true, min: '0.01', max: '1000', step: 'any', inputMode: 'decimal', placeholder: label, 'aria-label': `Zone limit ${label} (mm/s)`, title: `${label} (mm/s)` });
  const ab = limit('A/B'), bc = limit('B/C'), cd = limit('C/D');
  const edit = (c) => { name.value = c.name; ab.value = c.ab; bc.value = c.bc; cd.value = c.cd; name.focus(); };
  const remove = async (c) => {
    if (!confirm(`Delete machine class ${c.name}?`)) return;
    try { await api(`/machine-classes/${encodeURIComponent(c.name)}`, { method: 'DELETE' }); toast('Class deleted'); renderSettings(main, app); } catch (e) { toast(e.message, true); }
  };
  const source = (c) => c.source + (c.overrides ? ` (over ${c.overrides})` : '');
  return h('section.card', h('h2', 'Machine classes'),
    h('p.muted', 'ISO 10816 / 20816 velocity zones: the velocity RMS (mm/s) where zones A, B and C end. C raises a warning, D an alarm.'),
    h('div.table-wrap', h('table',
      h('thead', h('tr', h('th', 'Class, source'), h('th', 'A/B · B/C · C/D mm/s'), admin ? h('th') : null)),
      h('tbody', classes.map((c) => h('tr', { dataset: { cls: c.name } },
        h('td', h('code.cls', c.name.split(/(?<=_)/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]))),
          h('div.muted.small', source(c))),
        h('td.kv', h('b', [c.ab, c.bc, c.cd].map((v) => fmt.num(v)).join(' · '))),
        admin ? h('td', h('button.link', { onclick: () => edit(c) }, 'edit'),
          c.source === 'user' ? h('button.link', { onclick: () => remove(c) }, 'delete') : null) : null))))),
    admin ? h('form.row', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api(`/machine-classes/${encodeURIComponent(name.value)}`, { method: 'PUT', body: { ab: +ab.value, bc: +bc.value, cd: +cd.value } });
          toast(`Class ${name.value} saved`);
          renderSettings(main, app);
        } catch (x) { toast(x.message, true); }
      },
    }, name, ab, bc, cd, h('button.primary', { type: 'submit' }, 'Save class')) : null);
}
