// An accessibility sweep of the web app: with the demo loaded, every page the router knows is
// opened by the people who can see it (nobody, a learner, an instructor who is also an expert,
// an admin), in English and in 简体中文, at desktop width and on a 390×844 phone, and checked for
//   1. an accessible name on every input, select and textarea (label, aria-label, aria-labelledby);
//   2. a non-empty accessible name on every button and link;
//   3. exactly one h1 and a document title of its own;
//   4. no horizontal overflow on the phone;
//   5. in 中文, no English string of the app's dictionary (nor a plain-English control) left;
//   6. keyboard: the skip link comes first and works, Tab reaches the main content's first control,
//      and focus is visible on the way;
//   7. contrast of at least 4.5:1 for the header's text (nav links, #whoami) and for .meta and
//      .badge text.
// Every finding names its page, person, language, viewport and element; a test fails with the list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startBrowser, loadDemo, signInAs, shot } from './harness.js';

let server, browser, base, demo;
const pages = {};
const ctx = {};
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

/** Calls the API as `token` (or nobody); answers the JSON or throws with the error. */
async function api(method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (token) h.authorization = `Bearer ${token}`;
  const r = await fetch(`${base}/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const email = (name) => demo.accounts.find((a) => a.display_name === name).email;
const tokenOf = async (name) => (await api('POST', '/auth/login', { body: { email: email(name), password: demo.password } })).access_token;

/** Books the first slot of `expertId` that the API accepts after `after` (ms); answers the booking. */
async function bookSlot(token, expertId, afterMs) {
  const from = new Date(afterMs); const to = new Date(afterMs + 7 * 86400000);
  const e = await api('GET', `/experts/${expertId}`);
  const av = await api('GET', `/experts/${expertId}/availability?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`, { token });
  const len = e.min_minutes * 60000; const step = 15 * 60000;
  for (const iv of av.intervals) {
    const s = new Date(iv.start).getTime(); const end = new Date(iv.end).getTime();
    for (let x = Math.ceil(Math.max(s, afterMs) / step) * step; x + len <= end; x += step) {
      try { return await api('POST', `/experts/${expertId}/bookings`, { token, body: { starts_at: new Date(x).toISOString(), minutes: e.min_minutes } }); } catch { /* the next slot */ }
    }
  }
  throw new Error('no bookable slot');
}

before(async () => {
  server = await startServer();
  base = server.base;
  demo = await loadDemo(base);
  browser = await startBrowser();
  pages.anon = await browser.first();
  pages.learner = await browser.other();
  pages.instructor = await browser.other();
  pages.admin = await browser.other();
  await signInAs(pages.learner, base, email('Linus Learner'), demo.password);
  await signInAs(pages.instructor, base, email('Grace Hopper'), demo.password);
  await signInAs(pages.admin, base, email('Ada Admin'), demo.password);

  // What the pages need: a course, one of its lessons, a paid course with a pending order (the
  // pay page), an expert, an unpaid booking hold (the hold page) and a paid booking (bookings,
  // the consultation room), one of Grace's courses (the studio editor).
  const linus = await tokenOf('Linus Learner');
  const grace = await tokenOf('Grace Hopper');
  ctx.live = demo.live_sessions[0];
  const course = await api('GET', `/courses/${ctx.live.course_id}`, { token: linus });
  ctx.course = course.id;
  ctx.lesson = course.lessons.find((l) => !l.locked)?.id ?? course.lessons[0].id;
  const catalog = await api('GET', '/courses?limit=50');
  let paid = null;
  for (const c of catalog.items) {
    if (!c.price?.amount_minor) continue;
    const full = await api('GET', `/courses/${c.id}`, { token: linus });
    if (!full.entitled && !full.can_manage) { paid = full; break; }
  }
  assert.ok(paid, 'a paid course Linus does not own');
  const order = await api('POST', '/orders', { token: linus, body: { course_id: paid.id }, headers: { 'idempotency-key': crypto.randomUUID() } });
  ctx.pay = `/pay/${order.payment.id}?order=${order.id}&course=${paid.id}`;
  ctx.order = order.id;
  ctx.paid = paid.id;
  const experts = await api('GET', '/experts');
  const graceExpert = (experts.items ?? experts).find((x) => x.display_name === 'Grace Hopper');
  ctx.expert = graceExpert.id;
  // One unpaid hold per expert at a time: the paid booking first, then the hold.
  const booked = await bookSlot(linus, ctx.expert, Date.now() + 86400000);
  await api('POST', `/sandbox/payments/${booked.payment.id}/confirm`, { token: linus, body: { card_number: '4242424242424242' } });
  ctx.booking = booked.booking.id;
  const hold = await bookSlot(linus, ctx.expert, Date.now() + 2 * 86400000);
  ctx.hold = `/hold/${hold.payment.id}?booking=${hold.booking.id}`;
  const teaching = await api('GET', '/me/courses/teaching?limit=5', { token: grace });
  ctx.studioCourse = (teaching.items ?? teaching)[0].id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The pages each person visits (paths, in order). */
const routes = () => ({
  anon: ['/signin', '/signup', '/setup', '/', `/courses/${ctx.course}`, '/experts', `/experts/${ctx.expert}`, '/no-such-page',
    '/courses/no-such-course'],
  learner: ['/', `/courses/${ctx.course}`, `/courses/${ctx.course}/lessons/${ctx.lesson}`, `/courses/${ctx.paid}`, '/library', '/orders', ctx.pay, '/pay/not-a-payment',
    `/live/${ctx.live.id}`, '/experts', `/experts/${ctx.expert}`, ctx.hold, '/bookings', '/questions', '/experts/me',
    `/consult/${ctx.booking}`],
  instructor: ['/studio', '/studio/courses/new', `/studio/courses/${ctx.studioCourse}`, `/live/${ctx.live.id}`,
    '/experts/me', '/bookings', '/questions', `/consult/${ctx.booking}`],
  admin: ['/admin', '/admin/review', '/admin/users', '/admin/orders', `/admin/orders?id=${ctx.order}`, '/admin/revenue'],
});

/** Opens `path` and waits for its page (its h1) and its requests to settle. */
async function open(page, path) {
  await page.goto(`${base}${path}`);
  await page.locator('main h1').first().waitFor();
  await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
  await page.waitForTimeout(150);
}

/** Sets the language through the header's select (it is remembered from then on). */
async function useLang(page, lang) {
  if (await page.locator('#lang').inputValue() !== lang) await page.locator('#lang').selectOption(lang);
  await page.waitForFunction((l) => document.documentElement.lang.startsWith(l), lang === 'zh' ? 'zh' : 'en');
}

/** Checks 1–5 and 7 in the page; answers the findings (strings naming the element). */
function inPageChecks({ phone, zh }) {
  return (async () => {
    const out = [];
    const i18n = await import('/js/i18n.js');
    const en = i18n.strings('en'); const cn = i18n.strings('zh');
    const desc = (el) => {
      let s = el.tagName.toLowerCase();
      if (el.id) s += `#${el.id}`;
      if (el.getAttribute('name')) s += `[name=${el.getAttribute('name')}]`;
      if (el.className && typeof el.className === 'string') s += `.${el.className.trim().split(/\s+/).join('.')}`;
      const txt = (el.textContent || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40);
      const where = el.closest('[id]:not(main)')?.id;
      return `${s}${txt ? ` "${txt}"` : ''}${where && where !== el.id ? ` in #${where}` : ''}`;
    };
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
      && getComputedStyle(el).visibility !== 'hidden';
    const byIds = (el, attr) => (el.getAttribute(attr) || '').split(/\s+/).filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent.trim() ?? '').join(' ').trim();

    // A label's own words: its text without the controls inside it (a select's options are no label).
    const labelText = (l) => { const c = l.cloneNode(true); c.querySelectorAll('input, select, textarea').forEach((x) => x.remove()); return c.textContent.trim(); };
    // 1. form controls have a name: a label, aria-label or aria-labelledby.
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      const name = (el.getAttribute('aria-label') || '').trim() || byIds(el, 'aria-labelledby')
        || [...(el.labels ?? [])].map(labelText).join(' ').trim();
      if (!name) out.push(`form control without an accessible name: ${desc(el)}`);
    }
    // 2. buttons and links have a name.
    for (const el of document.querySelectorAll('button, a[href], [role=button], [role=link]')) {
      const name = (el.getAttribute('aria-label') || '').trim() || byIds(el, 'aria-labelledby') || el.textContent.trim()
        || [...el.querySelectorAll('img[alt]')].map((i) => i.alt).join('').trim() || (el.getAttribute('title') || '').trim();
      if (!name) out.push(`${el.tagName.toLowerCase()} without an accessible name: ${desc(el)}`);
    }
    // 3. one h1, a title of the page's own.
    const h1s = document.querySelectorAll('h1');
    if (h1s.length !== 1) out.push(`${h1s.length} h1 elements: ${[...h1s].map(desc).join(', ')}`);
    if (!document.title.trim() || document.title.trim() === 'Lyceum' || /undefined|null/.test(document.title)) out.push(`document title not set: "${document.title}"`);
    // 4. nothing wider than a phone.
    if (phone) {
      const w = window.innerWidth;
      if (document.documentElement.scrollWidth > w + 1) {
        const wide = [...document.querySelectorAll('body *')].filter((el) => visible(el) && el.getBoundingClientRect().right > w + 1
          && ![...el.children].some((c) => c.getBoundingClientRect().right > w + 1));
        out.push(`horizontal overflow: scrollWidth ${document.documentElement.scrollWidth} > ${w}; widest: ${wide.slice(0, 4).map(desc).join(', ')}`);
      }
    }
    // 5. in 中文: no English dictionary string (one that has a translation) on a visible element,
    //    and no control, label, table header, legend or badge of the app's own left in plain English.
    if (zh) {
      const patterns = Object.entries(en).filter(([k, v]) => cn[k] !== undefined && cn[k] !== v && v.replace(/\{\w+\}/g, '').replace(/[^A-Za-z]/g, '').length >= 3)
        .map(([k, v]) => [k, new RegExp(`^${v.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '.+?')}$`)]);
      const own = (el) => [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(' ').trim().replace(/\s+/g, ' ');
      const scope = [...document.querySelectorAll('header, main, #toast')];
      const seen = new Set();
      for (const root of scope) {
        for (const el of [root, ...root.querySelectorAll('*')]) {
          if (!visible(el) || ['SCRIPT', 'STYLE', 'OPTION'].includes(el.tagName)) continue;
          const texts = [own(el), el.getAttribute('aria-label'), el.getAttribute('placeholder'), el.getAttribute('title')].filter(Boolean);
          for (const s of texts) {
            const hit = patterns.find(([, re]) => re.test(s));
            if (hit && !seen.has(s)) { seen.add(s); out.push(`English string "${s}" (key ${hit[0]}) in 中文: ${desc(el)}`); }
          }
        }
        // Chrome elements whose whole text is English words (user content aside: tags, names).
        for (const el of root.querySelectorAll('button, label, th, legend, .badge:not(.tags .badge), summary, caption, dt')) {
          if (!visible(el)) continue;
          const s = (el.tagName === 'LABEL' ? own(el) : el.textContent.trim()).replace(/\s+/g, ' ');
          if (/[A-Za-z]{3,}/.test(s) && !/[\u3400-\u9fff]/.test(s) && !seen.has(s)
            && !el.closest('.live-options, .chat-log, .live-chat-log, .live-board, .reviews')) {
            seen.add(s); out.push(`English UI text "${s}" in 中文: ${desc(el)}`);
          }
        }
      }
      for (const el of document.querySelectorAll('select option')) {
        const s = el.textContent.trim();
        const hit = patterns.find(([, re]) => re.test(s));
        if (hit && !seen.has(s)) { seen.add(s); out.push(`English option "${s}" (key ${hit[0]}) in 中文: ${desc(el.closest('select'))}`); }
      }
      if (document.title && patterns.some(([, re]) => re.test(document.title.replace(/ · Lyceum$/, '')))) out.push(`English document title in 中文: "${document.title}"`);
    }
    // 7. contrast: header text, .meta and .badge at 4.5:1 or more.
    const rgba = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [0, 0, 0, 0]; const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p[3] ?? 1]; };
    const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const bgOf = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
      let acc = [255, 255, 255];
      for (const c of layers.reverse()) acc = acc.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
      return acc;
    };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const targets = new Set([...document.querySelectorAll('header a, header button, header select, #whoami, header .brand, .meta, .badge')]);
    const reported = new Set();
    for (const el of targets) {
      if (!visible(el) || !el.textContent.trim()) continue;
      const fg = rgba(getComputedStyle(el).color); const bg = bgOf(el);
      const fgc = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
      const r = ratio(fgc, bg);
      const key = `${el.className}|${getComputedStyle(el).color}|${bg.join()}`;
      if (r < 4.5 && !reported.has(key)) { reported.add(key); out.push(`contrast ${r.toFixed(2)}:1 < 4.5:1 (${getComputedStyle(el).color} on rgb(${bg.map(Math.round).join(',')})): ${desc(el)}`); }
    }
    return out;
  })();
}

