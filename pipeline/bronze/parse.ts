import { copyText, splitCsvLine } from "./csvline.ts";
import { REQUIRED_COLUMNS, type Column } from "../landing/inspect.ts";
import { NAME_MAX_CHARS, PlainBytes } from "./plain_bytes.ts";

/**
 * One data line of a trips file, read: either its typed fields or the reason it cannot be a trip.
 * Points are WGS84 degrees; `time` is the moment as written, in PostgreSQL's timestamp text form.
 */
export type ParsedLine =
  | { region: string; datasource: string; origin: Point; destination: Point; time: string }
  | { reason: string };

/** A point's coordinates, and each as written (float8 input reads it back to the same double). */
export type Point = { lon: number; lat: number; lonText: string; latText: string };

/** The columns of a bronze chunk, in the order `bronzeRow` writes them (COPY text format). */
export const BRONZE_COLUMNS = [
  "line_no",
  "region",
  "datasource",
  "origin_lon",
  "origin_lat",
  "destination_lon",
  "destination_lat",
  "trip_time",
  "raw",
  "reason",
] as const;

// A number as WKT exports write it: optional sign, at most three integer digits (after leading
// zeros), optional fraction and a two-digit exponent, so that nothing can overflow a float8.
const NUM = String.raw`[+-]?0*(?:\d{1,3}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,2})?`;
const POINT = new RegExp(String.raw`^\s*point\s*\(\s*(${NUM})\s+(${NUM})\s*\)\s*$`, "i");
// 'YYYY-MM-DD HH:MM[:SS[.ffffff]]', or with a T; the day is checked against the month below.
const TIME =
  /^\s*(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d{1,6})?)?\s*$/;

/** Reads usual lines, points and times from their bytes (plain_bytes.ts); used one call at a time. */
const plain = new PlainBytes();

/** A WKT point 'POINT (lon lat)' (any case, optional spaces, sign or exponent), or null. */
export function parsePoint(text: string): Point | null {
  return plainPoint(text) ?? patternPoint(text);
}

/** parsePoint by its pattern: every form it takes. */
export function patternPoint(text: string): Point | null {
  const m = POINT.exec(text);
  return m ? { lon: Number(m[1]), lat: Number(m[2]), lonText: m[1]!, latText: m[2]! } : null;
}

/**
 * The form nearly every point has, 'POINT (d.ddd d.ddd)', read by scanning (PlainBytes.point)
 * instead of the pattern; null for anything else, which the pattern then reads.
 */
function plainPoint(text: string): Point | null {
  const buf = Buffer.from(text);
  return plain.point(buf, 0, buf.length) ? pointRead(buf, 0, buf.length, plain.lon, plain.lat, plain.lonEnd) : null;
}

/** A plain point read from buf[from, to), with its numbers as written on either side of `space`. */
function pointRead(buf: Buffer, from: number, to: number, lon: number, lat: number, space: number): Point {
  return {
    lon,
    lat,
    lonText: buf.toString("latin1", from + "POINT (".length, space),
    latText: buf.toString("latin1", space + 1, to - 1),
  };
}

/**
 * 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' (or with a T) as 'YYYY-MM-DD HH:MM:SS[.ffffff]', kept as written
 * (the data carries no time zone); null when it is not of that shape or names an impossible moment
 * (2021-02-29, 24:00, year 0).
 */
export function parseTime(text: string): string | null {
  if (plainTime(text)) return text;
  return patternTime(text);
}

/** parseTime by its pattern: every form it takes. */
export function patternTime(text: string): string | null {
  const m = TIME.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < 1) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 ? (leap ? 29 : 28) : 30 + ((month + (month >> 3)) % 2);
  if (day > days) return null;
  return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6] ?? "00"}${m[7] ?? ""}`;
}

/**
 * Whether `text` is exactly 'YYYY-MM-DD HH:MM:SS', a possible moment (the form nearly every line
 * has, PlainBytes.time): parseTime then returns it as it is. Anything else goes to the pattern.
 */
function plainTime(text: string): boolean {
  return text.length === 19 && plain.time(Buffer.from(text), 0);
}

/**
 * Spaces (only) removed at both ends, as PostgreSQL's btrim does. Indexes, not a regex: / +$/ tries
 * every run of spaces inside the text, quadratic in a long run (a 10 MB field would take hours).
 */
function trimSpaces(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) === 32) start++;
  while (end > start && s.charCodeAt(end - 1) === 32) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** A text as an SQL literal, as PostgreSQL's quote_literal writes it (reasons quote what was read). */
export function quoteLiteral(s: string): string {
  const quoted = `'${s.replaceAll("'", "''").replaceAll("\\", "\\\\")}'`;
  return s.includes("\\") ? `E${quoted}` : quoted;
}

