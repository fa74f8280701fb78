import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordTestEvent } from "../helpers/audit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startTestServices, type Started } from "../helpers/services.ts";
import { readSse } from "../helpers/sse.ts";

// The API as `npm run api` serves it (a real port, real PostgreSQL), with and without API_TOKEN and
// CORS_ORIGINS: writes need the token, reads stay open, CORS answers only the listed origins.

const TOKEN = "test-token-0123456789abcdef";
const ALLOWED = "https://dashboard.example";
const OTHER = "https://elsewhere.example";
const CSV =
  "region,origin_coord,destination_coord,datetime,datasource\nPrague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40,src\n";

function post(baseUrl: string, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl}/ingestions?name=guarded.csv`, {
    method: "POST",
    headers: { "content-type": "text/csv", ...headers },
    body: CSV,
  });
}

const landingFiles = (dir: string) => readdir(dir).catch(() => [] as string[]);

describe("with API_TOKEN and CORS_ORIGINS", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api"], { API_TOKEN: TOKEN, CORS_ORIGINS: ALLOWED });
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("answers POST /ingestions 401 without a token and with a wrong one, storing nothing; 202 with the right one", async () => {
    const none = await post(tf.baseUrl);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
    expect(await none.json()).toEqual({
      error: { code: "unauthorized", message: expect.stringContaining("API_TOKEN") },
    });

    const wrong = await post(tf.baseUrl, { authorization: `Bearer ${TOKEN}-not` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toBe('Bearer realm="tripflow", error="invalid_token"');
    expect((await wrong.json()).error.code).toBe("unauthorized");

    expect((await db.pool.query("SELECT 1 FROM audit.ingestions")).rowCount).toBe(0);
    expect(await landingFiles(tf.landing)).toEqual([]);

    const right = await post(tf.baseUrl, { authorization: `Bearer ${TOKEN}` });
    expect(right.status).toBe(202);
    expect(await right.json()).toMatchObject({ status: "queued", file_name: "guarded.csv" });
    expect(await landingFiles(tf.landing)).toEqual(["guarded.csv"]);
  });

  it("keeps the read routes open without a token", async () => {
    for (const path of [
      "/health",
      "/ingestions",
      "/groups",
      "/stats/weekly-average?bbox=14.4,50.0,14.5,50.1",
      "/openapi.json",
    ]) {
      const res = await fetch(`${tf.baseUrl}${path}`);
      expect(res.status, path).toBe(200);
      await res.body?.cancel();
    }
  });

  it("documents the bearer scheme on POST /ingestions, and on no read", async () => {
    type Op = { security?: Record<string, string[]>[]; responses: Record<string, { description: string }> };
    const doc = (await (await fetch(`${tf.baseUrl}/openapi.json`)).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, Op>>;
    };
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const upload = doc.paths["/ingestions"]!.post!;
    expect(upload.security).toEqual([{ bearerAuth: [] }]);
    expect(upload.responses["401"]?.description).toMatch(/API_TOKEN/);
    const reads = Object.values(doc.paths).flatMap((item) =>
      Object.entries(item).filter(([method]) => method === "get"),
    );
    expect(reads.length).toBeGreaterThan(5);
    for (const [, op] of reads) expect(op.security).toBeUndefined();
  });

  it("answers CORS for an allowed origin on reads, on a preflight and on a refused write", async () => {
    const read = await fetch(`${tf.baseUrl}/stats/weekly-average?bbox=14.4,50.0,14.5,50.1`, {
      headers: { origin: ALLOWED },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(read.headers.get("vary")).toMatch(/\bOrigin\b/);
    await read.body?.cancel();

    const preflight = await fetch(`${tf.baseUrl}/ingestions`, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(preflight.headers.get("access-control-allow-methods")?.split(",")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase().split(",")).toEqual(
      expect.arrayContaining(["authorization", "content-type"]),
    );

    // A browser may read why its write was refused.
    const refused = await post(tf.baseUrl, { origin: ALLOWED });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    await refused.body?.cancel();
  });

  it("sends no Access-Control-Allow-Origin to another origin", async () => {
    const read = await fetch(`${tf.baseUrl}/stats/weekly-average?bbox=14.4,50.0,14.5,50.1`, {
      headers: { origin: OTHER },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
    await read.body?.cancel();
    const preflight = await fetch(`${tf.baseUrl}/ingestions`, {
      method: "OPTIONS",
      headers: { origin: OTHER, "access-control-request-method": "POST" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("streams /events live to an allowed origin", async () => {
    const { rows } = await db.pool.query<{ id: number }>("SELECT coalesce(max(id), 0)::bigint AS id FROM audit.events");
    const res = await fetch(`${tf.baseUrl}/events?after=${rows[0]!.id}`, {
      headers: { origin: ALLOWED, accept: "text/event-stream" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    const sse = readSse(res.body!);
    try {
      // Inserted after the response began; an event stream never ends, so a buffered one would show nothing.
      const id = await recordTestEvent(db.pool, null, "test.cors", { n: 1 });
      const frame = await sse.waitFor((f) => f.event === "test.cors");
      expect(frame.id).toBe(String(id));
    } finally {
      await sse.close();
    }
  });
});

describe("without API_TOKEN and CORS_ORIGINS", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api"]);
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("sends no CORS headers, even to a preflight", async () => {
    const read = await fetch(`${tf.baseUrl}/stats/weekly-average?bbox=14.4,50.0,14.5,50.1`, {
      headers: { origin: ALLOWED },
    });
    expect(read.status).toBe(200);
    expect([...read.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    await read.body?.cancel();
    const preflight = await fetch(`${tf.baseUrl}/ingestions`, {
      method: "OPTIONS",
      headers: { origin: ALLOWED, "access-control-request-method": "POST" },
    });
    expect([...preflight.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    await preflight.body?.cancel();
  });

  it("refuses to start the API on 0.0.0.0 without a token, naming the fix", async () => {
    await expect(startTestServices(db.url, ["api"], { HOST: "0.0.0.0" })).rejects.toThrow(
      "HOST=0.0.0.0 listens beyond this machine: set API_TOKEN (e.g. API_TOKEN=$(openssl rand -hex 32)) or HOST=127.0.0.1",
    );
  });

  it("refuses an API_TOKEN shorter than 16 characters at start", async () => {
    await expect(startTestServices(db.url, ["api"], { API_TOKEN: "short" })).rejects.toThrow(
      /API_TOKEN: must be at least 16 characters/,
    );
  });

  it("takes uploads without a token while it listens on loopback", async () => {
    const res = await post(tf.baseUrl);
    expect(res.status).toBe(202);
    await res.body?.cancel();
  });
});
