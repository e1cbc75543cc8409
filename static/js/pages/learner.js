// What a learner does: the catalog with recommendations, a course page, checkout through the
// sandbox card page, lessons, the library and orders with refunds.
import { t, money, when, addStrings } from '../i18n.js';
import { api, me } from '../api.js';
import { h, action, toast, submitter, errorSlot, field, go, link, page, rerender } from '../dom.js';

addStrings({
  en: {
    pages: 'Pages', category: 'Category', tag: 'Tag', min_price: 'Min price', max_price: 'Max price',
    results_n: '{n} courses', previous: '← Previous', next: 'Next →', similar: 'Similar courses',
    reason_similar: 'Because you took “{title}”', reason_also_taken: 'Learners of “{title}” also took this',
    reason_interest: 'Because you follow #{tag}', reason_popular: 'Popular on Lyceum', reason_trending: 'Trending this week',
    reason_new: 'New on Lyceum', reason_same_instructor: 'From an instructor you learn with',
    stars_n: '{n} of 5 stars', review_saved: 'Your review is saved.', your_review: 'Your review', write_review: 'Write a review',
    your_rating: 'Rating', review_text: 'What did you think? (optional)', save_review: 'Save review', delete_review: 'Withdraw review',
    order_date: 'Date', refunded_amount: '{amount} refunded', refund_confirm: 'You will get up to {amount} back and lose access to the course.',
    confirm_refund: 'Confirm the refund', pay_now: 'Pay now',
    order_pending_payment: 'awaiting payment', order_paid: 'paid', order_partially_refunded: 'partly refunded',
    order_refunded: 'refunded', order_cancelled: 'cancelled', order_expired: 'expired',
  },
  zh: {
    pages: '分页', category: '分类', tag: '标签', min_price: '最低价', max_price: '最高价',
    results_n: '共 {n} 门课程', previous: '← 上一页', next: '下一页 →', similar: '相似课程',
    reason_similar: '因为你学过“{title}”', reason_also_taken: '学习“{title}”的同学也学了这门课',
    reason_interest: '因为你关注 #{tag}', reason_popular: 'Lyceum 热门', reason_trending: '本周趋势',
    reason_new: 'Lyceum 新课', reason_same_instructor: '来自你正在跟学的讲师',
    stars_n: '{n} 星（满分 5 星）', review_saved: '评价已保存。', your_review: '我的评价', write_review: '写评价',
    your_rating: '评分', review_text: '你的感受（可选）', save_review: '保存评价', delete_review: '撤回评价',
    order_date: '日期', refunded_amount: '已退 {amount}', refund_confirm: '最多退回 {amount}，并将失去该课程的访问权限。',
    confirm_refund: '确认退款', pay_now: '去支付',
    order_pending_payment: '待支付', order_paid: '已支付', order_partially_refunded: '部分退款',
    order_refunded: '已退款', order_cancelled: '已取消', order_expired: '已过期',
  },
});

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
  const recs = h('section', { id: 'recs', 'aria-label': t('recommended') });
  const pager = h('nav', { class: 'row pager', 'aria-label': t('pages') });
  const value = (k) => params.get(k) ?? '';
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.currentTarget);
    const q = new URLSearchParams();
    for (const [k, v] of fd) {
      if (!v) continue;
      // Prices are typed in major units and sent in minor units, as the API counts them.
      q.set(k, k.endsWith('_price') ? String(Math.round(Number(v) * 100)) : v);
    }
    go(`/?${q}`);
  } },
  h('label', { class: 'grow' }, t('search'), h('input', { name: 'q', type: 'search', value: value('q'), maxlength: 200 })),
  h('label', {}, t('category'), h('input', { name: 'category', value: value('category'), maxlength: 50 })),
  h('label', {}, t('tag'), h('input', { name: 'tag', value: value('tag'), maxlength: 30 })),
  h('label', {}, t('min_price'), h('input', { name: 'min_price', type: 'number', min: 0, step: '0.01', inputmode: 'decimal',
    value: params.has('min_price') ? Number(params.get('min_price')) / 100 : '' })),
  h('label', {}, t('max_price'), h('input', { name: 'max_price', type: 'number', min: 0, step: '0.01', inputmode: 'decimal',
    value: params.has('max_price') ? Number(params.get('max_price')) / 100 : '' })),
  h('label', {}, t('sort'), h('select', { name: 'sort' }, ['relevance', 'newest', 'rating', 'popularity', 'price_asc', 'price_desc']
    .map((s) => h('option', { value: s, selected: params.get('sort') === s }, t(`sort_${s}`))))),
  h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'free', value: 'true', checked: params.get('free') === 'true' }), t('free_only')),
  h('button', { type: 'submit' }, t('search')));
  const user = me();
  const count = h('p', { class: 'meta', id: 'result-count', 'aria-live': 'polite' });
  page(user ? t('welcome', { name: user.display_name }) : t('catalog'), recs, form, count, list, pager);
  if (user) loadRecs(recs).catch(() => {});
  const limit = 24;
  const offset = Number(params.get('offset') ?? 0);
  const query = new URLSearchParams(params);
  query.set('limit', String(limit));
  const data = await api('GET', `/courses?${query}`);
  count.textContent = t('results_n', { n: data.total });
  list.replaceChildren(...(data.items.length ? data.items.map((c) => courseCard(c)) : [h('li', {}, t('no_results'))]));
  const to = (o) => { const q = new URLSearchParams(params); q.set('offset', String(o)); return `/?${q}`; };
  pager.replaceChildren(
    offset > 0 ? link(to(Math.max(0, offset - limit)), t('previous')) : null,
    offset + limit < data.total ? link(to(offset + limit), t('next')) : null);
}

