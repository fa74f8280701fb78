import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { FileChangedError } from "../core/errors.ts";
import { bronzePartition } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";
import type { Column } from "../landing/inspect.ts";
import type { CountingThread } from "./counting.ts";
import { addBronzeRows, BRONZE_COLUMNS, CopyBuffer, lineReader } from "./parse.ts";
import { LineSource } from "./line_source.ts";
import { Turns } from "./turns.ts";
import { type Dimensions, SegmentReader, SILVER_COLUMNS, SilverRows } from "./silver_rows.ts";

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
  /** true when the chunk was in bronze already (a resumed load): nothing was copied. */
  reused: boolean;
  /**
   * A large file's chunk, written straight into its segment: its trips and refused lines, and its
   * transaction still open (the caller records the chunk's markers and commits).
   */
  segment?: { stored: number; rejected: number };
};

/** The file as it was registered: what is read must be exactly this. */
export type ExpectedFile = { sha256: string; size: number; mtimeMs: number };

export type LoadOptions = {
  ingestionId: number;
  path: string;
  columns: Column[];
  headerBytes: number;
  chunkRows: number;
  expected: ExpectedFile;
  /**
   * For a resumed load: the rows of a chunk that is in bronze already and complete (or needs bronze
   * no more), or null to load it (again).
   */
  loadedChunk?: (client: pg.PoolClient, chunk: number, firstLine: number, endLine: number) => Promise<number | null>;
  /**
   * A large file: each chunk goes straight into this segment table (silver rows, and refused lines into
   * audit.rejects) in a transaction that `onChunk` commits, instead of into bronze.
   */
  segment?: { table: string; dimensions: Dimensions; counts?: CountingThread };
  /** Aborting rolls back the chunk being copied and stops. */
  signal?: AbortSignal;
  /** Called after each chunk is in its own table, before the next one is read. */
  onChunk: (client: pg.PoolClient, loaded: ChunkLoaded) => Promise<void>;
};

/**
 * Bytes per read of the file: each read is a round trip to libuv's thread pool that the loader waits
 * for (at 64 KiB, a quarter of a 1 M load's time went to waiting for reads).
 */
const READ_BYTES = 1 << 20;

/** Lines read and written between two looks at the clock (Turns): well under a millisecond of work. */
const LINES_PER_LOOK = 256;

const ident = (id: number, chunk?: number) =>
  chunk === undefined ? bronzePartition(id) : `${bronzePartition(id)}_${chunk}`;

/**
 * Streams a file into bronze, chunk by chunk: every line of a chunk of `chunkRows` lines is split and
 * read here (pipeline/bronze/parse.ts) and COPYed, typed, into an UNLOGGED table of its own: a trip's fields,
 * or the line as written and the reason it is not a trip. So every data line lands in bronze, and no
 * line can make COPY refuse a chunk (PostgreSQL 15's COPY stops at the first line it cannot take).
 * Line numbers are the file's physical lines (the header is line 1); blank lines are not data lines.
 * The file is never held in memory; `onChunk` runs after every chunk (attach it, queue its job).
 *
 * What is read is the registered file and nothing else: exactly `expected.size` bytes, hashed on the
 * way. Before each chunk is handed on, the file's size and mtime must still be the registered ones, and
 * at the end the bytes read must have the registered sha256: otherwise a FileChangedError (a writer
 * still at work, or the file replaced in place). A resumed load (`loadedChunk`) reads the whole file
 * again, for the hash, but copies only the chunks that are not in bronze already.
 *
 * @example await loadBronze(client, { ingestionId: 7, path, columns, headerBytes, chunkRows: 250_000, expected, onChunk });
 */
