import { readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../bench/generate.ts";
import { AGREE, compactionsDone, eventSeen as seen, exactly, mismatches, segments, totals } from "../helpers/audit.ts";
import { childEnv, kill, startChild, type Child } from "../helpers/child.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

const LINES = 12_000;

describe("exactly once under SIGKILL, SIGTERM and concurrent workers (real child processes)", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const children: Child[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    env = await childEnv(db.url, { WORKER_CONCURRENCY: "2" });
  });
  afterAll(async () => {
    for (const c of children) if (c.process.exitCode === null) await kill(c);
    await db?.drop();
  });

  const start = async (mode = "all") => {
    const c = await startChild(mode, env);
    children.push(c);
    return c;
  };

  async function drop(seed: number, name: string): Promise<void> {
    const tmp = join(env.LANDING_DIR!, `.${name}.tmp`);
    await generate(LINES, seed, tmp);
    await rename(tmp, join(env.LANDING_DIR!, name));
  }

  const eventSeen = (file: string, type: string, nth = 1, timeoutMs = 60_000) =>
    seen(db.pool, file, type, nth, timeoutMs);

  async function expectExact(files: string[]): Promise<void> {
    const { rows } = await db.pool.query(
      "SELECT file_name, status, rows_loaded, rows_rejected, archived_as IS NOT NULL AS archived FROM audit.ingestions WHERE file_name = ANY($1) ORDER BY file_name",
      [files],
    );
    expect(rows).toEqual(
      files
        .sort()
        .map((f) => ({ file_name: f, status: "completed", rows_loaded: LINES, rows_rejected: 0, archived: true })),
    );
    const n =
      (await db.pool.query("SELECT count(*)::int AS n FROM audit.ingestions WHERE status = 'completed'")).rows[0].n *
      LINES;
    expect(await totals(db.pool)).toEqual(exactly(n));
  }

  async function waitArchived(file: string): Promise<void> {
    await eventSeen(file, "file.archived", 1, 120_000);
  }

  for (const [i, point] of (
    ["bronze.progress", "silver.promoted", "silver.grouped", "gold.refreshed", "ingestion.completed"] as const
  ).entries()) {
    it(`continues after SIGKILL at the first ${point}: one completed ingestion, every line once`, async () => {
      const file = `kill-${i}.csv`;
      const first = await start();
      await drop(100 + i, file);
      await eventSeen(file, point);
      await kill(first);
      const second = await start();
      try {
        await waitArchived(file);
        await expectExact([file]);
        expect(await readdir(env.LANDING_DIR!)).toEqual([]);
      } finally {
        second.process.kill("SIGTERM");
        expect(await second.exited).toBe(0);
      }
    });
  }

  it("drains on SIGTERM in the middle of a load and the next start finishes the file", async () => {
    const file = "term.csv";
    const first = await start();
    await drop(200, file);
    await eventSeen(file, "bronze.progress", 3);
    first.process.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    const { rows } = await db.pool.query("SELECT status FROM audit.ingestions WHERE file_name = $1", [file]);
    expect(rows[0].status).not.toBe("completed");
    const second = await start();
    try {
      await waitArchived(file);
      await expectExact([file]);
    } finally {
      second.process.kill("SIGTERM");
      await second.exited;
    }
  });

  it("keeps totals exact with two worker processes and several files at once, one worker killed", async () => {
    const watcher = await start("watch");
    const w1 = await start("worker");
    const w2 = await start("worker");
    const files = ["multi-a.csv", "multi-b.csv", "multi-c.csv"];
    await Promise.all(files.map((f, k) => drop(300 + k, f)));
    await eventSeen(files[0]!, "silver.promoted");
    await kill(w1);
    const w3 = await start("worker");
    try {
      for (const f of files) await waitArchived(f);
      await expectExact(files);
    } finally {
      for (const c of [watcher, w2, w3]) c.process.kill("SIGTERM");
      for (const c of [watcher, w2, w3]) expect(await c.exited).toBe(0);
    }
  });
}, 600_000);

/**
 * Child processes of one describe block on one test database: `start()` starts another, `running()`
 * polls pg_stat_activity until a session of `child` runs a statement matching `pattern` (ILIKE), and
 * `release()` kills whatever is left.
 */
