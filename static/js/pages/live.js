// The live classroom: chat, the Q&A board, polls, raised hands and the people present, over one
// room of the WebSocket protocol (docs/protocol.md); staff also get every moderation action and
// start or end the session. Built to stay smooth with hundreds of people: chat is appended in
// batches once per frame and capped, and every other list updates the one item that changed.
import { t, addStrings, when, currentLang } from '../i18n.js';
import { api, me, ApiError } from '../api.js';
import { h, toast, describe, page, onLeave, link } from '../dom.js';
import { LiveSocket } from '../live-socket.js';

addStrings({
  en: {
    lv_class: 'Live class', lv_chat: 'Chat', lv_message: 'Message', lv_send: 'Send', lv_chat_placeholder: 'Say something to the class…',
    lv_no_chat: 'No messages yet. Say hello!', lv_new_below: 'New messages ↓', lv_moderate_msg: 'Moderate the message from {name}',
    lv_delete: 'Delete', lv_mute: 'Mute', lv_unmute: 'Unmute', lv_kick: 'Remove from class', lv_kick_confirm: 'Really remove {name}?',
    lv_sr_new: '{n} new chat messages. Latest from {name}: {text}', lv_sr_one: 'New chat message from {name}: {text}',
    lv_qa: 'Questions', lv_your_question: 'Your question', lv_anonymous: 'Ask anonymously', lv_ask: 'Ask',
    lv_no_questions: 'No questions yet.', lv_votes_label: 'Upvote (votes: {n}, {state})',
    lv_voted: 'you voted', lv_not_voted: 'not voted', lv_anon_name: 'Anonymous', lv_you_anon: 'You (anonymous)',
    lv_pinned: 'Pinned', lv_answered: 'Answered', lv_answer_by: 'Answer from {name}', lv_answer: 'Answer', lv_answer_text: 'Your answer',
    lv_send_answer: 'Send the answer', lv_mark_answered: 'Mark answered', lv_cancel: 'Cancel', lv_pin: 'Pin', lv_unpin: 'Unpin',
    lv_dismiss: 'Dismiss', lv_approve: 'Approve', lv_held: 'Awaiting approval', lv_held_badge: 'waiting for approval',
    lv_board_more: 'Showing the top {shown} of {n} questions.',
    lv_polls: 'Polls', lv_no_polls: 'No polls yet.', lv_poll_question: 'Poll question', lv_poll_options: 'Options, one per line (2 to 10)',
    lv_open_poll: 'Open the poll', lv_close_poll: 'Close the poll', lv_poll_open: 'open', lv_poll_closed: 'closed',
    lv_vote_for: 'Vote for “{option}”', lv_tally: '{n} ({p}%)', lv_your_vote: 'your vote', lv_poll_total: 'Votes: {n}',
    lv_poll_bad: 'A poll needs a question and 2 to 10 options.',
    lv_hands: 'Raised hands', lv_raise: 'Raise your hand', lv_lower: 'Lower your hand', lv_no_hands: 'No hands raised.',
    lv_lower_for: 'Lower the hand of {name}', lv_lower_short: 'Lower',
    lv_people: 'People', lv_present: '{n} present', lv_refresh: 'Refresh', lv_more: 'Show more', lv_you: '(you)',
    lv_muted_badge: 'muted',
    lv_moderation: 'Moderation', lv_lock: 'Lock the chat (only staff can write)', lv_hold: 'Hold new questions for approval',
    lv_slow: 'Slow mode', lv_slow_off: 'Off', lv_slow_s: 'one message every {n} s',
    lv_start: 'Start the class', lv_end: 'End the class', lv_end_confirm: 'Really end the class?',
    lv_started: 'The class is live.', lv_ended_toast: 'The class has ended.',
    lv_back: 'Back to the course', lv_status: 'Session status',
    lv_conn_connecting: 'Connecting…', lv_conn_connected: 'Connected', lv_conn_reconnecting: 'Connection lost; reconnecting…',
    lv_conn_offline: 'Offline; waiting for the network…', lv_conn_closed: 'Disconnected', lv_reconnect: 'Reconnect',
    lv_closed_revoked: 'Your sign-in is no longer valid. Sign in again to rejoin.',
    lv_closed_too_many: 'You have this class open in too many tabs or windows. Close one, then reconnect.',
    lv_closed_unauthenticated: 'Your sign-in could not be verified. Sign in again.',
    lv_closed_signed_out: 'You signed out.', lv_closed_forbidden: 'You can no longer join this class.',
    lv_closed_not_found: 'This class does not exist.', lv_closed_kicked: 'You were removed from this class by the staff.', lv_kicked: 'You were removed from this class by the staff.',
    lv_caught_up: 'Reconnected; you are up to date.', lv_reloaded: 'Reconnected; the class was reloaded.',
    lv_notice_locked: 'The chat is locked: only the staff can write.', lv_notice_slow: 'Slow mode: one message every {n} s.',
    lv_notice_muted: 'You are muted: you cannot chat or ask, but you can still vote and raise your hand.',
    lv_notice_held: 'Questions are reviewed by the staff before they appear.',
    lv_notice_ended: 'This class has ended. The transcript stays readable.',
    lv_notice_scheduled: 'This class has not started yet. You can already chat and ask questions.',
    lv_err_muted: 'You are muted, so your message was not sent.', lv_err_limit: 'Limit reached: {message}',
    lv_err_rate: 'You are sending too fast; try again in a moment ({message}).', lv_err_slow: 'Slow mode is on: wait {s} s before your next message.',
    lv_err_forbidden: 'Not allowed: {message}', lv_err_conflict: 'That clashes with the current state: {message}',
    lv_err_not_found: 'Not found: {message}', lv_err_too_large: 'Too long: {message}', lv_err_invalid: 'Not valid: {message}',
    lv_err_unavailable: 'The classroom is briefly unavailable; try again.', lv_err_disconnected: 'Not connected right now; try again once reconnected.',
    lv_err_timeout: 'The server did not answer; try again.',
    lv_slow_consumer: 'Your connection fell behind the class; catching up…', lv_rate_closed: 'Too many actions at once; the connection was reset.',
  },
  zh: {
    lv_class: '直播课堂', lv_chat: '聊天', lv_message: '消息', lv_send: '发送', lv_chat_placeholder: '对全班说点什么…',
    lv_no_chat: '还没有消息，来打个招呼吧！', lv_new_below: '有新消息 ↓', lv_moderate_msg: '管理 {name} 的消息',
    lv_delete: '删除', lv_mute: '禁言', lv_unmute: '解除禁言', lv_kick: '移出课堂', lv_kick_confirm: '确定移出 {name}？',
    lv_sr_new: '{n} 条新聊天消息。最新一条来自 {name}：{text}', lv_sr_one: '{name} 发来新消息：{text}',
    lv_qa: '问答', lv_your_question: '你的问题', lv_anonymous: '匿名提问', lv_ask: '提问',
    lv_no_questions: '还没有问题。', lv_votes_label: '点赞（{n} 票，{state}）',
    lv_voted: '你已点赞', lv_not_voted: '未点赞', lv_anon_name: '匿名', lv_you_anon: '你（匿名）',
    lv_pinned: '已置顶', lv_answered: '已回答', lv_answer_by: '{name} 的回答', lv_answer: '回答', lv_answer_text: '你的回答',
    lv_send_answer: '发送回答', lv_mark_answered: '标记为已回答', lv_cancel: '取消', lv_pin: '置顶', lv_unpin: '取消置顶',
    lv_dismiss: '忽略', lv_approve: '通过', lv_held: '待审核', lv_held_badge: '等待审核',
    lv_board_more: '显示前 {shown} 个问题，共 {n} 个。',
    lv_polls: '投票', lv_no_polls: '还没有投票。', lv_poll_question: '投票问题', lv_poll_options: '选项，每行一个（2 到 10 个）',
    lv_open_poll: '发起投票', lv_close_poll: '结束投票', lv_poll_open: '进行中', lv_poll_closed: '已结束',
    lv_vote_for: '投给“{option}”', lv_tally: '{n}（{p}%）', lv_your_vote: '你的选择', lv_poll_total: '共 {n} 票',
    lv_poll_bad: '投票需要一个问题和 2 到 10 个选项。',
    lv_hands: '举手列表', lv_raise: '举手', lv_lower: '放下手', lv_no_hands: '没有人举手。',
    lv_lower_for: '放下 {name} 的手', lv_lower_short: '放下',
    lv_people: '在场的人', lv_present: '{n} 人在场', lv_refresh: '刷新', lv_more: '显示更多', lv_you: '（你）',
    lv_muted_badge: '已禁言',
    lv_moderation: '课堂管理', lv_lock: '锁定聊天（只有讲师和管理员可发言）', lv_hold: '新问题需审核后显示',
    lv_slow: '慢速模式', lv_slow_off: '关闭', lv_slow_s: '每 {n} 秒一条消息',
    lv_start: '开始上课', lv_end: '结束课堂', lv_end_confirm: '确定结束课堂？',
    lv_started: '课堂已开始直播。', lv_ended_toast: '课堂已结束。',
    lv_back: '返回课程', lv_status: '课堂状态',
    lv_conn_connecting: '正在连接…', lv_conn_connected: '已连接', lv_conn_reconnecting: '连接中断，正在重连…',
    lv_conn_offline: '网络已断开，等待恢复…', lv_conn_closed: '已断开', lv_reconnect: '重新连接',
    lv_closed_revoked: '你的登录已失效，请重新登录后再加入。',
    lv_closed_too_many: '你在太多标签页或窗口中打开了此课堂。请关闭一个后重新连接。',
    lv_closed_unauthenticated: '无法验证你的登录，请重新登录。',
    lv_closed_signed_out: '你已退出登录。', lv_closed_forbidden: '你已无法加入此课堂。',
    lv_closed_not_found: '此课堂不存在。', lv_closed_kicked: '你已被讲师移出此课堂。', lv_kicked: '你已被讲师移出此课堂。',
    lv_caught_up: '已重新连接，内容已是最新。', lv_reloaded: '已重新连接，课堂已重新加载。',
    lv_notice_locked: '聊天已锁定：只有讲师和管理员可以发言。', lv_notice_slow: '慢速模式：每 {n} 秒只能发一条消息。',
    lv_notice_muted: '你已被禁言：不能聊天或提问，但仍可点赞、投票和举手。',
    lv_notice_held: '问题需经讲师审核后才会显示。',
    lv_notice_ended: '课堂已结束，聊天记录仍可查看。',
    lv_notice_scheduled: '课堂尚未开始，你已经可以聊天和提问。',
    lv_err_muted: '你已被禁言，消息未发送。', lv_err_limit: '已达上限：{message}',
    lv_err_rate: '操作太快了，请稍后再试（{message}）。', lv_err_slow: '慢速模式已开启：请等待 {s} 秒再发下一条消息。',
    lv_err_forbidden: '不允许：{message}', lv_err_conflict: '与当前状态冲突：{message}',
    lv_err_not_found: '未找到：{message}', lv_err_too_large: '内容太长：{message}', lv_err_invalid: '无效：{message}',
    lv_err_unavailable: '课堂暂时不可用，请重试。', lv_err_disconnected: '当前未连接，请在重新连接后再试。',
    lv_err_timeout: '服务器没有响应，请重试。',
    lv_slow_consumer: '你的连接跟不上课堂进度，正在追赶…', lv_rate_closed: '操作过于频繁，连接已重置。',
  },
});

