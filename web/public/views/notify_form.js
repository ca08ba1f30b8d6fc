// SPDX-License-Identifier: Apache-2.0
// Form helpers of the Notifications pages: labelled controls that each own
// an error slot under the REST member path they edit ("name",
// "conditions[0].for_s", "webhook.url"), so a 422 problem from the gateway
// (or the same check made before sending) is shown next to its field in
// plain words; problems naming no known field go to the form's top.
import { h, toast } from '../api.js';
import { problemTarget, problemMessage, problemText } from './notify_logic.js';

let seq = 0;

export class FieldErrors {
  constructor() {
    this.slots = new Map();
    this.top = h('div.form-errors', { role: 'alert' });
  }

  // A <label> holding the text, the control, an optional hint and the error slot.
  field(key, text, input, hint) {
    const err = h('p.field-error', { id: `ferr-${++seq}`, hidden: true });
    const hintEl = hint ? h('span.hint', { id: `fhint-${seq}` }, hint) : null;
    input.setAttribute('aria-describedby', [hintEl && hintEl.id, err.id].filter(Boolean).join(' '));
    this.slots.set(key, { err, input });
    return h('label', { dataset: { field: key } }, h('span.label-text', text), input, hintEl, err);
  }

  // An error slot at the end of a group (fieldset, list of rows).
  group(key, el) {
    const err = h('p.field-error', { id: `ferr-${++seq}`, hidden: true });
    el.setAttribute('aria-describedby', err.id);
    el.append(err);
    this.slots.set(key, { err, input: null, el });
    return el;
  }

  drop(prefix) { for (const k of [...this.slots.keys()]) if (k.startsWith(prefix)) this.slots.delete(k); }

  clear() {
    for (const { err, input } of this.slots.values()) {
      err.hidden = true;
      err.textContent = '';
      if (input) input.removeAttribute('aria-invalid');
    }
    this.top.replaceChildren();
  }

  // [{ field, detail }]: each next to its control; the first gets the focus.
  show(problems) {
    let first = null;
    for (const p of problems) {
      const key = problemTarget(p.field, [...this.slots.keys()]);
      const text = problemMessage(p.field, p.detail, key);
      if (!key) { this.top.append(h('p.error', text)); continue; }
      const { err, input, el } = this.slots.get(key);
      err.textContent = err.textContent ? `${err.textContent} ${text}` : text;
      err.hidden = false;
      if (input) input.setAttribute('aria-invalid', 'true');
      first = first || input || (el && el.querySelector('input, select, textarea'));
    }
    if (first) first.focus();
    else if (this.top.firstChild) this.top.scrollIntoView({ block: 'nearest' });
  }

  // An ApiError from saving: a 422 goes to its field, other refusals to the
  // form's top, network trouble to a toast.
  showError(e) {
    if (e && e.status === 422) this.show([{ field: e.field || '', detail: e.detail || e.message }]);
    else if (e && e.status >= 400 && e.status < 500) this.top.append(h('p.error', problemText(e.detail || e.message)));
    else toast(e.message, true);
  }
}

export function textInput(name, value = '', attrs = {}) { return h('input', { name, value, autocomplete: 'off', ...attrs }); }
export function numInput(name, value = '', attrs = {}) {
  return h('input', { name, value, type: 'number', step: 'any', inputMode: 'decimal', ...attrs });
}
export function selectInput(name, options, value) {
  const s = h('select', { name }, options.map(([v, text]) => h('option', { value: String(v) }, text)));
  if (value !== undefined) s.value = String(value);
  return s;
}
export function checkbox(name, checked, text) {
  const input = h('input', { type: 'checkbox', name, checked: !!checked });
  return { input, el: h('label.check', input, text) };
}

// A fieldset of checkboxes: options [[value, text]], selected values; .values() reads them.
export function checkGroup(name, legend, options, selected = [], note) {
  const chosen = new Set(selected.map(String));
  const boxes = options.map(([v, text]) => h('input', { type: 'checkbox', name, value: String(v), checked: chosen.has(String(v)) }));
  const el = h('fieldset.checkgroup', { dataset: { field: name } }, h('legend', legend),
    note ? h('p.hint', note) : null,
    options.length ? h('div.checks', boxes.map((b, i) => h('label.check', b, options[i][1]))) : h('p.muted', 'none yet'));
  return { el, boxes, values: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

export function statusBadge({ icon, text }, status) {
  return h('span.dstatus', { dataset: { status } }, h('span.dicon', { 'aria-hidden': 'true' }, icon), ' ', text);
}