function processes() {
  const s = { db: undefined as unknown as TestDatabase, env: {} as Record<string, string> };
  const children: Child[] = [];
  return Object.assign(s, {
    async start(extra: Record<string, string> = {}): Promise<Child> {
      const c = await startChild("all", { ...s.env, ...extra });
      children.push(c);
      return c;
    },
    async running(child: Child, pattern: string, timeoutMs = 60_000): Promise<boolean> {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
        const { rows } = await s.db.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND application_name LIKE $1 AND state = 'active' AND query ILIKE $2`,
          [`tripflow-%-${child.process.pid}-%`, pattern],
        );
        if (rows[0].n > 0) return true;
        await new Promise((r) => setTimeout(r, 2));
      }
      return false;
    },
    async release(): Promise<void> {
      for (const c of children) if (c.process.exitCode === null) await kill(c);
      await s.db?.drop();
    },
  });
}

describe("exactly once for the bulk path: SIGKILL during its load and each step of the seal (real child processes)", () => {
  const BULK_LINES = 60_000;
  const p = processes();
  let db: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = p.db = await createTestDatabase();
    env = p.env = await childEnv(db.url, { BULK_MIN_BYTES: "1", CHUNK_ROWS: "10000", WORKER_CONCURRENCY: "2" });
  });
  afterAll(() => p.release());
  const { start, running } = p;

  // A session holding `table` in `mode` until releaseHolder(), and the child seen waiting at `pattern`.
  let holder: pg.Client | undefined;
  const stoppedAt = async (c: Child, table: string, mode: string, pattern: string) => {
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query(`LOCK TABLE ${table} IN ${mode} MODE`);
    return running(c, pattern);
  };
  // The seal's final transaction attaches six tables: a session holding gold.weekly_destination_cells
  // (SHARE UPDATE EXCLUSIVE, as an attach takes it) stops it after the first four, inside the transaction.
  const midAttach = (c: Child) =>
    stoppedAt(
      c,
      "gold.weekly_destination_cells",
      "SHARE UPDATE EXCLUSIVE",
      "%ATTACH PARTITION gold.weekly_destination_cells_seg%",
    );
  const releaseHolder = async () => {
    await holder?.query("COMMIT");
    await holder?.end();
    holder = undefined;
  };

  // The load's last transaction writes the weekly counts it kept into the segment's gold tables: a
  // session holding gold.weekly_regions (their shape) stops it there, every chunk already committed.
  const inLastTransaction = (c: Child) =>
    stoppedAt(c, "gold.weekly_regions", "ACCESS EXCLUSIVE", "%Target: gold.weekly_regions_seg%");

  // Where the first process dies, and whether the weekly counts the load kept reach the seal (a load
  // resumed after its chunks were committed does not read them again: the seal counts the segment).
  // The load keeps the groups of a file this small too (the seal builds their key only, a short step):
  // for a kill inside the seal's own aggregate of the groups, the first process keeps none.
  const sealGroups = { LOAD_GROUPS_MAX: "0" };
  const points: [string, (child: Child, file: string) => Promise<unknown>, boolean, Record<string, string>?][] = [
    ["its load (the first silver.promoted)", (_c, file) => seen(db.pool, file, "silver.promoted"), false],
    ["its last transaction, writing the weekly counts it kept", inLastTransaction, false],
    ["the seal's index build", (c) => running(c, "CREATE %INDEX%trips_seg_%"), true],
    ["the seal's groups", (c) => running(c, "%Target: silver.trip_groups_seg%"), true, sealGroups],
    ["the seal's attach (four of six tables attached)", midAttach, true],
  ];

  for (const [i, [point, reached, counted, firstEnv]] of points.entries()) {
    it(`continues after SIGKILL during ${point}: one completed ingestion, every line once, one segment`, async () => {
      const file = `bulk-kill-${i}.csv`;
      const first = await start(firstEnv);
      const tmp = join(env.LANDING_DIR!, `.${file}.tmp`);
      await generate(BULK_LINES, 700 + i, tmp);
      await rename(tmp, join(env.LANDING_DIR!, file));
      expect(await reached(first, file)).not.toBe(false);
      await kill(first);
      await releaseHolder();
      const second = await start();
      try {
        await seen(db.pool, file, "file.archived", 1, 120_000).catch((e) => {
          console.log(second.output().slice(-8000));
          throw e;
        });
        const { rows } = await db.pool.query(
          "SELECT id::int, status, load_mode, rows_loaded::int FROM audit.ingestions WHERE file_name = $1",
          [file],
        );
        expect(rows).toEqual([{ id: rows[0].id, status: "completed", load_mode: "bulk", rows_loaded: BULK_LINES }]);
        const n = (
          await db.pool.query("SELECT sum(rows_loaded)::int AS n FROM audit.ingestions WHERE status = 'completed'")
        ).rows[0].n;
        expect(await totals(db.pool)).toEqual(exactly(n));
        const { rows: segments } = await db.pool.query(
          "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'silver'::regnamespace AND relname = $1",
          [`trips_seg_${rows[0].id}`],
        );
        expect(segments[0].n).toBe(1);
        // Its trips, groups and four gold tables: each attached once, as a partition of its parent.
        const { rows: attached } = await db.pool.query(
          "SELECT count(*)::int AS n FROM pg_inherits WHERE inhrelid::regclass::text LIKE $1",
          [`%_seg_${rows[0].id}`],
        );
        expect(attached[0].n).toBe(6);
        const { rows: sealed } = await db.pool.query(
          "SELECT payload->'gold_from_load' AS gold FROM audit.events WHERE ingestion_id = $1 AND type = 'silver.sealed'",
          [rows[0].id],
        );
        expect(sealed).toEqual([{ gold: counted }]);
        expect(await mismatches(db)).toEqual(AGREE);
      } finally {
        second.process.kill("SIGTERM");
        expect(await second.exited).toBe(0);
      }
    });
  }
}, 600_000);

describe("exactly once for a compaction: SIGKILL while it builds and inside its swap (real child processes)", () => {
  const LINES = 20_000;
  const p = processes();
  let db: TestDatabase;
  let env: Record<string, string>;
  let ingested = 0;

  beforeAll(async () => {
    db = p.db = await createTestDatabase();
    // One segment at most: every second large file makes a compaction of two.
    // Every segment gets its level-10 counts and level-8 pairs (after the compaction, in the same job).
    env = p.env = await childEnv(db.url, {
      BULK_MIN_BYTES: "1",
      CHUNK_ROWS: "5000",
      MAX_SEGMENTS: "1",
      FINE_MIN_TRIPS: "1",
      PAIRS_MIN_TRIPS: "1",
    });
  });
  afterAll(() => p.release());
  const { start, running } = p;
  const drop = async (file: string, seed: number) => {
    const tmp = join(env.LANDING_DIR!, `.${file}.tmp`);
    await generate(LINES, seed, tmp);
    await rename(tmp, join(env.LANDING_DIR!, file));
    ingested += LINES;
  };

  let holder: pg.Client | undefined;
  const points: [string, (c: Child) => Promise<boolean>][] = [
    ["while it builds the merged trips", (c) => running(c, "%Target: silver.trips_cmp%")],
    [
      "inside its swap (the old tables of four parents dropped, the fifth and sixth waiting)",
      async (c) => {
        holder = new pg.Client({ connectionString: db.url });
        await holder.connect();
        await holder.query("BEGIN");
        await holder.query("LOCK TABLE gold.weekly_destination_cells IN ACCESS SHARE MODE");
        return running(c, "%DROP TABLE gold.weekly_destination_cells_%");
      },
    ],
    [
      "while it builds the merged segment's level-10 counts",
      (c) => running(c, "%Target: gold.weekly_origin_fine_cmp%"),
    ],
    [
      "while it builds the merged segment's level-8 pairs",
      (c) => running(c, "%Target: gold.weekly_cell_pairs_fine_cmp%"),
    ],
  ];

  for (const [i, [point, reached]] of points.entries()) {
    it(`continues after SIGKILL ${point}: one segment, every total, group and weekly count exact`, async () => {
      const first = await start();
      if (i === 0) {
        await drop("compact-base.csv", 900);
        await seen(db.pool, "compact-base.csv", "file.archived", 1, 120_000);
      }
      await drop(`compact-${i}.csv`, 901 + i);
      expect(await reached(first)).toBe(true);
      await kill(first);
      await holder?.query("COMMIT");
      await holder?.end();
      holder = undefined;
      const second = await start();
      try {
        await seen(db.pool, `compact-${i}.csv`, "file.archived", 1, 120_000);
        await compactionsDone(db);
        expect(await segments(db)).toHaveLength(1);
        expect(await totals(db.pool)).toEqual(exactly(ingested));
        expect(await mismatches(db)).toEqual(AGREE);
        const { rows: left } = await db.pool.query(
          `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('silver', 'gold') AND c.relkind = 'r' AND c.relname ~ '_(seg|cmp)_[0-9]+$'
             AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = c.oid)`,
        );
        expect(left[0].n).toBe(0);
        // The one segment has its level-10 counts, of both ends, and its level-8 pairs.
        const { rows: fine } = await db.pool.query(
          `SELECT (SELECT count(DISTINCT segment) FROM gold.weekly_origin_fine)::int AS o, (SELECT count(DISTINCT segment) FROM gold.weekly_destination_fine)::int AS d,
                  (SELECT count(DISTINCT segment) FROM gold.weekly_cell_pairs_fine)::int AS p`,
        );
        expect(fine[0]).toEqual({ o: 1, d: 1, p: 1 });
      } finally {
        second.process.kill("SIGTERM");
        expect(await second.exited).toBe(0);
      }
    });
  }
}, 600_000);
