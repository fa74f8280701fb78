-- Marks a bronze chunk loaded: its marker in audit.steps, holding the chunk's data lines (its bronze rows).
-- Grain: one row per (ingestion, 'bronze', chunk).
-- $1 id bigint (the ingestion), $2 chunk int, $3 rows bigint.
-- Safe to run twice: a second run (the chunk loaded again after a crash) overwrites rows and finished_at.
INSERT INTO audit.steps (ingestion_id, step, chunk, rows)
VALUES ($1::bigint, 'bronze', $2::int, $3::bigint)
ON CONFLICT (ingestion_id, step, chunk) DO UPDATE SET rows = excluded.rows, finished_at = clock_timestamp();
