import { fillSql, loadSql } from "../pipeline/core/sql.ts";

const load = (name: string) => loadSql(`queries/${name}`);
const WEEKLY_BOX = load("weekly_box.sql");
const WEEKLY_BOX_FINE = load("weekly_box_fine.sql");
/** weekly_box.sql's `fine` part when a query reads no level-10 cell. */
const NO_FINE = "SELECT NULL::date AS week, NULL::bigint AS trips WHERE false";
const weeklyBox = (end: "origin" | "destination", fine: string) =>
  fillSql(WEEKLY_BOX, { end, other: end === "origin" ? "destination" : "origin", fine });
const CELLS = load("cells.sql");
const WEEKLY_BOX_BOTH = load("weekly_box_both.sql");

/** The trips of these silver tables (segment 0's alone for none), as a subquery: the templates' unrefined and unpaired. */
export const tripsOf = (tables: string[], columns: string) =>
  `(${(tables.length > 0 ? tables : ["silver.trips_0"]).map((t) => `SELECT ${columns} FROM ${t}`).join(" UNION ALL ")})`;

/** weekly_box_both.sql with the trips of the segments without level-8 pairs (`unpaired`, table names). */
export function weeklyBoxBoth(unpaired: string[]): string {
  return fillSql(WEEKLY_BOX_BOTH, {
    unpaired: tripsOf(unpaired, "trip_time, region_id, origin_cell, destination_cell"),
  });
}

/** The API's named read queries (`db/queries/*.sql`), read once at import: a missing file stops the start at once. */
export const QUERIES = {
  groups: load("groups.sql"),
  groupTrips: load("group_trips.sql"),
  weeklyRegions: load("weekly_regions.sql"),
  /** weekly_box.sql for each end of a trip, planned at level 8: its `fine` part a query of no rows. */
  weeklyBox: {
    origin: weeklyBox("origin", NO_FINE),
    destination: weeklyBox("destination", NO_FINE),
  },
  /**
   * weekly_box.sql for each end, planned at level 10: its `fine` part weekly_box_fine.sql, whose
   * {unrefined} (the tables of the segments without level-10 counts) api/routes/stats.ts fills.
   */
  weeklyBoxFine: {
    origin: weeklyBox("origin", fillSql(WEEKLY_BOX_FINE, { end: "origin" })),
    destination: weeklyBox("destination", fillSql(WEEKLY_BOX_FINE, { end: "destination" })),
  },
  /** weekly_box_both.sql without level-8 pairs: its `unpaired` is segment 0's trips, which it does not read then. */
  weeklyBoxBoth: weeklyBoxBoth([]),
  fineState: load("fine_state.sql"),
  /** cells.sql for each end of a trip (a template on {end}). */
  cells: { origin: fillSql(CELLS, { end: "origin" }), destination: fillSql(CELLS, { end: "destination" }) },
  regions: load("regions.sql"),
  stalledIngestions: load("stalled_ingestions.sql"),
  ingestions: load("ingestions.sql"),
  ingestionRejects: load("ingestion_rejects.sql"),
} as const;
