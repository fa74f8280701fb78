/**
 * What the loader's thread and the counting thread (load_counts.ts, count_worker.ts) say to each
 * other. Values per trip: region, day (from 1970-01-01), minute of the day, level-12 origin column
 * and row, destination column and row, the four coordinates, and the moment in microseconds from
 * 2000-01-01.
 */
export const TRIP_VALUES = 12;

export type CountTable = "regions" | "origins" | "destinations" | "groups";

/** From the loader's thread: a batch of trips, the end of them, or the next piece of a table's rows. */
export type CountRequest =
  | { type: "trips"; values: Float64Array; count: number }
  | { type: "end" }
  | { type: "rows"; table: CountTable };

/** From the counting thread, in the order asked: a batch counted (handed back), what was kept, a piece of rows. */
export type CountReply =
  | { type: "counted"; values: Float64Array<ArrayBuffer> }
  | { type: "ended"; weekly: boolean; groups: boolean }
  | { type: "rows"; piece: Uint8Array; done: boolean };
