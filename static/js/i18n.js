// Every visible string in English and Simplified Chinese; `t(key, vars)` picks the current one.
const STRINGS = {
  en: {
    skip: 'Skip to content', language: 'Language', footer: 'Realtime learning: courses, live classes, consultations.',
    catalog: 'Catalog', library: 'My library', orders: 'Orders', signin: 'Sign in', signup: 'Sign up', signout: 'Sign out',
    admin: 'Review queue', email: 'Email', password: 'Password', name: 'Display name', loading: 'Loading…',
    setup_title: 'Welcome to Lyceum', setup_intro: 'This server has no accounts yet. Load the demo data to look around at once, or create the first admin.',
    load_demo: 'Load the demo data', create_admin: 'Create the first admin', demo_loaded: 'Demo data loaded',
    demo_password: 'Every demo account signs in with the password {p}.', live_now: 'Live now', join_class: 'Join the live class',
    signin_as: 'Sign in as {name}', role_learner: 'learner', role_instructor: 'instructor', role_admin: 'admin',
    search: 'Search courses', sort: 'Sort', sort_relevance: 'Relevance', sort_newest: 'Newest', sort_rating: 'Rating',
    sort_popularity: 'Popularity', sort_price_asc: 'Price: low to high', sort_price_desc: 'Price: high to low', free_only: 'Free only',
    no_results: 'No courses found.', by: 'by {name}', lessons_n: '{n} lessons', free: 'Free', rating: '★ {avg} ({n})', no_rating: 'No ratings yet',
    lessons: 'Lessons', preview: 'Free preview', locked: 'Locked', open: 'Open', enroll: 'Enrol for free', buy: 'Buy for {price}',
    coupon: 'Coupon code (optional)', owned: 'You own this course.', reviews: 'Reviews', no_reviews: 'No reviews yet.',
    live_sessions: 'Live sessions', no_live: 'No live sessions scheduled.', status_live: 'live now', status_scheduled: 'scheduled', status_ended: 'ended',
    signin_to_buy: 'Sign in to buy or enrol.', checkout: 'Pay with a test card', card_number: 'Card number', pay: 'Pay {price}',
    test_cards: 'Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0025 0000 3155 asks for 3-D Secure.',
    declined: 'The card was declined ({code}). Try another card.', three_ds: '3-D Secure: your bank asks you to approve this payment.',
    approve: 'Approve', reject: 'Reject', waiting: 'Payment accepted; waiting for the order to be confirmed…', paid: 'Paid. The course is in your library.',
    go_course: 'Go to the course', back: 'Back to the course', empty_library: 'Your library is empty.', order_status: 'Status', amount: 'Amount',
    course: 'Course', refund: 'Ask for a refund', refund_reason: 'Reason', refunded: 'Refund requested.', no_orders: 'No orders yet.',
    approve_course: 'Approve', reject_course: 'Reject', reject_reason: 'Reason for rejection', queue_empty: 'Nothing waiting for review.',
    approved: 'Approved and published.', signup_title: 'Create an account', signin_title: 'Sign in', have_account: 'Already have an account? Sign in',
    no_account: 'New here? Create an account', not_found: 'Page not found.', welcome: 'Hello, {name}', recommended: 'Recommended for you',
    dismiss: 'Not interested', undo: 'Undo', lesson: 'Lesson', net_error: 'Cannot reach the server.', error_title: 'Something went wrong',
  },
  zh: {
    skip: '跳到正文', language: '语言', footer: '实时学习：课程、直播课堂、付费咨询。',
    catalog: '课程目录', library: '我的课程', orders: '订单', signin: '登录', signup: '注册', signout: '退出',
    admin: '审核队列', email: '邮箱', password: '密码', name: '显示名称', loading: '加载中…',
    setup_title: '欢迎使用 Lyceum', setup_intro: '此服务器还没有任何账户。加载演示数据立即体验，或创建第一个管理员。',
    load_demo: '加载演示数据', create_admin: '创建第一个管理员', demo_loaded: '演示数据已加载',
    demo_password: '所有演示账户的密码都是 {p}。', live_now: '正在直播', join_class: '进入直播课堂',
    signin_as: '以 {name} 登录', role_learner: '学员', role_instructor: '讲师', role_admin: '管理员',
    search: '搜索课程', sort: '排序', sort_relevance: '相关度', sort_newest: '最新', sort_rating: '评分',
    sort_popularity: '热度', sort_price_asc: '价格从低到高', sort_price_desc: '价格从高到低', free_only: '仅免费',
    no_results: '没有找到课程。', by: '讲师：{name}', lessons_n: '{n} 节课', free: '免费', rating: '★ {avg}（{n} 条）', no_rating: '暂无评分',
    lessons: '课时', preview: '免费试看', locked: '未解锁', open: '打开', enroll: '免费加入', buy: '购买 {price}',
    coupon: '优惠码（可选）', owned: '你已拥有此课程。', reviews: '评价', no_reviews: '暂无评价。',
    live_sessions: '直播课', no_live: '暂无直播安排。', status_live: '直播中', status_scheduled: '已安排', status_ended: '已结束',
    signin_to_buy: '登录后即可购买或加入。', checkout: '使用测试卡付款', card_number: '卡号', pay: '支付 {price}',
    test_cards: '测试卡：4242 4242 4242 4242 成功，4000 0000 0000 0002 被拒，4000 0025 0000 3155 需要 3-D Secure 验证。',
    declined: '银行卡被拒（{code}），请换一张卡。', three_ds: '3-D Secure：你的银行要求确认此次付款。',
    approve: '确认', reject: '拒绝', waiting: '付款已受理，正在确认订单…', paid: '支付成功，课程已加入你的课程库。',
    go_course: '前往课程', back: '返回课程', empty_library: '你的课程库是空的。', order_status: '状态', amount: '金额',
    course: '课程', refund: '申请退款', refund_reason: '原因', refunded: '已提交退款。', no_orders: '暂无订单。',
    approve_course: '通过', reject_course: '驳回', reject_reason: '驳回原因', queue_empty: '没有待审核的课程。',
    approved: '已通过并发布。', signup_title: '创建账户', signin_title: '登录', have_account: '已有账户？登录',
    no_account: '第一次来？创建账户', not_found: '页面不存在。', welcome: '你好，{name}', recommended: '为你推荐',
    dismiss: '不感兴趣', undo: '撤销', lesson: '课时', net_error: '无法连接服务器。', error_title: '出错了',
  },
};

