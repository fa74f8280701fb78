import type pg from "pg";
import { inTransaction, recordEvent } from "../core/audit.ts";
import { queueGoldChunk, queueGroupsChunk, type ChunkPayload } from "../core/jobs.ts";
import { enterIngestion } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";

/** A transform's parameters: ($1 ingestion id, $2 first line, $3 last line, $4 chunk number). */
export const transformArgs = (p: ChunkPayload) => [p.ingestion_id, p.first_line, p.end_line - 1, p.chunk];

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
 * the chunk's two merge jobs (groups, gold) and its event. Running it again (a retried job) changes
 * nothing. (A large file's chunks never come here: the loader writes them into their segment.)
 */
export async function promoteSilverChunk(
  pool: pg.Pool,
  p: ChunkPayload,
): Promise<{ applied: boolean; stored: number; rejected: number }> {
  const started = Date.now();
  return inTransaction(pool, async (client) => {
    if (!(await enterIngestion(client, p.ingestion_id))) return { applied: false, stored: 0, rejected: 0 };
    for (const setting of TRANSFORM_SETTINGS) await client.query(setting);
    const lines = await assertBronzeChunk(client, p);
    await client.query(SQL.silverDimensions, transformArgs(p).slice(0, 3));
    const { rows } = await client.query<{ applied: number; stored: number; rejected: number }>(
      SQL.silverTrips,
      transformArgs(p),
    );
    const r = rows[0]!;
    if (r.applied === 0) return { applied: false, stored: 0, rejected: 0 };
    // Every bronze line is stored or rejected: anything else is a bug, and nothing of the chunk commits.
    if (Number(r.stored) + Number(r.rejected) !== lines)
      throw new Error(
        `silver chunk ${p.chunk} of ingestion ${p.ingestion_id}: ${r.stored} stored + ${r.rejected} rejected <> ${lines} bronze lines`,
      );
    await client.query(
      "UPDATE audit.steps SET rows = $3::bigint, rejected = $4::bigint WHERE ingestion_id = $1::bigint AND step = 'silver.trips' AND chunk = $2::int",
      [p.ingestion_id, p.chunk, r.stored, r.rejected],
    );
    await queueGroupsChunk(client, p);
    await queueGoldChunk(client, p);
    await recordEvent(client, p.ingestion_id, "silver.promoted", {
      chunk: p.chunk,
      rows: r.stored,
      rejected: r.rejected,
      ms: Date.now() - started,
    });
    return { applied: true, stored: r.stored, rejected: r.rejected };
  });
}

class BronzeChunkMissingError extends Error {
  override name = "BronzeChunkMissingError";
}

/**
 * A chunk is promoted only when its bronze rows are all there: attached, and as many as the loader
 * counted (a reload after a crash may be re-creating it; PostgreSQL empties unlogged tables after its
 * own crash). Otherwise the job fails and graphile-worker retries it later: nothing is marked done.
 */
async function assertBronzeChunk(client: pg.PoolClient, p: ChunkPayload): Promise<number> {
  const { rows } = await client.query<{ expected: number | null; present: number }>(SQL.bronzeChunkCount, [
    p.ingestion_id,
    p.chunk,
    p.first_line,
    p.end_line,
  ]);
  const { expected, present } = rows[0]!;
  if (expected === null || expected !== present)
    throw new BronzeChunkMissingError(
      `bronze chunk ${p.chunk} of ingestion ${p.ingestion_id} is not fully loaded (${present} of ${expected ?? "?"} rows); will retry`,
    );
  return present;
}
