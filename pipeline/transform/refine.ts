import type pg from "pg";
import { recordEvent } from "../core/audit.ts";
import { holdingIngestionShared, segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { withSession } from "../core/db.ts";
import { STAGE_SETTINGS } from "./seal.ts";

export type Refined = { segment: number; origin_rows: number; destination_rows: number; pair_rows: number; ms: number };

/** The least trips of a segment that gets level-10 counts (`cells`, FINE_MIN_TRIPS) and level-8 pairs (`pairs`, PAIRS_MIN_TRIPS). */
export type RefineThresholds = { cells: number; pairs: number };

/**
 * Builds what every segment of a large file lacks of its level-10 counts (gold.weekly_origin_fine,
 * gold.weekly_destination_fine; db/migrations/14), if it has at least `minTrips.cells` trips, and of its
 * level-8 cell pairs (gold.weekly_cell_pairs_fine; db/migrations/15), if it has at least
 * `minTrips.pairs`: one transaction each, which aggregates the segment and attaches the result
 * (db/transforms/refine/fine_cells.sql, fine_pairs.sql). Box answers read a segment near a box's edges
 * from these once it has them, from its trips until then (api/routes/stats.ts): so this runs after the
 * ingestion completed, in the compaction's job (queued by the maintenance run, once the segment is
 * vacuumed), on one core, and a crash in it only delays that. Only that job calls it (one at a time),
 * and only that job drops compacted segments. A large file's own segment is refined holding its
 * ingestion's lock shared, as the seal's steps do: a withdrawal, which drops the segment's tables, waits
 * for it or comes first (the segment is then gone, and skipped).
 * Smaller segments keep none: a level-10 count holds about 2.6 trips at 1 M and 5 to 6 at 10 M, too few
 * to read faster than the trips, and at 10 M answers were no faster with them; a level-8 pair about one
 * trip at 1 M (docs/scalability.md).
 *
 * @example await refineSegments(pool, { cells: 20_000_000, pairs: 5_000_000 });
 */
export async function refineSegments(pool: pg.Pool, minTrips: RefineThresholds): Promise<Refined[]> {
  // The segments of large files, with their trips as their last ANALYZE counted them (compact.ts's list).
  const { rows } = await pool.query<{ segment: number; trips: number }>(SQL.segments);
  const refined: Refined[] = [];
  for (const { segment, trips } of rows.filter((r) => r.trips >= Math.min(minTrips.cells, minTrips.pairs))) {
    const tables = segmentTables(segment);
    const started = Date.now();
    const build = (client: pg.PoolClient) => async () => {
      // Gone (withdrawn meanwhile), or refined already: the tables exist only attached (one transaction each).
      const { rows: state } = await client.query<{ trips: boolean; fine: boolean; pairs: boolean }>(
        "SELECT to_regclass($1) IS NOT NULL AS trips, to_regclass($2) IS NOT NULL AS fine, to_regclass($3) IS NOT NULL AS pairs",
        [tables.trips, tables.fineOrigins, tables.finePairs],
      );
      if (!state[0]?.trips) return null;
      const inserted = async (sql: string) =>
        ((await client.query(segmentSql(sql, segment))) as unknown as pg.QueryResult[])
          .filter((r) => r.command === "INSERT")
          .map((r) => r.rowCount ?? 0);
      const cells = !state[0].fine && trips >= minTrips.cells ? await inserted(SQL.refineFineCells) : [];
      const pairs = !state[0].pairs && trips >= minTrips.pairs ? await inserted(SQL.refineFinePairs) : [];
      if (cells.length === 0 && pairs.length === 0) return null;
      // Their visibility maps, so that answers read them from their indexes alone: a table filled in
      // one transaction has none until a vacuum, and autovacuum may come minutes later (every row was
      // then read from the heap too). Outside the transaction: VACUUM cannot run inside one.
      const built = [
        ...(cells.length > 0 ? [tables.fineOrigins, tables.fineDestinations] : []),
        ...(pairs.length > 0 ? [tables.finePairs] : []),
      ];
      await client.query(`VACUUM ${built.join(", ")}`);
      return { origins: cells[0] ?? 0, destinations: cells[1] ?? 0, pairs: pairs[0] ?? 0 };
    };
    const built = await withSession(pool, STAGE_SETTINGS, (client) =>
      segment > 0 ? holdingIngestionShared(client, segment, build(client)) : build(client)(),
    );
    if (!built) continue;
    const result = {
      segment,
      origin_rows: built.origins,
      destination_rows: built.destinations,
      pair_rows: built.pairs,
      ms: Date.now() - started,
    };
    await recordEvent(pool, segment > 0 ? segment : null, "gold.refined", result);
    refined.push(result);
  }
  return refined;
}
