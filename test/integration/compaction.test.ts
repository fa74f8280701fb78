import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGREE, compactionsDone, exactly, mismatches, segments, totals } from "../helpers/audit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { ingestGenerated, startTestServices, type Started } from "../helpers/services.ts";

describe("compaction: the segments of large files stay at most MAX_SEGMENTS", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], {
      BULK_MIN_BYTES: "1",
      CHUNK_ROWS: "1000",
      MAX_SEGMENTS: "2",
    });
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("merges the smallest into one when a file makes one too many; every total, group and weekly count stays exact", async () => {
    // Overlapping regions, weeks and cells: the merged groups and gold add rows of the same keys.
    const sizes = [3000, 2000, 2500, 1500];
    let ingested = 0;
    const seen: number[][] = [];
    for (const [i, rows] of sizes.entries()) {
      await ingestGenerated(tf, db.pool, rows, 40 + i, `part-${i}.csv`);
      ingested += rows;
      await compactionsDone(db);
      seen.push(await segments(db));
      expect(await totals(db.pool)).toEqual(exactly(ingested));
      expect(await mismatches(db)).toEqual(AGREE);
    }
    // One segment, two, then a third file merges the two smallest (2,000 and 2,500 trips) into one, ...
    expect(seen.map((s) => s.length)).toEqual([1, 2, 2, 2]);
    const { rows: events } = await db.pool.query(
      "SELECT payload FROM audit.events WHERE type = 'silver.compacted' ORDER BY id",
    );
    expect(events.map((e) => [e.payload.segments.length, e.payload.into < 0, e.payload.rows])).toEqual([
      [2, true, 4500],
      [2, true, 1500 + 3000],
    ]);
    // ... and no table of a merged segment is left behind.
    const { rows: left } = await db.pool.query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('silver', 'gold') AND c.relkind = 'r' AND c.relname ~ '_(seg|cmp)_[0-9]+$'
         AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = c.oid)`,
    );
    expect(left[0].n).toBe(0);
  });

  it("answers a box question the same after a compaction", async () => {
    const ask = async () => {
      const res = await fetch(
        `${tf.baseUrl}/stats/weekly-average?bbox=14.3,50.0,14.55,50.15&match=origin&from=2019-01-07&to=2020-12-28`,
      );
      expect(res.status).toBe(200);
      return res.json();
    };
    const before = await ask();
    await ingestGenerated(tf, db.pool, 1000, 60, "part-4.csv");
    await compactionsDone(db);
    const after = (await ask()) as { trips: number };
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM silver.trips WHERE ST_X(origin) BETWEEN 14.3 AND 14.55 AND ST_Y(origin) BETWEEN 50.0 AND 50.15
         AND trip_time >= '2019-01-07' AND trip_time < '2021-01-04'`,
    );
    expect(after.trips).toBe(rows[0].n);
    expect(after.trips).toBeGreaterThan((before as { trips: number }).trips);
    expect((await segments(db)).length).toBe(2);
  });
}, 300_000);
