import type pg from "pg";
import type { ChunkPayload } from "../../pipeline/steps.ts";

export type Row = [region: string, origin: string, destination: string, datetime: string, datasource: string];

/**
 * Registers an ingestion and puts rows straight into its bronze partition as one counted chunk, as
 * the loader would after reading a file; returns the chunk's job payload.
 */
export async function bronzeChunk(pool: pg.Pool, rows: Row[]): Promise<ChunkPayload> {
  const { rows: ing } = await pool.query(
    `INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status, columns, chunks, lines)
     VALUES ('hand.csv', encode(sha256(random()::text::bytea), 'hex'), 0, 'transforming', $1, 1, $2) RETURNING id`,
    [["region", "origin_coord", "destination_coord", "datetime", "datasource"], rows.length],
  );
  const id = ing[0].id as number;
  await pool.query(`CREATE TABLE bronze.trips_${id} PARTITION OF bronze.trips FOR VALUES IN (${id})`);
  await pool.query(
    `INSERT INTO bronze.trips (ingestion_id, line_no, region, origin_coord, destination_coord, datetime, datasource)
     SELECT $1, n + 1, r, o, d, t, s FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u (r, o, d, t, s, n)`,
    [id, ...[0, 1, 2, 3, 4].map((k) => rows.map((r) => r[k]))],
  );
  await pool.query("INSERT INTO audit.steps (ingestion_id, step, chunk, rows) VALUES ($1, 'bronze', 0, $2)", [id, rows.length]);
  return { ingestion_id: id, chunk: 0, first_line: 2, end_line: rows.length + 2 };
}
