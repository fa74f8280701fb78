import { EventEmitter } from "node:events";
import { run, type Runner, type WorkerEvents } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { graphileLogger, patientPool } from "../core/db.ts";
import { describeError } from "../core/errors.ts";
import { queueCompaction, TASK } from "../core/jobs.ts";
import { SQL } from "../core/sql.ts";
import { maintain } from "./tasks/maintain.ts";
import { mergeGold } from "./tasks/merge_gold.ts";
import { mergeGroups } from "./tasks/merge_groups.ts";
import { compactSegmentsTask } from "./tasks/compact_segments.ts";
import { sealSegmentTask } from "./tasks/seal_segment.ts";
import { promoteSilver } from "./tasks/promote_silver.ts";

const RECOVERY_INTERVAL_MS = 15_000;

/**
 * Unlocks the jobs (and named queues) of workers whose process died: a worker registered in
 * audit.workers whose process has no session left in pg_stat_activity, or a lock older than two
 * minutes held by a worker nobody registered (killed between taking a job and registering). The
 * tasks are safe to run twice, so a job unlocked too eagerly costs a no-op run, never a double count.
 */
async function recoverAbandonedJobs(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ ids: string[] | null }>(SQL.abandonedWorkers);
  const ids = rows[0]?.ids ?? [];
  if (ids.length > 0) {
    await pool.query("SELECT graphile_worker.force_unlock_workers($1::text[])", [ids]);
    await pool.query("DELETE FROM audit.workers WHERE worker_id = ANY($1::text[])", [ids]);
  }
  return ids;
}

export type WorkerHandle = { runner: Runner; stop: () => Promise<void> };

/**
 * Runs the graphile-worker runner with tripflow's tasks, registers its workers under this process's
 * application_name (`processName`) and frees the jobs of dead workers at start and every 15 s.
 * Signals are left to the caller (main.ts).
 *
 * @example const worker = await startWorker({ pool, concurrency: 2, logger, processName, maxSegments: 8, fineMinTrips: 20_000_000, pairsMinTrips: 5_000_000 }); await worker.stop();
 */
export async function startWorker(options: {
  pool: pg.Pool;
  concurrency: number;
  logger: Logger;
  processName: string;
  /** MAX_SEGMENTS: the compaction's bound (pipeline/transform/compact.ts). */
  maxSegments: number;
  /** FINE_MIN_TRIPS: the segments that get level-10 counts (pipeline/transform/refine.ts). */
  fineMinTrips: number;
  /** PAIRS_MIN_TRIPS: the segments that get level-8 cell pairs (pipeline/transform/refine.ts). */
  pairsMinTrips: number;
}): Promise<WorkerHandle> {
  const { pool } = options;
  const logger = options.logger.child({ component: "worker" });
  const recover = async () => {
    const ids = await recoverAbandonedJobs(pool);
    if (ids.length > 0) logger.warn({ workers: ids }, "unlocked the jobs of workers whose process died");
  };
  await recover();
  // One compaction run at start (the queue runs one at a time, a waiting one is replaced): the segments
  // of a database that had none get their level-10 counts (pipeline/transform/refine.ts) without waiting
  // for the next file, and a run whose job gave up is tried again.
  await queueCompaction(pool);
  const events: WorkerEvents = new EventEmitter();
  // graphile-worker 0.17 locks jobs under the pool's id, and under a worker's id in places: register both.
  const register = (id: string) =>
    pool
      .query("INSERT INTO audit.workers (worker_id, process) VALUES ($1::text, $2::text) ON CONFLICT DO NOTHING", [
        id,
        options.processName,
      ])
      .catch((err) => logger.error({ err }, "could not register a worker"));
  // The pool of the runner now supervised, and how to replace that runner (set by `supervise`).
  let currentPool: string | null = null;
  let replace: ((err: unknown) => void) | null = null;
  events.on("pool:create", ({ workerPool }) => {
    currentPool = workerPool.id;
    void register(workerPool.id);
  });
  // graphile-worker 0.17 reports a job's outcome it could not record (the database cut the connection
  // it used) as a fatal error and shuts its pool down, but that shutdown can wait for ever on the failed
  // bookkeeping, its runner never ending and the job (and its named queue) locked under a live process.
  // Such a runner is replaced at once; the supervisor unlocks this process's jobs before the new one runs.
  events.on("pool:fatalError", ({ workerPool, error }) => {
    if (workerPool.id === currentPool) replace?.(error);
  });
  events.on("worker:create", ({ worker }) => void register(worker.workerId));
  const options_ = {
    pgPool: patientPool(pool),
    concurrency: options.concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    events,
    logger: graphileLogger(logger),
    // Completing and failing jobs in batches (of whatever finishes in the same tick) makes
    // graphile-worker retry those statements through a database restart; unbatched, one failure to
    // record a job's outcome is an unhandled rejection that ends the process.
    preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    taskList: {
      [TASK.promoteSilver]: promoteSilver(pool, logger),
      [TASK.mergeGroups]: mergeGroups(pool, logger),
      [TASK.mergeGold]: mergeGold(pool, logger),
      [TASK.maintain]: maintain(pool, logger),
      [TASK.sealSegment]: sealSegmentTask(pool, logger),
      [TASK.compactSegments]: compactSegmentsTask(pool, logger, options.maxSegments, {
        cells: options.fineMinTrips,
        pairs: options.pairsMinTrips,
      }),
    },
  };
  let stopping = false;
  let runner: Runner;
  // A runner that stops by itself (the database stayed away longer than graphile-worker's retries), or
  // whose pool reported a fatal error, is started again once the database answers, after this process's
  // jobs are unlocked.
  const supervise = (r: Runner) => {
    let replaced = false;
    const restart = async (err: unknown) => {
      if (stopping || replaced) return;
      replaced = true;
      logger.error({ err }, "graphile-worker stopped by itself; starting it again once the database answers");
      void Promise.resolve()
        .then(() => r.stop())
        .catch(() => {}); // already shutting down, or ended: not waited for
      for (let pause = 1000; !stopping; pause = Math.min(pause * 2, 30_000)) {
        await new Promise((resolve) => setTimeout(resolve, pause));
        try {
          await pool.query(
            "SELECT graphile_worker.force_unlock_workers(array(SELECT worker_id FROM audit.workers WHERE process = $1::text))",
            [options.processName],
          );
          if (stopping) return;
          runner = await run(options_);
          logger.info("graphile-worker started again");
          supervise(runner);
          return;
        } catch (e) {
          logger.warn({ err: describeError(e) }, "graphile-worker cannot start yet");
        }
      }
    };
    replace = (err) => void restart(err);
    // graphile-worker's promise resolves, not rejects, when its pool gives up on an error.
    r.promise.then(
      () => restart(new Error("the worker pool exited")),
      (err: unknown) => restart(err),
    );
  };
  runner = await run(options_);
  supervise(runner);
  const timer = setInterval(
    () => void recover().catch((err) => logger.warn({ err }, "job recovery failed")),
    RECOVERY_INTERVAL_MS,
  );
  timer.unref();
  return {
    get runner() {
      return runner;
    },
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      await runner.stop().catch(() => {}); // lets running jobs finish
      await pool.query("DELETE FROM audit.workers WHERE process = $1::text", [options.processName]).catch(() => {});
    },
  };
}
