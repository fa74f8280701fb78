import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { KEPT_BY_LOAD, segmentSql, segmentTables } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { type CountReply, type CountRequest, type CountTable, TRIP_VALUES } from "./count_messages.ts";
import { GROUP_COLUMNS } from "./group_counts.ts";

/** Trips per batch (192 KiB), and batches the loader may have ahead of the counting thread. */
const BATCH_TRIPS = 2048;
const AHEAD = 8;

/**
 * What a large file's first load keeps while it reads the lines: its weekly counts (weekly_counts.ts)
 * and its groups of similar trips (group_counts.ts), kept by a thread of their own (count_worker.ts)
 * so that the loader's thread, which sets the load's pace, only copies each trip's values into a
 * batch. Each batch moves to the counting thread and back without a copy; the loader waits (`ready`)
 * when AHEAD batches are not counted yet. If the thread fails, nothing is kept and the seal aggregates
 * the segment itself, as after a resumed load.
 *
 * @example const counts = new LoadCounts(7, 2 ** 20); counts.add(...); await stageLoadCounts(client, 7, counts); await counts.close();
 */
export class LoadCounts {
  private readonly worker: Worker;
  private values = new Float64Array(BATCH_TRIPS * TRIP_VALUES);
  private count = 0;
  private readonly spare: Float64Array<ArrayBuffer>[] = [];
  private ahead = 0;
  private failed = false;
  private closed = false;
  /** Who waits for the next answer that is not "counted" (answers come in the order asked). */
  private readonly answers: ((reply: CountReply | undefined) => void)[] = [];
  private wake: (() => void) | undefined;

  constructor(segment: number, maxGroups: number) {
    this.worker = new Worker(WORKER.code, {
      eval: true,
      workerData: { segment, maxGroups },
      resourceLimits: WORKER.resourceLimits,
    });
    this.worker.on("message", (reply: CountReply) => {
      if (reply.type !== "counted") {
        this.answers.shift()?.(reply);
        return;
      }
      this.ahead--;
      this.spare.push(reply.values);
      this.wake?.();
    });
    this.worker.on("error", () => this.fail());
    this.worker.on("exit", () => this.fail());
  }

  /** One trip (the values as TRIP_VALUES lists them). */
  add(
    region: number,
    days: number,
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
    if (this.failed) return;
    const v = this.values;
    const at = this.count * TRIP_VALUES;
    v[at] = region;
    v[at + 1] = days;
    v[at + 2] = minute;
    v[at + 3] = ox;
    v[at + 4] = oy;
    v[at + 5] = dx;
    v[at + 6] = dy;
    v[at + 7] = originLon;
    v[at + 8] = originLat;
    v[at + 9] = destinationLon;
    v[at + 10] = destinationLat;
    v[at + 11] = micros;
    if (++this.count === BATCH_TRIPS) this.send();
  }

  /** Resolves once fewer than AHEAD batches wait for the counting thread. */
  async ready(): Promise<void> {
    while (this.ahead >= AHEAD && !this.failed) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
  }

  /** After the last trip: which of the two were kept whole (each false if the thread failed or gave up). */
  async finish(): Promise<{ weekly: boolean; groups: boolean }> {
    if (this.count > 0) this.send();
    const reply = await this.ask({ type: "end" });
    return reply?.type === "ended" ? { weekly: reply.weekly, groups: reply.groups } : { weekly: false, groups: false };
  }

  /** A table's rows in PostgreSQL's binary COPY format, a piece at a time (after `finish`). */
  async *rows(table: CountTable): AsyncGenerator<Buffer> {
    for (;;) {
      const reply = await this.ask({ type: "rows", table });
      if (reply?.type !== "rows") throw new Error(`the counting thread stopped while handing out ${table}`);
      yield Buffer.from(reply.piece.buffer, reply.piece.byteOffset, reply.piece.byteLength);
      if (reply.done) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  private send(): void {
    const values = this.values;
    this.worker.postMessage({ type: "trips", values, count: this.count } satisfies CountRequest, [values.buffer]);
    this.ahead++;
    this.values = this.spare.pop() ?? new Float64Array(BATCH_TRIPS * TRIP_VALUES);
    this.count = 0;
  }

  private ask(request: CountRequest): Promise<CountReply | undefined> {
    if (this.failed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.answers.push(resolve);
      this.worker.postMessage(request);
    });
  }

  private fail(): void {
    if (this.closed) return;
    this.failed = true;
    for (const answer of this.answers.splice(0)) answer(undefined);
    this.wake?.();
  }
}

/**
 * The counting thread: count_worker.ts, required through tsx's CommonJS hook (a thread does not
 * inherit tsx's loader from the process, and registering its ESM loader there would start one more
 * thread), with small heaps: what it keeps lives in typed arrays, outside them.
 */
const WORKER = {
  code: `require(${JSON.stringify(createRequire(import.meta.url).resolve("tsx/cjs/api"))}).require(${JSON.stringify(
    fileURLToPath(new URL("./count_worker.ts", import.meta.url)),
  )}, __filename);`,
  resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
};

/**
 * In the load's last transaction: what the load kept into its segment's tables, each created by the
 * seal's own SQL (db/transforms/seal/gold_tables.sql, groups_table.sql) and marked KEPT_BY_LOAD, so
 * that they exist only if the whole file is in the segment; nothing of what gave up. The seal keys and
 * analyses them (gold_keys.sql, groups_keys.sql) beside its index builds, off the load's path.
 */
export async function stageLoadCounts(client: pg.PoolClient, id: number, counts: LoadCounts): Promise<void> {
  const kept = await counts.finish();
  const tables = segmentTables(id);
  const copy = (target: string, table: CountTable) =>
    pipeline(
      Readable.from(counts.rows(table)),
      client.query(copyFrom(`COPY ${target} FROM STDIN WITH (FORMAT binary)`)),
    );
  if (kept.weekly) {
    await client.query(segmentSql(SQL.sealGoldTables, id));
    await copy(`${tables.regions} (region_id, week, trips, segment)`, "regions");
    await copy(`${tables.origins} (region_id, week, cell, trips, segment)`, "origins");
    await copy(`${tables.destinations} (region_id, week, cell, trips, segment)`, "destinations");
    await client.query(`COMMENT ON TABLE ${tables.regions} IS '${KEPT_BY_LOAD}'`);
  }
  if (kept.groups) {
    await client.query(segmentSql(SQL.sealGroupsTable, id));
    await copy(`${tables.groups} (${GROUP_COLUMNS.join(", ")})`, "groups");
    await client.query(`COMMENT ON TABLE ${tables.groups} IS '${KEPT_BY_LOAD}'`);
  }
}
