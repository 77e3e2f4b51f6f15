// The case desk: the role's queues with filters, and one case with its timeline, photos, a small
// map and the commands the role may take in the case's state.

import { get, post, qs } from './api.js';
import { navigate, session } from './app.js';
import { EMPTY, bbox, createMap, settle } from './mapkit.js';
import * as data from './data.js';
import { t, tOr, when } from './i18n.js';
import * as live from './live.js';
import { clear, h, toast } from './ui.js';

export async function render(main, { rest, params }) {
  if (rest[0]) return renderCase(main, rest[0]);
  return renderList(main, params);
}

// ---------------------------------------------------------------------------------------------
// Queues and lists.

const CHANNELS = ['web', 'inspector', 'open311', 'hotline', 'sensor', 'external'];

async function renderList(main, params) {
  const queues = session.queues;
  const queue = params.queue === 'all' ? '' : (params.queue ?? queues[0] ?? '');
  const filters = {
    state: params.state || '',
    category: params.category || '',
    channel: params.channel || '',
    division: params.division || '',
    overdue: params.overdue || '',
  };
  const categories = await data.categories().catch(() => []);

  const tabs = h(
    'nav.queues#queues',
    [...queues, ''].map((q) =>
      h(
        `a.queue${q === queue ? '.active' : ''}`,
        { href: `#/cases${qs({ ...filters, queue: q || 'all' })}`, dataset: { queue: q || 'all' } },
        t(q ? `queue_${q}` : 'queue_all'),
        h('span.count', { dataset: { count: q || 'all' } }, ''),
      ),
    ),
  );
  const form = h(
    'form.filters#filters',
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          const values = Object.fromEntries(new FormData(form));
          navigate(`#/cases${qs({ ...values, queue: queue || 'all' })}`);
        },
      },
    },
    h('label', t('filter_state'), h('select', { name: 'state' }, h('option', { value: '' }, t('filter_any')),
      ['reported', 'registered', 'dispatched', 'accepted', 'handling', 'handled', 'verified', 'closed', 'rated', 'suspended', 'rejected', 'cancelled']
        .map((s) => h('option', { value: s, selected: s === filters.state }, t(`state_${s}`))))),
    h('label', t('filter_category'), h('select', { name: 'category' }, h('option', { value: '' }, t('filter_any')),
      categories.filter((c) => c.active !== false).map((c) => h('option', { value: c.code, selected: c.code === filters.category }, `${c.code} ${c.name}`)))),
    h('label', t('filter_channel'), h('select', { name: 'channel' }, h('option', { value: '' }, t('filter_any')),
      CHANNELS.map((c) => h('option', { value: c, selected: c === filters.channel }, t(`channel_${c}`))))),
    h('label', t('filter_division'), h('input', { name: 'division', value: filters.division, size: 13, pattern: '[0-9]{12}' })),
    h('label.check', h('input', { type: 'checkbox', name: 'overdue', value: 'true', checked: filters.overdue === 'true' }), t('queue_overdue')),
    h('button', { type: 'submit' }, t('filter_apply')),
  );
  const table = h('table.cases#case-list');
  const more = h('button.link#more', { type: 'button', hidden: true }, '…');
  main.append(h('section.desk', h('h1', t('cases_title')), tabs, form, table, more));

  const query = (extra = {}) => ({
    queue: queue || undefined,
    state: filters.state,
    category: filters.category,
    channel: filters.channel,
    division: filters.division,
    overdue: filters.overdue || undefined,
    limit: 100,
    ...extra,
  });
  let shown = new Set();
  const load = async (fresh = new Set()) => {
    try {
      const cases = await get(`/cases${qs(query())}`);
      await fillTable(table, cases, fresh);
      shown = new Set(cases.map((c) => c.id));
      more.hidden = cases.length < 100;
      more.onclick = async () => {
        const next = await get(`/cases${qs(query({ before: cases[cases.length - 1].id }))}`);
        cases.push(...next);
        await fillTable(table, cases, new Set());
        more.hidden = next.length < 100;
      };
    } catch (error) {
      clear(table, h('tr', h('td.error', error.message)));
    }
    countQueues(tabs, queues);
  };
  await load();
  let timer = null;
  const fresh = new Set();
  const stop = live.onCase((event) => {
    if (!shown.has(event.id)) fresh.add(event.id);
    clearTimeout(timer);
    timer = setTimeout(() => load(new Set(fresh)), 250);
  });
  return () => {
    stop();
    clearTimeout(timer);
  };
}

