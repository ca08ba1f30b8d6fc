// SPDX-License-Identifier: Apache-2.0
// The vigil dashboard: hash routes (#/fleet, #/asset/ID, #/alerts,
// #/sensors, #/firmware, #/notifications/TAB, #/settings), first-start setup and sign-in, live updates over
// Server-Sent Events. Plain ES modules, no build step.
import { api, ApiError, h, toast, fmt, setUnauthorizedHandler, setNetworkHandler } from './api.js';
import { renderFleet } from './views/fleet.js';
import { renderAsset } from './views/asset.js';
import { renderAlerts } from './views/alerts.js';
import { renderSensors } from './views/sensors.js';
import { renderFirmware } from './views/firmware.js';
import { renderPlant } from './views/plant_view.js';
import { renderSettings } from './views/settings.js';
import { renderNotifications } from './views/notifications.js';

const main = document.getElementById('main');
export const app = { session: null, live: new EventTarget(), cleanup: [] };

function can(role) {
  const order = { viewer: 0, technician: 1, admin: 2 };
  const u = app.session && app.session.user;
  return !!u && order[u.role] >= order[role];
}
app.can = can;

function authForm({ title, note, button, action }) {
  const name = h('input', { name: 'name', autocomplete: 'username', required: true, autocapitalize: 'off' });
  const pw = h('input', { name: 'password', type: 'password', required: true, minLength: 8,
    autocomplete: action === 'setup' ? 'new-password' : 'current-password' });
  const err = h('p.error');
  const form = h('form.card.auth', {
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        await api('/auth/' + action, { method: 'POST', body: { name: name.value, password: pw.value }, quiet401: true });
        await start();
      } catch (x) { err.textContent = x.message; }
    },
  }, h('h1', title), note && h('p.muted', note),
  h('label', 'User name', name), h('label', 'Password', pw), err, h('button.primary', { type: 'submit' }, button));
  main.replaceChildren(form);
  name.focus();
}

function showLogin() {
  authForm({ title: 'Sign in', button: 'Sign in', action: 'login' });
}

function showSetup() {
  authForm({ title: 'Welcome to vigil', button: 'Create admin account', action: 'setup',
    note: 'No account exists yet. Choose the administrator’s name and a password (at least 8 characters). '
      + 'This page is only shown until the first account exists.' });
}

setUnauthorizedHandler(() => { app.session = null; showLogin(); });

// Live data: "as of" = the last time the gateway answered (a request or a
// live event). When the live stream fails for more than a few seconds or a
// request finds no gateway, a banner says so, with Retry; the values on
// screen are marked stale (body.stale) until the gateway answers again.
let lastContact = null;
let downTimer = null;
const asof = () => document.getElementById('asof');
function contact() {
  lastContact = new Date();
  const el = asof();
  if (el) { el.textContent = 'as of ' + lastContact.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }); el.dateTime = lastContact.toISOString(); }
  clearTimeout(downTimer); downTimer = null;
  if (document.body.classList.contains('stale')) {
    document.body.classList.remove('stale');
    const b = document.getElementById('offline');
    if (b) b.hidden = true;
    // back: reload the page's data (a page that failed to load shows again)
    setTimeout(() => { if (!document.body.classList.contains('stale')) route(); }, 0);
  }
}
function unreachable() {
  // A failed request makes the live stream prove itself: reopened, it either
  // connects (the gateway is back) or errors too.
  if (!document.body.classList.contains('stale') && es) setTimeout(connectLive, 0);
  document.body.classList.add('stale');
  let b = document.getElementById('offline');
  if (!b) {
    b = h('div.offline-banner', { id: 'offline', role: 'alert' }, h('span.offline-text'),
      h('button', { type: 'button', onclick: retry }, 'Retry'));
    document.querySelector('header.top').after(b);
  }
  b.querySelector('.offline-text').textContent = 'The gateway is not answering. '
    + (lastContact ? `The values on screen are from ${lastContact.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} and may be out of date.` : 'Nothing could be loaded.');
  b.hidden = false;
}
async function retry() {
  try {
    await api('/health');
  } catch (e) { if (!(e instanceof ApiError) || e.status === 0 || e.status >= 502) return; }
  connectLive();
  refreshAlertBadge();
  route();
}
app.retry = retry;
setNetworkHandler((ok) => { if (ok) contact(); else unreachable(); });

