// SPDX-License-Identifier: Apache-2.0
// Notifications › Delivery log: every notification, escalation and test
// message with its channel, alert, status (icon and word, not colour
// alone), attempts and last error; filtered by status, refreshed every
// 5 s and whenever an alert changes.
import { api, h } from '../api.js';
import { DELIVERY_STATUSES, deliveryStatus, toMs } from './notify_logic.js';
import { statusBadge } from './notify_form.js';

const COLUMNS = ['Time', 'Channel', 'Alert', 'Kind', 'Status', 'Attempts', 'Last error'];
const label = (s) => s[0].toUpperCase() + s.slice(1);

export async function renderLog(box, app) {
  const channels = await api('/notifications/channels').catch(() => []);
  const chName = Object.fromEntries(channels.map((c) => [c.id, c.name]));
  const state = { status: 'all' };
  const tbody = h('tbody');
  const note = h('p.muted.small', { role: 'status' });
  const filter = h('div.filters', { role: 'group', 'aria-label': 'Show deliveries' }, ['all', ...DELIVERY_STATUSES].map((s) =>
    h('button.tab', { type: 'button', dataset: { status: s }, 'aria-pressed': String(s === 'all'), onclick: () => { state.status = s; load(); } }, label(s))));
  const when = (d) => toMs(d.sent_at || d.created_at);

  async function load() {
    for (const b of filter.querySelectorAll('button')) {
      b.classList.toggle('active', b.dataset.status === state.status);
      b.setAttribute('aria-pressed', String(b.dataset.status === state.status));
    }
    let list;
    try {
      list = await api(`/notifications/deliveries?${state.status === 'all' ? '' : `status=${state.status}&`}limit=200`);
    } catch (e) { note.textContent = `Could not refresh: ${e.message}`; return; }
    tbody.replaceChildren(...(list.length ? list.map((d) => {
      const st = deliveryStatus(d.status);
      const t = when(d);
      const row = h('tr', { dataset: { deliveryId: d.id, status: d.status } },
        h('td', t ? h('time', { dateTime: new Date(t).toISOString() }, new Date(t).toLocaleString()) : '–'),
        h('td', chName[d.channel_id] || `#${d.channel_id}`),
        h('td', d.alert_id ? h('a', { href: `#/alerts/${d.alert_id}` }, `Alert ${d.alert_id}`) : '–', d.event ? h('div.muted.small', d.event) : null),
        h('td', d.kind),
        h('td', statusBadge(st, d.status), d.status === 'retrying' && d.next_attempt_at ? h('div.muted.small', `next ${new Date(toMs(d.next_attempt_at)).toLocaleTimeString()}`) : null),
        h('td.num', String(d.attempts ?? 0)),
        h('td.lasterr', d.last_error || ''));
      [...row.children].forEach((td, i) => { td.dataset.label = COLUMNS[i]; });  // the phone layout's labels
      return row;
    }) : [h('tr', h('td', { colSpan: 7 }, h('span.muted', 'No deliveries here.')))]));
    note.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every 5 s`;
  }

  box.replaceChildren(filter,
    h('div.table-wrap', h('table.deliveries',
      h('caption.sr-only', 'Delivery log, newest first'),
      h('thead', h('tr', COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
    note);
  const timer = setInterval(load, 5000);
  const onAlert = () => load();
  app.live.addEventListener('alert', onAlert);
  app.cleanup.push(() => { clearInterval(timer); app.live.removeEventListener('alert', onAlert); });
  await load();
}