async function countQueues(tabs, queues) {
  await Promise.all(
    queues.map(async (q) => {
      try {
        const cases = await get(`/cases${qs({ queue: q, limit: 500 })}`);
        const badge = tabs.querySelector(`[data-count="${q}"]`);
        if (badge) badge.textContent = cases.length >= 500 ? '500+' : String(cases.length);
      } catch {
        // A queue the role may not read shows no count.
      }
    }),
  );
}

async function fillTable(table, cases, fresh) {
  const departments = await data.departments().catch(() => []);
  const categories = await data.categories().catch(() => []);
  const department = (id) => departments.find((d) => d.id === id)?.name || id || '—';
  const category = (code) => (code ? categories.find((c) => c.code === code)?.name || code : '—');
  clear(
    table,
    h('thead', h('tr', ['col_id', 'col_state', 'col_light', 'col_category', 'col_description', 'col_place', 'col_department', 'col_reported'].map((k) => h('th', t(k))))),
    h(
      'tbody',
      cases.length === 0
        ? h('tr', h('td.muted', { colSpan: 8 }, t('no_cases')))
        : cases.map((c) =>
            h(
              `tr${fresh.has(c.id) ? '.fresh' : ''}`,
              { dataset: { case: c.id, state: c.state } },
              h('td', h('a.case-link', { href: `#/cases/${c.id}` }, c.id)),
              h('td', h(`span.state.state-${c.state}`, t(`state_${c.state}`))),
              h('td', lightBadge(c.light)),
              h('td', category(c.category)),
              h('td.description', c.description),
              h('td.mono', c.place?.grid || ''),
              h('td', department(c.department)),
              h('td', when(c.reported_at_us)),
            ),
          ),
    ),
  );
}

function lightBadge(light) {
  if (!light) return h('span.muted', '—');
  return h(`span.light.light-${light}`, t(`light_${light}`));
}

// ---------------------------------------------------------------------------------------------
// One case.

const OPS = ['city_operator', 'district_operator', 'street_operator'];
const HANDLING = ['dispatched', 'accepted', 'handling'];

// Mirrors `Command::roles()` and `Command::allowed_states()` in jz-domain's case.rs so the desk
// offers only what may succeed; the API decides, and its refusal is shown as it is.
const ACTIONS = [
  { id: 'register', roles: [...OPS, 'hotline_operator'], states: ['reported'], args: ['category'], primary: true },
  { id: 'reject', roles: [...OPS, 'hotline_operator'], states: ['reported'], args: ['reason'] },
  { id: 'dispatch', roles: ['dispatcher', ...OPS], states: ['registered'], args: ['department'], primary: true },
  { id: 'accept', roles: ['handler'], states: ['dispatched'], primary: true },
  { id: 'return', roles: ['handler'], states: ['dispatched', 'accepted'], args: ['reason'] },
  { id: 'start_handling', roles: ['handler'], states: ['accepted'], primary: true },
  { id: 'report_handled', roles: ['handler'], states: ['handling'], primary: true },
  { id: 'verify_pass', command: 'verify', fixed: { passed: true }, roles: ['inspector', ...OPS], states: ['handled'], primary: true },
  { id: 'verify_fail', command: 'verify', fixed: { passed: false }, roles: ['inspector', ...OPS], states: ['handled'] },
  { id: 'close', roles: OPS, states: ['verified'], primary: true },
  { id: 'request_postponement', roles: ['handler'], states: HANDLING, args: ['extra', 'reason'], when: (c) => !c.pending_postponement },
  { id: 'approve_postponement', command: 'decide_postponement', fixed: { approve: true }, roles: ['dispatcher', ...OPS], states: HANDLING, when: (c) => c.pending_postponement },
  { id: 'deny_postponement', command: 'decide_postponement', fixed: { approve: false }, roles: ['dispatcher', ...OPS], states: HANDLING, when: (c) => c.pending_postponement },
  { id: 'suspend', roles: OPS, states: ['registered', ...HANDLING], args: ['reason'] },
  { id: 'resume', roles: OPS, states: ['suspended'] },
  { id: 'cancel', roles: OPS, states: ['reported', 'registered', 'dispatched', 'suspended'], args: ['reason'] },
  { id: 'reopen', roles: OPS, states: ['closed', 'rated'], args: ['reason'] },
  { id: 'whistle', roles: OPS, states: ['registered', ...HANDLING], args: ['lead', 'departments'], when: (c) => !c.whistle },
  { id: 'report_for_duty', roles: ['handler'], states: HANDLING, when: (c) => c.whistle },
];