const CHAT_CAP = 500;
const SLOW_CHOICES = [0, 5, 10, 30, 60, 120, 300];

/** A room error as a person reads it. */
function errText(e) {
  const message = e?.message ?? '';
  switch (e?.code) {
    case 'muted': return t('lv_err_muted');
    case 'limit_reached': return t('lv_err_limit', { message });
    case 'rate_limited': return t('lv_err_rate', { message });
    case 'slow_mode': {
      const ms = Number((message.match(/(\d+)\s*ms/) ?? [])[1] ?? 0);
      return t('lv_err_slow', { s: Math.max(1, Math.ceil(ms / 1000)) });
    }
    case 'forbidden': case 'conflict': case 'not_found': case 'too_large': case 'invalid':
      return t(`lv_err_${e.code}`, { message });
    case 'unavailable': case 'disconnected': case 'timeout': return t(`lv_err_${e.code}`);
    default: return describe(e);
  }
}

const clock = (iso) => new Date(iso).toLocaleTimeString(currentLang() === 'zh' ? 'zh-CN' : 'en', { hour: '2-digit', minute: '2-digit' });

/** Moves focus back to the control with the same `data-act` inside `root` after a re-render. */
function keepFocus(root, render) {
  const act = root.contains(document.activeElement) ? document.activeElement.dataset.act : null;
  render();
  if (!act) return;
  const again = root.querySelector(`[data-act="${act}"]`);
  if (again) again.focus(); else if (root.hasAttribute('tabindex')) root.focus();
}

