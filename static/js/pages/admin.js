// The admin desk: a home with sub-navigation, the course review queue, users (roles, access),
// orders and refunds, revenue with the ledger's trial balance, and the recommendation rebuild.
import { t, addStrings, when } from '../i18n.js';
import { api, me } from '../api.js';
import { h, action, submitter, errorSlot, field, toast, page, link, go, rerender, describe } from '../dom.js';
import { courseCard } from './learner.js';
import { fmtMinor, inputToMinor } from './studio.js';

addStrings({
  en: {
    ad_admin: 'Admin', ad_home: 'Admin desk', ad_only: 'The admin desk is for admins.', ad_users: 'Users', ad_orders: 'Orders and refunds',
    ad_revenue: 'Revenue', ad_review_hint: 'Courses waiting for approval.', ad_users_hint: 'Find people, change roles, disable accounts.',
    ad_orders_hint: 'Look an order up and refund all or part of it.', ad_revenue_hint: 'Money collected, fees, what instructors are owed, and the trial balance.',
    ad_recs: 'Recommendations', ad_recs_hint: 'Refit the recommendation model and rebuild its index now.', ad_rebuild: 'Rebuild recommendations',
    ad_rebuilt: 'Rebuilt: {items} courses indexed from {n} events in {ms} ms.',
    ad_search_email: 'Email contains', ad_search: 'Search', ad_no_users: 'No users match.', ad_role: 'Role', ad_change_role: 'Change role',
    ad_role_of: 'Role of {name}', ad_role_now: 'Role is now {role}.', ad_disable: 'Disable', ad_enable: 'Enable', ad_disabled_badge: 'disabled',
    ad_disable_of: 'Disable {name}', ad_enable_of: 'Enable {name}', ad_now_disabled: 'Disabled: cannot sign in.', ad_now_enabled: 'Enabled: can sign in.',
    ad_joined: 'Joined {when}', ad_prev: 'Previous page', ad_next: 'Next page', ad_page: 'Page {n}', ad_you: 'you',
    ad_order_id: 'Order id', ad_recent_orders: 'Latest orders', ad_status_filter: 'Status', ad_all_statuses: 'All', ad_buyer: 'Buyer', ad_no_orders: 'No orders.', ad_find: 'Find the order', ad_order: 'Order {id}', ad_list_price: 'List price', ad_discount: 'Discount',
    ad_paid: 'Paid', ad_refunded: 'Refunded', ad_remaining: 'Refundable', ad_paid_at: 'Paid at', ad_created: 'Created', ad_coupon: 'Coupon',
    ad_refund_amount: 'Amount to refund (empty: everything left)', ad_refund_reason: 'Reason', ad_refund: 'Refund',
    ad_refund_done: 'Refund recorded; the order is now {status}.', ad_orders_note: 'Pick an order from the list below, or enter its id (from the learner or a receipt).',
    ad_not_refundable: 'Nothing left to refund.', ad_currency: 'Currency', ad_collected: 'Collected (net of refunds)',
    ad_platform_net: 'Platform net', ad_discounts: 'Coupon discounts', ad_payable: 'Owed to instructors and experts',
    ad_trial: 'Trial balance', ad_balanced: 'Balanced (0)', ad_unbalanced: 'Out of balance: {sum}', ad_no_revenue: 'No money has moved yet.',
  },
  zh: {
    ad_admin: '管理', ad_home: '管理后台', ad_only: '管理后台仅供管理员使用。', ad_users: '用户', ad_orders: '订单与退款',
    ad_revenue: '收入', ad_review_hint: '等待审核的课程。', ad_users_hint: '查找用户、修改角色、停用账户。',
    ad_orders_hint: '查询订单，全额或部分退款。', ad_revenue_hint: '已收款项、平台费用、应付讲师款项及试算平衡。',
    ad_recs: '推荐', ad_recs_hint: '立即重新训练推荐模型并重建索引。', ad_rebuild: '重建推荐',
    ad_rebuilt: '已重建：根据 {n} 条行为记录索引了 {items} 门课程，用时 {ms} 毫秒。',
    ad_search_email: '邮箱包含', ad_search: '搜索', ad_no_users: '没有匹配的用户。', ad_role: '角色', ad_change_role: '修改角色',
    ad_role_of: '{name} 的角色', ad_role_now: '角色已改为{role}。', ad_disable: '停用', ad_enable: '启用', ad_disabled_badge: '已停用',
    ad_disable_of: '停用 {name}', ad_enable_of: '启用 {name}', ad_now_disabled: '已停用：无法登录。', ad_now_enabled: '已启用：可以登录。',
    ad_joined: '注册于 {when}', ad_prev: '上一页', ad_next: '下一页', ad_page: '第 {n} 页', ad_you: '你',
    ad_order_id: '订单号', ad_recent_orders: '最新订单', ad_status_filter: '状态', ad_all_statuses: '全部', ad_buyer: '买家', ad_no_orders: '没有订单。', ad_find: '查询订单', ad_order: '订单 {id}', ad_list_price: '标价', ad_discount: '优惠',
    ad_paid: '实付', ad_refunded: '已退款', ad_remaining: '可退金额', ad_paid_at: '付款时间', ad_created: '创建时间', ad_coupon: '优惠码',
    ad_refund_amount: '退款金额（留空则退还全部剩余）', ad_refund_reason: '原因', ad_refund: '退款',
    ad_refund_done: '退款已记录，订单状态：{status}。', ad_orders_note: '从下方列表中选择订单，或输入订单号（来自学员或收据）。',
    ad_not_refundable: '没有可退的金额。', ad_currency: '币种', ad_collected: '已收款（扣除退款）',
    ad_platform_net: '平台净收入', ad_discounts: '优惠券折扣', ad_payable: '应付讲师和专家',
    ad_trial: '试算平衡', ad_balanced: '平衡（0）', ad_unbalanced: '不平衡：{sum}', ad_no_revenue: '还没有任何资金往来。',
  },
});

