import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_COLUMNS } from "../../pipeline/inspect.ts";
import { loadBronze, type ChunkLoaded } from "../../pipeline/loader.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

describe("loadBronze", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it("counts the file's bytes exactly, with multi-byte characters across read boundaries, and keeps line numbers", async () => {
    // Plain ASCII lines first (the loader's fast path), then region names with 2-, 3- and 4-byte
    // characters; lines of varying length, CRLF, a blank line and no final line break: the chunk
    // boundaries must fall exactly after their lines.
    const names = ["Zürich", "東京", "Kraków 🚕", "Plain"];
    const header = "region,origin_coord,destination_coord,datetime,datasource\r\n";
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++)
      lines.push(i === 1234 ? "" : `${(i < 1500 ? "Plain" : names[i % 4]!).repeat(1 + (i % 7))},POINT (8.5 47.3),POINT (8.6 47.4),2019-03-0${1 + (i % 9)} 08:00:00,src${i % 3}`);
    const text = header + lines.join("\r\n");
    const file = path.join(tmpdir(), `tripflow-loader-${process.pid}.csv`);
    await writeFile(file, text);
    const { rows: ing } = await db.pool.query(
      `INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status) VALUES ('l.csv', repeat('a', 64), 0, 'loading') RETURNING id`,
    );
    const id = Number(ing[0].id);
    const chunks: ChunkLoaded[] = [];
    const client = await db.pool.connect();
    try {
      const result = await loadBronze(client, {
        ingestionId: id,
        path: file,
        columns: [...REQUIRED_COLUMNS],
        headerBytes: Buffer.byteLength(header),
        chunkRows: 700,
        onChunk: async (c, loaded) => {
          chunks.push(loaded);
          await c.query(`ALTER TABLE bronze.trips_${id} ATTACH PARTITION bronze.trips_${id}_${loaded.chunk} FOR VALUES FROM (${loaded.firstLine}) TO (${loaded.endLine})`);
        },
      });
      expect(result).toEqual({ chunks: 5, rows: 2999, bytes: Buffer.byteLength(text) });
    } finally {
      client.release();
    }
    // After chunk k the loader has read exactly the header and lines 2 .. 701 + 700k (with their breaks).
    for (const c of chunks.slice(0, -1)) {
      const upTo = header + lines.slice(0, c.endLine - 2).map((l) => `${l}\r\n`).join("");
      expect(c.bytesSoFar, `chunk ${c.chunk}`).toBe(Buffer.byteLength(upTo));
    }
    expect(chunks.map((c) => c.rows)).toEqual([700, 699, 700, 700, 200]);
    const { rows } = await db.pool.query(`SELECT line_no::int, region, reason FROM bronze.trips WHERE ingestion_id = $1 ORDER BY line_no`, [id]);
    expect(rows).toHaveLength(2999);
    expect(rows.every((r) => r.reason === null)).toBe(true);
    // line n of the file (the header is line 1) holds lines[n - 2]
    for (const r of rows) expect(r.region, `line ${r.line_no}`).toBe(lines[r.line_no - 2]!.split(",")[0]);
  });
});
