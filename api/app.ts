import { cors } from "hono/cors";
import type pg from "pg";
import type { Logger } from "pino";
import { DEFAULT_STALL_MS, type Config } from "../pipeline/core/config.ts";
import type { EventBus } from "../pipeline/core/bus.ts";
import { requireToken } from "./auth.ts";
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
  // archiveDir and uploadMaxBytes are optional only so that a single route can be built without them;
  // createApp needs them (ingestions). Without apiToken writes are open; without corsOrigins, no CORS;
  // without stallMs, STALL_MS's default.
  config: Pick<Config, "landingDir"> & Partial<Pick<Config, "archiveDir" | "uploadMaxBytes" | "apiToken" | "corsOrigins" | "stallMs">>;
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

  // Middleware first: it applies only to the routes added after it. CORS before the token check, so
  // that a preflight is answered and a 401 carries the headers a browser needs to read it.
  const origins = deps.config.corsOrigins ?? [];
  if (origins.length > 0)
    app.use(
      "*",
      cors({
        origin: origins.includes("*") ? "*" : origins,
        allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID"],
        exposeHeaders: ["Location"],
        maxAge: 600,
      }),
    );
  if (deps.config.apiToken !== undefined) app.use("*", requireToken(deps.config.apiToken));

  app.route("/", healthRoutes({ pool: deps.pool, stallMs: deps.config.stallMs ?? DEFAULT_STALL_MS }));
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
