import { CELL_LEVEL } from "../core/cells.ts";
import { BinaryRows, int4, int8 } from "./binary.ts";

/** Level-12 columns and rows per level-7 cell, and the rows of level 7 (packing a cell in 32 bits). */
const FINE_PER_GROUP = 2 ** (CELL_LEVEL.fine - CELL_LEVEL.group);
const GROUP_ROWS = 180 * 2 ** CELL_LEVEL.group;
/** Slots of the table at most (96 bytes each: 24 MiB); past 60 % of them the sums are spilled. */
const MAX_SLOTS = 2 ** 18;
const STRIDE = 12;
const EMPTY = -1;

/**
 * The groups of similar trips of a large file, summed from its silver rows as they are written (on a
 * thread of their own: group_thread.ts): per (region, level-7
 * origin cell, level-7 destination cell, 30-minute slot), the trips, the sums of their coordinates and
 * their first and last moment, as db/transforms/seal/stage_groups.sql computes them from the segment.
 * The table is bounded: when it is full its sums are spilled (`spill()` hands them out as binary COPY
 * rows of silver.trip_groups' columns less `segment`) and it starts again empty, so a group may be in
 * several spilled rows; the seal adds those up (db/transforms/seal/sum_groups.sql).
 */
export class GroupSums {
  private mask = (1 << 16) - 1;
  private size = 0;
  /**
   * Each slot's fields side by side (STRIDE doubles, so a probe reads one place): the key (region * 64
   * + slot, the two packed level-7 cells), the trips, the sums of origin lon, origin lat, destination
   * lon, destination lat, and the first and last moment (a timestamp's int8 of microseconds since
   * 2000-01-01 as its high, signed, and low, unsigned, 32 bits: compared in that order).
   */
  private slots = new Float64Array((this.mask + 1) * STRIDE).fill(EMPTY);
  /** Rows spilled since the last `spill()`, and how many. */
  private out = new GroupRows();
  private spilled = 0;

  /** `maxSlots`: a power of two, the table's bound (tests make it small to spill often). */
  constructor(private readonly maxSlots = MAX_SLOTS) {
    if (maxSlots < this.mask + 1) this.allocate(maxSlots);
  }

  /**
   * One trip: its region, minute of the day, level-12 cells (column, row of each end), coordinates and
   * moment (the high and low 32 bits of its int8 of microseconds since 2000-01-01).
   */
  add(
    region: number,
    minute: number,
    ox: number,
    oy: number,
    dx: number,
    dy: number,
    olon: number,
    olat: number,
    dlon: number,
    dlat: number,
    high: number,
    low: number,
  ): void {
    const key = region * 64 + Math.floor(minute / 30);
    const origin = Math.floor(ox / FINE_PER_GROUP) * GROUP_ROWS + Math.floor(oy / FINE_PER_GROUP);
    const destination = Math.floor(dx / FINE_PER_GROUP) * GROUP_ROWS + Math.floor(dy / FINE_PER_GROUP);
    const t = this.slots;
    let h = hash(key, origin, destination) & this.mask;
    for (;;) {
      const at = h * STRIDE;
      const k = t[at]!;
      if (k === EMPTY) break;
      if (k === key && t[at + 1] === origin && t[at + 2] === destination) {
        t[at + 3] = t[at + 3]! + 1;
        t[at + 4] = t[at + 4]! + olon;
        t[at + 5] = t[at + 5]! + olat;
        t[at + 6] = t[at + 6]! + dlon;
        t[at + 7] = t[at + 7]! + dlat;
        if (high < t[at + 8]! || (high === t[at + 8] && low < t[at + 9]!)) {
          t[at + 8] = high;
          t[at + 9] = low;
        }
        if (high > t[at + 10]! || (high === t[at + 10] && low > t[at + 11]!)) {
          t[at + 10] = high;
          t[at + 11] = low;
        }
        return;
      }
      h = (h + 1) & this.mask;
    }
    const at = h * STRIDE;
    t[at] = key;
    t[at + 1] = origin;
    t[at + 2] = destination;
    t[at + 3] = 1;
    t[at + 4] = olon;
    t[at + 5] = olat;
    t[at + 6] = dlon;
    t[at + 7] = dlat;
    t[at + 8] = t[at + 10] = high;
    t[at + 9] = t[at + 11] = low;
    this.size++;
    if (this.size * 5 >= (this.mask + 1) * 3) this.grow();
  }

