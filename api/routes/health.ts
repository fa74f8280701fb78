import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../app.ts";
import { newRouter } from "../router.ts";

const Health = z.object({ status: z.enum(["ok", "unavailable"]), database: z.boolean() });

const route = createRoute({
  method: "get",
  path: "/health",
  summary: "200 when the database answers, 503 otherwise",
  responses: {
    200: { description: "healthy", content: { "application/json": { schema: Health } } },
    503: { description: "database unreachable", content: { "application/json": { schema: Health } } },
  },
});

export function healthRoutes({ pool }: AppDeps) {
  return newRouter().openapi(route, async (c) => {
    try {
      await Promise.race([
        pool.query("SELECT 1"),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2000).unref()),
      ]);
      return c.json({ status: "ok" as const, database: true }, 200);
    } catch {
      return c.json({ status: "unavailable" as const, database: false }, 503);
    }
  });
}
