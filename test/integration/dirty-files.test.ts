import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import {
  dirtyFile,
  shuffledColumns,
  type DirtyExpectation,
  type DirtyOptions,
  type ReasonKey,
} from "../helpers/dirty.ts";
import { rng } from "../helpers/random.ts";
import { dropFile, startTestServices, type Started } from "../helpers/services.ts";
import { readSse, type SseFrame } from "../helpers/sse.ts";

type Sse = ReturnType<typeof readSse>;
type Ctx = { db: TestDatabase; tf: Started; sse: Sse; tmp: string };

const event = (f: SseFrame) =>
  JSON.parse(f.data) as { id: number; ingestion_id: number; type: string; payload: Record<string, unknown> };

/** Drops `bytes` into landing as `name`; resolves with the ingestion id once the file is archived. */
async function ingest(ctx: Ctx, name: string, bytes: Buffer, timeoutMs = 60_000): Promise<number> {
  const source = join(ctx.tmp, name);
  await writeFile(source, bytes);
  await dropFile(ctx.tf.landing, source, name);
  const discovered = await ctx.sse.waitFor(
    (f) => f.event === "ingestion.discovered" && event(f).payload.file === name,
    timeoutMs,
  );
  const id = event(discovered).ingestion_id;
  await ctx.sse.waitFor((f) => f.event === "file.archived" && event(f).ingestion_id === id, timeoutMs);
  return id;
}

/** Which reason key a stored reason starts with (the longest that fits). */
function keyOf(reason: string, keys: ReasonKey[]): string {
  return keys.filter((k) => reason.startsWith(k)).sort((a, b) => b.length - a.length)[0] ?? `unknown: ${reason}`;
}

const ALL_KEYS: ReasonKey[] = [
  "wrong number of fields",
  "unparseable CSV line",
  "empty region",
  "empty datasource",
  "unparseable origin point",
  "unparseable destination point",
  "origin longitude",
  "origin latitude",
  "destination longitude",
  "destination latitude",
  "unparseable or impossible datetime",
];

