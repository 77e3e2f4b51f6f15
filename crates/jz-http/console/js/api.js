// The console's one way to the API: JSON over fetch with the session cookie, the CSRF token on
// every change, and the API's error message carried in the thrown error.

let csrfToken = null;
let onUnauthenticated = () => {};

export function setCsrfToken(token) {
  csrfToken = token;
}

// Called when any request answers 401 (the session expired or was closed).
export function whenUnauthenticated(handler) {
  onUnauthenticated = handler;
}

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || 'http_error';
    this.field = error?.field;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function api(method, path, body, options = {}) {
  const headers = { accept: 'application/json' };
  if (!SAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['content-type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: payload,
    credentials: 'same-origin',
    signal: options.signal,
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    if (response.status === 401 && !options.quiet) onUnauthenticated();
    throw new ApiError(response.status, json?.error || { message: text.slice(0, 200) });
  }
  return json;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// A query string from an object, leaving out empty values.
export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
