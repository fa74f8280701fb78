import { readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Logger as GraphileLogger, runMigrations } from "graphile-worker";
import pg from "pg";
import { migrate as migrateSchema } from "postgres-migrations";
import type { Logger } from "pino";
import { describeError, isTransient } from "./errors.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../db/migrations", import.meta.url));

// int8 (count(*), bigint ids) as JS numbers: every count here stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// timestamp without time zone stays the text that was written: the data carries no zone.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (v) => v);
// date as 'YYYY-MM-DD'.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

/**
 * TCP keepalive on every connection to the database: a server that vanishes without closing the
 * connection (its host restarted, a network cut) would otherwise leave a statement waiting for an
 * answer forever, a load or a job stuck with no error. With keepalive the kernel notices the dead peer
 * (after the first 10 s of silence and the system's probes) and the statement fails with a connection
 * error, which tripflow retries like any other.
 */
export const KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;

/**
 * How long an idle connection stays open by default (DB_IDLE_MS): five minutes, not node-postgres' 10 s.
 * A new server process starts with cold caches (the catalog entries of every partition a box query
 * touches, the plans of its prepared statements, the warmed allocator below): on the 15 M bench
 * database an API process asked the bench's box questions again after 12 s of quiet answered
 * both-ends ones in 56.6 ms at p95 with connections kept and 102.8 ms with 10 s (`npm run bench:quiet
 * -- --role api`, docs/api.md); a dashboard clicked now and then would pay that on every click.
 */
const IDLE_MS = 300_000;

/** createPool's settings beyond the size and the name. */
export type PoolOptions = {
  /** An idle connection is closed after this long (ms); 0: never. Default five minutes (IDLE_MS). */
  idleMs?: number;
  /** BULK_NICE: how much lowerPriority lowers a bulk step's server process; 0: not at all. */
  bulkNice?: number;
  /** Server settings of every session of the pool (`-c name=value` at connection). */
  settings?: Record<string, string>;
};

/**
 * A bounded pool; `application_name` shows each role in pg_stat_activity. JIT compilation is off for
 * tripflow's sessions: the API's queries are short and an index-driven plan with a high cost estimate
 * paid ~0.4 s of compilation per request; the transforms measured no faster with it.
 */
export function createPool(
  url: string,
  max: number,
  name = "tripflow",
  { idleMs = IDLE_MS, bulkNice = 0, settings = {} }: PoolOptions = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: name,
    options: Object.entries({ jit: "off", ...settings })
      .map(([key, value]) => `-c ${key}=${value}`)
      .join(" "),
    idleTimeoutMillis: idleMs,
    ...KEEPALIVE,
    // Before the client is handed out, once per connection; a failure here is the next query's to report.
    onConnect: async (client) => {
      await client.query(WARM_ALLOCATOR).catch(() => {});
    },
  });
  Object.defineProperty(pool, BULK_NICE, { value: bulkNice });
  // A client whose server went away must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

/** BULK_NICE of a pool (createPool), a property of the pool itself: patientPool's proxy hands it on. */
const BULK_NICE = Symbol("tripflow bulk nice");

/** The server process behind each client, where it can be reniced: its pid and its own nice value; null: it cannot. */
const backends = new WeakMap<pg.PoolClient, { pid: number; nice: number; marker: string } | null>();

/**
 * Lowers the CPU priority of the server process behind `client` by the pool's BULK_NICE (createPool),
 * for a bulk step (a load's COPY, the seal's index builds and aggregates, a compaction, a VACUUM), so
 * that the API's queries, on processes at the normal priority, take the cores first while a large file
 * loads: Linux gives a process at nice 10 about a tenth of a core against one at 0, and all of an idle
 * core. Returns `restore`, which puts the priority back and says whether it could: a client it could not
 * restore must be released broken (`client.release(true)`), or an answer would run at the low priority.
 * Only where the server runs on this host and this process may renice it (the same user, or root): the
 * server process is found by `pg_backend_pid()` and checked in /proc to be PostgreSQL's, connected from
 * this client's own port (a server elsewhere, in a container or a pid namespace of its own, is left as
 * it is). Anything else, or BULK_NICE=0, changes nothing.
 *
 * @example const restore = await lowerPriority(pool, client); try { ... } finally { client.release(!restore()); }
 */
export async function lowerPriority(pool: pg.Pool, client: pg.PoolClient): Promise<() => boolean> {
  const nice = (pool as { [BULK_NICE]?: number })[BULK_NICE] ?? 0;
  if (nice <= 0) return () => true;
  let backend = backends.get(client);
  if (backend === undefined) {
    backend = await ownBackend(client).catch(() => null);
    backends.set(client, backend);
  }
  if (!backend) return () => true;
  const { pid, nice: own, marker } = backend;
  try {
    os.setPriority(pid, Math.min(19, own + nice));
  } catch {
    backends.set(client, null);
    return () => true;
  }
  return () => {
    // Only the same server process: one that ended meanwhile (its connection broken) may have left its
    // pid to another process, which must keep its priority; the client is then released broken.
    if (!isBackend(pid, marker)) return false;
    try {
      os.setPriority(pid, own);
      return true;
    } catch {
      return false;
    }
  };
}

