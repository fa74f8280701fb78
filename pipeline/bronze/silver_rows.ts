import type pg from "pg";
import { CELL_LEVEL } from "../core/cells.ts";
import { copyText } from "./csvline.ts";
import { BinaryRows, daysFromCivil, int4, int8, PG_EPOCH_DAYS, timestampField } from "./binary.ts";
import { dataLine, type lineReader, type Point } from "./parse.ts";
import type { WeeklyCounts } from "./weekly_counts.ts";

/**
 * The columns a large file's chunk is COPYed with, straight into its segment table: what
 * db/transforms/silver/trips.sql computes for a chunk in bronze, computed here while the line is read
 * (the segment's `segment` column takes its default, the ingestion id).
 */
export const SILVER_COLUMNS = [
  "ingestion_id",
  "line_no",
  "region_id",
  "datasource_id",
  "origin",
  "destination",
  "trip_time",
  "origin_cell",
  "destination_cell",
  "tod_minute",
] as const;

const SCALE = 2 ** CELL_LEVEL.fine;

/**
 * tripflow.cell(lon, lat, 12) (db/migrations/4_functions.sql) in JavaScript, as its column x and row y:
 * the products with a power of two are exact in float64 as in float8, so both put a point in the same
 * cell. `fineCell` packs the id as (level << 42) | (x << 21) | y, written here as a sum (both parts fit
 * in 21 bits, and the id in 53).
 */
const cellX = (lon: number) => Math.min(Math.floor(lon * SCALE) + 180 * SCALE, 360 * SCALE - 1);
const cellY = (lat: number) => Math.min(Math.floor(lat * SCALE) + 90 * SCALE, 180 * SCALE - 1);
const fineCell = (x: number, y: number) => CELL_LEVEL.fine * 2 ** 42 + x * 2 ** 21 + y;

/**
 * Silver rows of a segment in PostgreSQL's binary COPY format (columns as SILVER_COLUMNS): no number
 * or point is printed by Node and parsed again by PostgreSQL. Each row is written straight into a
 * buffer; `take()` hands out what was added since the last call (a piece handed out is never written
 * again). With `counts`, every trip is also counted into the file's weekly counts (weekly_counts.ts).
 */
export class SilverRows extends BinaryRows {
  constructor(private readonly counts?: WeeklyCounts) {
    super();
  }

  /** One trip: the ids, both points, the moment, both level-12 cells and the minute of the day. */
  add(ingestionId: number, lineNo: number, region: number, datasource: number, trip: Trip): void {
    this.room(ROW_BYTES);
    const v = this.view;
    const time = trip.time;
    // The moment from 'YYYY-MM-DD HH:MM:SS[.ffffff]' (parse.ts parseTime): its day from 1970-01-01,
    // its whole seconds and microseconds from 2000-01-01, its minute of the day.
    const days = daysFromCivil(digits(time, 0, 4), digits(time, 5, 2), digits(time, 8, 2));
    const minute = digits(time, 11, 2) * 60 + digits(time, 14, 2);
    const seconds = (days - PG_EPOCH_DAYS) * 86400 + minute * 60 + digits(time, 17, 2);
    const fraction = time.length - 20; // digits after the point, 0 to 6
    const micros = fraction > 0 ? digits(time, 20, fraction) * 10 ** (6 - fraction) : 0;
    const { origin, destination } = trip;
    const ox = cellX(origin.lon);
    const oy = cellY(origin.lat);
    const dx = cellX(destination.lon);
    const dy = cellY(destination.lat);
    let at = this.used;
    v.setInt16(at, SILVER_COLUMNS.length);
    at = int8(v, at + 2, ingestionId);
    at = int8(v, at, lineNo);
    at = int4(v, at, region);
    at = int4(v, at, datasource);
    at = point(v, at, origin);
    at = point(v, at, destination);
    at = timestampField(v, at, seconds, micros);
    at = int8(v, at, fineCell(ox, oy));
    at = int8(v, at, fineCell(dx, dy));
    v.setInt32(at, 2);
    v.setInt16(at + 4, minute);
    this.used = at + 6;
    this.counts?.add(region, days, ox, oy, dx, dy);
  }
}

