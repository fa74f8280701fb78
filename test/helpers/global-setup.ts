import { createPool, migrate } from "../../pipeline/core/db.ts";
import { withDatabase } from "../../pipeline/core/bootstrap.ts";
import { randomBytes } from "node:crypto";
import { admin, adminUrl, quietLogger, templateDb } from "./database.ts";

/**
 * Builds the migrated template database that every integration test file of this run clones. Each
 * run has its own names, so two runs on one server do not disturb each other. A run's names carry its
 * start time: databases of runs that started over three hours ago and that nobody is connected to are
 * left over from an interrupted run and are dropped; a run still going on beside this one is left alone.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // The integration and browser projects both name this file: the first to run builds the template,
  // the other shares it (the workers inherit the run's name), and the first one's teardown drops it.
  if (process.env.TRIPFLOW_TEST_RUN) return async () => {};
  const now = Math.floor(Date.now() / 1000);
  process.env.TRIPFLOW_TEST_RUN = `${now.toString(36)}_${randomBytes(3).toString("hex")}`; // inherited by the test workers
  const template = templateDb();
  await admin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database d WHERE datname LIKE 'tripflow_test_%'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
    );
    for (const { datname } of rows) {
      const started = /^tripflow_test_([0-9a-z]+)_[0-9a-f]{6}_/.exec(datname);
      if (started && now - parseInt(started[1]!, 36) < 3 * 3600) continue;
      await c.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {});
    }
    await c.query(`CREATE DATABASE ${template}`);
  });
  const pool = createPool(withDatabase(await adminUrl(), template), 2, "tripflow-test-setup");
  await migrate(pool, quietLogger);
  await pool.end();
  return async () => {
    await admin(async (c) => {
      const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [
        `${template.replace(/_template$/, "")}%`,
      ]);
      for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    });
  };
}
