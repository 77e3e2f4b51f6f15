// Scorecards: one division's or zone's indicators against its goals (attainment, weighted score,
// grade, gap), its counts, the ranking of its subdivisions or departments, and an indicator's
// trend — charts by the vendored ECharts.

import { get, qs } from './api.js';
import { session } from './app.js';
import * as data from './data.js';
import { lang, num, t, tOr } from './i18n.js';
import * as live from './live.js';
import { clear, h, isoDate, loadScript } from './ui.js';

const ECHARTS = '/console/vendor/echarts.min.js';

// Counters shown first, in this order; the rest follow as the API lists them.
const MAIN_COUNTS = ['reported', 'registered', 'dispatched', 'handled', 'closed', 'closed_on_time', 'open', 'overdue_open', 'overdue', 'reworked'];

export async function render(main, { params }) {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 29 * 86400_000);
  const state = {
    scope: params.scope || session.user.territory || (await data.rootCode()),
    from: params.from || isoDate(monthAgo),
    to: params.to || isoDate(today),
    department: params.department || '',
    rankingBy: params.by || 'score',
    indicator: params.indicator || 'on_time_closure_rate',
    bucket: params.bucket || 'day',
  };
  const [indicators, scopes, zones] = await Promise.all([
    data.indicators(),
    scopeChoices(state.scope),
    session.user.territory ? [] : get('/zones').catch(() => []),
  ]);
  const indicatorName = (code) => {
    const found = indicators.find((i) => i.code === code);
    return found ? (lang() === 'zh' ? found.name_zh : found.name_en) : code;
  };

  const scopeSelect = h(
    'select#score-scope',
    { name: 'scope' },
    scopes.map((d) => h('option', { value: d.code, selected: d.code === state.scope }, `${'　'.repeat(d.depth)}${d.name}`)),
    zones.map((z) => h('option', { value: `zone:${z.id}`, selected: `zone:${z.id}` === state.scope }, `◇ ${z.name}`)),
  );
  const form = h(
    'form.filters#score-form',
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          Object.assign(state, Object.fromEntries(new FormData(form)));
          history.replaceState(null, '', `#/scores${qs({ scope: state.scope, from: state.from, to: state.to, department: state.department })}`);
          refresh();
        },
      },
    },
    h('label', t('scores_scope'), scopeSelect),
    h('label', t('scores_from'), h('input#score-from', { type: 'date', name: 'from', value: state.from })),
    h('label', t('scores_to'), h('input#score-to', { type: 'date', name: 'to', value: state.to })),
    h('button.primary#score-show', { type: 'submit' }, t('scores_show')),
  );
  const card = h('section#scorecard', { dataset: { loaded: 'false' } });
  const rankingBox = h('section#ranking');
  const trendBox = h('section#trend');
  main.append(h('section.scores', h('h1', t('scores_title')), form, card, h('div.charts', rankingBox, trendBox)));

  await loadScript(ECHARTS);
  const echarts = window.echarts;
  const charts = [];
  const chart = (element) => {
    const instance = echarts.init(element, null, { renderer: 'canvas' });
    charts.push(instance);
    return instance;
  };
  const resize = () => charts.forEach((c) => c.resize());
  window.addEventListener('resize', resize);

  const refresh = async () => {
    card.dataset.loaded = 'false';
    for (const c of charts.splice(0)) c.dispose();
    await Promise.all([paintScorecard(), paintRanking(), paintTrend()]);
    card.dataset.loaded = 'true';
  };

  const paintScorecard = async () => {
    let sc;
    try {
      sc = await get(`/scorecards${qs({ scope: state.scope, from: state.from, to: state.to, department: state.department })}`);
    } catch (error) {
      clear(card, h('p.error#score-error', { role: 'alert' }, t('scores_unavailable', { message: error.message })));
      return;
    }
    const counts = Object.entries(sc.counts || {}).sort(
      ([a], [b]) => rank(a) - rank(b) || a.localeCompare(b),
    );
    const attainmentChart = h('div.chart#score-chart');
    clear(
      card,
      h(
        'div.score-head',
        h('div', h('h2#score-name', sc.name || sc.scope), h('div.muted', `${sc.from} — ${sc.to}`)),
        h('div', h('div.muted', t('scores_score')), h('div.score-big#score-value', sc.score === null ? '—' : num(sc.score, 1))),
        h('div', h('div.muted', t('scores_grade')), h('span.grade#score-grade', sc.grade || '—')),
        h('div', h('div.muted', t('scores_goal_source')), h('span#score-goal-source', t(`goal_source_${sc.goal_source || 'none'}`))),
        sc.limits
          ? h(
              'div#score-limits',
              h('div.muted', t('scores_limits')),
              h('div', `${t('limit_objective')}: ${pct(sc.limits.objective?.value)}`),
              h('div', `${t('limit_satisfaction')}: ${pct(sc.limits.satisfaction?.value)}`),
            )
          : null,
      ),
      h('div.charts',
        h('div',
          h('h3', t('scores_indicators')),
          h(
            'table.data#score-indicators',
            h('thead', h('tr', ['col_indicator', 'col_value', 'col_target', 'col_weight', 'col_attainment', 'col_gap'].map((k) => h('th', t(k))))),
            h(
              'tbody',
              (sc.indicators || []).map((i) =>
                h(
                  'tr',
                  { dataset: { indicator: i.code } },
                  h('td', lang() === 'zh' ? i.name_zh : i.name_en),
                  h('td.value', fmt(i.code, i.value, indicators)),
                  h('td', fmt(i.code, i.target, indicators)),
                  h('td', i.weight === null || i.weight === undefined ? '—' : num(i.weight, 2)),
                  h('td', pct(i.attainment)),
                  h('td', fmt(i.code, i.gap, indicators)),
                ),
              ),
            ),
          ),
        ),
        attainmentChart,
      ),
      h('h3', t('scores_counts')),
      h(
        'div.counts#score-counts',
        counts.map(([key, value]) => h('div.count', { dataset: { count: key } }, h('span.label', tOr(`count_${key}`, key)), h('span.value', String(value)))),
      ),
    );
    // Indicators against goals: the ratio indicators' values as bars, their targets as marks.
    const ratios = (sc.indicators || []).filter((i) => indicators.find((k) => k.code === i.code)?.unit === 'ratio');
    const percent = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);
    chart(attainmentChart).setOption({
      title: { text: t('scores_indicators'), left: 'center', textStyle: { fontSize: 13 } },
      legend: { bottom: 0, data: [t('col_value'), t('col_target')] },
      grid: { left: 150, right: 30, top: 36, bottom: 40 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => (v === null || v === undefined ? '—' : `${v}%`) },
      xAxis: { type: 'value', max: 100, axisLabel: { formatter: '{value}%' } },
      yAxis: { type: 'category', data: ratios.map((i) => (lang() === 'zh' ? i.name_zh : i.name_en)), inverse: true },
      series: [
        {
          name: t('col_value'),
          type: 'bar',
          data: ratios.map((i) => ({
            value: percent(i.value),
            itemStyle: { color: i.attainment === null || i.attainment === undefined ? '#6baed6' : i.attainment >= 1 ? '#1a9850' : i.attainment >= 0.8 ? '#fdae61' : '#d73027' },
          })),
        },
        { name: t('col_target'), type: 'scatter', symbol: 'diamond', symbolSize: 12, itemStyle: { color: '#111' }, data: ratios.map((i) => percent(i.target)) },
      ],
    });
  };

  const paintRanking = async () => {
    const level = rankingLevel(state.scope);
    if (!level) {
      clear(rankingBox);
      return;
    }
    const byOptions = ['score', ...indicators.map((i) => i.code)];
    const bySelect = h(
      'select#ranking-by',
      { on: { change: (e) => { state.rankingBy = e.target.value; paintRanking(); } } },
      byOptions.map((code) => h('option', { value: code, selected: code === state.rankingBy }, code === 'score' ? t('col_score') : indicatorName(code))),
    );
    const levelSelect = h(
      'select#ranking-level',
      { on: { change: (e) => { state.rankingLevel = e.target.value; paintRanking(); } } },
      [level, 'department'].map((l) => h('option', { value: l, selected: l === (state.rankingLevel || level) }, t(`level_${l}`))),
    );
    const chosenLevel = state.rankingLevel || level;
    const box = h('div.chart#ranking-chart');
    const table = h('table.data#ranking-table');
    clear(rankingBox, h('h3', t('scores_ranking')), h('div.filters', h('label', t('scores_ranking_level'), levelSelect), h('label', t('scores_indicator'), bySelect)), box, table);
    let ranking;
    try {
      ranking = await get(`/scorecards/ranking${qs({ level: chosenLevel, within: state.scope.startsWith('zone:') ? undefined : state.scope, from: state.from, to: state.to, by: state.rankingBy })}`);
    } catch (error) {
      clear(box, h('p.error', error.message));
      return;
    }
    const items = ranking.items || [];
    clear(
      table,
      h('thead', h('tr', ['col_rank', 'col_name', 'col_value', 'col_score', 'scores_grade', 'col_open', 'col_overdue'].map((k) => h('th', t(k))))),
      h('tbody', items.map((i) => h('tr', { dataset: { scope: i.scope } }, h('td', String(i.rank)), h('td', i.name), h('td', state.rankingBy === 'score' ? num(i.value, 1) : fmt(state.rankingBy, i.value, indicators)), h('td', num(i.score, 1)), h('td', i.grade || '—'), h('td', String(i.open ?? '—')), h('td', String(i.overdue ?? '—'))))),
    );
    chart(box).setOption({
      grid: { left: 110, right: 30, top: 20, bottom: 30 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: { type: 'value' },
      yAxis: { type: 'category', data: items.map((i) => i.name), inverse: true },
      series: [{ type: 'bar', data: items.map((i) => i.value), itemStyle: { color: '#2171b5' } }],
    });
  };

  const paintTrend = async () => {
    const indicatorSelect = h(
      'select#trend-indicator',
      { on: { change: (e) => { state.indicator = e.target.value; paintTrend(); } } },
      indicators.map((i) => h('option', { value: i.code, selected: i.code === state.indicator }, indicatorName(i.code))),
    );
    const bucketSelect = h(
      'select#trend-bucket',
      { on: { change: (e) => { state.bucket = e.target.value; paintTrend(); } } },
      ['day', 'week', 'month'].map((b) => h('option', { value: b, selected: b === state.bucket }, t(`bucket_${b}`))),
    );
    const box = h('div.chart#trend-chart');
    clear(trendBox, h('h3', t('scores_trend')), h('div.filters', h('label', t('scores_indicator'), indicatorSelect), h('label', t('scores_bucket'), bucketSelect)), box);
    let trend;
    try {
      trend = await get(`/scorecards/trend${qs({ scope: state.scope, from: state.from, to: state.to, bucket: state.bucket, indicator: state.indicator, department: state.department })}`);
    } catch (error) {
      clear(box, h('p.error', error.message));
      return;
    }
    const points = trend.points || [];
    const ratio = indicators.find((i) => i.code === state.indicator)?.unit === 'ratio';
    chart(box).setOption({
      grid: { left: 50, right: 20, top: 20, bottom: 40 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: points.map((p) => p.start) },
      yAxis: { type: 'value', max: ratio ? 100 : undefined, axisLabel: { formatter: ratio ? '{value}%' : '{value}' } },
      series: [{ type: 'line', connectNulls: false, data: points.map((p) => (p.value === null ? null : ratio ? Math.round(p.value * 1000) / 10 : p.value)), itemStyle: { color: '#e6550d' } }],
    });
  };

  await refresh();
  // A case event changes counts: refresh the card (debounced) while the view is open.
  let timer = null;
  const stop = live.onCase(() => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 500);
  });
  return () => {
    stop();
    clearTimeout(timer);
    window.removeEventListener('resize', resize);
    for (const c of charts) c.dispose();
  };
}

