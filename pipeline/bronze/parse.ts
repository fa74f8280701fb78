import { copyText, splitCsvLine } from "./csvline.ts";
import { REQUIRED_COLUMNS, type Column } from "../landing/inspect.ts";

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
 * The form nearly every line has, 'POINT (d.ddd d.ddd)' (an optional minus, one to three digits, an
 * optional fraction), read by scanning instead of the pattern; null for anything else, which the
 * pattern then reads. What it takes the pattern takes too, with the same numbers (test/unit/parse.test.ts).
 */
function plainPoint(text: string): Point | null {
  return plainPointIn(text, 0, text.length);
}

/** plainPoint of text[from, to), read in place. */
function plainPointIn(text: string, from: number, to: number): Point | null {
  if (!text.startsWith("POINT (", from) || text.charCodeAt(to - 1) !== 41) return null;
  const lonAt = from + 7;
  const space = plainNumberEnd(text, lonAt, to);
  if (space < 0 || text.charCodeAt(space) !== 32) return null;
  const end = plainNumberEnd(text, space + 1, to);
  if (end !== to - 1) return null;
  return {
    lon: plainNumber(text, lonAt, space),
    lat: plainNumber(text, space + 1, end),
    lonText: text.slice(lonAt, space),
    latText: text.slice(space + 1, end),
  };
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * Number(text.slice(start, end)) for a plain number (plainNumberEnd), without the string: the digits
 * as a whole number divided by a power of ten. Both are exact doubles when the digits are at most
 * 2^53 and the power at most 10^22, and then the quotient is the correctly rounded value, as Number()
 * gives; past those bounds, Number() itself.
 */
function plainNumber(text: string, start: number, end: number): number {
  const negative = text.charCodeAt(start) === 45;
  let digitsSeen = 0;
  let scale = -1; // digits after the point, once there is one
  for (let i = negative ? start + 1 : start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) scale = 0;
    else {
      digitsSeen = digitsSeen * 10 + (c - 48);
      if (scale >= 0) scale++;
    }
  }
  if (digitsSeen > 2 ** 53 || scale > 22) return Number(text.slice(start, end));
  const value = scale > 0 ? digitsSeen / POWERS_OF_TEN[scale]! : digitsSeen;
  return negative ? -value : value;
}

/** Where a number of the plain form (-?d{1,3}(.d*)?) starting at `i` ends (before `to`), or -1. */
function plainNumberEnd(text: string, i: number, to: number): number {
  if (text.charCodeAt(i) === 45) i++;
  const start = i;
  while (i < to && isDigit(text.charCodeAt(i))) i++;
  if (i === start || i - start > 3) return -1;
  if (text.charCodeAt(i) === 46) {
    i++;
    while (i < to && isDigit(text.charCodeAt(i))) i++;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The two digits at `i` as a number. */
function two(text: string, i: number): number {
  return (text.charCodeAt(i) - 48) * 10 + text.charCodeAt(i + 1) - 48;
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
 * has): parseTime then returns it as it is. Anything else goes to the pattern.
 */
function plainTime(text: string): boolean {
  return text.length === 19 && plainTimeAt(text, 0);
}

/** plainTime of the 19 characters of `text` from `at`, read in place. */
function plainTimeAt(text: string, at: number): boolean {
  for (let i = 0; i < 19; i++) {
    const c = text.charCodeAt(at + i);
    const want = i === 4 || i === 7 ? 45 : i === 10 ? 32 : i === 13 || i === 16 ? 58 : 0;
    if (want === 0 ? !isDigit(c) : c !== want) return false;
  }
  const year = two(text, at) * 100 + two(text, at + 2);
  const month = two(text, at + 5);
  const day = two(text, at + 8);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  if (two(text, at + 11) > 23 || two(text, at + 14) > 59 || two(text, at + 17) > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 ? (leap ? 29 : 28) : 30 + ((month + (month >> 3)) % 2));
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

/**
 * The longest region or datasource name, in characters (Unicode code points) after trimming; a line
 * with a longer one is refused. Names are unique keys of silver.regions and silver.datasources, and a
 * B-tree refuses a key over about 2.7 kB: one such line would fail its chunk's transform every time.
 */
export const NAME_MAX_CHARS = 100;

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
 * A line in the usual order and form, read in one pass without splitting it: five fields without a
 * quote, names with no space at either end and at most NAME_MAX_CHARS long, plain points and a plain
 * time (plainPoint, plainTime). Anything else is null, and the general reader reads it; what this
 * takes, the general reader reads the same way (test/unit/parse.test.ts).
 */
function plainLine(line: string): ParsedLine | null {
  const c1 = line.indexOf(",");
  const c2 = line.indexOf(",", c1 + 1);
  const c3 = line.indexOf(",", c2 + 1);
  const c4 = line.indexOf(",", c3 + 1);
  if (c1 <= 0 || c2 < 0 || c3 < 0 || c4 < 0 || line.indexOf(",", c4 + 1) >= 0 || line.includes('"')) return null;
  if (!plainName(line, 0, c1) || !plainName(line, c4 + 1, line.length)) return null;
  if (c4 - c3 !== 20 || !plainTimeAt(line, c3 + 1)) return null;
  const origin = plainPointIn(line, c1 + 1, c2);
  if (origin === null) return null;
  const destination = plainPointIn(line, c2 + 1, c3);
  if (destination === null || !onEarth(origin) || !onEarth(destination)) return null;
  return {
    region: line.slice(0, c1),
    datasource: line.slice(c4 + 1),
    origin,
    destination,
    time: line.slice(c3 + 1, c4),
  };
}

/** Whether a point's longitude is within -180..180 and its latitude within -90..90. */
function onEarth(p: Point): boolean {
  return p.lon >= -180 && p.lon <= 180 && p.lat >= -90 && p.lat <= 90;
}

/** Whether text[from, to) is a name as it would be stored: not empty, no space at either end, short. */
function plainName(text: string, from: number, to: number): boolean {
  return to > from && to - from <= NAME_MAX_CHARS && text.charCodeAt(from) !== 32 && text.charCodeAt(to - 1) !== 32;
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
