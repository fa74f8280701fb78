/**
 * The benchmark: `npm run bench -- --rows N [--seed S] [--requests R] [--out DIR]`.
 *
 * 1. generates N trips with the seeded generator (test/bench/generate.ts), streamed to a file (kept in
 *    DIR and reused by later runs with the same N and seed);
 * 2. times the reference: a plain COPY of that file into a logged table of text columns;
 * 3. starts the real service (`pipeline/main.ts all`) as a child process on a fresh database, drops the
 *    file into its landing folder and times the ingestion until `ingestion.completed`, stage by stage
 *    from the audit events;
 * 4. records the service's peak memory, the database size per trip and the number of gold rows;
 * 5. fires R random region and bounding-box weekly-average requests at the HTTP API, computes the same
 *    answers by a direct count over silver, and checks that every answer is equal;
 * 6. prints a table and writes it as JSON and Markdown to DIR.
 *
 * The database is `tripflow_bench` (or --database) on DATABASE_URL's server, else on the server
 * `npm start` would find; it is dropped and created again at the start of every run.
 */
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, existsSync, openSync, readFileSync } from "node:fs";
import { copyFile, link, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { freePort } from "../helpers/ports.ts";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import pino from "pino";
import { findLocalServer, withDatabase } from "../../pipeline/core/bootstrap.ts";
import type { Column } from "../../pipeline/landing/inspect.ts";
import { addBronzeRows, BRONZE_COLUMNS, CopyBuffer, lineReader } from "../../pipeline/bronze/parse.ts";
import { PARENTS } from "../../pipeline/core/lifecycle.ts";
import { AGGREGATE_TRANSFORMS, SQL } from "../../pipeline/core/sql.ts";
import { TRANSFORM_SETTINGS } from "../../pipeline/transform/promote.ts";
import { rng } from "../helpers/random.ts";
import { DUCKDB_VERSION, duckdbSideBySide, type ScanQuestion } from "./duckdb.ts";
import { generate, REGIONS } from "./generate.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = path.join(ROOT, "pipeline/main.ts");
const MATCHES = ["origin", "destination", "both", "any"] as const;

export type BenchOptions = {
  rows: number;
  seed: number;
  requests: number;
  out: string;
  database: string;
  referenceRuns: number;
  /** How many box answers to check by a direct count (each reads every trip in its box); all by default. */
  verifyBoxes?: number;
  quiet?: boolean;
  /** The server's maintenance database URL; by default DATABASE_URL's server, else what `npm start` finds. */
  server?: string;
  /** Trips of the second file, dropped into the loaded database while requests keep coming; 0: none. Default N/2. */
  duringLoadRows?: number;
  /** false: no side-by-side with DuckDB (test/bench/duckdb.ts). */
  duckdb?: boolean;
};

/** '1000000', '1e6', '250k', '10M' -> a whole number. */
export function parseCount(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:e(\d+)|([kKmM]))?$/.exec(text.trim());
  if (!m) throw new Error(`not a count: ${JSON.stringify(text)} (try 1000000, 1e6, 250k or 10M)`);
  const base = Number(m[1]);
  const factor = m[2] ? 10 ** Number(m[2]) : m[3] ? (m[3].toLowerCase() === "k" ? 1e3 : 1e6) : 1;
  const n = Math.round(base * factor);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`not a positive count: ${text}`);
  return n;
}

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: "tripflow-bench" });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The generated file for (rows, seed), made once and reused: the same seed always gives the same bytes. */
async function dataFile(o: BenchOptions, log: (s: string) => void): Promise<{ file: string; seconds: number | null }> {
  const file = path.join(o.out, `trips-${o.rows}-s${o.seed}.csv`);
  if (existsSync(`${file}.done`)) return { file, seconds: null };
  log(`generating ${o.rows.toLocaleString("en")} trips (seed ${o.seed}) into ${file}`);
  const t = performance.now();
  await generate(o.rows, o.seed, `${file}.part`);
  await rename(`${file}.part`, file);
  await writeFile(`${file}.done`, "");
  return { file, seconds: (performance.now() - t) / 1000 };
}

/** Step 2: COPY the file as it is into a logged table of text columns; the median of the runs. */
async function referenceCopy(url: string, file: string, runs: number): Promise<number[]> {
  const seconds: number[] = [];
  await withClient(url, async (c) => {
    for (let i = 0; i < runs; i++) {
      await c.query("DROP TABLE IF EXISTS public.bench_reference");
      await c.query(
        "CREATE TABLE public.bench_reference (region text, origin_coord text, destination_coord text, datetime text, datasource text)",
      );
      await c.query("CHECKPOINT");
      const t = performance.now();
      await pipeline(
        createReadStream(file, { highWaterMark: 1 << 20 }),
        c.query(copyFrom("COPY public.bench_reference FROM STDIN WITH (FORMAT csv, HEADER true)")),
      );
      seconds.push((performance.now() - t) / 1000);
    }
    await c.query("DROP TABLE public.bench_reference");
    await c.query("CHECKPOINT");
  });
  return seconds;
}

type Service = {
  pid: number;
  port: number;
  stop: () => Promise<void>;
  peakRssMb: () => number;
  exited: () => boolean;
  log: string;
};

