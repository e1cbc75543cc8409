// Building blocks every view shares: elements from plain data (strings are always text, never
// HTML, so a strict CSP holds), navigation, the alert region and form submission with the API's
// error shape shown inline.
import { t } from './i18n.js';
import { ApiError } from './api.js';

/** Builds an element: `h('a', {href}, 'text', child)`. Strings become text nodes, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** An API error as a person reads it: the server's message and its code. */
export function describe(e) {
  if (e instanceof ApiError) return e.code === 'network' ? t('net_error') : `${e.message} (${e.code})`;
  return String(e?.message ?? e);
}

/** Shows an API error (or any message) in the live alert region. */
export function toast(msg, kind = 'error') {
  const box = document.getElementById('toast');
  box.textContent = typeof msg === 'string' ? msg : describe(msg);
  box.className = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

/** Runs `fn` for a form submit, disabling its button and showing errors inline. */
export function submitter(fn) {
  return async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const btn = form.querySelector('button[type=submit]');
    const out = form.querySelector('.form-error');
    if (btn) btn.disabled = true;
    if (out) out.textContent = '';
    try { await fn(new FormData(form), form); } catch (e) {
      if (out && e instanceof ApiError) out.textContent = describe(e); else toast(e);
    } finally { if (btn) btn.disabled = false; }
  };
}

/** A button whose click runs `fn`, with failures shown in the alert region. */
export function action(label, fn, attrs = {}) {
  return h('button', { type: 'button', ...attrs, onclick: async (ev) => {
    const btn = ev.currentTarget;
    btn.disabled = true;
    try { await fn(ev); } catch (e) { toast(e); } finally { btn.disabled = false; }
  } }, label);
}

/** The slot a form shows its error in. */
export const errorSlot = () => h('p', { class: 'form-error error', role: 'alert' });
/** A labelled input. */
export const field = (label, attrs) => h('label', {}, label, h('input', attrs));

let renderer = () => {};
/** Sets what `go` calls after changing the URL (the router's render). */
export function onNavigate(fn) { renderer = fn; }
/** Navigates within the app without a reload. */
export function go(path) { history.pushState(null, '', path); renderer(); }
/** Re-renders the current page. */
export const rerender = () => renderer();

/** A link handled by the app's router. */
export function link(href, text, extra = {}) { return h('a', { href, 'data-link': true, ...extra }, text); }

/** Replaces the main region with a titled page and moves focus there (for screen readers). */
export function page(title, ...body) {
  const main = document.getElementById('main');
  document.title = `${title} · Lyceum`;
  main.replaceChildren(h('h1', {}, title), ...body);
  main.focus();
}

/** Calls `fn` once when the current page is left (the router runs these before each render). */
const leaving = new Set();
export function onLeave(fn) { leaving.add(fn); }
/** Runs and forgets the current page's leave handlers. */
export function leave() { for (const fn of leaving) fn(); leaving.clear(); }
