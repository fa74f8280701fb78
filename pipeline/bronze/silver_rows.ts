import type pg from "pg";
import { CELL_LEVEL } from "../core/cells.ts";
import { copyText } from "./csvline.ts";
import { BinaryRows, daysFromCivil, int4, int8, PG_EPOCH_DAYS, timestampField } from "./binary.ts";
import { dataLine, type lineReader, type Point } from "./parse.ts";
import { PlainBytes } from "./plain_bytes.ts";
import type { TripCounter } from "./counting.ts";
import { blankGroupTrip } from "./weekly_counts.ts";

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
  "origin_subcell",
  "destination_subcell",
] as const;

/**
 * A point's column x and row y on the level-27 grid, as tripflow.cell computes them at any level
 * (db/migrations/4_functions.sql, 12_subcells.sql): the products with a power of two are exact in
 * float64 as in float8, so JavaScript and PostgreSQL put every point in the same cell. Its level-12
 * cell is (x >> 15, y >> 15) (flooring commutes with halving), its subcell (x mod 2^15, y mod 2^15).
 */
const SCALE = 2 ** 27;
const SUB = 2 ** (27 - CELL_LEVEL.fine);
const column27 = (lon: number) => Math.min(Math.floor(lon * SCALE) + 180 * SCALE, 360 * SCALE - 1);
const row27 = (lat: number) => Math.min(Math.floor(lat * SCALE) + 90 * SCALE, 180 * SCALE - 1);

/** The level-12 cell id, (level << 42) | (x << 21) | y, written as a sum (x and y fit in 21 bits, the id in 53). */
const fineCell = (x: number, y: number) => CELL_LEVEL.fine * 2 ** 42 + x * 2 ** 21 + y;

/** tripflow.subcell: (x mod 2^15) << 15 | (y mod 2^15) of the level-27 column and row. */
const subcell = (x27: number, y27: number) => (x27 % SUB) * SUB + (y27 % SUB);

/**
 * Silver rows of a segment in PostgreSQL's binary COPY format (columns as SILVER_COLUMNS): no number
 * or point is printed by Node and parsed again by PostgreSQL. Each row is written straight into a
 * buffer; `take()` hands out what was added since the last call (a piece handed out is never written
 * again). With `counts`, every trip is also counted into the file's weekly counts (counting.ts,
 * weekly_counts.ts).
 */
export class SilverRows extends BinaryRows {
  /** The trip being added, as its group takes it: one object written over for every trip. */
  private readonly group = blankGroupTrip();

  constructor(private readonly counts?: TripCounter) {
    super();
  }

  /** One trip: the ids, both points, the moment, both level-12 cells, the minute of the day and both subcells. */
  add(ingestionId: number, lineNo: number, region: number, datasource: number, trip: Trip): void {
    const time = trip.time;
    // The moment from 'YYYY-MM-DD HH:MM:SS[.ffffff]' (parse.ts parseTime): its day from 1970-01-01,
    // its minute of the day, its seconds and microseconds.
    const days = daysFromCivil(digits(time, 0, 4), digits(time, 5, 2), digits(time, 8, 2));
    const minute = digits(time, 11, 2) * 60 + digits(time, 14, 2);
    const fraction = time.length - 20; // digits after the point, 0 to 6
    const micros = fraction > 0 ? digits(time, 20, fraction) * 10 ** (6 - fraction) : 0;
    const { origin: o, destination: d } = trip;
    this.addTrip(
      ingestionId,
      lineNo,
      region,
      datasource,
      o.lon,
      o.lat,
      d.lon,
      d.lat,
      days,
      minute,
      digits(time, 17, 2),
      micros,
    );
  }

  /** A line read by PlainBytes (whole seconds: the plain form has no fraction). */
  addPlain(ingestionId: number, lineNo: number, region: number, datasource: number, p: PlainBytes): void {
    this.addTrip(
      ingestionId,
      lineNo,
      region,
      datasource,
      p.originLon,
      p.originLat,
      p.destinationLon,
      p.destinationLat,
      daysFromCivil(p.year, p.month, p.day),
      p.minute,
      p.second,
      0,
    );
  }

