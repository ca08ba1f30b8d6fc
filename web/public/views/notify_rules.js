// SPDX-License-Identifier: Apache-2.0
// Notifications › Rules: the list in plain words ("temperature above −18 °C
// for 10 min"), enable/disable, and the editor: scope (every asset, a site,
// an asset or a position), conditions that must all hold (AND) with the
// metrics of the scope's series, and Preview (POST /rules/preview: when the
// rule would have fired in the last 7 days) before saving. Technicians and
// admins edit; viewers read.
import { api, h, toast, METRICS, metricLabel } from '../api.js';
import {
  OPS, OP_FIELDS, WINDOWS, SEVERITIES, conditionText, conditionsText, scopeText, previewText, ruleToForm, formToRule,
  emptyCondition, toMs,
} from './notify_logic.js';
import { FieldErrors, textInput, numInput, selectInput, checkbox } from './notify_form.js';

export async function renderRules(box, app) {
  const [rules, sites, assets] = await Promise.all([api('/rules'), api('/sites'), api('/assets')]);
  const positions = assets.flatMap((a) => (a.positions || []).map((p) => ({ ...p, site_id: a.site_id, asset_name: a.name })));
  const names = {
    sites: Object.fromEntries(sites.map((s) => [s.id, s.name])),
    assets: Object.fromEntries(assets.map((a) => [a.id, a.name])),
    positions: Object.fromEntries(positions.map((p) => [p.id, `${p.asset_name} · ${p.name}`])),
  };
  const units = {};
  for (const p of positions) for (const [m, v] of Object.entries(p.latest || {})) if (v && v.unit !== undefined) units[m] = v.unit;
  const ctx = { ...names, units };
  const canEdit = app.can('technician');
  const rerender = () => renderRules(box, app);
  const editorBox = h('div');

  const card = (r) => {
    const toggle = h('input', { type: 'checkbox', checked: r.enabled !== false, disabled: !canEdit, 'aria-label': `Rule ${r.name} enabled` });
    toggle.addEventListener('change', async () => {
      const { rule } = formToRule({ ...ruleToForm(r), enabled: toggle.checked });
      try { await api(`/rules/${r.id}`, { method: 'PUT', body: rule }); r.enabled = toggle.checked; toast(`Rule ${r.name} ${toggle.checked ? 'enabled' : 'disabled'}`); } catch (e) { toggle.checked = !toggle.checked; toast(e.message, true); }
    });
    return h('article.nrule', { dataset: { ruleId: r.id, rule: r.name } },
      h('div.alert-head', h('strong', r.name), h('span.pill.sev.sev-' + r.severity, r.severity),
        h('label.check.toggle', toggle, 'Enabled')),
      h('p.rule-words', `When ${conditionsText(r.conditions, ctx)} — on ${scopeText(r.scope, ctx)}`),
      r.message ? h('p.muted.small', r.message) : null,
      canEdit ? h('div.actions',
        h('button', { type: 'button', onclick: () => openEditor(r) }, 'Edit'),
        h('button', {
          type: 'button',
          onclick: async () => {
            if (!confirm(`Delete rule ${r.name}?`)) return;
            try { await api(`/rules/${r.id}`, { method: 'DELETE' }); toast('Rule deleted'); rerender(); } catch (e) { toast(e.message, true); }
          },
        }, 'Delete')) : null);
  };

  function openEditor(rule) {
    editorBox.replaceChildren(editor(rule, { sites, assets, positions, ctx, done: rerender, cancel: () => editorBox.replaceChildren() }));
    editorBox.querySelector('input').focus();
  }

  box.replaceChildren(
    h('p.muted', 'A rule raises an alert when all its conditions hold on an asset at once. It stays open until a person closes it.'),
    canEdit ? h('div.actions', h('button.primary', { type: 'button', onclick: () => openEditor(null) }, 'New rule')) : h('p.muted', 'Editing rules needs the technician role.'),
    editorBox,
    h('div.nrules', rules.length ? rules.map(card) : h('p.muted', 'No rules yet.')));
}

// The metrics (with units) of the series in a scope; every known metric if none reports yet.
function scopeMetrics(positions, kind, id) {
  const inScope = positions.filter((p) => kind === 'all' || String(p[kind === 'position' ? 'id' : kind + '_id']) === String(id));
  const out = {};
  for (const p of inScope) for (const [m, v] of Object.entries(p.latest || {})) out[m] = (v && v.unit) || '';
  if (!Object.keys(out).length) for (const [m, v] of Object.entries(METRICS)) out[m] = v.unit;
  return { metrics: out, positions: inScope };
}

