import type pg from "pg";
import { inTransaction, recordEvent } from "../core/audit.ts";
import type { EventPayload } from "../core/events.ts";
import type { ChunkPayload } from "../core/jobs.ts";
import { completeIfDone, enterIngestion, lockAggregates, lockIngestion } from "../core/lifecycle.ts";
import type { AGGREGATE_KEY } from "../core/locks.ts";
import { GOLD_TRANSFORMS, SQL } from "../core/sql.ts";
import { TRANSFORM_SETTINGS, transformArgs } from "./promote.ts";

/**
 * One merge of a silver chunk into an aggregate, in one transaction: `merge` does the work and says
 * what the event reports (null when the chunk was merged before), then the chunk's event and the
 * completion check, which completes the ingestion when this was the last merge it waited for.
 */
async function mergeChunk<T extends "silver.grouped" | "gold.refreshed">(
  pool: pg.Pool,
  p: ChunkPayload,
  event: T,
  aggregate: keyof typeof AGGREGATE_KEY,
  merge: (client: pg.PoolClient) => Promise<Omit<EventPayload<T>, "chunk" | "ms"> | null>,
): Promise<{ applied: boolean; completed: boolean }> {
  const started = Date.now();
  return inTransaction(pool, async (client) => {
    if (!(await enterIngestion(client, p.ingestion_id))) return { applied: false, completed: false };
    // Merges of one aggregate run one at a time anyway (one queue); the lock also keeps a withdrawal out.
    await lockAggregates(client, aggregate);
    for (const setting of TRANSFORM_SETTINGS) await client.query(setting);
    const reported = await merge(client);
    await lockIngestion(client, p.ingestion_id);
    if (reported)
      await recordEvent(client, p.ingestion_id, event, {
        chunk: p.chunk,
        ...reported,
        ms: Date.now() - started,
      } as EventPayload<T>);
    const completed = await completeIfDone(client, p.ingestion_id);
    return { applied: reported !== null, completed };
  });
}

/**
 * silver -> trip groups for one chunk (db/transforms/silver/trip_groups.sql). Runs on the serial
 * "groups" queue, beside the "gold" queue: the two merges write different tables, so they never wait
 * on each other, and both cores stay busy at the end of a large file. Running it again changes nothing.
 */
export function mergeGroupsChunk(pool: pg.Pool, p: ChunkPayload): Promise<{ applied: boolean; completed: boolean }> {
  return mergeChunk(pool, p, "silver.grouped", "groups", async (client) => {
    const { rows } = await client.query<{ applied: number; groups: number }>(SQL.silverTripGroups, transformArgs(p));
    return rows[0]!.applied === 1 ? { groups: rows[0]!.groups } : null;
  });
}

/**
 * silver -> gold for one chunk (db/transforms/gold/*.sql). Runs on the serial "gold" queue. Running it
 * again changes nothing.
 */
export function mergeGoldChunk(pool: pg.Pool, p: ChunkPayload): Promise<{ applied: boolean; completed: boolean }> {
  return mergeChunk(pool, p, "gold.refreshed", "gold", async (client) => {
    // The chunk's own marker: a second run (or a concurrent duplicate, once this one commits) finds it.
    const marker = await client.query(
      "INSERT INTO audit.steps (ingestion_id, step, chunk) VALUES ($1::bigint, 'gold', $2::int) ON CONFLICT DO NOTHING RETURNING 1",
      [p.ingestion_id, p.chunk],
    );
    if (marker.rowCount === 1) for (const [, sql] of GOLD_TRANSFORMS) await client.query(sql, transformArgs(p));
    return marker.rowCount === 1 ? {} : null;
  });
}
