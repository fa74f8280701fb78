import { createHash } from "node:crypto";
import { appendFile, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_COLUMNS } from "../../pipeline/landing/inspect.ts";
import { FileChangedError } from "../../pipeline/core/errors.ts";
import { bronzeChunkRows, loadBronze, type ChunkLoaded, type ExpectedFile } from "../../pipeline/bronze/loader.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

/** The file as registration sees it: size, mtime and sha256. */
async function expectedOf(file: string): Promise<ExpectedFile> {
  const st = await stat(file);
  return {
    size: st.size,
    mtimeMs: st.mtimeMs,
    sha256: createHash("sha256")
      .update(await readFile(file))
      .digest("hex"),
  };
}

const HEADER = "region,origin_coord,destination_coord,datetime,datasource\n";
const line = (i: number) => `R${i % 5},POINT (8.5 47.3),POINT (8.6 47.4),2019-03-01 08:00:00,src`;

describe("loadBronze", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  async function newIngestion(): Promise<number> {
    const { rows } = await db.pool.query(
      `INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status) VALUES ('x.csv', md5(random()::text) || md5(random()::text), 0, 'loading') RETURNING id`,
    );
    return Number(rows[0].id);
  }

  async function load(
    id: number,
    file: string,
    expected: ExpectedFile,
    opts: {
      resume?: boolean;
      onChunk?: (l: ChunkLoaded) => Promise<void>;
      headerBytes?: number;
      chunkRows?: number;
    } = {},
  ) {
    const chunks: ChunkLoaded[] = [];
    const client = await db.pool.connect();
    try {
      const result = await loadBronze(client, {
        ingestionId: id,
        path: file,
        columns: [...REQUIRED_COLUMNS],
        headerBytes: opts.headerBytes ?? Buffer.byteLength(HEADER),
        chunkRows: opts.chunkRows ?? 100,
        expected,
        loadedChunk: opts.resume ? (c, chunk, first, end) => bronzeChunkRows(c, id, chunk, first, end) : undefined,
        onChunk: async (c, loaded) => {
          chunks.push(loaded);
          if (!loaded.reused) {
            await c.query(
              `ALTER TABLE bronze.trips_${id} ATTACH PARTITION bronze.trips_${id}_${loaded.chunk} FOR VALUES FROM (${loaded.firstLine}) TO (${loaded.endLine})`,
            );
            await c.query(
              `INSERT INTO audit.steps (ingestion_id, step, chunk, rows) VALUES ($1, 'bronze', $2, $3) ON CONFLICT (ingestion_id, step, chunk) DO UPDATE SET rows = excluded.rows`,
              [id, loaded.chunk, loaded.rows],
            );
          }
          await opts.onChunk?.(loaded);
        },
      });
      return { result, chunks };
    } finally {
      client.release();
    }
  }

  it("counts the file's bytes exactly, with multi-byte characters across read boundaries, and keeps line numbers", async () => {
    // Plain ASCII lines first (the loader's fast path), then region names with 2-, 3- and 4-byte
    // characters; lines of varying length, CRLF, a blank line and no final line break: the chunk
    // boundaries must fall exactly after their lines.
    const names = ["Zürich", "東京", "Kraków 🚕", "Plain"];
    const header = "region,origin_coord,destination_coord,datetime,datasource\r\n";
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++)
      lines.push(
        i === 1234
          ? ""
          : `${(i < 1500 ? "Plain" : names[i % 4]!).repeat(1 + (i % 7))},POINT (8.5 47.3),POINT (8.6 47.4),2019-03-0${1 + (i % 9)} 08:00:00,src${i % 3}`,
      );
    const text = header + lines.join("\r\n");
    const file = path.join(tmpdir(), `tripflow-loader-${process.pid}.csv`);
    await writeFile(file, text);
    const id = await newIngestion();
    const { result, chunks } = await load(id, file, await expectedOf(file), {
      headerBytes: Buffer.byteLength(header),
      chunkRows: 700,
    });
    expect(result).toEqual({ chunks: 5, rows: 2999, bytes: Buffer.byteLength(text) });
    // After chunk k the loader has read exactly the header and lines 2 .. 701 + 700k (with their breaks).
    for (const c of chunks.slice(0, -1)) {
      const upTo =
        header +
        lines
          .slice(0, c.endLine - 2)
          .map((l) => `${l}\r\n`)
          .join("");
      expect(c.bytesSoFar, `chunk ${c.chunk}`).toBe(Buffer.byteLength(upTo));
    }
    expect(chunks.map((c) => c.rows)).toEqual([700, 699, 700, 700, 200]);
    const { rows } = await db.pool.query(
      `SELECT line_no::int, region, reason FROM bronze.trips WHERE ingestion_id = $1 ORDER BY line_no`,
      [id],
    );
    expect(rows).toHaveLength(2999);
    expect(rows.every((r) => r.reason === null)).toBe(true);
    // line n of the file (the header is line 1) holds lines[n - 2]
    for (const r of rows) expect(r.region, `line ${r.line_no}`).toBe(lines[r.line_no - 2]!.split(",")[0]);
  });

  it("refuses a file that grows while it is read (a writer still at work), before handing on the chunk it is in", async () => {
    const file = path.join(tmpdir(), `tripflow-grow-${process.pid}.csv`);
    await writeFile(file, HEADER + Array.from({ length: 350 }, (_, i) => line(i) + "\n").join(""));
    const expected = await expectedOf(file);
    const id = await newIngestion();
    const seen: number[] = [];
    const err = await load(id, file, expected, {
      onChunk: async (l) => {
        seen.push(l.chunk);
        if (l.chunk === 1) await appendFile(file, line(999) + "\n"); // the writer goes on
      },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(FileChangedError);
    expect(err.message).toMatch(
      /^the file changed while it was read \(registered with \d+ bytes, sha256 [0-9a-f]{12}…; now \d+ bytes\)/,
    );
    expect(seen).toEqual([0, 1]); // chunk 2 was never handed on
  });

  it("refuses a file whose bytes differ from the registered sha256 even with the same size and mtime", async () => {
    const file = path.join(tmpdir(), `tripflow-swap-${process.pid}.csv`);
    const text = HEADER + Array.from({ length: 150 }, (_, i) => line(i) + "\n").join("");
    const at = new Date("2026-01-05T10:00:00Z");
    await writeFile(file, text);
    await utimes(file, at, at);
    const expected = await expectedOf(file);
    await writeFile(file, text.replace("R1,", "R9,")); // same length, other bytes
    await utimes(file, at, at);
    expect((await stat(file)).mtimeMs).toBe(expected.mtimeMs);
    const err = await load(await newIngestion(), file, expected).catch((e) => e);
    expect(err).toBeInstanceOf(FileChangedError);
    expect(err.message).toMatch(/now other bytes/);
  });

  it("resumes: chunks whose bronze rows are all there are not copied again; a chunk emptied since is", async () => {
    const file = path.join(tmpdir(), `tripflow-resume-${process.pid}.csv`);
    await writeFile(file, HEADER + Array.from({ length: 350 }, (_, i) => line(i) + "\n").join(""));
    const expected = await expectedOf(file);
    const id = await newIngestion();
    // The first attempt stops after chunk 1 (as a lost connection would).
    const stop = new Error("connection lost");
    const first = await load(id, file, expected, {
      resume: true,
      onChunk: async (l) => {
        if (l.chunk === 1) throw stop;
      },
    }).catch((e) => e);
    expect(first).toBe(stop);
    // PostgreSQL's crash recovery empties UNLOGGED tables: chunk 0 lost its rows, chunk 1 kept them.
    await db.pool.query(`TRUNCATE bronze.trips_${id}_0`);
    const { result, chunks } = await load(id, file, expected, { resume: true });
    expect(result).toEqual({ chunks: 4, rows: 350, bytes: expected.size });
    expect(chunks.map((c) => [c.chunk, c.reused, c.rows])).toEqual([
      [0, false, 100],
      [1, true, 100],
      [2, false, 100],
      [3, false, 50],
    ]);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT line_no)::int AS lines FROM bronze.trips WHERE ingestion_id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({ n: 350, lines: 350 });
  });
});
