-- Starts the bronze load of an ingestion, or starts it again: status `loading`, the header's columns and
-- the lines per chunk; chunks and lines stay NULL until the whole file is loaded. The load mode is
-- decided by the first load ($4) and kept by a resumed one, whose chunks already went that way.
-- Grain: one row of audit.ingestions, updated only while the ingestion has not ended: no row returned
-- says it ended (failed or withdrawn) and the load must not go on.
-- $1 id bigint (the ingestion), $2 columns text[], $3 chunkRows int, $4 loadMode text ('incremental' or
-- 'bulk'). Returns the load mode in force.
-- Safe to run twice: a second run (a resumed load) sets the same values; an ended ingestion is never touched.
UPDATE audit.ingestions
SET status = 'loading', columns = $2::text[], chunks = NULL, lines = NULL, chunk_rows = $3::int,
    load_mode = CASE WHEN status = 'queued' THEN $4::text ELSE load_mode END
WHERE id = $1::bigint AND status IN ('queued', 'loading', 'transforming')
RETURNING load_mode;
