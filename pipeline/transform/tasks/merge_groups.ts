import { TASK } from "../../core/jobs.ts";
import { mergeGroupsChunk } from "../merge.ts";
import { chunkTask } from "../step_task.ts";

/** merge_groups: one silver chunk -> silver.trip_groups (db/transforms/silver/trip_groups.sql). */
export const mergeGroups = chunkTask(TASK.mergeGroups, mergeGroupsChunk, "groups chunk merged");
