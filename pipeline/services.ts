import type { ServerType } from "@hono/node-server";
import type { Runner } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { createApp } from "../api/app.ts";
import { listen } from "../api/server.ts";
import { resolveDatabase } from "./bootstrap.ts";
import { EventBus } from "./bus.ts";
import type { Config } from "./config.ts";
import { createPool, migrate } from "./db.ts";
import { Orchestrator } from "./orchestrator.ts";
import { startWatcher } from "./watcher.ts";
import { startWorker } from "./worker.ts";

export type Role = "api" | "worker" | "watch";

export type Services = {
  databaseUrl: string;
  pool: pg.Pool;
  bus?: EventBus;
  app?: ReturnType<typeof createApp>;
  server?: ServerType;
  port?: number;
  runner?: Runner;
  orchestrator?: Orchestrator;
  stop: () => Promise<void>;
};

/**
 * Starts the chosen roles in this process after bringing the schema up to date: `api` (HTTP + SSE),
 * `worker` (graphile-worker tasks), `watch` (landing folder -> bronze, archive). `npm start` runs all.
 *
 * @example const s = await startServices(["api", "worker", "watch"], config, logger); await s.stop();
 */
export async function startServices(roles: Role[], config: Config, logger: Logger): Promise<Services> {
  const databaseUrl = await resolveDatabase(config.databaseUrl, config.dataDir, logger);
  const pool = createPool(databaseUrl, config.dbPoolSize, `tripflow-${roles.join("+")}`);
  const stops: (() => Promise<unknown>)[] = [];
  const services: Services = {
    databaseUrl,
    pool,
    stop: async () => {
      for (const stop of stops.reverse()) await stop().catch((err) => logger.error({ err }, "error while stopping"));
      await pool.end();
    },
  };
  try {
    await migrate(pool, logger);
    if (roles.includes("api") || roles.includes("watch")) {
      services.bus = await EventBus.start(databaseUrl, pool, logger);
      const bus = services.bus;
      stops.push(() => bus.close());
    }
    if (roles.includes("worker")) {
      const runner = await startWorker({ pool, concurrency: config.workerConcurrency, logger });
      services.runner = runner;
      stops.push(() => runner.stop());
    }
    if (roles.includes("watch")) {
      const orchestrator = new Orchestrator({ pool, config, logger });
      services.orchestrator = orchestrator;
      const unsubscribe = services.bus!.subscribe((event) => {
        if (event.ingestion_id !== null && (event.type === "ingestion.completed" || event.type === "ingestion.failed"))
          void orchestrator.settled(event.ingestion_id).catch((err) => logger.error({ err }, "archiving failed"));
      });
      const watcher = await startWatcher({
        landingDir: config.landingDir,
        settleMs: config.settleMs,
        scanIntervalMs: config.scanIntervalMs,
        logger,
        onFile: async (path) => {
          await orchestrator.ingestFile(path);
        },
      });
      stops.push(async () => {
        unsubscribe();
        await watcher.close();
      });
    }
    if (roles.includes("api")) {
      const app = createApp({ pool, bus: services.bus!, config, logger });
      services.app = app;
      const server = await listen(app, { port: config.port, host: config.host }, logger);
      services.server = server;
      const address = server.address();
      services.port = typeof address === "object" && address ? address.port : config.port;
      stops.unshift(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      );
    }
  } catch (err) {
    await services.stop();
    throw err;
  }
  return services;
}
