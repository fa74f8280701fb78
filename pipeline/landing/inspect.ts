import { createHash } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { parse } from "csv-parse/sync";

/** The columns a trips file must have, in any order. */
export const REQUIRED_COLUMNS = ["region", "origin_coord", "destination_coord", "datetime", "datasource"] as const;
export type Column = (typeof REQUIRED_COLUMNS)[number];

const MAX_HEADER_BYTES = 64 * 1024;

export type FileInspection = {
  sha256: string;
  sizeBytes: number;
  /** Why the file cannot be ingested at all, or null. */
  problem: string | null;
  /** Column names in file order (lower-cased, trimmed), when the header is usable. */
  columns: Column[] | null;
  /** Bytes of the header line including its line ending (and a BOM): data starts here. */
  headerBytes: number;
  /** The file's mtime when it was read. */
  mtimeMs: number;
  /** false when the file's size or mtime changed while it was read (a writer still at work). */
  stable: boolean;
};

/**
 * One streaming pass over a file: its sha256 and size, and the checks that must pass before any row
 * is stored, so that a bad file fails before it can leave partial rows anywhere: a usable header,
 * valid UTF-8, no NUL bytes (binary data) and an even number of quote characters (an unterminated
 * quoted field otherwise swallows the rest of the file).
 *
 * @example const { sha256, problem } = await inspectFile("landing/trips.csv");
 */
export async function inspectFile(path: string): Promise<FileInspection> {
  const before = await stat(path);
  const hash = createHash("sha256");
  let carry = Buffer.alloc(0); // the bytes of a character begun at the end of the previous chunk
  let size = 0;
  let head = Buffer.alloc(0);
  let headDone = false;
  const quotes = new QuoteScan();
  let tail = Buffer.alloc(0); // the previous chunk's last bytes, where a character may have begun
  let problem: string | null = null;

  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (!headDone) {
      head = Buffer.concat([head, chunk.subarray(0, MAX_HEADER_BYTES)]);
      if (head.includes(10) || head.length >= MAX_HEADER_BYTES) headDone = true;
    }
    if (problem) continue; // keep hashing: the sha256 is recorded even for a rejected file
    if (chunk.includes(0)) {
      problem = `binary data (a NUL byte) near line ${quotes.line + countNewlines(chunk, chunk.indexOf(0))}: not a CSV text file`;
      continue;
    }
    // Checked up to the last whole character; a character cut by the chunk's end is checked with the next.
    const text = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = wholeCharacters(text);
    if (!isUtf8(text.subarray(0, whole))) {
      problem = `not valid UTF-8 ${badUtf8Where(tail, chunk, quotes.line)}: save the file as UTF-8`;
      continue;
    }
    carry = Buffer.from(text.subarray(whole));
    quotes.feed(chunk);
    tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - 3)));
  }
  if (!problem && carry.length > 0)
    problem = "not valid UTF-8 at the end of the file (a truncated character): save the file as UTF-8";

  const after = await stat(path);
  const stable = after.size === size && before.size === size && after.mtimeMs === before.mtimeMs;
  const header = readHeader(head, size);
  if (!problem && header.problem) problem = header.problem;
  const oddLine = quotes.end();
  if (!problem && oddLine !== null)
    problem = `an unterminated quoted field (the file has an odd number of " characters; the first line with an odd number is line ${oddLine})`;
  return {
    sha256: hash.digest("hex"),
    sizeBytes: size,
    problem,
    columns: header.problem ? null : header.columns,
    headerBytes: header.bytes,
    mtimeMs: after.mtimeMs,
    stable,
  };
}

