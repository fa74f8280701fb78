-- Stalled ingestions: unfinished (queued, loading, transforming) and without progress for longer than
-- $1 milliseconds, progress being the newest audit event, or started_at before the first one.
-- Grain: one row per stalled ingestion, the longest idle first.
-- Source: audit.ingestions through its partial index ingestions_status (unfinished rows only, so the
-- history of finished ingestions is never read), and for each the newest event from events_ingestion
-- (ingestion_id, id): one index probe per unfinished ingestion. Cheap enough for every GET /health.
SELECT i.id, i.status, i.file_name, floor(extract(epoch FROM now() - coalesce(e.created_at, i.started_at)) * 1000)::bigint AS idle_ms
FROM audit.ingestions AS i
LEFT JOIN LATERAL (
  SELECT created_at FROM audit.events WHERE ingestion_id = i.id ORDER BY id DESC LIMIT 1
) AS e ON true
WHERE i.status IN ('queued', 'loading', 'transforming')
  AND coalesce(e.created_at, i.started_at) < now() - make_interval(secs => $1::bigint / 1000.0)
ORDER BY coalesce(e.created_at, i.started_at), i.id;