const ROLES = ['learner', 'instructor', 'admin'];
const PAGE = 20;

const SECTIONS = [
  ['/admin/review', 'admin', 'ad_review_hint'],
  ['/admin/users', 'ad_users', 'ad_users_hint'],
  ['/admin/orders', 'ad_orders', 'ad_orders_hint'],
  ['/admin/revenue', 'ad_revenue', 'ad_revenue_hint'],
];

/** The admin desk's sub-navigation, the current section marked. */
function adminNav() {
  return h('nav', { class: 'subnav', 'aria-label': t('ad_home') },
    [['/admin', 'ad_home'], ...SECTIONS].map(([href, key]) => link(href, t(key),
      { 'aria-current': location.pathname === href ? 'page' : false })));
}

/** A page of the admin desk (or a refusal for anyone else). */
function adminPage(title, ...body) {
  if (me()?.role !== 'admin') {
    if (!me()) { go(`/signin?next=${location.pathname}`); return false; }
    page(t('ad_home'), h('p', {}, t('ad_only')));
    return false;
  }
  page(title, adminNav(), ...body);
  return true;
}

// ---- /admin -------------------------------------------------------------------------------

export async function adminHomeView() {
  const out = h('p', { role: 'status', id: 'rebuild-result', class: 'ok' });
  adminPage(t('ad_home'),
    h('ul', { class: 'grid admin-home' }, SECTIONS.map(([href, key, hint]) => h('li', { class: 'card' },
      h('h2', {}, link(href, t(key))), h('p', { class: 'meta' }, t(hint))))),
    h('section', { class: 'card', 'aria-labelledby': 'recs-h' }, h('h2', { id: 'recs-h' }, t('ad_recs')),
      h('p', { class: 'meta' }, t('ad_recs_hint')),
      action(t('ad_rebuild'), async () => {
        out.textContent = '';
        const r = await api('POST', '/admin/recommendations/rebuild');
        out.textContent = t('ad_rebuilt', { items: r.items, n: r.interactions, ms: r.duration_ms });
      }, { id: 'rebuild' }), out));
}