export async function liveView(id) {
  let info;
  try { info = await api('GET', `/live-sessions/${id}/transcript?limit=1`); } catch (e) {
    // Not entitled, or removed from this session: say so plainly (other failures go to the router).
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
    page(t('lv_class'), h('p', { class: 'error', role: 'alert', id: 'live-refused' }, t('lv_closed_forbidden')), h('p', {}, link('/', t('catalog'))));
    return;
  }
  const session = info.session;
  const room = `class:${id}`;
  const self = me();

  // ---- room model ------------------------------------------------------------------------
  const S = {
    user: self?.id, staff: false, status: session.status, chatLocked: false, slow: 0, held: false,
    muted: false, mutedUsers: new Set(), questions: new Map(), count: 0, polls: new Map(), hands: [],
    presence: 0, roster: new Map(), rosterNext: null, rosterLoaded: false,
  };

  // ---- elements --------------------------------------------------------------------------
  const statusBadge = h('span', { class: 'badge live-status', id: 'live-status' });
  const conn = h('span', { class: 'live-conn', id: 'live-conn', role: 'status' });
  // A button, not a #fragment link: the router re-renders on popstate, which fragments fire.
  const presenceBtn = h('button', { type: 'button', class: 'live-presence', id: 'live-presence', onclick: () => {
    peopleBox.scrollIntoView({ behavior: 'smooth', block: 'start' }); peopleBox.focus();
  } });
  const sessionCtl = h('span', { class: 'row live-session-ctl' });
  const notices = h('div', { class: 'live-notices', id: 'live-notices' });

  const chatLog = h('ol', { class: 'live-chat-log', id: 'chat-log', 'aria-label': t('lv_chat'), tabindex: '0' });
  const chatEmpty = h('p', { class: 'meta live-empty' }, t('lv_no_chat'));
  const newBelow = h('button', { type: 'button', class: 'secondary live-new-below', hidden: true, onclick: () => scrollChat(true) }, t('lv_new_below'));
  const srLive = h('div', { class: 'sr', 'aria-live': 'polite', id: 'chat-announce' });
  const chatInput = h('input', { name: 'text', id: 'chat-input', maxlength: '2000', autocomplete: 'off', placeholder: t('lv_chat_placeholder'), required: true });
  const chatErr = h('p', { class: 'form-error error', role: 'alert', id: 'chat-error' });
  const chatSend = h('button', { type: 'submit' }, t('lv_send'));
  const chatForm = h('form', { class: 'live-chat-form', id: 'chat-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    chatErr.textContent = '';
    chatSend.disabled = true;
    try {
      await sock.send({ type: 'chat', text });
      chatInput.value = '';
      stickToBottom = true;
    } catch (e) { chatErr.textContent = errText(e); } finally { chatSend.disabled = false; chatInput.focus(); }
  } }, h('label', { class: 'sr', for: 'chat-input' }, t('lv_message')), chatInput, chatSend);

  const askText = h('textarea', { name: 'text', id: 'ask-text', maxlength: '500', rows: '2', required: true });
  const askAnon = h('input', { type: 'checkbox', name: 'anonymous', id: 'ask-anon' });
  const askErr = h('p', { class: 'form-error error', role: 'alert', id: 'ask-error' });
  const askBtn = h('button', { type: 'submit' }, t('lv_ask'));
  const askForm = h('form', { class: 'stack live-ask', id: 'ask-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const text = askText.value.trim();
    if (!text) return;
    askErr.textContent = '';
    askBtn.disabled = true;
    try {
      await sock.send({ type: 'ask', text, anonymous: askAnon.checked });
      askText.value = '';
      askAnon.checked = false;
    } catch (e) { askErr.textContent = errText(e); } finally { askBtn.disabled = false; }
  } }, h('label', { for: 'ask-text' }, t('lv_your_question')), askText,
  h('div', { class: 'row' }, h('label', { class: 'inline' }, askAnon, t('lv_anonymous')), askBtn), askErr);

  const board = h('ol', { class: 'live-board', id: 'qa-board', 'aria-label': t('lv_qa') });
  const boardEmpty = h('p', { class: 'meta live-empty' }, t('lv_no_questions'));
  const boardMore = h('p', { class: 'meta', hidden: true });
  const heldList = h('ol', { class: 'live-board', id: 'qa-held', 'aria-label': t('lv_held') });
  const heldBox = h('section', { class: 'live-held', hidden: true }, h('h3', {}, t('lv_held')), heldList);

  const pollList = h('ol', { class: 'live-polls', id: 'polls' });
  const pollEmpty = h('p', { class: 'meta live-empty' }, t('lv_no_polls'));
  const pollErr = h('p', { class: 'form-error error', role: 'alert' });
  const pollForm = h('form', { class: 'stack live-poll-form', id: 'poll-form', hidden: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.currentTarget);
    const question = String(fd.get('question')).trim();
    const options = String(fd.get('options')).split('\n').map((s) => s.trim()).filter(Boolean);
    pollErr.textContent = '';
    if (!question || options.length < 2 || options.length > 10) { pollErr.textContent = t('lv_poll_bad'); return; }
    const btn = ev.currentTarget.querySelector('button[type=submit]');
    btn.disabled = true;
    try { await sock.send({ type: 'poll_open', question, options }); ev.target.reset(); } catch (e) { pollErr.textContent = errText(e); } finally { btn.disabled = false; }
  } }, h('label', {}, t('lv_poll_question'), h('input', { name: 'question', maxlength: '200', required: true })),
  h('label', {}, t('lv_poll_options'), h('textarea', { name: 'options', rows: '3', required: true })),
  pollErr, h('button', { type: 'submit' }, t('lv_open_poll')));

  const handBtn = h('button', { type: 'button', id: 'hand-btn', 'aria-pressed': 'false', onclick: () => run(handBtn, () => sock.send({ type: 'hand', raised: !myHand() })) });
  const handList = h('ol', { class: 'live-hands', id: 'hands', 'aria-label': t('lv_hands') });
  const handEmpty = h('p', { class: 'meta live-empty' }, t('lv_no_hands'));

  const rosterList = h('ul', { class: 'live-roster', id: 'roster' });
  const rosterMore = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => loadRoster(false) }, t('lv_more'));
  const peopleHead = h('h2', {}, t('lv_people'));

  const lockBox = h('input', { type: 'checkbox', id: 'mod-lock', onchange: () => moderate({ action: 'lock_chat', locked: lockBox.checked }, lockBox) });
  const holdBox = h('input', { type: 'checkbox', id: 'mod-hold', onchange: () => moderate({ action: 'hold_questions', held: holdBox.checked }, holdBox) });
  const slowSel = h('select', { id: 'mod-slow', onchange: () => moderate({ action: 'slow_mode', seconds: Number(slowSel.value) }, slowSel) });
  const modBox = h('section', { class: 'card live-mod', id: 'live-moderation', hidden: true, 'aria-labelledby': 'mod-h' },
    h('h2', { id: 'mod-h' }, t('lv_moderation')),
    h('label', { class: 'inline' }, lockBox, t('lv_lock')),
    h('label', { class: 'inline' }, holdBox, t('lv_hold')),
    h('label', {}, t('lv_slow'), slowSel));

  const chatBox = h('section', { class: 'card live-chat', 'aria-labelledby': 'chat-h' },
    h('h2', { id: 'chat-h' }, t('lv_chat')), chatLog, chatEmpty, newBelow, chatForm, chatErr, srLive);
  const qaBox = h('section', { class: 'card live-qa', 'aria-labelledby': 'qa-h' },
    h('h2', { id: 'qa-h' }, t('lv_qa')), askForm, heldBox, board, boardEmpty, boardMore);
  const pollBox = h('section', { class: 'card live-poll', 'aria-labelledby': 'poll-h' },
    h('h2', { id: 'poll-h' }, t('lv_polls')), pollForm, pollList, pollEmpty);
  const handBox = h('section', { class: 'card live-hand', 'aria-labelledby': 'hand-h' },
    h('h2', { id: 'hand-h' }, t('lv_hands')), handBtn, handList, handEmpty);
  const peopleBox = h('section', { class: 'card live-people', id: 'live-people', tabindex: '-1', 'aria-labelledby': 'people-h' },
    h('div', { class: 'live-head-row' }, Object.assign(peopleHead, { id: 'people-h' }),
      h('button', { type: 'button', class: 'secondary', onclick: () => loadRoster(true) }, t('lv_refresh'))),
    rosterList, rosterMore);

  page(session.title,
    h('div', { class: 'live-top' }, statusBadge, h('span', { class: 'meta' }, when(session.starts_at)), presenceBtn, conn, sessionCtl,
      link(`/courses/${session.course_id}`, t('lv_back'), { class: 'live-back' })),
    notices,
    h('div', { class: 'live-grid', id: 'live' },
      h('div', { class: 'live-main' }, chatBox, qaBox),
      h('div', { class: 'live-side' }, modBox, handBox, pollBox, peopleBox)));

  // ---- helpers ---------------------------------------------------------------------------
  async function run(btn, fn) {
    if (btn) btn.disabled = true;
    try { return await fn(); } catch (e) { toast(errText(e)); return null; } finally { if (btn) btn.disabled = false; renderControls(); }
  }
  const moderate = (cmd, el) => run(el, () => sock.send({ type: 'moderate', ...cmd }));
  const myHand = () => S.hands.some((x) => x.user === S.user);
  const ended = () => S.status === 'ended';

  // ---- chat: batched, ordered, capped ----------------------------------------------------
  const msgs = new Map(); // id -> li
  let batch = [];
  let flushQueued = false;
  let stickToBottom = true;
  let announce = { n: 0, last: null, timer: null, at: 0 };

  const nearBottom = () => chatLog.scrollHeight - chatLog.scrollTop - chatLog.clientHeight < 48;
  function scrollChat(force) {
    if (force || stickToBottom) { chatLog.scrollTop = chatLog.scrollHeight; newBelow.hidden = true; }
  }
  chatLog.addEventListener('scroll', () => { stickToBottom = nearBottom(); if (stickToBottom) newBelow.hidden = true; });

  function queueChat(m, { fromLive = false } = {}) {
    if (msgs.has(m.id)) return;
    batch.push(m);
    if (fromLive && m.user !== S.user) { announce.n += 1; announce.last = m; }
    if (!flushQueued) {
      flushQueued = true;
      // Whichever comes first: the next frame, or 100 ms (frames pause in hidden tabs).
      const go = () => { if (flushQueued) flushChat(); };
      requestAnimationFrame(go);
      setTimeout(go, 100);
    }
  }

  function msgEl(m) {
    return h('li', { 'data-id': m.id, 'data-user': m.user },
      h('span', { class: 'live-msg-name' }, m.name), ' ',
      h('span', { class: 'live-msg-text' }, m.text), ' ',
      h('time', { class: 'meta', datetime: m.at }, clock(m.at)),
      S.staff ? h('button', { type: 'button', class: 'live-msg-mod secondary', 'data-act': `mod-${m.id}`, 'aria-expanded': 'false',
        'aria-label': t('lv_moderate_msg', { name: m.name }), title: t('lv_moderate_msg', { name: m.name }) }, '⋯') : null);
  }

  function flushChat() {
    flushQueued = false;
    if (!batch.length) return;
    const wasBottom = stickToBottom || nearBottom();
    batch.sort((a, b) => a.id - b.id);
    const lastId = Number(chatLog.lastElementChild?.dataset.id ?? 0);
    const frag = document.createDocumentFragment();
    for (const m of batch) {
      if (msgs.has(m.id)) continue;
      const li = msgEl(m);
      msgs.set(m.id, li);
      if (m.id > lastId) frag.append(li);
      else {
        // An older message (history arriving after live ones): put it in its place.
        const after = [...chatLog.children].find((x) => Number(x.dataset.id) > m.id);
        chatLog.insertBefore(li, after ?? null);
      }
    }
    chatLog.append(frag);
    batch = [];
    while (msgs.size > CHAT_CAP) {
      const first = chatLog.firstElementChild;
      msgs.delete(Number(first.dataset.id));
      first.remove();
    }
    chatEmpty.hidden = msgs.size > 0;
    if (wasBottom) scrollChat(true); else newBelow.hidden = false;
    scheduleAnnounce();
  }

  // Screen readers hear at most one summary every 5 s, not every message of a busy class.
  function scheduleAnnounce() {
    if (!announce.n || announce.timer) return;
    const wait = Math.max(0, 5000 - (Date.now() - announce.at));
    announce.timer = setTimeout(() => {
      const { n, last } = announce;
      srLive.textContent = n === 1 ? t('lv_sr_one', { name: last.name, text: last.text })
        : t('lv_sr_new', { n, name: last.name, text: last.text });
      announce = { n: 0, last: null, timer: null, at: Date.now() };
    }, wait);
  }

  function removeMsg(mid) {
    batch = batch.filter((m) => m.id !== mid);
    const li = msgs.get(mid);
    if (li) { li.remove(); msgs.delete(mid); }
    chatEmpty.hidden = msgs.size > 0;
  }

  // Staff: one delegated handler for every message's moderation menu.
  chatLog.addEventListener('click', (ev) => {
    const btn = ev.target.closest('button');
    if (!btn) return;
    const li = btn.closest('li[data-id]');
    const mid = Number(li.dataset.id);
    const uid = li.dataset.user;
    const name = li.querySelector('.live-msg-name').textContent;
    if (btn.classList.contains('live-msg-mod')) {
      const open = li.querySelector('.live-msg-menu');
      if (open) { open.remove(); btn.setAttribute('aria-expanded', 'false'); return; }
      btn.setAttribute('aria-expanded', 'true');
      const items = [h('button', { type: 'button', class: 'secondary', 'data-do': 'delete' }, t('lv_delete'))];
      if (uid !== S.user) {
        items.push(S.mutedUsers.has(uid)
          ? h('button', { type: 'button', class: 'secondary', 'data-do': 'unmute' }, t('lv_unmute'))
          : h('button', { type: 'button', class: 'secondary', 'data-do': 'mute' }, t('lv_mute')),
        h('button', { type: 'button', class: 'secondary danger', 'data-do': 'kick' }, t('lv_kick')));
      }
      const menu = h('span', { class: 'live-msg-menu row' }, items);
      li.append(menu);
      menu.querySelector('button').focus();
      return;
    }
    const what = btn.dataset.do;
    if (!what) return;
    const close = () => { li.querySelector('.live-msg-menu')?.remove(); li.querySelector('.live-msg-mod')?.setAttribute('aria-expanded', 'false'); };
    if (what === 'delete') run(btn, () => sock.send({ type: 'moderate', action: 'delete', message: mid })).then(close);
    else if (what === 'mute' || what === 'unmute') run(btn, () => sock.send({ type: 'moderate', action: what, user: uid })).then(close);
    else if (what === 'kick') {
      if (btn.dataset.sure !== '1') { btn.dataset.sure = '1'; btn.textContent = t('lv_kick_confirm', { name }); return; }
      run(btn, () => sock.send({ type: 'moderate', action: 'kick', user: uid })).then(close);
    }
  });

  async function loadHistory(upTo) {
    // Ids are seqs, so the last ~2000 events hold the recent chat; ask for those pages only.
    let after = Math.max(0, upTo - 2000);
    for (let i = 0; i < 3 && after != null; i += 1) {
      let p;
      try { p = await api('GET', `/live-sessions/${id}/transcript?after=${after}&limit=1000`); } catch (e) { toast(e); return; }
      for (const m of p.messages) if (m.id <= upTo) queueChat(m);
      after = p.next_after;
    }
  }

  // ---- questions -------------------------------------------------------------------------
  const qEls = new Map(); // id -> li
  function sortedQuestions() {
    return [...S.questions.values()].filter((q) => !q.held)
      .sort((a, b) => (b.pinned - a.pinned) || (b.votes - a.votes) || (a.id - b.id));
  }

  function askerName(q) {
    if (q.anonymous) return q.asker === S.user ? t('lv_you_anon') : (q.name ? `${q.name} · ${t('lv_anon_name')}` : t('lv_anon_name'));
    return q.name ?? t('lv_anon_name');
  }

  function qMain(q) {
    const badges = [];
    if (q.pinned) badges.push(h('span', { class: 'badge live-pin' }, t('lv_pinned')));
    if (q.status === 'answered') badges.push(h('span', { class: 'badge live-ok' }, t('lv_answered')));
    if (q.held) badges.push(h('span', { class: 'badge' }, t('lv_held_badge')));
    const vote = q.held ? null : h('button', { type: 'button', class: `live-vote${q.voted ? ' on' : ''}`, 'data-act': 'vote', 'aria-pressed': q.voted ? 'true' : 'false',
      'aria-label': t('lv_votes_label', { n: q.votes, state: q.voted ? t('lv_voted') : t('lv_not_voted') }), disabled: ended() || undefined,
      onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: q.voted ? 'unvote' : 'vote', question: q.id })) },
    h('span', { 'aria-hidden': 'true' }, '▲'), h('span', { class: 'live-vote-n' }, String(q.votes)));
    const staffBtns = [];
    if (S.staff) {
      if (q.held) {
        staffBtns.push(h('button', { type: 'button', 'data-act': 'approve', onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'moderate', action: 'approve', question: q.id })) }, t('lv_approve')));
      } else {
        staffBtns.push(h('button', { type: 'button', class: 'secondary', 'data-act': 'answer', onclick: () => openAnswer(q.id) }, t('lv_answer')),
          h('button', { type: 'button', class: 'secondary', 'data-act': 'pin', 'aria-pressed': q.pinned ? 'true' : 'false',
            onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'moderate', action: 'pin', question: q.id, pinned: !q.pinned })) }, q.pinned ? t('lv_unpin') : t('lv_pin')));
      }
      staffBtns.push(h('button', { type: 'button', class: 'secondary', 'data-act': 'dismiss', onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'moderate', action: 'dismiss', question: q.id })) }, t('lv_dismiss')));
    }
    return [vote, h('div', { class: 'live-q-body' },
      h('p', { class: 'live-q-text' }, q.text),
      h('p', { class: 'meta' }, askerName(q), ' ', badges),
      q.answer ? h('div', { class: 'live-answer' }, h('strong', {}, t('lv_answer_by', { name: q.answer.name }), ': '), h('span', {}, q.answer.text)) : null,
      staffBtns.length ? h('div', { class: 'row live-q-actions' }, staffBtns) : null)];
  }

  function openAnswer(qid) {
    const li = qEls.get(qid);
    if (!li || li.querySelector('form')) { li?.querySelector('textarea')?.focus(); return; }
    const ta = h('textarea', { name: 'text', rows: '2', maxlength: '4000', id: `answer-${qid}` });
    const err = h('p', { class: 'form-error error', role: 'alert' });
    const form = h('form', { class: 'stack live-answer-form', onsubmit: async (ev) => {
      ev.preventDefault();
      const text = ta.value.trim();
      err.textContent = '';
      try { await sock.send({ type: 'answer', question: qid, ...(text ? { text } : {}) }); form.remove(); } catch (e) { err.textContent = errText(e); }
    } }, h('label', { for: `answer-${qid}` }, t('lv_answer_text')), ta,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, t('lv_send_answer')),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await sock.send({ type: 'answer', question: qid }); form.remove(); } catch (e) { err.textContent = errText(e); }
      } }, t('lv_mark_answered')),
      h('button', { type: 'button', class: 'secondary', onclick: () => { form.remove(); li.querySelector('[data-act=answer]')?.focus(); } }, t('lv_cancel'))), err);
    li.append(form);
    ta.focus();
  }

  function renderQuestion(q) {
    let li = qEls.get(q.id);
    if (!li) {
      li = h('li', { class: 'live-q', 'data-id': q.id }, h('div', { class: 'live-q-main' }));
      qEls.set(q.id, li);
    }
    const main = li.firstElementChild;
    keepFocus(main, () => main.replaceChildren(...qMain(q).filter(Boolean)));
    li.classList.toggle('pinned', !!q.pinned);
    li.classList.toggle('answered', q.status === 'answered');
  }

  function placeQuestions() {
    const order = sortedQuestions();
    order.forEach((q, i) => {
      const li = qEls.get(q.id);
      if (board.children[i] !== li) board.insertBefore(li, board.children[i] ?? null);
    });
    const held = [...S.questions.values()].filter((q) => q.held).sort((a, b) => a.id - b.id);
    held.forEach((q, i) => {
      const li = qEls.get(q.id);
      if (heldList.children[i] !== li) heldList.insertBefore(li, heldList.children[i] ?? null);
    });
    heldBox.hidden = held.length === 0;
    boardEmpty.hidden = order.length > 0;
    const shown = order.length;
    boardMore.hidden = !(S.count > shown + held.length);
    boardMore.textContent = t('lv_board_more', { shown, n: S.count });
  }

  function upsertQuestion(q) { S.questions.set(q.id, q); renderQuestion(q); placeQuestions(); }
  function updateQuestion(qid, patch) {
    const q = S.questions.get(qid);
    if (!q) return;
    Object.assign(q, patch);
    renderQuestion(q);
    placeQuestions();
  }
  function dropQuestion(qid) {
    S.questions.delete(qid);
    qEls.get(qid)?.remove();
    qEls.delete(qid);
    placeQuestions();
  }

  // ---- polls -----------------------------------------------------------------------------
  // The CSP forbids style attributes; the CSSOM is fine.
  const bar = (pct) => { const el = h('span'); el.style.width = `${pct}%`; return el; };
  const pollEls = new Map();
  function renderPoll(p) {
    let li = pollEls.get(p.id);
    if (!li) {
      li = h('li', { class: 'live-poll-item', 'data-id': p.id, tabindex: '-1' });
      pollEls.set(p.id, li);
      // Newest first.
      const next = [...pollList.children].find((x) => Number(x.dataset.id) < p.id);
      pollList.insertBefore(li, next ?? null);
    }
    const total = p.tallies.reduce((a, b) => a + b, 0);
    const canVote = p.open && p.voted == null && !ended();
    keepFocus(li, () => li.replaceChildren(
      h('h3', {}, p.question, ' ', h('span', { class: `badge${p.open ? ' live-ok' : ''}` }, p.open ? t('lv_poll_open') : t('lv_poll_closed'))),
      h('ul', { class: 'live-options' }, p.options.map((opt, i) => {
        const n = p.tallies[i] ?? 0;
        const pct = total ? Math.round((n / total) * 100) : 0;
        return h('li', { class: p.voted === i ? 'mine' : '' },
          h('div', { class: 'live-option-row' },
            canVote ? h('button', { type: 'button', class: 'secondary', 'data-act': `opt-${i}`, 'aria-label': t('lv_vote_for', { option: opt }),
              onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'poll_vote', poll: p.id, option: i })) }, opt)
              : h('span', { class: 'live-option-name' }, opt, p.voted === i ? h('span', { class: 'badge live-ok' }, '✓ ', t('lv_your_vote')) : null),
            h('span', { class: 'live-tally', 'data-option': i }, t('lv_tally', { n, p: pct }))),
          h('div', { class: 'live-bar', 'aria-hidden': 'true' }, bar(pct)));
      })),
      h('p', { class: 'meta' }, t('lv_poll_total', { n: total })),
      S.staff && p.open ? h('button', { type: 'button', class: 'secondary', 'data-act': 'close',
        onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'poll_close', poll: p.id })) }, t('lv_close_poll')) : ''));
    pollEmpty.hidden = S.polls.size > 0;
  }

  // ---- hands, roster ---------------------------------------------------------------------
  function renderHands() {
    keepFocus(handList, () => handList.replaceChildren(...S.hands.map((x) => h('li', { 'data-user': x.user },
      h('span', {}, x.name, x.user === S.user ? ` ${t('lv_you')}` : ''),
      S.staff ? h('button', { type: 'button', class: 'secondary', 'data-act': `lower-${x.user}`, 'aria-label': t('lv_lower_for', { name: x.name }),
        onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'moderate', action: 'lower_hand', user: x.user })) }, t('lv_lower_short')) : null))));
    handEmpty.hidden = S.hands.length > 0;
    renderControls();
  }

  function memberEl(m) {
    const mine = m.user === S.user;
    const learner = m.role === 'learner';
    return h('li', { 'data-user': m.user },
      h('span', {}, m.name, mine ? ` ${t('lv_you')}` : '', ' ', h('span', { class: 'badge' }, t(`role_${m.role}`) ),
        S.mutedUsers.has(m.user) ? h('span', { class: 'badge live-bad' }, t('lv_muted_badge')) : null),
      S.staff && learner && !mine ? h('span', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', 'data-act': `mute-${m.user}`,
          onclick: (ev) => run(ev.currentTarget, () => sock.send({ type: 'moderate', action: S.mutedUsers.has(m.user) ? 'unmute' : 'mute', user: m.user })) },
        S.mutedUsers.has(m.user) ? t('lv_unmute') : t('lv_mute')),
        h('button', { type: 'button', class: 'secondary danger', 'data-act': `kick-${m.user}`, onclick: (ev) => {
          const b = ev.currentTarget;
          if (b.dataset.sure !== '1') { b.dataset.sure = '1'; b.textContent = t('lv_kick_confirm', { name: m.name }); return; }
          run(b, () => sock.send({ type: 'moderate', action: 'kick', user: m.user }));
        } }, t('lv_kick'))) : null);
  }
  function renderMember(uid) {
    const m = S.roster.get(uid);
    const old = rosterList.querySelector(`li[data-user="${CSS.escape(uid)}"]`);
    if (!m) { old?.remove(); return; }
    const el = memberEl(m);
    if (old) keepFocus(old, () => old.replaceChildren(...el.childNodes));
    else rosterList.append(el);
  }
  async function loadRoster(fresh) {
    const offset = fresh ? 0 : (S.rosterNext ?? 0);
    let r;
    try { r = await sock.send({ type: 'roster', offset, limit: 100 }); } catch (e) { if (e.code !== 'disconnected') toast(errText(e)); return; }
    if (fresh) { S.roster.clear(); rosterList.replaceChildren(); }
    for (const m of r.members) { S.roster.set(m.user, m); renderMember(m.user); }
    S.rosterNext = r.next;
    S.rosterLoaded = true;
    rosterMore.hidden = r.next == null;
  }

  // ---- status, notices, controls ---------------------------------------------------------
  function renderPresence() {
    presenceBtn.textContent = t('lv_present', { n: S.presence });
    peopleHead.textContent = `${t('lv_people')} (${S.presence})`;
  }

  function renderControls() {
    statusBadge.replaceChildren(h('span', { class: 'sr' }, `${t('lv_status')}: `), t(`status_${S.status}`));
    statusBadge.className = `badge live-status st-${S.status}`;
    const raised = myHand();
    handBtn.textContent = raised ? t('lv_lower') : t('lv_raise');
    handBtn.setAttribute('aria-pressed', raised ? 'true' : 'false');
    handBtn.disabled = ended();
    handBtn.hidden = S.staff; // staff call on hands; they do not raise one
    for (const el of [chatInput, chatSend, askText, askAnon, askBtn]) el.disabled = ended();
    pollForm.hidden = !S.staff || ended();
    modBox.hidden = !S.staff;
    lockBox.checked = S.chatLocked;
    holdBox.checked = S.held;
    if (slowSel.dataset.value !== String(S.slow)) {
      slowSel.dataset.value = String(S.slow);
      if (!SLOW_CHOICES.includes(S.slow)) SLOW_CHOICES.push(S.slow);
      slowSel.replaceChildren(...SLOW_CHOICES.sort((a, b) => a - b).map((s) => h('option', { value: s, selected: s === S.slow }, s ? t('lv_slow_s', { n: s }) : t('lv_slow_off'))));
    }
    slowSel.value = String(S.slow);
    const list = [];
    if (ended()) list.push(t('lv_notice_ended'));
    else {
      if (S.status === 'scheduled') list.push(t('lv_notice_scheduled'));
      if (S.chatLocked) list.push(t('lv_notice_locked'));
      if (S.slow) list.push(t('lv_notice_slow', { n: S.slow }));
      if (S.muted) list.push(t('lv_notice_muted'));
      if (S.held && !S.staff) list.push(t('lv_notice_held'));
    }
    const text = list.join('\n');
    if (notices.dataset.text !== text) {
      notices.dataset.text = text;
      notices.replaceChildren(...list.map((x) => h('p', { class: 'live-notice' }, x)));
    }
    renderSessionCtl();
  }

  let ctlState = null;
  function renderSessionCtl() {
    const want = S.staff ? S.status : 'none';
    if (ctlState === want) return;
    ctlState = want;
    const items = [];
    if (S.staff && S.status === 'scheduled') {
      items.push(h('button', { type: 'button', id: 'start-class', onclick: (ev) => run(ev.currentTarget, async () => {
        const s = await api('POST', `/live-sessions/${id}/start`);
        setStatus(s.status);
        toast(t('lv_started'), 'info');
      }) }, t('lv_start')));
    } else if (S.staff && S.status === 'live') {
      items.push(h('button', { type: 'button', class: 'danger', id: 'end-class', onclick: (ev) => {
        const b = ev.currentTarget;
        if (b.dataset.sure !== '1') { b.dataset.sure = '1'; b.textContent = t('lv_end_confirm'); return; }
        run(b, async () => { const s = await api('POST', `/live-sessions/${id}/end`); setStatus(s.status); });
      } }, t('lv_end')));
    }
    sessionCtl.replaceChildren(...items);
  }

  function setStatus(st) {
    if (S.status === st) return;
    S.status = st;
    if (st === 'ended') toast(t('lv_ended_toast'), 'info');
    renderControls();
    for (const q of S.questions.values()) renderQuestion(q);
    for (const p of S.polls.values()) renderPoll(p);
  }

  function setConn(state, detail) {
    const items = [h('span', { class: `live-dot ${state}`, 'aria-hidden': 'true' }), t(`lv_conn_${state}`)];
    if (state === 'closed') {
      const key = `lv_closed_${detail.reason}`;
      const msg = t(key) === key ? detail.message || detail.reason : t(key);
      items.push(': ', msg);
      if (detail.reason === 'too_many') items.push(' ', h('button', { type: 'button', class: 'secondary', onclick: () => { sock = connect(); } }, t('lv_reconnect')));
      if (detail.reason === 'revoked' || detail.reason === 'unauthenticated' || detail.reason === 'signed_out') items.push(' ', link(`/signin?next=${location.pathname}`, t('signin')));
      for (const el of [chatInput, chatSend, askText, askBtn, handBtn]) el.disabled = true;
    }
    conn.className = `live-conn ${state}`;
    conn.dataset.state = state;
    conn.replaceChildren(...items);
  }

  // ---- the room --------------------------------------------------------------------------
  function applyState(f) {
    const st = f.state;
    S.staff = st.staff === true;
    S.status = st.status;
    S.chatLocked = st.chat_locked;
    S.slow = st.slow_mode_s;
    S.held = st.questions_held;
    S.muted = st.muted;
    S.mutedUsers = new Set(st.muted_users ?? []);
    S.count = st.questions_count ?? st.questions.length;
    S.presence = f.presence;
    S.hands = st.hands.slice();
    S.questions.clear(); qEls.clear(); board.replaceChildren(); heldList.replaceChildren();
    for (const q of st.questions) { S.questions.set(q.id, { ...q }); renderQuestion(q); }
    placeQuestions();
    S.polls.clear(); pollEls.clear(); pollList.replaceChildren();
    for (const p of st.polls) { S.polls.set(p.id, { ...p }); renderPoll(S.polls.get(p.id)); }
    pollEmpty.hidden = S.polls.size > 0;
    // Start the chat again from the transcript too (it leaves out what was deleted meanwhile).
    batch = []; msgs.clear(); chatLog.replaceChildren(); chatEmpty.hidden = false;
    renderHands();
    renderPresence();
    renderControls();
  }

  function onEvent(f) {
    const d = f.data ?? {};
    switch (f.kind) {
      case 'chat': queueChat({ id: f.seq, at: f.at, user: d.user, name: d.name, text: d.text }, { fromLive: true }); break;
      case 'message_deleted': removeMsg(d.message); break;
      case 'question_asked':
        if (d.text == null) { S.count += 1; placeQuestions(); break; } // someone else's held question
        S.count += 1;
        upsertQuestion({ id: f.seq, text: d.text, anonymous: !!d.anonymous, asker: d.asker ?? null, name: d.name ?? null,
          votes: 0, voted: false, status: 'open', held: !!d.held, pinned: false, answer: null });
        break;
      case 'question_approved':
        if (S.questions.has(d.question)) updateQuestion(d.question, { held: false });
        else upsertQuestion({ id: d.question, text: d.text, anonymous: !!d.anonymous, asker: d.asker ?? null, name: d.name ?? null,
          votes: 0, voted: false, status: 'open', held: false, pinned: false, answer: null });
        break;
      case 'question_voted': case 'question_unvoted': {
        const patch = { votes: d.votes };
        if (d.user === S.user) patch.voted = f.kind === 'question_voted';
        updateQuestion(d.question, patch);
        break;
      }
      case 'question_answered':
        updateQuestion(d.question, { status: 'answered', answer: d.text ? { at: f.at, by: d.by, name: d.name, text: d.text } : null });
        break;
      case 'question_pinned': updateQuestion(d.question, { pinned: !!d.pinned }); break;
      case 'question_dismissed': if (S.questions.has(d.question)) { S.count = Math.max(0, S.count - 1); dropQuestion(d.question); } break;
      case 'hand_raised': if (!S.hands.some((x) => x.user === d.user)) S.hands.push({ user: d.user, name: d.name }); renderHands(); break;
      case 'hand_lowered': S.hands = S.hands.filter((x) => x.user !== d.user); renderHands(); break;
      case 'poll_opened': {
        const p = { id: f.seq, question: d.question, options: d.options, tallies: d.options.map(() => 0), open: true, voted: null };
        S.polls.set(p.id, p); renderPoll(p); break;
      }
      case 'poll_voted': case 'poll_closed': {
        const p = S.polls.get(d.poll);
        if (!p) break;
        p.tallies = d.tallies;
        if (f.kind === 'poll_closed') p.open = false;
        if (d.user === S.user && d.option != null) p.voted = d.option;
        renderPoll(p);
        break;
      }
      case 'member_muted': case 'member_unmuted': {
        const on = f.kind === 'member_muted';
        if (on) S.mutedUsers.add(d.user); else S.mutedUsers.delete(d.user);
        if (d.user === S.user) S.muted = on;
        if (S.roster.has(d.user)) renderMember(d.user);
        renderControls();
        break;
      }
      case 'member_kicked':
        S.hands = S.hands.filter((x) => x.user !== d.user); renderHands();
        S.roster.delete(d.user); renderMember(d.user);
        if (d.user === S.user) { sock.stop('kicked'); toast(t('lv_kicked')); }
        break;
      case 'slow_mode': S.slow = d.seconds; renderControls(); break;
      case 'chat_locked': S.chatLocked = d.locked; renderControls(); break;
      case 'questions_held': S.held = d.held; renderControls(); break;
      case 'session_status': setStatus(d.status); break;
      default: break;
    }
  }

  let everJoined = false;
  function connect() {
    const s = new LiveSocket(room, {
      joined: (f, { fresh }) => {
        if (fresh) {
          applyState(f);
          loadHistory(f.seq);
          if (everJoined) toast(t('lv_reloaded'), 'info');
        } else {
          S.presence = f.presence; renderPresence();
          toast(t('lv_caught_up'), 'info');
        }
        everJoined = true;
        conn.dataset.recovered = String(f.recovered);
        conn.dataset.joins = String(Number(conn.dataset.joins ?? 0) + 1);
        loadRoster(true);
      },
      event: onEvent,
      presence: (f) => {
        S.presence = f.count; renderPresence();
        if (f.joined && S.rosterLoaded) { S.roster.set(f.joined.user, f.joined); renderMember(f.joined.user); }
        if (f.left && S.rosterLoaded) { S.roster.delete(f.left.user); renderMember(f.left.user); }
      },
      status: setConn,
      notice: (code, message) => {
        if (code === 'slow_consumer') toast(t('lv_slow_consumer'), 'info');
        else if (code === 'rate_closed') toast(t('lv_rate_closed'));
        else if (code === 'forbidden' && /class:/.test(message)) { s.stop('forbidden', message); }
        else toast(errText({ code, message }));
      },
    });
    s.connect();
    return s;
  }
  let sock = connect();
  onLeave(() => sock.stop());
  renderPresence();
  renderControls();
}
