// The live classroom in real browsers: a learner and the course's instructor (two isolated
// browser contexts, two people) in the demo's live class, over the real server's WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, startBrowser, loadDemo, signInAs, shot, repo } from './harness.js';

let server, browser, base, demo, learner, teacher, liveId;

before(async () => {
  server = await startServer();
  base = server.base;
  demo = await loadDemo(base);
  liveId = demo.live_sessions[0].id;
  browser = await startBrowser();
  learner = await browser.first();
  teacher = await browser.other();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const email = (name) => demo.accounts.find((a) => a.display_name === name).email;
const connected = (page) => page.locator('#live-conn[data-state="connected"]').waitFor();
const chatLine = (page, text) => page.locator('#chat-log li', { hasText: text });
const question = (page, text) => page.locator('#qa-board li.live-q', { hasText: text });

test('a learner joins from the course page and the instructor opens the same class', async () => {
  await signInAs(learner, base, email('Linus Learner'), demo.password);
  await learner.goto(`${base}/courses/${demo.live_sessions[0].course_id}`);
  await learner.getByRole('link', { name: 'Join the live class' }).first().click();
  await learner.waitForURL(`**/live/${liveId}`);
  await learner.getByRole('heading', { name: demo.live_sessions[0].title }).waitFor();
  await connected(learner);
  await signInAs(teacher, base, email('Grace Hopper'), demo.password);
  await teacher.goto(`${base}/live/${liveId}`);
  await connected(teacher);
  // Staff tools only for staff.
  await teacher.getByRole('heading', { name: 'Moderation' }).waitFor();
  assert.equal(await learner.locator('#live-moderation').isVisible(), false);
  assert.equal(await learner.locator('#poll-form').isVisible(), false);
  await teacher.getByRole('button', { name: 'End the class' }).waitFor();
  assert.equal(await learner.getByRole('button', { name: 'End the class' }).count(), 0);
  // Both are present, and the instructor sees the learner in the roster.
  await teacher.locator('#live-presence', { hasText: '2 present' }).waitFor();
  await teacher.locator('#roster li', { hasText: 'Linus Learner' }).waitFor();
  await learner.locator('#live-status', { hasText: 'live now' }).waitFor();
  // The head count takes you to the people list without leaving the page (no reconnect).
  await learner.locator('#live-presence').click();
  await learner.locator('#live-people:focus').waitFor();
  assert.equal(await learner.locator('#live-conn').getAttribute('data-joins'), '1');
  assert.deepEqual(browser.problems, []);
});

test('chat: the learner writes, the instructor sees it and deletes it for everyone', async () => {
  await learner.getByLabel('Message', { exact: true }).fill('Hello from Linus');
  await learner.getByRole('button', { name: 'Send' }).click();
  await chatLine(teacher, 'Hello from Linus').waitFor();
  await chatLine(learner, 'Hello from Linus').locator('.live-msg-name', { hasText: 'Linus Learner' }).waitFor();
  // From the keyboard: Enter sends.
  await teacher.getByLabel('Message', { exact: true }).fill('Welcome, everyone');
  await teacher.getByLabel('Message', { exact: true }).press('Enter');
  await chatLine(learner, 'Welcome, everyone').waitFor();
  // A message to delete.
  await learner.getByLabel('Message', { exact: true }).fill('oops, wrong window');
  await learner.getByRole('button', { name: 'Send' }).click();
  const bad = chatLine(teacher, 'oops, wrong window');
  await bad.getByRole('button', { name: 'Moderate the message from Linus Learner' }).click();
  await bad.getByRole('button', { name: 'Delete' }).click();
  await chatLine(learner, 'oops, wrong window').waitFor({ state: 'detached' });
  await bad.waitFor({ state: 'detached' });
  assert.equal(await chatLine(learner, 'Hello from Linus').count(), 1);
  assert.deepEqual(browser.problems, []);
});

test('Q&A: the learner asks, the instructor answers and pins, the learner sees both', async () => {
  await learner.getByLabel('Your question').fill('When do lifetimes need to be written out?');
  await learner.getByRole('button', { name: 'Ask', exact: true }).click();
  const mine = question(learner, 'When do lifetimes');
  await mine.waitFor();
  // An anonymous one: the instructor sees who asked it, the board says anonymous.
  await learner.getByLabel('Your question').fill('Is unsafe ever fine?');
  await learner.getByLabel('Ask anonymously').check();
  await learner.getByRole('button', { name: 'Ask', exact: true }).click();
  await question(learner, 'Is unsafe ever fine?').getByText('You (anonymous)').waitFor();
  // Voting sorts: the anonymous one gets a vote and rises to the top.
  await question(learner, 'Is unsafe ever fine?').getByRole('button', { name: /^Upvote \(votes: 0,/ }).click();
  await question(teacher, 'Is unsafe ever fine?').getByRole('button', { name: /^Upvote \(votes: 1,/ }).waitFor();
  await teacher.locator('#qa-board li.live-q').first().filter({ hasText: 'Is unsafe ever fine?' }).waitFor();
  const theirs = question(teacher, 'When do lifetimes');
  await theirs.getByRole('button', { name: 'Answer' }).click();
  await theirs.getByLabel('Your answer').fill('When the compiler cannot infer them: several input references.');
  await theirs.getByRole('button', { name: 'Send the answer' }).click();
  await theirs.getByRole('button', { name: 'Pin', exact: true }).click();
  await mine.locator('.live-answer', { hasText: 'several input references' }).waitFor();
  await mine.getByText('Answer from Grace Hopper').waitFor();
  await mine.getByText('Pinned').waitFor();
  // Pinned comes first, whatever the votes.
  await learner.locator('#qa-board li.live-q').first().filter({ hasText: 'When do lifetimes' }).waitFor();
  await shot(learner, 'live-learner-qa');
  await shot(teacher, 'live-instructor-qa');
  assert.deepEqual(browser.problems, []);
});

test('polls: the instructor opens one, the learner votes, both see the tally, the instructor closes it', async () => {
  await teacher.getByLabel('Poll question').fill('How is the pace?');
  await teacher.getByLabel('Options, one per line (2 to 10)').fill('Slower\nJust right\nFaster');
  await teacher.getByRole('button', { name: 'Open the poll' }).click();
  const poll = (page) => page.locator('#polls li.live-poll-item', { hasText: 'How is the pace?' });
  await poll(learner).waitFor();
  await poll(learner).getByRole('button', { name: 'Vote for “Just right”' }).click();
  await poll(learner).locator('[data-option="1"]', { hasText: '1 (100%)' }).waitFor();
  await poll(teacher).locator('[data-option="1"]', { hasText: '1 (100%)' }).waitFor();
  await poll(learner).getByText('your vote').waitFor();
  assert.equal(await poll(learner).getByRole('button', { name: /^Vote for/ }).count(), 0, 'one vote per poll');
  await poll(teacher).getByRole('button', { name: 'Close the poll' }).click();
  await poll(learner).getByText('closed').waitFor();
  assert.deepEqual(browser.problems, []);
});

test('hands: the learner raises a hand, the instructor sees it and lowers it', async () => {
  await learner.getByRole('button', { name: 'Raise your hand' }).click();
  await teacher.locator('#hands li', { hasText: 'Linus Learner' }).waitFor();
  await learner.getByRole('button', { name: 'Lower your hand' }).waitFor();
  await shot(teacher, 'live-instructor-hand');
  await teacher.getByRole('button', { name: 'Lower the hand of Linus Learner' }).click();
  await learner.getByRole('button', { name: 'Raise your hand' }).waitFor();
  await teacher.locator('#hands li').waitFor({ state: 'detached' });
  assert.deepEqual(browser.problems, []);
});

test('mute: a muted learner is told so and the next chat is refused with `muted`', async () => {
  await teacher.locator('#roster li', { hasText: 'Linus Learner' }).getByRole('button', { name: 'Mute' }).click();
  await learner.locator('#live-notices p', { hasText: 'You are muted' }).waitFor();
  await teacher.locator('#roster li', { hasText: 'Linus Learner' }).getByText('muted').waitFor();
  await learner.getByLabel('Message', { exact: true }).fill('can you hear me?');
  await learner.getByRole('button', { name: 'Send' }).click();
  await learner.locator('#chat-error', { hasText: 'You are muted, so your message was not sent.' }).waitFor();
  assert.equal(await chatLine(teacher, 'can you hear me?').count(), 0);
  await shot(learner, 'live-learner-muted');
  await teacher.locator('#roster li', { hasText: 'Linus Learner' }).getByRole('button', { name: 'Unmute' }).click();
  await learner.locator('#live-notices p', { hasText: 'You are muted' }).waitFor({ state: 'detached' });
  await learner.getByRole('button', { name: 'Send' }).click();
  await chatLine(teacher, 'can you hear me?').waitFor();
  assert.deepEqual(browser.problems, []);
});

test('reconnect: a learner who lost the network gets what was said meanwhile', async () => {
  const ctx = learner.context();
  await ctx.setOffline(true);
  await learner.locator('#live-conn[data-state="offline"], #live-conn[data-state="reconnecting"]').waitFor();
  await teacher.getByLabel('Message', { exact: true }).fill('Said while Linus was away');
  await teacher.getByRole('button', { name: 'Send' }).click();
  await chatLine(teacher, 'Said while Linus was away').waitFor();
  await teacher.getByLabel('Your question').fill('A staff question asked meanwhile');
  await teacher.getByRole('button', { name: 'Ask', exact: true }).click();
  await question(teacher, 'A staff question asked meanwhile').waitFor();
  assert.equal(await chatLine(learner, 'Said while Linus was away').count(), 0);
  await shot(learner, 'live-learner-offline');
  await ctx.setOffline(false);
  await connected(learner);
  await chatLine(learner, 'Said while Linus was away').waitFor();
  await question(learner, 'A staff question asked meanwhile').waitFor();
  assert.equal(await learner.locator('#live-conn').getAttribute('data-recovered'), 'true', 'caught up from the log, not reloaded');
  // Nothing twice.
  assert.equal(await chatLine(learner, 'Hello from Linus').count(), 1);
  assert.deepEqual(browser.problems, []);
});

test('the classroom reads well in 简体中文 and on a phone', async () => {
  await learner.locator('#lang').selectOption('zh');
  await learner.getByRole('heading', { name: '聊天' }).waitFor();
  await connected(learner);
  await learner.getByRole('button', { name: '举手', exact: true }).waitFor();
  await chatLine(learner, 'Said while Linus was away').waitFor();
  await shot(learner, 'live-learner-zh');
  await learner.setViewportSize({ width: 380, height: 800 });
  await shot(learner, 'live-learner-phone-zh');
  const cols = await learner.locator('#live').evaluate((el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
  assert.equal(cols, 1, 'one column on a phone');
  await learner.locator('#lang').selectOption('en');
  await learner.getByRole('heading', { name: 'Chat' }).waitFor();
  await learner.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(browser.problems, []);
});

test('moderation: held questions wait for approval, a locked chat and slow mode refuse learners', async () => {
  await teacher.getByLabel('Hold new questions for approval').check();
  await learner.locator('#live-notices p', { hasText: 'reviewed by the staff' }).waitFor();
  await learner.getByLabel('Your question').fill('Held until approved?');
  await learner.getByRole('button', { name: 'Ask', exact: true }).click();
  // The asker sees it waiting; the instructor sees it in the approval queue, not on the board.
  await learner.locator('#qa-held li', { hasText: 'Held until approved?' }).getByText('waiting for approval').waitFor();
  const queued = teacher.locator('#qa-held li', { hasText: 'Held until approved?' });
  await queued.waitFor();
  assert.equal(await question(teacher, 'Held until approved?').count(), 0);
  await shot(teacher, 'live-instructor-held');
  await queued.getByRole('button', { name: 'Approve' }).click();
  await question(learner, 'Held until approved?').waitFor();
  await question(teacher, 'Held until approved?').getByRole('button', { name: 'Dismiss' }).click();
  await question(learner, 'Held until approved?').waitFor({ state: 'detached' });
  await teacher.getByLabel('Hold new questions for approval').uncheck();
  await learner.locator('#live-notices p', { hasText: 'reviewed by the staff' }).waitFor({ state: 'detached' });

  await teacher.getByLabel('Lock the chat (only staff can write)').check();
  await learner.locator('#live-notices p', { hasText: 'The chat is locked' }).waitFor();
  await learner.getByLabel('Message', { exact: true }).fill('locked out?');
  await learner.getByRole('button', { name: 'Send' }).click();
  await learner.locator('#chat-error', { hasText: 'Not allowed' }).waitFor();
  await teacher.getByLabel('Lock the chat (only staff can write)').uncheck();
  await learner.locator('#live-notices p', { hasText: 'The chat is locked' }).waitFor({ state: 'detached' });

  // The learner's last message (the mute test) is well within 300 s.
  await teacher.getByLabel('Slow mode').selectOption('300');
  await learner.locator('#live-notices p', { hasText: 'Slow mode: one message every 300 s.' }).waitFor();
  await learner.getByLabel('Message', { exact: true }).fill('too soon');
  await learner.getByRole('button', { name: 'Send' }).click();
  await learner.locator('#chat-error', { hasText: /Slow mode is on: wait \d+ s/ }).waitFor();
  assert.equal(await chatLine(teacher, 'too soon').count(), 0);
  await teacher.getByLabel('Slow mode').selectOption('0');
  await learner.locator('#live-notices p', { hasText: 'Slow mode' }).waitFor({ state: 'detached' });
  assert.deepEqual(browser.problems, []);
});

test('a kicked learner is told so and cannot rejoin', async () => {
  const maria = await browser.other();
  await signInAs(maria, base, email('Maria Lopez'), demo.password);
  await maria.goto(`${base}/live/${liveId}`);
  await connected(maria);
  const row = teacher.locator('#roster li', { hasText: 'Maria Lopez' });
  await row.getByRole('button', { name: 'Remove from class' }).click();
  await row.getByRole('button', { name: 'Really remove Maria Lopez?' }).click();
  await maria.locator('#live-conn[data-state="closed"]', { hasText: 'You were removed from this class' }).waitFor();
  await row.waitFor({ state: 'detached' });
  await maria.reload();
  await maria.locator('#live-refused', { hasText: 'You can no longer join this class.' }).waitFor();
  assert.deepEqual(browser.problems, []);
});

test('the instructor starts a scheduled class', async () => {
  const sessions = await (await fetch(`${base}/api/v1/courses/${demo.live_sessions[0].course_id}/live-sessions`)).json();
  const later = sessions.find((s) => s.status === 'scheduled');
  const page = await browser.other();
  await signInAs(page, base, email('Grace Hopper'), demo.password);
  await page.goto(`${base}/live/${later.id}`);
  await connected(page);
  await page.locator('#live-status', { hasText: 'scheduled' }).waitFor();
  await page.locator('#live-notices p', { hasText: 'has not started yet' }).waitFor();
  await page.getByRole('button', { name: 'Start the class' }).click();
  await page.locator('#live-status', { hasText: 'live now' }).waitFor();
  await page.getByRole('button', { name: 'End the class' }).waitFor();
  assert.deepEqual(browser.problems, []);
});

test('the instructor ends the class and the learner can no longer chat', async () => {
  await teacher.getByRole('button', { name: 'End the class' }).click();
  await teacher.getByRole('button', { name: 'Really end the class?' }).click();
  await learner.locator('#live-status', { hasText: 'ended' }).waitFor();
  await learner.getByText('This class has ended.').waitFor();
  assert.equal(await learner.getByLabel('Message', { exact: true }).isDisabled(), true);
  await shot(teacher, 'live-instructor-ended');
  // Leaving the page disconnects: the instructor sees the learner go.
  await learner.goto(`${base}/library`);
  await teacher.locator('#live-presence', { hasText: '1 present' }).waitFor();
  assert.deepEqual(browser.problems, []);
});

// A server this file restarts on the same data dir and port (the harness's own servers get a
// new data dir each time), to see the 1012 close and the rejoin with `since` across a restart.
async function launch(dataDir, port) {
  const child = spawn(process.env.LYCEUM_BIN ?? join(repo, 'target/debug/lyceum'), [], {
    env: { ...process.env, LYCEUM_DATA_DIR: dataDir, LYCEUM_BIND: `127.0.0.1:${port}`,
      LYCEUM_STATIC_DIR: join(repo, 'static'), LYCEUM_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return child; } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('server never became ready');
}
const stopped = (child) => new Promise((r) => { if (child.exitCode !== null) r(); else { child.once('exit', r); child.kill('SIGTERM'); } });

test('a server restart (1012): the class reconnects by itself and carries on from where it was', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lyceum-live-restart-'));
  const port = await new Promise((ok) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); }); });
  const origin = `http://127.0.0.1:${port}`;
  let child = await launch(dataDir, port);
  try {
    const d = await loadDemo(origin);
    const room = `${origin}/live/${d.live_sessions[0].id}`;
    const pupil = await browser.other();
    const host = await browser.other();
    await signInAs(pupil, origin, email('Kenji Sato'), d.password);
    await pupil.goto(room);
    await connected(pupil);
    await signInAs(host, origin, email('Grace Hopper'), d.password);
    await host.goto(room);
    await connected(host);
    await host.getByLabel('Message', { exact: true }).fill('Before the restart');
    await host.getByRole('button', { name: 'Send' }).click();
    await chatLine(pupil, 'Before the restart').waitFor();

    await stopped(child);
    await pupil.locator('#live-conn[data-state="reconnecting"]').waitFor();
    await shot(pupil, 'live-learner-restart');
    child = await launch(dataDir, port);
    await connected(pupil);
    await connected(host);
    assert.equal(await pupil.locator('#live-conn').getAttribute('data-recovered'), 'true', 'rejoined with since/epoch');
    await host.getByLabel('Message', { exact: true }).fill('After the restart');
    await host.getByRole('button', { name: 'Send' }).click();
    await chatLine(pupil, 'After the restart').waitFor();
    assert.equal(await chatLine(pupil, 'Before the restart').count(), 1, 'nothing lost, nothing twice');
    // The browser reports each refused reconnection attempt while the server was down; nothing else.
    assert.deepEqual(browser.problems.filter((p) => !/WebSocket connection to '.*' failed/.test(p)), []);
  } finally {
    await stopped(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('re-authentication: the socket outlives its access token without reconnecting', async () => {
  // Tokens of 12 s: api.js refreshes every 5 s and the socket sends each fresh token with `auth`;
  // without that the server would close it (4002) at the first expiry.
  const short = await startServer({ LYCEUM_ACCESS_TOKEN_TTL_SECS: '12' });
  try {
    const d = await loadDemo(short.base);
    const pupil = await browser.other();
    await signInAs(pupil, short.base, email('Linus Learner'), d.password);
    await pupil.goto(`${short.base}/live/${d.live_sessions[0].id}`);
    await connected(pupil);
    const joinedAt = Date.now();
    // The condition here is time itself: wait until two token lifetimes have passed.
    await pupil.waitForFunction((t) => Date.now() > t, joinedAt + 26000, { timeout: 40000 });
    await pupil.getByLabel('Message', { exact: true }).fill('Still here after the token expired');
    await pupil.getByRole('button', { name: 'Send' }).click();
    await chatLine(pupil, 'Still here after the token expired').waitFor();
    assert.equal(await pupil.locator('#live-conn').getAttribute('data-joins'), '1', 'the same connection all along');
    assert.deepEqual(browser.problems.filter((p) => !/WebSocket connection to '.*' failed/.test(p)), []);
  } finally {
    await short.stop();
  }
});

test('a busy class: 600 messages in a burst, the chat keeps the last 500 in order', async () => {
  const busy = await startServer({ LYCEUM_WS_RATE_PER_SEC: '5000', LYCEUM_WS_BURST: '5000', LYCEUM_WS_OUTBOUND_QUEUE: '4096' });
  try {
    const d = await loadDemo(busy.base);
    const id = d.live_sessions[0].id;
    const pupil = await browser.other();
    await signInAs(pupil, busy.base, email('Linus Learner'), d.password);
    await pupil.goto(`${busy.base}/live/${id}`);
    await connected(pupil);
    const host = await browser.other();
    await signInAs(host, busy.base, email('Grace Hopper'), d.password);
    // The instructor's own raw socket, so the burst is as fast as the server takes it.
    const acks = await host.evaluate((room) => new Promise((ok, fail) => {
      const token = JSON.parse(localStorage.getItem('lyceum.session')).access_token;
      const ws = new WebSocket(`ws://${location.host}/ws?token=${token}`);
      let n = 0;
      ws.onmessage = (m) => {
        const f = JSON.parse(m.data);
        if (f.type === 'hello') ws.send(JSON.stringify({ type: 'join', room, ref: 'j' }));
        if (f.type === 'joined') for (let i = 1; i <= 600; i++) ws.send(JSON.stringify({ type: 'chat', room, text: `bulk ${i}`, ref: `c${i}` }));
        if (f.type === 'ack') { n += 1; if (n === 600) { ws.close(); ok(n); } }
        if (f.type === 'error') fail(new Error(f.message));
      };
    }), `class:${id}`);
    assert.equal(acks, 600);
    await pupil.locator('#chat-log li').last().filter({ hasText: 'bulk 600' }).waitFor();
    assert.equal(await pupil.locator('#chat-log li').count(), 500, 'capped at 500');
    assert.match(await pupil.locator('#chat-log li').first().textContent(), /bulk 101\b/);
    // Stuck to the bottom: the newest message is in view.
    assert.ok(await pupil.locator('#chat-log').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48));
    assert.deepEqual(browser.problems.filter((p) => !/WebSocket connection to '.*' failed/.test(p)), []);
  } finally {
    await busy.stop();
  }
});
