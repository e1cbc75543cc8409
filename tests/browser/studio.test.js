// Browser tests of the instructor studio and the admin desk: an instructor builds a course, an
// admin rejects and then approves it, the course reaches the public catalog; live sessions,
// users (roles, access, the last admin), an admin refund and the revenue page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startBrowser, loadDemo, signInAs, shot } from './harness.js';

let server, browser, base, demo, teacher, admin;
// A word no demo course uses, so a catalog search finds only the course made here.
const WORD = 'Quokkology';
const TITLE = `${WORD} for Beginners`;
const REASON = 'The description is too short: say what learners will build.';
const SESSION = 'Quokka office hours';
let courseId;

before(async () => {
  server = await startServer();
  base = server.base;
  demo = await loadDemo(base);
  // The browsers run eight hours ahead of UTC, so a wrong offset in the scheduling form shows.
  process.env.TZ = 'Asia/Shanghai';
  browser = await startBrowser();
  teacher = await browser.first();
  admin = await browser.other();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const problems = () => browser.problems;
const email = (name) => demo.accounts.find((a) => a.email.startsWith(name)).email;

/** Calls the API from the test itself (to check what the pages did). */
async function apiCall(method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(`${base}/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, data: text ? JSON.parse(text) : null };
}
const login = (who) => apiCall('POST', '/auth/login', { body: { email: email(who), password: demo.password } });

/** The lesson titles as the editor lists them, in order. */
const lessonOrder = () => teacher.locator('#lesson-list .lesson-title').allTextContents();

test('an instructor creates a course with two lessons, reorders them and submits it', async () => {
  await signInAs(teacher, base, email('grace'), demo.password);
  assert.equal(await teacher.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), 'Asia/Shanghai');
  await teacher.locator('#nav').getByRole('link', { name: 'Studio' }).click();
  await teacher.getByRole('heading', { level: 1, name: 'Studio' }).waitFor();
  // The demo instructor's own courses are listed with their status.
  await teacher.locator('#teaching li.studio-course').first().waitFor();
  await teacher.getByRole('link', { name: 'New course' }).click();
  await teacher.waitForURL('**/studio/courses/new');

  const form = teacher.locator('#course-form');
  await form.getByLabel('Title', { exact: true }).fill(TITLE);
  await form.getByLabel('Description').fill('Short.');
  await form.getByLabel('Category').fill('Biology');
  await form.getByLabel('Tags (comma separated)').fill('marsupials, field work');
  await form.getByLabel('Level').selectOption('beginner');
  await form.getByLabel('Price (0 for free)').fill('19.99');
  await form.getByLabel('Currency').selectOption('EUR');
  await form.getByRole('button', { name: 'Create the draft' }).click();
  await teacher.waitForURL(/\/studio\/courses\/[0-9a-f-]{36}$/);
  courseId = new URL(teacher.url()).pathname.split('/').pop();
  await teacher.getByRole('heading', { level: 1, name: TITLE }).waitFor();
  assert.equal(await teacher.locator('#course-status .badge').textContent(), 'Draft');

  // What the server stored: the price in minor units, the category and tags normalised.
  const { data: stored } = await apiCall('GET', `/courses/${courseId}`, { token: (await login('grace')).data.access_token });
  assert.deepEqual(stored.price, { amount_minor: 1999, currency: 'EUR' });
  assert.equal(stored.category, 'biology');
  assert.deepEqual(stored.tags, ['field-work', 'marsupials']);
  assert.equal(stored.level, 'beginner');

  const add = teacher.locator('#add-lesson');
  for (const [title, preview] of [['Meet the quokka', true], ['Counting quokkas', false]]) {
    await add.getByLabel('Title', { exact: true }).fill(title);
    await add.getByLabel('Text').fill(`${title}: the lesson text.`);
    if (preview) await add.getByLabel('Free preview (readable by everyone)').check();
    await add.getByRole('button', { name: 'Add a lesson' }).click();
    await teacher.locator('#lesson-list .lesson-title', { hasText: title }).waitFor();
  }
  assert.deepEqual(await lessonOrder(), ['1. Meet the quokka Free preview', '2. Counting quokkas ']);

  await teacher.getByRole('button', { name: 'Move “Counting quokkas” up' }).click();
  await teacher.locator('#lesson-list > li:first-child .lesson-title', { hasText: 'Counting quokkas' }).waitFor();
  // Focus follows the moved lesson (its up button is now disabled, so its down button).
  assert.equal(await teacher.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Move “Counting quokkas” down');
  await shot(teacher, 'studio-01-editor');
  // The new order is the server's: it survives a reload.
  await teacher.reload();
  await teacher.locator('#lesson-list > li:first-child .lesson-title', { hasText: 'Counting quokkas' }).waitFor();
  assert.deepEqual(await lessonOrder(), ['1. Counting quokkas ', '2. Meet the quokka Free preview']);

  await teacher.getByRole('button', { name: 'Submit for review' }).click();
  await teacher.locator('#course-status .badge', { hasText: 'In review' }).waitFor();
  assert.equal(await teacher.getByRole('button', { name: 'Submit for review' }).count(), 0);
  assert.deepEqual(problems(), []);
});

test('an admin rejects it with a reason; the instructor sees it, edits and resubmits', async () => {
  await signInAs(admin, base, email('admin'), demo.password);
  await admin.locator('#nav').getByRole('link', { name: 'Admin', exact: true }).click();
  await admin.getByRole('heading', { level: 1, name: 'Admin desk' }).waitFor();
  await admin.locator('.subnav').getByRole('link', { name: 'Review queue' }).click();
  const card = admin.locator('#queue li.card', { hasText: TITLE });
  await card.getByLabel('Reason for rejection').fill(REASON);
  await card.getByRole('button', { name: 'Reject' }).click();
  await card.waitFor({ state: 'detached' });

  await teacher.goto(`${base}/studio`);
  const mine = teacher.locator('#teaching li.studio-course', { hasText: TITLE });
  await mine.locator('.rejection', { hasText: REASON }).waitFor();
  assert.equal(await mine.locator('.badge').textContent(), 'Draft');
  await shot(teacher, 'studio-02-rejected');
  await mine.getByRole('link', { name: TITLE }).click();
  await teacher.locator('#course-status .rejection', { hasText: REASON }).waitFor();

  const form = teacher.locator('#course-form');
  await form.getByLabel('Description').fill('Learners build a quokka census: counting, tagging and mapping a colony.');
  await form.getByRole('button', { name: 'Save' }).click();
  await form.getByText('Saved.').waitFor();
  await teacher.getByRole('button', { name: 'Submit for review' }).click();
  await teacher.locator('#course-status .badge', { hasText: 'In review' }).waitFor();
  // The reason is gone once the course is back in review.
  assert.equal(await teacher.locator('#course-status .rejection').count(), 0);
  assert.deepEqual(problems(), []);
});

test('the admin approves it and it appears in the public catalog', async () => {
  await admin.reload();
  const card = admin.locator('#queue li.card', { hasText: TITLE });
  await card.getByRole('button', { name: 'Approve' }).click();
  await admin.locator('#toast', { hasText: 'Approved and published.' }).waitFor();
  await card.waitFor({ state: 'detached' });

  const visitor = await browser.other();
  await visitor.goto(`${base}/?q=${WORD}`);
  await visitor.locator('#courses').getByRole('link', { name: TITLE }).click();
  await visitor.getByRole('heading', { level: 1, name: TITLE }).waitFor();
  assert.match(await visitor.locator('main').textContent(), /counting, tagging and mapping/);

  await teacher.goto(`${base}/studio`);
  await teacher.locator('#teaching li.studio-course', { hasText: TITLE }).locator('.badge', { hasText: 'Published' }).waitFor();
  assert.deepEqual(problems(), []);
});

test('the instructor schedules a live session, starts and ends it; the course page shows it', async () => {
  await teacher.goto(`${base}/studio/courses/${courseId}`);
  const form = teacher.locator('#schedule-live');
  await form.getByLabel('Session title').fill(SESSION);
  // Tomorrow 10:30 on the browser's clock (Asia/Shanghai, UTC+8).
  const local = await teacher.evaluate(() => {
    const d = new Date(Date.now() + 86400000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T10:30`;
  });
  await form.getByLabel('Starts at (your local time)').fill(local);
  await form.getByRole('button', { name: 'Schedule' }).click();
  const item = teacher.locator('#live-list li', { hasText: SESSION });
  await item.locator('.badge', { hasText: 'scheduled' }).waitFor();

  // The server got the viewer's wall time with the viewer's offset: 10:30 in Shanghai is 02:30 UTC.
  const { data: sessions } = await apiCall('GET', `/courses/${courseId}/live-sessions`);
  const s = sessions.find((x) => x.title === SESSION);
  assert.equal(new Date(s.starts_at).toISOString(), `${local}:00.000Z`.replace('T10:30', 'T02:30'));

  const visitor = await browser.other();
  await visitor.goto(`${base}/courses/${courseId}`);
  await visitor.getByRole('heading', { level: 1, name: TITLE }).waitFor();
  await visitor.locator('main', { hasText: SESSION }).waitFor();

  await item.getByRole('button', { name: 'Start' }).click();
  await item.locator('.badge', { hasText: 'live now' }).waitFor();
  assert.equal(await item.getByRole('link', { name: 'Open the classroom' }).getAttribute('href'), `/live/${s.id}`);
  await shot(teacher, 'studio-03-live');
  await item.getByRole('button', { name: 'End' }).click();
  await item.locator('.badge', { hasText: 'ended' }).waitFor();
  assert.equal((await apiCall('GET', `/courses/${courseId}/live-sessions`)).data.find((x) => x.id === s.id).status, 'ended');
  assert.deepEqual(problems(), []);
});