/** Step 3: the real service, as `npm start` runs it (or one `role` of it), in a child process whose memory is sampled. */
export async function startService(url: string, dir: string, role = "all"): Promise<Service> {
  const port = await freePort();
  const logFile = path.join(dir, "service.log");
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, role], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      HOST: "127.0.0.1",
      LANDING_DIR: path.join(dir, "landing"),
      ARCHIVE_DIR: path.join(dir, "archive"),
      DATA_DIR: path.join(dir, "data"),
      LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    },
    stdio: ["ignore", fd, fd],
  });
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      /* exited */
    }
  };
  const sampler = setInterval(sample, 500);
  const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the service exited at start; see ${logFile}:\n${readFileSync(logFile, "utf8").slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`the service did not start in 120 s; see ${logFile}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid!,
    port,
    log: logFile,
    peakRssMb: () => {
      sample();
      return peak;
    },
    exited: () => child.exitCode !== null,
    stop: async () => {
      sample();
      clearInterval(sampler);
      child.kill("SIGTERM");
      await exit;
    },
  };
}

type Stages = {
  wall_seconds: number;
  to_discovered: number;
  to_bronze_loaded: number;
  to_last_silver: number;
  to_completed: number;
  silver_busy_seconds: number;
  groups_busy_seconds: number;
  gold_busy_seconds: number;
  chunks: number;
  rows_loaded: number;
  rows_rejected: number;
  vacuum: { ms: number; after_completed_s: number } | null;
  /** A large file's seal (silver.sealed): the whole, its index builds beside staged aggregates, its merge. */
  seal: { seconds: number; indexes_seconds: number; attach_seconds: number } | null;
};

/** Drops the file into the landing folder (a hard link: instant and atomic) and waits for the end. */
async function ingest(url: string, svc: Service, file: string, dir: string, timeoutMs: number): Promise<Stages> {
  const landing = path.join(dir, "landing");
  await mkdir(landing, { recursive: true });
  const name = path.basename(file);
  const t0 = Date.now();
  try {
    await link(file, path.join(landing, name));
  } catch {
    await copyFile(file, path.join(landing, `.${name}.tmp`));
    await rename(path.join(landing, `.${name}.tmp`), path.join(landing, name));
  }
  return withClient(url, async (c) => {
    for (;;) {
      if (svc.exited()) throw new Error(`the service died during the ingestion; see ${svc.log}`);
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`no ingestion.completed after ${timeoutMs / 1000} s; see ${svc.log}`);
      const { rows } = await c.query<{ id: string; status: string; error: string | null }>(
        "SELECT id, status, error FROM audit.ingestions WHERE file_name = $1 ORDER BY id DESC LIMIT 1",
        [name],
      );
      const r = rows[0];
      if (r?.status === "failed") throw new Error(`ingestion ${r.id} failed: ${r.error}`);
      if (r?.status === "completed") break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const wall = (Date.now() - t0) / 1000;
    // The service vacuums and analyzes silver and gold after each ingestion (pipeline/transform/tasks/maintain.ts);
    // requests are timed once that has run, as they would be a moment after the ingestion.
    let vacuum: { ms: number; after_completed_s: number } | null = null;
    for (const deadline = Date.now() + Math.max(300_000, wall * 1000); Date.now() < deadline; ) {
      const { rows: v } = await c.query(
        `SELECT (v.payload->>'ms')::int AS ms, extract(epoch FROM v.created_at - d.created_at) AS after
         FROM audit.events v JOIN audit.events d ON d.ingestion_id = v.ingestion_id AND d.type = 'ingestion.completed'
         WHERE v.type = 'maintenance.vacuumed' AND v.ingestion_id = (SELECT id FROM audit.ingestions WHERE file_name = $1 ORDER BY id DESC LIMIT 1)`,
        [name],
      );
      if (v[0]) {
        vacuum = { ms: Number(v[0].ms), after_completed_s: round(Number(v[0].after), 1) };
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    const { rows } = await c.query(
      `WITH i AS (SELECT * FROM audit.ingestions WHERE file_name = $1 ORDER BY id DESC LIMIT 1),
            e AS (SELECT e.* FROM audit.events e JOIN i ON e.ingestion_id = i.id)
       SELECT
         extract(epoch FROM (SELECT min(created_at) FROM e WHERE type = 'ingestion.discovered')) AS discovered,
         extract(epoch FROM (SELECT max(created_at) FROM e WHERE type = 'bronze.loaded')) AS bronze_loaded,
         extract(epoch FROM (SELECT max(created_at) FROM e WHERE type = 'silver.promoted')) AS last_silver,
         extract(epoch FROM (SELECT max(created_at) FROM e WHERE type = 'ingestion.completed')) AS completed,
         (SELECT coalesce(sum((payload->>'ms')::numeric), 0) FROM e WHERE type = 'silver.promoted') / 1000 AS silver_busy,
         (SELECT coalesce(sum((payload->>'ms')::numeric), 0) FROM e WHERE type = 'silver.grouped') / 1000 AS groups_busy,
         (SELECT coalesce(sum((payload->>'ms')::numeric), 0) FROM e WHERE type = 'gold.refreshed') / 1000 AS gold_busy,
         (SELECT chunks FROM i) AS chunks, (SELECT rows_loaded FROM i) AS rows_loaded, (SELECT rows_rejected FROM i) AS rows_rejected,
         (SELECT payload FROM e WHERE type = 'silver.sealed' ORDER BY id DESC LIMIT 1) AS sealed`,
      [name],
    );
    const e = rows[0];
    const since = (x: string | null) => (x === null ? NaN : round(Number(x) - t0 / 1000, 2));
    return {
      wall_seconds: round(wall, 2),
      to_discovered: since(e.discovered),
      to_bronze_loaded: since(e.bronze_loaded),
      to_last_silver: since(e.last_silver),
      to_completed: since(e.completed),
      silver_busy_seconds: round(Number(e.silver_busy), 2),
      groups_busy_seconds: round(Number(e.groups_busy), 2),
      gold_busy_seconds: round(Number(e.gold_busy), 2),
      chunks: Number(e.chunks),
      rows_loaded: Number(e.rows_loaded),
      rows_rejected: Number(e.rows_rejected),
      vacuum,
      seal: e.sealed
        ? {
            seconds: round(Number(e.sealed.ms) / 1000, 2),
            indexes_seconds: round(Number(e.sealed.indexes_ms) / 1000, 2),
            attach_seconds: round(Number(e.sealed.attach_ms) / 1000, 2),
          }
        : null,
    };
  });
}

/**
 * Step 5b: a second file (half as many trips, the next seed) dropped into the loaded database, and
 * requests fired one after another for as long as it loads: the answers' times while a file loads
 * (its index builds and aggregates included) against the idle ones, and the second ingestion's own time.
 */
async function requestsDuringLoad(
  url: string,
  svc: Service,
  file: string,
  dir: string,
  reqs: Request[],
  timeoutMs: number,
) {
  let done = false;
  const ingestion = ingest(url, svc, file, dir, timeoutMs).finally(() => {
    done = true;
  });
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; !done; i++) {
    const t = performance.now();
    const res = await fetch(`http://127.0.0.1:${svc.port}/stats/weekly-average?${query(reqs[i % reqs.length]!)}`);
    await res.arrayBuffer();
    if (res.status === 200) times.push(performance.now() - t);
    else errors++;
  }
  const stages = await ingestion;
  return { stages, n: times.length, errors, p50_ms: round(median(times), 1), p95_ms: round(quantile(times, 0.95), 1) };
}

/**
 * Step 3b: the compaction's job after the ingestion (pipeline/transform/tasks/compact_segments.ts), which
 * builds the level-10 counts and level-8 pairs of a large segment (pipeline/transform/refine.ts): requests
 * are timed once it has run, as the vacuum's. Its `gold.refined` events (none below PAIRS_MIN_TRIPS).
 */
