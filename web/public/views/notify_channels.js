// SPDX-License-Identifier: Apache-2.0
// Notifications › Channels: email (recipients; the SMTP relay is the
// notifications.smtp config section) and webhooks (URL, headers, HMAC
// secret, JSON body template, CA file, TLS verification). Secrets and header
// values are write-only: the page says "secret set" and offers a field to
// replace it. "Send test message" queues a test delivery and follows its
// status in the delivery log. Admins edit; others read.
import { api, h, toast } from '../api.js';
import { TEMPLATE_PLACEHOLDERS, channelToForm, formToChannel, deliveryStatus } from './notify_logic.js';
import { FieldErrors, textInput, numInput, selectInput, checkbox, statusBadge } from './notify_form.js';

export async function renderChannels(box, app) {
  const channels = await api('/notifications/channels');
  const admin = app.can('admin');
  const editorBox = h('div');
  const rerender = () => renderChannels(box, app);
  const openEditor = (ch) => {
    editorBox.replaceChildren(editor(ch, { done: rerender, cancel: () => editorBox.replaceChildren() }));
    editorBox.querySelector('input').focus();
  };

  const card = (c) => {
    const result = h('div.test-result', { role: 'status', 'aria-live': 'polite' });
    const w = c.webhook || {};
    return h('article.nchannel', { dataset: { channelId: c.id, channel: c.name } },
      h('div.alert-head', h('strong', c.name), h('span.pill', c.type), c.enabled === false ? h('span.pill', 'disabled') : null),
      c.type === 'email'
        ? h('p.small', 'To: ', ((c.email && c.email.to) || []).join(', ') || '–')
        : h('div.small',
          h('p', 'URL: ', h('code.url', w.url || '–')),
          h('p', 'Signing secret: ', h('span.secret-state', w.secret_set ? 'secret set' : 'none'),
            Object.keys(w.headers || {}).length ? ` · headers: ${Object.keys(w.headers).join(', ')} (values hidden)` : '',
            w.verify_tls === false ? ' · TLS not verified' : '')),
      c.rate_per_minute > 0 ? h('p.muted.small', `At most ${c.rate_per_minute} messages a minute`) : null,
      admin ? h('div.actions',
        h('button', { type: 'button', onclick: () => sendTest(c, result) }, 'Send test message'),
        h('button', { type: 'button', onclick: () => openEditor(c) }, 'Edit'),
        h('button', {
          type: 'button',
          onclick: async () => {
            if (!confirm(`Delete channel ${c.name}?`)) return;
            try { await api(`/notifications/channels/${c.id}`, { method: 'DELETE' }); toast('Channel deleted'); rerender(); } catch (e) { toast(e.message, true); }
          },
        }, 'Delete')) : null,
      result);
  };

  box.replaceChildren(
    admin ? h('div.actions', h('button.primary', { type: 'button', onclick: () => openEditor(null) }, 'New channel')) : h('p.muted', 'Editing channels needs the admin role.'),
    editorBox,
    h('div.nchannels', channels.length ? channels.map(card) : h('p.muted', 'No channels yet. Without one, the addresses in notifications.email_to (configuration) get every warning and alarm.')));
}