/** Check 6 on the current page: the skip link first, it works, and Tab reaches main's first control visibly. */
async function keyboardChecks(page) {
  const out = [];
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  // Start from the top of the document, as a keyboard user arriving on the page.
  await page.evaluate(() => { document.body.setAttribute('tabindex', '-1'); document.body.focus(); document.body.removeAttribute('tabindex'); });
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => {
    const el = document.activeElement; const r = el.getBoundingClientRect(); const cs = getComputedStyle(el);
    return { skip: el.classList.contains('skip'), onScreen: r.left >= 0 && r.top >= 0 && r.width > 0 && r.right <= innerWidth,
      outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0, text: el.textContent.trim() };
  });
  if (!first.skip) out.push(`the first Tab stop is not the skip link ("${first.text}")`);
  else {
    if (!first.onScreen) out.push('the focused skip link is not shown on screen');
    if (!first.outline) out.push('the focused skip link has no visible focus outline');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(150);
    const inMain = await page.evaluate(() => document.activeElement === document.getElementById('main') || document.getElementById('main').contains(document.activeElement));
    if (!inMain) out.push('the skip link does not move focus to the main content');
  }
  // From the top again, Tab until focus lands in main: every stop shows its focus, and the stop
  // in main is its first focusable element.
  await page.evaluate(() => { document.body.setAttribute('tabindex', '-1'); document.body.focus(); document.body.removeAttribute('tabindex'); });
  let reached = null;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    const st = await page.evaluate(() => {
      const el = document.activeElement; const cs = getComputedStyle(el);
      const main = document.getElementById('main');
      const focusables = [...main.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])')]
        .filter((x) => !x.disabled && (x.offsetWidth || x.offsetHeight || x.getClientRects().length) && getComputedStyle(x).visibility !== 'hidden');
      return { inMain: main.contains(el) && el !== main, isFirst: focusables[0] === el, firstDesc: focusables[0]?.outerHTML.slice(0, 80),
        desc: `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 30)}"`,
        outline: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none', body: el === document.body };
    });
    if (st.body) break;
    if (!st.outline) out.push(`focus not visible on ${st.desc}`);
    if (st.inMain) reached = st;
  }
  const hasControl = await page.evaluate(() => [...document.getElementById('main').querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])')]
    .some((x) => !x.disabled && (x.offsetWidth || x.offsetHeight || x.getClientRects().length)));
  if (!reached && hasControl) out.push('Tab from the top never reaches the main content');
  else if (!reached) { /* nothing to reach in main: the skip link is the way in */ }
  else if (!reached.isFirst) out.push(`Tab enters main at ${reached.desc}, not its first control ${reached.firstDesc}`);
  return out;
}

