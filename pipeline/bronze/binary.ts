import { Pieces } from "./parse.ts";

/**
 * Rows in PostgreSQL's binary COPY format, written straight into buffers (parse.ts Pieces): `take()`
 * hands out what was added since the last call. The first piece holds the format's header, `end()`
 * adds its trailer. Subclasses write their rows with `view` after `room(bytes)`.
 */
export class BinaryRows extends Pieces {
  protected view!: DataView;

  constructor() {
    super();
    this.fresh();
    // Signature, flags (no OIDs), header extension length.
    this.used = this.buf.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
    this.view.setInt32(this.used, 0);
    this.view.setInt32(this.used + 4, 0);
    this.used += 8;
  }

  protected override fresh(): void {
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** The format's trailer, after the last row. */
  end(): void {
    this.room(2);
    this.view.setInt16(this.used, -1);
    this.used += 2;
  }
}

const TWO_32 = 2 ** 32;

/** An int8 field holding a whole number of at most 53 bits (either sign). */
export function int8(v: DataView, at: number, value: number): number {
  const high = Math.floor(value / TWO_32);
  v.setInt32(at, 8);
  v.setInt32(at + 4, high);
  v.setUint32(at + 8, value - high * TWO_32);
  return at + 12;
}

/** An int4 field. */
export function int4(v: DataView, at: number, value: number): number {
  v.setInt32(at, 4);
  v.setInt32(at + 4, value);
  return at + 8;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (exact integer arithmetic, any year 1..9999). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** PostgreSQL's epoch (2000-01-01) in days from 1970-01-01: dates and timestamps count from it. */
export const PG_EPOCH_DAYS = daysFromCivil(2000, 1, 1);

/** A date field: `days` from 1970-01-01. */
export function date(v: DataView, at: number, days: number): number {
  return int4(v, at, days - PG_EPOCH_DAYS);
}

/**
 * A timestamp field: `seconds` (a whole number) and `micros` (0..999,999) since 2000-01-01, as an int8
 * of microseconds. The seconds fit a double exactly; the microseconds may not (year 9999 is about
 * 2^58), so the int8 is put together from two 32-bit halves.
 */
export function timestampField(v: DataView, at: number, seconds: number, micros: number): number {
  // seconds * 1e6 + micros = high * 2^32 + low, with seconds = s1 * 2^16 + s0 (0 <= s0 < 2^16).
  const s1 = Math.floor(seconds / 65536);
  const s0 = seconds - s1 * 65536;
  const a = s1 * 1e6; // < 2^43: exact
  const aHigh = Math.floor(a / 65536);
  let low = (a - aHigh * 65536) * 65536 + s0 * 1e6 + micros; // < 2^37: exact
  const carry = Math.floor(low / TWO_32);
  low -= carry * TWO_32;
  v.setInt32(at, 8);
  v.setInt32(at + 4, aHigh + carry);
  v.setUint32(at + 8, low);
  return at + 12;
}
