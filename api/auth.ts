import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorBody } from "./errors.ts";

/** Methods that only read: they stay open with or without a token. Every other method needs one. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** The OpenAPI name and definition of the scheme (api/routes/docs.ts puts it on every unsafe operation). */
export const BEARER_SCHEME = {
  name: "bearerAuth",
  definition: {
    type: "http",
    scheme: "bearer",
    description:
      "API_TOKEN of the server, as `Authorization: Bearer <token>`, on every request but GET, HEAD and OPTIONS. " +
      "A server without API_TOKEN takes writes without it, and then listens on loopback only.",
  },
} as const;

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * Requires `Authorization: Bearer <token>` on every request whose method is not in SAFE_METHODS; reads
 * stay open. The comparison runs on sha256 digests with timingSafeEqual, so neither the token's
 * characters nor its length show in the answer's timing. A missing or wrong token answers 401
 * `{ "error": { "code": "unauthorized", … } }` with `WWW-Authenticate: Bearer` (RFC 6750).
 *
 * @example app.use("*", requireToken(config.apiToken)); // before the routes
 */
export function requireToken(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    // "Bearer" alone, or another scheme, is no token at all; anything after "Bearer " is compared.
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization")?.trim() ?? "")?.[1]?.trim();
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    const missing = given === undefined;
    c.header(
      "WWW-Authenticate",
      missing ? 'Bearer realm="tripflow"' : 'Bearer realm="tripflow", error="invalid_token"',
    );
    const message = missing
      ? `${c.req.method} needs the server's API_TOKEN: send Authorization: Bearer <token>`
      : "the bearer token is not the server's API_TOKEN";
    return c.json(errorBody("unauthorized", message), 401);
  };
}
