/**
 * The longest region or datasource name, in characters (Unicode code points) after trimming; a line
 * with a longer one is refused. Names are unique keys of silver.regions and silver.datasources, and a
 * B-tree refuses a key over about 2.7 kB: one such line would fail its chunk's transform every time.
 */
export const NAME_MAX_CHARS = 100;

const COMMA = 44;
const QUOTE = 34;
const SPACE = 32;
const MINUS = 45;
const POINT_PREFIX = Buffer.from("POINT (", "latin1");
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * Reads a data line in the usual order and form from its bytes, without making a string of it: five
 * fields without a quote, names with no space at either end and at most NAME_MAX_CHARS bytes, plain
 * points ('POINT (d.ddd d.ddd)': an optional minus, one to three digits, an optional fraction) on
 * Earth, a plain 'YYYY-MM-DD HH:MM:SS'. `read` returns false for anything else, which the general
 * reader (parse.ts, by patterns) then reads; what this takes, that reader reads the same way, with the
 * same numbers (test/unit/parse.test.ts, plain-bytes.test.ts). After `true` the fields hold the
 * line's trip (names and fields as byte ranges of the buffer). One object is reused for every line:
 * nothing is allocated per line. parse.ts reads its usual lines, points and times with it too.
 *
 * @example const p = new PlainBytes(); if (p.read(buf, 0, buf.length)) console.log(p.originLon, p.year);
 */
export class PlainBytes {
  regionStart = 0;
  regionEnd = 0;
  datasourceStart = 0;
  datasourceEnd = 0;
  originLon = 0;
  originLat = 0;
  destinationLon = 0;
  destinationLat = 0;
  /** The trip's date. */
  year = 0;
  month = 0;
  day = 0;
  /** Its minute of the day and its second of the minute. */
  minute = 0;
  second = 0;
  /** Where the origin and destination fields end (their commas), where the space between each one's numbers is, and where the time starts. */
  originEnd = 0;
  destinationEnd = 0;
  originSpace = 0;
  destinationSpace = 0;
  timeStart = 0;
  /** The last point read by `point`, and where its longitude ends (the space before the latitude). */
  lon = 0;
  lat = 0;
  lonEnd = 0;

  /** Reads buf[from, to) (a line without its line break). */
  read(buf: Buffer, from: number, to: number): boolean {
    // The first comma ends the region, at most NAME_MAX_CHARS bytes in: looked for there only (a
    // search past the line's end would read on for every line without a comma: quadratic on a file
    // of such lines). The others are found by the native search: each ends at the next comma, in
    // this line or the next one that has any.
    const nameEnd = Math.min(to, from + NAME_MAX_CHARS + 1);
    let c1 = from;
    while (c1 < nameEnd && buf[c1] !== COMMA) c1++;
    if (c1 === from || c1 === nameEnd) return false;
    const c2 = buf.indexOf(COMMA, c1 + 1);
    if (c2 < 0 || c2 >= to) return false;
    const c3 = buf.indexOf(COMMA, c2 + 1);
    if (c3 < 0 || c3 >= to) return false;
    const c4 = buf.indexOf(COMMA, c3 + 1);
    if (c4 < 0 || c4 >= to) return false;
    const c5 = buf.indexOf(COMMA, c4 + 1);
    if (c5 >= 0 && c5 < to) return false;
    for (let i = from; i < to; i++) if (buf[i] === QUOTE) return false;
    if (!plainName(buf, from, c1) || !plainName(buf, c4 + 1, to)) return false;
    if (c4 - c3 !== 20 || !this.time(buf, c3 + 1)) return false;
    if (!this.point(buf, c1 + 1, c2) || !onEarth(this.lon, this.lat)) return false;
    this.originLon = this.lon;
    this.originLat = this.lat;
    this.originSpace = this.lonEnd;
    if (!this.point(buf, c2 + 1, c3) || !onEarth(this.lon, this.lat)) return false;
    this.destinationLon = this.lon;
    this.destinationLat = this.lat;
    this.destinationSpace = this.lonEnd;
    this.originEnd = c2;
    this.destinationEnd = c3;
    this.timeStart = c3 + 1;
    this.regionStart = from;
    this.regionEnd = c1;
    this.datasourceStart = c4 + 1;
    this.datasourceEnd = to;
    return true;
  }

