import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Queryable } from "../core/audit.ts";
import { segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { GroupSumsThread } from "./group_thread.ts";
import { WeeklyCounts } from "./weekly_counts.ts";

const GROUP_COLUMNS =
  "region_id, origin_cell, destination_cell, slot, trips, sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at";

/**
 * A large file's own aggregates, kept while its lines are read, which spare the seal two aggregates
 * over the whole segment: its weekly counts (weekly_counts.ts, counted as each silver row is written)
 * and its groups' sums (group_sums.ts, on a thread of their own fed the silver rows: group_thread.ts).
 * They stand for the file only if this load read every one of its chunks (`giveUp()` otherwise: a
 * load resumed after a crash skips the chunks in the segment already, and the seal then aggregates the
 * segment as it always could).
 *
 * Where they go: the groups' sums spilled while reading are written into the segment's UNLOGGED
 * `group_parts` table in the transaction of the chunk whose end they cover (`writeSpilled`), so a
 * trip's sums are there at most once, and only if its chunk committed; the load's last transaction
 * writes the rest and the weekly counts (`stageAggregates`). The seal uses the sums only if they add
 * up to the segment's trips (all written; a crash of PostgreSQL empties an UNLOGGED table), and the
 * weekly counts if their tables exist (created, filled and keyed in that one transaction).
 */
export class FileAggregates {
  readonly weekly = new WeeklyCounts();
  readonly groups = new GroupSumsThread();
  private whole = true;

  /** This load does not read every chunk: nothing it kept is written. */
  giveUp(): void {
    this.whole = false;
  }

  get complete(): boolean {
    return this.whole;
  }

  /** Ends the groups' thread (a load that failed or stopped). */
  close(): Promise<void> {
    return this.groups.close();
  }
}

/**
 * At the start of a load that keeps them (the first of its ingestion): the table of its groups' sums,
 * created afresh. A later load of the ingestion (resumed after a crash) leaves it as it is: the sums
 * written in chunks that committed are each there once, so they add up to the segment's trips only if
 * the first load wrote them all (its last transaction committed), which is what the seal checks.
 */
export async function createGroupParts(db: Queryable, id: number): Promise<void> {
  await db.query(segmentSql(SQL.sealGroupParts, id));
}

/** Writes the groups' sums spilled up to the end of the chunk being written, on its transaction. */
export async function writeSpilled(client: pg.PoolClient, id: number, aggregates: FileAggregates): Promise<void> {
  // A thread that failed answers null: the sums stop short of the trips, and the seal aggregates.
  const rows = await aggregates.groups.spilled();
  if (rows !== null && rows.length > 0 && aggregates.complete)
    await copyRows(client, `${segmentTables(id).group_parts} (${GROUP_COLUMNS})`, rows);
}

/**
 * In the load's last transaction: the rest of the groups' sums, and the weekly counts into the
 * segment's three gold tables, keyed and analysed as the seal leaves them (db/transforms/seal/
 * gold_tables.sql, gold_keys.sql) when they stayed within their bounds. A load that did not read every
 * chunk writes nothing.
 */
export async function stageAggregates(client: pg.PoolClient, id: number, aggregates: FileAggregates): Promise<void> {
  const rows = await aggregates.groups.finish();
  if (!aggregates.complete) return;
  const tables = segmentTables(id);
  if (rows !== null && rows.length > 0) await copyRows(client, `${tables.group_parts} (${GROUP_COLUMNS})`, rows);
  const weekly = aggregates.weekly;
  if (!weekly.complete) return;
  await client.query(segmentSql(SQL.sealGoldTables, id));
  await copyRows(client, `${tables.regions} (region_id, week, trips, segment)`, weekly.regionRows(id));
  await copyRows(client, `${tables.origins} (region_id, week, cell, trips, segment)`, weekly.cellRows("origins", id));
  await copyRows(
    client,
    `${tables.destinations} (region_id, week, cell, trips, segment)`,
    weekly.cellRows("destinations", id),
  );
  await client.query(segmentSql(SQL.sealGoldKeys, id));
}

async function copyRows(client: pg.PoolClient, target: string, rows: Buffer[]): Promise<void> {
  await pipeline(Readable.from(rows), client.query(copyFrom(`COPY ${target} FROM STDIN WITH (FORMAT binary)`)));
}
