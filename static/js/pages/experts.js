// Experts and consultations outside the room: the directory with its filters, an expert's page
// with a booking calendar in the viewer's own time zone and paid questions, paying a hold through
// the sandbox card page, my bookings (cancel with the fee shown first, decline, join), my
// questions (answer, read) and the expert's own profile, weekly windows, blocked days and price.
import { t, addStrings, currentLang, when } from '../i18n.js';
import { api, me } from '../api.js';
import { h, toast, submitter, errorSlot, field, go, link, page, rerender, action, describe } from '../dom.js';

addStrings({
  en: {
    ex_nav: 'Experts', bk_nav: 'Bookings', ex_title: 'Book an expert', ex_search: 'Search experts', ex_tag: 'Tag',
    ex_language: 'Language', ex_any: 'Any', ex_min_rate: 'Minimum rate per minute', ex_max_rate: 'Maximum rate per minute',
    ex_from: 'Free from (date)', ex_to: 'Free until (date)', ex_filter: 'Find experts', ex_none: 'No experts match these filters.',
    ex_per_min: '{price} / min', ex_lengths: '{min}–{max} minutes', ex_langs: 'Speaks: {list}', ex_zone: 'Expert’s time zone: {zone}',
    ex_my_profile: 'My expert profile', ex_book: 'Book a consultation', ex_length: 'Length', ex_minutes: '{n} min',
    ex_your_zone: 'Times are shown in your time zone ({zone}).', ex_prev_week: 'Earlier', ex_next_week: 'Later',
    ex_no_slots: 'No free time in this week.', ex_pick: 'Choose a start time above.', ex_chosen: 'Chosen: {time}, {n} minutes',
    ex_book_for: 'Book and hold {price}', ex_hold_note: 'The price is held on your card, not charged: after the session you pay only for the minutes used (rounded up), the rest is released.',
    ex_signin_book: 'Sign in to book or ask a question.', ex_own_page: 'This is your own expert page.',
    ex_ask: 'Ask a paid question', ex_ask_price: 'Asking costs {price}, held until the expert answers (released if no answer in time).',
    ex_no_questions_taken: 'This expert takes no paid questions.', ex_q_title: 'Title', ex_q_body: 'Your question',
    ex_q_public: 'Others may unlock the answer (you get a share)', ex_ask_for: 'Ask for {price}', ex_answered_qs: 'Answered questions',
    ex_no_answered: 'No public answers yet.', ex_unlock: 'Unlock the answer for {price}', ex_answer: 'Answer',
    hold_title: 'Pay the hold', hold_waiting: 'Card accepted; waiting for confirmation…', hold_booked: 'Booked. The hold is authorised.',
    hold_asked: 'Paid. Your question is with the expert.', hold_unlocked: 'Unlocked. The answer is yours to read.',
    hold_to_bookings: 'Go to my bookings', hold_to_questions: 'Go to my questions', hold_to_expert: 'Back to the expert',
    hold_timeout: 'The payment has not been confirmed yet; check your bookings in a moment.',
    bk_title: 'My bookings', bk_as_learner: 'As learner', bk_as_expert: 'As expert', bk_none: 'No bookings yet.',
    bk_with: 'With {name}', bk_with_learner: 'With {name}', bk_status: 'Status', bk_start: 'Starts', bk_length: '{n} minutes',
    bk_extra: '+{n} extension minutes', bk_held: 'Held: {price}', bk_charged: 'Charged: {price}', bk_billable: 'Billed time: {time}',
    bk_join: 'Join the room', bk_pay: 'Pay the hold', bk_cancel: 'Cancel the booking', bk_decline: 'Decline',
    bk_cancel_free: 'Cancelling now is free: the whole hold of {price} is released.',
    bk_cancel_late: 'The start is less than {hours} hours away, so cancelling now costs a late fee of {fee} ({pct}% of {price}). The rest is released.',
    bk_cancel_unpaid: 'Nothing has been paid yet; cancelling costs nothing.',
    bk_confirm_cancel: 'Confirm the cancellation', bk_keep: 'Keep the booking', bk_cancelled: 'Booking cancelled.',
    bk_decline_note: 'Declining releases the learner’s whole hold; you earn nothing for it.', bk_confirm_decline: 'Confirm: decline',
    bk_declined: 'Booking declined.', bk_my_questions: 'My paid questions',
    cs_pending_payment: 'awaiting payment', cs_confirmed: 'confirmed', cs_in_progress: 'in progress', cs_completed: 'completed',
    cs_canceled: 'cancelled', cs_declined: 'declined', cs_expired: 'expired', cs_payment_failed: 'payment failed',
    cs_expert_no_show: 'expert did not come', cs_learner_no_show: 'learner did not come', cs_open: 'waiting for an answer',
    cs_answered: 'answered', cs_settled: 'settled',
    q_title: 'My questions', q_asked_me: 'Asked of me', q_asked_by_me: 'Asked by me', q_none: 'No questions.',
    q_price: 'Price: {price}', q_deadline: 'Answer by {time}', q_your_answer: 'Your answer', q_send_answer: 'Send the answer',
    q_answered: 'Answer sent; the price is yours.', q_private: 'private',
    me_title: 'My expert profile', me_learner: 'Only instructors offer consultations.', me_new: 'You have no expert profile yet. Fill this in to create one.',
    me_profile: 'Profile', me_headline: 'Headline', me_bio: 'About you', me_tags: 'Tags (comma separated)',
    me_languages: 'Languages (ISO codes, comma separated, e.g. en, zh)', me_rate: 'Rate per minute (e.g. 1.50)', me_currency: 'Currency',
    me_min: 'Shortest booking (minutes)', me_max: 'Longest booking (minutes)', me_zone: 'Time zone (IANA, e.g. Europe/Berlin)',
    me_published: 'Published: listed and bookable', me_save: 'Save the profile', me_saved: 'Saved.', me_view_public: 'See my public page',
    me_windows: 'Weekly availability', me_windows_note: 'In your own time zone ({zone}). End may be 24:00.', me_weekday: 'Day',
    me_start: 'From', me_end: 'Until', me_add_window: 'Add a window', me_remove: 'Remove', me_save_windows: 'Save the windows',
    me_blocked: 'Blocked days', me_block_date: 'Day to block', me_block: 'Block the day', me_unblock: 'Unblock', me_no_blocked: 'No blocked days.',
    me_qprice: 'Paid questions', me_qprice_label: 'Price per question (0 stops paid questions)', me_qprice_save: 'Save the price',
    me_qprice_now: 'Now: {price}', me_qprice_off: 'Now: not taking paid questions',
    wd_mon: 'Monday', wd_tue: 'Tuesday', wd_wed: 'Wednesday', wd_thu: 'Thursday', wd_fri: 'Friday', wd_sat: 'Saturday', wd_sun: 'Sunday',
  },
  zh: {
    ex_nav: '专家', bk_nav: '预约', ex_title: '预约专家', ex_search: '搜索专家', ex_tag: '标签',
    ex_language: '语言', ex_any: '不限', ex_min_rate: '每分钟最低价', ex_max_rate: '每分钟最高价',
    ex_from: '空闲开始日期', ex_to: '空闲截止日期', ex_filter: '查找专家', ex_none: '没有符合条件的专家。',
    ex_per_min: '{price} / 分钟', ex_lengths: '{min}–{max} 分钟', ex_langs: '语言：{list}', ex_zone: '专家所在时区：{zone}',
    ex_my_profile: '我的专家资料', ex_book: '预约咨询', ex_length: '时长', ex_minutes: '{n} 分钟',
    ex_your_zone: '时间按你所在的时区（{zone}）显示。', ex_prev_week: '上一周', ex_next_week: '下一周',
    ex_no_slots: '这一周没有空闲时间。', ex_pick: '请在上方选择开始时间。', ex_chosen: '已选：{time}，{n} 分钟',
    ex_book_for: '预约并预授权 {price}', ex_hold_note: '费用只在你的卡上预授权，并不扣款：咨询结束后只按实际分钟数（向上取整）收费，其余全部释放。',
    ex_signin_book: '登录后即可预约或提问。', ex_own_page: '这是你自己的专家主页。',
    ex_ask: '付费提问', ex_ask_price: '提问费用 {price}，在专家回答前只做预授权（逾期未答则释放）。',
    ex_no_questions_taken: '这位专家暂不接受付费提问。', ex_q_title: '标题', ex_q_body: '你的问题',
    ex_q_public: '允许他人付费解锁答案（你可获得分成）', ex_ask_for: '支付 {price} 提问', ex_answered_qs: '已回答的问题',
    ex_no_answered: '暂无公开的回答。', ex_unlock: '支付 {price} 解锁答案', ex_answer: '回答',
    hold_title: '支付预授权', hold_waiting: '银行卡已受理，正在确认…', hold_booked: '预约成功，费用已预授权。',
    hold_asked: '支付成功，问题已发送给专家。', hold_unlocked: '已解锁，可以查看答案了。',
    hold_to_bookings: '查看我的预约', hold_to_questions: '查看我的提问', hold_to_expert: '返回专家主页',
    hold_timeout: '付款尚未确认，请稍后在我的预约中查看。',
    bk_title: '我的预约', bk_as_learner: '我预约的', bk_as_expert: '预约我的', bk_none: '暂无预约。',
    bk_with: '专家：{name}', bk_with_learner: '学员：{name}', bk_status: '状态', bk_start: '开始时间', bk_length: '{n} 分钟',
    bk_extra: '另加延长 {n} 分钟', bk_held: '预授权：{price}', bk_charged: '实收：{price}', bk_billable: '计费时长：{time}',
    bk_join: '进入咨询室', bk_pay: '支付预授权', bk_cancel: '取消预约', bk_decline: '拒绝',
    bk_cancel_free: '现在取消免费：{price} 的预授权全部释放。',
    bk_cancel_late: '距开始已不足 {hours} 小时，现在取消需支付迟取消费 {fee}（{price} 的 {pct}%），其余释放。',
    bk_cancel_unpaid: '尚未付款，取消不产生任何费用。',
    bk_confirm_cancel: '确认取消', bk_keep: '保留预约', bk_cancelled: '预约已取消。',
    bk_decline_note: '拒绝后学员的预授权全部释放，你不会获得收入。', bk_confirm_decline: '确认拒绝',
    bk_declined: '已拒绝该预约。', bk_my_questions: '我的付费提问',
    cs_pending_payment: '待付款', cs_confirmed: '已确认', cs_in_progress: '进行中', cs_completed: '已完成',
    cs_canceled: '已取消', cs_declined: '已拒绝', cs_expired: '已过期', cs_payment_failed: '付款失败',
    cs_expert_no_show: '专家未到场', cs_learner_no_show: '学员未到场', cs_open: '等待回答',
    cs_answered: '已回答', cs_settled: '已结算',
    q_title: '我的提问', q_asked_me: '向我提的问题', q_asked_by_me: '我提的问题', q_none: '暂无问题。',
    q_price: '价格：{price}', q_deadline: '请在 {time} 前回答', q_your_answer: '你的回答', q_send_answer: '提交回答',
    q_answered: '回答已提交，费用归你。', q_private: '不公开',
    me_title: '我的专家资料', me_learner: '只有讲师可以提供咨询。', me_new: '你还没有专家资料，填写以下内容即可创建。',
    me_profile: '资料', me_headline: '一句话介绍', me_bio: '个人简介', me_tags: '标签（用逗号分隔）',
    me_languages: '语言（ISO 代码，用逗号分隔，如 en, zh）', me_rate: '每分钟价格（如 1.50）', me_currency: '币种',
    me_min: '最短预约（分钟）', me_max: '最长预约（分钟）', me_zone: '时区（IANA，如 Asia/Shanghai）',
    me_published: '公开：在目录中展示并可预约', me_save: '保存资料', me_saved: '已保存。', me_view_public: '查看我的公开主页',
    me_windows: '每周可预约时间', me_windows_note: '按你自己的时区（{zone}）。结束时间可以是 24:00。', me_weekday: '星期',
    me_start: '从', me_end: '到', me_add_window: '添加时间段', me_remove: '删除', me_save_windows: '保存时间段',
    me_blocked: '不可预约的日期', me_block_date: '要屏蔽的日期', me_block: '屏蔽该日', me_unblock: '取消屏蔽', me_no_blocked: '没有屏蔽的日期。',
    me_qprice: '付费提问', me_qprice_label: '每个问题的价格（0 表示不接受付费提问）', me_qprice_save: '保存价格',
    me_qprice_now: '当前：{price}', me_qprice_off: '当前：不接受付费提问',
    wd_mon: '星期一', wd_tue: '星期二', wd_wed: '星期三', wd_thu: '星期四', wd_fri: '星期五', wd_sat: '星期六', wd_sun: '星期日',
  },
});

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const loc = () => (currentLang() === 'zh' ? 'zh-CN' : 'en');
/** Minor units as money (zero included, unlike `money`). */
export const cash = (minor, currency) => new Intl.NumberFormat(loc(), { style: 'currency', currency }).format(minor / 100);
/** Seconds as m:ss (or h:mm:ss). */
export function clock(s) {
  const v = Math.max(0, Math.floor(s));
  const hh = Math.floor(v / 3600); const mm = Math.floor((v % 3600) / 60); const ss = String(v % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}
export const viewerZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
const timeOf = (d) => d.toLocaleTimeString(loc(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayOf = (d) => d.toLocaleDateString(loc(), { weekday: 'short', month: 'short', day: 'numeric' });
const dayKey = (d) => d.toLocaleDateString('en-CA');
const toMinor = (v) => Math.round(parseFloat(String(v).replace(',', '.')) * 100);
const list = (v) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const statusBadge = (s) => h('span', { class: `badge cs-${s}` }, t(`cs_${s}`));

const expertCache = new Map();
async function expertName(id) {
  if (!expertCache.has(id)) expertCache.set(id, api('GET', `/experts/${id}`).then((e) => e.display_name).catch(() => ''));
  return expertCache.get(id);
}

// ---- the directory ---------------------------------------------------------------------

function expertCard(e) {
  return h('li', { class: 'card expert-card' },
    h('h2', {}, link(`/experts/${e.id}`, e.display_name)),
    h('p', {}, e.headline),
    h('p', {}, h('span', { class: 'price' }, t('ex_per_min', { price: cash(e.rate_per_minute_minor, e.currency) })), ' · ',
      h('span', { class: 'meta' }, t('ex_lengths', { min: e.min_minutes, max: e.max_minutes }))),
    h('p', { class: 'meta' }, t('ex_langs', { list: e.languages.join(', ') })),
    e.tags.length ? h('p', { class: 'tags' }, e.tags.map((x) => h('span', { class: 'badge' }, x))) : null);
}

export async function expertsView() {
  const params = new URLSearchParams(location.search);
  const results = h('ul', { class: 'grid', id: 'experts' });
  const v = (k) => params.get(k) ?? '';
  const form = h('form', { class: 'row filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, val] of new FormData(ev.currentTarget)) if (val) q.set(k, val);
    go(`/experts?${q}`);
  } },
  h('label', {}, t('ex_search'), h('input', { name: 'q', type: 'search', value: v('q') })),
  h('label', {}, t('ex_tag'), h('input', { name: 'tag', value: v('tag'), size: 10 })),
  h('label', {}, t('ex_language'), h('select', { name: 'language' }, h('option', { value: '' }, t('ex_any')),
    ['en', 'zh', 'fr', 'de', 'es', 'ja'].map((l) => h('option', { value: l, selected: v('language') === l }, l)))),
  h('label', {}, t('ex_min_rate'), h('input', { name: 'min_rate', type: 'number', min: 0, step: '0.01', value: v('min_rate'), class: 'num' })),
  h('label', {}, t('ex_max_rate'), h('input', { name: 'max_rate', type: 'number', min: 0, step: '0.01', value: v('max_rate'), class: 'num' })),
  h('label', {}, t('ex_from'), h('input', { name: 'from', type: 'date', value: v('from') })),
  h('label', {}, t('ex_to'), h('input', { name: 'to', type: 'date', value: v('to') })),
  h('button', { type: 'submit' }, t('ex_filter')));
  const user = me();
  page(t('ex_title'), ...[user && user.role !== 'learner' ? h('p', {}, link('/experts/me', t('ex_my_profile'))) : null, form, results].filter(Boolean));
  const q = new URLSearchParams();
  for (const k of ['q', 'tag', 'language']) if (v(k)) q.set(k, v(k));
  for (const k of ['min_rate', 'max_rate']) if (v(k)) q.set(k, String(toMinor(v(k))));
  // Dates are the viewer's local days: from the start of `from` to the end of `to`.
  if (v('from') || v('to')) {
    const from = v('from') ? new Date(`${v('from')}T00:00`) : new Date();
    const to = v('to') ? new Date(new Date(`${v('to')}T00:00`).getTime() + 86400000) : new Date(from.getTime() + 7 * 86400000);
    q.set('available_from', from.toISOString()); q.set('available_to', to.toISOString());
  }
  let data;
  try { data = await api('GET', `/experts?${q}`); } catch (err) {
    if (err.status !== 400) throw err;
    results.replaceChildren(h('li', { class: 'error', role: 'alert' }, describe(err))); return;
  }
  results.replaceChildren(...(data.items.length ? data.items.map(expertCard) : [h('li', {}, t('ex_none'))]));
}

// ---- an expert's page: calendar, booking, questions ------------------------------------

export async function expertView(id) {
  const [e, qs] = await Promise.all([api('GET', `/experts/${id}`), api('GET', `/experts/${id}/questions`).catch(() => ({ items: [], ask_price: null }))]);
  const user = me();
  const own = user?.id === e.id;
  const rate = cash(e.rate_per_minute_minor, e.currency);
  const main = h('div', { class: 'stack wide' },
    h('p', { class: 'lead' }, e.headline),
    h('p', { class: 'bio' }, e.bio),
    h('p', {}, h('span', { class: 'price' }, t('ex_per_min', { price: rate })), ' · ', t('ex_lengths', { min: e.min_minutes, max: e.max_minutes })),
    h('p', { class: 'meta' }, t('ex_langs', { list: e.languages.join(', ') }), ' · ', t('ex_zone', { zone: e.time_zone })),
    e.tags.length ? h('p', { class: 'tags' }, e.tags.map((x) => h('span', { class: 'badge' }, x))) : null);
  const side = h('aside', { class: 'card stack', id: 'ask' });
  page(e.display_name, h('div', { class: 'twocol' }, main, side),
    h('section', { class: 'answered' }, h('h2', {}, t('ex_answered_qs')), answeredList(e, qs)));
  if (own) { side.append(h('p', {}, t('ex_own_page')), link('/experts/me', t('ex_my_profile'))); return; }
  if (!user) { side.append(link(`/signin?next=/experts/${id}`, t('ex_signin_book'))); return; }
  main.append(bookingPanel(e));
  side.append(askPanel(e, qs.ask_price));
}

function bookingPanel(e) {
  const box = h('section', { class: 'stack card', id: 'book', 'aria-labelledby': 'book-h' });
  const lengths = [];
  for (let m = e.min_minutes; m <= e.max_minutes; m += 5) lengths.push(m);
  let week = 0;
  let chosen = null;
  const minutesSel = h('select', { name: 'minutes', id: 'book-minutes' }, lengths.map((m) => h('option', { value: m }, t('ex_minutes', { n: m }))));
  const cal = h('div', { class: 'calendar', id: 'calendar', 'aria-live': 'polite' });
  const summary = h('p', { id: 'book-summary', class: 'meta' }, t('ex_pick'));
  const submit = h('button', { type: 'submit', disabled: true }, t('ex_book_for', { price: cash(e.rate_per_minute_minor * lengths[0], e.currency) }));
  const weekLabel = h('span', { class: 'meta' });
  const prev = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { week -= 1; load(); } }, t('ex_prev_week'));
  const next = h('button', { type: 'button', class: 'secondary', onclick: () => { week += 1; load(); } }, t('ex_next_week'));
  const minutes = () => Number(minutesSel.value);
  const refreshSummary = () => {
    submit.textContent = t('ex_book_for', { price: cash(e.rate_per_minute_minor * minutes(), e.currency) });
    submit.disabled = !chosen;
    summary.textContent = chosen ? t('ex_chosen', { time: `${dayOf(chosen)} ${timeOf(chosen)}`, n: minutes() }) : t('ex_pick');
  };
  let intervals = [];
  const draw = () => {
    const start = new Date(); start.setHours(0, 0, 0, 0); start.setDate(start.getDate() + week * 7);
    const days = new Map();
    for (let i = 0; i < 7; i += 1) { const d = new Date(start); d.setDate(d.getDate() + i); days.set(dayKey(d), { date: d, slots: [] }); }
    const len = minutes() * 60000; const step = 15 * 60000;
    for (const iv of intervals) {
      const s = new Date(iv.start).getTime(); const end = new Date(iv.end).getTime();
      for (let x = Math.ceil(s / step) * step; x + len <= end; x += step) {
        const d = new Date(x); const day = days.get(dayKey(d));
        if (day) day.slots.push(d);
      }
    }
    if (chosen && ![...days.values()].some((d) => d.slots.some((s) => s.getTime() === chosen.getTime()))) chosen = null;
    const cols = [...days.values()].filter((d) => d.slots.length);
    cal.replaceChildren(...(cols.length ? cols.map((d) => h('div', { class: 'day', role: 'group', 'aria-label': dayOf(d.date) },
      h('h3', {}, dayOf(d.date)),
      h('div', { class: 'slots' }, d.slots.map((s) => h('button', {
        type: 'button', class: 'slot', 'data-start': s.toISOString(), 'aria-pressed': chosen?.getTime() === s.getTime() ? 'true' : 'false',
        'aria-label': `${dayOf(s)} ${timeOf(s)}`,
        onclick: (ev) => { chosen = s; cal.querySelectorAll('.slot').forEach((b) => b.setAttribute('aria-pressed', 'false')); ev.currentTarget.setAttribute('aria-pressed', 'true'); refreshSummary(); },
      }, timeOf(s)))))) : [h('p', {}, t('ex_no_slots'))]));
    refreshSummary();
  };
  async function load() {
    prev.disabled = week <= 0;
    const from = new Date(); from.setHours(0, 0, 0, 0); from.setDate(from.getDate() + week * 7);
    const to = new Date(from); to.setDate(to.getDate() + 7);
    weekLabel.textContent = `${dayOf(from)} – ${dayOf(new Date(to.getTime() - 1))}`;
    cal.replaceChildren(h('p', { class: 'meta' }, t('loading')));
    try {
      const av = await api('GET', `/experts/${e.id}/availability?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
      intervals = av.intervals;
      draw();
    } catch (err) { cal.replaceChildren(h('p', { class: 'error', role: 'alert' }, describe(err))); }
  }
  minutesSel.addEventListener('change', draw);
  const form = h('form', { class: 'stack', id: 'book-form', onsubmit: submitter(async () => {
    const booked = await api('POST', `/experts/${e.id}/bookings`, { starts_at: chosen.toISOString(), minutes: minutes() });
    go(`/hold/${booked.payment.id}?booking=${booked.booking.id}`);
  }) }, summary, errorSlot(), submit, h('p', { class: 'meta' }, t('ex_hold_note')));
  box.append(h('h2', { id: 'book-h' }, t('ex_book')),
    h('p', { class: 'meta', id: 'viewer-zone' }, t('ex_your_zone', { zone: viewerZone() })),
    h('label', {}, t('ex_length'), minutesSel),
    h('div', { class: 'row weeknav' }, prev, weekLabel, next), cal, form);
  load();
  return box;
}

function askPanel(e, price) {
  if (!price) return h('section', {}, h('h2', {}, t('ex_ask')), h('p', { class: 'meta' }, t('ex_no_questions_taken')));
  const p = cash(price.amount_minor, price.currency);
  return h('section', { class: 'stack' }, h('h2', {}, t('ex_ask')), h('p', { class: 'meta' }, t('ex_ask_price', { price: p })),
    h('form', { class: 'stack', id: 'ask-form', onsubmit: submitter(async (fd) => {
      const asked = await api('POST', `/experts/${e.id}/questions`, { title: fd.get('title'), body: fd.get('body'), public: fd.get('public') === 'on' });
      go(`/hold/${asked.payment.id}?question=${asked.question.id}`);
    }) },
    field(t('ex_q_title'), { name: 'title', required: true, maxlength: 200 }),
    h('label', {}, t('ex_q_body'), h('textarea', { name: 'body', required: true, maxlength: 4000, rows: 4 })),
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'public', checked: true }), t('ex_q_public')),
    errorSlot(), h('button', { type: 'submit' }, t('ex_ask_for', { price: p }))));
}

function answeredList(e, qs) {
  const items = qs.items ?? [];
  if (!items.length) return h('p', {}, t('ex_no_answered'));
  const user = me();
  return h('ul', { class: 'qlist', id: 'answered' }, items.map((q) => h('li', { class: 'card' },
    h('h3', {}, q.title), h('p', {}, q.body),
    q.answer_visible && q.answer != null ? h('div', { class: 'answer' }, h('strong', {}, t('ex_answer')), ' ', q.answer)
      : q.unlock_price_minor != null && user ? action(t('ex_unlock', { price: cash(q.unlock_price_minor, q.currency) }), async () => {
        const u = await api('POST', `/questions/${q.id}/unlock`);
        go(`/hold/${u.payment.id}?unlock=${q.id}&expert=${e.id}`);
      }, { class: 'secondary' }) : null)));
}

// ---- paying a hold: the sandbox card page -----------------------------------------------

/**
 * The sandbox card form for a payment: confirm, 3-D Secure, declines shown. Calls `onPaid` once
 * the card is authorised (a hold) or the payment succeeded.
 */
export function cardPay(paymentId, priceLabel, onPaid, idPrefix = 'card') {
  const status = h('div', { 'aria-live': 'polite', id: `${idPrefix}-status` });
  const outcome = async (p) => {
    if (p.status === 'succeeded' || p.status === 'authorized') { status.replaceChildren(); return onPaid(p); }
    if (p.status === 'requires_action') {
      const decide = (approve) => async () => {
        try { await outcome(await api('POST', `/sandbox/payments/${paymentId}/authenticate`, { approve })); } catch (err) { toast(err); }
      };
      status.replaceChildren(h('p', {}, t('three_ds')), h('div', { class: 'row' },
        h('button', { type: 'button', onclick: decide(true) }, t('approve')), h('button', { type: 'button', class: 'secondary', onclick: decide(false) }, t('reject'))));
      return undefined;
    }
    status.replaceChildren(h('p', { class: 'error', role: 'alert' }, t('declined', { code: p.failure_code ?? p.status })));
    return undefined;
  };
  const form = h('form', { class: 'stack card', id: `${idPrefix}-form`, onsubmit: submitter(async (fd) => {
    await outcome(await api('POST', `/sandbox/payments/${paymentId}/confirm`, { card_number: fd.get('card') }));
  }) }, h('p', { class: 'meta' }, t('test_cards')),
  field(t('card_number'), { name: 'card', required: true, inputmode: 'numeric', autocomplete: 'cc-number' }),
  errorSlot(), h('button', { type: 'submit' }, t('pay', { price: priceLabel })));
  return h('div', { class: 'stack' }, form, status);
}

export async function holdView(paymentId) {
  const q = new URLSearchParams(location.search);
  const payment = await api('GET', `/sandbox/payments/${paymentId}`);
  const done = h('div', { 'aria-live': 'polite', id: 'hold-status' });
  const waitFor = async (path, ok) => {
    for (let i = 0; i < 60; i += 1) {
      if (ok(await api('GET', path))) return true;
      await new Promise((r) => { setTimeout(r, 250); });
    }
    return false;
  };
  const onPaid = async () => {
    done.replaceChildren(h('p', {}, t('hold_waiting')));
    let confirmed; let msg; let next;
    if (q.get('booking')) {
      confirmed = await waitFor(`/bookings/${q.get('booking')}`, (b) => b.status !== 'pending_payment');
      msg = t('hold_booked'); next = link('/bookings', t('hold_to_bookings'));
    } else if (q.get('question')) {
      confirmed = await waitFor(`/questions/${q.get('question')}`, (x) => x.status !== 'pending_payment');
      msg = t('hold_asked'); next = link('/questions', t('hold_to_questions'));
    } else {
      confirmed = await waitFor(`/questions/${q.get('unlock')}`, (x) => x.answer_visible);
      msg = t('hold_unlocked'); next = link(`/experts/${q.get('expert')}`, t('hold_to_expert'));
    }
    done.replaceChildren(h('p', { class: confirmed ? 'ok' : 'error', role: confirmed ? null : 'alert' }, confirmed ? msg : t('hold_timeout')), next);
  };
  const price = cash(payment.amount_minor, payment.currency);
  let what = null;
  if (q.get('booking')) {
    const b = await api('GET', `/bookings/${q.get('booking')}`);
    const s = new Date(b.starts_at);
    what = h('p', { id: 'hold-what' }, t('bk_with', { name: await expertName(b.expert_id) }), ' · ', `${dayOf(s)} ${timeOf(s)}`, ' · ', t('bk_length', { n: b.minutes }));
  } else if (q.get('question')) {
    what = h('p', { id: 'hold-what' }, (await api('GET', `/questions/${q.get('question')}`)).title);
  }
  page(t('hold_title'), ...[what, q.get('booking') ? h('p', { class: 'meta' }, t('ex_hold_note')) : null,
    cardPay(paymentId, price, onPaid), done].filter(Boolean));
}

// ---- my bookings ------------------------------------------------------------------------

/** What cancelling now costs, as the server computes it (`GET /bookings/{id}/cancellation`). */
async function cancelQuote(b) {
  const q = await api('GET', `/bookings/${b.id}/cancellation`);
  const price = cash(q.price_minor, q.currency);
  if (b.status === 'pending_payment') return t('bk_cancel_unpaid');
  if (!q.late) return t('bk_cancel_free', { price });
  return t('bk_cancel_late', { hours: q.notice_hours, fee: cash(q.fee_minor, q.currency), pct: q.late_fee_bps / 100, price });
}

/** A "do this?" step: the button opens a panel explaining the consequence, then confirms. */
function confirmStep(label, explain, confirmLabel, keepLabel, fn, attrs = {}) {
  const panel = h('div', { class: 'confirm card', role: 'group', hidden: true });
  const open = h('button', { type: 'button', class: 'secondary', ...attrs, onclick: async () => {
    let text;
    try { text = await explain(); } catch (e) { toast(e); return; }
    panel.replaceChildren(h('p', { class: 'fee-note' }, text), h('div', { class: 'row' },
      action(confirmLabel, fn, { class: 'danger' }),
      h('button', { type: 'button', class: 'secondary', onclick: () => { panel.hidden = true; open.hidden = false; } }, keepLabel)));
    panel.hidden = false; open.hidden = true;
  } }, label);
  return [open, panel];
}

function bookingCard(b, asExpert) {
  const held = (b.minutes + b.extra_minutes) * b.rate_per_minute_minor;
  const who = asExpert ? t('bk_with_learner', { name: b.learner_name }) : t('bk_with', { name: b.expert_name });
  const actions = [];
  const live = ['confirmed', 'in_progress'].includes(b.status);
  if (live) actions.push(link(`/consult/${b.id}`, t('bk_join'), { class: 'button' }));
  if (!asExpert && b.status === 'pending_payment') {
    actions.push(action(t('bk_pay'), async () => {
      const again = await api('POST', `/experts/${b.expert_id}/bookings`, { starts_at: b.starts_at, minutes: b.minutes });
      go(`/hold/${again.payment.id}?booking=${b.id}`);
    }));
  }
  if (!asExpert && ['pending_payment', 'confirmed'].includes(b.status)) {
    actions.push(...confirmStep(t('bk_cancel'), () => cancelQuote(b), t('bk_confirm_cancel'), t('bk_keep'), async () => {
      await api('POST', `/bookings/${b.id}/cancel`); toast(t('bk_cancelled'), 'info'); rerender();
    }));
  }
  if (asExpert && b.status === 'confirmed') {
    actions.push(...confirmStep(t('bk_decline'), () => t('bk_decline_note'), t('bk_confirm_decline'), t('bk_keep'), async () => {
      await api('POST', `/bookings/${b.id}/decline`); toast(t('bk_declined'), 'info'); rerender();
    }));
  }
  const start = new Date(b.starts_at);
  return h('li', { class: 'card booking', 'data-booking': b.id, 'data-status': b.status },
    h('h3', {}, who, ' ', statusBadge(b.status), b.settled_at ? [' ', statusBadge('settled')] : null),
    h('p', {}, h('time', { datetime: b.starts_at }, `${dayOf(start)} ${timeOf(start)}`), ' · ', t('bk_length', { n: b.minutes }),
      b.extra_minutes ? [' ', t('bk_extra', { n: b.extra_minutes })] : null),
    h('p', { class: 'meta' }, t('bk_held', { price: cash(held, b.currency) }),
      b.settled_at || b.charged_minor ? [' · ', t('bk_charged', { price: cash(b.charged_minor, b.currency) })] : null,
      b.billable_seconds ? [' · ', t('bk_billable', { time: clock(b.billable_seconds) })] : null),
    actions.length ? h('div', { class: 'row actions' }, actions) : null);
}

export async function bookingsView() {
  const user = me();
  if (!user) { go('/signin?next=/bookings'); return; }
  const rows = await api('GET', '/me/bookings');
  rows.sort((a, b) => new Date(b.starts_at) - new Date(a.starts_at));
  const mine = rows.filter((b) => b.learner_id === user.id);
  const theirs = rows.filter((b) => b.expert_id === user.id);
  const section = async (title, items, asExpert, id) => h('section', { id },
    h('h2', {}, title), items.length ? h('ul', { class: 'bookings' }, await Promise.all(items.map((b) => bookingCard(b, asExpert)))) : h('p', {}, t('bk_none')));
  const parts = [h('p', {}, link('/questions', t('bk_my_questions')), ' · ', link('/experts', t('ex_nav')))];
  parts.push(await section(t('bk_as_learner'), mine, false, 'as-learner'));
  if (user.role !== 'learner' || theirs.length) parts.push(await section(t('bk_as_expert'), theirs, true, 'as-expert'));
  page(t('bk_title'), ...parts);
}

// ---- my questions -----------------------------------------------------------------------

function questionCard(q, asExpert) {
  const body = [h('h3', {}, q.title, ' ', statusBadge(q.status), q.public ? null : [' ', h('span', { class: 'badge' }, t('q_private'))]),
    h('p', {}, q.body),
    h('p', { class: 'meta' }, t('q_price', { price: cash(q.price_minor, q.currency) }),
      q.status === 'open' && q.deadline_at ? [' · ', t('q_deadline', { time: when(q.deadline_at) })] : null)];
  if (q.answer != null) body.push(h('div', { class: 'answer' }, h('strong', {}, t('ex_answer')), ' ', q.answer));
  if (asExpert && q.status === 'open') {
    body.push(h('form', { class: 'stack answer-form', onsubmit: submitter(async (fd) => {
      await api('POST', `/questions/${q.id}/answer`, { answer: fd.get('answer') }); toast(t('q_answered'), 'info'); rerender();
    }) }, h('label', {}, t('q_your_answer'), h('textarea', { name: 'answer', required: true, maxlength: 8000, rows: 4 })),
    errorSlot(), h('button', { type: 'submit' }, t('q_send_answer'))));
  }
  return h('li', { class: 'card question', 'data-question': q.id, 'data-status': q.status }, body);
}

export async function questionsView() {
  const user = me();
  if (!user) { go('/signin?next=/questions'); return; }
  const data = await api('GET', '/me/questions?limit=100');
  const toMe = data.items.filter((q) => q.expert_id === user.id);
  const byMe = data.items.filter((q) => q.expert_id !== user.id);
  const sec = (title, items, asExpert, id) => h('section', { id }, h('h2', {}, title),
    items.length ? h('ul', { class: 'qlist' }, items.map((q) => questionCard(q, asExpert))) : h('p', {}, t('q_none')));
  page(t('q_title'), ...[user.role !== 'learner' ? sec(t('q_asked_me'), toMe, true, 'asked-me') : null, sec(t('q_asked_by_me'), byMe, false, 'asked-by-me')].filter(Boolean));
}

// ---- the expert's own profile -----------------------------------------------------------

export async function myExpertView() {
  const user = me();
  if (!user) { go('/signin?next=/experts/me'); return; }
  if (user.role === 'learner') { page(t('me_title'), h('p', {}, t('me_learner'))); return; }
  let p = null;
  try { p = await api('GET', '/experts/me'); } catch (err) { if (err.status !== 404) throw err; }
  let price = null;
  if (p) price = await api('GET', `/experts/${p.id}/questions?limit=1`).then((x) => x.ask_price).catch(() => null);
  const d = p ?? { headline: '', bio: '', tags: [], languages: [currentLang()], rate_per_minute_minor: 100, currency: 'EUR', min_minutes: 15, max_minutes: 60, time_zone: viewerZone(), published: false, windows: [], blocked_days: [] };
  const profile = h('form', { class: 'stack card', id: 'profile-form', onsubmit: submitter(async (fd) => {
    await api('PUT', '/experts/me', {
      headline: fd.get('headline'), bio: fd.get('bio'), tags: list(fd.get('tags')), languages: list(fd.get('languages')),
      rate_per_minute_minor: toMinor(fd.get('rate')), currency: String(fd.get('currency')).toUpperCase(),
      min_minutes: Number(fd.get('min')), max_minutes: Number(fd.get('max')), time_zone: fd.get('zone'), published: fd.get('published') === 'on',
    });
    toast(t('me_saved'), 'info'); rerender();
  }) }, h('h2', {}, t('me_profile')),
  field(t('me_headline'), { name: 'headline', required: true, maxlength: 120, value: d.headline }),
  h('label', {}, t('me_bio'), h('textarea', { name: 'bio', maxlength: 4000, rows: 4 }, d.bio)),
  field(t('me_tags'), { name: 'tags', value: d.tags.join(', ') }),
  field(t('me_languages'), { name: 'languages', required: true, value: d.languages.join(', ') }),
  h('div', { class: 'row' },
    field(t('me_rate'), { name: 'rate', required: true, type: 'number', min: '0.01', step: '0.01', value: (d.rate_per_minute_minor / 100).toFixed(2), class: 'num' }),
    field(t('me_currency'), { name: 'currency', required: true, maxlength: 3, value: d.currency, size: 4 })),
  h('div', { class: 'row' },
    field(t('me_min'), { name: 'min', type: 'number', min: 5, max: 240, step: 5, required: true, value: d.min_minutes, class: 'num' }),
    field(t('me_max'), { name: 'max', type: 'number', min: 5, max: 240, step: 5, required: true, value: d.max_minutes, class: 'num' })),
  field(t('me_zone'), { name: 'zone', required: true, value: d.time_zone }),
  h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'published', checked: d.published }), t('me_published')),
  errorSlot(), h('button', { type: 'submit' }, t('me_save')));
  const body = [p ? h('p', {}, link(`/experts/${p.id}`, t('me_view_public'))) : h('p', {}, t('me_new')), profile];
  if (p) body.push(h('div', { class: 'twocol even' }, windowsEditor(p), h('div', { class: 'stack' }, blockedDays(p), priceForm(p, price))));
  page(t('me_title'), ...body);
}

function windowsEditor(p) {
  const rows = h('div', { class: 'windows', id: 'windows' });
  const row = (w = { weekday: 'mon', start: '09:00', end: '12:00' }) => {
    const r = h('div', { class: 'row window' },
      h('label', {}, t('me_weekday'), h('select', { name: 'weekday' }, WEEKDAYS.map((x) => h('option', { value: x, selected: w.weekday === x }, t(`wd_${x}`))))),
      h('label', {}, t('me_start'), h('input', { name: 'start', value: w.start, pattern: '\\d\\d:\\d\\d', size: 5, required: true })),
      h('label', {}, t('me_end'), h('input', { name: 'end', value: w.end, pattern: '\\d\\d:\\d\\d', size: 5, required: true })),
      h('button', { type: 'button', class: 'secondary', onclick: () => r.remove() }, t('me_remove')));
    rows.append(r);
  };
  p.windows.forEach(row);
  return h('form', { class: 'stack card', id: 'windows-form', onsubmit: submitter(async (_fd, form) => {
    const windows = [...form.querySelectorAll('.window')].map((r) => ({
      weekday: r.querySelector('[name=weekday]').value, start: r.querySelector('[name=start]').value, end: r.querySelector('[name=end]').value,
    }));
    await api('PUT', '/experts/me/availability', { windows });
    toast(t('me_saved'), 'info');
  }) }, h('h2', {}, t('me_windows')), h('p', { class: 'meta' }, t('me_windows_note', { zone: p.time_zone })), rows,
  h('button', { type: 'button', class: 'secondary', onclick: () => row() }, t('me_add_window')),
  errorSlot(), h('button', { type: 'submit' }, t('me_save_windows')));
}

function blockedDays(p) {
  return h('section', { class: 'stack card', id: 'blocked' }, h('h2', {}, t('me_blocked')),
    p.blocked_days.length ? h('ul', {}, p.blocked_days.map((b) => h('li', { class: 'row' }, b.date,
      action(t('me_unblock'), async () => { await api('DELETE', `/experts/me/blocked-days/${b.date}`); rerender(); }, { class: 'secondary' }))))
      : h('p', { class: 'meta' }, t('me_no_blocked')),
    h('form', { class: 'row', onsubmit: submitter(async (fd) => { await api('POST', '/experts/me/blocked-days', { date: fd.get('date') }); rerender(); }) },
      field(t('me_block_date'), { name: 'date', type: 'date', required: true }), h('button', { type: 'submit' }, t('me_block')), errorSlot()));
}

function priceForm(p, price) {
  return h('form', { class: 'stack card', id: 'qprice-form', onsubmit: submitter(async (fd) => {
    const minor = toMinor(fd.get('price') || 0);
    await api('PUT', '/experts/me/question-price', { price_minor: minor || null });
    toast(t('me_saved'), 'info'); rerender();
  }) }, h('h2', {}, t('me_qprice')),
  h('p', { class: 'meta' }, price ? t('me_qprice_now', { price: cash(price.amount_minor, price.currency) }) : t('me_qprice_off')),
  field(t('me_qprice_label'), { name: 'price', type: 'number', min: 0, step: '0.01', value: price ? (price.amount_minor / 100).toFixed(2) : '0', class: 'num' }),
  errorSlot(), h('button', { type: 'submit' }, t('me_qprice_save')));
}
