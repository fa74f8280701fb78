import type pg from "pg";
import type { Logger } from "pino";
import type { Config } from "../pipeline/config.ts";
import type { EventBus } from "../pipeline/bus.ts";
import { errorBody, HttpError } from "./errors.ts";
import { newRouter } from "./router.ts";
import { docsRoutes } from "./routes/docs.ts";
import { eventsRoutes } from "./routes/events.ts";
import { groupsRoutes } from "./routes/groups.ts";
import { healthRoutes } from "./routes/health.ts";
import { statsRoutes } from "./routes/stats.ts";
import { ingestionsRoutes } from "./routes/ingestions.ts";

export type AppDeps = {
  pool: pg.Pool;
  bus: EventBus;
  // Optional only so that a single route can be built without them; createApp needs them (ingestions).
  config: Pick<Config, "landingDir"> & Partial<Pick<Config, "archiveDir" | "uploadMaxBytes">>;
  logger: Logger;
};

/**
 * The HTTP app: routes only, no port. `server.ts` is the one place that listens.
 *
 * @example const app = createApp({ pool, bus, config, logger }); const res = await app.request("/health");
 */
export function createApp(deps: AppDeps) {
  const app = newRouter();
  const log = deps.logger.child({ component: "api" });

  app.route("/", healthRoutes(deps));
  app.route("/", eventsRoutes(deps));
  app.route("/", ingestionsRoutes(deps));
  app.route("/", groupsRoutes(deps));
  app.route("/", statsRoutes(deps));
  app.route("/", docsRoutes(app)); // last: documents the routes above

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status);
    log.error({ err, path: c.req.path }, "request failed");
    return c.json(errorBody("internal", "internal error; the server log has the details"), 500);
  });
  return app;
}
