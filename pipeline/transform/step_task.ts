import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import type { z } from "zod";
import { recordEvent } from "../core/audit.ts";
import { describeError, isTransient } from "../core/errors.ts";
import { ChunkPayload, type TaskName } from "../core/jobs.ts";
import { withdrawIngestion } from "../core/withdraw.ts";

/** What every step's job carries: its ingestion, and the chunk for a chunk step. */
type StepPayload = { ingestion_id: number; chunk?: number };

/**
 * A graphile-worker task that runs one step of an ingestion (its payload checked by `schema`) and logs
 * what it reports, with the task, the ingestion, the chunk and how long it took.
 *
 * A step that fails is retried only when the error is transient (the database restarted, a deadlock:
 * pipeline/core/errors.ts) and attempts remain; each retry is announced with a `step.retrying` event. Any
 * other error (a value the database refuses, a broken invariant), or the last attempt's, fails the
 * ingestion at once with the error and withdraws what it stored (pipeline/core/withdraw.ts): nothing is
 * left waiting for days of back-off with no word of why.
 */
export const stepTask =
  <P extends StepPayload>(
    task: TaskName,
    schema: z.ZodType<P>,
    step: (pool: pg.Pool, p: P) => Promise<Record<string, unknown>>,
    message: string,
  ) =>
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload, helpers) => {
    const p = schema.parse(payload); // a malformed payload fails the job, never a chunk of data
    const started = Date.now();
    const log = logger.child({ task, ingestion: p.ingestion_id, chunk: p.chunk });
    try {
      const reported = await step(pool, p);
      log.info({ ...reported, durationMs: Date.now() - started }, message);
    } catch (err) {
      const { attempts, max_attempts: maxAttempts } = helpers.job;
      const error = describeError(err);
      if (isTransient(err) && attempts < maxAttempts) {
        log.warn({ err, attempt: attempts, maxAttempts }, "step failed; will retry");
        // The database may still be away: the retry itself is what matters, the event is best effort.
        await recordEvent(pool, p.ingestion_id, "step.retrying", {
          task,
          chunk: p.chunk,
          attempt: attempts,
          max_attempts: maxAttempts,
          error,
        }).catch(() => {});
        throw err;
      }
      const why = isTransient(err) ? `gave up after ${attempts} attempts` : "not retried: retrying cannot fix it";
      const where = p.chunk === undefined ? "" : ` on chunk ${p.chunk}`;
      const reason = `${task} failed${where} (${why}): ${error}`;
      log.error({ err, attempt: attempts }, "step failed; failing the ingestion");
      // If this fails too (the database went away again), the job is retried and decides again.
      const withdrawn = await withdrawIngestion(pool, p.ingestion_id, reason);
      if (withdrawn.failed)
        log.error({ withdrawnTrips: withdrawn.trips, error: reason }, "ingestion failed and withdrawn");
    }
  };

/** A task that runs one chunk step (promote_silver, merge_groups, merge_gold). */
export const chunkTask = (
  task: TaskName,
  step: (pool: pg.Pool, p: ChunkPayload) => Promise<Record<string, unknown>>,
  message: string,
) => stepTask(task, ChunkPayload, step, message);