/** Visits `who`'s pages in both languages and both widths; answers the findings. */
async function sweep(who) {
  const page = pages[who];
  const findings = [];
  for (const lang of ['en', 'zh']) {
    for (const [vpName, vp] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      await page.setViewportSize(vp);
      for (const path of routes()[who]) {
        await open(page, path);
        await useLang(page, lang);
        if (lang === 'zh') await page.waitForTimeout(150);
        const tag = `[${who} ${lang} ${vpName}] ${path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}')}`;
        const got = await page.evaluate(inPageChecks, { phone: vpName === 'phone', zh: lang === 'zh' });
        if (lang === 'en' && vpName === 'desktop') got.push(...await keyboardChecks(page));
        for (const f of got) findings.push(`${tag}: ${f}`);
        await shot(page, `a11y-${who}-${lang}-${vpName}-${routes()[who].indexOf(path)}`);
      }
    }
  }
  await useLang(page, 'en');
  return findings;
}

for (const who of ['anon', 'learner', 'instructor', 'admin']) {
  test(`accessibility sweep: ${who}'s pages in English and 中文, desktop and phone`, async () => {
    const findings = await sweep(who);
    assert.deepEqual(findings, [], `${findings.length} accessibility findings:\n  ${findings.join('\n  ')}`);
  });
}

