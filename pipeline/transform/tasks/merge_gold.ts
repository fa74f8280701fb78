import { TASK } from "../../core/jobs.ts";
import { mergeGoldChunk } from "../merge.ts";
import { chunkTask } from "../step_task.ts";

/** merge_gold: one silver chunk -> gold (db/transforms/gold/*.sql). */
export const mergeGold = chunkTask(TASK.mergeGold, mergeGoldChunk, "gold chunk merged");
