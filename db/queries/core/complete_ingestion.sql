-- Completes an ingestion whose chunks are all known (the file is fully loaded: chunks is set) and all
-- merged into trip groups and gold: status `completed`, the trips stored and lines rejected that its
-- 'silver.trips' markers in audit.steps add up to, finished now.
-- Grain: one row of audit.ingestions, or none when the ingestion is not done (or done already). Returns
-- rows_loaded, rows_rejected and duration_ms (finished_at - started_at), the ingestion.completed payload.
-- $1 id bigint (the ingestion). The caller holds the ingestion's row lock (pipeline/core/lifecycle.ts).
-- Safe to run twice: only an ingestion still loading or transforming is updated; a second run finds it
-- completed and returns no row.
WITH done AS (
  SELECT
    count(*) FILTER (WHERE s.step = 'gold') AS merged,
    count(*) FILTER (WHERE s.step = 'silver.trip_groups') AS grouped,
    coalesce(sum(s.rows) FILTER (WHERE s.step = 'silver.trips'), 0) AS stored,
    coalesce(sum(s.rejected) FILTER (WHERE s.step = 'silver.trips'), 0) AS rejected
  FROM audit.steps AS s
  WHERE s.ingestion_id = $1::bigint
)

UPDATE audit.ingestions AS i
SET status = 'completed', rows_loaded = done.stored, rows_rejected = done.rejected, finished_at = clock_timestamp()
FROM done
WHERE i.id = $1::bigint
  AND i.status IN ('loading', 'transforming')
  AND i.chunks IS NOT NULL
  AND done.merged = i.chunks
  AND done.grouped = i.chunks
RETURNING
  i.rows_loaded,
  i.rows_rejected,
  round(extract(epoch FROM i.finished_at - i.started_at) * 1000)::bigint AS duration_ms;
