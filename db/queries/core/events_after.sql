-- Audit events after a given id, oldest first: one row per event. The event bus and the SSE stream read
-- with it (a resume point is "everything after id n": ids are drawn in commit order).
-- $1 after_id bigint, $2 ingestion_id bigint or NULL (all ingestions), $3 row limit int.
SELECT id, ingestion_id, type, stage, payload, created_at
FROM audit.events
WHERE id > $1::bigint AND ($2::bigint IS NULL OR ingestion_id = $2::bigint)
ORDER BY id
LIMIT $3::int;