export async function loadBronze(
  client: pg.PoolClient,
  options: LoadOptions,
): Promise<{ chunks: number; rows: number; bytes: number }> {
  const { ingestionId: id, path, columns, headerBytes, chunkRows, expected } = options;
  if (!options.loadedChunk) await client.query(`DROP TABLE IF EXISTS ${ident(id)}`);
  if (!options.segment)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${ident(id)} PARTITION OF bronze.trips FOR VALUES IN (${id}) PARTITION BY RANGE (line_no)`,
    );

  const hash = createHash("sha256");
  const reader = lineReader(columns);
  const stream =
    expected.size === 0 ? [] : createReadStream(path, { start: 0, end: expected.size - 1, highWaterMark: READ_BYTES });
  const lines = new LineSource(hashedFrom(stream, hash, headerBytes), headerBytes);
  const unchanged = async () => {
    const st = await stat(path).catch(() => null);
    if (!st || st.size !== expected.size || st.mtimeMs !== expected.mtimeMs)
      throw new FileChangedError(changedMessage(expected, st ? `${st.size} bytes` : "gone"));
  };
  let chunk = 0;
  let rowsSoFar = 0;
  let firstLine = 2; // line 1 is the header
  while (!(await lines.atEnd())) {
    options.signal?.throwIfAborted();
    const endLine = firstLine + chunkRows;
    const known = options.loadedChunk ? await options.loadedChunk(client, chunk, firstLine, endLine) : null;
    let rows = 0;
    let segment: ChunkLoaded["segment"];
    if (known !== null) {
      for (let lineNo = firstLine; lineNo < endLine; ) {
        const batch = await lines.next(endLine - lineNo);
        if (batch === null) break;
        lineNo += batch.length;
      }
      rows = known;
    } else if (options.segment) {
      segment = await copySegmentChunk(
        client,
        options.segment,
        { id, lines, reader, firstLine, endLine },
        options.signal,
      );
      rows = segment.stored + segment.rejected;
    } else {
      await createChunkTable(client, id, chunk, firstLine, endLine);
      let lineNo = firstLine;
      async function* copyRows(): AsyncGenerator<Buffer> {
        const out = new CopyBuffer();
        const turns = new Turns();
        while (lineNo < endLine) {
          const batch = await lines.next(Math.min(endLine - lineNo, LINES_PER_LOOK));
          if (batch === null) break;
          rows += addBronzeRows(out, reader, batch, lineNo);
          lineNo += batch.length;
          yield* out.take();
          const turn = turns.due();
          if (turn) await turn;
        }
      }
      const copy = client.query(copyFrom(`COPY ${ident(id, chunk)} (${BRONZE_COLUMNS.join(", ")}) FROM STDIN`));
      await pipeline(Readable.from(copyRows(), { highWaterMark: 2 }), copy, { signal: options.signal });
      if (copy.rowCount !== rows)
        throw new Error(`bronze chunk ${chunk} of ingestion ${id}: COPY stored ${copy.rowCount} rows of ${rows}`);
    }
    rowsSoFar += rows;
    const last = await lines.atEnd();
    await unchanged();
    if (last && hash.digest("hex") !== expected.sha256)
      throw new FileChangedError(changedMessage(expected, "other bytes"));
    await options.onChunk(client, {
      chunk,
      firstLine,
      endLine,
      rows,
      bytesSoFar: lines.position,
      rowsSoFar,
      last,
      reused: known !== null,
      segment,
    });
    chunk++;
    firstLine = endLine;
  }
  if (chunk === 0) {
    await unchanged();
    if (hash.digest("hex") !== expected.sha256) throw new FileChangedError(changedMessage(expected, "other bytes"));
  }
  return { chunks: chunk, rows: rowsSoFar, bytes: lines.position };
}

/**
 * One chunk of a large file straight into its segment, in a transaction left open: its trips as silver
 * rows (pipeline/bronze/silver_rows.ts), its refused lines into audit.rejects. A name seen for the first
 * time is added on another connection before its line is written.
 */
async function copySegmentChunk(
  client: pg.PoolClient,
  target: { table: string; dimensions: Dimensions; counts?: CountingThread },
  chunk: { id: number; lines: LineSource; reader: ReturnType<typeof lineReader>; firstLine: number; endLine: number },
  signal: AbortSignal | undefined,
): Promise<{ stored: number; rejected: number }> {
  const { id, lines, reader, firstLine, endLine } = chunk;
  const rejects = new CopyBuffer();
  let stored = 0;
  let rejected = 0;
  let lineNo = firstLine;
  async function* silverRows(): AsyncGenerator<Buffer> {
    const out = new SilverRows(target.counts);
    const segmentReader = new SegmentReader(reader, target.dimensions, out, id);
    const turns = new Turns();
    while (lineNo < endLine) {
      const batch = await lines.nextBytes(Math.min(endLine - lineNo, LINES_PER_LOOK));
      if (batch === null) break;
      const { buf, bounds, count } = batch;
      for (let i = 0; i < count; i++) {
        const from = bounds[2 * i]!;
        const to = bounds[2 * i + 1]!;
        let read = segmentReader.read(buf, from, to, lineNo + i);
        while (read !== null && read !== "trip" && "missing" in read) {
          await target.dimensions.add(...read.missing);
          read = segmentReader.read(buf, from, to, lineNo + i);
        }
        if (read === null) continue;
        if (read === "trip") stored++;
        else {
          rejects.add(read.reject);
          rejected++;
        }
      }
      lineNo += count;
      yield* out.take();
      const behind = target.counts?.backlog() ?? turns.due();
      if (behind) await behind;
    }
    out.end();
    yield* out.take();
  }
  await client.query("BEGIN");
  const copy = client.query(
    copyFrom(`COPY ${target.table} (${SILVER_COLUMNS.join(", ")}) FROM STDIN WITH (FORMAT binary)`),
  );
  await pipeline(Readable.from(silverRows(), { highWaterMark: 2 }), copy, { signal });
  if (copy.rowCount !== stored)
    throw new Error(`segment chunk of ingestion ${id}: COPY stored ${copy.rowCount} rows of ${stored}`);
  if (rejected > 0) {
    const copyRejects = client.query(copyFrom("COPY audit.rejects (ingestion_id, line_no, raw, reason) FROM STDIN"));
    await pipeline(Readable.from(rejects.take()), copyRejects, { signal });
    if (copyRejects.rowCount !== rejected)
      throw new Error(`segment chunk of ingestion ${id}: COPY stored ${copyRejects.rowCount} rejects of ${rejected}`);
  }
  return { stored, rejected };
}

function changedMessage(expected: ExpectedFile, now: string): string {
  return (
    `the file changed while it was read (registered with ${expected.size} bytes, sha256 ${expected.sha256.slice(0, 12)}…; ` +
    `now ${now}): a writer was still at work or the file was replaced. Nothing of it was kept; ` +
    `once it stops changing it is ingested again, as the file it then is`
  );
}

/** The bytes of `stream`, all of them hashed into `hash`, handed on from offset `skip`. */
async function* hashedFrom(
  stream: AsyncIterable<Buffer> | Iterable<Buffer>,
  hash: Hash,
  skip: number,
): AsyncGenerator<Buffer> {
  let position = 0;
  for await (const buf of stream) {
    hash.update(buf);
    const start = position;
    position += buf.length;
    if (position <= skip) continue;
    yield start >= skip ? buf : buf.subarray(skip - start);
  }
}

async function createChunkTable(
  client: pg.PoolClient,
  id: number,
  chunk: number,
  first: number,
  end: number,
): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${ident(id, chunk)}`);
  await client.query(`CREATE UNLOGGED TABLE ${ident(id, chunk)} (
    LIKE bronze.trips INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    CHECK (ingestion_id = ${id}),
    CHECK (line_no >= ${first} AND line_no < ${end}))`);
  await client.query(`ALTER TABLE ${ident(id, chunk)} ALTER COLUMN ingestion_id SET DEFAULT ${id}`);
}

