import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { AGREE, eventSeen, exactly, mismatches, totals } from "../helpers/audit.ts";
import { bronzeChunk, type Row } from "../helpers/bronze.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { ingestGenerated, servicesOnOwnDatabase, startTestServices, type Started } from "../helpers/services.ts";

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

  /**
   * Per silver.sealed event of the ingestion: whether its gold, its cell pairs and its groups came from
   * the counts the load kept (on its counting thread: pipeline/bronze/counting.ts), and whether the seal
   * then built their keys (the load writes the tables only), or aggregated the groups itself.
   */
  const fromLoad = async (id: number) =>
    (
      await db.pool.query(
        `SELECT payload->'gold_from_load' AS gold, payload->'pairs_from_load' AS pairs,
                payload->'steps' @> '[{"step": "gold keys"}, {"step": "cell pairs key"}]' AS keys,
                payload->'groups_from_load' AS groups,
                CASE WHEN payload->'steps' @> '[{"step": "groups key"}]' THEN 'key'
                     WHEN payload->'steps' @> '[{"step": "groups"}]' THEN 'aggregate' END AS "groupsBy"
           FROM audit.events WHERE ingestion_id = $1 AND type = 'silver.sealed'`,
        [id],
      )
    ).rows;

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
      { relname: `trips_seg_${id}`, bound: `FOR VALUES IN (${id})`, indexes: 3 },
    ]);
    // The weekly counts and the groups were kept while the lines were read (the seal did not aggregate
    // them), and every key of gold and of the groups equals the same aggregate computed from silver.
    expect(await fromLoad(id)).toEqual([{ gold: true, pairs: true, keys: true, groups: true, groupsBy: "key" }]);
    expect(await mismatches(db)).toEqual(AGREE);
  });

  it("writes each line as the SQL transform would: the same points, cells, subcells, minutes, ids and rejects", async () => {
    // Edge cases of the points (the last column and row of the grid, signs, exponents, many digits),
    // times (fractions of a second, the last minute of the day), names (new ones, non-ASCII) and
    // refused lines, through the bulk path (straight into the segment) and through bronze and
    // db/transforms/silver/trips.sql (test/helpers/bronze.ts): every stored column equal, line by line.
    const rows: Row[] = [
      ["Zürich 東京", "POINT (180 90)", "POINT (-180 -90)", "2020-02-29 23:59:59.999999", "src-ü"],
      ["Prague", "POINT (14.4378005 50.0755381)", "POINT (-0.0000001 0)", "2019-01-07 00:00:00", "cheap_mobile"],
      ["Prague", "POINT (1.5e2 -3.25E-1)", "POINT (179.99999999999997 89.99999999999999)", "2019-01-07 12:30", "x"],
      ["Turin", "POINT (7.6869 45.0703)", "POINT (7.7 45.1)", "2018-05-28T09:03:40", "funny_car"],
      ["Turin", "POINT (7.6869 45.0703)", "POINT (7.7 45.1)", "0001-01-01 00:00:00.000001", "funny_car"],
      ["Turin", "POINT (7.6869 45.0703)", "POINT (7.7 45.1)", "9999-12-31 23:59:59.5", "funny_car"],
      ["Turin", "POINT (7.6869 45.0703)", "POINT (7.7 45.1)", "1999-12-31 23:59:59.123", "funny_car"],
      ["Turin", "POINT (7.6869 45.0703)", "POINT (7.7 45.1)", "1900-03-01 00:00:00", "funny_car"],
      // On a level-27 subcell's edge (2^-27 degrees) and just before it, on both sides of 0.
      [
        "Turin",
        "POINT (7.450580596923828e-9 -7.450580596923828e-9)",
        "POINT (7.4505e-9 -7.4505e-9)",
        "2019-01-07 00:00:00",
        "x",
      ],
      ["Turin", "POINT (7.6869 95.0703)", "POINT (7.7 45.1)", "2018-05-28 09:03:40", "funny_car"],
      ["", "POINT (7.6869 45.0703)", "POINT (7.7 45.1)", "2018-05-28 09:03:40", "funny_car"],
    ];
    const csv = (v: string) => (/[",]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
    const name = "edge-cases.csv";
    await writeFile(
      join(tf.landing, `.${name}.tmp`),
      `region,origin_coord,destination_coord,datetime,datasource\n${rows.map((r) => r.map(csv).join(",")).join("\n")}\n`,
    );
    await rename(join(tf.landing, `.${name}.tmp`), join(tf.landing, name));
    await eventSeen(db.pool, name, "file.archived");
    const bulk = (await db.pool.query("SELECT id::int FROM audit.ingestions WHERE file_name = $1", [name])).rows[0].id;
    // Its weekly counts, kept while it was read (years 0001 to 9999, the grid's edges), equal gold's
    // aggregate of silver, key by key. Its groups were not kept (microseconds since 2000 of the years
    // 0001 and 9999 are past what a double holds exactly): the seal aggregated them.
    expect(await fromLoad(bulk)).toEqual([
      { gold: true, pairs: true, keys: true, groups: false, groupsBy: "aggregate" },
    ]);
    expect(await mismatches(db)).toEqual(AGREE);
    const chunk = await bronzeChunk(db.pool, rows);
    expect((await promoteSilverChunk(db.pool, chunk)).applied).toBe(true);
    const stored = async (id: number) =>
      (
        await db.pool.query(
          `SELECT t.line_no::int, r.name AS region, d.name AS datasource, encode(ST_AsEWKB(t.origin), 'hex') AS origin,
                  encode(ST_AsEWKB(t.destination), 'hex') AS destination, t.trip_time::text, t.origin_cell::text,
                  t.destination_cell::text, t.tod_minute, t.origin_subcell, t.destination_subcell
           FROM silver.trips AS t JOIN silver.regions AS r ON r.id = t.region_id JOIN silver.datasources AS d ON d.id = t.datasource_id
           WHERE t.ingestion_id = $1 ORDER BY t.line_no`,
          [id],
        )
      ).rows;
    const refused = async (id: number) =>
      (
        await db.pool.query("SELECT line_no::int, raw, reason FROM audit.rejects WHERE ingestion_id = $1 ORDER BY 1", [
          id,
        ])
      ).rows;
    const direct = await stored(bulk);
    expect(direct).toHaveLength(9);
    expect(direct).toEqual(await stored(chunk.ingestion_id));
    expect(await refused(bulk)).toHaveLength(2);
    expect(await refused(bulk)).toEqual(await refused(chunk.ingestion_id));
  });

  it("merges a second file into the same groups and gold, exactly", async () => {
    const before = (await totals(db.pool)).silver;
    await ingest(7_000, 12, "bulk-b.csv");
    expect(await totals(db.pool)).toEqual(exactly(before + 7_000));
  });
}, 300_000);