// Queue a test message and follow its delivery until sent or failed (or a minute passed).
async function sendTest(c, out) {
  out.replaceChildren(h('p.muted', 'Queuing a test message…'));
  let id;
  try { ({ delivery_id: id } = await api(`/notifications/channels/${c.id}/test`, { method: 'POST', body: {} })); } catch (e) {
    out.replaceChildren(h('p.error', `Test not sent: ${e.message}`));
    return;
  }
  for (let i = 0; i < 60 && out.isConnected; ++i) {
    let d = null;
    try {
      const list = await api(`/notifications/deliveries?channel_id=${c.id}&limit=50`);
      d = list.find((x) => x.id === id);
    } catch { /* try again */ }
    if (d) {
      out.replaceChildren(h('p.test-status', { dataset: { status: d.status } }, 'Test message: ', statusBadge(deliveryStatus(d.status), d.status),
        d.attempts ? ` after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}` : '',
        d.last_error ? h('span.error', ` — ${d.last_error}`) : null, ' · ', h('a', { href: '#/notifications/log' }, 'delivery log')));
      if (d.status === 'sent' || d.status === 'failed') return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function editor(ch, { done, cancel }) {
  const f = channelToForm(ch);
  const errs = new FieldErrors();
  const name = textInput('channel_name', f.name, { required: true, maxLength: 200 });
  const type = selectInput('type', [['email', 'Email'], ['webhook', 'Webhook']], f.type);
  if (ch) type.disabled = true;
  const enabled = checkbox('enabled', f.enabled, 'Enabled');
  const rate = numInput('rate_per_minute', f.rate_per_minute, { min: '0', max: '6000', step: '1' });
  const to = h('textarea', { name: 'to', rows: 3, value: f.to, autocomplete: 'off' });
  const url = textInput('url', f.url, { type: 'url', inputMode: 'url' });
  const secret = h('input', { name: 'secret', type: 'password', autocomplete: 'new-password' });
  const tpl = h('textarea', { name: 'body_template', rows: 6, value: f.body_template, spellcheck: false });
  const ca = textInput('ca_file', f.ca_file);
  const verify = checkbox('verify_tls', f.verify_tls, 'Verify the server’s TLS certificate');
  const headers = f.headers.map((x) => ({ ...x }));
  const headerBox = h('div.headers');
  const drawHeaders = () => {
    errs.drop('webhook.headers[');
    headerBox.replaceChildren(...headers.map((hd, i) => {
      const n = textInput('header_name', hd.name, { 'aria-label': `Header ${i + 1} name` });
      const v = h('input', { name: 'header_value', type: 'password', autocomplete: 'off', value: hd.value });
      n.addEventListener('input', () => { hd.name = n.value; });
      v.addEventListener('input', () => { hd.value = v.value; });
      return h('div.header-row',
        errs.field(`webhook.headers[${i}]`, `Header ${i + 1} name`, n),
        errs.field(`webhook.headers[${i}].value`, hd.was_set ? 'Value (set; type to replace)' : 'Value', v),
        h('button.link', { type: 'button', onclick: () => { headers.splice(i, 1); drawHeaders(); } }, `Remove header ${i + 1}`));
    }));
  };
  drawHeaders();
  const insert = (p) => {
    const at = tpl.selectionStart ?? tpl.value.length;
    tpl.value = tpl.value.slice(0, at) + p + tpl.value.slice(tpl.selectionEnd ?? at);
    tpl.focus();
    tpl.selectionStart = tpl.selectionEnd = at + p.length;
  };
  const emailPart = h('div.email-part', errs.field('email.to', 'Recipients (one address a line)', to));
  const webhookPart = h('div.webhook-part',
    errs.field('webhook.url', 'URL (http or https)', url),
    h('p.secret-note', f.secret_set ? 'Signing secret: secret set (never shown).' : 'Signing secret: none.'),
    errs.field('webhook.secret', f.secret_set ? 'Replace the secret (leave empty to keep it)' : 'Secret (optional: signs each body, header X-Vigil-Signature)', secret),
    errs.group('webhook.headers', h('fieldset', h('legend', 'Headers (values are write-only)'), headerBox,
      h('button', { type: 'button', onclick: () => { headers.push({ name: '', value: '' }); drawHeaders(); } }, 'Add header'))),
    errs.field('webhook.body_template', 'Body template (JSON; empty for the default body)', tpl),
    h('div.placeholders', h('span.small', 'Placeholders (values are JSON-escaped), click to insert: '),
      TEMPLATE_PLACEHOLDERS.map((p) => h('button.chip', { type: 'button', onclick: () => insert(p) }, p))),
    errs.field('webhook.ca_file', 'CA file on the gateway (optional, PEM)', ca),
    errs.group('webhook.verify_tls', verify.el));
  const showType = () => { emailPart.hidden = type.value !== 'email'; webhookPart.hidden = type.value !== 'webhook'; };
  type.addEventListener('change', showType);
  showType();

  const form = h('form.card.editor.channel-editor', {
    noValidate: true,  // our checks, shown next to each field in words
    onsubmit: async (e) => {
      e.preventDefault();
      errs.clear();
      const r = formToChannel({ name: name.value, type: type.value, enabled: enabled.input.checked, rate_per_minute: rate.value,
        to: to.value, url: url.value, secret: secret.value, body_template: tpl.value, ca_file: ca.value, verify_tls: verify.input.checked,
        headers });
      if (r.errors.length) { errs.show(r.errors); return; }
      try {
        await api(ch ? `/notifications/channels/${ch.id}` : '/notifications/channels', { method: ch ? 'PUT' : 'POST', body: r.channel });
        toast(`Channel ${r.channel.name} saved`);
        done();
      } catch (x) { errs.showError(x); }
    },
  },
  h('h2', ch ? `Edit channel ${ch.name}` : 'New channel'),
  errs.top,
  h('div.form-grid', errs.field('name', 'Name', name), errs.field('type', 'Type', type),
    errs.field('rate_per_minute', 'At most messages a minute', rate, '0 or empty: no limit')),
  enabled.el, emailPart, webhookPart,
  h('div.actions', h('button.primary', { type: 'submit' }, 'Save channel'), h('button', { type: 'button', onclick: cancel }, 'Cancel')));
  return form;
}
