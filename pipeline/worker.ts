import { run, type Runner } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { graphileLogger } from "./db.ts";
import { GOLD_TASK, SILVER_TASK } from "./steps.ts";
import { mergeGold } from "./tasks/merge_gold.ts";
import { promoteSilver } from "./tasks/promote_silver.ts";

/**
 * Runs the graphile-worker runner with tripflow's tasks. Signals are left to the caller (main.ts).
 *
 * @example const runner = await startWorker({ pool, concurrency: 2, logger }); await runner.stop();
 */
export async function startWorker(options: { pool: pg.Pool; concurrency: number; logger: Logger }): Promise<Runner> {
  const logger = options.logger.child({ component: "worker" });
  return run({
    pgPool: options.pool,
    concurrency: options.concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: graphileLogger(logger),
    taskList: {
      [SILVER_TASK]: promoteSilver(options.pool, logger),
      [GOLD_TASK]: mergeGold(options.pool, logger),
    },
  });
}