// ---- /admin/review ------------------------------------------------------------------------

export async function reviewQueueView() {
  const data = await api('GET', '/admin/courses?status=in_review');
  const { items } = data;
  adminPage(t('admin'), items.length ? h('ul', { class: 'grid', id: 'queue' }, items.map((c) => {
    const reason = h('input', { name: 'reason' });
    return courseCard(c, h('div', { class: 'stack' },
      h('button', { type: 'button', onclick: async () => { try { await api('POST', `/courses/${c.id}/approve`); toast(t('approved'), 'info'); rerender(); } catch (e) { toast(e); } } }, t('approve_course')),
      h('label', {}, t('reject_reason'), reason),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { try { await api('POST', `/courses/${c.id}/reject`, { reason: reason.value }); rerender(); } catch (e) { toast(e); } } }, t('reject_course'))));
  })) : h('p', {}, t('queue_empty')));
}

// ---- /admin/users -------------------------------------------------------------------------

export async function usersView() {
  const q = new URLSearchParams(location.search);
  const email = q.get('email') ?? '';
  const offset = Math.max(0, Number(q.get('offset') ?? 0) || 0);
  const data = await api('GET', `/admin/users?${new URLSearchParams({ email, limit: PAGE, offset })}`);
  const search = h('form', { class: 'row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const v = new FormData(ev.currentTarget).get('email').trim();
    go(`/admin/users${v ? `?${new URLSearchParams({ email: v })}` : ''}`);
  } }, field(t('ad_search_email'), { name: 'email', type: 'search', value: email }), h('button', { type: 'submit' }, t('ad_search')));
  const pageLink = (o) => `/admin/users?${new URLSearchParams({ ...(email ? { email } : {}), offset: o })}`;
  const pager = h('nav', { class: 'row pager', 'aria-label': t('ad_page', { n: Math.floor(offset / PAGE) + 1 }) },
    offset > 0 ? link(pageLink(Math.max(0, offset - PAGE)), t('ad_prev')) : null,
    h('span', { class: 'meta' }, t('ad_page', { n: Math.floor(offset / PAGE) + 1 })),
    data.items.length === PAGE ? link(pageLink(offset + PAGE), t('ad_next')) : null);
  const list = data.items.length ? h('ul', { class: 'grid users', id: 'users' }, data.items.map(userCard)) : h('p', {}, t('ad_no_users'));
  adminPage(t('ad_users'), search, list, pager);
}

