// SPDX-License-Identifier: Apache-2.0
// Fleet: sites and assets as tiles coloured by health state, with open alert
// counts and the latest key readings; updated live.
import { api, h, fmt, metricLabel, metricUnit } from '../api.js';

const KEY_METRICS = ['velocity_rms_mm_s', 'temperature_c'];

export async function renderFleet(main, app) {
  const fleet = await api('/fleet');
  const cells = new Map();  // position id → {metric → element}
  const counts = fleet.asset_states;
  const summary = h('div.summary',
    ['alarm', 'warning', 'healthy', 'initializing', 'not_running', 'unknown'].filter((s) => counts[s])
      .map((s) => h('span.pill.state-' + s, `${counts[s]} ${s.replace('_', ' ')}`)),
    fleet.open_alerts ? h('a.pill.alerts', { href: '#/alerts' }, `${fleet.open_alerts} open alert${fleet.open_alerts > 1 ? 's' : ''}`) : null);
  const sites = fleet.sites.map((site) => h('section',
    h('h2', site.name),
    site.assets.length ? h('div.tiles', site.assets.map((a) => tile(a, cells))) : h('p.muted', 'No assets yet.')));
  main.replaceChildren(h('div.page-head', h('h1', 'Fleet'), summary), ...sites);
  if (!fleet.sites.length) main.append(h('p.muted', 'No sites yet. An admin can add sites, assets and positions under Settings, or with the REST API.'));

  const onReading = (e) => {
    const r = e.detail;
    const slot = cells.get(r.position_id);
    if (!slot) return;
    for (const [m, el] of Object.entries(slot)) {
      if (m in r.values) { el.textContent = fmt.num(r.values[m]); el.classList.add('flash'); setTimeout(() => el.classList.remove('flash'), 600); }
    }
  };
  let timer = null;
  const onState = () => { clearTimeout(timer); timer = setTimeout(() => { if (location.hash === '#/fleet' || location.hash === '') renderFleet(main, app); }, 800); };
  app.live.addEventListener('reading', onReading);
  app.live.addEventListener('state', onState);
  app.live.addEventListener('alert', onState);
  app.cleanup.push(() => {
    app.live.removeEventListener('reading', onReading);
    app.live.removeEventListener('state', onState);
    app.live.removeEventListener('alert', onState);
    clearTimeout(timer);
  });
}

function tile(a, cells) {
  const rows = a.positions.map((p) => {
    const slot = {};
    cells.set(p.id, slot);
    const vals = KEY_METRICS.map((m) => {
      const v = p.latest[m];
      const el = h('b', v ? fmt.num(v.value) : '–');
      slot[m] = el;
      return h('span.kv', { title: metricLabel(m) }, el, ' ', metricUnit(m, v && v.unit));
    });
    return h('li', h('span.dot.state-' + p.state, { title: p.state }), h('span.pname', p.name), ...vals);
  });
  return h('a.tile.state-' + a.state, { href: `#/asset/${a.id}`, dataset: { assetId: a.id } },
    h('div.tile-head', h('strong', a.name),
      a.open_alerts ? h('span.badge.alarm', { title: 'open alerts' }, a.open_alerts) : null),
    h('div.tile-state', a.state.replace('_', ' '), a.shaft_rpm ? h('span.muted', ` · ${a.shaft_rpm} rpm`) : null),
    h('ul.positions', rows));
}