test('the instructor makes a coupon and sees earnings', async () => {
  await teacher.goto(`${base}/studio/courses/${courseId}`);
  const form = teacher.locator('#coupon-form');
  await form.getByLabel('Code').fill('quokka25');
  await form.getByLabel('Value').fill('25');
  await form.getByRole('button', { name: 'Create the coupon' }).click();
  await teacher.locator('table.coupons tr', { hasText: 'QUOKKA25' }).locator('td', { hasText: '25%' }).waitFor();
  // The same code again is the API's 409, shown in the form.
  await form.getByLabel('Code').fill('QUOKKA25');
  await form.getByLabel('Value').fill('10');
  await form.getByRole('button', { name: 'Create the coupon' }).click();
  await form.locator('.form-error', { hasText: '(conflict)' }).waitFor();

  await teacher.goto(`${base}/studio`);
  const { data: earned } = await apiCall('GET', '/me/earnings', { token: (await login('grace')).data.access_token });
  const eur = earned.find((e) => e.currency === 'EUR');
  const fmt = new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' }).format(eur.balance_minor / 100);
  await teacher.locator('#earnings-list .price', { hasText: fmt }).waitFor();
  await teacher.locator('table.coupons', { hasText: 'QUOKKA25' }).waitFor();
  await shot(teacher, 'studio-04-home');
  assert.deepEqual(problems(), []);
});

