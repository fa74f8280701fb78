import type pg from "pg";
import { CELL_LEVEL } from "../core/cells.ts";
import { copyText } from "./csvline.ts";
import { dataLine, type lineReader, type Point } from "./parse.ts";

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
 * tripflow.cell(lon, lat, 12) (db/migrations/4_functions.sql) in JavaScript: the products with a power
 * of two are exact in float64 as in float8, so both put a point in the same cell; the id packs the
 * level, the column and the row as (level << 42) | (x << 21) | y, written here as a sum (both parts fit
 * in 21 bits, and the id in 53).
 */
function fineCell(lon: number, lat: number): number {
  const x = Math.min(Math.floor(lon * SCALE) + 180 * SCALE, 360 * SCALE - 1);
  const y = Math.min(Math.floor(lat * SCALE) + 90 * SCALE, 180 * SCALE - 1);
  return CELL_LEVEL.fine * 2 ** 42 + x * 2 ** 21 + y;
}

// A point as hex EWKB, as geometry's input reads it: little-endian, Point with SRID, SRID 4326.
const EWKB_POINT_4326 = "0101000020e6100000";
const scratch = Buffer.alloc(16);

/** ST_SetSRID(ST_MakePoint(lon, lat), 4326) as COPY text. */
function ewkbPoint(p: Pick<Point, "lon" | "lat">): string {
  scratch.writeDoubleLE(p.lon, 0);
  scratch.writeDoubleLE(p.lat, 8);
  return EWKB_POINT_4326 + scratch.toString("hex");
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
 * One line read for a segment: its silver row, or its audit.rejects row, as COPY text; a name whose id
 * is not known yet (add it, then read the line again); null for a blank line.
 */
export type SegmentLine =
  | { trip: string }
  | { reject: string }
  | { missing: ["regions" | "datasources", string] }
  | null;

/**
 * Reads one data line (without its line break) for a large file's segment: a trip becomes a silver
 * row (points, level-12 cells, minute of the day, region and datasource ids), a refused line an
 * audit.rejects row with its reason, exactly as the bronze path and db/transforms/silver/trips.sql
 * would store them (test/integration/loader.test.ts compares the two).
 */
export function segmentLine(
  reader: ReturnType<typeof lineReader>,
  dimensions: Dimensions,
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
  const { origin: o, destination: d, time } = p;
  const minute = Number(time.slice(11, 13)) * 60 + Number(time.slice(14, 16));
  return {
    trip:
      `${ingestionId}\t${lineNo}\t${region}\t${datasource}\t${ewkbPoint(o)}\t${ewkbPoint(d)}\t${time}\t` +
      `${fineCell(o.lon, o.lat)}\t${fineCell(d.lon, d.lat)}\t${minute}\n`,
  };
}
