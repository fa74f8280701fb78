import { copyFile, mkdir, rename, stat, unlink } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { failIngestion, getIngestion, inTransaction, recordEvent, type Ingestion } from "./audit.ts";
import type { Config } from "./config.ts";
import { inspectFile } from "./inspect.ts";
import { attachChunk, bronzeTable, loadBronze } from "./loader.ts";
import { registerIngestion } from "./registry.ts";
import { completeIfDone, lockIngestion, queueSilverChunk, type ChunkPayload } from "./steps.ts";

export type OrchestratorDeps = {
  pool: pg.Pool;
  config: Pick<Config, "landingDir" | "archiveDir" | "chunkRows" | "progressIntervalMs">;
  logger: Logger;
  owner?: string;
};

/**
 * Takes one landing file through registration and the bronze load, queueing the transform jobs as
 * chunks arrive; archives files whose ingestion completed and moves refused files aside.
 *
 * @example const orchestrator = new Orchestrator({ pool, config, logger }); await orchestrator.ingestFile("landing/trips.csv");
 */
export class Orchestrator {
  private readonly pool: pg.Pool;
  private readonly config: OrchestratorDeps["config"];
  private readonly logger: Logger;
  /** Files this process loaded whose ingestion has not finished yet: path by ingestion id. */
  private readonly inFlight = new Map<number, string>();
  private readonly abort = new AbortController();
  /** This process's application_name: the owner of the ingestions it loads. */
  private readonly owner: string | null;

  constructor(deps: OrchestratorDeps) {
    this.pool = deps.pool;
    this.config = deps.config;
    this.logger = deps.logger.child({ component: "orchestrator" });
    this.owner = deps.owner ?? null;
  }

