import { z } from "zod";
import type { Queryable } from "./audit.ts";
import { SQL } from "./sql.ts";

/**
 * The graphile-worker tasks and their queues: one name for each, used where jobs are queued and where
 * the worker runs them (pipeline/transform/worker.ts).
 */
export const TASK = Object.freeze({
  promoteSilver: "promote_silver",
  mergeGroups: "merge_groups",
  mergeGold: "merge_gold",
  maintain: "maintain",
  sealSegment: "seal_segment",
  compactSegments: "compact_segments",
});
export type TaskName = (typeof TASK)[keyof typeof TASK];

/** Queues that run one job at a time: merges into the same tables never wait on each other. */
const QUEUE = Object.freeze({
  groups: "groups",
  gold: "gold",
  maintenance: "maintenance",
  seal: "seal",
  compact: "compact",
});

/** What a chunk job carries: lines [first_line, end_line) of one ingestion's bronze partition. */
export const ChunkPayload = z.object({
  ingestion_id: z.number().int().positive(),
  chunk: z.number().int().nonnegative(),
  first_line: z.number().int().min(2),
  end_line: z.number().int().min(3),
});
export type ChunkPayload = z.infer<typeof ChunkPayload>;

/** What the maintenance job carries: the ingestion whose completion queued it. */
export const MaintainPayload = z.object({ ingestion_id: z.number().int().positive() });

/** What the seal job carries: the bulk ingestion whose segment it seals. */
export const SealPayload = z.object({ ingestion_id: z.number().int().positive() });

/**
 * Attempts of a chunk job. Only transient errors are retried (pipeline/transform/step_task.ts fails the
 * ingestion at once on any other); graphile-worker waits exp(attempt) seconds between attempts, so ten
 * attempts span about nine hours of a database being away. The last one fails the ingestion.
 */
const MAX_ATTEMPTS = 10;

/**
 * Queues a chunk job inside the caller's transaction: it exists if and only if the transaction commits.
 * Merges go first (priority 0, silver promotions 1): the "groups" and "gold" queues each run one job at
 * a time, so a merge waiting behind a long list of silver jobs would leave a serial tail at the end of
 * a large file; taken first, merges keep worker slots busy while the others promote silver.
 */
async function addChunkJob(db: Queryable, task: TaskName, payload: ChunkPayload, queue: string | null): Promise<void> {
  const key = `${task}:${payload.ingestion_id}:${payload.chunk}`;
  const priority = task === TASK.promoteSilver ? 1 : 0;
  await db.query(SQL.addChunkJob, [task, JSON.stringify(payload), queue, key, priority, MAX_ATTEMPTS]);
}

/** bronze -> silver for one chunk. */
export const queueSilverChunk = (db: Queryable, payload: ChunkPayload) =>
  addChunkJob(db, TASK.promoteSilver, payload, null);

/** silver -> trip groups for one chunk, on the serial "groups" queue. */
export const queueGroupsChunk = (db: Queryable, payload: ChunkPayload) =>
  addChunkJob(db, TASK.mergeGroups, payload, QUEUE.groups);

/** silver -> gold for one chunk, on the serial "gold" queue. */
export const queueGoldChunk = (db: Queryable, payload: ChunkPayload) =>
  addChunkJob(db, TASK.mergeGold, payload, QUEUE.gold);

/** VACUUM (ANALYZE) of silver and gold in two seconds; one run for completions close together. */
export async function queueMaintenance(db: Queryable, ingestionId: number): Promise<void> {
  await db.query(SQL.addMaintenanceJob, [
    TASK.maintain,
    JSON.stringify({ ingestion_id: ingestionId }),
    QUEUE.maintenance,
  ]);
}

/**
 * Queues the seal of a bulk ingestion's segment once its last chunk is in it: the file is loaded
 * (`chunks` known) and every chunk marked. The loader's last transaction calls it, holding the
 * ingestion's row lock. Seals run one at a time (queue "seal").
 */
export async function queueSealIfReady(db: Queryable, ingestionId: number): Promise<boolean> {
  const { rows } = await db.query<{ ready: boolean }>(SQL.sealReady, [ingestionId]);
  if (!rows[0]?.ready) return false;
  await db.query(SQL.addSealJob, [
    TASK.sealSegment,
    JSON.stringify({ ingestion_id: ingestionId }),
    QUEUE.seal,
    `seal:${ingestionId}`,
  ]);
  return true;
}

/**
 * Queues a compaction (pipeline/transform/compact.ts) after the maintenance run that follows a
 * completion: one at a time (queue "compact"), one waiting at most (its job key).
 */
export async function queueCompaction(db: Queryable): Promise<void> {
  await db.query(SQL.addCompactionJob, [TASK.compactSegments, QUEUE.compact]);
}
