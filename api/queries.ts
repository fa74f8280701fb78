import { fillSql, loadSql } from "../pipeline/core/sql.ts";

const load = (name: string) => loadSql(`queries/${name}`);
const WEEKLY_BOX = load("weekly_box.sql");
const WEEKLY_BOX_FINE = load("weekly_box_fine.sql");
const CELLS = load("cells.sql");

/** The API's named read queries (`db/queries/*.sql`), read once at import: a missing file stops the start at once. */
export const QUERIES = {
  groups: load("groups.sql"),
  groupTrips: load("group_trips.sql"),
  weeklyRegions: load("weekly_regions.sql"),
  /** weekly_box.sql for each end of a trip (a template on {end} and {other}). */
  weeklyBox: {
    origin: fillSql(WEEKLY_BOX, { end: "origin", other: "destination" }),
    destination: fillSql(WEEKLY_BOX, { end: "destination", other: "origin" }),
  },
  /** weekly_box_fine.sql for each end (weekly_box.sql's {fine} when planned at level 10; {unrefined} left to fill). */
  weeklyBoxFine: {
    origin: fillSql(WEEKLY_BOX_FINE, { end: "origin" }),
    destination: fillSql(WEEKLY_BOX_FINE, { end: "destination" }),
  },
  weeklyBoxBoth: load("weekly_box_both.sql"),
  fineState: load("fine_state.sql"),
  /** cells.sql for each end of a trip (a template on {end}). */
  cells: { origin: fillSql(CELLS, { end: "origin" }), destination: fillSql(CELLS, { end: "destination" }) },
  regions: load("regions.sql"),
  stalledIngestions: load("stalled_ingestions.sql"),
  ingestions: load("ingestions.sql"),
  ingestionRejects: load("ingestion_rejects.sql"),
} as const;
