import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { REQUIRED_COLUMNS } from "../../pipeline/landing/inspect.ts";
import { BRONZE_COLUMNS, bronzeRow, lineReader } from "../../pipeline/bronze/parse.ts";
import type { ChunkPayload } from "../../pipeline/core/jobs.ts";

export type Row = [region: string, origin: string, destination: string, datetime: string, datasource: string];

const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/**
 * Registers an ingestion and puts rows into its bronze partition as one counted chunk, read by the
 * loader's own line reader as if they were the lines 2.. of a file; returns the chunk's job payload.
 */
export async function bronzeChunk(pool: pg.Pool, rows: Row[]): Promise<ChunkPayload> {
  const { rows: ing } = await pool.query(
    `INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status, columns, chunks, lines)
     VALUES ('hand.csv', encode(sha256(random()::text::bytea), 'hex'), 0, 'transforming', $1, 1, $2) RETURNING id`,
    [REQUIRED_COLUMNS, rows.length],
  );
  const id = ing[0].id as number;
  await pool.query(`CREATE TABLE bronze.trips_${id} PARTITION OF bronze.trips FOR VALUES IN (${id})`);
  await pool.query(`ALTER TABLE bronze.trips_${id} ALTER COLUMN ingestion_id SET DEFAULT ${id}`);
  const reader = lineReader(REQUIRED_COLUMNS);
  const text = rows.map((r, i) => bronzeRow(reader, r.map(csvField).join(","), i + 2) ?? "").join("");
  const client = await pool.connect();
  try {
    await pipeline(
      Readable.from([text]),
      client.query(copyFrom(`COPY bronze.trips_${id} (${BRONZE_COLUMNS.join(", ")}) FROM STDIN`)),
    );
  } finally {
    client.release();
  }
  await pool.query("INSERT INTO audit.steps (ingestion_id, step, chunk, rows) VALUES ($1, 'bronze', 0, $2)", [
    id,
    rows.length,
  ]);
  return { ingestion_id: id, chunk: 0, first_line: 2, end_line: rows.length + 2 };
}
