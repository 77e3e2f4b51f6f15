// Issue #6's scenario through the console in real headless Chromium: a street operator drills the
// map to a grid, opens a case and dispatches it; a handler accepts, handles and reports it
// handled; an inspector verifies it; the operator closes it and sees the scorecard change; the
// hotline records the reporter's rating. Each step saves a screenshot and asserts on what the
// page shows.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE, launch, login, mapIdle, page as openPage, screenshot, world } from '../lib/browser.js';

const { logins, scenarioCase } = world();
const caseId = scenarioCase.id;
let browser;
let page;
let closedBefore;

before(async () => {
  browser = await launch();
  page = await openPage(browser);
});

after(async () => {
  await browser?.close();
});

// Each step checks that the browser saw no script error and no server error.
function assertNoProblems() {
  assert.deepEqual(browser.problems, [], 'the browser reported problems');
}

async function closedCount() {
  await page.goto(`${BASE}/#/scores`);
  await page.locator('#scorecard[data-loaded="true"]').waitFor();
  const error = page.locator('#score-error');
  if (await error.count()) assert.fail(`the scorecard failed: ${await error.textContent()}`);
  const cell = page.locator('#score-counts [data-count="closed"] .value');
  return Number(await cell.textContent());
}

async function openFromQueue(queue) {
  await page.goto(`${BASE}/#/cases?queue=${queue}`);
  const row = page.locator(`#case-list tr[data-case="${caseId}"]`);
  await row.waitFor();
  await row.locator('a.case-link').click();
  await page.locator(`#case-page[data-case="${caseId}"] #case-state`).waitFor();
  await mapIdle(page, '#case-map');
}

async function command(id, expectedState) {
  await page.locator(`#cmd-${id}`).click();
  await page.locator(`#case-page[data-state="${expectedState}"]`).waitFor();
  assert.equal(await page.locator('#cmd-error').textContent(), '');
}

test('a street operator logs in and sees the case waiting for dispatch', async () => {
  await login(page, logins.operator);
  assert.match(await page.locator('#top .who').textContent(), /街道操作员/);
  assert.match(await page.locator('#top .who').textContent(), /湖滨街道/);
  const tab = page.locator('#queues a.active');
  assert.equal(await tab.getAttribute('data-queue'), 'to_register');
  await page.locator('#queues a[data-queue="to_dispatch"]').click();
  const row = page.locator(`#case-list tr[data-case="${caseId}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'registered');
  assert.match(await row.textContent(), /井盖松动/);
  await screenshot(page, '01-operator-queue');
  assert.ok(Number.isFinite((closedBefore = await closedCount())), 'the scorecard shows a closed count');
  await screenshot(page, '02-scorecard-before', { fullPage: true });
  assertNoProblems();
});

test('the operator drills the map from the street to a community and to the case grid', async () => {
  await page.locator('#top nav a.nav-map').click();
  await mapIdle(page);
  const crumbs = page.locator('#map-breadcrumb');
  assert.match(await crumbs.locator('.current').textContent(), /湖滨街道/);
  // The street's communities are generated inside it: hatched, dashed, and listed as generated.
  assert.ok(await page.locator('#map-children li .generated-tag').count() >= 2);
  assert.match(await page.locator('#map-legend').textContent(), /生成边界/);
  assert.equal(await page.locator('#map canvas.maplibregl-canvas').count(), 1);
  await screenshot(page, '03-map-street');

  await page.locator('#map-children li[data-code="330102001001"] a').click();
  await mapIdle(page);
  assert.match(await crumbs.locator('.current').textContent(), /东坡路社区/);
  assert.equal(await crumbs.locator('[data-level="community"]').count(), 1);
  const grids = await page.locator('#map-children li').count();
  assert.ok(grids > 50, `the community shows its unit grids (${grids})`);
  await screenshot(page, '04-map-community');

  // A click on the map itself selects the grid under the pointer (a spot of the community's
  // north-east with no case marker on it).
  const box = await page.locator('#map canvas').boundingBox();
  await page.mouse.click(box.x + box.width * 0.7, box.y + box.height * 0.2);
  await mapIdle(page);
  assert.equal(await crumbs.locator('.current').getAttribute('data-level'), 'grid');

  // The case's own grid, from the list of grids.
  const grid = scenarioCase.place.grid;
  await page.locator(`#map-children li[data-code="${grid}"] a`).click();
  await mapIdle(page);
  assert.equal(await crumbs.locator('.current').getAttribute('data-code'), grid);
  assert.match(await page.locator('#map-title').textContent(), new RegExp(grid));
  const link = page.locator(`#grid-info a[data-case="${caseId}"]`);
  await link.waitFor();
  await screenshot(page, '05-map-grid');
  await link.click();
  await page.locator(`#case-page[data-case="${caseId}"]`).waitFor();
  assertNoProblems();
});

test('the operator opens the case and dispatches it to the municipal office', async () => {
  await mapIdle(page, '#case-map');
  assert.equal(await page.locator('#case-state').getAttribute('data-state'), 'registered');
  assert.match(await page.locator('#case-description').textContent(), /井盖松动/);
  assert.match(await page.locator('#case-timeline').textContent(), /已立案/);
  await page.locator('#cmd-dispatch').click();
  await page.locator('#arg-department').selectOption('hb-municipal');
  await screenshot(page, '06-dispatch-form');
  await page.locator('#cmd-confirm').click();
  await page.locator('#case-page[data-state="dispatched"]').waitFor();
  assert.match(await page.locator('#case-department').textContent(), /湖滨街道市政所/);
  assert.match(await page.locator('#case-timeline').textContent(), /已派遣/);
  await screenshot(page, '07-dispatched');
  assertNoProblems();
});

test('a handler accepts the case, handles it and reports it handled', async () => {
  await login(page, logins.handler);
  assert.match(await page.locator('#top .who').textContent(), /处置员/);
  await openFromQueue('to_handle');
  // The handler is offered the handler's commands only.
  assert.equal(await page.locator('#cmd-dispatch').count(), 0);
  await command('accept', 'accepted');
  await screenshot(page, '08-accepted');
  await command('start_handling', 'handling');
  await page.locator('#cmd-note').fill('已更换井盖并加固');
  await command('report_handled', 'handled');
  assert.match(await page.locator('#case-timeline').textContent(), /已更换井盖并加固/);
  await screenshot(page, '09-handled');
  assertNoProblems();
});

test('an inspector verifies the work on site', async () => {
  await login(page, logins.inspector);
  await openFromQueue('to_verify');
  await command('verify_pass', 'verified');
  assert.match(await page.locator('#case-timeline').textContent(), /已核查/);
  await screenshot(page, '10-verified');
  assertNoProblems();
});

test('the operator closes the case and the scorecard counts it', async () => {
  await login(page, logins.operator);
  await openFromQueue('to_close');
  await command('close', 'closed');
  assert.match(await page.locator('#case-state').textContent(), /已结案/);
  await screenshot(page, '11-closed');
  const closedAfter = await closedCount();
  assert.equal(closedAfter, closedBefore + 1, `closed before ${closedBefore}, after ${closedAfter}`);
  await screenshot(page, '12-scorecard-after', { fullPage: true });
  assertNoProblems();
});

test('the hotline calls the reporter back and records the rating', async () => {
  await login(page, logins.hotline);
  await openFromQueue('return_calls');
  await page.locator('#rate-satisfied').click();
  await page.locator('#case-page[data-state="rated"]').waitFor();
  assert.match(await page.locator('#case-state').textContent(), /已评价/);
  await screenshot(page, '13-rated');
  assertNoProblems();
});
