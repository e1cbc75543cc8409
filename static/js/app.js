// The Lyceum web app: a router over history.pushState, views built from DOM nodes (no inline
// scripts or styles, so a strict CSP holds), every string through i18n.
import { t, setLang, currentLang, money, when } from './i18n.js';
import { api, me, onSession, signIn, signUp, signOut, ApiError } from './api.js';

const main = document.getElementById('main');

/** Builds an element: `h('a', {href}, 'text', child)`. Strings become text nodes, never HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Shows an API error (or any message) in the live alert region. */
function toast(msg, kind = 'error') {
  const box = document.getElementById('toast');
  box.textContent = msg instanceof ApiError ? (msg.code === 'network' ? t('net_error') : `${msg.message} (${msg.code})`) : String(msg);
  box.className = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

/** Runs `fn` for a form submit, disabling its button and showing errors inline. */
function submitter(fn) {
  return async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const btn = form.querySelector('button[type=submit]');
    const out = form.querySelector('.form-error');
    if (btn) btn.disabled = true;
    if (out) out.textContent = '';
    try { await fn(new FormData(form), form); } catch (e) {
      if (out && e instanceof ApiError) out.textContent = `${e.message} (${e.code})`; else toast(e);
    } finally { if (btn) btn.disabled = false; }
  };
}

const errorSlot = () => h('p', { class: 'form-error error', role: 'alert' });
const field = (label, attrs) => h('label', {}, label, h('input', attrs));

export function go(path) { history.pushState(null, '', path); render(); }
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (a && !ev.metaKey && !ev.ctrlKey) { ev.preventDefault(); go(a.getAttribute('href')); }
});
window.addEventListener('popstate', render);

function link(href, text, extra = {}) { return h('a', { href, 'data-link': true, ...extra }, text); }

function renderNav() {
  const nav = document.getElementById('nav');
  const user = me();
  const items = [link('/', t('catalog'))];
  if (user) {
    items.push(link('/library', t('library')), link('/orders', t('orders')));
    if (user.role === 'admin') items.push(link('/admin/review', t('admin')));
    items.push(h('span', { class: 'meta', id: 'whoami' }, user.display_name),
      h('button', { type: 'button', onclick: async () => { await signOut(); go('/'); } }, t('signout')));
  } else {
    items.push(link('/signin', t('signin')), link('/signup', t('signup')));
  }
  nav.replaceChildren(...items);
  for (const a of nav.querySelectorAll('a')) if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
}

function page(title, ...body) {
  document.title = `${title} · Lyceum`;
  main.replaceChildren(h('h1', {}, title), ...body);
  main.focus();
}

// ---- views -------------------------------------------------------------------------------

