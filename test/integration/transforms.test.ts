import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type pg from "pg";
import { SQL, AGGREGATE_TRANSFORMS } from "../../pipeline/core/sql.ts";
import { mergeGoldChunk, mergeGroupsChunk } from "../../pipeline/transform/merge.ts";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { bronzeChunk, type Row } from "../helpers/bronze.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

/** Everything the transforms write, as comparable text. */
async function snapshot(pool: pg.Pool): Promise<string> {
  const tables = [
    "silver.trips",
    "silver.trip_groups",
    "silver.regions",
    "silver.datasources",
    "audit.rejects",
    "gold.weekly_regions",
    "gold.weekly_origin_cells",
    "gold.weekly_destination_cells",
  ];
  const parts: string[] = [];
  for (const t of tables) {
    const { rows } = await pool.query(`SELECT * FROM ${t} AS x ORDER BY x::text`);
    parts.push(t, JSON.stringify(rows));
  }
  return parts.join("\n");
}

describe("transforms", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it("change nothing when run a second time, whether as tasks or as the bare SQL files", async () => {
    const p = await bronzeChunk(db.pool, [
      ["Prague", "POINT (14.4 50.05)", "POINT (14.5 50.1)", "2018-05-28 09:03:40", "funny_car"],
      ["Prague", "POINT (14.41 50.06)", "POINT (14.5 50.1)", "2018-05-29 09:10:00", "cheap_mobile"],
      ["Turin", "POINT (7.6 45.0)", "POINT (7.7 45.1)", "2018-06-01 18:00:00", "baba_car"],
    ]);
    expect(await promoteSilverChunk(db.pool, p)).toEqual({ applied: true, stored: 3, rejected: 0 });
    expect(await mergeGroupsChunk(db.pool, p)).toEqual({ applied: true, completed: false });
    expect(await mergeGoldChunk(db.pool, p)).toEqual({ applied: true, completed: true });
    const once = await snapshot(db.pool);

    expect(await promoteSilverChunk(db.pool, p)).toEqual({ applied: false, stored: 0, rejected: 0 });
    expect(await mergeGroupsChunk(db.pool, p)).toEqual({ applied: false, completed: false });
    expect(await mergeGoldChunk(db.pool, p)).toEqual({ applied: false, completed: false });
    const args = [p.ingestion_id, p.first_line, p.end_line - 1, p.chunk];
    await db.pool.query(SQL.silverDimensions, args.slice(0, 3));
    await db.pool.query(SQL.silverTrips, args);
    for (const [, sql] of AGGREGATE_TRANSFORMS) await db.pool.query(sql, args);
    expect(await snapshot(db.pool)).toBe(once);

    const { rows } = await db.pool.query(
      "SELECT (SELECT sum(trips) FROM gold.weekly_regions)::int AS gold, (SELECT count(*) FROM silver.trips)::int AS silver",
    );
    expect(rows[0]).toEqual({ gold: 3, silver: 3 });
  });

  it("put gold's cells at level 8, and migration 8's rebuild from silver reproduces the merges and counts an unmerged chunk once", async () => {
    const merged = await bronzeChunk(db.pool, [
      ["Rebuild", "POINT (14.415 50.055)", "POINT (-0.001 -0.001)", "2019-03-04 08:05:00", "a"],
      ["Rebuild", "POINT (14.41797 50.056)", "POINT (0 0)", "2019-03-05 08:05:00", "a"],
    ]);
    await promoteSilverChunk(db.pool, merged);
    await mergeGroupsChunk(db.pool, merged);
    await mergeGoldChunk(db.pool, merged);
    // Level 8: 1/256 degree. x = floor(14.415 * 256) + 180 * 256, y = floor(50.055 * 256) + 90 * 256;
    // the second origin (14.41797 >= 3691/256) lies one level-8 column east, in the same level-7 cell.
    const cell = (x: number, y: number) => ((8n << 42n) | (BigInt(x) << 21n) | BigInt(y)).toString();
    const origins = await db.pool.query(
      "SELECT g.cell::text, g.trips::int FROM gold.weekly_origin_cells g JOIN silver.regions r ON r.id = g.region_id WHERE r.name = 'Rebuild' ORDER BY g.cell",
    );
    expect(origins.rows).toEqual([
      { cell: cell(3690 + 46080, 12814 + 23040), trips: 1 },
      { cell: cell(3691 + 46080, 12814 + 23040), trips: 1 },
    ]);
    const destinations = await db.pool.query(
      "SELECT g.cell::text FROM gold.weekly_destination_cells g JOIN silver.regions r ON r.id = g.region_id WHERE r.name = 'Rebuild' ORDER BY g.cell",
    );
    expect(destinations.rows.map((r) => r.cell)).toEqual([cell(46079, 23039), cell(46080, 23040)]);

    const before = await snapshot(db.pool);
    const steps = async () =>
      (await db.pool.query("SELECT ingestion_id, step, chunk FROM audit.steps ORDER BY 1, 2, 3")).rows;
    const stepsBefore = await steps();
    const rebuild = readFileSync(new URL("../../db/migrations/8_gold_cells_level_8.sql", import.meta.url), "utf8");
    await db.pool.query(rebuild);
    expect(await snapshot(db.pool)).toBe(before);
    expect(await steps()).toEqual(stepsBefore);

    // A chunk promoted but not merged into gold when the migration runs: counted by the rebuild, marked,
    // and its pending merge_gold then changes nothing.
    const pending = await bronzeChunk(db.pool, [
      ["Rebuild", "POINT (14.415 50.055)", "POINT (0 0)", "2019-03-06 08:05:00", "a"],
    ]);
    await promoteSilverChunk(db.pool, pending);
    await db.pool.query(rebuild);
    expect(await mergeGoldChunk(db.pool, pending)).toEqual({ applied: false, completed: false });
    expect(await mergeGroupsChunk(db.pool, pending)).toEqual({ applied: true, completed: true });
    const totals = await db.pool.query(
      `SELECT (SELECT count(*) FROM silver.trips)::int AS silver, (SELECT sum(trips) FROM gold.weekly_regions)::int AS regions,
              (SELECT sum(trips) FROM gold.weekly_origin_cells)::int AS origins, (SELECT sum(trips) FROM gold.weekly_destination_cells)::int AS destinations`,
    );
    const { silver } = totals.rows[0];
    expect(totals.rows[0]).toEqual({ silver, regions: silver, origins: silver, destinations: silver });
    expect(origins.rows.length).toBe(2);
  });

  it("groups near-identical trips and keeps apart trips in other cells or other slots", async () => {
    // Level-7 cells are 1/128 degree: [14.4140625, 14.421875) x [50.0546875, 50.0625) holds the first origins.
    const base: Row = ["Groupville", "POINT (14.415 50.055)", "POINT (14.5 50.1)", "2019-03-04 08:05:00", "a"];
    const p = await bronzeChunk(db.pool, [
      base,
      ["Groupville", "POINT (14.4210 50.0620)", "POINT (14.5001 50.1001)", "2019-03-11 08:29:59", "b"], // same cells, same slot
      ["Groupville", "POINT (14.4141 50.0547)", "POINT (14.5005 50.1002)", "2019-04-01 08:00:00", "a"], // same, slot start
      ["Groupville", "POINT (14.421875 50.055)", "POINT (14.5 50.1)", "2019-03-04 08:05:00", "a"], // origin on the next cell's west edge
      ["Groupville", "POINT (14.415 50.055)", "POINT (14.5 50.1)", "2019-03-04 08:30:00", "a"], // next 30-minute slot
      ["Groupville", "POINT (14.415 50.055)", "POINT (14.5 50.0)", "2019-03-04 08:05:00", "a"], // other destination cell
    ]);
    await promoteSilverChunk(db.pool, p);
    await mergeGroupsChunk(db.pool, p);
    await mergeGoldChunk(db.pool, p);
    const { rows } = await db.pool.query(
      `SELECT g.trips::int, g.slot, g.first_trip_at, g.last_trip_at,
              round((g.sum_origin_lon / g.trips)::numeric, 5)::float8 AS rep_lon
       FROM silver.trip_groups g JOIN silver.regions r ON r.id = g.region_id
       WHERE r.name = 'Groupville' ORDER BY g.trips DESC, g.slot, g.origin_cell, g.destination_cell`,
    );
    expect(rows.map((r) => r.trips)).toEqual([3, 1, 1, 1]);
    expect(rows[0]).toMatchObject({
      slot: 16,
      first_trip_at: "2019-03-04 08:05:00",
      last_trip_at: "2019-04-01 08:00:00",
    });
    expect(rows[0].rep_lon).toBeCloseTo((14.415 + 14.421 + 14.4141) / 3, 5);
    expect(rows.filter((r) => r.slot === 17)).toHaveLength(1);
  });
});
