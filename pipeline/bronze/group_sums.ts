import { CELL_LEVEL } from "../core/cells.ts";
import { BinaryRows, int4, int8, timestampField } from "./binary.ts";

/** Level-12 columns and rows per level-7 cell, and the rows of level 7 (packing a cell in 32 bits). */
const FINE_PER_GROUP = 2 ** (CELL_LEVEL.fine - CELL_LEVEL.group);
const GROUP_ROWS = 180 * 2 ** CELL_LEVEL.group;
/** Slots of the table at most (84 bytes each: 21 MiB); past 60 % of them the sums are spilled. */
const MAX_SLOTS = 2 ** 18;
const EMPTY = -1;

/**
 * The groups of similar trips of a large file, summed while its lines are read: per (region, level-7
 * origin cell, level-7 destination cell, 30-minute slot), the trips, the sums of their coordinates and
 * their first and last moment, as db/transforms/seal/stage_groups.sql computes them from the segment.
 * The table is bounded: when it is full its sums are spilled (`spill()` hands them out as binary COPY
 * rows of silver.trip_groups' columns less `segment`) and it starts again empty, so a group may be in
 * several spilled rows; the seal adds those up (db/transforms/seal/sum_groups.sql).
 */
export class GroupSums {
  private mask = (1 << 16) - 1;
  private size = 0;
  // The key: region * 64 + slot, and the two packed level-7 cells.
  private key = new Float64Array(this.mask + 1).fill(EMPTY);
  private origin = new Uint32Array(this.mask + 1);
  private destination = new Uint32Array(this.mask + 1);
  private trips = new Float64Array(this.mask + 1);
  /** Per slot: origin lon, origin lat, destination lon, destination lat. */
  private sums = new Float64Array((this.mask + 1) * 4);
  /** Per slot: first seconds, first microseconds, last seconds, last microseconds (since 2000-01-01). */
  private times = new Float64Array((this.mask + 1) * 4);
  /** Rows spilled since the last `spill()`, and how many. */
  private out = new GroupRows();
  private spilled = 0;

  /** `maxSlots`: a power of two, the table's bound (tests make it small to spill often). */
  constructor(private readonly maxSlots = MAX_SLOTS) {
    if (maxSlots < this.mask + 1) this.allocate(maxSlots);
  }

  /**
   * One trip: its region, minute of the day, level-12 cells (column, row of each end), coordinates and
   * moment (whole seconds and microseconds since 2000-01-01).
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
    seconds: number,
    micros: number,
  ): void {
    const key = region * 64 + Math.floor(minute / 30);
    const origin = Math.floor(ox / FINE_PER_GROUP) * GROUP_ROWS + Math.floor(oy / FINE_PER_GROUP);
    const destination = Math.floor(dx / FINE_PER_GROUP) * GROUP_ROWS + Math.floor(dy / FINE_PER_GROUP);
    let h = hash(key, origin, destination) & this.mask;
    for (;;) {
      const at = this.key[h]!;
      if (at === EMPTY) break;
      if (at === key && this.origin[h] === origin && this.destination[h] === destination) {
        this.trips[h] = this.trips[h]! + 1;
        const s = h * 4;
        const sums = this.sums;
        sums[s] = sums[s]! + olon;
        sums[s + 1] = sums[s + 1]! + olat;
        sums[s + 2] = sums[s + 2]! + dlon;
        sums[s + 3] = sums[s + 3]! + dlat;
        const t = this.times;
        if (seconds < t[s]! || (seconds === t[s] && micros < t[s + 1]!)) {
          t[s] = seconds;
          t[s + 1] = micros;
        }
        if (seconds > t[s + 2]! || (seconds === t[s + 2] && micros > t[s + 3]!)) {
          t[s + 2] = seconds;
          t[s + 3] = micros;
        }
        return;
      }
      h = (h + 1) & this.mask;
    }
    this.key[h] = key;
    this.origin[h] = origin;
    this.destination[h] = destination;
    this.trips[h] = 1;
    const s = h * 4;
    this.sums[s] = olon;
    this.sums[s + 1] = olat;
    this.sums[s + 2] = dlon;
    this.sums[s + 3] = dlat;
    this.times[s] = this.times[s + 2] = seconds;
    this.times[s + 1] = this.times[s + 3] = micros;
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
    const old = { key: this.key, origin: this.origin, destination: this.destination };
    const values = { trips: this.trips, sums: this.sums, times: this.times };
    this.allocate(slots);
    for (let from = 0; from < old.key.length; from++) {
      const key = old.key[from]!;
      if (key === EMPTY) continue;
      let h = hash(key, old.origin[from]!, old.destination[from]!) & this.mask;
      while (this.key[h] !== EMPTY) h = (h + 1) & this.mask;
      this.key[h] = key;
      this.origin[h] = old.origin[from]!;
      this.destination[h] = old.destination[from]!;
      this.trips[h] = values.trips[from]!;
      this.sums.set(values.sums.subarray(from * 4, from * 4 + 4), h * 4);
      this.times.set(values.times.subarray(from * 4, from * 4 + 4), h * 4);
    }
  }

  private allocate(slots: number): void {
    this.mask = slots - 1;
    this.key = new Float64Array(slots).fill(EMPTY);
    this.origin = new Uint32Array(slots);
    this.destination = new Uint32Array(slots);
    this.trips = new Float64Array(slots);
    this.sums = new Float64Array(slots * 4);
    this.times = new Float64Array(slots * 4);
  }

  /** Writes every group in the table as a row to spill, and empties the table. */
  private spillTable(): void {
    const out = this.out;
    for (let h = 0; h <= this.mask; h++) {
      const key = this.key[h]!;
      if (key === EMPTY) continue;
      const slot = key % 64;
      out.row(
        (key - slot) / 64,
        cellId(this.origin[h]!),
        cellId(this.destination[h]!),
        slot,
        this.trips[h]!,
        this.sums.subarray(h * 4, h * 4 + 4),
        this.times.subarray(h * 4, h * 4 + 4),
      );
    }
    this.spilled += this.size;
    this.key.fill(EMPTY);
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
  row(
    region: number,
    origin: number,
    destination: number,
    slot: number,
    trips: number,
    sums: Float64Array,
    times: Float64Array,
  ): void {
    this.room(2 + 11 * 4 + 4 + 8 + 8 + 2 + 8 + 4 * 8 + 2 * 8);
    const v = this.view;
    v.setInt16(this.used, 11);
    let at = int4(v, this.used + 2, region);
    at = int8(v, at, origin);
    at = int8(v, at, destination);
    v.setInt32(at, 2);
    v.setInt16(at + 4, slot);
    at = int8(v, at + 6, trips);
    for (let i = 0; i < 4; i++) {
      v.setInt32(at, 8);
      v.setFloat64(at + 4, sums[i]!);
      at += 12;
    }
    at = timestampField(v, at, times[0]!, times[1]!);
    this.used = timestampField(v, at, times[2]!, times[3]!);
  }
}
