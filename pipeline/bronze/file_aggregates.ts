import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Queryable } from "../core/audit.ts";
import { segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { GroupSums } from "./group_sums.ts";
import { WeeklyCounts } from "./weekly_counts.ts";

const GROUP_COLUMNS =
  "region_id, origin_cell, destination_cell, slot, trips, sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at";

/**
 * A large file's own aggregates, kept while its lines are read (silver_rows.ts SilverRows adds each
 * trip): its weekly counts (weekly_counts.ts) and its groups' sums (group_sums.ts). They spare the seal
 * the two aggregates over the whole segment, and stand for the file only if this load read every one
 * of its chunks (`giveUp()` otherwise: a load resumed after a crash skips the chunks in the segment
 * already, and the seal then aggregates the segment as it always could).
 *
 * Where they go: the groups' sums spilled while reading are written into the segment's UNLOGGED
 * `group_parts` table in the transaction of the chunk that spilled them (`writeSpilled`), so a trip's
 * sums are there at most once, and only if its chunk committed; the load's last transaction writes the
 * rest and the weekly counts (`stageAggregates`). The seal uses the sums only if they add up to the
 * segment's trips (all of them written; a crash of PostgreSQL empties an UNLOGGED table), and the
 * weekly counts if their tables exist (created, filled and keyed in that one transaction).
 */
export class FileAggregates {
  readonly weekly = new WeeklyCounts();
  readonly groups = new GroupSums();
  private whole = true;

  /** This load does not read every chunk: nothing it kept is written. */
  giveUp(): void {
    this.whole = false;
  }

  get complete(): boolean {
    return this.whole;
  }
}

/**
 * At the start of a load that keeps them (the first of its ingestion): the table of its groups' sums,
 * created afresh. A later load of the ingestion (resumed after a crash) leaves it as it is: the sums
 * spilled in chunks that committed are each there once, so they add up to the segment's trips only if
 * the first load wrote them all (its last transaction committed), which is what the seal checks.
 */
export async function createGroupParts(db: Queryable, id: number): Promise<void> {
  await db.query(segmentSql(SQL.sealGroupParts, id));
}

/** Writes the groups' sums spilled so far, on `client`'s transaction (the chunk's). */
export async function writeSpilled(client: pg.PoolClient, id: number, aggregates: FileAggregates): Promise<void> {
  const rows = aggregates.groups.spill();
  if (rows.length === 0 || !aggregates.complete) return;
  await copyRows(client, `${segmentTables(id).group_parts} (${GROUP_COLUMNS})`, rows);
}

/**
 * In the load's last transaction: the rest of the groups' sums, and the weekly counts into the
 * segment's three gold tables, keyed and analysed as the seal leaves them (db/transforms/seal/
 * gold_tables.sql, gold_keys.sql) when they stayed within their bounds. A load that did not read every
 * chunk drops the sums instead.
 */
export async function stageAggregates(client: pg.PoolClient, id: number, aggregates: FileAggregates): Promise<void> {
  const tables = segmentTables(id);
  if (!aggregates.complete) {
    await client.query(`DROP TABLE IF EXISTS ${tables.group_parts}`);
    return;
  }
  const rows = aggregates.groups.spill(true);
  if (rows.length > 0) await copyRows(client, `${tables.group_parts} (${GROUP_COLUMNS})`, rows);
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
