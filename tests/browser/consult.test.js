// Browser tests of experts and consultations: a learner finds an expert, books a slot shown in
// the browser's own time zone, pays the hold with a test card; the expert sees the booking; both
// open the consultation room, chat, watch the meter run, extend, the learner ends and the booking
// shows as completed and settled. Also a late cancellation with its fee shown before confirming,
// and a paid question asked, answered, and unlocked by a third person.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, startBrowser, loadDemo, signInAs, shot, repo } from './harness.js';

// The browser runs in a zone that is neither UTC nor the expert's (America/New_York), with a
// half-hour offset, so a slot shown in UTC or in the expert's zone cannot pass for local time.
const ZONE = 'Asia/Kolkata';
process.env.TZ = ZONE;

let server, browser, base, demo, learner, expert;
const GRACE = 'grace@demo.lyceum.dev';
const LINUS = 'linus@demo.lyceum.dev';
const MARIA = 'maria@demo.lyceum.dev';
const localTime = (iso) => new Date(iso).toLocaleTimeString('en', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: ZONE });
const secs = (s) => s.split(':').reduce((a, x) => a * 60 + Number(x), 0);

before(async () => {
  // A week's notice and a 25% fee (not the defaults), so the fee the page shows must be the
  // server's: every free slot of the demo expert is less than a week away.
  server = await startServer({ LYCEUM_ROOM_TICK_MS: '200', LYCEUM_CONSULT_CANCEL_NOTICE_HOURS: '168', LYCEUM_CONSULT_LATE_CANCEL_FEE_BPS: '2500' });
  base = server.base;
  demo = await loadDemo(base);
  browser = await startBrowser();
  learner = await browser.first();
  expert = await browser.other();
  await signInAs(learner, base, LINUS, demo.password);
  await signInAs(expert, base, GRACE, demo.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const problems = () => browser.problems;

/** Pays the hold on the /hold page with `card`. */
async function payWith(page, card) {
  await page.locator('#card-form').waitFor();
  await page.getByLabel('Card number').fill(card);
  await page.locator('#card-form').getByRole('button', { name: /^Pay / }).click();
}

let bookingId;

test('a learner finds an expert, books a slot in local time and pays the hold', async () => {
  await learner.goto(`${base}/experts`);
  await learner.locator('#experts li.card').first().waitFor();
  assert.equal(await learner.locator('#experts li.card').count(), 2, 'the demo lists two experts');
  await shot(learner, 'consult-00-directory');
  assert.doesNotMatch(await learner.locator('main').innerText(), /\b(null|undefined)\b/);
  // Filter: the search word and a rate ceiling keep Grace (1.50/min, compilers) only.
  await learner.getByLabel('Search experts').fill('compilers');
  await learner.getByLabel('Maximum rate per minute').fill('2');
  await learner.getByRole('button', { name: 'Find experts' }).click();
  await learner.waitForURL(/\/experts\?.*q=compilers/);
  await learner.locator('#experts li.card', { hasText: 'Grace Hopper' }).waitFor();
  assert.equal(await learner.locator('#experts li.card').count(), 1, 'the filter leaves one expert');
  await learner.getByLabel('Maximum rate per minute').fill('1');
  await learner.getByRole('button', { name: 'Find experts' }).click();
  await learner.getByText('No experts match these filters.').waitFor();
  await learner.getByLabel('Maximum rate per minute').fill('');
  // Free time in the next week (local days): Grace works every weekday, so she stays listed.
  const ymd = (days) => new Date(Date.now() + days * 86400000).toLocaleDateString('en-CA', { timeZone: ZONE });
  await learner.getByLabel('Free from (date)').fill(ymd(1));
  await learner.getByLabel('Free until (date)').fill(ymd(7));
  await learner.getByRole('button', { name: 'Find experts' }).click();
  await learner.waitForURL(/available|from=/);
  await learner.locator('#experts li.card', { hasText: 'Grace Hopper' }).waitFor();
  // A range the API refuses (over 31 days) is shown, not thrown.
  await learner.getByLabel('Free until (date)').fill(ymd(60));
  await learner.getByRole('button', { name: 'Find experts' }).click();
  await learner.locator('#experts [role=alert]', { hasText: '31 days' }).waitFor();
  await learner.getByLabel('Free from (date)').fill('');
  await learner.getByLabel('Free until (date)').fill('');
  await learner.getByRole('button', { name: 'Find experts' }).click();
  await learner.locator('#experts li.card', { hasText: 'Grace Hopper' }).getByRole('link', { name: 'Grace Hopper' }).click();
  await learner.waitForURL(/\/experts\/[^/?]+$/);
  const expertId = learner.url().split('/').pop();

  // The calendar: free slots in the viewer's zone, matching the API's UTC intervals.
  // Chromium's ICU names this zone by its older alias.
  await learner.locator('#viewer-zone', { hasText: /Asia\/(Kolkata|Calcutta)/ }).waitFor();
  const slot = learner.locator('#calendar button.slot').first();
  await slot.waitFor();
  const start = await slot.getAttribute('data-start');
  assert.equal((await slot.textContent()).trim(), localTime(start), 'the slot is labelled in the browser’s time zone');
  const av = await (await fetch(`${base}/api/v1/experts/${expertId}/availability?from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 8 * 86400000).toISOString())}`)).json();
  const s = new Date(start).getTime();
  assert.ok(av.intervals.some((iv) => new Date(iv.start) <= s && s + 15 * 60000 <= new Date(iv.end)), 'the slot lies inside the free time');
  await shot(learner, 'consult-01-expert-page');

  await learner.getByLabel('Length').selectOption('15');
  await slot.click();
  assert.equal(await slot.getAttribute('aria-pressed'), 'true');
  await learner.getByRole('button', { name: 'Book and hold €22.50' }).click();
  await learner.waitForURL(/\/hold\/pay_[^?]+\?booking=/);
  bookingId = new URL(learner.url()).searchParams.get('booking');

  // A declined card is shown, then the good card authorises the hold.
  await payWith(learner, '4000 0000 0000 0002');
  await learner.locator('#card-status [role=alert]', { hasText: 'declined' }).waitFor();
  await shot(learner, 'consult-02-declined');
  assert.doesNotMatch(await learner.locator('main').innerText(), /\b(null|undefined)\b/);
  await payWith(learner, '4242 4242 4242 4242');
  await learner.getByText('Booked. The hold is authorised.').waitFor();
  await learner.getByRole('link', { name: 'Go to my bookings' }).click();
  const card = learner.locator(`#as-learner li[data-booking="${bookingId}"]`);
  await card.waitFor();
  assert.equal(await card.getAttribute('data-status'), 'confirmed');
  assert.equal((await card.locator('time').textContent()).endsWith(localTime(start)), true, 'the booking shows the local start');
  await shot(learner, 'consult-03-bookings');
  assert.deepEqual(problems(), []);
});

test('the expert sees the booking; both meet in the room, chat, extend, and the learner ends', async () => {
  await expert.goto(`${base}/bookings`);
  const row = expert.locator(`#as-expert li[data-booking="${bookingId}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-status'), 'confirmed');
  await row.getByText('With Linus Learner').waitFor(); // the expert sees who is coming
  await row.getByRole('link', { name: 'Join the room' }).click();
  await learner.locator(`#as-learner li[data-booking="${bookingId}"]`).getByRole('link', { name: 'Join the room' }).click();
  for (const p of [learner, expert]) await p.locator('#conn', { hasText: 'Connected' }).waitFor();

  // The server starts metering once both are there; billable time and its cost go up.
  await learner.locator('#meter-state[data-state="running"]').waitFor();
  await expert.locator('#meter-state[data-state="running"]').waitFor();
  await learner.waitForFunction(() => {
    const [m, s] = document.querySelector('#billable').textContent.split(':').map(Number);
    return m * 60 + s >= 2;
  });
  assert.ok(secs(await learner.locator('#billable').textContent()) >= 2);
  assert.equal(await learner.locator('#cost').textContent(), '€1.50', 'one started minute at 1.50/min');

  // Chat both ways.
  await learner.getByLabel('Message').fill('Hello Grace, a question about lifetimes.');
  await learner.getByRole('button', { name: 'Send' }).click();
  await expert.locator('#chat-log li', { hasText: 'Hello Grace, a question about lifetimes.' }).waitFor();
  await expert.getByLabel('Message').fill('Hi Linus, go ahead.');
  await expert.getByRole('button', { name: 'Send' }).click();
  await learner.locator('#chat-log li.theirs', { hasText: 'Hi Linus, go ahead.' }).waitFor();

  // An extension: the learner asks, the expert accepts, the learner pays the extra hold.
  const remainingBefore = secs(await learner.locator('#remaining').textContent());
  await learner.getByLabel('Extra minutes').selectOption('5');
  await learner.getByRole('button', { name: 'Ask for more time' }).click();
  await expert.getByText('Your learner asks for 5 more minutes.').waitFor();
  await shot(expert, 'consult-04-room-expert-extension');
  await expert.getByRole('button', { name: 'Accept' }).click();
  await learner.getByText('Pay the hold for 5 more minutes (€7.50) to add them.').waitFor();
  await learner.locator('#ext-form').getByLabel('Card number').fill('4242 4242 4242 4242');
  await learner.locator('#ext-form').getByRole('button', { name: 'Pay €7.50' }).click();
  await learner.getByText('5 more minutes added.').waitFor();
  await expert.getByText('5 more minutes added.').waitFor();
  assert.ok(secs(await learner.locator('#remaining').textContent()) > remainingBefore + 200, 'the booked time grew by the extension');
  await shot(learner, 'consult-05-room-learner');

  // The learner ends; both see the settlement.
  await learner.getByRole('button', { name: 'End the session' }).click();
  await learner.getByRole('button', { name: 'Yes, end now' }).click();
  for (const p of [learner, expert]) await p.locator('#settled', { hasText: 'completed' }).waitFor();
  assert.match(await learner.locator('#settled').textContent(), /€1\.50 charged/);
  await shot(learner, 'consult-06-room-settled');

  await learner.getByRole('link', { name: 'Back to my bookings' }).click();
  const card = learner.locator(`#as-learner li[data-booking="${bookingId}"]`);
  await card.waitFor();
  assert.equal(await card.getAttribute('data-status'), 'completed');
  await card.getByText('settled').waitFor();
  await card.getByText('Charged: €1.50').waitFor();
  assert.equal(await card.getByRole('link', { name: 'Join the room' }).count(), 0, 'a finished booking has no room to join');
  await shot(learner, 'consult-07-bookings-completed');
  assert.deepEqual(problems(), []);
});

test('cancelling shows the fee before confirming', async () => {
  await learner.goto(`${base}/bookings`);
  await learner.locator('#as-learner').waitFor();
  const expertId = (await (await fetch(`${base}/api/v1/experts?q=compilers`)).json()).items[0].id;
  await learner.goto(`${base}/experts/${expertId}`);
  const slot = learner.locator('#calendar button.slot').first();
  await slot.waitFor();
  const start = await slot.getAttribute('data-start');
  await slot.click();
  await learner.getByRole('button', { name: /^Book and hold / }).click();
  await learner.waitForURL(/\/hold\//);
  const id = new URL(learner.url()).searchParams.get('booking');
  await learner.locator('#hold-what', { hasText: 'Grace Hopper' }).waitFor();
  // This card asks for 3-D Secure; the learner approves.
  await payWith(learner, '4000 0025 0000 3155');
  await learner.getByText('3-D Secure: your bank asks you to approve this payment.').waitFor();
  await learner.locator('#card-status').getByRole('button', { name: 'Approve' }).click();
  await learner.getByText('Booked. The hold is authorised.').waitFor();
  await learner.goto(`${base}/bookings`);
  const card = learner.locator(`li[data-booking="${id}"]`);
  await card.getByRole('button', { name: 'Cancel the booking' }).click();
  assert.ok(new Date(start).getTime() - Date.now() < 168 * 3600000, 'the slot is inside the notice period');
  // 15 minutes at 1.50: 22.50 held; the late fee is a quarter of it, rounded down.
  await card.locator('.fee-note', { hasText: 'less than 168 hours away, so cancelling now costs a late fee of €5.62 (25% of €22.50)' }).waitFor();
  assert.equal(await learner.locator(`li[data-booking="${id}"]`).getAttribute('data-status'), 'confirmed', 'nothing is cancelled before confirming');
  await shot(learner, 'consult-08-cancel-fee');
  await card.getByRole('button', { name: 'Confirm the cancellation' }).click();
  await learner.locator(`li[data-booking="${id}"][data-status="canceled"]`).waitFor();
  await learner.locator(`li[data-booking="${id}"]`).getByText('Charged: €5.62').waitFor();
  assert.deepEqual(problems(), []);
});

test('a paid question is asked, answered, and unlocked by someone else', async () => {
  const expertId = (await (await fetch(`${base}/api/v1/experts?q=compilers`)).json()).items[0].id;
  const title = 'What does Pin actually guarantee?';
  await learner.goto(`${base}/experts/${expertId}`);
  await learner.locator('#ask-form').waitFor();
  await learner.getByLabel('Title').fill(title);
  await learner.getByLabel('Your question').fill('And why do futures need it?');
  await learner.getByRole('button', { name: 'Ask for €9.00' }).click();
  await learner.waitForURL(/\/hold\/.*question=/);
  await payWith(learner, '4242 4242 4242 4242');
  await learner.getByText('Paid. Your question is with the expert.').waitFor();
  await learner.getByRole('link', { name: 'Go to my questions' }).click();
  await learner.locator('#asked-by-me li[data-status="open"]', { hasText: title }).waitFor();

  await expert.goto(`${base}/questions`);
  const q = expert.locator('#asked-me li.question', { hasText: title });
  await q.waitFor();
  assert.equal(await q.getAttribute('data-status'), 'open');
  await q.getByLabel('Your answer').fill('That the value will not move again until it is dropped.');
  await q.getByRole('button', { name: 'Send the answer' }).click();
  await expert.locator('#asked-me li.question[data-status="answered"]', { hasText: title }).waitFor();
  await shot(expert, 'consult-09-expert-questions');
  assert.doesNotMatch(await learner.locator('main').innerText(), /\b(null|undefined)\b/);

  await learner.goto(`${base}/questions`);
  await learner.locator('#asked-by-me li[data-status="answered"]', { hasText: title })
    .getByText('That the value will not move again until it is dropped.').waitFor();

  // A third person sees the answered question on the expert's page, locked, and unlocks it.
  const third = await browser.other();
  await signInAs(third, base, MARIA, demo.password);
  await third.goto(`${base}/experts/${expertId}`);
  const item = third.locator('#answered li', { hasText: title });
  await item.waitFor();
  assert.equal(await item.getByText('That the value will not move again').count(), 0, 'the answer is locked before paying');
  await item.getByRole('button', { name: 'Unlock the answer for €2.00' }).click();
  await payWith(third, '4242 4242 4242 4242');
  await third.getByText('Unlocked. The answer is yours to read.').waitFor();
  await third.getByRole('link', { name: 'Back to the expert' }).click();
  await third.locator('#answered li', { hasText: title }).getByText('That the value will not move again until it is dropped.').waitFor();
  assert.deepEqual(problems(), []);
});

test('the expert edits the profile, windows, blocked days and question price', async () => {
  await expert.goto(`${base}/experts/me`);
  await expert.getByLabel('Headline').waitFor();
  await expert.getByLabel('Headline').fill('Compilers, debugging, code review and Rust');
  await expert.getByRole('button', { name: 'Save the profile' }).click();
  await expert.locator('#toast', { hasText: 'Saved.' }).waitFor();
  await expert.getByRole('button', { name: 'Add a window' }).click();
  const last = expert.locator('#windows .window').last();
  await last.getByLabel('Day').selectOption('sat');
  await last.getByLabel('From').fill('10:00');
  await last.getByLabel('Until').fill('11:30');
  await expert.getByRole('button', { name: 'Save the windows' }).click();
  await expert.locator('#toast', { hasText: 'Saved.' }).waitFor();
  const day = new Date(Date.now() + 20 * 86400000).toISOString().slice(0, 10);
  await expert.getByLabel('Day to block').fill(day);
  await expert.getByRole('button', { name: 'Block the day' }).click();
  await expert.locator('#blocked li', { hasText: day }).waitFor();
  await expert.getByLabel('Price per question (0 stops paid questions)').fill('12.00');
  await expert.getByRole('button', { name: 'Save the price' }).click();
  await expert.getByText('Now: €12.00').waitFor();
  await shot(expert, 'consult-10-expert-me');
  const tok = await (await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: GRACE, password: demo.password }) })).json();
  const mine = await (await fetch(`${base}/api/v1/experts/me`, { headers: { authorization: `Bearer ${tok.access_token}` } })).json();
  assert.equal(mine.headline, 'Compilers, debugging, code review and Rust');
  assert.ok(mine.windows.some((w) => w.weekday === 'sat' && w.start === '10:00' && w.end === '11:30'));
  assert.ok(mine.blocked_days.some((b) => b.date === day));
  assert.deepEqual(problems(), []);
});

test('the expert pages in 简体中文, and on a phone', async () => {
  const expertId = (await (await fetch(`${base}/api/v1/experts?q=compilers`)).json()).items[0].id;
  await learner.goto(`${base}/experts/${expertId}`);
  await learner.locator('#lang').selectOption('zh');
  await learner.getByRole('heading', { name: '预约咨询' }).waitFor();
  await learner.locator('#viewer-zone', { hasText: '时间按你所在的时区' }).waitFor();
  await shot(learner, 'consult-11-expert-zh');
  await learner.goto(`${base}/bookings`);
  await learner.getByRole('heading', { name: '我的预约' }).waitFor();
  await learner.locator('.badge', { hasText: '已完成' }).first().waitFor();
  await shot(learner, 'consult-12-bookings-zh');
  await learner.setViewportSize({ width: 390, height: 800 });
  await learner.goto(`${base}/experts/${expertId}`);
  await learner.locator('#calendar button.slot').first().waitFor();
  const overflow = await learner.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(overflow, false, 'nothing sticks out sideways on a phone');
  await shot(learner, 'consult-13-expert-phone-zh');
  await learner.locator('#book').scrollIntoViewIfNeeded();
  await learner.screenshot({ path: join(repo, 'target/browser-artifacts/consult-14-phone-calendar-zh.png') });
  await learner.locator('#lang').selectOption('en');
  await learner.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(problems(), []);
});

// A server of the test's own, on a data dir that survives a restart, with a booking of Grace's
// paid by Linus and both of them in its room.
async function ownRoom(extraEnv) {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { createServer } = await import('node:net');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'lyceum-browser-data-'));
  const port = await new Promise((ok) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); }); });
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, LYCEUM_DATA_DIR: dir, LYCEUM_BIND: `127.0.0.1:${port}`, LYCEUM_STATIC_DIR: join(repo, 'static'),
    LYCEUM_LOG: 'error', LYCEUM_ROOM_TICK_MS: '200', ...extraEnv };
  const room = { url, child: null, browser: await startBrowser() };
  room.up = async () => {
    room.child = spawn(process.env.LYCEUM_BIN ?? join(repo, 'target/debug/lyceum'), [], { env, stdio: 'ignore' });
    for (let i = 0; i < 240; i += 1) {
      try { if ((await fetch(`${url}/readyz`)).ok) return; } catch { /* not yet */ }
      await new Promise((r) => { setTimeout(r, 250); });
    }
    throw new Error('server never became ready');
  };
  room.down = () => new Promise((r) => { if (room.child.exitCode !== null) { r(); return; } room.child.once('exit', r); room.child.kill('SIGTERM'); });
  room.close = async () => { await room.browser.close(); await room.down(); rmSync(dir, { recursive: true, force: true }); };
  await room.up();
  const d = await loadDemo(url);
  const login = await (await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: LINUS, password: d.password }) })).json();
  const auth = { 'content-type': 'application/json', authorization: `Bearer ${login.access_token}` };
  const ex = (await (await fetch(`${url}/api/v1/experts?q=compilers`)).json()).items[0];
  const av = await (await fetch(`${url}/api/v1/experts/${ex.id}/availability?from=${new Date().toISOString()}&to=${new Date(Date.now() + 8 * 86400000).toISOString()}`)).json();
  const bk = await (await fetch(`${url}/api/v1/experts/${ex.id}/bookings`, { method: 'POST', headers: auth,
    body: JSON.stringify({ starts_at: av.intervals[0].start, minutes: 30 }) })).json();
  await fetch(`${url}/api/v1/sandbox/payments/${bk.payment.id}/confirm`, { method: 'POST', headers: auth, body: JSON.stringify({ card_number: '4242 4242 4242 4242' }) });
  room.l = await room.browser.first();
  room.e = await room.browser.other();
  await signInAs(room.l, url, LINUS, d.password);
  await signInAs(room.e, url, GRACE, d.password);
  await room.e.goto(`${url}/bookings`);
  await room.e.locator(`li[data-booking="${bk.booking.id}"][data-status="confirmed"]`).waitFor();
  for (const p of [room.l, room.e]) await p.goto(`${url}/consult/${bk.booking.id}`);
  for (const p of [room.l, room.e]) await p.locator('#meter-state[data-state="running"]').waitFor();
  return room;
}

