import { promoteSilverChunk } from "../steps.ts";
import { chunkTask } from "./chunk.ts";

/** promote_silver: bronze -> silver for one chunk (db/transforms/silver/*.sql). */
export const promoteSilver = chunkTask(
  "promote_silver",
  async (pool, p) => {
    const r = await promoteSilverChunk(pool, p);
    return { rows: r.stored, rejected: r.rejected, applied: r.applied };
  },
  "silver chunk promoted",
);
