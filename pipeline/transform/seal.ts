import type pg from "pg";
import { inTransaction, recordEvent } from "../core/audit.ts";
import {
  completeIfDone,
  enterIngestion,
  holdingIngestionShared,
  lockAggregates,
  lockIngestion,
  PARENTS,
  segmentSql,
  segmentTable,
  segmentTables,
} from "../core/lifecycle.ts";
import { withSession } from "../core/db.ts";
import { SQL } from "../core/sql.ts";

/**
 * The indexes of a segment's trips table: the same as silver.trips' partitioned indexes (db/migrations/12),
 * so that attaching the table links them instead of building them. No unique key on the lines: each
 * chunk's rows commit with its marker, once (loader.ts), so a line cannot be there twice.
 */
export function segmentIndexes(table: string): string[] {
  const name = table.replace(/^silver\./, "");
  return [
    `CREATE INDEX IF NOT EXISTS ${name}_origin_cell ON ${table} (origin_cell) INCLUDE (destination_cell, trip_time, region_id, origin_subcell)`,
    `CREATE INDEX IF NOT EXISTS ${name}_destination_cell ON ${table} (destination_cell) INCLUDE (origin_cell, trip_time, region_id, destination_subcell)`,
    `CREATE INDEX IF NOT EXISTS ${name}_time_brin ON ${table} USING brin (trip_time)`,
  ];
}

/**
 * The settings of an index build over about `rows` trips: its sort memory, the least that still merges
 * its sorted runs in one pass, and no parallel worker. Smaller runs sort in the processor's caches: one
 * covering build over 1 M trips took 0.62–0.65 s with 16 MB against 0.80–1.01 s with 64 MB, over
 * 10 M 6.7 s against 7.3–7.6 s (512 MB: 12.4 s; docs/scalability.md). PostgreSQL 15 merges at most
 * memory ÷ 272 kB runs at once, and a run holds about memory ÷ 87 B entries (an entry of these
 * indexes takes 87 B in memory), so one pass needs memory ≥ √(rows × 87 B × 272 kB): 15 MB at 10 M
 * trips, 47 MB at 100 M. A quarter more is asked, 16 MB at least (19 MB at 10 M, 59 MB at 100 M).
 * No parallel worker: the builds and the aggregates already keep both cores busy for the seal's first
 * part, and a fourth process only takes CPU from the API's answers (at 10 M their p95 during a load
 * went from 3.0 to 2.45 times idle without it, for a first part 39.6 s long instead of 34–37 s).
 *
 * @example indexSettings(1_000_000) // ["SET maintenance_work_mem = '16MB'", ...]
 */
export function indexSettings(rows: number): string[] {
  const onePass = Math.sqrt((Number.isFinite(rows) && rows > 0 ? rows : 0) * 87 * 272 * 1024) / 2 ** 20;
  const mb = Math.min(1024, Math.max(16, Math.ceil(onePass * 1.25)));
  return [`SET maintenance_work_mem = '${mb}MB'`, "SET max_parallel_maintenance_workers = 0"];
}

/**
 * The columns of a segment whose statistics the seal gathers before the file becomes visible: all but
 * the two points, which no query filters or groups by and whose statistics cost as much as all the
 * others together (1 M trips: 0.21 s against 0.22 s). The maintenance run after the ingestion
 * (tasks/maintain.ts) analyzes every column.
 */
const ANALYZED = [
  "ingestion_id",
  "line_no",
  "region_id",
  "datasource_id",
  "trip_time",
  "origin_cell",
  "destination_cell",
  "tod_minute",
  "segment",
  "origin_subcell",
  "destination_subcell",
];

/**
 * Aggregates hash their groups in memory (the groups of 10 M trips take 220 MB; sorting instead took
 * 1.5 times as long), with no parallel worker: beside the index builds, two more processes would only
 * share the same two cores (alone on the machine, the groups of 10 M trips took 11.8 s with two workers
 * and 11.1 s without).
 */
export const STAGE_SETTINGS = ["SET work_mem = '256MB'", "SET max_parallel_workers_per_gather = 0"];

/**
 * From this many trips on, the seal builds the segment's BRIN index on a fourth session from its start
 * (sealSegment). Below, the table is in the machine's cache and the build is a short step (0.2 s at 1 M,
 * 1.2 s at 10 M) better taken by the first session free than run against the others from the start.
 */
const BRIN_APART_MIN_ROWS = 20_000_000;

/** SQL files of a segment's table, in one query (one transaction): e.g. its table, its aggregate, its key. */
const inOne = (id: number, ...sql: string[]) => sql.map((text) => segmentSql(text, id)).join("\n");

/** The seal's own weekly counts, groups and weekly cell pairs of a segment: tables, aggregate, keys. */
const STAGE_GOLD = (id: number) => inOne(id, SQL.sealGoldTables, SQL.sealStageGold, SQL.sealGoldKeys);
const STAGE_GROUPS = (id: number) => inOne(id, SQL.sealGroupsTable, SQL.sealStageGroups, SQL.sealGroupsKeys);
const STAGE_PAIRS = (id: number) => inOne(id, SQL.sealPairsTable, SQL.sealStagePairs, SQL.sealPairsKeys);

