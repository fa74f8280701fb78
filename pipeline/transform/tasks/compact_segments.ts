import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { TASK } from "../../core/jobs.ts";
import { compactSegments } from "../compact.ts";
import { refineSegments, type RefineThresholds } from "../refine.ts";

/**
 * compact_segments: keeps the segments of large files at most MAX_SEGMENTS (pipeline/transform/compact.ts),
 * then builds the level-10 counts and level-8 cell pairs of the segments large enough (`minTrips`) that
 * lack them (pipeline/transform/refine.ts).
 */
export const compactSegmentsTask =
  (pool: pg.Pool, logger: Logger, maxSegments: number, minTrips: RefineThresholds): Task =>
  async () => {
    const done = await compactSegments(pool, maxSegments);
    if (done) logger.info({ task: TASK.compactSegments, ...done }, "segments compacted");
    for (const refined of await refineSegments(pool, minTrips))
      logger.info({ task: TASK.compactSegments, ...refined }, "level-10 counts or level-8 pairs built");
  };
