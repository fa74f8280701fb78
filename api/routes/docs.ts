import type { OpenAPIHono } from "@hono/zod-openapi";
import { BEARER_SCHEME, SAFE_METHODS } from "../auth.ts";
import { newRouter } from "../router.ts";

type Documented = Pick<OpenAPIHono, "getOpenAPI31Document">;
type Document = ReturnType<Documented["getOpenAPI31Document"]>;
type PathItem = NonNullable<Document["paths"]>[string];
type Operation = NonNullable<PathItem["get"]>;
type Schema = NonNullable<NonNullable<Document["components"]>["schemas"]>[string];
type Ref = Extract<Schema, { $ref: string }>;

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

/**
 * GET /openapi.json (OpenAPI 3.1, generated from the routes' own zod schemas) and GET /docs (the same
 * document as a self-contained HTML page: no script, no CDN). The document is built on the first request,
 * so it lists whatever `app` has by then, wherever this is mounted.
 *
 * @example app.route("/", docsRoutes(app)); await app.request("/openapi.json");
 */
export function docsRoutes(app: Documented) {
  let document: Document | undefined;
  const get = () => (document ??= withBearer(app.getOpenAPI31Document(CONFIG)));
  return newRouter()
    .get("/openapi.json", (c) => c.json(get()))
    .get("/docs", (c) => c.html(page(get())));
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

const esc = (text: unknown) =>
  String(text).replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );

const isRef = (x: object): x is Ref => typeof (x as { $ref?: unknown }).$ref === "string";

/** One line for a parameter's or body's schema: type, format, enum, pattern, default. */
function describeSchema(schema: Schema | undefined): string {
  if (!schema) return "";
  if (isRef(schema)) return esc(schema.$ref.replace("#/components/schemas/", ""));
  const parts: string[] = [];
  if (schema.type) parts.push(esc([schema.type].flat().join(" | ")));
  if (schema.format) parts.push(`(${esc(schema.format)})`);
  if (schema.enum) parts.push(`one of ${esc(schema.enum.map((v) => JSON.stringify(v)).join(", "))}`);
  if (schema.pattern) parts.push(`pattern <code>${esc(schema.pattern)}</code>`);
  if (schema.default !== undefined) parts.push(`default ${esc(JSON.stringify(schema.default))}`);
  return parts.join(" ");
}

function operation(method: string, path: string, op: Operation): string {
  const params = (op.parameters ?? []).map((p) =>
    "$ref" in p
      ? `<tr><td colspan="4">${esc(p.$ref)}</td></tr>`
      : `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}${p.required ? ", required" : ""}</td>` +
        `<td>${describeSchema(p.schema)}</td><td>${esc(p.description ?? "")}</td></tr>`,
  );
  const body = op.requestBody && !("$ref" in op.requestBody) ? Object.keys(op.requestBody.content) : [];
  const responses = Object.entries(op.responses ?? {}).map(([status, r]) => {
    const types = "$ref" in r ? [] : Object.keys(r.content ?? {});
    return `<li><b>${esc(status)}</b> ${esc("$ref" in r ? r.$ref : r.description)}${types.length ? ` <small>${esc(types.join(", "))}</small>` : ""}</li>`;
  });
  return [
    `<section id="${esc(`${method}-${path}`)}">`,
    `<h2><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h2>`,
    op.summary ? `<p class="summary">${esc(op.summary)}</p>` : "",
    op.description ? `<p>${esc(op.description)}</p>` : "",
    op.security?.length
      ? "<p><b>Authorization:</b> <code>Bearer &lt;API_TOKEN&gt;</code> when the server has a token</p>"
      : "",
    params.length
      ? `<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>schema</th><th>description</th></tr>${params.join("")}</table>`
      : "",
    body.length ? `<h3>Request body</h3><p>${esc(body.join(", "))}</p>` : "",
    responses.length ? `<h3>Responses</h3><ul>${responses.join("")}</ul>` : "",
    "</section>",
  ]
    .filter(Boolean)
    .join("\n");
}

/** The document as one HTML page, rendered here so that it needs neither script nor network. */
function page(doc: Document): string {
  const ops = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [{ method, path, op: item[method]! }] : [])),
  );
  const toc = ops.map(
    ({ method, path, op }) =>
      `<li><a href="#${esc(`${method}-${path}`)}"><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></a> ${esc(op.summary ?? "")}</li>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{font:13px ui-monospace,monospace}section{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1.5rem}
h2{font-size:1.1rem}h3{font-size:.95rem;margin-bottom:.25rem}.summary{font-weight:600}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
.m{display:inline-block;min-width:3.5rem;font:bold 12px ui-monospace,monospace;color:#fff;background:#555;border-radius:3px;text-align:center}
.get{background:#2b7a3d}.post{background:#1f5fa8}.delete{background:#a83232}ul.toc{list-style:none;padding:0}
</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<ul class="toc">${toc.join("\n")}</ul>
${ops.map(({ method, path, op }) => operation(method, path, op)).join("\n")}
</body></html>
`;
}
