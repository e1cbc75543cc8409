// A client for one room over the WebSocket protocol (docs/protocol.md): it connects with the
// access token, joins, remembers the log position (epoch + seq) and, after a dropped network, a
// server restart (1012) or a slow-consumer eviction (4009), reconnects with backoff and jitter
// and rejoins with `since`, so nothing is missed. It re-authenticates over the open socket when
// api.js gets a fresh access token, and hands every problem it cannot fix itself to the page.
import { accessToken, refresh, onSession } from './api.js';

const live = new Set();
// api.js offers no way to unsubscribe, so one listener serves every open socket.
onSession((s) => { for (const sock of live) sock.sessionChanged(s); });

/** A refused command: the server's `error` frame (or `disconnected` when the socket dropped). */
export class RoomError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

// Close codes after which reconnecting cannot help until the person does something.
const FATAL = { 4003: 'revoked', 4008: 'too_many', 4001: 'unauthenticated' };

export class LiveSocket {
  /**
   * `room` is e.g. `class:<id>`. `handlers` may have: `joined(frame, {fresh})` (fresh is true
   * when the state must be rebuilt: first join or `recovered:false`), `event(frame)`,
   * `presence(frame)`, `reauthenticated(frame)` (a fresh token was accepted), `status(state, detail)` with state `connecting`, `connected`,
   * `reconnecting` ({delay, reason}), `offline`, `closed` ({reason}), and `notice(code, message)`
   * for asynchronous errors (errors without a pending command, slow consumer, rate-limit close).
   */
  constructor(room, handlers) {
    this.room = room;
    this.on = handlers;
    this.epoch = null;
    this.seq = null;
    this.ws = null;
    this.refs = 0;
    this.pending = new Map();
    this.attempt = 0;
    this.stopped = false;
    this.token = null;
    this.timers = new Set();
    this.onOnline = () => { if (!this.ws && !this.stopped) this.reconnectNow(); };
    this.onOffline = () => { if (this.ws) this.drop('offline'); };
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    live.add(this);
  }

  later(fn, ms) {
    const id = setTimeout(() => { this.timers.delete(id); fn(); }, ms);
    this.timers.add(id);
    return id;
  }

  clearTimers() { for (const id of this.timers) clearTimeout(id); this.timers.clear(); }

  status(state, detail = {}) { this.state = state; this.on.status?.(state, detail); }

  /** Opens the socket (again). */
  connect() {
    if (this.stopped) return;
    if (!navigator.onLine) { this.status('offline'); return; }
    const token = accessToken();
    if (!token) { this.stop('signed_out'); return; }
    this.token = token;
    this.status(this.attempt ? 'reconnecting' : 'connecting', { reason: 'connecting' });
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => { this.opened = true; };
    ws.onmessage = (m) => { if (this.ws === ws) this.frame(m.data); };
    ws.onclose = (c) => { if (this.ws === ws) this.closed(c.code, c.reason); };
    // Watchdog: a socket that never says hello is dropped and tried again.
    this.later(() => { if (this.ws === ws && this.state !== 'connected') this.drop('timeout'); }, 10000);
  }

  frame(text) {
    let f;
    try { f = JSON.parse(text); } catch { return; }
    this.heard = Date.now();
    switch (f.type) {
      case 'hello':
        this.expiresAt = Date.parse(f.expires_at);
        this.heartbeat = (f.heartbeat_s || 15) * 1000;
        this.scheduleReauth();
        this.keepAlive();
        this.ws.send(JSON.stringify({ type: 'join', room: this.room, ref: 'join',
          ...(this.epoch != null && this.seq != null ? { since: this.seq, epoch: this.epoch } : {}) }));
        break;
      case 'joined': {
        const fresh = !f.recovered;
        this.epoch = f.epoch;
        this.seq = f.seq;
        this.attempt = 0;
        this.status('connected', { recovered: f.recovered });
        this.on.joined?.(f, { fresh });
        break;
      }
      case 'event':
        if (f.room !== this.room) break;
        if (this.seq != null && f.seq <= this.seq) break; // already seen (replays overlap)
        this.seq = f.seq;
        this.on.event?.(f);
        break;
      case 'presence':
        if (f.room === this.room) this.on.presence?.(f);
        break;
      case 'error':
        if (f.ref === 'join') { this.joinRefused(f); break; }
        if (f.ref && this.pending.has(f.ref)) this.settle(f.ref, null, new RoomError(f.code, f.message));
        else this.on.notice?.(f.code, f.message);
        break;
      default:
        if (f.ref && this.pending.has(f.ref)) this.settle(f.ref, f, null);
    }
  }

  joinRefused(f) {
    // forbidden (kicked, not entitled) and not_found do not get better by retrying.
    if (f.code === 'unavailable' || f.code === 'internal') { this.drop('unavailable'); return; }
    this.stop(f.code, f.message);
  }

  settle(ref, frame, err) {
    const p = this.pending.get(ref);
    this.pending.delete(ref);
    clearTimeout(p.timer);
    if (err) p.reject(err); else p.resolve(frame);
  }