  /** One trip from its parts: `days` from 1970-01-01, the minute of that day, its second and microseconds. */
  private addTrip(
    ingestionId: number,
    lineNo: number,
    region: number,
    datasource: number,
    originLon: number,
    originLat: number,
    destinationLon: number,
    destinationLat: number,
    days: number,
    minute: number,
    second: number,
    micros: number,
  ): void {
    this.room(ROW_BYTES);
    const v = this.view;
    const seconds = (days - PG_EPOCH_DAYS) * 86400 + minute * 60 + second;
    const ox27 = column27(originLon);
    const oy27 = row27(originLat);
    const dx27 = column27(destinationLon);
    const dy27 = row27(destinationLat);
    const ox = Math.floor(ox27 / SUB);
    const oy = Math.floor(oy27 / SUB);
    const dx = Math.floor(dx27 / SUB);
    const dy = Math.floor(dy27 / SUB);
    let at = this.used;
    v.setInt16(at, SILVER_COLUMNS.length);
    at = int8(v, at + 2, ingestionId);
    at = int8(v, at, lineNo);
    at = int4(v, at, region);
    at = int4(v, at, datasource);
    at = point(v, at, originLon, originLat);
    at = point(v, at, destinationLon, destinationLat);
    at = timestampField(v, at, seconds, micros);
    at = int8(v, at, fineCell(ox, oy));
    at = int8(v, at, fineCell(dx, dy));
    v.setInt32(at, 2);
    v.setInt16(at + 4, minute);
    at = int4(v, at + 6, subcell(ox27, oy27));
    at = int4(v, at, subcell(dx27, dy27));
    this.used = at;
    if (!this.counts) return;
    const g = this.group;
    g.seconds = seconds;
    g.micros = micros;
    g.minute = minute;
    g.originLon = originLon;
    g.originLat = originLat;
    g.destinationLon = destinationLon;
    g.destinationLat = destinationLat;
    this.counts.add(region, days, ox, oy, dx, dy, g);
  }
}

type Trip = { origin: Pick<Point, "lon" | "lat">; destination: Pick<Point, "lon" | "lat">; time: string };

// Field count; ingestion and line (int8); region and datasource (int4); two EWKB points; timestamp;
// two cells (int8); minute (int2); two subcells (int4): each field after its length.
const ROW_BYTES = 2 + 4 * SILVER_COLUMNS.length + 8 + 8 + 4 + 4 + 25 + 25 + 8 + 8 + 8 + 2 + 4 + 4;

