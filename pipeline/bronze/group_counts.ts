import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { CELL_LEVEL } from "../core/cells.ts";
import { KEPT_BY_LOAD, segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { BinaryRows, int4, int8, timestampField } from "./binary.ts";
import { hashKey } from "./weekly_counts.ts";

/** Level-12 columns (and rows) per level-7 cell, and the rows and cells of level 7 (a cell in 30 bits). */
const FINE_PER_GROUP = 2 ** (CELL_LEVEL.fine - CELL_LEVEL.group);
const GROUP_ROWS = 180 * 2 ** CELL_LEVEL.group;
const GROUP_CELLS = 360 * 2 ** CELL_LEVEL.group * GROUP_ROWS;
/** 30-minute slots of a day. */
const SLOTS = 48;
/** A key (region, slot, origin cell) must stay below 2^53: regions up to this id. */
const MAX_REGION = Math.floor(2 ** 53 / (SLOTS * GROUP_CELLS)) - 1;
/** Microseconds from 2000-01-01 are exact in a double within about ±285 years: past that, give up. */
const MAX_MICROS = 2 ** 53 - 1;
/** Per group: key a, key b, trips, the four coordinate sums, first and last moment. */
const STRIDE = 9;
/** Groups per block of storage: blocks are added as groups come, never copied. */
const BLOCK_BITS = 14;
const BLOCK = 2 ** BLOCK_BITS;

/**
 * A large file's groups of similar trips, kept while its lines are read (silver_rows.ts SilverRows):
 * per (region, level-7 origin cell, level-7 destination cell, 30-minute slot) the trips, the sums of
 * their coordinates and their first and last moment, exactly what db/transforms/seal/stage_groups.sql
 * computes from the segment. The groups sit side by side in Float64Arrays of BLOCK groups each (no object
 * per group; a new block when one is full, so nothing is copied as they grow), found through an
 * open-addressing index of their numbers. Like the weekly counts, only a file's
 * first load keeps them, and past `maxGroups` groups (72 bytes each, and 4 to 8 of index: 2^20
 * groups take at most 80 MiB), or with a region id or moment out of range, they give up (`complete` false): the seal
 * then aggregates the segment itself.
 */
export class GroupCounts {
  constructor(private readonly maxGroups: number) {
    if (maxGroups === 0) this.giveUp();
  }

  size = 0;
  private mask = (1 << 16) - 1;
  private index = new Int32Array(this.mask + 1).fill(-1);
  private readonly blocks: Float64Array[] = [];
  private whole = true;

  /**
   * One trip: its region, its minute of the day, its level-12 cells (column, row), its coordinates
   * and its moment in microseconds from 2000-01-01.
   */
  add(
    region: number,
    minute: number,
    ox: number,
    oy: number,
    dx: number,
    dy: number,
    originLon: number,
    originLat: number,
    destinationLon: number,
    destinationLat: number,
    micros: number,
  ): void {
    if (!this.whole) return;
    if (region > MAX_REGION || !(Math.abs(micros) <= MAX_MICROS)) {
      this.giveUp();
      return;
    }
    const origin = Math.floor(ox / FINE_PER_GROUP) * GROUP_ROWS + Math.floor(oy / FINE_PER_GROUP);
    const a = (region * SLOTS + Math.floor(minute / 30)) * GROUP_CELLS + origin;
    const b = Math.floor(dx / FINE_PER_GROUP) * GROUP_ROWS + Math.floor(dy / FINE_PER_GROUP);
    const index = this.index;
    const blocks = this.blocks;
    let h = hashKey(a, b) & this.mask;
    for (;;) {
      const group = index[h]!;
      if (group === -1) break;
      const data = blocks[group >>> BLOCK_BITS]!;
      const at = (group & (BLOCK - 1)) * STRIDE;
      if (data[at] === a && data[at + 1] === b) {
        data[at + 2] = data[at + 2]! + 1;
        data[at + 3] = data[at + 3]! + originLon;
        data[at + 4] = data[at + 4]! + originLat;
        data[at + 5] = data[at + 5]! + destinationLon;
        data[at + 6] = data[at + 6]! + destinationLat;
        if (micros < data[at + 7]!) data[at + 7] = micros;
        if (micros > data[at + 8]!) data[at + 8] = micros;
        return;
      }
      h = (h + 1) & this.mask;
    }
    const group = this.size;
    if (group === this.maxGroups) {
      this.giveUp();
      return;
    }
    if ((group & (BLOCK - 1)) === 0) blocks.push(new Float64Array(BLOCK * STRIDE));
    const data = blocks[group >>> BLOCK_BITS]!;
    const at = (group & (BLOCK - 1)) * STRIDE;
    index[h] = group;
    data[at] = a;
    data[at + 1] = b;
    data[at + 2] = 1;
    data[at + 3] = originLon;
    data[at + 4] = originLat;
    data[at + 5] = destinationLon;
    data[at + 6] = destinationLat;
    data[at + 7] = micros;
    data[at + 8] = micros;
    this.size++;
    if (this.size * 2 > this.mask) this.reindex();
  }

  get complete(): boolean {
    return this.whole;
  }

  /**
   * Binary COPY rows for silver.trip_groups' columns (as GROUP_COLUMNS), in the order the groups were
   * first seen, handed out a few thousand at a time (never all in memory at once).
   */
  *rows(segment: number): Generator<Buffer> {
    const out = new GroupRows();
    for (let group = 0; group < this.size; group++) {
      out.row(this.group(group), segment);
      if ((group & 4095) === 4095) yield* out.take();
    }
    out.end();
    yield* out.take();
  }

  private giveUp(): void {
    this.whole = false;
    this.index = new Int32Array(0);
    this.blocks.length = 0;
  }

  /** Group number `group`'s STRIDE values. */
  private group(group: number): Float64Array {
    const at = (group & (BLOCK - 1)) * STRIDE;
    return this.blocks[group >>> BLOCK_BITS]!.subarray(at, at + STRIDE);
  }

  /** Twice the index, each group's position put in again. */
  private reindex(): void {
    this.mask = this.mask * 2 + 1;
    const index = new Int32Array(this.mask + 1).fill(-1);
    for (let group = 0; group < this.size; group++) {
      const g = this.group(group);
      let h = hashKey(g[0]!, g[1]!) & this.mask;
      while (index[h] !== -1) h = (h + 1) & this.mask;
      index[h] = group;
    }
    this.index = index;
  }
}

const GROUP_COLUMNS = [
  "region_id",
  "origin_cell",
  "destination_cell",
  "slot",
  "trips",
  "sum_origin_lon",
  "sum_origin_lat",
  "sum_dest_lon",
  "sum_dest_lat",
  "first_trip_at",
  "last_trip_at",
  "segment",
] as const;

/** A level-7 cell id as tripflow.cell_parent writes it: (level << 42) | (x << 21) | y, as a sum. */
const groupCell = (cell: number) => {
  const column = Math.floor(cell / GROUP_ROWS);
  return CELL_LEVEL.group * 2 ** 42 + column * 2 ** 21 + (cell - column * GROUP_ROWS);
};

class GroupRows extends BinaryRows {
  row(g: Float64Array, segment: number): void {
    this.room(2 + 8 + 12 + 12 + 6 + 12 + 4 * 12 + 2 * 12 + 8);
    const v = this.view;
    const a = g[0]!;
    const origin = a % GROUP_CELLS;
    const regionSlot = (a - origin) / GROUP_CELLS;
    const slot = regionSlot % SLOTS;
    v.setInt16(this.used, GROUP_COLUMNS.length);
    let at = int4(v, this.used + 2, (regionSlot - slot) / SLOTS);
    at = int8(v, at, groupCell(origin));
    at = int8(v, at, groupCell(g[1]!));
    v.setInt32(at, 2);
    v.setInt16(at + 4, slot);
    at = int8(v, at + 6, g[2]!);
    for (let k = 3; k < 7; k++) {
      v.setInt32(at, 8);
      v.setFloat64(at + 4, g[k]!);
      at += 12;
    }
    at = moment(v, at, g[7]!);
    at = moment(v, at, g[8]!);
    this.used = int4(v, at, segment);
  }
}

/** A timestamp field from microseconds since 2000-01-01 (a whole number below 2^53). */
function moment(v: DataView, at: number, micros: number): number {
  const seconds = Math.floor(micros / 1e6);
  return timestampField(v, at, seconds, micros - seconds * 1e6);
}

/**
 * In the load's last transaction: a large file's groups into its segment's groups table
 * (db/transforms/seal/groups_table.sql), marked KEPT_BY_LOAD, so that the table exists only if the
 * whole file is in the segment; nothing if the groups gave up. The seal keys and analyses it
 * (groups_keys.sql) beside its index builds, off the load's path.
 */
export async function stageGroups(client: pg.PoolClient, id: number, groups: GroupCounts): Promise<void> {
  if (!groups.complete) return;
  await client.query(segmentSql(SQL.sealGroupsTable, id));
  await pipeline(
    Readable.from(groups.rows(id)),
    client.query(
      copyFrom(`COPY ${segmentTables(id).groups} (${GROUP_COLUMNS.join(", ")}) FROM STDIN WITH (FORMAT binary)`),
    ),
  );
  await client.query(`COMMENT ON TABLE ${segmentTables(id).groups} IS '${KEPT_BY_LOAD}'`);
}
