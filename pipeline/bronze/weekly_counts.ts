import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { CELL_LEVEL } from "../core/cells.ts";
import { segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { BinaryRows, daysFromCivil, date, int4, int8, timestampField } from "./binary.ts";
import { type CountTable, KEYS_PER_TRIP, TripTables, WEEK_BITS } from "./count_tables.js";
import { paced } from "./turns.ts";

/** 0001-01-01, a Monday: weeks are numbered from it (week n starts 7n days later). */
const FIRST_MONDAY = daysFromCivil(1, 1, 1);
/** Level-12 columns and rows per level-8 cell, and the rows of level 8 (packing a cell in 32 bits). */
const FINE_PER_GOLD = 2 ** (CELL_LEVEL.fine - CELL_LEVEL.gold);
const GOLD_ROWS = 180 * 2 ** CELL_LEVEL.gold;
/** The same for the level-6 cells of gold.weekly_cell_pairs: a cell packed as column * PAIR_ROWS + row, below 2^28. */
const PAIR_SHIFT = CELL_LEVEL.fine - CELL_LEVEL.pairs;
const PAIR_ROWS = 180 * 2 ** CELL_LEVEL.pairs;
/** A pair's week and region share 32 bits: regions from this id on give the pairs up. */
const PAIR_REGIONS = 2 ** 13;
/** Binary COPY rows handed out at a time by WeeklyCounts.pairRows and groupRows. */
const ROW_BATCH = 16_384;
/** The level-12 columns (rows) of a group's level-7 cell, and its rows: a level-7 cell packs as column * 2^15 + row. */
const GROUP_SHIFT = CELL_LEVEL.fine - CELL_LEVEL.group;
const GROUP_ROWS = 2 ** 15;
/** A group's key `a` packs region * 2^37 + level-7 origin cell * 2^6 + slot: regions from 2^16 on give the groups up. */
const GROUP_REGIONS = 2 ** 16;
const GROUP_A = 2 ** 37;
/** Moments whose microseconds since 2000 a double holds exactly (about 285 years either side). */
const MAX_GROUP_SECONDS = 9e9;

/**
 * A trip's place in its group (silver.trip_groups), written with its keys: `seconds` since
 * 2000-01-01 and `micros`, its minute of the day, and its points in degrees.
 */
export type GroupTrip = {
  seconds: number;
  micros: number;
  minute: number;
  originLon: number;
  originLat: number;
  destinationLon: number;
  destinationLat: number;
};

/** A GroupTrip of zeros, to write each trip's numbers over. */
export const blankGroupTrip = (): GroupTrip => ({
  seconds: 0,
  micros: 0,
  minute: 0,
  originLon: 0,
  originLat: 0,
  destinationLon: 0,
  destinationLat: 0,
});

/**
 * A trip's keys, as TripTables.addAll (count_tables.js) takes them, written at keys[at, at +
 * KEYS_PER_TRIP): its region-and-week key (region * 2^19 + week), its level-8 origin and destination
 * cells packed below 2^32, its level-6 origin and destination cells packed below 2^28 and the pair's
 * week * 2^13 + region as an int32 (a pair origin of -1 for a region id the pairs cannot pack); then
 * its group's keys (region * 2^37 + level-7 origin cell * 2^6 + slot, and the level-7 destination
 * cell; a first of -1 without `group`, for a region id from 2^16 on or a moment a double cannot hold
 * in microseconds), its points and its moment in microseconds since 2000. False, and nothing written,
 * for a week outside years 1..9999: the counts then give up.
 */
export function tripKeys(
  keys: Float64Array,
  at: number,
  region: number,
  days: number,
  ox: number,
  oy: number,
  dx: number,
  dy: number,
  group?: GroupTrip,
): boolean {
  const week = Math.floor((days - FIRST_MONDAY) / 7);
  if (week < 0 || week >= WEEK_BITS) return false;
  keys[at] = region * WEEK_BITS + week;
  keys[at + 1] = Math.floor(ox / FINE_PER_GOLD) * GOLD_ROWS + Math.floor(oy / FINE_PER_GOLD);
  keys[at + 2] = Math.floor(dx / FINE_PER_GOLD) * GOLD_ROWS + Math.floor(dy / FINE_PER_GOLD);
  keys[at + 3] = region < PAIR_REGIONS ? (ox >> PAIR_SHIFT) * PAIR_ROWS + (oy >> PAIR_SHIFT) : -1;
  keys[at + 4] = (dx >> PAIR_SHIFT) * PAIR_ROWS + (dy >> PAIR_SHIFT);
  keys[at + 5] = (week * PAIR_REGIONS + region) | 0;
  if (!group || region >= GROUP_REGIONS || Math.abs(group.seconds) > MAX_GROUP_SECONDS) {
    keys[at + 6] = -1;
    return true;
  }
  const origin = (ox >> GROUP_SHIFT) * GROUP_ROWS + (oy >> GROUP_SHIFT);
  keys[at + 6] = region * GROUP_A + origin * 64 + Math.floor(group.minute / 30);
  keys[at + 7] = (dx >> GROUP_SHIFT) * GROUP_ROWS + (dy >> GROUP_SHIFT);
  keys[at + 8] = group.originLon;
  keys[at + 9] = group.originLat;
  keys[at + 10] = group.destinationLon;
  keys[at + 11] = group.destinationLat;
  keys[at + 12] = group.seconds * 1e6 + group.micros;
  return true;
}

/**
 * A large file's weekly counts, kept while its lines are read (silver_rows.ts SilverRows): trips per
 * (region, ISO week), per (region, week, level-8 origin cell) and per (region, week, level-8
 * destination cell), exactly what db/transforms/seal/stage_gold.sql computes from the segment, and per
 * (region, week, level-6 origin cell, level-6 destination cell), what seal/stage_pairs.sql does. Only a
 * file's first load keeps them (pipeline/bronze/intake.ts): a load resumed after a crash skips the
 * chunks in the segment already, and the seal then counts the segment itself. The tables
 * (count_tables.js) are bounded: past their bound (or for a week outside years 1..9999) they give up
 * (`complete` false), and the seal counts instead. The pairs, many more keys, give up on their own
 * (`pairsComplete`; also for a region id from 2^13 on) and free their table: then the seal counts them.
 * So do the groups of similar trips (`groupsComplete`), what seal/stage_groups.sql computes, kept only
 * when the tables were made with room for them (TripTables' groupSlots: small files, counting.ts
 * groupSlots).
 */
export class WeeklyCounts {
  private readonly keys = new Float64Array(KEYS_PER_TRIP);

  /** Counts kept here, or (`tables`) those a counting thread kept (counting.ts). */
  constructor(private readonly tables = new TripTables()) {}

  /**
   * One trip: its region, the day of its date (from 1970-01-01), its level-12 cells (column, row) and,
   * for its group, its moment and points (without: the groups give up).
   */
  add(region: number, days: number, ox: number, oy: number, dx: number, dy: number, group?: GroupTrip): void {
    if (tripKeys(this.keys, 0, region, days, ox, oy, dx, dy, group)) this.tables.addAll(this.keys, 1);
    else this.tables.giveUp();
  }

  get complete(): boolean {
    return this.tables.whole;
  }

  /** Whether the pairs are whole (and so is the rest). */
  get pairsComplete(): boolean {
    return this.tables.whole && this.tables.pairs !== null;
  }

  /** Whether the groups are whole (and so is the rest). */
  get groupsComplete(): boolean {
    return this.tables.whole && this.tables.groups !== null;
  }

  /**
   * Binary COPY rows for silver.trip_groups' columns (GROUP_COLUMNS), PAIR_BATCH rows a piece, in no
   * order (the key is built by a sort).
   */
  *groupRows(segment: number): Generator<Buffer> {
    const groups = this.tables.whole && this.tables.groups;
    if (!groups) throw new Error("the groups gave up: the seal aggregates them");
    const out = new GroupRows();
    yield* inPieces(groups, out, (t, at) => out.row(t, at, segment));
  }

  /** Binary COPY rows for gold.weekly_regions' columns (region_id, week, trips, segment), by region and week. */
  regionRows(segment: number): Generator<Buffer> {
    return this.rows(this.tables.regions, segment, false);
  }

  /**
   * Binary COPY rows for a cell table's columns (region_id, week, cell, trips, segment), by cell, week
   * and region: the order of the table's key, as the seal writes them. Sorted when the first piece is
   * asked for, then written ROW_BATCH rows a piece.
   */
  cellRows(end: "origins" | "destinations", segment: number): Generator<Buffer> {
    return this.rows(this.tables[end], segment, true);
  }

  /**
   * Binary COPY rows for gold.weekly_cell_pairs' columns (region_id, week, origin_cell,
   * destination_cell, trips, segment), PAIR_BATCH rows a piece, in no order (the key is built by a
   * sort, and box answers read it alone): nothing is copied or sorted first.
   */
  *pairRows(segment: number): Generator<Buffer> {
    const pairs = this.tables.whole && this.tables.pairs;
    if (!pairs) throw new Error("the cell pairs gave up: the seal counts them");
    const out = new PairRows();
    yield* inPieces(pairs, out, (t, at) => {
      const wr = t[at + 2]! >>> 0;
      out.row(t[at]!, t[at + 1]!, Math.floor(wr / PAIR_REGIONS), wr % PAIR_REGIONS, t[at + 3]!, segment);
    });
  }

  private *rows(table: CountTable, segment: number, cells: boolean): Generator<Buffer> {
    table.sortRows(cells); // done already when the counting thread kept the table
    // Its slots are now its rows in order, densely: key, cell, trips.
    const t = table.slots;
    const out = new CountRows();
    for (let i = 0; i < table.size; i++) {
      out.row(t[3 * i]!, cells ? t[3 * i + 1]! : null, t[3 * i + 2]!, segment);
      if ((i + 1) % ROW_BATCH === 0) yield* out.take();
    }
    out.end();
    yield* out.take();
  }
}

/**
 * Binary COPY rows of every filled slot of a table (count_tables.js PairTable, GroupTable), written by
 * `row` into `out` and handed out ROW_BATCH rows a piece, in slot order: nothing is copied or sorted first.
 */
function* inPieces<S>(
  table: { mask: number; forEachFrom(from: number, limit: number, fn: (slots: S, at: number) => void): number },
  out: BinaryRows,
  row: (slots: S, at: number) => void,
): Generator<Buffer> {
  for (let slot = 0; slot <= table.mask; ) {
    slot = table.forEachFrom(slot, ROW_BATCH, row);
    if (slot <= table.mask) yield* out.take();
  }
  out.end();
  yield* out.take();
}

class CountRows extends BinaryRows {
  row(key: number, cell: number | null, trips: number, segment: number): void {
    this.room(64);
    const v = this.view;
    const week = key % WEEK_BITS;
    v.setInt16(this.used, cell === null ? 4 : 5);
    let at = int4(v, this.used + 2, (key - week) / WEEK_BITS);
    at = date(v, at, FIRST_MONDAY + 7 * week);
    if (cell !== null) {
      const column = Math.floor(cell / GOLD_ROWS);
      at = int8(v, at, CELL_LEVEL.gold * 2 ** 42 + column * 2 ** 21 + (cell - column * GOLD_ROWS));
    }
    at = int8(v, at, trips);
    this.used = int4(v, at, segment);
  }
}

/** A cell of `level` packed as column * `rows` + row, as its id (tripflow.cell's packing). */
const packedCell = (packed: number, level: number, rows: number) => {
  const column = Math.floor(packed / rows);
  return level * 2 ** 42 + column * 2 ** 21 + (packed - column * rows);
};
/** A level-6 cell packed as column * PAIR_ROWS + row, as its id. */
const pairCell = (packed: number) => packedCell(packed, CELL_LEVEL.pairs, PAIR_ROWS);

class PairRows extends BinaryRows {
  row(origin: number, destination: number, week: number, region: number, trips: number, segment: number): void {
    this.room(72);
    const v = this.view;
    v.setInt16(this.used, 6);
    let at = int4(v, this.used + 2, region);
    at = date(v, at, FIRST_MONDAY + 7 * week);
    at = int8(v, at, pairCell(origin));
    at = int8(v, at, pairCell(destination));
    at = int8(v, at, trips);
    this.used = int4(v, at, segment);
  }
}

/** A level-7 cell packed as column * GROUP_ROWS + row, as its id. */
const groupCell = (packed: number) => packedCell(packed, CELL_LEVEL.group, GROUP_ROWS);

/** The columns GroupRows writes, in its order. */
const GROUP_COLUMNS =
  "region_id, origin_cell, destination_cell, slot, trips, sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at, segment";

class GroupRows extends BinaryRows {
  /** A GroupTable slot (count_tables.js): key a, key b, trips, four sums, first and last moment. */
  row(t: Float64Array, at: number, segment: number): void {
    this.room(160);
    const v = this.view;
    const a = t[at]!;
    const region = Math.floor(a / GROUP_A);
    const rest = a - region * GROUP_A;
    const slot = rest % 64;
    v.setInt16(this.used, 12);
    let to = int4(v, this.used + 2, region);
    to = int8(v, to, groupCell((rest - slot) / 64));
    to = int8(v, to, groupCell(t[at + 1]!));
    v.setInt32(to, 2);
    v.setInt16(to + 4, slot);
    to = int8(v, to + 6, t[at + 2]!);
    for (let k = 3; k <= 6; k++) {
      v.setInt32(to, 8);
      v.setFloat64(to + 4, t[at + k]!);
      to += 12;
    }
    for (let k = 7; k <= 8; k++) {
      const seconds = Math.floor(t[at + k]! / 1e6);
      to = timestampField(v, to, seconds, t[at + k]! - seconds * 1e6);
    }
    this.used = int4(v, to, segment);
  }
}

/**
 * In the load's last transaction: a large file's weekly counts into its segment's three gold tables
 * (db/transforms/seal/gold_tables.sql), and its groups (seal/groups_table.sql) and cell pairs
 * (seal/pairs_table.sql) into their tables when they were kept whole, so that the tables exist only if
 * the whole file is in the segment; nothing if the counts gave up. Their keys and statistics
 * (seal/gold_keys.sql, groups_keys.sql, pairs_keys.sql) are left to the seal, which builds them beside
 * its other builds, off the path from the load to the seal.
 */
export async function stageWeeklyCounts(client: pg.PoolClient, id: number, counts: WeeklyCounts): Promise<void> {
  if (!counts.complete) return;
  const tables = segmentTables(id);
  await client.query(segmentSql(SQL.sealGoldTables, id));
  await copyRows(client, `${tables.regions} (region_id, week, trips, segment)`, counts.regionRows(id));
  await copyRows(client, `${tables.origins} (region_id, week, cell, trips, segment)`, counts.cellRows("origins", id));
  await copyRows(
    client,
    `${tables.destinations} (region_id, week, cell, trips, segment)`,
    counts.cellRows("destinations", id),
  );
  if (counts.groupsComplete) {
    await client.query(segmentSql(SQL.sealGroupsTable, id));
    await copyRows(client, `${tables.groups} (${GROUP_COLUMNS})`, counts.groupRows(id));
  }
  if (!counts.pairsComplete) return;
  await client.query(segmentSql(SQL.sealPairsTable, id));
  await copyRows(
    client,
    `${tables.pairs} (region_id, week, origin_cell, destination_cell, trips, segment)`,
    counts.pairRows(id),
  );
}

const copyRows = (client: pg.PoolClient, target: string, rows: Iterable<Buffer>) =>
  pipeline(Readable.from(paced(rows)), client.query(copyFrom(`COPY ${target} FROM STDIN WITH (FORMAT binary)`)));
