import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { mergeGoldChunk, mergeGroupsChunk, type ChunkPayload } from "../steps.ts";

type Merge = (pool: pg.Pool, p: ChunkPayload) => Promise<{ applied: boolean; completed: boolean }>;

const mergeTask =
  (task: string, merge: Merge, message: string) =>
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload) => {
    const p = payload as ChunkPayload;
    const started = Date.now();
    const r = await merge(pool, p);
    logger.info(
      { task, ingestion: p.ingestion_id, chunk: p.chunk, applied: r.applied, completed: r.completed, durationMs: Date.now() - started },
      message,
    );
  };

/** merge_groups: one silver chunk -> silver.trip_groups (db/transforms/silver/trip_groups.sql). */
export const mergeGroups = mergeTask("merge_groups", mergeGroupsChunk, "groups chunk merged");

/** merge_gold: one silver chunk -> gold (db/transforms/gold/*.sql). */
export const mergeGold = mergeTask("merge_gold", mergeGoldChunk, "gold chunk merged");