test('the admin changes a role, disables and enables a user, and cannot demote the last admin', async () => {
  await admin.goto(`${base}/admin`);
  await admin.locator('.subnav').getByRole('link', { name: 'Users' }).click();
  await admin.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await admin.getByLabel('Email contains').fill('linus');
  await admin.getByRole('button', { name: 'Search' }).click();
  await admin.waitForURL('**/admin/users?email=linus');
  const card = admin.locator('#users li.user', { hasText: 'Linus Learner' });
  await card.waitFor();
  assert.equal(await admin.locator('#users li.user').count(), 1);

  await card.getByLabel('Role of Linus Learner').selectOption('instructor');
  await card.getByRole('button', { name: 'Change role' }).click();
  await card.getByText('Role is now instructor.').waitFor();
  assert.equal((await login('linus')).data.user.role, 'instructor');

  await card.getByRole('button', { name: 'Disable Linus Learner' }).click();
  await card.getByText('Disabled: cannot sign in.').waitFor();
  assert.equal((await login('linus')).status, 403);
  // A fresh search lists the account as disabled, with only the action that undoes it.
  await admin.reload();
  await card.locator('.badge.off', { hasText: 'disabled' }).waitFor();
  assert.equal(await card.getByRole('button', { name: 'Disable Linus Learner' }).count(), 0);
  await shot(admin, 'studio-05-users');
  await card.getByRole('button', { name: 'Enable Linus Learner' }).click();
  await card.getByText('Enabled: can sign in.').waitFor();
  assert.equal((await login('linus')).status, 200);

  // The only admin cannot be demoted: the 409 is shown on the card and the role stays.
  await admin.getByLabel('Email contains').fill('admin@');
  await admin.getByRole('button', { name: 'Search' }).click();
  const me = admin.locator('#users li.user', { hasText: 'Ada Admin' });
  await me.waitFor();
  await me.getByLabel('Role of Ada Admin').selectOption('learner');
  await me.getByRole('button', { name: 'Change role' }).click();
  await me.locator('.user-error', { hasText: '(conflict)' }).waitFor();
  assert.equal(await me.getByLabel('Role of Ada Admin').inputValue(), 'admin');
  assert.equal((await login('admin')).data.user.role, 'admin');
  assert.deepEqual(problems(), []);
});

