import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { mergeGroupsChunk, type ChunkPayload } from "../steps.ts";

/** merge_groups: one silver chunk -> silver.trip_groups (db/transforms/silver/trip_groups.sql). */
export const mergeGroups =
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload) => {
    const p = payload as ChunkPayload;
    const started = Date.now();
    const r = await mergeGroupsChunk(pool, p);
    logger.info(
      { task: "merge_groups", ingestion: p.ingestion_id, chunk: p.chunk, applied: r.applied, completed: r.completed, durationMs: Date.now() - started },
      "groups chunk merged",
    );
  };
