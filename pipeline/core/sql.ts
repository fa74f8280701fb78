import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../db/", import.meta.url));

function load(path: string): string {
  return readFileSync(ROOT + path, "utf8");
}

/**
 * Every SQL file the pipeline runs, read once at import: a missing file stops the start at once.
 * Transforms take ($1 ingestion id, $2 first line, $3 last line, $4 chunk number).
 */
export const SQL = {
  silverDimensions: load("transforms/silver/dimensions.sql"),
  silverTrips: load("transforms/silver/trips.sql"),
  silverTripGroups: load("transforms/silver/trip_groups.sql"),
  goldWeeklyRegions: load("transforms/gold/weekly_regions.sql"),
  goldWeeklyOriginCells: load("transforms/gold/weekly_origin_cells.sql"),
  goldWeeklyDestinationCells: load("transforms/gold/weekly_destination_cells.sql"),
  withdrawAggregates: load("transforms/withdraw/aggregates.sql"),
  withdrawTripGroupBounds: load("transforms/withdraw/trip_group_bounds.sql"),
  unrecordedMoves: load("queries/landing/unrecorded_moves.sql"),
  staleBronze: load("queries/landing/stale_bronze.sql"),
} as const;

/** The transforms that merge one silver chunk into gold, in the order they run (one job, queue "gold"). */
export const GOLD_TRANSFORMS = [
  ["gold.weekly_regions", SQL.goldWeeklyRegions],
  ["gold.weekly_origin_cells", SQL.goldWeeklyOriginCells],
  ["gold.weekly_destination_cells", SQL.goldWeeklyDestinationCells],
] as const;

/** Every transform that merges one silver chunk into an aggregate: trip groups (queue "groups"), then gold. */
export const AGGREGATE_TRANSFORMS = [["silver.trip_groups", SQL.silverTripGroups], ...GOLD_TRANSFORMS] as const;
