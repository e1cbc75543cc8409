// Browser tests of the web app: the real `lyceum` binary on a fresh SQLite data dir, driven in
// Debian's Chromium by playwright-core (never a downloaded browser). Screenshots of each flow go
// to target/browser-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.LYCEUM_BIN ?? join(repo, 'target/debug/lyceum');
const shots = join(repo, 'target/browser-artifacts');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server, base, context, page, dataDir, profileDir;
const problems = [];

/** A free loopback port, found by binding port 0. */
function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

/** Polls /readyz until the server answers, failing if it exits first. */
async function ready(url, child) {
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try { if ((await fetch(`${url}/readyz`)).ok) return; } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('server never became ready');
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'lyceum-browser-data-'));
  profileDir = mkdtempSync(join(tmpdir(), 'lyceum-browser-profile-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, [], {
    env: { ...process.env, LYCEUM_DATA_DIR: dataDir, LYCEUM_BIND: `127.0.0.1:${port}`,
      LYCEUM_STATIC_DIR: join(repo, 'static'), LYCEUM_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await ready(base, server);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A failed request is reported below with its URL; anything else the console says is kept.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500 || (r.status() === 404 && !r.url().includes('/api/'))) problems.push(`${r.status()} ${r.url()}`);
  });
});

after(async () => {
  await context?.close();
  server?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(profileDir, { recursive: true, force: true });
});

test('first run offers setup, loads the demo and signs a learner in', async () => {
  await page.goto(base);
  await page.waitForURL('**/setup');
  await page.getByRole('heading', { name: 'Welcome to Lyceum' }).waitFor();
  await page.getByRole('button', { name: 'Load the demo data' }).click();
  await page.getByRole('heading', { name: 'Demo data loaded' }).waitFor();
  await page.screenshot({ path: join(shots, '01-setup-demo-loaded.png'), fullPage: true });
  const signIns = page.getByRole('button', { name: /^Sign in as / });
  assert.ok(await signIns.count() > 1, 'the demo lists its accounts');
  // A learner: the card whose role line says so.
  const learnerCard = page.locator('li.card', { hasText: /learner/i }).first();
  await learnerCard.getByRole('button', { name: /^Sign in as / }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.screenshot({ path: join(shots, '02-learner-signed-in.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('the catalog lists the demo courses and a course page opens', async () => {
  await page.goto(base);
  const first = page.locator('main a[href^="/courses/"]').first();
  await first.waitFor();
  assert.ok(await page.locator('main a[href^="/courses/"]').count() >= 3, 'demo courses listed');
  await page.screenshot({ path: join(shots, '03-catalog.png'), fullPage: true });
  await first.click();
  await page.waitForURL(/\/courses\/[^/]+$/);
  await page.locator('main h1').waitFor();
  await page.screenshot({ path: join(shots, '04-course.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('the language switch turns the page into 简体中文 and back', async () => {
  await page.goto(base);
  await page.locator('#lang').selectOption('zh');
  await page.getByText('课程目录').first().waitFor();
  assert.match(await page.locator("html").getAttribute("lang"), /^zh/);
  await page.screenshot({ path: join(shots, '05-zh.png'), fullPage: true });
  await page.locator('#lang').selectOption('en');
  await page.getByText('Catalog').first().waitFor();
  assert.deepEqual(problems, []);
});