async function refinement(url: string, timeoutMs: number) {
  return withClient(url, async (c) => {
    const started = Date.now();
    for (const deadline = started + timeoutMs; ; ) {
      const { rows } = await c.query(
        "SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier IN ('maintain', 'compact_segments')",
      );
      if (rows[0].n === 0) break;
      if (Date.now() > deadline) throw new Error(`the compaction's job still queued after ${timeoutMs / 1000} s`);
      await new Promise((res) => setTimeout(res, 500));
    }
    const { rows } = await c.query(
      "SELECT (payload->>'ms')::int AS ms, (payload->>'origin_rows')::int + (payload->>'destination_rows')::int + coalesce((payload->>'pair_rows')::int, 0) AS rows FROM audit.events WHERE type = 'gold.refined'",
    );
    return {
      waited_seconds: round((Date.now() - started) / 1000, 1),
      segments: rows.length,
      seconds: round(rows.reduce((n, r) => n + Number(r.ms), 0) / 1000, 1),
      rows: rows.reduce((n, r) => n + Number(r.rows), 0),
    };
  });
}

/** Step 4: sizes, row counts and the gold = silver invariant. */
async function storage(url: string) {
  return withClient(url, async (c) => {
    // A partitioned table (silver.trips) is the sum of its partitions (its segments).
    const size = async (rel: string) => {
      const { rows } = await c.query(
        `SELECT coalesce(sum(pg_table_size(r)), 0)::bigint AS t, coalesce(sum(pg_indexes_size(r)), 0)::bigint AS i
         FROM (SELECT relid AS r FROM pg_partition_tree($1::regclass) WHERE isleaf
               UNION ALL SELECT $1::regclass WHERE (SELECT relkind FROM pg_class WHERE oid = $1::regclass) <> 'p') AS x`,
        [rel],
      );
      return { table: Number(rows[0].t), indexes: Number(rows[0].i) };
    };
    const silver = await size("silver.trips");
    const groups = await size("silver.trip_groups");
    const goldTables = ["gold.weekly_regions", "gold.weekly_origin_cells", "gold.weekly_destination_cells"];
    let goldBytes = 0;
    for (const t of goldTables) {
      const s = await size(t);
      goldBytes += s.table + s.indexes;
    }
    const pairs = await size("gold.weekly_cell_pairs");
    const pairBytes = pairs.table + pairs.indexes;
    goldBytes += pairBytes;
    let fineBytes = 0;
    for (const t of ["gold.weekly_origin_fine", "gold.weekly_destination_fine"]) {
      const s = await size(t);
      fineBytes += s.table + s.indexes;
    }
    const finePairs = await size("gold.weekly_cell_pairs_fine");
    const { rows } = await c.query(`SELECT
        (SELECT count(*) FROM silver.trips) AS silver_rows,
        (SELECT count(*) FROM silver.trip_groups) AS groups,
        (SELECT coalesce(sum(trips), 0) FROM silver.trip_groups) AS group_trips,
        (SELECT count(*) FROM gold.weekly_regions) AS gold_regions,
        (SELECT count(*) FROM gold.weekly_origin_cells) AS gold_origin,
        (SELECT count(*) FROM gold.weekly_destination_cells) AS gold_destination,
        (SELECT count(*) FROM gold.weekly_cell_pairs) AS gold_pairs,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_cell_pairs) AS sum_pairs,
        (SELECT count(*) FROM gold.weekly_origin_fine) + (SELECT count(*) FROM gold.weekly_destination_fine) AS fine_rows,
        (SELECT count(*) FROM gold.weekly_cell_pairs_fine) AS fine_pair_rows,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_regions) AS sum_regions,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_origin_cells) AS sum_origin,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_destination_cells) AS sum_destination,
        (SELECT count(*) FROM bronze.trips) AS bronze_rows,
        pg_database_size(current_database()) AS database_bytes`);
    const r = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
    const { rows: vac } = await c.query(
      `SELECT relname, n_live_tup, n_dead_tup, last_autovacuum, last_autoanalyze, autovacuum_count, autoanalyze_count
       FROM pg_stat_user_tables WHERE schemaname IN ('silver', 'gold') ORDER BY schemaname, relname`,
    );
    const goldRows = r.gold_regions! + r.gold_origin! + r.gold_destination! + r.gold_pairs!;
    return {
      silver_rows: r.silver_rows!,
      silver_table_bytes: silver.table,
      silver_index_bytes: silver.indexes,
      groups: r.groups!,
      groups_bytes: groups.table + groups.indexes,
      gold_rows: goldRows,
      gold_rows_per_silver_row: goldRows / Math.max(1, r.silver_rows!),
      gold_bytes: goldBytes,
      pair_rows: r.gold_pairs!,
      pair_bytes: pairBytes,
      /** Level-10 counts of the large segments (built after the ingestion; not in gold_rows). */
      fine_rows: r.fine_rows!,
      fine_bytes: fineBytes,
      /** Level-8 pairs of the large segments (built after the ingestion; not in gold_rows). */
      fine_pair_rows: r.fine_pair_rows!,
      fine_pair_bytes: finePairs.table + finePairs.indexes,
      database_bytes: r.database_bytes!,
      bytes_per_trip: {
        silver: (silver.table + silver.indexes) / Math.max(1, r.silver_rows!),
        groups: (groups.table + groups.indexes) / Math.max(1, r.silver_rows!),
        gold: goldBytes / Math.max(1, r.silver_rows!),
      },
      bronze_rows_left: r.bronze_rows!,
      gold_equals_silver:
        r.sum_regions === r.silver_rows &&
        r.sum_origin === r.silver_rows &&
        r.sum_destination === r.silver_rows &&
        r.sum_pairs === r.silver_rows &&
        r.group_trips === r.silver_rows,
      autovacuum: vac,
    };
  });
}

type Request = {
  kind: "region" | "bbox";
  region?: string;
  bbox?: [number, number, number, number];
  match: (typeof MATCHES)[number];
  from?: string;
  to?: string;
};

/** Seeded random requests: a third by region, the rest by box (sometimes with a region), some with a period. */
export function randomRequests(n: number, seed: number): Request[] {
  const random = rng(seed * 7919 + 17);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const date = () =>
    new Date(Date.UTC(2019, 0, 7) + Math.floor(random() * 728) * 86_400_000).toISOString().slice(0, 10);
  return Array.from({ length: n }, (_, i) => {
    const r = pick(REGIONS);
    const period = random() < 0.3 ? [date(), date()].sort() : undefined;
    const req: Request = { kind: i % 3 === 0 ? "region" : "bbox", match: "origin" };
    if (req.kind === "region") req.region = r.name;
    else {
      const w = 0.005 + random() * 0.3;
      const h = 0.005 + random() * 0.2;
      const lon = r.lon + (random() - 0.5) * 2 * r.spread - w / 2;
      const lat = r.lat + (random() - 0.5) * 2 * r.spread - h / 2;
      req.bbox = [round(lon, 5), round(lat, 5), round(lon + w, 5), round(lat + h, 5)];
      req.match = pick(MATCHES);
      if (random() < 0.3) req.region = r.name;
    }
    if (period) [req.from, req.to] = period;
    return req;
  });
}

