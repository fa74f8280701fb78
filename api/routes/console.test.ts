import { readdirSync, readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../../pipeline/core/events.ts";
import { consoleRoutes } from "./console.ts";

const app = consoleRoutes();
const CONSOLE_DIR = new URL("../console/", import.meta.url);

/** The paths a page or module loads from this server: src/href attributes and relative imports. */
function references(text: string, from: string): string[] {
  const attributes = [...text.matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)].map((m) => m[1]!);
  const imports = [...text.matchAll(/from "(\.\/[^"]+)"/g)].map((m) => new URL(m[1]!, `http://x${from}`).pathname);
  return [...attributes, ...imports];
}

describe("the console's routes", () => {
  it("serves the page at / with a policy that allows nothing but this server", async () => {
    const res = await app.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await res.text();
    for (const id of ["connection", "event-count", "upload-input", "dropzone", "region-select", "map", "ask", "groups"])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain('<a id="api-docs" href="/docs">');
  });

  it("serves every file the page and its modules load, with its content type", async () => {
    const seen = new Set<string>();
    const queue = references(await (await app.request("/")).text(), "/");
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      const type = path.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
      expect(res.headers.get("content-type"), path).toBe(type);
      if (path.endsWith(".js")) queue.push(...references(await res.text(), path));
    }
    expect([...seen]).toEqual(
      expect.arrayContaining(["/console/vendor/uplot.js", "/console/vendor/uplot.css", "/console/contract.js"]),
    );
    // Every file of api/console/ is reachable from the page: none is dead, none missing from the allow-list.
    const own = readdirSync(CONSOLE_DIR).filter((f) => f !== "index.html");
    expect(own.map((f) => `/console/${f}`).filter((p) => !seen.has(p))).toEqual([]);
  });

  it("serves uPlot from its package and the event catalogue from pipeline/core", async () => {
    expect(await (await app.request("/console/vendor/uplot.js")).text()).toContain("uPlot");
    const contract = await (await app.request("/console/contract.js")).text();
    expect(contract).toContain(`export const EVENT_TYPES = ${JSON.stringify(EVENT_TYPES)};`);
  });

  it("answers 404 in the API's error format for a name off the list, and serves nothing outside its folder", async () => {
    for (const path of ["/console/nope.js", "/console/index.html", "/console/vendor/uPlot.esm.js"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ error: { code: "not_found" } });
    }
    // Normalised by the URL parser to /app.ts, which this router does not serve.
    for (const path of ["/console/../app.ts", "/console/%2e%2e/app.ts"])
      expect((await app.request(path)).status).toBe(404);
  });

  it("keeps its own code small and free of other origins", () => {
    const files = readdirSync(CONSOLE_DIR);
    const bytes = files.reduce((sum, f) => sum + statSync(new URL(f, CONSOLE_DIR)).size, 0);
    expect(bytes).toBeLessThanOrEqual(150 * 1024);
    for (const f of files) {
      const text = readFileSync(new URL(f, CONSOLE_DIR), "utf8");
      expect(text, f).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
      expect(text, f).not.toMatch(/\bon[a-z]+="/); // no inline event handlers
    }
  });
});