function userCard(u) {
  let role = u.role;
  const msg = h('p', { class: 'user-msg', role: 'status' });
  const err = h('p', { class: 'user-error error', role: 'alert' });
  const report = (text, ok = true) => { err.textContent = ok ? '' : text; msg.textContent = ok ? text : ''; };
  const roleSel = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === role }, t(`role_${r}`))));
  const roleText = h('span', { class: 'badge role' }, t(`role_${role}`));
  // Failures show in the card itself (the last-admin 409, an admin that must be demoted first).
  const quiet = (fn) => async () => { try { await fn(); } catch (e) { report(describe(e), false); } };
  const changeRole = quiet(async () => {
    if (roleSel.value === role) return;
    try {
      const next = await api('PUT', `/admin/users/${u.id}/role`, { role: roleSel.value });
      role = next.role;
      roleText.textContent = t(`role_${role}`);
      report(t('ad_role_now', { role: t(`role_${role}`) }));
    } finally { roleSel.value = role; }
  });
  let disabled = u.disabled;
  const state = h('span', { class: 'badge off' });
  const toggle = action('', quiet(async () => {
    const r = await api('PUT', `/admin/users/${u.id}/disabled`, { disabled: !disabled });
    disabled = r.disabled;
    show();
    report(t(disabled ? 'ad_now_disabled' : 'ad_now_enabled'));
  }), { class: 'secondary toggle-access' });
  // The card says whether the account is disabled and offers the one action that changes it.
  const show = () => {
    li.dataset.disabled = String(disabled);
    state.textContent = t('ad_disabled_badge');
    state.hidden = !disabled;
    toggle.textContent = t(disabled ? 'ad_enable' : 'ad_disable');
    toggle.setAttribute('aria-label', t(disabled ? 'ad_enable_of' : 'ad_disable_of', { name: u.display_name }));
    toggle.classList.toggle('enable', disabled);
    toggle.classList.toggle('disable', !disabled);
  };
  const self = me()?.id === u.id;
  const li = h('li', { class: 'card user', 'data-email': u.email },
    h('h3', {}, u.display_name, self ? h('span', { class: 'meta' }, ` (${t('ad_you')})`) : null, ' ', roleText, ' ', state),
    h('p', { class: 'meta' }, u.email, h('br'), t('ad_joined', { when: when(u.created_at) })),
    h('div', { class: 'row' }, h('label', {}, h('span', { class: 'sr' }, t('ad_role_of', { name: u.display_name })), roleSel),
      action(t('ad_change_role'), changeRole, { class: 'change-role' })),
    h('div', { class: 'row' }, toggle),
    msg, err);
  show();
  return li;
}

// ---- /admin/orders ------------------------------------------------------------------------

export async function adminOrdersView() {
  const id = new URLSearchParams(location.search).get('id') ?? '';
  const out = h('div', { id: 'order-result', 'aria-live': 'polite' });
  const find = h('form', { class: 'row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const v = new FormData(ev.currentTarget).get('id').trim();
    if (v) go(`/admin/orders?${new URLSearchParams({ id: v })}`);
  } }, field(t('ad_order_id'), { name: 'id', required: true, value: id, size: 38, spellcheck: 'false' }), h('button', { type: 'submit' }, t('ad_find')));
  const recent = h('section', { id: 'recent-orders', 'aria-labelledby': 'recent-h' });
  if (!adminPage(t('ad_orders'), h('p', { class: 'meta' }, t('ad_orders_note')), find, out, recent)) return;
  recentOrders(recent).catch((e) => recent.replaceChildren(h('p', { class: 'error', role: 'alert' }, describe(e))));
  if (!id) return;
  try { drawOrder(out, await api('GET', `/orders/${encodeURIComponent(id)}`)); } catch (e) {
    out.replaceChildren(h('p', { class: 'error', role: 'alert' }, describe(e)));
  }
}

const ORDER_STATUSES = ['pending_payment', 'paid', 'partially_refunded', 'refunded', 'cancelled', 'expired'];

