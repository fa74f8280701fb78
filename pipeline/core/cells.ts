/**
 * The grid levels tripflow stores (cells of 2^-level degrees; see db/migrations/4_functions.sql): the
 * SQL transforms and queries write the same numbers, and test/unit/contracts.test.ts keeps them equal.
 */
export const CELL_LEVEL = Object.freeze({
  /** silver.trip_groups: a group of similar trips shares its level-7 origin and destination cells (about 870 m). */
  group: 7,
  /** gold.weekly_origin_cells / weekly_destination_cells (about 435 m). */
  gold: 8,
  /** gold.weekly_origin_fine / weekly_destination_fine: the segments of large files only (about 110 m). */
  fineGold: 10,
  /** gold.weekly_cell_pairs: trips by the level-6 cells of both ends (about 1.7 km). */
  pairs: 6,
  /** gold.weekly_cell_pairs_fine: by the level-8 cells of both ends, the segments of large files only. */
  finePairs: 8,
  /** silver.trips' origin_cell and destination_cell: the finest level, read by box questions' edges. */
  fine: 12,
});
