-- The silver marker of a large file's chunk written straight into its segment, with its trips and refused
-- lines, in the chunk's own transaction: a resumed load finds it and does not write the chunk again, and
-- the seal waits for one per chunk (transform/seal_ready.sql).
-- $1 ingestion id bigint, $2 chunk int, $3 trips stored bigint, $4 lines refused bigint.
-- Safe to run twice? It need not be: the chunk's rows and this marker commit together or not at all.
INSERT INTO audit.steps (ingestion_id, step, chunk, rows, rejected)
VALUES ($1::bigint, 'silver.trips', $2::int, $3::bigint, $4::bigint);