export const query = (r: Request) =>
  new URLSearchParams(
    Object.entries({
      region: r.region,
      bbox: r.bbox?.join(","),
      match: r.kind === "bbox" ? r.match : undefined,
      from: r.from,
      to: r.to,
    }).filter((e): e is [string, string] => e[1] !== undefined),
  ).toString();

type Answer = { from: string | null; to: string | null; weeks: number; trips: number; weekly_average: number };

/**
 * The same answer by a direct count over silver: trips whose points lie in the box (exact coordinates,
 * edges inclusive), found through the level-12 cell index, in the period the API reported.
 */
const DIRECT = (end: "origin" | "destination", both: boolean) => `
SELECT count(*)::bigint AS trips
FROM tripflow.box_ranges($1::float8, $2::float8, $3::float8, $4::float8) AS r
CROSS JOIN LATERAL (SELECT t.* FROM silver.trips AS t WHERE t.${end}_cell BETWEEN r.lo AND r.hi OFFSET 0) AS t
WHERE ($5::text IS NULL OR t.region_id = (SELECT id FROM silver.regions WHERE name = $5::text))
  AND t.trip_time >= $6::date AND t.trip_time < $7::date + 1
  AND ST_X(t.${end}) BETWEEN $1::float8 AND $3::float8 AND ST_Y(t.${end}) BETWEEN $2::float8 AND $4::float8
  ${both ? "AND ST_X(t.destination) BETWEEN $1::float8 AND $3::float8 AND ST_Y(t.destination) BETWEEN $2::float8 AND $4::float8" : ""}`;

/** Every region's trips per ISO week, by one scan of silver: the direct answer to every region request. */
const DIRECT_REGIONS = `
SELECT r.name AS region, date_trunc('week', t.trip_time)::date::text AS week, count(*)::bigint AS trips
FROM silver.trips AS t JOIN silver.regions AS r ON r.id = t.region_id
GROUP BY 1, 2`;