/** A float8 as PostgreSQL prints it: shortest form, exponent from 1e15 (reasons show numbers read). */
export function formatFloat(x: number): string {
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e15 || a < 1e-4)) return x.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  return String(x);
}

/** The longest region or datasource name (plain_bytes.ts says why). */
export { NAME_MAX_CHARS };

/** The length of a text in Unicode code points, as [...s].length counts it, without the array. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Reads the fields of one line (already split, in file order given by `columns`) into a trip, or the
 * first reason it is not one, in a fixed order: empty region, region too long, empty datasource,
 * datasource too long, origin, destination, datetime.
 */
function readFields(fields: string[], at: Record<Column, number>): ParsedLine {
  const region = trimSpaces(fields[at.region]!);
  if (region === "") return { reason: "empty region" };
  // .length (UTF-16 units) is never below the code points: count them only when it is over the limit.
  if (region.length > NAME_MAX_CHARS) {
    const n = codePoints(region);
    if (n > NAME_MAX_CHARS) return { reason: `region longer than ${NAME_MAX_CHARS} characters (${n})` };
  }
  const datasource = trimSpaces(fields[at.datasource]!);
  if (datasource === "") return { reason: "empty datasource" };
  if (datasource.length > NAME_MAX_CHARS) {
    const n = codePoints(datasource);
    if (n > NAME_MAX_CHARS) return { reason: `datasource longer than ${NAME_MAX_CHARS} characters (${n})` };
  }
  const originText = fields[at.origin_coord]!;
  const o = parsePoint(originText);
  if (!o) return { reason: `unparseable origin point ${quoteLiteral(originText)} (expected POINT (lon lat))` };
  if (!(o.lon >= -180 && o.lon <= 180)) return { reason: `origin longitude ${formatFloat(o.lon)} outside -180..180` };
  if (!(o.lat >= -90 && o.lat <= 90)) return { reason: `origin latitude ${formatFloat(o.lat)} outside -90..90` };
  const destText = fields[at.destination_coord]!;
  const d = parsePoint(destText);
  if (!d) return { reason: `unparseable destination point ${quoteLiteral(destText)} (expected POINT (lon lat))` };
  if (!(d.lon >= -180 && d.lon <= 180))
    return { reason: `destination longitude ${formatFloat(d.lon)} outside -180..180` };
  if (!(d.lat >= -90 && d.lat <= 90)) return { reason: `destination latitude ${formatFloat(d.lat)} outside -90..90` };
  const timeText = fields[at.datetime]!;
  const time = parseTime(timeText);
  if (time === null)
    return { reason: `unparseable or impossible datetime ${quoteLiteral(timeText)} (expected YYYY-MM-DD HH:MM:SS)` };
  return { region, datasource, origin: o, destination: d, time };
}

/**
 * A line in the usual order and form, read from its bytes in one pass (PlainBytes.read): five fields
 * without a quote, names with no space at either end, plain points on Earth and a plain time.
 * Anything else is null, and the general reader reads it; what this takes, the general reader reads
 * the same way (test/unit/parse.test.ts).
 */
function plainLine(line: string): ParsedLine | null {
  const buf = Buffer.from(line);
  if (!plain.read(buf, 0, buf.length)) return null;
  const p = plain;
  return {
    region: buf.toString("utf8", 0, p.regionEnd),
    datasource: buf.toString("utf8", p.datasourceStart, buf.length),
    origin: pointRead(buf, p.regionEnd + 1, p.originEnd, p.originLon, p.originLat, p.originSpace),
    destination: pointRead(
      buf,
      p.originEnd + 1,
      p.destinationEnd,
      p.destinationLon,
      p.destinationLat,
      p.destinationSpace,
    ),
    time: buf.toString("latin1", p.timeStart, p.timeStart + 19),
  };
}

