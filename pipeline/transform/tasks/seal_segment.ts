import { SealPayload, TASK } from "../../core/jobs.ts";
import { sealSegment } from "../seal.ts";
import { stepTask } from "../step_task.ts";

/** seal_segment: a bulk ingestion's segment -> indexes, groups and gold, attached (pipeline/transform/seal.ts). */
export const sealSegmentTask = stepTask(
  TASK.sealSegment,
  SealPayload,
  async (pool, p) => {
    const r = await sealSegment(pool, p.ingestion_id);
    return { applied: r.applied, rows: r.rows, indexesMs: r.indexesMs, attachMs: r.attachMs };
  },
  "segment sealed",
);
