import type pg from "pg";
import type { Queryable } from "../../pipeline/core/audit.ts";

/**
 * Writes an audit event outside the catalogue (types named `test.*`), as a producer would: through
 * audit.events, whose triggers assign the id and send NOTIFY. Returns the id.
 */
export async function recordTestEvent(
  db: Queryable,
  ingestionId: number | null,
  type: string,
  payload: object = {},
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    "INSERT INTO audit.events (ingestion_id, type, stage, payload) VALUES ($1::bigint, $2::text, 'test', $3::jsonb) RETURNING id",
    [ingestionId, type, JSON.stringify(payload)],
  );
  return rows[0]!.id;
}

/**
 * Resolves once the audit tables hold `nth` events of `type` for ingestions of file `file` (any of them:
 * a file may be ingested more than once). Polls: the writer may be another process.
 */
export async function eventSeen(pool: pg.Pool, file: string, type: string, nth = 1, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM audit.events e JOIN audit.ingestions i ON i.id = e.ingestion_id
       WHERE i.file_name = $1 AND e.type = $2`,
      [file, type],
    );
    if (rows[0].n >= nth) return;
    if (Date.now() > deadline) throw new Error(`no ${type} (${nth}) for ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Silver's, gold's and the groups' totals, and the ingestions that did not end. */
export async function totals(pool: pg.Pool) {
  const { rows } = await pool.query(`
    SELECT (SELECT count(*) FROM silver.trips)::int AS silver,
           (SELECT count(DISTINCT (ingestion_id, line_no)) FROM silver.trips)::int AS distinct_lines,
           (SELECT coalesce(sum(trips), 0) FROM gold.weekly_regions)::int AS gold_regions,
           (SELECT coalesce(sum(trips), 0) FROM gold.weekly_origin_cells)::int AS gold_origins,
           (SELECT coalesce(sum(trips), 0) FROM gold.weekly_destination_cells)::int AS gold_destinations,
           (SELECT coalesce(sum(trips), 0) FROM gold.weekly_cell_pairs)::int AS gold_pairs,
           (SELECT coalesce(sum(trips), 0) FROM silver.trip_groups)::int AS groups,
           (SELECT count(*) FROM audit.ingestions WHERE status NOT IN ('completed', 'failed', 'skipped'))::int AS unfinished`);
  return rows[0] as Record<string, number>;
}

/** What every table would hold if exactly `n` trips were stored and every ingestion ended. */
export const exactly = (n: number) => ({
  silver: n,
  distinct_lines: n,
  gold_regions: n,
  gold_origins: n,
  gold_destinations: n,
  gold_pairs: n,
  groups: n,
  unfinished: 0,
});

/** The segments of large files (partitions of silver.trips besides 0), by their number. */
export async function segments(db: { pool: pg.Pool }): Promise<number[]> {
  const { rows } = await db.pool.query(
    `SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\\(''?(-?\\d+)''?\\)'))[1]::int AS segment
     FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = 'silver.trips'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.segment).filter((s) => s !== 0);
}

/** Resolves once no compaction is queued or running. */
export async function compactionsDone(db: { pool: pg.Pool }): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier IN ('compact_segments', 'maintain')",
    );
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error("compaction still queued after 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Every key of the groups and of gold, its rows added up over the segments, against the same aggregate
 * computed directly from silver.trips: the keys that differ (none when they agree).
 */
export async function mismatches(db: { pool: pg.Pool }): Promise<Record<string, number>> {
  const q = async (sql: string) => (await db.pool.query(sql)).rows[0].n as number;
  return {
    regions: await q(`SELECT count(*)::int AS n FROM
      (SELECT region_id, week, sum(trips) AS trips FROM gold.weekly_regions GROUP BY 1, 2) g
      FULL JOIN (SELECT region_id, tripflow.iso_week(trip_time) AS week, count(*) AS trips FROM silver.trips GROUP BY 1, 2) s
      USING (region_id, week) WHERE g.trips IS DISTINCT FROM s.trips`),
    origins: await q(`SELECT count(*)::int AS n FROM
      (SELECT region_id, week, cell, sum(trips) AS trips FROM gold.weekly_origin_cells GROUP BY 1, 2, 3) g
      FULL JOIN (SELECT region_id, tripflow.iso_week(trip_time) AS week, tripflow.cell_parent(origin_cell, 8) AS cell,
                        count(*) AS trips FROM silver.trips GROUP BY 1, 2, 3) s
      USING (region_id, week, cell) WHERE g.trips IS DISTINCT FROM s.trips`),
    destinations: await q(`SELECT count(*)::int AS n FROM
      (SELECT region_id, week, cell, sum(trips) AS trips FROM gold.weekly_destination_cells GROUP BY 1, 2, 3) g
      FULL JOIN (SELECT region_id, tripflow.iso_week(trip_time) AS week, tripflow.cell_parent(destination_cell, 8) AS cell,
                        count(*) AS trips FROM silver.trips GROUP BY 1, 2, 3) s
      USING (region_id, week, cell) WHERE g.trips IS DISTINCT FROM s.trips`),
    pairs: await q(`SELECT count(*)::int AS n FROM
      (SELECT region_id, week, origin_cell, destination_cell, sum(trips) AS trips FROM gold.weekly_cell_pairs GROUP BY 1, 2, 3, 4) g
      FULL JOIN (SELECT region_id, tripflow.iso_week(trip_time) AS week, tripflow.cell_parent(origin_cell, 6) AS origin_cell,
                        tripflow.cell_parent(destination_cell, 6) AS destination_cell, count(*) AS trips FROM silver.trips GROUP BY 1, 2, 3, 4) s
      USING (region_id, week, origin_cell, destination_cell) WHERE g.trips IS DISTINCT FROM s.trips`),
    // The level-10 counts of the segments that have them (pipeline/transform/refine.ts), both ends.
    fine: await q(`SELECT count(*)::int AS n FROM
      (SELECT 'o' AS e, segment, cell, week, region_id, trips FROM gold.weekly_origin_fine
       UNION ALL SELECT 'd', segment, cell, week, region_id, trips FROM gold.weekly_destination_fine) g
      FULL JOIN (SELECT e, t.segment, tripflow.cell_parent(CASE e WHEN 'o' THEN t.origin_cell ELSE t.destination_cell END, 10) AS cell,
                        tripflow.iso_week(t.trip_time) AS week, t.region_id, count(*) AS trips
                 FROM silver.trips AS t CROSS JOIN (VALUES ('o'), ('d')) AS ends (e)
                 WHERE t.segment IN (SELECT segment FROM gold.weekly_origin_fine UNION SELECT segment FROM gold.weekly_destination_fine)
                 GROUP BY 1, 2, 3, 4, 5) s
      USING (e, segment, cell, week, region_id) WHERE g.trips IS DISTINCT FROM s.trips`),
    // The level-8 pairs of the segments that have them (pipeline/transform/refine.ts).
    finePairs: await q(`SELECT count(*)::int AS n FROM
      (SELECT segment, origin_cell, destination_cell, week, region_id, trips FROM gold.weekly_cell_pairs_fine) g
      FULL JOIN (SELECT t.segment, tripflow.cell_parent(t.origin_cell, 8) AS origin_cell,
                        tripflow.cell_parent(t.destination_cell, 8) AS destination_cell,
                        tripflow.iso_week(t.trip_time) AS week, t.region_id, count(*) AS trips
                 FROM silver.trips AS t WHERE t.segment IN (SELECT segment FROM gold.weekly_cell_pairs_fine)
                 GROUP BY 1, 2, 3, 4, 5) s
      USING (segment, origin_cell, destination_cell, week, region_id) WHERE g.trips IS DISTINCT FROM s.trips`),
    groups: await q(`SELECT count(*)::int AS n FROM
      (SELECT region_id, origin_cell, destination_cell, slot, sum(trips) AS trips, min(first_trip_at) AS first,
              max(last_trip_at) AS last, round(sum(sum_origin_lon)::numeric, 6) AS lon, round(sum(sum_dest_lat)::numeric, 6) AS lat
       FROM silver.trip_groups GROUP BY 1, 2, 3, 4) g
      FULL JOIN (SELECT region_id, tripflow.cell_parent(origin_cell, 7) AS origin_cell,
                        tripflow.cell_parent(destination_cell, 7) AS destination_cell, (tod_minute / 30)::smallint AS slot,
                        count(*) AS trips, min(trip_time) AS first, max(trip_time) AS last,
                        round(sum(ST_X(origin))::numeric, 6) AS lon, round(sum(ST_Y(destination))::numeric, 6) AS lat
                 FROM silver.trips GROUP BY 1, 2, 3, 4) s
      USING (region_id, origin_cell, destination_cell, slot)
      WHERE (g.trips, g.first, g.last, g.lon, g.lat) IS DISTINCT FROM (s.trips, s.first, s.last, s.lon, s.lat)`),
  };
}

export const AGREE = { regions: 0, origins: 0, destinations: 0, pairs: 0, fine: 0, finePairs: 0, groups: 0 };