/** Every buyer's latest orders, by status, each opening the refund form above. */
async function recentOrders(box) {
  const params = new URLSearchParams(location.search);
  const status = params.get('status') ?? '';
  const pick = h('select', { name: 'status', onchange: (ev) => {
    const q = new URLSearchParams(location.search);
    if (ev.currentTarget.value) q.set('status', ev.currentTarget.value); else q.delete('status');
    q.delete('id');
    go(`/admin/orders?${q}`);
  } }, h('option', { value: '' }, t('ad_all_statuses')),
  ORDER_STATUSES.map((s) => h('option', { value: s, selected: s === status }, t(`order_${s}`))));
  const query = new URLSearchParams({ limit: '50' });
  if (ORDER_STATUSES.includes(status)) query.set('status', status);
  const orders = await api('GET', `/admin/orders?${query}`);
  box.replaceChildren(h('h2', { id: 'recent-h' }, t('ad_recent_orders')),
    h('label', { class: 'inline' }, t('ad_status_filter'), pick),
    orders.length ? h('table', {}, h('thead', {}, h('tr', {},
      [t('course'), t('ad_buyer'), t('ad_paid'), t('order_status'), t('ad_created')].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, orders.map((o) => h('tr', {},
      h('td', {}, link(`/admin/orders?${new URLSearchParams({ id: o.id })}`, o.course_title)),
      h('td', {}, o.buyer_name),
      h('td', {}, fmtMinor(o.amount.amount_minor, o.amount.currency)),
      h('td', {}, h('span', { class: 'badge' }, t(`order_${o.status}`))),
      h('td', {}, when(o.created_at)))))) : h('p', { class: 'meta' }, t('ad_no_orders')));
}

function drawOrder(box, o) {
  const cur = o.amount.currency;
  const left = o.amount.amount_minor - o.refunded.amount_minor;
  const m = (x) => fmtMinor(x.amount_minor, x.currency);
  const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const form = left > 0 && ['paid', 'partially_refunded'].includes(o.status) ? h('form', { class: 'stack', id: 'refund-form', onsubmit: submitter(async (fd) => {
    const body = { reason: fd.get('reason').trim() };
    if (fd.get('amount').trim()) body.amount_minor = inputToMinor(fd.get('amount'), cur);
    const next = await api('POST', `/orders/${o.id}/refund`, body);
    drawOrder(box, next);
    box.querySelector('.refund-done').textContent = t('ad_refund_done', { status: next.status });
  }) }, field(t('ad_refund_amount'), { name: 'amount', inputmode: 'decimal', size: 10 }),
  field(t('ad_refund_reason'), { name: 'reason', required: true, maxlength: 500 }),
  errorSlot(), h('button', { type: 'submit' }, t('ad_refund'))) : h('p', { class: 'meta' }, t('ad_not_refundable'));
  box.replaceChildren(h('article', { class: 'card order' },
    h('h2', {}, t('ad_order', { id: o.id.slice(0, 8) })),
    h('dl', { class: 'figures' },
      row(t('order_status'), h('span', { class: 'badge', id: 'order-status', 'data-status': o.status }, t(`order_${o.status}`))),
      row(t('course'), link(`/courses/${o.course_id}`, o.course_title ?? o.course_id.slice(0, 8))),
      row(t('ad_list_price'), m(o.list_price)), row(t('ad_discount'), m(o.discount)),
      o.coupon ? row(t('ad_coupon'), o.coupon) : null,
      row(t('ad_paid'), m(o.amount)), row(t('ad_refunded'), m(o.refunded)), row(t('ad_remaining'), fmtMinor(left, cur)),
      row(t('ad_created'), when(o.created_at)), o.paid_at ? row(t('ad_paid_at'), when(o.paid_at)) : null),
    h('p', { class: 'ok refund-done', role: 'status' }), form));
}

// ---- /admin/revenue -----------------------------------------------------------------------

export async function revenueView() {
  const rows = await api('GET', '/admin/revenue');
  const row = (k, v, attrs = {}) => [h('dt', {}, k), h('dd', attrs, v)];
  adminPage(t('ad_revenue'), rows.length ? h('ul', { class: 'grid', id: 'revenue' }, rows.map((r) => h('li', { class: 'card', 'data-currency': r.currency },
    h('h2', {}, r.currency),
    h('dl', { class: 'figures' },
      row(t('ad_collected'), fmtMinor(r.collected_minor, r.currency), { class: 'price' }),
      row(t('ad_platform_net'), fmtMinor(r.platform_net_minor, r.currency)),
      row(t('ad_discounts'), fmtMinor(r.discounts_minor, r.currency)),
      row(t('ad_payable'), fmtMinor(r.instructors_payable_minor, r.currency)),
      row(t('ad_trial'), r.trial_balance_minor === 0 ? t('ad_balanced') : t('ad_unbalanced', { sum: fmtMinor(r.trial_balance_minor, r.currency) }),
        { class: r.trial_balance_minor === 0 ? 'ok trial' : 'error trial' }))))) : h('p', {}, t('ad_no_revenue')));
}
