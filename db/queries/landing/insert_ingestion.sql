-- Registers a file's content: writes one new row of audit.ingestions and returns it whole (RETURNING *).
-- New content is `queued`; content seen before is `skipped`, finished at once, duplicate_of the earlier one.
-- Grain: one row per registration.
-- $1 fileName text, $2 sha256 text, $3 sizeBytes bigint, $4 status text ('queued' or 'skipped'),
-- $5 duplicateOf bigint or NULL, $6 owner text or NULL (the application_name of the process loading it).
-- Run twice, it adds a second row, by design: pipeline/landing/register.ts runs it under the registry's
-- advisory lock on the sha256 and only after finding no live ingestion of that content, so the second
-- registration of the same content finds the first one and is written as `skipped`.
INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status, duplicate_of, finished_at, owner)
VALUES (
  $1::text, $2::text, $3::bigint, $4::text, $5::bigint,
  CASE WHEN $4::text = 'skipped' THEN clock_timestamp() END,
  $6::text
)
RETURNING *;
