/**
 * The commands as HTTP clients of the tripflow API: the service's address and token (Service, from
 * --url, TRIPFLOW_URL, PORT and API_TOKEN), `request` to send one with the other, and the errors of a
 * conversation that went wrong: no answer at all (ServiceUnreachableError), a refused or missing token
 * (TokenError), any other answer that is not 2xx (ApiError, from the API's `{ error: { code, message } }`).
 */
import { UsageError } from "./args.ts";

/** No answer from the service at all (connection refused, DNS, reset): exit 2. */
export class ServiceUnreachableError extends Error {
  override name = "ServiceUnreachableError";
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach tripflow at ${url}: ${describeCause(cause)} — is \`npm start\` running?`, { cause });
  }
}

/** The service answered with an error body `{ error: { code, message } }` (or something else that is not 2xx). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A 401: the service takes writes only with its token. Exit 2 like an unreachable service: nothing
 * was done, and the fix is in the environment.
 */
export class TokenError extends ApiError {
  override name = "TokenError";
  constructor(sent: boolean) {
    super(
      401,
      "unauthorized",
      sent
        ? "the server refused the token in API_TOKEN: set API_TOKEN to the server's token"
        : "the server requires a token: set API_TOKEN to the server's token",
    );
  }
}

/** The innermost useful message of a fetch failure: undici wraps the socket error in `cause`. */
export function describeCause(err: unknown): string {
  let e = err as { message?: string; code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  while (e?.cause && typeof e.cause === "object") e = e.cause as typeof e;
  // A refused connection to "localhost" may carry one error per address tried.
  if (!e?.message && Array.isArray(e?.errors) && e.errors.length) e = e.errors[0] as typeof e;
  return e?.message || e?.code || String(err);
}

/**
 * The service's base URL: `--url`, else TRIPFLOW_URL, else http://127.0.0.1:$PORT (3000), without a
 * trailing slash. The caller passes the environment: only the entry point reads process.env.
 *
 * @example serviceUrl(undefined, { PORT: "3999" }) // "http://127.0.0.1:3999"
 */
export function serviceUrl(flag: string | undefined, env: Record<string, string | undefined>): string {
  const raw = flag || env.TRIPFLOW_URL || `http://127.0.0.1:${env.PORT || 3000}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(raw)} (expected e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`not an http(s) URL: ${raw}`);
  return url.href.replace(/\/+$/, "");
}

/** The service the commands talk to: its base URL and the token they send, when there is one. */
export type Service = { url: string; token: string | undefined };

/**
 * serviceUrl's address, and the token of API_TOKEN (the server's): the one place the commands read it.
 * `request` sends it as `Authorization: Bearer <token>`.
 *
 * @example resolveService(undefined, { API_TOKEN: "0123456789abcdef" })
 * // { url: "http://127.0.0.1:3000", token: "0123456789abcdef" }
 */
export function resolveService(flag: string | undefined, env: Record<string, string | undefined>): Service {
  const token = env.API_TOKEN?.trim() || undefined;
  // fetch cannot put anything else in a header; the server refuses such a token too.
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError("API_TOKEN: must be visible ASCII characters without spaces");
  }
  return { url: serviceUrl(flag, env), token };
}

/**
 * fetch `path` of the service with its token; a failure to connect becomes ServiceUnreachableError
 * naming the base URL, a 401 answer TokenError.
 */
export async function request(service: Service, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (service.token !== undefined) headers.set("authorization", `Bearer ${service.token}`);
  let res: Response;
  try {
    res = await fetch(`${service.url}${path}`, { ...init, headers });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ServiceUnreachableError(service.url, err);
  }
  if (res.status === 401) {
    await res.body?.cancel().catch(() => {});
    throw new TokenError(service.token !== undefined);
  }
  return res;
}

/** The error of a non-2xx answer: the API's own `{ error: { code, message } }` when it sent one. */
export async function apiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === "string")
      return new ApiError(res.status, String(body.error.code ?? "error"), body.error.message);
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(res.status, "http_error", `HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ""}`);
}
