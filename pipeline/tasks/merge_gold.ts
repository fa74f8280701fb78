import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { mergeGoldChunk, type ChunkPayload } from "../steps.ts";

/** merge_gold: one silver chunk -> gold (db/transforms/gold/*.sql). */
export const mergeGold =
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload) => {
    const p = payload as ChunkPayload;
    const started = Date.now();
    const r = await mergeGoldChunk(pool, p);
    logger.info(
      { task: "merge_gold", ingestion: p.ingestion_id, chunk: p.chunk, applied: r.applied, completed: r.completed, durationMs: Date.now() - started },
      "gold chunk merged",
    );
  };
