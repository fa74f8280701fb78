import { randomBytes } from "node:crypto";
import pg from "pg";
import pino from "pino";
import { findLocalServer, withDatabase } from "../../pipeline/core/bootstrap.ts";
import { createPool } from "../../pipeline/core/db.ts";

/** This run's template database (see global-setup.ts); every test database of the run shares its prefix. */
export function templateDb(): string {
  return `tripflow_test_${process.env.TRIPFLOW_TEST_RUN ?? "local"}_template`;
}
export const quietLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** The server tests run on: TEST_DATABASE_URL's server, else what `npm start` would find. */
export async function adminUrl(): Promise<string> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) return withDatabase(given, "postgres");
  return findLocalServer("./.data", quietLogger);
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export type TestDatabase = { name: string; url: string; pool: pg.Pool; drop: () => Promise<void> };

/** A fresh database cloned from the migrated template: one per test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = templateDb().replace(/_template$/, `_${randomBytes(4).toString("hex")}`);
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${templateDb()}`));
  const url = withDatabase(await adminUrl(), name);
  const pool = createPool(url, 10, "tripflow-test");
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export { admin };
