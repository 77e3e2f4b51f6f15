// Headless Chromium (Debian's package) through playwright-core, one fresh profile per run, and
// the helpers the tests share: log in, wait for a map to be idle, save a screenshot.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.JZ_BASE_URL || 'http://127.0.0.1:8080';
export const ARTIFACTS = process.env.JZ_ARTIFACTS || path.resolve(import.meta.dirname, '../../../target/browser-artifacts');

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--enable-unsafe-swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

mkdirSync(ARTIFACTS, { recursive: true });

// What seed.js wrote: logins and the scenario's case.
export function world() {
  return JSON.parse(readFileSync(path.join(ARTIFACTS, 'world.json'), 'utf8'));
}

export async function launch() {
  const profile = mkdtempSync(path.join(tmpdir(), 'jz-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1360, height: 860 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  context.setDefaultTimeout(20_000);
  const problems = [];
  context.on('page', (page) => watch(page, problems));
  for (const page of context.pages()) watch(page, problems);
  return {
    context,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Console errors, uncaught exceptions and failed requests of our own origin are test failures.
function watch(page, problems) {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // The browser logs every non-2xx answer as a console error; refusals the console shows (401 before
  // login, 409 for an illegal command) are expected, so answers are judged by status instead.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`server error: ${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText || '';
    // Closing an EventSource or leaving a page aborts its requests; that is not a failure.
    if (!failure.includes('ERR_ABORTED')) problems.push(`request failed: ${request.url()} ${failure}`);
  });
}

export async function page(browser) {
  const existing = browser.context.pages();
  return existing.length === 1 && existing[0].url() === 'about:blank' ? existing[0] : browser.context.newPage();
}

export async function login(page, who) {
  await page.goto(`${BASE}/`);
  // A previous user's session is closed first.
  await page.locator('#login-form, #logout').first().waitFor();
  if (await page.locator('#logout').count()) {
    await page.locator('#logout').click();
    await page.locator('#login-form').waitFor();
  }
  await page.locator('#login-name').fill(who.login);
  await page.locator('#login-password').fill(who.password);
  await page.locator('#login-submit').click();
  await page.locator('#top .who').waitFor();
}

// Waits until the map in `selector` has drawn everything it was given (its `idle` event).
export async function mapIdle(page, selector = '#map') {
  await page.locator(`${selector}[data-idle="true"]`).waitFor();
}

export async function screenshot(page, name, { fullPage = false } = {}) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}