/**
 * A reader of the data lines of a file whose header named `columns`: `parse(line)` splits one line
 * (without its line break; a trailing CR is ignored) as CSV and reads its fields. A line that does
 * not split into exactly the five fields is refused with the reason.
 *
 * @example lineReader(["region", "origin_coord", "destination_coord", "datetime", "datasource"]).parse("Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-28 09:03:40,cheap_mobile")
 */
export function lineReader(columns: readonly Column[], options: { plain?: boolean } = {}) {
  const at = Object.fromEntries(REQUIRED_COLUMNS.map((c) => [c, columns.indexOf(c)])) as Record<Column, number>;
  const count = columns.length;
  // `plain: false` leaves every line to the general reader (the tests compare the two).
  const usualOrder =
    options.plain !== false && count === REQUIRED_COLUMNS.length && REQUIRED_COLUMNS.every((c, i) => columns[i] === c);
  return {
    parse(line: string): ParsedLine {
      if (usualOrder) {
        const read = plainLine(line);
        if (read !== null) return read;
      }
      let fields: string[];
      if (line.includes('"')) {
        const split = splitCsvLine(line);
        if ("error" in split) return { reason: `unparseable CSV line: ${split.error}` };
        fields = split.fields;
      } else {
        fields = line.split(",");
      }
      if (fields.length !== count)
        return { reason: `wrong number of fields: expected ${count}, found ${fields.length}` };
      return readFields(fields, at);
    },
  };
}

/** A line as read (without its line break; a trailing CR dropped), or null for a blank line: not a data line. */
export function dataLine(line: string): string | null {
  const text = line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
  const first = text.charCodeAt(0);
  return text.length === 0 || ((first <= 32 || first > 127) && text.trim() === "") ? null : text;
}

/**
 * One bronze row in COPY text format (columns as BRONZE_COLUMNS), ending in a line break, or null for
 * a blank line (not a data line). `line` is the line as read, without its line break.
 */
export function bronzeRow(reader: ReturnType<typeof lineReader>, line: string, lineNo: number): string | null {
  const text = dataLine(line);
  if (text === null) return null;
  const p = reader.parse(text);
  if ("reason" in p) return `${lineNo}\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t${copyText(text)}\t${copyText(p.reason)}\n`;
  const { origin: o, destination: d } = p;
  return `${lineNo}\t${copyText(p.region)}\t${copyText(p.datasource)}\t${o.lonText}\t${o.latText}\t${d.lonText}\t${d.latText}\t${p.time}\t\\N\t\\N\n`;
}

/**
 * Bytes gathered into buffers as rows arrive, handed out as pieces: `take()` hands out what was added
 * since the last call; a piece handed out is never written again, so it can wait in a stream while
 * more rows are added. Subclasses write at `used` after `room(bytes)`.
 */
export class Pieces {
  protected buf: Buffer;
  protected used = 0;
  private start = 0;
  private pieces: Buffer[] = [];

  constructor(private readonly capacity = 1 << 18) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes sure `bytes` more fit, in a fresh buffer if they do not. */
  protected room(bytes: number): void {
    if (this.buf.length - this.used >= bytes) return;
    this.cut();
    this.buf = Buffer.allocUnsafe(Math.max(this.capacity, bytes));
    this.start = this.used = 0;
    this.fresh();
  }

  /** Called when writing moves to a fresh buffer. */
  protected fresh(): void {}

  private cut(): void {
    if (this.used > this.start) this.pieces.push(this.buf.subarray(this.start, this.used));
    this.start = this.used;
  }

  take(): Buffer[] {
    this.cut();
    const pieces = this.pieces;
    this.pieces = [];
    return pieces;
  }
}

/**
 * COPY text gathered into buffers as rows arrive: each row is written straight into a buffer (rows
 * built up as one string would be ropes of small pieces holding their source text, slow to flatten and
 * several times their own size).
 */
export class CopyBuffer extends Pieces {
  add(row: string): void {
    this.room(row.length * 3);
    this.used += this.buf.write(row, this.used, "utf8");
  }
}

/** Adds `lines` (the file's lines from `firstLine` on) to `out` as bronze rows; returns how many were data lines. */
export function addBronzeRows(
  out: CopyBuffer,
  reader: ReturnType<typeof lineReader>,
  lines: readonly string[],
  firstLine: number,
): number {
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    const row = bronzeRow(reader, lines[i]!, firstLine + i);
    if (row === null) continue;
    rows++;
    out.add(row);
  }
  return rows;
}
