// SPDX-License-Identifier: Apache-2.0
// Alerts inbox: filter, acknowledge, mute, close with failure mode / cause /
// action (Monitron codes) and feedback; the explanation in plain words.
import { api, h, toast } from '../api.js';

let codes = null;
const label = (c) => c.toLowerCase().replace(/_/g, ' ').replace(/^\w/, (x) => x.toUpperCase());

export async function renderAlerts(main, app, openId) {
  codes = codes || await api('/closeout-codes');
  const state = { status: 'active' };
  const list = h('div.alerts');
  const filter = h('div.filters', ['active', 'open', 'acknowledged', 'muted', 'closed', 'all'].map((s) =>
    h('button.tab', { dataset: { status: s }, onclick: () => { state.status = s; load(); } }, label(s))),
  h('a.button', { href: '/api/v1/alerts?format=csv&limit=10000', download: 'alerts.csv' }, 'Export CSV'));
  main.replaceChildren(h('div.page-head', h('h1', 'Alerts')), filter, list);

  async function load() {
    for (const b of filter.querySelectorAll('button')) b.classList.toggle('active', b.dataset.status === state.status);
    const q = state.status === 'all' ? '' : `status=${state.status}&`;
    const alerts = await api(`/alerts?${q}limit=500`);
    list.replaceChildren(...(alerts.length ? alerts.map((a) => card(a)) : [h('p.muted', 'No alerts here.')]));
    if (openId) {
      const el = list.querySelector(`[data-alert-id="${openId}"]`);
      if (el) { el.scrollIntoView({ block: 'center' }); el.classList.add('focus'); }
      openId = null;
    }
  }

  function card(a) {
    const actions = h('div.actions');
    const el = h('article.alert-card.sev-' + a.severity, { dataset: { alertId: a.id } },
      h('div.alert-head', h('span.pill.state-' + (a.severity === 'alarm' ? 'alarm' : 'warning'), a.severity),
        h('strong', a.title), h('span.pill.status', a.status)),
      h('p.muted', `${a.asset_name || 'asset ' + a.asset_id}${a.position_name ? ' · ' + a.position_name : ''} · ${a.model} · opened ${new Date(a.opened_at).toLocaleString()}`),
      a.explanation ? h('p.explanation', a.explanation) : null,
      a.status === 'closed' ? h('p.closeout', `Closed by ${a.closed_by || '?'}: ${label(a.failure_mode || '')} · cause ${label(a.failure_cause || '')} · action ${label(a.action_taken || '')}`,
        a.notes && a.notes.text ? ` — “${a.notes.text}”` : '') : null,
      h('a.small', { href: `#/asset/${a.asset_id}` }, 'Open asset ›'),
      actions);
    if (a.status !== 'closed' && app.can('technician')) {
      if (a.status !== 'acknowledged') actions.append(h('button', { onclick: () => act(a, 'acknowledge') }, 'Acknowledge'));
      actions.append(a.status === 'muted' ? h('button', { onclick: () => act(a, 'unmute') }, 'Unmute') : h('button', { onclick: () => act(a, 'mute') }, 'Mute'));
      actions.append(h('button.primary', { onclick: () => closeForm(a, el) }, 'Close…'));
    }
    return el;
  }

  async function act(a, action, body) {
    try {
      await api(`/alerts/${a.id}/${action}`, { method: 'POST', body: body || {} });
      toast(`Alert ${a.id}: ${action === 'close' ? 'closed' : action + 'd'}`);
      load();
    } catch (e) { toast(e.message, true); }
  }

  function select(name, options, first) {
    return h('select', { name, required: true }, h('option', { value: '' }, first), options.map((o) => h('option', { value: o }, label(o))));
  }

  function closeForm(a, el) {
    if (el.querySelector('form')) return;
    const models = h('div.checks', codes.models.map((m) => h('label.check', h('input', { type: 'checkbox', name: 'models', value: m, checked: m === a.model }), m)));
    const form = h('form.closeout', {
      onsubmit: (e) => {
        e.preventDefault();
        const f = new FormData(form);
        act(a, 'close', {
          failure_mode: f.get('failure_mode'), failure_cause: f.get('failure_cause'), action_taken: f.get('action_taken'),
          feedback: f.get('feedback'), notes: f.get('notes') || '', models: f.getAll('models'),
        });
      },
    },
    h('label', 'Failure mode', select('failure_mode', codes.failure_mode, 'choose…')),
    h('label', 'Cause', select('failure_cause', codes.failure_cause, 'choose…')),
    h('label', 'Action taken', select('action_taken', codes.action_taken, 'choose…')),
    h('fieldset', h('legend', 'Which models flagged it correctly?'), models),
    h('label', 'Was the alert right?', h('select', { name: 'feedback' },
      h('option', { value: 'confirmed' }, 'Yes, a real problem'), h('option', { value: 'false_alarm' }, 'No, a false alarm'), h('option', { value: 'unsure' }, 'Not sure'))),
    h('label', 'Notes', h('textarea', { name: 'notes', rows: 2, maxLength: 2000 })),
    h('div.actions', h('button.primary', { type: 'submit' }, 'Close alert'), h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel')));
    el.append(form);
  }

  const onAlert = () => load();
  app.live.addEventListener('alert', onAlert);
  app.cleanup.push(() => app.live.removeEventListener('alert', onAlert));
  await load();
}