type Staged = {
  counts: boolean;
  countsKeyed: boolean;
  pairs: boolean;
  pairsKeyed: boolean;
  groups: boolean;
  groupsKeyed: boolean;
};

/**
 * Which of a segment's gold tables the load wrote (pipeline/bronze/weekly_counts.ts): the three weekly
 * count tables (created and filled in one transaction, so whole; `countsKeyed` once the seal has built
 * their keys), the cell pairs table (the same; `pairsKeyed`) and the groups table (`groupsKeyed`).
 */
async function goldStaged(pool: pg.Pool, id: number): Promise<Staged> {
  const t = segmentTables(id);
  const { rows } = await pool.query<Staged>(
    `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL AS counts,
            (SELECT count(*) = 3 FROM pg_index WHERE indrelid IN (to_regclass($1), to_regclass($2), to_regclass($3)) AND indisprimary) AS "countsKeyed",
            to_regclass($4) IS NOT NULL AS pairs,
            EXISTS (SELECT FROM pg_index WHERE indrelid = to_regclass($4) AND indisprimary) AS "pairsKeyed",
            to_regclass($5) IS NOT NULL AS groups,
            EXISTS (SELECT FROM pg_index WHERE indrelid = to_regclass($5) AND indisprimary) AS "groupsKeyed"`,
    [t.regions, t.origins, t.destinations, t.pairs, t.groups],
  );
  return rows[0]!;
}

type Sealed = { applied: boolean; rows: number; indexesMs: number; attachMs: number };

/** A step of the seal: its name (in `silver.sealed`) and its statements. */
type Step = { step: string; sql: string | string[] };

/**
 * Runs `own` on a client of its own that holds the ingestion's lock shared for the time (a
 * withdrawal, which drops the segment, waits for them), if the ingestion is still a running bulk load;
 * then takes steps from `shared` (a queue the sessions share: each step runs once, on the session that
 * is free first) until it is empty. `ended` hears each step's end. Returns false when the ingestion is
 * not a running bulk load.
 */
async function onSegment(
  pool: pg.Pool,
  id: number,
  settings: string[],
  own: Step[],
  shared: Step[],
  ended: (step: string) => void,
): Promise<boolean> {
  return withSession(pool, settings, (client) =>
    holdingIngestionShared(client, id, async () => {
      const { rows } = await client.query<{ live: boolean }>(
        "SELECT status IN ('loading', 'transforming') AND load_mode = 'bulk' AS live FROM audit.ingestions WHERE id = $1::bigint",
        [id],
      );
      if (!rows[0]?.live) return false;
      for (let step = own.shift() ?? shared.shift(); step; step = own.shift() ?? shared.shift()) {
        for (const sql of [step.sql].flat()) await client.query(sql);
        ended(step.step);
      }
      return true;
    }),
  );
}

/**
 * Seals a bulk ingestion's segment once all its chunks are in it (queued by core/jobs.ts
 * queueSealIfReady). First, side by side: the segment's indexes, each built by one sort, and its own
 * groups and weekly counts in tables shaped like silver.trip_groups and gold (db/transforms/seal/),
 * each aggregated by one scan of the segment, but those the load kept while it read the lines
 * (pipeline/bronze/weekly_counts.ts: the weekly counts, and the groups of files up to about a million
 * trips), whose keys only are built here. Each is its own transaction, and an interrupted
 * one is simply done again.
 * Then one transaction attaches the segment and its groups and gold as partitions (nothing is merged
 * into shared rows: readers add a key's rows up over the segments), marks every chunk merged and
 * completes the ingestion: the file becomes visible to answers at once, whole. Running it again
 * changes nothing (the `silver.sealed` marker).
 *
 * @example await sealSegment(pool, 7);
 */
