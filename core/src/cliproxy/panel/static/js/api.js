// The management API client: the key lives in this tab's sessionStorage only.

const STORE = "cliproxy.management-key";
export const V0 = new URL("../", window.location.href).pathname.replace(/\/$/, "");

export const session = {
  get key() {
    return sessionStorage.getItem(STORE);
  },
  set(key) {
    sessionStorage.setItem(STORE, key);
  },
  clear() {
    sessionStorage.removeItem(STORE);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the gateway answered ${status}`);
    this.status = status;
    this.code = error.code;
    this.location = error.location || null;
    this.problem = error.problem || null;
    this.hint = error.hint || null;
  }
}

let refused = () => {};
/** What to do when the key is refused (401) or the caller locked out (429). */
export function onRefused(handler) {
  refused = handler;
}

/** Call /v0/management<path>; a JSON body for every method that changes something. */
export async function api(method, path, body) {
  const headers = { "X-Management-Key": session.key || "" };
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  const answer = await fetch(`${V0}/management${path}`, init);
  let data = null;
  try {
    data = await answer.json();
  } catch {
    data = null;
  }
  if (!answer.ok) {
    const error = new ApiError(answer.status, data);
    if (answer.status === 401 || error.code === "management_locked_out") refused(error);
    throw error;
  }
  return data;
}

export const enc = encodeURIComponent;
