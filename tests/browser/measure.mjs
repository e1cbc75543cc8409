// Measures what the web app's issue asks of speed, in the real browser against the real (debug
// or release) binary: the catalog's first contentful paint on loopback, and how a live class
// page behaves with 500 people in the room while chat flows (frames per second, long tasks,
// and how long a message takes from being sent to being on screen). A measurement, not a test:
// it prints figures and asserts nothing.
//
//   node --experimental-websocket measure.mjs   (LYCEUM_BIN picks the binary; default debug)
import { startServer, startBrowser, loadDemo, signInAs } from './harness.js';

const MEMBERS = Number(process.env.MEMBERS ?? 500);
const RATE = Number(process.env.RATE ?? 50); // chat messages per second into the room
const SECONDS = Number(process.env.SECONDS ?? 20);

const server = await startServer({ LYCEUM_WS_MAX_CONNECTIONS_PER_USER: '5' });
const { base } = server;
const api = async (method, path, body, token) => {
  const r = await fetch(`${base}/api/v1${path}`, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
};
const demo = await loadDemo(base);
const live = demo.live_sessions.find((s) => s.status === 'live') ?? demo.live_sessions[0];
const browser = await startBrowser();
const page = await browser.first();

// First contentful paint of the catalog, cold and warm.
for (const run of ['cold', 'warm']) {
  await page.goto(base);
  await page.locator('#courses h2 a').first().waitFor();
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime);
  const cards = await page.evaluate(() => performance.now());
  console.log(`catalog ${run}: first contentful paint ${fcp?.toFixed(0)} ms, course cards on screen by ${cards.toFixed(0)} ms`);
}

// 500 members: registered, enrolled (the demo class's course is free) and joined over WebSockets.
const learner = demo.accounts.find((a) => a.role === 'learner');
const members = [];
for (let i = 0; i < MEMBERS; i += 25) {
  members.push(...await Promise.all(Array.from({ length: Math.min(25, MEMBERS - i) }, async (_, k) => {
    const n = i + k;
    const s = await api('POST', '/auth/register', { email: `m${n}@load.example.org`, password: 'a long member password', display_name: `Member ${n}` });
    await api('POST', `/courses/${live.course_id}/enroll`, undefined, s.access_token);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${s.access_token}`);
    await new Promise((ok, fail) => {
      ws.onmessage = (m) => { const f = JSON.parse(m.data); if (f.type === 'hello') ws.send(JSON.stringify({ type: 'join', room: `class:${live.id}` })); if (f.type === 'joined') ok(); };
      ws.onerror = fail;
    });
    return ws;
  })));
}
console.log(`${members.length} members joined`);

await signInAs(page, base, learner.email, demo.password);
await page.goto(`${base}/live/${live.id}`);
await page.locator('#live-conn[data-state="connected"], [data-state="connected"]').first().waitFor();
await page.evaluate(() => {
  window.__m = { frames: 0, long: [], seen: new Map() };
  const tick = () => { window.__m.frames += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__m.long.push(e.duration); }).observe({ type: 'longtask', buffered: false });
  // When each message shows up on screen (its text carries its send time).
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('main li')) {
      const m = /load (\d+) at (\d+)/.exec(el.textContent);
      if (m && !window.__m.seen.has(m[1])) window.__m.seen.set(m[1], Date.now() - Number(m[2]));
    }
  }).observe(document.getElementById('main'), { childList: true, subtree: true });
});
const t0 = Date.now();
let sent = 0;
const senders = members.slice(0, 50);
await new Promise((done) => {
  const every = 1000 / RATE;
  const timer = setInterval(() => {
    if (Date.now() - t0 > SECONDS * 1000) { clearInterval(timer); done(); return; }
    senders[sent % senders.length].send(JSON.stringify({ type: 'chat', room: `class:${live.id}`, text: `load ${sent} at ${Date.now()}` }));
    sent += 1;
  }, every);
});
await page.waitForTimeout(2000);
const m = await page.evaluate(() => ({ frames: window.__m.frames, long: window.__m.long, lat: [...window.__m.seen.values()].sort((a, b) => a - b) }));
const pct = (p) => m.lat[Math.min(m.lat.length - 1, Math.floor(m.lat.length * p))];
const present = await page.locator('main').getByText(/\d+ present/).first().textContent().catch(() => '?');
console.log(`live room, ${members.length + 2} in the room (${present}), ${sent} messages at ${RATE}/s for ${SECONDS} s:`);
console.log(`  frames per second ${(m.frames / (SECONDS + 2)).toFixed(1)}, long tasks ${m.long.length} (longest ${Math.max(0, ...m.long).toFixed(0)} ms)`);
console.log(`  send → on screen: seen ${m.lat.length}, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${m.lat.at(-1)} ms`);
for (const ws of members) ws.close();
await browser.close();
await server.stop();
