import { TASK } from "../../core/jobs.ts";
import { promoteSilverChunk } from "../promote.ts";
import { chunkTask } from "../step_task.ts";

/** promote_silver: bronze -> silver for one chunk (db/transforms/silver/*.sql). */
export const promoteSilver = chunkTask(
  TASK.promoteSilver,
  async (pool, p) => {
    const r = await promoteSilverChunk(pool, p);
    return { rows: r.stored, rejected: r.rejected, applied: r.applied };
  },
  "silver chunk promoted",
);