  /** Sends a room command; resolves with its answer (`ack`, `roster`…), rejects with RoomError. */
  send(cmd) {
    if (!this.ws || this.state !== 'connected' || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RoomError('disconnected', 'not connected'));
    }
    this.refs += 1;
    const ref = `c${this.refs}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(ref)) reject(new RoomError('timeout', 'no answer'));
      }, 15000);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ room: this.room, ...cmd, ref }));
    });
  }

  failPending() {
    for (const ref of [...this.pending.keys()]) this.settle(ref, null, new RoomError('disconnected', 'connection lost'));
  }

  // Application pings, so a connection the network silently lost is noticed (the browser
  // answers the server's pings by itself but never tells the page when they stop).
  keepAlive() {
    const ws = this.ws;
    const every = Math.min(this.heartbeat, 15000);
    this.later(() => {
      if (this.ws !== ws) return;
      if (Date.now() - this.heard > every * 2) { this.drop('timeout'); return; }
      ws.send(JSON.stringify({ type: 'ping', ref: 'keepalive' }));
      this.keepAlive();
    }, every);
  }

  // api.js refreshes a minute before expiry (5 s at the soonest) and tells us through onSession;
  // this timer is the fallback if that did not happen (the tab slept, say), set later than
  // api.js's so the two never spend the same single-use refresh token.
  scheduleReauth() {
    clearTimeout(this.reauthTimer);
    const left = this.expiresAt - Date.now();
    const wait = Math.max(1000, left - Math.min(20000, left / 4));
    this.reauthTimer = setTimeout(async () => {
      if (this.stopped || !this.ws) return;
      if (accessToken() === this.token) await refresh().catch(() => {});
      if (accessToken() !== this.token) this.reauth(accessToken());
    }, wait);
  }

  sessionChanged(s) {
    if (this.stopped) return;
    if (!s) { this.stop('signed_out'); return; }
    if (this.ws && this.state === 'connected' && s.access_token !== this.token) this.reauth(s.access_token);
  }

  reauth(token) {
    if (!token || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.token = token;
    this.refs += 1;
    const ref = `a${this.refs}`;
    this.pending.set(ref, {
      resolve: (f) => { this.expiresAt = Date.parse(f.expires_at); this.scheduleReauth(); this.on.reauthenticated?.(f); },
      reject: (e) => this.on.notice?.(e.code, e.message),
      timer: null,
    });
    this.ws.send(JSON.stringify({ type: 'auth', token, ref }));
  }

  closed(code, reason) {
    this.ws = null;
    clearTimeout(this.reauthTimer);
    this.clearTimers();
    this.failPending();
    if (this.stopped) return;
    if (code === 4002) {
      // Expired: a fresh token first, then again at once.
      refresh().catch(() => {}).finally(() => this.retry('expired', 100));
      return;
    }
    if (code === 1006 && !this.opened && this.attempt < 3) {
      // Refused before the upgrade. The browser does not say why: if the server answers HTTP,
      // the token was the problem (401), so refresh it; if not, the server is away: back off.
      fetch('/readyz').then((r) => r.ok, () => false).then((up) => {
        if (this.stopped || this.ws) return;
        if (up) refresh().catch(() => {}).finally(() => this.retry('expired', 100));
        else this.retry('network', 500 + Math.random() * 1000);
      });
      return;
    }
    if (FATAL[code]) { this.stop(FATAL[code], reason); return; }
    if (code === 4009) this.on.notice?.('slow_consumer', reason);
    if (code === 1008) this.on.notice?.('rate_closed', reason);
    // 1012: the server restarts; come back after a short random delay.
    const base = code === 1012 ? 500 : Math.min(30000, 500 * 2 ** this.attempt);
    this.retry(code === 1012 ? 'restart' : code === 4009 ? 'slow_consumer' : 'network', base / 2 + Math.random() * base);
  }

  retry(reason, delay) {
    this.attempt += 1;
    if (!navigator.onLine) { this.status('offline'); return; }
    this.status('reconnecting', { delay, reason });
    this.later(() => this.connect(), delay);
  }

  reconnectNow() { this.clearTimers(); this.attempt = Math.max(this.attempt, 1); this.connect(); }

  /** Drops the current socket at once and goes on as after a network loss. */
  drop(reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = null;
    ws.onmessage = null;
    try { ws.close(); } catch { /* already closing */ }
    clearTimeout(this.reauthTimer);
    this.clearTimers();
    this.failPending();
    if (reason === 'offline' || !navigator.onLine) { this.attempt += 1; this.status('offline'); return; }
    this.retry(reason, 300 + Math.random() * 700);
  }

  /** Ends for good: the page is left, or nothing can be done without the person. */
  stop(reason = 'left', message = '') {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.reauthTimer);
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(1000); } catch { /* closing */ } }
    this.failPending();
    if (reason !== 'left') this.status('closed', { reason, message });
  }
}
