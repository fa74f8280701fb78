import type pg from "pg";
import { LIVE_STATUSES, recordEvent, type IngestionStatus, type Queryable } from "./audit.ts";
import { queueMaintenance } from "./jobs.ts";
import { AGGREGATE_KEY, LOCK } from "./locks.ts";
import { fillSql, SQL } from "./sql.ts";

/** The table name of one ingestion's bronze partition (its chunks are partitions of it). */
export const bronzePartition = (id: number) => `bronze.trips_${id}`;

/**
 * The tables of one segment of a large file: its trips, groups and weekly counts, partitions of
 * silver.trips, silver.trip_groups and gold (db/migrations/9 and 10). A large file's own segment is
 * numbered by its ingestion id (`_seg_<id>`); a compacted one by a negative number (`_cmp_<n>`,
 * pipeline/transform/compact.ts).
 */
export function segmentTables(segment: number) {
  const suffix = segment > 0 ? `seg_${segment}` : `cmp_${-segment}`;
  return {
    trips: `silver.trips_${suffix}`,
    groups: `silver.trip_groups_${suffix}`,
    regions: `gold.weekly_regions_${suffix}`,
    origins: `gold.weekly_origin_cells_${suffix}`,
    destinations: `gold.weekly_destination_cells_${suffix}`,
    pairs: `gold.weekly_cell_pairs_${suffix}`,
    /** Level-10 counts, built after the segment is attached (pipeline/transform/refine.ts), not by the seal. */
    fineOrigins: `gold.weekly_origin_fine_${suffix}`,
    fineDestinations: `gold.weekly_destination_fine_${suffix}`,
    /** Level-8 cell pairs, built after the segment is attached too. */
    finePairs: `gold.weekly_cell_pairs_fine_${suffix}`,
  };
}
type SegmentTables = ReturnType<typeof segmentTables>;

/** A segment's SQL with its number and table names put in (`{segment}`, `{trips}`, `{groups}`, ...). */
export function segmentSql(sql: string, segment: number): string {
  return fillSql(sql, { ...segmentTables(segment), segment: String(segment) });
}

/** Each table of a segment with the parent it is a partition of, in the order they are attached and dropped. */
export const PARENTS: [keyof SegmentTables, string][] = [
  ["trips", "silver.trips"],
  ["groups", "silver.trip_groups"],
  ["regions", "gold.weekly_regions"],
  ["origins", "gold.weekly_origin_cells"],
  ["destinations", "gold.weekly_destination_cells"],
  ["pairs", "gold.weekly_cell_pairs"],
];

/** The table of a bulk ingestion's trips: a segment of silver.trips once sealed. */
export const segmentTable = (id: number) => segmentTables(id).trips;

/**
 * Creates a bulk ingestion's segment table if it is not there: silver.trips' columns and checks,
 * `segment` fixed to the ingestion id, and no index (pipeline/transform/seal.ts builds them at once).
 */
export async function createSegment(db: Queryable, id: number): Promise<void> {
  const table = segmentTable(id);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${table} (LIKE silver.trips INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = ${id}))`,
  );
  await db.query(`ALTER TABLE ${table} ALTER COLUMN segment SET DEFAULT ${id}`);
}

/** Drops the bronze partition of an ingestion that no longer needs it. */
export async function releaseBronze(db: Queryable, id: number): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${bronzePartition(id)}`);
}

/**
 * Starts a step that writes an ingestion's trips: takes the ingestion's lock shared (a withdrawal takes
 * it exclusively, pipeline/core/withdraw.ts) and says whether the ingestion is still running: a step of
 * an ingestion that failed meanwhile does nothing.
 */
export async function enterIngestion(client: pg.PoolClient, id: number): Promise<boolean> {
  await client.query("SELECT pg_advisory_xact_lock_shared($1::int, $2::int)", [LOCK.INGESTION, id]);
  const { rows } = await client.query<{ status: IngestionStatus }>(
    "SELECT status FROM audit.ingestions WHERE id = $1::bigint",
    [id],
  );
  return rows[0] !== undefined && LIVE_STATUSES.includes(rows[0].status);
}

/**
 * Runs `fn` with the ingestion's lock held shared by the session `client` (not by a transaction: the
 * seal's and refine's steps commit one by one under it). A withdrawal takes it exclusively, so it waits
 * for `fn` or comes first.
 */
export async function holdingIngestionShared<T>(client: pg.PoolClient, id: number, fn: () => Promise<T>): Promise<T> {
  await client.query("SELECT pg_advisory_lock_shared($1::int, $2::int)", [LOCK.INGESTION, id]);
  try {
    return await fn();
  } finally {
    await client.query("SELECT pg_advisory_unlock_shared($1::int, $2::int)", [LOCK.INGESTION, id]).catch(() => {});
  }
}

/**
 * Takes the writer locks of the aggregates (`groups`, then `gold`: always in that order, so two
 * writers that take both never wait on each other in a cycle), held until the transaction ends.
 */
export async function lockAggregates(
  client: pg.PoolClient,
  ...aggregates: (keyof typeof AGGREGATE_KEY)[]
): Promise<void> {
  for (const key of (["groups", "gold"] as const).filter((k) => aggregates.includes(k)))
    await client.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [LOCK.AGGREGATES, AGGREGATE_KEY[key]]);
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
    SQL.completeIngestion,
    [id],
  );
  if (rows.length === 0) return false;
  await queueMaintenance(client, id); // runs once the transaction commits
  await recordEvent(client, id, "ingestion.completed", rows[0]!);
  return true;
}
