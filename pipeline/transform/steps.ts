import type pg from "pg";
import { inTransaction, recordEvent, type Queryable } from "../core/audit.ts";
import { AGGREGATE_KEY, LOCK } from "../core/locks.ts";
import { GOLD_TRANSFORMS, SQL } from "../core/sql.ts";

/** What a chunk job carries: lines [first_line, end_line) of one ingestion's bronze partition. */
export type ChunkPayload = { ingestion_id: number; chunk: number; first_line: number; end_line: number };

export const SILVER_TASK = "promote_silver";
export const GOLD_TASK = "merge_gold";
export const GROUPS_TASK = "merge_groups";
export const MAINTAIN_TASK = "maintain";
const GOLD_QUEUE = "gold";
const GROUPS_QUEUE = "groups";

/**
 * Queues a job inside the caller's transaction: it exists if and only if the transaction commits.
 * Merges go first (priority 0, silver promotions 1): the "groups" and "gold" queues each run one job at
 * a time, so a merge waiting behind a long list of silver jobs would leave a serial tail at the end of
 * a large file; taken first, merges keep worker slots busy while the others promote silver.
 */
export async function addJob(db: Queryable, task: string, payload: ChunkPayload, queue: string | null = null): Promise<void> {
  await db.query(
    "SELECT graphile_worker.add_job($1::text, $2::json, queue_name => $3::text, job_key => $4::text, max_attempts => $6::int, priority => $5::int)",
    [task, JSON.stringify(payload), queue, `${task}:${payload.ingestion_id}:${payload.chunk}`, task === SILVER_TASK ? 1 : 0, MAX_ATTEMPTS],
  );
}

/**
 * Attempts of a chunk job. Only transient errors are retried (pipeline/transform/tasks/chunk.ts fails the
 * ingestion at once on any other); graphile-worker waits exp(attempt) seconds between attempts, so ten
 * attempts span about nine hours of a database being away. The last one fails the ingestion.
 */
export const MAX_ATTEMPTS = 10;

export const queueSilverChunk = (db: Queryable, payload: ChunkPayload) => addJob(db, SILVER_TASK, payload);

const transformArgs = (p: ChunkPayload) => [p.ingestion_id, p.first_line, p.end_line - 1, p.chunk];

const LIVE = ["queued", "loading", "transforming"];

/**
 * Starts a step that writes an ingestion's trips: takes the ingestion's lock shared (a withdrawal takes
 * it exclusively, pipeline/core/withdraw.ts) and says whether the ingestion is still running. A step of an
 * ingestion that failed meanwhile does nothing.
 */
async function enterIngestion(client: pg.PoolClient, id: number): Promise<boolean> {
  await client.query("SELECT pg_advisory_xact_lock_shared($1::int, $2::int)", [LOCK.INGESTION, id]);
  const { rows } = await client.query<{ status: string }>("SELECT status FROM audit.ingestions WHERE id = $1::bigint", [id]);
  return rows[0] !== undefined && LIVE.includes(rows[0].status);
}

/**
 * For the transform transactions only. work_mem: a chunk's intermediate results (the parsed rows of
 * a 250,000-line chunk are about 150 MB) and its sorts stay in memory instead of temporary files.
 * enable_nestloop: the transforms read whole chunks and look names up in tiny dimension tables; the
 * planner cannot estimate a CTE's row count and otherwise picks a nested loop of 250,000 index probes
 * where one hash join is several times cheaper.
 */
export const TRANSFORM_SETTINGS = ["SET LOCAL work_mem = '256MB'", "SET LOCAL enable_nestloop = off"];

/**
 * bronze -> silver for one chunk, in one transaction: dimensions, trips and rejects, the step marker,
 * the chunk's two merge jobs (groups, gold) and its event. Running it again (a retried job) changes nothing.
 */
export async function promoteSilverChunk(pool: pg.Pool, p: ChunkPayload): Promise<{ applied: boolean; stored: number; rejected: number }> {
  const started = Date.now();
  return inTransaction(pool, async (client) => {
    if (!(await enterIngestion(client, p.ingestion_id))) return { applied: false, stored: 0, rejected: 0 };
    for (const setting of TRANSFORM_SETTINGS) await client.query(setting);
    const lines = await assertBronzeChunk(client, p);
    await client.query(SQL.silverDimensions, transformArgs(p).slice(0, 3));
    const { rows } = await client.query<{ applied: number; stored: number; rejected: number }>(SQL.silverTrips, transformArgs(p));
    const r = rows[0]!;
    if (r.applied === 0) return { applied: false, stored: 0, rejected: 0 };
    // Every bronze line is stored or rejected: anything else is a bug, and nothing of the chunk commits.
    if (Number(r.stored) + Number(r.rejected) !== lines)
      throw new Error(`silver chunk ${p.chunk} of ingestion ${p.ingestion_id}: ${r.stored} stored + ${r.rejected} rejected <> ${lines} bronze lines`);
    await client.query(
      "UPDATE audit.steps SET rows = $3::bigint, rejected = $4::bigint WHERE ingestion_id = $1::bigint AND step = 'silver.trips' AND chunk = $2::int",
      [p.ingestion_id, p.chunk, r.stored, r.rejected],
    );
    await addJob(client, GROUPS_TASK, p, GROUPS_QUEUE);
    await addJob(client, GOLD_TASK, p, GOLD_QUEUE);
    await recordEvent(client, p.ingestion_id, "silver.promoted", "silver", {
      chunk: p.chunk,
      rows: r.stored,
      rejected: r.rejected,
      ms: Date.now() - started,
    });
    return { applied: true, stored: r.stored, rejected: r.rejected };
  });
}

