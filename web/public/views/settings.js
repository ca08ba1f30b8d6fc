// SPDX-License-Identifier: Apache-2.0
// Settings: users, API tokens, system and cloud uplink status.
import { api, h, toast } from '../api.js';

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
      h('dt', 'Signed in as'), h('dd', `${sys.you.name} (${sys.you.role})`))));
  const comps = Object.entries(health.components || {});
  parts.push(h('section.card', h('h2', 'Cloud uplink and components'),
    comps.length ? h('dl.kv-list', comps.flatMap(([k, v]) => [h('dt', k), h('dd', typeof v === 'object' ? (v.status || '') + ' ' + JSON.stringify(v) : String(v))]))
      : h('p.muted', 'No uplink configured (the gateway works fully offline).')));
  if (app.can('admin')) {
    parts.push(await usersCard(main, app), await tokensCard(main, app));
  }
  main.replaceChildren(...parts);
}

function setupCard() {
  const name = h('input', { name: 'name', required: true, autocomplete: 'username' });
  const pw = h('input', { name: 'password', type: 'password', minLength: 8, required: true, autocomplete: 'new-password' });
  return h('form.card', {
    onsubmit: async (e) => {
      e.preventDefault();
      try { await api('/auth/setup', { method: 'POST', body: { name: name.value, password: pw.value } }); location.reload(); } catch (x) { toast(x.message, true); }
    },
  }, h('h2', 'Create the admin account'), h('p.muted', 'No account exists yet; admin actions need one.'),
  h('label', 'User name', name), h('label', 'Password', pw), h('button.primary', { type: 'submit' }, 'Create admin'));
}

async function usersCard(main, app) {
  const users = await api('/users');
  const name = h('input', { required: true, placeholder: 'name' });
  const pw = h('input', { type: 'password', minLength: 8, required: true, placeholder: 'password (8+)', autocomplete: 'new-password' });
  const role = h('select', ['viewer', 'technician', 'admin'].map((r) => h('option', { value: r }, r)));
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
  const name = h('input', { placeholder: 'what it is for', required: true });
  const role = h('select', ['viewer', 'technician', 'admin'].map((r) => h('option', { value: r }, r)));
  const shown = h('div');
  return h('section.card', h('h2', 'API tokens'),
    h('p.muted', 'For scripts and integrations: send Authorization: Bearer TOKEN. The token is shown once.'),
    h('table', h('tbody', tokens.map((t) => h('tr', h('td', t.name), h('td', t.role), h('td.muted', `by ${t.created_by}, ${new Date(t.created_at).toLocaleDateString()}`),
      h('td', t.revoked ? 'revoked' : h('button.link', { onclick: async () => { try { await api(`/tokens/${t.id}`, { method: 'DELETE' }); renderSettings(main, app); } catch (e) { toast(e.message, true); } } }, 'revoke')))))),
    h('form.row', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const t = await api('/tokens', { method: 'POST', body: { name: name.value, role: role.value } });
          shown.replaceChildren(h('p', 'New token (copy it now): ', h('code.token', t.token)));
        } catch (x) { toast(x.message, true); }
      },
    }, name, role, h('button.primary', { type: 'submit' }, 'Create token')), shown);
}
