// The sync API as the phone calls it (DESIGN.md §5). Every failure becomes an ApiError whose
// `kind` tells the sync engine what to do with the item:
//   network  no answer (offline, timeout)          → keep it, try again later
//   server   5xx or 429                             → keep it, try again later
//   auth     401                                    → keep everything, ask to sign in again
//   client   any other 4xx, with the server's words → the item needs attention

const JSON_TIMEOUT_MS = 30_000;
const PHOTO_TIMEOUT_MS = 120_000; // ~300 KB on a slow 2G link

export class ApiError extends Error {
  constructor(kind, status, message, fields = null) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
    this.fields = fields;
  }

  get retryable() {
    return this.kind === 'network' || this.kind === 'server';
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = (await response.json())?.error ?? null;
  } catch {
    // Not our JSON (a proxy's error page): the status says enough.
  }
  const message = body?.message || body?.title || `HTTP ${response.status}`;
  const { status } = response;
  let kind = 'client';
  if (status === 401) kind = 'auth';
  else if (status >= 500 || status === 429 || status === 408) kind = 'server';
  return new ApiError(kind, status, message, body?.fields ?? null);
}

async function call(path, { method = 'GET', headers = {}, body, timeout = JSON_TIMEOUT_MS } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      body,
      headers: { Accept: 'application/json', ...headers },
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error', // a redirect here means a sign-in page, never data
      signal: AbortSignal.timeout(timeout),
    });
  } catch (error) {
    throw new ApiError('network', 0, error.message);
  }
  if (response.status === 304) return { status: 304, response };
  if (!response.ok) throw await errorFrom(response);
  return { status: response.status, response };
}

async function json(path, options) {
  const { response } = await call(path, options);
  try {
    return await response.json();
  } catch (error) {
    throw new ApiError('server', response.status, error.message);
  }
}

/** {user, csrf_token}: who is signed in, and a fresh token for the next unsafe request. */
export function getSession() {
  return json('/api/v1/session');
}

/** A fresh CSRF token, signed in or not (the sign-in page renews its form with it). */
export async function csrfToken() {
  return (await json('/api/v1/csrf-token')).csrf_token;
}

/** End the session on the server, if it is the one named (`session_id`, else `user_id`'s);
 *  204 either way. */
export async function endSession(token, { session_id: sessionId, user_id: userId } = {}) {
  const named = sessionId ? { session_id: sessionId } : userId != null ? { user_id: String(userId) } : {};
  const query = Object.keys(named).length ? `?${new URLSearchParams(named)}` : '';
  await call(`/api/v1/session${query}`, { method: 'DELETE', headers: { 'X-CSRFToken': token } });
}

export function push(token, deviceId, activities) {
  return json('/api/v1/sync/push', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
    body: JSON.stringify({ device_id: deviceId, activities }),
  });
}

export function putPhoto(token, photo) {
  const query = new URLSearchParams({ activity_id: photo.activity_id, sha256: photo.sha256 });
  return json(`/api/v1/photos/${photo.id}?${query}`, {
    method: 'PUT',
    headers: { 'Content-Type': photo.blob.type || 'image/jpeg', 'X-CSRFToken': token },
    body: photo.blob,
    timeout: PHOTO_TIMEOUT_MS,
  });
}

export function pull(cursor) {
  const query = cursor ? `?${new URLSearchParams({ cursor })}` : '';
  return json(`/api/v1/sync/pull${query}`);
}

/** The reference data, or null when the phone's copy (`etag`) is still current. */
export async function reference(etag) {
  const headers = etag ? { 'If-None-Match': `"${etag}"` } : {};
  const { status, response } = await call('/api/v1/reference', { headers });
  if (status === 304) return null;
  return response.json();
}

export function places() {
  return json('/field/places.json');
}