export function actionsFor(c, role) {
  return ACTIONS.filter((a) => a.roles.includes(role) && a.states.includes(c.state) && (!a.when || a.when(c)));
}

async function renderCase(main, id) {
  const page = h('section.case-page#case-page', { dataset: { case: id } });
  main.append(page);
  let mapHandle = null;
  const load = async () => {
    const detail = await get(`/cases/${id}`);
    mapHandle = await paintCase(page, detail, load, mapHandle);
  };
  try {
    await load();
  } catch (error) {
    clear(page, h('p.error', { role: 'alert' }, error.message), h('a', { href: '#/cases' }, t('back_to_list')));
    return null;
  }
  let timer = null;
  const stop = live.onCase((event) => {
    if (!event.resync && event.id !== id) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const version = Number(page.dataset.version);
      const detail = await get(`/cases/${id}`).catch(() => null);
      if (detail && detail.case.version !== version) {
        mapHandle = await paintCase(page, detail, load, mapHandle);
        toast(t('case_changed_live'), 'info');
      }
    }, 250);
  });
  return () => {
    stop();
    clearTimeout(timer);
    mapHandle?.map.remove();
  };
}

async function paintCase(page, detail, reload, mapHandle) {
  const c = detail.case;
  const [departments, categoryName] = await Promise.all([data.departments().catch(() => []), data.categoryName(c.category)]);
  const departmentName = (id) => departments.find((d) => d.id === id)?.name || id || '—';
  page.dataset.version = c.version;
  page.dataset.state = c.state;

  const info = h(
    'dl.case-info',
    row(t('col_state'), h(`span.state.state-${c.state}#case-state`, { dataset: { state: c.state } }, t(`state_${c.state}`))),
    row(t('col_category'), c.category ? `${c.category} ${categoryName}` : '—'),
    row(t('col_description'), h('span#case-description', c.description)),
    row(t('col_department'), h('span#case-department', departmentName(c.department))),
    row(t('col_place'), h('span.mono', c.place.grid)),
    row(t('case_level'), t(`level_${c.level}`)),
    row(t('case_urgency'), tOr(`urgency_${c.urgency}`, c.urgency)),
    row(t('case_channel'), tOr(`channel_${c.channel}`, c.channel)),
    row(t('case_deadline'), c.clock ? h('span', when(c.clock.deadline_at_us), ' ', lightBadge(c.light)) : '—'),
    row(t('case_reporters'), String(c.reporters)),
    row(t('case_counters'), `${c.reworks} / ${c.returns} / ${c.reopens} / ${c.postponements}`),
    row(t('case_version'), h('span#case-version', String(c.version))),
  );

  const actions = h('section.actions#case-actions', h('h2', t('case_actions')));
  const error = h('p.error#cmd-error', { role: 'alert' });
  const note = h('textarea#cmd-note', { rows: 2, placeholder: t('case_note') });
  const argsBox = h('div.command-args#cmd-args');
  const offered = actionsFor(c, session.user.role);
  const run = async (action, args = {}) => {
    error.textContent = '';
    const body = { version: c.version, command: action.command || action.id, ...(action.fixed || {}), ...args };
    if (note.value.trim()) body.note = note.value.trim();
    try {
      await post(`/cases/${c.id}/commands`, body);
      toast(t('case_done', { command: t(`cmd_${action.id}`) }), 'success');
      await reload();
    } catch (failure) {
      error.textContent = t('case_refused', { message: failure.message });
      toast(t('case_refused', { message: failure.message }), 'error');
    }
  };
  if (offered.length === 0) {
    actions.append(h('p.muted', t('case_no_actions')), error);
  } else {
    actions.append(
      h(
        'div.buttons',
        offered.map((action) =>
          h(
            `button.cmd${action.primary ? '.primary' : ''}#cmd-${action.id}`,
            {
              type: 'button',
              dataset: { command: action.id },
              on: {
                click: () => (action.args ? askArgs(argsBox, action, departments, c, run) : run(action)),
              },
            },
            t(`cmd_${action.id}`),
          ),
        ),
      ),
      argsBox,
      note,
      error,
    );
  }

  // The reporter's rating (citizens) or the hotline's return call, once the case is closed.
  if (['citizen', 'hotline_operator'].includes(session.user.role) && ['closed', 'rated'].includes(c.state)) {
    const report = detail.reports[0];
    if (report) {
      actions.append(
        h('h3', t('rate_title')),
        h(
          'div.buttons#rate-buttons',
          ['satisfied', 'basically_satisfied', 'dissatisfied'].map((rating) =>
            h(`button#rate-${rating}`, {
              type: 'button',
              on: {
                click: async () => {
                  error.textContent = '';
                  try {
                    await post(`/reports/${report.id}/rating`, { rating, comment: note.value.trim() || undefined });
                    toast(t('rate_done'), 'success');
                    await reload();
                  } catch (failure) {
                    error.textContent = t('case_refused', { message: failure.message });
                  }
                },
              },
            }, t(`rating_${rating}`)),
          ),
        ),
      );
      if (!actions.contains(note)) actions.append(note);
      actions.append(error);
    }
  }

  const photos = detail.timeline.flatMap((e) => e.photos || []);
  const timeline = h(
    'ol.timeline#case-timeline',
    detail.timeline.map((e) =>
      h(
        'li',
        { dataset: { kind: e.kind } },
        h('span.when', when(e.at_us)),
        h('b', tOr(`event_${e.kind}`, tOr(`state_${e.kind}`, e.kind))),
        h('span.muted', ` · ${tOr(`role_${e.role}`, e.role)}`),
        e.from && e.from !== e.to ? h('span.muted', ` · ${t(`state_${e.from}`)} → ${t(`state_${e.to}`)}`) : null,
        e.note ? h('div.note', e.note) : null,
        e.detail?.department ? h('div.muted', `${t('arg_department')}: ${departmentName(e.detail.department)}`) : null,
        e.detail?.reason ? h('div.muted', `${t('arg_reason')}: ${e.detail.reason}`) : null,
      ),
    ),
  );
  const mapBox = mapHandle?.box || h('div.case-map#case-map');
  clear(
    page,
    h('a.back', { href: '#/cases' }, `← ${t('back_to_list')}`),
    h('h1', t('case_title', { id: c.id }), ' ', lightBadge(c.light)),
    h(
      'div.case-columns',
      h('div', info, actions, h('h2', t('case_timeline')), timeline),
      h(
        'div',
        mapBox,
        h('h2', t('case_photos')),
        photos.length
          ? h('div.photos#case-photos', photos.map((p) => h('a', { href: `/api/v1/photos/${p}`, target: '_blank' }, h('img', { src: `/api/v1/photos/${p}`, alt: p, loading: 'lazy' }))))
          : h('p.muted#case-photos', t('none')),
        h('h2', t('case_reports')),
        h('ul.reports', detail.reports.map((r) => h('li', h('span.when', when(r.reported_at_us)), ` ${tOr(`channel_${r.channel}`, r.channel)} · `, r.description, r.address ? h('div.muted', r.address) : null))),
      ),
    ),
  );
  return paintCaseMap(mapBox, c, mapHandle);
}

