import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import { QUERIES } from "../queries.ts";
import { newRouter } from "../router.ts";

const Stalled = z.object({
  id: z.number(),
  status: z.enum(["queued", "loading", "transforming"]),
  file_name: z.string(),
  idle_ms: z
    .number()
    .openapi({ description: "milliseconds since the ingestion's latest event (or its start, before the first)" }),
});

const Health = z.object({
  status: z.enum(["ok", "degraded", "unavailable"]).openapi({
    description:
      "ok; degraded: some unfinished ingestion has made no progress for longer than STALL_MS; unavailable: the database does not answer",
  }),
  database: z.boolean(),
  stalled: z
    .array(Stalled)
    .optional()
    .openapi({ description: "the stalled ingestions, longest idle first (absent when unavailable)" }),
});

const route = createRoute({
  method: "get",
  path: "/health",
  summary: "200 when the database answers (degraded when an ingestion is stalled), 503 otherwise",
  responses: {
    200: {
      description: "healthy (ok), or an ingestion without progress for longer than STALL_MS (degraded)",
      content: { "application/json": { schema: Health } },
    },
    503: { description: "database unreachable", content: { "application/json": { schema: Health } } },
  },
});

type StalledRow = z.infer<typeof Stalled>;

/**
 * GET /health: whether the database answers within 2 s, and which unfinished ingestions have had no
 * event for longer than `stallMs` (a stuck pipeline answers, but makes no progress).
 *
 * @example healthRoutes({ pool, stallMs: 300_000 }).request("/health") // 200 { status: "ok", database: true, stalled: [] }
 */
export function healthRoutes({ pool, stallMs }: { pool: pg.Pool; stallMs: number }) {
  return newRouter().openapi(route, async (c) => {
    try {
      const { rows } = await Promise.race([
        pool.query<StalledRow>(QUERIES.stalledIngestions, [stallMs]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), 2000).unref()),
      ]);
      return c.json(
        { status: rows.length > 0 ? ("degraded" as const) : ("ok" as const), database: true, stalled: rows },
        200,
      );
    } catch {
      return c.json({ status: "unavailable" as const, database: false }, 503);
    }
  });
}
