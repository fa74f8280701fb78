import { expect } from "vitest";

/** A field of PostgreSQL's binary COPY format as the decoder prints it (a timestamp is its int8). */
export type CopyField = "int2" | "int4" | "int8" | "float8" | "date";

const DAY_MS = 86_400_000;
/** Days from 1970-01-01 to 2000-01-01, where PostgreSQL's dates count from. */
const PG_EPOCH_DAYS = 10_957;

const readers: Record<CopyField, (buf: Buffer, at: number) => string> = {
  int2: (buf, at) => String(buf.readInt16BE(at)),
  int4: (buf, at) => String(buf.readInt32BE(at)),
  int8: (buf, at) => String(buf.readBigInt64BE(at)),
  float8: (buf, at) => String(buf.readDoubleBE(at)),
  date: (buf, at) => new Date((buf.readInt32BE(at) + PG_EPOCH_DAYS) * DAY_MS).toISOString().slice(0, 10),
};

/**
 * Decodes rows in PostgreSQL's binary COPY format (header, rows of `types`, trailer), each row as its
 * fields joined by spaces; fails the test on a wrong header, field count or trailing byte.
 */
export function decodeCopy(pieces: Buffer[], types: CopyField[]): string[] {
  const buf = Buffer.concat(pieces);
  expect(buf.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
  let at = 19;
  const rows: string[] = [];
  for (;;) {
    const fields = buf.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    expect(fields).toBe(types.length);
    const values: string[] = [];
    for (const type of types) {
      const length = buf.readInt32BE(at);
      values.push(readers[type](buf, at + 4));
      at += 4 + length;
    }
    rows.push(values.join(" "));
  }
  expect(at).toBe(buf.length);
  return rows;
}