async function setupView() {
  const result = h('div', { 'aria-live': 'polite' });
  const demo = h('button', { type: 'button', id: 'load-demo', onclick: async () => {
    demo.disabled = true; demo.textContent = t('loading');
    try {
      const d = await api('POST', '/setup/demo');
      result.replaceChildren(h('h2', {}, t('demo_loaded')), h('p', {}, t('demo_password', { p: d.password })),
        h('ul', { class: 'grid' }, d.accounts.map((a) => h('li', { class: 'card' },
          h('h3', {}, a.display_name), h('p', { class: 'meta' }, `${a.email} · ${t(`role_${a.role}`)}`),
          h('button', { type: 'button', class: 'secondary', onclick: async () => {
            await signIn(a.email, d.password); go(d.live_sessions[0] ? `/courses/${d.live_sessions[0].course_id}` : '/');
          } }, t('signin_as', { name: a.display_name }))))),
        d.live_sessions.length ? h('p', {}, `${t('live_now')}: `, d.live_sessions.map((s) => link(`/courses/${s.course_id}`, s.title))) : null);
      demo.remove();
    } catch (e) { demo.disabled = false; demo.textContent = t('load_demo'); toast(e); }
  } }, t('load_demo'));
  const form = h('form', { class: 'stack card', onsubmit: submitter(async (fd) => {
    await api('POST', '/setup/admin', { email: fd.get('email'), password: fd.get('password'), display_name: fd.get('name') });
    await signIn(fd.get('email'), fd.get('password'));
    go('/admin/review');
  }) }, h('h2', {}, t('create_admin')), field(t('name'), { name: 'name', required: true, autocomplete: 'name' }),
  field(t('email'), { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
  field(t('password'), { name: 'password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }),
  errorSlot(), h('button', { type: 'submit' }, t('create_admin')));
  page(t('setup_title'), h('p', {}, t('setup_intro')), h('p', {}, demo), result, form);
}

function authView(kind) {
  const up = kind === 'signup';
  const form = h('form', { class: 'stack', onsubmit: submitter(async (fd) => {
    if (up) await signUp(fd.get('email'), fd.get('password'), fd.get('name'));
    else await signIn(fd.get('email'), fd.get('password'));
    go(new URLSearchParams(location.search).get('next') || '/');
  }) },
  up ? field(t('name'), { name: 'name', required: true, autocomplete: 'name' }) : null,
  field(t('email'), { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
  field(t('password'), { name: 'password', type: 'password', required: true, minlength: up ? 10 : null, autocomplete: up ? 'new-password' : 'current-password' }),
  errorSlot(), h('button', { type: 'submit' }, up ? t('signup') : t('signin')),
  link(up ? '/signin' : '/signup', up ? t('have_account') : t('no_account')));
  page(up ? t('signup_title') : t('signin_title'), form);
}

function courseCard(c, extra) {
  return h('li', { class: 'card' }, h('h2', {}, link(`/courses/${c.id}`, c.title)),
    h('p', { class: 'meta' }, t('by', { name: c.instructor?.display_name ?? '' }), ' · ', t('lessons_n', { n: c.lesson_count })),
    h('p', {}, h('span', { class: 'price' }, money(c.price)), ' ',
      c.rating?.count ? h('span', { class: 'meta' }, t('rating', { avg: Number(c.rating.average).toFixed(1), n: c.rating.count })) : null),
    extra);
}

async function catalogView() {
  const params = new URLSearchParams(location.search);
  const list = h('ul', { class: 'grid', id: 'courses' });
  const recs = h('section', { id: 'recs' });
  const form = h('form', { class: 'row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.currentTarget);
    const q = new URLSearchParams();
    for (const [k, v] of fd) if (v) q.set(k, v);
    go(`/?${q}`);
  } },
  h('label', {}, t('search'), h('input', { name: 'q', type: 'search', value: params.get('q') ?? '' })),
  h('label', {}, t('sort'), h('select', { name: 'sort' }, ['relevance', 'newest', 'rating', 'popularity', 'price_asc', 'price_desc']
    .map((s) => h('option', { value: s, selected: params.get('sort') === s }, t(`sort_${s}`))))),
  h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'free', value: 'true', checked: params.get('free') === 'true' }), t('free_only')),
  h('button', { type: 'submit' }, t('search')));
  const user = me();
  page(user ? t('welcome', { name: user.display_name }) : t('catalog'), recs, form, list);
  if (user) loadRecs(recs).catch(() => {});
  const data = await api('GET', `/courses?${params}`);
  list.replaceChildren(...(data.items.length ? data.items.map((c) => courseCard(c)) : [h('li', {}, t('no_results'))]));
}

async function loadRecs(box) {
  const data = await api('GET', '/recommendations?limit=4');
  const items = data.items ?? data;
  if (!items.length) return;
  const list = h('ul', { class: 'grid' }, items.map((r) => {
    const c = r.course ?? r;
    const undo = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: async () => {
      await api('DELETE', `/recommendations/${c.id}/dismiss`); undo.hidden = true; dismiss.hidden = false;
    } }, t('undo'));
    const dismiss = h('button', { type: 'button', class: 'secondary', onclick: async () => {
      await api('POST', `/recommendations/${c.id}/dismiss`); dismiss.hidden = true; undo.hidden = false;
    } }, t('dismiss'));
    return courseCard(c, [h('p', { class: 'meta' }, (r.reasons ?? []).map((x) => x.text ?? x.kind).join(' · ')), dismiss, undo]);
  }));
  box.replaceChildren(h('h2', {}, t('recommended')), list);
}

