import { mkdtemp, rename, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../pipeline/core/config.ts";
import { startServices, type Role, type Services } from "../../pipeline/services.ts";
import type pg from "pg";
import { generate } from "../bench/generate.ts";
import { eventSeen } from "./audit.ts";
import { afterAll, beforeAll } from "vitest";
import { createTestDatabase, quietLogger, type TestDatabase } from "./database.ts";

export type Started = Services & { config: Config; landing: string; archive: string; baseUrl: string };

/** Starts tripflow roles on a test database with private landing/archive folders and a free port. */
export async function startTestServices(
  databaseUrl: string,
  roles: Role[] = ["api", "worker", "watch"],
  env: Record<string, string> = {},
): Promise<Started> {
  const root = await mkdtemp(join(tmpdir(), "tripflow-"));
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: "0",
    HOST: "127.0.0.1",
    LANDING_DIR: join(root, "landing"),
    ARCHIVE_DIR: join(root, "archive"),
    SETTLE_MS: "100",
    SCAN_INTERVAL_MS: "300",
    LOG_LEVEL: "silent",
    ...env,
  });
  const services = await startServices(roles, config, quietLogger);
  return {
    ...services,
    config,
    landing: config.landingDir,
    archive: config.archiveDir,
    baseUrl: `http://127.0.0.1:${services.port ?? 0}`,
  };
}

/** Drops a file into landing the way producers should: write elsewhere, then rename. */
export async function dropFile(landing: string, source: string, name: string): Promise<string> {
  const tmp = join(landing, `.${name}.tmp`);
  await copyFile(source, tmp);
  const target = join(landing, name);
  await rename(tmp, target);
  return target;
}

/**
 * Drops `rows` generated trips (test/bench/generate.ts, seed `seed`) into the service's landing folder
 * as `name`, the write-then-rename way, and resolves with the ingestion id once the file is archived.
 */
export async function ingestGenerated(
  tf: Started,
  pool: pg.Pool,
  rows: number,
  seed: number,
  name: string,
): Promise<number> {
  const tmp = join(tf.landing, `.${name}.tmp`);
  await generate(rows, seed, tmp);
  await rename(tmp, join(tf.landing, name));
  await eventSeen(pool, name, "file.archived");
  const { rows: ingestions } = await pool.query<{ id: number }>(
    "SELECT id::int AS id FROM audit.ingestions WHERE file_name = $1 ORDER BY id DESC LIMIT 1",
    [name],
  );
  return ingestions[0]!.id;
}

/**
 * A describe block's own database and in-process services (api, worker, watch) with `env` on top of
 * the test defaults, made before its tests and dropped after them: read `.db` and `.tf` in the tests.
 */
export function servicesOnOwnDatabase(env: Record<string, string>): { db: TestDatabase; tf: Started } {
  const s = {} as { db: TestDatabase; tf: Started };
  beforeAll(async () => {
    s.db = await createTestDatabase();
    s.tf = await startTestServices(s.db.url, ["api", "worker", "watch"], env);
  });
  afterAll(async () => {
    await s.tf?.stop();
    await s.db?.drop();
  });
  return s;
}
