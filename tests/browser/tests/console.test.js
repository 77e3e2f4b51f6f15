// The rest of the console in real headless Chromium: the language switch, live updates of a
// queue, a refused command showing the API's reason, the citizen's intake form with map pick and
// photo, and the goal-cluster editor's validation and save.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE, launch, login, mapIdle, page as openPage, screenshot, world } from '../lib/browser.js';

const { logins, tokens, background } = world();
let browser;
let page;

before(async () => {
  browser = await launch();
  page = await openPage(browser);
});

after(async () => {
  await browser?.close();
});

function assertNoProblems() {
  assert.deepEqual(browser.problems, [], 'the browser reported problems');
}

// A 2×2 red PNG (no image library needed).
function png() {
  return Buffer.from(
    '89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a730000001049444154789c633861a301440c100a00235e04b16e037e1c0000000049454e44ae426082',
    'hex',
  );
}

test('the console speaks Chinese by default and English on request', async () => {
  await login(page, logins.cityop);
  assert.equal(await page.locator('#top nav a.nav-map').textContent(), '地图');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await page.locator('#lang').click();
  await page.locator('#top nav a.nav-map:text-is("Map")').waitFor();
  assert.match(await page.locator('#top .who').textContent(), /city operator/);
  assert.match(await page.locator('main h1').first().textContent(), /Case desk/);
  await screenshot(page, '20-english');
  await page.locator('#lang').click();
  await page.locator('#top nav a.nav-map:text-is("地图")').waitFor();
  assertNoProblems();
});

test('a new report appears in the open queue without a reload', async () => {
  await login(page, logins.operator);
  await page.locator('#queues a[data-queue="to_dispatch"]').click();
  await page.locator('#case-list tbody tr').first().waitFor();
  await page.locator('#live-state.on').waitFor();
  const before = await page.locator('#case-list tbody tr[data-case]').count();
  const response = await fetch(`${BASE}/api/v1/reports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.hotline}`, 'content-type': 'application/json' },
    body: JSON.stringify({ description: '岳王路路灯不亮', category: '01010', location: { lon: 120.0125, lat: 30.0045 } }),
  });
  assert.equal(response.status, 201);
  const created = await response.json();
  const row = page.locator(`#case-list tr[data-case="${created.case.id}"]`);
  await row.waitFor();
  assert.equal(await page.locator('#case-list tbody tr[data-case]').count(), before + 1);
  assert.match(await row.getAttribute('class'), /fresh/);
  await screenshot(page, '21-live-queue');
  assertNoProblems();
});

test('a refused command shows the API’s reason', async () => {
  const target = background[0].case;
  await page.goto(`${BASE}/#/cases/${target.id}`);
  await page.locator(`#case-page[data-case="${target.id}"] #case-state`).waitFor();
  await mapIdle(page, '#case-map');
  // A whistle needs the lead and at least one more department; the form lets one through.
  await page.locator('#cmd-whistle').click();
  await page.locator('#arg-lead').selectOption('hb-sanitation');
  await page.locator('#cmd-confirm').click();
  const error = page.locator('#cmd-error');
  await page.locator('#cmd-error:not(:empty)').waitFor();
  assert.match(await error.textContent(), /at least two departments/);
  assert.equal(await page.locator('#case-page').getAttribute('data-state'), target.state);
  await screenshot(page, '22-refused');
  assertNoProblems();
});

test('a citizen reports a problem with a point picked on the map and a photo', async () => {
  await login(page, logins.citizen);
  await page.locator('#intake-form').waitFor();
  await mapIdle(page, '#intake-map');
  await page.locator('#intake-description').fill('小区门口垃圾堆了好几天没人清理');
  await page.locator('#intake-suggest').click();
  await page.locator('#intake-candidates button').first().waitFor();
  await page.locator('#intake-candidates button').first().click();
  assert.notEqual(await page.locator('#intake-category').inputValue(), '');
  const box = await page.locator('#intake-map canvas').boundingBox();
  await page.mouse.click(box.x + box.width * 0.6, box.y + box.height * 0.4);
  await page.locator('#intake-point[data-grid]').waitFor();
  assert.match(await page.locator('#intake-point').getAttribute('data-grid'), /^3301\d{11}$/);
  await page.locator('#intake-photo').setInputFiles({ name: 'garbage.png', mimeType: 'image/png', buffer: png() });
  await page.locator('#intake-photo-state:has-text("✓")').waitFor();
  await screenshot(page, '23-intake-form');
  await page.locator('#intake-submit').click();
  const link = page.locator('#intake-case-link');
  await link.waitFor();
  const id = await link.getAttribute('data-case');
  await link.click();
  await page.locator(`#case-page[data-case="${id}"]`).waitFor();
  assert.match(await page.locator('#case-description').textContent(), /垃圾/);
  const photo = page.locator('#case-photos img');
  await photo.waitFor();
  await page.waitForFunction(() => document.querySelector('#case-photos img')?.naturalWidth === 2);
  await mapIdle(page, '#case-map');
  await screenshot(page, '24-intake-case');
  assertNoProblems();
});

