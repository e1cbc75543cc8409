// The instructor studio: the courses I teach with their review status, a course editor (details,
// lessons with reordering, review submission, archiving), live sessions, coupons and earnings.
import { t, addStrings, currentLang, when } from '../i18n.js';
import { api, me, ApiError } from '../api.js';
import { h, action, submitter, errorSlot, field, toast, page, link, go, describe } from '../dom.js';

addStrings({
  en: {
    st_studio: 'Studio', st_new_course: 'New course', st_my_courses: 'My courses', st_no_courses: 'You teach no courses yet.',
    st_not_instructor: 'The studio is for instructors and admins.', st_cs_draft: 'Draft', st_cs_in_review: 'In review',
    st_cs_published: 'Published', st_cs_archived: 'Archived', st_rejected: 'Sent back by the review: {reason}',
    st_status: 'Status', st_lessons_n: '{n} lessons', st_enrolled_n: '{n} learners', st_edit: 'Edit', st_more: 'Show more',
    st_title: 'Title', st_description: 'Description', st_category: 'Category', st_tags: 'Tags (comma separated)',
    st_level: 'Level', st_level_beginner: 'Beginner', st_level_intermediate: 'Intermediate', st_level_advanced: 'Advanced',
    st_level_all_levels: 'All levels', st_language: 'Language', st_price: 'Price (0 for free)', st_currency: 'Currency',
    st_cover: 'Cover image URL', st_create: 'Create the draft', st_save: 'Save', st_saved: 'Saved.', st_details: 'Details',
    st_bad_amount: 'Enter an amount such as 19.99 (at most {d} decimals).', st_view_public: 'View the course page',
    st_back_studio: 'Back to the studio', st_submit: 'Submit for review', st_submitted: 'Submitted for review.',
    st_archive: 'Archive', st_archive_q: 'Archive this course for good? It cannot be undone.', st_yes_archive: 'Yes, archive',
    st_cancel: 'Cancel', st_archived_note: 'This course is archived: it is read-only.', st_in_review_note: 'An admin is reviewing this course.',
    st_lessons: 'Lessons', st_no_lessons: 'No lessons yet: a course needs one before it can be submitted.',
    st_add_lesson: 'Add a lesson', st_lesson_body: 'Text', st_media_url: 'Media URL (optional)', st_duration: 'Length in minutes',
    st_free_preview: 'Free preview (readable by everyone)', st_move_up: 'Move “{title}” up', st_move_down: 'Move “{title}” down',
    st_up: 'Up', st_down: 'Down', st_delete: 'Delete', st_delete_q: 'Delete “{title}”?', st_yes_delete: 'Yes, delete',
    st_edit_lesson: 'Edit “{title}”', st_lesson_added: 'Lesson added.', st_live: 'Live sessions', st_no_live: 'No live sessions yet.',
    st_schedule: 'Schedule', st_session_title: 'Session title', st_starts_at: 'Starts at (your local time)',
    st_start: 'Start', st_end: 'End', st_open_room: 'Open the classroom', st_ls_scheduled: 'scheduled', st_ls_live: 'live now',
    st_ls_ended: 'ended', st_scheduled_ok: 'Session scheduled.', st_coupons: 'Coupons', st_no_coupons: 'No coupons yet.',
    st_code: 'Code', st_discount: 'Discount', st_kind: 'Kind', st_percent: 'Percent off', st_amount_off: 'Amount off',
    st_value: 'Value', st_expires: 'Expires (optional)', st_max_red: 'Most uses in total (optional)',
    st_max_user: 'Most uses per learner (optional)', st_create_coupon: 'Create the coupon', st_coupon_made: 'Coupon {code} created.',
    st_uses: 'Uses', st_never: 'never', st_bad_percent: 'Enter a percentage between 0.01 and 100.',
    st_earnings: 'Earnings', st_no_earnings: 'Nothing earned yet.', st_earned: 'Earned', st_refunded: 'Refunded',
    st_balance: 'Balance', st_payout_ready: 'Ready to pay out', st_all_courses: 'all courses', st_prev: 'Previous page', st_expires_col: 'Expires',
  },
  zh: {
    st_studio: '讲师工作台', st_new_course: '新建课程', st_my_courses: '我的授课', st_no_courses: '你还没有开设课程。',
    st_not_instructor: '讲师工作台仅供讲师和管理员使用。', st_cs_draft: '草稿', st_cs_in_review: '审核中',
    st_cs_published: '已发布', st_cs_archived: '已归档', st_rejected: '审核未通过：{reason}',
    st_status: '状态', st_lessons_n: '{n} 节课', st_enrolled_n: '{n} 名学员', st_edit: '编辑', st_more: '显示更多',
    st_title: '标题', st_description: '简介', st_category: '分类', st_tags: '标签（用逗号分隔）',
    st_level: '难度', st_level_beginner: '入门', st_level_intermediate: '中级', st_level_advanced: '高级',
    st_level_all_levels: '所有水平', st_language: '授课语言', st_price: '价格（0 表示免费）', st_currency: '币种',
    st_cover: '封面图片网址', st_create: '创建草稿', st_save: '保存', st_saved: '已保存。', st_details: '课程信息',
    st_bad_amount: '请输入金额，例如 19.99（最多 {d} 位小数）。', st_view_public: '查看课程页面',
    st_back_studio: '返回讲师工作台', st_submit: '提交审核', st_submitted: '已提交审核。',
    st_archive: '归档', st_archive_q: '确定永久归档此课程吗？此操作无法撤销。', st_yes_archive: '确定归档',
    st_cancel: '取消', st_archived_note: '此课程已归档，只能查看。', st_in_review_note: '管理员正在审核此课程。',
    st_lessons: '课时', st_no_lessons: '还没有课时：课程至少需要一节课时才能提交审核。',
    st_add_lesson: '添加课时', st_lesson_body: '正文', st_media_url: '媒体网址（可选）', st_duration: '时长（分钟）',
    st_free_preview: '免费试看（所有人可读）', st_move_up: '将“{title}”上移', st_move_down: '将“{title}”下移',
    st_up: '上移', st_down: '下移', st_delete: '删除', st_delete_q: '删除“{title}”？', st_yes_delete: '确定删除',
    st_edit_lesson: '编辑“{title}”', st_lesson_added: '课时已添加。', st_live: '直播课', st_no_live: '还没有直播课。',
    st_schedule: '安排直播', st_session_title: '直播标题', st_starts_at: '开始时间（你的当地时间）',
    st_start: '开始', st_end: '结束', st_open_room: '进入直播课堂', st_ls_scheduled: '已安排', st_ls_live: '直播中',
    st_ls_ended: '已结束', st_scheduled_ok: '直播已安排。', st_coupons: '优惠券', st_no_coupons: '还没有优惠券。',
    st_code: '优惠码', st_discount: '优惠', st_kind: '类型', st_percent: '按比例减免', st_amount_off: '固定金额减免',
    st_value: '数值', st_expires: '过期时间（可选）', st_max_red: '总使用次数上限（可选）',
    st_max_user: '每位学员使用次数上限（可选）', st_create_coupon: '创建优惠券', st_coupon_made: '优惠券 {code} 已创建。',
    st_uses: '已使用', st_never: '永不过期', st_bad_percent: '请输入 0.01 到 100 之间的百分比。',
    st_earnings: '收入', st_no_earnings: '暂无收入。', st_earned: '已赚取', st_refunded: '已退款',
    st_balance: '余额', st_payout_ready: '可提现', st_all_courses: '所有课程', st_prev: '上一页', st_expires_col: '过期时间',
  },
});

