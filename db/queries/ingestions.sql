-- Ingestions, newest first, each with its newest audit event (NULLs when it has none).
-- Grain: one row per ingestion.
-- Source: audit.ingestions by primary key (descending), and for each the newest event from
-- events_ingestion (ingestion_id, id): one index probe per ingestion returned.
-- $1 id bigint or NULL (only this ingestion), $2 before bigint or NULL (only ingestions with a smaller id),
-- $3 limit int (at most this many rows).
SELECT
  i.id, i.file_name, i.sha256, i.size_bytes, i.status, i.rows_loaded, i.rows_rejected, i.error,
  i.started_at, i.finished_at, round(extract(epoch FROM i.finished_at - i.started_at) * 1000)::bigint AS duration_ms,
  i.duplicate_of, i.archived_as,
  e.id AS event_id, e.type AS event_type, e.stage AS event_stage, e.payload AS event_payload,
  e.created_at AS event_created_at
FROM audit.ingestions AS i
LEFT JOIN LATERAL (
  SELECT id, type, stage, payload, created_at FROM audit.events WHERE ingestion_id = i.id ORDER BY id DESC LIMIT 1
) AS e ON true
WHERE ($1::bigint IS NULL OR i.id = $1::bigint) AND ($2::bigint IS NULL OR i.id < $2::bigint)
ORDER BY i.id DESC
LIMIT $3::int;
