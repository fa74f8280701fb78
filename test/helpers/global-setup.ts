import { createPool, migrate } from "../../pipeline/db.ts";
import { withDatabase } from "../../pipeline/bootstrap.ts";
import { admin, adminUrl, quietLogger, TEMPLATE_DB } from "./database.ts";

/** Builds the migrated template database that every integration test file clones. */
export default async function setup(): Promise<() => Promise<void>> {
  await admin(async (c) => {
    // Databases left by an interrupted earlier run.
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'tripflow_test_%'");
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  });
  const pool = createPool(withDatabase(await adminUrl(), TEMPLATE_DB), 2, "tripflow-test-setup");
  await migrate(pool, quietLogger);
  await pool.end();
  return async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`));
  };
}
