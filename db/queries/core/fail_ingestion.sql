-- Marks one ingestion failed with its reason, unless it has ended already: at most one row, returned.
-- For an ingestion that stored nothing yet (a refused file, an upload that could not be placed); one
-- that did goes through core/fail_withdrawn_ingestion.sql instead.
-- $1 ingestion id bigint, $2 error text.
-- Safe to run twice: the second run finds the ingestion ended and changes nothing.
UPDATE audit.ingestions
SET status = 'failed', error = $2::text, finished_at = clock_timestamp()
WHERE id = $1::bigint AND status NOT IN ('completed', 'failed', 'skipped')
RETURNING id;
