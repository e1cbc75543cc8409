// The consultation room `consult:<booking id>` over the WebSocket (docs/protocol.md): chat, the
// live meter (billable time and its cost so far, as the server meters it), the 5- and 1-minute
// warnings, extensions (the learner asks and pays the extra hold, the expert answers), ending,
// re-authentication before the token expires and reconnection with recovery after a drop.
import { t, addStrings } from '../i18n.js';
import { api, me } from '../api.js';
import { LiveSocket } from '../live-socket.js';
import { h, link, page, onLeave } from '../dom.js';
import { cash, clock, cardPay } from './experts.js';

addStrings({
  en: {
    cr_title: 'Consultation', cr_with_expert: 'with {name}', cr_with_learner: 'with your learner',
    cr_connecting: 'Connecting…', cr_connected: 'Connected', cr_reconnecting: 'Connection lost; reconnecting…',
    cr_signin_again: 'Your sign-in ended. Sign in again to rejoin.', cr_closed: 'Disconnected.',
    cr_meter: 'Meter', cr_billable: 'Billable time', cr_cost: 'Cost so far', cr_remaining: 'Time left', cr_booked: 'Booked',
    cr_rate: 'Rate {price} / min, charged per started minute', cr_running: 'Running: you are both here',
    cr_waiting: 'Not running: waiting for the other party', cr_paused: 'Paused: the other party dropped; billing continues if they return within the grace',
    cr_ended_state: 'The session has ended.', cr_present: 'In the room: {n} of 2',
    cr_warn_5: 'Five minutes left.', cr_warn_1: 'One minute left.', cr_warn: '{n} seconds left.',
    cr_chat: 'Chat', cr_message: 'Message', cr_send: 'Send', cr_no_messages: 'No messages yet.',
    cr_extend: 'More time', cr_extend_minutes: 'Extra minutes', cr_extend_ask: 'Ask for more time',
    cr_extend_pending: 'Asked for {n} more minutes; waiting for the expert.', cr_extend_request: 'Your learner asks for {n} more minutes.',
    cr_accept: 'Accept', cr_decline: 'Decline', cr_extend_declined: 'The expert declined {n} more minutes.',
    cr_extend_accepted: '{n} more minutes accepted; the extra hold is being placed.',
    cr_extend_pay: 'Pay the hold for {n} more minutes ({price}) to add them.', cr_extend_wait_pay: 'Waiting for the learner to pay the hold for {n} more minutes.',
    cr_extend_granted: '{n} more minutes added.', cr_extend_failed: 'The extension of {n} minutes failed: {reason}',
    cr_end: 'End the session', cr_end_confirm: 'End now? You are charged for the billable time so far.', cr_end_yes: 'Yes, end now', cr_end_no: 'Keep talking',
    cr_ended_by: 'The session was ended by {who}.', cr_time_up: 'The booked time is up.', cr_you: 'you', cr_other: 'the other party',
    cr_settled: 'Settled: {time} billed, {price} charged ({status}).', cr_back: 'Back to my bookings', cr_error: 'The server says: {msg}',
  },
  zh: {
    cr_title: '咨询', cr_with_expert: '与 {name}', cr_with_learner: '与你的学员',
    cr_connecting: '正在连接…', cr_connected: '已连接', cr_reconnecting: '连接已断开，正在重新连接…',
    cr_signin_again: '登录已失效，请重新登录后再进入。', cr_closed: '已断开。',
    cr_meter: '计时器', cr_billable: '计费时长', cr_cost: '目前费用', cr_remaining: '剩余时间', cr_booked: '预约时长',
    cr_rate: '每分钟 {price}，不足一分钟按一分钟计', cr_running: '计时中：双方都在',
    cr_waiting: '未计时：等待对方进入', cr_paused: '已暂停：对方掉线；若在宽限期内回来，计费不中断',
    cr_ended_state: '咨询已结束。', cr_present: '在场：{n} / 2',
    cr_warn_5: '还剩五分钟。', cr_warn_1: '还剩一分钟。', cr_warn: '还剩 {n} 秒。',
    cr_chat: '聊天', cr_message: '消息', cr_send: '发送', cr_no_messages: '还没有消息。',
    cr_extend: '延长时间', cr_extend_minutes: '延长分钟数', cr_extend_ask: '申请延长',
    cr_extend_pending: '已申请延长 {n} 分钟，等待专家回应。', cr_extend_request: '学员申请延长 {n} 分钟。',
    cr_accept: '同意', cr_decline: '拒绝', cr_extend_declined: '专家拒绝了延长 {n} 分钟。',
    cr_extend_accepted: '已同意延长 {n} 分钟，正在预授权额外费用。',
    cr_extend_pay: '支付延长 {n} 分钟的预授权（{price}）即可加时。', cr_extend_wait_pay: '等待学员支付延长 {n} 分钟的预授权。',
    cr_extend_granted: '已加时 {n} 分钟。', cr_extend_failed: '延长 {n} 分钟失败：{reason}',
    cr_end: '结束咨询', cr_end_confirm: '现在结束？将按目前的计费时长收费。', cr_end_yes: '确定结束', cr_end_no: '继续咨询',
    cr_ended_by: '咨询已由{who}结束。', cr_time_up: '预约时间已到。', cr_you: '你', cr_other: '对方',
    cr_settled: '已结算：计费 {time}，实收 {price}（{status}）。', cr_back: '返回我的预约', cr_error: '服务器提示：{msg}',
  },
});

