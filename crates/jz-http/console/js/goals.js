// The goal-cluster editor: a zone type's or a zone's targets (indicator, target value, weight),
// checked as the domain checks them (known indicator, once each, target within the indicator's
// range, weights in (0, 1] summing to 1) before anything is sent, with the change history.

import { get, put } from './api.js';
import { session } from './app.js';
import * as data from './data.js';
import { lang, num, t, when } from './i18n.js';
import { clear, h, toast } from './ui.js';

const EDITORS = ['admin', 'city_operator'];

// The problems of a proposed cluster, in words; empty when it is valid.
export function problems(targets, indicators) {
  const found = [];
  if (targets.length === 0) found.push(t('goals_problem_empty'));
  targets.forEach((target, index) => {
    const n = index + 1;
    const indicator = indicators.find((i) => i.code === target.indicator);
    if (!indicator) found.push(t('goals_problem_unknown', { n }));
    if (targets.slice(0, index).some((other) => other.indicator === target.indicator)) {
      found.push(t('goals_problem_duplicate', { n }));
    }
    if (!(target.weight > 0 && target.weight <= 1)) found.push(t('goals_problem_weight', { n }));
    if (indicator && !(target.target >= indicator.min && target.target <= indicator.max)) {
      found.push(t('goals_problem_target', { n, min: indicator.min, max: indicator.max }));
    }
  });
  const sum = targets.reduce((total, target) => total + (Number.isFinite(target.weight) ? target.weight : 0), 0);
  if (targets.length && Math.abs(sum - 1) > 1e-6) found.push(t('goals_problem_sum', { sum: num(sum, 4) }));
  return found;
}

export async function render(main, { params }) {
  const [indicators, types, zones] = await Promise.all([data.indicators(), get('/zone-types'), get('/zones')]);
  const editable = EDITORS.includes(session.user.role);
  const subjects = [
    ...types.map((z) => ({ key: `zone_type:${z.code}`, label: lang() === 'zh' ? z.name_zh : z.name_en, goals: z.goals, version: z.version, path: `/zone-types/${z.code}/goals` })),
    ...zones.map((z) => ({ key: `zone:${z.id}`, label: `◇ ${z.name}`, goals: z.goals_override || z.effective_goals, version: z.version, path: `/zones/${z.id}/goals` })),
  ];
  let subject = subjects.find((s) => s.key === params.subject) || subjects[0];
  const picker = h(
    'select#goal-subject',
    {
      on: {
        change: (event) => {
          subject = subjects.find((s) => s.key === event.target.value);
          history.replaceState(null, '', `#/goals?subject=${encodeURIComponent(subject.key)}`);
          edit();
        },
      },
    },
    h('optgroup', { label: t('goals_zone_types') }, subjects.filter((s) => s.key.startsWith('zone_type:')).map((s) => h('option', { value: s.key, selected: s === subject }, s.label))),
    zones.length ? h('optgroup', { label: t('goals_zones') }, subjects.filter((s) => s.key.startsWith('zone:')).map((s) => h('option', { value: s.key, selected: s === subject }, s.label))) : null,
  );
  const editor = h('section#goal-editor');
  const history_ = h('section#goal-history');
  main.append(h('section.goals', h('h1', t('goals_title')), h('label', t('goals_subject'), picker), editable ? null : h('p.muted', t('goals_read_only')), editor, history_));

  const indicatorName = (i) => (lang() === 'zh' ? i.name_zh : i.name_en);

  const edit = () => {
    const rows = (subject?.goals || []).map((g) => ({ ...g }));
    const body = h('tbody');
    const status = h('div#goal-status');
    const check = () => {
      const targets = rows.map((r) => ({ indicator: r.indicator, weight: Number(r.weight), target: Number(r.target) }));
      const found = problems(targets, indicators);
      const sum = targets.reduce((total, r) => total + (Number.isFinite(r.weight) ? r.weight : 0), 0);
      clear(
        status,
        h('div', t('goals_weights_sum', { sum: num(sum, 4) })),
        found.length ? h('ul.goal-problems#goal-problems', found.map((p) => h('li', p))) : h('div.goal-ok#goal-ok', t('goals_valid')),
      );
      save.disabled = !editable || found.length > 0;
      return { targets, found };
    };
    const paintRows = () => {
      clear(
        body,
        rows.map((row, index) =>
          h(
            'tr',
            h('td', h('select.goal-indicator', { disabled: !editable, on: { change: (e) => { row.indicator = e.target.value; check(); } } },
              indicators.map((i) => h('option', { value: i.code, selected: i.code === row.indicator }, indicatorName(i))))),
            h('td', h('input.goal-target', { type: 'number', step: 'any', value: row.target, disabled: !editable, on: { input: (e) => { row.target = e.target.value; check(); } } })),
            h('td', h('input.goal-weight', { type: 'number', step: '0.05', min: 0, max: 1, value: row.weight, disabled: !editable, on: { input: (e) => { row.weight = e.target.value; check(); } } })),
            h('td', editable ? h('button.link', { type: 'button', on: { click: () => { rows.splice(index, 1); paintRows(); } } }, t('goals_remove')) : null),
          ),
        ),
      );
      check();
    };
    const save = h('button.primary#goal-save', {
      type: 'button',
      on: {
        click: async () => {
          const { targets, found } = check();
          if (found.length) return;
          try {
            const saved = await put(subject.path, { version: subject.version, targets });
            subject.version = saved.version;
            subject.goals = saved.goals || saved.goals_override || saved.effective_goals || targets;
            toast(t('goals_saved'), 'success');
            check();
            status.append(h('p.goal-ok#goal-saved', t('goals_saved')));
            showHistory();
          } catch (error) {
            toast(t('goals_save_failed', { message: error.message }), 'error');
            status.append(h('p.error#goal-save-error', { role: 'alert' }, t('goals_save_failed', { message: error.message })));
          }
        },
      },
    }, t('goals_save'));
    const add = h('button#goal-add', {
      type: 'button',
      disabled: !editable,
      on: {
        click: () => {
          const unused = indicators.find((i) => !rows.some((r) => r.indicator === i.code)) || indicators[0];
          rows.push({ indicator: unused.code, target: unused.max <= 1 ? 0.9 : 1, weight: 0.1 });
          paintRows();
        },
      },
    }, t('goals_add_target'));
    clear(
      editor,
      h('table.data#goal-table', h('thead', h('tr', ['col_indicator', 'col_target', 'col_weight', ''].map((k) => h('th', k ? t(k) : '')))), body),
      h('div.buttons', add, ' ', save),
      status,
    );
    paintRows();
    showHistory();
  };

  const showHistory = async () => {
    try {
      const entries = await get(`/goal-history?subject=${encodeURIComponent(subject.key)}`);
      clear(history_, h('h2', t('goals_history')), h('ul', entries.slice(-20).reverse().map((e) => h('li', `${when(e.at_us)} · ${e.actor} · ${e.action}`))));
    } catch {
      clear(history_);
    }
  };

  if (subject) edit();
}