function row(label, value) {
  return [h('dt', label), h('dd', value)];
}

// The small map of a case: its unit grid and its point.
async function paintCaseMap(box, c, handle) {
  let map = handle?.map;
  if (!map) {
    map = await createMap(box, { center: [c.place.lon, c.place.lat], zoom: 16 });
    map.addSource('grid', { type: 'geojson', data: EMPTY });
    map.addSource('point', { type: 'geojson', data: EMPTY });
    map.addLayer({ id: 'grid-fill', type: 'fill', source: 'grid', paint: { 'fill-color': '#6baed6', 'fill-opacity': 0.3 } });
    map.addLayer({ id: 'grid-line', type: 'line', source: 'grid', paint: { 'line-color': '#2171b5', 'line-width': 2 } });
    map.addLayer({
      id: 'point',
      type: 'circle',
      source: 'point',
      paint: { 'circle-color': '#d7301f', 'circle-radius': 8, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
    });
  }
  map.getSource('point').setData({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [c.place.lon, c.place.lat] } });
  try {
    const grid = await data.grid(c.place.grid);
    if (grid.geometry) {
      map.getSource('grid').setData({ type: 'Feature', properties: {}, geometry: grid.geometry });
      const box2 = bbox(grid.geometry);
      if (box2) map.fitBounds(box2, { padding: 40, duration: 0, maxZoom: 17 });
    }
  } catch {
    // The point alone is enough.
  }
  settle(map);
  return { map, box };
}