export async function sealSegment(pool: pg.Pool, id: number): Promise<Sealed> {
  const started = Date.now();
  const notApplied = { applied: false, rows: 0, indexesMs: 0, attachMs: 0 };
  // The indexes and the file's own aggregates, side by side, each on a session of its own: whichever
  // ends first leaves its core to the others and takes the short steps left (keys, the BRIN index,
  // ANALYZE). When the load wrote the weekly counts and the groups (files up to about a million
  // trips), the two index builds take the two cores; when it wrote the counts only, they take two
  // sessions beside the groups' aggregate (the longest of the three at 1 M, the index builds at 100 M,
  // whose sorts grow faster); otherwise one, beside the groups and the gold aggregates.
  const trips = segmentTable(id);
  const [origin, destination, brin] = segmentIndexes(trips) as [string, string, string];
  const staged = await goldStaged(pool, id);
  // The trips its chunks stored (the sort's size; the final transaction reads the same again, under its locks).
  const { rows: stored } = await pool.query<{ rows: number }>(SQL.sealState, [id]);
  const segmentRows = stored[0]?.rows ?? 0;
  const indexSettingsOfSegment = indexSettings(segmentRows);
  const groups = STAGE_GROUPS(id);
  const build = (step: string, ...statements: string[]) => ({ step, settings: indexSettingsOfSegment, statements });
  const stage = (step: string, statements: string) => ({ step, settings: STAGE_SETTINGS, statements: [statements] });
  // A large segment's BRIN index on a session of its own from the start: its scan reads the table
  // beside the other builds' scans, while the pages are still cached, instead of alone at the end
  // (100 M trips: the seal's last 20 s).
  const brinApart = segmentRows >= BRIN_APART_MIN_ROWS;
  const sessions = [
    ...(staged.counts
      ? [
          build("origin index", origin),
          build("destination index", destination),
          ...(staged.groups ? [] : [stage("groups", groups)]),
        ]
      : [build("indexes", origin, destination), stage("groups", groups), stage("gold", STAGE_GOLD(id))]),
    ...(brinApart ? [build("BRIN index", brin)] : []),
  ];
  // The keys of the groups and the weekly counts the load wrote, and the cell pairs, go to the session
  // that ends first: their keys when the load wrote them, or the whole pairs table when the load could
  // not keep them (too many for its memory bound; work_mem as the aggregates', set for that step alone).
  const groupsStep: Step[] =
    staged.groups && !staged.groupsKeyed ? [{ step: "groups key", sql: segmentSql(SQL.sealGroupsKeys, id) }] : [];
  const countsStep: Step[] =
    staged.counts && !staged.countsKeyed ? [{ step: "gold keys", sql: segmentSql(SQL.sealGoldKeys, id) }] : [];
  const pairsStep: Step[] = staged.pairsKeyed
    ? []
    : staged.pairs
      ? [{ step: "cell pairs key", sql: segmentSql(SQL.sealPairsKeys, id) }]
      : [
          {
            step: "cell pairs",
            sql: [...STAGE_SETTINGS, STAGE_PAIRS(id), "RESET work_mem", "RESET max_parallel_workers_per_gather"],
          },
        ];
  const shortSteps: Step[] = [
    ...groupsStep,
    ...countsStep,
    ...pairsStep,
    ...(brinApart ? [] : [{ step: "BRIN index", sql: brin }]),
    { step: "ANALYZE", sql: `ANALYZE ${trips} (${ANALYZED.join(", ")})` },
  ];
  const steps: { step: string; ms: number }[] = [];
  const done = await Promise.all(
    sessions.map((s) =>
      onSegment(pool, id, s.settings, [{ step: s.step, sql: s.statements }], shortSteps, (step) =>
        steps.push({ step, ms: Date.now() - started }),
      ),
    ),
  );
  if (done.includes(false)) return notApplied;
  const indexesMs = Date.now() - started;
  return inTransaction(pool, async (tx) => {
    if (!(await enterIngestion(tx, id))) return notApplied;
    // The writers of the groups and of gold, in the order every merge takes them, then the row lock:
    // the loader's last transaction and this one decide one at a time.
    await lockAggregates(tx, "groups", "gold");
    await lockIngestion(tx, id);
    // A load resumed after a crash loads the file again (its chunks in silver are kept): the seal waits
    // for it to end, and the loader's last transaction queues it again.
    const { rows: ready } = await tx.query<{ ready: boolean }>(SQL.sealReady, [id]);
    if (!ready[0]?.ready) return notApplied;
    const { rows } = await tx.query<{ sealed: boolean; chunks: number; rows: number }>(SQL.sealState, [id]);
    const state = rows[0]!;
    if (state.sealed) return notApplied;
    const attachStarted = Date.now();
    // Each table holds `segment = id` by a check, so no attach reads it, and has its parent's indexes.
    const own = segmentTables(id);
    for (const [table, parent] of PARENTS)
      await tx.query(`ALTER TABLE ${parent} ATTACH PARTITION ${own[table]} FOR VALUES IN (${id})`);
    await tx.query(SQL.sealMarkers, [id, state.chunks]);
    await tx.query(
      "INSERT INTO audit.steps (ingestion_id, step, chunk, rows) VALUES ($1::bigint, 'silver.sealed', 0, $2::bigint)",
      [id, state.rows],
    );
    const attachMs = Date.now() - attachStarted;
    await recordEvent(tx, id, "silver.sealed", {
      rows: state.rows,
      chunks: state.chunks,
      gold_from_load: staged.counts,
      pairs_from_load: staged.pairs,
      groups_from_load: staged.groups,
      indexes_ms: indexesMs,
      steps,
      attach_ms: attachMs,
      ms: Date.now() - started,
    });
    // Every chunk is marked merged above: a seal that does not complete its ingestion is a bug.
    if (!(await completeIfDone(tx, id))) throw new Error(`ingestion ${id}: sealed but not complete`);
    return { applied: true, rows: state.rows, indexesMs, attachMs };
  });
}
