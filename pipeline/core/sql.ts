import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DB = fileURLToPath(new URL("../../db/", import.meta.url));

/**
 * The text of one SQL file under db/, read now. Called at import by the registries below and by
 * api/queries.ts, so a missing or unreadable file stops the start at once, naming the file.
 *
 * @example const sql = loadSql("queries/weekly_regions.sql");
 */
export function loadSql(relativePath: string): string {
  try {
    return readFileSync(DB + relativePath, "utf8");
  } catch (err) {
    throw new Error(`SQL file db/${relativePath} cannot be read (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Every SQL file the pipeline runs, read once at import: a missing file stops the start at once.
 * Transforms take ($1 ingestion id, $2 first line, $3 last line, $4 chunk number); each query's header
 * lists its own parameters.
 */
export const SQL = {
  silverDimensions: loadSql("transforms/silver/dimensions.sql"),
  silverTrips: loadSql("transforms/silver/trips.sql"),
  silverTripGroups: loadSql("transforms/silver/trip_groups.sql"),
  goldWeeklyRegions: loadSql("transforms/gold/weekly_regions.sql"),
  goldWeeklyOriginCells: loadSql("transforms/gold/weekly_origin_cells.sql"),
  goldWeeklyCellPairs: loadSql("transforms/gold/weekly_cell_pairs.sql"),
  goldWeeklyDestinationCells: loadSql("transforms/gold/weekly_destination_cells.sql"),
  withdrawAggregates: loadSql("transforms/withdraw/aggregates.sql"),
  sealGroupsTable: loadSql("transforms/seal/groups_table.sql"),
  sealStageGroups: loadSql("transforms/seal/stage_groups.sql"),
  sealGroupsKeys: loadSql("transforms/seal/groups_keys.sql"),
  sealStageGold: loadSql("transforms/seal/stage_gold.sql"),
  sealGoldTables: loadSql("transforms/seal/gold_tables.sql"),
  sealGoldKeys: loadSql("transforms/seal/gold_keys.sql"),
  sealPairsTable: loadSql("transforms/seal/pairs_table.sql"),
  sealStagePairs: loadSql("transforms/seal/stage_pairs.sql"),
  sealPairsKeys: loadSql("transforms/seal/pairs_keys.sql"),
  refineFineCells: loadSql("transforms/refine/fine_cells.sql"),
  refineFinePairs: loadSql("transforms/refine/fine_pairs.sql"),
  compactTrips: loadSql("transforms/compact/trips.sql"),
  compactGroups: loadSql("transforms/compact/groups.sql"),
  compactGold: loadSql("transforms/compact/gold.sql"),
  withdrawTripGroupBounds: loadSql("transforms/withdraw/trip_group_bounds.sql"),
  unrecordedMoves: loadSql("queries/landing/unrecorded_moves.sql"),
  staleBronze: loadSql("queries/landing/stale_bronze.sql"),
  insertIngestion: loadSql("queries/landing/insert_ingestion.sql"),
  startBronzeLoad: loadSql("queries/bronze/start_load.sql"),
  recordBronzeChunk: loadSql("queries/bronze/record_chunk.sql"),
  recordSegmentChunk: loadSql("queries/bronze/record_segment_chunk.sql"),
  bronzeChunkMarkers: loadSql("queries/bronze/chunk_markers.sql"),
  bronzeChunkCount: loadSql("queries/transform/bronze_chunk_count.sql"),
  abandonedWorkers: loadSql("queries/transform/abandoned_workers.sql"),
  completeIngestion: loadSql("queries/core/complete_ingestion.sql"),
  failWithdrawnIngestion: loadSql("queries/core/fail_withdrawn_ingestion.sql"),
  failIngestion: loadSql("queries/core/fail_ingestion.sql"),
  eventsAfter: loadSql("queries/core/events_after.sql"),
  addChunkJob: loadSql("queries/core/add_chunk_job.sql"),
  addMaintenanceJob: loadSql("queries/core/add_maintenance_job.sql"),
  addSealJob: loadSql("queries/core/add_seal_job.sql"),
  addCompactionJob: loadSql("queries/core/add_compaction_job.sql"),
  sealReady: loadSql("queries/transform/seal_ready.sql"),
  sealState: loadSql("queries/transform/seal_state.sql"),
  sealMarkers: loadSql("queries/transform/seal_markers.sql"),
  segments: loadSql("queries/transform/segments.sql"),
  compactionLeftovers: loadSql("queries/transform/compaction_leftovers.sql"),
  demoRegionsSummary: loadSql("queries/demo/regions_summary.sql"),
} as const;

/** The transforms that merge one silver chunk into gold, in the order they run (one job, queue "gold"). */
export const GOLD_TRANSFORMS = [
  ["gold.weekly_regions", SQL.goldWeeklyRegions],
  ["gold.weekly_origin_cells", SQL.goldWeeklyOriginCells],
  ["gold.weekly_destination_cells", SQL.goldWeeklyDestinationCells],
  ["gold.weekly_cell_pairs", SQL.goldWeeklyCellPairs],
] as const;

/** Every transform that merges one silver chunk into an aggregate: trip groups (queue "groups"), then gold. */
export const AGGREGATE_TRANSFORMS = [["silver.trip_groups", SQL.silverTripGroups], ...GOLD_TRANSFORMS] as const;

/** `sql` with each `{name}` replaced by `values[name]` (table names made from ids, never from input). */
export function fillSql(sql: string, values: Record<string, string>): string {
  return sql.replaceAll(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}
