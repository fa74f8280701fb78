import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { CELL_LEVEL } from "../core/cells.ts";
import { segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { BinaryRows, daysFromCivil, date, int4, int8 } from "./binary.ts";

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
/** The pairs' table gives up past this many slots (16 bytes each): 32 MiB, about 1.47 million pairs. */
const MAX_PAIR_SLOTS = 2 ** 21;
/** Binary COPY rows handed out at a time by WeeklyCounts.pairRows. */
const PAIR_BATCH = 16_384;
/** A table gives up past this many slots (24 bytes each): 24 MiB, about 629,000 keys. */
const MAX_SLOTS = 2 ** 20;
const EMPTY = -1;

/** A table's state: its number of keys, its slot mask and its slots. */
type TableParts<T extends Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer>> = {
  size: number;
  mask: number;
  slots: T;
};

/** A WeeklyCounts' state, to hand from the thread that counted to the one that writes the rows. */
export type CountsParts = {
  whole: boolean;
  regions: TableParts<Float64Array<ArrayBuffer>>;
  origins: TableParts<Float64Array<ArrayBuffer>>;
  destinations: TableParts<Float64Array<ArrayBuffer>>;
  pairs: TableParts<Int32Array<ArrayBuffer>> | null;
};

/**
 * Counts per key, a key being a whole number below 2^53 (`a`) and one below 2^32 (`b`), in an
 * open-addressing table: one Float64Array holding each slot's a, b and count side by side (one cache
 * line read per probe; no object per key). `add` returns false once the table would outgrow
 * MAX_SLOTS: the counts are then incomplete and must not be used.
 */
class CountTable {
  size = 0;
  private mask = (1 << 12) - 1;
  private slots = new Float64Array((this.mask + 1) * 3).fill(EMPTY);

  /** The table as counted on another thread (parts()), its slots taken over, not copied. */
  static from(parts: TableParts<Float64Array<ArrayBuffer>>): CountTable {
    const table = new CountTable();
    table.size = parts.size;
    table.mask = parts.mask;
    table.slots = parts.slots;
    return table;
  }

  /** What `from` rebuilds the table with: its slots may be transferred to another thread. */
  parts(): TableParts<Float64Array<ArrayBuffer>> {
    return { size: this.size, mask: this.mask, slots: this.slots };
  }

  add(a: number, b: number): boolean {
    const t = this.slots;
    let h = slot(a, b) & this.mask;
    for (;;) {
      const at = h * 3;
      const key = t[at]!;
      if (key === EMPTY) break;
      if (key === a && t[at + 1] === b) {
        t[at + 2] = t[at + 2]! + 1;
        return true;
      }
      h = (h + 1) & this.mask;
    }
    t[h * 3] = a;
    t[h * 3 + 1] = b;
    t[h * 3 + 2] = 1;
    this.size++;
    return this.size * 5 < (this.mask + 1) * 3 || this.grow();
  }

  /** Each key with its count. */
  *entries(): Generator<[a: number, b: number, count: number]> {
    const t = this.slots;
    for (let at = 0; at < t.length; at += 3) if (t[at] !== EMPTY) yield [t[at]!, t[at + 1]!, t[at + 2]!];
  }

  private grow(): boolean {
    const slots = (this.mask + 1) * 2;
    if (slots > MAX_SLOTS) return false;
    const old = this.slots;
    this.mask = slots - 1;
    const t = new Float64Array(slots * 3).fill(EMPTY);
    this.slots = t;
    for (let from = 0; from < old.length; from += 3) {
      const a = old[from]!;
      if (a === EMPTY) continue;
      let h = slot(a, old[from + 1]!) & this.mask;
      while (t[h * 3] !== EMPTY) h = (h + 1) & this.mask;
      t.set(old.subarray(from, from + 3), h * 3);
    }
    return true;
  }
}

function slot(a: number, b: number): number {
  let h = Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(((a / 4294967296) | 0) ^ b, 0x85ebca77);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 12);
}

/**
 * Trips per cell pair and week, in an open-addressing table of 16-byte slots (one Int32Array: origin
 * cell, destination cell, week and region in one number, count; no object per key): a file of 10 M
 * trips has about 770,000 pairs, kept in 32 MiB. `add` returns false once the table would outgrow
 * MAX_PAIR_SLOTS.
 */
class PairTable {
  size = 0;
  private mask = (1 << 12) - 1;
  private slots = new Int32Array((this.mask + 1) * 4).fill(EMPTY);

  static from(parts: TableParts<Int32Array<ArrayBuffer>>): PairTable {
    const table = new PairTable();
    table.size = parts.size;
    table.mask = parts.mask;
    table.slots = parts.slots;
    return table;
  }

  parts(): TableParts<Int32Array<ArrayBuffer>> {
    return { size: this.size, mask: this.mask, slots: this.slots };
  }

