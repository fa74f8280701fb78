import type pg from "pg";
import { recordEvent } from "../core/audit.ts";
import { holdingIngestionShared, segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { STAGE_SETTINGS, withSession } from "./seal.ts";

export type Refined = { segment: number; origin_rows: number; destination_rows: number; ms: number };

/**
 * Builds the level-10 counts (gold.weekly_origin_fine, gold.weekly_destination_fine; db/migrations/14) of
 * every segment of a large file of at least `minTrips` trips that lacks them: one transaction per
 * segment aggregates it twice and attaches both ends (db/transforms/refine/fine_cells.sql). Box answers
 * read a segment near a box's edges from its level-10 counts once it has them, from its trips until then
 * (api/routes/stats.ts): so this runs after the ingestion completed, in the compaction's job (queued by
 * the maintenance run, once the segment is vacuumed), on one core, and a crash in it only delays that.
 * Only that job calls it (one at a time), and only that job drops compacted segments. A large file's own
 * segment is refined holding its ingestion's lock shared, as the seal's steps do: a withdrawal, which
 * drops the segment's tables, waits for it or comes first (the segment is then gone, and skipped).
 * Smaller segments keep none: a level-10 count holds about 2.6 trips at 1 M and 5 to 6 at 10 M, too few
 * to read faster than the trips, and at 10 M answers were no faster with them (docs/scalability.md).
 *
 * @example await refineSegments(pool, 20_000_000);
 */
export async function refineSegments(pool: pg.Pool, minTrips: number): Promise<Refined[]> {
  // The segments of large files, with their trips as their last ANALYZE counted them (compact.ts's list).
  const { rows } = await pool.query<{ segment: number; trips: number }>(SQL.segments);
  const refined: Refined[] = [];
  for (const { segment } of rows.filter((r) => r.trips >= minTrips)) {
    const tables = segmentTables(segment);
    const started = Date.now();
    const build = (client: pg.PoolClient) => async () => {
      // Gone (withdrawn meanwhile), or refined already: the counts' tables exist only attached (one transaction).
      const { rows: state } = await client.query<{ trips: boolean; fine: boolean }>(
        "SELECT to_regclass($1) IS NOT NULL AS trips, to_regclass($2) IS NOT NULL AS fine",
        [tables.trips, tables.fineOrigins],
      );
      if (!state[0]?.trips || state[0].fine) return null;
      const results = (await client.query(segmentSql(SQL.refineFineCells, segment))) as unknown as pg.QueryResult[];
      const [origins, destinations] = results.filter((r) => r.command === "INSERT").map((r) => r.rowCount ?? 0);
      return { origins: origins ?? 0, destinations: destinations ?? 0 };
    };
    const built = await withSession(pool, STAGE_SETTINGS, (client) =>
      segment > 0 ? holdingIngestionShared(client, segment, build(client)) : build(client)(),
    );
    if (!built) continue;
    const result = {
      segment,
      origin_rows: built.origins,
      destination_rows: built.destinations,
      ms: Date.now() - started,
    };
    await recordEvent(pool, segment > 0 ? segment : null, "gold.refined", result);
    refined.push(result);
  }
  return refined;
}