/** Step 5: the API's answers and their latency, next to a direct count over silver. */
async function requests(url: string, port: number, reqs: Request[], verifyBoxes = Infinity) {
  const api: ({ kind: string; ms: number; answer: Answer } | undefined)[] = [];
  let errors = 0;
  for (const r of reqs) {
    const t = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/stats/weekly-average?${query(r)}`);
    const body = await res.json();
    const ms = performance.now() - t;
    if (res.status !== 200) {
      errors++;
      api.push(undefined);
      continue;
    }
    const kind =
      r.kind === "region"
        ? "region"
        : r.match === "origin" || r.match === "destination"
          ? "box_one_end"
          : "box_both_ends";
    api.push({ kind, ms, answer: body as Answer });
  }
  const direct: number[] = [];
  const mismatches: string[] = [];
  let regionScanMs = NaN;
  let checked = 0;
  await withClient(url, async (c) => {
    const weekly = new Map<string, { week: string; trips: number }[]>();
    if (reqs.some((r) => !r.bbox)) {
      const t = performance.now();
      for (const row of (await c.query(DIRECT_REGIONS)).rows) {
        const list = weekly.get(row.region) ?? [];
        list.push({ week: row.week, trips: Number(row.trips) });
        weekly.set(row.region, list);
      }
      regionScanMs = performance.now() - t;
    }
    let boxes = 0;
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      const a = api[i]?.answer;
      if (!a) continue;
      if (r.bbox && boxes++ >= verifyBoxes) continue;
      const t = performance.now();
      let trips = 0;
      if (a.from !== null && a.to !== null) {
        const count = async (sql: string, params: unknown[]) => Number((await c.query(sql, params)).rows[0].trips);
        if (!r.bbox) {
          const to = a.to;
          trips = (weekly.get(r.region!) ?? [])
            .filter((w) => w.week >= a.from! && w.week <= to)
            .reduce((sum, w) => sum + w.trips, 0);
        } else {
          const params = [...r.bbox, r.region ?? null, a.from, a.to];
          const o = r.match === "origin" || r.match === "any" ? await count(DIRECT("origin", false), params) : 0;
          const d =
            r.match === "destination" || r.match === "any" ? await count(DIRECT("destination", false), params) : 0;
          const b = r.match === "both" || r.match === "any" ? await count(DIRECT("origin", true), params) : 0;
          trips = r.match === "any" ? o + d - b : o + d + b;
        }
      }
      if (r.bbox) direct.push(performance.now() - t);
      checked++;
      const average = a.weeks === 0 ? 0 : a.trips / a.weeks;
      if (a.trips !== trips || Math.abs(a.weekly_average - average) > 1e-9 * Math.max(1, average))
        mismatches.push(`${query(r)}: api ${a.trips} (${a.weekly_average}/week), direct ${trips}`);
    }
  });
  const ms = (kind?: string) => api.filter((x) => x && (!kind || x.kind === kind)).map((x) => x!.ms);
  const stat = (xs: number[]) => ({ n: xs.length, p50_ms: round(median(xs), 1), p95_ms: round(quantile(xs, 0.95), 1) });
  return {
    answers: api,
    errors,
    region: stat(ms("region")),
    box_one_end: stat(ms("box_one_end")),
    box_both_ends: stat(ms("box_both_ends")),
    all: stat(ms()),
    direct: stat(direct),
    direct_region_scan_ms: round(regionScanMs, 0),
    answers_checked: checked,
    answers_equal: checked - mismatches.length,
    mismatches: mismatches.slice(0, 20),
  };
}

/**
 * Step 5b: the same questions of DuckDB, loaded with the same file (test/bench/duckdb.ts), one after
 * the other while the service is idle: its p50 / p95 per kind next to tripflow's, and how many of its
 * counts equal tripflow's answers.
 */
async function sideBySide(file: string, out: string, reqs: Request[], api: Awaited<ReturnType<typeof requests>>) {
  const questions = reqs.map((r, i): ScanQuestion | null => {
    const a = api.answers[i]?.answer;
    if (!a || a.from === null || a.to === null) return null;
    return { region: r.region, bbox: r.bbox, match: r.match, from: a.from, to: a.to };
  });
  const duck = await duckdbSideBySide(file, path.join(out, "duckdb-side-by-side.db"), questions);
  const ms = (kind?: string) =>
    duck.answers.flatMap((d, i) => (d && (!kind || api.answers[i]!.kind === kind) ? [d.ms] : []));
  const stat = (xs: number[], tripflowP95: number) => ({
    n: xs.length,
    p50_ms: round(median(xs), 1),
    p95_ms: round(quantile(xs, 0.95), 1),
    tripflow_p95_ratio: round(tripflowP95 / quantile(xs, 0.95), 2),
  });
  const compared = duck.answers.flatMap((d, i) => (d ? [[d.trips, api.answers[i]!.answer.trips]] : []));
  return {
    load_seconds: round(duck.load_s, 1),
    region: stat(ms("region"), api.region.p95_ms),
    box_one_end: stat(ms("box_one_end"), api.box_one_end.p95_ms),
    box_both_ends: stat(ms("box_both_ends"), api.box_both_ends.p95_ms),
    all: stat(ms(), api.all.p95_ms),
    answers_compared: compared.length,
    answers_equal: compared.filter(([d, t]) => d === t).length,
  };
}

/**
 * Where the time goes: one extra chunk of freshly generated trips, promoted by the real transform
 * files under EXPLAIN (ANALYZE, BUFFERS, WAL) against the database as the run left it, then rolled
 * back. Returns each statement's execution time, the time silver.trips spent in its insert alone next
 * to the same rows inserted into a table without indexes (the floor any silver insert pays), and the
 * plans as text.
 */
export type Profile = {
  rows: number;
  statements: { name: string; ms: number }[];
  insert: { silver_ms: number; no_index_ms: number };
  plans?: string;
};

export async function profileChunk(url: string, o: BenchOptions): Promise<Profile & { plans: string }> {
  const rows = Math.min(o.rows, 250_000);
  const file = path.join(o.out, `profile-${rows}-s${o.seed}.csv`);
  await generate(rows, o.seed + 1000, file);
  const columns = ["region", "origin_coord", "destination_coord", "datetime", "datasource"];
  const statements: { name: string; ms: number }[] = [];
  const insert = { silver_ms: NaN, no_index_ms: NaN };
  let plans = "";
  try {
    await withClient(url, async (c) => {
      await c.query("BEGIN");
      try {
        await c.query("SET LOCAL jit = off"); // as the service's sessions (pipeline/core/db.ts)
        for (const setting of TRANSFORM_SETTINGS) await c.query(setting);
        const { rows: ing } = await c.query(
          `INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status, columns, chunks, lines)
           VALUES ('profile.csv', encode(sha256(random()::text::bytea), 'hex'), 0, 'transforming', $1, 1, $2) RETURNING id`,
          [columns, rows],
        );
        const id = Number(ing[0].id);
        await c.query(`CREATE TABLE bronze.trips_${id} PARTITION OF bronze.trips FOR VALUES IN (${id})`);
        await c.query(`ALTER TABLE bronze.trips_${id} ALTER COLUMN ingestion_id SET DEFAULT ${id}`);
        // The loader's own line reading (pipeline/bronze/parse.ts), timed apart from the COPY.
        const lines = readFileSync(file, "utf8").split("\n");
        const reader = lineReader(columns as Column[]);
        const parseStarted = performance.now();
        const out = new CopyBuffer();
        addBronzeRows(out, reader, lines.slice(1), 2);
        const text = out.take();
        statements.push({
          name: "loader: read and type the lines (Node)",
          ms: round(performance.now() - parseStarted, 0),
        });
        const copyStarted = performance.now();
        await pipeline(
          Readable.from(text),
          c.query(copyFrom(`COPY bronze.trips_${id} (${BRONZE_COLUMNS.join(", ")}) FROM STDIN`)),
        );
        statements.push({ name: "loader: COPY into bronze", ms: round(performance.now() - copyStarted, 0) });
        await c.query("INSERT INTO audit.steps (ingestion_id, step, chunk, rows) VALUES ($1, 'bronze', 0, $2)", [
          id,
          rows,
        ]);
        const args = [id, 2, rows + 1, 0];
        const steps: [string, string, unknown[]][] = [
          ["silver.dimensions", SQL.silverDimensions, args.slice(0, 3)],
          ["silver.trips", SQL.silverTrips, args],
          ...AGGREGATE_TRANSFORMS.map(([name, sql]) => [name, sql, args] as [string, string, unknown[]]),
        ];
        const explain = async (name: string, sql: string, params: unknown[]) => {
          const { rows: plan } = await c.query(`EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) ${sql}`, params);
          const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
          plans += `-- ${name}\n${text}\n\n`;
          return text;
        };
        for (const [name, sql, params] of steps) {
          const text = await explain(name, sql, params);
          const m = /Execution Time: ([\d.]+) ms/.exec(text);
          statements.push({ name, ms: m ? round(Number(m[1]), 0) : NaN });
          if (name === "silver.trips") insert.silver_ms = round(insertOnlyMs(text, "trips"), 0);
        }
        // The floor under silver.trips' insert: the same rows, in the same order, into a logged table
        // of the same columns with no index at all (heap rows and their WAL only).
        await c.query("CREATE TABLE bronze.profile_floor (LIKE silver.trips)");
        const floor = await explain(
          "floor: the chunk's silver rows into a table without indexes",
          "INSERT INTO bronze.profile_floor SELECT * FROM silver.trips WHERE ingestion_id = $1 ORDER BY origin_cell",
          [id],
        );
        insert.no_index_ms = round(insertOnlyMs(floor, "profile_floor"), 0);
      } finally {
        await c.query("ROLLBACK");
      }
      // The rolled-back chunk left its dead rows in segment 0 and its aggregates: gone again, so that
      // the database the benchmark leaves answers as it did when it was measured.
      await c.query(`VACUUM ${PARENTS.map(([, parent]) => `${parent}_0`).join(", ")}`);
    });
  } finally {
    await rm(file, { force: true });
  }
  return { rows, statements, insert, plans };
}

/**
 * The time an EXPLAIN ANALYZE plan spent in its `Insert on <table>` node itself: the node's total less
 * the total of the node feeding it rows (reading, joining, computing and sorting them).
 */
export function insertOnlyMs(plan: string, table: string): number {
  const lines = plan.split("\n");
  const at = lines.findIndex((l) => new RegExp(`Insert on ${table}\\b`).test(l));
  if (at < 0) return NaN;
  const total = (l: string) => Number(/actual time=[\d.]+\.\.([\d.]+)/.exec(l)?.[1] ?? NaN);
  const indent = lines[at]!.search(/\S/);
  const child = lines.slice(at + 1).find((l) => l.trimStart().startsWith("->"));
  if (!child || child.search(/\S/) <= indent) return NaN;
  return total(lines[at]!) - total(child);
}

/**
 * What the profile allows at best: the rate the pipeline would reach if its steps cost what one chunk
 * costs alone and every core were busy all the time, as a ratio to the reference COPY; `measured`
 * is the run's own ratio as a share of the first ceiling (how well the pipeline uses the cores).
 */
export function ceilings(profile: Profile, cores: number, referenceRowsPerSecond: number, measuredRatio: number) {
  const ms = (names: (n: string) => boolean) =>
    profile.statements.filter((x) => names(x.name)).reduce((a, x) => a + x.ms, 0);
  const ratio = (totalMs: number) => round((cores * profile.rows) / (totalMs / 1000) / referenceRowsPerSecond, 3);
  const merges = new Set<string>(AGGREGATE_TRANSFORMS.map(([name]) => name));
  const every = ms(() => true);
  const throughSilver = ms((n) => !merges.has(n));
  const indexes = profile.insert.silver_ms - profile.insert.no_index_ms;
  return {
    every_step: ratio(every),
    without_groups_and_gold: ratio(throughSilver),
    without_groups_gold_and_silver_indexes: ratio(throughSilver - indexes),
    silver_index_share_of_insert: round(indexes / profile.insert.silver_ms, 2),
    measured_share_of_ceiling: round(measuredRatio / ratio(every), 2),
  };
}

async function machine(url: string) {
  return withClient(url, async (c) => {
    const { rows } = await c.query(`SELECT version() AS pg, postgis_lib_version() AS postgis,
      current_setting('shared_buffers') AS shared_buffers, current_setting('max_wal_size') AS max_wal_size,
      current_setting('work_mem') AS work_mem, current_setting('synchronous_commit') AS synchronous_commit,
      current_setting('max_parallel_workers_per_gather') AS max_parallel_workers_per_gather,
      current_setting('checkpoint_timeout') AS checkpoint_timeout, current_setting('wal_compression') AS wal_compression`);
    let commit = "unknown";
    try {
      // git itself: a worktree's .git is a file, and a branch's ref may be packed.
      commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
    } catch {
      /* not a checkout */
    }
    return {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: String(rows[0].pg).split(" on ")[0],
      postgis: rows[0].postgis,
      duckdb: DUCKDB_VERSION,
      settings: { ...rows[0], pg: undefined, postgis: undefined },
      commit: commit.slice(0, 12),
    };
  });
}

const mb = (b: number) => `${round(b / 2 ** 20, 1)} MB`;

const DUCK_KIND = {
  region: "region",
  box_one_end: "box, origin or destination",
  box_both_ends: "box, both or any",
  all: "all",
} as const;

export function markdown(r: BenchResult): string {
  const s = r.stages;
  const d = r.during_load;
  const lines = [
    `# tripflow benchmark: ${r.rows.toLocaleString("en")} trips (seed ${r.seed})`,
    "",
    `Command: \`npm run bench -- --rows ${r.rows} --seed ${r.seed} --requests ${r.requests}\`  `,
    `Machine: ${r.machine.cores} × ${r.machine.cpu}, ${r.machine.memory_gb} GB, ${r.machine.os}; Node ${r.machine.node}; ${r.machine.postgres}, PostGIS ${r.machine.postgis}  `,
    `PostgreSQL settings: shared_buffers ${r.machine.settings.shared_buffers}, max_wal_size ${r.machine.settings.max_wal_size}, work_mem ${r.machine.settings.work_mem}, checkpoint_timeout ${r.machine.settings.checkpoint_timeout}, wal_compression ${r.machine.settings.wal_compression}, synchronous_commit ${r.machine.settings.synchronous_commit}  `,
    `Commit ${r.machine.commit}, run ${r.started_at}`,
    "",
    "| measure | value |",
    "|---|---|",
    `| input file | ${mb(r.file_bytes)} |`,
    `| reference: plain COPY into a logged text table (median of ${r.reference.seconds.length}) | ${r.reference.median_seconds} s, ${r.reference.rows_per_second.toLocaleString("en")} rows/s |`,
    `| pipeline: landing drop → ingestion.completed | ${s.wall_seconds} s, ${r.pipeline_rows_per_second.toLocaleString("en")} rows/s |`,
    `| **ratio pipeline / reference COPY** | **${r.ratio_to_copy}** |`,
    `| stages, seconds after the drop: discovered (file settled and hashed) | ${s.to_discovered} |`,
    `| — bronze loaded (all ${s.chunks} chunks COPYed) | ${s.to_bronze_loaded} |`,
    `| — last chunk promoted to silver | ${s.to_last_silver} |`,
    `| — groups and gold merged, ingestion.completed | ${s.to_completed} |`,
    `| busy time summed over chunks: silver / groups / gold | ${s.silver_busy_seconds} s / ${s.groups_busy_seconds} s / ${s.gold_busy_seconds} s |`,
    `| the seal (a large file): all / index builds beside its own groups and gold / attach | ${s.seal ? `${s.seal.seconds} s / ${s.seal.indexes_seconds} s / ${s.seal.attach_seconds} s` : "none (chunk by chunk)"} |`,
    `| rows loaded / rejected | ${s.rows_loaded.toLocaleString("en")} / ${s.rows_rejected} |`,
    `| VACUUM (ANALYZE) of silver and gold after the ingestion (maintain task) | ${s.vacuum ? `${round(s.vacuum.ms / 1000, 1)} s, done ${s.vacuum.after_completed_s} s after ingestion.completed` : "**not seen**"} |`,
    `| service peak memory (VmHWM) | ${round(r.peak_rss_mb, 0)} MB |`,
    `| silver.trips: table + indexes | ${mb(r.storage.silver_table_bytes)} + ${mb(r.storage.silver_index_bytes)} (${round(r.storage.bytes_per_trip.silver, 0)} B/trip) |`,
    `| silver.trip_groups: groups, size | ${r.storage.groups.toLocaleString("en")}, ${mb(r.storage.groups_bytes)} (${round(r.storage.bytes_per_trip.groups, 1)} B/trip) |`,
    `| gold: rows, size | ${r.storage.gold_rows.toLocaleString("en")} (${round(100 * r.storage.gold_rows_per_silver_row, 2)} % of silver rows), ${mb(r.storage.gold_bytes)} (${round(r.storage.bytes_per_trip.gold, 1)} B/trip) |`,
    `| — of which gold.weekly_cell_pairs (both-ends answers) | ${r.storage.pair_rows.toLocaleString("en")} rows, ${mb(r.storage.pair_bytes)} |`,
    `| level-10 counts of large segments, built after the ingestion (gold.weekly_origin_fine, _destination_fine) | ${r.storage.fine_rows.toLocaleString("en")} rows (${round((100 * r.storage.fine_rows) / Math.max(1, r.storage.silver_rows), 2)} % of silver rows), ${mb(r.storage.fine_bytes)} |`,
    `| level-8 pairs of large segments, built after the ingestion (gold.weekly_cell_pairs_fine) | ${r.storage.fine_pair_rows.toLocaleString("en")} rows (${round((100 * r.storage.fine_pair_rows) / Math.max(1, r.storage.silver_rows), 2)} % of silver rows), ${mb(r.storage.fine_pair_bytes)} |`,
    `| both built after the ingestion (gold.refined) | ${r.refined.segments} segment(s) in ${r.refined.seconds} s, requests timed ${r.refined.waited_seconds} s after the vacuum |`,
    `| database size | ${mb(r.storage.database_bytes)} (${round(r.storage.database_bytes / r.rows, 0)} B/trip) |`,
    `| gold totals = silver total; bronze released | ${r.storage.gold_equals_silver ? "yes" : "**NO**"}; ${r.storage.bronze_rows_left === 0 ? "yes" : `**${r.storage.bronze_rows_left} rows left**`} |`,
    `| API weekly-average, region: p50 / p95 (n=${r.queries.region.n}) | ${r.queries.region.p50_ms} / ${r.queries.region.p95_ms} ms |`,
    `| API weekly-average, bbox with match=origin or destination: p50 / p95 (n=${r.queries.box_one_end.n}) | ${r.queries.box_one_end.p50_ms} / ${r.queries.box_one_end.p95_ms} ms |`,
    `| API weekly-average, bbox with match=both or any: p50 / p95 (n=${r.queries.box_both_ends.n}) | ${r.queries.box_both_ends.p50_ms} / ${r.queries.box_both_ends.p95_ms} ms |`,
    `| API weekly-average, all requests: p50 / p95 (n=${r.queries.all.n}) | ${r.queries.all.p50_ms} / ${r.queries.all.p95_ms} ms |`,
    `| box answers by a direct count over silver (cell index, every point tested): p50 / p95 | ${r.queries.direct.p50_ms} / ${r.queries.direct.p95_ms} ms |`,
    `| region answers by a direct count: one scan of silver grouping every region and week | ${r.queries.direct_region_scan_ms} ms |`,
    `| answers equal to the direct count | ${r.queries.answers_equal} of ${r.queries.answers_checked} checked (of ${r.queries.all.n} answered)${r.queries.errors ? `, ${r.queries.errors} errors` : ""} |`,
    ...(r.duckdb
      ? [
          `| DuckDB ${r.machine.duckdb}, the same file loaded (read_csv, points and time typed) | ${r.duckdb.load_seconds} s |`,
          ...(["region", "box_one_end", "box_both_ends", "all"] as const).map((k) => {
            const x = r.duckdb![k];
            return `| DuckDB, the same questions as a scan grouped by week, ${DUCK_KIND[k]}: p50 / p95 (n=${x.n}); tripflow's p95 ÷ DuckDB's | ${x.p50_ms} / ${x.p95_ms} ms; **${x.tripflow_p95_ratio}** |`;
          }),
          `| DuckDB's counts equal to tripflow's answers | ${r.duckdb.answers_equal} of ${r.duckdb.answers_compared} |`,
        ]
      : []),
    ...(d
      ? [
          `| a second file of ${d.rows.toLocaleString("en")} trips into this database: drop → ingestion.completed | ${d.wall_seconds} s${d.seal ? ` (seal ${d.seal.seconds} s)` : ""}; gold = silver after it: ${d.gold_equals_silver ? "yes" : "**NO**"} |`,
          `| API weekly-average while it loads: p50 / p95 (n=${d.requests.n}${d.requests.errors ? `, ${d.requests.errors} errors` : ""}); p95 ÷ idle p95 | ${d.requests.p50_ms} / ${d.requests.p95_ms} ms; ${d.p95_ratio_to_idle} |`,
        ]
      : []),
    "",
  ];
  if (r.queries.mismatches.length) lines.push("Mismatches:", "", ...r.queries.mismatches.map((m) => `- ${m}`), "");
  lines.push(
    `One more chunk of ${r.profile.rows.toLocaleString("en")} trips through each transform under EXPLAIN ANALYZE, against the database as this run left it (rolled back):`,
    "",
    "| transform | ms | µs per trip |",
    "|---|---|---|",
    ...r.profile.statements.map((x) => `| ${x.name} | ${x.ms} | ${round((1000 * x.ms) / r.profile.rows, 1)} |`),
    `| — of silver.trips, the insert itself (heap row, primary key, two cell indexes, BRIN) | ${r.profile.insert.silver_ms} | ${round((1000 * r.profile.insert.silver_ms) / r.profile.rows, 1)} |`,
    `| — the same rows into a table without indexes (heap row and WAL only) | ${r.profile.insert.no_index_ms} | ${round((1000 * r.profile.insert.no_index_ms) / r.profile.rows, 1)} |`,
    "",
    `Ceilings from this profile: the ratio to the reference COPY if every step cost what it costs here alone and all ${r.machine.cores} cores were busy all the time:`,
    "",
    "| pipeline | ratio at best |",
    "|---|---|",
    `| every step (as shipped) | ${r.ceilings.every_step} |`,
    `| groups and gold merges free | ${r.ceilings.without_groups_and_gold} |`,
    `| groups and gold merges free, silver.trips without indexes | ${r.ceilings.without_groups_gold_and_silver_indexes} |`,
    "",
    `Measured ratio ${r.ratio_to_copy}: ${round(100 * r.ceilings.measured_share_of_ceiling, 0)} % of the first ceiling. Silver's indexes are ${round(100 * r.ceilings.silver_index_share_of_insert, 0)} % of its insert.`,
    "",
  );
  return lines.join("\n");
}

