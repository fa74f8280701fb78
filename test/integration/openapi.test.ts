import { z } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { createApp } from "../../api/app.ts";
import { testApp } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

type Parameter = {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Record<string, unknown>;
};
type Operation = {
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string }>;
};
type Document = {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
};

let db: TestDatabase;
let app: ReturnType<typeof createApp>;
let close: (() => Promise<void>) | undefined;
let doc: Document;

/** Pages for people, not API: the document and its viewer, the console and its files. */
const PAGES = (path: string) =>
  path === "/openapi.json" ||
  path === "/docs" ||
  path.startsWith("/docs/") ||
  path === "/" ||
  path.startsWith("/console/");

/** "GET /groups/{id}/trips" for every route the app answers, except the pages. */
function appRoutes(): string[] {
  const names = app.routes
    .filter((r) => r.method !== "ALL" && !PAGES(r.path))
    .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, "{$1}")}`);
  return [...new Set(names)].sort();
}

function documented(): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

const op = (method: string, path: string) =>
  doc.paths[path]?.[method] ?? expect.fail(`${method} ${path} is not documented`);
const params = (o: Operation, where: string) =>
  (o.parameters ?? [])
    .filter((p) => p.in === where)
    .map((p) => p.name)
    .sort();

beforeAll(async () => {
  db = await createTestDatabase();
  ({ app, close } = await testApp(db));
  const res = await app.request("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = JSON.parse(await res.text());
});

afterAll(async () => {
  await close?.();
  await db?.drop();
});

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1.0 document titled tripflow", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "tripflow", version: "0.1.0" });
    expect(doc.info.description).toBeTruthy();
  });

  it("documents exactly the routes the app answers", () => {
    const routes = appRoutes();
    for (const known of [
      "GET /health",
      "GET /events",
      "GET /groups",
      "GET /groups/{id}/trips",
      "GET /ingestions",
      "POST /ingestions",
      "GET /ingestions/{id}",
      "GET /ingestions/{id}/rejects",
      "GET /regions",
      "GET /stats/cells",
      "GET /stats/weekly-average",
    ])
      expect(routes).toContain(known);
    expect(documented()).toEqual(routes);
  });

  it("gives every operation a summary and every response a description", () => {
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, o] of Object.entries(item)) {
        expect(o.summary, `${method} ${path}`).toBeTruthy();
        expect(Object.keys(o.responses).length, `${method} ${path}`).toBeGreaterThan(0);
        for (const r of Object.values(o.responses)) expect(r.description, `${method} ${path}`).toBeTruthy();
      }
  });

  it("documents each path's {parameters} as required path parameters", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
      for (const o of Object.values(item)) {
        expect(params(o, "path"), path).toEqual(names);
        for (const p of (o.parameters ?? []).filter((p) => p.in === "path"))
          expect(p.required, `${path} ${p.name}`).toBe(true);
      }
    }
  });

  it("documents every query parameter of every route's zod schema", () => {
    let checked = 0;
    for (const def of app.openAPIRegistry.definitions) {
      if (def.type !== "route") continue;
      const query = def.route.request?.query;
      const expected = query instanceof z.ZodObject ? Object.keys(query.shape).sort() : [];
      expect(
        params(op(def.route.method, def.route.path.replace(/:([^/]+)/g, "{$1}")), "query"),
        `${def.route.method} ${def.route.path}`,
      ).toEqual(expected);
      checked++;
    }
    expect(checked).toBe(appRoutes().length);
  });

  it("has the parameters, descriptions and bodies of the routes as written", () => {
    expect(params(op("get", "/health"), "query")).toEqual([]);
    const events = op("get", "/events");
    expect(params(events, "query")).toEqual(["after", "ingestion"]);
    expect(events.description).toContain("Last-Event-ID");
    expect(events.parameters!.find((p) => p.name === "after")).toMatchObject({
      required: false,
      description: "replay events after this id (as Last-Event-ID)",
      schema: { type: "string", pattern: "^\\d{1,15}$" },
    });
    expect(params(op("get", "/groups"), "query")).toEqual(["bbox", "cell", "limit", "min_trips", "region", "slot"]);
    expect(params(op("get", "/groups/{id}/trips"), "query")).toEqual(["cursor", "limit"]);
    expect(params(op("get", "/ingestions"), "query")).toEqual(["before", "limit"]);
    expect(params(op("get", "/ingestions/{id}/rejects"), "query")).toEqual(["after", "limit"]);
    expect(params(op("get", "/regions"), "query")).toEqual([]);
    expect(params(op("get", "/stats/weekly-average"), "query")).toEqual(["bbox", "from", "match", "region", "to"]);
    const cells = op("get", "/stats/cells");
    expect(params(cells, "query")).toEqual(["bbox", "from", "level", "match", "region", "to"]);
    expect(cells.description).toContain("not an exact count");
    expect(cells.parameters!.find((p) => p.name === "level")).toMatchObject({
      required: false,
      schema: { type: "string", pattern: "^\\d{1,10}$", default: 8 },
    });
    expect(Object.keys(cells.responses).sort()).toEqual(["200", "400", "404"]);
    const upload = op("post", "/ingestions");
    expect(params(upload, "query")).toEqual(["name"]);
    expect(Object.keys(upload.requestBody!.content)).toEqual(["text/csv"]);
    expect(Object.keys(upload.responses).sort()).toEqual(["200", "202", "400", "401", "413", "415"]);
  });
});

describe("GET /docs", () => {
  const ASSETS = "/docs/assets/";

  it("is Swagger UI's page, with its files from this server and nothing from the network", async () => {
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    const html = await res.text();
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/https?:\/\//i); // no CDN
    expect(html).not.toMatch(/<script>|<style|\son\w+=/i); // no inline script or style
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual(
      [
        "/openapi.json",
        `${ASSETS}favicon-16x16.png`,
        `${ASSETS}favicon-32x32.png`,
        `${ASSETS}swagger-initializer.js`,
        `${ASSETS}swagger-ui-bundle.js`,
        `${ASSETS}swagger-ui.css`,
      ].sort(),
    );
    expect(html.indexOf("swagger-ui-bundle.js")).toBeLessThan(html.indexOf("swagger-initializer.js"));
  });

  it("serves each file the page references with its content type, a cache header and its full size", async () => {
    const expected: [string, string, number][] = [
      ["swagger-ui.css", "text/css; charset=utf-8", 50_000],
      ["swagger-ui-bundle.js", "text/javascript; charset=utf-8", 500_000],
      ["favicon-16x16.png", "image/png", 100],
      ["favicon-32x32.png", "image/png", 100],
      ["swagger-initializer.js", "text/javascript; charset=utf-8", 100],
    ];
    for (const [file, type, minBytes] of expected) {
      const res = await app.request(`${ASSETS}${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-type"), file).toBe(type);
      expect(res.headers.get("cache-control"), file).toMatch(/max-age=\d+/);
      expect(res.headers.get("x-content-type-options"), file).toBe("nosniff");
      const body = new Uint8Array(await res.arrayBuffer());
      expect(body.length, file).toBeGreaterThan(minBytes);
      expect(Number(res.headers.get("content-length") ?? body.length), file).toBe(body.length);
    }
    const png = new Uint8Array(await (await app.request(`${ASSETS}favicon-32x32.png`)).arrayBuffer());
    expect([...png.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]); // PNG signature, bytes untouched
    const bundle = await (await app.request(`${ASSETS}swagger-ui-bundle.js`)).text();
    expect(bundle).toContain("SwaggerUIBundle");
  });

  it("starts Swagger UI on /openapi.json with Try it out enabled", async () => {
    const init = await (await app.request(`${ASSETS}swagger-initializer.js`)).text();
    expect(init).toContain('url: "/openapi.json"');
    expect(init).toContain("tryItOutEnabled: true");
    expect(init).toContain('dom_id: "#swagger-ui"');
  });

  it("answers 404 for any other file, including the package's others and paths that climb out", async () => {
    for (const path of [
      `${ASSETS}index.html`,
      `${ASSETS}swagger-ui.js`,
      `${ASSETS}package.json`,
      `${ASSETS}..%2Fpackage.json`,
      `${ASSETS}..%2F..%2Fpackage.json`,
      `${ASSETS}constructor`,
      `${ASSETS}__proto__`,
      "/docs/assets/",
      "/docs/other",
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect((await res.json()).error.code, path).toBe("not_found");
    }
  });
});
