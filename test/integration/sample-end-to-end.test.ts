import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { dropFile, startTestServices, type Started } from "../helpers/services.ts";
import { readSse } from "../helpers/sse.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));

describe("the sample file, landing to gold", () => {
  let db: TestDatabase;
  let tf: Started;
  let sse: ReturnType<typeof readSse>;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url);
    const res = await fetch(`${tf.baseUrl}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    sse = readSse(res.body!);
    await dropFile(tf.landing, SAMPLE, "trips.csv");
    await sse.waitFor((f) => f.event === "file.archived");
  });

  afterAll(async () => {
    await sse?.close();
    await tf?.stop();
    await db?.drop();
  });

  it("stores all 100 trips in silver, per region as counted by hand", async () => {
    const { rows } = await db.pool.query(
      "SELECT r.name, count(*)::int AS n FROM silver.trips t JOIN silver.regions r ON r.id = t.region_id GROUP BY 1 ORDER BY 1",
    );
    expect(rows).toEqual([
      { name: "Hamburg", n: 28 },
      { name: "Prague", n: 34 },
      { name: "Turin", n: 38 },
    ]);
  });

  it("keeps gold and the groups equal to silver, region by region and week by week", async () => {
    const { rows } = await db.pool.query(`
      WITH s AS (SELECT region_id, date_trunc('week', trip_time)::date AS week, count(*) AS n FROM silver.trips GROUP BY 1, 2)
      SELECT
        (SELECT count(*) FROM s FULL JOIN gold.weekly_regions g USING (region_id, week) WHERE s.n IS DISTINCT FROM g.trips)::int AS region_mismatches,
        (SELECT sum(trips) FROM gold.weekly_origin_cells)::int AS origin_total,
        (SELECT sum(trips) FROM gold.weekly_destination_cells)::int AS destination_total,
        (SELECT sum(trips) FROM silver.trip_groups)::int AS group_total`);
    expect(rows[0]).toEqual({ region_mismatches: 0, origin_total: 100, destination_total: 100, group_total: 100 });
  });

  it("records the ingestion as completed with 100 loaded and 0 rejected, and archives the file", async () => {
    const { rows } = await db.pool.query("SELECT * FROM audit.ingestions");
    expect(rows).toHaveLength(1);
    const ing = rows[0];
    expect(ing).toMatchObject({
      file_name: "trips.csv",
      status: "completed",
      rows_loaded: 100,
      rows_rejected: 0,
      size_bytes: 12839,
      error: null,
    });
    expect(ing.sha256).toBe("568f8e5010143f38645ae5a1b339f166957f6305357a55a01b5532032ea979e2");
    expect(ing.finished_at.getTime()).toBeGreaterThanOrEqual(ing.started_at.getTime());
    expect(await readdir(tf.landing)).toEqual([]);
    expect(await readdir(tf.archive)).toEqual([`${ing.id}-trips.csv`]);
    // bronze is released once the file is archived
    const { rows: bronze } = await db.pool.query("SELECT count(*)::int AS n FROM bronze.trips");
    expect(bronze[0].n).toBe(0);
  });

  it("writes the events in order, and a client of GET /events receives the same ones", async () => {
    const { rows } = await db.pool.query("SELECT id, type, stage, payload FROM audit.events ORDER BY id");
    const types = rows.map((r) => r.type);
    // The two merges run on separate queues, in either order.
    expect([...types.slice(0, 3), ...types.slice(3, 5).sort(), ...types.slice(5)]).toEqual([
      "ingestion.discovered",
      "bronze.loaded",
      "silver.promoted",
      "gold.refreshed",
      "silver.grouped",
      "ingestion.completed",
      "file.archived",
    ]);
    expect(rows[1].payload).toMatchObject({ rows: 100, chunks: 1 });
    expect(rows[2].payload).toMatchObject({ rows: 100, rejected: 0 });
    expect(rows.find((r) => r.type === "silver.grouped").payload).toMatchObject({ chunk: 0, groups: 100 });
    expect(rows[5].payload).toMatchObject({ rows_loaded: 100, rows_rejected: 0 });
    expect(rows[5].payload.duration_ms).toBeGreaterThanOrEqual(0);
    expect(sse.frames.map((f) => [Number(f.id), f.event])).toEqual(rows.map((r) => [r.id, r.type]));
    const completed = JSON.parse(sse.frames[5]!.data);
    expect(completed).toMatchObject({
      id: rows[5].id,
      type: "ingestion.completed",
      stage: "ingestion",
      payload: rows[5].payload,
    });
  });

  it("answers the weekly averages of the sample: Prague 6.8, Turin 7.6, Hamburg 5.6 over 5 ISO weeks", async () => {
    for (const [region, trips, average] of [
      ["Prague", 34, 6.8],
      ["Turin", 38, 7.6],
      ["Hamburg", 28, 5.6],
    ] as const) {
      const res = await fetch(`${tf.baseUrl}/stats/weekly-average?region=${region}`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({
        region,
        from: "2018-04-30",
        to: "2018-06-03",
        weeks: 5,
        trips,
        weekly_average: average,
      });
      expect(body.series.map((w: { week: string }) => w.week)).toEqual([
        "2018-04-30",
        "2018-05-07",
        "2018-05-14",
        "2018-05-21",
        "2018-05-28",
      ]);
    }
  });

  it("answers /health with 200", async () => {
    const res = await fetch(`${tf.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: true, stalled: [] });
  });
});
