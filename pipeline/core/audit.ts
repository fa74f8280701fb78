import type pg from "pg";
import { EVENTS, type EventPayload, type EventType } from "./events.ts";
import { SQL } from "./sql.ts";

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** An ingestion's statuses, as db/migrations/2_audit.sql's CHECK has them (test/unit/contracts.test.ts). */
export const INGESTION_STATUSES = ["queued", "loading", "transforming", "completed", "failed", "skipped"] as const;
export type IngestionStatus = (typeof INGESTION_STATUSES)[number];

/** The statuses of an ingestion that has not ended. */
export const LIVE_STATUSES: readonly IngestionStatus[] = ["queued", "loading", "transforming"];

export type Ingestion = {
  id: number;
  file_name: string;
  sha256: string;
  size_bytes: number;
  status: IngestionStatus;
  rows_loaded: number;
  rows_rejected: number;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
  duplicate_of: number | null;
  archived_as: string | null;
  columns: string[] | null;
  chunks: number | null;
  lines: number | null;
  chunk_rows: number | null;
  owner: string | null;
};

export type AuditEvent = {
  id: number;
  ingestion_id: number | null;
  type: string;
  stage: string;
  payload: Record<string, unknown>;
  created_at: Date;
};

/**
 * Appends one audit event of the catalogue (pipeline/core/events.ts): its stage comes from there and its
 * payload must have the declared shape. Its trigger sends NOTIFY tripflow_events with the new id.
 *
 * @example await recordEvent(client, 7, "bronze.loaded", { rows: 100, bytes: 12839, chunks: 1 });
 */
export async function recordEvent<T extends EventType>(
  db: Queryable,
  ingestionId: number | null,
  type: T,
  payload: EventPayload<T>,
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    "INSERT INTO audit.events (ingestion_id, type, stage, payload) VALUES ($1::bigint, $2::text, $3::text, $4::jsonb) RETURNING id",
    [ingestionId, type, EVENTS[type].stage, JSON.stringify(payload)],
  );
  return rows[0]!.id;
}

export async function getIngestion(db: Queryable, id: number): Promise<Ingestion | undefined> {
  const { rows } = await db.query<Ingestion>("SELECT * FROM audit.ingestions WHERE id = $1::bigint", [id]);
  return rows[0];
}

/** Events with an id above `afterId`, oldest first (optionally of one ingestion), at most `limit`. */
export async function eventsAfter(
  db: Queryable,
  afterId: number,
  limit: number,
  ingestionId?: number,
): Promise<AuditEvent[]> {
  const { rows } = await db.query<AuditEvent>(SQL.eventsAfter, [afterId, ingestionId ?? null, limit]);
  return rows;
}

/** Runs `fn` in a transaction on a client of its own; rolls back on any error. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Marks an ingestion failed with a reason, once; a completed ingestion is never failed afterwards. */
export async function failIngestion(db: Queryable, id: number, error: string): Promise<boolean> {
  const { rowCount } = await db.query(SQL.failIngestion, [id, error]);
  if (rowCount === 0) return false;
  await recordEvent(db, id, "ingestion.failed", { error });
  return true;
}
