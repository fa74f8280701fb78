/**
 * The benchmark's side-by-side: the same generated file in DuckDB (an embedded columnar engine, what a
 * data engineer would reach for), the same questions asked of it as a plain scan grouped by week. Its
 * counts are a second check of tripflow's answers, computed by another engine from the raw lines.
 */
import { rm } from "node:fs/promises";
import { DuckDBInstance, version } from "@duckdb/node-api";

/** The DuckDB library's version, for the report. */
export const DUCKDB_VERSION = version();

/** A question as the benchmark asks it (run.ts Request), with the period tripflow answered for. */
export type ScanQuestion = {
  region?: string;
  bbox?: [number, number, number, number];
  match: "origin" | "destination" | "both" | "any";
  /** The first and last day of the answer's period, as the API reported them. */
  from: string;
  to: string;
};

/** The CSV's points read as numbers, its time as a timestamp; the week is the ISO week's Monday. */
const LOAD = (file: string) => `
CREATE TABLE trips AS
SELECT
  region,
  CAST(regexp_extract(origin_coord, '\\(\\s*(\\S+)\\s+(\\S+)\\s*\\)', 1) AS DOUBLE) AS origin_lon,
  CAST(regexp_extract(origin_coord, '\\(\\s*(\\S+)\\s+(\\S+)\\s*\\)', 2) AS DOUBLE) AS origin_lat,
  CAST(regexp_extract(destination_coord, '\\(\\s*(\\S+)\\s+(\\S+)\\s*\\)', 1) AS DOUBLE) AS destination_lon,
  CAST(regexp_extract(destination_coord, '\\(\\s*(\\S+)\\s+(\\S+)\\s*\\)', 2) AS DOUBLE) AS destination_lat,
  CAST(datetime AS TIMESTAMP) AS trip_time
FROM read_csv('${file.replaceAll("'", "''")}', header = true, columns = {
  'region': 'VARCHAR', 'origin_coord': 'VARCHAR', 'destination_coord': 'VARCHAR',
  'datetime': 'VARCHAR', 'datasource': 'VARCHAR'})`;

const inBox = (end: "origin" | "destination") =>
  `(${end}_lon BETWEEN $west AND $east AND ${end}_lat BETWEEN $south AND $north)`;

const MATCH = {
  origin: inBox("origin"),
  destination: inBox("destination"),
  both: `${inBox("origin")} AND ${inBox("destination")}`,
  any: `(${inBox("origin")} OR ${inBox("destination")})`,
} as const;

/** The scan a user would write: trips per week in the period, for a region or a box. */
function scanSql(q: ScanQuestion): string {
  const where = [
    "trip_time >= CAST($from AS DATE)",
    "trip_time < CAST($to AS DATE) + INTERVAL 1 DAY",
    ...(q.region !== undefined ? ["region = $region"] : []),
    ...(q.bbox ? [MATCH[q.match]] : []),
  ];
  return `SELECT date_trunc('week', trip_time) AS week, count(*) AS trips FROM trips WHERE ${where.join(" AND ")} GROUP BY 1`;
}

/**
 * Loads `file` into a fresh DuckDB database at `dbPath`, then asks every question once (timed, one
 * after the other). Returns the load's seconds and, per question, its trips and milliseconds.
 */
export async function duckdbSideBySide(
  file: string,
  dbPath: string,
  questions: (ScanQuestion | null)[],
): Promise<{ load_s: number; answers: ({ trips: number; ms: number } | null)[] }> {
  await rm(dbPath, { force: true });
  await rm(`${dbPath}.wal`, { force: true });
  const instance = await DuckDBInstance.create(dbPath);
  const db = await instance.connect();
  try {
    const started = performance.now();
    await db.run(LOAD(file));
    const load_s = (performance.now() - started) / 1000;
    const answers: ({ trips: number; ms: number } | null)[] = [];
    for (const q of questions) {
      if (!q) {
        answers.push(null);
        continue;
      }
      const values: Record<string, string | number> = { from: q.from, to: q.to };
      if (q.region !== undefined) values.region = q.region;
      if (q.bbox) [values.west, values.south, values.east, values.north] = q.bbox;
      const t = performance.now();
      const reader = await db.runAndReadAll(scanSql(q), values);
      const ms = performance.now() - t;
      const trips = reader.getRowObjects().reduce((sum, row) => sum + Number(row.trips), 0);
      answers.push({ trips, ms });
    }
    return { load_s, answers };
  } finally {
    db.closeSync();
    instance.closeSync();
    await rm(dbPath, { force: true });
    await rm(`${dbPath}.wal`, { force: true });
  }
}