const LEVELS = ['all_levels', 'beginner', 'intermediate', 'advanced'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CNY', 'JPY', 'INR', 'BRL'];
const PAGE = 24;

// ---- small shared pieces ------------------------------------------------------------------

const locale = () => (currentLang() === 'zh' ? 'zh-CN' : 'en');
/** How many decimals a currency's minor unit has (2 for EUR, 0 for JPY). */
const digits = (cur) => new Intl.NumberFormat('en', { style: 'currency', currency: cur }).resolvedOptions().maximumFractionDigits;

/** Formats integer minor units as money (0 stays a sum, never "Free"). */
export function fmtMinor(minor, cur) {
  const d = digits(cur);
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: cur }).format(minor / 10 ** d);
}

/** Minor units as the plain decimal a person types ("19.90"), without floating point. */
function minorToInput(minor, cur) {
  const d = digits(cur);
  if (!d) return String(minor);
  const s = String(minor).padStart(d + 1, '0');
  return `${s.slice(0, -d)}.${s.slice(-d)}`;
}

/** A typed decimal ("19.9", "19,90") as integer minor units; throws a readable error. */
export function inputToMinor(raw, cur) {
  const d = digits(cur);
  const m = String(raw).trim().match(/^(\d+)(?:[.,](\d*))?$/);
  if (!m || (m[2] ?? '').length > d) throw new ApiError(400, 'validation_failed', t('st_bad_amount', { d }));
  return Number(m[1]) * 10 ** d + Number((m[2] ?? '').padEnd(d, '0') || 0);
}

