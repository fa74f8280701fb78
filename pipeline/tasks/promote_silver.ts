import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { promoteSilverChunk, type ChunkPayload } from "../steps.ts";

/** promote_silver: bronze -> silver for one chunk (db/transforms/silver/*.sql). */
export const promoteSilver =
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload) => {
    const p = payload as ChunkPayload;
    const started = Date.now();
    const r = await promoteSilverChunk(pool, p);
    logger.info(
      { task: "promote_silver", ingestion: p.ingestion_id, chunk: p.chunk, rows: r.stored, rejected: r.rejected, applied: r.applied, durationMs: Date.now() - started },
      "silver chunk promoted",
    );
  };
