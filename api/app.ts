import { cors } from "hono/cors";
import { requireToken } from "./auth.ts";
import { BoxSessions } from "./box_sessions.ts";
import type { AppDeps } from "./deps.ts";
import { errorBody, HttpError } from "./errors.ts";
import { newRouter } from "./router.ts";
import { cellsRoutes } from "./routes/cells.ts";
import { consoleRoutes } from "./routes/console.ts";
import { docsRoutes } from "./routes/docs.ts";
import { eventsRoutes } from "./routes/events.ts";
import { groupsRoutes } from "./routes/groups.ts";
import { healthRoutes } from "./routes/health.ts";
import { boxWarmups, statsRoutes } from "./routes/stats.ts";
import { ingestionsRoutes } from "./routes/ingestions.ts";
import { regionsRoutes } from "./routes/regions.ts";

/**
 * Events after which the box queries' plans are made again (BoxSessions.warm): each follows a change of
 * silver's or gold's partitions or statistics, which makes PostgreSQL drop the plans that read them.
 */
const REPLANNING_EVENTS = new Set([
  "silver.sealed",
  "silver.compacted",
  "gold.refined",
  "maintenance.vacuumed",
  "ingestion.completed",
  "ingestion.failed",
]);

/**
 * The HTTP app: routes only, no port. `server.ts` is the one place that listens.
 *
 * @example const app = createApp({ pool, bus, config, logger, uploads }); const res = await app.request("/health");
 */
export function createApp(deps: AppDeps) {
  const app = newRouter();
  const log = deps.logger.child({ component: "api" });

  // Middleware first: it applies only to the routes added after it. CORS before the token check, so
  // that a preflight is answered and a 401 carries the headers a browser needs to read it.
  const origins = deps.config.corsOrigins;
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

  const { pool, bus, config, uploads } = deps;
  // Box queries planned ahead: now, and after whatever makes PostgreSQL drop their plans (new or merged
  // segments, finer gold, a vacuum or analyze of silver and gold), so that no answer waits for a plan.
  const boxes = new BoxSessions(deps.boxPool, () => boxWarmups(pool), log);
  void boxes.warm();
  bus.subscribe((event) => {
    if (REPLANNING_EVENTS.has(event.type)) void boxes.warm();
  });
  app.route("/", healthRoutes({ pool, stallMs: config.stallMs }));
  app.route("/", eventsRoutes({ pool, bus, logger: log }));
  app.route(
    "/",
    ingestionsRoutes({ pool, landingDir: config.landingDir, uploadMaxBytes: config.uploadMaxBytes, uploads }),
  );
  app.route("/", groupsRoutes({ pool }));
  app.route("/", regionsRoutes({ pool }));
  app.route("/", statsRoutes({ pool, boxes }));
  app.route("/", cellsRoutes({ pool }));
  app.route("/", consoleRoutes());
  app.route("/", docsRoutes(app)); // last: documents the routes above

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status);
    log.error({ err, path: c.req.path }, "request failed");
    return c.json(errorBody("internal", "internal error; the server log has the details"), 500);
  });
  return app;
}
