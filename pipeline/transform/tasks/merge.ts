import { mergeGoldChunk, mergeGroupsChunk } from "../steps.ts";
import { chunkTask } from "./chunk.ts";

/** merge_groups: one silver chunk -> silver.trip_groups (db/transforms/silver/trip_groups.sql). */
export const mergeGroups = chunkTask("merge_groups", mergeGroupsChunk, "groups chunk merged");

/** merge_gold: one silver chunk -> gold (db/transforms/gold/*.sql). */
export const mergeGold = chunkTask("merge_gold", mergeGoldChunk, "gold chunk merged");