// An inline form for a command's arguments.
function askArgs(box, action, departments, c, run) {
  const fields = {
    department: () =>
      h('label', t('arg_department'), h('select#arg-department', { name: 'department', required: true },
        h('option', { value: '' }, '—'),
        departments.filter((d) => d.active !== false).map((d) => h('option', { value: d.id }, `${d.name} (${d.id})`)))),
    category: () => categoryField(c),
    reason: () => h('label', t('arg_reason'), h('input#arg-reason', { name: 'reason', required: true, maxLength: 500 })),
    extra: () => h('label', t('arg_extra'), h('input#arg-extra', { name: 'extra', type: 'number', min: 1, max: 30, value: 1, required: true })),
    lead: () =>
      h('label', t('arg_lead'), h('select#arg-lead', { name: 'lead', required: true },
        departments.map((d) => h('option', { value: d.id }, d.name)))),
    departments: () =>
      h('label', t('arg_departments'), h('select#arg-departments', { name: 'departments', multiple: true, size: Math.min(6, departments.length) },
        departments.map((d) => h('option', { value: d.id }, d.name)))),
  };
  const form = h(
    'form.args',
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          const args = {};
          for (const name of action.args) {
            const input = form.elements[name];
            if (name === 'departments') args.departments = [...input.selectedOptions].map((o) => o.value);
            else if (name === 'extra') args.extra = Number(input.value);
            else args[name] = input.value;
            if (name !== 'departments' && !args[name]) {
              form.querySelector('.error').textContent = t('arg_required', { field: t(`arg_${name}`) });
              return;
            }
          }
          clear(box);
          run(action, args);
        },
      },
    },
    h('h3', t(`cmd_${action.id}`)),
    action.args.map((name) => fields[name]()),
    h('button.primary#cmd-confirm', { type: 'submit' }, t(`cmd_${action.id}`)),
    h('p.error'),
  );
  clear(box, form);
  form.querySelector('select, input')?.focus();
}

function categoryField(c) {
  const select = h('select#arg-category', { name: 'category', required: true }, h('option', { value: '' }, '—'));
  data.categories().then((all) => {
    const suggested = new Set(c.candidates || []);
    const sorted = all.filter((k) => k.active !== false).sort((a, b) => Number(suggested.has(b.code)) - Number(suggested.has(a.code)));
    for (const k of sorted) select.append(h('option', { value: k.code }, `${suggested.has(k.code) ? '★ ' : ''}${k.code} ${k.name}`));
  });
  return h('label', t('arg_category'), select);
}