function readHeader(head: Buffer, size: number): { columns: Column[]; bytes: number; problem: string | null } {
  const fail = (problem: string) => ({ columns: [], bytes: 0, problem });
  if (size === 0) return fail("the file is empty: expected a header line " + REQUIRED_COLUMNS.join(","));
  const nl = head.indexOf(10);
  const bytes = nl < 0 ? head.length : nl + 1;
  const text = head
    .subarray(0, bytes)
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .replace(/\r?\n$/, "");
  // A carriage return alone ends lines in old Mac exports: read as one line, the file would hold no data.
  if (/\r./s.test(text) || (nl < 0 && size > head.length && text.includes("\r")))
    return fail(
      "lines end with a carriage return alone (old Mac line endings): save the file with LF or CRLF line endings",
    );
  if (nl < 0 && size > head.length)
    return fail(`no line break in the first ${MAX_HEADER_BYTES} bytes: not a trips CSV`);
  if (text.trim() === "") return fail("the first line is empty: expected a header line " + REQUIRED_COLUMNS.join(","));
  let names: string[];
  try {
    names = (parse(text, { relax_column_count: true, trim: true }) as string[][])[0] ?? [];
  } catch (err) {
    return fail(`the header line is not valid CSV: ${(err as Error).message}`);
  }
  names = names.map((n) => n.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length === REQUIRED_COLUMNS.length && names.some((n) => /^point\s*\(|^\d{4}-\d\d-\d\d/.test(n)))
    return fail(
      `no header line: line 1 looks like data, not column names: expected a first line ${REQUIRED_COLUMNS.join(",")} (in any order)`,
    );
  const unexpected = names.filter((n) => !(REQUIRED_COLUMNS as readonly string[]).includes(n));
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (missing.length || unexpected.length || repeated.length) {
    const parts = [
      missing.length ? `missing ${missing.join(", ")}` : "",
      unexpected.length ? `unexpected ${unexpected.map((n) => JSON.stringify(n)).join(", ")}` : "",
      repeated.length ? `repeated ${repeated.join(", ")}` : "",
    ].filter(Boolean);
    return fail(`wrong header (${parts.join("; ")}): expected the columns ${REQUIRED_COLUMNS.join(",")} in any order`);
  }
  return { columns: names as Column[], bytes, problem: null };
}

/**
 * Counts '"' characters line by line across chunks. A file with an odd number of them has an
 * unterminated quoted field; the first line with an odd number of its own is where to look.
 */
class QuoteScan {
  line = 1;
  private total = 0;
  private inLine = 0;
  private firstOdd: number | null = null;

  feed(buf: Buffer): void {
    let q = buf.indexOf(34);
    let n = buf.indexOf(10);
    while (n >= 0) {
      while (q >= 0 && q < n) {
        this.inLine++;
        q = buf.indexOf(34, q + 1);
      }
      if (this.inLine % 2 === 1 && this.firstOdd === null) this.firstOdd = this.line;
      this.total += this.inLine;
      this.inLine = 0;
      this.line++;
      n = buf.indexOf(10, n + 1);
    }
    for (; q >= 0; q = buf.indexOf(34, q + 1)) this.inLine++;
  }

  /** The first line with an odd number of quotes when the file's total is odd, else null. */
  end(): number | null {
    this.total += this.inLine;
    if (this.inLine % 2 === 1 && this.firstOdd === null) this.firstOdd = this.line;
    this.inLine = 0;
    return this.total % 2 === 1 ? this.firstOdd : null;
  }
}

/**
 * The length of `buf` without a character begun in its last three bytes and not ended there (its lead
 * byte says how many bytes it has): what is cut off is checked with the bytes that follow.
 */
function wholeCharacters(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if (b < 0x80) return buf.length; // ASCII: nothing begun
    if (b >= 0xc0) return (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > back ? buf.length - back : buf.length;
  }
  return buf.length;
}

function countNewlines(buf: Buffer, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0 && i < end; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** Names the line of the first byte that is not UTF-8 in `chunk` (`tail`: the previous chunk's last bytes). */
function badUtf8Where(tail: Buffer, chunk: Buffer, firstLine: number): string {
  // Start at a character boundary: a character begun in the previous chunk starts within its tail.
  let skip = 0;
  while (skip < tail.length && (tail[skip]! & 0xc0) === 0x80) skip++;
  const from = tail.subarray(skip);
  const at = firstInvalidUtf8(Buffer.concat([from, chunk]));
  const offset = at < 0 ? chunk.length : Math.max(0, at - from.length);
  return `near line ${firstLine + countNewlines(chunk, offset)}`;
}

/** Offset of the first byte sequence that is not UTF-8, or -1 (a character cut off at the end is not an error here). */
function firstInvalidUtf8(buf: Buffer): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    if (need === 0) return i;
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      if (i + k >= buf.length) return -1;
      const c = buf[i + k]!;
      if (k === 1 ? c < lo || c > hi : (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return -1;
}