  /**
   * Registers and loads one file. Returns the ingestion id, or undefined when the file vanished. A
   * file whose content was seen before is skipped (ingestion.skipped) or, if that earlier ingestion
   * never finished (a crash), continued under the same ingestion row.
   */
  async ingestFile(path: string): Promise<number | undefined> {
    if ([...this.inFlight.values()].includes(path)) return undefined; // loaded, transforms running
    const fileName = basename(path);
    const log = this.logger.child({ file: fileName });
    let inspection;
    try {
      inspection = await inspectFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    if (this.abort.signal.aborted) return undefined;
    const { ingestion, action } = await registerIngestion(this.pool, fileName, inspection.sha256, inspection.sizeBytes, "landing", this.owner);
    const ilog = log.child({ ingestion: ingestion.id });

    if (action === "skip") {
      ilog.info({ duplicateOf: ingestion.duplicate_of }, "same content ingested before: skipped");
      await this.moveAside(path, ingestion, "archive");
      return ingestion.id;
    }
    if (action === "archive") {
      await this.archive(ingestion.id, path);
      return ingestion.id;
    }
    if (action === "busy") return undefined;
    if (inspection.problem) {
      await failIngestion(this.pool, ingestion.id, inspection.problem);
      ilog.warn({ error: inspection.problem }, "file refused");
      await this.moveAside(path, ingestion, "rejected");
      return ingestion.id;
    }
    const started = Date.now();
    this.inFlight.set(ingestion.id, path);
    try {
      await this.load(ingestion, path, inspection.columns!, inspection.headerBytes, inspection.sizeBytes);
    } catch (err) {
      this.inFlight.delete(ingestion.id);
      if (this.abort.signal.aborted) {
        ilog.info("load interrupted by shutdown; the next start continues it");
        return ingestion.id;
      }
      ilog.error({ err }, "bronze load failed");
      throw err;
    }
    ilog.info({ durationMs: Date.now() - started }, "bronze loaded");
    // A file without data lines completes in the load's own transaction: no event will follow.
    await this.settled(ingestion.id);
    return ingestion.id;
  }

  private async load(ingestion: Ingestion, path: string, columns: string[], headerBytes: number, totalBytes: number): Promise<void> {
    const id = ingestion.id;
    // A resumed load cuts the file where the interrupted one did, whatever CHUNK_ROWS says now.
    const chunkRows = ingestion.chunk_rows ?? this.config.chunkRows;
    await this.pool.query(
      "UPDATE audit.ingestions SET status = 'loading', columns = $2::text[], chunks = NULL, lines = NULL, chunk_rows = $3::int WHERE id = $1::bigint",
      [id, columns, chunkRows],
    );
    let lastProgress = Date.now();
    let lastChunk: ChunkPayload | undefined;
    const client = await this.pool.connect();
    try {
      const result = await loadBronze(client, {
        ingestionId: id,
        path,
        columns: columns as never,
        headerBytes,
        chunkRows,
        signal: this.abort.signal,
        onChunk: async (c, loaded) => {
          // Each chunk is attached, counted and (but the last) queued as soon as it is in, so that
          // transforms overlap the load; the last chunk is queued with bronze.loaded below, so that a
          // small file's events read in their natural order.
          const payload = { ingestion_id: id, chunk: loaded.chunk, first_line: loaded.firstLine, end_line: loaded.endLine };
          await c.query("BEGIN");
          await attachChunk(c, id, loaded);
          await c.query(
            `INSERT INTO audit.steps (ingestion_id, step, chunk, rows) VALUES ($1::bigint, 'bronze', $2::int, $3::bigint)
             ON CONFLICT (ingestion_id, step, chunk) DO UPDATE SET rows = excluded.rows, finished_at = clock_timestamp()`,
            [id, loaded.chunk, loaded.rows],
          );
          if (!loaded.last) await queueSilverChunk(c, payload);
          await c.query("COMMIT");
          if (!loaded.last && Date.now() - lastProgress >= this.config.progressIntervalMs) {
            lastProgress = Date.now();
            await recordEvent(c, id, "bronze.progress", "bronze", {
              rows: loaded.rowsSoFar,
              bytes: loaded.bytesSoFar,
              total_bytes: totalBytes,
              chunks: loaded.chunk + 1,
            });
          }
          if (loaded.last) lastChunk = payload;
        },
      });
      await client.query("BEGIN");
      await lockIngestion(client, id);
      if (lastChunk) await queueSilverChunk(client, lastChunk);
      await client.query(
        "UPDATE audit.ingestions SET status = 'transforming', chunks = $2::int, lines = $3::bigint WHERE id = $1::bigint",
        [id, result.chunks, result.rows],
      );
      await recordEvent(client, id, "bronze.loaded", "bronze", { rows: result.rows, bytes: result.bytes, chunks: result.chunks });
      await completeIfDone(client, id); // a file with a header and no data lines completes here
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Stops loading (SIGTERM): the chunk being copied is rolled back, the ingestion stays `loading` and
   * the next start continues it. Transforms already queued are left to the workers.
   */
  stop(): void {
    this.abort.abort();
  }

  /** Called when an ingestion ended: moves its file (if this process loaded it) out of landing. */
  async settled(id: number): Promise<void> {
    const path = this.inFlight.get(id);
    if (path === undefined) return;
    const ingestion = await getIngestion(this.pool, id);
    if (!ingestion || (ingestion.status !== "completed" && ingestion.status !== "failed")) return;
    this.inFlight.delete(id);
    await this.moveAside(path, ingestion, ingestion.status === "completed" ? "archive" : "rejected");
  }

  /** Moves a completed ingestion's file to the archive and releases its bronze rows. */
  async archive(id: number, path: string): Promise<void> {
    const ingestion = await getIngestion(this.pool, id);
    if (!ingestion || ingestion.status !== "completed") return;
    await this.moveAside(path, ingestion, "archive");
  }

  /** Drops the bronze partition of an ingestion that no longer needs it. */
  async releaseBronze(id: number): Promise<void> {
    await this.pool.query(`DROP TABLE IF EXISTS ${bronzeTable(id)}`);
  }

  private folder(where: "archive" | "rejected"): string {
    return where === "archive" ? resolve(this.config.archiveDir) : resolve(this.config.archiveDir, "..", "rejected");
  }

  /** Where an ingestion's file goes: the id makes the name unique, the original name follows unchanged. */
  private target(ingestion: Pick<Ingestion, "id" | "file_name">, where: "archive" | "rejected"): string {
    return join(this.folder(where), `${ingestion.id}-${ingestion.file_name}`);
  }

  private async moveAside(path: string, ingestion: Ingestion, where: "archive" | "rejected"): Promise<void> {
    await mkdir(this.folder(where), { recursive: true });
    const target = this.target(ingestion, where);
    try {
      await rename(path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EXDEV") throw err;
      await copyFile(path, target);
      await unlink(path);
    }
    await this.recordMoved(ingestion.id, target, where);
  }

  private async recordMoved(id: number, target: string, where: "archive" | "rejected"): Promise<void> {
    await this.releaseBronze(id);
    await inTransaction(this.pool, async (client) => {
      await client.query("UPDATE audit.ingestions SET archived_as = $2::text WHERE id = $1::bigint", [id, target]);
      await recordEvent(client, id, "file.archived", "archive", { path: target, folder: where });
    });
    this.logger.info({ ingestion: id, to: target }, "file moved");
  }

  /**
   * At start: finishes what a crash interrupted between moving a file and recording it (the file is
   * in the archive or rejected folder, audit.ingestions does not say so), and drops bronze partitions
   * that ended ingestions left behind.
   */
  async reconcile(): Promise<void> {
    const { rows } = await this.pool.query<Pick<Ingestion, "id" | "file_name" | "status">>(
      "SELECT id, file_name, status FROM audit.ingestions WHERE archived_as IS NULL AND status IN ('completed', 'failed', 'skipped') ORDER BY id",
    );
    for (const ingestion of rows) {
      const where = ingestion.status === "failed" ? "rejected" : "archive";
      const target = this.target(ingestion, where);
      if (await stat(target).then(() => true, () => false)) await this.recordMoved(ingestion.id, target, where);
    }
    const { rows: stale } = await this.pool.query<{ id: number }>(
      `SELECT i.id FROM pg_inherits AS h JOIN audit.ingestions AS i ON h.inhrelid::regclass::text = 'bronze.trips_' || i.id
       WHERE h.inhparent = 'bronze.trips'::regclass AND i.status IN ('completed', 'failed', 'skipped') AND i.archived_as IS NOT NULL`,
    );
    for (const { id } of stale) await this.releaseBronze(id);
  }
}
