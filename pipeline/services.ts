import type { ServerType } from "@hono/node-server";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { Logger } from "pino";
import { createApp } from "../api/app.ts";
import { createBoxPool } from "../api/box_sessions.ts";
import { listen } from "../api/server.ts";
import { resolveDatabase } from "./core/bootstrap.ts";
import { EventBus } from "./core/bus.ts";
import { assertSafeBinding, type Config } from "./core/config.ts";
import { createPool, migrate } from "./core/db.ts";
import { Intake } from "./bronze/intake.ts";
import { Archive } from "./landing/archive.ts";
import { uploadServices } from "./landing/uploads.ts";
import { startWatcher } from "./landing/watcher.ts";
import { startWorker, type WorkerHandle } from "./transform/worker.ts";

export type Role = "api" | "worker" | "watch";

export type Services = {
  databaseUrl: string;
  processName: string;
  pool: pg.Pool;
  bus?: EventBus;
  app?: ReturnType<typeof createApp>;
  server?: ServerType;
  port?: number;
  worker?: WorkerHandle;
  intake?: Intake;
  stop: () => Promise<void>;
};

/**
 * Starts the chosen roles in this process after bringing the schema up to date: `api` (HTTP + SSE),
 * `worker` (graphile-worker tasks), `watch` (landing folder -> bronze, archive). `npm start` runs all.
 *
 * @example const s = await startServices(["api", "worker", "watch"], config, logger); await s.stop();
 */
export async function startServices(roles: Role[], config: Config, logger: Logger): Promise<Services> {
  // Before anything is opened: an API beyond loopback without a token never starts.
  if (roles.includes("api")) assertSafeBinding(config);
  const databaseUrl = await resolveDatabase(config.databaseUrl, config.dataDir, logger);
  // The process's name in pg_stat_activity: while a session of that name exists, the process is alive
  // (it owns the ingestions it loads and the jobs its workers hold).
  const processName = `tripflow-${roles.join("+")}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const pool = createPool(databaseUrl, config.dbPoolSize, processName, {
    idleMs: config.dbIdleMs,
    bulkNice: config.bulkNice,
  });
  const stops: (() => Promise<unknown>)[] = [];
  const services: Services = {
    databaseUrl,
    processName,
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
      const worker = await startWorker({
        pool,
        concurrency: config.workerConcurrency,
        logger,
        processName,
        maxSegments: config.maxSegments,
        fineMinTrips: config.fineMinTrips,
        pairsMinTrips: config.pairsMinTrips,
      });
      services.worker = worker;
      stops.push(() => worker.stop());
    }
    const archive = new Archive({ pool, archiveDir: config.archiveDir, logger });
    if (roles.includes("watch")) {
      const intake = new Intake({ pool, config, logger, archive, owner: processName });
      services.intake = intake;
      const unsubscribe = services.bus!.subscribe((event) => {
        if (event.ingestion_id !== null && (event.type === "ingestion.completed" || event.type === "ingestion.failed"))
          void intake.settled(event.ingestion_id).catch((err) => logger.error({ err }, "archiving failed"));
      });
      await archive.reconcile();
      const watcher = await startWatcher({
        landingDir: config.landingDir,
        settleMs: config.settleMs,
        scanIntervalMs: config.scanIntervalMs,
        logger,
        onFile: async (path) => {
          await intake.ingestFile(path);
        },
      });
      stops.push(async () => {
        unsubscribe();
        intake.stop(); // a load in progress rolls back its current chunk; the next start continues
        await watcher.close();
      });
    }
    if (roles.includes("api")) {
      const boxPool = createBoxPool(databaseUrl);
      stops.push(() => boxPool.end());
      const app = createApp({
        pool,
        boxPool,
        bus: services.bus!,
        config,
        logger,
        uploads: uploadServices(pool, archive),
      });
      services.app = app;
      const server = await listen(app, { port: config.port, host: config.host }, logger);
      services.server = server;
      const address = server.address();
      services.port = typeof address === "object" && address ? address.port : config.port;
      stops.push(
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
