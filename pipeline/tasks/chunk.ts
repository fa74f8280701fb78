import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import type { ChunkPayload } from "../steps.ts";

/**
 * A graphile-worker task that runs one chunk step and logs what it reports, with the task, the
 * ingestion, the chunk and how long it took.
 */
export const chunkTask =
  (task: string, step: (pool: pg.Pool, p: ChunkPayload) => Promise<Record<string, unknown>>, message: string) =>
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload) => {
    const p = payload as ChunkPayload;
    const started = Date.now();
    const reported = await step(pool, p);
    logger.info({ task, ingestion: p.ingestion_id, chunk: p.chunk, ...reported, durationMs: Date.now() - started }, message);
  };