  /** One trip: its level-6 cells packed below 2^28, and week * PAIR_REGIONS + region as an int32. */
  add(origin: number, destination: number, weekRegion: number): boolean {
    const t = this.slots;
    let h = pairSlot(origin, destination, weekRegion) & this.mask;
    for (;;) {
      const at = h * 4;
      const o = t[at]!;
      if (o === EMPTY) break;
      if (o === origin && t[at + 1] === destination && t[at + 2] === weekRegion) {
        t[at + 3]!++;
        return true;
      }
      h = (h + 1) & this.mask;
    }
    const at = h * 4;
    t[at] = origin;
    t[at + 1] = destination;
    t[at + 2] = weekRegion;
    t[at + 3] = 1;
    this.size++;
    return this.size * 10 < (this.mask + 1) * 7 || this.grow();
  }

  /** Each pair: origin, destination, week * PAIR_REGIONS + region (an int32), count. */
  *entries(): Generator<[origin: number, destination: number, weekRegion: number, count: number]> {
    const t = this.slots;
    for (let at = 0; at < t.length; at += 4) if (t[at] !== EMPTY) yield [t[at]!, t[at + 1]!, t[at + 2]!, t[at + 3]!];
  }

  private grow(): boolean {
    const slots = (this.mask + 1) * 2;
    if (slots > MAX_PAIR_SLOTS) return false;
    const old = this.slots;
    this.mask = slots - 1;
    const t = new Int32Array(slots * 4).fill(EMPTY);
    this.slots = t;
    for (let from = 0; from < old.length; from += 4) {
      if (old[from] === EMPTY) continue;
      let h = pairSlot(old[from]!, old[from + 1]!, old[from + 2]!) & this.mask;
      while (t[h * 4] !== EMPTY) h = (h + 1) & this.mask;
      t.set(old.subarray(from, from + 4), h * 4);
    }
    return true;
  }
}

