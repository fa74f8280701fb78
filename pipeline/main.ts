/**
 * Entry point: `tsx pipeline/main.ts <all|api|worker|watch|migrate>`.
 * `npm start` runs all roles in one process; `npm run worker` etc. run one role each, to scale apart.
 */
import { configOrExit } from "./core/config.ts";
import { createLogger } from "./core/logger.ts";
import { startServices, type Role } from "./services.ts";
import { resolveDatabase } from "./core/bootstrap.ts";
import { createPool, migrate } from "./core/db.ts";

const ROLES: Record<string, Role[]> = {
  all: ["api", "worker", "watch"],
  api: ["api"],
  worker: ["worker"],
  watch: ["watch"],
};

async function main(): Promise<void> {
  const mode = process.argv[2] ?? "all";
  const config = configOrExit();
  const logger = createLogger(config);

  if (mode === "migrate") {
    const url = await resolveDatabase(config.databaseUrl, config.dataDir, logger);
    const pool = createPool(url, 2, "tripflow-migrate");
    await migrate(pool, logger);
    await pool.end();
    return;
  }
  const roles = ROLES[mode];
  if (!roles) {
    process.stderr.write(
      `tripflow: unknown mode ${JSON.stringify(mode)}; use one of ${[...Object.keys(ROLES), "migrate"].join(", ")}\n`,
    );
    process.exit(2);
  }

  // A promise nobody awaits that rejects comes from a library's background work (graphile-worker 0.17
  // does not await the release of its LISTEN client when the database cuts it): Node would end the
  // process for it, leaving its loads and jobs to the next start. Every step of tripflow awaits its own
  // work and recovers from the database going away, so the error is logged and the service goes on.
  process.on("unhandledRejection", (err) =>
    logger.error({ component: "main", err }, "a background promise failed and nobody awaited it; carrying on"),
  );
  const services = await startServices(roles, config, logger);
  logger.info({ component: "main", roles }, "tripflow started");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ component: "main", signal }, "stopping: finishing running steps");
    await services.stop();
    logger.info({ component: "main" }, "stopped");
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err: Error) => {
  process.stderr.write(`tripflow: ${err.message}\n`);
  process.exit(1);
});
