import type pg from "pg";
import { inTransaction, LIVE_STATUSES, recordEvent, type IngestionStatus } from "./audit.ts";
import { lockAggregates, segmentTables } from "./lifecycle.ts";
import { LOCK } from "./locks.ts";
import { SQL } from "./sql.ts";

export type Withdrawal = {
  /** false when the ingestion had ended already (failed or skipped; completed unless `completed`). */
  failed: boolean;
  /** Trips taken out of silver.trips. */
  trips: number;
};

/**
 * Fails an ingestion and takes back everything it stored, in one transaction: its trips leave
 * silver.trips, its counts leave gold and silver.trip_groups (db/transforms/withdraw/*.sql), its
 * rejects and step markers go, and it ends `failed` with `error` and an `ingestion.failed` event that
 * says how many trips were withdrawn. A failed ingestion therefore counts nowhere, and the same file,
 * dropped again once fixed, is counted once.
 *
 * The ingestion's lock is taken exclusively: every step that writes its trips holds it shared and
 * checks the status first, so a step running now finishes before, and a step starting later does
 * nothing. The writer locks of groups and gold keep merges of other ingestions out meanwhile.
 * A completed ingestion is withdrawn only with `{ completed: true }` (its file changed afterwards).
 *
 * @example await withdrawIngestion(pool, 7, "silver step failed on chunk 3: value too long");
 */
export async function withdrawIngestion(
  pool: pg.Pool,
  id: number,
  error: string,
  options: { completed?: boolean } = {},
): Promise<Withdrawal> {
  return inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [LOCK.INGESTION, id]);
    const { rows } = await client.query<{ status: IngestionStatus }>(
      "SELECT status FROM audit.ingestions WHERE id = $1::bigint FOR NO KEY UPDATE",
      [id],
    );
    const status = rows[0]?.status;
    const live = status !== undefined && LIVE_STATUSES.includes(status);
    if (!live && !(options.completed && status === "completed")) return { failed: false, trips: 0 };
    await lockAggregates(client, "groups", "gold");
    await client.query("SET LOCAL work_mem = '256MB'");
    const { rows: taken } = await client.query<{
      silver_trips: number;
      stale_regions: number[];
      stale_origins: number[];
      stale_destinations: number[];
      stale_slots: number[];
    }>(SQL.withdrawAggregates, [id]);
    const w = taken[0]!;
    // A bulk ingestion's trips, groups and gold are tables of their own (partitions once sealed),
    // dropped whole; its trips are what its chunks' markers say they stored (each chunk's rows commit
    // with its marker). An incremental ingestion's trips are in segment 0, counted above.
    const own = segmentTables(id);
    const { rows: bulk } = await client.query<{ trips: number }>(
      `SELECT coalesce(sum(s.rows), 0)::int AS trips FROM audit.steps AS s
       JOIN audit.ingestions AS i ON i.id = s.ingestion_id AND i.load_mode = 'bulk'
       WHERE s.ingestion_id = $1::bigint AND s.step = 'silver.trips'`,
      [id],
    );
    w.silver_trips += bulk[0]!.trips;
    await client.query(`DROP TABLE IF EXISTS ${Object.values(own).join(", ")}`);
    await client.query("DELETE FROM silver.trips WHERE segment = 0 AND ingestion_id = $1::bigint", [id]);
    if (w.stale_regions.length > 0)
      await client.query(SQL.withdrawTripGroupBounds, [
        w.stale_regions,
        w.stale_origins,
        w.stale_destinations,
        w.stale_slots,
      ]);
    await client.query("DELETE FROM audit.rejects WHERE ingestion_id = $1::bigint", [id]);
    await client.query("DELETE FROM audit.steps WHERE ingestion_id = $1::bigint AND step <> 'bronze'", [id]);
    await client.query(SQL.failWithdrawnIngestion, [id, error]);
    await recordEvent(client, id, "ingestion.failed", { error, withdrawn_trips: w.silver_trips });
    return { failed: true, trips: w.silver_trips };
  });
}