function rank(key) {
  const i = MAIN_COUNTS.indexOf(key);
  return i < 0 ? MAIN_COUNTS.length : i;
}

function pct(value) {
  return value === null || value === undefined ? '—' : `${num(value * 100, 1)}%`;
}

function fmt(code, value, indicators) {
  if (value === null || value === undefined) return '—';
  const unit = indicators.find((i) => i.code === code)?.unit;
  return unit === 'ratio' ? pct(value) : num(value, 2);
}

// The level ranked inside a scope: its children (a community's grids are not ranked).
function rankingLevel(scope) {
  if (!scope || scope.startsWith('zone:')) return 'district';
  const next = data.childLevel(data.levelOf(scope));
  return ['district', 'street', 'community'].includes(next) ? next : null;
}

// The scope choices: the user's territory and its children, or for city-wide users the city,
// its districts and their streets (one tree request).
async function scopeChoices(scope) {
  const choices = [];
  if (session.user.territory) {
    const top = await data.division(session.user.territory);
    choices.push({ code: top.code, name: top.name, depth: 0 });
    const children = await Promise.all(top.children.map((code) => data.division(code)));
    for (const child of children) choices.push({ code: child.code, name: child.name, depth: 1 });
  } else {
    const walk = (node, depth) => {
      choices.push({ code: node.code, name: node.name, depth });
      for (const child of node.children || []) walk(child, depth + 1);
    };
    for (const root of await get('/divisions?depth=2')) walk(root, 0);
  }
  if (scope && !scope.startsWith('zone:') && !choices.some((c) => c.code === scope)) {
    const view = await data.division(scope).catch(() => null);
    if (view) choices.push({ code: scope, name: view.name, depth: 0 });
  }
  return choices;
}