export class BronzeChunkMissingError extends Error {
  override name = "BronzeChunkMissingError";
}

/**
 * A chunk is promoted only when its bronze rows are all there: attached, and as many as the loader
 * counted (a reload after a crash may be re-creating it; PostgreSQL empties unlogged tables after its
 * own crash). Otherwise the job fails and graphile-worker retries it later: nothing is marked done.
 */
async function assertBronzeChunk(client: pg.PoolClient, p: ChunkPayload): Promise<number> {
  const { rows } = await client.query<{ expected: number | null; present: number }>(
    `SELECT (SELECT rows FROM audit.steps WHERE ingestion_id = $1::bigint AND step = 'bronze' AND chunk = $2::int) AS expected,
            (SELECT count(*) FROM bronze.trips WHERE ingestion_id = $1::bigint AND line_no >= $3::bigint AND line_no < $4::bigint) AS present`,
    [p.ingestion_id, p.chunk, p.first_line, p.end_line],
  );
  const { expected, present } = rows[0]!;
  if (expected === null || expected !== present)
    throw new BronzeChunkMissingError(
      `bronze chunk ${p.chunk} of ingestion ${p.ingestion_id} is not fully loaded (${present} of ${expected ?? "?"} rows); will retry`,
    );
  return present;
}

/**
 * One merge of a silver chunk into an aggregate, in one transaction: `merge` does the work and says
 * what the event reports (null when the chunk was merged before), then the chunk's event and the
 * completion check, which completes the ingestion when this was the last merge it waited for.
 */
async function mergeChunk(
  pool: pg.Pool,
  p: ChunkPayload,
  event: { type: string; stage: string },
  aggregate: keyof typeof AGGREGATE_KEY,
  merge: (client: pg.PoolClient) => Promise<Record<string, unknown> | null>,
): Promise<{ applied: boolean; completed: boolean }> {
  const started = Date.now();
  return inTransaction(pool, async (client) => {
    if (!(await enterIngestion(client, p.ingestion_id))) return { applied: false, completed: false };
    // Merges of one aggregate run one at a time anyway (one queue); the lock also keeps a withdrawal out.
    await client.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [LOCK.AGGREGATES, AGGREGATE_KEY[aggregate]]);
    for (const setting of TRANSFORM_SETTINGS) await client.query(setting);
    const reported = await merge(client);
    await lockIngestion(client, p.ingestion_id);
    if (reported) await recordEvent(client, p.ingestion_id, event.type, event.stage, { chunk: p.chunk, ...reported, ms: Date.now() - started });
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
  return mergeChunk(pool, p, { type: "silver.grouped", stage: "silver" }, "groups", async (client) => {
    const { rows } = await client.query<{ applied: number; groups: number }>(SQL.silverTripGroups, transformArgs(p));
    return rows[0]!.applied === 1 ? { groups: rows[0]!.groups } : null;
  });
}

/**
 * silver -> gold for one chunk (db/transforms/gold/*.sql). Runs on the serial "gold" queue. Running it
 * again changes nothing. A chunk promoted by a version that merged groups in this job has no groups
 * job: one is queued here.
 */
export function mergeGoldChunk(pool: pg.Pool, p: ChunkPayload): Promise<{ applied: boolean; completed: boolean }> {
  return mergeChunk(pool, p, { type: "gold.refreshed", stage: "gold" }, "gold", async (client) => {
    // The chunk's own marker: a second run (or a concurrent duplicate, once this one commits) finds it.
    const marker = await client.query(
      "INSERT INTO audit.steps (ingestion_id, step, chunk) VALUES ($1::bigint, 'gold', $2::int) ON CONFLICT DO NOTHING RETURNING 1",
      [p.ingestion_id, p.chunk],
    );
    if (marker.rowCount === 1) for (const [, sql] of GOLD_TRANSFORMS) await client.query(sql, transformArgs(p));
    const grouped = await client.query(
      "SELECT 1 FROM audit.steps WHERE ingestion_id = $1::bigint AND step = 'silver.trip_groups' AND chunk = $2::int",
      [p.ingestion_id, p.chunk],
    );
    if (grouped.rowCount === 0) await addJob(client, GROUPS_TASK, p, GROUPS_QUEUE);
    return marker.rowCount === 1 ? {} : null;
  });
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
  // VACUUM (ANALYZE) of silver and gold once the transaction commits; one run for completions close together.
  await client.query(
    "SELECT graphile_worker.add_job($1::text, $2::json, queue_name => 'maintenance', job_key => 'maintain', run_at => now() + interval '2 seconds', max_attempts => 3)",
    [MAINTAIN_TASK, JSON.stringify({ ingestion_id: id })],
  );
  await recordEvent(client, id, "ingestion.completed", "ingestion", rows[0]!);
  return true;
}
