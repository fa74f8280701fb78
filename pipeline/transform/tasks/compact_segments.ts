import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { TASK } from "../../core/jobs.ts";
import { compactSegments } from "../compact.ts";
import { refineSegments } from "../refine.ts";

/**
 * compact_segments: keeps the segments of large files at most MAX_SEGMENTS (pipeline/transform/compact.ts),
 * then builds the level-10 counts of the segments of at least `fineMinTrips` trips that lack them
 * (pipeline/transform/refine.ts).
 */
export const compactSegmentsTask =
  (pool: pg.Pool, logger: Logger, maxSegments: number, fineMinTrips: number): Task =>
  async () => {
    const done = await compactSegments(pool, maxSegments);
    if (done) logger.info({ task: TASK.compactSegments, ...done }, "segments compacted");
    for (const refined of await refineSegments(pool, fineMinTrips))
      logger.info({ task: TASK.compactSegments, ...refined }, "level-10 counts built");
  };