  /** Whether buf[from, to) is 'POINT (lon lat)' with plain numbers: then into lon, lat and lonEnd. */
  point(buf: Buffer, from: number, to: number): boolean {
    if (to - from < POINT_PREFIX.length + 4 || buf[to - 1] !== 41) return false;
    for (let i = 0; i < POINT_PREFIX.length; i++) if (buf[from + i] !== POINT_PREFIX[i]) return false;
    const lonAt = from + POINT_PREFIX.length;
    const space = plainNumberEnd(buf, lonAt, to);
    if (space < 0 || buf[space] !== SPACE) return false;
    const end = plainNumberEnd(buf, space + 1, to);
    if (end !== to - 1) return false;
    this.lon = plainNumber(buf, lonAt, space);
    this.lat = plainNumber(buf, space + 1, end);
    this.lonEnd = space;
    return true;
  }

  /** Whether the 19 bytes at `at` are 'YYYY-MM-DD HH:MM:SS', a possible moment: then into year, month, day, minute and second. */
  time(buf: Buffer, at: number): boolean {
    if (at + 19 > buf.length) return false;
    for (let i = 0; i < 19; i++) {
      const c = buf[at + i]!;
      const want = i === 4 || i === 7 ? 45 : i === 10 ? 32 : i === 13 || i === 16 ? 58 : 0;
      if (want === 0 ? c < 48 || c > 57 : c !== want) return false;
    }
    const year = two(buf, at) * 100 + two(buf, at + 2);
    const month = two(buf, at + 5);
    const day = two(buf, at + 8);
    if (year < 1 || month < 1 || month > 12 || day < 1) return false;
    const hour = two(buf, at + 11);
    const minute = two(buf, at + 14);
    const second = two(buf, at + 17);
    if (hour > 23 || minute > 59 || second > 59) return false;
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (day > (month === 2 ? (leap ? 29 : 28) : 30 + ((month + (month >> 3)) % 2))) return false;
    this.year = year;
    this.month = month;
    this.day = day;
    this.minute = hour * 60 + minute;
    this.second = second;
    return true;
  }
}

/** Whether buf[from, to) is a name as it would be stored: not empty, no space at either end, short. */
function plainName(buf: Buffer, from: number, to: number): boolean {
  // Bytes are never fewer than UTF-16 units: a name over the limit in bytes goes to the string reader.
  return to > from && to - from <= NAME_MAX_CHARS && buf[from] !== SPACE && buf[to - 1] !== SPACE;
}

function onEarth(lon: number, lat: number): boolean {
  return lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90;
}

function two(buf: Buffer, at: number): number {
  return (buf[at]! - 48) * 10 + buf[at + 1]! - 48;
}

/** Where a number of the form -?d{1,3}(.d*)? starting at `i` ends (before `to`), or -1. */
function plainNumberEnd(buf: Buffer, i: number, to: number): number {
  if (buf[i] === MINUS) i++;
  const start = i;
  while (i < to && isDigit(buf[i]!)) i++;
  if (i === start || i - start > 3) return -1;
  if (buf[i] === 46) {
    i++;
    while (i < to && isDigit(buf[i]!)) i++;
  }
  return i;
}

/**
 * Number() of the plain number in buf[start, end): its digits as a whole number divided by a power of
 * ten, both exact doubles up to 2^53 and 10^22 (so the quotient is correctly rounded, as Number()
 * gives); past those bounds, Number() itself.
 */
function plainNumber(buf: Buffer, start: number, end: number): number {
  const negative = buf[start] === MINUS;
  let digits = 0;
  let scale = -1;
  for (let i = negative ? start + 1 : start; i < end; i++) {
    const c = buf[i]!;
    if (c === 46) scale = 0;
    else {
      digits = digits * 10 + (c - 48);
      if (scale >= 0) scale++;
    }
  }
  if (digits > 2 ** 53 || scale > 22) return Number(buf.toString("latin1", start, end));
  const value = scale > 0 ? digits / POWERS_OF_TEN[scale]! : digits;
  return negative ? -value : value;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
