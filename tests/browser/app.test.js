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

test('a newcomer signs up, buys a paid course (a declined card first), reads a lesson, reviews it and asks for a refund', async () => {
  const me = await browser.other();
  await me.goto(`${base}/signup`);
  await me.getByLabel('Display name').fill('Nora Newcomer');
  await me.getByLabel('Email').fill('nora@example.org');
  await me.getByLabel('Password').fill('a long enough password');
  await me.locator('main form').getByRole('button', { name: 'Sign up' }).click();
  await me.getByRole('button', { name: 'Sign out' }).waitFor();

  // The catalog's price filter finds the paid courses.
  await me.getByLabel('Min price').fill('1');
  await me.locator('main form[role=search]').getByRole('button', { name: 'Search courses' }).click();
  await me.waitForURL(/min_price=100/);
  await me.locator('#result-count', { hasText: /courses/ }).waitFor();
  const prices = await me.locator('#courses .price').allTextContents();
  assert.ok(prices.length > 0 && prices.every((p) => p !== 'Free'), `only paid courses: ${prices}`);
  const title = await me.locator('#courses h2 a').first().textContent();
  await me.locator('#courses h2 a').first().click();
  await me.locator('main h1', { hasText: title }).waitFor();

  await me.getByRole('button', { name: /^Buy for / }).click();
  await me.waitForURL(/\/pay\//);
  await me.getByLabel('Card number').fill('4000 0000 0000 0002');
  await me.getByRole('button', { name: /^Pay / }).click();
  await me.locator('#pay-status', { hasText: 'The card was declined' }).waitFor();
  await shot(me, '06-card-declined');
  await me.getByLabel('Card number').fill('4242 4242 4242 4242');
  await me.getByRole('button', { name: /^Pay / }).click();
  await me.locator('#pay-status', { hasText: 'Paid.' }).waitFor();
  await me.getByRole('link', { name: 'Go to the course' }).click();
  await me.getByText('You own this course.').waitFor();

  // Every lesson opens now, locked ones included.
  assert.equal(await me.locator('.lessons li', { hasText: 'Locked' }).count(), 0);
  await me.locator('.lessons').getByRole('link', { name: 'Open' }).last().click();
  await me.locator('#lesson-body').waitFor();
  assert.ok((await me.locator('#lesson-body').textContent()).trim().length > 0, 'the lesson has a body');
  await shot(me, '07-lesson');

  // A review from the owner shows in the course's list.
  await me.goBack();
  await me.getByLabel('Rating').selectOption('4');
  await me.getByLabel('What did you think? (optional)').fill('Clear and practical.');
  await me.getByRole('button', { name: 'Save review' }).click();
  await me.locator('.reviews li', { hasText: 'Clear and practical.' }).filter({ hasText: 'Nora Newcomer' }).waitFor();
  await shot(me, '08-reviewed');

  // The order history names the course; a refund with a reason takes it back.
  await me.goto(`${base}/orders`);
  const row = me.locator('#orders tbody tr', { hasText: title });
  await row.locator('.badge', { hasText: 'paid' }).waitFor();
  await row.getByRole('button', { name: 'Ask for a refund' }).click();
  await row.getByLabel('Reason').fill('Changed my mind');
  await row.getByRole('button', { name: 'Confirm the refund' }).click();
  await me.locator('#orders tbody tr', { hasText: title }).locator('.badge', { hasText: 'refunded' }).waitFor();
  await shot(me, '09-refunded');
  assert.deepEqual(problems(), []);
});

test('two tabs refreshing the one session at once both stay signed in', async () => {
  const a = await browser.context.newPage();
  await a.goto(`${base}/orders`);
  await a.getByRole('button', { name: 'Sign out' }).waitFor();
  const b = await browser.context.newPage();
  await b.goto(`${base}/library`);
  await b.getByRole('button', { name: 'Sign out' }).waitFor();
  const refresh = (p) => p.evaluate(async () => {
    const m = await import('/js/api.js');
    try { await m.refresh(); return 'ok'; } catch (e) { return `refused: ${e.code}`; }
  });
  const whoami = (p) => p.evaluate(async () => {
    const m = await import('/js/api.js');
    try { return (await m.api('GET', '/me')).email; } catch (e) { return `refused: ${e.code}`; }
  });
  // Single-use refresh tokens: a tab that spent an old one would be taken for a thief and sign
  // everyone out. Rounds of four racing refreshes must leave both tabs signed in as before.
  const before = await whoami(a);
  assert.ok(before.includes('@'), before);
  for (let round = 0; round < 6; round += 1) {
    const results = await Promise.all([refresh(a), refresh(b), refresh(a), refresh(b)]);
    assert.deepEqual(results, ['ok', 'ok', 'ok', 'ok'], `round ${round}`);
    assert.equal(await whoami(a), before, `tab A after round ${round}`);
    assert.equal(await whoami(b), before, `tab B after round ${round}`);
  }
  await a.close();
  await b.close();
  assert.deepEqual(problems(), []);
});
