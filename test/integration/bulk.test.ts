import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exactly, totals } from "../helpers/audit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { ingestGenerated, startTestServices, type Started } from "../helpers/services.ts";

describe("the bulk path: a large file loads into a segment of its own, sealed as a unit", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Every file is "large" here; 1,000-line chunks make several of them.
    tf = await startTestServices(db.url, ["api", "worker", "watch"], { BULK_MIN_BYTES: "1", CHUNK_ROWS: "1000" });
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  const ingest = (rows: number, seed: number, name: string) => ingestGenerated(tf, db.pool, rows, seed, name);

  const typesOf = async (id: number) =>
    (await db.pool.query("SELECT type FROM audit.events WHERE ingestion_id = $1 ORDER BY id", [id])).rows.map(
      (r) => r.type,
    );

  it("completes with exact totals; its trips appear in silver, the groups and gold at once, by one seal", async () => {
    const id = await ingest(12_500, 11, "bulk-a.csv");
    const { rows } = await db.pool.query(
      "SELECT status, load_mode, rows_loaded::int, rows_rejected::int, chunks FROM audit.ingestions WHERE id = $1",
      [id],
    );
    expect(rows[0]).toEqual({
      status: "completed",
      load_mode: "bulk",
      rows_loaded: 12_500,
      rows_rejected: 0,
      chunks: 13,
    });
    expect(await totals(db.pool)).toEqual(exactly(12_500));
    const types = await typesOf(id);
    expect(types.filter((t) => t === "silver.promoted")).toHaveLength(13);
    expect(types.filter((t) => t === "silver.sealed")).toHaveLength(1);
    // No per-chunk merge: the seal merged the file at once, then completed it.
    expect(types.filter((t) => t === "silver.grouped" || t === "gold.refreshed")).toEqual([]);
    expect(types.indexOf("silver.sealed")).toBe(types.indexOf("ingestion.completed") - 1);
    const { rows: segment } = await db.pool.query(
      `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound,
              (SELECT count(*)::int FROM pg_index AS x WHERE x.indrelid = c.oid) AS indexes
       FROM pg_inherits AS h JOIN pg_class AS c ON c.oid = h.inhrelid
       WHERE h.inhparent = 'silver.trips'::regclass ORDER BY 1`,
    );
    expect(segment).toEqual([
      { relname: "trips_0", bound: "FOR VALUES IN (0)", indexes: 4 },
      { relname: `trips_seg_${id}`, bound: `FOR VALUES IN (${id})`, indexes: 4 },
    ]);
  });

  it("merges a second file into the same groups and gold, exactly", async () => {
    const before = (await totals(db.pool)).silver;
    await ingest(7_000, 12, "bulk-b.csv");
    expect(await totals(db.pool)).toEqual(exactly(before + 7_000));
  });
}, 300_000);