describe("the groups a bulk load keeps: bounded by LOAD_GROUPS_MAX, and by the file's size", () => {
  // 10,000 groups: 2^14 slots, 12,288 groups at most; files up to 3.2 MB (320 bytes a group) try.
  const s = servicesOnOwnDatabase({ BULK_MIN_BYTES: "1", CHUNK_ROWS: "5000", LOAD_GROUPS_MAX: "10000" });

  const sealed = async (id: number) =>
    (
      await s.db.pool.query(
        `SELECT payload->'groups_from_load' AS "fromLoad",
                (SELECT count(*)::int FROM silver.trip_groups WHERE segment = $1) AS groups
           FROM audit.events WHERE ingestion_id = $1 AND type = 'silver.sealed'`,
        [id],
      )
    ).rows[0];

  it("keeps them while they fit; past the bound, or for a larger file, the seal aggregates them: exact either way", async () => {
    const few = await ingestGenerated(s.tf, s.db.pool, 2_000, 21, "few-groups.csv");
    const fewSealed = await sealed(few);
    expect(fewSealed.fromLoad).toBe(true);
    expect(fewSealed.groups).toBeLessThanOrEqual(12_288);
    // About 2.4 MB: under the size gate, but more groups than the table holds: it gave up on its own.
    const many = await ingestGenerated(s.tf, s.db.pool, 25_000, 22, "many-groups.csv");
    const manySealed = await sealed(many);
    expect(manySealed.groups).toBeGreaterThan(12_288);
    expect(manySealed.fromLoad).toBe(false);
    // Over the gate (3.5 MB) with one group: the load does not try, however few the groups. Points in
    // binary fractions, so that the group's sums are exact in any order of addition (the check adds
    // them up per segment).
    const line = "Nowhere,POINT (0.5 0.25),POINT (0.75 0.125),2019-01-07 08:15:00,cheap_mobile\n";
    const csv = `region,origin_coord,destination_coord,datetime,datasource\n${line.repeat(45_000)}`;
    expect(Buffer.byteLength(csv)).toBeGreaterThan(3_200_000);
    await writeFile(join(s.tf.landing, ".one-group.csv.tmp"), csv);
    await rename(join(s.tf.landing, ".one-group.csv.tmp"), join(s.tf.landing, "one-group.csv"));
    await eventSeen(s.db.pool, "one-group.csv", "file.archived");
    const { rows } = await s.db.pool.query("SELECT id::int FROM audit.ingestions WHERE file_name = 'one-group.csv'");
    expect(await sealed(rows[0].id)).toEqual({ fromLoad: false, groups: 1 });
    expect(await totals(s.db.pool)).toEqual(exactly(72_000));
    expect(await mismatches(s.db)).toEqual(AGREE);
  });
}, 300_000);