/** A `datetime-local` value ("2026-12-04T10:00") as RFC 3339 with the viewer's UTC offset then. */
export function localToRfc3339(value) {
  const [date, time] = value.split('T');
  const full = time.length === 5 ? `${time}:00` : time;
  const offset = -new Date(value).getTimezoneOffset();
  const pad = (n) => String(n).padStart(2, '0');
  const sign = offset >= 0 ? '+' : '-';
  const a = Math.abs(offset);
  return `${date}T${full}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** Replaces `el`'s children, skipping null (native replaceChildren would print "null"). */
const fill = (el, ...kids) => el.replaceChildren(...kids.flat().filter((k) => k != null && k !== false));

const statusBadge = (s) => h('span', { class: `badge status-${s}` }, t(`st_cs_${s}`));
const liveBadge = (s) => h('span', { class: `badge live-${s}` }, t(`st_ls_${s}`));
const textarea = (label, attrs, value = '') => {
  const el = h('textarea', attrs);
  el.value = value;
  return h('label', {}, label, el);
};
const select = (label, attrs, options, value) => h('label', {}, label, h('select', attrs,
  options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
const section = (id, title, ...body) => h('section', { class: 'studio-section', 'aria-labelledby': `${id}-h` },
  h('h2', { id: `${id}-h` }, title), ...body);

/** A button that asks before it acts: the question and two buttons appear in its place. */
function confirmButton(label, question, yes, fn, attrs = {}) {
  const box = h('span', { class: 'st-confirm' });
  const ask = () => {
    const no = h('button', { type: 'button', class: 'secondary', onclick: () => { draw(); box.querySelector('button')?.focus(); } }, t('st_cancel'));
    fill(box, h('span', { class: 'st-confirm-q' }, question), action(yes, fn, { class: 'danger' }), no);
    no.focus();
  };
  const draw = () => fill(box, h('button', { type: 'button', class: 'secondary', ...attrs, onclick: ask }, label));
  draw();
  return box;
}

const isTeacher = () => ['instructor', 'admin'].includes(me()?.role);

function needTeacher() {
  if (!me()) { go(`/signin?next=${location.pathname}`); return false; }
  if (!isTeacher()) { page(t('st_studio'), h('p', {}, t('st_not_instructor'))); return false; }
  return true;
}

/** The course fields (title … cover) as inputs, prefilled from `c` when editing. */
function courseFields(c = {}) {
  const cur = c.price?.currency ?? 'EUR';
  const currencies = CURRENCIES.includes(cur) ? CURRENCIES : [cur, ...CURRENCIES];
  return [
    field(t('st_title'), { name: 'title', required: true, maxlength: 200, value: c.title ?? '' }),
    textarea(t('st_description'), { name: 'description', rows: 5, maxlength: 20000 }, c.description ?? ''),
    h('div', { class: 'row' },
      field(t('st_category'), { name: 'category', required: true, maxlength: 50, value: c.category ?? '' }),
      field(t('st_tags'), { name: 'tags', value: (c.tags ?? []).join(', ') })),
    h('div', { class: 'row' },
      select(t('st_level'), { name: 'level' }, LEVELS.map((l) => [l, t(`st_level_${l}`)]), c.level ?? 'all_levels'),
      field(t('st_language'), { name: 'language', value: c.language ?? 'en', maxlength: 35, size: 6 })),
    h('div', { class: 'row' },
      field(t('st_price'), { name: 'price', required: true, inputmode: 'decimal', size: 10,
        value: c.price ? minorToInput(c.price.amount_minor, cur) : '0' }),
      select(t('st_currency'), { name: 'currency' }, currencies.map((x) => [x, x]), cur)),
    field(t('st_cover'), { name: 'cover', type: 'url', value: c.cover_image_url ?? '' }),
  ];
}

/** The form's course fields as the API's body. */
function courseBody(fd) {
  const cur = fd.get('currency');
  return {
    title: fd.get('title').trim(),
    description: fd.get('description'),
    category: fd.get('category').trim(),
    tags: fd.get('tags').split(/[,，、]/).map((x) => x.trim()).filter(Boolean),
    level: fd.get('level'),
    language: fd.get('language').trim() || 'en',
    price: { amount_minor: inputToMinor(fd.get('price'), cur), currency: cur },
    cover_image_url: fd.get('cover').trim() || null,
  };
}

// ---- /studio ------------------------------------------------------------------------------

export async function studioView() {
  if (!needTeacher()) return;
  const offset = Number(new URLSearchParams(location.search).get('offset') ?? 0) || 0;
  const [courses, earnings, coupons] = await Promise.all([
    api('GET', `/me/courses/teaching?limit=${PAGE}&offset=${offset}`),
    api('GET', '/me/earnings').catch(() => []),
    api('GET', '/coupons').catch(() => []),
  ]);
  const titles = Object.fromEntries(courses.items.map((c) => [c.id, c.title]));
  const list = courses.items.length ? h('ul', { class: 'grid', id: 'teaching' }, courses.items.map((c) => h('li', { class: 'card studio-course', 'data-status': c.status },
    h('h3', {}, link(`/studio/courses/${c.id}`, c.title)),
    h('p', {}, statusBadge(c.status), ' ', h('span', { class: 'meta' }, t('st_lessons_n', { n: c.lesson_count }), ' · ',
      c.price.amount_minor ? fmtMinor(c.price.amount_minor, c.price.currency) : t('free'), ' · ', t('st_enrolled_n', { n: c.enrollment_count }))),
    c.rejection_reason && c.status === 'draft' ? h('p', { class: 'notice rejection' }, t('st_rejected', { reason: c.rejection_reason })) : null)))
    : h('p', {}, t('st_no_courses'));
  const pager = h('p', { class: 'row' },
    offset > 0 ? link(`/studio?offset=${Math.max(0, offset - PAGE)}`, t('st_prev')) : null,
    offset + PAGE < courses.total ? link(`/studio?offset=${offset + PAGE}`, t('st_more')) : null);
  page(t('st_studio'),
    h('p', {}, link('/studio/courses/new', t('st_new_course'), { class: 'button' })),
    section('mine', t('st_my_courses'), list, pager),
    section('earnings', t('st_earnings'), earningsBox(earnings)),
    section('coupons', t('st_coupons'), couponTable(coupons, titles)));
}

function earningsBox(rows) {
  if (!rows.length) return h('p', { id: 'earnings-list' }, t('st_no_earnings'));
  return h('div', { class: 'grid', id: 'earnings-list' }, rows.map((e) => h('dl', { class: 'card figures' },
    h('dt', {}, t('st_earned')), h('dd', {}, fmtMinor(e.earned_minor, e.currency)),
    h('dt', {}, t('st_refunded')), h('dd', {}, fmtMinor(e.refunded_minor, e.currency)),
    h('dt', {}, t('st_balance')), h('dd', { class: 'price' }, fmtMinor(e.balance_minor, e.currency)),
    h('dt', {}, t('st_payout_ready')), h('dd', {}, fmtMinor(e.payout_ready_minor, e.currency)))));
}

function couponTable(rows, titles) {
  if (!rows.length) return h('p', { class: 'coupons' }, t('st_no_coupons'));
  return h('div', { class: 'scroll' }, h('table', { class: 'coupons' },
    h('thead', {}, h('tr', {}, [t('st_code'), t('st_discount'), t('course'), t('st_uses'), t('st_expires_col')].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((c) => h('tr', {},
      h('td', {}, h('code', {}, c.code)),
      h('td', {}, c.percent_off_bps != null ? `${c.percent_off_bps / 100}%` : fmtMinor(c.amount_off.amount_minor, c.amount_off.currency)),
      h('td', {}, c.course_id ? (titles?.[c.course_id] ?? c.course_id.slice(0, 8)) : t('st_all_courses')),
      h('td', {}, c.max_redemptions ? `${c.redemptions} / ${c.max_redemptions}` : String(c.redemptions)),
      h('td', {}, c.expires_at ? when(c.expires_at) : t('st_never')))))));
}

// ---- /studio/courses/new ------------------------------------------------------------------

export async function newCourseView() {
  if (!needTeacher()) return;
  const form = h('form', { class: 'stack wide', id: 'course-form', onsubmit: submitter(async (fd) => {
    const c = await api('POST', '/courses', courseBody(fd));
    go(`/studio/courses/${c.id}`);
  }) }, courseFields(), errorSlot(), h('button', { type: 'submit' }, t('st_create')));
  page(t('st_new_course'), h('p', {}, link('/studio', t('st_back_studio'))), form);
}

// ---- /studio/courses/{id} -----------------------------------------------------------------

export async function editCourseView(id) {
  if (!needTeacher()) return;
  let course = await api('GET', `/courses/${id}`);
  let lessons = course.lessons;
  const readOnly = () => course.status === 'archived';

  // Status, the review's reason and the status actions.
  const head = h('div', { class: 'studio-head', id: 'course-status', 'aria-live': 'polite' });
  const drawHead = () => {
    const s = course.status;
    fill(head,
      h('p', { class: 'status-line', tabindex: '-1' }, h('span', { class: 'meta' }, `${t('st_status')}: `), statusBadge(s)),
      s === 'draft' && course.rejection_reason ? h('p', { class: 'notice rejection', role: 'note' }, t('st_rejected', { reason: course.rejection_reason })) : null,
      s === 'in_review' ? h('p', { class: 'meta' }, t('st_in_review_note')) : null,
      s === 'archived' ? h('p', { class: 'meta' }, t('st_archived_note')) : null,
      h('div', { class: 'row' },
        s === 'draft' ? action(t('st_submit'), async () => {
          course = { ...course, ...await api('POST', `/courses/${id}/submit`) };
          toast(t('st_submitted'), 'info');
          drawHead();
          head.querySelector('.status-line')?.focus();
        }, { id: 'submit-review' }) : null,
        s !== 'archived' ? confirmButton(t('st_archive'), t('st_archive_q'), t('st_yes_archive'), async () => {
          course = { ...course, ...await api('POST', `/courses/${id}/archive`) };
          drawHead(); drawLessons(); drawDetails();
        }) : null));
  };

  // Details.
  const details = h('div');
  const drawDetails = () => {
    const form = h('form', { class: 'stack wide', id: 'course-form', onsubmit: submitter(async (fd, f) => {
      course = { ...course, ...await api('PATCH', `/courses/${id}`, courseBody(fd)) };
      document.querySelector('main h1').textContent = course.title;
      document.title = `${course.title} · Lyceum`;
      f.querySelector('.form-error').textContent = '';
      f.querySelector('.saved').textContent = t('st_saved');
      drawHead();
    }) }, h('fieldset', { disabled: readOnly() }, h('legend', { class: 'sr' }, t('st_details')), courseFields(course)),
    errorSlot(), h('p', { class: 'saved ok', role: 'status' }),
    readOnly() ? null : h('button', { type: 'submit' }, t('st_save')));
    fill(details, form);
  };

  // Lessons.
  const list = h('ol', { class: 'studio-lessons', id: 'lesson-list' });
  const lessonsBox = h('div');
  const move = async (index, dir) => {
    const ids = lessons.map((l) => l.id);
    const [moved] = ids.splice(index, 1);
    ids.splice(index + dir, 0, moved);
    lessons = await api('PUT', `/courses/${id}/lesson-order`, { lesson_ids: ids });
    drawLessons();
    const li = list.querySelector(`[data-id="${moved}"]`);
    const btn = li?.querySelector(dir < 0 ? '.move-up' : '.move-down');
    (btn && !btn.disabled ? btn : li?.querySelector('.move-up:not(:disabled), .move-down:not(:disabled)'))?.focus();
  };
  const lessonItem = (l, i) => {
    const editor = h('form', { class: 'stack lesson-edit', hidden: true, onsubmit: submitter(async (fd) => {
      const body = {
        title: fd.get('title').trim(), body: fd.get('body') || null, media_url: fd.get('media').trim() || null,
        duration_secs: Math.round(Number(fd.get('minutes') || 0) * 60), free_preview: fd.get('preview') === 'on',
      };
      const updated = await api('PATCH', `/courses/${id}/lessons/${l.id}`, body);
      lessons = lessons.map((x) => (x.id === l.id ? updated : x));
      drawLessons();
      list.querySelector(`[data-id="${l.id}"] .edit-lesson`)?.focus();
    }) }, lessonFields(l), errorSlot(), h('div', { class: 'row' }, h('button', { type: 'submit' }, t('st_save')),
      h('button', { type: 'button', class: 'secondary', onclick: () => { editor.hidden = true; editBtn.focus(); } }, t('st_cancel'))));
    const editBtn = h('button', { type: 'button', class: 'secondary edit-lesson', 'aria-label': t('st_edit_lesson', { title: l.title }),
      'aria-expanded': 'false', onclick: () => {
        editor.hidden = !editor.hidden;
        editBtn.setAttribute('aria-expanded', String(!editor.hidden));
        if (!editor.hidden) editor.querySelector('input')?.focus();
      } }, t('st_edit'));
    const ro = readOnly();
    return h('li', { 'data-id': l.id },
      h('div', { class: 'lesson-row' },
        h('span', { class: 'lesson-title' }, h('span', { class: 'num' }, `${i + 1}.`), ' ', l.title, ' ',
          l.free_preview ? h('span', { class: 'badge' }, t('preview')) : null),
        ro ? null : h('span', { class: 'lesson-actions' },
          action(t('st_up'), () => move(i, -1), { class: 'secondary move-up', disabled: i === 0, 'aria-label': t('st_move_up', { title: l.title }) }),
          action(t('st_down'), () => move(i, 1), { class: 'secondary move-down', disabled: i === lessons.length - 1, 'aria-label': t('st_move_down', { title: l.title }) }),
          editBtn,
          confirmButton(t('st_delete'), t('st_delete_q', { title: l.title }), t('st_yes_delete'), async () => {
            await api('DELETE', `/courses/${id}/lessons/${l.id}`);
            lessons = lessons.filter((x) => x.id !== l.id);
            drawLessons();
            lessonsBox.querySelector('h3, input')?.focus();
          }, { class: 'secondary danger-text' }))),
      ro ? null : editor);
  };
  const drawLessons = () => {
    fill(list, ...lessons.map(lessonItem));
    const add = h('form', { class: 'stack card', id: 'add-lesson', onsubmit: submitter(async (fd, f) => {
      const l = await api('POST', `/courses/${id}/lessons`, {
        title: fd.get('title').trim(), body: fd.get('body') || null, media_url: fd.get('media').trim() || null,
        duration_secs: Math.round(Number(fd.get('minutes') || 0) * 60), free_preview: fd.get('preview') === 'on',
      });
      lessons = [...lessons, l];
      drawLessons();
      toast(t('st_lesson_added'), 'info');
      lessonsBox.querySelector('#add-lesson input')?.focus();
      f.reset();
    }) }, h('h3', {}, t('st_add_lesson')), lessonFields(), errorSlot(), h('button', { type: 'submit' }, t('st_add_lesson')));
    fill(lessonsBox, lessons.length ? list : h('p', {}, t('st_no_lessons')), readOnly() ? null : add);
  };

  // Live sessions.
  const liveBox = h('div');
  const drawLive = async () => {
    const items = await api('GET', `/courses/${id}/live-sessions`);
    const act = (s, verb) => action(t(`st_${verb}`), async () => {
      await api('POST', `/live-sessions/${s.id}/${verb}`);
      await drawLive();
      liveBox.querySelector(`[data-id="${s.id}"] button, [data-id="${s.id}"] a`)?.focus();
    });
    const listEl = items.length ? h('ul', { class: 'studio-live', id: 'live-list' }, items.map((s) => h('li', { 'data-id': s.id, 'data-status': s.status },
      h('span', {}, h('strong', {}, s.title), ' ', liveBadge(s.status), ' ', h('span', { class: 'meta' }, when(s.starts_at))),
      h('span', { class: 'row' },
        s.status === 'scheduled' ? act(s, 'start') : null,
        s.status === 'live' ? act(s, 'end') : null,
        s.status !== 'ended' ? link(`/live/${s.id}`, t('st_open_room')) : null))))
      : h('p', {}, t('st_no_live'));
    const form = readOnly() ? null : h('form', { class: 'row card', id: 'schedule-live', onsubmit: submitter(async (fd, f) => {
      await api('POST', `/courses/${id}/live-sessions`, { title: fd.get('title').trim(), starts_at: localToRfc3339(fd.get('starts')) });
      toast(t('st_scheduled_ok'), 'info');
      f.reset();
      await drawLive();
    }) }, field(t('st_session_title'), { name: 'title', required: true, maxlength: 200 }),
    field(t('st_starts_at'), { name: 'starts', type: 'datetime-local', required: true }),
    h('button', { type: 'submit' }, t('st_schedule')), errorSlot());
    fill(liveBox, listEl, form);
  };

  // Coupons for this course.
  const couponBox = h('div');
  const drawCoupons = async () => {
    const all = await api('GET', '/coupons').catch(() => []);
    const mine = all.filter((c) => c.course_id === id);
    const form = readOnly() ? null : h('form', { class: 'stack card wide', id: 'coupon-form', onsubmit: submitter(async (fd, f) => {
      const body = { code: fd.get('code').trim(), course_id: id };
      if (fd.get('kind') === 'percent') {
        const m = fd.get('value').trim().match(/^(\d{1,3})(?:[.,](\d{1,2}))?$/);
        const bps = m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : 0;
        if (!m || bps < 1 || bps > 10000) throw new ApiError(400, 'validation_failed', t('st_bad_percent'));
        body.percent_off_bps = bps;
      } else {
        body.amount_off = { amount_minor: inputToMinor(fd.get('value'), course.price.currency), currency: course.price.currency };
      }
      if (fd.get('expires')) body.expires_at = localToRfc3339(fd.get('expires'));
      if (fd.get('max_red')) body.max_redemptions = Number(fd.get('max_red'));
      if (fd.get('max_user')) body.max_per_user = Number(fd.get('max_user'));
      const made = await api('POST', '/coupons', body);
      toast(t('st_coupon_made', { code: made.code }), 'info');
      f.reset();
      await drawCoupons();
    }) },
    h('div', { class: 'row' },
      field(t('st_code'), { name: 'code', required: true, minlength: 3, maxlength: 32, pattern: '[A-Za-z0-9_\\-]{3,32}', autocapitalize: 'characters' }),
      select(t('st_kind'), { name: 'kind' }, [['percent', t('st_percent')], ['amount', t('st_amount_off')]], 'percent'),
      field(t('st_value'), { name: 'value', required: true, inputmode: 'decimal', size: 8 })),
    h('div', { class: 'row' },
      field(t('st_expires'), { name: 'expires', type: 'datetime-local' }),
      field(t('st_max_red'), { name: 'max_red', type: 'number', min: 1 }),
      field(t('st_max_user'), { name: 'max_user', type: 'number', min: 1 })),
    errorSlot(), h('button', { type: 'submit' }, t('st_create_coupon')));
    fill(couponBox, couponTable(mine, { [id]: course.title }), form);
  };

  drawHead(); drawDetails(); drawLessons();
  page(course.title,
    h('p', { class: 'row' }, link('/studio', t('st_back_studio')), link(`/courses/${id}`, t('st_view_public'))),
    head,
    h('div', { class: 'studio-cols' },
      section('details', t('st_details'), details),
      h('div', {}, section('lessons', t('st_lessons'), lessonsBox), section('live', t('st_live'), liveBox))),
    section('coupons', t('st_coupons'), couponBox));
  await Promise.all([drawLive(), drawCoupons()]).catch((e) => toast(describe(e)));
}

function lessonFields(l = {}) {
  return [
    field(t('st_title'), { name: 'title', required: true, maxlength: 200, value: l.title ?? '' }),
    textarea(t('st_lesson_body'), { name: 'body', rows: 4, maxlength: 100000 }, l.body ?? ''),
    h('div', { class: 'row' },
      field(t('st_media_url'), { name: 'media', type: 'url', value: l.media_url ?? '' }),
      field(t('st_duration'), { name: 'minutes', type: 'number', min: 0, max: 1440, step: 'any', size: 5,
        value: l.duration_secs ? String(Math.round(l.duration_secs / 6) / 10) : '' })),
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'preview', checked: !!l.free_preview }), t('st_free_preview')),
  ];
}
