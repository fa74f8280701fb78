/**
 * Talking to the API: every answer is JSON, every error `{ "error": { "code", "message" } }`.
 */

/** An answer that was not a 2xx, or no answer at all (status 0); `message` is the API's own when it gave one. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The API's error from a response body (already parsed), or a generic one naming the status. */
export function apiError(status, body) {
  const e = body && typeof body === "object" ? body.error : undefined;
  if (e && typeof e.message === "string") return new ApiError(status, String(e.code ?? "error"), e.message);
  return new ApiError(status, "http_error", `the server answered ${status}`);
}

/** GET a JSON resource; resolves with its body, rejects with an ApiError. */
export async function getJson(path, params) {
  const url = params ? `${path}?${query(params)}` : path;
  let res;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch {
    throw new ApiError(0, "unreachable", "the server does not answer");
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (!res.ok) throw apiError(res.status, body);
  return body;
}

/** A query string from the params whose value is neither undefined, null nor "". */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  return q.toString();
}

const TOKEN_KEY = "tripflow.apiToken";

/** The bearer token the user gave for writes (only needed when the server has API_TOKEN). */
export function apiToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

/** Keeps the token field and localStorage in step. */
export function bindTokenField(input) {
  input.value = apiToken();
  input.addEventListener("change", () => {
    try {
      if (input.value.trim()) localStorage.setItem(TOKEN_KEY, input.value.trim());
      else localStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage refused (private mode): the token lasts for this page only
    }
  });
}
