import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
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
  const hash = createHash("sha256");
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let size = 0;
  let head = Buffer.alloc(0);
  let headDone = false;
  let quotes = 0;
  let line = 1;
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
      problem = `binary data (a NUL byte) near line ${line + countNewlines(chunk, chunk.indexOf(0))}: not a CSV text file`;
      continue;
    }
    try {
      decoder.decode(chunk, { stream: true });
    } catch {
      problem = `not valid UTF-8 ${badUtf8Where(chunk, line)}: save the file as UTF-8`;
      continue;
    }
    quotes += countByte(chunk, 34);
    line += countNewlines(chunk, chunk.length);
  }
  if (!problem) {
    try {
      decoder.decode();
    } catch {
      problem = "not valid UTF-8 at the end of the file (a truncated character): save the file as UTF-8";
    }
  }

  const header = readHeader(head, size);
  if (!problem && header.problem) problem = header.problem;
  if (!problem && quotes % 2 === 1) problem = "an unterminated quoted field (the file has an odd number of \" characters)";
  return {
    sha256: hash.digest("hex"),
    sizeBytes: size,
    problem,
    columns: header.problem ? null : header.columns,
    headerBytes: header.bytes,
  };
}

function readHeader(head: Buffer, size: number): { columns: Column[]; bytes: number; problem: string | null } {
  const fail = (problem: string) => ({ columns: [], bytes: 0, problem });
  if (size === 0) return fail("the file is empty: expected a header line " + REQUIRED_COLUMNS.join(","));
  const nl = head.indexOf(10);
  if (nl < 0 && size > head.length) return fail(`no line break in the first ${MAX_HEADER_BYTES} bytes: not a trips CSV`);
  const bytes = nl < 0 ? head.length : nl + 1;
  let text = head.subarray(0, bytes).toString("utf8").replace(/^\uFEFF/, "").replace(/\r?\n$/, "");
  if (text.trim() === "") return fail("the first line is empty: expected a header line " + REQUIRED_COLUMNS.join(","));
  let names: string[];
  try {
    names = (parse(text, { relax_column_count: true, trim: true }) as string[][])[0] ?? [];
  } catch (err) {
    return fail(`the header line is not valid CSV: ${(err as Error).message}`);
  }
  names = names.map((n) => n.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
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

function countByte(buf: Buffer, byte: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte); i >= 0; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

function countNewlines(buf: Buffer, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0 && i < end; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

function badUtf8Where(chunk: Buffer, firstLine: number): string {
  // Find the first offset where the chunk stops decoding, to name the line.
  const strict = new TextDecoder("utf-8", { fatal: true });
  let lo = 0;
  let hi = chunk.length;
  while (hi - lo > 4) {
    const mid = (lo + hi) >> 1;
    try {
      strict.decode(chunk.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid;
    }
    strict.decode(); // reset
  }
  return `near line ${firstLine + countNewlines(chunk, hi)}`;
}
