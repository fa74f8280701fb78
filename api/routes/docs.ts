import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { BEARER_SCHEME, SAFE_METHODS } from "../auth.ts";
import { NotFoundError } from "../errors.ts";
import { newRouter } from "../router.ts";

type Documented = Pick<OpenAPIHono, "getOpenAPI31Document">;
type Document = ReturnType<Documented["getOpenAPI31Document"]>;

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

const CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "tripflow",
    version: "0.1.0",
    description:
      "Vehicle-trip CSV files through bronze, silver and gold in PostgreSQL + PostGIS: ingestions and their rejected " +
      "lines, groups of similar trips, weekly averages, and the audit events as server-sent events. Errors answer " +
      'JSON {"error": {"code", "message"}}; an invalid parameter is a 400 that names it.',
  },
};

// Swagger UI comes from the installed swagger-ui-dist, never from a CDN: /docs works offline. Resolved
// at import, so a missing package stops the start at once.
const require = createRequire(import.meta.url);
const SWAGGER_UI = dirname(require.resolve("swagger-ui-dist/package.json"));
const OURS = fileURLToPath(new URL("../docs/", import.meta.url));

const CSS = "text/css; charset=utf-8";
const JS = "text/javascript; charset=utf-8";
const PNG = "image/png";

/**
 * The files GET /docs/assets/{file} serves, and no other, read once at import (about 1.6 MB; a missing
 * one stops the start at once): name -> content and content type.
 */
const ASSETS: ReadonlyMap<string, { body: Uint8Array<ArrayBuffer>; type: string }> = new Map(
  (
    [
      ["swagger-ui.css", SWAGGER_UI, CSS],
      ["swagger-ui-bundle.js", SWAGGER_UI, JS],
      ["favicon-16x16.png", SWAGGER_UI, PNG],
      ["favicon-32x32.png", SWAGGER_UI, PNG],
      ["swagger-initializer.js", OURS, JS],
    ] as const
  ).map(([name, dir, type]) => [name, { body: new Uint8Array(readFileSync(join(dir, name))), type }]),
);

// The files change only with a new version of the server: a browser may keep them for an hour.
const CACHE_CONTROL = "public, max-age=3600";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${CONFIG.info.title} API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
</head><body>
<noscript>This page needs JavaScript; the OpenAPI document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-initializer.js"></script>
</body></html>
`;

/**
 * GET /openapi.json (OpenAPI 3.1, generated from the routes' own zod schemas), GET /docs (Swagger UI on
 * that document, "Try it out" enabled) and GET /docs/assets/{file} (Swagger UI's files, from
 * node_modules/swagger-ui-dist, and its initializer, api/docs/swagger-initializer.js). The document is
 * built on the first request, so it lists whatever `app` has by then, wherever this is mounted.
 *
 * @example app.route("/", docsRoutes(app)); await app.request("/openapi.json");
 */
export function docsRoutes(app: Documented) {
  let document: Document | undefined;
  const get = () => (document ??= withBearer(app.getOpenAPI31Document(CONFIG)));
  return newRouter()
    .get("/openapi.json", (c) => c.json(get()))
    .get("/docs", (c) => c.html(PAGE))
    .get("/docs/assets/:file", (c) => {
      const name = c.req.param("file");
      const asset = ASSETS.get(name);
      if (!asset) throw new NotFoundError(`no asset ${JSON.stringify(name)} under /docs/assets`);
      return c.body(asset.body, 200, {
        "Content-Type": asset.type,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
      });
    });
}

/**
 * The bearer scheme on every operation but GET, HEAD and OPTIONS, with its 401: what api/auth.ts
 * enforces when the server has API_TOKEN, so a route added later is documented without a word of its own.
 */
function withBearer(doc: Document): Document {
  const securitySchemes = { ...doc.components?.securitySchemes, [BEARER_SCHEME.name]: { ...BEARER_SCHEME.definition } };
  doc.components = { ...doc.components, securitySchemes };
  const error = {
    type: "object",
    properties: { code: { type: "string" }, message: { type: "string" } },
    required: ["code", "message"],
  } as const;
  for (const item of Object.values(doc.paths ?? {}))
    for (const method of METHODS) {
      const op = item[method];
      if (!op || SAFE_METHODS.has(method.toUpperCase())) continue;
      op.security ??= [{ [BEARER_SCHEME.name]: [] }];
      op.responses = {
        ...op.responses,
        401: op.responses?.[401] ?? {
          description: "no bearer token, or not the server's API_TOKEN (only when the server has one)",
          content: { "application/json": { schema: { type: "object", properties: { error }, required: ["error"] } } },
        },
      };
    }
  return doc;
}
