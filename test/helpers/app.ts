import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../api/app.ts";
import { createBoxPool } from "../../api/box_sessions.ts";
import { EventBus } from "../../pipeline/core/bus.ts";
import { loadConfig } from "../../pipeline/core/config.ts";
import { Archive } from "../../pipeline/landing/archive.ts";
import { uploadServices } from "../../pipeline/landing/uploads.ts";
import { quietLogger, type TestDatabase } from "./database.ts";

/**
 * The HTTP app on a test database, built from real parts as pipeline/services.ts builds it (an event
 * bus, private landing and archive folders), without a port: requests go through `app.request`.
 * `env` sets configuration variables as the environment would.
 */
export async function testApp(db: TestDatabase, env: Record<string, string> = {}) {
  const root = await mkdtemp(join(tmpdir(), "tripflow-app-"));
  const config = loadConfig({ LANDING_DIR: join(root, "landing"), ARCHIVE_DIR: join(root, "archive"), ...env });
  const bus = await EventBus.start(db.url, db.pool, quietLogger);
  const archive = new Archive({ pool: db.pool, archiveDir: config.archiveDir, logger: quietLogger });
  const boxPool = createBoxPool(db.url, "tripflow-test-boxes");
  const app = createApp({
    pool: db.pool,
    boxPool,
    bus,
    config,
    logger: quietLogger,
    uploads: uploadServices(db.pool, archive),
  });
  return {
    app,
    bus,
    config,
    boxPool,
    close: async () => {
      await bus.close();
      await boxPool.end();
    },
  };
}
