// SPDX-License-Identifier: Apache-2.0
// Alerts inbox: one card per alert with a title in plant words, the current
// value and trend when the gateway sends them, and its timeline (GET
// /alerts/{id}/events: opened, escalated, acknowledged by whom, notes,
// closed). Technicians acknowledge, mute and close out with Monitron's codes.
// The close-out form:
// - nothing is preselected (failure mode, cause, action, "was it right?");
//   every field has a label; errors appear beside their field in plant words;
// - survives live updates: a card whose form is open is never re-drawn, and
//   drafts are kept in memory per alert id (also across a page change);
// - says which models the chosen action re-learns (GET
//   /alerts/{id}/closeout-preview?action_taken=X, when the gateway answers
//   200; otherwise the line is hidden) and, when re-learning would reset a
//   model that still sees the problem (needs_confirmation), asks first and
//   sends confirm_relearn: true only once the user ticked it.
import { api, ApiError, h, toast } from '../api.js';
import { alertTitle, codeWord, eventText, plainWord, plainText, relearnText, MODELS } from './triage.js';

let codes = null;
// alert id → {values: {name → value | [values]}, open: bool}; module-level so a
// draft outlives a re-render and a visit to another page.
export const drafts = new Map();

const SEV = { alarm: { icon: '⛔', word: 'Alarm' }, warning: { icon: '▲', word: 'Warning' } };
const when = (t) => (t === null || t === undefined ? '—' : new Date(t).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }));
const modelWord = (m) => (MODELS[m] ? MODELS[m].word : plainWord(m));

// `value` of an alert ({kind, opening, current, trend}) in words:
// "velocity 7.1 mm/s, rising (4.2 mm/s when it opened)"; '' without one.
export function valueText(v) {
  if (!v || typeof v !== 'object' || typeof v.current !== 'number') return '';
  const kind = v.kind === 'velocity_mm_s' ? { what: 'velocity', unit: ' mm/s' } : v.kind === 'anomaly_score' ? { what: 'anomaly score', unit: '' } : { what: 'value', unit: '' };
  const n = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));
  return `${kind.what} ${n(v.current)}${kind.unit}${v.trend ? ', ' + v.trend : ''}`
    + (typeof v.opening === 'number' ? ` (${n(v.opening)}${kind.unit} when it opened)` : '');
}

// An API error in plant words, for the field it concerns.
export function plantError(e, what = 'this') {
  if (!(e instanceof ApiError)) return `Something went wrong with ${what}; try again.`;
  if (e.status === 0) return 'The gateway is not answering. Your entries are kept: try again when it is back.';
  if (e.status === 403) return 'Your role cannot do this: a technician or an admin can.';
  if (e.status === 404) return 'This alert no longer exists (it may have been removed).';
  if (e.code === 'alert_closed') return 'Someone has already closed this alert.';
  if (e.status === 409 && (e.code === 'relearn_needs_confirmation' || /confirm_relearn|learn the fault/.test(e.message || ''))) return 'A model that still sees the problem would re-learn: tick the confirmation below, or choose another action.';
  if (e.code === 'bad_code') return 'The gateway does not accept this code: choose another from the list.';
  return e.detail || e.message || `Could not do ${what}.`;
}