// The checks themselves: a page with one fault of each kind must give one finding of each kind,
// so a label that goes missing (or any other fault) fails the sweep.
test('the checks catch a missing label, a nameless button, a second h1, overflow, English in 中文 and low contrast', async () => {
  const page = pages.anon;
  await page.setViewportSize(PHONE);
  await open(page, '/signin');
  await useLang(page, 'zh');
  await page.evaluate(() => {
    const main = document.getElementById('main');
    const add = (html) => main.insertAdjacentHTML('beforeend', html);
    add('<input name="unlabelled">');
    add('<label><select name="bare"><option>1</option></select></label>');
    add('<button type="button"></button>');
    add('<a href="/x"></a>');
    add('<h1>second</h1>');
    add('<div id="too-wide">wide</div>');
    document.getElementById('too-wide').style.width = '600px'; // the CSP allows CSSOM, not style attributes
    add('<button type="button">Sign in</button>');
    add('<table><tr><th>Created</th><th>Widgets</th></tr></table>');
    add('<p class="meta" id="faint">faint</p>');
    document.getElementById('faint').style.color = '#aaa';
  });
  const got = await page.evaluate(inPageChecks, { phone: true, zh: true });
  await useLang(page, 'en');
  await page.setViewportSize(DESKTOP);
  const expect = [/form control without an accessible name: input\[name=unlabelled\]/, /form control without an accessible name: select\[name=bare\]/,
    /^button without an accessible name/, /^a without an accessible name/, /^2 h1 elements/, /^horizontal overflow/,
    /English string "Sign in" \(key signin/, /English string "Created" \(key ad_created/, /English UI text "Widgets"/, /^contrast .* "faint"/];
  for (const re of expect) assert.ok(got.some((f) => re.test(f)), `no finding matching ${re} in:\n  ${got.join('\n  ')}`);
});

test('the sweep saw no page errors, console errors or failed requests', () => {
  assert.deepEqual(browser.problems, []);
});
