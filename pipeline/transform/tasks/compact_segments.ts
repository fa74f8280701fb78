import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { TASK } from "../../core/jobs.ts";
import { compactSegments } from "../compact.ts";

/** compact_segments: keeps the segments of large files at most MAX_SEGMENTS (pipeline/transform/compact.ts). */
export const compactSegmentsTask =
  (pool: pg.Pool, logger: Logger, maxSegments: number): Task =>
  async () => {
    const done = await compactSegments(pool, maxSegments);
    if (done) logger.info({ task: TASK.compactSegments, ...done }, "segments compacted");
  };