/** Everything a dirty file's ingestion must show, checked against the generator's own accounting. */
async function expectAccounting(ctx: Ctx, id: number, name: string, expected: DirtyExpectation): Promise<void> {
  const { db, tf, sse } = ctx;
  expect(expected.loaded + expected.rejected).toBe(expected.dataLines);

  // audit.ingestions
  const { rows: ing } = await db.pool.query(
    "SELECT status, rows_loaded::int, rows_rejected::int, lines::int, error, archived_as FROM audit.ingestions WHERE id = $1",
    [id],
  );
  expect(ing[0]).toEqual({
    status: "completed",
    rows_loaded: expected.loaded,
    rows_rejected: expected.rejected,
    lines: expected.dataLines,
    error: null,
    archived_as: join(tf.archive, `${id}-${name}`),
  });

  // the final event, as a client of GET /events received it
  const completed = sse.frames.filter((f) => f.event === "ingestion.completed" && event(f).ingestion_id === id);
  expect(completed).toHaveLength(1);
  expect(event(completed[0]!).payload).toMatchObject({
    rows_loaded: expected.loaded,
    rows_rejected: expected.rejected,
  });

  // GET /ingestions/{id}
  const res = await fetch(`${tf.baseUrl}/ingestions/${id}`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({
    id,
    status: "completed",
    rows_loaded: expected.loaded,
    rows_rejected: expected.rejected,
  });

  // audit.rejects: exactly the expected lines, each with its reason and its text
  const { rows: rejects } = await db.pool.query<{ line_no: number; raw: string; reason: string }>(
    "SELECT line_no::int, raw, reason FROM audit.rejects WHERE ingestion_id = $1 ORDER BY line_no",
    [id],
  );
  expect(rejects.map((r) => r.line_no)).toEqual(expected.rejectedLines);
  for (const [i, want] of expected.rejects.entries()) {
    const got = rejects[i]!;
    const where = `line ${want.line}: ${JSON.stringify(want.text)} -> ${JSON.stringify(got.reason)}`;
    expect(got.reason.startsWith(want.reason), where).toBe(true);
    expect(got.raw.length, where).toBeGreaterThan(0);
    // Kept as it was read: the line as written, whatever was wrong with it.
    expect(got.raw, where).toBe(want.text);
  }
  const byReason: Record<string, number> = {};
  for (const r of rejects) byReason[keyOf(r.reason, ALL_KEYS)] = (byReason[keyOf(r.reason, ALL_KEYS)] ?? 0) + 1;
  expect(byReason).toEqual(expected.byReason);

  // GET /ingestions/{id}/rejects, 7 at a time, visits every reject once, in line order
  const paged: number[] = [];
  let after: number | null = null;
  for (let page = 0; page < 10_000; page++) {
    const r = await fetch(`${tf.baseUrl}/ingestions/${id}/rejects?limit=7${after === null ? "" : `&after=${after}`}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { rejects: { line_no: number; reason: string }[]; next_after: number | null };
    expect(body.rejects.length).toBeLessThanOrEqual(7);
    paged.push(...body.rejects.map((x) => x.line_no));
    after = body.next_after;
    if (after === null) break;
  }
  expect(paged).toEqual(expected.rejectedLines);

  // silver: the good lines, each once, per region as generated
  const { rows: regions } = await db.pool.query<{ name: string; n: number }>(
    "SELECT r.name, count(*)::int AS n FROM silver.trips t JOIN silver.regions r ON r.id = t.region_id WHERE t.ingestion_id = $1 GROUP BY 1",
    [id],
  );
  expect(Object.fromEntries(regions.map((r) => [r.name, r.n]))).toEqual(expected.loadedByRegion);
  const { rows: lines } = await db.pool.query<{ lines: number[] }>(
    "SELECT coalesce(array_agg(line_no::int ORDER BY line_no), '{}') AS lines FROM silver.trips WHERE ingestion_id = $1",
    [id],
  );
  expect(lines[0]!.lines).toEqual(expected.loadedLines);

  // gold counts every silver trip once
  const { rows: totals } = await db.pool.query(`SELECT
      (SELECT count(*) FROM silver.trips)::int AS silver,
      (SELECT coalesce(sum(trips), 0) FROM gold.weekly_regions)::int AS regions,
      (SELECT coalesce(sum(trips), 0) FROM gold.weekly_origin_cells)::int AS origins,
      (SELECT coalesce(sum(trips), 0) FROM gold.weekly_destination_cells)::int AS destinations,
      (SELECT coalesce(sum(trips), 0) FROM silver.trip_groups)::int AS groups`);
  const t = totals[0]!;
  expect(t).toEqual({
    silver: t.silver,
    regions: t.silver,
    origins: t.silver,
    destinations: t.silver,
    groups: t.silver,
  });

  expect(await readdir(tf.landing)).toEqual([]);
  expect(await readdir(tf.archive)).toContain(`${id}-${name}`);
}

async function setUp(env: Record<string, string> = {}): Promise<Ctx> {
  const db = await createTestDatabase();
  const tf = await startTestServices(db.url, ["api", "worker", "watch"], env);
  const sse = readSse((await fetch(`${tf.baseUrl}/events`)).body!);
  const tmp = await mkdtemp(join(tmpdir(), "tripflow-dirty-"));
  return { db, tf, sse, tmp };
}

async function tearDown(ctx: Ctx | undefined): Promise<void> {
  await ctx?.sse.close();
  await ctx?.tf.stop();
  await ctx?.db.drop();
}

describe("dirty files: every data line stored once or rejected with its reason", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await setUp();
  });
  afterAll(() => tearDown(ctx));

  const cases: { name: string; seed: number; lines: number; options: DirtyOptions }[] = [
    { name: "plain.csv", seed: 1, lines: 1500, options: {} },
    {
      name: "bom-crlf-trailing.csv",
      seed: 2,
      lines: 1500,
      options: { bom: true, crlf: true, trailingEmptyLine: true },
    },
    {
      name: "permuted-crlf.csv",
      seed: 3,
      lines: 1500,
      options: { order: shuffledColumns(3), crlf: true, messyHeader: true },
    },
    {
      name: "permuted-no-final-newline.csv",
      seed: 4,
      lines: 800,
      options: { order: shuffledColumns(4), finalNewline: false, badRate: 0.3 },
    },
  ];

  it.each(cases)("$name (seed $seed)", async ({ name, seed, lines, options }) => {
    const { bytes, expected } = dirtyFile(seed, lines, options);
    // The generator did produce what the case is about.
    expect(expected.rejected).toBeGreaterThan(0);
    expect(Object.keys(expected.byReason).length).toBeGreaterThanOrEqual(8);
    const id = await ingest(ctx, name, bytes);
    await expectAccounting(ctx, id, name, expected);
  });

  it("loads a file with ONE bad line among 200,000 with only that line rejected (timing printed)", async () => {
    const lines = 200_000;
    const good = dirtyFile(11, lines, { badRate: 0, variantRate: 0, blankRate: 0 });
    const text = good.bytes.toString("utf8").split("\n");
    const at = 2 + Math.floor(rng(12)() * lines); // a line number among the data lines
    const badLine = "Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40"; // four fields
    text.splice(at - 1, 0, badLine);
    const bad = Buffer.from(text.join("\n"));

    const loadTime = async (id: number) => {
      const { rows } = await ctx.db.pool.query(
        `SELECT extract(epoch FROM max(created_at) FILTER (WHERE type = 'bronze.loaded') - max(created_at) FILTER (WHERE type = 'ingestion.discovered')) * 1000 AS load_ms,
                max((payload->>'duration_ms')::int) FILTER (WHERE type = 'ingestion.completed') AS total_ms
         FROM audit.events WHERE ingestion_id = $1`,
        [id],
      );
      return { load: Number(rows[0].load_ms), total: Number(rows[0].total_ms) };
    };

    const goodId = await ingest(ctx, "clean-200k.csv", good.bytes, 180_000);
    const badId = await ingest(ctx, "one-bad-200k.csv", bad, 180_000);

    const { rows } = await ctx.db.pool.query(
      "SELECT id::int, status, rows_loaded::int, rows_rejected::int FROM audit.ingestions WHERE id = ANY($1) ORDER BY id",
      [[goodId, badId]],
    );
    expect(rows).toEqual([
      { id: goodId, status: "completed", rows_loaded: lines, rows_rejected: 0 },
      { id: badId, status: "completed", rows_loaded: lines, rows_rejected: 1 },
    ]);
    const { rows: rejects } = await ctx.db.pool.query(
      "SELECT line_no::int, raw, reason FROM audit.rejects WHERE ingestion_id = $1",
      [badId],
    );
    expect(rejects).toEqual([{ line_no: at, raw: badLine, reason: "wrong number of fields: expected 5, found 4" }]);
    // The lines after the bad one keep their own numbers.
    const { rows: around } = await ctx.db.pool.query(
      "SELECT array_agg(line_no::int ORDER BY line_no) AS lines FROM silver.trips WHERE ingestion_id = $1 AND line_no BETWEEN $2 AND $3",
      [badId, at - 2, at + 2],
    );
    expect(around[0].lines).toEqual([at - 2, at - 1, at + 1, at + 2].filter((l) => l >= 2 && l <= lines + 2));

    const clean = await loadTime(goodId);
    const oneBad = await loadTime(badId);
    console.log(
      `one bad line in ${lines} (line ${at}): bronze load ${oneBad.load.toFixed(0)} ms vs ${clean.load.toFixed(0)} ms clean ` +
        `(ratio ${(oneBad.load / clean.load).toFixed(2)}); whole ingestion ${oneBad.total} ms vs ${clean.total} ms ` +
        `(ratio ${(oneBad.total / clean.total).toFixed(2)})`,
    );
  }, 400_000);

  it("keeps serving", async () => {
    const res = await fetch(`${ctx.tf.baseUrl}/health`);
    expect(res.status).toBe(200);
  });
});

// The same file both ways: chunk by chunk through bronze and the SQL transform, and as a large file
// written straight into its segment (BULK_MIN_BYTES 1) by the loader's own reading of each line.
describe.each<{ path: string; env: Record<string, string> }>([
  { path: "chunk by chunk", env: {} },
  { path: "as a large file, straight into its segment", env: { BULK_MIN_BYTES: "1" } },
])(
  "a dirty file over several chunks, $path: structural faults (short lines, stray quotes, `\\.`) in some chunks only, and at chunk boundaries",
  ({ env }) => {
    let ctx: Ctx;
    beforeAll(async () => {
      ctx = await setUp({ CHUNK_ROWS: "1000", ...env });
    });
    afterAll(() => tearDown(ctx));

    // Chunk k holds lines 2 + 1000k .. 1001 + 1000k. Structural faults (lines a CSV COPY would refuse)
    // only in chunks 1 and 3: the accounting must close per chunk either way.
    const chunkOf = (line: number) => Math.floor((line - 2) / 1000);
    const options: DirtyOptions = {
      bom: true,
      crlf: true,
      order: shuffledColumns(21),
      badRate: 0.2,
      blankRate: 0.02,
      copyRefusedAt: (line) => chunkOf(line) === 1 || chunkOf(line) === 3,
    };

    it("closes the accounting of every chunk", async () => {
      const { bytes, expected } = dirtyFile(21, 5000, options);
      const refusedChunks = new Set(expected.copyRefusedLines.map(chunkOf));
      expect([...refusedChunks].sort()).toEqual([1, 3]);
      const id = await ingest(ctx, "chunks.csv", bytes);
      await expectAccounting(ctx, id, "chunks.csv", expected);
      const { rows } = await ctx.db.pool.query("SELECT chunks FROM audit.ingestions WHERE id = $1", [id]);
      expect(rows[0].chunks).toBe(5);
      const promoted = ctx.sse.frames
        .filter((f) => f.event === "silver.promoted" && event(f).ingestion_id === id)
        .map((f) => event(f).payload);
      expect(promoted.map((p) => p.chunk).sort()).toEqual([0, 1, 2, 3, 4]);
      const sum = (k: string) => promoted.reduce((s, p) => s + (p[k] as number), 0);
      expect({ rows: sum("rows"), rejected: sum("rejected") }).toEqual({
        rows: expected.loaded,
        rejected: expected.rejected,
      });
    });

    it("also when structural faults sit at chunk boundaries", async () => {
      // Stray-quote pairs, short lines, `\.` and blank lines right at the end of one chunk and the start of the next.
      const boundary = [1000, 1001, 1002, 1003, 2000, 2001, 2002];
      const { bytes, expected } = dirtyFile(29, 3000, {
        badRate: 0.4,
        blankRate: 0.2,
        copyRefusedAt: (line) => boundary.includes(line),
        copyRefusedShare: 1,
      });
      // This seed puts a stray-quote pair across each boundary (chunk 0 ends at line 1001, chunk 1 at 2001).
      const csvBroken = expected.rejects.filter((r) => r.key === "unparseable CSV line").map((r) => r.line);
      expect(csvBroken).toEqual(expect.arrayContaining([1001, 1002, 2001, 2002]));
      const id = await ingest(ctx, "boundaries.csv", bytes);
      await expectAccounting(ctx, id, "boundaries.csv", expected);
    });
  },
);