test('the admin refunds part of an order', async () => {
  // A learner buys the new course through the API and pays with the sandbox's good card.
  const token = (await login('maria')).data.access_token;
  const { status, data: order } = await apiCall('POST', '/orders', { token, body: { course_id: courseId }, headers: { 'idempotency-key': `studio-${Date.now()}` } });
  assert.equal(status, 201);
  await apiCall('POST', `/sandbox/payments/${order.payment.id}/confirm`, { token, body: { card_number: '4242424242424242' } });

  // The order is in the admin's list of every buyer's orders, and opens from there.
  await admin.goto(`${base}/admin/orders`);
  const listed = admin.locator('#recent-orders tbody tr', { hasText: 'Maria Lopez' }).first();
  await listed.waitFor();
  await listed.getByRole('link').click();
  assert.equal(await admin.getByLabel('Order id').inputValue(), order.id);
  // The order becomes paid when the webhook lands; look it up again until it is.
  const statusBadge = admin.locator('#order-status');
  await statusBadge.waitFor();
  while ((await statusBadge.textContent()) !== 'paid') {
    await admin.reload();
    await statusBadge.waitFor();
  }
  const form = admin.locator('#refund-form');
  await form.getByLabel('Amount to refund (empty: everything left)').fill('5.00');
  await form.getByLabel('Reason').fill('Goodwill: the live session moved');
  await form.getByRole('button', { name: 'Refund' }).click();
  await admin.getByText('Refund recorded; the order is now partially_refunded.').waitFor();
  assert.match(await admin.locator('#order-result').textContent(), /Refundable€14\.99/);
  const { data: after } = await apiCall('GET', `/orders/${order.id}`, { token });
  assert.equal(after.refunded.amount_minor, 500);
  assert.deepEqual(problems(), []);
});

test('the revenue page shows the figures and the trial balance; recommendations rebuild', async () => {
  await admin.goto(`${base}/admin`);
  await admin.locator('.subnav').getByRole('link', { name: 'Revenue' }).click();
  await admin.getByRole('heading', { level: 1, name: 'Revenue' }).waitFor();
  const { data: revenue } = await apiCall('GET', '/admin/revenue', { token: (await login('admin')).data.access_token });
  assert.ok(revenue.length > 0);
  for (const r of revenue) {
    const card = admin.locator(`#revenue li[data-currency="${r.currency}"]`);
    const f = (m) => new Intl.NumberFormat('en', { style: 'currency', currency: r.currency }).format(m / 100);
    await card.locator('dd', { hasText: f(r.collected_minor) }).first().waitFor();
    await card.locator('dd', { hasText: f(r.instructors_payable_minor) }).first().waitFor();
    assert.equal(await card.locator('.trial').textContent(), 'Balanced (0)');
  }
  await shot(admin, 'studio-06-revenue');

  await admin.locator('.subnav').getByRole('link', { name: 'Admin desk' }).click();
  await admin.getByRole('button', { name: 'Rebuild recommendations' }).click();
  await admin.locator('#rebuild-result', { hasText: /^Rebuilt: [1-9]\d* courses indexed/ }).waitFor();
  assert.deepEqual(problems(), []);
});

test('the studio and the admin desk in 简体中文 and on a phone', async () => {
  await teacher.locator('#lang').selectOption('zh');
  await teacher.goto(`${base}/studio/courses/${courseId}`);
  await teacher.getByRole('heading', { name: '课时', exact: true }).waitFor();
  await teacher.locator('#course-status .badge', { hasText: '已发布' }).waitFor();
  await shot(teacher, 'studio-07-editor-zh');
  await teacher.goto(`${base}/studio`);
  await teacher.getByRole('heading', { level: 1, name: '讲师工作台' }).waitFor();
  await shot(teacher, 'studio-08-home-zh');

  await admin.locator('#lang').selectOption('zh');
  await admin.goto(`${base}/admin/users`);
  await admin.getByRole('heading', { level: 1, name: '用户' }).waitFor();
  await admin.locator('.subnav a[aria-current="page"]', { hasText: '用户' }).waitFor();
  await shot(admin, 'studio-09-users-zh');
  await admin.goto(`${base}/admin/revenue`);
  await admin.locator('#revenue .trial', { hasText: '平衡' }).first().waitFor();
  await shot(admin, 'studio-10-revenue-zh');

  await teacher.setViewportSize({ width: 390, height: 844 });
  await teacher.goto(`${base}/studio/courses/${courseId}`);
  await teacher.locator('#lesson-list').waitFor();
  // Nothing sticks out sideways on a phone.
  assert.ok(await teacher.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  await shot(teacher, 'studio-11-editor-phone-zh');
  await admin.setViewportSize({ width: 390, height: 844 });
  await admin.goto(`${base}/admin/users`);
  await admin.locator('#users li.user').first().waitFor();
  assert.ok(await admin.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  await shot(admin, 'studio-12-users-phone-zh');
  await teacher.locator('#lang').selectOption('en');
  await admin.locator('#lang').selectOption('en');
  assert.deepEqual(problems(), []);
});
