import type pg from "pg";
import { recordEvent, type Queryable } from "./audit.ts";
import { queueMaintenance } from "./jobs.ts";
import { LOCK } from "./locks.ts";

/** The table name of one ingestion's bronze partition (its chunks are partitions of it). */
export const bronzePartition = (id: number) => `bronze.trips_${id}`;

/** Drops the bronze partition of an ingestion that no longer needs it. */
export async function releaseBronze(db: Queryable, id: number): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${bronzePartition(id)}`);
}

/** The statuses of an ingestion that has not ended. */
const LIVE = ["queued", "loading", "transforming"];

/**
 * Starts a step that writes an ingestion's trips: takes the ingestion's lock shared (a withdrawal takes
 * it exclusively, pipeline/core/withdraw.ts) and says whether the ingestion is still running. A step of an
 * ingestion that failed meanwhile does nothing.
 */
export async function enterIngestion(client: pg.PoolClient, id: number): Promise<boolean> {
  await client.query("SELECT pg_advisory_xact_lock_shared($1::int, $2::int)", [LOCK.INGESTION, id]);
  const { rows } = await client.query<{ status: string }>("SELECT status FROM audit.ingestions WHERE id = $1::bigint", [id]);
  return rows[0] !== undefined && LIVE.includes(rows[0].status);
}

/**
 * Takes the ingestion's row lock: the loader and the gold jobs decide completion one at a time. NO KEY
 * UPDATE, so that other transactions' foreign-key checks on the row (inserting events, steps) never
 * wait for it: such a wait, while holding the event-id lock, could close a cycle with this transaction.
 */
export async function lockIngestion(client: pg.PoolClient, id: number): Promise<void> {
  await client.query("SELECT 1 FROM audit.ingestions WHERE id = $1::bigint FOR NO KEY UPDATE", [id]);
}

/**
 * Completes an ingestion whose chunks are all known (the file is fully loaded) and all merged into
 * trip groups and gold. The caller holds the ingestion's row lock. Writes ingestion.completed as its
 * last statement.
 */
export async function completeIfDone(client: pg.PoolClient, id: number): Promise<boolean> {
  const { rows } = await client.query<{ rows_loaded: number; rows_rejected: number; duration_ms: number }>(
    `WITH done AS (
       SELECT count(*) FILTER (WHERE step = 'gold') AS merged,
              count(*) FILTER (WHERE step = 'silver.trip_groups') AS grouped,
              coalesce(sum(rows) FILTER (WHERE step = 'silver.trips'), 0) AS stored,
              coalesce(sum(rejected) FILTER (WHERE step = 'silver.trips'), 0) AS rejected
       FROM audit.steps WHERE ingestion_id = $1::bigint
     )
     UPDATE audit.ingestions AS i
     SET status = 'completed', rows_loaded = done.stored, rows_rejected = done.rejected, finished_at = clock_timestamp()
     FROM done
     WHERE i.id = $1::bigint AND i.status IN ('loading', 'transforming') AND i.chunks IS NOT NULL AND done.merged = i.chunks AND done.grouped = i.chunks
     RETURNING i.rows_loaded, i.rows_rejected,
               round(extract(epoch FROM i.finished_at - i.started_at) * 1000)::bigint AS duration_ms`,
    [id],
  );
  if (rows.length === 0) return false;
  await queueMaintenance(client, id); // runs once the transaction commits
  await recordEvent(client, id, "ingestion.completed", "ingestion", rows[0]!);
  return true;
}