async function courseView(id) {
  const [c, reviews, sessions] = await Promise.all([
    api('GET', `/courses/${id}`),
    api('GET', `/courses/${id}/reviews`).catch(() => ({ items: [] })),
    api('GET', `/courses/${id}/live-sessions`).catch(() => []),
  ]);
  const user = me();
  let action;
  if (c.entitled || c.can_manage) action = h('p', { class: 'ok' }, t('owned'));
  else if (!user) action = h('p', {}, link(`/signin?next=/courses/${id}`, t('signin_to_buy')));
  else if (c.price.amount_minor === 0) {
    action = h('button', { type: 'button', onclick: async () => { await api('POST', `/courses/${id}/enroll`); render(); } }, t('enroll'));
  } else {
    action = h('form', { class: 'stack', id: 'buy', onsubmit: submitter(async (fd) => {
      const body = { course_id: id };
      if (fd.get('coupon')) body.coupon = fd.get('coupon');
      const order = await api('POST', '/orders', body, { headers: { 'idempotency-key': crypto.randomUUID() } });
      if (order.status === 'paid') { render(); return; }
      go(`/pay/${order.payment.id}?order=${order.id}&course=${id}`);
    }) }, field(t('coupon'), { name: 'coupon' }), errorSlot(), h('button', { type: 'submit' }, t('buy', { price: money(c.price) })));
  }
  const lessons = h('ol', { class: 'lessons' }, c.lessons.map((l) => h('li', {},
    h('span', {}, l.title, ' ', l.free_preview ? h('span', { class: 'badge' }, t('preview')) : null),
    l.locked ? h('span', { class: 'meta' }, t('locked')) : link(`/courses/${id}/lessons/${l.id}`, t('open')))));
  const sessList = (Array.isArray(sessions) ? sessions : sessions.items ?? []);
  const revList = reviews.items ?? reviews;
  page(c.title, h('div', { class: 'twocol' },
    h('div', {}, h('p', {}, c.description), h('p', { class: 'meta' }, t('by', { name: c.instructor.display_name }), ' · ',
      c.rating?.count ? t('rating', { avg: Number(c.rating.average).toFixed(1), n: c.rating.count }) : t('no_rating')),
    h('h2', {}, t('lessons')), lessons,
    h('h2', {}, t('reviews')), revList.length ? h('ul', {}, revList.map((r) => h('li', {}, `★${r.rating} `, r.text ?? '', ' — ', h('span', { class: 'meta' }, r.author?.display_name ?? r.display_name ?? '')))) : h('p', {}, t('no_reviews'))),
    h('aside', { class: 'card' }, h('p', { class: 'price' }, money(c.price)), action,
      h('h2', {}, t('live_sessions')), sessList.length ? h('ul', {}, sessList.map((s) => h('li', {}, s.title, ' · ',
        h('span', { class: 'badge' }, t(`status_${s.status}`)), ' ', h('span', { class: 'meta' }, when(s.starts_at))))) : h('p', {}, t('no_live')))));
}

async function payView(paymentId) {
  const q = new URLSearchParams(location.search);
  const payment = await api('GET', `/sandbox/payments/${paymentId}`);
  const status = h('div', { 'aria-live': 'polite', id: 'pay-status' });
  const price = money({ amount_minor: payment.amount_minor, currency: payment.currency });
  const done = async () => {
    status.replaceChildren(h('p', {}, t('waiting')));
    for (let i = 0; i < 40; i += 1) {
      const order = await api('GET', `/orders/${q.get('order')}`);
      if (order.status === 'paid') {
        status.replaceChildren(h('p', { class: 'ok' }, t('paid')), link(`/courses/${q.get('course')}`, t('go_course')));
        return;
      }
      await new Promise((r) => { setTimeout(r, 250); });
    }
  };
  const outcome = async (p) => {
    if (p.status === 'succeeded' || p.status === 'authorized') return done();
    if (p.status === 'requires_action') {
      const decide = (approve) => async () => outcome(await api('POST', `/sandbox/payments/${paymentId}/authenticate`, { approve }));
      status.replaceChildren(h('p', {}, t('three_ds')), h('div', { class: 'row' },
        h('button', { type: 'button', onclick: decide(true) }, t('approve')), h('button', { type: 'button', class: 'secondary', onclick: decide(false) }, t('reject'))));
      return undefined;
    }
    status.replaceChildren(h('p', { class: 'error', role: 'alert' }, t('declined', { code: p.failure_code ?? p.status })));
    return undefined;
  };
  const form = h('form', { class: 'stack card', id: 'card-form', onsubmit: submitter(async (fd) => {
    outcome(await api('POST', `/sandbox/payments/${paymentId}/confirm`, { card_number: fd.get('card') }));
  }) }, h('p', { class: 'meta' }, t('test_cards')),
  field(t('card_number'), { name: 'card', required: true, inputmode: 'numeric', autocomplete: 'cc-number' }),
  errorSlot(), h('button', { type: 'submit' }, t('pay', { price })));
  page(t('checkout'), form, status, q.get('course') ? h('p', {}, link(`/courses/${q.get('course')}`, t('back'))) : null);
}

