import { readFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventBus } from "../../pipeline/core/bus.ts";
import { createPool } from "../../pipeline/core/db.ts";
import { createTestDatabase, quietLogger, type TestDatabase } from "../helpers/database.ts";

/**
 * The kernel's timer on this machine's TCP socket whose local port is `port` (Linux: /proc/net/tcp and
 * tcp6, field `tr`): 2 while a keepalive timer runs, 0 when none does. Null when no such socket.
 */
async function tcpTimer(port: number): Promise<number | null> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(hex)) return Number.parseInt(fields[5]!.split(":")[0]!, 16);
    }
  }
  return null;
}

describe("connections to the database", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("keep TCP keepalive on, the pool's and the LISTEN connection's: a server gone without a word cannot hang a statement forever", async (ctx) => {
    const pool = createPool(db.url, 2, "tripflow-keepalive");
    const bus = await EventBus.start(db.url, pool, quietLogger);
    try {
      await pool.query("SELECT 1");
      const { rows } = await db.pool.query<{ name: string; port: number | null }>(
        `SELECT application_name AS name, client_port AS port FROM pg_stat_activity
         WHERE datname = current_database() AND application_name IN ('tripflow-keepalive', 'tripflow-listen')`,
      );
      expect([...new Set(rows.map((r) => r.name))].sort()).toEqual(["tripflow-keepalive", "tripflow-listen"]);
      // Over a Unix socket (a private cluster under .data/) there is no TCP to keep alive.
      if (rows.some((r) => r.port === null || r.port < 0)) ctx.skip();
      if ((await tcpTimer(rows[0]!.port!)) === null) ctx.skip(); // not Linux, or another network namespace
      for (const r of rows)
        expect({ name: r.name, timer: await tcpTimer(r.port!) }).toEqual({ name: r.name, timer: 2 });
      // The reference: a client opened without keepalive shows no timer.
      const plain = new pg.Client({ connectionString: db.url });
      await plain.connect();
      try {
        const { rows: own } = await plain.query<{ port: number }>(
          "SELECT client_port AS port FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        );
        expect(await tcpTimer(own[0]!.port)).toBe(0);
      } finally {
        await plain.end();
      }
    } finally {
      await bus.close();
      await pool.end();
    }
  });
});