/** The decimal number written with `n` digits at `at` in `text` (which holds only digits there). */
function digits(text: string, at: number, n: number): number {
  let value = 0;
  for (let i = at; i < at + n; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** A geometry field: ST_SetSRID(ST_MakePoint(lon, lat), 4326) as EWKB (little-endian, Point with SRID). */
function point(v: DataView, at: number, lon: number, lat: number): number {
  v.setInt32(at, 25);
  v.setUint8(at + 4, 1);
  v.setUint32(at + 5, 0x20000001, true);
  v.setUint32(at + 9, 4326, true);
  v.setFloat64(at + 13, lon, true);
  v.setFloat64(at + 21, lat, true);
  return at + 29;
}

/**
 * Ids by a name's UTF-8 bytes, compared byte by byte over a short list (a file names a few regions and
 * datasources), then, past LIST_MAX names, through a Map keyed by the bytes as latin1 text.
 */
class ByteNames {
  private readonly names: Buffer[] = [];
  private readonly ids: number[] = [];
  private readonly more = new Map<string, number>();

  get(buf: Buffer, from: number, to: number): number | undefined {
    const length = to - from;
    const names = this.names;
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      if (name.length !== length) continue;
      let i = 0;
      while (i < length && name[i] === buf[from + i]) i++;
      if (i === length) return this.ids[k];
    }
    return this.more.size === 0 ? undefined : this.more.get(buf.toString("latin1", from, to));
  }

  set(buf: Buffer, from: number, to: number, id: number): void {
    if (this.names.length < LIST_MAX) {
      this.names.push(Buffer.from(buf.subarray(from, to)));
      this.ids.push(id);
    } else this.more.set(buf.toString("latin1", from, to), id);
  }
}

const LIST_MAX = 16;

/**
 * Region and datasource ids by name, for rows written straight into silver. A name seen for the first
 * time is added to silver.regions / silver.datasources on a connection of its own, committed at once
 * (names are never taken back), and remembered.
 */
export class Dimensions {
  private readonly known = { regions: new Map<string, number>(), datasources: new Map<string, number>() };

  constructor(private readonly pool: pg.Pool) {}

  /** Names seen, by their UTF-8 bytes: files hold few names, so a short list compared byte by byte. */
  private readonly byBytes = { regions: new ByteNames(), datasources: new ByteNames() };

  /** The id of a name already seen, or undefined. */
  cached(table: "regions" | "datasources", name: string): number | undefined {
    return this.known[table].get(name);
  }

  /** The id of the name whose UTF-8 bytes are buf[from, to), if already seen, or undefined. */
  cachedBytes(table: "regions" | "datasources", buf: Buffer, from: number, to: number): number | undefined {
    const names = this.byBytes[table];
    const id = names.get(buf, from, to);
    if (id !== undefined) return id;
    const known = this.cached(table, buf.toString("utf8", from, to));
    if (known !== undefined) names.set(buf, from, to, known);
    return known;
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

/**
 * segmentLine for a line in the usual order and form, read from the file's bytes buf[from, to)
 * (plain_bytes.ts): "trip" once its row is in `out`, a name whose id is not known yet, or undefined
 * when the line is not of that form: the caller then reads its text with segmentLine.
 */
export function segmentBytes(
  plain: PlainBytes,
  dimensions: Dimensions,
  out: SilverRows,
  ingestionId: number,
  buf: Buffer,
  from: number,
  to: number,
  lineNo: number,
): "trip" | { missing: ["regions" | "datasources", string] } | undefined {
  // The line as segmentLine reads it (dataLine): one trailing CR dropped.
  if (!plain.read(buf, from, to > from && buf[to - 1] === 13 ? to - 1 : to)) return undefined;
  const region = dimensions.cachedBytes("regions", buf, plain.regionStart, plain.regionEnd);
  if (region === undefined) return { missing: ["regions", buf.toString("utf8", plain.regionStart, plain.regionEnd)] };
  const datasource = dimensions.cachedBytes("datasources", buf, plain.datasourceStart, plain.datasourceEnd);
  if (datasource === undefined)
    return { missing: ["datasources", buf.toString("utf8", plain.datasourceStart, plain.datasourceEnd)] };
  out.addPlain(ingestionId, lineNo, region, datasource, plain);
  return "trip";
}

/**
 * Reads a large file's lines into `out` (segmentLine's results): a line in the usual order and form
 * from its bytes (segmentBytes), any other from its text (segmentLine), which stores or refuses it
 * exactly as before.
 *
 * @example const lines = new SegmentReader(lineReader(columns), dimensions, out, 7); lines.read(buf, 0, 80, 2);
 */
export class SegmentReader {
  private readonly plain = new PlainBytes();

  constructor(
    private readonly reader: ReturnType<typeof lineReader>,
    private readonly dimensions: Dimensions,
    private readonly out: SilverRows,
    private readonly ingestionId: number,
  ) {}

  /** The line buf[from, to) (without its line break), the file's line `lineNo`. */
  read(buf: Buffer, from: number, to: number, lineNo: number): SegmentLine {
    const { dimensions, out, ingestionId } = this;
    return (
      segmentBytes(this.plain, dimensions, out, ingestionId, buf, from, to, lineNo) ??
      segmentLine(this.reader, dimensions, out, ingestionId, buf.toString("utf8", from, to), lineNo)
    );
  }
}
