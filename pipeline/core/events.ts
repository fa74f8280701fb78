import { z } from "zod";

/**
 * The audit event catalogue: every event tripflow writes, with its stage and the shape of its payload.
 * Producers write events through `recordEvent` (pipeline/core/audit.ts), which takes the stage from
 * here and accepts only the payload declared here; the SSE route documents these types, and the
 * command-line client reads them. docs/data-model.md lists them for people.
 */
const count = z.number().int().nonnegative();
const chunk = count;
const ms = count;

export const EVENTS = Object.freeze({
  "ingestion.discovered": {
    stage: "landing",
    payload: z.object({ file: z.string(), sha256: z.string(), size_bytes: count }),
  },
  "ingestion.skipped": {
    stage: "landing",
    payload: z.object({ file: z.string(), sha256: z.string(), duplicate_of: count, reason: z.string() }),
  },
  "ingestion.resumed": {
    stage: "landing",
    payload: z.object({ file: z.string(), status: z.string() }),
  },
  "bronze.progress": {
    stage: "bronze",
    payload: z.object({ rows: count, bytes: count, total_bytes: count, chunks: count }),
  },
  "bronze.retrying": {
    stage: "bronze",
    payload: z.object({ attempt: count, max_attempts: count, error: z.string() }),
  },
  "bronze.loaded": {
    stage: "bronze",
    payload: z.object({ rows: count, bytes: count, chunks: count }),
  },
  "silver.promoted": {
    stage: "silver",
    payload: z.object({ chunk, rows: count, rejected: count, ms }),
  },
  "silver.grouped": {
    stage: "silver",
    payload: z.object({ chunk, groups: count, ms }),
  },
  "silver.sealed": {
    stage: "silver",
    payload: z.object({
      rows: count,
      chunks: count,
      gold_from_load: z.boolean(),
      /** Absent in events written before gold.weekly_cell_pairs (db/migrations/13). */
      pairs_from_load: z.boolean().optional(),
      /** Absent in events written before the load kept groups. */
      groups_from_load: z.boolean().optional(),
      indexes_ms: ms,
      /** Each of the first part's sessions, as they ran side by side (seal.ts). */
      steps: z.array(z.object({ step: z.string(), ms })).optional(),
      attach_ms: ms,
      ms,
    }),
  },
  "silver.compacted": {
    stage: "silver",
    payload: z.object({ segments: z.array(z.number().int()), into: z.number().int(), rows: count, ms }),
  },
  "gold.refined": {
    stage: "gold",
    payload: z.object({ segment: z.number().int(), origin_rows: count, destination_rows: count, pair_rows: count, ms }),
  },
  "gold.refreshed": {
    stage: "gold",
    payload: z.object({ chunk, ms }),
  },
  "step.retrying": {
    stage: "ingestion",
    payload: z.object({
      task: z.string(),
      chunk: chunk.optional(),
      attempt: count,
      max_attempts: count,
      error: z.string(),
    }),
  },
  "ingestion.completed": {
    stage: "ingestion",
    payload: z.object({ rows_loaded: count, rows_rejected: count, duration_ms: count }),
  },
  "ingestion.failed": {
    stage: "ingestion",
    payload: z.object({ error: z.string(), withdrawn_trips: count.optional() }),
  },
  "file.archived": {
    stage: "archive",
    payload: z.object({ path: z.string(), folder: z.enum(["archive", "rejected"]) }),
  },
  "maintenance.vacuumed": {
    stage: "maintenance",
    payload: z.object({ tables: z.array(z.string()), ms }),
  },
} as const);

export type EventType = keyof typeof EVENTS;
export type EventPayload<T extends EventType> = z.infer<(typeof EVENTS)[T]["payload"]>;

/** Every event type, in the order of a file's way through the pipeline. */
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

/** The events that end an ingestion: after one of them, nothing more happens to it. */
export const TERMINAL_EVENTS: readonly EventType[] = ["ingestion.completed", "ingestion.failed", "ingestion.skipped"];
