import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FINE_GOLD_LEVEL, GOLD_LEVEL } from "../../api/box.ts";
import { QUERIES } from "../../api/queries.ts";
import { boxWarmups } from "../../api/routes/stats.ts";
import { refineSegments } from "../../pipeline/transform/refine.ts";
import { REGIONS } from "../bench/generate.ts";
import { compactionsDone, mismatches, segments } from "../helpers/audit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { rng } from "../helpers/random.ts";
import { ingestGenerated, startTestServices, type Started } from "../helpers/services.ts";

/**
 * Level-10 counts and level-8 pairs (db/migrations/14 and 15, pipeline/transform/refine.ts): built for the
 * segments of large files of at least FINE_MIN_TRIPS (PAIRS_MIN_TRIPS) trips once their ingestion
 * completed; box answers then plan at level 10 (both-ends answers read level-8 pairs), reading the other
 * segments' trips (segment 0, smaller large files) near the box's edges by table.
 */
const ENV = {
  BULK_MIN_BYTES: "150000", // 4,000 and 2,000 generated lines are large files, 600 are not
  CHUNK_ROWS: "1000",
  FINE_MIN_TRIPS: "3000",
  PAIRS_MIN_TRIPS: "3000",
};

describe("level-10 counts and level-8 pairs of large segments", () => {
  let db: TestDatabase;
  let tf: Started;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], ENV);
    for (const [name, rows, seed] of [
      ["large.csv", 4000, 90],
      ["smaller.csv", 2000, 91],
      ["small.csv", 600, 92],
    ] as const) {
      ids[name] = await ingestGenerated(tf, db.pool, rows, seed, name);
      await compactionsDone(db);
    }
  }, 120_000);
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("are built for the large segment alone, once, and hold its trips per level-10 cell, week and region", async () => {
    const { rows: modes } = await db.pool.query("SELECT file_name, load_mode FROM audit.ingestions ORDER BY id");
    expect(modes.map((m) => m.load_mode)).toEqual(["bulk", "bulk", "incremental"]);
    expect(await segments(db)).toEqual([ids["large.csv"], ids["smaller.csv"]]);
    const parts = async (parent: string) =>
      (
        await db.pool.query(
          `SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = $1::regclass`,
          [parent],
        )
      ).rows.map((r) => r.relname);
    expect(await parts("gold.weekly_origin_fine")).toEqual([`weekly_origin_fine_seg_${ids["large.csv"]}`]);
    expect(await parts("gold.weekly_destination_fine")).toEqual([`weekly_destination_fine_seg_${ids["large.csv"]}`]);
    expect(await parts("gold.weekly_cell_pairs_fine")).toEqual([`weekly_cell_pairs_fine_seg_${ids["large.csv"]}`]);
    expect((await mismatches(db)).finePairs).toBe(0);
    for (const end of ["origin", "destination"]) {
      const { rows } = await db.pool.query(
        `SELECT count(*)::int AS n FROM
           (SELECT cell, week, region_id, trips FROM gold.weekly_${end}_fine) g
           FULL JOIN (SELECT tripflow.cell_parent(${end}_cell, ${FINE_GOLD_LEVEL}) AS cell, tripflow.iso_week(trip_time) AS week,
                             region_id, count(*) AS trips
                      FROM silver.trips WHERE segment = $1 GROUP BY 1, 2, 3) s
           USING (cell, week, region_id) WHERE g.trips IS DISTINCT FROM s.trips`,
        [ids["large.csv"]],
      );
      expect(rows[0].n, end).toBe(0);
    }
    const { rows: events } = await db.pool.query(
      "SELECT ingestion_id::int AS id, payload FROM audit.events WHERE type = 'gold.refined'",
    );
    expect(events.map((e) => e.id)).toEqual([ids["large.csv"]]);
    const { rows: counted } = await db.pool.query(
      `SELECT (SELECT count(*) FROM gold.weekly_origin_fine)::int AS o, (SELECT count(*) FROM gold.weekly_destination_fine)::int AS d,
              (SELECT count(*) FROM gold.weekly_cell_pairs_fine)::int AS p`,
    );
    const p = events[0].payload;
    expect([p.origin_rows, p.destination_rows, p.pair_rows]).toEqual([counted[0].o, counted[0].d, counted[0].p]);
    expect(counted[0].p).toBeGreaterThan(0);
    // Run again: nothing left to build.
    expect(await refineSegments(db.pool, { cells: 3000, pairs: 3000 })).toEqual([]);
  });

  it("are built when a worker starts for a segment that lacks them (a database from before them)", async () => {
    const large = ids["large.csv"];
    await db.pool.query(
      `DROP TABLE gold.weekly_origin_fine_seg_${large}, gold.weekly_destination_fine_seg_${large}, gold.weekly_cell_pairs_fine_seg_${large}`,
    );
    await tf.stop();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], ENV);
    await compactionsDone(db);
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(DISTINCT segment) FROM gold.weekly_origin_fine)::int AS o, (SELECT count(DISTINCT segment) FROM gold.weekly_destination_fine)::int AS d,
              (SELECT count(DISTINCT segment) FROM gold.weekly_cell_pairs_fine)::int AS p`,
    );
    expect(rows[0]).toEqual({ o: 1, d: 1, p: 1 });
    expect(await mismatches(db)).toMatchObject({ fine: 0, finePairs: 0 });
  });

  it("answer box questions exactly at level 10 and with level-8 pairs, the smaller segment and segment 0 read by their trips", async () => {
    const { rows: state } = await db.pool.query(QUERIES.fineState);
    const others = ["silver.trips_0", `silver.trips_seg_${ids["smaller.csv"]}`];
    expect(state[0]).toMatchObject({ refined: true, unrefined: others, paired: true, unpaired: others });
    // planned ahead on the API's box connections: each end at level 8 and at level 10 (the level-10 text
    // naming the segments without counts), both ends with the level-8 pairs' template; each runs as is
    const warmups = await boxWarmups(db.pool);
    expect(warmups).toHaveLength(5);
    expect(warmups.filter((w) => others.every((t) => w.sql.includes(t)))).toHaveLength(3);
    for (const w of warmups)
      expect((await db.pool.query(w.sql, w.values)).rows).toEqual([{ week: "2000-01-03", trips: 0 }]);
    const reads = (tables: string) => async () =>
      (
        await db.pool.query(
          `SELECT coalesce(sum(idx_scan), 0)::int AS n FROM pg_stat_user_indexes WHERE relname ~ '^${tables}_seg_'`,
        )
      ).rows[0].n as number;
    const fineReads = reads("weekly_(origin|destination)_fine");
    const pairReads = reads("weekly_cell_pairs_fine");
    const readsBefore = await fineReads();
    const pairReadsBefore = await pairReads();
    const random = rng(77);
    const G = 2 ** GOLD_LEVEL;
    const T = 2 ** FINE_GOLD_LEVEL;
    const snap = (v: number) => {
      const r = random();
      return r < 0.2 ? Math.round(v * G) / G : r < 0.4 ? Math.round(v * T) / T : v;
    };
    const matches = ["origin", "destination", "any", "both"];
    let inner = 0;
    for (let i = 0; i < 120; i++) {
      const region = REGIONS[i % REGIONS.length]!;
      const w = 0.01 + random() * 0.3;
      const h = 0.01 + random() * 0.2;
      const lon = region.lon + (random() - 0.5) * region.spread - w / 2;
      const lat = region.lat + (random() - 0.5) * region.spread - h / 2;
      const box = [snap(lon), snap(lat), snap(lon + w), snap(lat + h)] as const;
      const match = matches[i % matches.length]!;
      const period = i % 5 === 0 ? "&from=2019-03-04&to=2020-02-23" : "";
      const res = await fetch(`${tf.baseUrl}/stats/weekly-average?bbox=${box.join(",")}&match=${match}${period}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { trips: number; series: { week: string; trips: number }[] };
      const inBox = (col: string) => `ST_X(${col}) BETWEEN $1 AND $3 AND ST_Y(${col}) BETWEEN $2 AND $4`;
      const cond =
        match === "origin"
          ? inBox("origin")
          : match === "destination"
            ? inBox("destination")
            : match === "both"
              ? `${inBox("origin")} AND ${inBox("destination")}`
              : `((${inBox("origin")}) OR (${inBox("destination")}))`;
      const { rows } = await db.pool.query(
        `SELECT w::date::text AS week, (SELECT count(*)::int FROM silver.trips
            WHERE date_trunc('week', trip_time) = w AND ${cond}) AS trips
         FROM generate_series($5::date, $6::date, interval '7 days') AS w ORDER BY w`,
        [...box, body.series[0]!.week, body.series.at(-1)!.week],
      );
      expect(body.series, `${box.join(",")} ${match}`).toEqual(rows);
      if (body.trips > 0 && match !== "both") inner++;
    }
    expect(inner).toBeGreaterThan(60); // the boxes really hold trips
    // and the answers did read the level-10 counts (the server's statistics arrive within a second or so)
    for (const deadline = Date.now() + 5000; (await fineReads()) === readsBefore && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 200));
    expect(await fineReads()).toBeGreaterThan(readsBefore);
    for (const deadline = Date.now() + 5000; (await pairReads()) === pairReadsBefore && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 200));
    expect(await pairReads()).toBeGreaterThan(pairReadsBefore);
  });
}, 300_000);
