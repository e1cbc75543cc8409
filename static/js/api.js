// The HTTP client: bearer tokens, refresh before expiry, and the API's error shape as exceptions.
const KEY = 'lyceum.session';
let session = JSON.parse(localStorage.getItem(KEY) || 'null');
let refreshTimer = null;
const listeners = new Set();

/** An API failure, carrying the documented `{error:{code,message}}`. */
export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/** The signed-in user, or null. */
export const me = () => session?.user ?? null;
/** The current access token, or null. */
export const accessToken = () => session?.access_token ?? null;
/** Calls `fn` whenever the session changes (sign in, refresh, sign out). */
export const onSession = (fn) => listeners.add(fn);

/** Makes `next` the session (null: signed out), plans its refresh and tells the listeners. */
function follow(next) {
  session = next;
  clearTimeout(refreshTimer);
  // Refresh a minute before the access token expires (never sooner than in 5 s).
  if (next) refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(5000, next.expires_at - Date.now() - 60000));
  listeners.forEach((fn) => fn(next));
}

/** Stores `next` for this tab and every other, and follows it; resolves once IndexedDB has it. */
function save(next) {
  if (next) localStorage.setItem(KEY, JSON.stringify(next)); else localStorage.removeItem(KEY);
  const written = shared({ session: next }).catch(() => {});
  follow(next);
  return written;
}

function adopt(tokens) {
  return save({ ...tokens, expires_at: Date.now() + tokens.expires_in * 1000 });
}

/** Sends a request to the API; JSON in and out; throws ApiError on any failure. */
export async function api(method, path, body, { headers = {}, retry = true } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (session) h.authorization = `Bearer ${session.access_token}`;
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'network');
  }
  if (resp.status === 401 && session && retry && !path.startsWith('/auth/')) {
    await refresh().catch(() => {});
    return api(method, path, body, { headers, retry: false });
  }
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, data?.error?.code ?? 'error', data?.error?.message ?? resp.statusText);
  return data;
}

// The session as every tab sees it at once. localStorage reaches other tabs late (Chromium
// copies it between processes asynchronously), so under the refresh lock the session is read
// from and written to IndexedDB, whose committed transactions every tab sees.
function shared(write) {
  return new Promise((ok, fail) => {
    const open = indexedDB.open('lyceum', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('kv');
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('kv', write ? 'readwrite' : 'readonly');
      let read;
      if (write) tx.objectStore('kv').put(write.session, 'session');
      else { const get = tx.objectStore('kv').get('session'); get.onsuccess = () => { read = get.result; }; }
      tx.oncomplete = () => { db.close(); ok(read); };
      tx.onerror = () => { db.close(); fail(tx.error); };
    };
  });
}

/** The newest session: IndexedDB's when it has one, else this tab's stored copy. */
async function latest() {
  const found = await shared().catch(() => undefined);
  return found === undefined ? JSON.parse(localStorage.getItem(KEY) || 'null') : found;
}

/**
 * Exchanges the refresh token for new tokens (single-use rotation). Tabs share one session, so
 * refreshes are serialised across tabs (a Web Lock) and a tab that finds a newer session than
 * its own adopts it instead of spending the old token, which the server would take for a stolen
 * one. A refused refresh signs out; a network failure keeps the session and retries.
 */
export async function refresh() {
  const run = async () => {
    const newest = await latest();
    if (!newest) { if (session) save(null); return; }
    if (newest.refresh_token !== session?.refresh_token) { follow(newest); return; }
    let tokens;
    try {
      tokens = await api('POST', '/auth/refresh', { refresh_token: newest.refresh_token }, { retry: false });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => refresh().catch(() => {}), 5000);
        throw e;
      }
      save(null);
      throw e;
    }
    // Held under the lock until every tab can read the new session.
    await adopt({ ...tokens, user: tokens.user ?? newest.user });
  };
  if (navigator.locks) return navigator.locks.request('lyceum.refresh', run);
  return run();
}

// Another tab signed in, refreshed or signed out: follow it.
window.addEventListener('storage', (e) => { if (e.key === KEY) follow(JSON.parse(e.newValue || 'null')); });

export async function signIn(email, password) { adopt(await api('POST', '/auth/login', { email, password })); }
export async function signUp(email, password, display_name) {
  adopt(await api('POST', '/auth/register', { email, password, display_name }));
}
export async function signOut() {
  const s = session;
  save(null);
  if (s) await api('POST', '/auth/logout', { refresh_token: s.refresh_token }).catch(() => {});
}

if (session) follow(session);
