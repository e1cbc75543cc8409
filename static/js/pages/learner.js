// What a learner does: the catalog with recommendations, a course page, checkout through the
// sandbox card page, lessons, the library and orders with refunds.
import { t, money, when } from '../i18n.js';
import { api, me } from '../api.js';
import { h, toast, submitter, errorSlot, field, go, link, page, rerender } from '../dom.js';

export function courseCard(c, extra) {
  return h('li', { class: 'card' }, h('h2', {}, link(`/courses/${c.id}`, c.title)),
    h('p', { class: 'meta' }, t('by', { name: c.instructor?.display_name ?? '' }), ' · ', t('lessons_n', { n: c.lesson_count })),
    h('p', {}, h('span', { class: 'price' }, money(c.price)), ' ',
      c.rating?.count ? h('span', { class: 'meta' }, t('rating', { avg: Number(c.rating.average).toFixed(1), n: c.rating.count })) : null),
    extra);
}

export async function catalogView() {
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

export async function courseView(id) {
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
    action = h('button', { type: 'button', onclick: async () => { await api('POST', `/courses/${id}/enroll`); rerender(); } }, t('enroll'));
  } else {
    action = h('form', { class: 'stack', id: 'buy', onsubmit: submitter(async (fd) => {
      const body = { course_id: id };
      if (fd.get('coupon')) body.coupon = fd.get('coupon');
      const order = await api('POST', '/orders', body, { headers: { 'idempotency-key': crypto.randomUUID() } });
      if (order.status === 'paid') { rerender(); return; }
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

export async function payView(paymentId) {
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

export async function lessonView(courseId, lessonId) {
  const c = await api('GET', `/courses/${courseId}`);
  const l = c.lessons.find((x) => x.id === lessonId);
  if (!l) { page(t('not_found')); return; }
  page(l.title, h('p', {}, link(`/courses/${courseId}`, c.title)),
    l.locked ? h('p', {}, t('locked')) : h('article', { class: 'lesson-body', id: 'lesson-body' }, l.body ?? ''));
  api('POST', '/events', { events: [{ kind: 'lesson_start', course_id: courseId, detail: lessonId }] }).catch(() => {});
}

export async function libraryView() {
  const data = await api('GET', '/me/courses');
  const items = data.items ?? data;
  page(t('library'), items.length ? h('ul', { class: 'grid' }, items.map((c) => courseCard(c.course ?? c))) : h('p', {}, t('empty_library')));
}

export async function ordersView() {
  const data = await api('GET', '/orders');
  const items = data.items ?? data;
  page(t('orders'), items.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('course')), h('th', {}, t('amount')), h('th', {}, t('order_status')), h('th', {}, ''))),
    h('tbody', {}, items.map((o) => h('tr', {}, h('td', {}, link(`/courses/${o.course_id}`, o.course_title ?? o.course_id.slice(0, 8))),
      h('td', {}, money(o.amount)), h('td', {}, o.status),
      h('td', {}, o.status === 'paid' ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await api('POST', `/orders/${o.id}/refund`, { reason: 'requested in the web app' }); toast(t('refunded'), 'info'); rerender(); } catch (e) { toast(e); }
      } }, t('refund')) : ''))))) : h('p', {}, t('no_orders')));
}
