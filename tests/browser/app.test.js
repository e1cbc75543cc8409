// Browser tests of the web app: the real `lyceum` binary on a fresh SQLite data dir, driven in
// Debian's Chromium by playwright-core (never a downloaded browser). Screenshots of each flow go
// to target/browser-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startBrowser, shot } from './harness.js';

let server, browser, base, page;

before(async () => {
  server = await startServer();
  base = server.base;
  browser = await startBrowser();
  page = await browser.first();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const problems = () => browser.problems;

test('first run offers setup, loads the demo and signs a learner in', async () => {
  await page.goto(base);
  await page.waitForURL('**/setup');
  await page.getByRole('heading', { name: 'Welcome to Lyceum' }).waitFor();
  await page.getByRole('button', { name: 'Load the demo data' }).click();
  await page.getByRole('heading', { name: 'Demo data loaded' }).waitFor();
  await shot(page, '01-setup-demo-loaded');
  const signIns = page.getByRole('button', { name: /^Sign in as / });
  assert.ok(await signIns.count() > 1, 'the demo lists its accounts');
  // A learner: the card whose role line says so.
  const learnerCard = page.locator('li.card', { hasText: /learner/i }).first();
  await learnerCard.getByRole('button', { name: /^Sign in as / }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await shot(page, '02-learner-signed-in');
  assert.deepEqual(problems(), []);
});

test('the catalog lists the demo courses and a course page opens', async () => {
  await page.goto(base);
  const first = page.locator('main a[href^="/courses/"]').first();
  await first.waitFor();
  assert.ok(await page.locator('main a[href^="/courses/"]').count() >= 3, 'demo courses listed');
  await shot(page, '03-catalog');
  await first.click();
  await page.waitForURL(/\/courses\/[^/]+$/);
  await page.locator('main h1').waitFor();
  await shot(page, '04-course');
  assert.deepEqual(problems(), []);
});

test('the language switch turns the page into 简体中文 and back', async () => {
  await page.goto(base);
  await page.locator('#lang').selectOption('zh');
  await page.getByText('课程目录').first().waitFor();
  assert.match(await page.locator("html").getAttribute("lang"), /^zh/);
  await shot(page, '05-zh');
  await page.locator('#lang').selectOption('en');
  await page.getByText('Catalog').first().waitFor();
  assert.deepEqual(problems(), []);
});
