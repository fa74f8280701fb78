import { randomBytes } from "node:crypto";
import { appendFile, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAME_MAX_CHARS } from "../../pipeline/bronze/parse.ts";
import { generate } from "../bench/generate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { dropFile, startTestServices, type Started } from "../helpers/services.ts";
import { readSse, type SseFrame } from "../helpers/sse.ts";

const event = (f: SseFrame) =>
  JSON.parse(f.data) as { ingestion_id: number; type: string; payload: Record<string, unknown> };

/** Well under the test timeout (60 s): a poisoned line must cost no more than any other bad line. */
const QUICKLY_MS = 30_000;

describe("a poisoned value: one huge name among good lines", () => {
  let db: TestDatabase;
  let tf: Started;
  let sse: ReturnType<typeof readSse>;
  let tmp: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url);
    sse = readSse((await fetch(`${tf.baseUrl}/events`)).body!);
    tmp = await mkdtemp(join(tmpdir(), "tripflow-poisoned-"));
  });

  afterAll(async () => {
    await sse?.close();
    await tf?.stop();
    await db?.drop();
  });

  /** Drops `source` into landing as `name`; the ingestion's id and its time from drop to ingestion.completed. */
  async function ingest(source: string, name: string): Promise<{ id: number; ms: number }> {
    const started = Date.now();
    await dropFile(tf.landing, source, name);
    const discovered = await sse.waitFor(
      (f) => f.event === "ingestion.discovered" && event(f).payload.file === name,
      QUICKLY_MS,
    );
    const id = event(discovered).ingestion_id;
    const end = await sse.waitFor(
      (f) => (f.event === "ingestion.completed" || f.event === "ingestion.failed") && event(f).ingestion_id === id,
      QUICKLY_MS,
    );
    expect(end.event, end.data).toBe("ingestion.completed");
    return { id, ms: Date.now() - started };
  }

  /** The ingestion's accounting, its rejects as GET /ingestions/{id}/rejects answers, and the totals. */
  async function expectOutcome(
    id: number,
    loaded: number,
    reject: { line_no: number; raw: string; reason: string },
  ): Promise<void> {
    const one = await fetch(`${tf.baseUrl}/ingestions/${id}`);
    expect(await one.json()).toMatchObject({
      id,
      status: "completed",
      rows_loaded: loaded,
      rows_rejected: 1,
      error: null,
    });

    const res = await fetch(`${tf.baseUrl}/ingestions/${id}/rejects`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      rejects: { line_no: number; raw: string; reason: string }[];
      next_after: number | null;
    };
    expect(body.rejects.map((r) => [r.line_no, r.reason])).toEqual([[reject.line_no, reject.reason]]);
    expect(body.rejects[0]!.raw === reject.raw).toBe(true); // not toEqual: a failure would print megabytes
    expect(body.next_after).toBeNull();

    const { rows } = await db.pool.query<{ stored: number }>(
      "SELECT count(*)::int AS stored FROM silver.trips WHERE ingestion_id = $1::bigint",
      [id],
    );
    expect(rows[0]!.stored).toBe(loaded);

    // Every silver trip counted once in gold; no name over the limit reached the dimensions.
    const { rows: totals } = await db.pool.query(`SELECT
        (SELECT count(*) FROM silver.trips)::int AS silver,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_regions)::int AS gold,
        (SELECT coalesce(max(char_length(name)), 0) FROM silver.regions)::int AS longest_region,
        (SELECT coalesce(max(char_length(name)), 0) FROM silver.datasources)::int AS longest_datasource`);
    const t = totals[0]!;
    expect(t.gold).toBe(t.silver);
    expect(t.longest_region).toBeLessThanOrEqual(NAME_MAX_CHARS);
    expect(t.longest_datasource).toBeLessThanOrEqual(NAME_MAX_CHARS);
  }

  it("rejects the last line of 50,000 (a 3,000-character datasource) and loads the rest", async () => {
    const source = join(tmp, "long-datasource.csv");
    await generate(49_999, 12, source);
    const bad = `Prague,POINT (14.4 50.1),POINT (14.5 50.0),2018-05-29 08:00:00,${"d".repeat(3000)}`;
    await appendFile(source, `${bad}\n`);

    const { id, ms } = await ingest(source, "long-datasource.csv");
    expect(ms).toBeLessThan(QUICKLY_MS);
    // The header is line 1: the generated trips are lines 2..50000, the poisoned one line 50001.
    await expectOutcome(id, 49_999, {
      line_no: 50_001,
      raw: bad,
      reason: "datasource longer than 100 characters (3000)",
    });
  });

  it("rejects a line whose region is 10 MB and loads the lines around it", async () => {
    const source = join(tmp, "huge-region.csv");
    // Hex of random bytes: 10,000,000 characters that no compression shrinks below an index's limit.
    const bad = `${randomBytes(5_000_000).toString("hex")},POINT (14.4 50.1),POINT (14.5 50.0),2018-05-29 08:00:00,cheap_mobile`;
    await writeFile(
      source,
      [
        "region,origin_coord,destination_coord,datetime,datasource",
        "Poisonville,POINT (14.4 50.1),POINT (14.5 50.0),2018-05-29 08:00:00,cheap_mobile",
        bad,
        "Poisonville,POINT (14.5 50.0),POINT (14.4 50.1),2018-05-29 18:00:00,cheap_mobile",
        "",
      ].join("\n"),
    );

    const { id, ms } = await ingest(source, "huge-region.csv");
    expect(ms).toBeLessThan(QUICKLY_MS);
    await expectOutcome(id, 2, { line_no: 3, raw: bad, reason: "region longer than 100 characters (10000000)" });
  });
});
