import { readFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventBus } from "../../pipeline/core/bus.ts";
import { createPool, patientPool, withSession } from "../../pipeline/core/db.ts";
import { QUERIES } from "../../api/queries.ts";
import { createTestDatabase, quietLogger, type TestDatabase } from "../helpers/database.ts";

/** The minor page faults of a process so far (Linux: /proc/<pid>/stat, field 10), or null. */
async function minorFaults(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return text === null ? null : Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[7]);
}

/** The nice value of a process or thread (Linux: /proc/<pid>/stat, field 19), or null. */
async function niceOf(path: string): Promise<number | null> {
  const text = await readFile(`${path}/stat`, "utf8").catch(() => null);
  return text === null ? null : Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[16]);
}

/** A one-end box question's parameters (db/queries/weekly_box.sql): a thin box in Prague, one level-12 part. */
const THIN_BOX = [
  null,
  "2019-01-07",
  "2020-12-28",
  14.44197,
  49.90189,
  14.44497,
  49.90196,
  1,
  0,
  1,
  0,
  [796434],
  [796440],
  [573038],
  [573038],
  [true],
  [1],
];

/** Minor page faults per planning and run of the box question on `client`, whose server process is `pid`. */
async function faultsPerQuestion(client: pg.ClientBase, pid: number): Promise<number | null> {
  await client.query(QUERIES.weeklyBox.origin, THIN_BOX);
  const before = await minorFaults(pid);
  if (before === null) return null;
  for (let i = 0; i < 5; i++) await client.query(QUERIES.weeklyBox.origin, THIN_BOX);
  return ((await minorFaults(pid))! - before) / 5;
}

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
      // A socket with a statement in flight shows its retransmission timer (1) instead, as a new pool
      // connection does while its first statement (db.ts, the allocator's) runs: each gets 3 s to settle.
      for (const r of rows) {
        let timer = await tcpTimer(r.port!);
        for (const deadline = Date.now() + 3000; timer !== 2 && Date.now() < deadline; timer = await tcpTimer(r.port!))
          await new Promise((resolve) => setTimeout(resolve, 50));
        expect({ name: r.name, timer }).toEqual({ name: r.name, timer: 2 });
      }
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

  it("run bulk work on a server process at BULK_NICE and give its connection back at the normal priority", async (ctx) => {
    const pidOf = async (c: pg.ClientBase) =>
      (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const niced = createPool(db.url, 1, "tripflow-nice", { idleMs: 10_000, bulkNice: 10 });
    const plain = createPool(db.url, 1, "tripflow-not-niced", { idleMs: 10_000, bulkNice: 0 });
    try {
      const first = await niced.connect();
      const pid = await pidOf(first);
      first.release();
      const own = await niceOf(`/proc/${pid}`);
      // Not Linux, or the server in another process namespace: nothing to renice.
      if (own === null) ctx.skip();
      // The pool has one connection: the session below, and the one after it, run on that server process.
      const during = await withSession(niced, [], async (c) => [await pidOf(c), await niceOf(`/proc/${pid}`)]);
      expect(during).toEqual([pid, Math.min(19, own! + 10)]);
      const after = await niced.connect();
      try {
        expect(await pidOf(after)).toBe(pid);
        expect(await niceOf(`/proc/${pid}`)).toBe(own);
      } finally {
        after.release();
      }
      // The worker's pool (patientPool's proxy) carries the same setting.
      expect(await withSession(patientPool(niced), [], async () => niceOf(`/proc/${pid}`))).toBe(
        Math.min(19, own! + 10),
      );
      expect(await niceOf(`/proc/${pid}`)).toBe(own);
      // A server process that ends during the step (terminated here): the step fails, the connection is
      // not reused, and the pool's next one runs at the server's own priority.
      const failed = withSession(niced, [], async (c) => {
        await db.pool.query("SELECT pg_terminate_backend($1::int)", [await pidOf(c)]);
        await c.query("SELECT 1");
      });
      await expect(failed).rejects.toThrow();
      const next = await niced.connect();
      try {
        const nextPid = await pidOf(next);
        expect(nextPid).not.toBe(pid);
        expect(await niceOf(`/proc/${nextPid}`)).toBe(own);
      } finally {
        next.release();
      }
      // BULK_NICE=0: bulk work runs at the API's priority.
      const plainPid = await withSession(plain, [], async (c) => [await niceOf(`/proc/${await pidOf(c)}`)]);
      expect(plainPid).toEqual([own]);
    } finally {
      await niced.end();
      await plain.end();
    }
  });

  it("plan queries in memory the server process keeps: a pooled connection's box question takes few page faults, a plain one's hundreds", async (ctx) => {
    const pool = createPool(db.url, 1, "tripflow-allocator");
    const plain = new pg.Client({ connectionString: db.url, options: "-c jit=off" });
    await plain.connect();
    const client = await pool.connect();
    try {
      const pidOf = async (c: pg.ClientBase) =>
        (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      const reference = await faultsPerQuestion(plain, await pidOf(plain));
      // Not Linux, or the server in another process namespace: nothing to read.
      if (reference === null) ctx.skip();
      const pooled = await faultsPerQuestion(client, await pidOf(client));
      // Without the pool's first statement (db.ts WARM_ALLOCATOR) the planner's memory is mapped afresh
      // for every question: 350–460 faults each on the benchmark machine, 13–28 with it.
      expect(reference).toBeGreaterThan(150);
      expect(pooled).toBeLessThan(reference! / 5);
    } finally {
      client.release();
      await pool.end();
      await plain.end();
    }
  });
});