/** A recommendation's reason in the viewer's language (the server's text is English). */
function reasonText(r) {
  const quoted = /“([^”]+)”/.exec(r.text ?? '')?.[1];
  const known = { similar: 'reason_similar', also_taken: 'reason_also_taken', interest: 'reason_interest',
    popular: 'reason_popular', trending: 'reason_trending', new: 'reason_new', same_instructor: 'reason_same_instructor' };
  const key = known[r.kind];
  if (!key || (quoted === undefined && (r.kind === 'similar' || r.kind === 'also_taken'))) return r.text;
  return t(key, { title: quoted ?? '', tag: r.tag ?? '' });
}

async function loadRecs(box) {
  const data = await api('GET', '/recommendations?limit=8');
  if (!data.items.length) return;
  const list = h('ul', { class: 'grid' }, data.items.map((r) => {
    const c = r.course;
    const undo = action(t('undo'), async () => {
      await api('DELETE', `/recommendations/${c.id}/dismiss`); undo.hidden = true; dismiss.hidden = false; card.classList.remove('dismissed');
    }, { class: 'secondary', hidden: true });
    const dismiss = action(t('dismiss'), async () => {
      await api('POST', `/recommendations/${c.id}/dismiss`); dismiss.hidden = true; undo.hidden = false; card.classList.add('dismissed'); undo.focus();
    }, { class: 'secondary' });
    const card = courseCard(c, [h('p', { class: 'meta reason' }, reasonText(r.reason)), h('div', { class: 'row' }, dismiss, undo)]);
    return card;
  }));
  box.replaceChildren(h('h2', {}, t('recommended')), list);
}

