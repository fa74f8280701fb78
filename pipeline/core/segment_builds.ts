import type pg from "pg";
import { holdingIngestionShared, segmentTable } from "./lifecycle.ts";

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
 * Runs `fn` on a client of its own with the session `settings` (SET ...), reset before the client goes
 * back to the pool: the seal's and the compaction's long builds, each on its own session.
 */
export async function withSession<T>(
  pool: pg.Pool,
  settings: string[],
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    for (const setting of settings) await client.query(setting);
    return await fn(client);
  } finally {
    await client.query("RESET ALL").catch(() => {});
    client.release();
  }
}

/**
 * Builds a bulk ingestion's two cell indexes (segmentIndexes), each on a session of its own holding the
 * ingestion's lock shared (a withdrawal waits for them): the loader runs them beside its last
 * transaction (pipeline/bronze/intake.ts), when the seal would have nothing else to build first. Each
 * commits on its own; one interrupted is built by the seal (CREATE INDEX IF NOT EXISTS).
 */
export async function buildSegmentIndexes(pool: pg.Pool, id: number, rows: number): Promise<void> {
  const [origin, destination] = segmentIndexes(segmentTable(id));
  await Promise.all(
    [origin, destination].map((sql) =>
      withSession(pool, indexSettings(rows), (client) => holdingIngestionShared(client, id, () => client.query(sql!))),
    ),
  );
}