let es = null;
function connectLive() {
  if (es) es.close();
  const dot = document.getElementById('live');
  es = new EventSource('/api/v1/events');
  es.onopen = () => { dot.className = 'live on'; dot.title = 'live updates connected'; contact(); };
  es.onerror = () => {
    dot.className = 'live off'; dot.title = 'live updates reconnecting…';
    if (!downTimer) downTimer = setTimeout(unreachable, es.readyState === EventSource.CLOSED ? 0 : 4000);
  };
  for (const type of ['reading', 'state', 'alert']) {
    es.addEventListener(type, (e) => {
      contact();
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      app.live.dispatchEvent(new CustomEvent(type, { detail: data }));
      if (type === 'alert') refreshAlertBadge();
    });
  }
}

async function refreshAlertBadge() {
  try {
    const list = await api('/alerts?status=active&limit=500');
    const b = document.getElementById('alert-count');
    b.textContent = list.length;
    b.className = 'badge' + (list.length ? (list.some((a) => a.severity === 'alarm') ? ' alarm' : ' warning') : ' hidden');
  } catch { /* shown elsewhere */ }
}

const routes = [
  [/^#\/fleet$/, (m, v) => renderFleet(v, app)],
  [/^#\/asset\/(\d+)$/, (m, v) => renderAsset(v, app, +m[1])],
  [/^#\/alerts(?:\/(\d+))?$/, (m, v) => renderAlerts(v, app, m[1] ? +m[1] : null)],
  [/^#\/sensors$/, (m, v) => renderSensors(v, app)],
  [/^#\/firmware$/, (m, v) => renderFirmware(v, app)],
  [/^#\/plant$/, (m, v) => renderPlant(v)],
  [/^#\/settings$/, (m, v) => renderSettings(v, app)],
  [/^#\/notifications(?:\/(rules|channels|routing|log))?$/, (m, v) => renderNotifications(v, app, m[1])],
];

async function route() {
  if (!app.session || !app.session.user) return;
  for (const fn of app.cleanup.splice(0)) { try { fn(); } catch { /* ignore */ } }
  const hash = location.hash || '#/fleet';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', hash.startsWith('#/' + a.dataset.nav) || (a.dataset.nav === 'fleet' && hash.startsWith('#/asset')));
  // Each page draws into a fresh container: a late re-draw of the page just
  // left (a slow request finishing, a form saved) then lands in a detached
  // element instead of over the page now shown.
  const view = h('div.view');
  main.replaceChildren(view);
  for (const [re, fn] of routes) {
    const m = hash.match(re);
    if (m) {
      try { await fn(m, view); } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) view.replaceChildren(h('p.error', 'Could not load this page: ' + e.message));
      }
      return;
    }
  }
  location.hash = '#/fleet';
}

async function start() {
  try {
    app.session = await api('/auth/session', { quiet401: true });
  } catch (e) {
    main.replaceChildren(h('p.error', 'The gateway is not answering: ' + e.message));
    return;
  }
  const who = document.getElementById('who');
  if (app.session.setup_required && !app.session.user) return showSetup();
  if (!app.session.user) return showLogin();
  const u = app.session.user;
  who.replaceChildren(
    h('span', { title: u.kind === 'local' ? 'demo: local access without sign-in' : '' }, `${u.name} · ${u.role}`),
    u.kind === 'session' ? h('button.link', {
      onclick: async () => { await api('/auth/logout', { method: 'POST' }); app.session = null; es && es.close(); start(); },
    }, 'Sign out') : (app.session.setup_required ? h('a', { href: '#/settings' }, 'Set up admin') : h('button.link', { onclick: showLogin }, 'Sign in')),
  );
  connectLive();
  refreshAlertBadge();
  route();
}

window.addEventListener('hashchange', route);
start();
export { fmt, toast };
