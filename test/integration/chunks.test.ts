import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { rng } from "../helpers/random.ts";
import { dropFile, startTestServices, type Started } from "../helpers/services.ts";
import { readSse } from "../helpers/sse.ts";

/** 5,000 lines over five 1,000-line chunks; two bad lines, in chunks 1 and 3. */
function makeFile(): { text: string; perRegion: Record<string, number> } {
  const random = rng(42);
  const regions = ["Prague", "Turin", "Hamburg"];
  const perRegion: Record<string, number> = {};
  const lines = ["region,origin_coord,destination_coord,datetime,datasource"];
  for (let i = 0; i < 5000; i++) {
    const line = lines.length + 1;
    if (line === 1500) {
      lines.push("Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40"); // four fields
      continue;
    }
    if (line === 3200) {
      lines.push("Turin,POINT (7.6 95.0),POINT (7.7 45.1),2018-05-28 09:03:40,x"); // latitude 95
      continue;
    }
    const region = regions[Math.floor(random() * 3)]!;
    perRegion[region] = (perRegion[region] ?? 0) + 1;
    const lon = (10 + random()).toFixed(6);
    const lat = (45 + random()).toFixed(6);
    const day = 1 + Math.floor(random() * 28);
    lines.push(
      `${region},POINT (${lon} ${lat}),POINT (${lat} ${lon}),2019-02-${String(day).padStart(2, "0")} 12:00:00,src`,
    );
  }
  return { text: lines.join("\n") + "\n", perRegion };
}

describe("a file of several chunks with two bad lines", () => {
  let db: TestDatabase;
  let tf: Started;
  let sse: ReturnType<typeof readSse>;
  const { text, perRegion } = makeFile();

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], { CHUNK_ROWS: "1000", PROGRESS_INTERVAL_MS: "0" });
    sse = readSse((await fetch(`${tf.baseUrl}/events`)).body!);
    const source = join(tmpdir(), `tripflow-chunks-${process.pid}.csv`);
    await writeFile(source, text);
    await dropFile(tf.landing, source, "big.csv");
    await sse.waitFor((f) => f.event === "file.archived");
  });

  afterAll(async () => {
    await sse?.close();
    await tf?.stop();
    await db?.drop();
  });

  it("stores every good line once and rejects the two bad ones with their reasons", async () => {
    const { rows } = await db.pool.query(
      "SELECT status, rows_loaded, rows_rejected, chunks, lines FROM audit.ingestions",
    );
    expect(rows[0]).toEqual({ status: "completed", rows_loaded: 4998, rows_rejected: 2, chunks: 5, lines: 5000 });
    const { rows: rejects } = await db.pool.query("SELECT line_no, reason, raw FROM audit.rejects ORDER BY line_no");
    expect(rejects).toEqual([
      {
        line_no: 1500,
        reason: "wrong number of fields: expected 5, found 4",
        raw: "Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40",
      },
      {
        line_no: 3200,
        reason: "origin latitude 95 outside -90..90",
        raw: "Turin,POINT (7.6 95.0),POINT (7.7 45.1),2018-05-28 09:03:40,x",
      },
    ]);
    const { rows: regions } = await db.pool.query(
      "SELECT r.name, count(*)::int AS n FROM silver.trips t JOIN silver.regions r ON r.id = t.region_id GROUP BY 1",
    );
    expect(Object.fromEntries(regions.map((r) => [r.name, r.n]))).toEqual(perRegion);
    const { rows: lines } = await db.pool.query(
      "SELECT count(DISTINCT line_no)::int AS n, min(line_no)::int AS lo, max(line_no)::int AS hi FROM silver.trips",
    );
    expect(lines[0]).toEqual({ n: 4998, lo: 2, hi: 5001 });
  });

  it("keeps gold equal to silver", async () => {
    const { rows } = await db.pool.query(
      "SELECT (SELECT sum(trips) FROM gold.weekly_regions)::int AS r, (SELECT sum(trips) FROM gold.weekly_origin_cells)::int AS o, (SELECT sum(trips) FROM gold.weekly_destination_cells)::int AS d, (SELECT sum(trips) FROM silver.trip_groups)::int AS g",
    );
    expect(rows[0]).toEqual({ r: 4998, o: 4998, d: 4998, g: 4998 });
  });

  it("reports progress while loading and one promotion per chunk", async () => {
    const types = sse.frames.map((f) => f.event);
    expect(types.filter((t) => t === "bronze.progress")).toHaveLength(4); // after chunks 0..3; the last is bronze.loaded
    expect(types.filter((t) => t === "silver.promoted")).toHaveLength(5);
    expect(types.filter((t) => t === "gold.refreshed")).toHaveLength(5);
    expect(types.filter((t) => t === "silver.grouped")).toHaveLength(5);
    const progress = sse.frames
      .filter((f) => f.event === "bronze.progress")
      .map((f) => JSON.parse(f.data).payload.rows);
    expect(progress).toEqual([1000, 2000, 3000, 4000]);
    expect(types.indexOf("ingestion.completed")).toBeGreaterThan(types.lastIndexOf("gold.refreshed"));
    expect(types.indexOf("ingestion.completed")).toBeGreaterThan(types.lastIndexOf("silver.grouped"));
  });
});