export async function consultView(bookingId) {
  const user = me();
  if (!user) { location.assign(`/signin?next=/consult/${bookingId}`); return; }
  const b = await api('GET', `/bookings/${bookingId}`);
  const role = b.expert_id === user.id ? 'expert' : b.learner_id === user.id ? 'learner' : 'admin';
  const room = `consult:${b.id}`;
  const expertName = await api('GET', `/experts/${b.expert_id}`).then((e) => e.display_name).catch(() => '');

  // What the server told us last, and when (billable time runs on locally between events).
  const st = { billable: 0, booked: (b.minutes + b.extra_minutes) * 60, metering: false, paused: false, since: 0, status: 'open', pending: null, present: 0 };
  let timer = null;
  const billable = () => st.billable + (st.metering ? (Date.now() - st.since) / 1000 : 0);

  const conn = h('p', { class: 'conn meta', id: 'conn', 'aria-live': 'polite' }, t('cr_connecting'));
  const errors = h('div', { id: 'room-errors', role: 'alert', class: 'error' });
  const warn = h('div', { id: 'warning', role: 'alert', class: 'warning', hidden: true });
  const billableOut = h('output', { id: 'billable', class: 'big' }, '0:00');
  const costOut = h('output', { id: 'cost', class: 'big' }, cash(0, b.currency));
  const remainingOut = h('output', { id: 'remaining', class: 'big' }, clock(st.booked));
  const meterState = h('p', { id: 'meter-state', class: 'meta' }, t('cr_waiting'));
  const presence = h('p', { class: 'meta', id: 'presence' });
  const bookedOut = h('span', { id: 'booked' });
  const messages = h('ol', { class: 'chat-log', id: 'chat-log', 'aria-live': 'polite' }, h('li', { class: 'meta empty' }, t('cr_no_messages')));
  const extendBox = h('div', { class: 'stack', id: 'extend' });
  const endBox = h('div', { class: 'row', id: 'end-box' });
  const outcome = h('div', { id: 'outcome', 'aria-live': 'polite' });
  const input = h('input', { name: 'text', maxlength: 2000, autocomplete: 'off', required: true, 'aria-label': t('cr_message') });

  const showError = (e) => { errors.textContent = t('cr_error', { msg: `${e.message} (${e.code})` }); };
  // Sends a room command; false when the room is not connected (the input is then kept).
  const send = (frame) => {
    if (sock.state !== 'connected') { errors.textContent = t('cr_reconnecting'); return false; }
    sock.send(frame).then(() => { errors.textContent = ''; }, showError);
    return true;
  };

  const drawMeter = () => {
    const s = billable();
    billableOut.textContent = clock(s);
    costOut.textContent = cash(Math.ceil(s / 60) * b.rate_per_minute_minor, b.currency);
    remainingOut.textContent = clock(st.booked - s);
    meterState.textContent = st.status === 'ended' ? t('cr_ended_state') : st.paused ? t('cr_paused') : st.metering ? t('cr_running') : t('cr_waiting');
    meterState.dataset.state = st.status === 'ended' ? 'ended' : st.metering ? 'running' : 'idle';
    presence.textContent = t('cr_present', { n: Math.min(st.present, 2) });
    bookedOut.textContent = t('bk_length', { n: Math.round(st.booked / 60) });
  };

  let paying = false;
  const drawExtend = (note) => {
    extendBox.replaceChildren();
    if (st.status === 'ended') return;
    if (note) extendBox.append(note);
    if (st.pending != null) {
      if (role === 'expert') {
        extendBox.append(h('p', {}, t('cr_extend_request', { n: st.pending })), h('div', { class: 'row' },
          h('button', { type: 'button', onclick: () => send({ type: 'extend_answer', accept: true }) }, t('cr_accept')),
          h('button', { type: 'button', class: 'secondary', onclick: () => send({ type: 'extend_answer', accept: false }) }, t('cr_decline'))));
      } else extendBox.append(h('p', {}, t('cr_extend_pending', { n: st.pending })));
    } else if (role === 'learner' && !paying) {
      const sel = h('select', { name: 'minutes', id: 'extend-minutes' }, [5, 10, 15, 20, 30, 45, 60].map((m) => h('option', { value: m }, t('ex_minutes', { n: m }))));
      extendBox.append(h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); send({ type: 'extend', minutes: Number(sel.value) }); } },
        h('label', {}, t('cr_extend_minutes'), sel), h('button', { type: 'submit', class: 'secondary' }, t('cr_extend_ask'))));
    }
  };

  const drawEnd = () => {
    if (st.status === 'ended') { endBox.replaceChildren(); return; }
    const ask = h('button', { type: 'button', class: 'danger', id: 'end', onclick: () => {
      endBox.replaceChildren(h('p', {}, t('cr_end_confirm')),
        h('button', { type: 'button', class: 'danger', onclick: () => send({ type: 'end' }) }, t('cr_end_yes')),
        h('button', { type: 'button', class: 'secondary', onclick: drawEnd }, t('cr_end_no')));
    } }, t('cr_end'));
    endBox.replaceChildren(ask);
  };

  const addChat = (d) => {
    messages.querySelector('.empty')?.remove();
    const mine = d.user === user.id;
    messages.append(h('li', { class: mine ? 'mine' : 'theirs' }, h('span', { class: 'who' }, d.name), ' ', h('span', { class: 'text' }, d.text)));
    messages.scrollTop = messages.scrollHeight;
  };

  const showWarning = (remaining) => {
    warn.hidden = false;
    warn.textContent = remaining >= 290 && remaining <= 310 ? t('cr_warn_5') : remaining >= 50 && remaining <= 70 ? t('cr_warn_1') : t('cr_warn', { n: remaining });
  };

  const applyEvent = (ev) => {
    const d = ev.data ?? {};
    switch (ev.kind) {
      case 'chat': addChat(d); break;
      case 'metering_started': st.metering = true; st.paused = false; st.since = Date.now(); break;
      case 'metering_resumed':
        // Back within the grace: the gap is billed, so a running meter simply carries on; one
        // that was not running here (we rejoined after a restart) runs from now.
        if (!st.metering) { st.metering = true; st.since = Date.now(); }
        st.paused = false; break;
      case 'metering_paused': st.paused = true; break;
      case 'metering_stopped': st.billable = d.billable_s ?? billable(); st.metering = false; st.paused = false; break;
      case 'time_warning': showWarning(d.remaining_s); break;
      case 'extension_requested': st.pending = d.minutes; drawExtend(); break;
      case 'extension_declined': st.pending = null; drawExtend(h('p', { class: 'meta' }, t('cr_extend_declined', { n: d.minutes }))); break;
      case 'extension_accepted': st.pending = null; drawExtend(h('p', {}, t('cr_extend_accepted', { n: d.minutes }))); break;
      case 'extension_payment':
        if (d.payment_id && role === 'learner') {
          paying = true;
          drawExtend(h('div', { class: 'stack' }, h('p', {}, t('cr_extend_pay', { n: d.minutes, price: cash(d.amount_minor, d.currency) })),
            cardPay(d.payment_id, cash(d.amount_minor, d.currency), () => { if (paying) extendBox.replaceChildren(h('p', {}, t('hold_waiting'))); }, 'ext')));
        } else drawExtend(h('p', {}, t('cr_extend_wait_pay', { n: d.minutes })));
        break;
      case 'extension_granted': paying = false; st.booked += d.minutes * 60; warn.hidden = true; drawExtend(h('p', { class: 'ok' }, t('cr_extend_granted', { n: d.minutes }))); break;
      case 'extension_failed': paying = false; drawExtend(h('p', { class: 'error' }, t('cr_extend_failed', { n: d.minutes, reason: d.reason ?? '' }))); break;
      case 'session_ended':
        st.status = 'ended'; st.metering = false; drawEnd(); drawExtend(); warn.hidden = true;
        outcome.replaceChildren(h('p', {}, d.reason === 'time_up' ? t('cr_time_up') : t('cr_ended_by', { who: d.by === user.id ? t('cr_you') : t('cr_other') })));
        break;
      case 'session_settled':
        st.billable = d.billable_s; st.metering = false; st.status = 'ended';
        outcome.append(h('p', { class: 'ok', id: 'settled' }, t('cr_settled', { time: clock(d.billable_s), price: cash(d.charged_minor, d.currency), status: t(`cs_${d.status}`) })),
          link('/bookings', t('cr_back')));
        break;
      default: break;
    }
    drawMeter();
  };

  const applyState = (s) => {
    st.billable = s.billable_s; st.booked = s.booked_s; st.metering = s.metering; st.paused = false; st.since = Date.now();
    st.status = s.status; st.pending = s.pending_extension ?? null;
    drawEnd(); drawExtend(); drawMeter();
    if (s.status === 'ended') outcome.replaceChildren(h('p', {}, t('cr_ended_state')), link('/bookings', t('cr_back')));
  };

  // The room's socket: LiveSocket joins, recovers with `since` after a drop or a restart and
  // re-authenticates over the open socket; this page only shows what it reports.
  const setConn = (text, state) => { conn.textContent = text; conn.dataset.state = state; };
  const count = (key) => { conn.dataset[key] = Number(conn.dataset[key] ?? 0) + 1; };
  const sock = new LiveSocket(room, {
    joined: (f) => {
      setConn(t('cr_connected'), 'connected'); count('connects'); errors.textContent = '';
      st.present = f.presence;
      applyState(f.state);
    },
    event: applyEvent,
    presence: (f) => { st.present = f.count; drawMeter(); },
    reauthenticated: () => count('renewals'),
    status: (state) => {
      if (state === 'reconnecting' || state === 'offline') setConn(t('cr_reconnecting'), 'reconnecting');
      else if (state === 'closed') setConn(t('cr_signin_again'), 'closed');
    },
    notice: (code, message) => showError({ code, message }),
  });

  page(t('cr_title'),
    h('p', { class: 'meta' }, role === 'learner' ? t('cr_with_expert', { name: expertName }) : t('cr_with_learner'), ' · ',
      t('cr_booked'), ' ', bookedOut, ' · ', t('cr_rate', { price: cash(b.rate_per_minute_minor, b.currency) })),
    conn, errors, warn,
    h('div', { class: 'room' },
      h('section', { class: 'card meter', 'aria-labelledby': 'meter-h' }, h('h2', { id: 'meter-h' }, t('cr_meter')),
        h('dl', { class: 'meter-grid' },
          h('div', {}, h('dt', {}, t('cr_billable')), h('dd', {}, billableOut)),
          h('div', {}, h('dt', {}, t('cr_cost')), h('dd', {}, costOut)),
          h('div', {}, h('dt', {}, t('cr_remaining')), h('dd', {}, remainingOut))),
        meterState, presence, extendBox, endBox, outcome),
      h('section', { class: 'card chat', 'aria-labelledby': 'chat-h' }, h('h2', { id: 'chat-h' }, t('cr_chat')), messages,
        h('form', { class: 'row chat-form', id: 'chat-form', onsubmit: (ev) => {
          ev.preventDefault();
          const text = input.value.trim();
          if (text && send({ type: 'chat', text })) input.value = '';
        } }, input, h('button', { type: 'submit' }, t('cr_send'))))));
  drawMeter(); drawEnd(); drawExtend();
  timer = setInterval(drawMeter, 500);
  sock.connect();
  onLeave(() => { clearInterval(timer); sock.stop(); });
}