test('a city operator reads a zone’s indicators against its goals, its ranking and trend', async () => {
  await login(page, logins.cityop);
  await page.goto(`${BASE}/#/scores?scope=zone:hubin-commercial`);
  await page.locator('#scorecard[data-loaded="true"]').waitFor();
  assert.equal(await page.locator('#score-error').count(), 0);
  assert.match(await page.locator('#score-name').textContent(), /湖滨商圈/);
  assert.equal(await page.locator('#score-goal-source').textContent(), '区域类型目标');
  const row = page.locator('#score-indicators tr[data-indicator="on_time_closure_rate"] td');
  assert.equal(await row.nth(2).textContent(), '95%');
  assert.notEqual(await row.nth(3).textContent(), '—');
  assert.equal(await page.locator('#score-chart canvas').count(), 1);
  assert.ok(await page.locator('#ranking-table tbody tr').count() >= 2, 'the districts are ranked');
  assert.equal(await page.locator('#trend-chart canvas').count(), 1);
  await screenshot(page, '25-zone-scorecard', { fullPage: true });
  assertNoProblems();
});

test('the map colours the districts by goal-attainment score', async () => {
  await page.locator('#top nav a.nav-map').click();
  await mapIdle(page);
  assert.match(await page.locator('#map-breadcrumb .current').textContent(), /测试市/);
  await page.locator('#map-metric').selectOption('score');
  await mapIdle(page);
  assert.match(await page.locator('#map-legend').textContent(), /80–100/);
  // Each district shows the score the ranking gives it ('—' where it has none).
  const ranking = await (
    await fetch(`${BASE}/api/v1/scorecards/ranking?level=district&within=330100000000`, {
      headers: { authorization: `Bearer ${tokens.cityop}` },
    })
  ).json();
  for (const item of ranking.items) {
    const shown = await page.locator(`#map-children li[data-code="${item.scope}"] .value`).textContent();
    const expected = item.score === null ? '—' : String(Math.round(item.score * 10) / 10);
    assert.equal(shown, expected, `${item.name}: map ${shown}, ranking ${item.score}`);
  }
  await screenshot(page, '26-map-scores');
  assertNoProblems();
});

test('the goal-cluster editor refuses a bad cluster and saves a good one', async () => {
  await login(page, logins.admin);
  await page.goto(`${BASE}/#/goals?subject=zone_type:commercial_district`);
  await page.locator('#goal-table tbody tr').first().waitFor();
  assert.equal(await page.locator('#goal-subject').inputValue(), 'zone_type:commercial_district');
  const weights = page.locator('#goal-table .goal-weight');
  const count = await weights.count();
  assert.ok(count >= 2);
  const first = await weights.nth(0).inputValue();
  await weights.nth(0).fill('0.9');
  await page.locator('#goal-problems').waitFor();
  assert.match(await page.locator('#goal-problems').textContent(), /权重合计为/);
  assert.equal(await page.locator('#goal-save').isDisabled(), true);
  await screenshot(page, '27-goals-invalid');
  // Move weight between the first two targets: still summing to 1.
  const second = await weights.nth(1).inputValue();
  const shift = 0.05;
  await weights.nth(0).fill(String(Math.round((Number(first) + shift) * 100) / 100));
  await weights.nth(1).fill(String(Math.round((Number(second) - shift) * 100) / 100));
  await page.locator('#goal-ok').waitFor();
  await page.locator('#goal-save').click();
  await page.locator('#goal-saved').waitFor();
  await page.locator('#goal-history li').first().waitFor();
  await screenshot(page, '28-goals-saved');
  const saved = await (await fetch(`${BASE}/api/v1/zone-types`)).json();
  const type = saved.find((z) => z.code === 'commercial_district');
  assert.equal(type.goals[0].weight, Math.round((Number(first) + shift) * 100) / 100);
  assertNoProblems();
});
