// SPDX-License-Identifier: Apache-2.0
// Plant: every gateway of the plant (GET /api/v1/plant, built from the
// broker's retained state documents, docs/plant.md) with its assets' states
// and open alerts, and a link to each gateway's own dashboard. A gateway that
// is offline (its last will, or silent too long) says so in words and with
// an icon, and its assets are greyed with when it was last heard.
import { api, h, fmt } from '../api.js';
import { describe } from './triage.js';
import { plantManage } from './plant_commands.js';

// Pure: the view's gateways as rows for drawing (tested in
// tests/e2e/plant_logic.test.mjs).
export function gatewayRows(view, now = Date.now()) {
  return (view && Array.isArray(view.gateways) ? view.gateways : []).map((g) => {
    const online = g.online === true;
    const status = online ? 'Online' : g.stale ? 'Offline (silent)' : 'Offline';
    const assets = (Array.isArray(g.assets) ? g.assets : []).map((a) => ({
      id: a.id, name: a.name || `Asset ${a.id}`, site: a.site || '',
      state: a.state || 'unknown', openAlerts: Number(a.open_alerts) || 0, lastSeen: a.last_seen || null,
    }));
    return {
      id: g.id, self: !!g.self, name: g.name || g.id, url: typeof g.url === 'string' && /^https?:\/\//.test(g.url) ? g.url : null,
      online, status, icon: online ? '●' : '○',
      lastSeen: g.last_seen ? fmt.ago(g.last_seen, now) : 'never',
      openAlerts: Number(g.open_alerts) || assets.reduce((n, a) => n + a.openAlerts, 0),
      truncated: !!g.truncated, assets,
      // Active alerts (the worst 50 of the gateway's state document), named
      // by asset and position where the document lists them.
      alerts: (Array.isArray(g.alerts) ? g.alerts : []).filter((a) => a && typeof a === 'object').map((a) => {
        const asset = assets.find((x) => x.id === a.asset_id);
        const pos = (Array.isArray(g.assets) ? g.assets : []).flatMap((x) => (Array.isArray(x.positions) ? x.positions : []))
          .find((p) => p && p.id === a.position_id);
        return {
          id: a.id, severity: a.severity === 'alarm' ? 'alarm' : 'warning',
          words: a.severity === 'alarm' ? 'Alarm' : 'Warning', icon: a.severity === 'alarm' ? '▲' : '△',
          title: typeof a.title === 'string' && a.title ? a.title : 'Alert',
          where: [asset ? asset.name : null, pos && pos.name ? pos.name : null].filter(Boolean).join(' · ') || '—',
          acknowledged: a.status === 'acknowledged', openedAt: a.opened_at || null,
        };
      }),
    };
  });
}

function stateCell(state) {
  const d = describe({ state }, Date.now());
  return h('span.st.st-' + d.state, h('span.st-icon', { 'aria-hidden': 'true' }, d.icon), h('span.st-text', ' ' + d.text));
}

export async function renderPlant(main) {
  const view = await api('/plant');
  const rows = gatewayRows(view);
  const head = h('div.page-head', h('h1', view.plant_id ? `Plant ${view.plant_id}` : 'Plant'),
    h('span.muted', view.plant_id ? `${rows.filter((r) => r.online).length} of ${rows.length} gateways online` : 'This gateway is in no plant (plant.id is not set)'));
  const manage = await plantManage(view);  // admins: commands to the other gateways (views/plant_commands.js)
  const banner = view.connected === false ? h('p.error', 'This gateway is not connected to the broker: the plant as of the last connection.') : null;
  const cards = rows.map((g) => h('section.card.plant-gw' + (g.online ? '' : '.offline'), { dataset: { gateway: g.id } },
    h('h2', h('span', { 'aria-hidden': 'true' }, g.icon + ' '), g.name, g.self ? h('span.muted', ' (this gateway)') : null),
    h('p', h('strong.gw-status', g.status), ` · last seen ${g.lastSeen}`, ` · ${g.openAlerts} open alert${g.openAlerts === 1 ? '' : 's'}`,
      g.url && !g.self ? [' · ', h('a', { href: g.url, target: '_blank', rel: 'noopener' }, 'Open its dashboard')] : null),
    g.truncated ? h('p.muted', 'Only the worst assets are listed (the state document was full).') : null,
    g.assets.length
      ? h('div.table-wrap', h('table', h('thead', h('tr', ['Asset', 'Site', 'State', 'Open alerts', 'Last seen'].map((c) => h('th', c)))),
        h('tbody', g.assets.map((a) => h('tr', h('td', a.name), h('td', a.site || '—'), h('td', stateCell(a.state)),
          h('td', String(a.openAlerts)), h('td', a.lastSeen ? fmt.ago(a.lastSeen) : '—'))))))
      : h('p.muted', 'No assets.'),
    g.alerts.length
      ? [h('h3', 'Active alerts'), h('ul.plant-alerts', g.alerts.map((a) => h('li', { dataset: { severity: a.severity } },
        h('span.st.st-' + a.severity, h('span.st-icon', { 'aria-hidden': 'true' }, a.icon), h('span.st-text', ' ' + a.words)),
        ' ', h('strong', a.title), ` — ${a.where}`, a.acknowledged ? ' (acknowledged)' : '',
        a.openedAt ? h('span.muted', ` · opened ${fmt.ago(a.openedAt)}`) : null)))]
      : null,
    g.self ? null : manage.sectionFor(g.id)));
  main.replaceChildren(head, banner || '', manage.note || '', ...cards);
}