type Trip = { origin: Pick<Point, "lon" | "lat">; destination: Pick<Point, "lon" | "lat">; time: string };

// Field count; ingestion and line (int8); region and datasource (int4); two EWKB points; timestamp;
// two cells (int8); minute (int2): each field after its length.
const ROW_BYTES = 2 + 4 * SILVER_COLUMNS.length + 8 + 8 + 4 + 4 + 25 + 25 + 8 + 8 + 8 + 2;

/** The decimal number written with `n` digits at `at` in `text` (which holds only digits there). */
function digits(text: string, at: number, n: number): number {
  let value = 0;
  for (let i = at; i < at + n; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** A geometry field: ST_SetSRID(ST_MakePoint(lon, lat), 4326) as EWKB (little-endian, Point with SRID). */
function point(v: DataView, at: number, p: Pick<Point, "lon" | "lat">): number {
  v.setInt32(at, 25);
  v.setUint8(at + 4, 1);
  v.setUint32(at + 5, 0x20000001, true);
  v.setUint32(at + 9, 4326, true);
  v.setFloat64(at + 13, p.lon, true);
  v.setFloat64(at + 21, p.lat, true);
  return at + 29;
}

/**
 * Region and datasource ids by name, for rows written straight into silver. A name seen for the first
 * time is added to silver.regions / silver.datasources on a connection of its own, committed at once
 * (names are never taken back), and remembered.
 */
export class Dimensions {
  private readonly known = { regions: new Map<string, number>(), datasources: new Map<string, number>() };

  constructor(private readonly pool: pg.Pool) {}

  /** The id of a name already seen, or undefined. */
  cached(table: "regions" | "datasources", name: string): number | undefined {
    return this.known[table].get(name);
  }

  /** The id of a name in `silver.regions` or `silver.datasources`, adding the name if it is new. */
  async add(table: "regions" | "datasources", name: string): Promise<number> {
    await this.pool.query(`INSERT INTO silver.${table} (name) VALUES ($1::text) ON CONFLICT (name) DO NOTHING`, [name]);
    const { rows } = await this.pool.query<{ id: number }>(`SELECT id FROM silver.${table} WHERE name = $1::text`, [
      name,
    ]);
    this.known[table].set(name, rows[0]!.id);
    return rows[0]!.id;
  }
}

/**
 * One line read for a segment: "trip" once its silver row is added to `out`, its audit.rejects row as
 * COPY text, a name whose id is not known yet (add it, then read the line again), or null for a blank
 * line.
 */
export type SegmentLine = "trip" | { reject: string } | { missing: ["regions" | "datasources", string] } | null;

/**
 * Reads one data line (without its line break) for a large file's segment: a trip becomes a silver
 * row in `out` (points, level-12 cells, minute of the day, region and datasource ids), a refused line
 * an audit.rejects row with its reason, exactly as the bronze path and db/transforms/silver/trips.sql
 * would store them (test/integration/bulk.test.ts compares the two).
 */
export function segmentLine(
  reader: ReturnType<typeof lineReader>,
  dimensions: Dimensions,
  out: SilverRows,
  ingestionId: number,
  line: string,
  lineNo: number,
): SegmentLine {
  const text = dataLine(line);
  if (text === null) return null;
  const p = reader.parse(text);
  if ("reason" in p) return { reject: `${ingestionId}\t${lineNo}\t${copyText(text)}\t${copyText(p.reason)}\n` };
  const region = dimensions.cached("regions", p.region);
  if (region === undefined) return { missing: ["regions", p.region] };
  const datasource = dimensions.cached("datasources", p.datasource);
  if (datasource === undefined) return { missing: ["datasources", p.datasource] };
  out.add(ingestionId, lineNo, region, datasource, p);
  return "trip";
}