export async function courseView(id) {
  const [c, reviews, sessions, similar] = await Promise.all([
    api('GET', `/courses/${id}`),
    api('GET', `/courses/${id}/reviews?limit=20`),
    api('GET', `/courses/${id}/live-sessions`).catch(() => []),
    api('GET', `/courses/${id}/similar?limit=4`).catch(() => ({ items: [] })),
  ]);
  const user = me();
  let offer;
  if (c.entitled || c.can_manage) offer = h('p', { class: 'ok' }, t('owned'));
  else if (!user) offer = h('p', {}, link(`/signin?next=/courses/${id}`, t('signin_to_buy')));
  else if (c.price.amount_minor === 0) {
    offer = h('button', { type: 'button', onclick: async () => { await api('POST', `/courses/${id}/enroll`); rerender(); } }, t('enroll'));
  } else {
    offer = h('form', { class: 'stack', id: 'buy', onsubmit: submitter(async (fd) => {
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
  page(c.title, h('div', { class: 'twocol' },
    h('div', {}, h('p', {}, c.description), h('p', { class: 'meta' }, t('by', { name: c.instructor.display_name }), ' · ',
      c.rating?.count ? t('rating', { avg: Number(c.rating.average).toFixed(1), n: c.rating.count }) : t('no_rating')),
    h('h2', {}, t('lessons')), lessons,
    h('h2', {}, t('reviews')), reviewSection(c, reviews, user),
    similar.items.length ? h('section', { id: 'similar' }, h('h2', {}, t('similar')),
      h('ul', { class: 'grid' }, similar.items.map((r) => courseCard(r.course)))) : null),
    h('aside', { class: 'card' }, h('p', { class: 'price' }, money(c.price)), offer,
      h('h2', {}, t('live_sessions')), sessions.length ? h('ul', {}, sessions.map((s) => h('li', {}, s.title, ' · ',
        h('span', { class: 'badge' }, t(`status_${s.status}`)), ' ', h('span', { class: 'meta' }, when(s.starts_at)),
        s.status !== 'ended' && (c.entitled || c.can_manage || user?.role === 'admin') ? [' ', link(`/live/${s.id}`, t('join_class'), { class: 'join-live' })] : null))) : h('p', {}, t('no_live')))));
}

/** Stars as text, e.g. ★★★★☆, with the number for screen readers. */
const stars = (n) => h('span', { class: 'stars', 'aria-label': t('stars_n', { n }) }, '★'.repeat(n) + '☆'.repeat(5 - n));

/** The course's reviews, and for a learner who owns it a form to write, change or withdraw theirs. */
function reviewSection(c, reviews, user) {
  const mine = user && reviews.items.find((r) => r.author.id === user.id);
  const list = reviews.items.length
    ? h('ul', { class: 'reviews' }, reviews.items.map((r) => h('li', {}, stars(r.rating), ' ', h('strong', {}, r.author.display_name),
      ' ', h('span', { class: 'meta' }, when(r.updated_at)), r.text ? h('p', {}, r.text) : null)))
    : h('p', {}, t('no_reviews'));
  if (!c.entitled || c.can_manage) return list;
  const form = h('form', { class: 'stack card', id: 'review-form', onsubmit: submitter(async (fd) => {
    const body = { rating: Number(fd.get('rating')) };
    if (fd.get('text')) body.text = fd.get('text');
    await api('PUT', `/courses/${c.id}/review`, body);
    toast(t('review_saved'), 'info');
    rerender();
  }) }, h('h3', {}, mine ? t('your_review') : t('write_review')),
  h('label', {}, t('your_rating'), h('select', { name: 'rating', required: true },
    [5, 4, 3, 2, 1].map((n) => h('option', { value: n, selected: (mine?.rating ?? 5) === n }, `${'★'.repeat(n)} ${n}`)))),
  h('label', {}, t('review_text'), Object.assign(h('textarea', { name: 'text', rows: 3, maxlength: 5000 }), { value: mine?.text ?? '' })),
  errorSlot(), h('div', { class: 'row' }, h('button', { type: 'submit' }, t('save_review')),
    mine ? action(t('delete_review'), async () => { await api('DELETE', `/courses/${c.id}/review`); rerender(); }, { class: 'secondary' }) : null));
  return h('div', {}, list, form);
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
  const { items } = data;
  page(t('library'), items.length ? h('ul', { class: 'grid' }, items.map((c) => courseCard(c.course))) : h('p', {}, t('empty_library')));
}

export async function ordersView() {
  const data = await api('GET', '/orders');
  const refundForm = (o) => {
    const form = h('form', { class: 'stack', hidden: true, onsubmit: submitter(async (fd) => {
      await api('POST', `/orders/${o.id}/refund`, { reason: fd.get('reason') });
      toast(t('refunded'), 'info');
      rerender();
    }) }, field(t('refund_reason'), { name: 'reason', required: true, maxlength: 500 }),
    h('p', { class: 'meta' }, t('refund_confirm', { amount: money(o.amount) })), errorSlot(),
    h('button', { type: 'submit' }, t('confirm_refund')));
    const open = h('button', { type: 'button', class: 'secondary', onclick: () => {
      form.hidden = false; open.hidden = true; form.querySelector('input').focus();
    } }, t('refund'));
    return [open, form];
  };
  page(t('orders'), data.length ? h('table', { id: 'orders' }, h('thead', {}, h('tr', {},
    [t('course'), t('order_date'), t('amount'), t('order_status'), ''].map((x) => h('th', { scope: 'col' }, x)))),
  h('tbody', {}, data.map((o) => h('tr', {},
    h('td', {}, link(`/courses/${o.course_id}`, o.course_title)),
    h('td', {}, when(o.created_at)),
    h('td', {}, money(o.amount), o.refunded.amount_minor ? h('span', { class: 'meta' }, ` (${t('refunded_amount', { amount: money(o.refunded) })})`) : null),
    h('td', {}, h('span', { class: `badge status-${o.status}` }, t(`order_${o.status}`))),
    h('td', {}, ['paid', 'partially_refunded'].includes(o.status) ? refundForm(o) : o.status === 'pending_payment' ? link(`/pay/${o.payment.id}?order=${o.id}&course=${o.course_id}`, t('pay_now')) : ''))))) : h('p', {}, t('no_orders')));
}
