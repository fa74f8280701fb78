-- Ends a withdrawn ingestion: status `failed` with its error, nothing loaded or rejected, finished now.
-- Grain: one row of audit.ingestions.
-- $1 id bigint (the ingestion), $2 error text.
-- Safe to run twice: a second run sets the same values (finished_at to its own time). pipeline/core/withdraw.ts
-- runs it once per withdrawal, holding the ingestion's lock exclusively, after checking the status.
UPDATE audit.ingestions
SET status = 'failed', error = $2::text, rows_loaded = 0, rows_rejected = 0, finished_at = clock_timestamp()
WHERE id = $1::bigint;
