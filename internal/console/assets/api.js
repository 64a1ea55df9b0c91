// The console's only way to the server: the public JSON API, with the
// caller's own identity, so the console can do exactly what the caller may.
// Values are write-only here: nothing in the console reads /access.

/** APIError is a failed call; message is the API's detail in plain words. */
export class APIError extends Error {
  constructor(status, detail) {
    super(formatDetail(status, detail));
    this.status = status;
  }
}

/**
 * formatDetail renders an error body's detail: a message as it is, a list
 * of validation items as "field: message" lines.
 */
export function formatDetail(status, detail) {
  if (typeof detail === 'string' && detail !== '') return detail;
  if (Array.isArray(detail) && detail.length > 0) {
    return detail.map((it) => {
      const loc = (it.loc || []).filter((p) => p !== 'body' && p !== 'query' && p !== 'path');
      return (loc.length ? `${loc.join('.')}: ` : '') + (it.msg || 'invalid');
    }).join('\n');
  }
  if (status === 0) return 'Cannot reach the server.';
  return `The request failed (HTTP ${status}).`;
}

let bearer = null;
let unauthorized = null;

/** setToken sets (or, with null, clears) the bearer token sent with calls. */
export function setToken(token) {
  bearer = token;
}

/**
 * onUnauthorized sets what happens when the API answers 401 to a call that
 * carried a token: the token expired or is no longer accepted.
 */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

const readPath = /\/secrets\/[^/]+\/access(?:[?#]|$)/;

/** call sends one API request and returns the parsed body (null if none). */
export async function call(method, path, body) {
  if (readPath.test(path)) throw new Error('the console never reads secret values');
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new APIError(0, null);
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (res.status === 401 && bearer && unauthorized) unauthorized();
  if (!res.ok) throw new APIError(res.status, data ? data.detail : null);
  return data;
}

/** seg escapes one path segment. */
export const seg = encodeURIComponent;

/** Paths of the API the console uses. */
export const paths = {
  workspaces: '/apis/entities/v2/workspaces',
  workspace: (ws) => `/apis/entities/v2/workspaces/${seg(ws)}`,
  members: (ws) => `/apis/entities/v2/workspaces/${seg(ws)}/members`,
  member: (ws, p) => `/apis/entities/v2/workspaces/${seg(ws)}/members/${seg(p)}`,
  secrets: (ws) => `/apis/secrets/v2/workspaces/${seg(ws)}/secrets`,
  secret: (ws, n) => `/apis/secrets/v2/workspaces/${seg(ws)}/secrets/${seg(n)}`,
  versions: (ws, n) => `/apis/secrets/v2/workspaces/${seg(ws)}/secrets/${seg(n)}/versions`,
  version: (ws, n, v) => `/apis/secrets/v2/workspaces/${seg(ws)}/secrets/${seg(n)}/versions/${v}`,
  deleted: (ws) => `/apis/secrets/v2/workspaces/${seg(ws)}/deleted-secrets`,
  deletedOne: (ws, id) => `/apis/secrets/v2/workspaces/${seg(ws)}/deleted-secrets/${seg(id)}`,
  rotate: '/apis/secrets/v2/rotate-encryption-keys',
  audit: (ws) => `/apis/secrets/v2/workspaces/${seg(ws)}/audit`,
  auditAll: '/apis/secrets/v2/audit',
};

/** query builds a query string from the defined entries of o. */
export function query(o) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
