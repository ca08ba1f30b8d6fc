// SPDX-License-Identifier: Apache-2.0
// Notifications (#/notifications/rules|channels|routing|log): alerts that
// reach people (docs/notifications.md). One tab per part; each lives in its
// own module. Every role reads; technicians edit rules, admins channels
// and routes (the REST API enforces the same).
import { h } from '../api.js';
import { renderRules } from './notify_rules.js';
import { renderChannels } from './notify_channels.js';
import { renderRoutes } from './notify_routes.js';
import { renderLog } from './notify_log.js';

const TABS = [
  ['rules', 'Rules', renderRules],
  ['channels', 'Channels', renderChannels],
  ['routing', 'Routing & escalation', renderRoutes],
  ['log', 'Delivery log', renderLog],
];

export async function renderNotifications(main, app, tab) {
  const current = TABS.find((t) => t[0] === tab) || TABS[0];
  const body = h('section.notify', { id: 'notify-panel', 'aria-labelledby': `ntab-${current[0]}` }, h('p.muted', 'Loading…'));
  main.replaceChildren(
    h('div.page-head', h('h1', 'Notifications')),
    h('nav.tabs.ntabs', { 'aria-label': 'Notifications' }, TABS.map(([key, text]) => h('a.button.tab' + (key === current[0] ? '.active' : ''), {
      id: `ntab-${key}`, href: `#/notifications/${key}`, 'aria-current': key === current[0] ? 'page' : null,
    }, text))),
    body);
  await current[2](body, app);
}
