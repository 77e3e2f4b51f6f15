// The console's shell: login, the role's navigation, a hash router over the views, the language
// switch and the live event stream.

import { ApiError, del, get, post, setCsrfToken, whenUnauthenticated } from './api.js';
import { lang, setLang, t } from './i18n.js';
import { clear, h, toast } from './ui.js';
import * as live from './live.js';

const OPERATORS = ['city_operator', 'district_operator', 'street_operator'];

// What each role works with: its views (the first is its home) and its case queues.
const ROLE_VIEWS = {
  city_operator: ['cases', 'map', 'scores', 'goals', 'intake'],
  district_operator: ['cases', 'map', 'scores', 'intake'],
  street_operator: ['cases', 'map', 'scores', 'intake'],
  dispatcher: ['cases', 'map', 'scores'],
  handler: ['cases', 'map'],
  inspector: ['cases', 'map', 'intake'],
  hotline_operator: ['intake', 'cases', 'map'],
  community_worker: ['intake', 'cases'],
  volunteer: ['intake', 'cases'],
  citizen: ['intake', 'cases'],
  auditor: ['scores', 'map'],
  admin: ['goals', 'scores', 'map'],
};

const ROLE_QUEUES = {
  city_operator: ['to_register', 'to_dispatch', 'to_verify', 'to_close', 'overdue', 'postponements', 'reviews'],
  district_operator: ['to_register', 'to_dispatch', 'to_verify', 'to_close', 'overdue', 'postponements', 'reviews'],
  street_operator: ['to_register', 'to_dispatch', 'to_verify', 'to_close', 'overdue', 'postponements', 'reviews'],
  dispatcher: ['to_dispatch', 'postponements', 'overdue'],
  handler: ['to_handle', 'overdue'],
  inspector: ['to_verify', 'overdue'],
  hotline_operator: ['to_register', 'return_calls'],
};

const VIEWS = {
  map: () => import('./map.js'),
  cases: () => import('./cases.js'),
  scores: () => import('./scorecards.js'),
  goals: () => import('./goals.js'),
  intake: () => import('./intake.js'),
};

// The signed-in user and what the role may see; shared with the views.
export const session = { user: null, views: [], queues: [] };

export function isOperator(role = session.user?.role) {
  return OPERATORS.includes(role);
}

let cleanup = null;
// Each navigation renders into a fresh root; a render overtaken by a later navigation is undone
// as soon as it finishes (its map removed, its live listener dropped).
let routeToken = 0;

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [view, ...rest] = path.split('/').filter(Boolean);
  return { view, rest, params: Object.fromEntries(new URLSearchParams(query)) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const token = ++routeToken;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = document.getElementById('view');
  if (!session.user) {
    renderLogin(main);
    renderHeader();
    return;
  }
  let { view, rest, params } = parseHash();
  if (!session.views.includes(view)) {
    view = session.views[0];
    history.replaceState(null, '', `#/${view}`);
  }
  renderHeader(view);
  clear(main, h('p.muted', t('loading')));
  const module = await VIEWS[view]();
  if (token !== routeToken) return;
  const root = h('div.view-root');
  clear(main, root);
  main.dataset.view = view;
  let done = null;
  try {
    done = (await module.render(root, { rest, params })) || null;
  } catch (error) {
    if (token === routeToken) showError(error);
  }
  if (token !== routeToken) {
    done?.();
    return;
  }
  cleanup = done;
}

export function showError(error) {
  console.error(error);
  toast(t('error_generic', { message: error.message }), 'error');
}

function renderHeader(active) {
  const header = document.getElementById('top');
  const user = session.user;
  const nav = user
    ? h(
        'nav',
        session.views.map((view) =>
          h(`a.nav-${view}${view === active ? '.active' : ''}`, { href: `#/${view}` }, t(`nav_${view}`)),
        ),
      )
    : null;
  const who = user
    ? h(
        'span.who',
        h('b', user.name),
        ` · ${t(`role_${user.role}`)}`,
        ` · ${user.territory_name || user.territory || t('whole_city')}`,
      )
    : null;
  clear(
    header,
    h('span.brand', h('b', t('app_name')), h('small', t('app_subtitle'))),
    nav,
    h('span.spacer'),
    user && live.WATCHERS.includes(user.role) ? h('span.live-state#live-state', { title: 'SSE' }, t('live_disconnected')) : null,
    who,
    h('button.link#lang', { type: 'button', on: { click: switchLanguage } }, t('language_switch')),
    user ? h('button.link#logout', { type: 'button', on: { click: logout } }, t('logout')) : null,
  );
  live.showState();
}

function switchLanguage() {
  setLang(lang() === 'zh' ? 'en' : 'zh');
  route();
}

function renderLogin(main) {
  main.dataset.view = 'login';
  const message = h('p.error#login-error', { role: 'alert' });
  const form = h(
    'form.card.login#login-form',
    {
      on: {
        submit: async (event) => {
          event.preventDefault();
          const data = new FormData(form);
          message.textContent = '';
          try {
            const answer = await api_login(data.get('login'), data.get('password'));
            await signedIn(answer);
          } catch (error) {
            message.textContent = t('login_failed', { message: error.message });
          }
        },
      },
    },
    h('h1', t('login_title')),
    h('label', t('login_name'), h('input#login-name', { name: 'login', autocomplete: 'username', required: true })),
    h(
      'label',
      t('login_password'),
      h('input#login-password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
    h('button#login-submit', { type: 'submit' }, t('login_submit')),
    message,
  );
  clear(main, form);
  form.querySelector('input').focus();
}

function api_login(login, password) {
  return post('/session', { login, password });
}

async function signedIn(answer) {
  setCsrfToken(answer.csrf_token);
  const user = answer.user;
  if (user.territory) {
    try {
      user.territory_name = (await get(`/divisions/${user.territory}`)).name;
    } catch {
      user.territory_name = null;
    }
  }
  session.user = user;
  session.views = ROLE_VIEWS[user.role] || ['map'];
  session.queues = ROLE_QUEUES[user.role] || [];
  if (live.WATCHERS.includes(user.role)) live.start();
  route();
}

async function logout() {
  try {
    await del('/session');
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(error);
  }
  signedOut();
}

function signedOut() {
  live.stop();
  session.user = null;
  setCsrfToken(null);
  history.replaceState(null, '', '#/');
  route();
}

whenUnauthenticated(() => {
  if (session.user) {
    toast(t('session_expired'), 'warning');
    signedOut();
  }
});

async function boot() {
  setLang(lang());
  window.addEventListener('hashchange', route);
  try {
    const current = await get('/session', { quiet: true });
    if (current.csrf_token) {
      await signedIn(current);
      return;
    }
  } catch {
    // Not logged in: the login form.
  }
  route();
}

boot();
