// SPDX-License-Identifier: Apache-2.0
// Notifications › Routing & escalation: which alerts (severities, sites,
// assets; empty = all) go to which channels, quiet hours (warnings, and
// alarms if chosen, wait until they end) and escalation (an alert nobody
// acknowledged after N minutes goes to more channels, once). Admins edit.
import { api, h, toast } from '../api.js';
import { SEVERITIES, routeToForm, formToRoute } from './notify_logic.js';
import { FieldErrors, textInput, numInput, checkbox, checkGroup } from './notify_form.js';

const sevText = (s) => (!s || !s.length || s.length > 1 ? 'Warnings and alarms' : s[0] === 'alarm' ? 'Alarms' : 'Warnings');

export async function renderRoutes(box, app) {
  const [routes, channels, sites, assets] = await Promise.all([
    api('/notifications/routes'), api('/notifications/channels'), api('/sites'), api('/assets')]);
  const admin = app.can('admin');
  const names = {
    channel: Object.fromEntries(channels.map((c) => [c.id, c.name])),
    site: Object.fromEntries(sites.map((s) => [s.id, s.name])),
    asset: Object.fromEntries(assets.map((a) => [a.id, a.name])),
  };
  const list = (ids, kind, none) => (ids && ids.length ? ids.map((i) => names[kind][i] || `#${i}`).join(', ') : none);
  const editorBox = h('div');
  const rerender = () => renderRoutes(box, app);
  const openEditor = (r) => {
    editorBox.replaceChildren(editor(r, { channels, sites, assets, done: rerender, cancel: () => editorBox.replaceChildren() }));
    editorBox.querySelector('input').focus();
  };
  const card = (r) => h('article.nroute', { dataset: { routeId: r.id, route: r.name } },
    h('div.alert-head', h('strong', r.name)),
    h('p.small', `${sevText(r.severities)}`
      + ` from ${list(r.site_ids, 'site', 'every site')}${r.asset_ids && r.asset_ids.length ? ` (assets ${list(r.asset_ids, 'asset')})` : ''}`
      + ` → ${list(r.channels, 'channel', 'no channel')}`),
    r.quiet_hours ? h('p.muted.small', `Quiet ${r.quiet_hours.from}–${r.quiet_hours.to} (${r.quiet_hours.timezone})${r.quiet_hours.alarms_too ? ', alarms too' : ', alarms still go out'}`) : null,
    r.escalate_after_min ? h('p.muted.small', `Not acknowledged after ${r.escalate_after_min} min → ${list(r.escalate_to, 'channel', '–')}`) : null,
    admin ? h('div.actions',
      h('button', { type: 'button', onclick: () => openEditor(r) }, 'Edit'),
      h('button', {
        type: 'button',
        onclick: async () => {
          if (!confirm(`Delete route ${r.name}?`)) return;
          try { await api(`/notifications/routes/${r.id}`, { method: 'DELETE' }); toast('Route deleted'); rerender(); } catch (e) { toast(e.message, true); }
        },
      }, 'Delete')) : null);
  box.replaceChildren(
    h('p.muted', 'Lists left empty match everything. Without routes, the configured notifications.email_to gets every warning and alarm.'),
    admin ? h('div.actions', h('button.primary', { type: 'button', onclick: () => openEditor(null) }, 'New route')) : h('p.muted', 'Editing routes needs the admin role.'),
    editorBox,
    h('div.nroutes', routes.length ? routes.map(card) : h('p.muted', 'No routes yet.')));
}

function editor(route, { channels, sites, assets, done, cancel }) {
  const f = routeToForm(route);
  const errs = new FieldErrors();
  const chOpts = channels.map((c) => [c.id, `${c.name} (${c.type})`]);
  const name = textInput('route_name', f.name, { required: true, maxLength: 200 });
  const sev = checkGroup('severities', 'Severities', SEVERITIES.map((s) => [s, s]), f.severities);
  const siteG = checkGroup('site_ids', 'Sites', sites.map((s) => [s.id, s.name]), f.site_ids, 'none ticked: every site');
  const assetG = checkGroup('asset_ids', 'Assets', assets.map((a) => [a.id, a.name]), f.asset_ids, 'none ticked: every asset');
  const chG = checkGroup('channels', 'Send to channels', chOpts, f.channels);
  const quiet = checkbox('quiet', f.quiet, 'Quiet hours');
  const from = textInput('quiet_from', f.quiet_from, { type: 'time' });
  const to = textInput('quiet_to', f.quiet_to, { type: 'time' });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const tz = textInput('timezone', f.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', { list: 'nz-zones', autocapitalize: 'off' });
  const alarmsToo = checkbox('alarms_too', f.alarms_too, 'Hold alarms too');
  const quietPart = h('div.form-grid',
    errs.field('quiet_hours.from', 'From', from), errs.field('quiet_hours.to', 'To', to),
    errs.field('quiet_hours.timezone', 'Time zone', tz), alarmsToo.el,
    h('datalist', { id: 'nz-zones' }, zones.map((z) => h('option', { value: z }))));
  const esc = checkbox('escalate', f.escalate, 'Escalate when nobody acknowledges');
  const after = numInput('escalate_after_min', f.escalate_after_min, { min: '1', step: '1' });
  const escG = checkGroup('escalate_to', 'Escalate to channels', chOpts, f.escalate_to);
  const escPart = h('div', errs.field('escalate_after_min', 'After (minutes still open)', after), errs.group('escalate_to', escG.el));
  const sync = () => { quietPart.hidden = !quiet.input.checked; escPart.hidden = !esc.input.checked; };
  quiet.input.addEventListener('change', sync);
  esc.input.addEventListener('change', sync);
  sync();
  const form = h('form.card.editor.route-editor', {
    noValidate: true,  // our checks, shown next to each field in words
    onsubmit: async (e) => {
      e.preventDefault();
      errs.clear();
      const r = formToRoute({ name: name.value, severities: sev.values(), site_ids: siteG.values(), asset_ids: assetG.values(),
        channels: chG.values(), quiet: quiet.input.checked, quiet_from: from.value, quiet_to: to.value, timezone: tz.value,
        alarms_too: alarmsToo.input.checked, escalate: esc.input.checked, escalate_after_min: after.value, escalate_to: escG.values() });
      if (r.errors.length) { errs.show(r.errors); return; }
      try {
        await api(route ? `/notifications/routes/${route.id}` : '/notifications/routes', { method: route ? 'PUT' : 'POST', body: r.route });
        toast(`Route ${r.route.name} saved`);
        done();
      } catch (x) { errs.showError(x); }
    },
  },
  h('h2', route ? `Edit route ${route.name}` : 'New route'),
  errs.top,
  errs.field('name', 'Name', name),
  errs.group('severities', sev.el), errs.group('site_ids', siteG.el), errs.group('asset_ids', assetG.el), errs.group('channels', chG.el),
  errs.group('quiet_hours', h('div', quiet.el, quietPart)),
  h('div', esc.el, escPart),
  h('div.actions', h('button.primary', { type: 'submit' }, 'Save route'), h('button', { type: 'button', onclick: cancel }, 'Cancel')));
  return form;
}
