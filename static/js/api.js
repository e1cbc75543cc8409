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

function save(next) {
  session = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next)); else localStorage.removeItem(KEY);
  clearTimeout(refreshTimer);
  if (next) {
    // Refresh a minute before the access token expires (never sooner than in 5 s).
    const wait = Math.max(5000, next.expires_at - Date.now() - 60000);
    refreshTimer = setTimeout(() => refresh().catch(() => save(null)), wait);
  }
  listeners.forEach((fn) => fn(next));
}

function adopt(tokens) {
  save({ ...tokens, expires_at: Date.now() + tokens.expires_in * 1000 });
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
    await refresh().catch(() => save(null));
    return api(method, path, body, { headers, retry: false });
  }
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, data?.error?.code ?? 'error', data?.error?.message ?? resp.statusText);
  return data;
}

/** Exchanges the refresh token for new tokens (single-use rotation). */
export async function refresh() {
  if (!session) return;
  const tokens = await api('POST', '/auth/refresh', { refresh_token: session.refresh_token }, { retry: false });
  adopt({ ...tokens, user: tokens.user ?? session.user });
}

export async function signIn(email, password) { adopt(await api('POST', '/auth/login', { email, password })); }
export async function signUp(email, password, display_name) {
  adopt(await api('POST', '/auth/register', { email, password, display_name }));
}
export async function signOut() {
  const s = session;
  save(null);
  if (s) await api('POST', '/auth/logout', { refresh_token: s.refresh_token }).catch(() => {});
}

if (session) save(session);
