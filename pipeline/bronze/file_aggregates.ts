import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { WeeklyCounts } from "./weekly_counts.ts";

/**
 * A large file's own weekly counts, kept while its lines are read (silver_rows.ts SilverRows adds each
 * trip; weekly_counts.ts): they spare the seal its gold aggregate over the whole segment, and stand for
 * the file only if this load read every one of its chunks (`giveUp()` otherwise: a load resumed after
 * a crash skips the chunks in the segment already, and the seal then aggregates the segment as it
 * always could). The load's last transaction writes them (`stageAggregates`), so the segment's gold
 * tables exist only if the whole file is in the segment.
 */
export class FileAggregates {
  readonly weekly = new WeeklyCounts();
  private whole = true;

  /** This load does not read every chunk: nothing it kept is written. */
  giveUp(): void {
    this.whole = false;
  }

  /** Whether the counts stand for the whole file: every chunk read by this load, every table within its bounds. */
  get complete(): boolean {
    return this.whole && this.weekly.complete;
  }
}

/**
 * In the load's last transaction: the weekly counts into the segment's three gold tables, keyed and
 * analysed as the seal leaves them (db/transforms/seal/gold_tables.sql, gold_keys.sql), if they stand
 * for the whole file; otherwise nothing, and the seal counts.
 */
export async function stageAggregates(client: pg.PoolClient, id: number, aggregates: FileAggregates): Promise<void> {
  if (!aggregates.complete) return;
  const tables = segmentTables(id);
  const weekly = aggregates.weekly;
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