async function lessonView(courseId, lessonId) {
  const c = await api('GET', `/courses/${courseId}`);
  const l = c.lessons.find((x) => x.id === lessonId);
  if (!l) { page(t('not_found')); return; }
  page(l.title, h('p', {}, link(`/courses/${courseId}`, c.title)),
    l.locked ? h('p', {}, t('locked')) : h('article', { class: 'lesson-body', id: 'lesson-body' }, l.body ?? ''));
  api('POST', '/events', { events: [{ kind: 'lesson_start', course_id: courseId, detail: lessonId }] }).catch(() => {});
}

async function libraryView() {
  const data = await api('GET', '/me/courses');
  const items = data.items ?? data;
  page(t('library'), items.length ? h('ul', { class: 'grid' }, items.map((c) => courseCard(c.course ?? c))) : h('p', {}, t('empty_library')));
}

async function ordersView() {
  const data = await api('GET', '/orders');
  const items = data.items ?? data;
  page(t('orders'), items.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('course')), h('th', {}, t('amount')), h('th', {}, t('order_status')), h('th', {}, ''))),
    h('tbody', {}, items.map((o) => h('tr', {}, h('td', {}, link(`/courses/${o.course_id}`, o.course_title ?? o.course_id.slice(0, 8))),
      h('td', {}, money(o.amount)), h('td', {}, o.status),
      h('td', {}, o.status === 'paid' ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await api('POST', `/orders/${o.id}/refund`, { reason: 'requested in the web app' }); toast(t('refunded'), 'info'); render(); } catch (e) { toast(e); }
      } }, t('refund')) : ''))))) : h('p', {}, t('no_orders')));
}

async function reviewQueueView() {
  const data = await api('GET', '/admin/courses?status=in_review');
  const items = data.items ?? data;
  page(t('admin'), items.length ? h('ul', { class: 'grid', id: 'queue' }, items.map((c) => {
    const reason = h('input', { name: 'reason' });
    return courseCard(c, h('div', { class: 'stack' },
      h('button', { type: 'button', onclick: async () => { try { await api('POST', `/courses/${c.id}/approve`); toast(t('approved'), 'info'); render(); } catch (e) { toast(e); } } }, t('approve_course')),
      h('label', {}, t('reject_reason'), reason),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { try { await api('POST', `/courses/${c.id}/reject`, { reason: reason.value }); render(); } catch (e) { toast(e); } } }, t('reject_course'))));
  })) : h('p', {}, t('queue_empty')));
}

// ---- router ------------------------------------------------------------------------------

const ROUTES = [
  [/^\/$/, catalogView],
  [/^\/setup$/, setupView],
  [/^\/signin$/, () => authView('signin')],
  [/^\/signup$/, () => authView('signup')],
  [/^\/courses\/([^/]+)$/, courseView],
  [/^\/courses\/([^/]+)\/lessons\/([^/]+)$/, lessonView],
  [/^\/pay\/([^/]+)$/, payView],
  [/^\/library$/, libraryView],
  [/^\/orders$/, ordersView],
  [/^\/admin\/review$/, reviewQueueView],
];

let setupChecked = false;

async function render() {
  renderNav();
  if (!setupChecked) {
    setupChecked = true;
    const s = await api('GET', '/setup').catch(() => ({ open: false }));
    if (s.open && location.pathname === '/') history.replaceState(null, '', '/setup');
  }
  for (const [re, view] of ROUTES) {
    const m = location.pathname.match(re);
    if (m) {
      try { await view(...m.slice(1)); } catch (e) {
        if (e instanceof ApiError && e.status === 401) { go(`/signin?next=${location.pathname}`); return; }
        page(e instanceof ApiError && e.status === 404 ? t('not_found') : 'Error', h('p', { class: 'error', role: 'alert' }, e.message));
      }
      return;
    }
  }
  page(t('not_found'));
}

const langSelect = document.getElementById('lang');
setLang(currentLang());
langSelect.value = currentLang();
langSelect.addEventListener('change', () => { setLang(langSelect.value); render(); });
onSession(() => renderNav());
render();