// With 12-second access tokens the room must renew its socket's token before expiry (else the
// server closes it with 4002 and the page would have to reconnect).
test('the room renews its token over the open socket', async () => {
  const room = await ownRoom({ LYCEUM_ACCESS_TOKEN_TTL_SECS: '12' });
  try {
    const { l, e } = room;
    // Three renewals take longer than one token lives; the first socket is still the one open.
    await l.waitForFunction(() => Number(document.querySelector('#conn').dataset.renewals ?? 0) >= 3, null, { timeout: 40000 });
    assert.equal(await l.locator('#conn').getAttribute('data-connects'), '1', 'the socket outlived its first token');
    await l.getByLabel('Message').fill('still here after the token changed');
    await l.getByRole('button', { name: 'Send' }).click();
    await e.locator('#chat-log li', { hasText: 'still here after the token changed' }).waitFor();
    assert.deepEqual(room.browser.problems, []);
  } finally { await room.close(); }
});

// A restart closes every socket with 1012; the room comes back, recovers the log and the meter.
test('the room reconnects after a server restart', async () => {
  const room = await ownRoom({});
  try {
    const { l, e } = room;
    await l.getByLabel('Message').fill('before the restart');
    await l.getByRole('button', { name: 'Send' }).click();
    await e.locator('#chat-log li', { hasText: 'before the restart' }).waitFor();
    await room.down();
    await l.locator('#conn[data-state="reconnecting"]').waitFor();
    await room.up();
    for (const p of [l, e]) await p.locator('#conn[data-state="connected"][data-connects="2"]').waitFor({ timeout: 30000 });
    await l.locator('#meter-state[data-state="running"]').waitFor();
    await e.getByLabel('Message').fill('back after the restart');
    await e.getByRole('button', { name: 'Send' }).click();
    await l.locator('#chat-log li', { hasText: 'back after the restart' }).waitFor();
    // The earlier message was neither lost nor repeated by the recovery.
    assert.equal(await l.locator('#chat-log li', { hasText: 'before the restart' }).count(), 1);
    await shot(l, 'consult-15-room-after-restart');
    // The room in 简体中文 on a phone: the language switch re-renders it and it joins again.
    await l.setViewportSize({ width: 390, height: 844 });
    await l.locator('#lang').selectOption('zh');
    await l.getByRole('heading', { name: '计时器' }).waitFor();
    await l.locator('#conn', { hasText: '已连接' }).waitFor();
    await l.locator('#meter-state[data-state="running"]').waitFor();
    assert.equal(await l.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1), false, 'nothing sticks out sideways');
    await shot(l, 'consult-16-room-phone-zh');
    await l.locator('#lang').selectOption('en');
    assert.deepEqual(room.browser.problems, []);
  } finally { await room.close(); }
});