/**
 * Adds a page's own strings (`{en: {...}, zh: {...}}`), so each page module keeps its words next
 * to its code. Both languages must carry the same keys; a missing one is reported at once.
 */
export function addStrings(dict) {
  for (const code of Object.keys(STRINGS)) Object.assign(STRINGS[code], dict[code]);
  const missing = Object.keys(dict.en).filter((k) => !(k in (dict.zh ?? {})))
    .concat(Object.keys(dict.zh ?? {}).filter((k) => !(k in dict.en)));
  if (missing.length) console.error(`i18n: keys without both languages: ${missing.join(', ')}`);
}

/** Every string of language `code` (a copy), for checks such as the browser tests' i18n sweep. */
export const strings = (code) => ({ ...STRINGS[code] });

let lang = localStorage.getItem('lyceum.lang') || (navigator.language.startsWith('zh') ? 'zh' : 'en');

/** The current language code. */
export const currentLang = () => lang;

/** Switches the language and remembers it. */
export function setLang(code) {
  lang = STRINGS[code] ? code : 'en';
  localStorage.setItem('lyceum.lang', lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

/** The string `key` in the current language, with `{name}` placeholders filled. */
export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

/** Formats integer minor units as money in the current language. */
export function money(m) {
  if (!m || m.amount_minor === 0) return t('free');
  return new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en', { style: 'currency', currency: m.currency })
    .format(m.amount_minor / 100);
}

/** Formats an RFC 3339 time in the viewer's zone. */
export const when = (iso) => new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