export async function renderAlerts(main, app, openId) {
  codes = codes || await api('/closeout-codes');
  const state = { status: 'active' };
  const list = h('div.alerts');
  const cards = new Map();  // alert id → card element currently shown
  const filter = h('div.filters', ['active', 'open', 'acknowledged', 'muted', 'closed', 'all'].map((s) =>
    h('button.tab', { dataset: { status: s }, onclick: () => { state.status = s; load(); } }, codeWord(s))),
  h('a.button', { href: '/api/v1/alerts?format=csv&limit=10000', download: 'alerts.csv' }, 'Export CSV'));
  const listError = h('p.error', { role: 'alert' });
  main.replaceChildren(h('div.page-head', h('h1', 'Alerts')), filter, listError, list);

  let loading = null;
  async function load() {
    for (const b of filter.querySelectorAll('button')) b.classList.toggle('active', b.dataset.status === state.status);
    const q = state.status === 'all' ? '' : `status=${state.status}&`;
    let alerts;
    try {
      alerts = await api(`/alerts?${q}limit=500`);
      listError.textContent = '';
    } catch (e) { listError.textContent = 'Could not load the alerts: ' + plantError(e, 'loading'); return; }
    const next = [];
    for (const a of alerts) {
      const old = cards.get(a.id);
      // Never re-draw a card whose close-out form is open: the draft stays as typed.
      if (old && old.querySelector('form.closeout')) {
        old.querySelector('.pill.status').textContent = a.status;
        old.dataset.status = a.status;
        old.refreshTimeline();
        next.push(old);
        continue;
      }
      const el = card(a);
      next.push(el);
      const d = drafts.get(a.id);
      if (d && d.open && a.status !== 'closed') closeForm(a, el);
    }
    cards.clear();
    for (const el of next) cards.set(+el.dataset.alertId, el);
    list.replaceChildren(...(next.length ? next : [h('p.muted', 'No alerts here.')]));
    // Timelines: the first cards at once, the others when opened.
    next.slice(0, 25).forEach((el) => el.loadTimeline && el.loadTimeline());
    if (openId) {
      const el = cards.get(openId);
      if (el) { el.scrollIntoView({ block: 'center' }); el.classList.add('focus'); }
      openId = null;
    }
  }
  const reload = () => { loading = (loading || Promise.resolve()).then(load, load); return loading; };

  function card(a) {
    const actions = h('div.actions');
    const err = h('p.field-error', { role: 'alert' });
    const sev = SEV[a.severity] || SEV.warning;
    const timeline = h('ol.timeline', { 'aria-label': 'History' });
    const hist = h('details.history', h('summary', 'History'), timeline);
    const where = `${a.asset_name || (a.asset_id ? 'Asset ' + a.asset_id : 'Gateway')}${a.position_name ? ' · ' + a.position_name : ''}`;
    // Newer gateways send the current value and its trend since opening.
    const vt = valueText(a.value);
    const now = vt ? h('p.value-now', h('b', 'Now: '), vt) : null;
    const el = h('article.alert-card.sev-' + a.severity, { dataset: { alertId: a.id, status: a.status } },
      h('div.alert-head',
        h('span.sev.sev-badge-' + (a.severity === 'alarm' ? 'alarm' : 'warning'), h('span', { 'aria-hidden': 'true' }, sev.icon), sev.word),
        h('span.pill.status', a.status)),
      h('h2', plainText(alertTitle(a))),
      h('p.muted', `${where} · ${modelWord(a.model)} · opened ${when(a.opened_at)}`),
      now,
      a.explanation ? h('p.explanation', now ? 'When it opened: ' : '', plainText(a.explanation)) : null,
      a.status === 'closed' ? h('p.closeout', `Closed by ${a.closed_by || 'someone'}: ${codeWord(a.failure_mode)} · cause ${codeWord(a.failure_cause)} · action ${codeWord(a.action_taken)}`,
        a.notes && a.notes.text ? ` — “${a.notes.text}”` : '', a.closed_at ? ` · closed ${when(a.closed_at)}` : '') : null,
      hist,
      a.asset_id ? h('a.small', { href: `#/asset/${a.asset_id}` }, 'Open asset ›') : null,
      err, actions);
    let loaded = false;
    el.loadTimeline = async () => {
      if (loaded) return;
      loaded = true;
      hist.open = true;
      try {
        const evs = await api(`/alerts/${a.id}/events`);
        timeline.replaceChildren(...(evs.length ? evs.map((e) => h('li', { dataset: { event: e.event } },
          h('time', { dateTime: new Date(e.ts).toISOString() }, when(e.ts)), eventText(e))) : [h('li.muted', 'No history recorded.')]));
      } catch (e) { timeline.replaceChildren(h('li.muted', 'History not available: ' + plantError(e, 'the history'))); loaded = false; }
    };
    el.refreshTimeline = () => { if (loaded) { loaded = false; el.loadTimeline(); } };
    hist.addEventListener('toggle', () => { if (hist.open) el.loadTimeline(); });
    if (a.status !== 'closed' && app.can('technician')) {
      if (a.status !== 'acknowledged') actions.append(h('button', { type: 'button', onclick: () => act(a, 'acknowledge', {}, err) }, 'Acknowledge'));
      actions.append(a.status === 'muted' ? h('button', { type: 'button', onclick: () => act(a, 'unmute', {}, err) }, 'Unmute')
        : h('button', { type: 'button', onclick: () => act(a, 'mute', {}, err) }, 'Mute'));
      actions.append(h('button.primary', { type: 'button', onclick: () => closeForm(a, el) }, 'Close…'));
    }
    return el;
  }

  async function act(a, action, body, errEl) {
    errEl.textContent = '';
    try {
      await api(`/alerts/${a.id}/${action}`, { method: 'POST', body: body || {} });
      toast(`Alert ${a.id}: ${action === 'close' ? 'closed' : action + 'd'}`);
      const el = cards.get(a.id);
      if (action === 'close') { drafts.delete(a.id); if (el) el.querySelector('form.closeout')?.remove(); }
      await reload();
      return null;
    } catch (e) {
      errEl.textContent = plantError(e, action);
      return e;
    }
  }

  function closeForm(a, el) {
    if (el.querySelector('form.closeout')) return;
    const draft = drafts.get(a.id) || { values: {}, open: true };
    draft.open = true;
    drafts.set(a.id, draft);
    const uid = `co${a.id}`;
    const errs = {};
    const field = (name, labelText, control, hint) => {
      errs[name] = h('p.field-error', { id: `${uid}-${name}-err`, role: 'alert' });
      control.setAttribute('aria-describedby', `${uid}-${name}-err`);
      control.id = `${uid}-${name}`;
      return h('div.field', { dataset: { field: name } }, h('label', { htmlFor: control.id }, labelText), hint || null, control, errs[name]);
    };
    const select = (name, options) => h('select', { name, required: true },
      h('option', { value: '' }, 'Choose…'), options.map((o) => h('option', { value: o }, codeWord(o))));
    const fm = select('failure_mode', codes.failure_mode);
    const fc = select('failure_cause', codes.failure_cause);
    const at = select('action_taken', codes.action_taken);
    const models = h('div.checks', codes.models.map((m) => h('label.check', h('input', { type: 'checkbox', name: 'models', value: m, checked: m === a.model }), modelWord(m))));
    const FEEDBACK = [['confirmed', 'Yes, a real problem'], ['false_alarm', 'No, a false alarm'], ['unsure', 'Not sure']];
    errs.feedback = h('p.field-error', { id: `${uid}-feedback-err`, role: 'alert' });
    const feedback = h('fieldset.feedback', { dataset: { field: 'feedback' }, 'aria-describedby': `${uid}-feedback-err` },
      h('legend', 'Was the alert right?'),
      h('div.checks', FEEDBACK.map(([v, t]) => h('label.check', h('input', { type: 'radio', name: 'feedback', value: v, required: true }), t))),
      errs.feedback);
    const notes = h('textarea', { name: 'notes', rows: 2, maxLength: 2000 });
    const preview = h('p.relearn-preview', { hidden: true, 'aria-live': 'polite' });
    errs.confirm_relearn = h('p.field-error', { id: `${uid}-confirm-err`, role: 'alert' });
    const confirmBox = h('input', { type: 'checkbox', name: 'confirm_relearn', value: 'yes', 'aria-describedby': `${uid}-confirm-err` });
    const confirmText = h('span');
    const confirm = h('div.confirm-relearn', { hidden: true }, h('label.check', confirmBox, confirmText), errs.confirm_relearn);
    const formErr = h('p.field-error', { role: 'alert' });
    let plan = null;

    async function loadPreview() {
      plan = null;
      preview.hidden = true;
      confirm.hidden = true;
      if (!at.value) return;
      try {
        const p = await api(`/alerts/${a.id}/closeout-preview?action_taken=${encodeURIComponent(at.value)}`);
        if (at.value !== p.action_taken && p.action_taken !== undefined) return;  // a newer choice is on its way
        plan = p;
        preview.textContent = relearnText(p);
        preview.hidden = false;
        preview.classList.toggle('confirm', !!p.needs_confirmation);
        if (p.needs_confirmation) askConfirmation(p);
      } catch { /* no preview on this gateway: the line stays hidden */ }
    }
    function askConfirmation(p) {
      const sick = ((p && p.relearn) || []).filter((m) => typeof m === 'object' && (m.state === 'warning' || m.state === 'alarm'))
        .map((m) => `${plainWord(m.model)} (in ${m.state})`);
      confirmText.textContent = `Re-learn anyway: ${sick.length ? sick.join(', ') + ' still sees' : 'a model still sees'} the problem, and would learn the fault as normal.`;
      confirm.hidden = false;
    }

    const form = h('form.closeout', {
      noValidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        for (const x of Object.values(errs)) x.textContent = '';
        formErr.textContent = '';
        let bad = null;
        const need = (ctrl, name, msg) => { if (!ctrl.value) { errs[name].textContent = msg; ctrl.setAttribute('aria-invalid', 'true'); bad = bad || ctrl; } else ctrl.removeAttribute('aria-invalid'); };
        need(fm, 'failure_mode', 'Choose the failure mode you found (or “No issue”).');
        need(fc, 'failure_cause', 'Choose what caused it.');
        need(at, 'action_taken', 'Choose what was done.');
        const fb = form.querySelector('input[name=feedback]:checked');
        if (!fb) { errs.feedback.textContent = 'Say whether the alert was right.'; bad = bad || form.querySelector('input[name=feedback]'); }
        if (!confirm.hidden && !confirmBox.checked) { errs.confirm_relearn.textContent = 'Tick this to re-learn anyway, or choose another action.'; bad = bad || confirmBox; }
        if (bad) { bad.focus(); return; }
        const f = new FormData(form);
        const body = {
          failure_mode: fm.value, failure_cause: fc.value, action_taken: at.value,
          feedback: fb.value, notes: f.get('notes') || '', models: f.getAll('models'),
        };
        if (!confirm.hidden && confirmBox.checked) body.confirm_relearn = true;
        const x = await act(a, 'close', body, formErr);
        if (x instanceof ApiError) {
          if (x.status === 409 && (x.code === 'relearn_needs_confirmation' || /confirm_relearn|learn the fault/.test(x.message || ''))) { askConfirmation(plan); errs.confirm_relearn.textContent = plantError(x); formErr.textContent = ''; }
          else if (x.field && errs[x.field]) { errs[x.field].textContent = plantError(x); formErr.textContent = ''; }
        }
      },
      oninput: () => save(), onchange: (e) => { save(); if (e.target === at) loadPreview(); },
    },
    h('h3', 'Close out'),
    field('failure_mode', 'Failure mode', fm),
    field('failure_cause', 'Cause', fc),
    field('action_taken', 'Action taken', at),
    preview,
    confirm,
    h('fieldset', h('legend', 'Which models flagged it correctly?'), models),
    feedback,
    field('notes', 'Notes (optional)', notes),
    formErr,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Close alert'),
      h('button', { type: 'button', onclick: () => { drafts.delete(a.id); form.remove(); } }, 'Cancel')));

    function save() {
      const values = {};
      for (const c of form.elements) {
        if (!c.name) continue;
        if (c.type === 'checkbox') { (values[c.name] = values[c.name] || []); if (c.checked) values[c.name].push(c.value); } else if (c.type === 'radio') { if (c.checked) values[c.name] = c.value; } else values[c.name] = c.value;
      }
      draft.values = values;
    }
    // Restore a draft (a re-render, or back from another page).
    const v = draft.values;
    for (const c of form.elements) {
      if (!c.name || !(c.name in v)) continue;
      if (c.type === 'checkbox') c.checked = v[c.name].includes(c.value);
      else if (c.type === 'radio') c.checked = v[c.name] === c.value;
      else c.value = v[c.name];
    }
    el.append(form);
    if (at.value) loadPreview();
  }

  const onAlert = () => reload();
  app.live.addEventListener('alert', onAlert);
  app.cleanup.push(() => app.live.removeEventListener('alert', onAlert));
  await reload();
}