/** Whether process `pid` is a PostgreSQL server process whose title holds `marker` (its client's port, or [local]). */
function isBackend(pid: number, marker: string): boolean {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return title.startsWith("postgres") && title.includes(marker);
  } catch {
    return false;
  }
}

/** The local server process behind `client` and its nice value, or null when it is not one this process can see. */
async function ownBackend(client: pg.PoolClient): Promise<{ pid: number; nice: number; marker: string } | null> {
  const { rows } = await client.query<{ pid: number; port: number | null }>(
    "SELECT pg_backend_pid() AS pid, inet_client_port() AS port",
  );
  const { pid, port } = rows[0]!;
  const localPort = (client as unknown as { connection?: { stream?: { localPort?: number } } }).connection?.stream
    ?.localPort;
  if (port !== null && port !== localPort) return null;
  const marker = port === null ? "[local]" : `(${port})`;
  return isBackend(pid, marker) ? { pid, nice: os.getPriority(pid), marker } : null;
}

/**
 * Runs `fn` on a client of its own with the session `settings` (SET ...), reset before the client goes
 * back to the pool: the seal's and the compaction's long builds, each on its own session, at the lower
 * CPU priority of bulk work (BULK_NICE, lowerPriority), restored before it goes back too.
 */
export async function withSession<T>(
  pool: pg.Pool,
  settings: string[],
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let restore = () => true;
  try {
    restore = await lowerPriority(pool, client);
    for (const setting of settings) await client.query(setting);
    return await fn(client);
  } finally {
    await client.query("RESET ALL").catch(() => {});
    client.release(!restore());
  }
}

/**
 * Run once on each new connection: the server process allocates and frees one block of about 2 MiB.
 * glibc's malloc then raises its mmap threshold to that size for the life of the process (its
 * documented dynamic threshold, at 128 KiB until then), so most of the memory-context blocks in which
 * PostgreSQL plans a query stay in the process's heap instead of being mapped and unmapped by every
 * query. Without it, a box query's planning spent a quarter of its time in page faults (perf,
 * PostgreSQL 15 on Debian): the same one-end query took 9.7 ms a call on a fresh connection and about
 * 3 ms after this statement; blocks of 4, 8 or 16 MiB gave no more and cost a new connection 37, 55
 * and 130 ms instead of 15 ms, each page of the block being written once (docs/scalability.md,
 * "Planning in fresh memory"). Elsewhere (another allocator) it is one harmless allocation. The server
 * process may keep up to twice the block (glibc's trim threshold) of freed memory.
 */
const WARM_ALLOCATOR = "SELECT octet_length(repeat(repeat('x', 1024), 2100)) AS warm_allocator";

/**
 * Brings the schema up to date: tripflow's own migrations first (postgres-migrations mistakes
 * graphile_worker.migrations for its own table if that exists first), then graphile-worker's.
 */
export async function migrate(pool: pg.Pool, logger: Logger): Promise<void> {
  const client = await pool.connect();
  try {
    const applied = await migrateSchema({ client }, MIGRATIONS_DIR);
    if (applied.length > 0)
      logger.info({ component: "migrate", applied: applied.map((m) => m.fileName) }, "migrations applied");
  } finally {
    client.release();
  }
  await runMigrations({ pgPool: pool, logger: graphileLogger(logger) });
}

/** graphile-worker's logger, forwarding to pino. */
export function graphileLogger(logger: Logger): GraphileLogger {
  const child = logger.child({ component: "graphile-worker" });
  return new GraphileLogger(() => (level, message, meta) => {
    const fn =
      level === "error" ? child.error : level === "warning" ? child.warn : level === "info" ? child.debug : child.trace;
    fn.call(child, meta ?? {}, message);
  });
}

/**
 * The pool as graphile-worker sees it: taking a client waits (up to `maxWaitMs`) while the database
 * refuses connections for a transient reason, such as a restart. graphile-worker 0.17 records a job's
 * outcome with one attempt and stops its runner when that fails; waiting here lets the bookkeeping of
 * a job that ran across a restart go through once the database is back.
 */
export function patientPool(pool: pg.Pool, maxWaitMs = 120_000): pg.Pool {
  const connect = async (): Promise<pg.PoolClient> => {
    const deadline = Date.now() + maxWaitMs;
    for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
      try {
        return await pool.connect();
      } catch (err) {
        if (!isTransient(err) || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  };
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === "connect") return (callback?: never) => (callback ? target.connect(callback) : connect());
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Resolves once the database answers a query (or `signal` aborts), checking with back-off. */
export async function waitForDatabase(pool: pg.Pool, log: Logger, signal?: AbortSignal): Promise<void> {
  let pause = 250;
  let said = false;
  while (!signal?.aborted) {
    try {
      await pool.query("SELECT 1");
      if (said) log.info("the database answers again");
      return;
    } catch (err) {
      if (!said) log.warn({ err: describeError(err) }, "waiting for the database");
      said = true;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5000);
    }
  }
}

/** Runs `fn`, waiting for the database and running it again while it fails for a transient reason. */
export async function whenDatabaseAnswers<T>(
  pool: pg.Pool,
  log: Logger,
  fn: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || signal?.aborted) throw err;
      await waitForDatabase(pool, log, signal);
    }
  }
}
