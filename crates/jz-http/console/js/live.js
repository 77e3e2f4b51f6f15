// Live case events from `GET /api/v1/live` (Server-Sent Events, authenticated by the session
// cookie): re-broadcast on `window` as `jz:case` events for the open view, a toast for
// escalations. EventSource reconnects by itself after a network error.

import { t } from './i18n.js';
import { toast } from './ui.js';

// The roles the server streams to (citizens and volunteers follow their own reports instead).
export const WATCHERS = ['city_operator', 'district_operator', 'street_operator', 'dispatcher', 'handler', 'inspector', 'hotline_operator', 'community_worker', 'auditor', 'admin'];

let source = null;
let connected = false;

export function start() {
  stop();
  source = new EventSource('/api/v1/live', { withCredentials: true });
  source.addEventListener('open', () => setConnected(true));
  source.addEventListener('error', () => setConnected(false));
  source.addEventListener('case', (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.kind === 'escalated') toast(t('live_escalated', { id: event.id }), 'warning');
    window.dispatchEvent(new CustomEvent('jz:case', { detail: event }));
  });
  // The server dropped events for this subscriber (it fell behind): views reload what they show.
  source.addEventListener('resync', () => {
    window.dispatchEvent(new CustomEvent('jz:case', { detail: { resync: true } }));
  });
}

export function stop() {
  if (source) source.close();
  source = null;
  setConnected(false);
}

function setConnected(value) {
  connected = value;
  showState();
}

// Paints the header's live indicator.
export function showState() {
  const badge = document.getElementById('live-state');
  if (!badge) return;
  badge.textContent = connected ? t('live_connected') : t('live_disconnected');
  badge.classList.toggle('on', connected);
}

// Calls `handler(event)` for every live case event until the returned function is called.
export function onCase(handler) {
  const listener = (e) => handler(e.detail);
  window.addEventListener('jz:case', listener);
  return () => window.removeEventListener('jz:case', listener);
}
