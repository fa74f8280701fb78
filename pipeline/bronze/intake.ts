import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { failIngestion, getIngestion, recordEvent, type Ingestion } from "../core/audit.ts";
import type { Config } from "../core/config.ts";
import { lowerPriority, waitForDatabase, whenDatabaseAnswers } from "../core/db.ts";
import { describeError, FileChangedError, IngestionEndedError, isTransient } from "../core/errors.ts";
import { queueSealIfReady, queueSilverChunk, type ChunkPayload } from "../core/jobs.ts";
import { completeIfDone, createSegment, lockIngestion, segmentTable } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import { withdrawIngestion } from "../core/withdraw.ts";
import type { Archive } from "../landing/archive.ts";
import { inspectFile } from "../landing/inspect.ts";
import { registerIngestion } from "../landing/register.ts";
import { openForWriting } from "../landing/writers.ts";
import { attachChunk, bronzeChunkRows, loadBronze, type ExpectedFile } from "./loader.ts";
import { CountingThread, groupSlots } from "./counting.ts";
import { Dimensions } from "./silver_rows.ts";
import { stageWeeklyCounts } from "./weekly_counts.ts";

export type IntakeDeps = {
  pool: pg.Pool;
  config: Pick<Config, "chunkRows" | "progressIntervalMs" | "bulkMinBytes" | "loadGroupsMax" | "bulkNice">;
  archive: Archive;
  logger: Logger;
  owner?: string;
};

/** A file this process loads or loaded, whose ingestion has not ended: where it is and what it was. */
type InFlight = { path: string; size: number; mtimeMs: number };

/**
 * Sets an ingestion `loading` with its columns and lines per chunk (db/queries/bronze/start_load.sql);
 * false when it has ended meanwhile.
 */
async function startLoad(
  pool: pg.Pool,
  load: { id: number; columns: string[]; chunkRows: number; bulk: boolean },
): Promise<{ bulk: boolean } | null> {
  const mode = load.bulk ? "bulk" : "incremental";
  const { rows } = await pool.query<{ load_mode: string }>(SQL.startBronzeLoad, [
    load.id,
    load.columns,
    load.chunkRows,
    mode,
  ]);
  return rows[0] ? { bulk: rows[0].load_mode === "bulk" } : null;
}

/** The marker of a loaded bronze chunk with its rows (db/queries/bronze/record_chunk.sql). */
async function recordBronzeChunk(client: pg.PoolClient, marker: { id: number; chunk: number; rows: number }) {
  await client.query(SQL.recordBronzeChunk, [marker.id, marker.chunk, marker.rows]);
}

/** A large file's chunk, written into its segment: its silver marker (db/queries/bronze/record_segment_chunk.sql). */
async function recordSegmentChunk(
  client: pg.PoolClient,
  marker: { id: number; chunk: number; stored: number; rejected: number },
) {
  await client.query(SQL.recordSegmentChunk, [marker.id, marker.chunk, marker.stored, marker.rejected]);
}

/** Loads that fail for a transient reason (the database went away) are tried this often, then fail. */
const MAX_LOAD_ATTEMPTS = 10;
/** A file another live process is ingesting is looked at again after this long, unless it changes. */
const BUSY_RECHECK_MS = 30_000;

/**
 * Takes one landing file through registration and the bronze load, queueing the transform jobs as
 * chunks arrive; archives files whose ingestion completed and moves refused files aside.
 *
 * @example const intake = new Intake({ pool, config, logger, archive }); await intake.ingestFile("landing/trips.csv");
 */
export class Intake {
  private readonly pool: pg.Pool;
  private readonly config: IntakeDeps["config"];
  private readonly logger: Logger;
  private readonly archive: Archive;
  /** Files this process loaded whose ingestion has not finished yet, by ingestion id. */
  private readonly inFlight = new Map<number, InFlight>();
  /** Files another live process is ingesting: not hashed again until they change or the time is up. */
  private readonly busy = new Map<string, { size: number; mtimeMs: number; until: number }>();
  /** Files a process still holds open for writing (said once in the log while they wait). */
  private readonly writing = new Set<string>();
  private readonly abort = new AbortController();
  /** This process's application_name: the owner of the ingestions it loads. */
  private readonly owner: string | null;

  constructor(deps: IntakeDeps) {
    this.pool = deps.pool;
    this.config = deps.config;
    this.logger = deps.logger.child({ component: "intake" });
    this.archive = deps.archive;
    this.owner = deps.owner ?? null;
  }