function pairSlot(origin: number, destination: number, weekRegion: number): number {
  let h = Math.imul(origin, 0xcc9e2d51) ^ Math.imul(destination, 0x1b873593) ^ weekRegion;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A large file's weekly counts, kept while its lines are read (silver_rows.ts SilverRows): trips per
 * (region, ISO week), per (region, week, level-8 origin cell) and per (region, week, level-8
 * destination cell), exactly what db/transforms/seal/stage_gold.sql computes from the segment, and per
 * (region, week, level-6 origin cell, level-6 destination cell), what seal/stage_pairs.sql does. Only a
 * file's first load keeps them (pipeline/bronze/intake.ts): a load resumed after a crash skips the
 * chunks in the segment already, and the seal then counts the segment itself. The tables are bounded:
 * past MAX_SLOTS keys (or a week outside years 1..9999) they give up (`complete` false), and the seal
 * counts instead. The pairs, many more keys, give up on their own (`pairsComplete`; also for a region
 * id from 2^13 on) past MAX_PAIR_SLOTS, and free their table: then the seal counts them.
 */
export class WeeklyCounts {
  private regions = new CountTable();
  private origins = new CountTable();
  private destinations = new CountTable();
  private pairs: PairTable | null = new PairTable();
  private whole = true;

  /** The counts as another thread kept them (`parts()` there), their tables taken over. */
  static from(parts: CountsParts): WeeklyCounts {
    const counts = new WeeklyCounts();
    counts.whole = parts.whole;
    counts.regions = CountTable.from(parts.regions);
    counts.origins = CountTable.from(parts.origins);
    counts.destinations = CountTable.from(parts.destinations);
    counts.pairs = parts.pairs && PairTable.from(parts.pairs);
    return counts;
  }

  /** The counts' state, and the buffers to transfer with it (postMessage's transfer list). */
  parts(): { parts: CountsParts; transfer: ArrayBuffer[] } {
    const parts: CountsParts = {
      whole: this.whole,
      regions: this.regions.parts(),
      origins: this.origins.parts(),
      destinations: this.destinations.parts(),
      pairs: this.pairs?.parts() ?? null,
    };
    const tables = [parts.regions, parts.origins, parts.destinations, ...(parts.pairs ? [parts.pairs] : [])];
    return { parts, transfer: tables.map((t) => t.slots.buffer as ArrayBuffer) };
  }

  /** One trip: its region, the day of its date (from 1970-01-01) and its level-12 cells (column, row). */
  add(region: number, days: number, ox: number, oy: number, dx: number, dy: number): void {
    if (!this.whole) return;
    const week = Math.floor((days - FIRST_MONDAY) / 7);
    if (week < 0 || week >= WEEK_BITS) {
      this.giveUp();
      return;
    }
    const key = region * WEEK_BITS + week;
    const origin = Math.floor(ox / FINE_PER_GOLD) * GOLD_ROWS + Math.floor(oy / FINE_PER_GOLD);
    const destination = Math.floor(dx / FINE_PER_GOLD) * GOLD_ROWS + Math.floor(dy / FINE_PER_GOLD);
    if (!this.regions.add(key, 0) || !this.origins.add(key, origin) || !this.destinations.add(key, destination))
      this.giveUp();
    if (!this.pairs) return;
    const pairOrigin = (ox >> PAIR_SHIFT) * PAIR_ROWS + (oy >> PAIR_SHIFT);
    const pairDestination = (dx >> PAIR_SHIFT) * PAIR_ROWS + (dy >> PAIR_SHIFT);
    if (region >= PAIR_REGIONS || !this.pairs.add(pairOrigin, pairDestination, (week * PAIR_REGIONS + region) | 0))
      this.pairs = null;
  }

  private giveUp(): void {
    this.whole = false;
    this.pairs = null;
  }

  get complete(): boolean {
    return this.whole;
  }

  /** Whether the pairs are whole (and so is the rest). */
  get pairsComplete(): boolean {
    return this.whole && this.pairs !== null;
  }

  /** Binary COPY rows for gold.weekly_regions' columns (region_id, week, trips, segment), by region and week. */
  regionRows(segment: number): Buffer[] {
    return this.rows(this.regions, segment, false);
  }

  /**
   * Binary COPY rows for a cell table's columns (region_id, week, cell, trips, segment), by cell, week
   * and region: the order of the table's key, as the seal writes them.
   */
  cellRows(end: "origins" | "destinations", segment: number): Buffer[] {
    return this.rows(this[end], segment, true);
  }

  /**
   * Binary COPY rows for gold.weekly_cell_pairs' columns (region_id, week, origin_cell,
   * destination_cell, trips, segment), PAIR_BATCH rows a piece, in no order (the key is built by a
   * sort, and box answers read it alone): nothing is copied or sorted first.
   */
  *pairRows(segment: number): Generator<Buffer> {
    if (!this.pairsComplete || !this.pairs) throw new Error("the cell pairs gave up: the seal counts them");
    const out = new PairRows();
    let n = 0;
    for (const [origin, destination, weekRegion, trips] of this.pairs.entries()) {
      const wr = weekRegion >>> 0;
      out.row(origin, destination, Math.floor(wr / PAIR_REGIONS), wr % PAIR_REGIONS, trips, segment);
      if (++n % PAIR_BATCH === 0) yield* out.take();
    }
    out.end();
    yield* out.take();
  }

  private rows(table: CountTable, segment: number, cells: boolean): Buffer[] {
    const keys: number[] = [];
    const cell: number[] = [];
    const trips: number[] = [];
    for (const [a, b, n] of table.entries()) {
      keys.push(a);
      cell.push(b);
      trips.push(n);
    }
    const week = (i: number) => keys[i]! % WEEK_BITS;
    const order = [...keys.keys()].sort(
      cells ? (i, j) => cell[i]! - cell[j]! || week(i) - week(j) || keys[i]! - keys[j]! : (i, j) => keys[i]! - keys[j]!,
    );
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
 * In the load's last transaction: a large file's weekly counts into its segment's three gold tables,
 * keyed and analysed as the seal leaves them (db/transforms/seal/gold_tables.sql, gold_keys.sql), so
 * that the tables exist only if the whole file is in the segment; nothing if the counts gave up. The
 * same for its cell pairs (seal/pairs_table.sql), when they were kept whole, but for their key: the
 * seal builds it (seal/pairs_keys.sql) beside its other builds, off the load's path.
 */
export async function stageWeeklyCounts(client: pg.PoolClient, id: number, counts: WeeklyCounts): Promise<void> {
  if (!counts.complete) return;
  const tables = segmentTables(id);
  await client.query(segmentSql(SQL.sealGoldTables, id));
  const copy = (target: string, rows: Iterable<Buffer>) =>
    pipeline(Readable.from(rows), client.query(copyFrom(`COPY ${target} FROM STDIN WITH (FORMAT binary)`)));
  await copy(`${tables.regions} (region_id, week, trips, segment)`, counts.regionRows(id));
  await copy(`${tables.origins} (region_id, week, cell, trips, segment)`, counts.cellRows("origins", id));
  await copy(`${tables.destinations} (region_id, week, cell, trips, segment)`, counts.cellRows("destinations", id));
  await client.query(segmentSql(SQL.sealGoldKeys, id));
  if (!counts.pairsComplete) return;
  await client.query(segmentSql(SQL.sealPairsTable, id));
  await copy(`${tables.pairs} (region_id, week, origin_cell, destination_cell, trips, segment)`, counts.pairRows(id));
}
