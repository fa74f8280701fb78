-- The lines of one ingestion that could not become trips, in line order, a page at a time.
-- Grain: one row per rejected line: line_no, raw (the line as written), reason.
-- Source: audit.rejects by primary key (ingestion_id, line_no).
-- $1 id bigint (the ingestion), $2 after bigint or NULL (only lines after this one), $3 limit int.
SELECT line_no, raw, reason
FROM audit.rejects
WHERE ingestion_id = $1::bigint AND ($2::bigint IS NULL OR line_no > $2::bigint)
ORDER BY line_no
LIMIT $3::int;