function editor(rule, { sites, assets, positions, ctx, done, cancel }) {
  const f = ruleToForm(rule);
  const errs = new FieldErrors();
  const name = textInput('rule_name', f.name, { required: true, maxLength: 200 });
  const severity = selectInput('severity', SEVERITIES.map((s) => [s, s]), f.severity);
  const enabled = checkbox('enabled', f.enabled, 'Enabled');
  const message = h('textarea', { name: 'message', rows: 2, maxLength: 2000, value: f.message });
  const kind = selectInput('scope_kind', [['all', 'Every asset'], ['site', 'A site'], ['asset', 'An asset'], ['position', 'A position']], f.scope.kind);
  const scopeId = h('select', { name: 'scope_id' });
  const scopeIdLabel = errs.field(`scope.${f.scope.kind}_id`, 'Which one', scopeId);
  const choices = {
    site: sites.map((s) => [s.id, s.name]),
    asset: assets.map((a) => [a.id, a.name]),
    position: positions.map((p) => [p.id, `${p.asset_name} · ${p.name}`]),
  };
  const fillScope = (keep) => {
    const k = kind.value;
    scopeIdLabel.hidden = k === 'all';
    errs.drop('scope.');
    errs.slots.set(`scope.${k}_id`, { err: scopeIdLabel.querySelector('.field-error'), input: scopeId });
    if (k === 'all') return;
    scopeId.replaceChildren(...(choices[k] || []).map(([v, t]) => h('option', { value: String(v) }, t)));
    if (keep) scopeId.value = keep;
  };
  fillScope(f.scope.id);

  const conds = f.conditions.map((c) => ({ ...c }));
  const condBox = h('div.conditions');
  const condGroup = errs.group('conditions', h('div'));
  const scoped = () => scopeMetrics(positions, kind.value, scopeId.value);

  function readRows() {
    condBox.querySelectorAll('fieldset.cond').forEach((fs, i) => {
      for (const el of fs.querySelectorAll('[name]')) conds[i][el.name] = el.value;
    });
  }
  function drawRows() {
    errs.drop('conditions[');
    const { metrics, positions: inScope } = scoped();
    condBox.replaceChildren(...conds.map((c, i) => condRow(c, i, metrics, inScope)));
  }
  function condRow(c, i, metrics, inScope) {
    const at = `conditions[${i}]`;
    const metricOpts = Object.keys(metrics).map((m) => [m, `${metricLabel(m)}${metrics[m] ? ` (${metrics[m]})` : ''}`]);
    if (c.metric && c.metric !== '*' && !(c.metric in metrics)) metricOpts.push([c.metric, metricLabel(c.metric)]);
    metricOpts.push(['*', 'any metric (only with “has no data”)']);
    const metric = selectInput('metric', [['', 'choose…'], ...metricOpts], c.metric);
    const op = selectInput('op', OPS, c.op);
    const value = numInput('value', c.value);
    const hyst = numInput('hysteresis', c.hysteresis, { min: '0' });
    const forMin = numInput('for_min', c.for_min, { min: '0' });
    const perMin = numInput('per_min', c.per_min, { min: '0' });
    const win = selectInput('window', WINDOWS.map((w) => [w, `calendar ${w}`]), c.window);
    const pin = selectInput('position_id', [['', 'any position'], ...(kind.value === 'position' ? [] : inScope.map((p) => [p.id, `${p.asset_name} · ${p.name}`]))], c.position_id);
    const valueLabel = errs.field(`${at}.value`, 'Value', value);
    const parts = {
      value: valueLabel,
      hysteresis: errs.field(`${at}.hysteresis`, 'Hysteresis', hyst, 'clears only this far back'),
      for_s: errs.field(`${at}.for_s`, 'For (minutes)', forMin),
      per_s: errs.field(`${at}.per_s`, 'Per (minutes)', perMin, 'default 1'),
      window: errs.field(`${at}.window`, 'Within', win),
    };
    const words = h('p.cond-words', { 'aria-live': 'polite' });
    const row = h('fieldset.cond', { dataset: { index: i } },
      h('legend', i ? `and condition ${i + 1}` : 'Condition 1'),
      h('div.cond-grid',
        errs.field(`${at}.metric`, 'Metric', metric), errs.field(`${at}.op`, 'Condition', op),
        parts.value, parts.hysteresis, parts.for_s, parts.per_s, parts.window,
        kind.value === 'position' ? null : errs.field(`${at}.position_id`, 'On position', pin)),
      words,
      conds.length > 1 ? h('button.link', { type: 'button', onclick: () => { readRows(); conds.splice(i, 1); drawRows(); } }, `Remove condition ${i + 1}`) : null);
    errs.group(at, row);
    const update = () => {
      const uses = OP_FIELDS[op.value] || [];
      for (const [k, el] of Object.entries(parts)) el.hidden = !uses.includes(k);
      valueLabel.querySelector('.label-text').textContent = {
        state_held: 'State (0 = off, 1 = on)', rate_above: 'Change', rate_below: 'Change', increase_above: 'Increase',
      }[op.value] || `Value${metrics[metric.value] ? ` (${metrics[metric.value]})` : ''}`;
      const one = formToRule({ name: 'x', conditions: [Object.fromEntries([...row.querySelectorAll('[name]')].map((e) => [e.name, e.value]))] });
      words.textContent = one.errors.length ? '' : 'In words: ' + conditionText(one.rule.conditions[0], { ...ctx, units: { ...ctx.units, ...metrics } });
    };
    row.addEventListener('input', update);
    row.addEventListener('change', update);
    update();
    return row;
  }
  drawRows();
  const onScope = () => { readRows(); fillScope(); drawRows(); };
  kind.addEventListener('change', onScope);
  scopeId.addEventListener('change', () => { readRows(); drawRows(); });

  const previewOut = h('div.preview', { role: 'status', 'aria-live': 'polite' });
  const read = () => {
    readRows();
    return formToRule({ name: name.value, enabled: enabled.input.checked, severity: severity.value, message: message.value,
      scope: { kind: kind.value, id: scopeId.value }, conditions: conds });
  };
  const check = () => {
    errs.clear();
    const r = read();
    if (r.errors.length) { errs.show(r.errors); return null; }
    return r.rule;
  };
  async function preview() {
    const r = check();
    if (!r) return;
    previewOut.replaceChildren(h('p.muted', 'Looking back…'));
    try {
      const res = await api('/rules/preview', { method: 'POST', body: { rule: r } });
      const from = toMs(res.from), to = toMs(res.to);
      const days = from && to ? Math.max(1, Math.round((to - from) / 86400e3)) : 7;
      const times = res.times || [];
      previewOut.replaceChildren(...[h('p.preview-count', previewText(res.fires ?? times.length, days)),
        times.length ? h('ul.preview-times', times.slice(0, 100).map((t) => h('li',
          h('time', { dateTime: new Date(toMs(t.ts)).toISOString() }, new Date(toMs(t.ts)).toLocaleString()),
          ` — ${ctx.assets[t.asset_id] || 'asset ' + t.asset_id}${t.position_id ? ' · ' + (ctx.positions[t.position_id] || '').split(' · ').pop() : ''}`,
          t.explanation ? h('span.muted', `: ${t.explanation}`) : null))) : null,
        times.length > 100 ? h('p.muted', `and ${times.length - 100} more`) : null].filter(Boolean));
    } catch (e) { previewOut.replaceChildren(); errs.showError(e); }
  }

  const form = h('form.card.editor.rule-editor', {
    noValidate: true,  // our checks, shown next to each field in words
    onsubmit: async (e) => {
      e.preventDefault();
      const r = check();
      if (!r) return;
      try {
        await api(rule ? `/rules/${rule.id}` : '/rules', { method: rule ? 'PUT' : 'POST', body: r });
        toast(`Rule ${r.name} saved`);
        done();
      } catch (x) { errs.showError(x); }
    },
  },
  h('h2', rule ? `Edit rule ${rule.name}` : 'New rule'),
  errs.top,
  h('div.form-grid',
    errs.field('name', 'Name', name), errs.field('severity', 'Severity', severity),
    errs.field('scope', 'Applies to', kind), scopeIdLabel),
  enabled.el,
  condGroup,
  condBox,
  h('div.actions', h('button', { type: 'button', onclick: () => { readRows(); conds.push(emptyCondition()); drawRows(); condBox.lastChild.querySelector('select').focus(); } }, 'Add condition (AND)')),
  errs.field('message', 'Message for the people notified (optional)', message),
  h('div.actions', h('button', { type: 'button', onclick: preview }, 'Preview'),
    h('button.primary', { type: 'submit' }, 'Save rule'), h('button', { type: 'button', onclick: cancel }, 'Cancel')),
  previewOut);
  return form;
}
