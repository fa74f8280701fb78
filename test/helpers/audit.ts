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
  groups: n,
  unfinished: 0,
});
