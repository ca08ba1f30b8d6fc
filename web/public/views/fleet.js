// SPDX-License-Identifier: Apache-2.0
// Fleet: one tile per asset, worst first (alarm, warning, no data, not
// running, learning, healthy, unknown), each state in words with an icon
// (never colour alone); a filter bar (state, site, text) that survives live
// re-draws; the latest key readings, updated live; a glossary of states and
// models. The ordering and the words are views/triage.js (tested under node).
import { api, h, fmt, metricLabel, metricUnit } from '../api.js';
import { STATES, STATE_ORDER, MODELS, describe, sortWorstFirst, filterAssets, show } from './triage.js';

const KEY_METRICS = ['velocity_rms_mm_s', 'temperature_c'];
// The filter outlives a re-draw and a visit to an asset page.
const filter = { state: '', site: '', q: '' };

// A state as icon + words; the icon is decoration for screen readers.
export function stateBadge(d, tag = 'span') {
  return h(`${tag}.st.st-${d.state}`, { dataset: { state: d.state } },
    h('span.st-icon', { 'aria-hidden': 'true' }, d.icon), h('span.st-text', d.text));
}

export async function renderFleet(main, app) {
  let fleet = await api('/fleet');
  const cells = new Map();  // position id → {metric → element}
  const stateSel = h('select', { name: 'state', onchange: () => { filter.state = stateSel.value; draw(); } });
  const siteSel = h('select', { name: 'site', onchange: () => { filter.site = siteSel.value; draw(); } });
  const search = h('input', { type: 'search', name: 'q', value: filter.q, autocomplete: 'off', oninput: () => { filter.q = search.value; draw(); } });
  const bar = h('form.fleet-filters', { role: 'search', onsubmit: (e) => e.preventDefault() },
    h('label', 'State', stateSel), h('label', 'Site', siteSel), h('label', 'Search', search));
  const summary = h('div.summary');
  const count = h('p.muted.fleet-count', { 'aria-live': 'polite' });
  const grid = h('div.tiles');
  const glossary = h('details.glossary', h('summary', 'What do these states mean?'),
    h('dl', STATE_ORDER.map((s) => [h('dt', h('span.st.st-' + s, h('span.st-icon', { 'aria-hidden': 'true' }, STATES[s].icon), h('span.st-text', STATES[s].word))), h('dd', STATES[s].meaning)])),
    h('h3', 'Models'),
    h('dl', Object.values(MODELS).map((m) => [h('dt', m.word), h('dd', m.meaning)])));
  main.replaceChildren(h('div.page-head', h('h1', 'Fleet'), summary), bar, count, grid, glossary);

  function draw() {
    const t0 = performance.now();
    const now = fleet.now || Date.now();
    const all = [];
    for (const s of fleet.sites) for (const a of s.assets) all.push(Object.assign(a, { site_name: s.name }));
    const sorted = sortWorstFirst(all, now);
    const counts = {};
    for (const a of sorted) { const st = describe(a, now).state; counts[st] = (counts[st] || 0) + 1; }
    stateSel.replaceChildren(h('option', { value: '' }, `All states (${all.length})`),
      ...STATE_ORDER.filter((s) => counts[s] || s === filter.state).map((s) => h('option', { value: s }, `${STATES[s].word} (${counts[s] || 0})`)));
    stateSel.value = filter.state;
    siteSel.replaceChildren(h('option', { value: '' }, 'All sites'), ...fleet.sites.map((s) => h('option', { value: String(s.id) }, s.name)));
    siteSel.value = filter.site;
    summary.replaceChildren(
      ...STATE_ORDER.filter((s) => counts[s]).map((s) => h('button.pill.st-pill.st-' + s, {
        type: 'button', 'aria-pressed': String(filter.state === s), title: `Show only: ${STATES[s].word}`,
        onclick: () => { filter.state = filter.state === s ? '' : s; draw(); },
      }, h('span.st-icon', { 'aria-hidden': 'true' }, STATES[s].icon), ` ${counts[s]} ${STATES[s].word.toLowerCase()}`)),
      ...(fleet.open_alerts ? [h('a.pill.alerts', { href: '#/alerts' }, `${fleet.open_alerts} open alert${fleet.open_alerts > 1 ? 's' : ''}`)] : []));
    const shown = filterAssets(sorted, filter, now);
    cells.clear();
    const multiSite = fleet.sites.length > 1;
    grid.replaceChildren(...shown.map((a) => tile(a, cells, now, multiSite)));
    count.textContent = !fleet.sites.length ? 'No sites yet. An admin can add sites, assets and positions under Settings, or with the REST API.'
      : !all.length ? 'No assets yet.'
        : shown.length === all.length ? `${all.length} asset${all.length > 1 ? 's' : ''}, worst first`
          : `${shown.length} of ${all.length} assets match the filter, worst first`;
    grid.dataset.renderMs = (performance.now() - t0).toFixed(1);
  }
  draw();

  const onReading = (e) => {
    const r = e.detail;
    const slot = cells.get(r.position_id);
    if (!slot) return;
    for (const [m, el] of Object.entries(slot)) {
      if (m in r.values) { el.textContent = fmt.num(r.values[m]); el.classList.add('flash'); setTimeout(() => el.classList.remove('flash'), 600); }
    }
  };
  let timer = null;
  const onState = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!(location.hash === '#/fleet' || location.hash === '')) return;
      try { fleet = await api('/fleet'); draw(); } catch { /* the banner says so; the tiles stay, marked stale */ }
    }, 800);
  };
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

function tile(a, cells, now, multiSite) {
  const d = describe(a, now);
  const rows = a.positions.map((p) => {
    const slot = {};
    cells.set(p.id, slot);
    const pd = describe(p, now);
    const vals = KEY_METRICS.map((m) => {
      const v = p.latest && p.latest[m];
      const el = h('b.live-value', v ? fmt.num(v.value) : '—');
      slot[m] = el;
      return h('span.kv', { title: metricLabel(m) }, h('span.sr-only', metricLabel(m) + ' '), el, v ? ' ' + show(metricUnit(m, v.unit), '') : '');
    });
    return h('li', { dataset: { state: pd.state } },
      h('span.st-icon.st-' + pd.state, { title: pd.text, role: 'img', 'aria-label': pd.text }, pd.icon),
      h('span.pname', p.name), ...vals);
  });
  const running = d.state !== 'not_running' && d.state !== 'no_data';
  return h('a.tile.st-' + d.state, { href: `#/asset/${a.id}`, dataset: { assetId: a.id, state: d.state } },
    h('div.tile-head', h('strong', a.name),
      a.open_alerts ? h('span.badge.alarm', `${a.open_alerts} open alert${a.open_alerts > 1 ? 's' : ''}`) : null),
    h('div.tile-state', stateBadge(d), running && a.shaft_rpm ? h('span.muted', ` · ${a.shaft_rpm} rpm rated`) : null),
    multiSite ? h('div.muted.small', a.site_name) : null,
    a.positions.length ? h('ul.positions', rows) : h('p.muted.small', 'No positions yet.'));
}
