// What every browser test file shares: the real `lyceum` binary on a fresh SQLite data dir (its
// own port), Debian's Chromium driven by playwright-core (never a downloaded browser), a record
// of page errors, console errors and failed responses, and screenshots under
// target/browser-artifacts/.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.LYCEUM_BIN ?? join(repo, 'target/debug/lyceum');
const shots = join(repo, 'target/browser-artifacts');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

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

/** Starts a server with `env` added; answers `{base, stop}`. */
export async function startServer(env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'lyceum-browser-data-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, [], {
    env: { ...process.env, LYCEUM_DATA_DIR: dataDir, LYCEUM_BIND: `127.0.0.1:${port}`,
      LYCEUM_STATIC_DIR: join(repo, 'static'), LYCEUM_LOG: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await ready(base, server);
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, stop, process: server };
}

/**
 * A browser with its own fresh profile. `browser.open()` gives a page whose problems (page
 * errors, console errors, 5xx answers, missing assets) are collected in `browser.problems`.
 */
export async function startBrowser() {
  mkdirSync(shots, { recursive: true });
  const profileDir = mkdtempSync(join(tmpdir(), 'lyceum-browser-profile-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath, headless: true, args: ARGS,
  });
  const problems = [];
  const watch = (page) => {
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // A failed request is reported below with its URL; anything else the console says is kept.
      // A socket refused while a test restarts the server is logged too; the tests check that
      // the page recovers.
      const expected = m.text().startsWith('Failed to load resource') || m.text().startsWith('WebSocket connection to');
      if (m.type() === 'error' && !expected) problems.push(`console error: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 500 || (r.status() === 404 && !r.url().includes('/api/'))) problems.push(`${r.status()} ${r.url()}`);
    });
    return page;
  };
  return {
    problems,
    context,
    /** The first page of the context, watched. */
    async first() { return watch(context.pages()[0] ?? await context.newPage()); },
    /** Another watched page in an isolated context (its own storage: another person). */
    async other() {
      const dir = mkdtempSync(join(tmpdir(), 'lyceum-browser-profile-'));
      const ctx = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath, headless: true, args: ARGS });
      this.extra.push([ctx, dir]);
      return watch(ctx.pages()[0] ?? await ctx.newPage());
    },
    extra: [],
    async close() {
      for (const [ctx, dir] of this.extra) { await ctx.close(); rmSync(dir, { recursive: true, force: true }); }
      await context.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as target/browser-artifacts/`name`.png. */
export const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** Loads the demo data through the API and answers its accounts and password. */
export async function loadDemo(base) {
  const resp = await fetch(`${base}/api/v1/setup/demo`, { method: 'POST' });
  if (!resp.ok) throw new Error(`demo load failed: ${resp.status} ${await resp.text()}`);
  return resp.json();
}

/** Signs `page` in through the sign-in form. */
export async function signInAs(page, base, email, password) {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.locator('main form').getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