export type BenchResult = Awaited<ReturnType<typeof runBench>>;

export async function runBench(o: BenchOptions) {
  const log = (s: string) => o.quiet || process.stderr.write(`bench: ${s}\n`);
  await mkdir(o.out, { recursive: true });
  const started_at = new Date().toISOString();
  const server =
    o.server ??
    (process.env.DATABASE_URL
      ? withDatabase(process.env.DATABASE_URL, "postgres")
      : await findLocalServer(path.join(ROOT, ".data"), pino({ level: "silent" })));
  await withClient(server, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${o.database} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${o.database}`);
  });
  const url = withDatabase(server, o.database);
  const { file, seconds: generationSeconds } = await dataFile(o, log);
  const fileBytes = (await stat(file)).size;

  log(`reference COPY, ${o.referenceRuns} run(s)`);
  const ref = await referenceCopy(url, file, o.referenceRuns);
  const refMedian = median(ref);

  const dir = path.join(o.out, `run-${o.rows}-s${o.seed}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  log("starting the service");
  const svc = await startService(url, dir);
  try {
    log(`dropping ${path.basename(file)} into the landing folder`);
    const stages = await ingest(url, svc, file, dir, Math.max(600_000, o.rows * 2));
    log(`ingested in ${stages.wall_seconds} s; waiting for the compaction's job (level-10 counts)`);
    const refined = await refinement(url, Math.max(600_000, o.rows * 2));
    log("measuring storage");
    const store = await storage(url);
    log(`firing ${o.requests} requests`);
    const asked = randomRequests(o.requests, o.seed);
    const { answers, ...queries } = await requests(url, svc.port, asked, o.verifyBoxes);
    let duckdb = null;
    if (o.duckdb !== false) {
      log("the same questions of DuckDB, loaded with the same file");
      duckdb = await sideBySide(file, o.out, asked, { answers, ...queries });
    }
    const secondRows = o.duringLoadRows ?? Math.max(1000, Math.round(o.rows / 2));
    let during_load = null;
    if (secondRows > 0) {
      const { file: second } = await dataFile({ ...o, rows: secondRows, seed: o.seed + 1 }, log);
      log(`dropping a second file (${secondRows.toLocaleString("en")} trips) and firing requests while it loads`);
      const reqs = randomRequests(o.requests, o.seed + 1);
      const loaded = await requestsDuringLoad(url, svc, second, dir, reqs, Math.max(600_000, o.rows * 2));
      const after = await storage(url);
      during_load = {
        rows: secondRows,
        wall_seconds: loaded.stages.wall_seconds,
        seal: loaded.stages.seal,
        requests: { n: loaded.n, errors: loaded.errors, p50_ms: loaded.p50_ms, p95_ms: loaded.p95_ms },
        p95_ratio_to_idle: round(loaded.p95_ms / queries.all.p95_ms, 2),
        gold_equals_silver: after.gold_equals_silver,
        silver_rows: after.silver_rows,
      };
    }
    const peak = svc.peakRssMb();
    log("profiling one more chunk with EXPLAIN (ANALYZE, BUFFERS, WAL)");
    const profile = await profileChunk(url, o);
    const referenceRowsPerSecond = Math.round(o.rows / refMedian);
    const ratioToCopy = round(refMedian / stages.wall_seconds, 3);
    const result = {
      rows: o.rows,
      seed: o.seed,
      requests: o.requests,
      started_at,
      machine: await machine(url),
      file_bytes: fileBytes,
      generation_seconds: generationSeconds === null ? null : round(generationSeconds, 1),
      reference: {
        seconds: ref.map((x) => round(x, 2)),
        median_seconds: round(refMedian, 2),
        rows_per_second: referenceRowsPerSecond,
      },
      stages,
      refined,
      pipeline_rows_per_second: Math.round(o.rows / stages.wall_seconds),
      ratio_to_copy: ratioToCopy,
      peak_rss_mb: peak,
      storage: store,
      queries,
      duckdb,
      during_load,
      profile,
      ceilings: ceilings(profile, os.cpus().length, referenceRowsPerSecond, ratioToCopy),
    };
    return result;
  } finally {
    await svc.stop();
  }
}

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: "string", default: "100000" },
      seed: { type: "string", default: "1" },
      requests: { type: "string", default: "300" },
      out: { type: "string", default: path.join(ROOT, ".data/bench") },
      database: { type: "string", default: "tripflow_bench" },
      "reference-runs": { type: "string" },
      "verify-boxes": { type: "string" },
      "during-load-rows": { type: "string" },
      "no-duckdb": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: npm run bench -- --rows N [--seed S] [--requests R] [--out DIR] [--database NAME] [--reference-runs K] [--verify-boxes B] [--during-load-rows M] [--no-duckdb]\n" +
        "  N accepts 1000000, 1e6, 250k, 10M. Results: DIR/bench-N-sS.json and .md (DIR defaults to .data/bench).\n" +
        "  Every region answer is checked against one grouped scan of silver; box answers by a direct count each\n" +
        "  (all of them up to 10M trips, the first B=40 above: each reads every trip in its box).\n" +
        "  The same file is loaded into DuckDB and asked the same questions, timed side by side (--no-duckdb: not).\n" +
        "  Then a second file of M trips (default N/2; 0: none) is dropped while requests keep coming.\n",
    );
    return;
  }
  const rows = parseCount(values.rows!);
  if (!/^[a-z_][a-z0-9_]*$/.test(values.database!)) throw new Error("--database must be a plain lower-case identifier");
  const o: BenchOptions = {
    duckdb: !values["no-duckdb"],
    rows,
    seed: parseCount(values.seed!),
    requests: parseCount(values.requests!),
    out: path.resolve(values.out!),
    database: values.database!,
    referenceRuns: values["reference-runs"] ? parseCount(values["reference-runs"]) : rows <= 10_000_000 ? 3 : 1,
    verifyBoxes: values["verify-boxes"] ? Number(values["verify-boxes"]) : rows <= 10_000_000 ? Infinity : 40,
    duringLoadRows: !values["during-load-rows"]
      ? undefined
      : values["during-load-rows"] === "0"
        ? 0
        : parseCount(values["during-load-rows"]),
  };
  const result = await runBench(o);
  const base = path.join(o.out, `bench-${o.rows}-s${o.seed}`);
  await writeFile(
    `${base}.json`,
    JSON.stringify({ ...result, profile: { ...result.profile, plans: undefined } }, null, 2) + "\n",
  );
  await writeFile(`${base}-plans.txt`, result.profile.plans);
  const md = markdown(result);
  await writeFile(`${base}.md`, md);
  process.stdout.write(md + `\nwritten: ${base}.json, ${base}.md, ${base}-plans.txt\n`);
  const ok =
    result.queries.answers_equal === result.queries.answers_checked &&
    (result.duckdb === null || result.duckdb.answers_equal === result.duckdb.answers_compared) &&
    result.queries.errors === 0 &&
    result.storage.gold_equals_silver;
  process.exitCode = ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  cli().catch((err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exit(1);
  });
}
