import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import type { Logger } from "pino";
import type { EventBus } from "../../pipeline/core/bus.ts";
import { EVENT_TYPES } from "../../pipeline/core/events.ts";
import { newRouter } from "../router.ts";
import { BadRequestError } from "../errors.ts";
import { auditEventStream } from "../sse.ts";

const EventId = z
  .string()
  .regex(/^\d{1,15}$/, "must be an audit event id (a whole number)")
  .transform(Number);

const route = createRoute({
  method: "get",
  path: "/events",
  summary: "Server-sent events: one message per audit event (id = event id, event = type, data = JSON)",
  description:
    "Live audit events as they are inserted (LISTEN/NOTIFY). With a Last-Event-ID header (or ?after=) the " +
    "stream first replays every stored event after that id, then continues live, in id order with no gap " +
    "and no duplicate. ?ingestion= keeps one ingestion's events. A comment line every 15 s keeps proxies open." +
    ` Event types (docs/data-model.md has their payloads): ${EVENT_TYPES.join(", ")}.`,
  request: {
    query: z.object({
      after: EventId.optional().openapi({ description: "replay events after this id (as Last-Event-ID)" }),
      ingestion: EventId.optional().openapi({ description: "only this ingestion's events" }),
    }),
  },
  responses: {
    200: { description: "an event stream", content: { "text/event-stream": { schema: z.string() } } },
    400: { description: "invalid parameter" },
  },
});

export function eventsRoutes(deps: { pool: pg.Pool; bus: EventBus; logger: Logger }) {
  return newRouter().openapi(route, (c) => {
    const { after, ingestion } = c.req.valid("query");
    const header = c.req.header("Last-Event-ID");
    let resumeFrom = after;
    if (header !== undefined && header.trim() !== "") {
      const parsed = EventId.safeParse(header.trim());
      if (!parsed.success)
        throw new BadRequestError("Last-Event-ID: must be an audit event id (a whole number)", "invalid_parameter");
      resumeFrom = parsed.data;
    }
    return auditEventStream(c, {
      pool: deps.pool,
      bus: deps.bus,
      logger: deps.logger,
      after: resumeFrom,
      ingestion,
    }) as never;
  });
}