  /**
   * Registers and loads one file. Returns the ingestion id, or undefined when the file vanished, is
   * still being written or is another process's. A file whose content was seen before is skipped
   * (ingestion.skipped) or, if that earlier ingestion never finished (a crash), continued under the
   * same ingestion row. A load that loses the database waits for it and continues where it stopped
   * (bronze.retrying); a file that changes while it is read fails and is taken again once it settles.
   */
  async ingestFile(path: string): Promise<number | undefined> {
    // Loaded, transforms running; or ended, with the event that says so missed (the archive step then
    // runs from here: a scan of landing sees the file again, so no lost notification leaves it there).
    const loaded = [...this.inFlight].find(([, f]) => f.path === path);
    if (loaded) {
      await this.settled(loaded[0]);
      return undefined;
    }
    const fileName = basename(path);
    const log = this.logger.child({ file: fileName });
    let inspection;
    try {
      const st = await stat(path);
      const busy = this.busy.get(path);
      if (busy && busy.size === st.size && busy.mtimeMs === st.mtimeMs && Date.now() < busy.until) return undefined;
      this.busy.delete(path);
      const writers = await openForWriting(path);
      if (writers.length > 0) {
        if (!this.writing.has(path))
          log.info({ pids: writers }, "still open for writing: waiting for its writer to close it");
        this.writing.add(path);
        return undefined;
      }
      this.writing.delete(path);
      inspection = await inspectFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    if (!inspection.stable) {
      log.info("the file changed while it was inspected: a writer is still at work; waiting for it to settle");
      return undefined;
    }
    if (this.abort.signal.aborted) return undefined;
    const { ingestion, action } = await registerIngestion(
      this.pool,
      fileName,
      inspection.sha256,
      inspection.sizeBytes,
      "landing",
      this.owner,
    );
    const ilog = log.child({ ingestion: ingestion.id });

    if (action === "skip") {
      ilog.info({ duplicateOf: ingestion.duplicate_of }, "same content ingested before: skipped");
      await this.archive.move(path, ingestion, "archive");
      return ingestion.id;
    }
    if (action === "archive") {
      // This very file completed, but the process stopped before moving it.
      await this.archive.move(path, ingestion, "archive");
      return ingestion.id;
    }
    if (action === "busy") {
      if (ingestion.owner !== this.owner || this.inFlight.has(ingestion.id)) {
        this.busy.set(path, {
          size: inspection.sizeBytes,
          mtimeMs: inspection.mtimeMs,
          until: Date.now() + BUSY_RECHECK_MS,
        });
        ilog.info({ owner: ingestion.owner }, "being ingested by another live process: left to it");
        return undefined;
      }
      // This process's own ingestion, which no load of it is working on: an earlier attempt stopped.
      await recordEvent(this.pool, ingestion.id, "ingestion.resumed", { file: fileName, status: ingestion.status });
    }
    if (inspection.problem) {
      await failIngestion(this.pool, ingestion.id, inspection.problem);
      ilog.warn({ error: inspection.problem }, "file refused");
      await this.archive.move(path, ingestion, "rejected");
      return ingestion.id;
    }
    const started = Date.now();
    const expected = { sha256: inspection.sha256, size: inspection.sizeBytes, mtimeMs: inspection.mtimeMs };
    this.inFlight.set(ingestion.id, { path, size: expected.size, mtimeMs: expected.mtimeMs });
    const outcome = await this.loadWithRetries(
      ingestion,
      path,
      inspection.columns!,
      inspection.headerBytes,
      expected,
      ilog,
    );
    if (outcome === "loaded") ilog.info({ durationMs: Date.now() - started }, "bronze loaded");
    // A file without data lines completes in the load's own transaction: no event will follow.
    if (outcome !== "stopped") await this.settled(ingestion.id);
    return ingestion.id;
  }

  /**
   * Loads a registered file into bronze; a transient failure (the database restarted, the connection
   * was cut) waits until the database answers again, says so with bronze.retrying and continues from
   * the first chunk not in bronze. A changed file, any other error or too many attempts fail the
   * ingestion and withdraw what it stored.
   */
  private async loadWithRetries(
    ingestion: Ingestion,
    path: string,
    columns: string[],
    headerBytes: number,
    expected: ExpectedFile,
    log: Logger,
  ): Promise<"loaded" | "stopped" | "ended" | "failed"> {
    const id = ingestion.id;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.load(ingestion, path, columns, headerBytes, expected);
        return "loaded";
      } catch (err) {
        if (this.abort.signal.aborted) {
          this.inFlight.delete(id);
          log.info("load interrupted by shutdown; the next start continues it");
          return "stopped";
        }
        if (err instanceof IngestionEndedError) {
          log.warn({ reason: err.message }, "the ingestion ended while its file was loading");
          return "ended";
        }
        if (err instanceof FileChangedError) {
          this.inFlight.delete(id); // the file stays in landing: it is taken again once it settles
          await whenDatabaseAnswers(this.pool, log, () => withdrawIngestion(this.pool, id, err.message));
          log.warn(
            { error: err.message },
            "the file changed while it was read: ingestion failed, file left in landing",
          );
          return "failed";
        }
        if (!isTransient(err) || attempt >= MAX_LOAD_ATTEMPTS) {
          const tries = attempt > 1 ? ` (attempt ${attempt} of ${MAX_LOAD_ATTEMPTS})` : "";
          const reason = `bronze load failed${tries}: ${describeError(err)}`;
          log.error({ err, attempt }, "bronze load failed; failing the ingestion");
          await whenDatabaseAnswers(this.pool, log, () => withdrawIngestion(this.pool, id, reason));
          return "failed";
        }
        log.warn({ err, attempt }, "bronze load interrupted; continuing once the database answers");
        await waitForDatabase(this.pool, log, this.abort.signal);
        if (this.abort.signal.aborted) continue;
        await recordEvent(this.pool, id, "bronze.retrying", {
          attempt: attempt + 1,
          max_attempts: MAX_LOAD_ATTEMPTS,
          error: describeError(err),
        }).catch((e) => log.warn({ err: e }, "could not record bronze.retrying"));
      }
    }
  }

  private async load(
    ingestion: Ingestion,
    path: string,
    columns: string[],
    headerBytes: number,
    expected: ExpectedFile,
  ): Promise<void> {
    const id = ingestion.id;
    // A resumed load cuts the file where the interrupted one did, whatever CHUNK_ROWS says now.
    const chunkRows = ingestion.chunk_rows ?? this.config.chunkRows;
    // A large file loads as a segment of its own (pipeline/transform/seal.ts); a resumed load keeps
    // the mode its first load chose.
    const started = await startLoad(this.pool, {
      id,
      columns,
      chunkRows,
      bulk: expected.size >= this.config.bulkMinBytes,
    });
    if (!started) throw new IngestionEndedError(`ingestion ${id} ended before its load`);
    if (started.bulk) await createSegment(this.pool, id);
    // A first load has no chunk to reuse; a resumed one (or a retry of this one) looks chunk by chunk.
    const resuming = ingestion.status !== "queued";
    ingestion.chunk_rows = chunkRows;
    ingestion.status = "loading";
    let lastProgress = Date.now();
    let chunkStarted = Date.now();
    let lastChunk: ChunkPayload | undefined;
    // A large file's weekly counts, kept while its lines are read: they spare the seal its gold
    // aggregate. Only a first load reads every chunk; a resumed one keeps none (the seal counts then).
    // They are kept on a thread of their own (counting.ts), off the loader's.
    const counter =
      started.bulk && !resuming
        ? new CountingThread(groupSlots(this.config.loadGroupsMax, expected.size), this.config.bulkNice)
        : undefined;
    const client = await this.pool.connect();
    // A large file's load runs at the lower priority of bulk work (BULK_NICE): the API answers first.
    let restore = () => true;
    try {
      if (started.bulk) restore = await lowerPriority(this.pool, client);
      const result = await loadBronze(client, {
        ingestionId: id,
        path,
        columns: columns as never,
        headerBytes,
        chunkRows,
        expected,
        signal: this.abort.signal,
        loadedChunk: resuming ? (c, chunk, first, end) => bronzeChunkRows(c, id, chunk, first, end) : undefined,
        segment: started.bulk
          ? { table: segmentTable(id), dimensions: new Dimensions(this.pool), counts: counter }
          : undefined,
        onChunk: async (c, loaded) => {
          // Each chunk is attached, counted and (but the last) queued as soon as it is in, so that
          // transforms overlap the load; the last chunk is queued with bronze.loaded below, so that a
          // small file's events read in their natural order.
          const payload = {
            ingestion_id: id,
            chunk: loaded.chunk,
            first_line: loaded.firstLine,
            end_line: loaded.endLine,
          };
          if (loaded.last && !started.bulk) lastChunk = payload;
          if (loaded.reused) return;
          if (!loaded.segment) await c.query("BEGIN");
          await lockIngestion(c, id);
          const { rows } = await c.query<{ status: string }>(
            "SELECT status FROM audit.ingestions WHERE id = $1::bigint",
            [id],
          );
          if (rows[0]?.status !== "loading")
            throw new IngestionEndedError(`ingestion ${id} is ${rows[0]?.status ?? "gone"}`);
          if (loaded.segment) {
            // A large file's chunk is in its segment already: it is loaded and promoted at once.
            await recordBronzeChunk(c, { id, chunk: loaded.chunk, rows: loaded.rows });
            await recordSegmentChunk(c, { id, chunk: loaded.chunk, ...loaded.segment });
            await recordEvent(c, id, "silver.promoted", {
              chunk: loaded.chunk,
              rows: loaded.segment.stored,
              rejected: loaded.segment.rejected,
              ms: Date.now() - chunkStarted,
            });
          } else {
            await attachChunk(c, id, loaded);
            await recordBronzeChunk(c, { id, chunk: loaded.chunk, rows: loaded.rows });
            if (!loaded.last) await queueSilverChunk(c, payload);
          }
          await c.query("COMMIT");
          chunkStarted = Date.now();
          if (!loaded.last && Date.now() - lastProgress >= this.config.progressIntervalMs) {
            lastProgress = Date.now();
            await recordEvent(c, id, "bronze.progress", {
              rows: loaded.rowsSoFar,
              bytes: loaded.bytesSoFar,
              total_bytes: expected.size,
              chunks: loaded.chunk + 1,
            });
          }
        },
      });
      const counts = await counter?.finish();
      await client.query("BEGIN");
      await lockIngestion(client, id);
      if (lastChunk) await queueSilverChunk(client, lastChunk);
      const done = await client.query(
        "UPDATE audit.ingestions SET status = 'transforming', chunks = $2::int, lines = $3::bigint WHERE id = $1::bigint AND status = 'loading'",
        [id, result.chunks, result.rows],
      );
      if (done.rowCount === 0) throw new IngestionEndedError(`ingestion ${id} ended during its load`);
      await recordEvent(client, id, "bronze.loaded", { rows: result.rows, bytes: result.bytes, chunks: result.chunks });
      await completeIfDone(client, id); // a file with a header and no data lines completes here
      if (counts) await stageWeeklyCounts(client, id, counts);
      if (started.bulk) await queueSealIfReady(client, id); // every chunk is in its segment now
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      await counter?.close(); // first: the thread must end even if releasing the client throws
      client.release(!restore());
    }
  }

  /**
   * Stops loading (SIGTERM): the chunk being copied is rolled back, the ingestion stays `loading` and
   * the next start continues it. Transforms already queued are left to the workers.
   */
  stop(): void {
    this.abort.abort();
  }

  /**
   * Called when an ingestion ended: moves its file (if this process loaded it) out of landing. A
   * completed ingestion's file goes to the archive only if it is still the file that was read (same
   * size and mtime; its sha256 was checked as it was read): one that changed since is withdrawn and
   * left in landing, to be ingested as what it now is.
   */
  async settled(id: number): Promise<void> {
    const file = this.inFlight.get(id);
    if (file === undefined) return;
    const ingestion = await whenDatabaseAnswers(this.pool, this.logger, () => getIngestion(this.pool, id));
    if (this.inFlight.get(id) !== file) return; // settled meanwhile (by the event or by a scan)
    if (!ingestion || (ingestion.status !== "completed" && ingestion.status !== "failed")) return;
    this.inFlight.delete(id);
    if (ingestion.status === "completed") {
      const st = await stat(file.path).catch(() => null);
      if (st && (st.size !== file.size || st.mtimeMs !== file.mtimeMs)) {
        const reason =
          `the file changed after it was read (read with ${file.size} bytes; now ${st.size} bytes): a writer was still ` +
          `at work. Its trips were withdrawn; once it stops changing it is ingested again, as the file it then is`;
        await whenDatabaseAnswers(this.pool, this.logger, () =>
          withdrawIngestion(this.pool, id, reason, { completed: true }),
        );
        this.logger.warn(
          { ingestion: id, file: ingestion.file_name },
          "file changed after it was read: ingestion withdrawn, file left in landing",
        );
        return;
      }
    }
    await this.archive.move(file.path, ingestion, ingestion.status === "completed" ? "archive" : "rejected");
  }
}
