import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Column } from "./inspect.ts";
import { addBronzeRows, BRONZE_COLUMNS, CopyBuffer, lineReader } from "./parse.ts";

export type ChunkLoaded = {
  chunk: number;
  firstLine: number;
  /** One past the last line of the chunk. */
  endLine: number;
  /** Data lines in the chunk (blank lines are not), each now a bronze row: a trip or a refused line. */
  rows: number;
  bytesSoFar: number;
  rowsSoFar: number;
  /** true for the file's last chunk. */
  last: boolean;
};

export type LoadOptions = {
  ingestionId: number;
  path: string;
  columns: Column[];
  headerBytes: number;
  chunkRows: number;
  /** Aborting rolls back the chunk being copied and stops. */
  signal?: AbortSignal;
  /** Called after each chunk is in its own table, before the next one is read. */
  onChunk: (client: pg.PoolClient, loaded: ChunkLoaded) => Promise<void>;
};

const ident = (id: number, chunk?: number) => (chunk === undefined ? `bronze.trips_${id}` : `bronze.trips_${id}_${chunk}`);

/** The table name of one ingestion's bronze partition. */
export const bronzeTable = (id: number) => ident(id);

/**
 * Streams a file into bronze, chunk by chunk: every line of a chunk of `chunkRows` lines is split and
 * read here (pipeline/parse.ts) and COPYed, typed, into an UNLOGGED table of its own: a trip's fields,
 * or the line as written and the reason it is not a trip. So every data line lands in bronze, and no
 * line can make COPY refuse a chunk (PostgreSQL 15's COPY stops at the first line it cannot take).
 * Line numbers are the file's physical lines (the header is line 1); blank lines are not data lines.
 * The file is never held in memory; `onChunk` runs after every chunk (attach it, queue its job).
 *
 * @example await loadBronze(client, { ingestionId: 7, path, columns, headerBytes, chunkRows: 250_000, onChunk });
 */
export async function loadBronze(client: pg.PoolClient, options: LoadOptions): Promise<{ chunks: number; rows: number; bytes: number }> {
  const { ingestionId: id, path, columns, headerBytes, chunkRows } = options;
  await client.query(`DROP TABLE IF EXISTS ${ident(id)}`);
  await client.query(
    `CREATE TABLE ${ident(id)} PARTITION OF bronze.trips FOR VALUES IN (${id}) PARTITION BY RANGE (line_no)`,
  );

  const reader = lineReader(columns);
  const lines = new LineSource(createReadStream(path, { start: headerBytes, highWaterMark: 1 << 16 }), headerBytes);
  let chunk = 0;
  let rowsSoFar = 0;
  let firstLine = 2; // line 1 is the header
  while (!(await lines.atEnd())) {
    options.signal?.throwIfAborted();
    const endLine = firstLine + chunkRows;
    await createChunkTable(client, id, chunk, firstLine, endLine);
    let rows = 0;
    let lineNo = firstLine;
    async function* copyRows(): AsyncGenerator<Buffer> {
      const out = new CopyBuffer();
      while (lineNo < endLine) {
        const batch = await lines.next(endLine - lineNo);
        if (batch === null) break;
        rows += addBronzeRows(out, reader, batch, lineNo);
        lineNo += batch.length;
        yield* out.take();
      }
    }
    const copy = client.query(copyFrom(`COPY ${ident(id, chunk)} (${BRONZE_COLUMNS.join(", ")}) FROM STDIN`));
    await pipeline(Readable.from(copyRows(), { highWaterMark: 2 }), copy, { signal: options.signal });
    if (copy.rowCount !== rows) throw new Error(`bronze chunk ${chunk} of ingestion ${id}: COPY stored ${copy.rowCount} rows of ${rows}`);
    rowsSoFar += rows;
    const last = await lines.atEnd();
    await options.onChunk(client, { chunk, firstLine, endLine, rows, bytesSoFar: lines.position, rowsSoFar, last });
    chunk++;
    firstLine = endLine;
  }
  return { chunks: chunk, rows: rowsSoFar, bytes: lines.position };
}

async function createChunkTable(client: pg.PoolClient, id: number, chunk: number, first: number, end: number): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${ident(id, chunk)}`);
  await client.query(`CREATE UNLOGGED TABLE ${ident(id, chunk)} (
    LIKE bronze.trips INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    CHECK (ingestion_id = ${id}),
    CHECK (line_no >= ${first} AND line_no < ${end}))`);
  await client.query(`ALTER TABLE ${ident(id, chunk)} ALTER COLUMN ingestion_id SET DEFAULT ${id}`);
}

/** Attaches a loaded chunk table to its ingestion's partition (the CHECK constraints make it instant). */
export async function attachChunk(client: pg.PoolClient, id: number, loaded: ChunkLoaded): Promise<void> {
  await client.query(
    `ALTER TABLE ${ident(id)} ATTACH PARTITION ${ident(id, loaded.chunk)} FOR VALUES FROM (${loaded.firstLine}) TO (${loaded.endLine})`,
  );
}

/**
 * Hands out the lines of a byte stream (UTF-8, checked by the inspection) without their line breaks:
 * `next(n)` gives up to n lines from the buffer at hand; `position` is the file offset after the lines
 * handed out. A last line without a line break is a line; an empty end after the final break is not.
 */
class LineSource {
  position: number;
  private readonly source: AsyncIterator<Buffer>;
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private pending: string[] = [];
  private pendingAscii = true;
  private rest = "";
  private restAscii = true;
  private ended = false;

  constructor(stream: AsyncIterable<Buffer>, startOffset: number) {
    this.source = stream[Symbol.asyncIterator]();
    this.position = startOffset;
  }

  /** Splits the next buffer into lines; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.pending.length === 0) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        const tail = this.rest + this.decoder.decode();
        this.rest = "";
        if (tail !== "") {
          this.pending = [tail];
          this.pendingAscii = false;
        }
        continue;
      }
      const text = this.decoder.decode(next.value, { stream: true });
      const parts = (this.rest + text).split("\n");
      this.rest = parts.pop()!;
      // Pure ASCII (the usual case): a line's byte length is its string length.
      this.pendingAscii = this.restAscii && text.length === next.value.length;
      this.restAscii = this.pendingAscii;
      this.pending = parts;
    }
    return true;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Up to `max` lines, or null at the end. */
  async next(max: number): Promise<string[] | null> {
    if (!(await this.fill())) return null;
    const taken = this.pending.length <= max ? this.pending : this.pending.slice(0, max);
    this.pending = taken === this.pending ? [] : this.pending.slice(max);
    const broken = this.ended ? 0 : 1; // every line handed out before the end had a line break
    for (const line of taken) this.position += (this.pendingAscii ? line.length : Buffer.byteLength(line)) + broken;
    return taken;
  }
}