/**
 * For a resumed load: the rows of a chunk that needs no loading (its bronze rows are all there, or
 * silver has them already), or null. A chunk's marker in audit.steps holds the rows it had; an
 * UNLOGGED chunk table is empty after a PostgreSQL crash, and a chunk copied but not committed has no
 * marker: both load again.
 */
export async function bronzeChunkRows(
  client: pg.PoolClient,
  id: number,
  chunk: number,
  first: number,
  end: number,
): Promise<number | null> {
  const { rows } = await client.query<{ expected: number | null; promoted: boolean }>(SQL.bronzeChunkMarkers, [
    id,
    chunk,
  ]);
  const { expected, promoted } = rows[0]!;
  if (expected === null) return null;
  if (promoted) return expected;
  const { rows: present } = await client.query<{ n: number }>(
    "SELECT count(*) AS n FROM bronze.trips WHERE ingestion_id = $1::bigint AND line_no >= $2::bigint AND line_no < $3::bigint",
    [id, first, end],
  );
  return present[0]!.n === expected ? expected : null;
}

/** Attaches a loaded chunk table to its ingestion's partition (the CHECK constraints make it instant). */
export async function attachChunk(client: pg.PoolClient, id: number, loaded: ChunkLoaded): Promise<void> {
  await client.query(
    `ALTER TABLE ${ident(id)} ATTACH PARTITION ${ident(id, loaded.chunk)} FOR VALUES FROM (${loaded.firstLine}) TO (${loaded.endLine})`,
  );
}
