import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type pg from "pg";
import type { Logger } from "pino";
import { eventsAfter, type AuditEvent } from "../pipeline/core/audit.ts";
import type { EventBus } from "../pipeline/core/bus.ts";

export const KEEPALIVE_MS = 15_000;
/** A client this far behind is cut off; it resumes with Last-Event-ID and loses nothing. */
const MAX_QUEUED = 10_000;
const REPLAY_BATCH = 500;

let keepaliveInterval = KEEPALIVE_MS;
/** Tests only: a shorter keepalive interval for the streams opened afterwards; no argument restores 15 s. */
export function setKeepaliveInterval(ms: number = KEEPALIVE_MS): void {
  keepaliveInterval = ms;
}

export type StreamOptions = {
  pool: pg.Pool;
  bus: EventBus;
  logger: Logger;
  /** Replay events after this id first; undefined means live events only. */
  after: number | undefined;
  ingestion: number | undefined;
  keepaliveMs?: number;
};

function frame(event: AuditEvent) {
  return {
    id: String(event.id),
    event: event.type,
    data: JSON.stringify({
      id: event.id,
      ingestion_id: event.ingestion_id,
      type: event.type,
      stage: event.stage,
      payload: event.payload,
      created_at: event.created_at,
    }),
  };
}

/**
 * A server-sent-events stream of audit events: first the stored events after `after` (from the
 * table), then live ones from the bus, in id order, without a gap or a duplicate at the seam. The bus
 * subscription is taken before the replay starts and its events are held until the replay is done.
 */
export function auditEventStream(c: Context, options: StreamOptions): Response {
  return streamSSE(c, async (stream) => {
    const queue: AuditEvent[] = [];
    let lastSent = options.after ?? options.bus.position;
    let wake: (() => void) | undefined;
    let done = false;
    const finish = () => {
      done = true;
      wake?.();
    };
    const unsubscribe = options.bus.subscribe((event) => {
      if (done) return;
      queue.push(event);
      if (queue.length > MAX_QUEUED) {
        options.logger.warn({ component: "sse" }, "client too slow; closing its stream");
        // abort, not just finish: the loop may be stuck in a write the client never reads.
        queue.length = 0;
        stream.abort();
        finish();
      }
      wake?.();
    });
    stream.onAbort(finish);
    const keepalive = setInterval(() => {
      if (!done) void stream.write(": keepalive\n\n").catch(finish);
    }, options.keepaliveMs ?? keepaliveInterval);

    const send = async (event: AuditEvent) => {
      if (event.id <= lastSent) return;
      lastSent = event.id;
      if (options.ingestion !== undefined && event.ingestion_id !== options.ingestion) return;
      await stream.writeSSE(frame(event));
    };

    try {
      await stream.write(": connected\n\n");
      // Replay from the table until caught up with what is committed.
      if (options.after !== undefined) {
        for (;;) {
          const batch = await eventsAfter(options.pool, lastSent, REPLAY_BATCH, options.ingestion);
          for (const event of batch) {
            if (done) break;
            await send(event);
          }
          if (done || batch.length < REPLAY_BATCH) break;
        }
      }
      while (!done) {
        const event = queue.shift();
        if (event) {
          await send(event);
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } catch (err) {
      if (!stream.aborted) options.logger.warn({ component: "sse", err }, "event stream ended with an error");
    } finally {
      clearInterval(keepalive);
      unsubscribe();
    }
  });
}
