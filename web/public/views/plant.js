// SPDX-License-Identifier: Apache-2.0
// Settings › Plant (admins): sites, assets and positions. An asset carries
// what the analytics need to name a fault: machine class (ISO zones), shaft
// speed (1×, 2×, 3× markers), bearing geometry (BPFO, BPFI, BSF, FTF) and
// the envelope band (the housing resonance, where defect impacts ring).
// The REST API upserts by name, so choosing an existing asset and saving
// edits it.
import { api, h, toast } from '../api.js';

const POSITION_TYPES = ['bearing', 'compressor', 'fan', 'gearbox', 'motor', 'pump', 'other'];

function field(label, input) { return h('label', label, input); }
function num(attrs) { return h('input', { type: 'number', step: 'any', inputMode: 'decimal', ...attrs }); }

export async function plantCard(rerender) {
  const [sites, assets, classes] = await Promise.all([api('/sites'), api('/assets'), api('/machine-classes').catch(() => [])]);
  const submit = (fn, done) => async (e) => {
    e.preventDefault();
    try { await fn(); toast(done()); rerender(); } catch (x) { toast(x.message, true); }
  };

  // site
  const siteName = h('input', { name: 'site_name', required: true, maxLength: 200, placeholder: 'site name', 'aria-label': 'Site name' });
  const siteTz = h('input', { name: 'timezone', placeholder: 'time zone, e.g. Europe/Berlin', 'aria-label': 'Time zone' });
  const siteForm = h('form.row', {
    onsubmit: submit(() => api('/sites', { method: 'POST', body: { name: siteName.value, timezone: siteTz.value } }),
      () => `Site ${siteName.value} saved`),
  }, siteName, siteTz, h('button.primary', { type: 'submit' }, 'Save site'));

  // asset
  const a = {
    site: h('select', { name: 'site_id', required: true }, sites.map((s) => h('option', { value: s.id }, s.name))),
    name: h('input', { name: 'asset_name', required: true, maxLength: 200, placeholder: 'asset name' }),
    cls: h('select', { name: 'machine_class' }, classes.map((c) => h('option', { value: c.name }, c.name))),
    rpm: num({ name: 'shaft_rpm', min: '0', max: '100000', placeholder: 'rpm' }),
    n: num({ name: 'rolling_elements', min: '1', step: '1', placeholder: 'elements' }),
    d: num({ name: 'element_diameter_mm', min: '0', placeholder: 'element Ø mm' }),
    D: num({ name: 'pitch_diameter_mm', min: '0', placeholder: 'pitch Ø mm' }),
    angle: num({ name: 'contact_angle_deg', min: '0', max: '90', placeholder: 'contact °' }),
    lo: num({ name: 'envelope_lo_khz', min: '0.1', max: '50', placeholder: 'from kHz' }),
    hi: num({ name: 'envelope_hi_khz', min: '0.1', max: '50', placeholder: 'to kHz' }),
  };
  a.cls.value = 'iso10816_class2';
  const load = (x) => {
    a.site.value = x.site_id; a.name.value = x.name; a.cls.value = x.machine_class; a.rpm.value = x.shaft_rpm || '';
    const b = x.bearing || {};
    a.n.value = b.rolling_elements || ''; a.d.value = b.element_diameter_mm || ''; a.D.value = b.pitch_diameter_mm || '';
    a.angle.value = b.contact_angle_deg ?? '';
    const band = x.envelope_band_hz;
    a.lo.value = band ? band[0] / 1000 : ''; a.hi.value = band ? band[1] / 1000 : '';
    a.name.focus();
  };
  const assetBody = () => {
    const body = { site_id: +a.site.value, name: a.name.value, machine_class: a.cls.value, shaft_rpm: +a.rpm.value || 0 };
    if (a.n.value || a.d.value || a.D.value) {
      body.bearing = { rolling_elements: +a.n.value, element_diameter_mm: +a.d.value, pitch_diameter_mm: +a.D.value, contact_angle_deg: +a.angle.value || 0 };
    }
    body.envelope_band_hz = a.lo.value || a.hi.value ? [Math.round(+a.lo.value * 1000), Math.round(+a.hi.value * 1000)] : null;
    return body;
  };
  const assetForm = h('form.stack', {
    onsubmit: submit(() => api('/assets', { method: 'POST', body: assetBody() }), () => `Asset ${a.name.value} saved`),
  },
  h('div.row', field('Site', a.site), field('Name', a.name), field('Machine class', a.cls), field('Speed', a.rpm)),
  h('div.row', field('Bearing', a.n), a.d, a.D, a.angle),
  h('div.row', field('Envelope band (empty = automatic)', a.lo), a.hi),
  h('button.primary', { type: 'submit', disabled: !sites.length }, 'Save asset'));

  // position
  const p = {
    asset: h('select', { name: 'asset_id', required: true, 'aria-label': 'Asset' }, assets.map((x) => h('option', { value: x.id }, x.name))),
    name: h('input', { name: 'position_name', required: true, maxLength: 200, placeholder: 'position, e.g. Motor DE', 'aria-label': 'Position name' }),
    type: h('select', { name: 'type', 'aria-label': 'Position type' }, POSITION_TYPES.map((t) => h('option', { value: t }, t))),
  };
  const positionForm = h('form.row', {
    onsubmit: submit(() => api('/positions', { method: 'POST', body: { asset_id: +p.asset.value, name: p.name.value, type: p.type.value } }),
      () => `Position ${p.name.value} saved`),
  }, p.asset, p.name, p.type, h('button.primary', { type: 'submit', disabled: !assets.length }, 'Save position'));

  const band = (x) => (x.envelope_band_hz ? `${x.envelope_band_hz[0] / 1000}–${x.envelope_band_hz[1] / 1000} kHz` : 'automatic');
  return h('section.card.plant', h('h2', 'Plant'),
    h('p.muted', 'Sites, assets and their measurement positions. Speed and bearing geometry put the 1×/2× and defect markers on the spectra; the envelope band is where the housing resonates.'),
    h('h3', 'Sites'), h('p', sites.length ? sites.map((s) => s.name).join(' · ') : h('span.muted', 'none yet')), siteForm,
    h('h3', 'Assets'),
    h('div.table-wrap', h('table', h('tbody', assets.map((x) => h('tr', { dataset: { asset: x.name } },
      h('td', x.name, h('div.muted.small', `${x.machine_class} · ${x.shaft_rpm || '?'} rpm · envelope ${band(x)}`)),
      h('td', h('button.link', { type: 'button', onclick: () => load(x) }, 'edit'))))))),
    assetForm,
    h('h3', 'Positions'), positionForm);
}
