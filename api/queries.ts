import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../db/queries/", import.meta.url));

function load(name: string): string {
  return readFileSync(ROOT + name, "utf8");
}

/** The API's named read queries (`db/queries/*.sql`), read once at import: a missing file stops the start at once. */
export const QUERIES = {
  groups: load("groups.sql"),
  groupTrips: load("group_trips.sql"),
  weeklyRegions: load("weekly_regions.sql"),
  weeklyBox: load("weekly_box.sql"),
  weeklyBoxBoth: load("weekly_box_both.sql"),
  stalledIngestions: load("stalled_ingestions.sql"),
} as const;
