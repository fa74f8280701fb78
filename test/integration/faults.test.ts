import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { appendFile, mkdtemp, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkTask } from "../../pipeline/transform/step_task.ts";
import { withdrawIngestion } from "../../pipeline/core/withdraw.ts";
import { generate } from "../bench/generate.ts";
import { eventSeen, exactly, totals } from "../helpers/audit.ts";
import { childEnv, kill, startChild, type Child } from "../helpers/child.ts";
import { admin, createTestDatabase, quietLogger, type TestDatabase } from "../helpers/database.ts";
import { ingestGenerated, startTestServices, type Started } from "../helpers/services.ts";

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

async function ingestionsOf(db: TestDatabase, file: string) {
  const { rows } = await db.pool.query(
    "SELECT id::int, status, rows_loaded::int, rows_rejected::int, error, sha256, archived_as FROM audit.ingestions WHERE file_name = $1 ORDER BY id",
    [file],
  );
  return rows;
}

describe("a writer still at work on a landing file", () => {
  let db: TestDatabase;
  let tf: Started;
  let source: string;
  let other: string;
  const LINES = 60_000;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], { CHUNK_ROWS: "2000", PROGRESS_INTERVAL_MS: "0" });
    source = join(await mkdtemp(join(tmpdir(), "tripflow-writer-")), "source.csv");
    await generate(LINES, 41, source);
    other = join(source, "..", "other.csv");
    await generate(LINES, 42, other);
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("cp-like: a file held open for writing is not taken while its writer pauses; then it is ingested once, as itself", async () => {
    // A real process copies the file straight into landing and pauses 1.5 s at 30 % (SETTLE_MS is 100).
    const target = join(tf.landing, "slow-cp.csv");
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("fs"); const [src, dst] = process.argv.slice(1); const b = fs.readFileSync(src);
         const fd = fs.openSync(dst, "w"); const cut = Math.floor(b.length * 0.3); fs.writeSync(fd, b, 0, cut);
         setTimeout(() => { fs.writeSync(fd, b, cut, b.length - cut); fs.closeSync(fd); }, 1500);`,
        source,
        target,
      ],
      { stdio: "ignore" },
    );
    const [code] = await once(writer, "exit");
    expect(code).toBe(0);
    await eventSeen(db.pool, "slow-cp.csv", "file.archived");
    const rows = await ingestionsOf(db, "slow-cp.csv");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: "completed",
      rows_loaded: LINES,
      rows_rejected: 0,
      sha256: await sha256(source),
    });
    expect(await sha256(rows[0].archived_as)).toBe(rows[0].sha256);
    expect(await totals(db.pool)).toEqual(exactly(LINES));
  });

  it("append-like: a file that grows while it is read fails with the reason, keeps nothing, and is then ingested once, as itself", async () => {
    const before = (await totals(db.pool)).silver;
    const bytes = await readFile(other);
    const cut = Math.floor(bytes.length * 0.3); // mid-line, as a copy cut short is
    const target = join(tf.landing, "slow-append.csv");
    await writeFile(target, bytes.subarray(0, cut)); // written and closed: nothing holds it open
    await eventSeen(db.pool, "slow-append.csv", "bronze.progress");
    await appendFile(target, bytes.subarray(cut)); // the writer comes back while the file is loading
    await eventSeen(db.pool, "slow-append.csv", "file.archived");
    const rows = await ingestionsOf(db, "slow-append.csv");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ status: "failed", rows_loaded: 0, rows_rejected: 0, archived_as: null });
    expect(rows[0].error).toMatch(/^the file changed while it was read \(registered with \d+ bytes/);
    expect(rows[1]).toMatchObject({
      status: "completed",
      rows_loaded: LINES,
      rows_rejected: 0,
      sha256: await sha256(other),
    });
    expect(await sha256(rows[1].archived_as)).toBe(rows[1].sha256);
    expect(await totals(db.pool)).toEqual(exactly(before + LINES));
    const { rows: failed } = await db.pool.query(
      "SELECT payload FROM audit.events WHERE ingestion_id = $1 AND type = 'ingestion.failed'",
      [rows[0].id],
    );
    expect(failed).toHaveLength(1);
    expect(failed[0].payload.error).toBe(rows[0].error);
    expect(await readdir(tf.landing)).toEqual([]);
  });
}, 300_000);

describe("an ended ingestion whose event never reaches the process that loaded it", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["worker", "watch"], { CHUNK_ROWS: "1000" });
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("still archives its file: the next scan of landing finds it ended and moves it", async () => {
    // The event bus delivers nothing from now on, as when ingestion.completed is read while the database
    // is away: the file must not stay in landing, loaded and forgotten.
    await tf.bus!.close();
    const id = await ingestGenerated(tf, db.pool, 5_000, 77, "no-event.csv");
    const rows = await ingestionsOf(db, "no-event.csv");
    expect(rows).toMatchObject([{ id, status: "completed", rows_loaded: 5_000, rows_rejected: 0 }]);
    expect(rows[0].archived_as).toBe(join(tf.archive, `${id}-no-event.csv`));
    expect(await readdir(tf.landing)).toEqual([]);
    expect(await totals(db.pool)).toEqual(exactly(5_000));
  });
}, 120_000);

describe("a job's failure graphile-worker cannot record", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Once: a transient error in a silver step (a serialization failure), and then the statement that
    // records that job's failure refused, as when the database cuts the connection it runs on.
    await db.pool.query(`
      CREATE SEQUENCE public.step_failures;
      CREATE SEQUENCE public.record_failures;
      CREATE FUNCTION public.fail_step_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'silver.promoted' AND nextval('public.step_failures') = 1 THEN
          RAISE EXCEPTION 'a transient failure, once' USING ERRCODE = '40001';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_step_once BEFORE INSERT ON audit.events FOR EACH ROW EXECUTE FUNCTION public.fail_step_once();
      CREATE FUNCTION public.refuse_record_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('public.record_failures') = 1 THEN RAISE EXCEPTION 'the job''s failure could not be recorded'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_record_once BEFORE UPDATE ON graphile_worker._private_jobs FOR EACH ROW
        WHEN (NEW.last_error IS DISTINCT FROM OLD.last_error) EXECUTE FUNCTION public.refuse_record_once();`);
    tf = await startTestServices(db.url, ["worker", "watch"], { CHUNK_ROWS: "1000" });
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("starts the worker again and the ingestion completes: no job stays locked under a live process", async () => {
    await ingestGenerated(tf, db.pool, 3_000, 78, "unrecorded.csv");
    const { rows } = await db.pool.query(
      "SELECT last_value::int AS steps, (SELECT last_value::int FROM public.record_failures) AS records FROM public.step_failures",
    );
    expect(rows[0].steps).toBeGreaterThan(1); // the step failed once and ran again
    expect(rows[0].records).toBeGreaterThanOrEqual(1); // recording that failure was refused
    expect(await ingestionsOf(db, "unrecorded.csv")).toMatchObject([
      { status: "completed", rows_loaded: 3_000, rows_rejected: 0 },
    ]);
    expect(await totals(db.pool)).toEqual(exactly(3_000));
  });
}, 120_000);

describe("a poisoned value the database refuses, and steps that run out of attempts", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    // A value the database refuses in the silver step: a region name no parser rule catches.
    await db.pool.query(`
      CREATE FUNCTION public.poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'Poisonville' THEN RAISE EXCEPTION 'region name refused by a constraint' USING ERRCODE = '23514'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER poison BEFORE INSERT ON silver.regions FOR EACH ROW EXECUTE FUNCTION public.poison();`);
    tf = await startTestServices(db.url, ["api", "worker", "watch"], { CHUNK_ROWS: "1000", PROGRESS_INTERVAL_MS: "0" });
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  const line = (region: string, i: number) =>
    `${region},POINT (14.4${i % 10} 50.1),POINT (14.5 50.0${i % 7}),2018-05-${String(1 + (i % 28)).padStart(2, "0")} 08:00:00,src\n`;

  it("fails the ingestion at once with the error, withdraws its earlier chunks, and the next file goes through", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tripflow-poison-"));
    const lines = Array.from({ length: 3000 }, (_, i) => line(i === 2500 ? "Poisonville" : "Prague", i));
    await writeFile(
      join(dir, "poisoned.csv"),
      "region,origin_coord,destination_coord,datetime,datasource\n" + lines.join(""),
    );
    await rename(join(dir, "poisoned.csv"), join(tf.landing, "poisoned.csv"));
    await eventSeen(db.pool, "poisoned.csv", "file.archived", 1, 30_000);
    const [poisoned] = await ingestionsOf(db, "poisoned.csv");
    expect(poisoned).toMatchObject({ status: "failed", rows_loaded: 0, rows_rejected: 0 });
    expect(poisoned.error).toMatch(
      /^promote_silver failed on chunk 2 \(not retried: retrying cannot fix it\): region name refused by a constraint/,
    );
    expect(poisoned.archived_as).toMatch(/rejected\/\d+-poisoned\.csv$/);
    expect(await totals(db.pool)).toEqual(exactly(0));

    await writeFile(
      join(dir, "good.csv"),
      "region,origin_coord,destination_coord,datetime,datasource\n" + lines.slice(0, 1500).join(""),
    );
    await rename(join(dir, "good.csv"), join(tf.landing, "good.csv"));
    await eventSeen(db.pool, "good.csv", "file.archived", 1, 30_000);
    expect((await ingestionsOf(db, "good.csv"))[0]).toMatchObject({ status: "completed", rows_loaded: 1500 });
    expect(await totals(db.pool)).toEqual(exactly(1500));
  });

  it("retries a transient error with a step.retrying event, and fails the ingestion when the attempts are spent", async () => {
    const { rows } = await db.pool.query(
      "INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status) VALUES ('t.csv', repeat('c', 64), 1, 'transforming') RETURNING id::int",
    );
    const id = rows[0].id;
    const lost = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    const task = chunkTask("promote_silver", async () => Promise.reject(lost), "never")(db.pool, quietLogger);
    const payload = { ingestion_id: id, chunk: 0, first_line: 2, end_line: 1002 };
    await expect(task(payload, { job: { attempts: 3, max_attempts: 10 } } as never)).rejects.toBe(lost);
    const { rows: retrying } = await db.pool.query(
      "SELECT payload FROM audit.events WHERE ingestion_id = $1 AND type = 'step.retrying'",
      [id],
    );
    expect(retrying.map((r) => r.payload)).toEqual([
      {
        task: "promote_silver",
        chunk: 0,
        attempt: 3,
        max_attempts: 10,
        error: "terminating connection due to administrator command (57P01)",
      },
    ]);
    expect((await db.pool.query("SELECT status FROM audit.ingestions WHERE id = $1", [id])).rows[0].status).toBe(
      "transforming",
    );
    await task(payload, { job: { attempts: 10, max_attempts: 10 } } as never);
    const { rows: after } = await db.pool.query("SELECT status, error FROM audit.ingestions WHERE id = $1", [id]);
    expect(after[0]).toEqual({
      status: "failed",
      error:
        "promote_silver failed on chunk 0 (gave up after 10 attempts): terminating connection due to administrator command (57P01)",
    });
  });
}, 300_000);

describe("withdrawing an ingestion", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], { CHUNK_ROWS: "3000" });
  });
  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  const snapshot = async () => {
    const q = async (sql: string) => (await db.pool.query(sql)).rows;
    return {
      regions: await q("SELECT region_id, week, trips::int FROM gold.weekly_regions ORDER BY 1, 2"),
      origins: await q("SELECT cell::text, week, region_id, trips::int FROM gold.weekly_origin_cells ORDER BY 1, 2, 3"),
      destinations: await q(
        "SELECT cell::text, week, region_id, trips::int FROM gold.weekly_destination_cells ORDER BY 1, 2, 3",
      ),
      groups: await q(
        `SELECT region_id, origin_cell::text, destination_cell::text, slot, trips::int, first_trip_at, last_trip_at,
                round(sum_origin_lon::numeric, 6)::text AS lon, round(sum_dest_lat::numeric, 6)::text AS lat
         FROM silver.trip_groups ORDER BY 1, 2, 3, 4`,
      ),
    };
  };

  const ingest = (rows: number, seed: number, name: string) => ingestGenerated(tf, db.pool, rows, seed, name);

  it("leaves gold and the groups exactly as they were without it (counts, first and last trips)", async () => {
    await ingest(8000, 7, "kept.csv");
    const kept = await snapshot();
    const id = await ingest(9000, 8, "withdrawn.csv"); // the same regions, weeks and hotspots: shared rows
    expect((await snapshot()).regions).not.toEqual(kept.regions);
    const result = await withdrawIngestion(db.pool, id, "test: withdrawn", { completed: true });
    expect(result).toEqual({ failed: true, trips: 9000 });
    expect(await snapshot()).toEqual(kept);
    expect(await totals(db.pool)).toEqual(exactly(8000));
    // Once only: a second call finds the ingestion ended.
    expect(await withdrawIngestion(db.pool, id, "again", { completed: true })).toEqual({ failed: false, trips: 0 });
  });
}, 300_000);

describe("the database going away during each stage (real child process)", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const children: Child[] = [];
  const LINES = 20_000;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = await childEnv(db.url);
  });
  afterAll(async () => {
    for (const c of children) if (c.process.exitCode === null) await kill(c);
    await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)).catch(() => {});
    await db?.drop();
  });

  async function drop(seed: number, name: string, lines = LINES): Promise<void> {
    const tmp = join(env.LANDING_DIR!, `.${name}.tmp`);
    await generate(lines, seed, tmp);
    await rename(tmp, join(env.LANDING_DIR!, name));
  }

  /** Ends the child's database sessions (as a restart does); `forMs` keeps new ones out that long. */
  async function outage(child: Child, forMs: number): Promise<number> {
    const name = `tripflow-%-${child.process.pid}-%`;
    return admin(async (c) => {
      if (forMs > 0) await c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
      try {
        const { rows } = await c.query(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid() AND (application_name LIKE $2 OR application_name = 'tripflow-listen')`,
          [db.name, name],
        );
        if (forMs > 0) await new Promise((r) => setTimeout(r, forMs)); // the outage itself
        return rows[0].n as number;
      } finally {
        if (forMs > 0) await c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      }
    });
  }

  async function expectCompleted(file: string, lines = LINES): Promise<number> {
    await eventSeen(db.pool, file, "file.archived", 1, 60_000);
    const rows = await ingestionsOf(db, file);
    expect(rows.map((r) => [r.status, r.rows_loaded, r.rows_rejected, r.archived_as !== null])).toEqual([
      ["completed", lines, 0, true],
    ]);
    return rows[0].id;
  }

  it("a backend terminated in the middle of a COPY: the load says bronze.retrying and continues from the chunk it lost", async () => {
    const child = await startChild("all", env);
    children.push(child);
    // 80 chunks of 1,000 lines: the loader is inside a COPY most of the time. One session watches from
    // the moment the file lands and ends the first COPY it sees (polling a fresh session each time, or
    // waiting for an event first, can miss a load this short on a fast machine).
    const lines = 80_000;
    const cut = admin(async (c) => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        const { rows } = await c.query(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE datname = $1 AND application_name LIKE $2 AND state = 'active' AND query LIKE 'COPY bronze.%'`,
          [db.name, `tripflow-%-${child.process.pid}-%`],
        );
        if (rows[0].n > 0) return rows[0].n as number;
      }
      return 0;
    });
    await drop(501, "copy-cut.csv", lines);
    expect(await cut).toBe(1);
    const id = await expectCompleted("copy-cut.csv", lines);
    const { rows } = await db.pool.query(
      "SELECT payload FROM audit.events WHERE ingestion_id = $1 AND type = 'bronze.retrying'",
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].payload).toMatchObject({ attempt: 2, max_attempts: 10 });
    expect(rows[0].payload.error).toMatch(/terminat|connection/i);
    expect(await totals(db.pool)).toEqual(exactly(lines));
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });

  for (const [i, point] of (["bronze.progress", "silver.promoted", "ingestion.completed"] as const).entries()) {
    it(`the database unreachable for 2 s at the first ${point}: the running service finishes by itself, every line once`, async () => {
      const before = (await totals(db.pool)).silver;
      const child = await startChild("all", env);
      children.push(child);
      const file = `outage-${i}.csv`;
      await drop(600 + i, file);
      await eventSeen(db.pool, file, point);
      expect(await outage(child, 2000)).toBeGreaterThan(0);
      await expectCompleted(file).catch(async (e) => {
        await writeFile(join(tmpdir(), `tripflow-${file}.log`), child.output());
        console.log(child.output().slice(-6000));
        throw e;
      });
      expect(await totals(db.pool)).toEqual(exactly(before + LINES));
      expect(await readdir(env.LANDING_DIR!)).toEqual([]);
      child.process.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    });
  }
}, 600_000);