  /**
   * The rows spilled since the last call, and (with `all`) every group still in the table, which is
   * then empty: binary COPY of (region_id, origin_cell, destination_cell, slot, trips, the four sums,
   * first_trip_at, last_trip_at). Empty when there is nothing to write.
   */
  spill(all = false): Buffer[] {
    if (all && this.size > 0) this.spillTable();
    if (this.spilled === 0) return [];
    this.out.end();
    const rows = this.out.take();
    this.out = new GroupRows();
    this.spilled = 0;
    return rows;
  }

  private grow(): void {
    const slots = (this.mask + 1) * 2;
    if (slots > this.maxSlots) return this.spillTable();
    const old = this.slots;
    this.allocate(slots);
    const t = this.slots;
    for (let from = 0; from < old.length; from += STRIDE) {
      if (old[from] === EMPTY) continue;
      let h = hash(old[from]!, old[from + 1]!, old[from + 2]!) & this.mask;
      while (t[h * STRIDE] !== EMPTY) h = (h + 1) & this.mask;
      t.set(old.subarray(from, from + STRIDE), h * STRIDE);
    }
  }

  private allocate(slots: number): void {
    this.mask = slots - 1;
    this.slots = new Float64Array(slots * STRIDE).fill(EMPTY);
  }

  /** Writes every group in the table as a row to spill, and empties the table. */
  private spillTable(): void {
    const t = this.slots;
    for (let at = 0; at < t.length; at += STRIDE) {
      const key = t[at]!;
      if (key === EMPTY) continue;
      const slot = key % 64;
      this.out.row((key - slot) / 64, cellId(t[at + 1]!), cellId(t[at + 2]!), slot, t.subarray(at + 3, at + STRIDE));
      t[at] = EMPTY;
    }
    this.spilled += this.size;
    this.size = 0;
  }
}

/** The level-7 cell id of a packed column and row (tripflow.cell_parent(cell, 7)). */
function cellId(packed: number): number {
  const column = Math.floor(packed / GROUP_ROWS);
  return CELL_LEVEL.group * 2 ** 42 + column * 2 ** 21 + (packed - column * GROUP_ROWS);
}

function hash(key: number, origin: number, destination: number): number {
  let h = Math.imul(key | 0, 0x9e3779b1) ^ Math.imul(origin ^ ((key / 4294967296) | 0), 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15) ^ destination, 0xc2b2ae3d);
  return h ^ (h >>> 13);
}

class GroupRows extends BinaryRows {
  /** One group: its key, then `values` as a slot holds them (trips, four sums, first and last moment). */
  row(region: number, origin: number, destination: number, slot: number, values: Float64Array): void {
    this.room(2 + 11 * 4 + 4 + 8 + 8 + 2 + 8 + 4 * 8 + 2 * 8);
    const v = this.view;
    v.setInt16(this.used, 11);
    let at = int4(v, this.used + 2, region);
    at = int8(v, at, origin);
    at = int8(v, at, destination);
    v.setInt32(at, 2);
    v.setInt16(at + 4, slot);
    at = int8(v, at + 6, values[0]!);
    for (let i = 1; i <= 4; i++) {
      v.setInt32(at, 8);
      v.setFloat64(at + 4, values[i]!);
      at += 12;
    }
    at = timestamp(v, at, values[5]!, values[6]!);
    this.used = timestamp(v, at, values[7]!, values[8]!);
  }
}

/** A timestamp field from the high and low 32 bits of its int8. */
function timestamp(v: DataView, at: number, high: number, low: number): number {
  v.setInt32(at, 8);
  v.setInt32(at + 4, high);
  v.setUint32(at + 8, low);
  return at + 12;
}
