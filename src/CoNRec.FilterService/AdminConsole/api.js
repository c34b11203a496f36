// Admin API client. Adds `Authorization: Bearer <token>` from sessionStorage to every request (never a URL),
// and turns every non-2xx answer into an ApiError carrying the status and the server's {"error": …} message.

export const TOKEN_KEY = 'conrec.adminToken';
const BASE = '/admin/v1';

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status; 0 when the server could not be reached.
   * @param {string} message the server's `error` message, or a description of the failure.
   * @param {any} body the parsed JSON body, when there was one (e.g. a publish's `validation`).
   */
  constructor(status, message, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage unavailable: nothing stored */ }
}

// Logging out aborts whatever is in flight, so a late answer cannot repaint a cleared console.
let controller = new AbortController();
let unauthorizedHandler = null;

/** Called (once per refused request) when the server answers 401. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Aborts every request in flight; later requests are unaffected. */
export function abortAll() {
  controller.abort();
  controller = new AbortController();
}

export function isAbort(error) {
  return error?.name === 'AbortError';
}

/**
 * @param {string} method
 * @param {string} path under /admin/v1, already encoded
 * @param {{body?: any, query?: Record<string, string|number|null|undefined>}} [options]
 */
export async function request(method, path, { body, query } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    const qs = params.toString();
    if (qs) url += '?' + qs;
  }
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
      redirect: 'error',
      signal: controller.signal,
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, `could not reach the server (${e.message})`);
  }

  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const message = data && typeof data.error === 'string' ? data.error : `HTTP ${response.status} ${response.statusText}`.trim();
    const error = new ApiError(response.status, message, data);
    if (response.status === 401 && unauthorizedHandler) unauthorizedHandler(error);
    throw error;
  }
  if (data === null) throw new ApiError(response.status, 'the server answered with something other than JSON');
  return data;
}

const seg = s => encodeURIComponent(s);

export const api = {
  thresholds: () => request('GET', '/thresholds'),
  putThreshold: (scene, body) => request('PUT', `/thresholds/${seg(scene)}`, { body }),
  tune: (scene, body) => request('POST', `/thresholds/${seg(scene)}/tune`, { body }),
  sampleFiles: () => request('GET', '/samples'),
  generations: () => request('GET', '/generations'),
  publish: id => request('POST', `/generations/${seg(id)}/publish`),
  audit: ({ count = 50, scene, before } = {}) => request('GET', '/audit', { query: { count, scene, before } }),
  health: () => request('GET', '/health'),
};
