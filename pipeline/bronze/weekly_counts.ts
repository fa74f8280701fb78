import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { CELL_LEVEL } from "../core/cells.ts";
import { segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { BinaryRows, daysFromCivil, date, int4, int8 } from "./binary.ts";
import { type CountTable, KEYS_PER_TRIP, TripTables } from "./count_tables.js";

/** 0001-01-01, a Monday: weeks are numbered from it (week n starts 7n days later). */
const FIRST_MONDAY = daysFromCivil(1, 1, 1);
/** Weeks up to 9999-12-31 fit in 19 bits. */
const WEEK_BITS = 2 ** 19;
/** Level-12 columns and rows per level-8 cell, and the rows of level 8 (packing a cell in 32 bits). */
const FINE_PER_GOLD = 2 ** (CELL_LEVEL.fine - CELL_LEVEL.gold);
const GOLD_ROWS = 180 * 2 ** CELL_LEVEL.gold;
/** The same for the level-6 cells of gold.weekly_cell_pairs: a cell packed as column * PAIR_ROWS + row, below 2^28. */
const PAIR_SHIFT = CELL_LEVEL.fine - CELL_LEVEL.pairs;
const PAIR_ROWS = 180 * 2 ** CELL_LEVEL.pairs;
/** A pair's week and region share 32 bits: regions from this id on give the pairs up. */
const PAIR_REGIONS = 2 ** 13;
/** Binary COPY rows handed out at a time by WeeklyCounts.pairRows. */
const PAIR_BATCH = 16_384;

/**
 * A trip's keys, as TripTables.addAll (count_tables.js) takes them, written at keys[at, at + 6): its
 * region-and-week key (region * 2^19 + week), its level-8 origin and destination cells packed below
 * 2^32, its level-6 origin and destination cells packed below 2^28 and the pair's week * 2^13 + region
 * as an int32 (a pair origin of -1 for a region id the pairs cannot pack). False, and nothing written,
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
): boolean {
  const week = Math.floor((days - FIRST_MONDAY) / 7);
  if (week < 0 || week >= WEEK_BITS) return false;
  keys[at] = region * WEEK_BITS + week;
  keys[at + 1] = Math.floor(ox / FINE_PER_GOLD) * GOLD_ROWS + Math.floor(oy / FINE_PER_GOLD);
  keys[at + 2] = Math.floor(dx / FINE_PER_GOLD) * GOLD_ROWS + Math.floor(dy / FINE_PER_GOLD);
  keys[at + 3] = region < PAIR_REGIONS ? (ox >> PAIR_SHIFT) * PAIR_ROWS + (oy >> PAIR_SHIFT) : -1;
  keys[at + 4] = (dx >> PAIR_SHIFT) * PAIR_ROWS + (dy >> PAIR_SHIFT);
  keys[at + 5] = (week * PAIR_REGIONS + region) | 0;
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
 */
export class WeeklyCounts {
  private readonly keys = new Float64Array(KEYS_PER_TRIP);

  /** Counts kept here, or (`tables`) those a counting thread kept (counting.ts). */
  constructor(private readonly tables = new TripTables()) {}

  /** One trip: its region, the day of its date (from 1970-01-01) and its level-12 cells (column, row). */
  add(region: number, days: number, ox: number, oy: number, dx: number, dy: number): void {
    if (tripKeys(this.keys, 0, region, days, ox, oy, dx, dy)) this.tables.addAll(this.keys, 1);
    else this.tables.giveUp();
  }

  get complete(): boolean {
    return this.tables.whole;
  }

  /** Whether the pairs are whole (and so is the rest). */
  get pairsComplete(): boolean {
    return this.tables.whole && this.tables.pairs !== null;
  }

  /** Binary COPY rows for gold.weekly_regions' columns (region_id, week, trips, segment), by region and week. */
  regionRows(segment: number): Buffer[] {
    return this.rows(this.tables.regions, segment, false);
  }

  /**
   * Binary COPY rows for a cell table's columns (region_id, week, cell, trips, segment), by cell, week
   * and region: the order of the table's key, as the seal writes them.
   */
  cellRows(end: "origins" | "destinations", segment: number): Buffer[] {
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
    const row = (origin: number, destination: number, weekRegion: number, trips: number) => {
      const wr = weekRegion >>> 0;
      out.row(origin, destination, Math.floor(wr / PAIR_REGIONS), wr % PAIR_REGIONS, trips, segment);
    };
    for (let slot = 0; slot <= pairs.mask; ) {
      slot = pairs.forEachFrom(slot, PAIR_BATCH, row);
      if (slot <= pairs.mask) yield* out.take();
    }
    out.end();
    yield* out.take();
  }

  private rows(table: CountTable, segment: number, cells: boolean): Buffer[] {
    // The order of the key: (cell, week, region) for a cell table, (region, week) for regions. A cell
    // (below 2^32) and its week (below 2^19) make one exact number; a typed array of indexes sorted by
    // it: 80,000 rows in about 20 ms, where an array of indexes with a three-part comparison took 170.
    const keys = new Float64Array(table.size);
    const cell = new Float64Array(table.size);
    const trips = new Float64Array(table.size);
    const first = new Float64Array(table.size);
    const order = new Uint32Array(table.size);
    let i = 0;
    table.forEach((a, b, n) => {
      keys[i] = a;
      cell[i] = b;
      trips[i] = n;
      order[i] = i;
      first[i++] = cells ? b * WEEK_BITS + (a % WEEK_BITS) : a;
    });
    order.sort((x, y) => first[x]! - first[y]! || keys[x]! - keys[y]!);
    const out = new CountRows();
    for (const i of order) out.row(keys[i]!, cells ? cell[i]! : null, trips[i]!, segment);
    out.end();
    return out.take();
  }
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

/** A level-6 cell packed as column * PAIR_ROWS + row, as its id (tripflow.cell's packing). */
const pairCell = (packed: number) => {
  const column = Math.floor(packed / PAIR_ROWS);
  return CELL_LEVEL.pairs * 2 ** 42 + column * 2 ** 21 + (packed - column * PAIR_ROWS);
};

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

/**
 * In the load's last transaction: a large file's weekly counts into its segment's three gold tables
 * (db/transforms/seal/gold_tables.sql), and its cell pairs into their table (seal/pairs_table.sql) when
 * they were kept whole, so that the tables exist only if the whole file is in the segment; nothing if the
 * counts gave up. Their keys and statistics (seal/gold_keys.sql, pairs_keys.sql) are left to the seal,
 * which builds them beside its other builds, off the path from the load to the seal.
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
  if (!counts.pairsComplete) return;
  await client.query(segmentSql(SQL.sealPairsTable, id));
  await copyRows(
    client,
    `${tables.pairs} (region_id, week, origin_cell, destination_cell, trips, segment)`,
    counts.pairRows(id),
  );
}

const copyRows = (client: pg.PoolClient, target: string, rows: Iterable<Buffer>) =>
  pipeline(Readable.from(rows), client.query(copyFrom(`COPY ${target} FROM STDIN WITH (FORMAT binary)`)));
